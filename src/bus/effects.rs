//! Effects across the bus: the platform commands and clip requests an evaluator computes, carried
//! out by ingest behind the fence.
//!
//! **Evaluator side** ([`routes`], [`publish_effects`]): the command sink queues commands as in
//! the embedded run, but every (creator, platform) route leads to one publisher, which wraps each
//! command in an [`Effect`] with its shard and the epoch of the lease held now, and publishes it
//! to `<prefix>.fx.<shard>` with `Nats-Msg-Id` = the effect id. The id is a hash of the cause and
//! the command's place among its cause's commands, so a new owner folding the same events computes
//! the same ids. A command for a shard whose lease has run out is not published (counted
//! `not_owner`). A clip request travels the same way, its id from its clip id (itself from its
//! cause), and ingest records it for its clip worker ([`super::clips`]).
//!
//! **Ingest side** ([`carry_out`]): a durable consumer of this ingest's own reads every effect in
//! order. One for a creator whose source does not run here is left to the ingest that runs it
//! (several ingests may share the bus, each with its creators; counted `elsewhere`). Each is refused
//! if its epoch is older than the shard's current epoch (read from the lease bucket, and the
//! highest seen so far): the fence, counted `fenced`. An effect whose id was carried out before
//! (kept in the store for 7 days, past any redelivery or catch-up) is skipped, counted
//! `duplicate`. The rest go to the running source's command queue, the same queue the embedded
//! run uses; the id is committed, then the message acknowledged.

use super::Bus;
use super::clips::ClipRequest;
use super::lease::{Held, LeaseValue};
use super::names::{lease_key, shard_of};
use super::stats::{BusStats, bump};
use crate::command::{CommandSet, CommandSupport, PlatformCommand};
use crate::config::Config;
use crate::effects::sinks::command::{CommandQueues, CommandRoute, CommandRoutes, Submitted};
use crate::event::Platform;
use crate::store::{NewClip, Readers, StoreWriter, WriteOp};
use anyhow::Context;
use async_nats::jetstream::{self, AckKind};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

/// The source name effect ids are kept under in the store's delivery table.
pub const DELIVERED: &str = "bus:effects";
/// How long ingest remembers an effect it carried out.
const KEEP_MS: i64 = 7 * 24 * 3600 * 1000;
/// A consumer that hears nothing for this long is asked again.
const IDLE: Duration = Duration::from_secs(5);
/// Commands waiting for the evaluator's publisher.
const QUEUE: usize = 1024;

/// One effect on the wire: a platform command or a clip request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effect {
    pub id: String,
    pub shard: u32,
    pub epoch: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<PlatformCommand>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<ClipRequest>,
}

impl Effect {
    /// Whose effect it is: the creator and platform of its command or clip.
    fn owner(&self) -> Option<(&str, Platform)> {
        match (&self.command, &self.clip) {
            (Some(command), _) => Some((&command.creator, command.platform)),
            (None, Some(clip)) => Some((&clip.creator, clip.platform)),
            (None, None) => None,
        }
    }

    fn cause(&self) -> &str {
        match (&self.command, &self.clip) {
            (Some(command), _) => &command.cause,
            (None, Some(clip)) => &clip.clip_id,
            (None, None) => "",
        }
    }
}

/// The command routes of an evaluator: every creator on every platform, all leading to the
/// publisher (`rx`). Ingest's own routes refuse what the running source cannot do.
pub fn routes(config: &Config) -> (CommandRoutes, mpsc::Receiver<PlatformCommand>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let mut routes = CommandRoutes::new();
    for creator in &config.creators.creators {
        for platform in Platform::all() {
            routes.insert(
                (creator.id.clone(), *platform),
                CommandRoute {
                    queue: tx.clone(),
                    support: CommandSupport::new(
                        CommandSet::ALL,
                        "ingest's running source decides",
                    ),
                },
            );
        }
    }
    (routes, rx)
}

