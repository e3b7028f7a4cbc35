//! `ss replay --stats`: counts over the replayed events and their actions, instead of the actions.
//!
//! Events by platform and kind, distinct chatters (by platform and user id), actions by type and by
//! trigger, skipped lines, and the span of event times. Every table is ordered, so the output is the
//! same on every run.

use super::{Observer, Summary};
use crate::actions::{Action, ActionKind};
use crate::event::{ChatEvent, Tick, platform_id_hash};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

/// Counts gathered while replaying.
#[derive(Debug, Default)]
pub struct Stats {
    events: BTreeMap<(&'static str, &'static str), u64>,
    chatters: HashSet<u64>,
    by_type: BTreeMap<&'static str, u64>,
    by_trigger: BTreeMap<(String, String), u64>,
    /// Moderation decisions by (creator, filter, decision, dry run).
    moderation: BTreeMap<(String, String, &'static str, bool), u64>,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
}

impl Observer for Stats {
    fn event(&mut self, event: &ChatEvent, actions: &[Action]) -> anyhow::Result<()> {
        *self
            .events
            .entry((event.platform.as_str(), event.kind.as_str()))
            .or_default() += 1;
        if !event.author.id.is_empty() {
            self.chatters
                .insert(platform_id_hash(event.platform, &event.author.id));
        }
        self.first = Some(
            self.first
                .map_or(event.timestamp, |t| t.min(event.timestamp)),
        );
        self.last = Some(
            self.last
                .map_or(event.timestamp, |t| t.max(event.timestamp)),
        );
        self.count_actions(actions);
        Ok(())
    }

    fn tick(&mut self, _tick: &Tick, actions: &[Action]) -> anyhow::Result<()> {
        self.count_actions(actions);
        Ok(())
    }
}

impl Stats {
    fn count_actions(&mut self, actions: &[Action]) {
        for action in actions {
            *self.by_type.entry(action.kind.type_name()).or_default() += 1;
            if let ActionKind::Moderate {
                filter,
                decision,
                dry_run,
                ..
            } = &action.kind
            {
                *self
                    .moderation
                    .entry((
                        action.creator.clone(),
                        filter.clone(),
                        decision.as_str(),
                        *dry_run,
                    ))
                    .or_default() += 1;
            }
            if let Some(n) = self
                .by_trigger
                .get_mut(&(action.creator.clone(), action.trigger_id.clone()))
            {
                *n += 1;
            } else {
                self.by_trigger
                    .insert((action.creator.clone(), action.trigger_id.clone()), 1);
            }
        }
    }
}

/// The report, as `--format json` prints it.
#[derive(Debug, Serialize)]
pub struct Report {
    pub events: u64,
    pub duplicates: u64,
    pub skipped_lines: u64,
    pub distinct_chatters: u64,
    pub first_event_at: Option<String>,
    pub last_event_at: Option<String>,
    pub span_s: f64,
    pub events_by_platform_kind: Vec<EventCount>,
    pub actions: u64,
    pub actions_by_type: BTreeMap<&'static str, u64>,
    pub actions_by_trigger: Vec<TriggerCount>,
    /// Moderation decisions by creator, filter and decision.
    pub moderation: Vec<ModerationCount>,
}

#[derive(Debug, Serialize)]
pub struct ModerationCount {
    pub creator: String,
    pub filter: String,
    pub decision: &'static str,
    /// Decided in a dry run (`"mode": "log"`): nothing would have been sent.
    pub dry_run: bool,
    pub decisions: u64,
}

#[derive(Debug, Serialize)]
pub struct EventCount {
    pub platform: &'static str,
    pub kind: &'static str,
    pub events: u64,
}

#[derive(Debug, Serialize)]
pub struct TriggerCount {
    pub creator: String,
    pub trigger_id: String,
    pub actions: u64,
}

fn time(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

impl Stats {
    pub fn report(self, summary: &Summary) -> Report {
        let span_ms = match (self.first, self.last) {
            (Some(a), Some(b)) => (b - a).num_milliseconds(),
            _ => 0,
        };
        Report {
            events: summary.events_selected,
            duplicates: summary.duplicates,
            skipped_lines: summary.skipped_lines,
            distinct_chatters: self.chatters.len() as u64,
            first_event_at: time(self.first),
            last_event_at: time(self.last),
            span_s: span_ms as f64 / 1000.0,
            events_by_platform_kind: self
                .events
                .into_iter()
                .map(|((platform, kind), events)| EventCount {
                    platform,
                    kind,
                    events,
                })
                .collect(),
            actions: summary.actions,
            actions_by_type: self.by_type,
            actions_by_trigger: self
                .by_trigger
                .into_iter()
                .map(|((creator, trigger_id), actions)| TriggerCount {
                    creator,
                    trigger_id,
                    actions,
                })
                .collect(),
            moderation: self
                .moderation
                .into_iter()
                .map(
                    |((creator, filter, decision, dry_run), decisions)| ModerationCount {
                        creator,
                        filter,
                        decision,
                        dry_run,
                        decisions,
                    },
                )
                .collect(),
        }
    }
}

impl Report {
    /// The report for people.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "events: {} ({} duplicates dropped, {} lines skipped)",
            self.events, self.duplicates, self.skipped_lines
        );
        match (&self.first_event_at, &self.last_event_at) {
            (Some(a), Some(b)) => {
                let _ = writeln!(out, "span: {a} .. {b} ({:.3} s)", self.span_s);
            }
            _ => {
                let _ = writeln!(out, "span: no events");
            }
        }
        let _ = writeln!(out, "distinct chatters: {}", self.distinct_chatters);
        let _ = writeln!(out, "\nevents by platform and kind:");
        for e in &self.events_by_platform_kind {
            let _ = writeln!(out, "  {:<10} {:<14} {:>10}", e.platform, e.kind, e.events);
        }
        let _ = writeln!(out, "\nactions: {}", self.actions);
        let _ = writeln!(out, "actions by type:");
        for (kind, n) in &self.actions_by_type {
            let _ = writeln!(out, "  {kind:<25} {n:>10}");
        }
        let _ = writeln!(out, "actions by trigger:");
        for t in &self.actions_by_trigger {
            let name = format!("{}/{}", t.creator, t.trigger_id);
            let _ = writeln!(out, "  {name:<25} {:>10}", t.actions);
        }
        if !self.moderation.is_empty() {
            let total: u64 = self.moderation.iter().map(|m| m.decisions).sum();
            let _ = writeln!(out, "\nmoderation decisions: {total}");
            for m in &self.moderation {
                let name = format!("{}/{}", m.creator, m.filter);
                let dry = if m.dry_run { " (dry run)" } else { "" };
                let what = format!("{}{dry}", m.decision);
                let _ = writeln!(out, "  {name:<25} {what:<18} {:>10}", m.decisions);
            }
        }
        out
    }
}
