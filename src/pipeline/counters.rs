//! Live counters of one run, as atomics: cheap to bump on the hot path, read by the exporter.

use crate::command::stats::CommandStats;
use crate::export::runtime_view::Counters;
use crate::guards::Guards;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Action type names, in the order of [`RunCounters::actions`].
pub const ACTION_TYPES: [&str; 17] = [
    "reply",
    "say",
    "announce",
    "delete",
    "timeout",
    "ban",
    "unban",
    "clip",
    "tally",
    "poll_vote",
    "score",
    "notify",
    "validation_passed",
    "poll_open",
    "poll_close",
    "poll_refused",
    "standings",
];

#[derive(Debug, Default)]
pub struct RunCounters {
    pub events_received: AtomicU64,
    pub duplicates_skipped: AtomicU64,
    pub triggers_matched: AtomicU64,
    actions: [AtomicU64; ACTION_TYPES.len()],
    /// What this run's sources refused to take on trust; each source holds a clone.
    pub guards: Arc<Guards>,
    /// What became of this run's platform commands; the command sink and every serving loop hold
    /// a clone.
    pub commands: Arc<CommandStats>,
}

impl RunCounters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one executed action of `type_name` (one of [`ACTION_TYPES`]).
    pub fn count_action(&self, type_name: &str) {
        if let Some(i) = ACTION_TYPES.iter().position(|t| *t == type_name) {
            self.actions[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A snapshot for exports; `events_recorded`, `events_dropped` and `events_shed` come from the
    /// store writer and the data lane, which own those numbers.
    pub fn snapshot(
        &self,
        events_recorded: u64,
        events_dropped: u64,
        events_shed: u64,
    ) -> Counters {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counters {
            events_received: load(&self.events_received),
            events_recorded,
            events_dropped,
            events_shed,
            duplicates_skipped: load(&self.duplicates_skipped),
            triggers_matched: load(&self.triggers_matched),
            actions: ACTION_TYPES
                .iter()
                .zip(&self.actions)
                .map(|(name, c)| ((*name).to_string(), load(c)))
                .collect::<BTreeMap<_, _>>(),
            commands: self.commands.snapshot(),
            guards: self.guards.snapshot(),
        }
    }
}
