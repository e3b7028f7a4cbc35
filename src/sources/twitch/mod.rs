//! Twitch chat over IRC (TLS by default): the [`TwitchSource`] and the layers under it. The other
//! transport, EventSub over WebSocket, is [`eventsub`]; both act through Helix
//! ([`helix_api`], [`helix_send`]) with a user login ([`oauth`], [`auth`], [`login`]) where IRC
//! cannot, and [`platform`] picks the transport from the block's `transport` ([`settings`]).
//!
//! - [`irc`]: the pure, borrowing IRCv3 line parser.
//! - [`decode`]: Twitch commands and tags → [`crate::event::ChatEvent`].
//! - [`client`]: one connection: connect, log in, join, keepalive, read, write.
//! - [`send`]: `say` and `reply` → tagged `PRIVMSG` lines on the live connection ([`send::COMMANDS`]).
//!
//! The source is a [`SessionSource`]: one session is one connection, and the session runner
//! ([`crate::sources::runner::session`]) reconnects with backoff, waits long after a refused login,
//! records status, and serves the source's commands (queued commands and the send window belong to
//! the run, so reconnects neither lose them nor reset the rate limit).
//!
//! Settings come from the creator's `twitch` block (`channel`, `nick`, `token_env`, `host`, `port`,
//! `tls`); Twitch's own settings in platforms.json ([`TwitchEndpoints`]) win over `host`/`port`/`tls`. Without a
//! `token_env`, or with a `justinfan…` nick, the source reads anonymously and cannot send. TLS trusts
//! the runtime's roots ([`crate::tls`]: the Mozilla set and system.json's `tls_ca_file`); a self-hosted or test server with its own certificate authority is trusted
//! through [`TwitchSource::with_root_certificates`] or [`TwitchSource::with_ca_file`].

pub mod auth;
pub mod checks;
pub mod client;
pub mod decode;
pub mod eventsub;
pub mod helix;
pub mod helix_api;
pub mod helix_send;
pub mod irc;
pub mod login;
pub mod oauth;
pub mod platform;
pub mod scopes;
pub mod send;
pub mod settings;
pub mod transport;

pub use platform::TWITCH;

use crate::command::{CommandName, CommandSet, CommandSupport};
use crate::config::model::PlatformOwn;
use crate::sources::runner::RetryPolicy;
use crate::sources::runner::serve::Delivery;
use crate::sources::runner::session::{SessionReport, SessionSource};
use crate::sources::{BoxFuture, SourceContext, SourceError};
use client::{ConnectSettings, SessionError, Timing};
use helix_send::ChannelIds;
pub use platform::TwitchSettings;
use send::{LinkSlot, SendLimits, TwitchDelivery};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tracing::info;

/// Twitch's IRC host.
pub const DEFAULT_HOST: &str = "irc.chat.twitch.tv";
/// IRC over TLS.
pub const DEFAULT_TLS_PORT: u16 = 6697;
/// Plain IRC.
pub const DEFAULT_PLAIN_PORT: u16 = 6667;
/// What the IRC transport does through Helix when a stored login allows it.
const HELIX_KINDS: CommandSet = CommandSet::of(&[
    CommandName::DeleteMessage,
    CommandName::Timeout,
    CommandName::Ban,
    CommandName::Unban,
    CommandName::Announce,
]);

/// Nicks with this prefix log in anonymously (read-only) on Twitch.
pub const ANONYMOUS_NICK_PREFIX: &str = "justinfan";

/// Twitch's own settings in platforms.json: where the IRC server is, for every creator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TwitchEndpoints {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub tls: Option<bool>,
}

impl TwitchEndpoints {
    /// Reads `host`, `port` and `tls` from Twitch's block in platforms.json.
    pub fn from_platform(own: PlatformOwn<'_>) -> TwitchEndpoints {
        TwitchEndpoints {
            host: own.str("host"),
            port: own.u64("port").and_then(|p| u16::try_from(p).ok()),
            tls: own.bool("tls"),
        }
    }
}

/// Reads one Twitch channel for one creator and sends that creator's replies into it.
pub struct TwitchSource {
    creator: String,
    channel: String,
    nick: String,
    /// The environment variable holding the token; `None` when reading anonymously.
    token_env: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    tls: Option<bool>,
    /// platforms.json's Twitch settings; they win over the creator's block.
    endpoints: TwitchEndpoints,
    extra_roots: Vec<CertificateDer<'static>>,
    tls_config: Option<Arc<ClientConfig>>,
    timing: Timing,
    /// Where each joined session puts its connection for the delivery.
    link: LinkSlot,
    /// Helix beside IRC, with a stored login: the channel's ids and what its scopes allow.
    helix: Option<(Arc<ChannelIds>, CommandSet, Vec<String>)>,
}

impl std::fmt::Debug for TwitchSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwitchSource")
            .field("creator", &self.creator)
            .field("channel", &self.channel)
            .field("nick", &self.nick)
            .field("token_env", &self.token_env)
            .finish_non_exhaustive()
    }
}

