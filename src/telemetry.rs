//! Telemetry of one run: recent runtime events and errors (bounded), and rolling rates.
//!
//! Events and errors are high-level (a source connected, a config reload was rejected); they never
//! carry chat text or secrets, because telemetry/*.json is public. Rates are computed from counter
//! samples taken once a second, over the last 60 s and 5 min.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

/// A high-level runtime event for telemetry/events.json. Never carries chat text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TelemetryEvent {
    pub at: DateTime<Utc>,
    /// e.g. `source_connected`, `config_reloaded`, `clip_queued`.
    pub kind: String,
    pub subsystem: String,
    pub message: String,
}

/// An error for telemetry/errors.json: type, subsystem, time, message. No stack traces, no secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TelemetryError {
    pub at: DateTime<Utc>,
    pub error_type: String,
    pub subsystem: String,
    pub message: String,
}

/// Rolling rates (per second) over a window, by counter name.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RateWindow {
    pub window_s: u32,
    pub rates: BTreeMap<String, f64>,
    pub totals: BTreeMap<String, u64>,
}

/// Events and errors kept for export.
const RECENT: usize = 100;
/// Samples kept: one per second for five minutes.
const SAMPLES: usize = 301;

#[derive(Debug, Default)]
struct Inner {
    events: VecDeque<TelemetryEvent>,
    errors: VecDeque<TelemetryError>,
    samples: VecDeque<(i64, BTreeMap<String, u64>)>,
}

/// A shared, cloneable telemetry log.
#[derive(Debug, Clone, Default)]
pub struct Telemetry(Arc<Mutex<Inner>>);

fn push_bounded<T>(q: &mut VecDeque<T>, item: T, cap: usize) {
    if q.len() == cap {
        q.pop_front();
    }
    q.push_back(item);
}

impl Telemetry {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Records a runtime event. `message` must not contain chat text or secrets.
    pub fn event(&self, kind: &str, subsystem: &str, message: impl Into<String>) {
        let event = TelemetryEvent {
            at: Utc::now(),
            kind: kind.into(),
            subsystem: subsystem.into(),
            message: message.into(),
        };
        self.with(|i| push_bounded(&mut i.events, event, RECENT));
    }

    /// Records an error. `message` must not contain secrets; no stack traces.
    pub fn error(&self, error_type: &str, subsystem: &str, message: impl Into<String>) {
        let error = TelemetryError {
            at: Utc::now(),
            error_type: error_type.into(),
            subsystem: subsystem.into(),
            message: message.into(),
        };
        self.with(|i| push_bounded(&mut i.errors, error, RECENT));
    }

    /// Adds a sample of cumulative counters taken at `at_ms`.
    pub fn sample(&self, at_ms: i64, totals: BTreeMap<String, u64>) {
        self.with(|i| push_bounded(&mut i.samples, (at_ms, totals), SAMPLES));
    }

    pub fn events(&self) -> Vec<TelemetryEvent> {
        self.with(|i| i.events.iter().cloned().collect())
    }

    pub fn errors(&self) -> Vec<TelemetryError> {
        self.with(|i| i.errors.iter().cloned().collect())
    }

    /// Rates over the 60 s and 300 s windows, from the oldest sample inside each window to the newest.
    pub fn rates(&self) -> Vec<RateWindow> {
        self.with(|i| {
            [60u32, 300]
                .into_iter()
                .map(|window_s| rate_window(&i.samples, window_s))
                .collect()
        })
    }
}

fn rate_window(samples: &VecDeque<(i64, BTreeMap<String, u64>)>, window_s: u32) -> RateWindow {
    let Some((last_at, last)) = samples.back() else {
        return RateWindow {
            window_s,
            ..RateWindow::default()
        };
    };
    let horizon = last_at - i64::from(window_s) * 1000;
    // The newest sample is always inside its own window, so this finds at least that one.
    let (first_at, first) = samples
        .iter()
        .find(|(at, _)| *at >= horizon)
        .map_or((last_at, last), |(at, totals)| (at, totals));
    let span_s = ((last_at - first_at) as f64 / 1000.0).max(0.0);
    let mut window = RateWindow {
        window_s,
        ..RateWindow::default()
    };
    for (name, total) in last {
        let delta = total.saturating_sub(first.get(name).copied().unwrap_or(0));
        window.totals.insert(name.clone(), delta);
        let rate = if span_s > 0.0 {
            delta as f64 / span_s
        } else {
            0.0
        };
        window
            .rates
            .insert(name.clone(), (rate * 100.0).round() / 100.0);
    }
    window
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_cover_each_window() {
        let t = Telemetry::default();
        for s in 0..=300i64 {
            let mut m = BTreeMap::new();
            m.insert("events".to_string(), (s * 10) as u64);
            t.sample(s * 1000, m);
        }
        let rates = t.rates();
        assert_eq!(rates[0].window_s, 60);
        assert_eq!(rates[0].rates["events"], 10.0);
        assert_eq!(rates[0].totals["events"], 600);
        assert_eq!(rates[1].totals["events"], 3000);
    }

    #[test]
    fn recent_events_are_bounded() {
        let t = Telemetry::default();
        for i in 0..500 {
            t.event("x", "test", format!("{i}"));
            t.error("y", "test", "boom");
        }
        assert_eq!(t.events().len(), RECENT);
        assert_eq!(t.events().last().unwrap().message, "499");
        assert_eq!(t.errors().len(), RECENT);
    }
}
