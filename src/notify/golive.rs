//! The go-live watcher: reads every source's status once a second and asks routing what a channel
//! going live becomes ([`rules::go_live`]); it also turns runtime events into log rows for guilds
//! that log (start, stop, a source failed or recovered, the store degraded or back). What one look
//! found is written as one atomic group, each row with its cause (`stream:{platform}:{id}`,
//! `runtime:...`, `source:{creator}/{platform}`, `store:...`).
//!
//! Once per stream: the watcher remembers the streams it posted this run, and each row's
//! `dedupe_key` (`go_live:{platform}:{stream_id}:{destination}`) makes the store ignore the same
//! stream after a reconnect or a restart.

use crate::config::Config;
use crate::event::Platform;
use crate::routing::rules;
use crate::sources::{ConnectionState, StatusHandle};
use crate::store::{NewOutbox, StoreWriter, WriteOp, WriterStats};
use chrono::Utc;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

/// How often statuses are read.
pub const EVERY: Duration = Duration::from_secs(1);

/// What the watcher reads and where it writes.
pub struct Watched {
    pub sources: Vec<(String, Platform, StatusHandle)>,
    pub config: watch::Receiver<Arc<Config>>,
    pub writer: StoreWriter,
    pub writer_stats: Arc<WriterStats>,
    /// Woken after rows are committed: the senders.
    pub wake: Vec<Arc<Notify>>,
    pub shutdown: CancellationToken,
}

/// Runs until shutdown; posts the stop event on the way out.
pub async fn run(w: Watched) {
    let mut posted: HashSet<(Platform, String)> = HashSet::new();
    let mut states: HashMap<(String, Platform), ConnectionState> = HashMap::new();
    let mut degraded = false;
    let mut rows = Vec::new();
    log(&w, "Runtime started.", "runtime:started", &mut rows);
    loop {
        let config = w.config.borrow().clone();
        for (creator, platform, status) in &w.sources {
            let snapshot = status.snapshot();
            if let Some(stream) = snapshot
                .live
                .as_ref()
                .filter(|l| l.live)
                .and_then(|l| l.stream.as_ref())
                && posted.insert((*platform, stream.id.clone()))
            {
                tracing::info!(creator = %creator, platform = %platform, stream = %stream.id, "Went live; queueing go-live posts.");
                rows.extend(rules::go_live(
                    &config,
                    creator,
                    *platform,
                    stream,
                    Utc::now(),
                ));
            }
            let before = states.insert((creator.clone(), *platform), snapshot.state);
            let text = match (before, snapshot.state) {
                (Some(b), ConnectionState::Failed) if b != ConnectionState::Failed => {
                    Some(format!(
                        "Source {creator}/{platform} failed: {}",
                        snapshot.last_error.as_deref().unwrap_or("no reason given")
                    ))
                }
                (
                    Some(ConnectionState::Backoff | ConnectionState::Failed),
                    ConnectionState::Connected,
                ) => Some(format!("Source {creator}/{platform} recovered.")),
                _ => None,
            };
            if let Some(text) = text {
                log(
                    &w,
                    &text,
                    &format!("source:{creator}/{platform}"),
                    &mut rows,
                );
            }
        }
        let now_degraded = w.writer_stats.degraded();
        if now_degraded.is_some() != degraded {
            degraded = now_degraded.is_some();
            let (text, cause) = match now_degraded {
                Some(d) => (
                    format!("Store degraded: {}", crate::sanitize::message(&d.reason)),
                    "store:degraded",
                ),
                None => ("Store recovered.".to_string(), "store:recovered"),
            };
            log(&w, &text, cause, &mut rows);
        }
        queue(&w, &mut rows).await;
        tokio::select! {
            () = w.shutdown.cancelled() => break,
            () = tokio::time::sleep(EVERY) => {}
        }
    }
    log(&w, "Runtime stopping.", "runtime:stopping", &mut rows);
    queue(&w, &mut rows).await;
}

fn log(w: &Watched, text: &str, cause: &str, rows: &mut Vec<NewOutbox>) {
    let config = w.config.borrow().clone();
    rows.extend(rules::runtime_log(&config, text, cause, Utc::now()));
}

async fn queue(w: &Watched, rows: &mut Vec<NewOutbox>) {
    if rows.is_empty() {
        return;
    }
    let ops = rows
        .drain(..)
        .map(|r| WriteOp::Outbox(Box::new(r)))
        .collect();
    if w.writer.send(WriteOp::Atomic(ops)).await.is_ok() && w.writer.flush().await.is_ok() {
        for wake in &w.wake {
            wake.notify_one();
        }
    }
}
