//! Reading a shard (or, for the export role, every shard) of the events stream into the data
//! lane, from where this process's store left off.
//!
//! The reader asks the stream for what follows the cursor its store committed (an ordered
//! consumer: no acknowledgements, the server starts at `cursor + 1` and the client re-creates it
//! after a gap), and sends the events, and the creators' clock ticks ingest published among them
//! (a round per message, see [`super::ticks`]), in batches with the sequence of the last one. The run loop
//! records a batch's events, their actions and the cursor in one transaction (`Inbound::Shard`),
//! so the store is the exact fold of the shard's events, and a restart or a new owner resumes
//! after the last commit. A batch is never dropped: when the lane is full the reader waits, and
//! the stream keeps the rest. Before each batch the reader checks that its lease still holds; an
//! evaluator that lost it stops at once.

use super::Bus;
use super::lease::Held;
use super::stats::{BusStats, bump};
use super::ticks::Round;
use crate::event::ChatEvent;
use crate::lanes::{EventSink, ShardBatch, StreamItem};
use crate::store::Readers;
use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures_util::{FutureExt, StreamExt};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The shard number the export role records its cursor of the whole stream under.
pub const ALL_SHARDS: u32 = u32::MAX;
/// The most events in one batch (one transaction).
const BATCH: usize = 512;
/// A reader that hears nothing for this long asks the stream again from where it is: a consumer
/// on a server node that died is not always noticed by the client, and asking again costs one
/// request on a quiet shard.
const IDLE: Duration = Duration::from_secs(5);

/// What a reader reads and for whom.
#[derive(Clone)]
pub struct ShardReader {
    pub bus: Bus,
    /// A shard, or [`ALL_SHARDS`].
    pub shard: u32,
    /// The lease it reads under; `None` for the export role, which holds none.
    pub held: Option<Held>,
    pub sink: EventSink,
    pub readers: Readers,
    pub stats: Arc<BusStats>,
    pub stop: CancellationToken,
    /// Where shard snapshots are downloaded, and the core's dedupe window (see
    /// [`super::snapshots::take_up`]).
    pub snapshot_dir: std::path::PathBuf,
    pub dedupe_window: usize,
}

