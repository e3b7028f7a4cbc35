//! Trigger state: cooldowns and fire counts, the engine's only memory.
//!
//! Times are the events' own timestamps in Unix milliseconds, never the wall clock. Per-user
//! cooldowns are keyed by a hash of (platform, user id) so a check allocates nothing; entries older
//! than the longest user cooldown are forgotten as the map grows, so memory stays bounded by the number
//! of users active within that window.

use super::giveaways::GiveawayBook;
use super::people::People;
use super::points::PointsBook;
use super::polls::PollBook;
use super::quotes::QuoteBook;
use super::registry::{CompiledTrigger, Registry};
use super::standings::StandingsBook;
use super::timers::TimerBook;
use crate::event::{Platform, platform_id_hash};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct TriggerState {
    counts: Vec<u64>,
    /// Per slot: no firing before this time (creator cooldown). Kept as a deadline so the common
    /// "still cooling down" case is one comparison.
    creator_until: Vec<i64>,
    /// Per global slot: no firing before this time (global cooldown).
    global_until: Vec<i64>,
    last_user: HashMap<(usize, u64), i64>,
    max_user_cooldown_ms: i64,
    prune_at: usize,
    /// Every creator's open chat poll.
    pub polls: PollBook,
    /// When each creator's standings commands may answer again.
    pub standings: StandingsBook,
    /// Per trigger slot, the community gift bursts it already fired for (by hash of the gift id),
    /// with the time: one thank-you per burst, not one per gift.
    bursts: HashMap<(usize, u64), i64>,
    pub timers: TimerBook,
    pub giveaways: GiveawayBook,
    pub quotes: QuoteBook,
    pub points: PointsBook,
    /// Linked accounts and link codes: loaded from the store at each fresh start (see
    /// [`super::people`]), so they are not reset with the rest.
    pub people: People,
}

/// How long a community gift burst is remembered: its gifts arrive within seconds.
const BURST_MEMORY_MS: i64 = 10 * 60 * 1000;

impl TriggerState {
    /// Fresh state sized for `registry`.
    pub fn new(registry: &Registry) -> TriggerState {
        TriggerState {
            counts: vec![0; registry.slots()],
            creator_until: vec![i64::MIN; registry.slots()],
            global_until: vec![i64::MIN; registry.global_slots()],
            last_user: HashMap::new(),
            max_user_cooldown_ms: registry.max_user_cooldown_ms(),
            prune_at: 4096,
            polls: PollBook::default(),
            standings: StandingsBook::default(),
            bursts: HashMap::new(),
            timers: TimerBook::new(registry.timer_slots()),
            giveaways: GiveawayBook::default(),
            quotes: QuoteBook::default(),
            points: PointsBook::default(),
            people: People::default(),
        }
    }

    /// Whether `trigger` already fired for the community gift burst `gift_id`.
    pub fn burst_fired(&self, trigger: &CompiledTrigger, gift_id: &str) -> bool {
        self.bursts
            .contains_key(&(trigger.slot, crate::event::person::stable_hash(&[gift_id])))
    }

    /// Remembers that `trigger` fired for the burst `gift_id` at `now_ms` (older bursts are
    /// forgotten as the map grows).
    pub fn burst_fire(&mut self, trigger: &CompiledTrigger, gift_id: &str, now_ms: i64) {
        if self.bursts.len() >= 1024 {
            self.bursts
                .retain(|_, at| now_ms.saturating_sub(*at) < BURST_MEMORY_MS);
        }
        self.bursts.insert(
            (trigger.slot, crate::event::person::stable_hash(&[gift_id])),
            now_ms,
        );
    }

    /// Whether the creator and global cooldowns of `trigger` have passed at `now_ms` (cheap; checked
    /// before anything else).
    pub fn ready(&self, trigger: &CompiledTrigger, now_ms: i64) -> bool {
        now_ms >= self.creator_until[trigger.slot]
            && now_ms >= self.global_until[trigger.global_slot]
    }

    /// Fires `trigger` at `now_ms` if every cooldown has passed; records the firing and returns true.
    pub fn try_fire(
        &mut self,
        trigger: &CompiledTrigger,
        user_id: &str,
        platform: Platform,
        now_ms: i64,
    ) -> bool {
        if !self.ready(trigger, now_ms) {
            return false;
        }
        if trigger.user_cooldown_ms > 0 {
            let key = (trigger.slot, platform_id_hash(platform, user_id));
            if let Some(last) = self.last_user.get(&key)
                && now_ms.saturating_sub(*last) < trigger.user_cooldown_ms
            {
                return false;
            }
            self.last_user.insert(key, now_ms);
            self.prune(now_ms);
        }
        // A trigger without a cooldown holds nothing back, not even a message stamped earlier than
        // the last one it fired for (platforms' clocks differ, and chats arrive interleaved).
        if trigger.creator_cooldown_ms > 0 {
            self.creator_until[trigger.slot] = now_ms.saturating_add(trigger.creator_cooldown_ms);
        }
        if trigger.global_cooldown_ms > 0 {
            self.global_until[trigger.global_slot] =
                now_ms.saturating_add(trigger.global_cooldown_ms);
        }
        self.counts[trigger.slot] += 1;
        true
    }

    /// How many times the trigger in `slot` has fired.
    pub fn fire_count(&self, slot: usize) -> u64 {
        self.counts[slot]
    }

    /// Per-user entries currently remembered.
    pub fn tracked_users(&self) -> usize {
        self.last_user.len()
    }

    fn prune(&mut self, now_ms: i64) {
        if self.last_user.len() < self.prune_at {
            return;
        }
        let horizon = self.max_user_cooldown_ms;
        self.last_user
            .retain(|_, last| now_ms.saturating_sub(*last) < horizon);
        self.prune_at = (self.last_user.len() * 2).max(4096);
    }
}
