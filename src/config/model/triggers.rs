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
    /// Chat polls and standings commands, keyed by creator id; a creator not listed has none.
    #[serde(default)]
    pub polls: BTreeMap<String, PollSettings>,
}

/// A creator's chat polls (`!poll open ...`, `!vote ...`, `!poll close`) and standings replies
/// (`!top [board]`, `!rank [user]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollSettings {
    /// Opens, closes and shows polls (default `!poll`).
    #[serde(default = "default_poll_command")]
    pub poll_command: String,
    /// Votes in the open poll by number or option (default `!vote`).
    #[serde(default = "default_vote_command")]
    pub vote_command: String,
    /// The least privileged role allowed to open and close polls (default moderator).
    #[serde(default = "default_manage_role")]
    pub manage_role: Role,
    /// Seconds a poll stays open when `!poll open` names no duration; 0 (the default): until
    /// `!poll close`.
    #[serde(default)]
    pub default_duration_s: u32,
    /// Most options a poll may have (default 10).
    #[serde(default = "default_max_options")]
    pub max_options: usize,
    /// The Discord notification channel key the results are posted to (default `general`); `null`
    /// posts nothing.
    #[serde(default = "default_results_channel")]
    pub discord: Option<String>,
    /// Replies the top of a scoreboard or tally (default `!top`).
    #[serde(default = "default_top_command")]
    pub top_command: String,
    /// Replies a user's rank on a scoreboard (default `!rank`).
    #[serde(default = "default_rank_command")]
    pub rank_command: String,
}

impl Default for PollSettings {
    fn default() -> PollSettings {
        PollSettings {
            poll_command: default_poll_command(),
            vote_command: default_vote_command(),
            manage_role: default_manage_role(),
            default_duration_s: 0,
            max_options: default_max_options(),
            discord: default_results_channel(),
            top_command: default_top_command(),
            rank_command: default_rank_command(),
        }
    }
}

impl PollSettings {
    /// The chat commands these settings claim, for conflict checks.
    pub fn commands(&self) -> [&str; 4] {
        [
            &self.poll_command,
            &self.vote_command,
            &self.top_command,
            &self.rank_command,
        ]
    }
}

/// The most options any poll may have, whatever `max_options` says (a chat line must list them).
pub const POLL_OPTIONS_LIMIT: usize = 25;

fn default_poll_command() -> String {
    "!poll".into()
}

fn default_vote_command() -> String {
    "!vote".into()
}

fn default_top_command() -> String {
    "!top".into()
}

fn default_rank_command() -> String {
    "!rank".into()
}

fn default_manage_role() -> Role {
    Role::Moderator
}

fn default_max_options() -> usize {
    10
}

#[allow(
    clippy::unnecessary_wraps,
    reason = "serde default of an Option field whose default is Some"
)]
fn default_results_channel() -> Option<String> {
    Some("general".into())
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
    /// Post in chat, not threaded under the message; a template like `reply`'s.
    Say { template: String },
    /// Post a highlighted announcement; a template like `reply`'s.
    Announce { template: String },
    /// Delete the message that fired the trigger.
    Delete,
    /// Time the message's author out for `seconds`; `reason` is a template.
    Timeout {
        seconds: u32,
        #[serde(default)]
        reason: Option<String>,
    },
    /// Ban the message's author; `reason` is a template.
    Ban {
        #[serde(default)]
        reason: Option<String>,
    },
    /// Lift a ban or timeout of the message's author.
    Unban,
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
    /// Vote in a poll; the option is the first argument (or `option` when set). Without `poll`, the
    /// vote goes to the creator's open chat poll (by number or option); with it, to a standing poll
    /// of that name whose options are whatever chat votes for.
    PollVote {
        #[serde(default)]
        poll: Option<String>,
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

impl ActionDef {
    /// Whether the action moderates the author of the message (time out, ban, unban, delete).
    pub fn moderates_author(&self) -> bool {
        matches!(
            self,
            ActionDef::Delete
                | ActionDef::Timeout { .. }
                | ActionDef::Ban { .. }
                | ActionDef::Unban
        )
    }
}
