//! Recorded ticks: the moments of a creator's clock that fired actions.
//!
//! The run loop feeds the trigger engine a tick per creator about once a second
//! ([`crate::event::Tick`]). A tick that fires nothing changes nothing (the engine's tick rule, see
//! [`crate::triggers::evaluate_tick`]) and is not recorded; a tick that fires actions is recorded in
//! the same transaction as them (the run loop sends both as one `WriteOp::Atomic`). Like a run mark,
//! a tick is positioned against the chat log: the writer records the last chat event id and the last
//! run mark id committed before it, which is exact because it applies ops in the order they were
//! sent. `ss replay` reads them back ([`StoreReader::recorded_ticks`]) and feeds each to the engine at its
//! place, so the replay closes the same polls at the same times with the same causes.

use super::apply::ApplyError;
use super::error::StoreError;
use super::open::StoreReader;
use super::rows::{self, ms};
use crate::event::Tick;
use rusqlite::{Connection, params};

/// A recorded tick and its place in the chat log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedTick {
    pub tick: Tick,
    /// The last chat event id recorded before it (0 when there was none).
    pub after_chat_id: i64,
    /// The last run mark id recorded before it (0 when there was none).
    pub after_mark_id: i64,
}

/// Records `tick` after every chat event and run mark committed so far.
pub(super) fn record(conn: &Connection, tick: &Tick) -> Result<(), ApplyError> {
    conn.prepare_cached(
        "INSERT INTO ticks (creator, at_ms, after_chat_id, after_mark_id, live)
         VALUES (?1, ?2, (SELECT coalesce(max(id), 0) FROM chat_events),
                 (SELECT coalesce(max(id), 0) FROM run_marks), ?3)",
    )?
    .execute(params![tick.creator.as_str(), ms(&tick.at), tick.live])?;
    Ok(())
}

impl StoreReader {
    /// The recorded ticks positioned after chat event `from` (exclusive) up to after chat event
    /// `to` (inclusive), in the order recorded.
    pub fn recorded_ticks(&self, from: i64, to: i64) -> Result<Vec<RecordedTick>, StoreError> {
        self.rows(
            "SELECT creator, at_ms, after_chat_id, after_mark_id, live FROM ticks
             WHERE after_chat_id >= ?1 AND after_chat_id <= ?2 ORDER BY id",
            params![from, to],
            |r| {
                let creator: String = r.get(0)?;
                Ok(RecordedTick {
                    tick: Tick::new(&creator, rows::time(r, 1)?).with_live(r.get(4)?),
                    after_chat_id: r.get(2)?,
                    after_mark_id: r.get(3)?,
                })
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::runs::tests::{event, mark};
    use crate::store::{RunMarkKind, StoreWriter, WriteOp, db_path};
    use chrono::DateTime;

    fn tick(ms: i64) -> Tick {
        Tick::new("demo", DateTime::from_timestamp_millis(ms).unwrap())
    }

    #[test]
    fn ticks_sit_after_the_events_and_marks_sent_before_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let writer = StoreWriter::spawn(&path, 64).unwrap();
        writer.blocking_send(WriteOp::Tick(tick(5))).unwrap();
        writer.blocking_send(mark(RunMarkKind::Start)).unwrap();
        for i in 0..2 {
            writer.blocking_send(event(i)).unwrap();
        }
        writer
            .blocking_send(WriteOp::Atomic(vec![WriteOp::Tick(tick(2_000))]))
            .unwrap();
        writer.blocking_send(mark(RunMarkKind::Start)).unwrap();
        writer.blocking_send(WriteOp::Tick(tick(3_000))).unwrap();
        writer.close().unwrap();
        let store = StoreReader::open(&path).unwrap();
        let ticks: Vec<_> = store
            .recorded_ticks(0, 10)
            .unwrap()
            .into_iter()
            .map(|t| (t.tick.at_ms(), t.after_chat_id, t.after_mark_id))
            .collect();
        assert_eq!(ticks, [(5, 0, 0), (2_000, 2, 1), (3_000, 2, 2)]);
        assert_eq!(store.recorded_ticks(1, 1).unwrap(), []);
        assert_eq!(store.recorded_ticks(2, 2).unwrap().len(), 2);
    }

    #[test]
    fn a_store_from_before_ticks_has_none_once_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let conn = Connection::open(&path).unwrap();
        let before_ticks = 9;
        for step in &crate::store::schema::MIGRATIONS[..before_ticks] {
            conn.execute_batch(step).unwrap();
        }
        conn.execute_batch(&format!("PRAGMA user_version = {before_ticks}"))
            .unwrap();
        drop(conn);
        drop(crate::store::Store::open_as_writer(&path).unwrap());
        let store = StoreReader::open(&path).unwrap();
        assert_eq!(store.recorded_ticks(0, i64::MAX).unwrap(), []);
    }
}
