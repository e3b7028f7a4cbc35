//! One line of a raw Twitch IRC log, as the source receives it, into a chat event.
//!
//! A line is an IRC line (`@tags :prefix COMMAND params`), optionally prefixed by the time a chat
//! logger saw it in brackets: `[2026-11-30 21:04:05] @badge-info=...` (also with fractional seconds,
//! or any RFC 3339 time; without an offset the time is UTC). The IRC part goes through the same
//! parser ([`irc::parse`]) and decoder ([`decode::decode`]) as the live Twitch source. The event's
//! time is `tmi-sent-ts` where the line has it, else the bracketed time. Twitch sends a few channel
//! events without `tmi-sent-ts` (ROOMSTATE on every join); without a prefix, such a line takes the
//! log's clock, the time of the event before it, as the live source would give it about the time it
//! arrived. A chat message with no time, or any line with no time before it, has no time a replay
//! could use and is malformed, like a line that is not IRC at all. Lines that are IRC but not chat
//! (PING, JOIN, numerics, USERSTATE) are not events and are passed over silently.
//!
//! [`irc::parse`]: crate::sources::twitch::irc::parse
//! [`decode::decode`]: crate::sources::twitch::decode::decode

use crate::event::{ChatEvent, EventKind};
use crate::sources::twitch::decode::decode;
use crate::sources::twitch::irc::{self, IrcMessage};
use chrono::{DateTime, NaiveDateTime, Utc};

/// Who a channel's chat belongs to.
pub trait Creators {
    /// The creator id of the Twitch `channel` (its login, without `#`), if any.
    fn creator_of(&self, channel: &str) -> Option<&str>;
}

/// Every channel belongs to one creator (`--creator`).
impl Creators for str {
    fn creator_of(&self, _channel: &str) -> Option<&str> {
        Some(self)
    }
}

/// Channel login (lowercase) → creator id, from creators.json's Twitch blocks.
impl Creators for std::collections::HashMap<String, String> {
    fn creator_of(&self, channel: &str) -> Option<&str> {
        self.get(&channel.to_ascii_lowercase()).map(String::as_str)
    }
}

/// Why a line of a recorded chat log (JSONL or IRC) was skipped; counted and reported with its line
/// number, never a stop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error(
        "longer than system.json limits.max_line_bytes ({max} bytes): {length} bytes, skipped unread"
    )]
    TooLong { length: u64, max: usize },
    #[error("not UTF-8 text (invalid byte at column {column})")]
    NotUtf8 { column: usize },
    #[error(
        "not a chat event (column {column}: {what}); each line must be one JSON object matching schemas/chat_event.schema.json"
    )]
    NotChatEvent { column: usize, what: String },
    #[error("creator and message_id must not be empty")]
    EmptyIds,
    #[error("not an IRC line: {0}")]
    NotIrc(String),
    #[error("not an IRC line: {0:?} is not an IRC command (letters or three digits)")]
    NotACommand(String),
    #[error("a '[' time prefix without its closing ']'")]
    UnclosedTimePrefix,
    #[error("time prefix [{0}] is not a time; expected [YYYY-MM-DD HH:MM:SS] (UTC) or RFC 3339")]
    BadTimePrefix(String),
    #[error(
        "channel #{0} belongs to no creator in creators.json (no creator's twitch block names it); pass --creator ID to replay it as that creator's chat"
    )]
    UnknownChannel(String),
    #[error(
        "{0} line without a time: it has no tmi-sent-ts tag and no [YYYY-MM-DD HH:MM:SS] prefix"
    )]
    NoTime(String),
}

