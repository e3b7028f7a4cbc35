//! Twitch chat over IRC (TLS by default): the [`TwitchSource`] and the layers under it.
//!
//! - [`irc`]: the pure, borrowing IRCv3 line parser.
//! - [`decode`]: Twitch commands and tags → [`crate::event::ChatEvent`].
//! - [`client`]: one connection: connect, log in, join, keepalive, read, write.
//! - [`send`]: replies → rate-limited, split, tagged `PRIVMSG` lines.
//!
//! The source owns the reconnect loop: a lost connection is retried with capped, jittered backoff
//! (reset once a connection has stayed up), a `RECONNECT` from the server reconnects and rejoins, and
//! a refused login is reported on the status and retried only after a long backoff. The outbox (queued
//! replies and the record of recent sends) belongs to the source, so reconnects neither lose replies
//! nor reset the rate limit.
//!
//! Settings come from the creator's `twitch` block (`channel`, `nick`, `token_env`, `host`, `port`,
//! `tls`); the endpoint overrides of platforms.json win over `host`/`port`/`tls`. Without a
//! `token_env`, or with a `justinfan…` nick, the source reads anonymously and cannot send. TLS trusts
//! the Mozilla root set; a self-hosted or test server with its own certificate authority is trusted
//! through [`TwitchSource::with_root_certificates`] or [`TwitchSource::with_ca_file`].

pub mod client;
pub mod decode;
pub mod irc;
pub mod send;

use crate::config::model::TwitchSettings;
use crate::sources::backoff::Backoff;
use crate::sources::{BoxFuture, ConnectionState, Source, SourceContext, SourceError};
use client::{ConnectSettings, SessionEnd, SessionError, SessionReport, Timing};
use send::Outbox;
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tracing::{info, warn};

