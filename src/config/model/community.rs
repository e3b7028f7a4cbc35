//! The daily bot's sections of `runtime/config/triggers.json`, each keyed by creator id: timers,
//! giveaways, quotes, points and account links. A creator not listed in a section does not have
//! that feature; `{}` turns it on with the defaults.

use super::yes;
use crate::event::{Platform, Role, Roles};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A timed message: posted every `every_s` seconds while the creator is live, on the platforms it
/// names, once at least `min_messages` chat messages came since its last post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimerDef {
    /// Unique among the creator's timers and triggers.
    pub id: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Seconds between posts (the slots are `offset_s + k × every_s` seconds since 1970, on the
    /// engine's clock).
    pub every_s: u32,
    /// Seconds the slots are shifted by, so timers with the same period spread out.
    #[serde(default)]
    pub offset_s: u32,
    /// Chat messages (on the timer's platforms) needed since its last post; 0: post in a silent
    /// chat too.
    #[serde(default)]
    pub min_messages: u32,
    /// Platforms it posts on; empty: every platform the creator chats on.
    #[serde(default)]
    pub platforms: Vec<Platform>,
    pub action: TimerAction,
}

/// What a timer does: post in chat, announce, post to a Discord channel, or call an extension. Templates fill
/// `{platform}` and `{count}` (posts of this timer since the trigger state started).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TimerAction {
    Say {
        template: String,
    },
    Announce {
        template: String,
    },
    Notify {
        channel: String,
        template: String,
    },
    /// Call an extension (no event: the request's `event` is null); what it answers is said on
    /// the timer's platforms.
    Extension {
        name: String,
        #[serde(default)]
        input: serde_json::Map<String, serde_json::Value>,
    },
}

impl TimerAction {
    /// The placeholders a timer's template may use (nothing else can be filled from a tick).
    pub const PLACEHOLDERS: [&'static str; 2] = ["platform", "count"];

    pub fn template(&self) -> &str {
        match self {
            TimerAction::Say { template }
            | TimerAction::Announce { template }
            | TimerAction::Notify { template, .. } => template,
            TimerAction::Extension { .. } => "",
        }
    }
}

/// A creator's giveaways: `!giveaway open <keyword> [duration] [--subs-only|--followers]`,
/// `!giveaway draw [n]`, `!giveaway reroll`, `!giveaway close`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GiveawaySettings {
    #[serde(default = "default_giveaway_command")]
    pub command: String,
    /// The least privileged role allowed to open, draw, reroll and close (default moderator).
    #[serde(default = "default_manage_role")]
    pub manage_role: Role,
    /// Tickets per entry by role: an entrant gets the largest weight of the roles they hold
    /// (`everyone` included), 1 when none of theirs is listed.
    #[serde(default)]
    pub weights: BTreeMap<Role, u32>,
    /// Most winners one `draw` may pick (default 10).
    #[serde(default = "default_max_winners")]
    pub max_winners: u32,
    /// The Discord notification channel key (or id) winners are posted to; `null` (the default):
    /// not posted. X posts follow posting.json's `giveaway_winners` rules.
    #[serde(default)]
    pub discord: Option<String>,
}

impl Default for GiveawaySettings {
    fn default() -> GiveawaySettings {
        GiveawaySettings {
            command: default_giveaway_command(),
            manage_role: default_manage_role(),
            weights: BTreeMap::new(),
            max_winners: default_max_winners(),
            discord: None,
        }
    }
}

impl GiveawaySettings {
    /// The tickets of an entrant holding `roles`: the largest weight of the roles they hold,
    /// else 1.
    pub fn weight_of(&self, roles: &Roles) -> u32 {
        [
            (Role::Everyone, true),
            (Role::Subscriber, roles.subscriber),
            (Role::Vip, roles.vip),
            (Role::Moderator, roles.moderator),
            (Role::Broadcaster, roles.broadcaster),
        ]
        .iter()
        .filter(|(_, held)| *held)
        .filter_map(|(role, _)| self.weights.get(role))
        .max()
        .copied()
        .unwrap_or(1)
    }
}

/// A creator's quotes: `!quote [n]`, `!quote add <text>`, `!quote search <words>`, `!quote del <n>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteSettings {
    #[serde(default = "default_quote_command")]
    pub command: String,
    /// The least privileged role allowed to add quotes (default moderator).
    #[serde(default = "default_manage_role")]
    pub add_role: Role,
    /// The least privileged role allowed to delete quotes (default moderator).
    #[serde(default = "default_manage_role")]
    pub delete_role: Role,
}

