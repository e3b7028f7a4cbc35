//! The supervisor: one task per (creator, platform) that should run, restarted when it fails.
//!
//! A source runs when its platform's mode is `active` and the creator enables it. Paused, scaffold
//! and planned platforms are listed (so exports show them) and never started. A source that fails is
//! restarted after a capped, jittered exponential backoff; one that fails permanently (missing
//! credentials, invalid settings) is reported and left stopped, never fatal to the rest.

use super::lanes::EventSink;
use super::telemetry::Telemetry;
use crate::config::Config;
use crate::config::model::PlatformMode;
use crate::config::secrets::Secrets;
use crate::event::Platform;
use crate::sources::backoff::Backoff;
use crate::sources::sim::SimSource;
use crate::sources::twitch::TwitchSource;
use crate::sources::{
    ConnectionState, OUTBOUND_CAPACITY, OutboundMessage, Source, SourceContext, SourceError,
    StatusHandle,
};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// First restart delay after a source fails.
const RESTART_BASE: Duration = Duration::from_millis(500);
/// Longest restart delay.
const RESTART_CAP: Duration = Duration::from_secs(60);

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

/// Builds the source for a planned (creator, platform).
pub fn build_source(
    config: &Config,
    creator: &str,
    platform: Platform,
) -> Result<Box<dyn Source>, SourceError> {
    let settings = config
        .creators
        .get(creator)
        .map(|c| &c.platforms)
        .ok_or_else(|| SourceError::InvalidSettings(format!("unknown creator {creator:?}")))?;
    match platform {
        Platform::Sim => {
            let sim = settings.sim.clone().unwrap_or_default();
            Ok(Box::new(SimSource::new(creator, &sim)))
        }
        Platform::Twitch => {
            let twitch = settings.twitch.as_ref().ok_or_else(|| {
                SourceError::InvalidSettings("no twitch block in creators.json".into())
            })?;
            Ok(Box::new(TwitchSource::new(creator, twitch)?))
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
    outbound: HashMap<(String, Platform), mpsc::Sender<OutboundMessage>>,
}

impl Supervisor {
    /// Starts every planned source. `sink` is cloned into each; drop the caller's copy afterwards so
    /// the data lane closes when the last source stops.
    pub fn start(
        config: &Config,
        plans: &[SourcePlan],
        secrets: &Secrets,
        sink: &EventSink,
        shutdown: &CancellationToken,
        telemetry: &Telemetry,
    ) -> Supervisor {
        let mut supervisor = Supervisor {
            tasks: JoinSet::new(),
            views: Vec::new(),
            outbound: HashMap::new(),
        };
        for plan in plans {
            if let Some(reason) = &plan.skipped {
                // Not listed among the sources: exports show it as disabled or inactive from config.
                tracing::info!(creator = %plan.creator, platform = %plan.platform, reason, "Source not started.");
                continue;
            }
            let status = StatusHandle::new();
            supervisor
                .views
                .push((plan.creator.clone(), plan.platform, status.clone()));
            let source = match build_source(config, &plan.creator, plan.platform) {
                Ok(source) => source,
                Err(e) => {
                    report_failure(&status, telemetry, &plan.creator, plan.platform, &e);
                    continue;
                }
            };
            let (tx, rx) = mpsc::channel(OUTBOUND_CAPACITY);
            supervisor
                .outbound
                .insert((plan.creator.clone(), plan.platform), tx);
            let ctx = SourceContext {
                creator: plan.creator.clone(),
                platform: plan.platform,
                shutdown: shutdown.child_token(),
                events: sink.clone(),
                outbound: rx,
                status,
                secrets: secrets.clone(),
                endpoints: config.platforms.endpoints(plan.platform),
                send_limit: config.ratelimits.send_limit(plan.platform),
            };
            supervisor
                .tasks
                .spawn(supervise(source, ctx, telemetry.clone()));
        }
        supervisor
    }

    /// Senders for replies, by (creator, platform), for the executor.
    pub fn outbound(&self) -> HashMap<(String, Platform), mpsc::Sender<OutboundMessage>> {
        self.outbound.clone()
    }

    /// Status handles, for a view that outlives the supervisor.
    pub fn status_handles(&self) -> Vec<(String, Platform, StatusHandle)> {
        self.views.clone()
    }

    /// Waits for every source task to end (they end on shutdown), at most `grace`; the rest are
    /// aborted and named. Returns the names of the aborted sources.
    pub async fn join(mut self, grace: Duration) -> Vec<String> {
        self.outbound.clear();
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

fn report_failure(
    status: &StatusHandle,
    telemetry: &Telemetry,
    creator: &str,
    platform: Platform,
    error: &SourceError,
) {
    tracing::warn!(creator, platform = %platform, error = %error, "Source not started.");
    status.record_error(error.to_string());
    status.set_state(ConnectionState::Failed);
    telemetry.error(
        error_type(error),
        &format!("source.{platform}"),
        format!("{creator}/{platform}: {error}"),
    );
}

fn error_type(error: &SourceError) -> &'static str {
    match error {
        SourceError::MissingCredentials(_) => "missing_credentials",
        SourceError::LoginFailed(_) => "login_failed",
        SourceError::InvalidSettings(_) => "invalid_settings",
        SourceError::Other(_) => "source_error",
    }
}

/// Runs one source until shutdown, restarting it with backoff when it fails.
async fn supervise(mut source: Box<dyn Source>, mut ctx: SourceContext, telemetry: Telemetry) {
    let mut backoff = Backoff::new(RESTART_BASE, RESTART_CAP);
    let name = format!("{}/{}", ctx.creator, ctx.platform);
    telemetry.event("source_started", "supervisor", format!("{name} started"));
    loop {
        ctx.status.set_state(ConnectionState::Connecting);
        let result = source.run(&mut ctx).await;
        if ctx.shutdown.is_cancelled() {
            break;
        }
        let error = match result {
            Ok(()) => SourceError::Other("the source stopped on its own".into()),
            Err(e) => e,
        };
        if error.is_permanent() {
            report_failure(&ctx.status, &telemetry, &ctx.creator, ctx.platform, &error);
            return;
        }
        ctx.status.record_error(error.to_string());
        telemetry.error(
            error_type(&error),
            &format!("source.{}", ctx.platform),
            format!("{name}: {error}"),
        );
        let delay = backoff.next_delay();
        tracing::warn!(source = %name, error = %error, delay_ms = delay.as_millis() as u64, "Source failed; restarting after backoff.");
        ctx.status.set_state(ConnectionState::Backoff);
        tokio::select! {
            () = ctx.shutdown.cancelled() => break,
            () = tokio::time::sleep(delay) => {}
        }
        ctx.status.record_reconnect();
    }
    ctx.status.set_state(ConnectionState::Stopped);
    telemetry.event("source_stopped", "supervisor", format!("{name} stopped"));
}
