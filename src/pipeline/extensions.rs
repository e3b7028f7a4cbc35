//! The extension worker of `ss run`: takes the calls the extension sink queued, calls each
//! extension on a task of its own (so one that sleeps holds up only its own calls, never chat),
//! and hands the actions an answer becomes back to the run loop, which routes and records them
//! like a trigger's. Shutdown is the fence: the extensions' supervisors cancel every call in
//! flight, and an answer that arrives once shutdown has begun is not handed on.
//!
//! Queue to the run loop: [`ANSWERS_QUEUE`] answers. When full, the call's task waits for room
//! (or for shutdown, which drops the answer): the loop takes answers before the lane, so the wait
//! is short.

use crate::actions::Action;
use crate::effects::sinks::ExtensionCall;
use crate::extensions::{CallError, Extensions};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Answers waiting for the run loop.
pub const ANSWERS_QUEUE: usize = 64;

/// Starts the worker; it ends when the sink's sender is dropped (with the pipeline).
pub(super) fn spawn(
    extensions: Extensions,
    mut calls: mpsc::Receiver<ExtensionCall>,
    answers: mpsc::Sender<Vec<Action>>,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
) {
    let inner = tasks.clone();
    tasks.spawn(async move {
        while let Some(call) = calls.recv().await {
            let extensions = extensions.clone();
            let answers = answers.clone();
            let shutdown = shutdown.clone();
            inner.spawn(async move {
                let actions = match extensions.call(&call.action, call.event.as_ref()).await {
                    Ok(actions) => actions,
                    Err(CallError::Cancelled) => return,
                    Err(e) => {
                        tracing::debug!(cause = %call.action.cause(), "Extension call failed: {e}");
                        return;
                    }
                };
                if actions.is_empty() {
                    return;
                }
                tokio::select! {
                    biased;
                    () = shutdown.cancelled() => {}
                    _ = answers.send(actions) => {}
                }
            });
        }
    });
}
