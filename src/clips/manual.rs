//! Clip jobs made and changed by hand (`ss clip`), beside a running `ss run` or without one.
//!
//! A running `ss run` holds the store's writer lock, so these changes do not go through a writer
//! thread: each is one short `IMMEDIATE` SQLite transaction on the command's own connection
//! ([`Store::insert_clip_now`], [`Store::change_clip_state_now`], on a store opened with
//! [`Store::open_for_change`]: as its writer when no daemon runs, else beside it, where it never
//! migrates), which waits for the daemon's commit in progress (busy timeout) and is then picked up
//! by its worker within a second. With `--now` and no daemon, [`run_now`] takes the writer lock
//! itself and runs the job in-process through the same [`super::job::JobContext`] as the daemon; it
//! refuses while a daemon runs, so a job never runs in two processes at once.

use super::job::{JobEnd, Recorder};
use crate::config::Config;
use crate::config::model::Creator;
use crate::config::secrets::Secrets;
use crate::event::Platform;
use crate::routing::Routing;
use crate::store::lock::writer_held_elsewhere;
use crate::store::{ClipState, ClipStateChange, NewClip, Readers, Store, StoreWriter};
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

/// Runs the job of `clip_id` in this process (no daemon may be running), then writes clips.json.
/// `progress` sees every state change.
pub async fn run_now(
    root: &Path,
    config: Arc<Config>,
    secrets: Secrets,
    clip_id: &str,
    progress: crate::clips::job::Progress,
) -> anyhow::Result<JobEnd> {
    let db = crate::store::db_path(root);
    let writer = StoreWriter::start(&db, 256).await.map_err(|e| match e {
        crate::store::StoreError::Locked { .. } => anyhow::anyhow!(
            "a running `ss run` holds the store, so --now cannot run the job here\n  hint: drop --now; the running ss picks the job up within a second"
        ),
        e => anyhow::Error::new(e).context(format!("opening the store {}", db.display())),
    })?;
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
    let id = clip_id.to_string();
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
    Ok(end)
}
