//! The run loop of `ss run`: sources → data lane → dedupe → triggers → record → routed actions.
//!
//! One task drains the data lane in batches. Each event goes through the evaluation [`Core`]
//! (dedupe, triggers); it is recorded in the chat log and its actions are routed to their sinks
//! ([`Router`]), whose store writes go to the single writer. A polled page's writes, with its
//! checkpoint, go as one atomic group. Each creator's clock ([`super::clock`]) ticks through the
//! same lane; a tick that fires actions is recorded with them as one atomic group.
//!
//! Lifecycle: every task the run starts is tracked and waited for. Shutdown (signal, `--duration`,
//! or an error in the loop) is ordered so nothing accepted is lost: the sources stop; the loop drains
//! the lane until it closes; the store writer commits everything queued; the exporter writes a final
//! snapshot. An error in the loop goes through the same order and is then returned (exit 2).

use super::counters::RunCounters;
use super::exporter::{Exporter, ExporterParts};
use super::supervisor::{self, Supervisor};
use crate::actions::Action;
use crate::config::Config;
use crate::config::secrets::Secrets;
use crate::effects::router::Router;
use crate::effects::sinks::{
    ClipSink, CommandSink, CommunitySink, OutboxSink, StandingsSink, Validated, ValidationSink,
};
use crate::engine::Core;
use crate::event::ChatEvent;
use crate::export::runtime_view::Counters;
use crate::lanes::{DataLane, Inbound};
use crate::routing::Routing;
use crate::sources::registry::{RunParts, RunServices, ServiceStart};
use crate::store::{Checkpoint, Readers, RunMark, RunMarkKind, StoreError, StoreWriter, WriteOp};
use crate::telemetry::Telemetry;
use crate::triggers::Registry;
use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Items taken from the data lane per batch.
const BATCH: usize = 512;
/// Capacity of the store writer's queue, in ops. Policy when full: block. The run loop waits
/// (backpressure), and the data lane in front of it absorbs bursts and then drops, counted.
pub const WRITER_CAPACITY: usize = 16_384;
/// How long sources get to stop after shutdown before they are aborted.
const SOURCE_GRACE: Duration = Duration::from_secs(3);
/// How long the remaining tasks (exporter, reload watcher, timers) get to end after the final export.
const TASK_GRACE: Duration = Duration::from_secs(2);

/// What `ss run` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stop by itself after this long.
    pub duration: Option<Duration>,
    /// Run only this creator's sources.
    pub creator: Option<String>,
}

/// How a run ended. A run that stopped in order always has one, even when something failed; `ss run`
/// prints its summary line and then exits with [`RunSummary::into_result`].
#[derive(Debug)]
pub struct RunSummary {
    pub counters: Counters,
    pub elapsed: Duration,
    /// Sources that had to be aborted at shutdown.
    pub aborted_sources: Vec<String>,
    /// What the run accepted but could not write durably; empty after a clean run.
    pub not_written: Vec<NotWritten>,
    /// An error that ended the run loop early (the run still stopped in order).
    pub failed: Option<anyhow::Error>,
}

/// Something accepted that did not reach the disk by the time the run stopped.
#[derive(Debug)]
pub enum NotWritten {
    /// Store writes given up at shutdown: the store stayed unwritable for the writer's close grace
    /// (`StoreError::Abandoned`, which names the reason and the fix).
    Store {
        ops: u64,
        events: u64,
        error: StoreError,
    },
    /// Chat events never handed to the store because its writer had given up: the ones being sent
    /// then, and the ones still in the data lane (which were not run through triggers either).
    Unsent { events: u64 },
    /// The final exports, or some of their files (`files`, when the writer could name them).
    Exports {
        files: Option<usize>,
        error: anyhow::Error,
    },
}

impl NotWritten {
    /// A short phrase for the summary line: what, not why (stderr has the why and the fix).
    pub fn describe(&self) -> String {
        match self {
            NotWritten::Store { ops, events, .. } => {
                format!("{events} chat events in {ops} store writes")
            }
            NotWritten::Unsent { events } => {
                format!("{events} chat events never sent to the store")
            }
            NotWritten::Exports { files: Some(n), .. } => {
                format!("{n} final export file{}", if *n == 1 { "" } else { "s" })
            }
            NotWritten::Exports { files: None, .. } => "the final exports".to_string(),
        }
    }
}

