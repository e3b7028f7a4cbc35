//! The single store writer: one thread owns the write connection and commits ops in batches.
//!
//! Everything that changes the store — recorded chat, executed actions, votes, tallies, scores, clip
//! jobs — is a [`WriteOp`] sent to [`StoreWriter`]. The channel is bounded ([`StoreWriter::spawn`]'s
//! `capacity`): when it is full, `send` waits (backpressure), it never grows. The thread takes the first
//! op, drains whatever else is already queued up to [`BATCH_MAX`] ops, applies them in one transaction
//! with cached prepared statements and commits. Under load batches fill up (fast); when idle each op
//! commits at once (no added latency, so no timer is needed).
//!
//! Lifecycle: [`StoreWriter`] is a cheap clone (a channel sender, the counters and a shared join
//! handle). [`StoreWriter::close`] on any clone stops new ops, writes every op already queued, commits
//! and joins the thread; clones that send afterwards get [`StoreError::Closed`]. If every clone is
//! dropped without `close`, the thread still drains the queue and commits before it ends.
//!
//! One writer per database, across processes too: `spawn` takes an OS lock on
//! `streamsuites.db.writer-lock` and a second writer gets [`StoreError::Locked`]. Readers (exports,
//! `ss export`) open the store with [`Store::open`] and are never blocked by it (WAL).

use super::{Store, StoreError};
use crate::event::{ChatEvent, Platform, Roles};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, params};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};

/// Most ops applied in one transaction.
pub const BATCH_MAX: usize = 1024;

/// Settings of the writer's own connection: a 64 MiB page cache keeps the hot B-tree pages (the
/// dedupe index is keyed by random message ids) in memory, and a larger WAL between checkpoints
/// writes each hot page back once per checkpoint instead of once per batch.
const WRITER_PRAGMAS: &str = "PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 16384;";

/// One change to the store.
#[derive(Debug)]
pub enum WriteOp {
    /// Record a chat event; a re-delivery of the same message (same platform, message id and platform
    /// timestamp) is ignored and counted in [`WriterStats::events_duplicate`].
    ChatEvent(Box<ChatEvent>),
    /// An executed (or routed) action, with its descriptor as JSON.
    Action {
        creator: String,
        platform: Platform,
        trigger_id: String,
        action_type: String,
        payload_json: String,
        at: DateTime<Utc>,
        message_id: Option<String>,
    },
    /// Add `amount` to a creator's named tally.
    TallyIncrement {
        creator: String,
        tally: String,
        amount: i64,
        platform: Platform,
        user_id: String,
        at: DateTime<Utc>,
    },
    /// A poll vote. One vote per (poll, platform, user): later votes by the same user are ignored
    /// and counted in [`WriterStats::votes_ignored`]. The option is stored as given.
    PollVote {
        creator: String,
        poll: String,
        option: String,
        platform: Platform,
        user_id: String,
        at: DateTime<Utc>,
    },
    /// Give a user points on a creator's scoreboard.
    ScoreEvent {
        creator: String,
        board: String,
        platform: Platform,
        user_id: String,
        user_name: String,
        points: i64,
        at: DateTime<Utc>,
    },
    /// A clip request: inserts the clip, a `queued` job and its first history row.
    ClipJob {
        clip_id: String,
        creator: String,
        platform: Platform,
        channel: String,
        requested_by: String,
        duration_s: u32,
        title: Option<String>,
        at: DateTime<Utc>,
    },
    /// A clip moved to a new state (`encoding`, `uploading`, `published`, `failed`, ...). `detail` is the
    /// error of a failed attempt; `url` where a published clip can be watched.
    ClipState {
        clip_id: String,
        state: String,
        at: DateTime<Utc>,
        detail: Option<String>,
        url: Option<String>,
    },
    /// A Discord notification, recorded for the sender.
    Notify {
        creator: String,
        channel: String,
        text: String,
        at: DateTime<Utc>,
    },
    /// Quota units spent on `day` (the platform's quota day), added to what was spent before.
    QuotaSpend {
        platform: Platform,
        day: NaiveDate,
        units: i64,
    },
    /// An operator action for the audit log (config reload, version stamp, publish, clip retry).
    Audit {
        at: DateTime<Utc>,
        action: String,
        detail: String,
    },
    /// Commit now and acknowledge once everything sent before it is committed.
    Flush(oneshot::Sender<()>),
}

