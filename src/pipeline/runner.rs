//! The run of `ss run`: the wiring of its parts, started in order and stopped in order.
//!
//! Sources → data lane → the run loop ([`super::process`]: each item through the [`Core`],
//! recorded, its actions routed to their sinks) → the store writer; beside them the exporter,
//! notifications, clips, the standings worker and the creators' clocks. Each part has its own
//! module: the HTTP server ([`super::http_server`]), the store and the core
//! ([`super::startup`]), the sources ([`super::supervisor`]), the per-item work
//! ([`super::process`]), the summary ([`super::summary`]). This function only connects them.
//!
//! Lifecycle: every task the run starts is tracked and waited for. Shutdown (signal, `--duration`,
//! or an error in the loop) is ordered so nothing accepted is lost: the sources stop; the loop drains
//! the lane until it closes; the clip jobs and the senders stop; the store writer commits everything
//! queued; the exporter writes a final snapshot. An error in the loop goes through the same order and
//! is then returned in the summary (exit 2).

use super::counters::RunCounters;
use super::exporter::{Exporter, ExporterParts};
use super::http_server::start_http;
use super::process::{Pipeline, Trends, drain};
use super::receipts::record_receipts;
use super::startup::{OpenStore, open_store};
use super::summary::Ended;
pub use super::summary::RunSummary;
use super::supervisor::{self, Supervisor};
use crate::command::receipts::Receipts;
use crate::config::Config;
use crate::config::secrets::Secrets;
use crate::effects::router::Router;
use crate::effects::sinks::{
    ClipSink, CommandSink, CommunitySink, ExtensionSink, ModerationSink, ObsSink, OutboxSink,
    StandingsSink, Validated, ValidationSink,
};
use crate::lanes::DataLane;
use crate::routing::Routing;
use crate::sources::registry::{RunParts, RunServices, ServiceStart};
use crate::store::StoreWriter;
use crate::telemetry::Telemetry;
use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use super::startup::WRITER_CAPACITY;
pub use super::summary::NotWritten;

/// How long sources get to stop after shutdown before they are aborted.
const SOURCE_GRACE: Duration = Duration::from_secs(3);
/// How long the Discord bot gets to finish its answers after shutdown.
const BOT_GRACE: Duration = Duration::from_secs(5);
/// How long the remaining tasks (exporter, reload watcher, timers) get to end after the final export.
const TASK_GRACE: Duration = Duration::from_secs(2);

