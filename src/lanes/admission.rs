//! Admission to the data lane, per creator: each creator has a bounded queue inside the lane's
//! bounds (events and bytes), a fair share of the lane (the bounds divided by the creators the lane
//! serves, at least [`MIN_SHARE_EVENTS`] events and [`MIN_SHARE_BYTES`] bytes), and every item that
//! arrives is decided here ([`Admission::offer`]): taken, shed (a connection source's event while
//! its creator holds its share: counted, never waited for), or refused for now (the lane as a whole
//! is full, or a waiting sender's creator holds its share: the sender waits or drops, and counts).
//! The run loop takes items round-robin over the creators ([`Admission::take`], [`QUANTUM`] items
//! per turn), so a creator's backlog delays only its own events. Pure and synchronous: the lane
//! ([`super`]) holds it under one lock, so each decision sees one state, nothing is random, and the
//! same sequence of offers and takes gives the same decisions. A bus ingest can hold the same
//! state in front of its own queue.

use super::{Inbound, StreamItem};
use crate::event::ChatEvent;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// The least share of the lane's events a creator gets, however many creators share the lane.
pub const MIN_SHARE_EVENTS: usize = 16;
/// The least share of the lane's bytes a creator gets.
pub const MIN_SHARE_BYTES: usize = 16 * 1024;
/// Items taken from one creator's queue before the next creator's turn.
pub const QUANTUM: usize = 32;

/// The lane's bounds: events (a page counts its events, a tick one) and approximate bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub events: usize,
    pub bytes: usize,
}

/// A creator's place in the lane, resolved once per source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot(usize);

/// How a sender takes a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A connection source's event: shed at once while its creator holds its share.
    Shed,
    /// A sender that can pause (a polled page, the unpaced sim): it waits for room instead.
    Wait,
    /// A reader of the bus's stream: it waits for room as long as it takes (the stream keeps the
    /// rest).
    Hold,
}

/// Why an item was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Shed and counted: final.
    Shed,
    /// No room now: the sender may wait for [`Admission::take`] to free some, then drops and counts.
    Full,
}

/// What one creator's senders handed the lane, and what became of it. `received` is the sum of
/// `sent`, `shed` and `dropped` (events); ticks are counted apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CreatorLane {
    pub received: u64,
    pub sent: u64,
    pub shed: u64,
    pub dropped: u64,
    /// Items (events, pages, ticks) of this creator waiting in the lane.
    pub depth: usize,
    pub ticks_sent: u64,
    pub ticks_dropped: u64,
}

struct Queue {
    creator: String,
    items: VecDeque<(Inbound, usize, usize)>,
    events: usize,
    bytes: usize,
    /// Whether the queue is in the round-robin ring.
    ready: bool,
    counts: CreatorLane,
}

/// The lane's queues, shares and counters. See the module doc for the policy.
pub struct Admission {
    bounds: Bounds,
    share: Bounds,
    queues: Vec<Queue>,
    index: HashMap<String, usize>,
    /// Creators with queued items, in turn order.
    ring: VecDeque<usize>,
    items: usize,
    events: usize,
    bytes: usize,
}

impl Admission {
    pub fn new(bounds: Bounds) -> Admission {
        Admission {
            bounds,
            share: bounds,
            queues: Vec::new(),
            index: HashMap::new(),
            ring: VecDeque::new(),
            items: 0,
            events: 0,
            bytes: 0,
        }
    }

    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// Each creator's share now: the bounds divided by the creators the lane serves.
    pub fn share(&self) -> Bounds {
        self.share
    }

    /// The slot of `creator`, made on first use (which gives every creator a smaller share).
    pub fn slot(&mut self, creator: &str) -> Slot {
        if let Some(&i) = self.index.get(creator) {
            return Slot(i);
        }
        let i = self.queues.len();
        self.queues.push(Queue {
            creator: creator.to_owned(),
            items: VecDeque::new(),
            events: 0,
            bytes: 0,
            ready: false,
            counts: CreatorLane::default(),
        });
        self.index.insert(creator.to_owned(), i);
        let n = self.queues.len();
        self.share = Bounds {
            events: (self.bounds.events / n).max(MIN_SHARE_EVENTS),
            bytes: (self.bounds.bytes / n).max(MIN_SHARE_BYTES),
        };
        Slot(i)
    }

