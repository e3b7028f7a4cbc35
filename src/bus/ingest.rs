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
//! has not stored. The clock's ticks (ingest alone knows whether a creator is live) are published
//! too, one message per shard and round (see [`super::ticks`]), placed where the round's first tick
//! was among the events.

use super::Bus;
use super::names::shard_of;
use super::stats::{BusStats, bump};
use super::ticks::Round;
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
        // Each round of ticks goes where its first tick was, among the events.
        let ticks = items.iter().enumerate().filter_map(|(i, item)| match item {
            Inbound::Tick(tick) => Some((i, tick)),
            _ => None,
        });
        let mut rounds = super::ticks::rounds(ticks, |c| shard_of(c, bus.settings.shards))
            .into_iter()
            .peekable();
        let mut outgoing: Vec<Outgoing> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            while let Some((_, shard, round)) = rounds.next_if(|(at, _, _)| *at == i) {
                outgoing.push(Outgoing::round(bus, shard, &round));
            }
            match item {
                Inbound::Event(event) => outgoing.push(Outgoing::event(bus, event)),
                Inbound::Page(page) => {
                    outgoing.extend(page.events.iter().map(|e| Outgoing::event(bus, e)));
                }
                Inbound::Tick(_) | Inbound::Shard(_) | Inbound::ShardState(_) => {}
            }
        }
        let events = outgoing.iter().filter(|o| o.ticks == 0).count();
        let acked = publish_all(bus, outgoing, stats, shutdown).await;
        out.events += acked as u64;
        if acked < events {
            out.unsent += (events - acked) as u64;
            // Given up at shutdown: no checkpoint moves past what was not stored.
            items.clear();
            while let Ok(item) = receiver.try_recv() {
                out.unsent += item.events();
                if let Inbound::Tick(_) = item {
                    bump(&stats.ticks_unsent);
                }
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

/// One message for the events stream: its subject, its dedupe id and its payload.
struct Outgoing {
    subject: String,
    id: String,
    payload: Bytes,
    /// The clock ticks it carries (a round), or 0 for an event.
    ticks: u64,
}

impl Outgoing {
    fn event(bus: &Bus, event: &ChatEvent) -> Outgoing {
        Outgoing {
            subject: bus.names.event_subject(
                shard_of(&event.creator, bus.settings.shards),
                event.platform,
                &event.creator,
            ),
            id: format!("{}:{}", event.platform.as_str(), event.message_id),
            payload: Bytes::from(serde_json::to_vec(event).unwrap_or_default()),
            ticks: 0,
        }
    }

    fn round(bus: &Bus, shard: u32, round: &Round) -> Outgoing {
        Outgoing {
            subject: bus.names.tick_subject(shard),
            id: round.id(shard),
            payload: Bytes::from(serde_json::to_vec(round).unwrap_or_default()),
            ticks: round.ticks.len() as u64,
        }
    }
}

/// Publishes every message and waits for every acknowledgement, retrying the unacknowledged ones
/// with the same ids. Returns how many events (not ticks) were acknowledged: all, unless shutdown
/// began and the server stayed away for [`SHUTDOWN_GRACE`].
async fn publish_all(
    bus: &Bus,
    mut waiting: Vec<Outgoing>,
    stats: &BusStats,
    shutdown: &CancellationToken,
) -> usize {
    let mut acked_events = 0;
    let mut delay = Duration::from_millis(50);
    let mut given_up_at: Option<tokio::time::Instant> = None;
    let mut down = false;
    while !waiting.is_empty() {
        let mut acks = Vec::with_capacity(waiting.len());
        for message in &waiting {
            let publish = jetstream::message::PublishMessage::build()
                .message_id(message.id.as_str())
                .payload(message.payload.clone());
            acks.push(bus.js.send_publish(message.subject.clone(), publish).await);
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
                Ok(_) if entry.ticks > 0 => {
                    stats
                        .ticks_published
                        .fetch_add(entry.ticks, Ordering::Relaxed);
                }
                Ok(ack) => {
                    acked_events += 1;
                    bump(&stats.published);
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
                let ticks: u64 = waiting.iter().map(|m| m.ticks).sum();
                stats.ticks_unsent.fetch_add(ticks, Ordering::Relaxed);
                tracing::error!(
                    events = waiting.iter().filter(|m| m.ticks == 0).count(),
                    ticks,
                    "Shutting down with the bus away: these events and clock ticks were not published (counted unsent)."
                );
                return acked_events;
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
    if down {
        tracing::info!("The bus acknowledges events again; flowing.");
    }
    stats.set_connected(true);
    acked_events
}
