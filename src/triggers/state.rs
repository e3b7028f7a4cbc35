//! Trigger state: cooldowns and fire counts, the engine's only memory.
//!
//! Times are the events' own timestamps in Unix milliseconds, never the wall clock. Per-user
//! cooldowns are keyed by a hash of (platform, user id) so a check allocates nothing; entries older
//! than the longest user cooldown are forgotten as the map grows, so memory stays bounded by the number
//! of users active within that window.

use super::registry::{CompiledTrigger, Registry};
use crate::event::Platform;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

const NEVER: i64 = i64::MIN;

#[derive(Debug, Clone)]
pub struct TriggerState {
    counts: Vec<u64>,
    last_creator: Vec<i64>,
    last_global: Vec<i64>,
    last_user: HashMap<(usize, u64), i64>,
    max_user_cooldown_ms: i64,
    prune_at: usize,
}

impl TriggerState {
    /// Fresh state sized for `registry`.
    pub fn new(registry: &Registry) -> TriggerState {
        TriggerState {
            counts: vec![0; registry.slots()],
            last_creator: vec![NEVER; registry.slots()],
            last_global: vec![NEVER; registry.global_slots()],
            last_user: HashMap::new(),
            max_user_cooldown_ms: registry.max_user_cooldown_ms(),
            prune_at: 4096,
        }
    }

    /// Fires `trigger` at `now_ms` if every cooldown has passed; records the firing and returns true.
    pub fn try_fire(
        &mut self,
        trigger: &CompiledTrigger,
        user_id: &str,
        platform: Platform,
        now_ms: i64,
    ) -> bool {
        let passed =
            |last: i64, cooldown: i64| last == NEVER || now_ms.saturating_sub(last) >= cooldown;
        if trigger.creator_cooldown_ms > 0
            && !passed(self.last_creator[trigger.slot], trigger.creator_cooldown_ms)
        {
            return false;
        }
        if trigger.global_cooldown_ms > 0
            && !passed(
                self.last_global[trigger.global_slot],
                trigger.global_cooldown_ms,
            )
        {
            return false;
        }
        let user_key = (trigger.slot, user_hash(platform, user_id));
        if trigger.user_cooldown_ms > 0 {
            let last = self.last_user.get(&user_key).copied().unwrap_or(NEVER);
            if !passed(last, trigger.user_cooldown_ms) {
                return false;
            }
            self.last_user.insert(user_key, now_ms);
            self.prune(now_ms);
        }
        self.last_creator[trigger.slot] = now_ms;
        self.last_global[trigger.global_slot] = now_ms;
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

/// A stable hash (fixed keys, same in every process) of a platform user.
fn user_hash(platform: Platform, user_id: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    platform.hash(&mut h);
    user_id.hash(&mut h);
    h.finish()
}
