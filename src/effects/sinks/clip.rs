//! Clip requests: a durable job row (with a durable id), then the clip worker is woken.
//!
//! Queue: the store writer's queue; when full the pipeline waits (backpressure). The wake-ups ride
//! the same queue as [`WriteOp::Wake`], so the worker and the exporter look only after the job row
//! is committed. In a split run's evaluator (`remote`), where no capture runs, the request also
//! goes to ingest as an effect (`crate::bus::clips`), under the id its cause gives, which is the id
//! the store records it under here.

use crate::actions::Action;
use crate::effects::router::Routed;
use crate::store::{NewClip, WriteOp};
use std::sync::Arc;
use tokio::sync::{Notify, mpsc};

pub struct ClipSink {
    /// Woken when a job is committed (the clip worker waits on it).
    worker: Arc<Notify>,
    /// Woken too: a new clip is an important change the exports show at once.
    export_now: Arc<Notify>,
    /// Where requests go to be made elsewhere (an evaluator's effects publisher).
    remote: Option<mpsc::Sender<NewClip>>,
}

impl ClipSink {
    pub fn new(worker: Arc<Notify>, export_now: Arc<Notify>) -> ClipSink {
        ClipSink {
            worker,
            export_now,
            remote: None,
        }
    }

    /// The same sink, also sending each request to `remote`.
    #[must_use]
    pub fn sending_to(mut self, remote: Option<mpsc::Sender<NewClip>>) -> ClipSink {
        self.remote = remote;
        self
    }

    pub fn accept(&self, action: Action, ops: &mut Vec<WriteOp>) -> Routed {
        if let Some(remote) = &self.remote
            && let Some(request) = NewClip::asked_by(&action)
            && remote.try_send(request).is_err()
        {
            tracing::warn!(creator = %action.creator, "The effects publisher is full or gone; this clip request is not sent to ingest.");
        }
        ops.push(WriteOp::action(action));
        ops.push(WriteOp::Wake(self.worker.clone()));
        ops.push(WriteOp::Wake(self.export_now.clone()));
        Routed::Done
    }
}
