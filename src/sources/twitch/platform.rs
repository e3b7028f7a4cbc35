//! Twitch's entry in the platform registry: its identity, its creators.json block and checks, its
//! platforms.json keys, its send limit's own key, how its source is built (IRC, or EventSub with
//! `"transport": "eventsub"`), its stored logins (`ss auth status`), and its per-run service: the
//! Helix go-live poller ([`super::helix`]) for IRC creators whose block names the app's client id
//! and secret (IRC has no live signal; EventSub has `stream.online`).

use super::auth::{AuthSettings, LoadError, TwitchAuth};
use super::helix_api::HelixApi;
use super::helix_send::ChannelIds;
use super::oauth::IdServer;
pub use super::settings::{Transport, TwitchSettings};
use super::{TwitchEndpoints, TwitchSource};
use super::{eventsub, helix};
use crate::config::model::{Creator, RateLimitsConfig, SendLimit, TriggerDef};
use crate::config::platform::{
    Check, Credential, PlatformBlock, PlatformConfig, Settings, parse_settings, schema_part,
};
use crate::config::secrets::Secrets;
use crate::event::{EmoteImages, Platform, PlatformInfo};
use crate::sources::registry::{
    LoginError, LoginRequest, PlatformModule, PlatformServices, ServiceStart, SourceBuild,
    SourceStatus, StoredCredential,
};
use crate::sources::{Source, SourceError, StatusHandle};
use serde_json::{Map, Value, json};
use std::path::Path;
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
            super::checks::check_block(t, check);
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

    fn check_with_state(
        &self,
        creator: &Creator,
        block: Option<&PlatformBlock>,
        triggers: &[TriggerDef],
        state_dir: &Path,
        check: &mut Check,
    ) {
        if let Some(t) = block
            .filter(|b| b.enabled && creator.enabled)
            .and_then(PlatformBlock::settings::<TwitchSettings>)
        {
            super::checks::check_with_state(creator, t, triggers, state_dir, check);
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

    /// Twitch moderates through Helix ([`super::helix_send`]) with the creator's login; whether
    /// the stored login has the scopes is checked against the state ([`super::checks`]).
    fn moderation(&self, block: &PlatformBlock) -> Result<(), String> {
        let _ = block;
        Ok(())
    }

    fn moderation_with_state(
        &self,
        creator: &Creator,
        block: &PlatformBlock,
        state_dir: &Path,
    ) -> Result<(), String> {
        match block.settings::<TwitchSettings>() {
            Some(settings) => super::checks::moderation_with_state(creator, settings, state_dir),
            None => Ok(()),
        }
    }

    fn channel(&self, block: &PlatformBlock) -> Option<String> {
        block
            .settings::<TwitchSettings>()
            .map(|t| t.channel.clone())
    }
}

/// The channel's ids (with the API they are found through) and the login acting in it.
type HelixLogin = (Arc<ChannelIds>, Arc<TwitchAuth>);

/// The creator's login for Helix calls, with the API and the channel's ids around it; `None`
/// without a stored login or `token_env`.
fn helix_for(
    build: &SourceBuild<'_>,
    twitch: &TwitchSettings,
    channel: &str,
) -> Result<Option<HelixLogin>, SourceError> {
    let oauth_url = build
        .own
        .str("oauth_url")
        .unwrap_or_else(|| helix::DEFAULT_OAUTH_URL.into());
    let helix_url = build
        .own
        .str("helix_url")
        .unwrap_or_else(|| helix::DEFAULT_HELIX_URL.into());
    let settings = AuthSettings {
        creator: build.creator.to_owned(),
        token_env: twitch.token_env.clone(),
        client_id_env: twitch.client_id_env.clone(),
        client_secret_env: twitch.client_secret_env.clone(),
        state_dir: build.state_dir.to_path_buf(),
    };
    let client_error = |e: crate::http_out::ClientError| SourceError::Other(e.to_string());
    let id = IdServer::new(&oauth_url, build.secrets.clone()).map_err(client_error)?;
    let auth = match TwitchAuth::load(&settings, id, build.secrets) {
        Ok(Some(auth)) => Arc::new(auth),
        Ok(None) => return Ok(None),
        Err(LoadError::MissingEnv(name)) => return Err(SourceError::MissingCredentials(name)),
        Err(e) => return Err(SourceError::InvalidSettings(e.to_string())),
    };
    let api = Arc::new(
        HelixApi::new(&helix_url, auth.clone(), build.secrets.clone()).map_err(client_error)?,
    );
    let ids = ChannelIds::new(api, channel, twitch.broadcaster_id.clone());
    Ok(Some((Arc::new(ids), auth)))
}

impl PlatformModule for Twitch {
    fn build_source(&self, build: &SourceBuild<'_>) -> Result<Source, SourceError> {
        let twitch = build.settings::<TwitchSettings>()?;
        let endpoints = TwitchEndpoints::from_platform(build.own);
        let source = TwitchSource::new(build.creator, twitch)?.with_endpoints(endpoints);
        let channel = source.channel().to_owned();
        match twitch.transport {
            Transport::Irc => {
                // Moderation and announcements go through Helix with a stored login; an IRC token
                // in token_env is for chat only.
                let stored = TwitchSettings {
                    token_env: None,
                    ..twitch.clone()
                };
                let helix = match helix_for(build, &stored, &channel) {
                    Ok(helix) => helix,
                    Err(e) => {
                        tracing::warn!(creator = %build.creator, platform = %TWITCH, "Moderation through Helix is off: {e}");
                        None
                    }
                };
                Ok(Source::Session(Box::new(match helix {
                    Some((ids, auth)) => {
                        source.with_helix(ids, auth.stored_scopes().cloned().unwrap_or_default())
                    }
                    None => source,
                })))
            }
            Transport::EventSub => {
                let Some((ids, auth)) = helix_for(build, twitch, &channel)? else {
                    return Err(SourceError::InvalidSettings(format!(
                        "the eventsub transport needs a Twitch login: run `ss auth twitch --creator {creator}` (or set token_env to a user access token)",
                        creator = build.creator
                    )));
                };
                let url = eventsub::session_url(
                    &build
                        .own
                        .str("eventsub_url")
                        .unwrap_or_else(|| eventsub::DEFAULT_EVENTSUB_URL.into()),
                    build.own.u64("eventsub_keepalive_s"),
                );
                let support = eventsub::support_for(auth.stored_scopes(), build.creator);
                Ok(Source::Session(Box::new(eventsub::EventSubSource::new(
                    build.creator,
                    &channel,
                    url,
                    ids,
                    support,
                ))))
            }
        }
    }

    fn stored_credentials(&self, state_dir: &Path) -> Vec<StoredCredential> {
        super::auth::stored_logins(state_dir)
            .into_iter()
            .map(|login| match login {
                Ok(login) => StoredCredential {
                    platform: TWITCH,
                    creator: login.creator,
                    user: Some(format!("{} ({})", login.user, login.user_id)),
                    scopes: login.scopes,
                    expires_at: login.expires_at,
                    refreshable: login.refreshable,
                    file: login.file,
                    problem: None,
                },
                Err(e) => StoredCredential {
                    platform: TWITCH,
                    creator: e.creator.clone(),
                    user: None,
                    scopes: Vec::new(),
                    expires_at: None,
                    refreshable: false,
                    file: e.path.clone(),
                    problem: Some(e.to_string()),
                },
            })
            .collect()
    }

    fn login<'a>(
        &'a self,
        request: LoginRequest<'a>,
    ) -> Option<crate::sources::BoxFuture<'a, Result<String, LoginError>>> {
        Some(Box::pin(super::login::login(request)))
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
                // EventSub tells going live itself (stream.online); the poller is IRC's.
                let twitch = creator
                    .platforms
                    .settings::<TwitchSettings>(TWITCH)
                    .filter(|_| creator.platforms.enabled(TWITCH))
                    .filter(|t| t.transport == Transport::Irc)?;
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
