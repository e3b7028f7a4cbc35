//! Replay inputs: the store's chat log, a JSONL file of chat events, a raw Twitch IRC log.
//!
//! Each reader yields [`Item`]s in acceptance order to a callback, one at a time, so memory does
//! not grow with the input. The store is read in the order of its `chat_events.id` (the order the
//! pipeline accepted the events) and yields [`Item::FreshState`] at its run marks and
//! [`Item::Tick`] at its recorded ticks; it starts at the last mark before the first selected event,
//! so a `--since` window is evaluated with the state its run had. The files are read line by line: a line that does not read is an [`Item::Skipped`]
//! with its 1-based number and the reason, never the end of the replay.
//!
//! The format of `--input FILE` is named (`--input-format`) or guessed: by extension (`.db`,
//! `.sqlite`, `.sqlite3`: store; `.jsonl`, `.ndjson`, `.json`: JSONL; `.log`, `.irc`, `.txt`: IRC),
//! else by content (an SQLite header: store; a first line starting with `{`: JSONL; else IRC).

use super::irc_log::{self, Creators};
use super::{Filter, Item, SkippedLine};
use crate::event::{ChatEvent, Tick};
use crate::store::{RecordedTick, StoreError, StoreReader};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// An input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Store,
    Jsonl,
    Irc,
}

impl InputFormat {
    pub const NAMES: [&'static str; 3] = ["store", "jsonl", "irc"];

    pub fn from_name(name: &str) -> Option<InputFormat> {
        match name {
            "store" => Some(InputFormat::Store),
            "jsonl" => Some(InputFormat::Jsonl),
            "irc" => Some(InputFormat::Irc),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Store => "store",
            InputFormat::Jsonl => "jsonl",
            InputFormat::Irc => "irc",
        }
    }
}

/// The first bytes of every SQLite database file.
const SQLITE_HEADER: &[u8] = b"SQLite format 3\0";

/// Guesses the format of `path` from its extension, else from its first bytes.
pub fn guess_format(path: &Path) -> std::io::Result<InputFormat> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("db" | "sqlite" | "sqlite3") => return Ok(InputFormat::Store),
        Some("jsonl" | "ndjson" | "json") => return Ok(InputFormat::Jsonl),
        Some("log" | "irc" | "txt") => return Ok(InputFormat::Irc),
        _ => {}
    }
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)?
        .take(4096)
        .read_to_end(&mut head)?;
    Ok(guess_from_content(&head))
}

/// The format the first bytes of a file suggest.
pub fn guess_from_content(head: &[u8]) -> InputFormat {
    if head.starts_with(SQLITE_HEADER) {
        return InputFormat::Store;
    }
    let first = head
        .split(|b| *b == b'\n')
        .map(|l| l.trim_ascii())
        .find(|l| !l.is_empty());
    match first {
        Some(line) if line.starts_with(b"{") => InputFormat::Jsonl,
        _ => InputFormat::Irc,
    }
}

/// Where a reader is, for a progress bar: `position` out of `total` (rows or bytes).
pub trait Progress {
    fn start(&self, total: u64);
    fn position(&self, position: u64);
}

/// No progress shown.
impl Progress for () {
    fn start(&self, _total: u64) {}
    fn position(&self, _position: u64) {}
}

/// How often readers report their position: often enough for a smooth bar, rarely enough to cost
/// nothing.
const PROGRESS_EVERY: u64 = 16_384;

