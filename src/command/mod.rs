//! Platform commands: what the runtime asks a platform to do, as plain serde data.
//!
//! A [`PlatformCommand`] is the contract between the effects (actions, the standings worker) and the
//! sources that carry them out, as [`crate::event::ChatEvent`] is the contract the other way. It says
//! who asks (creator), where (platform, channel), what ([`CommandKind`]: say, reply, delete a message,
//! time out, ban, unban, announce) and why (`cause`: the id of the event or tick that caused it, so an
//! operator can follow one message from the wire to the platform's answer). Each platform declares the
//! kinds it can do as a [`CommandSet`]; a command outside it is refused before it is queued
//! ([`stats::CommandStats`] counts it, once per creator, platform and kind in telemetry).
//!
//! This module knows events and nothing else: sources and actions both use it without knowing each
//! other.

pub mod receipts;
pub mod stats;

use crate::event::Platform;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One thing for a platform to do, in one creator's channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformCommand {
    pub creator: String,
    pub platform: Platform,
    /// The channel, as the source names it; empty means the creator's own channel.
    pub channel: String,
    /// The id of the event (or tick) that caused the command.
    pub cause: String,
    #[serde(flatten)]
    pub kind: CommandKind,
    /// Whether what becomes of it is reported back ([`receipts`]): a moderation decision's audit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub receipt: bool,
}

/// The user a moderation command is aimed at: the platform's user id and, for logs and platforms
/// that address users by name, their login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetUser {
    pub id: String,
    pub login: String,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum CommandKind {
    /// Post `text` in the channel.
    Say { text: String },
    /// Post `text` threaded under the message `reply_to` (platforms without threads prefix or
    /// just post it).
    Reply { text: String, reply_to: String },
    /// Remove one chat message.
    DeleteMessage { message_id: String },
    /// Keep `user` from chatting for `seconds`.
    Timeout {
        user: TargetUser,
        seconds: u32,
        reason: Option<String>,
    },
    /// Keep `user` from chatting until unbanned.
    Ban {
        user: TargetUser,
        reason: Option<String>,
    },
    /// Lift a ban or timeout of `user`.
    Unban { user: TargetUser },
    /// Post `text` as a highlighted announcement.
    Announce { text: String },
}

impl CommandKind {
    /// Which kind of command this is.
    pub fn name(&self) -> CommandName {
        match self {
            CommandKind::Say { .. } => CommandName::Say,
            CommandKind::Reply { .. } => CommandName::Reply,
            CommandKind::DeleteMessage { .. } => CommandName::DeleteMessage,
            CommandKind::Timeout { .. } => CommandName::Timeout,
            CommandKind::Ban { .. } => CommandName::Ban,
            CommandKind::Unban { .. } => CommandName::Unban,
            CommandKind::Announce { .. } => CommandName::Announce,
        }
    }

    /// The text the command posts, for the kinds that post text.
    pub fn text(&self) -> Option<&str> {
        match self {
            CommandKind::Say { text }
            | CommandKind::Reply { text, .. }
            | CommandKind::Announce { text } => Some(text),
            _ => None,
        }
    }

    /// Whether the command moderates (delete, timeout, ban, unban): doing it twice does no harm,
    /// so a delivery that failed for a passing reason is tried again.
    pub fn is_moderation(&self) -> bool {
        matches!(
            self,
            CommandKind::DeleteMessage { .. }
                | CommandKind::Timeout { .. }
                | CommandKind::Ban { .. }
                | CommandKind::Unban { .. }
        )
    }

    /// The same command posting `text` instead (no change for kinds without text).
    pub fn with_text(&self, text: String) -> CommandKind {
        match self {
            CommandKind::Say { .. } => CommandKind::Say { text },
            CommandKind::Reply { reply_to, .. } => CommandKind::Reply {
                text,
                reply_to: reply_to.clone(),
            },
            CommandKind::Announce { .. } => CommandKind::Announce { text },
            other => other.clone(),
        }
    }
}

