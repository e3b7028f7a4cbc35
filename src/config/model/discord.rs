//! `runtime/config/discord.json`: per-guild Discord settings (a notification destination, not a chat platform).

use super::ControlRole;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `runtime/config/discord.json`: per-guild Discord settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    #[serde(default)]
    pub discord: DiscordSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordSettings {
    /// Environment variable with the bot token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// The REST API base (default `https://discord.com/api/v10`; a local server in tests).
    #[serde(default = "DiscordSettings::default_api_base_url")]
    pub api_base_url: String,
    /// Guild settings keyed by guild id (a snowflake).
    #[serde(default)]
    pub guilds: BTreeMap<String, GuildSettings>,
    /// The gateway bot: slash commands in the configured guilds (off unless enabled).
    #[serde(default)]
    pub bot: BotSettings,
}

/// The gateway bot (`ss discord`, or inside `ss run` when `enabled`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotSettings {
    /// `ss run` starts the bot beside the sources (`ss discord` runs it alone either way).
    #[serde(default)]
    pub enabled: bool,
    /// Identify calls left in the day's budget at or below which the bot warns.
    #[serde(default = "BotSettings::default_identify_warn_below")]
    pub identify_warn_below: u32,
}

impl Default for BotSettings {
    fn default() -> Self {
        BotSettings {
            enabled: false,
            identify_warn_below: BotSettings::default_identify_warn_below(),
        }
    }
}

impl BotSettings {
    fn default_identify_warn_below() -> u32 {
        100
    }
}

impl Default for DiscordSettings {
    fn default() -> Self {
        DiscordSettings {
            token_env: None,
            api_base_url: DiscordSettings::default_api_base_url(),
            guilds: BTreeMap::new(),
            bot: BotSettings::default(),
        }
    }
}

impl DiscordSettings {
    fn default_api_base_url() -> String {
        "https://discord.com/api/v10".into()
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuildSettings {
    /// The creator this guild belongs to, if any.
    #[serde(default)]
    pub creator: Option<String>,
    /// Environment variable with an Execute Webhook URL: when set, this guild's posts go through the
    /// webhook (which names its own channel) instead of the bot.
    #[serde(default)]
    pub webhook_url_env: Option<String>,
    #[serde(default)]
    pub logging: GuildLogging,
    #[serde(default)]
    pub notifications: GuildNotifications,
    /// Guild role id → `ss` role for the bot's slash commands. The guild's own id is its
    /// `@everyone` role. A member without a mapped role can use no command.
    #[serde(default)]
    pub roles: BTreeMap<String, ControlRole>,
}

impl GuildSettings {
    /// The highest `ss` role any of `member_roles` maps to.
    pub fn role_of(&self, guild_id: &str, member_roles: &[String]) -> Option<ControlRole> {
        member_roles
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(guild_id))
            .filter_map(|id| self.roles.get(id).copied())
            .max()
    }
}

/// Runtime log mirroring into a channel: off unless enabled with a channel.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuildLogging {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub channel_id: Option<String>,
}

/// Channel ids that receive notifications; a missing one means none are sent there.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuildNotifications {
    #[serde(default)]
    pub general: Option<String>,
    #[serde(default)]
    pub rumble_clips: Option<String>,
    #[serde(default)]
    pub youtube_clips: Option<String>,
    #[serde(default)]
    pub kick_clips: Option<String>,
    #[serde(default)]
    pub pilled_clips: Option<String>,
    #[serde(default)]
    pub twitch_clips: Option<String>,
}

impl GuildNotifications {
    /// The channel id set for notification key `name` (one of [`Self::NAMES`]).
    pub fn channel(&self, name: &str) -> Option<&str> {
        match name {
            "general" => self.general.as_deref(),
            "rumble_clips" => self.rumble_clips.as_deref(),
            "youtube_clips" => self.youtube_clips.as_deref(),
            "kick_clips" => self.kick_clips.as_deref(),
            "pilled_clips" => self.pilled_clips.as_deref(),
            "twitch_clips" => self.twitch_clips.as_deref(),
            _ => None,
        }
    }

    /// The names a `notify` action may use as its channel.
    pub const NAMES: [&'static str; 6] = [
        "general",
        "rumble_clips",
        "youtube_clips",
        "kick_clips",
        "pilled_clips",
        "twitch_clips",
    ];
}
