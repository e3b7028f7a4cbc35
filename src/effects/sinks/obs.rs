//! OBS requests: each `obs` action goes to its creator's OBS ([`crate::obs`]), whose worker sends
//! it, waits for OBS's answer and records the outcome (success, or OBS's status code and comment)
//! with the action's cause in `runtime_snapshot.json` `obs`.
//!
//! Queue: the OBS client's request queue ([`crate::obs::REQUEST_QUEUE`]). When it is full, or the
//! creator has no OBS in obs.json, the request is dropped and counted, never waited for: the
//! pipeline must not stall behind OBS. The action itself is always recorded.

use crate::actions::{Action, ActionKind};
use crate::effects::router::Routed;
use crate::obs::Obs;
use crate::store::WriteOp;
use crate::telemetry::Telemetry;
use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

pub struct ObsSink {
    obs: Obs,
    telemetry: Telemetry,
    /// Creators already reported as having no OBS (reported once each).
    unconfigured: Mutex<HashSet<String>>,
}

impl ObsSink {
    pub fn new(obs: Obs, telemetry: Telemetry) -> ObsSink {
        ObsSink {
            obs,
            telemetry,
            unconfigured: Mutex::default(),
        }
    }

    pub fn accept(&self, action: Action, ops: &mut Vec<WriteOp>) -> Routed {
        let routed = match (&action.kind, self.obs.client(&action.creator)) {
            (ActionKind::Obs { call }, Some(client)) => {
                if client.submit(call.clone(), action.cause()) {
                    Routed::Done
                } else {
                    tracing::warn!(creator = %action.creator, cause = %action.cause(), request = call.name(), "OBS's request queue is full; the request was dropped.");
                    Routed::CommandDropped
                }
            }
            (ActionKind::Obs { call }, None) => {
                let first = self
                    .unconfigured
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(action.creator.clone());
                if first {
                    let message = format!(
                        "trigger {} asks OBS for {}, but creator {} has no OBS in obs.json; such requests are dropped",
                        action.trigger_id,
                        call.name(),
                        action.creator
                    );
                    tracing::warn!(cause = %action.cause(), "{message}");
                    self.telemetry.error("obs_not_configured", "obs", message);
                }
                Routed::CommandDropped
            }
            _ => Routed::Done,
        };
        ops.push(WriteOp::action(action));
        routed
    }
}
