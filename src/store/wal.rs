//! Folding the write-ahead log back into the database file, off the writer's thread.
//!
//! SQLite's own autocheckpoint copies the WAL into the database inside the commit that crosses its
//! threshold, so the store writer stood still for every checkpoint (about an eighth of its time at
//! full speed, and a stall of the whole pipeline each time). Here the writer's connection counts the
//! frames in the WAL after each commit ([`WalWatch`], a WAL hook) and a thread of its own, with its
//! own connection, runs the passive checkpoints ([`Checkpointer`]) while the writer goes on.
//!
//! A passive checkpoint copies what was committed when it started; the writer keeps appending
//! meanwhile, and the log can start over from its beginning only when a write transaction begins
//! with every frame copied. So after each background checkpoint the writer looks at what is left:
//! a short tail ([`CATCH_UP_FRAMES`]) it copies itself, which is quick and lets the next transaction
//! restart the log; a longer one goes to the thread again. Should the thread fall behind (a reader
//! holding an old snapshot, a slow disk), the writer checkpoints itself at [`WRITER_CHECKPOINT_FRAMES`],
//! as SQLite would, so the WAL stays bounded.

use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// When checkpoints happen, in WAL frames (pages).
#[derive(Debug, Clone, Copy)]
pub(super) struct WalLimits {
    /// From this many frames the thread is asked to checkpoint.
    pub background: i64,
    /// A tail this short after a background checkpoint is copied by the writer itself.
    pub catch_up: i64,
    /// From this many frames the writer checkpoints itself, whatever the thread is doing.
    pub writer: i64,
}

/// The store's limits: 64 MiB of 4 KiB pages between checkpoints (each hot page is written back
/// once per that many frames), a tail of 8 MiB for the writer, and the WAL bounded at 256 MiB.
pub(super) const WAL_LIMITS: WalLimits = WalLimits {
    background: BACKGROUND_FRAMES,
    catch_up: CATCH_UP_FRAMES,
    writer: WRITER_CHECKPOINT_FRAMES,
};
const BACKGROUND_FRAMES: i64 = 16_384;
const CATCH_UP_FRAMES: i64 = 2_048;
const WRITER_CHECKPOINT_FRAMES: i64 = 4 * BACKGROUND_FRAMES;

/// The frame count the writer's connection saw after its last commit.
#[derive(Debug, Default, Clone)]
pub(super) struct WalWatch(Arc<AtomicI64>);

