//! Twitch over EventSub (WebSocket) and Helix: the [`EventSubSource`], Twitch's second transport
//! beside IRC (`"transport": "eventsub"` in the creator's twitch block).
//!
//! - [`frames`]: the envelope of every frame, read by its `message_type`.
//! - [`events`]: notifications → [`crate::event::ChatEvent`]s of the shared kinds.
//! - [`plan`]: which subscriptions the token's scopes allow, and what is left out and why.
//! - [`session`]: one WebSocket session: welcome, subscribe, keepalive, `session_reconnect`, close
//!   codes, revocations.
//!
//! The source is a [`SessionSource`]: one session is one connection to the base URL, and the
//! runner reconnects with backoff (Twitch's `reconnect_url` is followed inside a session). Every
//! call to Helix (subscriptions, chat, moderation) uses the creator's user token
//! ([`super::auth::TwitchAuth`]), validated at start and hourly; its user is the sender and
//! moderator, and its scopes decide the subscriptions and the commands. Commands go through
//! [`super::helix_send`]; go-live comes from `stream.online` / `stream.offline` (the Helix go-live
//! poller serves only the IRC transport).

pub mod events;
pub mod frames;
pub mod plan;
pub mod session;

use super::helix_api::HelixError;
use super::helix_send::{ChannelIds, HelixDelivery};
use crate::command::{CommandSet, CommandSupport};
use crate::sources::runner::RetryPolicy;
use crate::sources::runner::serve::Delivery;
use crate::sources::runner::session::{SessionEnd, SessionReport, SessionSource};
use crate::sources::twitch::auth::AuthError;
use crate::sources::{BoxFuture, SourceContext, SourceError};
use session::{Deliveries, Memory, Setup, Timing};
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio_rustls::rustls::ClientConfig;
use tracing::info;

/// Twitch's EventSub WebSocket endpoint.
pub const DEFAULT_EVENTSUB_URL: &str = "wss://eventsub.wss.twitch.tv/ws";

/// The EventSub URL to connect to: `base`, asking for `keepalive_s` when set.
pub fn session_url(base: &str, keepalive_s: Option<u64>) -> String {
    match keepalive_s {
        Some(seconds) => {
            let separator = if base.contains('?') { '&' } else { '?' };
            format!("{base}{separator}keepalive_timeout_seconds={seconds}")
        }
        None => base.to_owned(),
    }
}

/// Reads one Twitch channel over EventSub and acts in it over Helix.
pub struct EventSubSource {
    creator: String,
    channel: String,
    url: String,
    ids: Arc<ChannelIds>,
    support: CommandSupport,
    timing: Timing,
    retry: RetryPolicy,
    tls: Option<Arc<ClientConfig>>,
    deliveries: Deliveries,
    revoked: BTreeSet<String>,
    reported: BTreeSet<String>,
    left_out_reported: bool,
}

