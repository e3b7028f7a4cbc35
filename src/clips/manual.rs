//! Clip jobs made and changed by hand (`ss clip`), beside a running `ss run` or without one.
//!
//! A running `ss run` holds the store's writer lock, so these changes do not go through a writer
//! thread: each is one short `IMMEDIATE` SQLite transaction on the command's own connection
//! ([`Store::insert_clip_now`], [`Store::change_clip_state_now`], on a store opened with
//! [`Store::open_for_change`]: as its writer when no daemon runs, else beside it, where it never
//! migrates), which waits for the daemon's commit in progress (busy timeout) and is then picked up
//! by its worker within a second. With `--now`, [`run_now`] takes the writer lock itself before it
//! records anything, and runs the job in-process through the same [`super::job::JobContext`] as the
//! daemon; it refuses while a daemon or another `--now` holds the lock, naming it and leaving
//! nothing behind, so a job never runs in two processes at once. [`refuse_moment`] refuses a
//! moment that no buffer can ever hold before anything is recorded.

use super::job::{JobEnd, Recorder};
use crate::config::Config;
use crate::config::model::Creator;
use crate::config::secrets::Secrets;
use crate::event::Platform;
use crate::routing::Routing;
use crate::store::lock::writer_held_elsewhere;
use crate::store::{ClipState, ClipStateChange, Holder, NewClip, Readers, Store, StoreWriter};
use crate::telemetry::Telemetry;
use anyhow::Context;
use chrono::{DateTime, Utc};
use std::path::Path;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Who a hand-made clip is requested by.
pub const OPERATOR: &str = "operator";
/// The detail of a cancelled job.
pub const CANCELLED: &str = "cancelled by the operator (`ss clip cancel`)";

/// The platform a hand-made clip is filed under: the creator's first enabled platform (sim if none).
pub fn platform_of(creator: &Creator) -> Platform {
    Platform::all()
        .iter()
        .copied()
        .find(|&p| creator.platforms.enabled(p))
        .unwrap_or(crate::sources::sim::SIM)
}

/// A clip request for `creator` at `at`.
pub fn new_clip(
    creator: &Creator,
    duration_s: u32,
    title: Option<String>,
    at: DateTime<Utc>,
) -> NewClip {
    NewClip {
        clip_id: None,
        creator: creator.id.clone(),
        platform: platform_of(creator),
        channel: creator.id.clone(),
        requested_by: OPERATOR.into(),
        duration_s,
        title,
        at,
    }
}

/// How far in the future `--at` may be: a clock a little ahead of this machine's.
const FUTURE_GRACE_MS: i64 = 2_000;

/// Why a clip of `creator` at `at` (`duration_s` before it) can never be cut, checked before
/// anything is recorded: a moment in the future, or a window that starts before the replay buffer's
/// oldest segment. `None` when it can be, or when only the job can tell (a Twitch clip, OBS's
/// buffer, no buffer yet).
pub fn refuse_moment(
    root: &Path,
    config: &Config,
    creator: &Creator,
    duration_s: u32,
    at: DateTime<Utc>,
) -> Option<String> {
    let now = Utc::now();
    let at_ms = at.timestamp_millis();
    if at_ms > now.timestamp_millis() + FUTURE_GRACE_MS {
        return Some(format!(
            "--at {} is in the future; a clip is cut from the replay buffer, which ends now\n  hint: leave --at out for the last {duration_s} s, or give a past moment",
            rfc3339(at)
        ));
    }
    let clips = creator.clips.as_ref()?;
    let destination = clips
        .destination
        .as_deref()
        .unwrap_or(&config.system.clips.default_destination);
    let from_buffer = clips.source == crate::config::model::ClipSource::Capture
        && super::destination::DestinationKind::from_name(destination)
            .is_some_and(|k| k.needs_file());
    if !from_buffer || clips.capture.is_none() {
        return None;
    }
    let segments =
        super::segments::SegmentIndex::new(&super::capture::capture_dir(root, &creator.id))
            .load()
            .ok()?;
    let (oldest, newest) = (
        segments.iter().map(|s| s.start_ms).min()?,
        segments.iter().map(|s| s.end_ms).max()?,
    );
    let start = at_ms - i64::from(duration_s) * 1000;
    let tolerance = super::segments::TOLERANCE_MS;
    let stamp = |ms: i64| {
        DateTime::<Utc>::from_timestamp_millis(ms).map_or_else(|| ms.to_string(), rfc3339)
    };
    if start < oldest - tolerance {
        return Some(format!(
            "the window from {} starts before {creator}'s replay buffer, which holds {} to {}\n  hint: give a later --at (or a shorter --duration); the buffer keeps clips.capture.buffer_s seconds",
            stamp(start),
            stamp(oldest),
            stamp(newest),
            creator = creator.id
        ));
    }
    None
}