impl TwitchSource {
    /// A source for `creator` from their `twitch` block. Fails on a channel or nick that cannot
    /// work on IRC.
    pub fn new(creator: &str, settings: &TwitchSettings) -> Result<TwitchSource, SourceError> {
        let channel = settings
            .channel
            .trim()
            .trim_start_matches('#')
            .to_ascii_lowercase();
        check_irc_name("channel", &channel)?;
        let nick = settings.nick.trim().to_ascii_lowercase();
        let anonymous = settings.token_env.is_none() || nick.starts_with(ANONYMOUS_NICK_PREFIX);
        let nick = if anonymous && !nick.starts_with(ANONYMOUS_NICK_PREFIX) {
            format!(
                "{ANONYMOUS_NICK_PREFIX}{}",
                fastrand::u32(10_000..100_000_000)
            )
        } else {
            nick
        };
        check_irc_name("nick", &nick)?;
        Ok(TwitchSource {
            creator: creator.to_owned(),
            channel,
            nick,
            token_env: if anonymous {
                None
            } else {
                settings.token_env.clone()
            },
            host: settings.host.clone(),
            port: settings.port,
            tls: settings.tls,
            endpoints: TwitchEndpoints::default(),
            extra_roots: Vec::new(),
            tls_config: None,
            timing: Timing::default(),
            link: LinkSlot::default(),
            helix: None,
        })
    }

    /// Moderates and announces through Helix with a stored login granted `scopes` (chat stays on
    /// IRC).
    pub fn with_helix(mut self, ids: Arc<ChannelIds>, scopes: BTreeSet<String>) -> TwitchSource {
        let (set, missing) = helix_send::helix_support(HELIX_KINDS, &scopes, &self.creator);
        self.helix = Some((ids, set, missing));
        self
    }

    /// Uses platforms.json's Twitch endpoints, which win over the creator's block.
    pub fn with_endpoints(mut self, endpoints: TwitchEndpoints) -> TwitchSource {
        self.endpoints = endpoints;
        self
    }

    /// Replaces the connection timeouts and backoff steps (tests use short ones).
    pub fn with_timing(mut self, timing: Timing) -> TwitchSource {
        self.timing = timing;
        self
    }

    /// Trusts these certificates as TLS roots, in addition to the Mozilla set.
    pub fn with_root_certificates(mut self, roots: Vec<CertificateDer<'static>>) -> TwitchSource {
        self.extra_roots.extend(roots);
        self.tls_config = None;
        self
    }

    /// Trusts the certificates of a PEM file as TLS roots, in addition to the Mozilla set.
    pub fn with_ca_file(self, path: &Path) -> Result<TwitchSource, SourceError> {
        let (roots, _) = crate::tls::read_ca_file(path)
            .map_err(|e| SourceError::InvalidSettings(e.to_string()))?;
        Ok(self.with_root_certificates(roots))
    }

    /// Whether the source reads anonymously (and so cannot send).
    pub fn is_anonymous(&self) -> bool {
        self.token_env.is_none()
    }

    /// The nick the source logs in with.
    pub fn nick(&self) -> &str {
        &self.nick
    }

    /// The channel login the source joins.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Resolves endpoint, TLS and credentials for one session.
    fn connect_settings(&mut self, ctx: &SourceContext) -> Result<ConnectSettings, SourceError> {
        let token = match &self.token_env {
            None => None,
            Some(name) => Some(
                ctx.secrets
                    .get(name)
                    .ok_or_else(|| SourceError::MissingCredentials(name.clone()))?,
            ),
        };
        let tls = self.endpoints.tls.or(self.tls).unwrap_or(true);
        let default_port = if tls {
            DEFAULT_TLS_PORT
        } else {
            DEFAULT_PLAIN_PORT
        };
        let tls = if tls {
            if self.tls_config.is_none() {
                let config = crate::tls::client_config(&self.extra_roots)
                    .map_err(|e| SourceError::InvalidSettings(e.to_string()))?;
                self.tls_config = Some(config);
            }
            self.tls_config.clone()
        } else {
            None
        };
        Ok(ConnectSettings {
            host: self
                .endpoints
                .host
                .clone()
                .or_else(|| self.host.clone())
                .unwrap_or_else(|| DEFAULT_HOST.to_owned()),
            port: self.endpoints.port.or(self.port).unwrap_or(default_port),
            tls,
            channel: self.channel.clone(),
            nick: self.nick.clone(),
            token,
        })
    }

