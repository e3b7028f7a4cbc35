//! The run loop of `ss run`: sources → data lane → dedupe → record → triggers → executor.
//!
//! One task drains the data lane in batches. Each event is counted, deduplicated, evaluated by the
//! trigger engine, recorded in the chat log (the single store writer), and its actions executed.
//! Shutdown is ordered so nothing accepted is lost: the shutdown token stops the sources; the loop keeps
//! draining until the lane closes (every source has dropped its sender); then the store writer commits
//! everything queued and the exporter writes a final snapshot with the final counters.

use super::counters::RunCounters;
use super::dedupe::Dedupe;
use super::exporter::{Exporter, ExporterParts};
use super::lanes::DataLane;
use super::supervisor::{self, Supervisor};
use super::telemetry::Telemetry;
use crate::actions::executor::{Executed, Executor, Validated};
use crate::config::Config;
use crate::config::secrets::Secrets;
use crate::event::ChatEvent;
use crate::export::runtime_view::Counters;
use crate::store::writer::{StoreWriter, WriteOp};
use crate::triggers::{self, Registry, TriggerState};
use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

/// Events taken from the data lane per batch.
const BATCH: usize = 512;
/// Capacity of the store writer's queue. When full, the run loop waits (backpressure), and the data
/// lane in front of it absorbs bursts and then drops, counted.
const WRITER_CAPACITY: usize = 16_384;
/// How long sources get to stop after shutdown before they are aborted.
const SOURCE_GRACE: Duration = Duration::from_secs(3);

/// What `ss run` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stop by itself after this long.
    pub duration: Option<Duration>,
    /// Run only this creator's sources.
    pub creator: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub counters: Counters,
    pub elapsed: Duration,
    /// Sources that had to be aborted at shutdown.
    pub aborted_sources: Vec<String>,
}

/// The per-event work: dedupe, triggers, record, execute.
struct Pipeline {
    dedupe: Dedupe,
    registry: Registry,
    state: TriggerState,
    chat_log: bool,
    writer: StoreWriter,
    executor: Executor,
    counters: Arc<RunCounters>,
}

impl Pipeline {
    async fn process(&mut self, event: ChatEvent) -> anyhow::Result<()> {
        RunCounters::add(&self.counters.events_received, 1);
        if !self.dedupe.first_seen(event.platform, &event.message_id) {
            RunCounters::add(&self.counters.duplicates_skipped, 1);
            return Ok(());
        }
        let actions = triggers::evaluate(&event, &self.registry, &mut self.state);
        if self.chat_log {
            self.writer
                .send(WriteOp::ChatEvent(Box::new(event)))
                .await?;
        }
        RunCounters::add(&self.counters.triggers_matched, actions.len() as u64);
        for action in actions {
            self.counters.count_action(action.kind.type_name());
            if self.executor.execute(action).await? == Executed::ReplyDropped {
                RunCounters::add(&self.counters.replies_dropped, 1);
            }
        }
        Ok(())
    }

    /// Applies a reloaded config: new triggers (cooldowns start fresh) and chat log setting.
    fn reload(&mut self, config: &Config, telemetry: &Telemetry) {
        match Registry::compile(&config.triggers) {
            Ok(registry) => {
                self.state = TriggerState::new(&registry);
                self.registry = registry;
                self.chat_log = config.system.chat_log.enabled;
            }
            Err(e) => telemetry.error("config_rejected", "triggers", e.to_string()),
        }
    }
}

