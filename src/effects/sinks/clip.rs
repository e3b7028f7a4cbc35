//! Clip requests: a durable job row (with a durable id), then the clip worker is woken.
//!
//! Queue: the store writer's queue; when full the pipeline waits (backpressure). The wake-ups ride
//! the same queue as [`WriteOp::Wake`], so the worker and the exporter look only after the job row
//! is committed.

use crate::actions::Action;
use crate::effects::router::Routed;
use crate::store::WriteOp;
use std::sync::Arc;
use tokio::sync::Notify;

pub struct ClipSink {
    /// Woken when a job is committed (the clip worker waits on it).
    worker: Arc<Notify>,
    /// Woken too: a new clip is an important change the exports show at once.
    export_now: Arc<Notify>,
}

impl ClipSink {
    pub fn new(worker: Arc<Notify>, export_now: Arc<Notify>) -> ClipSink {
        ClipSink { worker, export_now }
    }

    pub fn accept(&self, action: Action, ops: &mut Vec<WriteOp>) -> Routed {
        ops.push(WriteOp::action(action));
        ops.push(WriteOp::Wake(self.worker.clone()));
        ops.push(WriteOp::Wake(self.export_now.clone()));
        Routed::Done
    }
}
