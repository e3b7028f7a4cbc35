//! Validation: marks a (creator, platform)'s chat as seen end to end, for the exports.
//!
//! Queue: none; the effect is one map entry behind a short lock.

use crate::actions::Action;
use crate::effects::router::Routed;
use crate::store::WriteOp;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Shared map of `creator/platform` → when its chat last passed the validation trigger.
pub type Validated = Arc<Mutex<BTreeMap<String, DateTime<Utc>>>>;

pub struct ValidationSink {
    validated: Validated,
}

impl ValidationSink {
    pub fn new(validated: Validated) -> ValidationSink {
        ValidationSink { validated }
    }

    pub fn accept(&self, action: Action, ops: &mut Vec<WriteOp>) -> Routed {
        self.validated
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(format!("{}/{}", action.creator, action.platform), action.at);
        ops.push(WriteOp::action(action));
        Routed::Done
    }
}