impl Default for QuoteSettings {
    fn default() -> QuoteSettings {
        QuoteSettings {
            command: default_quote_command(),
            add_role: default_manage_role(),
            delete_role: default_manage_role(),
        }
    }
}

/// A creator's points: earned by chatting and watching, bonuses from triggers, `!points`,
/// `!give <user> <n>`, moderators' `!points add|remove <user> <n>`, `!top points`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointsSettings {
    /// The currency's name, as replies say it and `!top <name>` asks for it (default `points`).
    #[serde(default = "default_points_name")]
    pub name: String,
    /// Points for a chat message, at most once per `message_interval_s` per person (default 1).
    #[serde(default = "default_one")]
    pub per_message: u32,
    #[serde(default = "default_message_interval_s")]
    pub message_interval_s: u32,
    /// Points per minute watched while live, for every chatter active within `active_window_s`
    /// (platforms do not say who watches; default 1).
    #[serde(default = "default_one")]
    pub per_minute: u32,
    #[serde(default = "default_active_window_s")]
    pub active_window_s: u32,
    #[serde(default = "default_points_command")]
    pub command: String,
    #[serde(default = "default_give_command")]
    pub give_command: String,
    /// The command whose `points` (or currency name) argument lists the leaders (default `!top`,
    /// shared with the standings command).
    #[serde(default = "default_top_command")]
    pub top_command: String,
    /// The least privileged role allowed to add and remove points (default moderator).
    #[serde(default = "default_manage_role")]
    pub manage_role: Role,
}

impl Default for PointsSettings {
    fn default() -> PointsSettings {
        PointsSettings {
            name: default_points_name(),
            per_message: 1,
            message_interval_s: default_message_interval_s(),
            per_minute: 1,
            active_window_s: default_active_window_s(),
            command: default_points_command(),
            give_command: default_give_command(),
            top_command: default_top_command(),
            manage_role: default_manage_role(),
        }
    }
}

/// A creator's account links: `!link` gives a code, `!link CODE` on another platform completes
/// it, `!unlink` undoes the link of the account that asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSettings {
    #[serde(default = "default_link_command")]
    pub command: String,
    #[serde(default = "default_unlink_command")]
    pub unlink_command: String,
    /// Seconds a code stays good (default 600).
    #[serde(default = "default_code_ttl_s")]
    pub code_ttl_s: u32,
}

impl Default for LinkSettings {
    fn default() -> LinkSettings {
        LinkSettings {
            command: default_link_command(),
            unlink_command: default_unlink_command(),
            code_ttl_s: default_code_ttl_s(),
        }
    }
}

fn default_giveaway_command() -> String {
    "!giveaway".into()
}
fn default_quote_command() -> String {
    "!quote".into()
}
fn default_points_name() -> String {
    "points".into()
}
fn default_points_command() -> String {
    "!points".into()
}
fn default_give_command() -> String {
    "!give".into()
}
fn default_top_command() -> String {
    "!top".into()
}
fn default_link_command() -> String {
    "!link".into()
}
fn default_unlink_command() -> String {
    "!unlink".into()
}
fn default_manage_role() -> Role {
    Role::Moderator
}
fn default_max_winners() -> u32 {
    10
}
fn default_one() -> u32 {
    1
}
fn default_message_interval_s() -> u32 {
    60
}
fn default_active_window_s() -> u32 {
    600
}
fn default_code_ttl_s() -> u32 {
    600
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weight_is_the_largest_of_the_roles_held() {
        let settings: GiveawaySettings =
            serde_json::from_str(r#"{"weights": {"subscriber": 2, "moderator": 3}}"#).unwrap();
        let roles = |subscriber, vip, moderator| Roles {
            subscriber,
            vip,
            moderator,
            broadcaster: false,
        };
        assert_eq!(settings.weight_of(&roles(false, false, false)), 1);
        assert_eq!(settings.weight_of(&roles(true, false, false)), 2);
        assert_eq!(
            settings.weight_of(&roles(false, true, false)),
            1,
            "VIP is not listed"
        );
        assert_eq!(settings.weight_of(&roles(true, true, true)), 3);
        assert_eq!(
            GiveawaySettings::default().weight_of(&roles(true, false, true)),
            1
        );
    }
}
