//! Lanes: the bounded paths between sources and the pipeline, each with a stated policy when full.
//!
//! - **data** (chat events, polled pages and ticks, [`DataLane`]): bounded in events
//!   (`limits.data_lane_capacity`, default 8192; a page counts its events) and in approximate bytes
//!   (`limits.data_lane_bytes`, default 8 MiB: an item's entry and what its events own on the heap),
//!   so big messages cannot hold unbounded memory and the lane holds a few milliseconds of the
//!   pipeline's work. Inside those bounds each creator has its own queue and a fair share of the
//!   lane ([`admission`]: the bounds divided by the creators the lane serves), and the run loop
//!   takes round-robin over the creators, so one creator's flood delays only its own events.
//!   A connection source's event (Twitch, Kick, a webhook, the paced sim) whose creator holds its
//!   share is **shed** at once and counted per creator ([`CreatorLane::shed`]); a source never
//!   waits on another creator's flood. A sender that can pause instead (a polled page, whose cursor
//!   advances only when the page is taken; the unpaced sim) waits for room. Any sender that finds
//!   the lane as a whole full waits at most `block` (`limits.data_lane_block_ms`, default 250 ms),
//!   then drops the newest item and counts its events ([`CreatorLane::dropped`]); a dropped page is
//!   fetched again. A tick ([`TickSink`]) never waits and never counts against a share: a tick that
//!   finds the lane full is dropped at once and counted (the next one comes a second later), and
//!   ticks never keep the lane open: it still closes when the last source stops.
//! - **control** (shutdown, config reloads) is never dropped: shutdown is a `CancellationToken` every
//!   task selects on, and a reloaded config is a `watch` value (the newest config wins, none is queued).
//! - **telemetry** is shed first: runtime events and errors go to bounded rings
//!   ([`crate::telemetry`]) that forget the oldest entries.

pub mod admission;

use crate::event::{ChatEvent, Platform, Tick};
use admission::{Admission, Mode, Refusal, Slot};
pub use admission::{Bounds, CreatorLane};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;

/// A copy of a lane's counters and depth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaneSnapshot {
    /// The bound in events, and in approximate bytes.
    pub capacity: usize,
    pub bytes_capacity: usize,
    /// Items waiting, and the approximate bytes they hold.
    pub depth: usize,
    pub bytes: usize,
    /// Events taken, shed past their creator's share, and dropped by a full lane.
    pub sent: u64,
    pub shed: u64,
    pub dropped: u64,
    /// Ticks of the creators' clocks handed to the lane, and dropped because it was full.
    pub ticks_sent: u64,
    pub ticks_dropped: u64,
    /// Each creator's share of the lane now (events).
    pub share: usize,
    /// The same counters per creator.
    pub creators: BTreeMap<String, CreatorLane>,
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
    /// Events of one shard of the bus's event stream (`ss run --role evaluate|export`), recorded
    /// with the shard's cursor in one transaction, like a page.
    Shard(ShardBatch),
    /// A shard's state from a snapshot of the bus, for an evaluator taking the shard: loaded into
    /// the store and the core before the shard's next batch.
    ShardState(ShardState),
}

impl Inbound {
    /// Chat events inside.
    pub fn events(&self) -> u64 {
        match self {
            Inbound::Event(_) => 1,
            Inbound::Page(page) => page.events.len() as u64,
            Inbound::Shard(batch) => batch.event_count() as u64,
            Inbound::Tick(_) | Inbound::ShardState(_) => 0,
        }
    }

    fn creator(&self) -> &str {
        match self {
            Inbound::Event(event) => &event.creator,
            Inbound::Page(page) => &page.creator,
            Inbound::Tick(tick) => &tick.creator,
            Inbound::Shard(_) | Inbound::ShardState(_) => SHARD_SLOT,
        }
    }
}

/// The lane queue shard readers send through when their sink has no creator of its own (each
/// reader is given one: `shard N (bus)`).
const SHARD_SLOT: &str = "shards (bus)";