/// What travels on the channel: ops, and the close request.
enum Msg {
    Op(WriteOp),
    Close,
}

/// Counters of the writer, updated by its thread and readable at any time.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub events_recorded: AtomicU64,
    pub events_duplicate: AtomicU64,
    /// Poll votes ignored because the user had already voted in that poll on that platform.
    pub votes_ignored: AtomicU64,
    pub ops_written: AtomicU64,
    pub batches_committed: AtomicU64,
    pub errors: AtomicU64,
}

/// A plain copy of [`WriterStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct WriterStatsSnapshot {
    pub events_recorded: u64,
    pub events_duplicate: u64,
    pub votes_ignored: u64,
    pub ops_written: u64,
    pub batches_committed: u64,
    pub errors: u64,
}

impl WriterStats {
    pub fn snapshot(&self) -> WriterStatsSnapshot {
        WriterStatsSnapshot {
            events_recorded: self.events_recorded.load(Ordering::Relaxed),
            events_duplicate: self.events_duplicate.load(Ordering::Relaxed),
            votes_ignored: self.votes_ignored.load(Ordering::Relaxed),
            ops_written: self.ops_written.load(Ordering::Relaxed),
            batches_committed: self.batches_committed.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// The sending side of the store writer; clone it freely.
#[derive(Debug, Clone)]
pub struct StoreWriter {
    tx: mpsc::Sender<Msg>,
    stats: Arc<WriterStats>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Op(op) => op.fmt(f),
            Msg::Close => f.write_str("Close"),
        }
    }
}

impl StoreWriter {
    /// Opens (and migrates) the store at `path` and starts the writer thread with a queue of
    /// `capacity` ops. Open errors (newer schema, corrupt, locked) are returned here, before any op.
    pub fn spawn(path: &Path, capacity: usize) -> Result<StoreWriter, StoreError> {
        let lock = take_writer_lock(path)?;
        let store = Store::open(path)?;
        store
            .conn()
            .execute_batch(WRITER_PRAGMAS)
            .map_err(|e| store.err(e))?;
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let stats = Arc::new(WriterStats::default());
        let thread_stats = Arc::clone(&stats);
        let thread = std::thread::Builder::new()
            .name("ss-store-writer".into())
            .spawn(move || {
                run(store, rx, &thread_stats);
                // Released only once everything is committed.
                drop(lock);
            })
            .map_err(|source| StoreError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(StoreWriter {
            tx,
            stats,
            thread: Arc::new(Mutex::new(Some(thread))),
        })
    }

    /// Queues `op`, waiting while the queue is full.
    pub async fn send(&self, op: WriteOp) -> Result<(), StoreError> {
        self.tx
            .send(Msg::Op(op))
            .await
            .map_err(|_| StoreError::Closed)
    }

    /// Queues `op` from synchronous code, blocking while the queue is full. Must not be called on
    /// an async task (use [`StoreWriter::send`] there).
    pub fn blocking_send(&self, op: WriteOp) -> Result<(), StoreError> {
        self.tx
            .blocking_send(Msg::Op(op))
            .map_err(|_| StoreError::Closed)
    }

    /// Waits until every op sent before this call is committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (ack, done) = oneshot::channel();
        self.send(WriteOp::Flush(ack)).await?;
        done.await.map_err(|_| StoreError::Closed)
    }

    /// The live counters.
    pub fn stats(&self) -> Arc<WriterStats> {
        Arc::clone(&self.stats)
    }

