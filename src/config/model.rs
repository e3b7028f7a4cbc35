//! Typed configuration: one struct per file in `runtime/config/`, with documented defaults.
//!
//! These types are what the runtime reads after a file has passed its JSON Schema and the semantic
//! checks. Every field that may be left out has a default here that matches the schema's `default`,
//! so an operator only writes what differs. Secrets never appear as values: a field ending in `_env`
//! names an environment variable (see [`crate::config::secrets`]).

use crate::event::{Platform, Role};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

fn yes() -> bool {
    true
}

// ---------------------------------------------------------------------------------------------
// system.json

/// `runtime/config/system.json`: runtime settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemConfig {
    #[serde(default)]
    pub exports: ExportSettings,
    #[serde(default)]
    pub hot_reload: HotReload,
    #[serde(default)]
    pub clips: ClipSettings,
    #[serde(default)]
    pub chat_log: ChatLog,
    #[serde(default)]
    pub limits: Limits,
}

/// How often snapshots are written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportSettings {
    /// Seconds between scheduled snapshot writes (default 5).
    #[serde(default = "ExportSettings::default_cadence")]
    pub cadence_s: f64,
    /// How many recent chat events `signals/chat_events.json` keeps (default 200).
    #[serde(default = "ExportSettings::default_recent_events")]
    pub recent_events: usize,
}

impl ExportSettings {
    fn default_cadence() -> f64 {
        5.0
    }
    fn default_recent_events() -> usize {
        200
    }
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            cadence_s: Self::default_cadence(),
            recent_events: Self::default_recent_events(),
        }
    }
}

/// Apply config changes without a restart, and mirror exports (off by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HotReload {
    #[serde(default)]
    pub enabled: bool,
    /// Directory watched for changes, relative to the root (default `runtime/config`).
    #[serde(default = "HotReload::default_watch_dir")]
    pub watch_dir: String,
}

impl HotReload {
    fn default_watch_dir() -> String {
        "runtime/config".into()
    }
}

impl Default for HotReload {
    fn default() -> Self {
        Self {
            enabled: false,
            watch_dir: Self::default_watch_dir(),
        }
    }
}

/// The clip pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipSettings {
    /// The FFmpeg executable (default `ffmpeg`, looked up on PATH).
    #[serde(default = "ClipSettings::default_ffmpeg")]
    pub ffmpeg_path: String,
    /// Clip jobs encoded at once (default 2).
    #[serde(default = "ClipSettings::default_concurrency")]
    pub concurrency: u32,
    /// Where encoded clips go, relative to the root (default `clips/output`).
    #[serde(default = "ClipSettings::default_output_dir")]
    pub output_dir: String,
    /// Where finished clips are published (default `local`).
    #[serde(default = "ClipSettings::default_destination")]
    pub default_destination: String,
}

impl ClipSettings {
    fn default_ffmpeg() -> String {
        "ffmpeg".into()
    }
    fn default_concurrency() -> u32 {
        2
    }
    fn default_output_dir() -> String {
        "clips/output".into()
    }
    fn default_destination() -> String {
        "local".into()
    }
}

impl Default for ClipSettings {
    fn default() -> Self {
        Self {
            ffmpeg_path: Self::default_ffmpeg(),
            concurrency: Self::default_concurrency(),
            output_dir: Self::default_output_dir(),
            default_destination: Self::default_destination(),
        }
    }
}

/// Recording every accepted chat event in the store.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatLog {
    #[serde(default)]
    pub enabled: bool,
}

/// Queue sizes and windows. The defaults suit one creator's channels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Capacity of the data (chat) lane (default 8192).
    #[serde(default = "Limits::default_data_lane")]
    pub data_lane_capacity: usize,
    /// How long a full data lane blocks a source before dropping, in ms (default 250).
    #[serde(default = "Limits::default_block_ms")]
    pub data_lane_block_ms: u64,
    /// Message ids remembered per platform for dedupe (default 65536).
    #[serde(default = "Limits::default_dedupe")]
    pub dedupe_window: usize,
}

impl Limits {
    fn default_data_lane() -> usize {
        8192
    }
    fn default_block_ms() -> u64 {
        250
    }
    fn default_dedupe() -> usize {
        65536
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            data_lane_capacity: Self::default_data_lane(),
            data_lane_block_ms: Self::default_block_ms(),
            dedupe_window: Self::default_dedupe(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// creators.json

/// `runtime/config/creators.json`: the creators this runtime serves.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatorsConfig {
    pub creators: Vec<Creator>,
}

impl CreatorsConfig {
    pub fn get(&self, id: &str) -> Option<&Creator> {
        self.creators.iter().find(|c| c.id == id)
    }
}

/// One creator and the platforms their runtime connects to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Creator {
    /// Stable id: lowercase letters, digits, `-` and `_`.
    pub id: String,
    pub display_name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub platforms: CreatorPlatforms,
}

/// Per-platform settings of one creator. A missing block means the platform is off.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatorPlatforms {
    pub twitch: Option<TwitchSettings>,
    pub youtube: Option<YoutubeSettings>,
    pub kick: Option<KickSettings>,
    pub rumble: Option<RumbleSettings>,
    pub pilled: Option<PilledSettings>,
    pub sim: Option<SimSettings>,
}

