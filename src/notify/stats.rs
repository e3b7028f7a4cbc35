//! What the senders did this run, per destination, for `runtime_snapshot.json` (`notify`).
//!
//! `sent` counts rows (or a row's messages) the destination answered 2xx; `failed` rows given up
//! for good; `retried` attempts put off for later (5xx, timeouts); `rate_limited` 429s waited out;
//! `unrouted` rows that had nowhere to go. `state` says whether the sender can send at all
//! (`ready`, `not_configured` with the reason in `detail`, `config_error` after a 401/403).

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One destination's numbers and state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DestinationStats {
    pub state: String,
    pub detail: Option<String>,
    pub sent: u64,
    pub failed: u64,
    pub retried: u64,
    pub rate_limited: u64,
    pub unrouted: u64,
    /// Refused by the egress gate: sent by a process no longer the owner of the row's shard.
    pub fenced: u64,
    /// Sent by an earlier owner of the row's shard, so not sent again.
    pub already_sent: u64,
}

/// Shared, cloneable stats of every destination.
#[derive(Debug, Clone, Default)]
pub struct NotifyStats(Arc<Mutex<BTreeMap<String, DestinationStats>>>);

impl NotifyStats {
    /// Updates `destination`'s entry. The lock is never held across an `.await`.
    pub fn update(&self, destination: &str, f: impl FnOnce(&mut DestinationStats)) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(map.entry(destination.to_string()).or_default());
    }

    /// Sets the state; returns whether it changed (so a problem is reported once, not per row).
    pub fn set_state(&self, destination: &str, state: &str, detail: Option<String>) -> bool {
        let mut changed = false;
        self.update(destination, |s| {
            changed = s.state != state || s.detail != detail;
            s.state = state.to_string();
            s.detail = detail;
        });
        changed
    }

    pub fn snapshot(&self) -> BTreeMap<String, DestinationStats> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
