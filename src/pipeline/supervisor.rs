//! The supervisor: builds one source per (creator, platform) that should run and starts its runner.
//!
//! A source runs when its platform's mode is `active` and the creator enables it. Paused, scaffold
//! and planned platforms are listed (so exports show them) and never started. Each source is driven
//! by its runner ([`crate::sources::runner`]), which retries, backs off and records status; a source
//! that cannot even be built (missing credentials, invalid settings) is reported failed the same way
//! and left stopped, never fatal to the rest.

use super::lanes::EventSink;
use super::telemetry::Telemetry;
use crate::actions::sinks::CommandQueues;
use crate::actions::sinks::command::{CommandRoute, CommandRoutes};
use crate::command::stats::CommandStats;
use crate::config::Config;
use crate::config::model::PlatformMode;
use crate::config::secrets::Secrets;
use crate::event::Platform;
use crate::guards::Guards;
use crate::sources::kick::{KickEndpoints, KickSource};
use crate::sources::rumble::{RumbleEndpoints, RumbleSource};
use crate::sources::runner::{Wiring, polling, session};
use crate::sources::sim::SimSource;
use crate::sources::twitch::{TwitchEndpoints, TwitchSource};
use crate::sources::youtube::quota::{
    Method, MethodUse, QuotaBook, QuotaJournal, Spend, SpentLoader,
};
use crate::sources::youtube::{self, YoutubeEndpoints, YoutubeSource};
use crate::sources::{ConnectionState, OUTBOUND_CAPACITY, Source, SourceError, StatusHandle};
use crate::store::{Store, StoreWriter, WriteOp};
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
        for platform in Platform::ALL {
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

/// What building a source may need beyond the config: secrets (a YouTube project is named after
/// its key's hash), the run's quota projects, and what each project spent today.
pub struct BuildDeps<'a> {
    pub secrets: &'a Secrets,
    pub quotas: &'a QuotaBook,
    pub spent: &'a SpentLoader<'a>,
    /// `runtime/state`: where a source keeps what it must remember across runs (Kick's refreshed
    /// tokens).
    pub state_dir: &'a Path,
}

/// Persists YouTube quota spends through the store writer, before each call is made.
pub struct WriterJournal(pub StoreWriter);

impl QuotaJournal for WriterJournal {
    fn record(&self, spend: Spend) -> crate::sources::BoxFuture<'_, ()> {
        Box::pin(async move {
            let units = i64::from(spend.units);
            let op = WriteOp::Atomic(vec![
                WriteOp::QuotaSpend {
                    platform: Platform::Youtube,
                    day: spend.day,
                    units,
                },
                WriteOp::ProjectQuotaSpend {
                    project: spend.project,
                    day: spend.day,
                    method: spend.method.as_str(),
                    units,
                },
            ]);
            if let Err(e) = self.0.send(op).await {
                tracing::warn!(platform = "youtube", "Quota spend not recorded: {e}");
            }
        })
    }
}

/// Reads what each project spent on a day from the store at `db` (nothing when unreadable: the
/// planner then trusts Google's quotaExceeded, and says so).
pub fn store_spent(db: &Path) -> impl Fn(&str, chrono::NaiveDate) -> Vec<(Method, MethodUse)> + '_ {
    move |project, day| match Store::open(db).and_then(|s| s.project_quota_usage(day)) {
        Ok(rows) => rows
            .into_iter()
            .filter(|r| r.project == project)
            .filter_map(|r| {
                Some((
                    Method::from_name(&r.method)?,
                    MethodUse {
                        calls: u64::try_from(r.calls).ok()?,
                        units: u64::try_from(r.units).ok()?,
                    },
                ))
            })
            .collect(),
        Err(e) => {
            tracing::warn!(
                platform = "youtube",
                project,
                "Cannot read today's quota usage; starting from zero: {e}"
            );
            Vec::new()
        }
    }
}

/// Builds the source for a planned (creator, platform).
pub fn build_source(
    config: &Config,
    creator: &str,
    platform: Platform,
    deps: &BuildDeps<'_>,
) -> Result<Source, SourceError> {
    let settings = config
        .creators
        .get(creator)
        .map(|c| &c.platforms)
        .ok_or_else(|| SourceError::InvalidSettings(format!("unknown creator {creator:?}")))?;
    match platform {
        Platform::Sim => {
            let sim = settings.sim.clone().unwrap_or_default();
            Ok(Source::Session(Box::new(SimSource::new(creator, &sim))))
        }
        Platform::Twitch => {
            let twitch = settings.twitch.as_ref().ok_or_else(|| {
                SourceError::InvalidSettings("no twitch block in creators.json".into())
            })?;
            let endpoints = TwitchEndpoints::from_platform(config.platforms.settings(platform));
            Ok(Source::Session(Box::new(
                TwitchSource::new(creator, twitch)?.with_endpoints(endpoints),
            )))
        }
        Platform::Youtube => {
            let settings = settings.youtube.as_ref().ok_or_else(|| {
                SourceError::InvalidSettings("no youtube block in creators.json".into())
            })?;
            let project = deps.quotas.project(
                &youtube::project_id(settings, deps.secrets),
                config.ratelimits.youtube_quota,
                deps.spent,
                chrono::Utc::now(),
            );
            let endpoints = YoutubeEndpoints::from_platform(config.platforms.settings(platform));
            Ok(Source::Polling(Box::new(
                YoutubeSource::new(creator, settings, project)?.with_endpoints(endpoints),
            )))
        }
        Platform::Rumble => {
            let rumble = settings.rumble.as_ref().ok_or_else(|| {
                SourceError::InvalidSettings("no rumble block in creators.json".into())
            })?;
            let endpoints = RumbleEndpoints::from_platform(config.platforms.settings(platform));
            Ok(Source::Polling(Box::new(
                RumbleSource::new(creator, rumble)?.with_endpoints(endpoints),
            )))
        }
        Platform::Kick => {
            let kick = settings.kick.as_ref().ok_or_else(|| {
                SourceError::InvalidSettings("no kick block in creators.json".into())
            })?;
            let endpoints = KickEndpoints::from_platform(config.platforms.settings(platform));
            Ok(Source::Session(Box::new(KickSource::new(
                creator,
                kick,
                endpoints,
                deps.state_dir.to_path_buf(),
            )?)))
        }
        other => Err(SourceError::InvalidSettings(format!(
            "this build has no {other} source yet"
        ))),
    }
}

/// The running sources.
pub struct Supervisor {
    tasks: JoinSet<()>,
    views: Vec<(String, Platform, StatusHandle)>,
    commands: CommandRoutes,
    quotas: QuotaBook,
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
    /// The store, read for polling sources' checkpoints and the quota spent today.
    pub db: &'a Path,
    /// The run's YouTube quota projects (spends are recorded through their journal).
    pub quotas: &'a QuotaBook,
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
            db,
            quotas,
        } = *shared;
        let mut supervisor = Supervisor {
            tasks: JoinSet::new(),
            views: Vec::new(),
            commands: CommandRoutes::new(),
            quotas: quotas.clone(),
        };
        let spent = store_spent(db);
        let state_dir = db.parent().unwrap_or(Path::new("."));
        let deps = BuildDeps {
            secrets,
            quotas,
            spent: &spent,
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
                    let resume = match Store::open(db)
                        .and_then(|store| store.checkpoint(&plan.creator, plan.platform))
                    {
                        Ok(checkpoint) => checkpoint.map(|c| c.cursor),
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

    /// The run's YouTube quota projects.
    pub fn quotas(&self) -> QuotaBook {
        self.quotas.clone()
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
