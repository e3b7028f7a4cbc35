//! `runtime/config/triggers.json`: chat triggers per creator and what they do.

use super::yes;
use crate::event::{Platform, Role};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `runtime/config/triggers.json`: chat triggers, keyed by creator id.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggersConfig {
    #[serde(default)]
    pub triggers: BTreeMap<String, Vec<TriggerDef>>,
}

/// One trigger: what matches, who may fire it, how often, and what it does.
// No `deny_unknown_fields` here: serde cannot combine it with `flatten`; the schema rejects unknown keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerDef {
    /// Unique within the creator.
    pub id: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(flatten)]
    pub matcher: Matcher,
    #[serde(default)]
    pub cooldowns: Cooldowns,
    /// The least privileged role allowed to fire it (default everyone).
    #[serde(default)]
    pub min_role: Role,
    /// Platforms it applies to; empty means all.
    #[serde(default)]
    pub platforms: Vec<Platform>,
    pub action: ActionDef,
}

/// How a trigger matches a chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Matcher {
    /// The first word equals the command or an alias (case-insensitive); the rest are arguments.
    Command {
        command: String,
        #[serde(default)]
        aliases: Vec<String>,
    },
    /// Any of the keywords appears as a whole word (case-insensitive).
    Keyword { keywords: Vec<String> },
    /// The regular expression matches somewhere in the text.
    Regex { pattern: String },
    /// Any message with non-blank text: the validation trigger.
    NonEmpty,
}

/// Seconds before the trigger may fire again; 0 means no cooldown.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cooldowns {
    /// Per user (on one platform).
    #[serde(default)]
    pub user_s: f64,
    /// Per creator: anyone, on any of the creator's platforms.
    #[serde(default)]
    pub creator_s: f64,
    /// Per trigger id across every creator that defines it.
    #[serde(default)]
    pub global_s: f64,
}

/// What a trigger does when it fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionDef {
    /// Reply in chat; `{user}`, `{args}`, `{count}` and `{platform}` are filled in.
    Reply { template: String },
    /// Request a clip of the last `duration_s` seconds (default 30).
    Clip {
        #[serde(default)]
        duration_s: Option<u32>,
        #[serde(default)]
        title: Option<String>,
    },
    /// Add `amount` (default 1) to a named tally.
    Tally {
        tally: String,
        #[serde(default)]
        amount: Option<i64>,
    },
    /// Vote in a poll; the option is the first argument (or `option` when set).
    PollVote {
        poll: String,
        #[serde(default)]
        option: Option<String>,
    },
    /// Give the author `points` (default 1) on a scoreboard.
    Score {
        board: String,
        #[serde(default)]
        points: Option<i64>,
    },
    /// Send a Discord notification to one of the guild's notification channels.
    Notify { channel: String, template: String },
    /// Mark the platform's chat as validated (a message made it through end to end).
    ValidationPassed,
}
