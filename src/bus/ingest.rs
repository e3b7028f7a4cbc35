//! Ingest: the data lane drained into the events stream, instead of through the Core.
//!
//! Each accepted event is published to `<prefix>.ev.<shard>.<platform>.<creator>` with
//! `Nats-Msg-Id` = its dedupe key (`platform:message id`), so a retry after a lost acknowledgement,
//! or the same event from two overlapping connections, is stored once. Items are taken from the
//! lane in batches and published pipelined; the batch is done when every publish is acknowledged.
//! A publish that gets no acknowledgement (the server away, a timeout) is retried with the same id
//! until it is, so while the server is away this loop holds: the lane fills, sources feel the
//! backpressure and polling sources stop advancing. A polled page's checkpoint is written to the
//! store only after all of its events were acknowledged: nothing is checkpointed that the stream
//! has not stored. Ticks are not published (each evaluator's clock ticks for its own shards).

use super::Bus;
use super::names::shard_of;
use super::stats::{BusStats, bump};
use crate::event::ChatEvent;
use crate::lanes::{Inbound, LaneReceiver};
use crate::store::{Checkpoint, StoreError, StoreWriter, WriteOp};
use async_nats::jetstream;
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The most items taken from the lane for one round of publishes.
const BATCH: usize = 256;
/// How long publishing may go on failing after shutdown began before what is left is given up
/// (and counted as not published).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// What the publisher reports at the end.
#[derive(Debug, Default, Clone, Copy)]
pub struct Published {
    /// Events the stream acknowledged.
    pub events: u64,
    /// Events taken from the lane that were never acknowledged (the server away at shutdown).
    pub unsent: u64,
}

/// Drains the lane into the events stream until it closes.
pub async fn publish_lane(
    receiver: &mut LaneReceiver,
    bus: &Bus,
    writer: &StoreWriter,
    stats: &Arc<BusStats>,
    shutdown: &CancellationToken,
) -> Result<Published, StoreError> {
    let mut out = Published::default();
    let mut items = Vec::with_capacity(BATCH);
    loop {
        if receiver.recv_many(&mut items, BATCH).await == 0 {
            return Ok(out);
        }
        let mut events: Vec<&ChatEvent> = Vec::new();
        for item in &items {
            match item {
                Inbound::Event(event) => events.push(event),
                Inbound::Page(page) => events.extend(page.events.iter()),
                Inbound::Shard(_) | Inbound::Tick(_) => {}
            }
        }
        let acked = publish_all(bus, &events, stats, shutdown).await;
        out.events += acked as u64;
        if acked < events.len() {
            out.unsent += (events.len() - acked) as u64;
            // Given up at shutdown: no checkpoint moves past what was not stored.
            items.clear();
            while let Ok(item) = receiver.try_recv() {
                out.unsent += item.events();
            }
            return Ok(out);
        }
        for item in items.drain(..) {
            if let Inbound::Page(page) = item {
                writer
                    .send(WriteOp::Checkpoint(Box::new(Checkpoint {
                        creator: page.creator,
                        platform: page.platform,
                        cursor: page.cursor,
                        at: chrono::Utc::now(),
                    })))
                    .await?;
            }
        }
    }
}

/// Publishes every event and waits for every acknowledgement, retrying the unacknowledged ones
/// with the same ids. Returns how many were acknowledged: all, unless shutdown began and the
/// server stayed away for [`SHUTDOWN_GRACE`].
async fn publish_all(
    bus: &Bus,
    events: &[&ChatEvent],
    stats: &BusStats,
    shutdown: &CancellationToken,
) -> usize {
    let shards = bus.settings.shards;
    let mut waiting: Vec<(String, String, Bytes)> = events
        .iter()
        .map(|event| {
            let subject = bus.names.event_subject(
                shard_of(&event.creator, shards),
                event.platform,
                &event.creator,
            );
            let id = format!("{}:{}", event.platform.as_str(), event.message_id);
            let payload = Bytes::from(serde_json::to_vec(event).unwrap_or_default());
            (subject, id, payload)
        })
        .collect();
    let total = waiting.len();
    let mut delay = Duration::from_millis(50);
    let mut given_up_at: Option<tokio::time::Instant> = None;
    let mut down = false;
    while !waiting.is_empty() {
        let mut acks = Vec::with_capacity(waiting.len());
        for (subject, id, payload) in &waiting {
            let publish = jetstream::message::PublishMessage::build()
                .message_id(id.as_str())
                .payload(payload.clone());
            acks.push(bus.js.send_publish(subject.clone(), publish).await);
        }
        // Every acknowledgement awaited at once: each waits at most the request timeout, so a
        // round with the server away ends in one timeout, not one per event.
        let results = futures_util::future::join_all(acks.into_iter().map(|ack| async move {
            match ack {
                Ok(future) => future.await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }))
        .await;
        let mut failed = Vec::new();
        let mut why = String::new();
        for (result, entry) in results.into_iter().zip(waiting.drain(..)) {
            match result {
                Ok(ack) => {
                    stats.published.fetch_add(1, Ordering::Relaxed);
                    if ack.duplicate {
                        bump(&stats.publish_duplicates);
                    }
                }
                Err(e) => {
                    why = e;
                    failed.push(entry);
                }
            }
        }
        if failed.is_empty() {
            break;
        }
        if !down {
            down = true;
            stats.set_connected(false);
            stats.outage(&why);
            tracing::warn!(
                error = %why,
                waiting = failed.len(),
                "The bus did not acknowledge events; holding them and retrying (sources are held too)."
            );
        }
        stats
            .publish_retries
            .fetch_add(failed.len() as u64, Ordering::Relaxed);
        waiting = failed;
        if shutdown.is_cancelled() {
            let since = *given_up_at.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() >= SHUTDOWN_GRACE {
                tracing::error!(
                    events = waiting.len(),
                    "Shutting down with the bus away: these events were not published (counted unsent)."
                );
                return total - waiting.len();
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
    if down {
        tracing::info!("The bus acknowledges events again; flowing.");
    }
    stats.set_connected(true);
    total
}
