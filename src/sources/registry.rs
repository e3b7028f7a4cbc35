//! The platform registry: one entry per platform, registered from the platform's own folder with
//! one line, `ss::register_platform!(INFO, Module)`.
//!
//! An entry is the platform's identity ([`crate::event::PlatformInfo`]), its config
//! ([`crate::config::platform::PlatformConfig`]: creators.json block, platforms.json keys, checks,
//! default mode, send limit, credentials) and its behaviour ([`PlatformModule`]: how its source is
//! built, and what it runs once per run beside its sources: webhook routes, a quota book, a go-live
//! poller). Shared code iterates the registry ([`modules`], [`module_of`]) and names no platform;
//! adding a platform is a folder and its registration line. A platform outside this crate (the test
//! tree has one) registers the same way.
//!
//! A run's services follow the run's phases, in this order: [`PlatformModule::start_services`]
//! (before the HTTP server, which merges their [`PlatformServices::routes`]), `open` (once the data
//! lane and the store writer exist, before the sources are built), `sources_started` (with every
//! source's status), then `close` at shutdown.

use super::{BoxFuture, Source, SourceError, StatusHandle};
use crate::config::Config;
use crate::config::model::PlatformOwn;
use crate::config::platform::{PlatformBlock, PlatformConfig};
use crate::config::secrets::Secrets;
use crate::event::Platform;
use crate::event::wire_checks::WireLimits;
use crate::guards::Guards;
use crate::lanes::EventSink;
use std::any::Any;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Registers a platform: its identity (a `static` [`crate::event::PlatformInfo`]) and its module,
/// a value implementing [`PlatformModule`] (and so [`PlatformConfig`]).
#[macro_export]
macro_rules! register_platform {
    ($info:path, $module:expr) => {
        $crate::inventory::submit! { $crate::event::RegisteredPlatform(&$info) }
        $crate::inventory::submit! { $crate::config::platform::RegisteredConfig(&$module) }
        $crate::inventory::submit! { $crate::sources::registry::RegisteredModule(&$module) }
    };
}

/// What a platform does at run time.
pub trait PlatformModule: PlatformConfig {
    /// Builds the source for one creator's block (see [`SourceBuild`]). A platform without a
    /// source says so (its mode keeps it from being started anyway).
    fn build_source(&self, build: &SourceBuild<'_>) -> Result<Source, SourceError> {
        let _ = build;
        Err(SourceError::InvalidSettings(format!(
            "this build has no {} source yet",
            self.platform()
        )))
    }

    /// Starts what the platform runs once per run beside its sources; `None` when it needs nothing
    /// for this config. An error stops the run before anything started (a webhook key file that
    /// cannot be read); its message says what and how to fix it.
    fn start_services(
        &self,
        run: &ServiceStart<'_>,
    ) -> Result<Option<Arc<dyn PlatformServices>>, String> {
        let _ = run;
        Ok(None)
    }

    /// The credentials the platform keeps under `state_dir` (`runtime/state`), for `ss auth
    /// status`: who, which scopes, until when; never a token.
    fn stored_credentials(&self, state_dir: &Path) -> Vec<StoredCredential> {
        let _ = state_dir;
        Vec::new()
    }

    /// `ss auth <platform> --creator ID`: logs the creator in without a browser on this machine
    /// and stores the tokens under `runtime/state`; `None` when the platform has no such login.
    fn login<'a>(
        &'a self,
        request: LoginRequest<'a>,
    ) -> Option<BoxFuture<'a, Result<String, LoginError>>> {
        let _ = request;
        None
    }

    /// The platform's part of `admin/quotas.json`: keys merged into its top level, from the store
    /// (`ss export`, or a project no source uses any more) and the running services' view
    /// ([`PlatformServices::live_view`], `None` without a run).
    fn quota_export(&self, quotas: &QuotaExport<'_>) -> serde_json::Map<String, serde_json::Value> {
        let _ = quotas;
        serde_json::Map::new()
    }
}

/// A credential a platform keeps under `runtime/state`, as `ss auth status` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredCredential {
    pub platform: Platform,
    pub creator: String,
    /// The user it logs in as, when the platform records it.
    pub user: Option<String>,
    pub scopes: Vec<String>,
    /// When its access token expires, when known.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether it can be refreshed without logging in again.
    pub refreshable: bool,
    pub file: String,
    /// Why the file cannot be used, when it cannot.
    pub problem: Option<String>,
}

/// What `ss auth <platform>` hands the platform's login.
pub struct LoginRequest<'a> {
    pub config: &'a Config,
    pub root: &'a Path,
    pub secrets: &'a Secrets,
    pub creator: &'a str,
    /// The scopes to ask for; `None` for the platform's default.
    pub scopes: Option<Vec<String>>,
    /// Says a line to the person logging in (the address to open, the code to enter).
    pub say: &'a (dyn Fn(&str) + Send + Sync),
}

