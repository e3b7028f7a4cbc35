//! Kick chat: read over Pusher (websocket, protocol 7), send through the official Public API, and
//! the official webhooks' verification.
//!
//! - [`wire`]: pure parsers (Pusher frames, app events, channel lookup, token answers, webhook
//!   bodies) and the one chat normalizer both read paths share.
//! - [`pusher`]: one websocket session: established → subscribe → serve, pings both ways.
//! - [`api`]: HTTP calls: the channel lookup, chat and moderation calls, the token refresh.
//! - [`auth`]: OAuth tokens from the environment, refreshed on 401, kept in a 0600 file.
//! - [`send`]: the platform commands Kick can do ([`send::COMMANDS`]) and their delivery over HTTP.
//! - [`webhook`]: RSA-SHA256 signature checks and the routing of deliveries to creators.
//!
//! The source is a [`SessionSource`]: one session is one websocket connection; the session runner
//! reconnects (at once after a Pusher 4200–4299, with backoff otherwise) and stops the source on a
//! permanent error (a Pusher 4000–4099, or a channel lookup Kick blocks: the operator must fill in
//! `chatroom_id`). The chatroom id comes from the creator's `kick.chatroom_id`, else from the
//! channel lookup, done once per run.

pub mod api;
pub mod auth;
pub mod platform;
pub mod pusher;
pub mod send;
pub mod webhook;
pub mod webhook_route;
pub mod wire;

pub use platform::KICK;

use crate::command::CommandSupport;
use crate::config::model::PlatformOwn;
use crate::sources::runner::RetryPolicy;
use crate::sources::runner::serve::Delivery;
use crate::sources::runner::session::{SessionReport, SessionSource};
use crate::sources::{BoxFuture, SourceContext, SourceError};
use api::{ApiError, KickApi};
use auth::{KickAuth, TokenEnv};
pub use platform::KickSettings;
use send::{KickDelivery, KnownChannel};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;
use tracing::info;
use wire::ErrorAction;

/// Kick's Pusher endpoint with the app key observed in Kick's web client (§3.1; it may change).
pub const DEFAULT_WS_URL: &str = "wss://ws-us2.pusher.com/app/32cbd69e4b950bf97679?protocol=7&client=js&version=8.4.0&flash=false";
/// The official Public API.
pub const DEFAULT_BASE_URL: &str = "https://api.kick.com/public/v1";
/// The OAuth 2.1 server.
pub const DEFAULT_OAUTH_URL: &str = "https://id.kick.com";
/// The unofficial channel lookup (`{url}/channels/{slug}`).
pub const DEFAULT_CHANNEL_API_URL: &str = "https://kick.com/api/v2";

/// Kick's own settings in platforms.json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KickEndpoints {
    pub ws_url: String,
    pub base_url: String,
    pub oauth_url: String,
    pub channel_api_url: String,
    /// A PEM file with the webhook signing key; `None` uses Kick's published key.
    pub webhook_public_key_file: Option<String>,
}

impl Default for KickEndpoints {
    fn default() -> KickEndpoints {
        KickEndpoints {
            ws_url: DEFAULT_WS_URL.into(),
            base_url: DEFAULT_BASE_URL.into(),
            oauth_url: DEFAULT_OAUTH_URL.into(),
            channel_api_url: DEFAULT_CHANNEL_API_URL.into(),
            webhook_public_key_file: None,
        }
    }
}

impl KickEndpoints {
    /// Reads `ws_url`, `base_url`, `oauth_url`, `channel_api_url` and `webhook_public_key_file`
    /// from Kick's block in platforms.json, with the defaults for what is absent.
    pub fn from_platform(own: PlatformOwn<'_>) -> KickEndpoints {
        let d = KickEndpoints::default();
        KickEndpoints {
            ws_url: own.str("ws_url").unwrap_or(d.ws_url),
            base_url: own.str("base_url").unwrap_or(d.base_url),
            oauth_url: own.str("oauth_url").unwrap_or(d.oauth_url),
            channel_api_url: own.str("channel_api_url").unwrap_or(d.channel_api_url),
            webhook_public_key_file: own.str("webhook_public_key_file"),
        }
    }
}

/// The chatroom and who owns it, once known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Resolved {
    chatroom_id: u64,
    channel_id: Option<u64>,
    broadcaster_user_id: Option<u64>,
}

