//! Twitch's entry in the platform registry: its identity, its creators.json block and checks, its
//! platforms.json keys, its send limit's own key, how its source is built, and its per-run service:
//! the Helix go-live poller ([`super::helix`]) for creators whose block names the app's client id
//! and secret (IRC has no live signal).

use super::helix;
use super::{TwitchEndpoints, TwitchSource};
use crate::config::model::{Creator, RateLimitsConfig, SendLimit};
use crate::config::platform::{
    Check, Credential, PlatformBlock, PlatformConfig, Settings, parse_settings, schema_part,
};
use crate::config::secrets::Secrets;
use crate::event::{EmoteImages, Platform, PlatformInfo};
use crate::sources::registry::{
    PlatformModule, PlatformServices, ServiceStart, SourceBuild, SourceStatus,
};
use crate::sources::{Source, SourceError, StatusHandle};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Twitch's emote images (the sim source uses Twitch's emote ids, and so these too).
/// Twitch ids are numeric or `emotesv2_<hex>`, sometimes with a `_XX` modifier suffix.
pub const TWITCH_EMOTES: EmoteImages = EmoteImages {
    host: "static-cdn.jtvnw.net",
    url: "https://static-cdn.jtvnw.net/emoticons/v2/{id}/default/dark/1.0",
    id: "[A-Za-z0-9_]{1,64}",
};

/// Twitch's identity.
pub static TWITCH_INFO: PlatformInfo = PlatformInfo {
    name: "twitch",
    title: "Twitch",
    rank: 0,
    colour: Some(0x0091_46FF),
    emotes: Some(TWITCH_EMOTES),
};

/// Twitch.
pub const TWITCH: Platform = Platform::new(&TWITCH_INFO);

/// Twitch's module in the registry.
pub struct Twitch;

crate::register_platform!(TWITCH_INFO, Twitch);

/// A creator's `twitch` block: Twitch chat over IRC.
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
    pub(crate) fn default_nick() -> String {
        "justinfan12345".into()
    }
}

impl PlatformConfig for Twitch {
    fn platform(&self) -> Platform {
        TWITCH
    }

    fn block_schema(&self) -> Value {
        schema_part(include_str!("creators_block.schema.json"))
    }

    fn parse_block(&self, raw: &Value) -> Result<Settings, serde_json::Error> {
        parse_settings::<TwitchSettings>(raw)
    }

    fn check_creator(&self, creator: &Creator, block: Option<&PlatformBlock>, check: &mut Check) {
        let settings = block.and_then(PlatformBlock::settings::<TwitchSettings>);
        if let Some(t) = settings {
            check.env_name("token_env", t.token_env.as_ref());
            check.env_name("client_id_env", t.client_id_env.as_ref());
            check.env_name("client_secret_env", t.client_secret_env.as_ref());
        }
        if creator
            .clips
            .as_ref()
            .and_then(|c| c.destination.as_deref())
            == Some("twitch")
            && settings.is_none_or(|t| t.token_env.is_none() || t.client_id_env.is_none())
        {
            check.creator_error(
                "clips/destination",
                "the twitch clip destination needs the creator's twitch block with `token_env` (scope clips:edit) and `client_id_env`",
            );
        }
    }

    fn platforms_json_schema(&self) -> Value {
        schema_part(include_str!("platforms_block.schema.json"))
    }

    fn send_limit_keys(&self) -> Map<String, Value> {
        let mut keys = Map::new();
        keys.insert(
            "privileged_messages".into(),
            json!({"type": "integer", "minimum": 1, "maximum": 100_000,
                   "description": "Twitch's own: the limit while the bot moderates or owns the channel (default: messages)."}),
        );
        keys
    }

    fn send_limit(&self) -> SendLimit {
        SendLimit::conservative()
    }

    fn check_ratelimits(&self, ratelimits: &RateLimitsConfig, check: &mut Check) {
        let Some(limit) = ratelimits.platforms.get(&TWITCH) else {
            return;
        };
        if let Some(p) = limit
            .platform_specific
            .get("privileged_messages")
            .and_then(Value::as_u64)
            && p < u64::from(limit.messages)
        {
            check.error(
                "privileged_messages",
                format!(
                    "privileged_messages ({p}) is below messages ({}); moderators never get fewer sends",
                    limit.messages
                ),
            );
        }
    }

