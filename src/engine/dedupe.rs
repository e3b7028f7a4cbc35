//! Dedupe by (platform, message id) over a bounded window.
//!
//! Reconnects replay recent messages and overlapping polls return the same page twice; neither may
//! double-count. The window remembers the last `capacity` keys (as 64-bit hashes, so memory is a fixed
//! 40 to 72 bytes per entry whatever the id length) and forgets the oldest first.
//!
//! Every chat message inserts one key and, once the window is full, removes the oldest. The keys
//! are random, so each visit to the set is a cache miss: a general hash set (control bytes apart
//! from the slots) paid about four per message, a tenth of the run loop's time at full speed. The
//! set here is one flat array of keys, probed linearly from the key's own bits, with removal by
//! shifting the probe run back (no tombstones): about one miss to insert and one to remove. Kept
//! a quarter full at most, runs stay short.

use crate::event::{Platform, platform_id_hash};
use std::collections::VecDeque;

#[derive(Debug)]
pub struct Dedupe {
    set: KeySet,
    order: VecDeque<u64>,
    capacity: usize,
}

impl Dedupe {
    pub fn new(capacity: usize) -> Dedupe {
        let capacity = capacity.max(1);
        Dedupe {
            set: KeySet::with_room_for(capacity),
            order: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// True the first time a (platform, id) is seen within the window; false for a duplicate.
    pub fn first_seen(&mut self, platform: Platform, message_id: &str) -> bool {
        self.first_seen_key(platform_id_hash(platform, message_id))
    }

    fn first_seen_key(&mut self, key: u64) -> bool {
        if !self.set.insert(key) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(oldest);
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

/// A set of `u64` keys in one open-addressed array (linear probing). A slot holding 0 is empty, so
/// the key 0 itself is kept in a flag of its own.
#[derive(Debug)]
struct KeySet {
    slots: Box<[u64]>,
    mask: usize,
    has_zero: bool,
}

impl KeySet {
    /// A set for `keys` keys (and one more for a moment: the window inserts before it forgets)
    /// that is then at most about a quarter full, so probe runs stay short and never fill the
    /// array: 65,536 keys take 2 MiB. Half full (1 MiB) ran about 5% slower as a whole process
    /// (median of eight alternating pairs at full speed).
    fn with_room_for(keys: usize) -> KeySet {
        let len = (keys * 4).max(4).next_power_of_two();
        KeySet {
            slots: vec![0; len].into_boxed_slice(),
            mask: len - 1,
            has_zero: false,
        }
    }

    /// Where a key's probe run starts. The keys are hashes already; their low bits are as good as
    /// any.
    fn home(&self, key: u64) -> usize {
        key as usize & self.mask
    }

    /// Adds `key`; false when it was there already.
    fn insert(&mut self, key: u64) -> bool {
        if key == 0 {
            return !std::mem::replace(&mut self.has_zero, true);
        }
        let mut at = self.home(key);
        loop {
            match self.slots[at] {
                0 => {
                    self.slots[at] = key;
                    return true;
                }
                held if held == key => return false,
                _ => at = (at + 1) & self.mask,
            }
        }
    }

    /// Takes `key` out, closing the gap: each later key of the run that may move back (its home is
    /// not between the gap and where it sits) fills the gap, which moves on to where it was.
    fn remove(&mut self, key: u64) {
        if key == 0 {
            self.has_zero = false;
            return;
        }
        let mut gap = self.home(key);
        loop {
            match self.slots[gap] {
                0 => return,
                held if held == key => break,
                _ => gap = (gap + 1) & self.mask,
            }
        }
        let mut at = (gap + 1) & self.mask;
        loop {
            let held = self.slots[at];
            if held == 0 {
                break;
            }
            let from_home = at.wrapping_sub(self.home(held)) & self.mask;
            let from_gap = at.wrapping_sub(gap) & self.mask;
            if from_home >= from_gap {
                self.slots[gap] = held;
                gap = at;
            }
            at = (at + 1) & self.mask;
        }
        self.slots[gap] = 0;
    }

    #[cfg(test)]
    fn contains(&self, key: u64) -> bool {
        if key == 0 {
            return self.has_zero;
        }
        let mut at = self.home(key);
        loop {
            match self.slots[at] {
                0 => return false,
                held if held == key => return true,
                _ => at = (at + 1) & self.mask,
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.iter().filter(|k| **k != 0).count() + usize::from(self.has_zero)
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
        assert_eq!(d.set.len(), 1000);
        // The default window of 65,536 ids: 2 MiB of slots, a quarter full.
        assert_eq!(Dedupe::new(65_536).set.slots.len(), 262_144);
        assert_eq!(Dedupe::new(1).set.slots.len(), 4);
    }

    /// Keys that share a home, wrap around the array's end and include 0: the window answers as
    /// the plain model (a set and a queue) does, and the set holds exactly the window's keys.
    #[test]
    fn colliding_wrapping_and_zero_keys_follow_the_model() {
        let mut d = Dedupe::new(3);
        let slots = d.set.slots.len() as u64;
        let last = slots - 1;
        // 0, then three keys homed on the last slot (the run wraps to the start), one homed on 1.
        for (key, first) in [
            (0, true),
            (last, true),
            (last + slots, true),
            (0, false),
            (last + 2 * slots, true), // evicts 0
            (1, true),                // evicts `last`
            (last + slots, false),
            (0, true),    // evicts `last + slots`
            (last, true), // evicts `last + 2 * slots`
        ] {
            assert_eq!(d.first_seen_key(key), first, "key {key}");
        }
        for key in [1, 0, last] {
            assert!(d.set.contains(key), "{key} is in the window");
        }
        for key in [last + slots, last + 2 * slots] {
            assert!(!d.set.contains(key), "{key} was forgotten");
        }
        assert_eq!(d.set.len(), 3);
    }

    proptest::proptest! {
        /// Any sequence of keys, drawn from few homes so runs collide and wrap: the same answers
        /// as a `HashSet` with a queue of the last `capacity` keys.
        #[test]
        fn answers_as_the_set_and_queue_model(
            capacity in 1usize..12,
            keys in proptest::collection::vec((0u64..6, 0u64..4), 0..300),
        ) {
            let mut d = Dedupe::new(capacity);
            let slots = d.set.slots.len() as u64;
            let mut seen = std::collections::HashSet::new();
            let mut order = std::collections::VecDeque::new();
            for (home, lap) in keys {
                // Homes near the array's end, several keys per home.
                let key = (slots - 1 - home % slots) + lap * slots;
                let model = seen.insert(key);
                if model {
                    if order.len() == capacity {
                        let oldest = order.pop_front().unwrap();
                        seen.remove(&oldest);
                    }
                    order.push_back(key);
                }
                proptest::prop_assert_eq!(d.first_seen_key(key), model, "key {}", key);
                for k in &order {
                    proptest::prop_assert!(d.set.contains(*k), "{} lost", k);
                }
                proptest::prop_assert_eq!(d.set.len(), order.len());
            }
        }
    }
}