/// Items read from one shard of the bus's event stream, and the stream sequence of the last one.
#[derive(Debug)]
pub struct ShardBatch {
    /// The event stream's name.
    pub stream: String,
    pub shard: u32,
    /// Chat events and clock ticks, in stream order.
    pub items: Vec<StreamItem>,
    /// The stream sequence of the last item in `items`.
    pub last_seq: u64,
}

impl ShardBatch {
    /// The chat events of the batch (ticks are not events).
    pub fn event_count(&self) -> usize {
        self.items
            .iter()
            .filter(|item| matches!(item, StreamItem::Event(_)))
            .count()
    }

    /// The clock ticks of the batch.
    pub fn tick_count(&self) -> usize {
        self.items
            .iter()
            .filter(|item| matches!(item, StreamItem::Tick(_)))
            .count()
    }
}

/// A shard snapshot downloaded for loading, with what the core starts from for the shard's
/// creators (read from the snapshot: their moderation strikes, recent message ids and links), and
/// who waits for the outcome.
pub struct ShardState {
    pub stream: String,
    pub shard: u32,
    /// The snapshot, a store file.
    pub snapshot: std::path::PathBuf,
    /// Whether a creator is one of the shard's.
    pub in_shard: Box<dyn Fn(&str) -> bool + Send>,
    pub strikes: Vec<crate::actions::moderation::StrikeRecord>,
    pub recent_keys: Vec<(Platform, String)>,
    pub links: Vec<crate::actions::community::LinkEntry>,
    pub done: tokio::sync::oneshot::Sender<Result<crate::store::shard_state::Imported, String>>,
}

impl std::fmt::Debug for ShardState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardState")
            .field("shard", &self.shard)
            .field("snapshot", &self.snapshot)
            .finish_non_exhaustive()
    }
}

/// One item of the bus's event stream: a chat event, or a tick of its creator's clock (ingest
/// publishes both, so every reader of a shard meets the ticks where the live run met them).
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum StreamItem {
    Event(ChatEvent),
    Tick(Tick),
    /// A state change of a clip ingest made (`crate::bus::clips`).
    Clip(Box<crate::store::ClipStateChange>),
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

/// What happened to an event handed to the data lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    Accepted,
    /// Its creator held its share of the lane; the event was shed at once and counted.
    Shed,
    /// The lane stayed full for the whole block time; the event was dropped and counted.
    Dropped,
    /// The pipeline has stopped; nothing more will be read.
    Closed,
}

struct State {
    admission: Admission,
    /// Every [`EventSink`] is gone: the lane closes once drained.
    senders_gone: bool,
    /// The reader is gone or closed: nothing more is taken.
    receiver_gone: bool,
    /// Senders waiting for room (woken after each take).
    waiting: usize,
}

struct Shared {
    state: Mutex<State>,
    /// The reader waits here for the first item into an empty lane.
    items: Notify,
    /// Waiting senders wait here for room.
    space: Notify,
    senders: AtomicUsize,
    block: Duration,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The sending side of the data lane, one clone per source; [`EventSink::for_creator`] binds a
/// clone to its creator's queue once, so sending looks nothing up.
pub struct EventSink {
    shared: Arc<Shared>,
    slot: Option<Slot>,
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSink")
            .field("slot", &self.slot)
            .finish()
    }
}

impl Clone for EventSink {
    fn clone(&self) -> EventSink {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        EventSink {
            shared: self.shared.clone(),
            slot: self.slot,
        }
    }
}

impl Drop for EventSink {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.lock().senders_gone = true;
            self.shared.items.notify_one();
        }
    }
}

impl EventSink {
    /// A clone bound to `creator`'s queue (a source's sink: every item it sends is that creator's).
    /// It gives the creator its place, and so its share, in the lane from now on.
    pub fn for_creator(&self, creator: &str) -> EventSink {
        let slot = self.shared.lock().admission.slot(creator);
        let mut sink = self.clone();
        sink.slot = Some(slot);
        sink
    }

    /// Sends one event of a connection source: shed at once while its creator holds its share.
    pub async fn send(&self, event: ChatEvent) -> SendOutcome {
        self.send_item(Inbound::Event(event), Mode::Shed).await
    }