    /// Decides one event or page of `slot`'s creator. On `Ok` it is queued (the flag says the lane
    /// was empty before, so the reader may be waiting); a refused item is handed back.
    // The refused item goes back by value, as it came: boxing it would allocate on the shed path.
    #[allow(clippy::result_large_err)]
    pub fn offer(
        &mut self,
        slot: Slot,
        item: Inbound,
        mode: Mode,
    ) -> Result<bool, (Inbound, Refusal)> {
        let share = self.share;
        let queue = &mut self.queues[slot.0];
        // Under its share before this item: a creator always gets one item in, however big.
        if queue.events >= share.events || queue.bytes >= share.bytes {
            if mode == Mode::Shed {
                let events = item.events();
                queue.counts.shed += events;
                queue.counts.received += events;
                return Err((item, Refusal::Shed));
            }
            return Err((item, Refusal::Full));
        }
        if self.events >= self.bounds.events || self.bytes >= self.bounds.bytes {
            return Err((item, Refusal::Full));
        }
        let events = item.events();
        queue.counts.sent += events;
        queue.counts.received += events;
        Ok(self.push(slot, item))
    }

    /// Queues a tick unless the lane as a whole is full (a tick never counts against a share: one a
    /// second per creator). `None` when dropped (counted).
    pub fn offer_tick(&mut self, slot: Slot, item: Inbound) -> Option<bool> {
        let queue = &mut self.queues[slot.0];
        if self.events >= self.bounds.events || self.bytes >= self.bounds.bytes {
            queue.counts.ticks_dropped += 1;
            return None;
        }
        queue.counts.ticks_sent += 1;
        Some(self.push(slot, item))
    }

    /// Counts the events of an item its sender gave up on (it waited for room, and none came).
    pub fn dropped(&mut self, slot: Slot, events: u64) {
        let counts = &mut self.queues[slot.0].counts;
        counts.dropped += events;
        counts.received += events;
    }

    fn push(&mut self, slot: Slot, item: Inbound) -> bool {
        let was_empty = self.items == 0;
        let weight = weight(&item);
        let bytes = bytes_of(&item);
        let queue = &mut self.queues[slot.0];
        queue.items.push_back((item, weight, bytes));
        queue.events += weight;
        queue.bytes += bytes;
        if !queue.ready {
            queue.ready = true;
            self.ring.push_back(slot.0);
        }
        self.items += 1;
        self.events += weight;
        self.bytes += bytes;
        was_empty
    }

    /// Moves up to `limit` items into `out`, round-robin over the creators with queued items
    /// ([`QUANTUM`] each per turn, in each creator's order). Returns how many.
    pub fn take(&mut self, out: &mut Vec<Inbound>, limit: usize) -> usize {
        let mut taken = 0;
        while taken < limit {
            let Some(i) = self.ring.pop_front() else {
                break;
            };
            let queue = &mut self.queues[i];
            let mut turn = 0;
            while turn < QUANTUM && taken < limit {
                let Some((item, weight, bytes)) = queue.items.pop_front() else {
                    break;
                };
                queue.events -= weight;
                queue.bytes -= bytes;
                self.items -= 1;
                self.events -= weight;
                self.bytes -= bytes;
                out.push(item);
                turn += 1;
                taken += 1;
            }
            if queue.items.is_empty() {
                queue.ready = false;
            } else {
                self.ring.push_back(i);
            }
        }
        taken
    }

    /// Items waiting in the lane.
    pub fn depth(&self) -> usize {
        self.items
    }

    /// Events and approximate bytes waiting in the lane.
    pub fn held(&self) -> Bounds {
        Bounds {
            events: self.events,
            bytes: self.bytes,
        }
    }

    /// Each creator's counters, by creator.
    pub fn creators(&self) -> BTreeMap<String, CreatorLane> {
        self.queues
            .iter()
            .map(|q| {
                (
                    q.creator.clone(),
                    CreatorLane {
                        depth: q.items.len(),
                        ..q.counts
                    },
                )
            })
            .collect()
    }
}

/// What an item weighs against the events bound: its events, a tick one.
fn weight(item: &Inbound) -> usize {
    match item {
        Inbound::Event(_) | Inbound::Tick(_) | Inbound::ShardState(_) => 1,
        Inbound::Page(page) => page.events.len().max(1),
        Inbound::Shard(batch) => batch.items.len().max(1),
    }
}

