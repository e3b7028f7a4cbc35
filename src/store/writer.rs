//! The single store writer: one thread owns the write connection and commits ops in batches.
//!
//! Everything that changes the store is a [`WriteOp`] sent to [`StoreWriter`]; the domain modules
//! ([`super::chat`], [`super::actions`], [`super::clips`], [`super::outbox`], ...) own what each op
//! writes. The queue is bounded in ops ([`StoreWriter::spawn`]'s `capacity`) and in bytes
//! ([`QUEUE_BYTES`], by each op's [`WriteOp::weight`]), and its policy when full is **block**: `send` waits, so the pipeline, and behind it the bounded data lane, feel backpressure;
//! nothing grows. The thread takes the first op, drains whatever else is queued up to [`BATCH_MAX`]
//! ops (an [`WriteOp::Atomic`] group counts its members), applies them in one transaction and
//! commits. A group is never split across commits, so a polled page, the actions it fired and its
//! checkpoint commit together; the run loop sends each batch it takes from the data lane as one group.
//!
//! **Nothing is dropped.** An op the store refuses (a duplicate clip id, a vote without an option) is
//! skipped and counted in `ops_rejected`. A commit that fails for a storage reason (disk full, I/O
//! error, a lock held elsewhere) keeps its whole batch, marks the writer **degraded** with the reason
//! ([`WriterStats::degraded`]) and retries with capped backoff until it succeeds; the runtime recovers
//! by itself when space frees. Counters change only when a commit succeeds, so `events_recorded` means
//! committed. Only at shutdown, after [`CLOSE_GRACE`] of further failures, does the writer give up: the
//! held and queued ops are counted as abandoned and [`StoreWriter::close`] reports
//! [`StoreError::Abandoned`].
//!
//! Lifecycle: [`StoreWriter`] is a cheap clone. [`StoreWriter::close`] on any clone stops new ops,
//! writes every op already queued, commits and joins the thread; clones that send afterwards get
//! [`StoreError::Closed`]. One writer per database, across processes too: `spawn` takes the writer
//! lock ([`super::lock`]), released when the thread's store closes after the last commit. Readers
//! open [`super::StoreReader`]s and are never blocked (WAL).
//!
//! An action arrives with the outbox rows routing decided for it ([`WriteOp::Action`]), and a clip's
//! `published` state with its notifications ([`ClipStateChange::outbox`]): each is written in the
//! same transaction as what caused it.

use super::apply::{ApplyError, BatchTally};
use super::audit::ControlCall;
use super::chat_rows::{ChatInserts, ChatRows};
use super::checkpoints::{self, Checkpoint};
use super::clips::{self, ClipStateChange, NewClip};
use super::error::StoreError;
use super::open::Store;
use super::outbox::{self, NewOutbox, OutboxResult};
use super::rows::ms;
use super::running_counts::BatchCounts;
use super::runs::{self, RunMark};
use super::wal::{Checkpointer, WAL_LIMITS, WalWatch};
use super::{actions, audit, community, giveaways, moderation, people, quotas, ticks};
use crate::actions::Action;
use crate::backoff::Backoff;
use crate::event::{ChatEvent, Platform, Tick};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::Connection;
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};

/// Most ops applied in one transaction (a group counts its members; a group larger than this is
/// still one transaction, and the group that crosses it ends the batch).
pub const BATCH_MAX: usize = 1024;
/// First wait before retrying a failed commit, and the longest.
const RETRY_BASE: Duration = Duration::from_millis(100);
const RETRY_CAP: Duration = Duration::from_secs(2);
/// How long a shutting-down writer keeps retrying a failing commit before it gives up.
pub const CLOSE_GRACE: Duration = Duration::from_secs(10);

/// Settings of the writer's own connection: a 4 MiB page cache holds the hot B-tree pages (inserts
/// append at the right edge of the chat log and its time index; 8 MiB was no faster and only grew
/// the process). Checkpoints are not SQLite's automatic ones, run inside a commit, but
/// [`super::wal`]'s, on a thread of their own.
const WRITER_PRAGMAS: &str = "PRAGMA cache_size = -4096;";

