//! Dedupe by (platform, message id) over a bounded window.
//!
//! Reconnects replay recent messages and overlapping polls return the same page twice; neither may
//! double-count. The window remembers the last `capacity` keys (as 64-bit hashes, so memory is a fixed
//! 16 bytes or so per entry whatever the id length) and forgets the oldest first.

use crate::event::{Platform, platform_id_hash};
use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// The keys are already 64-bit hashes ([`platform_id_hash`]): hashing them again (the default
/// SipHash, once per insert and once per eviction) was a tenth of a replay's time.
#[derive(Debug, Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    /// Only `u64`s are hashed here; anything else is folded in rather than dropped.
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

#[derive(Debug)]
pub struct Dedupe {
    seen: HashSet<u64, BuildHasherDefault<PreHashed>>,
    order: VecDeque<u64>,
    capacity: usize,
}

impl Dedupe {
    pub fn new(capacity: usize) -> Dedupe {
        let capacity = capacity.max(1);
        Dedupe {
            seen: HashSet::with_capacity_and_hasher(capacity, BuildHasherDefault::default()),
            order: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// True the first time a (platform, id) is seen within the window; false for a duplicate.
    pub fn first_seen(&mut self, platform: Platform, message_id: &str) -> bool {
        let key = platform_id_hash(platform, message_id);
        if !self.seen.insert(key) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        self.order.push_back(key);
        true
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_within_the_window_are_caught_per_platform() {
        let mut d = Dedupe::new(3);
        assert!(d.first_seen(Platform::named("twitch"), "a"));
        assert!(!d.first_seen(Platform::named("twitch"), "a"));
        assert!(
            d.first_seen(Platform::named("kick"), "a"),
            "same id on another platform is new"
        );
        assert!(d.first_seen(Platform::named("twitch"), "b"));
        assert!(d.first_seen(Platform::named("twitch"), "c"));
        // The window holds 3: the first "a" (twitch) is forgotten.
        assert!(d.first_seen(Platform::named("twitch"), "a"));
        assert_eq!(d.len(), 3);
    }

    #[test]
    fn memory_is_bounded() {
        let mut d = Dedupe::new(1000);
        for i in 0..100_000 {
            d.first_seen(Platform::named("sim"), &i.to_string());
        }
        assert_eq!(d.len(), 1000);
        assert!(d.seen.len() == 1000);
    }
}
