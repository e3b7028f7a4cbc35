//! The run's counters of platform commands, shared by the command sink (which queues, drops and
//! refuses) and the serving loops (which send, fail and, at shutdown, abandon).
//!
//! Every command handed to the sink ends up in exactly one of `queued`, `dropped` (the source's queue
//! was full, or no source runs for it) and `refused` (the platform cannot do it). Every queued command
//! ends up `sent` (the platform acknowledged every part: HTTP 2xx, or the IRC line written), `failed`
//! (the platform or the network said no), `abandoned` (still waiting when its source stopped) or is
//! still `pending`; so `queued = sent + failed + abandoned + pending`, always. Refusals are also kept
//! per (creator, platform, kind), with the reason, so the operator sees each once.

use super::{CommandName, PlatformCommand};
use crate::event::Platform;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters of one run's commands. Cheap to bump; read by the exporter.
#[derive(Debug, Default)]
pub struct CommandStats {
    queued: AtomicU64,
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    abandoned: AtomicU64,
    receipts_lost: AtomicU64,
    refusals: Mutex<BTreeMap<(String, Platform, CommandName), Refusal>>,
    /// Failed commands the platform refused with a reason code of its own (Twitch's chat
    /// `drop_reason` codes: `msg_duplicate`, `msg_ratelimit`, ...), by code. Each is also in
    /// `failed`.
    failed_by_reason: Mutex<BTreeMap<String, u64>>,
}

/// Commands of one kind one creator's source refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub creator: String,
    pub platform: Platform,
    pub command: CommandName,
    pub count: u64,
    /// Why the source cannot do it.
    pub reason: String,
    /// The event (or tick) that caused the first one.
    pub first_cause: String,
}

/// What the exporter shows (`runtime_snapshot.json` `commands`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CommandsSnapshot {
    pub queued: u64,
    pub sent: u64,
    pub failed: u64,
    pub abandoned: u64,
    /// Queued and not yet sent, failed or abandoned.
    pub pending: u64,
    pub dropped: u64,
    pub refused: u64,
    /// Refused commands by kind (`timeout`, ...).
    pub refused_by_kind: BTreeMap<String, u64>,
    /// Failed commands the platform refused with a reason code (`msg_duplicate`, ...), by code;
    /// each is also counted in `failed`.
    pub failed_by_reason: BTreeMap<String, u64>,
    /// One entry per (creator, platform, kind) ever refused this run.
    pub refusals: Vec<Refusal>,
    /// Receipts of moderation commands that could not be handed to the audit (its queue was full):
    /// the command was still counted above; its audit row stayed `queued`.
    pub receipts_lost: u64,
}

impl CommandStats {
    pub fn queued(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    pub fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    pub fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// A failed command the platform refused with a reason code of its own.
    pub fn failed_because(&self, code: &str) {
        *self
            .failed_by_reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(code.to_owned())
            .or_insert(0) += 1;
        self.failed();
    }

    pub fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// A receipt that could not be handed over (its queue was full): the command's audit row stays
    /// as it was.
    pub fn receipt_lost(&self) {
        self.receipts_lost.fetch_add(1, Ordering::Relaxed);
    }

    pub fn abandoned(&self, n: u64) {
        self.abandoned.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a refused command; true when it is the first of its (creator, platform, kind), the one
    /// to report.
    pub fn refused(&self, command: &PlatformCommand, reason: &str) -> bool {
        let name = command.kind.name();
        let mut refusals = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        let key = (command.creator.clone(), command.platform, name);
        match refusals.get_mut(&key) {
            Some(refusal) => {
                refusal.count += 1;
                false
            }
            None => {
                refusals.insert(
                    key,
                    Refusal {
                        creator: command.creator.clone(),
                        platform: command.platform,
                        command: name,
                        count: 1,
                        reason: reason.to_owned(),
                        first_cause: command.cause.clone(),
                    },
                );
                true
            }
        }
    }

    pub fn snapshot(&self) -> CommandsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let refusals: Vec<Refusal> = self
            .refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        let mut refused_by_kind = BTreeMap::new();
        for refusal in &refusals {
            *refused_by_kind
                .entry(refusal.command.as_str().to_owned())
                .or_insert(0) += refusal.count;
        }
        // Read the outcomes before `queued`: a command counted in between is then pending, never
        // an outcome without its queueing.
        let (sent, failed, abandoned) =
            (load(&self.sent), load(&self.failed), load(&self.abandoned));
        let queued = load(&self.queued);
        CommandsSnapshot {
            queued,
            sent,
            failed,
            abandoned,
            pending: queued.saturating_sub(sent + failed + abandoned),
            dropped: load(&self.dropped),
            refused: refused_by_kind.values().sum(),
            refused_by_kind,
            failed_by_reason: self
                .failed_by_reason
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            refusals,
            receipts_lost: load(&self.receipts_lost),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::CommandKind;

    fn say(creator: &str, cause: &str) -> PlatformCommand {
        PlatformCommand {
            creator: creator.into(),
            platform: Platform::named("rumble"),
            channel: String::new(),
            cause: cause.into(),
            kind: CommandKind::Say { text: "hi".into() },
            receipt: false,
        }
    }

    #[test]
    fn refusals_are_reported_once_per_creator_platform_and_kind_and_counted_every_time() {
        let stats = CommandStats::default();
        assert!(stats.refused(&say("a", "m1"), "read-only"));
        assert!(!stats.refused(&say("a", "m2"), "read-only"));
        assert!(stats.refused(&say("b", "m3"), "read-only"));
        stats.queued();
        stats.queued();
        stats.queued();
        stats.sent();
        stats.failed_because("msg_duplicate");
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.failed, 1);
        assert_eq!(snapshot.failed_by_reason["msg_duplicate"], 1);
        assert_eq!(snapshot.refused, 3);
        assert_eq!(snapshot.refused_by_kind["say"], 3);
        assert_eq!(snapshot.refusals.len(), 2);
        assert_eq!(snapshot.refusals[0].count, 2);
        assert_eq!(snapshot.refusals[0].first_cause, "m1");
        assert_eq!(
            (snapshot.queued, snapshot.sent, snapshot.pending),
            (3, 1, 1)
        );
    }
}