/// One change to the store.
#[derive(Debug)]
pub enum WriteOp {
    /// Record a chat event; a re-delivery of the same message is ignored and counted.
    ChatEvent(Box<ChatEvent>),
    /// Record an action a trigger fired and apply its store effect (clip job, vote, tally, score),
    /// with the notifications routing made of it (`outbox`, each carrying the action's cause), in
    /// one step.
    Action {
        action: Box<Action>,
        outbox: Vec<NewOutbox>,
    },
    /// A clip request made outside chat (`ss clip create`).
    Clip(Box<NewClip>),
    /// A clip moved to a new state.
    ClipState(Box<ClipStateChange>),
    /// A notification not caused by an action or a clip (go-live, a runtime log line).
    Outbox(Box<NewOutbox>),
    /// The result of sending an outbox row.
    OutboxResult(Box<OutboxResult>),
    /// A polling source's resume point.
    Checkpoint(Box<Checkpoint>),
    /// Where an evaluator of the bus is in one shard of the event stream.
    BusCursor(Box<super::bus_cursors::BusCursor>),
    /// Quota units spent on `day` (the platform's quota day), added to what was spent before.
    QuotaSpend {
        platform: Platform,
        day: NaiveDate,
        units: i64,
    },
    /// One call of `method` by a YouTube Google `project` on its Pacific quota `day`.
    ProjectQuotaSpend {
        project: String,
        day: NaiveDate,
        method: &'static str,
        units: i64,
    },
    /// A webhook delivery `source` (a platform's name, or `hook:{name}`) accepted at `at_ms`;
    /// that source's ids from before `keep_from_ms` are forgotten.
    WebhookDelivery {
        source: String,
        id: String,
        at_ms: i64,
        keep_from_ms: i64,
    },
    /// What became of one platform command of a moderation decision.
    ModerationOutcome(Box<super::moderation::ModerationOutcome>),
    /// An operator action for the audit log.
    Audit {
        at: DateTime<Utc>,
        action: String,
        detail: String,
    },
    /// A control API call that changed something, for the audit log.
    ControlCall(Box<ControlCall>),
    /// Trigger state started afresh here (a run start, an applied hot reload); see [`super::runs`].
    RunMark(RunMark),
    /// A tick that fired actions, recorded where it came in the chat (sent in one `Atomic` with
    /// its actions); see [`super::ticks`].
    Tick(Tick),
    /// The links creators.json declares for `creator`, made what the store holds (sent at each run
    /// start, after the run mark); see [`super::people`].
    DeclaredLinks {
        creator: String,
        people: Vec<super::people::DeclaredPerson>,
        at: DateTime<Utc>,
    },
    /// A shard's state from a snapshot of the bus (see [`super::shard_state`]): applied alone,
    /// after everything sent before it is committed, in a transaction of its own.
    ImportShard(Box<ShardImport>),
    /// Ops that commit together or not at all (a polled page with its checkpoint).
    Atomic(Vec<WriteOp>),
    /// Wake this after everything sent before it is committed (the clip worker, the exporter).
    Wake(Arc<Notify>),
    /// Acknowledge once everything sent before it is committed.
    Flush(oneshot::Sender<()>),
}

impl WriteOp {
    /// Records `action` and applies its store effect.
    pub fn action(action: Action) -> WriteOp {
        WriteOp::Action {
            action: Box::new(action),
            outbox: Vec::new(),
        }
    }

    /// Records `action`, applies its store effect and queues the notifications routing made of it.
    pub fn action_notifying(action: Action, outbox: Vec<NewOutbox>) -> WriteOp {
        WriteOp::Action {
            action: Box::new(action),
            outbox,
        }
    }

    /// Chat events inside this op (for counting what a give-up abandons, or what was never sent).
    pub fn events(&self) -> u64 {
        match self {
            WriteOp::ChatEvent(_) => 1,
            WriteOp::Atomic(ops) => ops.iter().map(WriteOp::events).sum(),
            _ => 0,
        }
    }

    /// Ops inside this op: 1, or a group's members (what [`BATCH_MAX`] counts).
    pub fn ops(&self) -> usize {
        match self {
            WriteOp::Atomic(ops) => ops.iter().map(WriteOp::ops).sum(),
            _ => 1,
        }
    }

    /// Ops inside this op that change the store (all but [`WriteOp::Flush`] and [`WriteOp::Wake`]):
    /// what a give-up counts as abandoned.
    fn changes(&self) -> u64 {
        match self {
            WriteOp::Atomic(ops) => ops.iter().map(WriteOp::changes).sum(),
            WriteOp::Flush(_) | WriteOp::Wake(_) => 0,
            _ => 1,
        }
    }

    /// Acknowledges the [`WriteOp::Flush`] and [`WriteOp::Wake`] inside this op, at any depth of
    /// grouping: everything sent with them is committed.
    fn acknowledge(self) {
        match self {
            WriteOp::Flush(ack) => {
                let _ = ack.send(());
            }
            WriteOp::Wake(notify) => notify.notify_one(),
            WriteOp::Atomic(ops) => ops.into_iter().for_each(WriteOp::acknowledge),
            _ => {}
        }
    }

    /// About how many bytes the op holds, itself and what it points to: its weight against the
    /// writer queue's byte budget ([`QUEUE_BYTES`]). An estimate that errs high for text.
    pub fn weight(&self) -> usize {
        let own = std::mem::size_of::<WriteOp>();
        own + match self {
            WriteOp::ChatEvent(event) => {
                std::mem::size_of::<ChatEvent>()
                    + event.text.len()
                    + event.message_id.len()
                    + event.channel.len()
                    + event.creator.len()
                    + event.author.id.len()
                    + event.author.login.len()
                    + event.author.display_name.len()
                    + event.emotes.len() * 16
                    + event.detail.as_ref().map_or(0, |_| 128)
                    + event.shared_from.as_ref().map_or(0, |s| s.len())
            }
            WriteOp::Action { outbox, .. } => {
                std::mem::size_of::<Action>()
                    + 256
                    + outbox.len() * (std::mem::size_of::<NewOutbox>() + 512)
            }
            WriteOp::Atomic(ops) => ops.iter().map(WriteOp::weight).sum(),
            _ => 256,
        }
    }
}

/// A shard snapshot to import, and who waits for the outcome.
pub struct ShardImport {
    pub snapshot: std::path::PathBuf,
    pub stream: String,
    pub shard: u32,
    pub at_ms: i64,
    /// Whether a creator is one of the shard's.
    pub in_shard: Box<dyn Fn(&str) -> bool + Send>,
    pub done: oneshot::Sender<Result<super::shard_state::Imported, String>>,
}

impl std::fmt::Debug for ShardImport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardImport")
            .field("snapshot", &self.snapshot)
            .field("shard", &self.shard)
            .finish_non_exhaustive()
    }
}

impl ShardImport {
    fn run(self, store: &mut Store) {
        let ShardImport {
            snapshot,
            stream,
            shard,
            at_ms,
            in_shard,
            done,
        } = self;
        let outcome = super::shard_state::import_snapshot(
            store.conn_mut(),
            &snapshot,
            &stream,
            shard,
            at_ms,
            in_shard,
        )
        .map_err(|e| e.to_string());
        let _ = done.send(outcome);
    }
}

