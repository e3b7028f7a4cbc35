//! The audit log: operator actions (config reloads, version stamps, publishes, clip retries, the
//! Discord bot's slash commands).
//!
//! A row is `action` (what was asked: `clip`, `say`, `timeout`, ...) and `detail` (JSON: who asked
//! and through what, the arguments without secrets, the result). The running daemon writes rows
//! through its writer ([`super::WriteOp::Audit`], in the same transaction as the change they
//! describe); a process beside it (`ss discord` on its own) writes a row and its change in one
//! short transaction of its own ([`Store::audit_now`]).

use super::apply::ApplyError;
use super::error::StoreError;
use super::clips::{self, NewClip};
use super::open::{Store, StoreReader};
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

impl Store {
    /// Records an audit row, and the clip it describes when there is one, in one `IMMEDIATE`
    /// transaction (beside a running writer, like `ss clip`); returns the clip's id.
    pub fn audit_now(
        &mut self,
        at: &DateTime<Utc>,
        action: &str,
        detail: &str,
        clip: Option<&NewClip>,
    ) -> Result<Option<String>, StoreError> {
        self.immediately(|tx| {
            let id = clip.map(|clip| clips::insert(tx, clip)).transpose()?;
            append(tx, at, action, detail)?;
            Ok(id)
        })
    }
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