impl RunSummary {
    /// Ok after a clean run; otherwise the error `ss run` exits 2 with: every part, each naming its
    /// cause and fix, the run loop's error first.
    pub fn into_result(self) -> anyhow::Result<()> {
        let mut errors: Vec<anyhow::Error> = self.failed.into_iter().collect();
        for part in self.not_written {
            errors.push(match part {
                NotWritten::Store { error, .. } => {
                    anyhow::Error::new(error).context("committing the store")
                }
                NotWritten::Unsent { events } => anyhow::anyhow!(
                    "{events} chat events were never sent to the store because its writer had given up (the ones still in the data lane were not run through triggers either); they were not recorded"
                ),
                NotWritten::Exports { error, .. } => error,
            });
        }
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(anyhow::anyhow!(
                "{}",
                errors
                    .iter()
                    .map(|e| format!("{e:#}"))
                    .collect::<Vec<_>>()
                    .join("\nerror: ")
            )),
        }
    }
}

/// The per-event work: the core, the chat log, the router.
struct Pipeline {
    core: Core,
    chat_log: bool,
    writer: StoreWriter,
    router: Router,
    counters: Arc<RunCounters>,
    /// Reused between events so the hot path does not allocate a vector per event.
    ops: Vec<WriteOp>,
    /// Chat events whose writes the writer refused because it had stopped (counted, not lost
    /// silently).
    unsent_events: u64,
    /// The live feed of the HTTP server's `/events`, when it runs.
    feed: Option<crate::http::Feed>,
    /// Chat trends, when on (system.json `trends`).
    trends: Option<Trends>,
}

/// The run's chat trends: counted per accepted message, published (to `/events` and the exporter)
/// at most every [`crate::trends::PUBLISH_EVERY`], checked at each tick.
struct Trends {
    counts: crate::trends::ChatTrends,
    shared: crate::trends::SharedTrends,
    published: Option<Instant>,
}

impl Trends {
    fn new(config: &Config, shared: crate::trends::SharedTrends) -> Trends {
        Trends {
            counts: crate::trends::ChatTrends::new(mention_names(config)),
            shared,
            published: None,
        }
    }

    fn publish_if_due(&mut self, feed: Option<&crate::http::Feed>) {
        if self
            .published
            .is_some_and(|at| at.elapsed() < crate::trends::PUBLISH_EVERY)
        {
            return;
        }
        self.published = Some(Instant::now());
        let snapshot = self.counts.snapshot(chrono::Utc::now());
        if let Some(feed) = feed {
            feed.publish("trends", &snapshot);
        }
        *self
            .shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(snapshot);
    }
}

/// The names that mention each creator in chat: their id, display name (spaces dropped) and the
/// channels their platform blocks name.
fn mention_names(config: &Config) -> std::collections::HashMap<String, Vec<String>> {
    config
        .creators
        .creators
        .iter()
        .map(|c| {
            let mut names = vec![c.id.clone(), c.display_name.replace(' ', "")];
            for (platform, block) in c.platforms.iter() {
                if let Some(channel) =
                    crate::config::platform::config_of(platform).and_then(|p| p.channel(block))
                {
                    names.push(channel);
                }
            }
            (c.id.clone(), names)
        })
        .collect()
}

impl Pipeline {
    async fn process(&mut self, item: Inbound) -> Result<(), StoreError> {
        match item {
            Inbound::Event(event) => {
                self.evaluate(event);
                let mut ops = self.ops.drain(..);
                while let Some(op) = ops.next() {
                    let events = op.events();
                    if let Err(e) = self.writer.send(op).await {
                        self.unsent_events += events + ops.map(|op| op.events()).sum::<u64>();
                        return Err(e);
                    }
                }
            }
            Inbound::Page(page) => {
                for event in page.events {
                    self.evaluate(event);
                }
                self.ops.push(WriteOp::Checkpoint(Box::new(Checkpoint {
                    creator: page.creator,
                    platform: page.platform,
                    cursor: page.cursor,
                    at: chrono::Utc::now(),
                })));
                let group = WriteOp::Atomic(std::mem::take(&mut self.ops));
                let events = group.events();
                if let Err(e) = self.writer.send(group).await {
                    self.unsent_events += events;
                    return Err(e);
                }
            }
            Inbound::Tick(tick) => {
                if let Some(trends) = &mut self.trends {
                    trends.publish_if_due(self.feed.as_ref());
                }
                let actions = self.core.tick(&tick);
                // The tick rule: a tick that fired nothing changed nothing, so it is not recorded.
                if actions.is_empty() {
                    return Ok(());
                }
                tracing::debug!(
                    cause = %tick.id(),
                    actions = actions.len(),
                    "A tick fired actions; recording it with them."
                );
                self.ops.push(WriteOp::Tick(tick));
                self.route(actions);
                // The tick and its actions commit together: a replay never sees one without the other.
                self.writer
                    .send(WriteOp::Atomic(std::mem::take(&mut self.ops)))
                    .await?;
            }
        }
        Ok(())
    }

