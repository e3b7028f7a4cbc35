//! Shard snapshots: the state of a shard written to the bus by its owner, so a new owner starts
//! from there instead of folding the shard from the stream's start.
//!
//! **Writing** ([`keep_snapshots`], on an evaluator): every `bus.snapshot_s` seconds, each held
//! shard whose store has folded a chat event (or a clip's change) past its last snapshot (or, at
//! least every [`CLOCK_ONLY_EVERY`], only clock ticks: cheap to fold again) is copied out of the
//! store ([`crate::store::shard_state`]: its
//! creators' rows and its cursor, from one read transaction) and put in the object store bucket
//! `<prefix>_snapshots` as `shard-<n>`, described by [`SnapshotMeta`] (the stream sequence it is
//! the fold up to, its events, the lease epoch and owner, when). Only a holder writes, and never
//! over a snapshot further along (a later owner's). Any snapshot is a fold of the shard's events up
//! to its sequence, so whichever is loaded, the events after it complete it.
//!
//! **Loading** ([`take_up`], by a shard's reader before its first read): only into a store that
//! never folded the shard (cursor 0); a store that did resumes after its own cursor, as on a
//! restart. The snapshot is downloaded, the core's share of it (strikes, recent message ids,
//! links) read, and the whole handed through the data lane to the run loop, which has the store
//! import it between batches and the core take it up. The reader then reads from the snapshot's
//! sequence on.

use super::Bus;
use super::lease::Held;
use super::names::shard_of;
use super::stats::{BusStats, bump};
use crate::lanes::{EventSink, ShardState};
use crate::store::shard_state::{Imported, write_snapshot};
use crate::store::{Readers, StoreReader};
use anyhow::Context;
use async_nats::jetstream::object_store::{InfoErrorKind, ObjectMetadata, ObjectStore};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often a shard whose stream brought only clock ticks since its last snapshot gets a new one:
/// the ticks after a snapshot are folded again by a new owner, cheaply, but the stream keeps them
/// only `keep_hours`.
pub const CLOCK_ONLY_EVERY: Duration = Duration::from_secs(3600);

/// What a snapshot's description says (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// The events stream's sequence the snapshot is the fold up to.
    pub seq: u64,
    /// Chat events in it.
    pub events: u64,
    /// The lease epoch and owner that wrote it.
    pub epoch: u64,
    pub owner: String,
    /// When it was written (Unix ms).
    pub at_ms: i64,
}

/// The object a shard's snapshot is kept under.
pub fn object_name(shard: u32) -> String {
    format!("shard-{shard}")
}

/// The bucket, as `ss bus init` made it.
pub async fn bucket(bus: &Bus) -> anyhow::Result<ObjectStore> {
    let name = bus.names.snapshots_bucket();
    bus.js
        .get_object_store(&name)
        .await
        .with_context(|| format!("opening the snapshot bucket {name} (run `ss bus init`)"))
}

/// The latest snapshot of `shard`, if there is one.
pub async fn latest(store: &ObjectStore, shard: u32) -> anyhow::Result<Option<SnapshotMeta>> {
    match store.info(object_name(shard)).await {
        Ok(info) if info.deleted => Ok(None),
        Ok(info) => Ok(info
            .description
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())),
        Err(e) if e.kind() == InfoErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::anyhow!(
            "reading snapshot {}: {e}",
            object_name(shard)
        )),
    }
}

/// What the snapshot writer needs.
pub struct Keeper {
    pub bus: Bus,
    pub held: Held,
    pub owner: String,
    /// The store, and a directory for the copies on their way out.
    pub db: PathBuf,
    pub dir: PathBuf,
    pub readers: Readers,
    pub stats: Arc<BusStats>,
    pub shutdown: CancellationToken,
}

