//! YouTube's entry in the platform registry: its identity, its creators.json block and checks, its
//! platforms.json keys, how its source is built, and its per-run service: the quota book, one
//! planner per Google project shared by every YouTube source of the run, whose spends go to the
//! run's ledger before each call, and whose state is YouTube's part of `admin/quotas.json`.

use super::quota::{Method, MethodUse, QuotaBook, QuotaJournal, Spend, next_reset, quota_day};
use super::{YoutubeEndpoints, YoutubeSource, project_id};
use crate::config::model::{Creator, RateLimitsConfig};
use crate::config::platform::{
    Check, Credential, PlatformBlock, PlatformConfig, Settings, parse_settings, schema_part,
};
use crate::event::{Platform, PlatformInfo};
use crate::sources::registry::{
    Ledger, LedgerSpend, PlatformModule, PlatformServices, QuotaExport, RunParts, ServiceStart,
    SourceBuild,
};
use crate::sources::{BoxFuture, Source, SourceError};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::{Arc, OnceLock};

/// YouTube's identity.
pub static YOUTUBE_INFO: PlatformInfo = PlatformInfo {
    name: "youtube",
    title: "YouTube",
    rank: 10,
    colour: Some(0x00FF_0000),
    emotes: None,
};

/// YouTube.
pub const YOUTUBE: Platform = Platform::new(&YOUTUBE_INFO);

/// YouTube's module in the registry.
pub struct Youtube;

crate::register_platform!(YOUTUBE_INFO, Youtube);

/// A creator's `youtube` block: YouTube live chat through the Data API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YoutubeSettings {
    #[serde(default)]
    pub enabled: bool,
    /// The channel whose live broadcast is read.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// A fixed live chat id, instead of discovering the active broadcast.
    #[serde(default)]
    pub live_chat_id: Option<String>,
    /// Environment variable with an API key (reading).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Environment variable with an OAuth access token (sending).
    #[serde(default)]
    pub oauth_token_env: Option<String>,
    /// A video whose live chat is read (found with `videos.list`, 1 unit).
    #[serde(default)]
    pub video_id: Option<String>,
    /// Seconds between discovery attempts while offline (default 300; stretched when the budget
    /// needs it).
    #[serde(default = "YoutubeSettings::default_discovery_interval_s")]
    pub discovery_interval_s: u64,
    /// `list` (default) polls `liveChatMessages.list`; `stream` uses the gRPC `streamList`.
    #[serde(default)]
    pub transport: YoutubeTransport,
    /// Names the Google project whose quota this source spends. Default: one project per API key
    /// (or per OAuth token variable without a key); creators that share a key share the budget.
    #[serde(default)]
    pub quota_project: Option<String>,
}

impl YoutubeSettings {
    pub(crate) fn default_discovery_interval_s() -> u64 {
        300
    }
}

/// How a YouTube source reads chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum YoutubeTransport {
    #[default]
    List,
    Stream,
}

/// ratelimits.json `youtube_quota`: the YouTube Data API daily quota budget of each Google project
/// (units reset at midnight Pacific).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YoutubeQuota {
    /// Units per day the project has (default 10000).
    #[serde(default = "YoutubeQuota::default_daily")]
    pub daily_units: u32,
    /// Units kept back for sending and recovery (default 1000).
    #[serde(default = "YoutubeQuota::default_reserve")]
    pub reserve_units: u32,
    /// Never spend past this many units in a day (default 9500).
    #[serde(default = "YoutubeQuota::default_hard_cap")]
    pub hard_cap_units: u32,
    /// How long a stream is expected to last, counted from the chat's start (default 8): polling
    /// spreads its budget over this time.
    #[serde(default = "YoutubeQuota::default_plan_hours")]
    pub plan_hours: f64,
    /// The shortest wait between polls, whatever the plan (default 1000).
    #[serde(default = "YoutubeQuota::default_min_interval_ms")]
    pub min_interval_ms: u64,
    /// Units per call, from Google's published cost table.
    #[serde(default)]
    pub costs: QuotaCosts,
}

