//! The chat log's insert, several rows per statement.
//!
//! One `INSERT` per event opened the table's and the dedupe key's cursors, searched both from the
//! root and closed them again, for every event. [`ChatRows`] holds back a batch's events and
//! inserts [`CHUNK`] of them with one statement of that many rows: the cursors stay open from row
//! to row, so each new key is found on the index's last page (keys lead with the time, so new ones
//! append). Events keep their order, and with it the order of their ids, which replay relies on.
//! The statements themselves ([`ChatInserts`]) are prepared once and kept from batch to batch.
//! An op that may read the chat log (a tick, a run mark or a link records the last id: see
//! `actions::reads_chat_log`) first flushes what is held, and so does the end of the batch; a
//! remainder shorter than a chunk goes one row at a time. Other actions' rows may go in ahead of
//! the events held before them: nothing orders rows across the two logs, and they commit together.
//!
//! `OR IGNORE` skips a re-delivered message without saying which row it was: when a chunk inserts
//! fewer rows than it holds, each row is looked up by its key to count the right ones as duplicates.
//! A chunk refused for a reason other than storage (a row SQLite will not take) is undone whole by
//! SQLite and retried one row at a time, so only the refused event is skipped.

use super::apply::{ApplyError, BatchTally};
use super::chat::{EncodedEvent, INSERT_COLUMNS, INSERT_WIDTH};
use super::running_counts::RunningCounts;
use super::static_insert::{Arg, StaticInsert};
use crate::event::ChatEvent;
use rusqlite::{Connection, OptionalExtension, params};

/// Rows per multi-row statement: enough that the cursors' reuse pays, few enough that the statement
/// (120 parameters), prepared once per batch, stays cheap to prepare.
pub(super) const CHUNK: usize = 8;

/// `INSERT OR IGNORE` of `rows` rows into the chat log.
fn insert_sql(rows: usize) -> String {
    let row = format!("({})", vec!["?"; INSERT_WIDTH].join(", "));
    format!(
        "INSERT OR IGNORE INTO chat_events ({INSERT_COLUMNS}) VALUES {}",
        vec![row; rows].join(", ")
    )
}

/// The chat log's insert statements on the writer's connection, prepared on first use and kept
/// from batch to batch for as long as the writer holds its connection: preparing the
/// [`CHUNK`]-row statement (120 parameters) again for every batch was a few percent of the
/// writer's time at full speed, where batches commit several hundred times a second.
pub(super) struct ChatInserts<'conn> {
    conn: &'conn Connection,
    one: Option<StaticInsert<'conn>>,
    chunk: Option<StaticInsert<'conn>>,
}

impl<'conn> ChatInserts<'conn> {
    /// The inserts on `conn`; nothing is prepared until a batch holds a chat event, so a writer
    /// whose batches hold none (an evaluator's ticks and cursors) prepares none.
    pub(super) fn new(conn: &'conn Connection) -> ChatInserts<'conn> {
        ChatInserts {
            conn,
            one: None,
            chunk: None,
        }
    }

    /// The statement inserting `rows` rows (1 or [`CHUNK`]), prepared on first use.
    fn statement(&mut self, rows: usize) -> rusqlite::Result<&mut StaticInsert<'conn>> {
        let slot = if rows == 1 {
            &mut self.one
        } else {
            &mut self.chunk
        };
        if slot.is_none() {
            *slot = Some(StaticInsert::prepare(self.conn, &insert_sql(rows))?);
        }
        Ok(slot.as_mut().expect("prepared above"))
    }
}

/// A batch's chat-log insert: events held until a chunk is full or something else must come first.
pub(super) struct ChatRows<'i, 'conn, 'b> {
    inserts: &'i mut ChatInserts<'conn>,
    held: Vec<EncodedEvent<'b>>,
}