/// Writes a snapshot of each held shard whose cursor moved, every `bus.snapshot_s`, until shutdown.
pub async fn keep_snapshots(keeper: Keeper) {
    let every = Duration::from_secs(keeper.bus.settings.snapshot_s);
    if every.is_zero() {
        return;
    }
    // Per shard, the last snapshot written (or seen as far along).
    let mut written: HashMap<u32, Written> = HashMap::new();
    loop {
        tokio::select! {
            () = keeper.shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        for (shard, epoch) in keeper.held.held() {
            let started = std::time::Instant::now();
            match keeper.write(shard, epoch, &mut written).await {
                Ok(Some(meta)) => {
                    bump(&keeper.stats.snapshots_written);
                    keeper.stats.snapshot_written(shard, meta.seq, meta.at_ms);
                    tracing::debug!(
                        shard,
                        seq = meta.seq,
                        events = meta.events,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "Wrote the shard's snapshot."
                    );
                }
                Ok(None) => {}
                Err(e) => {
                    bump(&keeper.stats.snapshots_failed);
                    tracing::warn!(shard, error = %format!("{e:#}"), "Writing the shard's snapshot failed; the next try is in bus.snapshot_s.");
                }
            }
        }
    }
}

/// The last snapshot of a shard this keeper wrote or found.
#[derive(Debug, Clone, Copy)]
struct Written {
    seq: u64,
    at: tokio::time::Instant,
}

impl Written {
    /// Whether a shard whose store is at `cursor`, its last change (not a tick) read at
    /// `last_change`, needs a new snapshot: the store moved, and a change past this snapshot was
    /// read (folded in now, or by the next look), or only ticks came and this one is old.
    fn stale(&self, cursor: u64, last_change: u64) -> bool {
        cursor > self.seq && (last_change > self.seq || self.at.elapsed() >= CLOCK_ONLY_EVERY)
    }
}

impl Keeper {
    /// Writes `shard`'s snapshot if its cursor moved since the last; `None` when there was nothing
    /// new or the shard is no longer held.
    async fn write(
        &self,
        shard: u32,
        epoch: u64,
        written: &mut HashMap<u32, Written>,
    ) -> anyhow::Result<Option<SnapshotMeta>> {
        let stream = self.bus.names.events_stream();
        let cursor = {
            let stream = stream.clone();
            self.readers
                .read(move |r| r.bus_cursor(&stream, shard))
                .await??
        };
        let last_change = self.stats.last_change(shard);
        if cursor == 0
            || written
                .get(&shard)
                .is_some_and(|w| !w.stale(cursor, last_change))
        {
            return Ok(None);
        }
        let mark = |seq| Written {
            seq,
            at: tokio::time::Instant::now(),
        };
        // A snapshot this far along is there already (the one this owner loaded, or a later
        // owner's): no copy is made.
        let store = bucket(&self.bus).await?;
        if let Some(existing) = latest(&store, shard).await?
            && existing.seq >= cursor
        {
            written.insert(shard, mark(existing.seq));
            return Ok(None);
        }
        let path = self.dir.join(format!("{}.sqlite3", object_name(shard)));
        let shards = self.bus.settings.shards;
        let size = {
            let (db, path, stream) = (self.db.clone(), path.clone(), stream.clone());
            tokio::task::spawn_blocking(move || {
                write_snapshot(&db, &path, &stream, shard, move |creator| {
                    shard_of(creator, shards) == shard
                })
            })
            .await??
        };
        let result = self.put(&store, shard, epoch, size, &path).await;
        remove_store_file(&path).await;
        let meta = result?;
        // Not copied again until the cursor moves past it (whether this one went out or one at
        // least as far along was there).
        written.insert(shard, mark(size.seq));
        Ok(meta)
    }

    async fn put(
        &self,
        store: &ObjectStore,
        shard: u32,
        epoch: u64,
        size: crate::store::shard_state::SnapshotSize,
        path: &Path,
    ) -> anyhow::Result<Option<SnapshotMeta>> {
        // Only the holder writes (an evaluator that lost the lease stops here).
        if self.held.epoch(shard) != Some(epoch) {
            return Ok(None);
        }
        if let Some(existing) = latest(store, shard).await?
            && existing.seq >= size.seq
        {
            return Ok(None);
        }
        let meta = SnapshotMeta {
            seq: size.seq,
            events: size.events,
            epoch,
            owner: self.owner.clone(),
            at_ms: chrono::Utc::now().timestamp_millis(),
        };
        let mut file = tokio::fs::File::open(path)
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        store
            .put(
                ObjectMetadata {
                    name: object_name(shard),
                    description: Some(serde_json::to_string(&meta)?),
                    ..Default::default()
                },
                &mut file,
            )
            .await
            .map_err(|e| anyhow::anyhow!("putting {} in the bucket: {e}", object_name(shard)))?;
        Ok(Some(meta))
    }
}

/// A store file and what SQLite keeps beside it.
async fn remove_store_file(path: &Path) {
    for suffix in ["", "-wal", "-shm", ".writer-lock"] {
        let _ = tokio::fs::remove_file(format!("{}{suffix}", path.display())).await;
    }
}

/// What loading a snapshot needs.
pub struct TakeUp<'a> {
    pub bus: &'a Bus,
    pub shard: u32,
    pub readers: &'a Readers,
    pub sink: &'a EventSink,
    /// Where the download goes.
    pub dir: &'a Path,
    /// The core's dedupe window: how many recent message ids it remembers.
    pub dedupe_window: usize,
    pub stats: &'a BusStats,
}

