//! The clip worker of `ss run`: picks up queued clip jobs and runs each to its end.
//!
//! It wakes when the clip sink's job commits (the `clip_worker` notify) and otherwise looks at the
//! store (through the reader pool, off the async threads) every [`POLL`], so a job that `ss clip create` inserted from another process starts within a
//! second. At start it first resumes the jobs a previous run left `encoding`, `encoded` or
//! `uploading`. Each job runs as its own task (FFmpeg work is bounded by the context's permits); a
//! job is never run twice at once. On shutdown every job stops where it is (FFmpeg killed and
//! reaped) and stays resumable; the worker returns once all of them have.

use super::job::JobContext;
use crate::store::ClipState;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How often the store is read for new jobs when nothing woke the worker.
pub const POLL: Duration = Duration::from_secs(1);

/// States a job is in when a run ended under it.
const RESUMABLE: [ClipState; 3] = [
    ClipState::Encoding,
    ClipState::Encoded,
    ClipState::Uploading,
];

/// Runs until `cancel` fires and every job has stopped.
pub async fn run(ctx: Arc<JobContext>, wake: Arc<Notify>, cancel: CancellationToken) {
    let mut running: HashSet<String> = HashSet::new();
    let mut jobs: JoinSet<String> = JoinSet::new();
    let mut states: &'static [ClipState] = &RESUMABLE;
    loop {
        let due = ctx
            .readers
            .read(move |store| store.clips_in(states))
            .await
            .and_then(|read| read);
        match due {
            Ok(clips) => {
                for clip in clips {
                    if !running.insert(clip.clip_id.clone()) {
                        continue;
                    }
                    if states == RESUMABLE {
                        tracing::info!(clip = %clip.clip_id, state = %clip.state, "Resuming a clip job.");
                    }
                    let ctx = ctx.clone();
                    let cancel = cancel.clone();
                    jobs.spawn(async move {
                        let id = clip.clip_id.clone();
                        ctx.process(clip, &cancel).await;
                        // Committed before the job leaves `running`, so the next look at the store
                        // cannot see it queued again.
                        let _ = ctx.recorder.writer.flush().await;
                        id
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "Clip jobs could not be read; trying again."),
        }
        states = &[ClipState::Queued];
        tokio::select! {
            () = cancel.cancelled() => break,
            () = wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
            Some(done) = jobs.join_next() => {
                if let Ok(id) = done {
                    running.remove(&id);
                }
            }
        }
        while let Some(done) = jobs.try_join_next() {
            if let Ok(id) = done {
                running.remove(&id);
            }
        }
    }
    // Jobs see the same cancellation: they stop their FFmpeg and return.
    while jobs.join_next().await.is_some() {}
}
