//! `runtime/config/system.json`: runtime settings (exports, hot reload, clips, chat log, limits).

use serde::{Deserialize, Serialize};

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
    #[serde(default)]
    pub http: HttpSettings,
    #[serde(default)]
    pub trends: TrendSettings,
    /// The control API's tokens (`/api/v1/`, `/control`), each with a role.
    #[serde(default)]
    pub tokens: Vec<ApiToken>,
    /// A PEM file of private CA certificates every TLS client trusts beside the Mozilla roots
    /// (absolute, or relative to the runtime root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// Incoming webhooks by name, served at `POST /hooks/{name}` on the local HTTP server.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub hooks: std::collections::BTreeMap<String, HookSettings>,
    /// The NATS JetStream bus that splits `ss run` into roles; absent, the embedded single process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<super::BusSettings>,
}

/// One incoming webhook (`POST /hooks/{name}`): how a request proves it comes from the service,
/// the largest body taken, how the service's fields become a stream event, and whose event it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookSettings {
    pub verify: HookVerify,
    /// Larger bodies are refused with 413 (default 64 KiB).
    #[serde(default = "HookSettings::default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// The service whose fields are mapped into the event.
    pub map: HookMap,
    /// The creator whose event it is.
    pub creator: String,
    /// The chat platform whose triggers and alerts see it (a reply goes to that chat).
    pub platform: crate::event::Platform,
}

impl HookSettings {
    pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

    fn default_max_body_bytes() -> usize {
        Self::DEFAULT_MAX_BODY_BYTES
    }
}

/// How a hook's request proves it comes from the service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum HookVerify {
    /// A header holding the hex HMAC-SHA256 of the raw body under the secret, after `prefix`
    /// (`sha256=`) when given.
    Hmac {
        header: String,
        secret_env: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
    },
    /// A field of the delivery's JSON holding a shared token (Ko-fi's `verification_token`).
    TokenField { field: String, secret_env: String },
}

impl HookVerify {
    /// The environment variable holding the secret or token.
    pub fn secret_env(&self) -> &str {
        match self {
            HookVerify::Hmac { secret_env, .. } | HookVerify::TokenField { secret_env, .. } => {
                secret_env
            }
        }
    }
}

/// The services whose deliveries a hook can map into events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookMap {
    /// Ko-fi: a form field `data` holding the JSON; donations, subscriptions, commissions and shop
    /// orders become `tip` events.
    Kofi,
}

impl SystemConfig {
    /// `tls_ca_file` resolved against the runtime root `root`.
    pub fn tls_ca_path(&self, root: &std::path::Path) -> Option<std::path::PathBuf> {
        self.tls_ca_file.as_ref().map(|file| root.join(file))
    }
}

/// Chat trends (`signals/chat_trends.json`, the `trends` event of `/events`): on by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrendSettings {
    #[serde(default = "super::yes")]
    pub enabled: bool,
}

impl Default for TrendSettings {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// One token of the control API: who holds it (its name, in the audit log), what it may do, and the
/// environment variable holding its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    /// Shown in the audit log and the control page (never the token itself).
    pub name: String,
    pub role: ControlRole,
    /// Environment variable holding the token (a long random string).
    pub token_env: String,
    /// Changes this token may make per minute (default 30); reads are not limited.
    #[serde(default = "ApiToken::default_changes_per_minute")]
    pub changes_per_minute: u32,
}

impl ApiToken {
    pub const DEFAULT_CHANGES_PER_MINUTE: u32 = 30;

    fn default_changes_per_minute() -> u32 {
        Self::DEFAULT_CHANGES_PER_MINUTE
    }
}

/// What a control API token may do; each role may do everything the ones below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlRole {
    /// Reads only.
    Viewer,
    /// Chat, moderation, triggers for this run, polls, clips, OBS scenes.
    Moderator,
    /// Everything: changes persisted to the config files, starting and stopping the stream.
    Owner,
}

impl ControlRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ControlRole::Viewer => "viewer",
            ControlRole::Moderator => "moderator",
            ControlRole::Owner => "owner",
        }
    }
}

/// The runtime's one local HTTP server: health, the snapshot, the live event feed (off by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    #[serde(default)]
    pub enabled: bool,
    /// Address to listen on (default `127.0.0.1:8765`, loopback only).
    #[serde(default = "HttpSettings::default_listen")]
    pub listen: String,
    /// Environment variable holding an access token. Required for a non-loopback `listen`; when set,
    /// every route needs it as `Authorization: Bearer` or `?key=`.
    #[serde(default)]
    pub token_env: Option<String>,
    /// The most connections served at once (default 256); beyond it, the connection silent the
    /// longest is closed for the new one.
    #[serde(default = "HttpSettings::default_max_connections")]
    pub max_connections: usize,
    /// Host header names accepted on a loopback listen address besides the loopback names.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
}

impl HttpSettings {
    fn default_listen() -> String {
        "127.0.0.1:8765".into()
    }