    /// Stops accepting ops, writes and commits everything queued, and joins the thread. Blocking:
    /// from async code, call it inside `tokio::task::spawn_blocking`. Calling it on a second clone
    /// after the first returns the same counters.
    pub fn close(self) -> Result<WriterStatsSnapshot, StoreError> {
        // A failed send means the thread already ended (closed earlier); joining below still reports.
        let _ = self.tx.blocking_send(Msg::Close);
        let handle = self
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            handle.join().map_err(|_| StoreError::Io {
                path: "store writer".into(),
                source: std::io::Error::other("the store writer thread panicked"),
            })?;
        }
        Ok(self.stats.snapshot())
    }
}

/// The lock file next to the database that makes this the only writer, across processes too.
pub fn writer_lock_path(db: &Path) -> std::path::PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".writer-lock");
    db.with_file_name(name)
}

/// Takes the exclusive writer lock (an OS file lock, released if the process dies).
fn take_writer_lock(db: &Path) -> Result<std::fs::File, StoreError> {
    let path = writer_lock_path(db);
    let io = |source| StoreError::Io {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked {
            path: db.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}

/// The writer thread's loop.
fn run(mut store: Store, mut rx: mpsc::Receiver<Msg>, stats: &WriterStats) {
    let mut batch: Vec<WriteOp> = Vec::with_capacity(BATCH_MAX);
    let mut closing = false;
    while !closing {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Op(op) => batch.push(op),
                Msg::Close => {
                    // Refuse new sends, but keep what is already queued.
                    rx.close();
                    closing = true;
                }
            }
            if batch.len() < BATCH_MAX {
                next = rx.try_recv().ok();
            }
        }
        commit_batch(&mut store, &mut batch, stats);
    }
    // Closed or every sender dropped: whatever is still queued is written too.
    while let Some(msg) = rx.blocking_recv() {
        if let Msg::Op(op) = msg {
            batch.push(op);
            if batch.len() == BATCH_MAX {
                commit_batch(&mut store, &mut batch, stats);
            }
        }
    }
    commit_batch(&mut store, &mut batch, stats);
    checkpoint(&store);
}

/// Applies `batch` in one transaction and commits; acknowledges flushes after the commit.
fn commit_batch(store: &mut Store, batch: &mut Vec<WriteOp>, stats: &WriterStats) {
    if batch.is_empty() {
        return;
    }
    let mut acks = Vec::new();
    let mut totals = ChatTotals::default();
    let conn = store.conn_mut();
    let result = (|| -> rusqlite::Result<usize> {
        let tx = conn.transaction()?;
        let mut insert_chat = tx.prepare_cached(INSERT_CHAT)?;
        let mut written = 0;
        for op in batch.drain(..) {
            if let WriteOp::Flush(ack) = op {
                acks.push(ack);
                continue;
            }
            match apply(&tx, &mut insert_chat, op, stats, &mut totals) {
                Ok(()) => written += 1,
                Err(e) => {
                    WriterStats::add(&stats.errors, 1);
                    tracing::warn!(error = %e, "Store write skipped: the op failed.");
                }
            }
        }
        drop(insert_chat);
        totals.write(&tx)?;
        tx.commit()?;
        Ok(written)
    })();
    match result {
        Ok(written) => {
            WriterStats::add(&stats.ops_written, written as u64);
            WriterStats::add(&stats.batches_committed, 1);
        }
        Err(e) => {
            WriterStats::add(&stats.errors, 1);
            tracing::error!(error = %e, "Store commit failed; this batch was not recorded.");
        }
    }
    batch.clear();
    for ack in acks {
        let _ = ack.send(());
    }
}

/// Folds the WAL back into the database file so a closed store is one self-contained file.
fn checkpoint(store: &Store) {
    if let Err(e) = store
        .conn()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
    {
        tracing::debug!(error = %e, "WAL checkpoint skipped.");
    }
}

/// New chat events per (creator, platform) in the current batch, folded into `chat_totals` at commit.
/// A batch touches a handful of (creator, platform) pairs, so a short list beats hashing each event.
#[derive(Default)]
struct ChatTotals(Vec<(String, Platform, i64, i64)>);