/// A time as the messages show it: RFC 3339, UTC, whole seconds unless finer.
fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Whether a running `ss run` holds the store at `db`.
pub fn daemon_running(db: &Path) -> anyhow::Result<bool> {
    writer_held_elsewhere(db)
        .with_context(|| format!("checking for a running ss run on {}", db.display()))
}

/// Puts a failed clip back in the queue.
pub fn retry(store: &mut Store, clip_id: &str) -> anyhow::Result<()> {
    let clip = store.clip(clip_id)?.ok_or_else(|| {
        anyhow::anyhow!("no clip {clip_id}\n  hint: `ss clip list` shows the clip ids")
    })?;
    if clip.state != ClipState::Failed {
        anyhow::bail!(
            "clip {clip_id} is {}; only failed clips can be retried\n  hint: `ss clip show {clip_id}` shows its history",
            clip.state
        );
    }
    store.change_clip_state_now(&change(
        clip_id,
        ClipState::Queued,
        Some("retried by the operator".into()),
    ))?;
    Ok(())
}

/// Ends a clip's job: it becomes failed, and any later step of a running job is refused.
pub fn cancel(store: &mut Store, clip_id: &str) -> anyhow::Result<()> {
    let clip = store.clip(clip_id)?.ok_or_else(|| {
        anyhow::anyhow!("no clip {clip_id}\n  hint: `ss clip list` shows the clip ids")
    })?;
    if matches!(clip.state, ClipState::Published | ClipState::Failed) {
        anyhow::bail!(
            "clip {clip_id} is already {}; nothing to cancel",
            clip.state
        );
    }
    store.change_clip_state_now(&change(clip_id, ClipState::Failed, Some(CANCELLED.into())))?;
    Ok(())
}

fn change(clip_id: &str, state: ClipState, detail: Option<String>) -> ClipStateChange {
    ClipStateChange {
        clip_id: clip_id.to_string(),
        state,
        at: Utc::now(),
        detail,
        url: None,
        thumbnail_url: None,
        outbox: Vec::new(),
    }
}

/// The job `--now` runs: a new clip, or a failed one queued again.
pub enum NowJob {
    Create(NewClip),
    Retry(String),
}

