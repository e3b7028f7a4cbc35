//! The live runtime state the exporter reads: what `ss run` knows that the store does not.
//!
//! `ss run` fills a [`RuntimeView`] on every export tick; `ss export` (no workers running) uses
//! [`RuntimeView::idle`], so runtime_snapshot.json, platforms.json and telemetry still validate and say
//! plainly that nothing is running.

use crate::event::Platform;
use crate::lanes::LaneSnapshot;
use crate::sources::SourceStatus;
use crate::store::WriterStatsSnapshot;
use crate::telemetry::{RateWindow, TelemetryError, TelemetryEvent};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// One source's status, as the supervisor reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceView {
    pub creator: String,
    pub platform: Platform,
    pub status: SourceStatus,
}

/// Counters of one run. Keys are stable: dashboards read them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Counters {
    pub events_received: u64,
    pub events_recorded: u64,
    pub events_dropped: u64,
    /// Events shed by the data lane because their creator held its share of it.
    pub events_shed: u64,
    pub duplicates_skipped: u64,
    pub triggers_matched: u64,
    /// Executed actions by type (`reply`, `clip`, `tally`, ...).
    pub actions: BTreeMap<String, u64>,
    /// What became of the run's platform commands: queued, sent, failed, dropped, refused.
    pub commands: crate::command::stats::CommandsSnapshot,
    /// What the runtime refused to take on trust, or had to shed, by name (`log_lines_dropped`, ...).
    /// A map, so a new guard adds a key, not a field; a running runtime lists every key (0 when quiet),
    /// an idle view none.
    pub guards: BTreeMap<String, u64>,
}

/// Everything live the exporter needs.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RuntimeView {
    /// When this run started; `None` when no runtime is running (`ss export`).
    pub started_at: Option<DateTime<Utc>>,
    /// Set on the final snapshot of a run, once everything has stopped.
    pub stopped: bool,
    pub sources: Vec<SourceView>,
    pub counters: Counters,
    /// The store writer's committed counts and health (`degraded` while commits fail).
    pub writer: WriterStatsSnapshot,
    /// Lane depth and drops by lane name (`data`, ...).
    pub lanes: BTreeMap<String, LaneSnapshot>,
    /// Newest last, bounded by the runtime.
    pub telemetry_events: Vec<TelemetryEvent>,
    pub telemetry_errors: Vec<TelemetryError>,
    /// The 60 s and 5 min windows.
    pub rates: Vec<RateWindow>,
    /// When each (creator, platform) last passed the validation trigger, keyed `creator/platform`.
    pub validated: BTreeMap<String, DateTime<Utc>>,
    /// What platforms' per-run services show (YouTube: its quota planner's projects), by platform
    /// name; read by the platforms' parts of the exports.
    pub platforms: BTreeMap<String, serde_json::Value>,
    /// The notification senders' counters and state, per destination.
    pub notify: BTreeMap<String, crate::notify::stats::DestinationStats>,
    /// The incoming webhooks' counters, per hook.
    pub hooks: BTreeMap<String, crate::hooks::HookCounters>,
    /// The clip replay buffers (one capture per creator with `clips.capture`).
    pub captures: Vec<crate::clips::capture::CaptureView>,
    /// The OBS connections (one per creator in obs.json).
    pub obs: Vec<crate::obs::status::ObsView>,
    /// The chat trends last published by the run loop (`None` when off or not yet published).
    pub trends: Option<crate::trends::TrendsSnapshot>,
    /// The extensions (extensions.json) and their counters.
    pub extensions: Vec<crate::extensions::stats::ExtensionView>,
    /// The bus, when `ss run` runs as one of its roles.
    pub bus: Option<crate::bus::stats::BusSnapshot>,
}

impl RuntimeView {
    /// Whether a runtime is running as this view is exported.
    pub fn running(&self) -> bool {
        self.started_at.is_some() && !self.stopped
    }

    /// The view when nothing is running.
    pub fn idle() -> RuntimeView {
        RuntimeView::default()
    }
}