    /// Dedupe and triggers for one event; its writes are appended to `self.ops`.
    fn evaluate(&mut self, event: ChatEvent) {
        RunCounters::add(&self.counters.events_received, 1);
        let Some(actions) = self.core.evaluate(&event) else {
            RunCounters::add(&self.counters.duplicates_skipped, 1);
            return;
        };
        if let Some(feed) = &self.feed {
            feed.publish("chat", &event);
        }
        if let Some(trends) = &mut self.trends {
            trends.counts.observe(&event);
        }
        if self.chat_log {
            self.ops.push(WriteOp::ChatEvent(Box::new(event)));
        }
        self.route(actions);
    }

    /// Publishes, counts and routes the actions of one event or tick; their writes are appended to
    /// `self.ops`.
    fn route(&mut self, actions: Vec<Action>) {
        if let Some(feed) = &self.feed {
            for action in &actions {
                feed.publish("action", action);
            }
        }
        RunCounters::add(&self.counters.triggers_matched, actions.len() as u64);
        for action in actions {
            self.counters.count_action(action.kind.type_name());
            // What became of a command is counted by the command sink (`commands`).
            self.router.route(action, &mut self.ops);
        }
    }

    /// Applies a reloaded config: new triggers (cooldowns start fresh) and the chat log setting.
    /// The fresh start is marked in the store, after every event before it, for `ss replay`.
    async fn reload(&mut self, config: &Config, telemetry: &Telemetry) -> Result<(), StoreError> {
        match Registry::compile(&config.triggers) {
            Ok(registry) => {
                self.core.replace_triggers(registry);
                self.chat_log = config.system.chat_log.enabled;
                self.writer.send(run_mark(RunMarkKind::Reload)).await?;
            }
            Err(e) => telemetry.error("config_rejected", "triggers", e.to_string()),
        }
        Ok(())
    }
}