/// What `ss run` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stop by itself after this long.
    pub duration: Option<Duration>,
    /// Run only this creator's sources.
    pub creator: Option<String>,
    /// Which part of the work this process does (`all` without a bus).
    pub role: crate::bus::Role,
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
    if let Some(id) = &options.creator {
        config.creators.require(id)?;
    }
    let role = options.role;
    // A role other than `all` runs on the bus: reached and verified before anything starts.
    let bus = super::roles::connect(role, &config, &secrets).await?;
    let bus_stats = Arc::new(crate::bus::stats::BusStats::default());
    let tasks = TaskTracker::new();
    let telemetry = Telemetry::default();
    telemetry.event("runtime_started", "runtime", "runtime started");
    let config = Arc::new(config);
    let (config_tx, mut config_rx) = watch::channel(config.clone());
    // The control API changes the running config as a hot reload does.
    let control_configs = config_tx.clone();
    // Before the store and the sources start, so a bad watch directory stops the run early.
    if config.system.hot_reload.enabled {
        let dir = root.join(&config.system.hot_reload.watch_dir);
        super::reload::spawn(
            root,
            dir,
            config_tx,
            telemetry.clone(),
            shutdown.clone(),
            &tasks,
        )?;
    }
    // What platforms run beside their sources (webhook receivers, quota books, go-live pollers),
    // before the HTTP server that serves their routes.
    // Only a role that runs sources runs them (and their services and hooks).
    let services = if role.runs_sources() {
        RunServices::start(&ServiceStart {
            config: &config,
            root,
            secrets: &secrets,
        })
        .map_err(anyhow::Error::msg)?
    } else {
        RunServices::none()
    };
    // The declared incoming webhooks (system.json `hooks`): a secret not set stops the run here.
    let hooks = Arc::new(if role.runs_sources() {
        crate::hooks::Hooks::from_config(&config, &secrets)?
    } else {
        crate::hooks::Hooks::none()
    });
    // Also before anything starts: a refused listen address stops the run with the reason.
    let http = start_http(root, &config, &secrets, &services, &hooks).await?;
    let feed = http.as_ref().map(super::http_server::BoundHttp::feed);

    let OpenStore {
        db,
        writer,
        readers,
        mut core,
    } = open_store(root, &config).await?;
    // The linked accounts: creators.json's declared into the store, then all of them loaded.
    core.set_links(
        super::people::sync_and_load(&config, &writer, &readers)
            .await
            .with_context(|| format!("loading linked accounts from {}", db.display()))?,
    );

    let counters = Arc::new(RunCounters::default());
    let validated = Validated::default();
    let export_now = Arc::new(Notify::new());
    let clip_worker = Arc::new(Notify::new());
    let limits = &config.system.limits;
    // Ingest holds its sources while the bus is away instead of dropping: the stream keeps
    // nothing that did not reach it, so a full lane is backpressure, not loss.
    let block = if role == crate::bus::Role::Ingest {
        super::roles::INGEST_BLOCK
    } else {
        Duration::from_millis(limits.data_lane_block_ms)
    };
    let lane = DataLane::bounded(
        crate::lanes::Bounds {
            events: limits.data_lane_capacity,
            bytes: limits.data_lane_bytes,
        },
        block,
    );
    let probe = lane.probe();
    let lane_probe = probe.clone();
    let DataLane {
        sink, mut receiver, ..
    } = lane;
    let plans = if role.runs_sources() {
        supervisor::plan(&config, options.creator.as_deref())
    } else {
        Vec::new()
    };
    // Each configured OBS: its connection and its request worker.
    let obs = crate::obs::Obs::start(&crate::obs::ObsParts {
        config: &config.obs,
        creator: options.creator.as_deref(),
        secrets: &secrets,
        telemetry: &telemetry,
        shutdown: &shutdown,
        tasks: &tasks,
    });
    // Each enabled extension: its child and supervisor (stopped at shutdown, calls cancelled).
    let (extensions, extension_tasks) =
        crate::extensions::Extensions::start(root, &config.extensions, &shutdown);
    let stored = Arc::new(supervisor::Stored::read(&readers).await);
    // How moderation commands were settled, into the audit; ends when the last source stops.
    let (receipts, receipts_rx) = Receipts::channel();
    let audit = tokio::spawn(record_receipts(receipts_rx, writer.clone()));
    let run_parts = RunParts {
        sink: sink.clone(),
        guards: counters.guards.clone(),
        wire: config.system.limits.wire(),
        ledger: Arc::new(supervisor::WriterLedger {
            writer: writer.clone(),
            stored: stored.clone(),
        }),
        deliveries: Arc::new(supervisor::StoreDeliveries {
            writer: writer.clone(),
            readers: readers.clone(),
        }),
        shutdown: shutdown.clone(),
    };
    services.open(&run_parts);
    hooks.open(&run_parts);
    drop(run_parts);
    // At shutdown the services and the hooks let go of the lane's sink (webhooks), so the lane can
    // close.
    {
        let services = services.clone();
        let hooks = hooks.clone();
        let token = shutdown.clone();
        tasks.spawn(async move {
            token.cancelled().await;
            services.close();
            hooks.close();
        });
    }
    let supervisor = Supervisor::start(
        &config,
        &plans,
        &supervisor::RunShared {
            secrets: &secrets,
            sink: &sink,
            shutdown: &shutdown,
            telemetry: &telemetry,
            guards: &counters.guards,
            command_stats: &counters.commands,
            receipts: &receipts,
            db: &db,
            stored: &stored,
            services: &services,
        },
    );
    let ticks = sink.ticks();
    // Evaluate and export: the shards' readers feed the lane (and hold it open until shutdown).
    let held = crate::bus::lease::Held::default();
    let owner = super::roles::owner_id();
    if let Some(bus) = &bus {
        super::roles::start_readers(super::roles::Readers {
            role,
            owner: owner.clone(),
            bus: bus.clone(),
            held: held.clone(),
            sink: sink.clone(),
            readers: readers.clone(),
            stats: bus_stats.clone(),
            shutdown: shutdown.clone(),
            tasks: &tasks,
            db: db.clone(),
            snapshot_dir: db.with_file_name("snapshots"),
            dedupe_window: config.system.limits.dedupe_window,
        });
    }
    // The sources (and platforms' services, until they close) hold the only senders now, so the
    // lane closes when the last source stops; the same for the receipts.
    drop(sink);
    drop(receipts);
    // Statuses the services report into for creators without a running source (go-live polls).
    let mut statuses = supervisor.status_handles();
    statuses.extend(services.sources_started(&statuses, &secrets, &shutdown, &tasks));
    // Each running creator's clock, live as their statuses say: ticks never hold the lane open.
    super::clock::spawn(
        super::clock::ticking(super::clock::creators(&plans), &statuses),
        ticks,
        shutdown.clone(),
        &tasks,
    );
    let trends = crate::trends::SharedTrends::default();

    let notifications = if !role.sends() {
        crate::notify::Notifications::idle()
    } else {
        crate::notify::start(crate::notify::NotifyParts {
            readers: readers.clone(),
            config: config_rx.clone(),
            secrets: secrets.clone(),
            writer: writer.clone(),
            writer_stats: writer.stats(),
            telemetry: telemetry.clone(),
            sources: statuses,
            shutdown: shutdown.clone(),
            gate: super::roles::gate(role, bus.as_ref(), &held, &owner),
        })
    };
    let clips = if !role.captures() {
        crate::clips::Clips::idle()
    } else {
        crate::clips::Clips::start(crate::clips::ClipsParts {
            root,
            config: config.clone(),
            secrets: secrets.clone(),
            readers: readers.clone(),
            routing: Routing::new(config_rx.clone()),
            writer: writer.clone(),
            export_now: export_now.clone(),
            wake: clip_worker.clone(),
            telemetry: telemetry.clone(),
            creator: options.creator.as_deref(),
            obs: obs.clone(),
        })?
    };
    let exporter = Exporter::start(
        ExporterParts {
            root: root.to_path_buf(),
            config: config_rx.clone(),
            readers: readers.clone(),
            sources: supervisor.status_handles(),
            counters: counters.clone(),
            writer_stats: writer.stats(),
            lane: probe,
            telemetry: telemetry.clone(),
            validated: validated.clone(),
            export_now: export_now.clone(),
            started_at: chrono::Utc::now(),
            services: services.clone(),
            notify: notifications.stats.clone(),
            hooks: hooks.stats.clone(),
            captures: clips.views(),
            obs: obs.statuses(),
            trends: trends.clone(),
            extensions: extensions.clone(),
            bus: bus.as_ref().map(|bus| crate::bus::stats::BusProbe {
                role,
                bus: bus.clone(),
                stats: bus_stats.clone(),
            }),
        },
        &tasks,
    );

    // Ends when the pipeline (holding the router, holding its sender) is dropped at shutdown.
    let super::roles::Outputs {
        commands,
        clip_requests,
    } = super::roles::commands(super::roles::CommandParts {
        role,
        bus: bus.as_ref(),
        config: &config,
        sources: supervisor.commands(counters.commands.clone(), telemetry.clone()),
        stats: counters.commands.clone(),
        telemetry: &telemetry,
        held: &held,
        bus_stats: &bus_stats,
        readers: &readers,
        writer: &writer,
        shutdown: &shutdown,
        tasks: &tasks,
        clip_wakes: vec![clip_worker.clone(), export_now.clone()],
    });
    let standings =
        super::standings::spawn(readers.clone(), commands.clone(), config_rx.clone(), &tasks);
    // Extension calls go to their worker, and their answers come back to the run loop.
    let (extension_calls, extension_calls_rx) =
        tokio::sync::mpsc::channel(crate::effects::sinks::extension::EXTENSION_QUEUE);
    let (answers, mut answers_rx) = tokio::sync::mpsc::channel(super::extensions::ANSWERS_QUEUE);
    super::extensions::spawn(
        extensions,
        extension_calls_rx,
        answers,
        shutdown.clone(),
        &tasks,
    );
    let (operator, mut operator_rx) = tokio::sync::mpsc::channel(crate::control::OPERATOR_QUEUE);
    // The operations the control API and the Discord bot act through: one set of roles, limits
    // and audit rows for both.
    let control = crate::control::Control::new(crate::control::ControlParts {
        tokens: http.as_ref().map_or_else(Default::default, |h| h.tokens()),
        commands: commands.clone(),
        obs: obs.clone(),
        writer: writer.clone(),
        readers,
        configs: control_configs,
        root: root.to_path_buf(),
        clip_worker: clip_worker.clone(),
        export_now: export_now.clone(),
        operator,
    });
    if let Some(http) = http {
        http.serve(Some(control.clone()), &shutdown, &tasks);
    }
    // The Discord bot, when enabled: a task of its own that the run never waits on to go on, and
    // that never stops the run when it fails.
    let bot = config
        .discord
        .discord
        .bot
        .enabled
        .then(|| start_bot(root, control, &config_rx, &secrets, &telemetry, &shutdown));
    let mut pipeline = Pipeline {
        core,
        chat_log: config.system.chat_log.enabled,
        writer: writer.clone(),
        router: Router {
            commands: CommandSink::new(commands.clone()),
            moderation: ModerationSink::new(commands.clone()),
            clips: ClipSink::new(clip_worker, export_now).sending_to(clip_requests),
            community: CommunitySink::new(Routing::new(config_rx.clone())),
            outbox: OutboxSink,
            validation: ValidationSink::new(validated),
            standings: StandingsSink::new(Some(standings), commands),
            obs: ObsSink::new(obs.clone(), telemetry.clone()),
            extensions: ExtensionSink::new(Some(extension_calls)),
        },
        counters: counters.clone(),
        ops: Vec::new(),
        pending: Vec::new(),
        trends: config
            .system
            .trends
            .enabled
            .then(|| Trends::new(&config, trends)),
        feed,
        unsent_events: 0,
        turns: crate::systemd::LoopTurns::default(),
    };
    if let Some(duration) = options.duration {
        stop_after(duration, &shutdown, &tasks);
    }
    let stopper = stop_sources_on_shutdown(supervisor, &writer, &shutdown, &tasks);

    tracing::info!(
        sources = plans.iter().filter(|p| p.skipped.is_none()).count(),
        exports = %root.join("runtime/exports").display(),
        cadence_s = config.system.exports.cadence_s,
        "Runtime started; press Ctrl-C to stop."
    );
    // Under a `Type=notify` unit: ready now that the sources started; the watchdog while the run
    // loop is alive; stopping once shutdown begins.
    if let Some(notifier) = crate::systemd::ServiceNotifier::from_env() {
        notifier.tell("READY=1\nSTATUS=Running: sources started");
        crate::systemd::spawn_watchdog(
            notifier.clone(),
            pipeline.turns.clone(),
            lane_probe.clone(),
            shutdown.clone(),
            &tasks,
        );
        let token = shutdown.clone();
        tasks.spawn(async move {
            token.cancelled().await;
            notifier.tell("STOPPING=1\nSTATUS=Stopping: finishing and writing the final exports");
        });
    }
    let mut unsent_events = 0;
    let run_loop = match (&bus, role) {
        // Ingest: the lane goes to the events stream, not through the Core.
        (Some(bus), crate::bus::Role::Ingest) => {
            crate::bus::ingest::publish_lane(&mut receiver, bus, &writer, &bus_stats, &shutdown)
                .await
                .map(|published| unsent_events += published.unsent)
        }
        _ => {
            drain(
                &mut receiver,
                &mut pipeline,
                &mut config_rx,
                &mut operator_rx,
                &mut answers_rx,
                &telemetry,
            )
            .await
        }
    };
    unsent_events += pipeline.unsent_events;
    if let Err(e) = &run_loop {
        tracing::error!(error = %e, "The run loop failed; stopping everything.");
        telemetry.error("run_loop_failed", "runtime", e.to_string());
        // What the sources handed over and the loop never took is not lost silently: counted here.
        receiver.close();
        while let Ok(item) = receiver.try_recv() {
            unsent_events += item.events();
        }
    }

    // The same ordered stop after a clean end or an error: sources, lane, clips and senders,
    // store, exports, the remaining tasks.
    shutdown.cancel();
    drop(receiver);
    let aborted_sources = stopper.await.unwrap_or_default();
    // The serving loops have settled (or abandoned) their commands: their receipts reach the
    // store before it closes.
    if tokio::time::timeout(SOURCE_GRACE, audit).await.is_err() {
        tracing::warn!(
            "Receipts of moderation commands still arriving at shutdown were not recorded."
        );
    }
    // FFmpeg children are killed and reaped here; unfinished clip jobs stay resumable.
    clips.stop().await;
    // The senders record their last results (and the watcher its stop event) before the store closes.
    notifications.join(SOURCE_GRACE).await;
    // The bot's last answers write their audit rows before the store closes.
    if let Some(bot) = bot
        && tokio::time::timeout(BOT_GRACE, bot).await.is_err()
    {
        tracing::warn!("The Discord bot did not stop in time; its last answers may be lost.");
    }
    drop(pipeline);
    // The extensions' children are killed by now (shutdown): their supervisors end.
    for task in extension_tasks {
        let _ = tokio::time::timeout(TASK_GRACE, task).await;
    }
    let closed = tokio::task::spawn_blocking(move || writer.close())
        .await
        .context("joining the store writer")?;
    telemetry.event("runtime_stopped", "runtime", "runtime stopped");
    let events_recorded = match &closed {
        Ok(stats) => stats.events_recorded,
        Err(_) => exporter.recorded_so_far(),
    };
    let (counters, exported) = exporter.finish(events_recorded).await;
    wait_for_tasks(tasks).await;
    let bus = bus.map(|bus| {
        crate::bus::stats::BusProbe {
            role,
            bus,
            stats: bus_stats,
        }
        .snapshot()
    });
    let mut summary = Ended {
        counters,
        elapsed: started.elapsed(),
        aborted_sources,
        run_loop,
        unsent_events,
        closed,
        exported,
    }
    .summary();
    summary.bus = bus;
    Ok(summary)
}