    /// Sends a burst of events of a source that can pause (the unpaced sim), in order: past its
    /// creator's share an event waits for room instead of being shed, at most the block time, and
    /// is then dropped and counted while the ones after it are still sent. The lane's lock is
    /// taken once for as many events as there is room for, not once per event. `accepted` is
    /// called with each accepted event's time. False once the lane has closed (the rest are not
    /// sent).
    pub async fn send_waiting_all(
        &self,
        events: impl IntoIterator<Item = ChatEvent>,
        mut accepted: impl FnMut(chrono::DateTime<chrono::Utc>),
    ) -> bool {
        let shared = &*self.shared;
        let mut events = events.into_iter();
        let mut next = events.next();
        while let Some(mut event) = next.take() {
            let mut woke_reader = false;
            let no_room = {
                let mut state = shared.lock();
                if state.receiver_gone {
                    return false;
                }
                loop {
                    let at = event.timestamp;
                    let slot = match self.slot {
                        Some(slot) => slot,
                        None => state.admission.slot(&event.creator),
                    };
                    match state
                        .admission
                        .offer(slot, Inbound::Event(event), Mode::Wait)
                    {
                        Ok(was_empty) => {
                            woke_reader |= was_empty;
                            accepted(at);
                        }
                        Err((_, Refusal::Shed)) => {}
                        Err((item, Refusal::Full)) => break Some((slot, item, at)),
                    }
                    match events.next() {
                        Some(more) => event = more,
                        None => break None,
                    }
                }
            };
            if woke_reader {
                shared.items.notify_one();
            }
            let Some((slot, item, at)) = no_room else {
                return true;
            };
            match self.wait_for_room(slot, item, Mode::Wait).await {
                SendOutcome::Accepted => accepted(at),
                SendOutcome::Closed => return false,
                SendOutcome::Shed | SendOutcome::Dropped => {}
            }
            next = events.next();
        }
        true
    }

    /// Sends a polled page (its events and checkpoint travel and are recorded together): taken
    /// whole or not at all, waiting for room at most the block time.
    pub async fn send_page(&self, page: Page) -> SendOutcome {
        self.send_item(Inbound::Page(page), Mode::Wait).await
    }

    /// Sends a shard's batch, waiting as long as it takes for room (never shed, never dropped:
    /// the stream keeps what the reader has not read, so a full lane only slows the reader).
    /// False once the lane closed.
    pub async fn send_shard(&self, batch: ShardBatch) -> bool {
        self.send_item(Inbound::Shard(batch), Mode::Hold).await == SendOutcome::Accepted
    }

    /// Sends a shard's state to load, waiting as long as it takes for room. False once the lane
    /// closed.
    pub async fn send_shard_state(&self, state: ShardState) -> bool {
        self.send_item(Inbound::ShardState(state), Mode::Hold).await == SendOutcome::Accepted
    }

    /// The sending side for ticks: it does not keep the lane open.
    pub fn ticks(&self) -> TickSink {
        TickSink {
            shared: self.shared.clone(),
        }
    }

    async fn send_item(&self, item: Inbound, mode: Mode) -> SendOutcome {
        let shared = &*self.shared;
        let (slot, item) = {
            let mut state = shared.lock();
            if state.receiver_gone {
                return SendOutcome::Closed;
            }
            let slot = match self.slot {
                Some(slot) => slot,
                None => state.admission.slot(item.creator()),
            };
            match state.admission.offer(slot, item, mode) {
                Ok(was_empty) => {
                    drop(state);
                    if was_empty {
                        shared.items.notify_one();
                    }
                    return SendOutcome::Accepted;
                }
                Err((_, Refusal::Shed)) => return SendOutcome::Shed,
                Err((item, Refusal::Full)) => (slot, item),
            }
        };
        self.wait_for_room(slot, item, mode).await
    }