/// Reads one Kick channel for one creator and sends that creator's replies into it.
pub struct KickSource {
    creator: String,
    slug: String,
    settings: KickSettings,
    endpoints: KickEndpoints,
    state_dir: PathBuf,
    timing: pusher::Timing,
    retry: RetryPolicy,
    api: KickApi,
    resolved: Option<Resolved>,
    /// Tells the delivery the channel once it is known.
    known: Arc<watch::Sender<Option<KnownChannel>>>,
}

impl std::fmt::Debug for KickSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KickSource")
            .field("creator", &self.creator)
            .field("channel", &self.slug)
            .finish_non_exhaustive()
    }
}

impl KickSource {
    /// A source for `creator` from their `kick` block; refused tokens and refreshed ones are kept
    /// under `state_dir` (`runtime/state`).
    pub fn new(
        creator: &str,
        settings: &KickSettings,
        endpoints: KickEndpoints,
        state_dir: PathBuf,
    ) -> Result<KickSource, SourceError> {
        let slug = settings.channel.trim().to_ascii_lowercase();
        let valid = !slug.is_empty()
            && slug.len() <= 64
            && slug
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if !valid {
            return Err(SourceError::InvalidSettings(format!(
                "kick channel {:?} is not a channel slug; use the name in the channel's URL (kick.com/NAME: letters, digits, - and _)",
                settings.channel
            )));
        }
        for (what, url) in [
            ("ws_url", &endpoints.ws_url),
            ("base_url", &endpoints.base_url),
            ("oauth_url", &endpoints.oauth_url),
            ("channel_api_url", &endpoints.channel_api_url),
        ] {
            let scheme_ok = if what == "ws_url" {
                url.starts_with("wss://") || url.starts_with("ws://")
            } else {
                url.starts_with("https://") || url.starts_with("http://")
            };
            if !scheme_ok {
                return Err(SourceError::InvalidSettings(format!(
                    "platforms.json kick.{what} {url:?} is not a {} URL",
                    if what == "ws_url" {
                        "ws:// or wss://"
                    } else {
                        "http:// or https://"
                    }
                )));
            }
        }
        let api = KickApi::new(
            &endpoints.base_url,
            &endpoints.oauth_url,
            &endpoints.channel_api_url,
        )
        .map_err(|e| SourceError::Other(e.to_string()))?;
        Ok(KickSource {
            api,
            creator: creator.to_owned(),
            slug,
            settings: settings.clone(),
            endpoints,
            state_dir,
            timing: pusher::Timing::default(),
            retry: RetryPolicy::default(),
            resolved: None,
            known: Arc::new(watch::Sender::new(None)),
        })
    }

    /// Replaces the session waits (tests use short ones).
    pub fn with_timing(mut self, timing: pusher::Timing, retry: RetryPolicy) -> KickSource {
        self.timing = timing;
        self.retry = retry;
        self
    }

    /// The chatroom: configured, or looked up once.
    async fn resolve(&mut self, ctx: &SourceContext) -> Result<Resolved, SourceError> {
        if let Some(resolved) = self.resolved {
            return Ok(resolved);
        }
        let resolved = match self.settings.chatroom_id {
            Some(chatroom_id) => Resolved {
                chatroom_id,
                channel_id: None,
                broadcaster_user_id: self.settings.broadcaster_user_id,
            },
            None => {
                let info = self.api.lookup_channel(&self.slug).await.map_err(|e| match e {
                    ApiError::Blocked { .. } => SourceError::InvalidSettings(format!(
                        "{e} when looking up the chatroom of channel {slug:?}; set `chatroom_id` in creators.json (creator {creator:?}, platforms.kick): open https://kick.com/api/v2/channels/{slug} in a browser and copy `chatroom.id`",
                        slug = self.slug,
                        creator = self.creator,
                    )),
                    ApiError::Status { status: 404, .. } => SourceError::InvalidSettings(format!(
                        "Kick has no channel {:?} (404); check `channel` in the creator's kick block",
                        self.slug
                    )),
                    other => SourceError::Other(format!("kick channel lookup: {other}")),
                })?;
                ctx.report.live(info.livestream.clone());
                Resolved {
                    chatroom_id: info.chatroom_id,
                    channel_id: info.channel_id,
                    broadcaster_user_id: self.settings.broadcaster_user_id.or(info.user_id),
                }
            }
        };
        info!(platform = "kick", creator = %self.creator, channel = %self.slug, chatroom = resolved.chatroom_id, "Kick chatroom known.");
        self.resolved = Some(resolved);
        self.known.send_replace(Some(KnownChannel {
            broadcaster_user_id: resolved.broadcaster_user_id,
        }));
        Ok(resolved)
    }