/// Why a login did not complete.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The command line or the config does not allow it (unknown creator, no client id, ...).
    #[error("{0}")]
    Usage(String),
    /// The platform refused, the code expired, or the network failed.
    #[error("{0}")]
    Failed(String),
}

/// One platform's module, as registered at link time.
pub struct RegisteredModule(pub &'static dyn PlatformModule);

inventory::collect!(RegisteredModule);

/// The module of `platform`; `None` for a platform without one (never registered).
pub fn module_of(platform: Platform) -> Option<&'static dyn PlatformModule> {
    static ALL: OnceLock<Vec<&'static dyn PlatformModule>> = OnceLock::new();
    ALL.get_or_init(|| {
        inventory::iter::<RegisteredModule>
            .into_iter()
            .map(|r| r.0)
            .collect()
    })
    .iter()
    .copied()
    .find(|m| m.platform() == platform)
}

/// Every registered module, in export order.
pub fn modules() -> impl Iterator<Item = &'static dyn PlatformModule> {
    Platform::all().iter().filter_map(|p| module_of(*p))
}

/// What building one creator's source may use.
pub struct SourceBuild<'a> {
    pub config: &'a Config,
    pub creator: &'a str,
    /// The creator's block of this platform.
    pub block: &'a PlatformBlock,
    /// The platform's own keys in platforms.json.
    pub own: PlatformOwn<'a>,
    pub secrets: &'a Secrets,
    /// `runtime/state`: where a source keeps what it must remember across runs.
    pub state_dir: &'a Path,
    /// The platform's services of this run, when it started some.
    pub services: Option<&'a dyn PlatformServices>,
}

impl SourceBuild<'_> {
    /// The block's typed settings, or the error that the block is not this platform's.
    pub fn settings<T: 'static>(&self) -> Result<&T, SourceError> {
        self.block.settings().ok_or_else(|| {
            SourceError::InvalidSettings("the block is not this platform's settings".into())
        })
    }

    /// The services of this run as the platform's own type.
    pub fn services<T: 'static>(&self) -> Option<&T> {
        self.services?.as_any().downcast_ref()
    }
}

/// What starting a platform's services may use.
pub struct ServiceStart<'a> {
    pub config: &'a Config,
    /// The runtime root (files named in config are relative to it).
    pub root: &'a Path,
    pub secrets: &'a Secrets,
}

/// A run's parts a platform's services may use once the pipeline exists.
#[derive(Clone)]
pub struct RunParts {
    /// The data lane, for events that arrive outside a source (webhooks). Let go of it at `close`.
    pub sink: EventSink,
    pub guards: Arc<Guards>,
    pub wire: WireLimits,
    /// Where spends of a platform's budget are recorded before the call is made.
    pub ledger: Arc<dyn Ledger>,
    /// Where a platform's webhook keeps the delivery ids it accepted, across restarts.
    pub deliveries: Arc<dyn DeliveryLog>,
    pub shutdown: CancellationToken,
}

/// A source's status as the run knows it: (creator, platform, handle).
pub type SourceStatus = (String, Platform, StatusHandle);

/// What a platform runs once per run beside its sources.
pub trait PlatformServices: Send + Sync {
    /// The services as their own type (for the platform's [`SourceBuild::services`]).
    fn as_any(&self) -> &dyn Any;

    /// HTTP routes of the platform (webhooks), merged into the local server outside its token
    /// check: they authenticate their requests themselves.
    fn routes(&self) -> Vec<axum::Router> {
        Vec::new()
    }

    /// The pipeline exists: take what the services need from it.
    fn open(&self, run: &RunParts) {
        let _ = run;
    }

    /// Every source was started. Returns statuses the services report into for creators whose
    /// source does not run (a go-live poller without a chat source), for the go-live watcher.
    fn sources_started(
        &self,
        sources: &[SourceStatus],
        secrets: &Secrets,
        shutdown: &CancellationToken,
        tasks: &TaskTracker,
    ) -> Vec<SourceStatus> {
        let _ = (sources, secrets, shutdown, tasks);
        Vec::new()
    }

    /// The run is stopping: let go of the pipeline's parts.
    fn close(&self) {}

    /// The running state to export (read by [`PlatformModule::quota_export`]).
    fn live_view(&self, now: chrono::DateTime<chrono::Utc>) -> Option<serde_json::Value> {
        let _ = now;
        None
    }
}

