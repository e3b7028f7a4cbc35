//! Webhook delivery ids: which deliveries a platform's webhook accepted, kept for its replay window.
//!
//! A signed webhook delivery can be captured and sent again. The receiver refuses deliveries older
//! than its window by their signed timestamp, and remembers every delivery id it accepted for that
//! window here, so a replay inside the window is refused across a restart too. Each record deletes
//! the ids older than the window (by the index on `at_ms`), so the table holds one window's worth.

use super::apply::ApplyError;
use super::error::StoreError;
use super::open::StoreReader;
use crate::event::Platform;
use rusqlite::{Connection, params};

/// Records that `platform`'s webhook accepted delivery `id` at `at_ms`, and forgets the deliveries
/// accepted before `keep_from_ms`.
pub(super) fn record(
    conn: &Connection,
    platform: Platform,
    id: &str,
    at_ms: i64,
    keep_from_ms: i64,
) -> Result<(), ApplyError> {
    conn.prepare_cached(
        "INSERT INTO webhook_deliveries (platform, delivery_id, at_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (platform, delivery_id) DO NOTHING",
    )?
    .execute(params![platform.as_str(), id, at_ms])?;
    conn.prepare_cached("DELETE FROM webhook_deliveries WHERE at_ms < ?1")?
        .execute(params![keep_from_ms])?;
    Ok(())
}

impl StoreReader {
    /// The delivery ids `platform`'s webhook accepted at or after `since_ms`, oldest first.
    pub fn webhook_deliveries(
        &self,
        platform: Platform,
        since_ms: i64,
    ) -> Result<Vec<String>, StoreError> {
        self.rows(
            "SELECT delivery_id FROM webhook_deliveries WHERE platform = ?1 AND at_ms >= ?2
             ORDER BY at_ms",
            params![platform.as_str(), since_ms],
            |r| r.get(0),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{StoreReader, StoreWriter, WriteOp};

    fn delivery(id: &str, at_ms: i64, keep_from_ms: i64) -> WriteOp {
        WriteOp::WebhookDelivery {
            platform: crate::event::Platform::named("kick"),
            id: id.into(),
            at_ms,
            keep_from_ms,
        }
    }

    #[test]
    fn deliveries_are_kept_for_the_window_and_a_store_at_14_migrates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        // A store at schema 14, the last released one (before the export aggregates and webhook
        // deliveries were kept): it migrates through 15 and 16.
        let conn = rusqlite::Connection::open(&path).unwrap();
        for step in &crate::store::schema::MIGRATIONS[..14] {
            conn.execute_batch(step).unwrap();
        }
        conn.execute_batch("PRAGMA user_version = 14").unwrap();
        drop(conn);
        let writer = StoreWriter::spawn(&path, 8).unwrap();
        for op in [
            delivery("a", 1_000, 0),
            delivery("b", 2_000, 0),
            delivery("b", 2_500, 0),
            delivery("c", 9_000, 1_500),
        ] {
            writer.blocking_send(op).unwrap();
        }
        writer.close().unwrap();
        let store = StoreReader::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), 16);
        let kick = crate::event::Platform::named("kick");
        assert_eq!(store.webhook_deliveries(kick, 0).unwrap(), ["b", "c"]);
        assert_eq!(store.webhook_deliveries(kick, 5_000).unwrap(), ["c"]);
    }
}