    fn credentials(&self, block: &PlatformBlock) -> Vec<Credential> {
        let Some(t) = block.settings::<TwitchSettings>() else {
            return Vec::new();
        };
        [
            Credential::named("chat", t.token_env.as_ref()),
            Credential::named("app", t.client_id_env.as_ref()),
            Credential::named("app", t.client_secret_env.as_ref()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    fn channel(&self, block: &PlatformBlock) -> Option<String> {
        block
            .settings::<TwitchSettings>()
            .map(|t| t.channel.clone())
    }
}

impl PlatformModule for Twitch {
    fn build_source(&self, build: &SourceBuild<'_>) -> Result<Source, SourceError> {
        let twitch = build.settings::<TwitchSettings>()?;
        let endpoints = TwitchEndpoints::from_platform(build.own);
        Ok(Source::Session(Box::new(
            TwitchSource::new(build.creator, twitch)?.with_endpoints(endpoints),
        )))
    }

    fn start_services(
        &self,
        run: &ServiceStart<'_>,
    ) -> Result<Option<Arc<dyn PlatformServices>>, String> {
        let own = run.config.platforms.settings(TWITCH);
        let watched: Vec<Watched> = run
            .config
            .creators
            .creators
            .iter()
            .filter(|c| c.enabled)
            .filter_map(|creator| {
                let twitch = creator
                    .platforms
                    .settings::<TwitchSettings>(TWITCH)
                    .filter(|_| creator.platforms.enabled(TWITCH))?;
                Some(Watched {
                    creator: creator.id.clone(),
                    login: twitch.channel.trim_start_matches('#').to_ascii_lowercase(),
                    client_id_env: twitch.client_id_env.clone()?,
                    client_secret_env: twitch.client_secret_env.clone()?,
                })
            })
            .collect();
        if watched.is_empty() {
            return Ok(None);
        }
        Ok(Some(Arc::new(GoLive {
            helix_url: own
                .str("helix_url")
                .unwrap_or_else(|| helix::DEFAULT_HELIX_URL.into()),
            oauth_url: own
                .str("oauth_url")
                .unwrap_or_else(|| helix::DEFAULT_OAUTH_URL.into()),
            every: own
                .u64("live_poll_s")
                .map_or(helix::DEFAULT_POLL, Duration::from_secs),
            watched,
        })))
    }
}

/// A creator whose channel the go-live poller watches.
struct Watched {
    creator: String,
    login: String,
    client_id_env: String,
    client_secret_env: String,
}

/// Twitch's per-run service: one Helix go-live poller per creator with the app's credentials.
struct GoLive {
    helix_url: String,
    oauth_url: String,
    every: Duration,
    watched: Vec<Watched>,
}

impl PlatformServices for GoLive {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    /// Starts the pollers. Each reports into the creator's Twitch source status when that source
    /// runs, else into a status of its own, returned for the go-live watcher.
    fn sources_started(
        &self,
        sources: &[SourceStatus],
        secrets: &Secrets,
        shutdown: &CancellationToken,
        tasks: &TaskTracker,
    ) -> Vec<SourceStatus> {
        let mut own = Vec::new();
        for watched in &self.watched {
            let (Some(client_id), Some(client_secret)) = (
                secrets.get(&watched.client_id_env),
                secrets.get(&watched.client_secret_env),
            ) else {
                tracing::warn!(
                    creator = %watched.creator,
                    platform = %TWITCH,
                    "Go-live checks off: {} or {} is not set.",
                    watched.client_id_env,
                    watched.client_secret_env
                );
                continue;
            };
            let running = sources
                .iter()
                .find(|(c, p, _)| *c == watched.creator && *p == TWITCH)
                .map(|(_, _, s)| s.clone());
            let status = running.clone().unwrap_or_else(StatusHandle::new);
            if running.is_none() {
                own.push((watched.creator.clone(), TWITCH, status.clone()));
            }
            let client = match helix::HelixStreams::new(
                &self.helix_url,
                &self.oauth_url,
                client_id,
                client_secret,
                secrets.clone(),
            ) {
                Ok(client) => client,
                Err(e) => {
                    tracing::warn!(platform = %TWITCH, creator = %watched.creator, "Go-live checks off: {e}");
                    continue;
                }
            };
            tasks.spawn(helix::watch(
                client,
                watched.login.clone(),
                status,
                self.every,
                shutdown.clone(),
            ));
        }
        own
    }
}
