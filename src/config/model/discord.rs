//! `runtime/config/discord.json`: per-guild Discord settings (a notification destination, not a chat platform).

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
}

impl Default for DiscordSettings {
    fn default() -> Self {
        DiscordSettings {
            token_env: None,
            api_base_url: DiscordSettings::default_api_base_url(),
            guilds: BTreeMap::new(),
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