/// A mark that trigger state starts afresh after the events recorded so far.
fn run_mark(kind: RunMarkKind) -> WriteOp {
    WriteOp::RunMark(RunMark {
        kind,
        at: chrono::Utc::now(),
    })
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
        config.creators.require(id).map_err(anyhow::Error::msg)?;
    }
    let tasks = TaskTracker::new();
    let telemetry = Telemetry::default();
    telemetry.event("runtime_started", "runtime", "runtime started");
    let config = Arc::new(config);
    let (config_tx, mut config_rx) = watch::channel(config.clone());
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
    let services = RunServices::start(&ServiceStart {
        config: &config,
        root,
        secrets: &secrets,
    })
    .map_err(anyhow::Error::msg)?;
    // Also before anything starts: a refused listen address stops the run with the reason.
    let feed = start_http(root, &config, &secrets, &services, &shutdown, &tasks).await?;
    let db = crate::store::db_path(root);
    let writer = StoreWriter::start(&db, WRITER_CAPACITY)
        .await
        .with_context(|| format!("opening the store {}", db.display()))?;
    let limits = &config.system.limits;
    // Everything else reads through the pool, on the blocking pool: never SQLite on these threads.
    let readers = Readers::new(&db);
    let mut core = Core::new(Registry::compile(&config.triggers)?, limits.dedupe_window);
    let window = limits.dedupe_window;
    core.remember(
        readers
            .read(move |store| store.recent_message_keys(window))
            .await
            .and_then(|keys| keys)
            .with_context(|| format!("reading recent message ids from {}", db.display()))?,
    );
    // Before any event: `ss replay` starts its trigger state afresh here, as this run does.
    writer
        .send(run_mark(RunMarkKind::Start))
        .await
        .with_context(|| format!("recording the run start in {}", db.display()))?;
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

    let lane = DataLane::new(
        limits.data_lane_capacity,
        Duration::from_millis(limits.data_lane_block_ms),
    );
    let probe = lane.probe();
    let DataLane {
        sink, mut receiver, ..
    } = lane;
    let plans = supervisor::plan(&config, options.creator.as_deref());
    let stored = Arc::new(supervisor::Stored::read(&readers).await);
    services.open(&RunParts {
        sink: sink.clone(),
        guards: counters.guards.clone(),
        wire: config.system.limits.wire(),
        ledger: Arc::new(supervisor::WriterLedger {
            writer: writer.clone(),
            stored: stored.clone(),
        }),
        shutdown: shutdown.clone(),
    });
    // At shutdown the services let go of the lane's sink (webhooks), so the lane can close.
    {
        let services = services.clone();
        let token = shutdown.clone();
        tasks.spawn(async move {
            token.cancelled().await;
            services.close();
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
            db: &db,
            stored: &stored,
            services: &services,
        },
    );
    let ticks = sink.ticks();
    // The sources (and platforms' services, until they close) hold the only senders now, so the
    // lane closes when the last source stops.
    drop(sink);
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

    let notifications = crate::notify::start(crate::notify::NotifyParts {
        readers: readers.clone(),
        config: config_rx.clone(),
        secrets: secrets.clone(),
        writer: writer.clone(),
        writer_stats: writer.stats(),
        telemetry: telemetry.clone(),
        sources: statuses,
        shutdown: shutdown.clone(),
    });
    let clips = crate::clips::Clips::start(crate::clips::ClipsParts {
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
    })?;

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
            captures: clips.views(),
            trends: trends.clone(),
        },
        &tasks,
    );

    // Ends when the pipeline (holding the router, holding its sender) is dropped at shutdown.
    let commands = supervisor.commands(counters.commands.clone(), telemetry.clone());
    let standings = super::standings::spawn(readers, commands.clone(), config_rx.clone(), &tasks);
    let mut pipeline = Pipeline {
        core,
        chat_log: config.system.chat_log.enabled,
        writer: writer.clone(),
        router: Router {
            commands: CommandSink::new(commands.clone()),
            clips: ClipSink::new(clip_worker, export_now),
            community: CommunitySink::new(Routing::new(config_rx.clone())),
            outbox: OutboxSink,
            validation: ValidationSink::new(validated),
            standings: StandingsSink::new(Some(standings), commands),
        },
        counters: counters.clone(),
        ops: Vec::new(),
        trends: config
            .system
            .trends
            .enabled
            .then(|| Trends::new(&config, trends)),
        feed,
        unsent_events: 0,
    };

    if let Some(duration) = options.duration {
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
    let stopper = {
        let token = shutdown.clone();
        let writer = writer.clone();
        tasks.spawn(async move {
            token.cancelled().await;
            tracing::info!("Stopping sources.");
            // From here a failing store gets a bounded time to recover, not forever.
            writer.begin_shutdown();
            supervisor.join(SOURCE_GRACE).await
        })
    };

    tracing::info!(
        sources = plans.iter().filter(|p| p.skipped.is_none()).count(),
        exports = %root.join("runtime/exports").display(),
        cadence_s = config.system.exports.cadence_s,
        "Runtime started; press Ctrl-C to stop."
    );
    let loop_result = drain(&mut receiver, &mut pipeline, &mut config_rx, &telemetry).await;
    let mut unsent = pipeline.unsent_events;
    if let Err(e) = &loop_result {
        tracing::error!(error = %e, "The run loop failed; stopping everything.");
        telemetry.error("run_loop_failed", "runtime", e.to_string());
        // What the sources handed over and the loop never took is not lost silently: counted here.
        receiver.close();
        while let Ok(item) = receiver.try_recv() {
            unsent += item.events();
        }
    }
    // The same ordered stop after a clean end or an error: sources, lane, store, exports.
    shutdown.cancel();
    drop(receiver);
    let aborted_sources = stopper.await.unwrap_or_default();
    // FFmpeg children are killed and reaped here; unfinished clip jobs stay resumable.
    clips.stop().await;
    // The senders record their last results (and the watcher its stop event) before the store closes.
    notifications.join(SOURCE_GRACE).await;
    drop(pipeline);
    let closed = tokio::task::spawn_blocking(move || writer.close())
        .await
        .context("joining the store writer")?;
    telemetry.event("runtime_stopped", "runtime", "runtime stopped");
    let events_recorded = match &closed {
        Ok(stats) => stats.events_recorded,
        Err(_) => exporter.recorded_so_far(),
    };
    let (counters, exported) = exporter.finish(events_recorded).await;
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
    let mut not_written = Vec::new();
    let mut failed = None;
    match closed {
        Ok(_) => {}
        Err(error @ StoreError::Abandoned { ops, events, .. }) => {
            not_written.push(NotWritten::Store { ops, events, error });
        }
        Err(e) => failed = Some(anyhow::Error::new(e).context("committing the store")),
    }
    match loop_result {
        Ok(()) => {}
        // The store's own error says more than the loop's "the writer has stopped" that it caused.
        Err(StoreError::Closed) if !not_written.is_empty() || failed.is_some() => {}
        Err(e) => {
            failed.get_or_insert_with(|| anyhow::Error::new(e).context("the run loop failed"));
        }
    }
    if unsent > 0 {
        not_written.push(NotWritten::Unsent { events: unsent });
    }
    if let Err(error) = exported {
        let files = error.chain().find_map(|cause| match cause.downcast_ref() {
            Some(crate::export::ExportError::NotWritten { failed, .. }) => Some(failed.len()),
            _ => None,
        });
        not_written.push(NotWritten::Exports { files, error });
    }
    Ok(RunSummary {
        counters,
        elapsed: started.elapsed(),
        aborted_sources,
        not_written,
        failed,
    })
}

