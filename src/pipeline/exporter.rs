//! The exporter task of `ss run`: snapshots on the configured cadence, at once on important changes,
//! and a final one at shutdown with the final counters.
//!
//! It reads the store through the store's reader pool, on the blocking pool (WAL lets it read while
//! the writer writes), builds a
//! [`RuntimeView`] from the live counters, source statuses, lane probe, writer health and telemetry,
//! and hands both to the export builders and the atomic writer, which skip files whose content did not
//! change. It reads the running config from the same watch channel the run loop applies reloads from,
//! so every export shows the config that runs. It samples the counters once a second for the rolling
//! rates, and records a telemetry error when the store writer becomes degraded.

use super::counters::RunCounters;
use super::summary::{FinalExportError, SnapshotError};
use crate::config::Config;
use crate::effects::sinks::Validated;
use crate::event::Platform;
use crate::export::runtime_view::{Counters, RuntimeView, SourceView};
use crate::lanes::{LaneProbe, LaneSnapshot};
use crate::sources::StatusHandle;
use crate::store::{Readers, StoreReader, WriterStats};
use crate::telemetry::Telemetry;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often counters are sampled for the rate windows.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Everything the exporter reads.
pub struct ExporterParts {
    pub root: PathBuf,
    /// The running config: updated on every accepted hot reload.
    pub config: watch::Receiver<Arc<Config>>,
    /// The store's reader pool.
    pub readers: Readers,
    pub sources: Vec<(String, Platform, StatusHandle)>,
    pub counters: Arc<RunCounters>,
    pub writer_stats: Arc<WriterStats>,
    pub lane: LaneProbe,
    pub telemetry: Telemetry,
    pub validated: Validated,
    pub export_now: Arc<Notify>,
    pub started_at: DateTime<Utc>,
    /// The platforms' per-run services (their live views are exported).
    pub services: crate::sources::registry::RunServices,
    /// What the notification senders did.
    pub notify: crate::notify::stats::NotifyStats,
    /// What the incoming webhooks took and refused.
    pub hooks: crate::hooks::HookStats,
    /// The clip captures.
    pub captures: crate::clips::CaptureViews,
    /// The OBS connections.
    pub obs: Vec<crate::obs::status::ObsStatus>,
    /// The last chat trends the run loop published.
    pub trends: crate::trends::SharedTrends,
    /// The extensions and their counters.
    pub extensions: crate::extensions::Extensions,
    /// The bus, when this run is one of its roles.
    pub bus: Option<crate::bus::stats::BusProbe>,
}

impl ExporterParts {
    fn counters(&self, events_recorded: u64, lane: &LaneSnapshot) -> Counters {
        self.counters
            .snapshot(events_recorded, lane.dropped, lane.shed)
    }

    fn view(&self, events_recorded: u64) -> RuntimeView {
        let lane = self.lane.snapshot();
        let writer = self.writer_stats.snapshot();
        RuntimeView {
            writer,
            started_at: Some(self.started_at),
            stopped: false,
            sources: self
                .sources
                .iter()
                .map(|(creator, platform, status)| SourceView {
                    creator: creator.clone(),
                    platform: *platform,
                    status: status.snapshot(),
                })
                .collect(),
            counters: self.counters(events_recorded, &lane),
            lanes: BTreeMap::from([("data".to_string(), lane)]),
            telemetry_events: self.telemetry.events(),
            telemetry_errors: self.telemetry.errors(),
            rates: self.telemetry.rates(),
            validated: self
                .validated
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            platforms: self.services.live_views(Utc::now()),
            notify: self.notify.snapshot(),
            hooks: self.hooks.snapshot(),
            captures: self.captures.snapshot(),
            obs: self
                .obs
                .iter()
                .map(crate::obs::status::ObsStatus::snapshot)
                .collect(),
            trends: self
                .trends
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            extensions: self.extensions.views(),
            bus: self.bus.as_ref().map(crate::bus::stats::BusProbe::snapshot),
        }
    }