    /// Waits for room for `item` (refused as full), at most the block time unless `mode` holds.
    async fn wait_for_room(&self, slot: Slot, mut item: Inbound, mode: Mode) -> SendOutcome {
        let shared = &*self.shared;
        // No room now: wait for the reader to take some, at most the block time.
        let deadline = tokio::time::Instant::now() + shared.block;
        loop {
            let notified = shared.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = shared.lock();
                if state.receiver_gone {
                    return SendOutcome::Closed;
                }
                match state.admission.offer(slot, item, mode) {
                    Ok(was_empty) => {
                        drop(state);
                        if was_empty {
                            shared.items.notify_one();
                        }
                        return SendOutcome::Accepted;
                    }
                    Err((_, Refusal::Shed)) => return SendOutcome::Shed,
                    Err((back, Refusal::Full)) => item = back,
                }
                state.waiting += 1;
            }
            let timed_out = if mode == Mode::Hold {
                notified.await;
                false
            } else {
                tokio::time::timeout_at(deadline, notified).await.is_err()
            };
            let mut state = shared.lock();
            state.waiting -= 1;
            if timed_out {
                state.admission.dropped(slot, item.events());
                return SendOutcome::Dropped;
            }
        }
    }
}

/// Sends ticks into the data lane without holding it open: once every source has stopped (and
/// dropped its [`EventSink`]), ticks are refused as `Closed` and the lane can close.
#[derive(Clone)]
pub struct TickSink {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TickSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TickSink").finish_non_exhaustive()
    }
}

impl TickSink {
    /// Sends one tick now, or drops and counts it when the lane is full.
    pub fn send(&self, tick: Tick) -> SendOutcome {
        let mut state = self.shared.lock();
        if state.senders_gone || state.receiver_gone {
            return SendOutcome::Closed;
        }
        let slot = state.admission.slot(&tick.creator);
        match state.admission.offer_tick(slot, Inbound::Tick(tick)) {
            Some(was_empty) => {
                drop(state);
                if was_empty {
                    self.shared.items.notify_one();
                }
                SendOutcome::Accepted
            }
            None => SendOutcome::Dropped,
        }
    }
}

/// The reading side of the data lane (the run loop): items round-robin over the creators.
pub struct LaneReceiver {
    shared: Arc<Shared>,
}

impl LaneReceiver {
    /// Waits for items and moves up to `limit` of them into `buf`; 0 once the lane is closed and
    /// empty. Cancel-safe: items are taken only when it returns.
    pub async fn recv_many(&mut self, buf: &mut Vec<Inbound>, limit: usize) -> usize {
        loop {
            if let Some(n) = self.take(buf, limit) {
                return n;
            }
            self.shared.items.notified().await;
        }
    }

    /// The next item, `None` once the lane is closed and empty.
    pub async fn recv(&mut self) -> Option<Inbound> {
        let mut one = Vec::with_capacity(1);
        match self.recv_many(&mut one, 1).await {
            0 => None,
            _ => one.pop(),
        }
    }

    /// The next item if one is waiting.
    pub fn try_recv(&mut self) -> Result<Inbound, tokio::sync::mpsc::error::TryRecvError> {
        let mut one = Vec::with_capacity(1);
        match self.take(&mut one, 1) {
            Some(1) => Ok(one.pop().expect("one item taken")),
            Some(_) => Err(tokio::sync::mpsc::error::TryRecvError::Disconnected),
            None => Err(tokio::sync::mpsc::error::TryRecvError::Empty),
        }
    }

    /// Refuses every send from now on (`Closed`); what is queued can still be taken.
    pub fn close(&mut self) {
        self.shared.lock().receiver_gone = true;
        self.shared.space.notify_waiters();
    }

    /// Takes what is there: `Some(n)` with n > 0, `Some(0)` when closed and empty, `None` when the
    /// reader must wait.
    fn take(&mut self, buf: &mut Vec<Inbound>, limit: usize) -> Option<usize> {
        let mut state = self.shared.lock();
        let n = state.admission.take(buf, limit);
        if n > 0 {
            let waiting = state.waiting > 0;
            drop(state);
            if waiting {
                self.shared.space.notify_waiters();
            }
            return Some(n);
        }
        (state.senders_gone || state.receiver_gone).then_some(0)
    }
}

impl Drop for LaneReceiver {
    fn drop(&mut self) {
        self.close();
    }
}

