//! Shard leases: which evaluator folds which shard, and since when (the epoch).
//!
//! A lease is a key (`shard-<n>`) in the lease bucket, whose entries expire `lease_s` after their
//! last write. An evaluator takes a free shard with a create (it fails when another holds the
//! key), and the KV revision the create returned is the lease's **epoch**; it renews by a
//! compare-and-set on the last revision it wrote, every third of `lease_s`, and looks for free
//! shards every second. A renewal that fails
//! (another took the key) or that cannot happen in time (the server is away, the process was
//! paused) loses the lease: the shard's reader stops at once and its effects are no longer
//! published. Ingest refuses any effect whose epoch is older than the shard's (see
//! [`super::effects`]), so a stale owner that wakes up is fenced even if it does not yet know.
//!
//! Evaluators announce themselves with a `member-<owner>` key, so each knows its fair share
//! (shards / members, rounded up): it takes free shards up to it and hands back what is over it,
//! so a second evaluator joining a busy one gets half of the shards.

use super::Bus;
use super::names::{lease_key, member_key};
use super::stats::{BusStats, bump};
use async_nats::jetstream::kv;
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often an evaluator looks at its fair share and for free shards (at most; a shorter lease's
/// renewal period is used when shorter).
const BALANCE_EVERY: Duration = Duration::from_secs(1);
/// How long shutdown waits, in all, for the shards' readers to stop before handing the leases back.
const STOP_AT_SHUTDOWN: Duration = Duration::from_secs(3);

/// The value of a lease key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseValue {
    pub owner: String,
    /// The revision the lease was taken at; 0 in the create itself (the epoch is then the
    /// entry's revision).
    pub epoch: u64,
    /// The last stream sequence the owner folded in, and what the stream held beyond it.
    #[serde(default)]
    pub applied: u64,
    #[serde(default)]
    pub pending: u64,
    pub at_ms: i64,
}

impl LeaseValue {
    /// The epoch of a lease entry.
    pub fn epoch_of(entry: &kv::Entry) -> Option<(LeaseValue, u64)> {
        if !matches!(entry.operation, kv::Operation::Put) {
            return None;
        }
        let value: LeaseValue = serde_json::from_slice(&entry.value).ok()?;
        let epoch = if value.epoch == 0 {
            entry.revision
        } else {
            value.epoch
        };
        Some((value, epoch))
    }
}

/// One lease this process holds.
#[derive(Debug, Clone)]
struct Lease {
    epoch: u64,
    revision: u64,
    valid_until: Instant,
    stop: CancellationToken,
}

/// The shards this process holds now, and their epochs; shared with the readers and the effects
/// publisher, which never act on a shard whose lease has run out.
#[derive(Debug, Clone, Default)]
pub struct Held(Arc<Mutex<HashMap<u32, Lease>>>);

impl Held {
    /// The epoch of `shard` if this process holds it and the lease has not run out.
    pub fn epoch(&self, shard: u32) -> Option<u64> {
        let leases = self.0.lock().unwrap_or_else(|e| e.into_inner());
        leases
            .get(&shard)
            .filter(|l| l.valid_until > Instant::now())
            .map(|l| l.epoch)
    }

