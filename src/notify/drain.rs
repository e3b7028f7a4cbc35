//! The drain loop every sender shares: read the due outbox rows of one destination, hand each to
//! the destination's [`Sender`], record what became of it, and wait for more.
//!
//! A row is marked sent only after the destination answered 2xx. Results go to the store writer
//! and are flushed (committed) before the rows are read again, so a row in flight is never read and
//! sent twice. The rows are read through the store's reader pool, off the async threads. At
//! shutdown the loop stops between rows; a request already out finishes (bounded by the HTTP
//! timeout), and a row whose answer never came is sent again next run with the same nonce. Every
//! log line about a row names its `outbox_id` and its `cause` (the event, tick, clip or stream it
//! came from).

use super::stats::NotifyStats;
use crate::backoff::Backoff;
use crate::config::Config;
use crate::config::secrets::Secrets;
use crate::routing::Destination;
use crate::store::{OutboxResult, OutboxRow, Readers, StoreError, StoreWriter, WriteOp};
use crate::telemetry::Telemetry;
use chrono::Utc;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

/// Due rows read per pass.
const BATCH: usize = 32;
/// How often the outbox is read when nothing woke the sender.
pub const POLL: Duration = Duration::from_millis(500);
/// First and longest wait before a row that failed for a passing reason is tried again.
const RETRY_BASE: Duration = Duration::from_secs(2);
const RETRY_CAP: Duration = Duration::from_secs(300);

/// What became of one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every message of the row was answered 2xx.
    Sent,
    /// A passing failure (5xx, timeout, connection): try again later, with backoff.
    Retry { error: String },
    /// Given up for good: a configuration problem (401/403), refused content (400, duplicate).
    Failed { error: String },
    /// The row has nowhere to go (no guild channel for it): recorded as failed, counted apart.
    Unrouted { error: String },
    /// Not sent now and not the row's fault (no credentials yet, shutting down): left as it is.
    Hold,
    /// Refused by the egress gate: this process is not the current owner of the row's shard.
    Fenced { error: String },
    /// Another owner of the row's shard sent it: recorded as delivered, not sent again.
    AlreadySent,
}

/// What a sender may use besides the row.
pub struct DrainCtx {
    pub writer: StoreWriter,
    pub config: watch::Receiver<Arc<Config>>,
    pub secrets: Secrets,
    pub stats: NotifyStats,
    pub telemetry: Telemetry,
    pub shutdown: CancellationToken,
    /// Asked before each row is sent (an evaluator of the bus); `None` sends every due row.
    pub gate: Option<Arc<dyn super::gate::EgressGate>>,
}

impl DrainCtx {
    /// Records that one message of `row` went out (see [`OutboxResult::Delivered`]).
    pub async fn delivered(&self, row: &OutboxRow, delivery: &str) {
        let op = WriteOp::OutboxResult(Box::new(OutboxResult::Delivered {
            id: row.id,
            delivery: delivery.to_string(),
            at: Utc::now(),
        }));
        if let Err(e) = self.writer.send(op).await {
            tracing::warn!(
                outbox_id = row.id,
                cause = cause(row),
                "Delivery not recorded: {e}"
            );
        }
    }

    /// Waits until `at`, or returns false at shutdown.
    pub async fn wait_until(&self, at: std::time::Instant) -> bool {
        tokio::select! {
            () = self.shutdown.cancelled() => false,
            () = tokio::time::sleep_until(at.into()) => true,
        }
    }

    /// Reports a configuration problem once per distinct problem (not per row).
    pub fn config_problem(&self, destination: Destination, problem: &str) {
        if self.stats.set_state(
            destination.as_str(),
            "config_error",
            Some(problem.to_string()),
        ) {
            tracing::error!(destination = destination.as_str(), "{problem}");
            self.telemetry
                .error("notify_config", destination.as_str(), problem.to_string());
        }
    }
}

/// One destination's way of sending a row.
pub trait Sender: Send {
    fn destination(&self) -> Destination;

    /// Sends `row`; `done` names its messages already sent (a retry sends only the rest).
    fn deliver<'a>(
        &'a mut self,
        row: &'a OutboxRow,
        done: &'a [String],
        ctx: &'a DrainCtx,
    ) -> impl Future<Output = Outcome> + Send + 'a;
}

/// The cause a log line names for `row` (rows queued before causes were kept have none).
pub fn cause(row: &OutboxRow) -> &str {
    row.cause.as_deref().unwrap_or("unknown")
}

/// Due rows of `destination`, each with its deliveries already sent.
fn due(
    store: &crate::store::StoreReader,
    destination: &str,
) -> Result<Vec<(OutboxRow, Vec<String>)>, StoreError> {
    store
        .outbox_due(destination, Utc::now(), BATCH)?
        .into_iter()
        .map(|row| {
            let done = store.outbox_deliveries(row.id)?;
            Ok((row, done))
        })
        .collect()
}

