//! Where an evaluator of the bus is in each shard of the event stream: the stream sequence of the
//! last event it folded in, per (stream, shard).
//!
//! A shard's batch reaches the writer as one atomic group, like a polled page: its events, the
//! actions they fired and the cursor after them commit in one transaction. An evaluator that takes
//! a shard (again, or for the first time) reads its cursor and asks the stream for what follows,
//! so its store is the exact fold of the shard's events, whoever owned the shard in between.

use super::apply::ApplyError;
use super::error::StoreError;
use super::open::StoreReader;
use rusqlite::{Connection, OptionalExtension, params};

/// The last stream sequence folded in for one shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusCursor {
    pub stream: String,
    pub shard: u32,
    pub seq: u64,
    pub at_ms: i64,
}

pub(super) fn save(conn: &Connection, cursor: &BusCursor) -> Result<(), ApplyError> {
    conn.prepare_cached(
        "INSERT INTO bus_cursors (stream, shard, seq, updated_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (stream, shard) DO UPDATE SET seq = max(seq, excluded.seq),
           updated_ms = excluded.updated_ms",
    )?
    .execute(params![
        cursor.stream,
        cursor.shard,
        cursor.seq as i64,
        cursor.at_ms
    ])?;
    Ok(())
}

impl StoreReader {
    /// The last stream sequence folded in for `shard` of `stream` (0: none yet).
    pub fn bus_cursor(&self, stream: &str, shard: u32) -> Result<u64, StoreError> {
        self.conn()
            .query_row(
                "SELECT seq FROM bus_cursors WHERE stream = ?1 AND shard = ?2",
                params![stream, shard],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|seq| seq.unwrap_or(0).max(0) as u64)
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::WriteOp;

    #[test]
    fn a_store_at_16_migrates_and_a_cursor_never_moves_back_per_shard() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        // A store at schema 16, the last released one: it migrates to 17 (the cursors' table).
        crate::store::schema::store_at_version(&path, 16);
        let writer = crate::store::StoreWriter::spawn(&path, 16).unwrap();
        let cursor = |shard, seq| {
            WriteOp::BusCursor(Box::new(BusCursor {
                stream: "SS_EVENTS".into(),
                shard,
                seq,
                at_ms: 1,
            }))
        };
        writer.blocking_send(cursor(3, 10)).unwrap();
        writer.blocking_send(cursor(3, 7)).unwrap();
        writer.blocking_send(cursor(4, 2)).unwrap();
        writer.close().unwrap();
        let reader = StoreReader::open(&path).unwrap();
        assert_eq!(reader.bus_cursor("SS_EVENTS", 3).unwrap(), 10);
        assert_eq!(reader.bus_cursor("SS_EVENTS", 4).unwrap(), 2);
        assert_eq!(reader.bus_cursor("SS_EVENTS", 5).unwrap(), 0);
        assert_eq!(reader.bus_cursor("OTHER", 3).unwrap(), 0);
    }
}
