//! Extension calls: the action is recorded, then the call (with the event that fired it) is
//! handed to the extension worker ([`crate::pipeline::extensions`]), which awaits the answer off
//! the run loop and hands the actions it becomes back to the loop, so chat keeps flowing while an
//! extension thinks.
//!
//! Queue: the worker's queue, [`EXTENSION_QUEUE`] calls. When full (or when no worker runs) the
//! call is dropped (the router reports it as a dropped command), never waited for.

use crate::actions::Action;
use crate::effects::router::Routed;
use crate::event::ChatEvent;
use crate::store::WriteOp;
use tokio::sync::mpsc;

/// Calls waiting for the extension worker.
pub const EXTENSION_QUEUE: usize = 256;

/// One call for the worker: the extension action and the event that fired it (none for a
/// timer's tick).
#[derive(Debug)]
pub struct ExtensionCall {
    pub action: Action,
    pub event: Option<ChatEvent>,
}

#[derive(Default)]
pub struct ExtensionSink {
    worker: Option<mpsc::Sender<ExtensionCall>>,
}

impl ExtensionSink {
    /// A sink feeding `worker`; `None` records the calls and makes none.
    pub fn new(worker: Option<mpsc::Sender<ExtensionCall>>) -> ExtensionSink {
        ExtensionSink { worker }
    }

    /// Records the call and hands it, with the event that caused it (none for a tick), to the
    /// worker.
    pub fn accept(
        &self,
        action: Action,
        cause: Option<&ChatEvent>,
        ops: &mut Vec<WriteOp>,
    ) -> Routed {
        ops.push(WriteOp::action(action.clone()));
        let queued = self.worker.as_ref().is_some_and(|tx| {
            tx.try_send(ExtensionCall {
                action,
                event: cause.cloned(),
            })
            .is_ok()
        });
        if queued {
            Routed::Done
        } else {
            Routed::CommandDropped
        }
    }
}
