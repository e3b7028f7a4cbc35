//! The clock over the bus: ingest publishes each round of its creators' ticks as one message per
//! shard, and readers turn it back into the creators' ticks.
//!
//! Ingest runs the sources, so it alone knows whether a creator is live; its clock ticks every
//! running creator once a second. Publishing each tick alone would put one message per creator
//! and second into the events stream (kept `keep_hours`); a [`Round`] carries every tick of one
//! shard at one moment instead, so the stream holds one message per shard and second whatever the
//! number of creators. Its subject is `<prefix>.ev.<shard>.tick`, beside the shard's events, so
//! every reader of the shard meets the ticks at the same place among the events and a new owner's
//! fold fires the same timers at the same ticks. Its `Nats-Msg-Id` names the shard, the moment and
//! the creators in it ([`Round::id`]): a retry is stored once, and a round the lane happened to
//! split over two batches is two messages, not one refused as a duplicate.

use crate::event::Tick;
use chrono::DateTime;
use serde::{Deserialize, Serialize};

/// The ticks of one shard at one moment: `(creator, live)` in the clock's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round {
    pub at_ms: i64,
    pub ticks: Vec<(String, bool)>,
}

impl Round {
    /// `tick:<shard>:<ms>:<digest of the creators>`.
    pub fn id(&self, shard: u32) -> String {
        let creators: Vec<&str> = self.ticks.iter().map(|(c, _)| c.as_str()).collect();
        format!(
            "tick:{shard}:{}:{:08x}",
            self.at_ms,
            super::names::digest(&creators.join("\u{1f}"))
        )
    }

    /// The creators' ticks again.
    pub fn into_ticks(self) -> Vec<Tick> {
        let Some(at) = DateTime::from_timestamp_millis(self.at_ms) else {
            return Vec::new();
        };
        self.ticks
            .into_iter()
            .map(|(creator, live)| Tick::new(&creator, at).with_live(live))
            .collect()
    }
}

/// The rounds of `ticks` (in order), one per shard and moment, each placed where its first tick
/// was; `shard_of` gives a creator's shard. Returns `(position of the first tick, shard, round)`.
pub fn rounds<'a>(
    ticks: impl IntoIterator<Item = (usize, &'a Tick)>,
    shard_of: impl Fn(&str) -> u32,
) -> Vec<(usize, u32, Round)> {
    let mut out: Vec<(usize, u32, Round)> = Vec::new();
    for (position, tick) in ticks {
        let shard = shard_of(&tick.creator);
        let at_ms = tick.at_ms();
        let entry = (tick.creator.to_string(), tick.live);
        match out
            .iter_mut()
            .find(|(_, s, round)| *s == shard && round.at_ms == at_ms)
        {
            Some((_, _, round)) => round.ticks.push(entry),
            None => out.push((
                position,
                shard,
                Round {
                    at_ms,
                    ticks: vec![entry],
                },
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(creator: &str, ms: i64, live: bool) -> Tick {
        Tick::new(creator, DateTime::from_timestamp_millis(ms).unwrap()).with_live(live)
    }

    #[test]
    fn a_round_per_shard_and_moment_gives_back_every_tick() {
        let ticks = [
            tick("a", 1_000, true),
            tick("b", 1_000, false),
            tick("c", 1_000, true),
            tick("a", 2_000, true),
        ];
        let shard = |c: &str| u32::from(c == "b");
        let rounds = rounds(ticks.iter().enumerate(), shard);
        assert_eq!(rounds.len(), 3, "{rounds:?}");
        assert_eq!(rounds[0].0, 0);
        assert_eq!(rounds[0].2.ticks, [("a".into(), true), ("c".into(), true)]);
        assert_eq!((rounds[1].0, rounds[1].1), (1, 1));
        assert_eq!(rounds[2].0, 3);
        let back: Vec<Tick> = rounds
            .into_iter()
            .flat_map(|(_, _, r)| r.into_ticks())
            .collect();
        let mut expected = ticks.to_vec();
        expected.swap(1, 2);
        assert_eq!(back, expected);
    }

    #[test]
    fn ids_name_the_shard_the_moment_and_the_creators() {
        let round = |creators: &[&str]| Round {
            at_ms: 5,
            ticks: creators.iter().map(|c| ((*c).to_owned(), true)).collect(),
        };
        assert_eq!(round(&["a"]).id(2), round(&["a"]).id(2));
        assert_ne!(round(&["a"]).id(2), round(&["a"]).id(3));
        assert_ne!(round(&["a"]).id(2), round(&["a", "b"]).id(2));
        assert!(round(&["a"]).id(2).starts_with("tick:2:5:"));
        let wire = serde_json::to_string(&round(&["a"])).unwrap();
        assert_eq!(wire, r#"{"at_ms":5,"ticks":[["a",true]]}"#);
        assert_eq!(serde_json::from_str::<Round>(&wire).unwrap(), round(&["a"]));
    }
}