impl<'i, 'conn, 'b> ChatRows<'i, 'conn, 'b> {
    /// The chat-log insert of a batch, with `inserts` on the connection whose transaction the
    /// batch is.
    pub(super) fn new(inserts: &'i mut ChatInserts<'conn>) -> ChatRows<'i, 'conn, 'b> {
        ChatRows {
            inserts,
            held: Vec::new(),
        }
    }

    fn statement(&mut self, rows: usize) -> rusqlite::Result<&mut StaticInsert<'conn>> {
        self.inserts.statement(rows)
    }

    /// Takes `event` into the batch: held, and inserted with the chunk it completes. An event whose
    /// JSON columns cannot be encoded is refused at once.
    pub(super) fn push(
        &mut self,
        event: &'b ChatEvent,
        tally: &mut BatchTally,
        totals: &mut RunningCounts,
    ) -> Result<(), ApplyError> {
        self.held.push(EncodedEvent::new(event)?);
        if self.held.len() == CHUNK {
            self.flush(tally, totals).map_err(ApplyError::Storage)?;
        }
        Ok(())
    }

    /// Inserts what is held and counts each row's op: written (recorded or a duplicate), or, for a
    /// row SQLite refuses, skipped, logged and counted refused. A storage failure is returned (the
    /// batch is retried whole).
    pub(super) fn flush(
        &mut self,
        tally: &mut BatchTally,
        totals: &mut RunningCounts,
    ) -> rusqlite::Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        let held = std::mem::take(&mut self.held);
        let mut chunks = held.chunks_exact(CHUNK);
        for chunk in &mut chunks {
            self.insert_chunk(chunk, tally, totals)?;
        }
        for row in chunks.remainder() {
            self.insert_one(row, tally, totals)?;
        }
        let mut held = held;
        held.clear();
        self.held = held;
        Ok(())
    }

    fn insert_chunk(
        &mut self,
        chunk: &[EncodedEvent<'_>],
        tally: &mut BatchTally,
        totals: &mut RunningCounts,
    ) -> rusqlite::Result<()> {
        let mut args = [Arg::Null; CHUNK * INSERT_WIDTH];
        for (slot, row) in args.chunks_exact_mut(INSERT_WIDTH).zip(chunk) {
            slot.copy_from_slice(&row.args());
        }
        match self.statement(CHUNK)?.execute(&args) {
            Ok(inserted) if inserted == chunk.len() => {
                for row in chunk {
                    row.count(true, tally, totals);
                }
                Ok(())
            }
            Ok(inserted) => self.count_some_ignored(chunk, inserted, tally, totals),
            Err(e) => match ApplyError::from(e) {
                ApplyError::Storage(e) => Err(e),
                // SQLite undid the whole statement: find the refused row one at a time.
                ApplyError::Rejected(_) => {
                    for row in chunk {
                        self.insert_one(row, tally, totals)?;
                    }
                    Ok(())
                }
            },
        }
    }

    fn insert_one(
        &mut self,
        row: &EncodedEvent<'_>,
        tally: &mut BatchTally,
        totals: &mut RunningCounts,
    ) -> rusqlite::Result<()> {
        match self.statement(1)?.execute(&row.args()) {
            Ok(inserted) => {
                row.count(inserted == 1, tally, totals);
                Ok(())
            }
            Err(e) => match ApplyError::from(e) {
                ApplyError::Storage(e) => Err(e),
                ApplyError::Rejected(reason) => {
                    tally.ops_rejected += 1;
                    tracing::warn!(reason, "Store write refused; the op was skipped.");
                    Ok(())
                }
            },
        }
    }

    /// After a chunk that inserted `inserted` of its rows: those rows have the newest ids (one
    /// statement, consecutive), so a row was inserted when its key's id is among them and no
    /// earlier row of the chunk (the same message twice) took that id.
    fn count_some_ignored(
        &mut self,
        chunk: &[EncodedEvent<'_>],
        inserted: usize,
        tally: &mut BatchTally,
        totals: &mut RunningCounts,
    ) -> rusqlite::Result<()> {
        let conn = self.inserts.conn;
        let last: i64 =
            conn.query_row("SELECT coalesce(max(id), 0) FROM chat_events", [], |r| {
                r.get(0)
            })?;
        let first_new = last - i64::try_from(inserted).unwrap_or(i64::MAX) + 1;
        let mut taken: Vec<i64> = Vec::with_capacity(inserted);
        let mut find = conn.prepare_cached(
            "SELECT id FROM chat_events WHERE ts_ms = ?1 AND platform = ?2 AND message_id = ?3",
        )?;
        for row in chunk {
            let event = row.event;
            let id: Option<i64> = find
                .query_row(
                    params![
                        event.timestamp_ms(),
                        event.platform.as_str(),
                        event.message_id.as_str()
                    ],
                    |r| r.get(0),
                )
                .optional()?;
            let new = id.filter(|id| *id >= first_new && !taken.contains(id));
            if let Some(id) = new {
                taken.push(id);
            }
            row.count(new.is_some(), tally, totals);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Author, Platform};
    use crate::store::schema;
    use chrono::DateTime;

    fn message(id: &str, ts_ms: i64, text: &str) -> ChatEvent {
        ChatEvent::message(
            Platform::named("twitch"),
            "demo",
            id,
            DateTime::from_timestamp_millis(ts_ms).unwrap(),
            Author::viewer("viewer"),
            text,
        )
    }

    /// The chat log at the current schema, with a test trigger that refuses one text.
    fn store(dir: &tempfile::TempDir) -> Connection {
        let path = dir.path().join("s.db");
        schema::store_at_version(&path, schema::MIGRATIONS.len());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TEMP TRIGGER refuse BEFORE INSERT ON main.chat_events
               WHEN NEW.text = 'refuse me' BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
        conn
    }

    /// Pushes `events` with `inserts` (kept from call to call, as the writer keeps them from
    /// batch to batch), flushes, and returns the tally and the log's message ids in id order.
    fn insert(inserts: &mut ChatInserts<'_>, events: &[ChatEvent]) -> (BatchTally, Vec<String>) {
        let conn = inserts.conn;
        let mut tally = BatchTally::default();
        let mut totals = crate::store::running_counts::BatchCounts::default();
        {
            let mut rows = ChatRows::new(inserts);
            for event in events {
                rows.push(event, &mut tally, &mut totals.chat_totals)
                    .unwrap();
            }
            rows.flush(&mut tally, &mut totals.chat_totals).unwrap();
        }
        totals.write(conn).unwrap();
        let ids = conn
            .prepare("SELECT message_id FROM chat_events ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        (tally, ids)
    }

    fn recorded_total(conn: &Connection) -> i64 {
        conn.query_row(
            "SELECT coalesce(sum(events), 0) FROM chat_totals",
            [],
            |r| r.get(0),
        )
        .unwrap()
    }

    /// Chunks and a shorter remainder land in the order they came, each counted once.
    #[test]
    fn chunks_and_remainder_keep_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let conn = store(&dir);
        let mut inserts = ChatInserts::new(&conn);
        let events: Vec<ChatEvent> = (0..2 * CHUNK + 3)
            .map(|i| message(&format!("m{i:02}"), 1000 + i as i64, "hi"))
            .collect();
        let (tally, ids) = insert(&mut inserts, &events);
        let expected: Vec<String> = (0..2 * CHUNK + 3).map(|i| format!("m{i:02}")).collect();
        assert_eq!(ids, expected);
        assert_eq!(tally.events_recorded, expected.len() as u64);
        assert_eq!(tally.events_duplicate, 0);
        assert_eq!(recorded_total(&conn), expected.len() as i64);
    }

    /// A chunk holding re-deliveries (of a recorded message, and the same message twice in the
    /// chunk) counts exactly those as duplicates, and the totals only what was recorded.
    #[test]
    fn duplicates_in_a_chunk_are_counted_by_row() {
        let dir = tempfile::tempdir().unwrap();
        let conn = store(&dir);
        let mut inserts = ChatInserts::new(&conn);
        let (first, _) = insert(&mut inserts, &[message("old", 500, "hi")]);
        assert_eq!(first.events_recorded, 1);
        let mut events: Vec<ChatEvent> = (0..CHUNK - 2)
            .map(|i| message(&format!("n{i}"), 1000 + i as i64, "hi"))
            .collect();
        events.insert(2, message("old", 500, "again"));
        events.push(message("n0", 1000, "twice"));
        assert_eq!(events.len(), CHUNK);
        let (tally, ids) = insert(&mut inserts, &events);
        assert_eq!((tally.events_recorded, tally.events_duplicate), (6, 2));
        assert_eq!(ids, ["old", "n0", "n1", "n2", "n3", "n4", "n5"]);
        assert_eq!(recorded_total(&conn), 7);
    }

    /// A row SQLite refuses inside a chunk skips that event alone, counted refused; the rest of
    /// the chunk is recorded in order.
    #[test]
    fn a_refused_row_skips_only_its_event() {
        let dir = tempfile::tempdir().unwrap();
        let conn = store(&dir);
        let mut inserts = ChatInserts::new(&conn);
        let events: Vec<ChatEvent> = (0..CHUNK)
            .map(|i| {
                let text = if i == 3 { "refuse me" } else { "hi" };
                message(&format!("r{i}"), 1000 + i as i64, text)
            })
            .collect();
        let (tally, ids) = insert(&mut inserts, &events);
        assert_eq!(tally.events_recorded, CHUNK as u64 - 1);
        assert_eq!(
            (tally.ops_written, tally.ops_rejected),
            (CHUNK as u64 - 1, 1)
        );
        let expected: Vec<String> = (0..CHUNK)
            .filter(|i| *i != 3)
            .map(|i| format!("r{i}"))
            .collect();
        assert_eq!(ids, expected);
        assert_eq!(recorded_total(&conn), CHUNK as i64 - 1);

        // A chunk refused row by row counts every op refused, none written.
        let refused: Vec<ChatEvent> = (0..CHUNK)
            .map(|i| message(&format!("x{i}"), 2000 + i as i64, "refuse me"))
            .collect();
        let (tally, ids) = insert(&mut inserts, &refused);
        assert_eq!((tally.ops_written, tally.ops_rejected), (0, CHUNK as u64));
        assert_eq!(tally.events_recorded, 0);
        assert_eq!(ids.len(), CHUNK - 1);
    }
}