/// Units each YouTube Data API method costs (Google's cost table; configurable because Google
/// changes it and a project may have a negotiated table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaCosts {
    #[serde(default = "QuotaCosts::default_list")]
    pub list: u32,
    #[serde(default = "QuotaCosts::default_one")]
    pub videos_list: u32,
    #[serde(default = "QuotaCosts::default_search")]
    pub search_list: u32,
    #[serde(default = "QuotaCosts::default_one")]
    pub live_broadcasts_list: u32,
    /// `liveChatMessages.insert`: 20 units, its published quota impact.
    #[serde(default = "QuotaCosts::default_insert")]
    pub insert: u32,
    /// `liveChatBans.insert`, `liveChatBans.delete` and `liveChatMessages.delete` (no published
    /// cost: 50 budgeted).
    #[serde(default = "QuotaCosts::default_moderation")]
    pub moderation: u32,
}

impl QuotaCosts {
    fn default_list() -> u32 {
        5
    }
    fn default_one() -> u32 {
        1
    }
    fn default_search() -> u32 {
        100
    }
    fn default_insert() -> u32 {
        20
    }
    fn default_moderation() -> u32 {
        50
    }
}

impl Default for QuotaCosts {
    fn default() -> Self {
        QuotaCosts {
            list: Self::default_list(),
            videos_list: Self::default_one(),
            search_list: Self::default_search(),
            live_broadcasts_list: Self::default_one(),
            insert: Self::default_insert(),
            moderation: Self::default_moderation(),
        }
    }
}

impl YoutubeQuota {
    pub(crate) fn default_daily() -> u32 {
        10_000
    }
    fn default_reserve() -> u32 {
        1_000
    }
    fn default_hard_cap() -> u32 {
        9_500
    }
    fn default_plan_hours() -> f64 {
        8.0
    }
    fn default_min_interval_ms() -> u64 {
        1_000
    }
}

impl Default for YoutubeQuota {
    fn default() -> Self {
        Self {
            daily_units: Self::default_daily(),
            reserve_units: Self::default_reserve(),
            hard_cap_units: Self::default_hard_cap(),
            plan_hours: Self::default_plan_hours(),
            min_interval_ms: Self::default_min_interval_ms(),
            costs: QuotaCosts::default(),
        }
    }
}

/// The quota budget ratelimits.json sets (`youtube_quota`), else the defaults.
pub fn quota_settings(ratelimits: &RateLimitsConfig) -> YoutubeQuota {
    ratelimits
        .own
        .get(QUOTA_KEY)
        .map(|v| {
            YoutubeQuota::deserialize(v).unwrap_or_else(|e| {
                // The schema checked it before; this is a build whose schema and type disagree.
                tracing::warn!(platform = %YOUTUBE, "ratelimits.json {QUOTA_KEY}: {e}; using the defaults");
                YoutubeQuota::default()
            })
        })
        .unwrap_or_default()
}

/// YouTube's key in ratelimits.json.
const QUOTA_KEY: &str = "youtube_quota";

impl PlatformConfig for Youtube {
    fn platform(&self) -> Platform {
        YOUTUBE
    }

    fn block_schema(&self) -> Value {
        schema_part(include_str!("creators_block.schema.json"))
    }

    fn parse_block(&self, raw: &Value) -> Result<Settings, serde_json::Error> {
        parse_settings::<YoutubeSettings>(raw)
    }

    fn check_creator(&self, _creator: &Creator, block: Option<&PlatformBlock>, check: &mut Check) {
        let Some(y) = block.and_then(PlatformBlock::settings::<YoutubeSettings>) else {
            return;
        };
        check.env_name("api_key_env", y.api_key_env.as_ref());
        check.env_name("oauth_token_env", y.oauth_token_env.as_ref());
        if y.enabled && y.channel_id.is_none() && y.live_chat_id.is_none() && y.video_id.is_none() {
            check.error(
                "",
                "an enabled YouTube block needs one of `live_chat_id`, `video_id` or `channel_id`",
            );
        }
        if y.enabled && y.api_key_env.is_none() && y.oauth_token_env.is_none() {
            check.error(
                "",
                "an enabled YouTube block needs `api_key_env` (reading) or `oauth_token_env` (reading and replies)",
            );
        }
    }

