//! Notifications out of the outbox: the Discord, X and webhook senders and their rate limits, and
//! the go-live watcher that turns a source going live into posts.
//!
//! # Layout
//!
//! - [`drain`]: the loop every sender shares (due rows → send → record, committed before re-reading).
//! - [`discord`]: Create Message / Execute Webhook, with [`buckets`] (rate limits) and
//!   [`embed`] (message bodies within Discord's limits); `crate::routing::discord` picks the
//!   channels per guild.
//! - [`x`]: `POST /2/tweets` with an OAuth 2.0 user token, refreshed on a 401.
//! - [`webhook`]: posting.json's webhooks, a signed JSON POST with an idempotency key.
//! - [`golive`]: statuses → go-live and runtime log rows, as `crate::routing::rules` makes them.
//! - [`stats`]: per-destination counters and state for `runtime_snapshot.json`.
//!
//! Where a notification goes is routing's decision, not this module's: a sender sends the rows of
//! its destination. Everything here reads the store through the reader pool (off the async
//! threads) and writes through the store writer; nothing here knows about triggers or sources
//! beyond their status.

pub mod buckets;
pub mod discord;
pub mod drain;
pub mod embed;
pub mod gate;
pub mod golive;
pub mod stats;
pub mod webhook;
pub mod x;

use crate::config::Config;
use crate::config::secrets::Secrets;
use crate::event::Platform;
use crate::sources::StatusHandle;
use crate::store::{Readers, StoreWriter, WriterStats};
use crate::telemetry::Telemetry;
use stats::NotifyStats;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What the notification tasks of one `ss run` need.
pub struct NotifyParts {
    /// The store's reader pool (the senders read their due rows through it).
    pub readers: Readers,
    pub config: watch::Receiver<Arc<Config>>,
    pub secrets: Secrets,
    pub writer: StoreWriter,
    pub writer_stats: Arc<WriterStats>,
    pub telemetry: Telemetry,
    /// Every status a source reports into (creator, platform, handle): the running sources', and
    /// those a platform's services report into for creators without a running source (Twitch's
    /// go-live poller).
    pub sources: Vec<(String, Platform, StatusHandle)>,
    pub shutdown: CancellationToken,
    /// Asked before each row is sent: an evaluator's fence (`crate::bus::gate`).
    pub gate: Option<Arc<dyn gate::EgressGate>>,
}

/// The running notification tasks.
pub struct Notifications {
    tasks: JoinSet<()>,
    pub stats: NotifyStats,
}

pub(crate) use crate::http_out::{client as http_client, form};

impl Notifications {
    /// No senders: a role that sends nothing (`ss run --role export`).
    pub fn idle() -> Notifications {
        Notifications {
            tasks: JoinSet::new(),
            stats: NotifyStats::default(),
        }
    }
}

/// Starts the senders and the go-live watcher.
pub fn start(parts: NotifyParts) -> Notifications {
    let stats = NotifyStats::default();
    {
        let config = parts.config.borrow();
        for (destination, (state, detail)) in [
            ("discord", discord_readiness(&config, &parts.secrets)),
            ("x", x_readiness(&config, &parts.secrets)),
            ("webhook", webhook_readiness(&config, &parts.secrets)),
        ] {
            if let Some(why) = &detail {
                tracing::info!(destination, state, "Posts wait: {why}");
            }
            stats.set_state(destination, state, detail);
        }
    }
    let mut tasks = JoinSet::new();
    let ctx = |stats: &NotifyStats| drain::DrainCtx {
        writer: parts.writer.clone(),
        config: parts.config.clone(),
        secrets: parts.secrets.clone(),
        stats: stats.clone(),
        telemetry: parts.telemetry.clone(),
        shutdown: parts.shutdown.clone(),
        gate: parts.gate.clone(),
    };
    let discord_wake = Arc::new(Notify::new());
    let x_wake = Arc::new(Notify::new());
    let webhook_wake = Arc::new(Notify::new());
    // A sender whose HTTP client cannot be built posts nothing: its state says why, and its rows
    // stay queued for the next run.
    match discord::DiscordSender::new() {
        Ok(sender) => {
            tasks.spawn(drain::run(
                sender,
                parts.readers.clone(),
                ctx(&stats),
                discord_wake.clone(),
            ));
        }
        Err(e) => {
            stats.set_state("discord", "failed", Some(e.to_string()));
        }
    }
    match x::XSender::new() {
        Ok(sender) => {
            tasks.spawn(drain::run(
                sender,
                parts.readers.clone(),
                ctx(&stats),
                x_wake.clone(),
            ));
        }
        Err(e) => {
            stats.set_state("x", "failed", Some(e.to_string()));
        }
    }
    match webhook::WebhookSender::new() {
        Ok(sender) => {
            tasks.spawn(drain::run(
                sender,
                parts.readers.clone(),
                ctx(&stats),
                webhook_wake.clone(),
            ));
        }
        Err(e) => {
            stats.set_state("webhook", "failed", Some(e.to_string()));
        }
    }
    tasks.spawn(golive::run(golive::Watched {
        sources: parts.sources.clone(),
        config: parts.config.clone(),
        writer: parts.writer.clone(),
        writer_stats: parts.writer_stats.clone(),
        wake: vec![discord_wake, x_wake, webhook_wake],
        shutdown: parts.shutdown.clone(),
    }));
    Notifications { tasks, stats }
}

