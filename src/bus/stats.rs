//! What the bus did in this run, for `runtime_snapshot.json` `bus` and `ss status`: the
//! connection, what was published and acknowledged, the shards held (epoch, last sequence folded,
//! what the stream still holds for them), and the effects refused by the fence, by reason.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Shared counters of one run's bus work. Cheap to update from any task.
#[derive(Debug, Default)]
pub struct BusStats {
    pub connected: AtomicBool,
    /// Events the events stream acknowledged (ingest), duplicates among them, retries of a
    /// publish that got no acknowledgement, and times the server could not be reached.
    pub published: AtomicU64,
    pub publish_duplicates: AtomicU64,
    pub publish_retries: AtomicU64,
    pub outages: AtomicU64,
    /// Clock ticks the events stream acknowledged (ingest), beside the events.
    pub ticks_published: AtomicU64,
    /// Clock ticks given up at shutdown with the bus away (seconds the evaluators' clocks skip).
    pub ticks_unsent: AtomicU64,
    /// Events read from held shards (evaluate, export), and ticks read with them.
    pub folded: AtomicU64,
    pub ticks_folded: AtomicU64,
    /// Effects the evaluator published, and those it dropped because it no longer held the shard.
    pub effects_published: AtomicU64,
    /// Of those, acknowledged as duplicates (an earlier owner published the same effect id).
    pub effects_already_published: AtomicU64,
    pub effects_not_owner: AtomicU64,
    /// Effects ingest carried out, refused as stale (an older epoch than the shard's), skipped as
    /// already carried out, and could not read.
    pub effects_applied: AtomicU64,
    /// Effects left to another ingest: no source of this one runs for their creator.
    pub effects_elsewhere: AtomicU64,
    pub effects_fenced: AtomicU64,
    pub effects_duplicate: AtomicU64,
    pub effects_malformed: AtomicU64,
    /// Leases taken, lost (not renewed in time, or taken over) and handed back.
    /// Shard snapshots written to the bus, failed to write, and loaded at a takeover.
    pub snapshots_written: AtomicU64,
    pub snapshots_failed: AtomicU64,
    pub snapshots_loaded: AtomicU64,
    /// Clip state changes ingest published, and those read from the stream (evaluate, export).
    pub clip_states_published: AtomicU64,
    pub clip_states_folded: AtomicU64,
    pub leases_taken: AtomicU64,
    pub leases_lost: AtomicU64,
    pub leases_released: AtomicU64,
    shards: Mutex<BTreeMap<u32, ShardView>>,
    /// Per shard, the stream sequence of the last message read that was not a clock tick (a chat
    /// event, a clip's change): what tells the snapshot keeper the shard moved, not only its clock.
    last_change: Mutex<BTreeMap<u32, u64>>,
    last_outage: Mutex<Option<String>>,
}

/// One held shard, as this process sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ShardView {
    pub epoch: u64,
    /// The stream sequence of the last event folded in.
    pub applied_seq: u64,
    /// Events the stream holds for the shard beyond what was read.
    pub pending: u64,
    /// The stream sequence of the last snapshot this process wrote of the shard, and when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_at: Option<String>,
}