/// Reads the store's chat log at `path` for `filter`: from the run start before the first selected
/// event to the last selected one, with [`Item::FreshState`] at every run mark and [`Item::Tick`] at
/// every recorded tick in between (and the ticks recorded after the last selected event, before the
/// next one: a poll closing in a silent chat).
pub fn read_store(
    path: &Path,
    filter: &Filter,
    progress: &dyn Progress,
    mut f: impl FnMut(Item) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let store = StoreReader::open(path)?;
    let Some((first, last)) = store.chat_id_range(filter.since_ms, filter.until_ms)? else {
        return Ok(());
    };
    let marks = store.run_marks()?;
    // State was fresh after the last mark before `first`: start there (a new core is fresh too).
    let (start_chat, start_mark) = marks
        .iter()
        .filter(|m| m.after_chat_id < first)
        .map(|m| (m.after_chat_id, m.id))
        .max()
        .unwrap_or((0, 0));
    // Strikes outlive runs: a window that starts after earlier runs starts from the strikes the
    // decisions recorded before it had made.
    if start_chat > 0 {
        let strikes = store.strike_records(Some(start_chat))?;
        if !strikes.is_empty() {
            f(Item::Strikes(strikes))?;
        }
    }
    let mut points: Vec<Point> = marks
        .iter()
        .map(|m| Point::mark(m.after_chat_id, m.id))
        .chain(
            store
                .recorded_ticks(start_chat, last)?
                .into_iter()
                .map(Point::tick),
        )
        .filter(|p| p.after_chat_id <= last && p.key() > (start_chat, start_mark, 0))
        .collect();
    points.sort_by_key(Point::key);
    let mut points = points.into_iter().peekable();
    // The links as they were where the state starts: the live run loaded them there too.
    let links = |at: i64| -> anyhow::Result<Item> {
        Ok(Item::Links(
            store.links_at(at)?.into_iter().map(|l| l.entry()).collect(),
        ))
    };
    f(links(start_chat)?)?;
    // Everything positioned before chat event `id` (after the events before it).
    let mut before = |id: i64, f: &mut dyn FnMut(Item) -> anyhow::Result<()>| {
        let mut fresh: Option<i64> = None;
        while let Some(point) = points.next_if(|p| p.after_chat_id < id) {
            match point.tick {
                None => fresh = Some(point.after_chat_id),
                Some(tick) => {
                    if let Some(at) = fresh.take() {
                        f(Item::FreshState)?;
                        f(links(at)?)?;
                    }
                    f(Item::Tick(tick))?;
                }
            }
        }
        if let Some(at) = fresh {
            f(Item::FreshState)?;
            f(links(at)?)?;
        }
        anyhow::Ok(())
    };
    progress.start(u64::try_from(last - start_chat).unwrap_or(0));
    let mut read = 0u64;
    store.for_each_chat_event(start_chat, last, |id, event| {
        before(id, &mut f)?;
        read += 1;
        if read.is_multiple_of(PROGRESS_EVERY) {
            progress.position(u64::try_from(id - start_chat).unwrap_or(0));
        }
        f(Item::Event(event))
    })?;
    before(last + 1, &mut f)
}

/// A run mark or a recorded tick, placed in the chat log: after chat event `after_chat_id`, and
/// among the marks and ticks there, in the order the writer recorded them (a tick knows the id of
/// the last mark before it).
struct Point {
    after_chat_id: i64,
    /// The mark's own id, or for a tick the id of the last mark before it.
    mark: i64,
    /// `None` for a run mark.
    tick: Option<Tick>,
    /// Recorded order among ticks after the same mark.
    seq: i64,
}

impl Point {
    fn mark(after_chat_id: i64, number: i64) -> Point {
        Point {
            after_chat_id,
            mark: number,
            tick: None,
            seq: 0,
        }
    }

    fn tick(recorded: RecordedTick) -> Point {
        Point {
            after_chat_id: recorded.after_chat_id,
            mark: recorded.after_mark_id,
            seq: 1,
            tick: Some(recorded.tick),
        }
    }

    /// A mark comes before the ticks recorded after it; the sort is stable, so ticks keep their
    /// recorded order.
    fn key(&self) -> (i64, i64, i64) {
        (self.after_chat_id, self.mark, self.seq)
    }
}