/// The data lane: its sink (cloned into sources), its receiver (the pipeline) and its counters.
pub struct DataLane {
    pub sink: EventSink,
    pub receiver: LaneReceiver,
}

impl DataLane {
    /// A lane bounded at `capacity` events and a KiB per event (`ss run` sets both bounds from
    /// `system.json` `limits` through [`DataLane::bounded`]).
    pub fn new(capacity: usize, block: Duration) -> DataLane {
        DataLane::bounded(
            Bounds {
                events: capacity,
                bytes: capacity.saturating_mul(1024),
            },
            block,
        )
    }

    pub fn bounded(bounds: Bounds, block: Duration) -> DataLane {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                admission: Admission::new(bounds),
                senders_gone: false,
                receiver_gone: false,
                waiting: 0,
            }),
            items: Notify::new(),
            space: Notify::new(),
            senders: AtomicUsize::new(1),
            block,
        });
        DataLane {
            sink: EventSink {
                shared: shared.clone(),
                slot: None,
            },
            receiver: LaneReceiver { shared },
        }
    }

    /// A probe that reads depth and counters without holding the receiver.
    pub fn probe(&self) -> LaneProbe {
        LaneProbe {
            shared: self.sink.shared.clone(),
        }
    }
}

/// Reads a lane's depth and counters for snapshots.
#[derive(Clone)]
pub struct LaneProbe {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LaneProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LaneProbe").finish_non_exhaustive()
    }
}

impl LaneProbe {
    pub fn snapshot(&self) -> LaneSnapshot {
        let state = self.shared.lock();
        let a = &state.admission;
        let creators = a.creators();
        let sum = |f: fn(&CreatorLane) -> u64| creators.values().map(f).sum::<u64>();
        LaneSnapshot {
            capacity: a.bounds().events,
            bytes_capacity: a.bounds().bytes,
            depth: a.depth(),
            bytes: a.held().bytes,
            sent: sum(|c| c.sent),
            shed: sum(|c| c.shed),
            dropped: sum(|c| c.dropped),
            ticks_sent: sum(|c| c.ticks_sent),
            ticks_dropped: sum(|c| c.ticks_dropped),
            share: a.share().events,
            creators,
        }
    }