/// The kinds of command, without their data: what platforms declare and counters count by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandName {
    Say,
    Reply,
    DeleteMessage,
    Timeout,
    Ban,
    Unban,
    Announce,
}

impl CommandName {
    /// Every kind, in the order exports list them.
    pub const ALL: [CommandName; 7] = [
        CommandName::Say,
        CommandName::Reply,
        CommandName::DeleteMessage,
        CommandName::Timeout,
        CommandName::Ban,
        CommandName::Unban,
        CommandName::Announce,
    ];

    /// The snake_case name used in exports, telemetry and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandName::Say => "say",
            CommandName::Reply => "reply",
            CommandName::DeleteMessage => "delete_message",
            CommandName::Timeout => "timeout",
            CommandName::Ban => "ban",
            CommandName::Unban => "unban",
            CommandName::Announce => "announce",
        }
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for CommandName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of command kinds: what one platform (or one running source) can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CommandSet(u8);

impl CommandSet {
    /// Nothing: a read-only platform.
    pub const NONE: CommandSet = CommandSet(0);
    /// Every kind.
    pub const ALL: CommandSet = CommandSet::of(&CommandName::ALL);

    /// The set of `names`, usable in constants.
    pub const fn of(names: &[CommandName]) -> CommandSet {
        let mut bits = 0;
        let mut i = 0;
        while i < names.len() {
            bits |= names[i].bit();
            i += 1;
        }
        CommandSet(bits)
    }

    pub fn contains(self, name: CommandName) -> bool {
        self.0 & name.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The kinds in the set, in [`CommandName::ALL`] order.
    pub fn names(self) -> impl Iterator<Item = CommandName> {
        CommandName::ALL
            .into_iter()
            .filter(move |n| self.contains(*n))
    }
}

/// What a running source can do, and why it refuses the rest (said to the operator once per kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSupport {
    pub supported: CommandSet,
    /// Why a kind outside `supported` is refused, with how to fix it when it can be fixed.
    pub otherwise: String,
}

impl CommandSupport {
    pub fn new(supported: CommandSet, otherwise: impl Into<String>) -> CommandSupport {
        CommandSupport {
            supported,
            otherwise: otherwise.into(),
        }
    }

    /// A source that can send nothing, and why.
    pub fn none(why: impl Into<String>) -> CommandSupport {
        CommandSupport::new(CommandSet::NONE, why)
    }

    pub fn allows(&self, name: CommandName) -> bool {
        self.supported.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_plain_json_with_their_cause() {
        let command = PlatformCommand {
            creator: "demo".into(),
            platform: Platform::named("kick"),
            channel: "demo".into(),
            cause: "m-1".into(),
            kind: CommandKind::Timeout {
                user: TargetUser {
                    id: "42".into(),
                    login: "spammer".into(),
                },
                seconds: 600,
                reason: Some("banned word".into()),
            },
            receipt: false,
        };
        let json = serde_json::to_value(&command).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"creator": "demo", "platform": "kick", "channel": "demo", "cause": "m-1",
                "command": "timeout", "user": {"id": "42", "login": "spammer"}, "seconds": 600,
                "reason": "banned word"})
        );
        let back: PlatformCommand = serde_json::from_value(json).unwrap();
        assert_eq!(back, command);
        assert_eq!(command.kind.name().as_str(), "timeout");
    }

    #[test]
    fn sets_hold_what_they_were_made_of() {
        const CHAT: CommandSet = CommandSet::of(&[CommandName::Say, CommandName::Reply]);
        assert!(CHAT.contains(CommandName::Reply));
        assert!(!CHAT.contains(CommandName::Timeout));
        assert_eq!(
            CHAT.names().collect::<Vec<_>>(),
            [CommandName::Say, CommandName::Reply]
        );
        assert!(CommandSet::NONE.is_empty());
        assert_eq!(CommandSet::ALL.names().count(), CommandName::ALL.len());
        for name in CommandName::ALL {
            let json = serde_json::to_value(name).unwrap();
            assert_eq!(json, name.as_str());
        }
    }
}