impl CreatorPlatforms {
    /// Whether the creator enables `platform`.
    pub fn enabled(&self, platform: Platform) -> bool {
        match platform {
            Platform::Twitch => self.twitch.as_ref().is_some_and(|s| s.enabled),
            Platform::Youtube => self.youtube.as_ref().is_some_and(|s| s.enabled),
            Platform::Kick => self.kick.as_ref().is_some_and(|s| s.enabled),
            Platform::Rumble => self.rumble.as_ref().is_some_and(|s| s.enabled),
            Platform::Pilled => self.pilled.as_ref().is_some_and(|s| s.enabled),
            Platform::Sim => self.sim.as_ref().is_some_and(|s| s.enabled),
        }
    }

    /// Whether a block for `platform` is present at all.
    pub fn configured(&self, platform: Platform) -> bool {
        match platform {
            Platform::Twitch => self.twitch.is_some(),
            Platform::Youtube => self.youtube.is_some(),
            Platform::Kick => self.kick.is_some(),
            Platform::Rumble => self.rumble.is_some(),
            Platform::Pilled => self.pilled.is_some(),
            Platform::Sim => self.sim.is_some(),
        }
    }
}

/// Twitch chat over IRC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwitchSettings {
    #[serde(default)]
    pub enabled: bool,
    /// The channel login to join, without `#`.
    pub channel: String,
    /// The bot's login; a `justinfan…` nick (or no token_env) reads anonymously.
    #[serde(default = "TwitchSettings::default_nick")]
    pub nick: String,
    /// Environment variable holding the OAuth token (with or without `oauth:`).
    #[serde(default)]
    pub token_env: Option<String>,
    /// IRC host (default `irc.chat.twitch.tv`); platforms.json may override it for every creator.
    #[serde(default)]
    pub host: Option<String>,
    /// IRC port (default 6697 with TLS, 6667 without).
    #[serde(default)]
    pub port: Option<u16>,
    /// TLS on (default true).
    #[serde(default)]
    pub tls: Option<bool>,
}

impl TwitchSettings {
    fn default_nick() -> String {
        "justinfan12345".into()
    }
}

/// YouTube live chat through the Data API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YoutubeSettings {
    #[serde(default)]
    pub enabled: bool,
    /// The channel whose live broadcast is read.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// A fixed live chat id, instead of discovering the active broadcast.
    #[serde(default)]
    pub live_chat_id: Option<String>,
    /// Environment variable with an API key (reading).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Environment variable with an OAuth access token (sending).
    #[serde(default)]
    pub oauth_token_env: Option<String>,
}

/// Kick chat over Pusher, sending through the public API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KickSettings {
    #[serde(default)]
    pub enabled: bool,
    /// The channel slug.
    pub channel: String,
    /// The chatroom id used for the Pusher subscription.
    #[serde(default)]
    pub chatroom_id: Option<u64>,
    /// Environment variable with an OAuth token (sending).
    #[serde(default)]
    pub token_env: Option<String>,
}

/// Rumble's Live Stream API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RumbleSettings {
    #[serde(default)]
    pub enabled: bool,
    /// Environment variable holding the full Live Stream API URL (it embeds a key).
    #[serde(default)]
    pub api_url_env: Option<String>,
    /// Seconds between polls (default 5).
    #[serde(default)]
    pub poll_interval_s: Option<f64>,
}

/// Pilled: planned, ingest only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PilledSettings {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub channel: Option<String>,
}

/// The built-in synthetic chat source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSettings {
    #[serde(default)]
    pub enabled: bool,
    /// Events per second (default 5; 0 means as fast as the pipeline takes them).
    #[serde(default = "SimSettings::default_rate")]
    pub rate_per_s: f64,
    /// Seed: the same seed gives the same chat (default 7).
    #[serde(default = "SimSettings::default_seed")]
    pub seed: u64,
    /// How many distinct viewers chat (default 200).
    #[serde(default = "SimSettings::default_users")]
    pub users: u32,
    /// The channel name the events claim (default the creator id).
    #[serde(default)]
    pub channel: Option<String>,
}

impl SimSettings {
    fn default_rate() -> f64 {
        5.0
    }
    fn default_seed() -> u64 {
        7
    }
    fn default_users() -> u32 {
        200
    }
}

impl Default for SimSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            rate_per_s: Self::default_rate(),
            seed: Self::default_seed(),
            users: Self::default_users(),
            channel: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// platforms.json