    /// The shards held now, with their epochs.
    pub fn held(&self) -> Vec<(u32, u64)> {
        let now = Instant::now();
        let mut held: Vec<_> = self
            .lock()
            .iter()
            .filter(|(_, l)| l.valid_until > now)
            .map(|(shard, l)| (*shard, l.epoch))
            .collect();
        held.sort_unstable();
        held
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Lease>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Starts the work on one shard taken at `epoch`; it ends when its token is cancelled.
pub type StartShard = Arc<dyn Fn(u32, u64, CancellationToken) -> JoinHandle<()> + Send + Sync>;

/// Keeps this evaluator's fair share of leases until `shutdown`, then hands them back.
pub async fn keep_leases(
    bus: Bus,
    owner: String,
    held: Held,
    stats: Arc<BusStats>,
    start: StartShard,
    shutdown: CancellationToken,
) {
    let lease = Duration::from_secs(bus.settings.lease_s);
    let renew_every = lease / 3;
    // Renewals are due every third of the lease; free shards are looked for every round, so a dead
    // owner's shards are taken within a round of their leases running out, not a renewal period.
    let mut tick = tokio::time::interval(renew_every.min(BALANCE_EVERY));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut workers: BTreeMap<u32, JoinHandle<()>> = BTreeMap::new();
    let mut kv: Option<kv::Store> = None;
    let mut renewed_at: Option<Instant> = None;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        // A lease that ran out (the server away, or this process paused past it) is gone, before
        // anything else is tried.
        expire(&held, &stats, &mut workers);
        let store = match &kv {
            Some(store) => store.clone(),
            None => match bus.js.get_key_value(bus.names.leases_bucket()).await {
                Ok(store) => {
                    kv = Some(store.clone());
                    store
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Cannot open the lease bucket; retrying.");
                    continue;
                }
            },
        };
        let round = Round {
            kv: &store,
            owner: &owner,
            held: &held,
            stats: &stats,
            lease,
        };
        if renewed_at.is_none_or(|at| at.elapsed() >= renew_every) {
            renewed_at = Some(Instant::now());
            round.renew(&mut workers).await;
        }
        // Without a count of the members this round, holdings stay as they are: guessing one
        // member would take every free shard, and the leases are renewed either way.
        let Some(members) = round.announce(renew_every.min(BALANCE_EVERY) / 2).await else {
            continue;
        };
        let share = bus.settings.shards.div_ceil(members.max(1));
        let holding = held.lock().len() as u32;
        if holding > share {
            round.release(holding - share, &mut workers).await;
        } else if holding < share {
            round
                .take(share - holding, bus.settings.shards, &start, &mut workers)
                .await;
        }
    }
    // Shutdown: stop every reader, then hand the leases back so another takes them at once.
    let leases: Vec<(u32, Lease)> = held.lock().drain().collect();
    for (_, lease) in &leases {
        lease.stop.cancel();
    }
    wait_stopped(std::mem::take(&mut workers).into_values(), STOP_AT_SHUTDOWN).await;
    if let Some(store) = kv {
        for (shard, lease) in leases {
            let _ = store
                .delete_expect_revision(lease_key(shard), Some(lease.revision))
                .await;
            bump(&stats.leases_released);
            stats.drop_shard(shard);
        }
        let _ = store.delete(member_key(&owner)).await;
    }
}

/// Waits for readers already told to stop, all at once and at most `bound` in all. A reader still
/// busy past it is left to stop on its own: its effects are fenced by the epoch anyway.
async fn wait_stopped(readers: impl IntoIterator<Item = JoinHandle<()>>, bound: Duration) {
    let _ = tokio::time::timeout(bound, futures_util::future::join_all(readers)).await;
}

fn expire(held: &Held, stats: &BusStats, workers: &mut BTreeMap<u32, JoinHandle<()>>) {
    let now = Instant::now();
    let mut leases = held.lock();
    let gone: Vec<u32> = leases
        .iter()
        .filter(|(_, l)| l.valid_until <= now)
        .map(|(s, _)| *s)
        .collect();
    for shard in gone {
        if let Some(lease) = leases.remove(&shard) {
            lease.stop.cancel();
            workers.remove(&shard);
            bump(&stats.leases_lost);
            stats.drop_shard(shard);
            tracing::warn!(
                shard,
                epoch = lease.epoch,
                "The lease of shard {shard} ran out before it could be renewed; stopped applying its events."
            );
        }
    }
}

struct Round<'a> {
    kv: &'a kv::Store,
    owner: &'a str,
    held: &'a Held,
    stats: &'a BusStats,
    lease: Duration,
}

