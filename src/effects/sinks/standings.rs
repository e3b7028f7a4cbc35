//! Questions the store answers: `!top` / `!rank`, `!points`, `!quote`, and the outcome of the
//! daily bot's store changes that the chatter is told about (`!give`, `!points add`, `!quote add`,
//! `!quote del`). Each is recorded, then handed to the standings worker
//! ([`crate::pipeline::standings`]), which reads the store and replies.
//!
//! A change whose outcome the reply tells (the number a quote got, whether a gift went through) is
//! decided by the store, so the worker must read it after it is committed: the sink queues a
//! [`WriteOp::Flush`] right after the change and hands the worker its acknowledgement, which the
//! worker awaits before reading.
//!
//! Queue: the worker's queue, [`STANDINGS_QUEUE`] questions. When full (or when no worker runs)
//! the question is dropped (the router reports it as a dropped command), never waited for: the store read must
//! not stall the pipeline, and an answer minutes late is worth less than none.

use crate::actions::{Action, ActionKind};
use crate::effects::router::Routed;
use crate::effects::sinks::CommandQueues;
use crate::event::Platform;
use crate::store::WriteOp;
use tokio::sync::{mpsc, oneshot};

/// Questions waiting for the standings worker.
pub const STANDINGS_QUEUE: usize = 64;

/// One question for the worker: what to read, and where the answer goes.
#[derive(Debug)]
pub struct StandingsRequest {
    pub creator: String,
    pub platform: Platform,
    pub channel: String,
    /// The message that asked.
    pub reply_to: String,
    /// What caused the question (`event:{platform}:{message_id}`): a change's outcome is found by it.
    pub cause: String,
    /// The question, or the change whose outcome to tell.
    pub kind: ActionKind,
    /// For a change: acknowledged once it is committed (or dropped with its batch); read after.
    pub committed: Option<oneshot::Receiver<()>>,
}

pub struct StandingsSink {
    worker: Option<mpsc::Sender<StandingsRequest>>,
    /// Where a question that goes unanswered is counted (as a dropped command).
    commands: CommandQueues,
}

/// Whether the reply to `kind` tells the outcome of a store change (read after the commit).
fn tells_outcome(kind: &ActionKind) -> bool {
    matches!(
        kind,
        ActionKind::QuoteAdd { .. }
            | ActionKind::QuoteDelete { .. }
            | ActionKind::PointsGive { .. }
            | ActionKind::PointsAdjust { .. }
    )
}

fn channel_of(kind: &ActionKind) -> &str {
    match kind {
        ActionKind::Standings { channel, .. }
        | ActionKind::Quote { channel, .. }
        | ActionKind::QuoteAdd { channel, .. }
        | ActionKind::QuoteDelete { channel, .. }
        | ActionKind::Points { channel, .. }
        | ActionKind::PointsGive { channel, .. }
        | ActionKind::PointsAdjust { channel, .. } => channel,
        _ => unreachable!("the router sends only store questions here"),
    }
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
        let (committed, flush) = if tells_outcome(&action.kind) {
            let (ack, committed) = oneshot::channel();
            (Some(committed), Some(WriteOp::Flush(ack)))
        } else {
            (None, None)
        };
        let request = StandingsRequest {
            creator: action.creator.clone(),
            platform: action.platform,
            channel: channel_of(&action.kind).to_string(),
            reply_to: action.message_id.clone(),
            cause: action.cause(),
            kind: action.kind.clone(),
            committed,
        };
        let queued = self
            .worker
            .as_ref()
            .is_some_and(|tx| tx.try_send(request).is_ok());
        ops.push(WriteOp::action(action));
        ops.extend(flush);
        if queued {
            Routed::Done
        } else {
            self.commands.unanswered();
            Routed::CommandDropped
        }
    }
}