    /// One connection: connect, log in, serve until it ends.
    async fn one_session(&mut self, ctx: &mut SourceContext) -> SessionReport {
        let settings = match self.connect_settings(ctx) {
            Ok(settings) => settings,
            Err(e) => {
                return SessionReport {
                    result: Err(e),
                    connected_for: None,
                };
            }
        };
        let timing = self.timing;
        let limits = SendLimits::from_send_limit(&ctx.send_limit);
        info!(
            platform = "twitch",
            creator = %ctx.creator,
            channel = %settings.channel,
            server = %settings.address(),
            tls = settings.tls.is_some(),
            anonymous = settings.token.is_none(),
            "Connecting to Twitch chat."
        );
        let connected = tokio::select! {
            () = ctx.shutdown.cancelled() => return SessionReport {
                result: Ok(crate::sources::runner::session::SessionEnd::Shutdown),
                connected_for: None,
            },
            connected = client::connect(&settings, &timing) => connected,
        };
        let (result, connected_for) = match connected {
            Ok(transport) => {
                let report =
                    client::run_session(transport, &settings, &timing, ctx, &self.link, limits)
                        .await;
                (report.result, report.joined_for)
            }
            Err(e) => (Err(e), None),
        };
        let result = result.map_err(|e| match e {
            SessionError::LoginFailed(reason) => {
                let hint = match &self.token_env {
                    Some(name) => format!(
                        "check the token in ${name} (it needs the chat:read and chat:edit scopes) and the nick {:?}",
                        settings.nick
                    ),
                    None => "the server refused an anonymous login".to_owned(),
                };
                SourceError::LoginFailed(format!(
                    "twitch login to {} failed: {reason}; {hint}",
                    settings.address()
                ))
            }
            other => SourceError::Other(format!(
                "twitch connection to {}: {other}",
                settings.address()
            )),
        });
        SessionReport {
            result,
            connected_for,
        }
    }
}

impl SessionSource for TwitchSource {
    fn session<'a>(&'a mut self, ctx: &'a mut SourceContext) -> BoxFuture<'a, SessionReport> {
        Box::pin(self.one_session(ctx))
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.timing.retry_policy()
    }

    fn commands(&self) -> CommandSupport {
        let chat = if self.is_anonymous() {
            CommandSet::NONE
        } else {
            send::COMMANDS
        };
        let mut reasons = Vec::new();
        if self.is_anonymous() {
            reasons.push(send::ANONYMOUS.to_owned());
        }
        let helix = match &self.helix {
            Some((_, set, missing)) => {
                reasons.extend(missing.iter().cloned());
                *set
            }
            None => {
                reasons.push(format!(
                    "Twitch chat over IRC can only say and reply; moderation and announcements go through Helix with a stored login: run `ss auth twitch --creator {}`",
                    self.creator
                ));
                CommandSet::NONE
            }
        };
        let both: Vec<CommandName> = chat.names().chain(helix.names()).collect();
        helix_send::support(CommandSet::of(&both), &reasons)
    }

    fn delivery(&mut self, ctx: &SourceContext) -> Box<dyn Delivery> {
        let chat = Box::new(TwitchDelivery::new(
            self.link.clone(),
            &self.channel,
            ctx.guards.clone(),
            self.is_anonymous(),
        ));
        match &self.helix {
            Some((ids, set, _)) if !set.is_empty() => Box::new(helix_send::ChatAndHelix {
                chat,
                helix: helix_send::HelixDelivery::new(
                    ids.clone(),
                    &self.channel,
                    ctx.guards.clone(),
                    *set,
                ),
            }),
            _ => chat,
        }
    }
}

/// Rejects names IRC cannot carry: empty, too long, or holding separators and control characters.
fn check_irc_name(what: &str, name: &str) -> Result<(), SourceError> {
    let bad = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | ':' | '!' | '@' | '#'));
    if name.is_empty() || name.len() > 64 || bad.is_some() {
        return Err(SourceError::InvalidSettings(format!(
            "twitch {what} {name:?} is not a valid IRC name; use the login as shown in the channel URL (letters, digits, _)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(channel: &str, nick: &str, token_env: Option<&str>) -> TwitchSettings {
        TwitchSettings {
            enabled: true,
            channel: channel.into(),
            nick: nick.into(),
            token_env: token_env.map(str::to_string),
            host: None,
            port: None,
            tls: None,
            client_id_env: None,
            client_secret_env: None,
            transport: Default::default(),
            broadcaster_id: None,
        }
    }

    #[test]
    fn names_are_normalized_and_checked() {
        let source =
            TwitchSource::new("demo", &settings("#Some_Channel", "MyBot", Some("T"))).unwrap();
        assert_eq!((source.channel(), source.nick()), ("some_channel", "mybot"));
        assert!(!source.is_anonymous());
        let err = TwitchSource::new("demo", &settings("two words", "bot", None)).unwrap_err();
        assert!(err.to_string().contains("channel \"two words\""), "{err}");
        assert!(TwitchSource::new("demo", &settings("", "bot", None)).is_err());
    }

    #[test]
    fn no_token_or_a_justinfan_nick_reads_anonymously() {
        let source = TwitchSource::new("demo", &settings("c", "mybot", None)).unwrap();
        assert!(source.is_anonymous());
        assert!(source.nick().starts_with("justinfan"), "{}", source.nick());
        let source = TwitchSource::new("demo", &settings("c", "justinfan123", Some("T"))).unwrap();
        assert!(source.is_anonymous());
        assert_eq!(source.nick(), "justinfan123");
    }
}