impl std::fmt::Debug for EventSubSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSubSource")
            .field("creator", &self.creator)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl EventSubSource {
    /// A source for `creator` reading `channel` at `url`, acting through `ids`; `support` is what
    /// the token allows ([`super::helix_send::helix_support`]).
    pub fn new(
        creator: &str,
        channel: &str,
        url: String,
        ids: Arc<ChannelIds>,
        support: CommandSupport,
    ) -> EventSubSource {
        EventSubSource {
            creator: creator.to_owned(),
            channel: channel.to_ascii_lowercase(),
            url,
            ids,
            support,
            timing: Timing::default(),
            retry: RetryPolicy::default(),
            tls: None,
            deliveries: Deliveries::default(),
            revoked: BTreeSet::new(),
            reported: BTreeSet::new(),
            left_out_reported: false,
        }
    }

    /// Replaces the session waits (tests use short ones).
    pub fn with_timing(mut self, timing: Timing, retry: RetryPolicy) -> EventSubSource {
        self.timing = timing;
        self.retry = retry;
        self
    }

    fn login_failed(e: &HelixError) -> Option<SourceError> {
        match e {
            HelixError::Auth(AuthError::Refused(why)) => {
                Some(SourceError::LoginFailed(why.clone()))
            }
            HelixError::Auth(AuthError::NoLogin { .. }) => {
                Some(SourceError::MissingCredentials(e.to_string()))
            }
            _ => None,
        }
    }

    async fn one_session(&mut self, ctx: &mut SourceContext) -> SessionReport {
        let fail = |result| SessionReport {
            result: Err(result),
            connected_for: None,
        };
        if self.tls.is_none() {
            match crate::tls::default_client_config() {
                Ok(tls) => self.tls = Some(tls),
                Err(e) => return fail(SourceError::InvalidSettings(e.to_string())),
            }
        }
        let ids = tokio::select! {
            () = ctx.shutdown.cancelled() => return SessionReport {
                result: Ok(SessionEnd::Shutdown),
                connected_for: None,
            },
            ids = self.ids.resolve() => ids,
        };
        let ids = match ids {
            Ok(ids) => ids,
            Err(e) => {
                return fail(Self::login_failed(&e).unwrap_or_else(|| {
                    SourceError::Other(format!("twitch: finding the channel's ids: {e}"))
                }));
            }
        };
        let planned = plan::plan(
            &ids.broadcaster_id,
            &ids.user.user_id,
            &ids.user.scopes,
            &self.revoked,
        );
        if !self.left_out_reported {
            self.left_out_reported = true;
            for left in &planned.left_out {
                ctx.report.notice(
                    "subscription_left_out",
                    &format!(
                        "{}/twitch: EventSub {} not subscribed: {}",
                        self.creator, left.kind, left.why
                    ),
                );
            }
        }
        if planned.create.is_empty() {
            return fail(SourceError::Other(
                "twitch: no EventSub subscription is left to create this run".into(),
            ));
        }
        info!(
            platform = "twitch",
            creator = %ctx.creator,
            channel = %self.channel,
            user = %ids.user.login,
            url = %self.url.split('?').next().unwrap_or_default(),
            "Connecting to Twitch EventSub."
        );
        let setup = Setup {
            url: &self.url,
            tls: self
                .tls
                .clone()
                .unwrap_or_else(|| unreachable!("set above")),
            api: self.ids.api().clone(),
            channel: &self.channel,
            plan: planned.create,
            timing: self.timing,
        };
        let mut memory = Memory {
            deliveries: &mut self.deliveries,
            revoked: &mut self.revoked,
            reported: &mut self.reported,
        };
        let outcome = session::run(&setup, &mut memory, ctx).await;
        let result = match outcome.result {
            Ok(end) => Ok(end),
            Err(e) if e.is_twitch_side() => {
                info!(platform = "twitch", creator = %ctx.creator, "{e}; reconnecting.");
                Ok(SessionEnd::ReconnectRequested)
            }
            Err(session::SessionError::Helix(e)) => Err(Self::login_failed(&e)
                .unwrap_or_else(|| SourceError::Other(format!("twitch eventsub: {e}")))),
            Err(e) => Err(SourceError::Other(format!("twitch eventsub: {e}"))),
        };
        SessionReport {
            result,
            connected_for: outcome.connected_for,
        }
    }
}

impl SessionSource for EventSubSource {
    fn session<'a>(&'a mut self, ctx: &'a mut SourceContext) -> BoxFuture<'a, SessionReport> {
        Box::pin(self.one_session(ctx))
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    fn commands(&self) -> CommandSupport {
        self.support.clone()
    }

    fn delivery(&mut self, ctx: &SourceContext) -> Box<dyn Delivery> {
        Box::new(HelixDelivery::new(
            self.ids.clone(),
            &self.channel,
            ctx.guards.clone(),
            self.support.supported,
        ))
    }
}

/// What the EventSub transport can do with a token of `scopes` (`None`: a `token_env` token whose
/// scopes are not known before it is validated).
pub fn support_for(scopes: Option<&BTreeSet<String>>, creator: &str) -> CommandSupport {
    use crate::command::CommandName;
    match scopes {
        Some(granted) => {
            let (set, reasons) =
                super::helix_send::helix_support(CommandSet::ALL, granted, creator);
            super::helix_send::support(set, &reasons)
        }
        None => CommandSupport::new(
            CommandSet::of(&[CommandName::Say, CommandName::Reply]),
            format!(
                "the scopes of a token_env token are not known before it is used, so only chat is offered; log in with `ss auth twitch --creator {creator}` to moderate and announce"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keepalive_is_asked_for_in_the_url() {
        assert_eq!(
            session_url(DEFAULT_EVENTSUB_URL, None),
            DEFAULT_EVENTSUB_URL
        );
        assert_eq!(
            session_url(DEFAULT_EVENTSUB_URL, Some(30)),
            "wss://eventsub.wss.twitch.tv/ws?keepalive_timeout_seconds=30"
        );
        assert_eq!(
            session_url("ws://127.0.0.1:1/ws?x=1", Some(10)),
            "ws://127.0.0.1:1/ws?x=1&keepalive_timeout_seconds=10"
        );
    }
}
