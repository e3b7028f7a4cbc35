//! Where log lines go: stderr, through a bounded queue and one writer thread, never at the cost of
//! the runtime.
//!
//! stderr is not ours: it may be a pipe whose reader went away (`ss run 2>&1 | head`), a full device
//! (`2>/dev/full`), or a reader that stopped reading. None of these may panic, block the pipeline or
//! stop signal handling. So a formatted log line is handed to a bounded queue ([`QUEUE_LINES`]) with
//! `try_send`, and one thread writes the queue to stderr, ignoring write errors. A line that does not
//! fit in the queue, or that stderr refuses, is dropped and counted ([`lines_dropped`]); the count is
//! exported in `runtime_snapshot.json` (`counters.guards.log_lines_dropped`) and in `ss run`'s
//! summary line. [`flush`] waits, for a bounded time, until what is queued has been written.

use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

/// Log lines waiting for the writer thread. When full, new lines are dropped (counted): a stalled
/// stderr must cost log lines, never a blocked source or pipeline task.
pub const QUEUE_LINES: usize = 4096;

static DROPPED: AtomicU64 = AtomicU64::new(0);
static QUEUE: OnceLock<SyncSender<Message>> = OnceLock::new();

enum Message {
    Line(Vec<u8>),
    /// Answered once every line queued before it has been written (or dropped).
    Flush(SyncSender<()>),
}

/// Log lines dropped by this process because stderr was broken, full or too slow.
pub fn lines_dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Starts the writer thread (once per process; later calls do nothing) and returns the writer
/// factory for `tracing_subscriber::fmt().with_writer(..)`.
pub fn install() -> MakeStderr {
    QUEUE.get_or_init(|| {
        let (tx, rx) = sync_channel(QUEUE_LINES);
        let spawned = std::thread::Builder::new()
            .name("ss-log".into())
            .spawn(move || write_lines(&rx, &mut std::io::stderr()));
        if spawned.is_err() {
            // No thread, no queue: the receiver is gone, so every line is dropped and counted.
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
        tx
    });
    MakeStderr
}

fn write_lines(rx: &Receiver<Message>, out: &mut impl Write) {
    for message in rx {
        match message {
            Message::Line(line) => {
                if out.write_all(&line).is_err() {
                    DROPPED.fetch_add(1, Ordering::Relaxed);
                }
            }
            Message::Flush(done) => {
                let _ = done.try_send(());
            }
        }
    }
}

/// Queues one line; drops and counts it when the queue is full or gone.
fn enqueue(line: Vec<u8>) {
    let Some(queue) = QUEUE.get() else {
        // Not installed (library use): write directly, still never panicking.
        let _ = std::io::stderr().write_all(&line);
        return;
    };
    if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
        queue.try_send(Message::Line(line))
    {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Writes `text` (a final error message) through the same queue as the log lines, so it comes after
/// them, waiting up to `timeout` for room and for it to be written. Never panics.
pub fn write_message(text: &str, timeout: Duration) {
    let Some(queue) = QUEUE.get() else {
        let _ = std::io::stderr().write_all(text.as_bytes());
        return;
    };
    let deadline = Instant::now() + timeout;
    let mut message = Message::Line(text.as_bytes().to_vec());
    loop {
        match queue.try_send(message) {
            Ok(()) => break,
            Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                message = back;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => {
                DROPPED.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
    flush(deadline.saturating_duration_since(Instant::now()));
}

/// Waits up to `timeout` for every line queued so far to reach stderr. Returns whether it did.
pub fn flush(timeout: Duration) -> bool {
    let Some(queue) = QUEUE.get() else {
        return true;
    };
    let deadline = Instant::now() + timeout;
    let (done_tx, done_rx) = sync_channel(1);
    let mut message = Message::Flush(done_tx);
    loop {
        match queue.try_send(message) {
            Ok(()) => break,
            Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                message = back;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => return false,
        }
    }
    done_rx
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .is_ok()
}

/// The `MakeWriter` for the fmt layer: each event is formatted into its own buffer, queued whole
/// when the buffer is dropped.
#[derive(Debug, Clone, Copy)]
pub struct MakeStderr;

/// One log line being formatted.
#[derive(Debug, Default)]
pub struct LineBuffer(Vec<u8>);

impl Write for LineBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineBuffer {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            enqueue(std::mem::take(&mut self.0));
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for MakeStderr {
    type Writer = LineBuffer;

    fn make_writer(&'a self) -> LineBuffer {
        LineBuffer(Vec::with_capacity(256))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_device_drops_and_counts_lines_and_still_answers_flushes() {
        let (tx, rx) = sync_channel(8);
        let before = lines_dropped();
        tx.send(Message::Line(b"one\n".to_vec())).unwrap();
        tx.send(Message::Line(b"two\n".to_vec())).unwrap();
        let (done_tx, done_rx) = sync_channel(1);
        tx.send(Message::Flush(done_tx)).unwrap();
        drop(tx);
        let mut full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        write_lines(&rx, &mut full);
        assert!(done_rx.try_recv().is_ok(), "the flush was answered");
        assert!(lines_dropped() >= before + 2);
    }
}