/// Loads the latest snapshot of the shard into a store that never folded it (see the module doc).
/// What it did, or `None` when there was nothing to load.
pub async fn take_up(t: TakeUp<'_>) -> anyhow::Result<Option<Imported>> {
    if t.bus.settings.snapshot_s == 0 {
        return Ok(None);
    }
    let stream = t.bus.names.events_stream();
    let shard = t.shard;
    let local = {
        let stream = stream.clone();
        t.readers
            .read(move |r| r.bus_cursor(&stream, shard))
            .await??
    };
    if local > 0 {
        return Ok(None);
    }
    let store = bucket(t.bus).await?;
    let Some(meta) = latest(&store, shard).await? else {
        return Ok(None);
    };
    tokio::fs::create_dir_all(t.dir)
        .await
        .with_context(|| format!("creating {}", t.dir.display()))?;
    let path = t
        .dir
        .join(format!("{}-loading.sqlite3", object_name(shard)));
    let started = std::time::Instant::now();
    let result = load(&t, &store, &stream, &path).await;
    remove_store_file(&path).await;
    let imported = result?;
    if let Some(Imported::Loaded(size)) = &imported {
        bump(&t.stats.snapshots_loaded);
        tracing::info!(
            shard,
            seq = size.seq,
            events = size.events,
            written_by = %meta.owner,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Took up the shard from its snapshot; folding the events after it."
        );
    }
    Ok(imported)
}

async fn load(
    t: &TakeUp<'_>,
    store: &ObjectStore,
    stream: &str,
    path: &Path,
) -> anyhow::Result<Option<Imported>> {
    let shard = t.shard;
    {
        let mut object = store
            .get(object_name(shard))
            .await
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", object_name(shard)))?;
        let mut file = tokio::fs::File::create(path)
            .await
            .with_context(|| format!("creating {}", path.display()))?;
        tokio::io::copy(&mut object, &mut file)
            .await
            .with_context(|| format!("downloading {}", object_name(shard)))?;
        file.sync_all().await?;
    }
    let window = t.dedupe_window;
    let carried = {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let snapshot = StoreReader::open(&path)?;
            Ok((
                snapshot.strike_records(None)?,
                snapshot.recent_message_keys(window)?,
                snapshot
                    .links()?
                    .into_iter()
                    .map(crate::store::LinkRow::entry)
                    .collect(),
            ))
        })
        .await??
    };
    let (strikes, recent_keys, links) = carried;
    let shards = t.bus.settings.shards;
    let (done, outcome) = tokio::sync::oneshot::channel();
    let sent = t
        .sink
        .send_shard_state(ShardState {
            stream: stream.to_owned(),
            shard,
            snapshot: path.to_path_buf(),
            in_shard: Box::new(move |creator| shard_of(creator, shards) == shard),
            strikes,
            recent_keys,
            links,
            done,
        })
        .await;
    if !sent {
        return Ok(None);
    }
    match outcome.await {
        Ok(Ok(imported)) => Ok(Some(imported)),
        Ok(Err(e)) => Err(anyhow::anyhow!("importing the snapshot: {e}")),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_is_copied_again_for_a_change_past_its_snapshot_and_for_ticks_only_once_an_hour() {
        let now = tokio::time::Instant::now();
        let fresh = Written { seq: 100, at: now };
        // Nothing folded since: no copy.
        assert!(!fresh.stale(100, 90));
        // Only ticks since (the last chat change is inside the snapshot): no copy yet.
        assert!(!fresh.stale(130, 90));
        // A chat change past the snapshot, folded in or about to be: a copy of what is folded.
        assert!(fresh.stale(130, 120));
        assert!(fresh.stale(101, 150));
        // Only ticks, and the snapshot is an hour old: a copy, so ticks are not kept for long.
        let old = Written {
            seq: 100,
            at: now.checked_sub(CLOCK_ONLY_EVERY).unwrap(),
        };
        assert!(old.stale(130, 90));
        assert!(!old.stale(100, 90));
    }
}