/// Reads one line of a JSONL file of chat events.
pub fn read_jsonl_line(line: &[u8]) -> Result<Option<ChatEvent>, irc_log::LineError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.trim_ascii().is_empty() {
        return Ok(None);
    }
    let event: ChatEvent = serde_json::from_slice(line).map_err(|e| {
        let what = e.to_string();
        let what = what.rfind(" at line ").map_or(&what[..], |i| &what[..i]);
        irc_log::LineError::NotChatEvent {
            column: e.column(),
            what: what.to_string(),
        }
    })?;
    if event.creator.is_empty() || event.message_id.is_empty() {
        return Err(irc_log::LineError::EmptyIds);
    }
    Ok(Some(event))
}

/// Reads a JSONL file of chat events; lines longer than `max_line_bytes` are skipped.
pub fn read_jsonl(
    path: &Path,
    max_line_bytes: usize,
    progress: &dyn Progress,
    mut f: impl FnMut(Item) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    for_each_line(path, max_line_bytes, progress, |number, line| {
        let line = match line {
            Ok(line) => line,
            Err(too_long) => return f(skipped(number, too_long)),
        };
        match read_jsonl_line(line) {
            Ok(Some(event)) => f(Item::Event(event))?,
            Ok(None) => {}
            Err(reason) => f(skipped(number, reason))?,
        }
        Ok(())
    })
}

/// Reads a raw Twitch IRC log; `creators` says whose chat each channel is. Lines longer than
/// `max_line_bytes` are skipped.
pub fn read_irc(
    path: &Path,
    creators: &(impl Creators + ?Sized),
    max_line_bytes: usize,
    progress: &dyn Progress,
    mut f: impl FnMut(Item) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut clock = None;
    for_each_line(path, max_line_bytes, progress, |number, bytes| {
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err(too_long) => return f(skipped(number, too_long)),
        };
        let line = match std::str::from_utf8(bytes) {
            Ok(line) => line,
            Err(e) => {
                return f(skipped(
                    number,
                    irc_log::LineError::NotUtf8 {
                        column: e.valid_up_to() + 1,
                    },
                ));
            }
        };
        match irc_log::read_line(line, creators, clock) {
            Ok(Some(event)) => {
                clock = Some(event.timestamp);
                f(Item::Event(event))
            }
            Ok(None) => Ok(()),
            Err(reason) => f(skipped(number, reason)),
        }
    })
}

fn skipped(line: u64, reason: irc_log::LineError) -> Item {
    Item::Skipped(SkippedLine {
        line,
        reason: reason.to_string(),
    })
}

/// A line [`for_each_line`] has read to its end: its bytes, or why they were not kept.
fn finished(
    buf: &[u8],
    length: u64,
    too_long: bool,
    max_line_bytes: usize,
) -> Result<&[u8], irc_log::LineError> {
    if too_long {
        Err(irc_log::LineError::TooLong {
            length,
            max: max_line_bytes,
        })
    } else {
        Ok(buf)
    }
}