/// The most bytes of ops (by [`WriteOp::weight`]) the writer's queue holds: with the op count it
/// keeps the queue to a few milliseconds of work however large the events are (at 500 k events/s
/// of about 400 bytes, 1 MiB is about 5 ms; at the 130 k events/s of a shared 2-core machine, about
/// 20 ms). An op heavier than the whole budget still passes, alone.
pub const QUEUE_BYTES: usize = 1 << 20;

/// What travels on the channel: ops with the bytes they hold of the queue's budget, and the close
/// request.
enum Msg {
    Op(WriteOp, u32),
    Close,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Op(op, _) => op.fmt(f),
            Msg::Close => f.write_str("Close"),
        }
    }
}

/// Why the writer is degraded: commits are failing and their batches are held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Degraded {
    pub since: DateTime<Utc>,
    /// The last commit error, one line.
    pub reason: String,
    /// Failed attempts in this streak.
    pub failures: u64,
}

/// Counters and health of the writer, updated by its thread and readable at any time. Every count
/// is of committed work.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub events_recorded: AtomicU64,
    pub events_duplicate: AtomicU64,
    /// Poll votes ignored because the user had already voted in that poll on that platform.
    pub votes_ignored: AtomicU64,
    pub ops_written: AtomicU64,
    /// Ops the store refused (logged with the reason); the rest of their batch was committed.
    pub ops_rejected: AtomicU64,
    pub batches_committed: AtomicU64,
    /// Commit attempts that failed and were retried with the batch held.
    pub commit_failures: AtomicU64,
    /// Ops given up at shutdown after [`CLOSE_GRACE`] of failing commits (0 unless the disk stayed
    /// full), and the chat events among them.
    pub ops_abandoned: AtomicU64,
    pub events_abandoned: AtomicU64,
    degraded: Mutex<Option<Degraded>>,
}

/// A plain copy of [`WriterStats`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct WriterStatsSnapshot {
    pub events_recorded: u64,
    pub events_duplicate: u64,
    pub votes_ignored: u64,
    pub ops_written: u64,
    pub ops_rejected: u64,
    pub batches_committed: u64,
    pub commit_failures: u64,
    pub ops_abandoned: u64,
    pub events_abandoned: u64,
    /// Set while commits fail.
    pub degraded: Option<Degraded>,
}