/// An item's approximate size in memory: the lane's entry and what its events own on the heap.
pub fn bytes_of(item: &Inbound) -> usize {
    let entry = std::mem::size_of::<Inbound>() + std::mem::size_of::<(usize, usize)>();
    match item {
        Inbound::Event(event) => entry + event_heap_bytes(event),
        Inbound::Page(page) => {
            entry
                + page.cursor.len()
                + page.creator.len()
                + page
                    .events
                    .iter()
                    .map(|e| std::mem::size_of::<ChatEvent>() + event_heap_bytes(e))
                    .sum::<usize>()
        }
        Inbound::Shard(batch) => {
            entry
                + batch.stream.len()
                + batch
                    .items
                    .iter()
                    .map(|item| match item {
                        StreamItem::Event(e) => {
                            std::mem::size_of::<StreamItem>() + event_heap_bytes(e)
                        }
                        StreamItem::Tick(t) => std::mem::size_of::<StreamItem>() + t.creator.len(),
                        StreamItem::Clip(c) => {
                            std::mem::size_of::<StreamItem>()
                                + std::mem::size_of::<crate::store::ClipStateChange>()
                                + c.clip_id.len()
                                + c.url.as_ref().map_or(0, String::len)
                                + c.thumbnail_url.as_ref().map_or(0, String::len)
                                + c.detail.as_ref().map_or(0, String::len)
                        }
                    })
                    .sum::<usize>()
        }
        Inbound::Tick(_) => entry,
        Inbound::ShardState(state) => {
            entry
                + state.recent_keys.len() * 64
                + state.links.len() * 128
                + state.strikes.len() * 96
        }
    }
}