    async fn one_session(&mut self, ctx: &mut SourceContext) -> SessionReport {
        let fail = |e| SessionReport {
            result: Err(e),
            connected_for: None,
        };
        let resolved = tokio::select! {
            () = ctx.shutdown.cancelled() => return SessionReport {
                result: Ok(crate::sources::runner::session::SessionEnd::Shutdown),
                connected_for: None,
            },
            resolved = self.resolve(ctx) => match resolved {
                Ok(resolved) => resolved,
                Err(e) => return fail(e),
            },
        };
        let tls = match crate::tls::default_client_config() {
            Ok(tls) => tls,
            Err(e) => return fail(SourceError::InvalidSettings(e.to_string())),
        };
        let sub = pusher::Subscription {
            url: self.endpoints.ws_url.clone(),
            tls,
            chatroom: wire::chatroom_channel(resolved.chatroom_id),
            extra: resolved
                .channel_id
                .map(wire::stream_channel)
                .into_iter()
                .collect(),
            slug: self.slug.clone(),
        };
        let timing = self.timing;
        info!(platform = "kick", creator = %ctx.creator, channel = %self.slug, url = %redact_ws_url(&sub.url), "Connecting to Kick chat.");
        let outcome = pusher::run(&sub, &timing, ctx).await;
        let result = outcome.result.map_err(|e| match e.action() {
            ErrorAction::Permanent => SourceError::InvalidSettings(format!(
                "kick chat at {}: {e}; Pusher says not to reconnect with the same settings: check platforms.json kick.ws_url (app key, protocol=7)",
                redact_ws_url(&sub.url)
            )),
            _ => SourceError::Other(format!("kick chat at {}: {e}", redact_ws_url(&sub.url))),
        });
        SessionReport {
            result,
            connected_for: outcome.subscribed_for,
        }
    }
}

/// The websocket URL as it may appear in logs: without its query (the app key is public, but a
/// self-hosted relay may put a credential there).
fn redact_ws_url(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

impl SessionSource for KickSource {
    fn session<'a>(&'a mut self, ctx: &'a mut SourceContext) -> BoxFuture<'a, SessionReport> {
        Box::pin(self.one_session(ctx))
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    fn commands(&self) -> CommandSupport {
        if self.settings.token_env.is_none() {
            return CommandSupport::none(
                "no token_env in the creator's kick block: Kick takes commands only with a user token (scopes chat:write, moderation:ban, moderation:chat_message:manage)",
            );
        }
        CommandSupport::new(send::COMMANDS, "Kick's Public API has no announcements")
    }

    fn delivery(&mut self, ctx: &SourceContext) -> Box<dyn Delivery> {
        let env = TokenEnv {
            token_env: self.settings.token_env.clone(),
            refresh_token_env: self.settings.refresh_token_env.clone(),
            client_id_env: self.settings.client_id_env.clone(),
            client_secret_env: self.settings.client_secret_env.clone(),
        };
        let file = auth::token_file(&self.state_dir, &self.creator);
        Box::new(KickDelivery {
            api: self.api.clone(),
            auth: KickAuth::load(env, file, &ctx.secrets),
            secrets: ctx.secrets.clone(),
            channel: self.known.subscribe(),
            refused: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(channel: &str) -> KickSettings {
        KickSettings {
            enabled: true,
            channel: channel.into(),
            chatroom_id: None,
            broadcaster_user_id: None,
            token_env: None,
            refresh_token_env: None,
            client_id_env: None,
            client_secret_env: None,
        }
    }

    #[test]
    fn slugs_and_urls_are_checked() {
        let dir = PathBuf::from("/nonexistent");
        assert!(
            KickSource::new(
                "d",
                &settings("Some-Channel_1"),
                KickEndpoints::default(),
                dir.clone()
            )
            .is_ok()
        );
        let e = KickSource::new(
            "d",
            &settings("two words"),
            KickEndpoints::default(),
            dir.clone(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("kick.com/NAME"), "{e}");
        let endpoints = KickEndpoints {
            ws_url: "https://x".into(),
            ..KickEndpoints::default()
        };
        let e = KickSource::new("d", &settings("c"), endpoints, dir).unwrap_err();
        assert!(e.to_string().contains("kick.ws_url"), "{e}");
        assert_eq!(
            redact_ws_url(DEFAULT_WS_URL),
            "wss://ws-us2.pusher.com/app/32cbd69e4b950bf97679"
        );
    }
}
