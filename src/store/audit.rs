//! The audit log: operator actions (config reloads, version stamps, publishes, clip retries).

use super::apply::ApplyError;
use super::error::StoreError;
use super::open::StoreReader;
use super::rows::{self, ms};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use serde::Serialize;

/// Appends one audit entry.
pub(super) fn append(
    conn: &Connection,
    at: &DateTime<Utc>,
    action: &str,
    detail: &str,
) -> Result<(), ApplyError> {
    conn.prepare_cached("INSERT INTO audit (at_ms, action, detail) VALUES (?1, ?2, ?3)")?
        .execute(params![ms(at), action, detail])?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    pub at: DateTime<Utc>,
    pub action: String,
    pub detail: String,
}

impl StoreReader {
    /// The `limit` most recent audit entries, newest first.
    pub fn audit(&self, limit: usize) -> Result<Vec<AuditRow>, StoreError> {
        self.rows(
            "SELECT at_ms, action, detail FROM audit ORDER BY at_ms DESC, id DESC LIMIT ?1",
            params![rows::limit(limit)],
            |r| {
                Ok(AuditRow {
                    at: rows::time(r, 0)?,
                    action: r.get(1)?,
                    detail: r.get(2)?,
                })
            },
        )
    }
}