    fn platforms_json_schema(&self) -> Value {
        schema_part(include_str!("platforms_block.schema.json"))
    }

    fn ratelimits_keys(&self) -> Map<String, Value> {
        let mut keys = Map::new();
        keys.insert(
            QUOTA_KEY.into(),
            schema_part(include_str!("ratelimits_quota.schema.json")),
        );
        keys
    }

    fn check_ratelimits(&self, ratelimits: &RateLimitsConfig, check: &mut Check) {
        let q = quota_settings(ratelimits);
        if q.hard_cap_units > q.daily_units {
            check.error_at(
                "youtube_quota/hard_cap_units",
                format!(
                    "hard_cap_units ({}) exceeds daily_units ({}); the cap must fit in the daily budget",
                    q.hard_cap_units, q.daily_units
                ),
            );
        }
        if q.reserve_units >= q.hard_cap_units {
            check.error_at(
                "youtube_quota/reserve_units",
                format!(
                    "reserve_units ({}) leaves nothing below hard_cap_units ({}); lower the reserve",
                    q.reserve_units, q.hard_cap_units
                ),
            );
        }
    }

    fn credentials(&self, block: &PlatformBlock) -> Vec<Credential> {
        let Some(y) = block.settings::<YoutubeSettings>() else {
            return Vec::new();
        };
        [
            Credential::named("read", y.api_key_env.as_ref()),
            Credential::named("send", y.oauth_token_env.as_ref()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    fn moderation(&self, block: &PlatformBlock) -> Result<(), String> {
        match block.settings::<YoutubeSettings>() {
            Some(y) if y.oauth_token_env.is_some() => Ok(()),
            _ => Err(
                "YouTube moderates only with an OAuth token (an API key cannot): set oauth_token_env in the creator's youtube block (scope youtube or youtube.force-ssl; the token's channel must own or moderate the chat)"
                    .into(),
            ),
        }
    }

    fn channel(&self, block: &PlatformBlock) -> Option<String> {
        let y = block.settings::<YoutubeSettings>()?;
        y.channel_id.clone().or_else(|| y.live_chat_id.clone())
    }
}

impl PlatformModule for Youtube {
    fn build_source(&self, build: &SourceBuild<'_>) -> Result<Source, SourceError> {
        let settings = build.settings::<YoutubeSettings>()?;
        let quotas = build
            .services::<Quotas>()
            .ok_or_else(|| SourceError::Other("the run's YouTube quota book is not open".into()))?;
        let ledger = quotas.ledger.get().cloned();
        let spent = |project: &str, day| spent_from(ledger.as_deref(), project, day);
        let project = quotas.book().project(
            &project_id(settings, build.secrets),
            quota_settings(&build.config.ratelimits),
            &spent,
            Utc::now(),
        );
        let endpoints = YoutubeEndpoints::from_platform(build.own);
        Ok(Source::Polling(Box::new(
            YoutubeSource::new(build.creator, settings, project)?.with_endpoints(endpoints),
        )))
    }

    fn start_services(
        &self,
        _run: &ServiceStart<'_>,
    ) -> Result<Option<Arc<dyn PlatformServices>>, String> {
        Ok(Some(Arc::new(Quotas::default())))
    }

    /// `youtube` (the budget's settings) and `projects`: the running planner's projects first
    /// (planned interval, readers), then projects only the store knows today (`ss export`, or a
    /// project no source uses any more).
    fn quota_export(&self, quotas: &QuotaExport<'_>) -> Map<String, Value> {
        let quota = &quota_settings(&quotas.config.ratelimits);
        let mut projects: Vec<Value> = quotas
            .live
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let day = quota_day(quotas.now);
        let mut stored: std::collections::BTreeMap<&str, Vec<_>> =
            std::collections::BTreeMap::new();
        for row in quotas.ledger.iter().filter(|r| r.day == day) {
            stored.entry(row.budget.as_str()).or_default().push(row);
        }
        for (project, rows) in stored {
            if projects.iter().any(|p| p["project"] == project) {
                continue;
            }
            let used: i64 = rows.iter().map(|r| r.units).sum();
            let calls: Map<String, Value> = rows
                .iter()
                .map(|r| {
                    (
                        r.method.clone(),
                        json!({"calls": r.calls, "units": r.units}),
                    )
                })
                .collect();
            projects.push(json!({
                "project": project,
                "day": day.to_string(),
                "units_used": used,
                "units_left": (i64::from(quota.hard_cap_units) - used).max(0),
                "calls": calls,
                "readers": 0,
                "planned_interval_ms": null,
                "reset_at": at(next_reset(quotas.now)),
                "exhausted_until": null,
                "projected_exhaustion": null,
            }));
        }
        let mut out = Map::new();
        out.insert(
            "youtube".into(),
            json!({
                "daily_units": quota.daily_units,
                "reserve_units": quota.reserve_units,
                "hard_cap_units": quota.hard_cap_units,
                "plan_hours": quota.plan_hours,
                "min_interval_ms": quota.min_interval_ms,
                "costs": quota.costs,
            }),
        );
        out.insert("projects".into(), Value::Array(projects));
        out
    }
}

/// A time as the exports write it (`export::timestamp`'s format).
fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// What `project` spent on `day` by method, from the ledger (nothing without one: the planner then
/// trusts Google's quotaExceeded, and says so).
fn spent_from(
    ledger: Option<&dyn Ledger>,
    project: &str,
    day: chrono::NaiveDate,
) -> Vec<(Method, MethodUse)> {
    let Some(ledger) = ledger else {
        return Vec::new();
    };
    ledger
        .spent(project, day)
        .into_iter()
        .filter_map(|(method, used)| {
            Some((
                Method::from_name(&method)?,
                MethodUse {
                    calls: used.calls,
                    units: used.units,
                },
            ))
        })
        .collect()
}

/// YouTube's per-run service: the run's quota book, journaled to the run's ledger.
#[derive(Default)]
struct Quotas {
    ledger: OnceLock<Arc<dyn Ledger>>,
    book: OnceLock<QuotaBook>,
}

impl Quotas {
    fn book(&self) -> &QuotaBook {
        self.book.get_or_init(|| {
            let journal = self
                .ledger
                .get()
                .map(|l| Arc::new(LedgerJournal(l.clone())) as Arc<dyn QuotaJournal>);
            QuotaBook::new(journal)
        })
    }
}

impl PlatformServices for Quotas {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn open(&self, run: &RunParts) {
        let _ = self.ledger.set(run.ledger.clone());
    }

    /// The planner's projects, as `admin/quotas.json` lists them.
    fn live_view(&self, now: DateTime<Utc>) -> Option<Value> {
        let projects: Vec<Value> = self
            .book()
            .snapshots(now)
            .into_iter()
            .map(|q| {
                json!({
                    "project": q.project,
                    "day": q.day.to_string(),
                    "units_used": q.units_used,
                    "units_left": q.units_left,
                    "calls": q.calls,
                    "readers": q.readers,
                    "planned_interval_ms": q.planned_interval_ms,
                    "reset_at": at(q.reset_at),
                    "exhausted_until": q.exhausted_until.map(at),
                    "projected_exhaustion": q.projected_exhaustion.map(at),
                })
            })
            .collect();
        Some(Value::Array(projects))
    }
}

/// The quota planner's journal: each spend to the run's ledger, before the call is made.
struct LedgerJournal(Arc<dyn Ledger>);

impl QuotaJournal for LedgerJournal {
    fn record(&self, spend: Spend) -> BoxFuture<'_, ()> {
        self.0.spend(LedgerSpend {
            platform: YOUTUBE,
            budget: spend.project,
            day: spend.day,
            method: spend.method.as_str(),
            units: i64::from(spend.units),
        })
    }
}
