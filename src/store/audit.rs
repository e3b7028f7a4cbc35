//! The audit log: operator actions (config reloads, version stamps, publishes, clip retries) and
//! every control API call that changed something (who, with which role, the route, its arguments
//! without secrets, and the result).

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

/// One control API call that changed something (or tried to), as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlCall {
    pub at: DateTime<Utc>,
    /// The token's name from system.json (never the token).
    pub actor: String,
    pub role: String,
    /// `POST /api/v1/...`, as the route is declared.
    pub route: String,
    /// The request's arguments as JSON, without secrets.
    pub arguments: String,
    /// `ok: ...` or `error <code>: ...`.
    pub result: String,
}

/// Appends one control API call.
pub(super) fn append_call(conn: &Connection, call: &ControlCall) -> Result<(), ApplyError> {
    conn.prepare_cached(
        "INSERT INTO audit (at_ms, action, detail, actor, role, route, arguments, result)
         VALUES (?1, 'control_api', ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        ms(&call.at),
        format!("{} by {} ({})", call.route, call.actor, call.role),
        call.actor,
        call.role,
        call.route,
        call.arguments,
        call.result
    ])?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    pub at: DateTime<Utc>,
    pub action: String,
    pub detail: String,
    /// The control API's token name, role, route, arguments (JSON) and result; absent for the
    /// runtime's own entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

impl StoreReader {
    /// The `limit` most recent audit entries, newest first.
    pub fn audit(&self, limit: usize) -> Result<Vec<AuditRow>, StoreError> {
        self.rows(
            "SELECT at_ms, action, detail, actor, role, route, arguments, result FROM audit
             ORDER BY at_ms DESC, id DESC LIMIT ?1",
            params![rows::limit(limit)],
            |r| {
                let arguments: Option<String> = r.get(6)?;
                Ok(AuditRow {
                    at: rows::time(r, 0)?,
                    action: r.get(1)?,
                    detail: r.get(2)?,
                    actor: r.get(3)?,
                    role: r.get(4)?,
                    route: r.get(5)?,
                    arguments: arguments
                        .map(|a| serde_json::from_str(&a).unwrap_or(serde_json::Value::String(a))),
                    result: r.get(7)?,
                })
            },
        )
    }
}

impl super::Store {
    /// Records a control call, and the clip it asked for when there is one, in one `IMMEDIATE`
    /// transaction beside a running writer (a process of its own, like `ss discord` alone);
    /// returns the clip's id.
    pub fn control_call_now(
        &mut self,
        call: &ControlCall,
        clip: Option<&super::NewClip>,
    ) -> Result<Option<String>, StoreError> {
        self.immediately(|tx| {
            let id = clip
                .map(|clip| super::clips::insert(tx, clip))
                .transpose()?;
            append_call(tx, call)?;
            Ok(id)
        })
    }
}