/// Twitch's IRC host.
pub const DEFAULT_HOST: &str = "irc.chat.twitch.tv";
/// IRC over TLS.
pub const DEFAULT_TLS_PORT: u16 = 6697;
/// Plain IRC.
pub const DEFAULT_PLAIN_PORT: u16 = 6667;
/// Nicks with this prefix log in anonymously (read-only) on Twitch.
pub const ANONYMOUS_NICK_PREFIX: &str = "justinfan";

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
    extra_roots: Vec<CertificateDer<'static>>,
    tls_config: Option<Arc<ClientConfig>>,
    timing: Timing,
    /// Created on the first run from the context's send limit; kept across runs and reconnects.
    outbox: Option<Outbox>,
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
            extra_roots: Vec::new(),
            tls_config: None,
            timing: Timing::default(),
            outbox: None,
        })
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
        let invalid = |why: String| {
            SourceError::InvalidSettings(format!(
                "TLS CA file {}: {why}; give a PEM file with one or more CERTIFICATE blocks",
                path.display()
            ))
        };
        let pem = std::fs::read(path).map_err(|e| invalid(e.to_string()))?;
        let roots = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(e.to_string()))?;
        if roots.is_empty() {
            return Err(invalid("no certificate found".into()));
        }
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

    /// Resolves endpoint, TLS and credentials for this run.
    fn connect_settings(&mut self, ctx: &SourceContext) -> Result<ConnectSettings, SourceError> {
        let token = match &self.token_env {
            None => None,
            Some(name) => Some(
                ctx.secrets
                    .get(name)
                    .ok_or_else(|| SourceError::MissingCredentials(name.clone()))?,
            ),
        };
        let tls = ctx.endpoints.tls.or(self.tls).unwrap_or(true);
        let default_port = if tls {
            DEFAULT_TLS_PORT
        } else {
            DEFAULT_PLAIN_PORT
        };
        let tls = if tls {
            if self.tls_config.is_none() {
                let config =
                    client::tls_config(&self.extra_roots).map_err(SourceError::InvalidSettings)?;
                self.tls_config = Some(config);
            }
            self.tls_config.clone()
        } else {
            None
        };
        Ok(ConnectSettings {
            host: ctx
                .endpoints
                .host
                .clone()
                .or_else(|| self.host.clone())
                .unwrap_or_else(|| DEFAULT_HOST.to_owned()),
            port: ctx.endpoints.port.or(self.port).unwrap_or(default_port),
            tls,
            channel: self.channel.clone(),
            nick: self.nick.clone(),
            token,
        })
    }

    async fn run_until_shutdown(&mut self, ctx: &mut SourceContext) -> Result<(), SourceError> {
        let settings = match self.connect_settings(ctx) {
            Ok(settings) => settings,
            Err(e) => {
                warn!(platform = "twitch", creator = %ctx.creator, error = %e, "Twitch source cannot start.");
                ctx.status.record_error(e.to_string());
                ctx.status.set_state(ConnectionState::Failed);
                return Err(e);
            }
        };
        let timing = self.timing;
        let outbox = self
            .outbox
            .get_or_insert_with(|| Outbox::new(&ctx.send_limit));
        let shutdown = ctx.shutdown.clone();
        let mut reconnect = Backoff::new(timing.reconnect_base, timing.reconnect_cap);
        let mut login_retry = Backoff::new(timing.login_retry_base, timing.login_retry_cap);
        let mut attempts: u64 = 0;
        info!(
            platform = "twitch",
            creator = %ctx.creator,
            channel = %settings.channel,
            server = %settings.address(),
            tls = settings.tls.is_some(),
            anonymous = settings.token.is_none(),
            "Twitch source starting."
        );
        loop {
            ctx.status.set_state(ConnectionState::Connecting);
            if attempts > 0 {
                ctx.status.record_reconnect();
            }
            attempts += 1;
            let connected = tokio::select! {
                () = shutdown.cancelled() => break,
                connected = client::connect(&settings, &timing) => connected,
            };
            let report = match connected {
                Ok(transport) => {
                    client::run_session(transport, &settings, &timing, ctx, outbox).await
                }
                Err(e) => SessionReport {
                    result: Err(e),
                    joined_for: None,
                },
            };
            if let Some(joined_for) = report.joined_for {
                login_retry.reset();
                if joined_for >= timing.stable_after {
                    reconnect.reset();
                }
            }
            let delay = match report.result {
                Ok(SessionEnd::Shutdown) => break,
                Ok(SessionEnd::PipelineClosed) => {
                    info!(platform = "twitch", creator = %ctx.creator, "Pipeline closed; Twitch source stopping.");
                    break;
                }
                Ok(SessionEnd::ReconnectRequested) => reconnect.next_delay(),
                Err(SessionError::LoginFailed(reason)) => {
                    let delay = login_retry.next_delay();
                    let hint = match &self.token_env {
                        Some(name) => format!(
                            "check the token in ${name} (it needs the chat:read and chat:edit scopes) and the nick {:?}",
                            settings.nick
                        ),
                        None => "the server refused an anonymous login".to_owned(),
                    };
                    let message = scrub(
                        &format!(
                            "twitch login to {} failed: {reason}; {hint}; retrying in {}s",
                            settings.address(),
                            delay.as_secs()
                        ),
                        settings.token.as_ref(),
                    );
                    warn!(platform = "twitch", creator = %ctx.creator, "{message}");
                    ctx.status.record_error(message);
                    delay
                }
                Err(e) => {
                    let delay = reconnect.next_delay();
                    let message = scrub(
                        &format!("twitch connection to {}: {e}", settings.address()),
                        settings.token.as_ref(),
                    );
                    warn!(
                        platform = "twitch",
                        creator = %ctx.creator,
                        retry_in_ms = delay.as_millis() as u64,
                        "{message}"
                    );
                    ctx.status.record_error(message);
                    delay
                }
            };
            ctx.status.set_state(ConnectionState::Backoff);
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(delay) => {}
            }
        }
        ctx.status.set_state(ConnectionState::Stopped);
        Ok(())
    }
}

impl Source for TwitchSource {
    fn run<'a>(&'a mut self, ctx: &'a mut SourceContext) -> BoxFuture<'a, Result<(), SourceError>> {
        Box::pin(self.run_until_shutdown(ctx))
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

/// Removes the token (with or without `oauth:`) from a message that might echo it.
fn scrub(message: &str, token: Option<&crate::config::secrets::Secret>) -> String {
    let Some(token) = token else {
        return message.to_owned();
    };
    let bare = token.expose().trim_start_matches("oauth:");
    if bare.is_empty() {
        return message.to_owned();
    }
    message.replace(bare, "[redacted]")
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

    #[test]
    fn scrub_removes_the_token_in_both_forms() {
        let token = crate::config::secrets::Secret::new("oauth:s3cr3t");
        assert_eq!(
            scrub("bad PASS oauth:s3cr3t and s3cr3t", Some(&token)),
            "bad PASS oauth:[redacted] and [redacted]"
        );
    }
}