    fn sample(&self) {
        let c = self.counters(
            self.writer_stats.events_recorded.load(Ordering::Relaxed),
            &self.lane.snapshot(),
        );
        let mut totals = BTreeMap::from([
            ("events_received".to_string(), c.events_received),
            ("events_recorded".to_string(), c.events_recorded),
            ("events_dropped".to_string(), c.events_dropped),
            ("duplicates_skipped".to_string(), c.duplicates_skipped),
            ("triggers_matched".to_string(), c.triggers_matched),
        ]);
        for (name, n) in c.actions {
            totals.insert(format!("actions.{name}"), n);
        }
        self.telemetry.sample(Utc::now().timestamp_millis(), totals);
    }
}

/// Writes one full snapshot; `what` names it in errors ("writing exports").
fn write_snapshot(
    parts: &ExporterParts,
    store: &StoreReader,
    view: &RuntimeView,
) -> Result<(), SnapshotError> {
    let config = parts.config.borrow().clone();
    let files = crate::export::build_all(&parts.root, &config, Some(store), view, Utc::now())
        .map_err(SnapshotError::Build)?;
    crate::export::writer::write_all(&parts.root.join("runtime"), &files)
        .map(drop)
        .map_err(SnapshotError::Write)
}

/// The running exporter.
pub struct Exporter {
    parts: Arc<ExporterParts>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Exporter {
    /// Starts the cadence loop as a task of `tasks`.
    pub fn start(parts: ExporterParts, tasks: &TaskTracker) -> Exporter {
        let parts = Arc::new(parts);
        let stop = CancellationToken::new();
        let task = tasks.spawn(cadence_loop(parts.clone(), stop.clone()));
        Exporter { parts, stop, task }
    }

    /// Events the writer has committed so far (for a final snapshot when the writer failed).
    pub fn recorded_so_far(&self) -> u64 {
        self.parts
            .writer_stats
            .events_recorded
            .load(Ordering::Relaxed)
    }

    /// Stops the cadence and writes the final snapshot with the final recorded count. Returns the
    /// final counters whether or not the snapshot could be written, and what writing it gave.
    pub async fn finish(self, events_recorded: u64) -> (Counters, Result<(), FinalExportError>) {
        self.stop.cancel();
        let _ = self.task.await;
        let parts = self.parts.clone();
        let view = RuntimeView {
            stopped: true,
            ..parts.view(events_recorded)
        };
        let counters = view.counters.clone();
        let readers = parts.readers.clone();
        let written = readers
            .read(move |store| write_snapshot(&parts, store, &view))
            .await
            .map_err(SnapshotError::Read)
            .and_then(|written| written)
            .map_err(FinalExportError);
        (counters, written)
    }
}

async fn cadence_loop(parts: Arc<ExporterParts>, stop: CancellationToken) {
    let cadence = Duration::from_secs_f64(parts.config.borrow().system.exports.cadence_s.max(0.1));
    let mut export_tick = tokio::time::interval(cadence);
    let mut sample_tick = tokio::time::interval(SAMPLE_EVERY);
    let mut degraded_since = None;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = sample_tick.tick() => {
                parts.sample();
                degraded_since = note_degraded(&parts, degraded_since);
                continue;
            }
            _ = export_tick.tick() => {}
            () = parts.export_now.notified() => {}
        }
        let exporting = parts.clone();
        let result = parts
            .readers
            .read(move |store| {
                let view = exporting.view(
                    exporting
                        .writer_stats
                        .events_recorded
                        .load(Ordering::Relaxed),
                );
                write_snapshot(&exporting, store, &view)
            })
            .await
            .map_err(SnapshotError::Read)
            .and_then(|written| written);
        if let Err(e) = result {
            tracing::warn!(error = %format!("{e:#}"), "Export failed; will retry on the next tick.");
            parts
                .telemetry
                .error("export_failed", "exporter", format!("{e:#}"));
        }
    }
}

/// Records a telemetry error once per degraded streak of the store writer; returns the streak's start.
fn note_degraded(parts: &ExporterParts, seen: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    let degraded = parts.writer_stats.degraded()?;
    if seen != Some(degraded.since) {
        parts.telemetry.error(
            "store_degraded",
            "store",
            format!(
                "{}; writes are held and retried, nothing is dropped",
                degraded.reason
            ),
        );
    }
    Some(degraded.since)
}
