//! Notifications: a durable outbox row first ([`crate::store::outbox`]), sent later by the
//! destination's sender, so a notification survives a crash or a restart and is sent once.
//!
//! Queue: the store writer's queue; when full the pipeline waits (backpressure).

use crate::actions::Action;
use crate::actions::router::Routed;
use crate::store::WriteOp;

#[derive(Debug, Default)]
pub struct OutboxSink;

impl OutboxSink {
    pub fn accept(&self, action: Action, ops: &mut Vec<WriteOp>) -> Routed {
        ops.push(WriteOp::action(action));
        Routed::Done
    }
}
