//! An extension's stderr into `ss`'s log: at most [`LINES_PER_MINUTE`] lines a minute per extension
//! (the rest counted and said when the next minute begins), each line cut at [`MAX_LINE_BYTES`]
//! (the rest of it skipped, never buffered: a child writing without newlines costs no memory) and
//! escaped for the terminal.

use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::time::Instant;

/// Stderr lines logged per extension per minute; the rest are counted, not logged.
pub const LINES_PER_MINUTE: u32 = 30;

/// The longest stderr line logged whole; a longer one is cut there.
pub const MAX_LINE_BYTES: usize = 4096;

const WINDOW: Duration = Duration::from_secs(60);

/// The per-minute budget of logged lines.
#[derive(Debug)]
struct Budget {
    window_start: Instant,
    logged: u32,
    held: u64,
}

impl Budget {
    fn new(now: Instant) -> Budget {
        Budget {
            window_start: now,
            logged: 0,
            held: 0,
        }
    }

    /// Whether a line seen at `now` is logged, and how many lines the minute before held back
    /// when `now` begins a new one (0 otherwise).
    fn admit(&mut self, now: Instant) -> (bool, u64) {
        let mut held_before = 0;
        if now.duration_since(self.window_start) >= WINDOW {
            held_before = self.held;
            *self = Budget::new(now);
        }
        if self.logged < LINES_PER_MINUTE {
            self.logged += 1;
            (true, held_before)
        } else {
            self.held += 1;
            (false, held_before)
        }
    }
}

/// Logs the child's stderr until the pipe ends.
pub async fn log(name: String, stderr: tokio::process::ChildStderr) {
    let mut reader = BufReader::new(stderr);
    let mut budget = Budget::new(Instant::now());
    while let Ok(Some(line)) = next_line(&mut reader).await {
        let (logged, held_before) = budget.admit(Instant::now());
        if held_before > 0 {
            tracing::warn!(extension = %name, "{held_before} more stderr lines of the extension were not logged (at most {LINES_PER_MINUTE} a minute).");
        }
        if logged {
            let line = crate::sanitize::terminal(&line);
            tracing::info!(extension = %name, "stderr: {line}");
        }
    }
}

/// The next line, cut at [`MAX_LINE_BYTES`] (marked with `…`); `None` at the end of the pipe.
async fn next_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let read = (&mut *reader)
        .take(MAX_LINE_BYTES as u64)
        .read_until(b'\n', &mut buf)
        .await?;
    if read == 0 {
        return Ok(None);
    }
    let complete = buf.last() == Some(&b'\n');
    let mut line = String::from_utf8_lossy(&buf).trim_end().to_string();
    if !complete && buf.len() >= MAX_LINE_BYTES {
        skip_rest_of_line(reader).await?;
        line.push('…');
    }
    Ok(Some(line))
}

/// Reads past the next newline without keeping what it reads.
async fn skip_rest_of_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<()> {
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(());
        }
        match chunk.iter().position(|b| *b == b'\n') {
            Some(at) => {
                reader.consume(at + 1);
                return Ok(());
            }
            None => {
                let all = chunk.len();
                reader.consume(all);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_logs_thirty_lines_and_the_next_says_how_many_were_held() {
        let start = Instant::now();
        let mut budget = Budget::new(start);
        let logged = (0..35).filter(|_| budget.admit(start).0).count();
        assert_eq!(logged, 30);
        assert_eq!(
            budget.admit(start + Duration::from_secs(59)),
            (false, 0),
            "still the first minute"
        );
        assert_eq!(budget.admit(start + WINDOW), (true, 6));
        assert_eq!(budget.admit(start + WINDOW), (true, 0));
    }

    #[tokio::test]
    async fn an_endless_line_is_cut_and_skipped_and_the_next_line_is_whole() {
        let mut input = vec![b'x'; 10 * MAX_LINE_BYTES];
        input.extend_from_slice(b"\nsecond line\nlast");
        let mut reader = BufReader::with_capacity(512, &input[..]);
        let first = next_line(&mut reader).await.unwrap().unwrap();
        assert_eq!(first.len(), MAX_LINE_BYTES + '…'.len_utf8());
        assert!(first.ends_with('…'));
        assert_eq!(
            next_line(&mut reader).await.unwrap().as_deref(),
            Some("second line")
        );
        assert_eq!(
            next_line(&mut reader).await.unwrap().as_deref(),
            Some("last")
        );
        assert_eq!(next_line(&mut reader).await.unwrap(), None);
    }
}
