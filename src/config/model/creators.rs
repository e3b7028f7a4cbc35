//! `runtime/config/creators.json`: creators and, per creator, the platforms they run with their settings.

use super::yes;
use crate::event::Platform;
use serde::{Deserialize, Serialize};

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

    /// The creator `id`, or an error listing the ids creators.json defines.
    pub fn require(&self, id: &str) -> Result<&Creator, String> {
        self.get(id).ok_or_else(|| {
            let known: Vec<&str> = self.creators.iter().map(|c| c.id.as_str()).collect();
            format!(
                "unknown creator {id:?}; creators.json defines: {}",
                known.join(", ")
            )
        })
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
    /// The creator's replay buffer and clip destination.
    #[serde(default)]
    pub clips: Option<CreatorClips>,
}

/// A creator's clip settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatorClips {
    /// The replay buffer; without it only `twitch` clips can be made.
    #[serde(default)]
    pub capture: Option<CaptureSettings>,
    /// Overrides system.json's `clips.default_destination` (`local`, `http`, `twitch`).
    #[serde(default)]
    pub destination: Option<String>,
}

/// The replay buffer: what FFmpeg records and how much of it is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSettings {
    /// Anything FFmpeg reads: an HLS, RTMP, SRT, UDP or TCP URL, or a file (looped, read in real time).
    pub input: String,
    /// Seconds of stream kept (default 120).
    #[serde(default = "CaptureSettings::default_buffer_s")]
    pub buffer_s: u32,
    /// Seconds per segment (default 2).
    #[serde(default = "CaptureSettings::default_segment_s")]
    pub segment_s: u32,
}

impl CaptureSettings {
    fn default_buffer_s() -> u32 {
        120
    }
    fn default_segment_s() -> u32 {
        2
    }
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
    /// Environment variable with the Twitch application's client id (Helix: go-live, clips).
    #[serde(default)]
    pub client_id_env: Option<String>,
    /// Environment variable with the application's client secret (an app token by client credentials).
    #[serde(default)]
    pub client_secret_env: Option<String>,
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
    /// A video whose live chat is read (found with `videos.list`, 1 unit).
    #[serde(default)]
    pub video_id: Option<String>,
    /// Seconds between discovery attempts while offline (default 300; stretched when the budget
    /// needs it).
    #[serde(default = "YoutubeSettings::default_discovery_interval_s")]
    pub discovery_interval_s: u64,
    /// `list` (default) polls `liveChatMessages.list`; `stream` uses the gRPC `streamList`.
    #[serde(default)]
    pub transport: YoutubeTransport,
    /// Names the Google project whose quota this source spends. Default: one project per API key
    /// (or per OAuth token variable without a key); creators that share a key share the budget.
    #[serde(default)]
    pub quota_project: Option<String>,
}

impl YoutubeSettings {
    fn default_discovery_interval_s() -> u64 {
        300
    }
}

/// How a YouTube source reads chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum YoutubeTransport {
    #[default]
    List,
    Stream,
}

/// Kick chat over Pusher, sending through the public API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KickSettings {
    #[serde(default)]
    pub enabled: bool,
    /// The channel slug.
    pub channel: String,
    /// The chatroom id used for the Pusher subscription; looked up from the slug when absent.
    #[serde(default)]
    pub chatroom_id: Option<u64>,
    /// The broadcaster's user id (sending as `user`, routing webhooks); looked up when absent.
    #[serde(default)]
    pub broadcaster_user_id: Option<u64>,
    /// Environment variable with an OAuth access token (sending).
    #[serde(default)]
    pub token_env: Option<String>,
    /// Environment variable with the OAuth refresh token (refreshing an expired access token).
    #[serde(default)]
    pub refresh_token_env: Option<String>,
    /// Environment variable with the app's client id (refreshing).
    #[serde(default)]
    pub client_id_env: Option<String>,
    /// Environment variable with the app's client secret (refreshing).
    #[serde(default)]
    pub client_secret_env: Option<String>,
}

/// Rumble chat: the official Live Stream API, optionally with the chat's event stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RumbleSettings {
    #[serde(default)]
    pub enabled: bool,
    /// Environment variable holding the full Live Stream API URL (it embeds a key).
    #[serde(default)]
    pub api_url_env: Option<String>,
    /// Seconds between API polls (default 10; never under [`RumbleSettings::MIN_POLL_INTERVAL_S`]).
    #[serde(default = "RumbleSettings::default_poll_interval_s")]
    pub poll_interval_s: f64,
    /// `api` (default) polls the Live Stream API only; `sse` also reads the chat's event stream.
    #[serde(default)]
    pub transport: RumbleTransport,
    /// The livestream's number for the event stream (base 10); default: the live stream the API
    /// names, converted from its base-36 id.
    #[serde(default)]
    pub stream_id: Option<String>,
    /// Failed event-stream openings in a row after which the source falls back to the API (default 3).
    #[serde(default = "RumbleSettings::default_sse_max_failures")]
    pub sse_max_failures: u32,
}

impl RumbleSettings {
    /// Rumble's minimum time between Live Stream API calls.
    pub const MIN_POLL_INTERVAL_S: f64 = 5.0;

    fn default_poll_interval_s() -> f64 {
        10.0
    }
    fn default_sse_max_failures() -> u32 {
        3
    }
}

/// How a Rumble source reads chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RumbleTransport {
    #[default]
    Api,
    Sse,
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
