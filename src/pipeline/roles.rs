//! What differs between the roles of `ss run` (`--role all|ingest|evaluate|export`), in one
//! place, so the runner wires every role the same way.
//!
//! - [`connect`]: a role other than `all` needs system.json `bus`; the bus is reached and what it
//!   holds verified (`crate::bus::init`) before anything starts.
//! - [`start_readers`]: evaluate holds shard leases, each with a reader of its shard; export reads
//!   every shard, with no lease.
//! - [`commands`]: where platform commands and clip requests go. All: the running sources' queues
//!   and the local clip worker. Ingest: the same, plus the effects the evaluators publish, carried
//!   out behind the fence, and its clips' state changes published back. Evaluate: published as
//!   effects. Export: nowhere (commands counted as dropped).

use crate::bus::lease::{Held, StartShard};
use crate::bus::shards::{ALL_SHARDS, ShardReader};
use crate::bus::stats::BusStats;
use crate::bus::{Bus, Role};
use crate::command::stats::CommandStats;
use crate::config::Config;
use crate::config::secrets::Secrets;
use crate::effects::sinks::command::{CommandQueues, CommandRoutes};
use crate::lanes::EventSink;
use crate::store::StoreWriter;
use crate::telemetry::Telemetry;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a source of the ingest role waits for room in a full data lane before its event is
/// dropped (and counted): the bus away longer than this is what it takes to lose events.
pub const INGEST_BLOCK: std::time::Duration = std::time::Duration::from_secs(300);

/// Connects to the bus for a role that needs it (and prepares what the server holds).
pub async fn connect(
    role: Role,
    config: &Config,
    secrets: &Secrets,
) -> anyhow::Result<Option<Bus>> {
    if role == Role::All {
        if config.system.bus.is_some() {
            tracing::info!(
                "system.json has a bus, but this run is --role all: the embedded single process, without the bus."
            );
        }
        return Ok(None);
    }
    let Some(settings) = &config.system.bus else {
        anyhow::bail!(
            "ss run --role {} needs the bus: add \"bus\": {{\"kind\": \"nats\", \"url\": \"nats://127.0.0.1:4222\"}} to runtime/config/system.json (see the README's \"Beyond one machine\"), or run without --role",
            role.as_str()
        );
    };
    let bus = Bus::connect(settings, secrets).await?;
    for prepared in crate::bus::init::prepare(&bus, role == Role::Ingest).await? {
        tracing::info!(kind = prepared.kind, name = %prepared.name, outcome = prepared.outcome, "{}", prepared.detail);
    }
    tracing::info!(role = role.as_str(), url = %bus.shown_url(), "Connected to the bus.");
    Ok(Some(bus))
}

/// Clip requests waiting for an evaluator's effects publisher (a request past it is logged and not
/// sent: clips are asked for one at a time by people in chat).
const CLIP_QUEUE: usize = 256;

/// What the shard readers need.
pub struct Readers<'a> {
    pub role: Role,
    /// This evaluator's name in leases and claims.
    pub owner: String,
    pub bus: Bus,
    pub held: Held,
    pub sink: EventSink,
    pub readers: crate::store::Readers,
    pub stats: Arc<BusStats>,
    pub shutdown: CancellationToken,
    pub tasks: &'a TaskTracker,
    /// The store's file, and a directory for shard snapshots on their way in and out.
    pub db: std::path::PathBuf,
    pub snapshot_dir: std::path::PathBuf,
    /// The core's dedupe window (a loaded snapshot's recent ids are remembered).
    pub dedupe_window: usize,
}

/// Evaluate: the lease keeper, which starts a reader per shard it takes. Export: one reader of
/// every shard. Other roles read nothing.
pub fn start_readers(parts: Readers<'_>) {
    // Every reader alike but for its shard, its lease and when it stops.
    let template = ShardReader {
        bus: parts.bus.clone(),
        shard: ALL_SHARDS,
        held: None,
        sink: parts.sink.clone(),
        readers: parts.readers.clone(),
        stats: parts.stats.clone(),
        stop: parts.shutdown.clone(),
        snapshot_dir: parts.snapshot_dir.clone(),
        dedupe_window: parts.dedupe_window,
    };
    match parts.role {
        Role::Evaluate => {
            let held = parts.held.clone();
            let start: StartShard = Arc::new(move |shard, _epoch, stop| {
                let reader = ShardReader {
                    shard,
                    held: Some(held.clone()),
                    stop,
                    ..template.clone()
                };
                tokio::spawn(reader.run())
            });
            parts.tasks.spawn(crate::bus::snapshots::keep_snapshots(
                crate::bus::snapshots::Keeper {
                    bus: parts.bus.clone(),
                    held: parts.held.clone(),
                    owner: parts.owner.clone(),
                    db: parts.db.clone(),
                    dir: parts.snapshot_dir.clone(),
                    readers: parts.readers.clone(),
                    stats: parts.stats.clone(),
                    shutdown: parts.shutdown.clone(),
                },
            ));
            // The keeper holds the starter (and with it a sink) until shutdown.
            parts.tasks.spawn(crate::bus::lease::keep_leases(
                parts.bus.clone(),
                parts.owner.clone(),
                parts.held.clone(),
                parts.stats.clone(),
                start,
                parts.shutdown.clone(),
            ));
        }
        Role::Export => {
            parts.stats.hold(ALL_SHARDS, 0);
            parts.tasks.spawn(template.run());
        }
        Role::All | Role::Ingest => {}
    }
}

