//! Counters of what the runtime refused to take on trust: chat for channels a source never joined,
//! replies addressed to channels the creator's config does not name, log lines stderr refused.
//!
//! They are process-wide atomics, bumped wherever the refusal happens (a source's session, the log
//! sink) without plumbing a handle through every seam, and exported together as
//! `runtime_snapshot.json` `counters.guards`. One process runs one `ss run`, so process-wide is
//! per-run in practice; a test calling `run` twice sees the sum.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Chat events for a channel the source did not join: dropped, never stored or answered.
pub static FOREIGN_CHANNEL_EVENTS: AtomicU64 = AtomicU64::new(0);
/// Replies addressed to a channel other than the one the creator's config names: not sent.
pub static FOREIGN_CHANNEL_REPLIES: AtomicU64 = AtomicU64::new(0);

/// Counts one refusal.
pub fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Every guard by its export name; every key is present (0 when nothing was refused).
pub fn snapshot() -> BTreeMap<String, u64> {
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    BTreeMap::from([
        (
            "foreign_channel_events".to_string(),
            load(&FOREIGN_CHANNEL_EVENTS),
        ),
        (
            "foreign_channel_replies".to_string(),
            load(&FOREIGN_CHANNEL_REPLIES),
        ),
        (
            "log_lines_dropped".to_string(),
            crate::log_sink::lines_dropped(),
        ),
    ])
}
