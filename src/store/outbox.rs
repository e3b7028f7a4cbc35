//! The outbox: notifications recorded durably before anything is sent.
//!
//! Routing (`crate::routing`) decides where a notification goes and hands the rows over; the store
//! writes them in the same transaction as whatever caused them (an action, a clip's `published`
//! state, a stream going live) and keeps their destination as data: it knows no destination by
//! name. Senders drain the due rows of their destination, send each with its `nonce` (so a retry
//! after a timeout cannot double-post), and record the result: `sent_ms` only after the destination
//! answered 2xx, otherwise the error, one more attempt and the next attempt time. A row survives
//! crashes and restarts until it is sent. `dedupe_key` makes a post once-only (a go-live is keyed by
//! the platform's stream id): a second row with the same key is ignored. Every row carries its
//! `cause`, the id of the event, tick, clip or stream it came from, so an operator can follow one
//! message from the wire to the post.

use super::apply::ApplyError;
use super::error::StoreError;
use super::open::StoreReader;
use super::rows::{self, count, limit, ms};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use serde::Serialize;

/// A notification to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutbox {
    pub creator: String,
    /// The sender that drains it (`discord`, `x`): data to the store, decided by routing.
    pub destination: String,
    /// Where at the destination: a Discord channel key (`general`, `twitch_clips`) or id.
    pub target: String,
    /// What it is: `notify`, `poll_results`, `go_live`, `clip_published`, `runtime_log`.
    pub kind: String,
    /// What to send, as the sender reads it (`{"text": ...}` for a notify).
    pub payload: serde_json::Value,
    /// Once-only key; `None` for rows that may repeat.
    pub dedupe_key: Option<String>,
    /// The id of what caused it: `event:{platform}:{message_id}`, `tick:...`, `clip:{clip_id}`,
    /// `stream:{platform}:{stream_id}`, `runtime:{what}`.
    pub cause: String,
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

/// A row checked and serialized before anything is written: refusals come first, so a caller
/// writing several things (an action and its rows) writes nothing it must take back.
pub(super) struct Checked<'a> {
    row: &'a NewOutbox,
    payload: String,
}

/// Checks `row` (a destination, a payload that serializes) without writing.
pub(super) fn check(row: &NewOutbox) -> Result<Checked<'_>, ApplyError> {
    if row.destination.is_empty() {
        return Err(ApplyError::Rejected(format!(
            "outbox row {} of {} has no destination",
            row.kind, row.cause
        )));
    }
    let payload = serde_json::to_string(&row.payload)
        .map_err(|e| ApplyError::Rejected(format!("outbox payload not serializable: {e}")))?;
    Ok(Checked { row, payload })
}

/// Queues checked rows; a repeated `dedupe_key` is ignored.
pub(super) fn enqueue_checked(conn: &Connection, rows: &[Checked<'_>]) -> Result<(), ApplyError> {
    for Checked { row, payload } in rows {
        let nonce = format!("{:016x}", fastrand::u64(..));
        conn.prepare_cached(
            "INSERT OR IGNORE INTO outbox (creator, destination, target, kind, payload, dedupe_key,
               nonce, next_attempt_ms, created_ms, cause)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
        )?
        .execute(params![
            row.creator,
            row.destination,
            row.target,
            row.kind,
            payload,
            row.dedupe_key,
            nonce,
            ms(&row.at),
            row.cause
        ])?;
    }
    Ok(())
}

/// Checks and queues `rows`: none is written unless all pass.
pub(super) fn enqueue(conn: &Connection, rows: &[NewOutbox]) -> Result<(), ApplyError> {
    let checked = rows.iter().map(check).collect::<Result<Vec<_>, _>>()?;
    enqueue_checked(conn, &checked)
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
    pub destination: String,
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
    /// What caused it (see [`NewOutbox::cause`]); `None` for rows queued before causes were kept.
    pub cause: Option<String>,
}

const OUTBOX_COLUMNS: &str = "id, creator, destination, target, kind, payload, nonce, attempts,
    next_attempt_ms, sent_ms, failed, last_error, created_ms, cause";

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    let payload: String = r.get(5)?;
    let sent_at = rows::opt_time(r, 9)?;
    let failed: bool = r.get(10)?;
    Ok(OutboxRow {
        id: r.get(0)?,
        creator: r.get(1)?,
        destination: r.get(2)?,
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
        cause: r.get(13)?,
    })
}

impl StoreReader {
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
        destination: &str,
        now: DateTime<Utc>,
        n: usize,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox
                 WHERE sent_ms IS NULL AND NOT failed AND destination = ?1 AND next_attempt_ms <= ?2
                 ORDER BY next_attempt_ms, id LIMIT ?3"
            ),
            params![destination, ms(&now), limit(n)],
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
