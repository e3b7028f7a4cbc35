//! Standings questions (`!top`, `!rank`): recorded, then handed to the standings worker
//! ([`crate::pipeline::standings`]), which reads the store and replies.
//!
//! Queue: the worker's queue, [`STANDINGS_QUEUE`] questions. When full (or when no worker runs)
//! the question is dropped (the router reports it as a dropped command), never waited for: the store read must
//! not stall the pipeline, and an answer minutes late is worth less than none.

use crate::actions::{Action, ActionKind, StandingsQuery};
use crate::effects::router::Routed;
use crate::effects::sinks::CommandQueues;
use crate::event::Platform;
use crate::store::WriteOp;
use tokio::sync::mpsc;

/// Questions waiting for the standings worker.
pub const STANDINGS_QUEUE: usize = 64;

/// One question for the worker: what to read, and where the answer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingsRequest {
    pub creator: String,
    pub platform: Platform,
    pub channel: String,
    /// The message that asked.
    pub reply_to: String,
    pub query: StandingsQuery,
}

pub struct StandingsSink {
    worker: Option<mpsc::Sender<StandingsRequest>>,
    /// Where a question that goes unanswered is counted (as a dropped command).
    commands: CommandQueues,
}

impl StandingsSink {
    /// A sink feeding `worker`; `None` records the questions and answers none.
    pub fn new(
        worker: Option<mpsc::Sender<StandingsRequest>>,
        commands: CommandQueues,
    ) -> StandingsSink {
        StandingsSink { worker, commands }
    }

    pub fn accept(&self, action: Action, ops: &mut Vec<WriteOp>) -> Routed {
        let ActionKind::Standings { channel, query } = &action.kind else {
            unreachable!("the router sends only standings questions here")
        };
        let request = StandingsRequest {
            creator: action.creator.clone(),
            platform: action.platform,
            channel: channel.clone(),
            reply_to: action.message_id.clone(),
            query: query.clone(),
        };
        let queued = self
            .worker
            .as_ref()
            .is_some_and(|tx| tx.try_send(request).is_ok());
        ops.push(WriteOp::action(action));
        if queued {
            Routed::Done
        } else {
            self.commands.unanswered();
            Routed::CommandDropped
        }
    }
}