/// The id of the `nth` command (from 0) caused by `cause`.
pub fn effect_id(cause: &str, nth: u32) -> String {
    let digest = Sha256::digest(format!("{cause}\u{1f}{nth}").as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Publishes the evaluator's commands and clip requests as effects until both queues close.
pub async fn publish_effects(
    bus: Bus,
    mut commands: mpsc::Receiver<PlatformCommand>,
    mut clips: mpsc::Receiver<NewClip>,
    held: Held,
    stats: Arc<BusStats>,
    shutdown: CancellationToken,
) {
    // Commands of one cause arrive together (one event's actions are routed together).
    let mut last_cause = String::new();
    let mut nth = 0u32;
    loop {
        let (id, creator, command, clip) = tokio::select! {
            Some(command) = commands.recv() => {
                if command.cause == last_cause {
                    nth += 1;
                } else {
                    last_cause.clone_from(&command.cause);
                    nth = 0;
                }
                (effect_id(&command.cause, nth), command.creator.clone(), Some(command), None)
            }
            Some(clip) = clips.recv() => {
                let Some(clip) = ClipRequest::of(&clip) else { continue };
                (effect_id(&format!("clip:{}", clip.clip_id), 0), clip.creator.clone(), None, Some(clip))
            }
            else => return,
        };
        let shard = shard_of(&creator, bus.settings.shards);
        let Some(epoch) = held.epoch(shard) else {
            bump(&stats.effects_not_owner);
            tracing::debug!(shard, effect = %id, "Not the shard's owner now; the effect is not published.");
            continue;
        };
        let effect = Effect {
            id,
            shard,
            epoch,
            command,
            clip,
        };
        publish_one(&bus, &effect, &held, &stats, &shutdown).await;
    }
}

/// Publishes one effect, retrying until the server acknowledges it, the lease is gone or shutdown.
async fn publish_one(
    bus: &Bus,
    effect: &Effect,
    held: &Held,
    stats: &BusStats,
    shutdown: &CancellationToken,
) {
    let Ok(payload) = serde_json::to_vec(effect).map(Bytes::from) else {
        return;
    };
    let subject = bus.names.effect_subject(effect.shard);
    let acked = bus
        .publish_until_acked(
            &subject,
            &effect.id,
            payload,
            &stats.publish_retries,
            || shutdown.is_cancelled() || held.epoch(effect.shard).is_none(),
        )
        .await;
    match acked {
        Some(ack) => {
            bump(&stats.effects_published);
            if ack.duplicate {
                // A new owner's catch-up repeating what the old owner published.
                bump(&stats.effects_already_published);
            }
        }
        None => bump(&stats.effects_not_owner),
    }
}

/// The fence: the newest epoch known for each shard.
struct Fence {
    kv: Option<jetstream::kv::Store>,
    newest: HashMap<u32, u64>,
}

impl Fence {
    /// Whether an effect of `epoch` on `shard` is from the shard's current owner (or a newer one).
    async fn admits(&mut self, bus: &Bus, shard: u32, epoch: u64) -> bool {
        if self.kv.is_none() {
            self.kv = bus.js.get_key_value(bus.names.leases_bucket()).await.ok();
        }
        if let Some(kv) = &self.kv
            && let Ok(Some(entry)) = kv.entry(lease_key(shard)).await
            && let Some((_, current)) = LeaseValue::epoch_of(&entry)
        {
            let newest = self.newest.entry(shard).or_default();
            *newest = (*newest).max(current);
        }
        let newest = self.newest.entry(shard).or_default();
        if epoch < *newest {
            return false;
        }
        *newest = epoch;
        true
    }
}

/// What ingest carries effects out with.
pub struct Carrier {
    pub bus: Bus,
    /// The running sources' command queues.
    pub commands: CommandQueues,
    pub readers: Readers,
    pub writer: StoreWriter,
    /// Woken once a clip request is recorded: the clip worker and the exporter.
    pub clip_wakes: Vec<Arc<Notify>>,
    pub stats: Arc<BusStats>,
    pub shutdown: CancellationToken,
}

/// Ingest: carries out the evaluators' effects until shutdown.
pub async fn carry_out(carrier: Carrier) -> anyhow::Result<()> {
    let Carrier {
        bus,
        commands,
        readers,
        writer,
        clip_wakes,
        stats,
        shutdown,
    } = carrier;
    let since = chrono::Utc::now().timestamp_millis() - KEEP_MS;
    let mut done: HashSet<String> = readers
        .read(move |r| r.webhook_deliveries(DELIVERED, since))
        .await??
        .into_iter()
        .collect();
    let stream = bus
        .js
        .get_stream(bus.names.effects_stream())
        .await
        .context("opening the effects stream (run `ss bus init`)")?;
    let consumer: jetstream::consumer::PullConsumer = stream
        .get_or_create_consumer(
            &super::init::ingest_consumer(&bus),
            super::init::effects_consumer_config(&bus),
        )
        .await
        .context("opening the effects consumer")?;
    let mut fence = Fence {
        kv: None,
        newest: HashMap::new(),
    };
    loop {
        let mut messages = match consumer.messages().await {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "Cannot read effects now; retrying.");
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(Duration::from_millis(500)) => continue,
                }
            }
        };
        loop {
            // Nothing for a while: ask the consumer again (a server node that died may have held
            // the pull request; the durable consumer keeps the place).
            let next = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(IDLE) => break,
                next = messages.next() => next,
            };
            let message = match next {
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "Reading effects failed; resuming.");
                    break;
                }
                None => break,
            };
            let effect: Effect = match serde_json::from_slice(&message.payload) {
                Ok(e) => e,
                Err(e) => {
                    bump(&stats.effects_malformed);
                    tracing::warn!(error = %e, "An effect on the bus is not readable; dropped.");
                    let _ = message.ack_with(AckKind::Term).await;
                    continue;
                }
            };
            let Some((creator, platform)) = effect.owner() else {
                bump(&stats.effects_malformed);
                tracing::warn!(effect = %effect.id, "An effect on the bus has neither a command nor a clip; dropped.");
                let _ = message.ack_with(AckKind::Term).await;
                continue;
            };
            // Several ingests each read every effect: one for a creator whose sources run
            // elsewhere is that ingest's to carry out.
            if !commands.runs(creator, platform) {
                bump(&stats.effects_elsewhere);
                let _ = message.double_ack().await;
                continue;
            }
            if !fence.admits(&bus, effect.shard, effect.epoch).await {
                bump(&stats.effects_fenced);
                tracing::warn!(
                    shard = effect.shard,
                    epoch = effect.epoch,
                    cause = %effect.cause(),
                    "Refused an effect from an older lease epoch than the shard's (a stale evaluator)."
                );
                let _ = message.double_ack().await;
                continue;
            }
            if done.contains(&effect.id) {
                bump(&stats.effects_duplicate);
                let _ = message.double_ack().await;
                continue;
            }
            match (effect.command, effect.clip) {
                (Some(command), _) => {
                    if commands.submit(command) == Submitted::Queued {
                        bump(&stats.effects_applied);
                    }
                }
                (None, Some(clip)) => {
                    writer
                        .send(WriteOp::Clip(Box::new(clip.into_new_clip())))
                        .await?;
                    for wake in &clip_wakes {
                        writer.send(WriteOp::Wake(wake.clone())).await?;
                    }
                    bump(&stats.effects_applied);
                }
                (None, None) => {}
            }
            let now = chrono::Utc::now().timestamp_millis();
            writer
                .send(WriteOp::WebhookDelivery {
                    source: DELIVERED.into(),
                    id: effect.id.clone(),
                    at_ms: now,
                    keep_from_ms: now - KEEP_MS,
                })
                .await?;
            writer.flush().await?;
            done.insert(effect.id);
            let _ = message.double_ack().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effect_ids_depend_on_the_cause_and_the_place_only() {
        assert_eq!(effect_id("twitch:m1", 0), effect_id("twitch:m1", 0));
        assert_ne!(effect_id("twitch:m1", 0), effect_id("twitch:m1", 1));
        assert_ne!(effect_id("twitch:m1", 0), effect_id("twitch:m2", 0));
        assert_eq!(effect_id("x", 0).len(), 32);
    }
}