impl Round<'_> {
    fn value(&self, shard: u32, epoch: u64) -> Bytes {
        let view = self.stats.shard(shard).unwrap_or_default();
        Bytes::from(
            serde_json::to_vec(&LeaseValue {
                owner: self.owner.to_owned(),
                epoch,
                applied: view.applied_seq,
                pending: view.pending,
                at_ms: chrono::Utc::now().timestamp_millis(),
            })
            .unwrap_or_default(),
        )
    }

    /// Renews every held lease with a compare-and-set; a failed one is lost.
    async fn renew(&self, workers: &mut BTreeMap<u32, JoinHandle<()>>) {
        let leases: Vec<(u32, Lease)> = self
            .held
            .lock()
            .iter()
            .map(|(s, l)| (*s, l.clone()))
            .collect();
        for (shard, lease) in leases {
            let sent = Instant::now();
            match self
                .kv
                .update(
                    lease_key(shard),
                    self.value(shard, lease.epoch),
                    lease.revision,
                )
                .await
            {
                Ok(revision) => {
                    if let Some(l) = self.held.lock().get_mut(&shard) {
                        l.revision = revision;
                        l.valid_until = sent + self.lease;
                    }
                }
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                    if let Some(lost) = self.held.lock().remove(&shard) {
                        lost.stop.cancel();
                    }
                    workers.remove(&shard);
                    bump(&self.stats.leases_lost);
                    self.stats.drop_shard(shard);
                    tracing::warn!(
                        shard,
                        epoch = lease.epoch,
                        "Another evaluator took shard {shard}; stopped applying its events."
                    );
                }
                Err(e) => {
                    // Not renewed this round; the lease runs out if this goes on (see `expire`).
                    tracing::debug!(shard, error = %e, "A lease renewal failed; retrying.");
                }
            }
        }
    }

    /// Writes this evaluator's member key; returns how many evaluators are members, or `None` when
    /// the keys could not be listed completely within `bound`.
    ///
    /// The listing is bounded because it can hang (the bucket's keys expire and are deleted while it
    /// runs, and a listing is known to wait for ever then). It is the one wait of this loop without
    /// a timeout of its own: a test saw a second evaluator that never took a shard again after its
    /// first round, while the first evaluator held all of them, which an unending listing explains.
    async fn announce(&self, bound: Duration) -> Option<u32> {
        let _ = self
            .kv
            .put(member_key(self.owner), Bytes::from(self.owner.to_owned()))
            .await;
        let count = async {
            let mut keys = self.kv.keys().await.ok()?;
            let mut members = 0;
            while let Some(key) = keys.next().await {
                if key.ok()?.starts_with("member-") {
                    members += 1;
                }
            }
            Some(members)
        };
        let members = tokio::time::timeout(bound, count).await.ok().flatten();
        if members.is_none() {
            tracing::debug!(
                "Listing the evaluators took too long or failed; shares are left as they are this round."
            );
        }
        members.map(|n: u32| n.max(1))
    }

    /// Hands back `count` held shards (the highest numbers), after their readers stopped.
    ///
    /// The readers are waited for together, and at most a sixth of the lease: the shards kept are
    /// renewed by this same loop, so a longer wait lets their leases run out too. (It waited up to
    /// 3 s per reader, one after the other: with 3 s leases one slow reader was enough for every
    /// lease of the evaluator to lapse and be taken by the other, and back.)
    async fn release(&self, count: u32, workers: &mut BTreeMap<u32, JoinHandle<()>>) {
        let mut shards: Vec<u32> = self.held.lock().keys().copied().collect();
        shards.sort_unstable();
        let mut released = Vec::new();
        let mut stopping = Vec::new();
        for shard in shards.into_iter().rev().take(count as usize) {
            let Some(lease) = self.held.lock().remove(&shard) else {
                continue;
            };
            lease.stop.cancel();
            stopping.extend(workers.remove(&shard));
            released.push((shard, lease));
        }
        wait_stopped(stopping, self.lease / 6).await;
        for (shard, lease) in released {
            let _ = self
                .kv
                .delete_expect_revision(lease_key(shard), Some(lease.revision))
                .await;
            bump(&self.stats.leases_released);
            self.stats.drop_shard(shard);
            tracing::info!(
                shard,
                "Handed shard {shard} back for another evaluator (fair share)."
            );
        }
    }

    /// Takes up to `count` free shards.
    async fn take(
        &self,
        count: u32,
        shards: u32,
        start: &StartShard,
        workers: &mut BTreeMap<u32, JoinHandle<()>>,
    ) {
        let mut taken = 0;
        for shard in 0..shards {
            if taken == count {
                break;
            }
            if self.held.lock().contains_key(&shard) {
                continue;
            }
            let sent = Instant::now();
            let Ok(epoch) = self.kv.create(lease_key(shard), self.value(shard, 0)).await else {
                continue;
            };
            // The epoch is the revision the lease was taken at; written into the value at once.
            let revision = match self
                .kv
                .update(lease_key(shard), self.value(shard, epoch), epoch)
                .await
            {
                Ok(next) => next,
                Err(_) => continue,
            };
            let stop = CancellationToken::new();
            self.held.lock().insert(
                shard,
                Lease {
                    epoch,
                    revision,
                    valid_until: sent + self.lease,
                    stop: stop.clone(),
                },
            );
            bump(&self.stats.leases_taken);
            self.stats.hold(shard, epoch);
            tracing::info!(shard, epoch, "Took shard {shard} (epoch {epoch}).");
            workers.insert(shard, start(shard, epoch, stop));
            taken += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn readers_are_waited_for_together_and_no_longer_than_the_bound() {
        let started = Instant::now();
        let quick: Vec<JoinHandle<()>> = (1..=4u64)
            .map(|n| tokio::spawn(tokio::time::sleep(Duration::from_millis(100 * n))))
            .collect();
        wait_stopped(quick, Duration::from_secs(1)).await;
        assert_eq!(
            started.elapsed(),
            Duration::from_millis(400),
            "the wait ends as soon as the last of the four readers has stopped, not at the bound"
        );

        // Bounded in all, not per reader: two readers that never stop hold the loop up for the
        // bound once, not twice.
        let started = Instant::now();
        let stuck: Vec<JoinHandle<()>> = (0..2)
            .map(|_| tokio::spawn(std::future::pending::<()>()))
            .collect();
        wait_stopped(stuck, Duration::from_millis(500)).await;
        assert_eq!(
            started.elapsed(),
            Duration::from_millis(500),
            "readers that do not stop hold the loop up only for the bound, in all"
        );
    }
}
