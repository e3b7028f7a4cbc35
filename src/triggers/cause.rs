//! What an action of the engine's own commands (polls, giveaways, quotes, points, links, timers)
//! is attributed to: the message or tick that caused it, and the channel its reply goes to. One
//! place builds those actions, so every command's replies thread (or not) by the same rule.

use crate::actions::{Action, ActionKind};
use crate::event::{ChatEvent, Platform, Tick};
use chrono::{DateTime, Utc};
use std::borrow::Cow;

/// The message or tick an action is attributed to.
///
/// Borrowed from the message where it can be: building one costs nothing on the chat path.
pub struct Cause<'a> {
    pub creator: &'a str,
    pub platform: Platform,
    /// The message id, or the tick id.
    pub id: Cow<'a, str>,
    pub at: DateTime<Utc>,
    pub channel: Cow<'a, str>,
    /// Replies may be threaded under a chat message, never under a tick.
    pub thread: bool,
}

impl Cause<'_> {
    /// A chat message (its replies thread under it where the platform can; never under an
    /// operator's command, which the platform never saw).
    pub fn of(event: &ChatEvent) -> Cause<'_> {
        Cause {
            creator: &event.creator,
            platform: event.platform,
            id: Cow::Borrowed(&event.message_id),
            at: event.timestamp,
            channel: Cow::Borrowed(&event.channel),
            thread: event.can_be_replied_to(),
        }
    }

    /// A tick, posting to `channel` on `platform` (where what it ends was started).
    pub fn tick<'t>(tick: &'t Tick, platform: Platform, channel: &str) -> Cause<'t> {
        Cause {
            creator: &tick.creator,
            platform,
            id: Cow::Owned(tick.id()),
            at: tick.at,
            channel: Cow::Owned(channel.to_string()),
            thread: false,
        }
    }

    /// An action of `kind` from `trigger_id`, attributed to this cause.
    pub fn action(&self, trigger_id: &str, kind: ActionKind) -> Action {
        Action {
            trigger_id: trigger_id.to_string(),
            creator: self.creator.to_string(),
            platform: self.platform,
            message_id: self.id.to_string(),
            at: self.at,
            kind,
            thread: self.thread,
        }
    }

    /// A reply in this cause's channel.
    pub fn reply(&self, trigger_id: &str, text: String) -> Action {
        self.action(
            trigger_id,
            ActionKind::Reply {
                channel: self.channel.to_string(),
                text,
            },
        )
    }

    /// A refused command: recorded (counted, replayed) and answered with `text`.
    pub fn refuse(&self, command: &str, reason: &str, text: String, out: &mut Vec<Action>) {
        out.push(self.action(
            command,
            ActionKind::Refused {
                command: command.to_string(),
                reason: reason.to_string(),
            },
        ));
        out.push(self.reply(command, text));
    }
}

/// The first word of a chat line and the trimmed rest.
pub fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim();
    match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim_start()),
        None => (text, ""),
    }
}

/// `90` → `1m30s`.
pub fn human_duration(seconds: u32) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let mut out = String::new();
    for (value, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if value > 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    if out.is_empty() { "0s".into() } else { out }
}
