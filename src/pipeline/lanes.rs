//! Lanes: the bounded paths between sources and the pipeline, each with a stated policy when full.
//!
//! - **data** (chat events, [`DataLane`]): a full lane blocks the sending source for at most `block`
//!   (default 250 ms), then drops the newest event *and counts it* in [`LaneStats::dropped`]. Sources
//!   never wait forever and memory never grows without bound.
//! - **control** (shutdown, config reloads) is never dropped: shutdown is a `CancellationToken` every
//!   task selects on, and a reloaded config is a `watch` value (the newest config wins, none is queued).
//! - **telemetry** is shed first: runtime events and errors go to bounded rings
//!   ([`crate::pipeline::telemetry`]) that forget the oldest entries.

use crate::event::ChatEvent;
pub use crate::export::runtime_view::LaneSnapshot;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Counters of one lane, shared by its senders and readable by the exporter.
#[derive(Debug, Default)]
pub struct LaneStats {
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
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
    tx: mpsc::Sender<ChatEvent>,
    block: Duration,
    stats: Arc<LaneStats>,
}

impl EventSink {
    /// Sends one event under the data-lane policy.
    pub async fn send(&self, event: ChatEvent) -> SendOutcome {
        let outcome = match self.tx.try_send(event) {
            Ok(()) => SendOutcome::Accepted,
            Err(mpsc::error::TrySendError::Closed(_)) => SendOutcome::Closed,
            Err(mpsc::error::TrySendError::Full(event)) => {
                match tokio::time::timeout(self.block, self.tx.send(event)).await {
                    Ok(Ok(())) => SendOutcome::Accepted,
                    Ok(Err(_)) => SendOutcome::Closed,
                    Err(_) => SendOutcome::Dropped,
                }
            }
        };
        match outcome {
            SendOutcome::Accepted => self.stats.sent.fetch_add(1, Ordering::Relaxed),
            SendOutcome::Dropped => self.stats.dropped.fetch_add(1, Ordering::Relaxed),
            SendOutcome::Closed => 0,
        };
        outcome
    }
}

/// The data lane: its sink (cloned into sources), its receiver (the pipeline) and its counters.
pub struct DataLane {
    pub sink: EventSink,
    pub receiver: mpsc::Receiver<ChatEvent>,
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
    tx: mpsc::WeakSender<ChatEvent>,
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Author, EventKind, Platform};

    fn event(id: &str) -> ChatEvent {
        ChatEvent {
            platform: Platform::Sim,
            creator: "demo".into(),
            channel: "demo".into(),
            message_id: id.into(),
            timestamp: chrono::Utc::now(),
            kind: EventKind::Message,
            author: Author::default(),
            text: "hi".into(),
            emotes: Default::default(),
            extras: Default::default(),
        }
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
        assert_eq!(rx.recv().await.unwrap().message_id, "1");
        assert_eq!(rx.recv().await.unwrap().message_id, "2");
    }
}