    fn default_max_connections() -> usize {
        256
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: Self::default_listen(),
            token_env: None,
            max_connections: Self::default_max_connections(),
            allowed_hosts: Vec::new(),
        }
    }
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
    /// How many of each creator's most recent polls `exports/polls.json` and the control API's
    /// polls list (default 50); open polls are always listed.
    #[serde(default = "ExportSettings::default_recent_polls")]
    pub recent_polls: usize,
}

impl ExportSettings {
    fn default_cadence() -> f64 {
        5.0
    }
    fn default_recent_events() -> usize {
        200
    }
    fn default_recent_polls() -> usize {
        50
    }
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            cadence_s: Self::default_cadence(),
            recent_events: Self::default_recent_events(),
            recent_polls: Self::default_recent_polls(),
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
    /// Where finished clips are published: `local`, `http` or `twitch` (default `local`); a
    /// creator's `clips.destination` overrides it.
    #[serde(default = "ClipSettings::default_destination")]
    pub default_destination: String,
    /// Re-encode clips (H.264 + AAC, `+faststart`) instead of cutting them by stream copy.
    #[serde(default)]
    pub reencode: bool,
    /// Seconds after the request's moment that a clip still covers (default 5).
    #[serde(default = "ClipSettings::default_post_roll_s")]
    pub post_roll_s: u32,
    /// The longest one FFmpeg run of a job may take before it is stopped and the job fails
    /// (default 120).
    #[serde(default = "ClipSettings::default_job_timeout_s")]
    pub job_timeout_s: u64,
    /// Base URL under which `output_dir` is served; a local clip's link is `{base}/{clip_id}.mp4`.
    #[serde(default)]
    pub public_url_base: Option<String>,
    /// The `http` destination.
    #[serde(default)]
    pub http: Option<ClipHttpSettings>,
}

/// Where the `http` clip destination uploads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipHttpSettings {
    /// The upload URL; `{clip_id}` in it is replaced by the clip's id.
    pub url: String,
    /// `put` (the file as the body, default) or `post` (multipart form, field `file`).
    #[serde(default)]
    pub method: ClipHttpMethod,
    /// Environment variable holding the `Authorization` header's value.
    #[serde(default)]
    pub auth_header_env: Option<String>,
}

/// How the `http` clip destination sends the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClipHttpMethod {
    #[default]
    Put,
    Post,
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
    fn default_post_roll_s() -> u32 {
        5
    }
    fn default_job_timeout_s() -> u64 {
        120
    }
}

impl Default for ClipSettings {
    fn default() -> Self {
        Self {
            ffmpeg_path: Self::default_ffmpeg(),
            concurrency: Self::default_concurrency(),
            output_dir: Self::default_output_dir(),
            default_destination: Self::default_destination(),
            reencode: false,
            post_roll_s: Self::default_post_roll_s(),
            job_timeout_s: Self::default_job_timeout_s(),
            public_url_base: None,
            http: None,
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
    /// Capacity of the data (chat) lane in events (default 8192).
    #[serde(default = "Limits::default_data_lane")]
    pub data_lane_capacity: usize,
    /// Bound of the data lane in approximate bytes (events' entries and what they own on the heap;
    /// default 8 MiB).
    #[serde(default = "Limits::default_data_lane_bytes")]
    pub data_lane_bytes: usize,
    /// How long a full data lane blocks a source before dropping, in ms (default 250).
    #[serde(default = "Limits::default_block_ms")]
    pub data_lane_block_ms: u64,
    /// Message ids remembered per platform for dedupe (default 65536).
    #[serde(default = "Limits::default_dedupe")]
    pub dedupe_window: usize,
    /// The longest line, without its line end, a line-based source (Twitch IRC) accepts; a longer
    /// one is dropped and counted, and the connection kept (default 65536).
    #[serde(default = "Limits::default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// How far, in seconds, a platform timestamp may be from the receive time before the receive
    /// time replaces it (counted) (default 300).
    #[serde(default = "Limits::default_max_clock_skew_s")]
    pub max_clock_skew_s: u64,
}

impl Limits {
    fn default_data_lane() -> usize {
        8192
    }
    fn default_data_lane_bytes() -> usize {
        8 * 1024 * 1024
    }
    fn default_block_ms() -> u64 {
        250
    }
    fn default_dedupe() -> usize {
        65536
    }
    fn default_max_line_bytes() -> usize {
        crate::event::wire_checks::DEFAULT_MAX_LINE_BYTES
    }
    fn default_max_clock_skew_s() -> u64 {
        crate::event::wire_checks::DEFAULT_MAX_CLOCK_SKEW.as_secs()
    }

    /// The limits a source applies to what it takes from the wire.
    pub fn wire(&self) -> crate::event::wire_checks::WireLimits {
        crate::event::wire_checks::WireLimits {
            max_line_bytes: self.max_line_bytes,
            max_clock_skew: std::time::Duration::from_secs(self.max_clock_skew_s),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            data_lane_capacity: Self::default_data_lane(),
            data_lane_bytes: Self::default_data_lane_bytes(),
            data_lane_block_ms: Self::default_block_ms(),
            dedupe_window: Self::default_dedupe(),
            max_line_bytes: Self::default_max_line_bytes(),
            max_clock_skew_s: Self::default_max_clock_skew_s(),
        }
    }
}