impl ShardReader {
    /// Reads until stopped, the lease is lost, or the lane closes. Failures of the stream (the
    /// server away) are retried from the committed cursor.
    pub async fn run(mut self) {
        let stream_name = self.bus.names.events_stream();
        // The reader's own queue in the lane, as a creator's source has one.
        self.sink = self.sink.for_creator(&if self.shard == ALL_SHARDS {
            "all shards (bus)".to_owned()
        } else {
            format!("shard {} (bus)", self.shard)
        });
        // A shard this store never folded starts from its latest snapshot, if there is one.
        if self.held.is_some() {
            self.take_up_snapshot().await;
        }
        // The last sequence handed to the lane: a batch in the lane is committed soon, so asking
        // again starts after it (a restart starts after the store's cursor).
        let mut sent = 0;
        loop {
            if self.stop.is_cancelled() || !self.holds() {
                return;
            }
            match self.read(&stream_name, &mut sent).await {
                Ok(Done::Stopped) => return,
                Ok(Done::Again) => continue,
                Ok(Done::Retry) => {}
                Err(e) => {
                    tracing::warn!(shard = self.shard, error = %e, "Reading the events stream failed; resuming from the last committed event.");
                }
            }
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }

    /// Loads the shard's latest snapshot into a store that never folded it. A snapshot that cannot
    /// be loaded is not needed: the shard is then folded from the stream's start.
    async fn take_up_snapshot(&self) {
        let outcome = super::snapshots::take_up(super::snapshots::TakeUp {
            bus: &self.bus,
            shard: self.shard,
            readers: &self.readers,
            sink: &self.sink,
            dir: &self.snapshot_dir,
            dedupe_window: self.dedupe_window,
            stats: &self.stats,
        })
        .await;
        if let Err(e) = outcome {
            bump(&self.stats.snapshots_failed);
            tracing::warn!(shard = self.shard, error = %format!("{e:#}"), "Loading the shard's snapshot failed; folding the shard from the stream instead.");
        }
    }

    /// A message of the events stream: a round of ticks or a clip's state change by its subject,
    /// otherwise a chat event.
    fn decode(&self, subject: &str, payload: &[u8]) -> anyhow::Result<Vec<StreamItem>> {
        if self.bus.names.is_clip_subject(subject) {
            let update: super::clips::ClipUpdate = serde_json::from_slice(payload)?;
            let change = update.into_change().map_err(anyhow::Error::msg)?;
            Ok(vec![StreamItem::Clip(Box::new(change))])
        } else if self.bus.names.is_tick_subject(subject) {
            let round: Round = serde_json::from_slice(payload)?;
            Ok(round
                .into_ticks()
                .into_iter()
                .map(StreamItem::Tick)
                .collect())
        } else {
            Ok(serde_json::from_slice::<ChatEvent>(payload).map(|e| vec![StreamItem::Event(e)])?)
        }
    }

    fn holds(&self) -> bool {
        self.held
            .as_ref()
            .is_none_or(|held| held.epoch(self.shard).is_some())
    }

    async fn read(&self, stream_name: &str, sent: &mut u64) -> anyhow::Result<Done> {
        let stream = self.bus.js.get_stream(stream_name).await?;
        let shard = self.shard;
        let committed = {
            let name = stream_name.to_owned();
            self.readers
                .read(move |r| r.bus_cursor(&name, shard))
                .await??
        };
        let cursor = committed.max(*sent);
        let filter = if shard == ALL_SHARDS {
            self.bus.names.events_filter()
        } else {
            self.bus.names.shard_filter(shard)
        };
        let consumer = stream
            .create_consumer(pull::OrderedConfig {
                filter_subject: filter,
                deliver_policy: if cursor == 0 {
                    DeliverPolicy::All
                } else {
                    DeliverPolicy::ByStartSequence {
                        start_sequence: cursor + 1,
                    }
                },
                ..Default::default()
            })
            .await?;
        let mut messages = consumer.messages().await?;
        loop {
            let first = tokio::select! {
                () = self.stop.cancelled() => return Ok(Done::Stopped),
                () = tokio::time::sleep(IDLE) => return Ok(Done::Again),
                next = messages.next() => next,
            };
            let mut batch = Vec::with_capacity(BATCH);
            match first {
                None => return Ok(Done::Retry),
                Some(message) => batch.push(message?),
            }
            // What has already arrived joins the batch, without waiting for more.
            while batch.len() < BATCH {
                match messages.next().now_or_never() {
                    Some(Some(Ok(message))) => batch.push(message),
                    _ => break,
                }
            }
            let mut items = Vec::with_capacity(batch.len());
            let mut last_seq = cursor;
            let mut pending = 0;
            // The sequence of the batch's last message that is not the clock's.
            let mut last_change = 0;
            for message in &batch {
                let info = message.info().map_err(|e| anyhow::anyhow!("{e}"))?;
                last_seq = info.stream_sequence;
                pending = info.pending;
                match self.decode(&message.subject, &message.payload) {
                    Ok(decoded) => {
                        if !self.bus.names.is_tick_subject(&message.subject) {
                            last_change = last_seq;
                        }
                        items.extend(decoded);
                    }
                    Err(e) => {
                        tracing::warn!(shard, seq = last_seq, subject = %message.subject, error = %e, "A message in the events stream is not a chat event, a tick or a clip's state change it can read; skipped.");
                    }
                }
            }
            if !self.holds() {
                return Ok(Done::Stopped);
            }
            let batch = ShardBatch {
                stream: stream_name.to_owned(),
                shard,
                items,
                last_seq,
            };
            let events = batch.event_count() as u64;
            let ticks = batch.tick_count() as u64;
            let clips = batch.items.len() as u64 - events - ticks;
            if !self.sink.send_shard(batch).await {
                return Ok(Done::Stopped);
            }
            *sent = last_seq;
            self.stats.folded.fetch_add(events, Ordering::Relaxed);
            self.stats.ticks_folded.fetch_add(ticks, Ordering::Relaxed);
            self.stats
                .clip_states_folded
                .fetch_add(clips, Ordering::Relaxed);
            self.stats.read_change(shard, last_change);
            self.stats.advanced(shard, last_seq, pending);
        }
    }
}

enum Done {
    Stopped,
    /// The consumer ended: ask again after a pause.
    Retry,
    /// Nothing heard for [`IDLE`]: ask again at once.
    Again,
}