impl ChatTotals {
    fn count(&mut self, creator: &str, platform: Platform, ts_ms: i64) {
        match self
            .0
            .iter_mut()
            .find(|(c, p, ..)| *p == platform && c == creator)
        {
            Some((_, _, events, last)) => {
                *events += 1;
                *last = (*last).max(ts_ms);
            }
            None => self.0.push((creator.to_string(), platform, 1, ts_ms)),
        }
    }

    fn write(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO chat_totals (creator, platform, events, last_event_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (creator, platform) DO UPDATE SET
               events = events + excluded.events,
               last_event_ms = max(last_event_ms, excluded.last_event_ms)",
        )?;
        for (creator, platform, events, last) in self.0.drain(..) {
            stmt.execute(params![creator, platform.as_str(), events, last])?;
        }
        Ok(())
    }
}

/// Roles as a bit set: 1 broadcaster, 2 moderator, 4 vip, 8 subscriber.
pub(crate) fn roles_bits(roles: &Roles) -> i64 {
    i64::from(roles.broadcaster)
        | i64::from(roles.moderator) << 1
        | i64::from(roles.vip) << 2
        | i64::from(roles.subscriber) << 3
}

fn ms(at: &DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// Why one op was skipped (the rest of its batch is still committed).
#[derive(Debug, thiserror::Error)]
enum ApplyError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Rejected(String),
}

/// The hot statement, prepared once per batch rather than looked up per event.
const INSERT_CHAT: &str =
    "INSERT OR IGNORE INTO chat_events (platform, message_id, creator, channel, ts_ms, kind,
       author_id, author_login, author_name, roles, text, emotes, extras)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

