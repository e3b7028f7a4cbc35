//! The supervisor: builds one source per (creator, platform) that should run and starts its runner.
//!
//! A source runs when its platform's mode is `active` and the creator enables it. Paused, scaffold
//! and planned platforms are listed (so exports show them) and never started. Each source is driven
//! by its runner ([`crate::sources::runner`]), which retries, backs off and records status; a source
//! that cannot even be built (missing credentials, invalid settings) is reported failed the same way
//! and left stopped, never fatal to the rest.

use crate::command::receipts::Receipts;
use crate::command::stats::CommandStats;
use crate::config::Config;
use crate::config::model::PlatformMode;
use crate::config::secrets::Secrets;
use crate::effects::sinks::CommandQueues;
use crate::effects::sinks::command::{CommandRoute, CommandRoutes};
use crate::event::Platform;
use crate::guards::Guards;
use crate::lanes::EventSink;
use crate::sources::registry::{
    Ledger, LedgerSpend, LedgerUse, RunServices, SourceBuild, module_of,
};
use crate::sources::runner::{Wiring, polling, session};
use crate::sources::{ConnectionState, OUTBOUND_CAPACITY, Source, SourceError, StatusHandle};
use crate::store::{ProjectQuotaRow, Readers, StoreError, StoreWriter, WriteOp};
use crate::telemetry::Telemetry;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What the supervisor decided for one configured (creator, platform).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePlan {
    pub creator: String,
    pub platform: Platform,
    pub mode: PlatformMode,
    /// Why it is not started; `None` when it starts.
    pub skipped: Option<String>,
}

/// Lists every platform block of every (selected) creator with the decision for it.
pub fn plan(config: &Config, only_creator: Option<&str>) -> Vec<SourcePlan> {
    let mut plans = Vec::new();
    for creator in &config.creators.creators {
        if only_creator.is_some_and(|id| id != creator.id) {
            continue;
        }
        for &platform in Platform::all() {
            if !creator.platforms.configured(platform) {
                continue;
            }
            let mode = config.platforms.mode(platform);
            let skipped = if !creator.enabled {
                Some("creator disabled".to_string())
            } else if !creator.platforms.enabled(platform) {
                Some("disabled for this creator".to_string())
            } else if mode != PlatformMode::Active {
                Some(format!("platform mode is {}", mode.as_str()))
            } else {
                None
            };
            plans.push(SourcePlan {
                creator: creator.id.clone(),
                platform,
                mode,
                skipped,
            });
        }
    }
    plans
}

/// What building a source may need beyond the config: secrets, the platforms' services of the
/// run, and where sources keep state.
pub struct BuildDeps<'a> {
    pub secrets: &'a Secrets,
    pub services: &'a RunServices,
    /// `runtime/state`: where a source keeps what it must remember across runs (Kick's refreshed
    /// tokens).
    pub state_dir: &'a Path,
}

/// What the store says at start, read once through the reader pool (off the async threads) before
/// the sources are built: the polling sources' resume checkpoints, and the budget spends (the
/// ledger) of the days around today, whatever day a platform's budget counts in.
#[derive(Debug)]
pub struct Stored {
    checkpoints: Result<HashMap<(String, Platform), String>, Arc<StoreError>>,
    spent: Result<Vec<ProjectQuotaRow>, Arc<StoreError>>,
}

impl Stored {
    pub async fn read(readers: &Readers) -> Stored {
        let today = chrono::Utc::now().date_naive();
        // A budget's day may follow any time zone (YouTube's is Pacific): yesterday to tomorrow in
        // UTC holds every zone's today.
        let days: Vec<chrono::NaiveDate> = [today.pred_opt(), Some(today), today.succ_opt()]
            .into_iter()
            .flatten()
            .collect();
        let read = readers
            .read(move |store| {
                let checkpoints = store.checkpoints().map(|all| {
                    all.into_iter()
                        .map(|c| ((c.creator, c.platform), c.cursor))
                        .collect()
                });
                let mut spent = Vec::new();
                for day in days {
                    match store.project_quota_usage(day) {
                        Ok(rows) => spent.extend(rows),
                        Err(e) => return (checkpoints, Err(e)),
                    }
                }
                (checkpoints, Ok(spent))
            })
            .await;
        match read {
            Ok((checkpoints, spent)) => Stored {
                checkpoints: checkpoints.map_err(Arc::new),
                spent: spent.map_err(Arc::new),
            },
            Err(e) => {
                let e = Arc::new(e);
                Stored {
                    checkpoints: Err(e.clone()),
                    spent: Err(e),
                }
            }
        }
    }