/// Cancels `shutdown` once `duration` has passed (`ss run --duration`).
fn stop_after(duration: Duration, shutdown: &CancellationToken, tasks: &TaskTracker) {
    let token = shutdown.clone();
    tasks.spawn(async move {
        tokio::select! {
            () = token.cancelled() => {}
            () = tokio::time::sleep(duration) => {
                tracing::info!(seconds = duration.as_secs_f64(), "Run duration reached; stopping.");
                token.cancel();
            }
        }
    });
}

/// At shutdown: the store writer gets a bounded time to recover from here on (not forever), and the
/// sources stop (those that do not within [`SOURCE_GRACE`] are aborted and named).
fn stop_sources_on_shutdown(
    supervisor: Supervisor,
    writer: &StoreWriter,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
) -> JoinHandle<Vec<String>> {
    let token = shutdown.clone();
    let writer = writer.clone();
    tasks.spawn(async move {
        token.cancelled().await;
        tracing::info!("Stopping sources.");
        writer.begin_shutdown();
        supervisor.join(SOURCE_GRACE).await
    })
}

/// Waits for the run's remaining tasks (exporter, reload watcher, clocks) at most [`TASK_GRACE`].
async fn wait_for_tasks(tasks: TaskTracker) {
    tasks.close();
    if tokio::time::timeout(TASK_GRACE, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            tasks = tasks.len(),
            "Some runtime tasks did not end in time; they are dropped with the runtime."
        );
    }
}

/// Starts the Discord bot beside the run. Its end is logged and reported in telemetry; it never
/// ends the run.
fn start_bot(
    root: &Path,
    control: crate::control::Control,
    config: &watch::Receiver<Arc<Config>>,
    secrets: &Secrets,
    telemetry: &Telemetry,
    shutdown: &CancellationToken,
) -> JoinHandle<()> {
    let bot = crate::discord::BotParts {
        root: root.to_path_buf(),
        config: config.clone(),
        secrets: secrets.clone(),
        acts: crate::discord::acts::Acts::InRun(control),
        shutdown: shutdown.clone(),
    };
    let telemetry = telemetry.clone();
    let secrets = secrets.clone();
    tokio::spawn(async move {
        if let Err(e) = crate::discord::run(bot).await {
            let message = secrets.scrub(&e.to_string());
            tracing::error!(
                "The Discord bot stopped: {message}\n  The sources keep running; fix it and restart `ss run` (or run `ss discord` beside it)."
            );
            telemetry.error("discord_bot_stopped", "discord", message);
        }
    })
}
