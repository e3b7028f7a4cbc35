//! Lanes: the bounded paths between sources and the pipeline, each with a stated policy when full.
//!
//! - **data** (chat events, polled pages and ticks, [`DataLane`]): a full lane blocks the sending
//!   source for at most `block` (default 250 ms), then drops the newest item *and counts its events*
//!   in [`LaneStats::dropped`]. Sources never wait forever and memory never grows without bound (a
//!   page holds at most one platform response). A tick ([`TickSink`]) never waits: a tick that finds
//!   the lane full is dropped at once and counted in [`LaneStats::ticks_dropped`] (the next one
//!   comes a second later, and a late tick is worth less than a chat message), and ticks never keep
//!   the lane open: it still closes when the last source stops.
//! - **control** (shutdown, config reloads) is never dropped: shutdown is a `CancellationToken` every
//!   task selects on, and a reloaded config is a `watch` value (the newest config wins, none is queued).
//! - **telemetry** is shed first: runtime events and errors go to bounded rings
//!   ([`crate::telemetry`]) that forget the oldest entries.

use crate::event::{ChatEvent, Platform, Tick};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// A copy of a lane's counters and depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LaneSnapshot {
    pub capacity: usize,
    pub depth: usize,
    pub sent: u64,
    pub dropped: u64,
    /// Ticks of the creators' clocks handed to the lane, and dropped because it was full.
    pub ticks_sent: u64,
    pub ticks_dropped: u64,
}

/// What travels on the data lane.
// Single events are the hot path: boxing them to shrink the enum would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Inbound {
    /// One event from a connection-based source.
    Event(ChatEvent),
    /// A polled page: recorded with its checkpoint in one transaction.
    Page(Page),
    /// A tick of one creator's clock (`crate::pipeline::clock`).
    Tick(Tick),
    /// Events of one shard of the bus's event stream (`ss run --role evaluate`), recorded with the
    /// shard's cursor in one transaction, like a page.
    Shard(ShardBatch),
}

impl Inbound {
    /// Chat events inside.
    pub fn events(&self) -> u64 {
        match self {
            Inbound::Event(_) => 1,
            Inbound::Page(page) => page.events.len() as u64,
            Inbound::Shard(batch) => batch.events.len() as u64,
            Inbound::Tick(_) => 0,
        }
    }
}

/// A page of events from a polling source and the cursor after them.
#[derive(Debug)]
pub struct Page {
    pub creator: String,
    pub platform: Platform,
    pub events: Vec<ChatEvent>,
    /// Where the source resumes after this page (committed with its events).
    pub cursor: String,
}

/// Events read from one shard of the bus's event stream, and the stream sequence of the last one.
#[derive(Debug)]
pub struct ShardBatch {
    /// The event stream's name.
    pub stream: String,
    pub shard: u32,
    pub events: Vec<ChatEvent>,
    /// The stream sequence of the last event in `events`.
    pub last_seq: u64,
}

/// Counters of one lane, shared by its senders and readable by the exporter. `sent` and `dropped`
/// count events; ticks are counted apart.
#[derive(Debug, Default)]
pub struct LaneStats {
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
    pub ticks_sent: AtomicU64,
    pub ticks_dropped: AtomicU64,
}

/// What happened to an event handed to the data lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    Accepted,
    /// The lane stayed full for the whole block time; the event was dropped and counted.
    Dropped,
    /// The pipeline has stopped; nothing more will be read.
    Closed,
}

/// The sending side of the data lane, one clone per source.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: mpsc::Sender<Inbound>,
    block: Duration,
    stats: Arc<LaneStats>,
}

impl EventSink {
    /// Sends one event under the data-lane policy.
    pub async fn send(&self, event: ChatEvent) -> SendOutcome {
        self.send_item(Inbound::Event(event)).await
    }

    /// Sends a polled page (its events and checkpoint travel and are recorded together).
    pub async fn send_page(&self, page: Page) -> SendOutcome {
        self.send_item(Inbound::Page(page)).await
    }

    /// Sends a shard's batch, waiting while the lane is full: never dropped, since the stream keeps
    /// what the evaluator has not read yet and the reader simply falls behind. False once closed.
    pub async fn send_shard(&self, batch: ShardBatch) -> bool {
        let events = batch.events.len() as u64;
        let sent = self.tx.send(Inbound::Shard(batch)).await.is_ok();
        if sent {
            self.stats.sent.fetch_add(events, Ordering::Relaxed);
        }
        sent
    }

    /// The sending side for ticks: it does not keep the lane open.
    pub fn ticks(&self) -> TickSink {
        TickSink {
            tx: self.tx.downgrade(),
            stats: self.stats.clone(),
        }
    }

    async fn send_item(&self, item: Inbound) -> SendOutcome {
        let events = item.events();
        let outcome = match self.tx.try_send(item) {
            Ok(()) => SendOutcome::Accepted,
            Err(mpsc::error::TrySendError::Closed(_)) => SendOutcome::Closed,
            Err(mpsc::error::TrySendError::Full(item)) => {
                match tokio::time::timeout(self.block, self.tx.send(item)).await {
                    Ok(Ok(())) => SendOutcome::Accepted,
                    Ok(Err(_)) => SendOutcome::Closed,
                    Err(_) => SendOutcome::Dropped,
                }
            }
        };
        match outcome {
            SendOutcome::Accepted => self.stats.sent.fetch_add(events, Ordering::Relaxed),
            SendOutcome::Dropped => self.stats.dropped.fetch_add(events, Ordering::Relaxed),
            SendOutcome::Closed => 0,
        };
        outcome
    }
}