    /// Items waiting in the lane (what the service watchdog looks at).
    pub fn depth(&self) -> usize {
        self.shared.lock().admission.depth()
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
    async fn a_burst_waits_for_room_and_arrives_whole_and_in_order() {
        let lane = DataLane::new(4, Duration::from_millis(250));
        let probe = lane.probe();
        let sink = lane.sink.for_creator("demo");
        let mut rx = lane.receiver;
        let reader = tokio::spawn(async move {
            let mut ids = Vec::new();
            let mut batch = Vec::new();
            while ids.len() < 10 {
                batch.clear();
                rx.recv_many(&mut batch, 3).await;
                for item in batch.drain(..) {
                    let Inbound::Event(event) = item else {
                        panic!("an event")
                    };
                    ids.push(event.message_id.to_string());
                }
                // The reader is slower than the burst: the sender has to wait for room.
                tokio::task::yield_now().await;
            }
            ids
        });
        let mut accepted = 0;
        let burst: Vec<ChatEvent> = (0..10).map(|n| event(&n.to_string())).collect();
        assert!(sink.send_waiting_all(burst, |_| accepted += 1).await);
        let ids = reader.await.unwrap();
        let sent: Vec<String> = (0..10).map(|n| n.to_string()).collect();
        assert_eq!(ids, sent);
        assert_eq!(accepted, 10);
        let snap = probe.snapshot();
        assert_eq!((snap.sent, snap.shed, snap.dropped), (10, 0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_into_a_lane_nobody_reads_drops_each_event_after_the_block_time() {
        let lane = DataLane::new(2, Duration::from_millis(250));
        let probe = lane.probe();
        let before = tokio::time::Instant::now();
        let mut accepted = Vec::new();
        let burst: Vec<ChatEvent> = (0..5).map(|n| event(&n.to_string())).collect();
        assert!(
            lane.sink
                .send_waiting_all(burst, |at| accepted.push(at))
                .await
        );
        assert_eq!(accepted.len(), 2);
        assert_eq!(
            tokio::time::Instant::now() - before,
            Duration::from_millis(750),
            "each of the three without room waited the block time"
        );
        let snap = probe.snapshot();
        assert_eq!((snap.depth, snap.sent, snap.dropped), (2, 2, 3));
        drop(lane.receiver);
        let burst: Vec<ChatEvent> = (5..7).map(|n| event(&n.to_string())).collect();
        assert!(
            !lane
                .sink
                .send_waiting_all(burst, |_| panic!("nothing is accepted"))
                .await,
            "a closed lane says so"
        );
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

    #[tokio::test(start_paused = true)]
    async fn a_flood_past_its_share_is_shed_at_once_and_another_creator_goes_next() {
        let lane = DataLane::new(64, Duration::from_millis(250));
        let probe = lane.probe();
        let flood = lane.sink.for_creator("flood");
        let quiet = lane.sink.for_creator("quiet");
        let before = tokio::time::Instant::now();
        let mut outcomes = Vec::new();
        for n in 0..100 {
            let mut e = event(&format!("f{n}"));
            e.creator = "flood".into();
            outcomes.push(flood.send(e).await);
        }
        assert_eq!(tokio::time::Instant::now(), before, "shedding never waits");
        assert!(outcomes[..32].iter().all(|o| *o == SendOutcome::Accepted));
        assert!(outcomes[32..].iter().all(|o| *o == SendOutcome::Shed));
        let mut e = event("q0");
        e.creator = "quiet".into();
        assert_eq!(quiet.send(e).await, SendOutcome::Accepted);
        let snap = probe.snapshot();
        assert_eq!(
            (snap.sent, snap.shed, snap.dropped, snap.share),
            (33, 68, 0, 32)
        );
        assert_eq!(
            (snap.creators["flood"].received, snap.creators["flood"].shed),
            (100, 68)
        );
        let mut rx = lane.receiver;
        let mut batch = Vec::new();
        assert_eq!(rx.recv_many(&mut batch, 512).await, 33);
        let Inbound::Event(e) = &batch[admission::QUANTUM] else {
            panic!("an event")
        };
        assert_eq!(
            e.message_id, "q0",
            "the quiet creator's turn comes after one quantum"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_page_waits_for_room_and_is_taken_whole() {
        let lane = DataLane::new(16, Duration::from_millis(250));
        let poller = lane.sink.for_creator("demo");
        let page = |cursor: &str, n: usize| Page {
            creator: "demo".into(),
            platform: Platform::named("sim"),
            events: (0..n).map(|i| event(&format!("{cursor}-{i}"))).collect(),
            cursor: cursor.into(),
        };
        assert_eq!(
            poller.send_page(page("p1", 16)).await,
            SendOutcome::Accepted
        );
        let waiting = tokio::spawn(async move { poller.send_page(page("p2", 5)).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "the second page waits for room");
        let mut rx = lane.receiver;
        let Some(Inbound::Page(first)) = rx.recv().await else {
            panic!("a page")
        };
        assert_eq!(first.events.len(), 16);
        assert_eq!(waiting.await.unwrap(), SendOutcome::Accepted);
        let Some(Inbound::Page(second)) = rx.recv().await else {
            panic!("a page")
        };
        assert_eq!((second.cursor.as_str(), second.events.len()), ("p2", 5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_page_is_dropped_whole_after_the_block_time_and_counted() {
        let lane = DataLane::new(16, Duration::from_millis(250));
        let probe = lane.probe();
        let poller = lane.sink.for_creator("demo");
        let page = |n: usize| Page {
            creator: "demo".into(),
            platform: Platform::named("sim"),
            events: (0..n).map(|i| event(&i.to_string())).collect(),
            cursor: "c".into(),
        };
        assert_eq!(poller.send_page(page(16)).await, SendOutcome::Accepted);
        assert_eq!(poller.send_page(page(5)).await, SendOutcome::Dropped);
        let snap = probe.snapshot();
        assert_eq!((snap.sent, snap.shed, snap.dropped), (16, 0, 5));
        assert_eq!(snap.creators["demo"].received, 21);
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
