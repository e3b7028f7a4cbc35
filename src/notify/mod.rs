//! Notifications out of the outbox: the Discord and X senders and their rate limits, and the
//! go-live watcher (with Twitch's Helix poller) that turns a source going live into posts.
//!
//! # Layout
//!
//! - [`drain`]: the loop every sender shares (due rows → send → record, committed before re-reading).
//! - [`discord`]: Create Message / Execute Webhook, with [`buckets`] (rate limits) and
//!   [`embed`] (message bodies within Discord's limits); `crate::routing::discord` picks the
//!   channels per guild.
//! - [`x`]: `POST /2/tweets` with an OAuth 2.0 user token, refreshed on a 401.
//! - [`golive`]: statuses → go-live and runtime log rows, as `crate::routing::rules` makes them.
//! - [`helix`]: Twitch live/offline through Helix `GET /streams` with an app token.
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
pub mod golive;
pub mod helix;
pub mod stats;
pub mod x;

use crate::config::Config;
use crate::config::secrets::Secrets;
use crate::event::Platform;
use crate::pipeline::telemetry::Telemetry;
use crate::sources::StatusHandle;
use crate::store::{Readers, StoreWriter, WriterStats};
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
    /// Every running source's status (creator, platform, handle).
    pub sources: Vec<(String, Platform, StatusHandle)>,
    pub shutdown: CancellationToken,
}

/// The running notification tasks.
pub struct Notifications {
    tasks: JoinSet<()>,
    pub stats: NotifyStats,
}

/// An HTTP client for the senders: rustls, a bounded timeout, no redirects (a redirect could carry
/// a token to another host).
pub(crate) fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// `application/x-www-form-urlencoded` text of `pairs`.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    fn encode(s: &str, out: &mut String) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    out.push(char::from(b));
                }
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode(k, &mut out);
        out.push('=');
        encode(v, &mut out);
    }
    out
}

/// Starts the senders, the go-live watcher and the Helix pollers.
pub fn start(parts: NotifyParts) -> Notifications {
    let stats = NotifyStats::default();
    {
        let config = parts.config.borrow();
        for (destination, (state, detail)) in [
            ("discord", discord_readiness(&config, &parts.secrets)),
            ("x", x_readiness(&config, &parts.secrets)),
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
    };
    let discord_wake = Arc::new(Notify::new());
    let x_wake = Arc::new(Notify::new());
    tasks.spawn(drain::run(
        discord::DiscordSender::new(),
        parts.readers.clone(),
        ctx(&stats),
        discord_wake.clone(),
    ));
    tasks.spawn(drain::run(
        x::XSender::new(),
        parts.readers.clone(),
        ctx(&stats),
        x_wake.clone(),
    ));
    let mut sources = parts.sources.clone();
    for (creator, status) in helix_pollers(&parts, &mut tasks) {
        if !sources
            .iter()
            .any(|(c, p, _)| *c == creator && *p == Platform::Twitch)
        {
            sources.push((creator, Platform::Twitch, status));
        }
    }
    tasks.spawn(golive::run(golive::Watched {
        sources,
        config: parts.config.clone(),
        writer: parts.writer.clone(),
        writer_stats: parts.writer_stats.clone(),
        wake: vec![discord_wake, x_wake],
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

/// Starts a Helix poller for each Twitch creator with client credentials; returns the status each
/// reports into (the Twitch source's when it runs).
fn helix_pollers(parts: &NotifyParts, tasks: &mut JoinSet<()>) -> Vec<(String, StatusHandle)> {
    let config = parts.config.borrow().clone();
    let own = config.platforms.settings(Platform::Twitch);
    let helix_url = own
        .str("helix_url")
        .unwrap_or_else(|| helix::DEFAULT_HELIX_URL.into());
    let oauth_url = own
        .str("oauth_url")
        .unwrap_or_else(|| helix::DEFAULT_OAUTH_URL.into());
    let every = own
        .u64("live_poll_s")
        .map_or(helix::DEFAULT_POLL, Duration::from_secs);
    let mut started = Vec::new();
    for creator in config.creators.creators.iter().filter(|c| c.enabled) {
        let Some(twitch) = creator.platforms.twitch.as_ref().filter(|t| t.enabled) else {
            continue;
        };
        let (Some(id_env), Some(secret_env)) = (&twitch.client_id_env, &twitch.client_secret_env)
        else {
            continue;
        };
        let (Some(client_id), Some(client_secret)) =
            (parts.secrets.get(id_env), parts.secrets.get(secret_env))
        else {
            tracing::warn!(creator = %creator.id, platform = "twitch", "Go-live checks off: {id_env} or {secret_env} is not set.");
            continue;
        };
        let status = parts
            .sources
            .iter()
            .find(|(c, p, _)| *c == creator.id && *p == Platform::Twitch)
            .map_or_else(StatusHandle::new, |(_, _, s)| s.clone());
        let client = helix::HelixStreams::new(
            &helix_url,
            &oauth_url,
            client_id,
            client_secret,
            parts.secrets.clone(),
        );
        let login = twitch.channel.trim_start_matches('#').to_ascii_lowercase();
        tasks.spawn(helix::watch(
            client,
            login,
            status.clone(),
            every,
            parts.shutdown.clone(),
        ));
        started.push((creator.id.clone(), status));
    }
    started
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