/// Sends ticks into the data lane without holding it open: once every source has stopped (and
/// dropped its [`EventSink`]), ticks are refused as `Closed` and the lane can close.
#[derive(Debug, Clone)]
pub struct TickSink {
    tx: mpsc::WeakSender<Inbound>,
    stats: Arc<LaneStats>,
}

impl TickSink {
    /// Sends one tick now, or drops and counts it when the lane is full.
    pub fn send(&self, tick: Tick) -> SendOutcome {
        let Some(tx) = self.tx.upgrade() else {
            return SendOutcome::Closed;
        };
        match tx.try_send(Inbound::Tick(tick)) {
            Ok(()) => {
                self.stats.ticks_sent.fetch_add(1, Ordering::Relaxed);
                SendOutcome::Accepted
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stats.ticks_dropped.fetch_add(1, Ordering::Relaxed);
                SendOutcome::Dropped
            }
            Err(mpsc::error::TrySendError::Closed(_)) => SendOutcome::Closed,
        }
    }
}

/// The data lane: its sink (cloned into sources), its receiver (the pipeline) and its counters.
pub struct DataLane {
    pub sink: EventSink,
    pub receiver: mpsc::Receiver<Inbound>,
    capacity: usize,
}

impl DataLane {
    pub fn new(capacity: usize, block: Duration) -> DataLane {
        let (tx, receiver) = mpsc::channel(capacity);
        DataLane {
            sink: EventSink {
                tx,
                block,
                stats: Arc::new(LaneStats::default()),
            },
            receiver,
            capacity,
        }
    }

    /// A probe that reads depth and counters without holding the receiver.
    pub fn probe(&self) -> LaneProbe {
        LaneProbe {
            tx: self.sink.tx.clone().downgrade(),
            stats: self.sink.stats.clone(),
            capacity: self.capacity,
        }
    }
}

/// Reads a lane's depth and counters for snapshots.
#[derive(Debug, Clone)]
pub struct LaneProbe {
    tx: mpsc::WeakSender<Inbound>,
    stats: Arc<LaneStats>,
    capacity: usize,
}

impl LaneProbe {
    pub fn snapshot(&self) -> LaneSnapshot {
        let depth = self
            .tx
            .upgrade()
            .map_or(0, |tx| self.capacity - tx.capacity());
        LaneSnapshot {
            capacity: self.capacity,
            depth,
            sent: self.stats.sent.load(Ordering::Relaxed),
            dropped: self.stats.dropped.load(Ordering::Relaxed),
            ticks_sent: self.stats.ticks_sent.load(Ordering::Relaxed),
            ticks_dropped: self.stats.ticks_dropped.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Author;

    fn event(id: &str) -> ChatEvent {
        let at = chrono::Utc::now();
        ChatEvent::message(
            Platform::named("sim"),
            "demo",
            id,
            at,
            Author::default(),
            "hi",
        )
    }

    #[tokio::test(start_paused = true)]
    async fn full_data_lane_blocks_then_drops_newest_and_counts() {
        let lane = DataLane::new(2, Duration::from_millis(250));
        let probe = lane.probe();
        assert_eq!(lane.sink.send(event("1")).await, SendOutcome::Accepted);
        assert_eq!(lane.sink.send(event("2")).await, SendOutcome::Accepted);
        assert_eq!(lane.sink.send(event("3")).await, SendOutcome::Dropped);
        let snap = probe.snapshot();
        assert_eq!((snap.depth, snap.sent, snap.dropped), (2, 2, 1));
        let mut rx = lane.receiver;
        for id in ["1", "2"] {
            let Some(Inbound::Event(event)) = rx.recv().await else {
                panic!("an event")
            };
            assert_eq!(event.message_id, id);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_tick_into_a_full_lane_is_dropped_at_once_and_counted_apart_from_events() {
        let lane = DataLane::new(1, Duration::from_millis(250));
        let probe = lane.probe();
        let ticks = lane.sink.ticks();
        let at = chrono::Utc::now();
        assert_eq!(ticks.send(Tick::new("demo", at)), SendOutcome::Accepted);
        let before = tokio::time::Instant::now();
        assert_eq!(ticks.send(Tick::new("demo", at)), SendOutcome::Dropped);
        assert_eq!(tokio::time::Instant::now(), before, "a tick never waits");
        let snap = probe.snapshot();
        assert_eq!(
            (snap.sent, snap.dropped, snap.ticks_sent, snap.ticks_dropped),
            (0, 0, 1, 1)
        );
        let mut rx = lane.receiver;
        assert!(matches!(rx.recv().await, Some(Inbound::Tick(_))));
    }

    #[tokio::test]
    async fn ticks_do_not_keep_the_lane_open() {
        let DataLane { sink, receiver, .. } = DataLane::new(4, Duration::from_millis(250));
        let ticks = sink.ticks();
        let mut rx = receiver;
        drop(sink);
        assert_eq!(
            rx.recv().await.map(|_| ()),
            None,
            "closed with the last source"
        );
        assert_eq!(
            ticks.send(Tick::new("demo", chrono::Utc::now())),
            SendOutcome::Closed
        );
    }
}