/// Drains `destination`'s due rows, read through `readers`, until shutdown.
pub async fn run<S: Sender>(mut sender: S, readers: Readers, ctx: DrainCtx, wake: Arc<Notify>) {
    let destination = sender.destination().as_str();
    let mut failing = false;
    while !ctx.shutdown.is_cancelled() {
        let rows = match readers
            .read(move |store| due(store, destination))
            .await
            .and_then(|read| read)
        {
            Ok(rows) => {
                if std::mem::take(&mut failing) {
                    tracing::info!(destination, "The outbox can be read again.");
                }
                rows
            }
            Err(e) => {
                // Reported once per streak; the rows wait in the store and are read when it can be.
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(destination, "Reading the outbox failed; will retry: {e}");
                    ctx.telemetry.error(
                        "notify_outbox_read",
                        "notify",
                        format!("{destination}: {e}"),
                    );
                }
                Vec::new()
            }
        };
        let mut recorded = false;
        for (row, done) in &rows {
            if ctx.shutdown.is_cancelled() {
                break;
            }
            let admission = match &ctx.gate {
                Some(gate) => gate.admit(row).await,
                None => super::gate::Admission::Send,
            };
            let outcome = match admission {
                super::gate::Admission::Send => sender.deliver(row, done, &ctx).await,
                super::gate::Admission::Fenced(error) => Outcome::Fenced { error },
                super::gate::Admission::AlreadySent => Outcome::AlreadySent,
                super::gate::Admission::Hold => Outcome::Hold,
            };
            if let Some(result) = record(row, outcome, &ctx.stats, destination) {
                recorded = true;
                if let Err(e) = ctx
                    .writer
                    .send(WriteOp::OutboxResult(Box::new(result)))
                    .await
                {
                    tracing::warn!(
                        destination,
                        outbox_id = row.id,
                        cause = cause(row),
                        "Result not recorded: {e}"
                    );
                }
            }
        }
        // Deliveries and results are committed before the outbox is read again.
        if (recorded || !rows.is_empty()) && ctx.writer.flush().await.is_err() {
            break;
        }
        tokio::select! {
            () = ctx.shutdown.cancelled() => break,
            () = wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// A row failed for good: never tried again.
fn given_up(id: i64, at: chrono::DateTime<Utc>, error: String) -> OutboxResult {
    OutboxResult::Failed {
        id,
        at,
        error,
        retry_at: None,
    }
}

/// The store result of `outcome`, counted in `stats`.
fn record(
    row: &OutboxRow,
    outcome: Outcome,
    stats: &NotifyStats,
    destination: &str,
) -> Option<OutboxResult> {
    let at = Utc::now();
    let id = row.id;
    match outcome {
        Outcome::Sent => {
            stats.update(destination, |s| s.sent += 1);
            tracing::info!(destination, outbox_id = id, cause = cause(row), kind = %row.kind, "Notification sent.");
            Some(OutboxResult::Sent { id, at })
        }
        Outcome::Retry { error } => {
            stats.update(destination, |s| s.retried += 1);
            let mut backoff = Backoff::new(RETRY_BASE, RETRY_CAP);
            let mut delay = backoff.next_delay();
            for _ in 0..row.attempts.min(16) {
                delay = backoff.next_delay();
            }
            tracing::warn!(
                destination,
                outbox_id = id,
                cause = cause(row),
                retry_in_s = delay.as_secs_f64(),
                "Notification not sent; will retry: {error}"
            );
            Some(OutboxResult::Failed {
                id,
                at,
                error,
                retry_at: chrono::Duration::from_std(delay).ok().map(|d| at + d),
            })
        }
        Outcome::Failed { error } => {
            stats.update(destination, |s| s.failed += 1);
            tracing::warn!(
                destination,
                outbox_id = id,
                cause = cause(row),
                "Notification failed for good: {error}"
            );
            Some(given_up(id, at, error))
        }
        Outcome::Unrouted { error } => {
            stats.update(destination, |s| s.unrouted += 1);
            tracing::info!(destination, outbox_id = id, cause = cause(row), "{error}");
            Some(given_up(id, at, error))
        }
        Outcome::Fenced { error } => {
            stats.update(destination, |s| s.fenced += 1);
            tracing::warn!(
                destination,
                outbox_id = id,
                cause = cause(row),
                "Notification refused: {error}"
            );
            Some(given_up(id, at, error))
        }
        Outcome::AlreadySent => {
            stats.update(destination, |s| s.already_sent += 1);
            tracing::info!(
                destination,
                outbox_id = id,
                cause = cause(row),
                "Notification already sent by the shard's earlier owner; not sent again."
            );
            Some(OutboxResult::Sent { id, at })
        }
        Outcome::Hold => None,
    }
}

pub use crate::http_out::describe;