/// Reads one line (without its line ending): its chat event, or `None` for a blank line or IRC that
/// is not chat (PING, JOIN, numerics, ...). `clock` is the time of the log's previous event. `Err`
/// is why the line is malformed.
pub fn read_line(
    line: &str,
    creators: &(impl Creators + ?Sized),
    clock: Option<DateTime<Utc>>,
) -> Result<Option<ChatEvent>, LineError> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.trim().is_empty() {
        return Ok(None);
    }
    let (logged_at, rest) = split_time_prefix(line)?;
    let msg = irc::parse(rest).map_err(|e| LineError::NotIrc(e.to_string()))?;
    check_command(&msg)?;
    // The time decode falls back to when the line has no tmi-sent-ts: the logger's, else a value no
    // tmi-sent-ts can produce, so a line with neither is caught below.
    let fallback = logged_at.unwrap_or(DateTime::<Utc>::MIN_UTC);
    let channel = msg
        .first_param()
        .and_then(|p| p.strip_prefix('#'))
        .unwrap_or_default();
    let creator = creators.creator_of(channel);
    let Some(mut event) = decode(&msg, creator.unwrap_or_default(), fallback) else {
        return Ok(None);
    };
    let Some(creator) = creator else {
        return Err(LineError::UnknownChannel(channel.to_string()));
    };
    if event.timestamp == DateTime::<Utc>::MIN_UTC {
        if let Some(clock) = clock.filter(|_| event.kind != EventKind::Message) {
            event.timestamp = clock;
            return Ok(Some(event));
        }
        return Err(LineError::NoTime(msg.command().to_string()));
    }
    debug_assert_eq!(event.creator, creator);
    Ok(Some(event))
}

/// Splits `[time] rest`; a line without a bracket has no logged time.
fn split_time_prefix(line: &str) -> Result<(Option<DateTime<Utc>>, &str), LineError> {
    let Some(after) = line.strip_prefix('[') else {
        return Ok((None, line));
    };
    let Some(end) = after.find(']') else {
        return Err(LineError::UnclosedTimePrefix);
    };
    let stamp = &after[..end];
    let time = parse_logged_time(stamp).ok_or_else(|| LineError::BadTimePrefix(shorten(stamp)))?;
    Ok((Some(time), after[end + 1..].trim_start_matches(' ')))
}

fn parse_logged_time(stamp: &str) -> Option<DateTime<Utc>> {
    let stamp = stamp.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(stamp) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .into_iter()
        .find_map(|format| NaiveDateTime::parse_from_str(stamp, format).ok())
        .map(|t| t.and_utc())
}

/// An IRC command is letters (PRIVMSG) or a three-digit numeric; anything else means the line is
/// not IRC (prose pasted into the log, a line cut in the middle of its tags).
fn check_command(msg: &IrcMessage<'_>) -> Result<(), LineError> {
    let command = msg.command();
    let letters = command.bytes().all(|b| b.is_ascii_uppercase());
    let numeric = command.len() == 3 && command.bytes().all(|b| b.is_ascii_digit());
    if letters || numeric {
        Ok(())
    } else {
        Err(LineError::NotACommand(shorten(command)))
    }
}