/// Runs until `shutdown` is cancelled (or `options.duration` passes).
pub async fn run(
    root: &Path,
    config: Config,
    secrets: Secrets,
    options: RunOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    if let Some(id) = &options.creator
        && config.creators.get(id).is_none()
    {
        let known: Vec<&str> = config
            .creators
            .creators
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        anyhow::bail!(
            "unknown creator {id:?}; creators.json defines: {}",
            known.join(", ")
        );
    }
    let telemetry = Telemetry::default();
    telemetry.event("runtime_started", "runtime", "runtime started");
    // Before the store and the sources start, so a bad watch directory stops the run early.
    let mut reloads = if config.system.hot_reload.enabled {
        let dir = root.join(&config.system.hot_reload.watch_dir);
        Some(super::reload::spawn(
            root,
            dir,
            telemetry.clone(),
            shutdown.clone(),
        )?)
    } else {
        None
    };
    let db = crate::store::db_path(root);
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let writer = StoreWriter::spawn(&db, WRITER_CAPACITY)
        .with_context(|| format!("opening the store {}", db.display()))?;
    let registry = Registry::compile(&config.triggers)?;

    let counters = Arc::new(RunCounters::default());
    let validated = Validated::default();
    let export_now = Arc::new(Notify::new());

    let limits = &config.system.limits;
    let lane = DataLane::new(
        limits.data_lane_capacity,
        Duration::from_millis(limits.data_lane_block_ms),
    );
    let probe = lane.probe();
    let DataLane {
        sink, mut receiver, ..
    } = lane;
    let plans = supervisor::plan(&config, options.creator.as_deref());
    let supervisor = Supervisor::start(&config, &plans, &secrets, &sink, &shutdown, &telemetry);
    // The sources hold the only senders now, so the lane closes when the last source stops.
    drop(sink);

    let exporter = Exporter::start(ExporterParts {
        root: root.to_path_buf(),
        config: config.clone(),
        db: db.clone(),
        sources: supervisor.status_handles(),
        counters: counters.clone(),
        writer_stats: writer.stats(),
        lane: probe,
        telemetry: telemetry.clone(),
        validated: validated.clone(),
        export_now: export_now.clone(),
        started_at: chrono::Utc::now(),
    })?;

    let mut pipeline = Pipeline {
        dedupe: Dedupe::new(limits.dedupe_window),
        state: TriggerState::new(&registry),
        registry,
        chat_log: config.system.chat_log.enabled,
        writer: writer.clone(),
        executor: Executor::new(writer.clone(), supervisor.outbound(), validated, export_now),
        counters: counters.clone(),
    };

    if let Some(duration) = options.duration {
        let token = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = token.cancelled() => {}
                () = tokio::time::sleep(duration) => {
                    tracing::info!(seconds = duration.as_secs_f64(), "Run duration reached; stopping.");
                    token.cancel();
                }
            }
        });
    }
    let stopper = {
        let token = shutdown.clone();
        tokio::spawn(async move {
            token.cancelled().await;
            tracing::info!("Stopping sources.");
            supervisor.join(SOURCE_GRACE).await
        })
    };

    tracing::info!(
        sources = plans.iter().filter(|p| p.skipped.is_none()).count(),
        exports = %root.join("runtime/exports").display(),
        cadence_s = config.system.exports.cadence_s,
        "Runtime started; press Ctrl-C to stop."
    );
    drain(
        &mut receiver,
        &mut pipeline,
        reloads.as_mut(),
        &config,
        &telemetry,
    )
    .await?;

    let aborted_sources = stopper.await.unwrap_or_default();
    drop(pipeline);
    let final_stats = tokio::task::spawn_blocking(move || writer.close())
        .await
        .context("joining the store writer")?
        .context("committing the store")?;
    telemetry.event("runtime_stopped", "runtime", "runtime stopped");
    let counters = exporter.finish(final_stats.events_recorded).await?;
    Ok(RunSummary {
        counters,
        elapsed: started.elapsed(),
        aborted_sources,
    })
}

/// Drains the data lane until it closes, applying config reloads between batches.
async fn drain(
    receiver: &mut mpsc::Receiver<ChatEvent>,
    pipeline: &mut Pipeline,
    mut reloads: Option<&mut watch::Receiver<Arc<Config>>>,
    config: &Config,
    telemetry: &Telemetry,
) -> anyhow::Result<()> {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        if let Some(rx) = reloads.as_deref_mut()
            && rx.has_changed().unwrap_or(false)
        {
            let next = rx.borrow_and_update().clone();
            if next.creators != config.creators || next.platforms != config.platforms {
                tracing::warn!(
                    "creators.json or platforms.json changed: restart `ss run` to apply source changes."
                );
            }
            pipeline.reload(&next, telemetry);
        }
        if receiver.recv_many(&mut batch, BATCH).await == 0 {
            return Ok(());
        }
        for event in batch.drain(..) {
            pipeline.process(event).await?;
        }
    }
}