/// Why `--now` cannot take the store, naming who holds it; nothing was recorded.
fn held_by_other(db: &Path, job: &NowJob) -> anyhow::Error {
    let nothing = match job {
        NowJob::Create(_) => "nothing was recorded",
        NowJob::Retry(_) => "the clip was left as it was",
    };
    match crate::store::lock::holder(db) {
        Holder::Running(Some(info)) if info.command.as_deref() == Some(NOW_COMMAND) => {
            anyhow::anyhow!(
                "another `ss clip --now` (pid {}) is running a clip job on this store, so this one cannot run here now; {nothing}\n  hint: run it again once that one has finished (or drop --now to queue it for the next `ss run`)",
                info.pid
            )
        }
        Holder::Running(Some(info)) if info.command.as_deref().is_some_and(|c| c != "ss run") => {
            anyhow::anyhow!(
                "`{}` (pid {}) holds the store, so --now cannot run the job here; {nothing}\n  hint: run it again once that has finished",
                info.command.as_deref().unwrap_or_default(),
                info.pid
            )
        }
        Holder::Running(info) => anyhow::anyhow!(
            "a running `ss run`{} holds the store, so --now cannot run the job here; {nothing}\n  hint: drop --now; the running ss picks the job up within a second",
            info.map(|i| format!(" (pid {})", i.pid))
                .unwrap_or_default()
        ),
        Holder::Nobody => anyhow::anyhow!(
            "another ss process held the store a moment ago, so --now could not run the job here; {nothing}\n  hint: run the command again"
        ),
    }
}

/// What `ss clip --now` calls itself in the writer lock.
const NOW_COMMAND: &str = "ss clip --now";

/// Runs `job` in this process: takes the store's writer lock first (refused, with who holds it and
/// nothing recorded, while a `ss run` or another `ss clip --now` runs), records the clip (or queues
/// the failed one again), calls `queued` with its id, and runs its job. `progress` sees every state
/// change. Returns the clip id and how the job ended.
pub async fn run_now(
    root: &Path,
    config: Arc<Config>,
    secrets: Secrets,
    job: NowJob,
    queued: impl FnOnce(&str),
    progress: crate::clips::job::Progress,
) -> anyhow::Result<(String, JobEnd)> {
    crate::store::lock::set_holder_command(NOW_COMMAND);
    let db = crate::store::db_path(root);
    let writer = StoreWriter::start(&db, 256).await.map_err(|e| match e {
        crate::store::StoreError::Locked { .. } => held_by_other(&db, &job),
        e => anyhow::Error::new(e).context(format!("opening the store {}", db.display())),
    })?;
    // The writer thread holds the lock (and sits idle): the record goes in beside it, as `ss clip`
    // beside `ss run` does, on the blocking pool.
    let recorded = {
        let db = db.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
            let mut store = Store::open_beside_writer(&db)?;
            match job {
                NowJob::Create(clip) => Ok(store
                    .insert_clip_now(&clip)
                    .with_context(|| format!("recording the clip in {}", db.display()))?),
                NowJob::Retry(id) => {
                    retry(&mut store, &id)?;
                    Ok(id)
                }
            }
        })
        .await
        .context("joining the clip record")?
    };
    let clip_id = match recorded {
        Ok(id) => id,
        Err(e) => {
            let _ = tokio::task::spawn_blocking(move || writer.close()).await;
            return Err(e);
        }
    };
    queued(&clip_id);
    let recorder = Recorder {
        writer: writer.clone(),
        export_now: Arc::new(Notify::new()),
        progress: Some(progress),
    };
    let readers = Readers::new(&db);
    let ctx = super::job_context(
        root,
        config.clone(),
        super::JobParts {
            secrets,
            readers: readers.clone(),
            routing: Routing::fixed(config.clone()),
            recorder,
            telemetry: Telemetry::default(),
            captures: std::collections::BTreeMap::new(),
            // `--now` runs without the daemon, so without its OBS connection: an OBS clip fails
            // saying so, and the running `ss run` can retry it.
            obs: crate::obs::Obs::default(),
        },
    )?;
    let id = clip_id.clone();
    let clip = readers
        .read(move |store| store.clip(&id))
        .await??
        .ok_or_else(|| anyhow::anyhow!("no clip {clip_id}"))?;
    let cancel = CancellationToken::new();
    let on_signal = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        })
    };
    let end = ctx.process(clip, &cancel).await;
    on_signal.abort();
    drop(ctx);
    tokio::task::spawn_blocking(move || writer.close())
        .await
        .context("joining the store writer")??;
    Ok((clip_id, end))
}