/// At most 40 characters of `s`, for messages.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, Platform};
    use proptest::prelude::*;

    const PRIVMSG: &str = "@badge-info=;badges=;color=#1E90FF;display-name=User1;id=abc-1;mod=0;room-id=1;subscriber=0;tmi-sent-ts=1700000000123;user-id=42 :user1!user1@user1.tmi.twitch.tv PRIVMSG #somechannel :!ping now";

    fn event(line: &str) -> ChatEvent {
        read_line(line, "demo", None)
            .unwrap()
            .expect("a chat event")
    }

    #[test]
    fn a_raw_line_decodes_as_the_live_source_would() {
        let e = event(PRIVMSG);
        let live = decode(&irc::parse(PRIVMSG).unwrap(), "demo", Utc::now()).unwrap();
        assert_eq!(e, live);
        assert_eq!(e.platform, Platform::named("twitch"));
        assert_eq!(e.kind, EventKind::Message);
        assert_eq!(e.message_id, "abc-1");
        assert_eq!(e.timestamp_ms(), 1_700_000_000_123);
        assert_eq!(e.text, "!ping now");
    }

    #[test]
    fn tmi_sent_ts_wins_over_the_prefix_and_the_prefix_stands_in_without_it() {
        let with_ts = event(&format!("[2026-11-30 21:04:05] {PRIVMSG}"));
        assert_eq!(with_ts.timestamp_ms(), 1_700_000_000_123);
        let without = PRIVMSG.replace(";tmi-sent-ts=1700000000123", "");
        let e = event(&format!("[2026-11-30 21:04:05.250] {without}"));
        assert_eq!(e.timestamp.to_rfc3339(), "2026-11-30T21:04:05.250+00:00");
        let e = event(&format!("[2026-11-30T22:04:05+01:00] {without}"));
        assert_eq!(e.timestamp.to_rfc3339(), "2026-11-30T21:04:05+00:00");
        let err = read_line(&without, "demo", None).unwrap_err().to_string();
        assert!(err.contains("without a time"), "{err}");
    }

    #[test]
    fn a_channel_event_without_a_time_takes_the_log_clock() {
        let line = "@room-id=1;slow=5 :tmi.twitch.tv ROOMSTATE #somechannel";
        let clock = DateTime::from_timestamp_millis(1_700_000_000_500);
        let e = read_line(line, "demo", clock).unwrap().unwrap();
        assert_eq!(e.kind, EventKind::RoomState);
        assert_eq!(Some(e.timestamp), clock);
        let err = read_line(line, "demo", None).unwrap_err().to_string();
        assert!(err.contains("ROOMSTATE line without a time"), "{err}");
        let message = PRIVMSG.replace(";tmi-sent-ts=1700000000123", "");
        assert!(
            read_line(&message, "demo", clock).is_err(),
            "a message never takes the clock"
        );
    }

    #[test]
    fn broken_lines_say_what_is_wrong() {
        let cut = &PRIVMSG[..60];
        let err = read_line(cut, "demo", None).unwrap_err().to_string();
        assert!(err.contains("not an IRC line"), "{err}");
        let err = read_line("hello there, chat", "demo", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an IRC command"), "{err}");
        let err = read_line(&format!("[yesterday] {PRIVMSG}"), "demo", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("[yesterday] is not a time"), "{err}");
        let err = read_line(&format!("[2026-11-30 21:04:05 {PRIVMSG}"), "demo", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("closing ']'"), "{err}");
    }

    #[test]
    fn non_chat_lines_and_blank_lines_are_passed_over() {
        for line in [
            "",
            "   ",
            "PING :tmi.twitch.tv",
            ":tmi.twitch.tv 001 justinfan1 :Welcome, GLHF!",
            ":justinfan1!justinfan1@justinfan1.tmi.twitch.tv JOIN #somechannel",
        ] {
            assert_eq!(read_line(line, "demo", None), Ok(None), "{line:?}");
        }
    }

    #[test]
    fn channels_map_to_creators() {
        let map: std::collections::HashMap<String, String> =
            [("somechannel".to_string(), "dana".to_string())].into();
        let e = read_line(PRIVMSG, &map, None).unwrap().unwrap();
        assert_eq!(e.creator, "dana");
        let other = PRIVMSG.replace("#somechannel", "#elsewhere");
        let err = read_line(&other, &map, None).unwrap_err().to_string();
        assert!(err.contains("#elsewhere belongs to no creator"), "{err}");
    }

    proptest! {
        #[test]
        fn never_panics_on_any_text(s in "\\PC{0,200}") {
            let _ = read_line(&s, "demo", None);
        }

        #[test]
        fn never_panics_on_damaged_real_lines(cut in 0usize..400, junk in "[\\[\\] @:;=#a-z0-9]{0,12}") {
            let mut line = PRIVMSG.chars().take(cut).collect::<String>();
            line.push_str(&junk);
            let _ = read_line(&line, "demo", Some(Utc::now()));
            let _ = read_line(&format!("[{junk}] {line}"), "demo", None);
        }
    }
}
