//! One extension's counters, as `runtime_snapshot.json` `extensions` shows them: calls, answers,
//! failures, refusals by reason, restarts, the epoch and the calls in flight. A refusal is logged
//! once per streak: the first of a run of refusals is reported, the rest only counted until an
//! answer is taken again.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};

/// Why something an extension did was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Refusal {
    /// The answer came after the call's deadline.
    Late,
    /// The answer carried an epoch older than the running child's.
    OldEpoch,
    /// The line did not match the answer schema.
    Invalid,
    /// An effect its declaration does not allow.
    NotAllowed,
    /// An answer taken after shutdown began (the egress fence).
    AfterShutdown,
    /// A call while `max_in_flight` calls were waiting.
    Busy,
    /// An answer naming no call that was made.
    UnknownId,
    /// An effect about the event's author (tally, score, timeout, ban) for a call with no event
    /// (a timer's).
    NoAuthor,
}

impl Refusal {
    pub fn name(self) -> &'static str {
        match self {
            Refusal::Late => "late",
            Refusal::OldEpoch => "old_epoch",
            Refusal::Invalid => "invalid",
            Refusal::NotAllowed => "not_allowed",
            Refusal::AfterShutdown => "after_shutdown",
            Refusal::Busy => "busy",
            Refusal::UnknownId => "unknown_id",
            Refusal::NoAuthor => "no_author",
        }
    }
}

/// The live counters of one extension.
#[derive(Debug, Default)]
pub struct Stats {
    pub calls: AtomicU64,
    /// Calls answered in time with effects (or none).
    pub answered: AtomicU64,
    /// Calls the extension answered with an error of its own.
    pub errors: AtomicU64,
    /// Calls that got no usable answer: past the deadline, the child died or was restarted,
    /// cancelled at shutdown, refused.
    pub failed: AtomicU64,
    pub restarts: AtomicU64,
    pub epoch: AtomicU64,
    pub in_flight: AtomicU32,
    pub ready: AtomicBool,
    refused: Mutex<BTreeMap<Refusal, u64>>,
    last_error: Mutex<Option<String>>,
    /// Whether the last thing that happened was a refusal (so the next is not logged again).
    streak: AtomicBool,
}

impl Stats {
    /// Counts a refusal; the first of a streak is logged with `detail`.
    pub fn refuse(&self, name: &str, why: Refusal, detail: &str) {
        *self
            .refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(why)
            .or_default() += 1;
        if !self.streak.swap(true, Relaxed) {
            tracing::warn!(
                extension = %name,
                reason = why.name(),
                "An extension's answer was refused ({}): {}. Further refusals are counted in runtime_snapshot.json until it answers well again.",
                why.name(),
                crate::sanitize::terminal(detail)
            );
        }
    }

    /// An answer was taken: the next refusal starts a new streak.
    pub fn taken(&self) {
        self.streak.store(false, Relaxed);
    }

    pub fn refused(&self, why: Refusal) -> u64 {
        self.refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&why)
            .copied()
            .unwrap_or_default()
    }

    pub fn set_error(&self, error: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error);
    }

    pub fn view(&self, name: &str) -> ExtensionView {
        ExtensionView {
            name: name.to_string(),
            state: if self.ready.load(Relaxed) {
                "ready"
            } else {
                "starting"
            },
            calls: self.calls.load(Relaxed),
            answered: self.answered.load(Relaxed),
            errors: self.errors.load(Relaxed),
            failed: self.failed.load(Relaxed),
            late: self.refused(Refusal::Late),
            refused: self
                .refused
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .map(|(k, v)| (k.name(), *v))
                .collect(),
            restarts: self.restarts.load(Relaxed),
            epoch: self.epoch.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        }
    }
}

/// One extension in `runtime_snapshot.json` `extensions`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtensionView {
    pub name: String,
    /// `ready` (handshake done, calls go out) or `starting` (starting, restarting or stopped).
    pub state: &'static str,
    pub calls: u64,
    pub answered: u64,
    pub errors: u64,
    pub failed: u64,
    /// Answers refused for coming after their deadline (also in `refused.late`).
    pub late: u64,
    /// Refusals by reason: late, old_epoch, invalid, not_allowed, after_shutdown, busy,
    /// unknown_id, no_author.
    pub refused: BTreeMap<&'static str, u64>,
    pub restarts: u64,
    /// Raised at every start of the child: 1 for the first.
    pub epoch: u64,
    pub in_flight: u32,
    /// Why the child last stopped or failed a call (scrubbed of nothing: no secret reaches it).
    pub last_error: Option<String>,
}