/// Starts the local HTTP server when `system.http.enabled`, with the routes platforms add (merged
/// outside the token check: they authenticate their requests themselves); returns the feed the
/// pipeline publishes to.
async fn start_http(
    root: &Path,
    config: &Config,
    secrets: &Secrets,
    services: &RunServices,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
) -> anyhow::Result<Option<crate::http::Feed>> {
    use crate::http::server;
    let settings = &config.system.http;
    if !settings.enabled {
        return Ok(None);
    }
    let token = match &settings.token_env {
        None => None,
        Some(name) => Some(Arc::new(secrets.get(name).ok_or_else(|| {
            anyhow::anyhow!(
                "system.json http.token_env names {name}, which is not set\n  hint: export {name}=<a long random token> (or put it in the root's .env)"
            )
        })?)),
    };
    let listener = server::bind(&settings.listen, token.as_deref()).await?;
    let feed = crate::http::Feed::new();
    let state = server::AppState {
        feed: feed.clone(),
        snapshot: root.join("runtime/exports/runtime_snapshot.json"),
        token,
    };
    let mut app = server::router(state);
    for routes in services.routes() {
        app = app.merge(routes);
    }
    tracing::info!(
        listen = %settings.listen,
        platform_routes = ?services.with_routes(),
        "HTTP server listening (/healthz, /api/snapshot, /events, and the platforms' routes)."
    );
    tasks.spawn(server::serve_router(listener, app, shutdown.clone()));
    Ok(Some(feed))
}

/// Drains the data lane until it closes, applying config reloads between batches.
async fn drain(
    receiver: &mut mpsc::Receiver<Inbound>,
    pipeline: &mut Pipeline,
    reloads: &mut watch::Receiver<Arc<Config>>,
    telemetry: &Telemetry,
) -> Result<(), StoreError> {
    let mut batch = Vec::with_capacity(BATCH);
    let started_with = reloads.borrow_and_update().clone();
    loop {
        if reloads.has_changed().unwrap_or(false) {
            let next = reloads.borrow_and_update().clone();
            if next.creators != started_with.creators || next.platforms != started_with.platforms {
                tracing::warn!(
                    "creators.json or platforms.json changed: restart `ss run` to apply source changes."
                );
            }
            pipeline.reload(&next, telemetry).await?;
        }
        if receiver.recv_many(&mut batch, BATCH).await == 0 {
            return Ok(());
        }
        let mut items = batch.drain(..);
        while let Some(item) = items.next() {
            if let Err(e) = pipeline.process(item).await {
                // The rest of the batch never reaches the store: counted with the other unsent.
                pipeline.unsent_events += items.map(|item| item.events()).sum::<u64>();
                return Err(e);
            }
        }
    }
}
