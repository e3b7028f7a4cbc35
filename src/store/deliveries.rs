//! Webhook delivery ids: which deliveries a webhook accepted, kept for its window, per source (a
//! platform's name such as `kick`, or `hook:{name}` for a system.json hook; the `platform` column).
//!
//! A signed webhook delivery can be captured and sent again, and a service retries a delivery it
//! heard no answer to. The receiver remembers every delivery id it accepted for its window here,
//! so a replay or a retry inside the window is refused across a restart too. Each record deletes
//! its source's ids older than that source's window, so the table holds one window's worth of
//! each (sources keep ids for different windows: Kick 10 minutes, hooks 7 days).

use super::apply::ApplyError;
use super::error::StoreError;
use super::open::StoreReader;
use rusqlite::{Connection, params};

/// Records that `source`'s webhook accepted delivery `id` at `at_ms`, and forgets the deliveries
/// `source` accepted before `keep_from_ms` (other sources' ids are theirs to forget).
pub(super) fn record(
    conn: &Connection,
    source: &str,
    id: &str,
    at_ms: i64,
    keep_from_ms: i64,
) -> Result<(), ApplyError> {
    conn.prepare_cached(
        "INSERT INTO webhook_deliveries (platform, delivery_id, at_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (platform, delivery_id) DO NOTHING",
    )?
    .execute(params![source, id, at_ms])?;
    conn.prepare_cached("DELETE FROM webhook_deliveries WHERE platform = ?1 AND at_ms < ?2")?
        .execute(params![source, keep_from_ms])?;
    Ok(())
}

impl StoreReader {
    /// The delivery ids `source`'s webhook accepted at or after `since_ms`, oldest first.
    pub fn webhook_deliveries(
        &self,
        source: &str,
        since_ms: i64,
    ) -> Result<Vec<String>, StoreError> {
        self.rows(
            "SELECT delivery_id FROM webhook_deliveries WHERE platform = ?1 AND at_ms >= ?2
             ORDER BY at_ms",
            params![source, since_ms],
            |r| r.get(0),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{StoreReader, StoreWriter, WriteOp};

    fn delivery(id: &str, at_ms: i64, keep_from_ms: i64) -> WriteOp {
        WriteOp::WebhookDelivery {
            source: "kick".into(),
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
        crate::store::schema::store_at_version(&path, 14);
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
        assert_eq!(
            store.schema_version().unwrap(),
            crate::store::schema::SCHEMA_VERSION
        );
        assert_eq!(store.webhook_deliveries("kick", 0).unwrap(), ["b", "c"]);
        assert_eq!(store.webhook_deliveries("kick", 5_000).unwrap(), ["c"]);
    }

    #[test]
    fn a_source_forgets_only_its_own_old_ids() {
        // Kick keeps 10 minutes, a hook 7 days: Kick's record must not forget the hook's ids.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let writer = StoreWriter::spawn(&path, 8).unwrap();
        for op in [
            WriteOp::WebhookDelivery {
                source: "hook:kofi".into(),
                id: "k1".into(),
                at_ms: 1_000,
                keep_from_ms: 0,
            },
            delivery("a", 900_000, 300_000),
        ] {
            writer.blocking_send(op).unwrap();
        }
        writer.close().unwrap();
        let store = StoreReader::open(&path).unwrap();
        assert_eq!(store.webhook_deliveries("hook:kofi", 0).unwrap(), ["k1"]);
        assert_eq!(store.webhook_deliveries("kick", 0).unwrap(), ["a"]);
    }
}