    /// The resume cursor of a polling source (`None`: start afresh), or why it cannot be read.
    fn checkpoint(
        &self,
        creator: &str,
        platform: Platform,
    ) -> Result<Option<String>, Arc<StoreError>> {
        match &self.checkpoints {
            Ok(all) => Ok(all.get(&(creator.to_string(), platform)).cloned()),
            Err(e) => Err(e.clone()),
        }
    }
}

/// The run's webhook delivery ids in the store: recorded through the store writer, read through the
/// reader pool.
pub struct StoreDeliveries {
    pub writer: StoreWriter,
    pub readers: Readers,
}

impl crate::sources::registry::DeliveryLog for StoreDeliveries {
    fn accepted(
        &self,
        source: &str,
        id: String,
        at_ms: i64,
        keep_from_ms: i64,
    ) -> crate::sources::BoxFuture<'_, ()> {
        let source = source.to_string();
        Box::pin(async move {
            let op = WriteOp::WebhookDelivery {
                source: source.clone(),
                id,
                at_ms,
                keep_from_ms,
            };
            if let Err(e) = self.writer.send(op).await {
                tracing::warn!(source, "Webhook delivery id not recorded: {e}");
            }
        })
    }

    fn recent(&self, source: &str, since_ms: i64) -> crate::sources::BoxFuture<'_, Vec<String>> {
        let source = source.to_string();
        Box::pin(async move {
            let key = source.clone();
            let read = self
                .readers
                .read(move |store| store.webhook_deliveries(&key, since_ms))
                .await;
            match read {
                Ok(Ok(ids)) => ids,
                Ok(Err(e)) | Err(e) => {
                    tracing::warn!(source, "Cannot read the webhook delivery ids kept: {e}");
                    Vec::new()
                }
            }
        })
    }
}

/// The run's ledger of platforms' budgets (YouTube's quota units) in the store: each spend goes to
/// the store writer before the call is made; what was spent before the run is what the store said
/// at start ([`Stored`]).
pub struct WriterLedger {
    pub writer: StoreWriter,
    pub stored: Arc<Stored>,
}

impl Ledger for WriterLedger {
    fn spend(&self, spend: LedgerSpend) -> crate::sources::BoxFuture<'_, ()> {
        Box::pin(async move {
            let platform = spend.platform;
            let op = WriteOp::Atomic(vec![
                WriteOp::QuotaSpend {
                    platform,
                    day: spend.day,
                    units: spend.units,
                },
                WriteOp::ProjectQuotaSpend {
                    project: spend.budget,
                    day: spend.day,
                    method: spend.method,
                    units: spend.units,
                },
            ]);
            if let Err(e) = self.writer.send(op).await {
                tracing::warn!(%platform, "Quota spend not recorded: {e}");
            }
        })
    }

    fn spent(&self, budget: &str, day: chrono::NaiveDate) -> Vec<(String, LedgerUse)> {
        match &self.stored.spent {
            Ok(rows) => {
                let day = day.to_string();
                rows.iter()
                    .filter(|r| r.project == budget && r.day == day)
                    .filter_map(|r| {
                        Some((
                            r.method.clone(),
                            LedgerUse {
                                calls: u64::try_from(r.calls).ok()?,
                                units: u64::try_from(r.units).ok()?,
                            },
                        ))
                    })
                    .collect()
            }
            Err(e) => {
                tracing::warn!(
                    budget,
                    "Cannot read today's budget spends; starting from zero: {e}"
                );
                Vec::new()
            }
        }
    }
}

/// Builds the source for a planned (creator, platform) through the platform's module.
pub fn build_source(
    config: &Config,
    creator: &str,
    platform: Platform,
    deps: &BuildDeps<'_>,
) -> Result<Source, SourceError> {
    let block = config
        .creators
        .get(creator)
        .ok_or_else(|| SourceError::InvalidSettings(format!("unknown creator {creator:?}")))?
        .platforms
        .block(platform)
        .ok_or_else(|| {
            SourceError::InvalidSettings(format!("no {platform} block in creators.json"))
        })?;
    let module = module_of(platform).ok_or_else(|| {
        SourceError::InvalidSettings(format!("this build has no {platform} source"))
    })?;
    module.build_source(&SourceBuild {
        config,
        creator,
        block,
        own: config.platforms.settings(platform),
        secrets: deps.secrets,
        state_dir: deps.state_dir,
        services: deps.services.get(platform),
    })
}

/// The running sources.
pub struct Supervisor {
    tasks: JoinSet<()>,
    views: Vec<(String, Platform, StatusHandle)>,
    commands: CommandRoutes,
}