/// Whether Discord posts can go out: a bot token, or a webhook for some guild.
fn discord_readiness(config: &Config, secrets: &Secrets) -> (&'static str, Option<String>) {
    let discord = &config.discord.discord;
    let token = discord.token_env.as_deref().and_then(|e| secrets.get(e));
    let webhook = discord
        .guilds
        .values()
        .filter_map(|g| g.webhook_url_env.as_deref())
        .any(|e| secrets.get(e).is_some());
    if discord.guilds.is_empty() {
        ("off", Some("discord.json has no guilds".into()))
    } else if token.is_some() || webhook {
        ("ready", None)
    } else {
        let name = discord.token_env.as_deref().unwrap_or("token_env");
        (
            "not_configured",
            Some(format!(
                "{name} is not set; rows stay queued until the bot token is there"
            )),
        )
    }
}

/// Whether X posts can go out: rules and a user token.
fn x_readiness(config: &Config, secrets: &Secrets) -> (&'static str, Option<String>) {
    let x = &config.posting.x;
    if x.rules.is_empty() {
        return ("off", Some("posting.json has no x rules".into()));
    }
    match x.token_env.as_deref() {
        Some(env) if secrets.get(env).is_some() => ("ready", None),
        name => (
            "not_configured",
            Some(format!(
                "{} is not set; X posts stay queued until the user token is there",
                name.unwrap_or("token_env")
            )),
        ),
    }
}

/// Whether webhook posts can go out: every webhook's signing secret is set.
fn webhook_readiness(config: &Config, secrets: &Secrets) -> (&'static str, Option<String>) {
    let webhooks = &config.posting.webhooks;
    if webhooks.is_empty() {
        return ("off", Some("posting.json has no webhooks".into()));
    }
    let missing: Vec<&str> = webhooks
        .values()
        .map(|w| w.secret_env.as_str())
        .filter(|env| secrets.get(env).is_none())
        .collect();
    if missing.is_empty() {
        ("ready", None)
    } else {
        (
            "not_configured",
            Some(format!(
                "{} not set; those webhooks' posts stay queued until the signing secret is there",
                missing.join(", ")
            )),
        )
    }
}

impl Notifications {
    /// Waits for the tasks to end after shutdown, at most `grace`; the rest are aborted.
    pub async fn join(mut self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        while !self.tasks.is_empty() {
            if tokio::time::timeout_at(deadline, self.tasks.join_next())
                .await
                .is_err()
            {
                tracing::warn!("Notification senders did not stop in time; aborting them.");
                self.tasks.abort_all();
                while self.tasks.join_next().await.is_some() {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_encoding_escapes_reserved_bytes() {
        assert_eq!(
            super::form(&[("a", "x y&z=1/é"), ("grant_type", "refresh_token")]),
            "a=x%20y%26z%3D1%2F%C3%A9&grant_type=refresh_token"
        );
    }
}