/// Applies one op inside the open transaction.
fn apply(
    conn: &Connection,
    insert_chat: &mut rusqlite::CachedStatement<'_>,
    op: WriteOp,
    stats: &WriterStats,
    totals: &mut ChatTotals,
) -> Result<(), ApplyError> {
    match op {
        WriteOp::ChatEvent(event) => {
            let emotes = if event.emotes.is_empty() {
                None
            } else {
                serde_json::to_string(&event.emotes).ok()
            };
            let extras = (!event.extras.is_empty()).then(|| event.extras.as_json());
            let inserted = insert_chat.execute(params![
                event.platform.as_str(),
                event.message_id.as_str(),
                event.creator.as_str(),
                event.channel.as_str(),
                event.timestamp_ms(),
                event.kind.as_str(),
                event.author.id.as_str(),
                event.author.login.as_str(),
                event.author.display_name.as_str(),
                roles_bits(&event.author.roles),
                event.text.as_str(),
                emotes,
                extras,
            ])?;
            if inserted == 1 {
                WriterStats::add(&stats.events_recorded, 1);
                totals.count(&event.creator, event.platform, event.timestamp_ms());
            } else {
                WriterStats::add(&stats.events_duplicate, 1);
            }
        }
        WriteOp::Action {
            creator,
            platform,
            trigger_id,
            action_type,
            payload_json,
            at,
            message_id,
        } => {
            conn.prepare_cached(
                "INSERT INTO actions (creator, platform, trigger_id, action_type, payload, at_ms, message_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                creator,
                platform.as_str(),
                trigger_id,
                action_type,
                payload_json,
                ms(&at),
                message_id
            ])?;
        }
        WriteOp::TallyIncrement {
            creator,
            tally,
            amount,
            platform,
            user_id,
            at,
        } => {
            conn.prepare_cached(
                "INSERT INTO tally_events (creator, tally, amount, platform, user_id, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                creator,
                tally,
                amount,
                platform.as_str(),
                user_id,
                ms(&at)
            ])?;
            conn.prepare_cached(
                "INSERT INTO tallies (creator, tally, total, events, updated_ms) VALUES (?1, ?2, ?3, 1, ?4)
                 ON CONFLICT (creator, tally) DO UPDATE SET
                   total = total + excluded.total, events = events + 1,
                   updated_ms = max(updated_ms, excluded.updated_ms)",
            )?
            .execute(params![creator, tally, amount, ms(&at)])?;
        }
        WriteOp::PollVote {
            creator,
            poll,
            option,
            platform,
            user_id,
            at,
        } => {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO polls (creator, poll, opened_ms) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![creator, poll, ms(&at)])?;
            let inserted = conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO poll_votes (creator, poll, platform, user_id, option, at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![creator, poll, platform.as_str(), user_id, option, ms(&at)])?;
            if inserted == 0 {
                WriterStats::add(&stats.votes_ignored, 1);
            }
        }
        WriteOp::ScoreEvent {
            creator,
            board,
            platform,
            user_id,
            user_name,
            points,
            at,
        } => {
            conn.prepare_cached(
                "INSERT INTO score_events (creator, board, platform, user_id, user_name, points, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                creator,
                board,
                platform.as_str(),
                user_id,
                user_name,
                points,
                ms(&at)
            ])?;
            conn.prepare_cached(
                "INSERT INTO scores (creator, board, platform, user_id, user_name, points, events, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7)
                 ON CONFLICT (creator, board, platform, user_id) DO UPDATE SET
                   user_name = excluded.user_name, points = points + excluded.points,
                   events = events + 1, updated_ms = max(updated_ms, excluded.updated_ms)",
            )?
            .execute(params![
                creator,
                board,
                platform.as_str(),
                user_id,
                user_name,
                points,
                ms(&at)
            ])?;
        }
        WriteOp::ClipJob {
            clip_id,
            creator,
            platform,
            channel,
            requested_by,
            duration_s,
            title,
            at,
        } => {
            let inserted = conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO clips (clip_id, creator, platform, channel, requested_by, duration_s,
                       title, state, created_ms, updated_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8, ?8)",
                )?
                .execute(params![
                    clip_id,
                    creator,
                    platform.as_str(),
                    channel,
                    requested_by,
                    duration_s,
                    title,
                    ms(&at)
                ])?;
            if inserted == 0 {
                return Err(ApplyError::Rejected(format!(
                    "clip id {clip_id} already exists; the request was not recorded again"
                )));
            }
            conn.prepare_cached(
                "INSERT INTO clip_jobs (clip_id, state, created_ms, updated_ms) VALUES (?1, 'queued', ?2, ?2)",
            )?
            .execute(params![clip_id, ms(&at)])?;
            conn.prepare_cached(
                "INSERT INTO clip_state_history (clip_id, state, at_ms) VALUES (?1, 'queued', ?2)",
            )?
            .execute(params![clip_id, ms(&at)])?;
        }
        WriteOp::ClipState {
            clip_id,
            state,
            at,
            detail,
            url,
        } => {
            let changed = conn
                .prepare_cached(
                    "UPDATE clips SET state = ?2, updated_ms = ?3, url = coalesce(?4, url),
                       published_ms = CASE WHEN ?2 = 'published' THEN ?3 ELSE published_ms END
                     WHERE clip_id = ?1",
                )?
                .execute(params![clip_id, state, ms(&at), url])?;
            if changed == 0 {
                return Err(ApplyError::Rejected(format!(
                    "no clip with id {clip_id}; its state change was not recorded"
                )));
            }
            conn.prepare_cached(
                "UPDATE clip_jobs SET state = ?2, updated_ms = ?3,
                   attempts = attempts + (?2 = 'encoding'),
                   last_error = CASE WHEN ?2 = 'failed' THEN ?4 ELSE last_error END
                 WHERE clip_id = ?1",
            )?
            .execute(params![clip_id, state, ms(&at), detail])?;
            conn.prepare_cached(
                "INSERT INTO clip_state_history (clip_id, state, at_ms, detail) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![clip_id, state, ms(&at), detail])?;
        }
        WriteOp::Notify {
            creator,
            channel,
            text,
            at,
        } => {
            conn.prepare_cached(
                "INSERT INTO notifications (creator, channel, text, at_ms) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![creator, channel, text, ms(&at)])?;
        }
        WriteOp::QuotaSpend {
            platform,
            day,
            units,
        } => {
            conn.prepare_cached(
                "INSERT INTO quota_usage (platform, day, units) VALUES (?1, ?2, ?3)
                 ON CONFLICT (platform, day) DO UPDATE SET units = units + excluded.units",
            )?
            .execute(params![platform.as_str(), day.to_string(), units])?;
        }
        WriteOp::Audit { at, action, detail } => {
            conn.prepare_cached("INSERT INTO audit (at_ms, action, detail) VALUES (?1, ?2, ?3)")?
                .execute(params![ms(&at), action, detail])?;
        }
        WriteOp::Flush(_) => {
            unreachable!("commit_batch takes flushes out of the batch before applying it")
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Author, EventKind};

    fn event(platform: Platform, id: &str, ts_ms: i64) -> WriteOp {
        WriteOp::ChatEvent(Box::new(ChatEvent {
            platform,
            creator: "demo".into(),
            channel: "demo".into(),
            message_id: id.into(),
            timestamp: DateTime::from_timestamp_millis(ts_ms).unwrap(),
            kind: EventKind::Message,
            author: Author {
                id: "u1".into(),
                login: "viewer".into(),
                display_name: "Viewer".into(),
                roles: Roles {
                    subscriber: true,
                    ..Roles::default()
                },
            },
            text: "hello chat".into(),
            emotes: Default::default(),
            extras: Default::default(),
        }))
    }

    fn vote(user: &str, option: &str) -> WriteOp {
        WriteOp::PollVote {
            creator: "demo".into(),
            poll: "next-game".into(),
            option: option.into(),
            platform: Platform::Twitch,
            user_id: user.into(),
            at: DateTime::from_timestamp_millis(1_000).unwrap(),
        }
    }

    #[test]
    fn records_events_once_and_counts_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let writer = StoreWriter::spawn(&path, 16).unwrap();
        for i in 0..100 {
            writer
                .blocking_send(event(Platform::Twitch, &format!("m{i}"), 1_000 + i))
                .unwrap();
        }
        // The same ids again (a reconnect replaying history), and the same id on another platform.
        for i in 0..10 {
            writer
                .blocking_send(event(Platform::Twitch, &format!("m{i}"), 1_000 + i))
                .unwrap();
        }
        writer
            .blocking_send(event(Platform::Kick, "m0", 5_000))
            .unwrap();
        let stats = writer.close().unwrap();
        assert_eq!(stats.events_recorded, 101);
        assert_eq!(stats.events_duplicate, 10);
        assert_eq!(stats.errors, 0);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.chat_event_count().unwrap(), 101);
        let recent = store.recent_chat_events(3).unwrap();
        let ids: Vec<_> = recent.iter().map(|e| e.message_id.as_str()).collect();
        assert_eq!(ids, ["m98", "m99", "m0"]);
        assert!(recent[0].author.roles.subscriber);
        let totals = store.chat_totals().unwrap();
        assert_eq!(totals.len(), 2);
        assert_eq!(totals[1].platform, Platform::Twitch);
        assert_eq!(totals[1].events, 100);
    }

    #[test]
    fn one_vote_per_user_and_poll_later_votes_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let writer = StoreWriter::spawn(&path, 4).unwrap();
        for op in [
            vote("a", "zelda"),
            vote("b", "mario"),
            vote("a", "mario"),
            vote("c", "zelda"),
        ] {
            writer.blocking_send(op).unwrap();
        }
        let stats = writer.close().unwrap();
        assert_eq!(stats.votes_ignored, 1);
        let polls = Store::open(&path).unwrap().polls().unwrap();
        assert_eq!(polls.len(), 1);
        assert_eq!(polls[0].total_votes, 3);
        let counts: Vec<_> = polls[0]
            .options
            .iter()
            .map(|o| (o.option.as_str(), o.votes))
            .collect();
        assert_eq!(counts, [("zelda", 2), ("mario", 1)]);
    }

    #[test]
    fn close_writes_everything_queued_and_later_sends_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let writer = StoreWriter::spawn(&path, 8).unwrap();
        let other = writer.clone();
        let producer = std::thread::spawn(move || {
            for i in 0..5_000 {
                other
                    .blocking_send(event(Platform::Sim, &format!("s{i}"), i))
                    .unwrap();
            }
            other
        });
        let other = producer.join().unwrap();
        let stats = writer.close().unwrap();
        assert_eq!(stats.events_recorded, 5_000);
        assert!(stats.batches_committed >= 1);
        assert!(matches!(
            other.blocking_send(event(Platform::Sim, "late", 0)),
            Err(StoreError::Closed)
        ));
        assert_eq!(
            Store::open(&path).unwrap().chat_event_count().unwrap(),
            5_000
        );
    }

    #[test]
    fn a_second_writer_on_the_same_store_is_refused_until_the_first_closes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let first = StoreWriter::spawn(&path, 8).unwrap();
        let err = StoreWriter::spawn(&path, 8).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        // Readers are not writers: opening for queries still works.
        assert_eq!(Store::open(&path).unwrap().chat_event_count().unwrap(), 0);
        first.close().unwrap();
        StoreWriter::spawn(&path, 8).unwrap().close().unwrap();
    }

    #[test]
    fn flush_acknowledges_after_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let writer = StoreWriter::spawn(&path, 8).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            writer
                .send(event(Platform::Youtube, "y1", 10))
                .await
                .unwrap();
            writer.flush().await.unwrap();
        });
        // Visible to another connection before the writer closes.
        assert_eq!(Store::open(&path).unwrap().chat_event_count().unwrap(), 1);
        writer.close().unwrap();
    }

    #[test]
    fn tallies_scores_and_clips_accumulate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let writer = StoreWriter::spawn(&path, 8).unwrap();
        let at = DateTime::from_timestamp_millis(60_000).unwrap();
        for (user, amount) in [("a", 1), ("b", 2), ("a", 3)] {
            writer
                .blocking_send(WriteOp::TallyIncrement {
                    creator: "demo".into(),
                    tally: "hype".into(),
                    amount,
                    platform: Platform::Kick,
                    user_id: user.into(),
                    at,
                })
                .unwrap();
        }
        for (user, points) in [("a", 5), ("b", 7), ("c", 5), ("a", 2)] {
            writer
                .blocking_send(WriteOp::ScoreEvent {
                    creator: "demo".into(),
                    board: "gg".into(),
                    platform: Platform::Twitch,
                    user_id: user.into(),
                    user_name: user.to_uppercase(),
                    points,
                    at,
                })
                .unwrap();
        }
        let clip = |id: &str| WriteOp::ClipJob {
            clip_id: id.into(),
            creator: "demo".into(),
            platform: Platform::Twitch,
            channel: "demo".into(),
            requested_by: "A".into(),
            duration_s: 30,
            title: None,
            at,
        };
        writer.blocking_send(clip("c1")).unwrap();
        writer.blocking_send(clip("c1")).unwrap();
        writer
            .blocking_send(WriteOp::ClipState {
                clip_id: "c1".into(),
                state: "published".into(),
                at,
                detail: None,
                url: Some("https://clips.example/c1".into()),
            })
            .unwrap();
        let stats = writer.close().unwrap();
        assert_eq!(stats.errors, 1, "the duplicate clip id is refused");
        let store = Store::open(&path).unwrap();
        let tallies = store.tallies().unwrap();
        assert_eq!((tallies[0].total, tallies[0].events), (6, 3));
        let boards = store.scoreboards(10).unwrap();
        let ranked: Vec<_> = boards[0]
            .entries
            .iter()
            .map(|e| (e.rank, e.user_name.as_str(), e.points))
            .collect();
        assert_eq!(ranked, [(1, "A", 7), (1, "B", 7), (3, "C", 5)]);
        let published = store.clips(Some("published")).unwrap();
        assert_eq!(published.len(), 1);
        assert_eq!(
            published[0].url.as_deref(),
            Some("https://clips.example/c1")
        );
        assert_eq!(store.clip_jobs(10).unwrap()[0].state, "published");
    }
}