/// `runtime/config/platforms.json`: platform modes and endpoint overrides.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformsConfig {
    #[serde(default)]
    pub platforms: BTreeMap<Platform, PlatformSettings>,
}

impl PlatformsConfig {
    /// The mode of `platform`: as configured, else its built-in default.
    pub fn mode(&self, platform: Platform) -> PlatformMode {
        self.platforms
            .get(&platform)
            .map_or_else(|| PlatformMode::default_for(platform), |s| s.mode)
    }

    /// The endpoint overrides of `platform` (empty when none).
    pub fn endpoints(&self, platform: Platform) -> Endpoints {
        self.platforms
            .get(&platform)
            .map(|s| s.endpoints.clone())
            .unwrap_or_default()
    }
}

/// Whether a platform runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlatformMode {
    /// Sources start for every creator that enables the platform.
    Active,
    /// Implemented but switched off; never started.
    Paused,
    /// Partly built; listed, never started.
    Scaffold,
    /// Announced; listed, never started.
    Planned,
}

impl PlatformMode {
    /// Built-in modes: Rumble paused, Pilled planned, the rest active.
    pub fn default_for(platform: Platform) -> PlatformMode {
        match platform {
            Platform::Rumble => PlatformMode::Paused,
            Platform::Pilled => PlatformMode::Planned,
            _ => PlatformMode::Active,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PlatformMode::Active => "active",
            PlatformMode::Paused => "paused",
            PlatformMode::Scaffold => "scaffold",
            PlatformMode::Planned => "planned",
        }
    }
}

/// One platform's mode and endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformSettings {
    pub mode: PlatformMode,
    #[serde(default, flatten)]
    pub endpoints: Endpoints,
}

/// Endpoint overrides, so tests and self-hosted servers can stand in for the real ones.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Endpoints {
    /// HTTP API base URL (YouTube, Kick, Rumble, Discord).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Websocket URL (Kick's Pusher).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws_url: Option<String>,
    /// Host for socket protocols (Twitch IRC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
}

// ---------------------------------------------------------------------------------------------
// triggers.json

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

// ---------------------------------------------------------------------------------------------
// discord.json

/// `runtime/config/discord.json`: per-guild Discord settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    #[serde(default)]
    pub discord: DiscordSettings,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordSettings {
    /// Environment variable with the bot token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Guild settings keyed by guild id (a snowflake).
    #[serde(default)]
    pub guilds: BTreeMap<String, GuildSettings>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuildSettings {
    /// The creator this guild belongs to, if any.
    #[serde(default)]
    pub creator: Option<String>,
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

// ---------------------------------------------------------------------------------------------
// ratelimits.json

/// `runtime/config/ratelimits.json`: outgoing message limits and quota budgets.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsConfig {
    #[serde(default)]
    pub platforms: BTreeMap<Platform, SendLimit>,
    #[serde(default)]
    pub youtube_quota: YoutubeQuota,
}

impl RateLimitsConfig {
    /// The send limit for `platform`: as configured, else the platform's documented default.
    pub fn send_limit(&self, platform: Platform) -> SendLimit {
        self.platforms
            .get(&platform)
            .copied()
            .unwrap_or_else(|| SendLimit::default_for(platform))
    }
}

/// At most `messages` per `per_s` seconds; `privileged_messages` when the bot moderates or owns the channel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendLimit {
    pub messages: u32,
    pub per_s: f64,
    #[serde(default)]
    pub privileged_messages: Option<u32>,
}

impl SendLimit {
    /// Twitch: 20 / 30 s (100 as moderator); others: a conservative 20 / 30 s.
    pub fn default_for(platform: Platform) -> SendLimit {
        match platform {
            Platform::Twitch => SendLimit {
                messages: 20,
                per_s: 30.0,
                privileged_messages: Some(100),
            },
            _ => SendLimit {
                messages: 20,
                per_s: 30.0,
                privileged_messages: None,
            },
        }
    }
}

/// YouTube Data API daily quota budget (units reset at midnight Pacific).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YoutubeQuota {
    /// Units per day the project has (default 10000).
    #[serde(default = "YoutubeQuota::default_daily")]
    pub daily_units: u32,
    /// Units kept back for sending and recovery (default 1000).
    #[serde(default = "YoutubeQuota::default_reserve")]
    pub reserve_units: u32,
    /// Never spend past this many units in a day (default 9500).
    #[serde(default = "YoutubeQuota::default_hard_cap")]
    pub hard_cap_units: u32,
}

impl YoutubeQuota {
    fn default_daily() -> u32 {
        10_000
    }
    fn default_reserve() -> u32 {
        1_000
    }
    fn default_hard_cap() -> u32 {
        9_500
    }
}

impl Default for YoutubeQuota {
    fn default() -> Self {
        Self {
            daily_units: Self::default_daily(),
            reserve_units: Self::default_reserve(),
            hard_cap_units: Self::default_hard_cap(),
        }
    }
}