/// What a platform's part of `admin/quotas.json` is made from.
pub struct QuotaExport<'a> {
    pub config: &'a Config,
    /// What the ledger holds of the days around now (yesterday to tomorrow in UTC, so every time
    /// zone's today is in it), every budget of every platform.
    pub ledger: &'a [LedgerRow],
    pub now: chrono::DateTime<chrono::Utc>,
    /// The platform's [`PlatformServices::live_view`] in the running runtime.
    pub live: Option<&'a serde_json::Value>,
}

/// One spend of a platform's budget (a YouTube Google project's daily units): recorded before the
/// call is made, so a restart continues from what was spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerSpend {
    pub platform: Platform,
    /// The budget spent from (a Google project).
    pub budget: String,
    /// The budget's day (the platform's quota day).
    pub day: chrono::NaiveDate,
    /// The call it paid for.
    pub method: &'static str,
    pub units: i64,
}

/// One method's spend of one budget on one day, as the ledger kept it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub budget: String,
    pub day: chrono::NaiveDate,
    pub method: String,
    pub calls: i64,
    pub units: i64,
}

/// What one method of a budget cost on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LedgerUse {
    pub calls: u64,
    pub units: u64,
}

/// Where platforms' webhooks keep the delivery ids they accepted, for their replay window (the
/// pipeline keeps them in the store).
pub trait DeliveryLog: Send + Sync {
    /// Records that `source`'s webhook (a platform's name, or `hook:{name}`) accepted delivery
    /// `id` at `at_ms`, and forgets those `source` accepted before `keep_from_ms`; waits until it
    /// is queued to the store.
    fn accepted(
        &self,
        source: &str,
        id: String,
        at_ms: i64,
        keep_from_ms: i64,
    ) -> super::BoxFuture<'_, ()>;

    /// The delivery ids `source`'s webhook accepted at or after `since_ms` (empty, and logged,
    /// when they cannot be read).
    fn recent(&self, source: &str, since_ms: i64) -> super::BoxFuture<'_, Vec<String>>;
}

/// Where spends of platforms' budgets are kept (the pipeline keeps them in the store).
pub trait Ledger: Send + Sync {
    /// Records a spend; waits until it is queued to the store, not until it is committed.
    fn spend(&self, spend: LedgerSpend) -> super::BoxFuture<'_, ()>;

    /// What `budget` spent on `day`, by method (empty when unknown or unreadable).
    fn spent(&self, budget: &str, day: chrono::NaiveDate) -> Vec<(String, LedgerUse)>;
}

/// The services of every platform that started some for a run.
#[derive(Clone, Default)]
pub struct RunServices {
    started: Vec<(Platform, Arc<dyn PlatformServices>)>,
}

impl RunServices {
    /// No services: a role that runs no sources (`ss run --role evaluate|export`).
    pub fn none() -> RunServices {
        RunServices {
            started: Vec::new(),
        }
    }

    /// Starts every registered platform's services for `config`.
    pub fn start(run: &ServiceStart<'_>) -> Result<RunServices, String> {
        let mut started = Vec::new();
        for module in modules() {
            if let Some(services) = module.start_services(run)? {
                started.push((module.platform(), services));
            }
        }
        Ok(RunServices { started })
    }

    /// `platform`'s services, when it started some.
    pub fn get(&self, platform: Platform) -> Option<&dyn PlatformServices> {
        self.started
            .iter()
            .find(|(p, _)| *p == platform)
            .map(|(_, s)| s.as_ref())
    }

    /// Every platform's HTTP routes.
    pub fn routes(&self) -> Vec<axum::Router> {
        self.started.iter().flat_map(|(_, s)| s.routes()).collect()
    }

    /// The names of the platforms that serve routes, for the log.
    pub fn with_routes(&self) -> Vec<Platform> {
        self.started
            .iter()
            .filter(|(_, s)| !s.routes().is_empty())
            .map(|(p, _)| *p)
            .collect()
    }

    pub fn open(&self, run: &RunParts) {
        for (_, services) in &self.started {
            services.open(run);
        }
    }

    /// See [`PlatformServices::sources_started`].
    pub fn sources_started(
        &self,
        sources: &[SourceStatus],
        secrets: &Secrets,
        shutdown: &CancellationToken,
        tasks: &TaskTracker,
    ) -> Vec<SourceStatus> {
        self.started
            .iter()
            .flat_map(|(_, s)| s.sources_started(sources, secrets, shutdown, tasks))
            .collect()
    }

    pub fn close(&self) {
        for (_, services) in &self.started {
            services.close();
        }
    }

    /// Every platform's live view, by platform name.
    pub fn live_views(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> std::collections::BTreeMap<String, serde_json::Value> {
        self.started
            .iter()
            .filter_map(|(p, s)| Some((p.as_str().to_owned(), s.live_view(now)?)))
            .collect()
    }
}