/// A copy for the snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BusSnapshot {
    pub role: &'static str,
    pub url: String,
    pub connected: bool,
    pub published: u64,
    pub publish_duplicates: u64,
    pub publish_retries: u64,
    pub outages: u64,
    pub last_outage: Option<String>,
    pub ticks_published: u64,
    pub ticks_unsent: u64,
    pub folded: u64,
    pub ticks_folded: u64,
    pub effects: EffectCounts,
    pub leases: LeaseCounts,
    pub snapshots: SnapshotCounts,
    pub clips: ClipCounts,
    pub shards: BTreeMap<u32, ShardView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectCounts {
    pub published: u64,
    pub already_published: u64,
    pub not_owner: u64,
    pub applied: u64,
    pub elsewhere: u64,
    pub fenced: u64,
    pub duplicate: u64,
    pub malformed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClipCounts {
    pub states_published: u64,
    pub states_folded: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotCounts {
    pub written: u64,
    pub failed: u64,
    pub loaded: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseCounts {
    pub taken: u64,
    pub lost: u64,
    pub released: u64,
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// Adds one to a counter.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl BusStats {
    pub fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
    }

    /// The server could not be reached (once per outage, with when).
    pub fn outage(&self, why: &str) {
        bump(&self.outages);
        *self.last_outage.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!(
            "{}: {why}",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }

    pub fn hold(&self, shard: u32, epoch: u64) {
        self.shards_mut().insert(
            shard,
            ShardView {
                epoch,
                ..ShardView::default()
            },
        );
    }

    pub fn drop_shard(&self, shard: u32) {
        self.shards_mut().remove(&shard);
    }

    /// A message of `shard` other than a tick was read at stream sequence `seq` (0: none).
    pub fn read_change(&self, shard: u32, seq: u64) {
        let mut last = self.last_change.lock().unwrap_or_else(|e| e.into_inner());
        let at = last.entry(shard).or_default();
        *at = (*at).max(seq);
    }

    /// The stream sequence of the last message of `shard` other than a tick this process read.
    pub fn last_change(&self, shard: u32) -> u64 {
        self.last_change
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&shard)
            .copied()
            .unwrap_or_default()
    }

    pub fn advanced(&self, shard: u32, applied_seq: u64, pending: u64) {
        if let Some(view) = self.shards_mut().get_mut(&shard) {
            view.applied_seq = view.applied_seq.max(applied_seq);
            view.pending = pending;
        }
    }

    pub fn snapshot_written(&self, shard: u32, seq: u64, at_ms: i64) {
        if let Some(view) = self.shards_mut().get_mut(&shard) {
            view.snapshot_seq = Some(seq);
            view.snapshot_at = chrono::DateTime::from_timestamp_millis(at_ms)
                .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        }
    }

    pub fn shard(&self, shard: u32) -> Option<ShardView> {
        self.shards_mut().get(&shard).cloned()
    }

    fn shards_mut(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, ShardView>> {
        self.shards.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn snapshot(&self, role: super::Role, url: String) -> BusSnapshot {
        BusSnapshot {
            role: role.as_str(),
            url,
            connected: self.connected.load(Ordering::Relaxed),
            published: get(&self.published),
            publish_duplicates: get(&self.publish_duplicates),
            publish_retries: get(&self.publish_retries),
            outages: get(&self.outages),
            last_outage: self
                .last_outage
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            ticks_published: get(&self.ticks_published),
            ticks_unsent: get(&self.ticks_unsent),
            folded: get(&self.folded),
            ticks_folded: get(&self.ticks_folded),
            effects: EffectCounts {
                published: get(&self.effects_published),
                already_published: get(&self.effects_already_published),
                not_owner: get(&self.effects_not_owner),
                applied: get(&self.effects_applied),
                elsewhere: get(&self.effects_elsewhere),
                fenced: get(&self.effects_fenced),
                duplicate: get(&self.effects_duplicate),
                malformed: get(&self.effects_malformed),
            },
            leases: LeaseCounts {
                taken: get(&self.leases_taken),
                lost: get(&self.leases_lost),
                released: get(&self.leases_released),
            },
            clips: ClipCounts {
                states_published: get(&self.clip_states_published),
                states_folded: get(&self.clip_states_folded),
            },
            snapshots: SnapshotCounts {
                written: get(&self.snapshots_written),
                failed: get(&self.snapshots_failed),
                loaded: get(&self.snapshots_loaded),
            },
            shards: self.shards_mut().clone(),
        }
    }
}

/// What the exporter reads the bus through.
#[derive(Clone)]
pub struct BusProbe {
    pub role: super::Role,
    pub bus: super::Bus,
    pub stats: std::sync::Arc<BusStats>,
}

impl std::fmt::Debug for BusProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusProbe")
            .field("role", &self.role)
            .finish()
    }
}

impl BusProbe {
    pub fn snapshot(&self) -> BusSnapshot {
        let mut snapshot = self.stats.snapshot(self.role, self.bus.shown_url());
        snapshot.connected = self.bus.connected();
        snapshot
    }
}
