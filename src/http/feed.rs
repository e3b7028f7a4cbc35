//! The live feed: accepted chat events and the actions they fired, numbered, for `/events`.
//!
//! The run loop publishes each item once; the feed keeps the newest [`RING_CAPACITY`] in a ring (so a
//! client that reconnects with `Last-Event-ID` resumes without a gap when it was away briefly) and
//! pushes each to the connected clients through a broadcast channel of [`CLIENT_BUFFER`] items per
//! client. Policy when a client's buffer is full: the client, not the pipeline, loses: it is told
//! with a gap marker and continues from the newest items. Publishing never waits.
//!
//! Item numbers start at 1 in every run, so the SSE id a client sees is `{run}-{number}`, the run
//! being this feed's own tag ([`Feed::event_id`]); a `Last-Event-ID` of another run (or none this
//! feed ever gave) is unknown ([`Feed::resume_point`]), and the client is told with a gap marker
//! instead of resuming at the wrong place.

use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Items kept for clients that resume with `Last-Event-ID`.
pub const RING_CAPACITY: usize = 4096;
/// Items buffered per connected client before it is told it fell behind.
pub const CLIENT_BUFFER: usize = 1024;

/// One item of the feed: its number and its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    /// Increasing from 1 for the life of the runtime; the SSE `id`.
    pub id: u64,
    /// The SSE `event`: `chat` or `action`.
    pub kind: &'static str,
    pub json: String,
}

#[derive(Debug, Default)]
struct Ring {
    next_id: u64,
    items: VecDeque<Arc<FeedItem>>,
}

/// The feed; cheap to clone.
#[derive(Debug, Clone)]
pub struct Feed {
    ring: Arc<Mutex<Ring>>,
    live: broadcast::Sender<Arc<FeedItem>>,
    /// This feed's tag in its SSE ids: the start time (ms, base 36) and a random part.
    run: Arc<str>,
}

impl Default for Feed {
    fn default() -> Feed {
        Feed::new()
    }
}

/// What a client resuming after `last_id` gets from the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// Items after `last_id` still in the ring, oldest first.
    pub items: Vec<Arc<FeedItem>>,
    /// Items after `last_id` that already left the ring: the client missed them.
    pub missed: u64,
}

impl Feed {
    pub fn new() -> Feed {
        let (live, _) = broadcast::channel(CLIENT_BUFFER);
        let started = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default();
        Feed {
            ring: Arc::default(),
            live,
            run: format!("{}{:04x}", base36(started), fastrand::u16(..)).into(),
        }
    }

    /// The SSE id of `item`: `{run}-{number}`, unique across runs.
    pub fn event_id(&self, item: &FeedItem) -> String {
        format!("{}-{}", self.run, item.id)
    }

    /// The item number a client's `Last-Event-ID` names, when this feed gave it; `None` for an id
    /// of another run, a malformed one, or a number not given yet.
    pub fn resume_point(&self, last_event_id: &str) -> Option<u64> {
        let (run, number) = last_event_id.trim().rsplit_once('-')?;
        let number: u64 = number.parse().ok()?;
        let given = self
            .ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .next_id;
        (run == &*self.run && number <= given).then_some(number)
    }

    /// Publishes `value` as an item of `kind`; never waits. A value that cannot be serialized is
    /// skipped (feed items are serde data; this cannot happen for events and actions).
    pub fn publish(&self, kind: &'static str, value: &impl Serialize) {
        let Ok(json) = serde_json::to_string(value) else {
            return;
        };
        let item = {
            let mut ring = self
                .ring
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            ring.next_id += 1;
            let item = Arc::new(FeedItem {
                id: ring.next_id,
                kind,
                json,
            });
            if ring.items.len() == RING_CAPACITY {
                ring.items.pop_front();
            }
            ring.items.push_back(item.clone());
            item
        };
        // No receiver is fine: nobody is watching.
        let _ = self.live.send(item);
    }

    /// Subscribes to new items, and returns what a client that last saw `last_id` missed. A client
    /// without `Last-Event-ID` (`None`) starts with the live items.
    pub fn subscribe(&self, last_id: Option<u64>) -> (Resume, broadcast::Receiver<Arc<FeedItem>>) {
        let ring = self
            .ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Subscribing under the lock: nothing is published between the resume and the live part.
        let rx = self.live.subscribe();
        let resume = match last_id {
            None => Resume {
                items: Vec::new(),
                missed: 0,
            },
            Some(last) => {
                let oldest = ring.items.front().map_or(ring.next_id + 1, |i| i.id);
                let missed = oldest.saturating_sub(last.saturating_add(1));
                Resume {
                    items: ring.items.iter().filter(|i| i.id > last).cloned().collect(),
                    missed: if last >= ring.next_id { 0 } else { missed },
                }
            }
        };
        (resume, rx)
    }
}

/// `n` in base 36 (lowercase), for short ids.
fn base36(mut n: u64) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_their_run_and_another_runs_id_is_unknown() {
        let (earlier, feed) = (Feed::new(), Feed::new());
        for i in 0..3 {
            earlier.publish("chat", &i);
            feed.publish("chat", &i);
        }
        let (resume, _) = feed.subscribe(Some(0));
        let id = feed.event_id(&resume.items[1]);
        assert!(id.ends_with("-2"), "{id}");
        assert_eq!(feed.resume_point(&id), Some(2));
        let (resume, _) = earlier.subscribe(Some(0));
        let old = earlier.event_id(&resume.items[1]);
        assert_ne!(old, id, "ids differ between runs");
        assert_eq!(feed.resume_point(&old), None);
        for unknown in ["2", "", "-2", "x-y", &format!("{}9", id)] {
            assert_eq!(feed.resume_point(unknown), None, "{unknown}");
        }
        assert_eq!(base36(0), "0");
        assert_eq!(base36(36 * 36 + 35), "10z");
    }

    #[test]
    fn resuming_replays_what_the_ring_still_has_and_counts_what_it_lost() {
        let feed = Feed::new();
        for i in 0..(RING_CAPACITY as u64 + 10) {
            feed.publish("chat", &i);
        }
        // Last saw item 4000 (kept): gets the rest, misses nothing.
        let (resume, _) = feed.subscribe(Some(4000));
        assert_eq!(resume.missed, 0);
        assert_eq!(resume.items.first().unwrap().id, 4001);
        assert_eq!(resume.items.last().unwrap().id, RING_CAPACITY as u64 + 10);
        // Last saw item 3 (long gone): the ring starts at 11, so 4..=10 were missed.
        let (resume, _) = feed.subscribe(Some(3));
        assert_eq!(resume.missed, 7);
        assert_eq!(resume.items.len(), RING_CAPACITY);
        // Up to date: nothing to replay.
        let (resume, _) = feed.subscribe(Some(RING_CAPACITY as u64 + 10));
        assert_eq!((resume.items.len(), resume.missed), (0, 0));
    }

    #[tokio::test]
    async fn a_slow_client_is_told_it_fell_behind_and_publishing_never_waits() {
        let feed = Feed::new();
        let (_, mut rx) = feed.subscribe(None);
        for i in 0..(CLIENT_BUFFER as u64 * 3) {
            feed.publish("chat", &i);
        }
        match rx.recv().await {
            Err(broadcast::error::RecvError::Lagged(n)) => assert_eq!(n, CLIENT_BUFFER as u64 * 2),
            other => panic!("expected a lag, got {other:?}"),
        }
        assert_eq!(rx.recv().await.unwrap().id, CLIENT_BUFFER as u64 * 2 + 1);
    }
}
