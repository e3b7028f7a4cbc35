//! The outbox: notifications (Discord, X) recorded durably before anything is sent.
//!
//! A `notify` action, and later go-live and clip-published posts, become an outbox row in the same
//! transaction as whatever caused them. Senders drain due rows, send each with its `nonce` (so a
//! retry after a timeout cannot double-post), and record the result: `sent_ms` only after the
//! destination answered 2xx, otherwise the error, one more attempt and the next attempt time. A row
//! survives crashes and restarts until it is sent. `dedupe_key` makes a post once-only (a go-live is
//! keyed by the platform's stream id): a second row with the same key is ignored.

use super::rows::{self, count, limit, ms};
use super::writer::ApplyError;
use super::{Store, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

/// Where a notification goes. These are destinations with their own settings, not chat platforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Destination {
    Discord,
    X,
}

impl Destination {
    pub fn as_str(self) -> &'static str {
        match self {
            Destination::Discord => "discord",
            Destination::X => "x",
        }
    }

    pub fn from_name(name: &str) -> Option<Destination> {
        [Destination::Discord, Destination::X]
            .into_iter()
            .find(|d| d.as_str() == name)
    }
}

/// A notification to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutbox {
    pub creator: String,
    pub destination: Destination,
    /// Where at the destination: a Discord channel key (`general`, `twitch_clips`) or id.
    pub target: String,
    /// What caused it: `notify`, `go_live`, `clip_published`.
    pub kind: String,
    /// What to send, as the sender reads it (`{"text": ...}` for a notify).
    pub payload: serde_json::Value,
    /// Once-only key; `None` for rows that may repeat.
    pub dedupe_key: Option<String>,
    pub at: DateTime<Utc>,
}

/// What became of one send attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboxResult {
    /// The destination answered 2xx.
    Sent { id: i64, at: DateTime<Utc> },
    /// One of the row's messages (`delivery`, e.g. a guild's channel) was sent; the row stays due
    /// until all are, and a retry skips this one.
    Delivered {
        id: i64,
        delivery: String,
        at: DateTime<Utc>,
    },
    /// Not sent; try again at `retry_at` (`None`: never, the row failed for good).
    Failed {
        id: i64,
        at: DateTime<Utc>,
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// Queues a notification; a repeated `dedupe_key` is ignored.
pub(super) fn enqueue(conn: &Connection, row: &NewOutbox) -> Result<(), ApplyError> {
    let payload = serde_json::to_string(&row.payload)
        .map_err(|e| ApplyError::Rejected(format!("outbox payload not serializable: {e}")))?;
    let nonce = format!("{:016x}", fastrand::u64(..));
    conn.prepare_cached(
        "INSERT OR IGNORE INTO outbox (creator, destination, target, kind, payload, dedupe_key, nonce,
           next_attempt_ms, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    )?
    .execute(params![
        row.creator,
        row.destination.as_str(),
        row.target,
        row.kind,
        payload,
        row.dedupe_key,
        nonce,
        ms(&row.at)
    ])?;
    Ok(())
}

/// Records a send attempt's result.
pub(super) fn record(conn: &Connection, result: &OutboxResult) -> Result<(), ApplyError> {
    let changed = match result {
        OutboxResult::Sent { id, at } => conn
            .prepare_cached(
                "UPDATE outbox SET sent_ms = ?2, attempts = attempts + 1, last_error = NULL
                 WHERE id = ?1 AND sent_ms IS NULL",
            )?
            .execute(params![id, ms(at)])?,
        OutboxResult::Delivered { id, delivery, at } => conn
            .prepare_cached(
                "INSERT OR IGNORE INTO outbox_deliveries (outbox_id, delivery, sent_ms)
                 SELECT id, ?2, ?3 FROM outbox WHERE id = ?1 AND sent_ms IS NULL",
            )?
            .execute(params![id, delivery, ms(at)])?
            .max(1),
        OutboxResult::Failed {
            id,
            at: _,
            error,
            retry_at,
        } => conn
            .prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2,
                   next_attempt_ms = coalesce(?3, next_attempt_ms), failed = (?3 IS NULL)
                 WHERE id = ?1 AND sent_ms IS NULL",
            )?
            .execute(params![id, error, retry_at.as_ref().map(ms)])?,
    };
    if changed == 0 {
        return Err(ApplyError::Rejected(
            "no unsent outbox row with that id; the result was not recorded".into(),
        ));
    }
    Ok(())
}

/// One outbox row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub creator: String,
    pub destination: Destination,
    pub target: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub nonce: String,
    pub attempts: u32,
    /// `None` once sent or failed for good.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub failed: bool,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

const OUTBOX_COLUMNS: &str = "id, creator, destination, target, kind, payload, nonce, attempts,
    next_attempt_ms, sent_ms, failed, last_error, created_ms";

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    let destination: String = r.get(2)?;
    let payload: String = r.get(5)?;
    let sent_at = rows::opt_time(r, 9)?;
    let failed: bool = r.get(10)?;
    Ok(OutboxRow {
        id: r.get(0)?,
        creator: r.get(1)?,
        destination: Destination::from_name(&destination)
            .ok_or_else(|| rows::invalid(2, format!("unknown destination {destination:?}")))?,
        target: r.get(3)?,
        kind: r.get(4)?,
        payload: serde_json::from_str(&payload)
            .map_err(|e| rows::invalid(5, format!("payload is not valid JSON ({e})")))?,
        nonce: r.get(6)?,
        attempts: r.get(7)?,
        next_attempt_at: if sent_at.is_some() || failed {
            None
        } else {
            rows::opt_time(r, 8)?
        },
        sent_at,
        failed,
        last_error: r.get(11)?,
        created_at: rows::time(r, 12)?,
    })
}

impl Store {
    /// The newest `n` outbox rows, newest first.
    pub fn outbox(&self, n: usize) -> Result<Vec<OutboxRow>, StoreError> {
        self.rows(
            &format!("SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY id DESC LIMIT ?1"),
            params![limit(n)],
            read_row,
        )
    }

    /// Unsent rows for `destination` whose next attempt is due at `now`, oldest first.
    pub fn outbox_due(
        &self,
        destination: Destination,
        now: DateTime<Utc>,
        n: usize,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox
                 WHERE sent_ms IS NULL AND NOT failed AND destination = ?1 AND next_attempt_ms <= ?2
                 ORDER BY next_attempt_ms, id LIMIT ?3"
            ),
            params![destination.as_str(), ms(&now), limit(n)],
            read_row,
        )
    }

    /// The deliveries of row `id` already sent (see [`OutboxResult::Delivered`]).
    pub fn outbox_deliveries(&self, id: i64) -> Result<Vec<String>, StoreError> {
        self.rows(
            "SELECT delivery FROM outbox_deliveries WHERE outbox_id = ?1 ORDER BY delivery",
            params![id],
            |r| r.get(0),
        )
    }

    /// Rows by state: (`pending`, `sent`, `failed`) counts.
    pub fn outbox_counts(&self) -> Result<(u64, u64, u64), StoreError> {
        let rows = self.rows(
            "SELECT coalesce(sum(sent_ms IS NULL AND NOT failed), 0),
                    coalesce(sum(sent_ms IS NOT NULL), 0), coalesce(sum(failed), 0) FROM outbox",
            [],
            |r| Ok((count(r, 0)?, count(r, 1)?, count(r, 2)?)),
        )?;
        Ok(rows.into_iter().next().unwrap_or_default())
    }
}
