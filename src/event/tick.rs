//! [`Tick`]: a moment of one creator's clock, the engine's input when nothing is said.
//!
//! Chat messages carry their own time, but a silent chat has none: without another clock, a poll
//! whose deadline had passed would wait for the next message to close it. So the run loop also sends
//! a tick per creator about once a second through the data lane, in order with the events. The
//! engine sees a tick as an event with a time, whether the creator is live, and no author
//! ([`crate::triggers::evaluate_tick`]): it may close a poll or a giveaway's entries whose deadline
//! has come, post a timer, or award watch-time points.
//!
//! A tick that causes an action is recorded in the store with its actions (`store::ticks`), at its
//! place in the chat log, so `ss replay` meets the same ticks at the same times. Its id,
//! `tick:{creator}:{ms}`, is the cause every action it fires carries (in the action's
//! `message_id`), so an operator can tell a tick's actions from a message's.

use super::CompactString;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One tick of a creator's clock, at a whole millisecond (the store's precision, so a replayed
/// tick compares exactly as the live one did).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tick {
    pub creator: CompactString,
    pub at: DateTime<Utc>,
    /// Whether the creator was live at this tick, as their sources said (see
    /// `pipeline::clock::creator_live`): timers and watch-time points run only while live. Recorded
    /// with the tick, so a replay sees what the live run saw.
    #[serde(default = "live_by_default")]
    pub live: bool,
}

fn live_by_default() -> bool {
    true
}

impl Tick {
    /// What every tick id starts with; no platform's message ids do.
    pub const ID_PREFIX: &'static str = "tick:";

    /// The tick of `creator` at `at`, truncated to whole milliseconds, live (say otherwise with
    /// [`Tick::with_live`]).
    pub fn new(creator: &str, at: DateTime<Utc>) -> Tick {
        let at = DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at);
        Tick {
            creator: creator.into(),
            at,
            live: true,
        }
    }

    /// This tick, live or not.
    #[must_use]
    pub fn with_live(mut self, live: bool) -> Tick {
        self.live = live;
        self
    }

    pub fn at_ms(&self) -> i64 {
        self.at.timestamp_millis()
    }

    /// `tick:{creator}:{ms}`: the cause of what this tick fires.
    pub fn id(&self) -> String {
        format!("{}{}:{}", Tick::ID_PREFIX, self.creator, self.at_ms())
    }

    /// Whether `cause` (an action's `message_id`) names a tick rather than a platform message:
    /// nothing can be threaded under a tick.
    pub fn is_tick_id(cause: &str) -> bool {
        cause.starts_with(Tick::ID_PREFIX)
    }
}

/// The one form of a cause, the id everything an event or a tick leads to carries (the action,
/// its outbox rows, its platform commands, the log lines about them): `tick:{creator}:{ms}` for a
/// tick, `event:{platform}:{message_id}` for a platform's event. `id` is what an action keeps as its
/// `message_id`: a tick's id or the event's message id.
pub fn cause_id(platform: super::Platform, id: &str) -> String {
    if Tick::is_tick_id(id) {
        id.to_string()
    } else {
        format!("event:{}:{id}", platform.as_str())
    }
}

/// The id a cause was made from ([`cause_id`] undone): the event's message id, or the tick's id.
pub fn id_of_cause(platform: super::Platform, cause: &str) -> &str {
    cause
        .strip_prefix("event:")
        .and_then(|rest| rest.strip_prefix(platform.as_str()))
        .and_then(|rest| rest.strip_prefix(':'))
        .unwrap_or(cause)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_gives_back_the_id_it_was_made_from() {
        let twitch = super::super::Platform::named("twitch");
        assert_eq!(id_of_cause(twitch, &cause_id(twitch, "abc:1")), "abc:1");
        assert_eq!(id_of_cause(twitch, "tick:demo:5"), "tick:demo:5");
        assert_eq!(id_of_cause(twitch, "event:kick:7"), "event:kick:7");
    }

    #[test]
    fn a_tick_is_kept_in_whole_milliseconds_and_named_by_creator_and_time() {
        let at = DateTime::parse_from_rfc3339("2026-11-30T21:04:05.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let tick = Tick::new("demo", at);
        assert_eq!(tick.at_ms(), at.timestamp_millis());
        assert_eq!(tick.at.timestamp_subsec_nanos(), 123_000_000);
        assert_eq!(tick.id(), format!("tick:demo:{}", at.timestamp_millis()));
        assert!(Tick::is_tick_id(&tick.id()));
        assert!(!Tick::is_tick_id("3b8c6f3a-1d2e-4f5a-9b7c-0a1b2c3d4e5f"));
    }
}
