//! The bus: NATS JetStream between the roles of `ss run`, for work that outgrows one machine.
//!
//! With system.json `bus` set, `ss run --role` splits the run:
//! - **ingest** ([`ingest`]) runs the sources and publishes each accepted event to the events
//!   stream, shard by creator ([`names`]); a polling source's checkpoint commits only after the
//!   server's acknowledgement, and its clock's ticks, a round per shard and second ([`ticks`]).
//!   It also carries out the effects the evaluators publish, behind the
//!   fence ([`effects`]): an effect from an older lease epoch than the shard's is refused.
//! - **evaluate** holds shard leases ([`lease`]) and folds each held shard's events through the
//!   same Core as the embedded run ([`shards`]), its platform commands and clip requests published
//!   as effects. It writes each held shard's state to the bus now and then, and starts a shard its
//!   store never folded from the latest such snapshot ([`snapshots`]).
//! - **export** folds every shard into its own store and writes the one catalogue, sending nothing.
//!
//! Clips are made where the capture runs, at ingest, and followed by the other roles through the
//! events stream ([`clips`]).
//!
//! [`init`] creates and verifies what the server holds. Without `bus`, none of this runs.

pub mod clips;
pub mod effects;
pub mod gate;
pub mod ingest;
pub mod init;
pub mod lease;
pub mod names;
pub mod shards;
pub mod snapshots;
pub mod stats;
pub mod ticks;

use crate::config::model::BusSettings;
use crate::config::secrets::Secrets;
use anyhow::Context;
use async_nats::jetstream;
use names::Names;
use std::time::Duration;

/// Which part of the work `ss run` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything in one process (the default; no bus needed).
    #[default]
    All,
    /// Sources → the events stream; effects from the evaluators → the platforms.
    Ingest,
    /// Holds shard leases and runs triggers on their events.
    Evaluate,
    /// Folds every shard and writes the exports, sending nothing.
    Export,
}

impl Role {
    /// Whether this role runs the platforms' sources (and their services and hooks).
    pub fn runs_sources(self) -> bool {
        matches!(self, Role::All | Role::Ingest)
    }

    /// Whether this role sends notifications (Discord, X, webhooks) from its outbox. The export
    /// role folds events only to write exports, so it sends nothing.
    pub fn sends(self) -> bool {
        !matches!(self, Role::Export)
    }

    /// Whether this role runs clip captures and jobs: only where the sources run.
    pub fn captures(self) -> bool {
        self.runs_sources()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Ingest => "ingest",
            Role::Evaluate => "evaluate",
            Role::Export => "export",
        }
    }
}

/// A connection to the bus and the names it uses.
#[derive(Clone)]
pub struct Bus {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub names: Names,
    pub settings: BusSettings,
}

impl Bus {
    /// Connects to the configured servers. The first connection must succeed (a wrong URL stops the
    /// run at once, with it); after that the client reconnects by itself, and the roles hold
    /// their work while it is away.
    pub async fn connect(settings: &BusSettings, secrets: &Secrets) -> anyhow::Result<Bus> {
        let mut options = async_nats::ConnectOptions::new()
            .name("ss")
            .connection_timeout(Duration::from_secs(5))
            .request_timeout(Some(Duration::from_secs(5)));
        if let Some(env) = &settings.credentials_env {
            let token = secrets.get(env).with_context(|| {
                format!("system.json bus.credentials_env names {env}, which is not set; set it (in the environment or runtime/.env)")
            })?;
            options = options.token(token.expose().to_owned());
        }
        let urls: Vec<&str> = settings
            .url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect();
        let shown = redact_urls(&settings.url);
        let addrs: Vec<async_nats::ServerAddr> = urls
            .iter()
            .map(|u| u.parse())
            .collect::<Result<_, _>>()
            .map_err(|e| {
                anyhow::anyhow!("system.json bus.url {shown:?} is not a NATS URL list: {e}")
            })?;
        let client = options.connect(addrs).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot reach the bus at {shown}: {e}. Is nats-server running with JetStream (`nats-server -js`)?"
            )
        })?;
        Ok(Bus {
            js: jetstream::new(client.clone()),
            client,
            names: Names::new(&settings.stream_prefix),
            settings: settings.clone(),
        })
    }

    /// Publishes one message with `Nats-Msg-Id` = `id` to the events or effects stream and waits
    /// for the server's acknowledgement, trying again (same id, so stored once) every 200 ms while
    /// it fails, each failure counted in `retries`, until `give_up` says to stop: then `None`.
    pub async fn publish_until_acked(
        &self,
        subject: &str,
        id: &str,
        payload: bytes::Bytes,
        retries: &std::sync::atomic::AtomicU64,
        give_up: impl Fn() -> bool,
    ) -> Option<jetstream::publish::PublishAck> {
        loop {
            let publish = jetstream::message::PublishMessage::build()
                .message_id(id)
                .payload(payload.clone());
            let acked = match self.js.send_publish(subject.to_owned(), publish).await {
                Ok(ack) => ack.await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match acked {
                Ok(ack) => return Some(ack),
                Err(e) => {
                    stats::bump(retries);
                    tracing::debug!(subject, error = %e, "Publishing to the bus failed; retrying.");
                    if give_up() {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// The server URLs without any user or password, for logs and status.
    pub fn shown_url(&self) -> String {
        redact_urls(&self.settings.url)
    }

    /// Whether the client is connected now.
    pub fn connected(&self) -> bool {
        matches!(
            self.client.connection_state(),
            async_nats::connection::State::Connected
        )
    }
}

/// `nats://user:pass@host:4222` → `nats://***@host:4222`, for each URL of a list.
pub fn redact_urls(urls: &str) -> String {
    urls.split(',')
        .map(|u| {
            let u = u.trim();
            match (u.find("://"), u.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => {
                    format!("{}***{}", &u[..scheme + 3], &u[at..])
                }
                (None, Some(at)) => format!("***{}", &u[at..]),
                _ => u.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_credentials() {
        assert_eq!(
            redact_urls("nats://u:secret@a:4222, nats://b:4223"),
            "nats://***@a:4222,nats://b:4223"
        );
        assert_eq!(redact_urls("tok@h:1"), "***@h:1");
    }
}