/// What every source of one run shares.
pub struct RunShared<'a> {
    pub secrets: &'a Secrets,
    /// Cloned into each source; drop the caller's copy afterwards so the data lane closes when the
    /// last source stops.
    pub sink: &'a EventSink,
    pub shutdown: &'a CancellationToken,
    pub telemetry: &'a Telemetry,
    /// The run's counters of what its sources refused from the wire.
    pub guards: &'a Arc<Guards>,
    /// The run's command counters, shared by the sources' serving loops and the command sink.
    pub command_stats: &'a Arc<CommandStats>,
    /// Where the serving loops report how moderation commands were settled.
    pub receipts: &'a Receipts,
    /// `runtime/state`'s store file (a source's own state lives beside it).
    pub db: &'a Path,
    /// What the store said at start: checkpoints (and the budget spends the ledger hands out).
    pub stored: &'a Stored,
    /// The platforms' services of the run (opened before the sources are built).
    pub services: &'a RunServices,
}

impl Supervisor {
    /// Starts every planned source. Every source checks the wire against `system.json` `limits`.
    pub fn start(config: &Config, plans: &[SourcePlan], shared: &RunShared<'_>) -> Supervisor {
        let RunShared {
            secrets,
            sink,
            shutdown,
            telemetry,
            guards,
            command_stats,
            receipts,
            db,
            stored,
            services,
        } = *shared;
        let mut supervisor = Supervisor {
            tasks: JoinSet::new(),
            views: Vec::new(),
            commands: CommandRoutes::new(),
        };
        let state_dir = db.parent().unwrap_or(Path::new("."));
        let deps = BuildDeps {
            secrets,
            services,
            state_dir,
        };
        for plan in plans {
            if let Some(reason) = &plan.skipped {
                // Not listed among the sources: exports show it as disabled or inactive from config.
                tracing::info!(creator = %plan.creator, platform = %plan.platform, reason, "Source not started.");
                continue;
            }
            let (tx, rx) = mpsc::channel(OUTBOUND_CAPACITY);
            let wiring = Wiring {
                secrets: secrets.clone(),
                send_limit: config.ratelimits.send_limit(plan.platform),
                shutdown: shutdown.child_token(),
                telemetry: telemetry.clone(),
                guards: guards.clone(),
                command_stats: command_stats.clone(),
                receipts: receipts.clone(),
                wire: config.system.limits.wire(),
                ..Wiring::new(&plan.creator, plan.platform, sink.clone(), rx)
            };
            supervisor
                .views
                .push((plan.creator.clone(), plan.platform, wiring.status.clone()));
            let source = match build_source(config, &plan.creator, plan.platform, &deps) {
                Ok(source) => source,
                Err(e) => {
                    wiring.track().failed(&e);
                    continue;
                }
            };
            // Commands the source cannot do are refused by the command sink before queueing.
            supervisor.commands.insert(
                (plan.creator.clone(), plan.platform),
                CommandRoute {
                    queue: tx,
                    support: source.commands(),
                },
            );
            let (ctx, track, serving) = wiring.build();
            match source {
                Source::Session(source) => {
                    supervisor
                        .tasks
                        .spawn(session::run(source, ctx, track, serving));
                }
                Source::Polling(poller) => {
                    let resume = match stored.checkpoint(&plan.creator, plan.platform) {
                        Ok(cursor) => cursor,
                        Err(e) => {
                            track.failed(&SourceError::Other(format!(
                                "cannot read its resume checkpoint: {e}"
                            )));
                            continue;
                        }
                    };
                    supervisor
                        .tasks
                        .spawn(polling::run(poller, ctx, resume, None, track, serving));
                }
            }
        }
        supervisor
    }

    /// The way into every running source's command queue, for the command sink and the standings
    /// worker.
    pub fn commands(&self, stats: Arc<CommandStats>, telemetry: Telemetry) -> CommandQueues {
        CommandQueues::new(self.commands.clone(), stats, telemetry)
    }

    /// Status handles, for a view that outlives the supervisor.
    pub fn status_handles(&self) -> Vec<(String, Platform, StatusHandle)> {
        self.views.clone()
    }

    /// Waits for every source task to end (they end on shutdown), at most `grace`; the rest are
    /// aborted and named. Returns the names of the aborted sources.
    pub async fn join(mut self, grace: Duration) -> Vec<String> {
        self.commands.clear();
        let deadline = tokio::time::Instant::now() + grace;
        while !self.tasks.is_empty() {
            match tokio::time::timeout_at(deadline, self.tasks.join_next()).await {
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let stuck: Vec<String> = self
            .views
            .iter()
            .filter(|(_, _, s)| {
                !matches!(
                    s.snapshot().state,
                    ConnectionState::Stopped | ConnectionState::Failed
                )
            })
            .map(|(c, p, _)| format!("{c}/{p}"))
            .collect();
        if !self.tasks.is_empty() {
            tracing::warn!(sources = ?stuck, "Sources did not stop within the grace period; aborting them.");
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
        stuck
    }
}