/// Calls `f(number, line)` for every line of `path` (without its `\n`), numbered from 1. A line
/// longer than `max_line_bytes` is never held: its bytes are read past up to its end and `f` gets
/// [`irc_log::LineError::TooLong`] instead, so memory stays bounded whatever the input (even
/// `/dev/zero`, which has no line end: it is read past, without end, in constant memory).
fn for_each_line(
    path: &Path,
    max_line_bytes: usize,
    progress: &dyn Progress,
    mut f: impl FnMut(u64, Result<&[u8], irc_log::LineError>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let open_err = |e: std::io::Error| StoreError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let file = std::fs::File::open(path).map_err(open_err)?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    progress.start(total);
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::with_capacity(4096);
    // Bytes of the current line so far (kept in `buf` unless it is too long).
    let mut length = 0u64;
    let mut too_long = false;
    let (mut number, mut offset) = (0u64, 0u64);
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(open_err(e).into()),
        };
        if chunk.is_empty() {
            // The end: a last line without `\n`.
            if length > 0 || too_long {
                number += 1;
                f(number, finished(&buf, length, too_long, max_line_bytes))?;
            }
            return Ok(());
        }
        let (taken, ends) = match memchr::memchr(b'\n', chunk) {
            Some(at) => (at + 1, true),
            None => (chunk.len(), false),
        };
        let content = &chunk[..if ends { taken - 1 } else { taken }];
        length += content.len() as u64;
        if !too_long {
            if length > max_line_bytes as u64 {
                too_long = true;
                buf.clear();
                buf.shrink_to(4096);
            } else {
                buf.extend_from_slice(content);
            }
        }
        reader.consume(taken);
        offset += taken as u64;
        if ends {
            number += 1;
            f(number, finished(&buf, length, too_long, max_line_bytes))?;
            buf.clear();
            length = 0;
            too_long = false;
            if number.is_multiple_of(PROGRESS_EVERY) {
                progress.position(offset);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_are_guessed_from_content() {
        assert_eq!(
            guess_from_content(b"SQLite format 3\0rest"),
            InputFormat::Store
        );
        assert_eq!(
            guess_from_content(b"\n  {\"platform\": \"sim\"}\n"),
            InputFormat::Jsonl
        );
        assert_eq!(
            guess_from_content(b"@badge-info=; :a!a@a PRIVMSG #c :hi\n"),
            InputFormat::Irc
        );
        assert_eq!(
            guess_from_content(b"[2026-11-30 21:04:05] @a=b :x PRIVMSG #c :hi"),
            InputFormat::Irc
        );
    }

    #[test]
    fn a_jsonl_line_is_one_chat_event() {
        let line = br#"{"platform":"sim","creator":"demo","channel":"demo","message_id":"m1","timestamp":"2026-11-30T21:04:05.123Z","kind":"message","author":{"id":"1","login":"a","display_name":"A"},"text":"!ping"}"#;
        let event = read_jsonl_line(line).unwrap().unwrap();
        assert_eq!(event.message_id, "m1");
        assert_eq!(event.timestamp_ms() % 1000, 123);
        assert_eq!(read_jsonl_line(b"  \r").unwrap(), None);
        let err = read_jsonl_line(br#"{"platform":"myspace"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("column") && err.contains("myspace"), "{err}");
        let err = read_jsonl_line(&line[..40]).unwrap_err().to_string();
        assert!(err.contains("not a chat event"), "{err}");
    }

    /// Lines of `text` as `for_each_line` gives them with `max` bytes a line.
    fn lines_of(text: &[u8], max: usize) -> Vec<Result<String, String>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, text).unwrap();
        let mut out = Vec::new();
        for_each_line(&path, max, &(), |_, line| {
            out.push(
                line.map(|l| String::from_utf8_lossy(l).into_owned())
                    .map_err(|e| e.to_string()),
            );
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn a_line_longer_than_the_limit_is_skipped_and_the_next_read() {
        let long = "x".repeat(3 << 20);
        let text = format!("short\n{long}\nafter\n{long}");
        let lines = lines_of(text.as_bytes(), 1000);
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], Ok("short".into()));
        assert_eq!(
            lines[1],
            Err(format!(
                "longer than system.json limits.max_line_bytes (1000 bytes): {} bytes, skipped unread",
                3 << 20
            ))
        );
        assert_eq!(lines[2], Ok("after".into()));
        assert!(lines[3].is_err(), "a last over-long line without its end");
        // Exactly the limit is fine; a line ending is not counted.
        assert_eq!(lines_of(b"12345\r\n", 6), [Ok("12345\r".to_string())]);
        assert!(lines_of(b"1234567\n", 6)[0].is_err());
    }

    proptest! {
        #[test]
        fn a_jsonl_line_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = read_jsonl_line(&bytes);
        }

        #[test]
        fn guessing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = guess_from_content(&bytes);
        }
    }
}