impl WalWatch {
    /// Installs the hook on the writer's `conn`; it replaces SQLite's autocheckpoint.
    pub(super) fn install(conn: &mut Connection) -> rusqlite::Result<WalWatch> {
        let watch = WalWatch::default();
        let frames = Arc::clone(&watch.0);
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages| {
            frames.store(i64::from(pages), Ordering::Relaxed);
            Ok(())
        }))?;
        Ok(watch)
    }

    fn frames(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What the thread has done and is asked to do.
#[derive(Debug, Default)]
struct State {
    /// A checkpoint is asked for or running.
    busy: bool,
    /// Checkpoints the thread ran.
    runs: u64,
    /// Frames the last background checkpoint left copied (the WAL's size when it started).
    copied: Option<i64>,
    stop: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

/// The checkpoint thread and the writer's side of it.
#[derive(Debug)]
pub(super) struct Checkpointer {
    watch: WalWatch,
    limits: WalLimits,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// What the writer does after a commit.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Nothing,
    AskThread,
    CopyHere,
    /// The WAL is at the bound while the thread copies: wait for it, then copy the rest here.
    WaitThenCopy,
}

impl Checkpointer {
    /// Starts the thread on its own connection to the store at `path`. Without one (the file cannot
    /// be opened a second time), the writer checkpoints everything itself.
    pub(super) fn start(path: &Path, watch: WalWatch, limits: WalLimits) -> Checkpointer {
        let shared = Arc::new(Shared::default());
        let thread = match open(path) {
            Ok(conn) => {
                let thread_shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name("ss-store-wal".into())
                    .spawn(move || run(&conn, &thread_shared))
                    .map_err(|e| tracing::warn!(error = %e, "No WAL checkpoint thread; the store writer checkpoints itself."))
                    .ok()
            }
            Err(e) => {
                tracing::warn!(error = %e, "No WAL checkpoint thread; the store writer checkpoints itself.");
                None
            }
        };
        Checkpointer {
            watch,
            limits,
            shared,
            thread,
        }
    }

    /// After each commit on the writer's thread, with the writer's `conn`.
    pub(super) fn after_commit(&self, conn: &Connection) {
        let frames = self.watch.frames();
        let next = decide(
            frames,
            &mut lock(&self.shared.state),
            &self.limits,
            self.thread.is_some(),
        );
        match next {
            Next::AskThread => self.shared.wake.notify_all(),
            Next::WaitThenCopy => {
                let mut state = lock(&self.shared.state);
                while state.busy {
                    state = self
                        .shared
                        .wake
                        .wait(state)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                state.copied = None;
                drop(state);
                copy_here(conn);
            }
            Next::CopyHere => copy_here(conn),
            Next::Nothing => {}
        }
    }

    /// Stops the thread (after the checkpoint it is running, if any).
    pub(super) fn stop(&mut self) {
        lock(&self.shared.state).stop = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A passive checkpoint on the writer's own connection: what is left is short, or the WAL is at its
/// bound and the thread is idle, so it copies everything and the next transaction starts the log over.
fn copy_here(conn: &Connection) {
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
        tracing::debug!(error = %e, "WAL checkpoint skipped.");
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The writer's choice after a commit that left `frames` in the WAL; notes what it changes.
fn decide(frames: i64, state: &mut State, limits: &WalLimits, has_thread: bool) -> Next {
    if !has_thread {
        return if frames >= limits.background {
            Next::CopyHere
        } else {
            Next::Nothing
        };
    }
    if state.busy {
        // The thread is copying; only a WAL past the bound makes the writer step in.
        return if frames >= limits.writer {
            Next::WaitThenCopy
        } else {
            Next::Nothing
        };
    }
    if state.copied.is_some_and(|copied| frames < copied) {
        // The log started over since the thread's checkpoint.
        state.copied = None;
    }
    let next = match state.copied {
        // Everything copied: the next transaction starts the log over.
        Some(copied) if frames == copied => Next::Nothing,
        // The thread copied up to `copied`: a short tail is the writer's, a longer one the thread's.
        Some(copied) if frames - copied <= limits.catch_up => Next::CopyHere,
        Some(_) => Next::AskThread,
        None if frames >= limits.background => Next::AskThread,
        None => Next::Nothing,
    };
    match next {
        Next::AskThread => state.busy = true,
        Next::CopyHere | Next::WaitThenCopy => state.copied = None,
        Next::Nothing => {}
    }
    next
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch("PRAGMA synchronous = NORMAL;")?;
    Ok(conn)
}

fn run(conn: &Connection, shared: &Shared) {
    loop {
        {
            let mut state = lock(&shared.state);
            while !state.busy && !state.stop {
                state = shared
                    .wake
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if state.stop {
                return;
            }
        }
        let copied = match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        }) {
            Ok((_, copied)) if copied >= 0 => Some(copied),
            Ok(_) => None,
            Err(e) => {
                tracing::debug!(error = %e, "WAL checkpoint skipped.");
                None
            }
        };
        let mut state = lock(&shared.state);
        state.busy = false;
        state.runs += 1;
        state.copied = copied;
        drop(state);
        shared.wake.notify_all();
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(busy: bool, copied: Option<i64>) -> State {
        State {
            busy,
            copied,
            ..State::default()
        }
    }

    #[test]
    fn the_thread_is_asked_once_the_wal_is_large_and_the_writer_copies_only_a_short_tail() {
        assert_eq!(
            decide(100, &mut state(false, None), &WAL_LIMITS, true),
            Next::Nothing
        );
        let mut idle = state(false, None);
        assert_eq!(
            decide(BACKGROUND_FRAMES, &mut idle, &WAL_LIMITS, true),
            Next::AskThread
        );
        assert!(idle.busy, "the thread is asked once");
        // While the thread copies, the writer goes on, up to the bound.
        let mut busy = state(true, None);
        assert_eq!(
            decide(BACKGROUND_FRAMES * 2, &mut busy, &WAL_LIMITS, true),
            Next::Nothing
        );
        assert_eq!(
            decide(WRITER_CHECKPOINT_FRAMES, &mut busy, &WAL_LIMITS, true),
            Next::WaitThenCopy
        );
        // After the thread copied 16,384 frames: a long tail goes back to it, a short one is the
        // writer's, and none waits for the next transaction to start the log over.
        let copied = || state(false, Some(BACKGROUND_FRAMES));
        let long_tail = BACKGROUND_FRAMES + CATCH_UP_FRAMES + 1;
        assert_eq!(
            decide(long_tail, &mut copied(), &WAL_LIMITS, true),
            Next::AskThread
        );
        let mut short = copied();
        let short_tail = BACKGROUND_FRAMES + CATCH_UP_FRAMES;
        assert_eq!(
            decide(short_tail, &mut short, &WAL_LIMITS, true),
            Next::CopyHere
        );
        assert_eq!(short.copied, None, "the writer copied the rest");
        assert_eq!(
            decide(BACKGROUND_FRAMES, &mut copied(), &WAL_LIMITS, true),
            Next::Nothing
        );
        // The log started over: what the thread copied no longer counts.
        let mut restarted = copied();
        assert_eq!(
            decide(300, &mut restarted, &WAL_LIMITS, true),
            Next::Nothing
        );
        assert_eq!(restarted.copied, None);
        // Without a thread the writer checkpoints as SQLite would.
        assert_eq!(
            decide(
                BACKGROUND_FRAMES,
                &mut state(false, None),
                &WAL_LIMITS,
                false
            ),
            Next::CopyHere
        );
    }

    /// A real store file written without pause: the thread runs the checkpoints, the writer only
    /// copies short tails, the log starts over and stays bounded, and every row is in the database.
    #[test]
    fn a_store_written_without_pause_keeps_a_bounded_wal_checkpointed_by_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
             CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
        )
        .unwrap();
        let limits = WalLimits {
            background: 64,
            catch_up: 16,
            writer: 512,
        };
        let mut checkpointer =
            Checkpointer::start(&path, WalWatch::install(&mut conn).unwrap(), limits);
        let body = "x".repeat(3_000);
        let mut largest = 0;
        for _ in 0..2_000 {
            conn.execute_batch("BEGIN").unwrap();
            for _ in 0..4 {
                conn.execute("INSERT INTO t (body) VALUES (?1)", [&body])
                    .unwrap();
            }
            conn.execute_batch("COMMIT").unwrap();
            checkpointer.after_commit(&conn);
            largest = largest.max(checkpointer.watch.frames());
        }
        let runs = lock(&checkpointer.shared.state).runs;
        checkpointer.stop();
        assert!(runs > 0, "the thread ran no checkpoint");
        // The bound is checked after the commit that crosses it: one commit's frames (4 rows of
        // 3 KB, at most 16 pages) past it.
        assert!(
            largest <= limits.writer + 16,
            "the WAL grew to {largest} frames, past the writer's bound"
        );
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
        let count: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 8_000);
    }
}
