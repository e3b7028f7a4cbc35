//! Votes, tallies and scores: state in the store, written by [`crate::store::community`].
//!
//! Queue: the store writer's queue; when full the pipeline waits (backpressure).

use crate::actions::Action;
use crate::actions::router::Routed;
use crate::store::WriteOp;

#[derive(Debug, Default)]
pub struct CommunitySink;

impl CommunitySink {
    pub fn accept(&self, action: Action, ops: &mut Vec<WriteOp>) -> Routed {
        ops.push(WriteOp::action(action));
        Routed::Done
    }
}