/// What an event owns on the heap, approximately: its strings longer than fit inline, spilled
/// emotes, its detail and extras.
fn event_heap_bytes(event: &ChatEvent) -> usize {
    let heap = |s: &compact_str::CompactString| if s.is_heap_allocated() { s.len() } else { 0 };
    heap(&event.creator)
        + heap(&event.channel)
        + heap(&event.message_id)
        + heap(&event.author.id)
        + heap(&event.author.login)
        + heap(&event.author.display_name)
        + heap(&event.text)
        + if event.emotes.spilled() {
            event.emotes.len() * std::mem::size_of::<crate::event::Emote>()
        } else {
            0
        }
        + event
            .detail
            .as_ref()
            .map_or(0, |_| std::mem::size_of::<crate::event::EventDetail>())
        + event.extras.as_json().len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Author, Platform, Tick};
    use crate::lanes::Page;

    fn event(creator: &str, n: usize) -> Inbound {
        Inbound::Event(ChatEvent::message(
            Platform::named("sim"),
            creator,
            &format!("{creator}-{n}"),
            chrono::Utc::now(),
            Author::default(),
            "hi",
        ))
    }

    fn ids(items: &[Inbound]) -> Vec<String> {
        items
            .iter()
            .map(|i| match i {
                Inbound::Event(e) => e.message_id.to_string(),
                Inbound::Page(p) => format!("page:{}", p.cursor),
                Inbound::Tick(t) => format!("tick:{}", t.creator),
                Inbound::Shard(b) => format!("shard:{}:{}", b.shard, b.last_seq),
                Inbound::ShardState(s) => format!("state:{}", s.shard),
            })
            .collect()
    }

    const BIG: Bounds = Bounds {
        events: 1 << 20,
        bytes: 1 << 30,
    };

    #[test]
    fn a_creator_past_its_share_is_shed_and_the_others_are_not() {
        let mut a = Admission::new(Bounds {
            events: 64,
            bytes: 1 << 30,
        });
        let flood = a.slot("flood");
        let quiet = a.slot("quiet");
        assert_eq!(a.share().events, 32, "the lane split between two creators");
        let mut shed = Vec::new();
        for n in 0..100 {
            if let Err((_, refusal)) = a.offer(flood, event("flood", n), Mode::Shed) {
                assert_eq!(refusal, Refusal::Shed);
                shed.push(n);
            }
        }
        assert_eq!(
            shed,
            (32..100).collect::<Vec<_>>(),
            "the newest past the share"
        );
        assert!(a.offer(quiet, event("quiet", 0), Mode::Shed).is_ok());
        let counts = a.creators();
        assert_eq!(
            (
                counts["flood"].received,
                counts["flood"].sent,
                counts["flood"].shed
            ),
            (100, 32, 68)
        );
        assert_eq!((counts["quiet"].sent, counts["quiet"].shed), (1, 0));
    }

    #[test]
    fn the_reader_takes_round_robin_so_a_backlog_delays_only_its_own_creator() {
        let mut a = Admission::new(BIG);
        let flood = a.slot("flood");
        let quiet = a.slot("quiet");
        for n in 0..100 {
            a.offer(flood, event("flood", n), Mode::Shed).unwrap();
        }
        a.offer(quiet, event("quiet", 0), Mode::Shed).unwrap();
        let mut out = Vec::new();
        assert_eq!(a.take(&mut out, 40), 40);
        let taken = ids(&out);
        assert_eq!(
            taken[QUANTUM], "quiet-0",
            "the quiet creator's event comes after one turn of the flood: {taken:?}"
        );
        // Each creator's own order is kept.
        let flood_order: Vec<_> = taken.iter().filter(|i| i.starts_with("flood")).collect();
        assert!(flood_order.windows(2).all(|w| {
            let n = |s: &str| s[6..].parse::<usize>().unwrap();
            n(w[0]) < n(w[1])
        }));
        out.clear();
        assert_eq!(a.take(&mut out, 1000), 61);
        assert_eq!(a.depth(), 0);
        assert_eq!(
            a.held(),
            Bounds {
                events: 0,
                bytes: 0
            }
        );
    }

    #[test]
    fn the_same_offers_and_takes_shed_the_same_events() {
        let run = || {
            let mut a = Admission::new(Bounds {
                events: 96,
                bytes: 1 << 30,
            });
            let slots: Vec<Slot> = ["a", "b", "c"].iter().map(|c| a.slot(c)).collect();
            let mut rng = fastrand::Rng::with_seed(9);
            let mut shed = Vec::new();
            let mut out = Vec::new();
            for n in 0..5000 {
                let who = if rng.f64() < 0.9 { 0 } else { rng.usize(1..3) };
                if a.offer(slots[who], event(["a", "b", "c"][who], n), Mode::Shed)
                    .is_err()
                {
                    shed.push(n);
                }
                if n % 7 == 0 {
                    a.take(&mut out, 5);
                }
            }
            (shed, ids(&out))
        };
        let (first, taken) = run();
        assert!(!first.is_empty());
        assert_eq!(run(), (first, taken));
    }

    #[test]
    fn a_waiting_sender_is_refused_for_now_not_shed_and_a_page_is_taken_whole() {
        let mut a = Admission::new(Bounds {
            events: 16,
            bytes: 1 << 30,
        });
        let poller = a.slot("poller");
        let page = |cursor: &str, n: usize| {
            Inbound::Page(Page {
                creator: "poller".into(),
                platform: Platform::named("sim"),
                events: (0..n)
                    .map(|i| match event("poller", i) {
                        Inbound::Event(e) => e,
                        _ => unreachable!(),
                    })
                    .collect(),
                cursor: cursor.into(),
            })
        };
        // Bigger than the whole share: taken whole, since the creator held nothing.
        assert!(a.offer(poller, page("p1", 40), Mode::Wait).is_ok());
        let Err((back, Refusal::Full)) = a.offer(poller, page("p2", 1), Mode::Wait) else {
            panic!("refused for now")
        };
        assert_eq!(a.creators()["poller"].shed, 0);
        let mut out = Vec::new();
        a.take(&mut out, 10);
        assert!(a.offer(poller, back, Mode::Wait).is_ok());
        a.dropped(poller, 3);
        let c = a.creators()["poller"];
        assert_eq!((c.received, c.sent, c.dropped), (44, 41, 3));
    }

    #[test]
    fn the_byte_bound_holds_a_lane_of_big_messages() {
        let mut a = Admission::new(Bounds {
            events: 1 << 20,
            bytes: 256 * 1024,
        });
        let slot = a.slot("big");
        let mut taken = 0;
        for n in 0..1000 {
            let Inbound::Event(mut e) = event("big", n) else {
                unreachable!()
            };
            e.text = "x".repeat(8 * 1024).into();
            if a.offer(slot, Inbound::Event(e), Mode::Shed).is_ok() {
                taken += 1;
            }
        }
        let held = a.held();
        assert!(held.bytes < 256 * 1024 + 9 * 1024, "{held:?}");
        assert!((28..=33).contains(&taken), "{taken}");
    }

    #[test]
    fn ticks_ignore_shares_but_not_a_full_lane() {
        let mut a = Admission::new(Bounds {
            events: 32,
            bytes: 1 << 30,
        });
        let x = a.slot("x");
        let y = a.slot("y");
        for n in 0..16 {
            a.offer(x, event("x", n), Mode::Shed).unwrap();
        }
        let tick = || Inbound::Tick(Tick::new("x", chrono::Utc::now()));
        assert!(
            a.offer_tick(x, tick()).is_some(),
            "past its share, a tick still goes"
        );
        for n in 0..16 {
            let _ = a.offer(y, event("y", n), Mode::Shed);
        }
        assert!(a.offer_tick(x, tick()).is_none(), "the lane is full");
        let c = a.creators()["x"];
        assert_eq!((c.ticks_sent, c.ticks_dropped, c.depth), (1, 1, 17));
    }
}
