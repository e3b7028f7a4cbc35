//! Values a platform sends that the runtime does not take on trust, checked the same way for every
//! platform on the one door events come in by (`SourceContext::forward` and the polling runner's
//! pages).
//!
//! - **Emote ranges** are inclusive Unicode code-point positions in the message text. A range that
//!   ends past the text or is reversed (start > end) cannot point at anything: it is dropped (and
//!   counted by the caller) rather than stored and exported as it came, where an overlay would slice
//!   the text with it.
//! - **The timestamp** is the platform's own time, and triggers use it as their clock. One far from
//!   the receive time (Twitch `tmi-sent-ts=1`, a server with a broken clock) would freeze cooldowns
//!   (a time far in the past never gets past them) or defeat them (each event far in the future
//!   opens a new window), so a timestamp more than [`WireLimits::max_clock_skew`] away from the
//!   receive time is replaced by the receive time (and counted). Ids the sources derive from the
//!   platform's time are made before this check, so re-deliveries still dedupe.
//!
//! The checks are pure: the caller passes the receive time and counts what [`check`] reports.

use super::ChatEvent;
use chrono::{DateTime, TimeDelta, Utc};
use std::time::Duration;

/// Default of `limits.max_line_bytes`: the longest line a line-based source (Twitch IRC) accepts.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024;
/// Default of `limits.max_clock_skew_s`: how far a platform timestamp may be from the receive time.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// The limits on what a source takes from the wire (`system.json` `limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireLimits {
    /// The longest line, without its line end, a line-based source accepts; a longer one is
    /// discarded up to its line end and counted, and the connection is kept.
    pub max_line_bytes: usize,
    /// How far a platform timestamp may be from the receive time before it is replaced.
    pub max_clock_skew: Duration,
}

impl Default for WireLimits {
    fn default() -> WireLimits {
        WireLimits {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
        }
    }
}

/// What [`check`] corrected in one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Corrections {
    /// Emote ranges dropped because they were outside the text or reversed.
    pub emotes_dropped: u64,
    /// Whether the timestamp was replaced by the receive time.
    pub timestamp_replaced: bool,
}

/// Drops impossible emote ranges and replaces an implausible timestamp with `received`.
pub fn check(event: &mut ChatEvent, received: DateTime<Utc>, max_skew: Duration) -> Corrections {
    let mut corrections = Corrections::default();
    if !event.emotes.is_empty() {
        let chars = event.text.chars().count();
        let before = event.emotes.len();
        event
            .emotes
            .retain(|e| e.start <= e.end && (e.end as usize) < chars);
        corrections.emotes_dropped = (before - event.emotes.len()) as u64;
    }
    // A skew too large for a TimeDelta is no limit at all.
    let max_skew = TimeDelta::from_std(max_skew).unwrap_or(TimeDelta::MAX);
    if (event.timestamp - received).abs() > max_skew {
        event.timestamp = received;
        corrections.timestamp_replaced = true;
    }
    corrections
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Author, Emote, Platform};

    fn received() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn event(text: &str, ranges: &[(u32, u32)]) -> ChatEvent {
        let mut event = ChatEvent::message(
            Platform::named("twitch"),
            "demo",
            "m1",
            received(),
            Author::viewer("v"),
            text,
        );
        event.emotes = ranges
            .iter()
            .map(|&(start, end)| Emote {
                id: "25".into(),
                start,
                end,
            })
            .collect();
        event
    }

    #[test]
    fn emote_ranges_outside_the_text_or_reversed_are_dropped_and_counted() {
        // "👉 Kappa" is 7 code points (9 bytes): the last valid index is 6.
        let mut ev = event("👉 Kappa", &[(2, 6), (2, 7), (6, 2), (0, 0), (100, 200)]);
        let fixed = check(&mut ev, received(), DEFAULT_MAX_CLOCK_SKEW);
        let kept: Vec<_> = ev.emotes.iter().map(|e| (e.start, e.end)).collect();
        assert_eq!(kept, [(2, 6), (0, 0)]);
        assert_eq!(fixed.emotes_dropped, 3);
        assert!(!fixed.timestamp_replaced);

        let mut empty = event("", &[(0, 0)]);
        assert_eq!(
            check(&mut empty, received(), DEFAULT_MAX_CLOCK_SKEW).emotes_dropped,
            1
        );
    }

    #[test]
    fn a_timestamp_beyond_the_skew_is_replaced_by_the_receive_time() {
        let skew = DEFAULT_MAX_CLOCK_SKEW;
        let at = |secs: i64| received() + TimeDelta::seconds(secs);
        for (offset, replaced) in [
            (0, false),
            (-300, false),
            (300, false),
            (-301, true),
            (301, true),
        ] {
            let mut ev = event("hi", &[]);
            ev.timestamp = at(offset);
            let fixed = check(&mut ev, received(), skew);
            assert_eq!(fixed.timestamp_replaced, replaced, "offset {offset}s");
            assert_eq!(ev.timestamp, if replaced { received() } else { at(offset) });
        }
        // Twitch `tmi-sent-ts=1`: one millisecond after the epoch.
        let mut ev = event("hi", &[]);
        ev.timestamp = DateTime::from_timestamp_millis(1).unwrap();
        assert!(check(&mut ev, received(), skew).timestamp_replaced);
        assert_eq!(ev.timestamp, received());
        // A skew larger than any time difference never replaces.
        let mut ev = event("hi", &[]);
        ev.timestamp = DateTime::from_timestamp_millis(1).unwrap();
        assert!(!check(&mut ev, received(), Duration::MAX).timestamp_replaced);
    }

    #[test]
    fn sim_events_pass_unchanged() {
        use crate::sources::sim::SimChat;
        use crate::sources::sim::SimSettings;
        let mut chat = SimChat::new("demo", "demo", &SimSettings::default(), "t");
        for _ in 0..5000 {
            let now = Utc::now();
            let event = chat.next_event(now);
            let mut checked = event.clone();
            assert_eq!(
                check(&mut checked, now, DEFAULT_MAX_CLOCK_SKEW),
                Corrections::default()
            );
            assert_eq!(checked, event);
        }
    }
}