/// The name an evaluator holds leases and claims under: its process id and a random part (two
/// processes never share one, even across hosts with the same pids).
pub fn owner_id() -> String {
    format!("{}-{:08x}", std::process::id(), fastrand::u32(..))
}

/// The egress gate of this role's notification senders: an evaluator's fence, none otherwise.
pub fn gate(
    role: Role,
    bus: Option<&Bus>,
    held: &Held,
    owner: &str,
) -> Option<Arc<dyn crate::notify::gate::EgressGate>> {
    match (role, bus) {
        (Role::Evaluate, Some(bus)) => Some(Arc::new(crate::bus::gate::BusGate::new(
            bus.clone(),
            held.clone(),
            owner.to_owned(),
        ))),
        _ => None,
    }
}

/// What [`commands`] needs.
pub struct CommandParts<'a> {
    pub role: Role,
    pub bus: Option<&'a Bus>,
    pub config: &'a Config,
    /// The running sources' queues.
    pub sources: CommandQueues,
    pub stats: Arc<CommandStats>,
    pub telemetry: &'a Telemetry,
    pub held: &'a Held,
    pub bus_stats: &'a Arc<BusStats>,
    pub readers: &'a crate::store::Readers,
    pub writer: &'a StoreWriter,
    pub shutdown: &'a CancellationToken,
    pub tasks: &'a TaskTracker,
    /// Woken once ingest records a clip request from an evaluator: the clip worker, the exporter.
    pub clip_wakes: Vec<Arc<tokio::sync::Notify>>,
}

/// Where a role's platform commands and clip requests go.
pub struct Outputs {
    pub commands: CommandQueues,
    /// Clip requests to make elsewhere (an evaluator's go to ingest); `None`: made here.
    pub clip_requests: Option<tokio::sync::mpsc::Sender<crate::store::NewClip>>,
}

/// Where this role's platform commands and clip requests go (see the module doc).
pub fn commands(parts: CommandParts<'_>) -> Outputs {
    let Some(bus) = parts.bus else {
        return Outputs {
            commands: parts.sources,
            clip_requests: None,
        };
    };
    match parts.role {
        Role::Ingest => {
            let carrier = crate::bus::effects::Carrier {
                bus: bus.clone(),
                commands: parts.sources.clone(),
                readers: parts.readers.clone(),
                writer: parts.writer.clone(),
                clip_wakes: parts.clip_wakes,
                stats: parts.bus_stats.clone(),
                shutdown: parts.shutdown.clone(),
            };
            parts.tasks.spawn(async move {
                if let Err(e) = crate::bus::effects::carry_out(carrier).await {
                    tracing::error!(error = %e, "Carrying out the evaluators' effects stopped.");
                }
            });
            parts.tasks.spawn(crate::bus::clips::publish_clip_states(
                bus.clone(),
                parts.readers.clone(),
                parts.writer.clone(),
                parts.bus_stats.clone(),
                parts.shutdown.clone(),
            ));
            Outputs {
                commands: parts.sources,
                clip_requests: None,
            }
        }
        Role::Evaluate => {
            let (routes, rx) = crate::bus::effects::routes(parts.config);
            let (clip_requests, clips_rx) = tokio::sync::mpsc::channel(CLIP_QUEUE);
            parts.tasks.spawn(crate::bus::effects::publish_effects(
                bus.clone(),
                rx,
                clips_rx,
                parts.held.clone(),
                parts.bus_stats.clone(),
                parts.shutdown.clone(),
            ));
            Outputs {
                commands: CommandQueues::new(routes, parts.stats, parts.telemetry.clone()),
                clip_requests: Some(clip_requests),
            }
        }
        Role::Export | Role::All => Outputs {
            commands: CommandQueues::new(
                CommandRoutes::new(),
                parts.stats,
                parts.telemetry.clone(),
            ),
            clip_requests: None,
        },
    }
}