impl WriterStats {
    pub fn snapshot(&self) -> WriterStatsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WriterStatsSnapshot {
            events_recorded: load(&self.events_recorded),
            events_duplicate: load(&self.events_duplicate),
            votes_ignored: load(&self.votes_ignored),
            ops_written: load(&self.ops_written),
            ops_rejected: load(&self.ops_rejected),
            batches_committed: load(&self.batches_committed),
            commit_failures: load(&self.commit_failures),
            ops_abandoned: load(&self.ops_abandoned),
            events_abandoned: load(&self.events_abandoned),
            degraded: self.degraded(),
        }
    }

    /// Why commits are failing, while they are.
    pub fn degraded(&self) -> Option<Degraded> {
        self.degraded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_degraded(&self, reason: String) -> u64 {
        let mut degraded = self
            .degraded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let state = degraded.get_or_insert_with(|| Degraded {
            since: Utc::now(),
            reason: String::new(),
            failures: 0,
        });
        state.reason = reason;
        state.failures += 1;
        state.failures
    }

    fn clear_degraded(&self) -> Option<Degraded> {
        self.degraded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// State shared by every clone and the thread.
#[derive(Debug, Default)]
struct Shared {
    stats: Arc<WriterStats>,
    /// Set when shutdown begins: a failing commit is then retried for [`CLOSE_GRACE`] at most.
    closing: AtomicBool,
    /// Why the writer gave up, once it has.
    abandoned: Mutex<Option<String>>,
    /// Tests cap the database size (`PRAGMA max_page_count`) to stand in for a full disk.
    #[cfg(test)]
    page_limit: std::sync::atomic::AtomicI64,
}

/// The sending side of the store writer; clone it freely.
#[derive(Debug, Clone)]
pub struct StoreWriter {
    tx: mpsc::Sender<Msg>,
    /// The queue's byte budget ([`QUEUE_BYTES`]): a sender takes an op's weight, the thread gives
    /// it back when it takes the op off the queue.
    bytes: Arc<Semaphore>,
    shared: Arc<Shared>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl StoreWriter {
    /// Opens (and migrates) the store at `path` and starts the writer thread with a queue of
    /// `capacity` ops. Open errors (newer schema, corrupt, locked) are returned here, before any op.
    pub fn spawn(path: &Path, capacity: usize) -> Result<StoreWriter, StoreError> {
        // Takes the writer lock (held by the thread's store until everything is committed) and
        // migrates: the writer is the only one that does.
        let mut store = Store::open_as_writer(path)?;
        store
            .conn()
            .execute_batch(WRITER_PRAGMAS)
            .map_err(|e| store.err(e))?;
        let watch = WalWatch::install(store.conn_mut()).map_err(|e| store.err(e))?;
        let checkpointer = Checkpointer::start(path, watch, WAL_LIMITS);
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let bytes = Arc::new(Semaphore::new(QUEUE_BYTES));
        let shared = Arc::new(Shared::default());
        let thread_shared = Arc::clone(&shared);
        let thread_bytes = Arc::clone(&bytes);
        let thread = std::thread::Builder::new()
            .name("ss-store-writer".into())
            .spawn(move || run(store, checkpointer, rx, &thread_bytes, &thread_shared))
            .map_err(|source| StoreError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(StoreWriter {
            tx,
            bytes,
            shared,
            thread: Arc::new(Mutex::new(Some(thread))),
        })
    }

    /// [`StoreWriter::spawn`] from async code: opening and migrating (blocking SQLite work) run on
    /// the blocking pool, not on an async runtime thread.
    pub async fn start(path: &Path, capacity: usize) -> Result<StoreWriter, StoreError> {
        let owned = path.to_path_buf();
        tokio::task::spawn_blocking(move || StoreWriter::spawn(&owned, capacity))
            .await
            .map_err(|e| StoreError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other(format!("opening the store did not finish: {e}")),
            })?
    }

    /// Queues `op`, waiting while the queue is full (in ops or in bytes).
    pub async fn send(&self, op: WriteOp) -> Result<(), StoreError> {
        let weight = weight_of(&op);
        self.bytes
            .acquire_many(weight)
            .await
            .map_err(|_| StoreError::Closed)?
            .forget();
        self.tx
            .send(Msg::Op(op, weight))
            .await
            .map_err(|_| StoreError::Closed)
    }

    /// Queues `op` from synchronous code, blocking while the queue is full (in ops or in bytes).
    /// Must not be called on an async task (use [`StoreWriter::send`] there).
    pub fn blocking_send(&self, op: WriteOp) -> Result<(), StoreError> {
        let weight = weight_of(&op);
        block_on(self.bytes.acquire_many(weight))
            .map_err(|_| StoreError::Closed)?
            .forget();
        self.tx
            .blocking_send(Msg::Op(op, weight))
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
        Arc::clone(&self.shared.stats)
    }

    /// Caps the database at `pages` pages before the next commit attempt (a full disk, for tests).
    #[cfg(test)]
    fn set_page_limit_for_tests(&self, pages: i64) {
        self.shared.page_limit.store(pages, Ordering::Relaxed);
    }

    /// Shutdown has begun: from now on a failing commit is retried for [`CLOSE_GRACE`] at most, so a
    /// full disk cannot hold the process forever.
    pub fn begin_shutdown(&self) {
        self.shared.closing.store(true, Ordering::Relaxed);
    }

    /// Stops accepting ops, writes and commits everything queued, and joins the thread. Blocking:
    /// from async code, call it inside `tokio::task::spawn_blocking`. Calling it on a second clone
    /// after the first returns the same counters.
    pub fn close(self) -> Result<WriterStatsSnapshot, StoreError> {
        self.begin_shutdown();
        // A failed send means the thread already ended (closed or gave up); joining still reports.
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
        let stats = self.shared.stats.snapshot();
        let abandoned = self
            .shared
            .abandoned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match abandoned {
            Some(reason) => Err(StoreError::Abandoned {
                ops: stats.ops_abandoned,
                events: stats.events_abandoned,
                reason,
            }),
            None => Ok(stats),
        }
    }
}

/// `op`'s weight against the queue's byte budget, at most the whole budget.
fn weight_of(op: &WriteOp) -> u32 {
    u32::try_from(op.weight().min(QUEUE_BYTES)).unwrap_or(u32::MAX)
}

/// Runs `future` to its end on this (synchronous) thread, parked while it waits.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// The writer thread's loop.
fn run(
    mut store: Store,
    mut checkpointer: Checkpointer,
    mut rx: mpsc::Receiver<Msg>,
    bytes: &Semaphore,
    shared: &Shared,
) {
    let mut batch: Vec<WriteOp> = Vec::new();
    let mut closing = false;
    // Kept across batches; let go (and prepared again when needed) only while a shard import
    // takes the connection for itself.
    let mut inserts = ChatInserts::new(store.conn());
    loop {
        let first = if closing {
            // After Close: only what is already queued (new sends are refused).
            rx.try_recv().ok()
        } else {
            rx.blocking_recv()
        };
        let Some(first) = first else { break };
        let mut next = Some(first);
        let mut ops = 0;
        while let Some(msg) = next.take() {
            match msg {
                Msg::Op(WriteOp::ImportShard(import), weight) => {
                    bytes.add_permits(weight as usize);
                    // Alone, after what came before it.
                    if !commit_held(&store, &mut inserts, &mut batch, shared) {
                        bytes.close();
                        abandon(&mut batch, &mut rx, shared);
                        return;
                    }
                    drop(inserts);
                    import.run(&mut store);
                    inserts = ChatInserts::new(store.conn());
                }
                Msg::Op(op, weight) => {
                    bytes.add_permits(weight as usize);
                    ops += op.ops();
                    batch.push(op);
                }
                Msg::Close => {
                    rx.close();
                    closing = true;
                }
            }
            if ops < BATCH_MAX {
                next = rx.try_recv().ok();
            }
        }
        if !commit_held(&store, &mut inserts, &mut batch, shared) {
            bytes.close();
            abandon(&mut batch, &mut rx, shared);
            return;
        }
        checkpointer.after_commit(store.conn());
    }
    bytes.close();
    checkpointer.stop();
    checkpoint(&store);
}

/// Commits `batch`, retrying with the batch held while the storage fails. False when shutdown
/// began and the commits kept failing for [`CLOSE_GRACE`]: the caller then gives up.
fn commit_held(
    store: &Store,
    inserts: &mut ChatInserts<'_>,
    batch: &mut Vec<WriteOp>,
    shared: &Shared,
) -> bool {
    if batch.is_empty() {
        return true;
    }
    let stats = &shared.stats;
    let mut backoff = Backoff::new(RETRY_BASE, RETRY_CAP);
    let mut closing_since: Option<Instant> = None;
    loop {
        #[cfg(test)]
        {
            let pages = shared.page_limit.load(Ordering::Relaxed);
            if pages > 0 {
                let _ = store
                    .conn()
                    .execute_batch(&format!("PRAGMA max_page_count = {pages}"));
            }
        }
        match attempt(store, inserts, batch) {
            Ok(tally) => {
                WriterStats::add(&stats.events_recorded, tally.events_recorded);
                WriterStats::add(&stats.events_duplicate, tally.events_duplicate);
                WriterStats::add(&stats.votes_ignored, tally.votes_ignored);
                WriterStats::add(&stats.ops_written, tally.ops_written);
                WriterStats::add(&stats.ops_rejected, tally.ops_rejected);
                WriterStats::add(&stats.batches_committed, 1);
                if let Some(was) = stats.clear_degraded() {
                    tracing::warn!(
                        failures = was.failures,
                        since = %was.since,
                        "Store commits succeed again; the held ops are recorded."
                    );
                }
                batch.drain(..).for_each(WriteOp::acknowledge);
                return true;
            }
            Err(e) => {
                WriterStats::add(&stats.commit_failures, 1);
                let reason = format!("store commit failed: {e}");
                let failures = stats.set_degraded(reason.clone());
                if failures == 1 {
                    tracing::error!(
                        error = %e,
                        ops = batch.len(),
                        "Store commit failed; holding the batch and retrying (the runtime is degraded)."
                    );
                } else {
                    tracing::debug!(error = %e, failures, "Store commit failed again.");
                }
                if shared.closing.load(Ordering::Relaxed) {
                    let since = *closing_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= CLOSE_GRACE {
                        *shared
                            .abandoned
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reason);
                        return false;
                    }
                }
                std::thread::sleep(backoff.next_delay());
            }
        }
    }
}

/// Shutdown with a storage that stays broken: count what is given up, refuse further sends.
fn abandon(batch: &mut Vec<WriteOp>, rx: &mut mpsc::Receiver<Msg>, shared: &Shared) {
    rx.close();
    let mut ops = 0u64;
    let mut events = 0u64;
    let mut count = |op: &WriteOp| {
        ops += op.changes();
        events += op.events();
    };
    batch.iter().for_each(&mut count);
    batch.clear();
    while let Ok(msg) = rx.try_recv() {
        if let Msg::Op(op, _) = msg {
            count(&op);
        }
    }
    WriterStats::add(&shared.stats.ops_abandoned, ops);
    WriterStats::add(&shared.stats.events_abandoned, events);
    tracing::error!(
        ops,
        events,
        "The store stayed unwritable through shutdown; these ops were not recorded."
    );
}

/// One try at applying and committing `batch`. Storage errors abort the try (nothing is kept);
/// refused ops are skipped and counted.
fn attempt(
    store: &Store,
    inserts: &mut ChatInserts<'_>,
    batch: &[WriteOp],
) -> Result<BatchTally, rusqlite::Error> {
    // The only transaction on this connection while it lasts (the writer thread's), so the
    // unchecked form (a shared borrow, which the kept inserts hold too) is safe from nesting.
    let tx = store.conn().unchecked_transaction()?;
    let mut tally = BatchTally::default();
    let mut counts = BatchCounts::default();
    {
        let mut chat = ChatRows::new(inserts);
        for op in batch {
            apply_guarded(&tx, &mut chat, op, &mut tally, &mut counts)?;
        }
        chat.flush(&mut tally, &mut counts.chat_totals)?;
    }
    counts.write(&tx)?;
    tx.commit()?;
    Ok(tally)
}

/// Applies one op; a refused op leaves nothing behind.
///
/// Ops on the hot path (chat events, actions) refuse before their first statement changes anything
/// (see [`super::actions::apply`]), so they need no savepoint: savepoints cost about 9% of the
/// pipeline's instructions per event. The rarer ops run inside one, so a refusal after a partial
/// write is rolled back to where the op started.
fn apply_guarded<'b>(
    conn: &Connection,
    chat: &mut ChatRows<'_, '_, 'b>,
    op: &'b WriteOp,
    tally: &mut BatchTally,
    counts: &mut BatchCounts,
) -> Result<(), rusqlite::Error> {
    let reads_chat_log = match op {
        WriteOp::ChatEvent(_) | WriteOp::Atomic(_) => false,
        WriteOp::Action { action, .. } => actions::reads_chat_log(&action.kind),
        _ => true,
    };
    if reads_chat_log {
        // Held chat events go first: the op may read the chat log (a position in it).
        chat.flush(tally, &mut counts.chat_totals)?;
    }
    let savepoint = !matches!(
        op,
        WriteOp::ChatEvent(_)
            | WriteOp::Action { .. }
            | WriteOp::Atomic(_)
            | WriteOp::Flush(_)
            | WriteOp::Wake(_)
    );
    if savepoint {
        conn.prepare_cached("SAVEPOINT op")?.execute([])?;
    }
    match apply(conn, chat, op, tally, counts) {
        Ok(counted) => {
            if savepoint {
                conn.prepare_cached("RELEASE op")?.execute([])?;
            }
            tally.ops_written += counted;
            Ok(())
        }
        Err(ApplyError::Storage(e)) => Err(e),
        Err(ApplyError::Rejected(reason)) => {
            if savepoint {
                conn.prepare_cached("ROLLBACK TO op")?.execute([])?;
                conn.prepare_cached("RELEASE op")?.execute([])?;
            }
            tally.ops_rejected += 1;
            tracing::warn!(reason, "Store write refused; the op was skipped.");
            Ok(())
        }
    }
}

/// Applies one op inside the open transaction; returns how many ops it counts as written.
fn apply<'b>(
    conn: &Connection,
    chat: &mut ChatRows<'_, '_, 'b>,
    op: &'b WriteOp,
    tally: &mut BatchTally,
    counts: &mut BatchCounts,
) -> Result<u64, ApplyError> {
    match op {
        WriteOp::ChatEvent(event) => {
            // Counted by `ChatRows` once its row is inserted (or refused).
            chat.push(event, tally, &mut counts.chat_totals)?;
            return Ok(0);
        }
        WriteOp::Action { action, outbox } => {
            actions::apply(conn, action, outbox, tally, counts)?;
        }
        WriteOp::Clip(clip) => {
            clips::insert(conn, clip)?;
        }
        WriteOp::ClipState(change) => clips::change_state(conn, change)?,
        WriteOp::Outbox(row) => outbox::enqueue(conn, std::slice::from_ref(&**row))?,
        WriteOp::OutboxResult(result) => outbox::record(conn, result)?,
        WriteOp::Checkpoint(checkpoint) => checkpoints::save(conn, checkpoint)?,
        WriteOp::BusCursor(cursor) => super::bus_cursors::save(conn, cursor)?,
        WriteOp::QuotaSpend {
            platform,
            day,
            units,
        } => quotas::spend(conn, *platform, *day, *units)?,
        WriteOp::ProjectQuotaSpend {
            project,
            day,
            method,
            units,
        } => quotas::spend_project(conn, project, *day, method, *units)?,
        WriteOp::WebhookDelivery {
            source,
            id,
            at_ms,
            keep_from_ms,
        } => super::deliveries::record(conn, source, id, *at_ms, *keep_from_ms)?,
        WriteOp::Audit { at, action, detail } => audit::append(conn, at, action, detail)?,
        WriteOp::ModerationOutcome(outcome) => moderation::record_outcome(conn, outcome)?,
        WriteOp::ControlCall(call) => audit::append_call(conn, call)?,
        WriteOp::RunMark(mark) => {
            runs::record(conn, mark)?;
            community::interrupt_open_polls(conn, ms(&mark.at), "TRUE")?;
            giveaways::interrupt_running(conn, ms(&mark.at), "TRUE")?;
        }
        WriteOp::Tick(tick) => ticks::record(conn, tick)?,
        WriteOp::DeclaredLinks {
            creator,
            people: declared,
            at,
        } => people::declare(conn, creator, declared, at)?,
        WriteOp::Atomic(ops) => {
            // The group shares the batch's transaction; each of its ops is guarded (and counted) alone.
            for op in ops {
                apply_guarded(conn, chat, op, tally, counts).map_err(ApplyError::Storage)?;
            }
            return Ok(0);
        }
        // Applied by the writer's loop, never inside a batch.
        WriteOp::Wake(_) | WriteOp::Flush(_) | WriteOp::ImportShard(_) => return Ok(0),
    }
    Ok(1)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::ActionKind;
    use crate::event::{Author, Roles};
    use crate::store::StoreReader;

    fn event(platform: Platform, id: &str, ts_ms: i64) -> WriteOp {
        let author = Author {
            roles: Roles {
                subscriber: true,
                ..Roles::default()
            },
            ..Author::viewer("viewer")
        };
        let at = DateTime::from_timestamp_millis(ts_ms).unwrap();
        WriteOp::ChatEvent(Box::new(ChatEvent::message(
            platform,
            "demo",
            id,
            at,
            author,
            "hello chat",
        )))
    }

    fn action(kind: ActionKind, ms: i64) -> WriteOp {
        WriteOp::action(Action {
            trigger_id: "t".into(),
            creator: "demo".into(),
            platform: Platform::named("twitch"),
            message_id: "m".into(),
            at: DateTime::from_timestamp_millis(ms).unwrap(),
            kind,
            thread: false,
        })
    }

    fn vote(user: &str, option: &str) -> WriteOp {
        action(
            ActionKind::PollVote {
                poll: "next-game".into(),
                option: option.into(),
                user_id: user.into(),
            },
            1_000,
        )
    }

    #[test]
    fn records_events_once_and_counts_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let writer = StoreWriter::spawn(&path, 16).unwrap();
        for i in 0..100 {
            writer
                .blocking_send(event(
                    Platform::named("twitch"),
                    &format!("m{i}"),
                    1_000 + i,
                ))
                .unwrap();
        }
        // The same ids again (a reconnect replaying history), and the same id on another platform.
        for i in 0..10 {
            writer
                .blocking_send(event(
                    Platform::named("twitch"),
                    &format!("m{i}"),
                    1_000 + i,
                ))
                .unwrap();
        }
        writer
            .blocking_send(event(Platform::named("kick"), "m0", 5_000))
            .unwrap();
        let stats = writer.close().unwrap();
        assert_eq!(stats.events_recorded, 101);
        assert_eq!(stats.events_duplicate, 10);
        assert_eq!(stats.ops_rejected, 0);
        let store = StoreReader::open(&path).unwrap();
        assert_eq!(store.chat_event_count().unwrap(), 101);
        let recent = store.recent_chat_events(3).unwrap();
        let ids: Vec<_> = recent.iter().map(|e| e.message_id.as_str()).collect();
        assert_eq!(ids, ["m98", "m99", "m0"]);
        assert!(recent[0].author.roles.subscriber);
        let totals = store.chat_totals().unwrap();
        assert_eq!(totals.len(), 2);
        assert_eq!(totals[1].platform, Platform::named("twitch"));
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
        let polls = StoreReader::open(&path).unwrap().polls(usize::MAX).unwrap();
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
                    .blocking_send(event(Platform::named("sim"), &format!("s{i}"), i))
                    .unwrap();
            }
            other
        });
        let other = producer.join().unwrap();
        let stats = writer.close().unwrap();
        assert_eq!(stats.events_recorded, 5_000);
        assert!(stats.batches_committed >= 1);
        assert!(matches!(
            other.blocking_send(event(Platform::named("sim"), "late", 0)),
            Err(StoreError::Closed)
        ));
        assert_eq!(
            StoreReader::open(&path)
                .unwrap()
                .chat_event_count()
                .unwrap(),
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
        assert_eq!(
            StoreReader::open(&path)
                .unwrap()
                .chat_event_count()
                .unwrap(),
            0
        );
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
                .send(event(Platform::named("youtube"), "y1", 10))
                .await
                .unwrap();
            writer.flush().await.unwrap();
        });
        // Visible to another connection before the writer closes.
        assert_eq!(
            StoreReader::open(&path)
                .unwrap()
                .chat_event_count()
                .unwrap(),
            1
        );
        writer.close().unwrap();
    }

    #[test]
    fn tallies_scores_and_clips_accumulate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let writer = StoreWriter::spawn(&path, 8).unwrap();
        let at = DateTime::from_timestamp_millis(60_000).unwrap();
        for (user, amount) in [("a", 1), ("b", 2), ("a", 3)] {
            let kind = ActionKind::Tally {
                tally: "hype".into(),
                amount,
                user_id: user.into(),
            };
            writer.blocking_send(action(kind, 60_000)).unwrap();
        }
        for (user, points) in [("a", 5), ("b", 7), ("c", 5), ("a", 2)] {
            let kind = ActionKind::Score {
                board: "gg".into(),
                points,
                user_id: user.into(),
                user_name: user.to_uppercase(),
            };
            writer.blocking_send(action(kind, 60_000)).unwrap();
        }
        let clip = |id: &str| {
            WriteOp::Clip(Box::new(NewClip {
                clip_id: Some(id.into()),
                creator: "demo".into(),
                platform: Platform::named("twitch"),
                channel: "demo".into(),
                requested_by: "A".into(),
                duration_s: 30,
                title: None,
                at,
            }))
        };
        writer.blocking_send(clip("c1")).unwrap();
        writer.blocking_send(clip("c1")).unwrap();
        writer
            .blocking_send(WriteOp::ClipState(Box::new(ClipStateChange {
                clip_id: "c1".into(),
                state: crate::store::ClipState::Published,
                at,
                detail: None,
                url: Some("https://clips.example/c1".into()),
                thumbnail_url: None,
                outbox: Vec::new(),
            })))
            .unwrap();
        let stats = writer.close().unwrap();
        assert_eq!(stats.ops_rejected, 1, "the duplicate clip id is refused");
        let store = StoreReader::open(&path).unwrap();
        let tallies = store.tallies().unwrap();
        assert_eq!((tallies[0].total, tallies[0].events), (6, 3));
        let boards = store.scoreboards(10).unwrap();
        let ranked: Vec<_> = boards[0]
            .entries
            .iter()
            .map(|e| (e.rank, e.user_name.as_str(), e.points))
            .collect();
        assert_eq!(ranked, [(1, "A", 7), (1, "B", 7), (3, "C", 5)]);
        let published = store
            .clips(Some(crate::store::ClipState::Published))
            .unwrap();
        assert_eq!(published.len(), 1);
        assert_eq!(
            published[0].url.as_deref(),
            Some("https://clips.example/c1")
        );
        let jobs = store.clip_jobs(10).unwrap();
        assert_eq!(jobs.len(), 1, "the refused duplicate left no job behind");
        assert_eq!(jobs[0].state, crate::store::ClipState::Published);
    }

    fn clip_action(ms: i64) -> WriteOp {
        action(
            ActionKind::Clip {
                channel: "demo".into(),
                requested_by: "viewer".into(),
                duration_s: 30,
                title: None,
            },
            ms,
        )
    }

    #[test]
    fn clip_ids_are_six_alphanumerics_and_unique_across_runs_on_one_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        for run in 0..2 {
            let writer = StoreWriter::spawn(&path, 8).unwrap();
            for i in 0..200 {
                writer.blocking_send(clip_action(run * 1_000 + i)).unwrap();
            }
            assert_eq!(writer.close().unwrap().ops_rejected, 0);
        }
        let clips = StoreReader::open(&path).unwrap().clips(None).unwrap();
        assert_eq!(clips.len(), 400);
        let ids: std::collections::HashSet<_> = clips.iter().map(|c| c.clip_id.clone()).collect();
        assert_eq!(ids.len(), 400, "every id is unique across both runs");
        for id in &ids {
            assert_eq!(id.len(), crate::store::clips::CLIP_ID_LEN, "{id}");
            assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        }
    }

    #[test]
    fn an_actions_notifications_commit_with_it_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let writer = StoreWriter::spawn(&path, 8).unwrap();
        let kind = ActionKind::Notify {
            channel: "general".into(),
            text: "we are live".into(),
        };
        let row = |destination: &str| NewOutbox {
            creator: "demo".into(),
            destination: destination.into(),
            target: "general".into(),
            kind: "notify".into(),
            payload: serde_json::json!({"text": "we are live"}),
            dedupe_key: None,
            cause: "event:twitch:m".into(),
            at: DateTime::from_timestamp_millis(5_000).unwrap(),
        };
        let WriteOp::Action { action, .. } = action(kind, 5_000) else {
            unreachable!()
        };
        writer
            .blocking_send(WriteOp::action_notifying(
                *action,
                vec![row("discord"), row("webhook")],
            ))
            .unwrap();
        writer.close().unwrap();
        // A new writer (a restart) and a fresh reader see the rows, unsent and due.
        StoreWriter::spawn(&path, 8).unwrap().close().unwrap();
        let store = StoreReader::open(&path).unwrap();
        assert_eq!(store.recorded_actions().unwrap().len(), 1);
        let due = store.outbox_due("discord", Utc::now(), 10).unwrap();
        assert_eq!(due.len(), 1);
        let row = &due[0];
        assert_eq!(
            (row.target.as_str(), row.kind.as_str(), row.cause.as_deref()),
            ("general", "notify", Some("event:twitch:m"))
        );
        assert_eq!(row.payload, serde_json::json!({"text": "we are live"}));
        assert_eq!((row.attempts, row.sent_at, row.failed), (0, None, false));
        assert_eq!(row.nonce.len(), 16);
        assert_eq!(
            store.outbox_due("webhook", Utc::now(), 10).unwrap().len(),
            1,
            "a destination is data to the store"
        );
        assert_eq!(store.outbox_counts().unwrap(), (2, 0, 0));
    }

    #[test]
    fn an_atomic_group_commits_its_events_with_its_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let writer = StoreWriter::spawn(&path, 2).unwrap();
        let mut ops: Vec<WriteOp> = (0..3000)
            .map(|i| event(Platform::named("youtube"), &format!("y{i}"), i))
            .collect();
        ops.push(WriteOp::Checkpoint(Box::new(Checkpoint {
            creator: "demo".into(),
            platform: Platform::named("youtube"),
            cursor: "page-2".into(),
            at: Utc::now(),
        })));
        writer.blocking_send(WriteOp::Atomic(ops)).unwrap();
        let stats = writer.close().unwrap();
        assert_eq!((stats.events_recorded, stats.batches_committed), (3000, 1));
        let store = StoreReader::open(&path).unwrap();
        let checkpoint = store
            .checkpoint("demo", Platform::named("youtube"))
            .unwrap()
            .unwrap();
        assert_eq!(checkpoint.cursor, "page-2");
        assert_eq!(store.chat_event_count().unwrap(), 3000);
    }

    #[test]
    fn a_wake_and_a_flush_inside_a_group_are_answered_once_it_commits() {
        // A `!clip` on a polled page sends its Wake inside the page's group, and the run loop
        // sends each lane batch as one group: what waits on them must still hear of the commit.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let writer = StoreWriter::spawn(&path, 8).unwrap();
        let woken = Arc::new(Notify::new());
        let (ack, flushed) = oneshot::channel();
        let page = WriteOp::Atomic(vec![
            event(Platform::named("youtube"), "y1", 10),
            WriteOp::Wake(Arc::clone(&woken)),
        ]);
        writer
            .blocking_send(WriteOp::Atomic(vec![
                page,
                event(Platform::named("youtube"), "y2", 11),
                WriteOp::Flush(ack),
            ]))
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(20), flushed)
                .await
                .expect("the flush inside the group was acknowledged")
                .unwrap();
            tokio::time::timeout(Duration::from_secs(20), woken.notified())
                .await
                .expect("the wake inside the group's group was notified");
        });
        assert_eq!(
            StoreReader::open(&path)
                .unwrap()
                .chat_event_count()
                .unwrap(),
            2,
            "both events were committed before the answers"
        );
        let stats = writer.close().unwrap();
        assert_eq!((stats.ops_written, stats.batches_committed), (2, 1));
    }

    #[test]
    fn a_failing_commit_holds_its_batch_degrades_and_recovers_with_everything_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        // A small database cap stands in for a full disk: inserts past it fail with SQLITE_FULL.
        Store::open_as_writer(&path)
            .unwrap()
            .conn()
            .execute_batch("PRAGMA page_size = 4096; VACUUM;")
            .unwrap();
        let writer = StoreWriter::spawn(&path, 64).unwrap();
        let stats = writer.stats();
        let cap = StoreReader::open(&path)
            .unwrap()
            .conn()
            .query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0))
            .unwrap()
            + 8;
        writer.set_page_limit_for_tests(cap);
        let sender = writer.clone();
        let producer = std::thread::spawn(move || {
            for i in 0..3_000 {
                sender
                    .blocking_send(event(Platform::named("twitch"), &format!("m{i}"), i))
                    .unwrap();
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        while stats.degraded().is_none() {
            assert!(Instant::now() < deadline, "never degraded");
            std::thread::sleep(Duration::from_millis(10));
        }
        let degraded = stats.degraded().unwrap();
        assert!(degraded.reason.contains("full"), "{}", degraded.reason);
        let recorded_while_full = stats.snapshot().events_recorded;
        // Space frees: the held batch and everything queued behind it commit, each event once.
        writer.set_page_limit_for_tests(1_000_000);
        producer.join().unwrap();
        let final_stats = writer.close().unwrap();
        assert!(final_stats.commit_failures >= 1);
        assert!(final_stats.degraded.is_none(), "recovered");
        assert!(recorded_while_full < 3_000);
        assert_eq!(final_stats.events_recorded, 3_000);
        assert_eq!(final_stats.events_duplicate, 0);
        assert_eq!(
            StoreReader::open(&path)
                .unwrap()
                .chat_event_count()
                .unwrap(),
            3_000
        );
        let rows: i64 = StoreReader::open(&path)
            .unwrap()
            .conn()
            .query_row("SELECT count(*) FROM chat_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 3_000);
    }
}
