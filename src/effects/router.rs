//! The action router: hands each action to the sink for its kind of effect.
//!
//! Every sink records the action in the store's action log (through the ops it returns) and performs
//! its own effect. Sinks never wait: store writes come back as [`WriteOp`]s for the caller to send
//! (the pipeline sends a polled page's ops as one atomic group), and the sinks with queues of their
//! own (platform commands, standings questions) drop and count when their queue is full. Adding an
//! effect means one new sink module and one match arm here.

use super::sinks::{
    ClipSink, CommandSink, CommunitySink, ExtensionSink, ModerationSink, ObsSink, OutboxSink,
    StandingsSink, ValidationSink,
};
use crate::actions::{Action, ActionKind};
use crate::event::ChatEvent;
use crate::store::WriteOp;

/// What became of one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routed {
    /// Recorded, and its effect done or queued.
    Done,
    /// A platform command that could not be queued: its source is not running or its queue is full
    /// (or, for a standings question, the worker's queue is full). The action is still recorded.
    CommandDropped,
    /// A platform command its source cannot do: refused before queueing, counted. The action is
    /// still recorded.
    CommandRefused,
}

/// One sink per kind of effect.
pub struct Router {
    pub commands: CommandSink,
    pub moderation: ModerationSink,
    pub clips: ClipSink,
    pub community: CommunitySink,
    pub outbox: OutboxSink,
    pub validation: ValidationSink,
    pub standings: StandingsSink,
    pub obs: ObsSink,
    pub extensions: ExtensionSink,
}

impl Router {
    /// Routes one action; the store writes it needs are appended to `ops`. `cause` is the event
    /// that fired it (none for a tick's actions, and for what an extension answered).
    pub fn route(
        &self,
        action: Action,
        cause: Option<&ChatEvent>,
        ops: &mut Vec<WriteOp>,
    ) -> Routed {
        match action.kind {
            ActionKind::Reply { .. }
            | ActionKind::Say { .. }
            | ActionKind::Announce { .. }
            | ActionKind::Delete { .. }
            | ActionKind::Timeout { .. }
            | ActionKind::Ban { .. }
            | ActionKind::Unban { .. } => self.commands.accept(action, ops),
            ActionKind::Moderate { .. } => self.moderation.accept(action, ops),
            ActionKind::Clip { .. } => self.clips.accept(action, ops),
            ActionKind::Tally { .. }
            | ActionKind::PollVote { .. }
            | ActionKind::Score { .. }
            | ActionKind::PollOpen { .. }
            | ActionKind::PollClose { .. }
            | ActionKind::PollRefused { .. }
            | ActionKind::Refused { .. }
            | ActionKind::GiveawayOpen { .. }
            | ActionKind::GiveawayEntry { .. }
            | ActionKind::GiveawayEntriesClosed { .. }
            | ActionKind::GiveawayDraw { .. }
            | ActionKind::GiveawayClose { .. }
            | ActionKind::PointsCredit { .. }
            | ActionKind::Link { .. }
            | ActionKind::Unlink { .. } => self.community.accept(action, ops),
            ActionKind::Notify { .. } => self.outbox.accept(action, ops),
            ActionKind::ValidationPassed => self.validation.accept(action, ops),
            ActionKind::Standings { .. }
            | ActionKind::Quote { .. }
            | ActionKind::QuoteAdd { .. }
            | ActionKind::QuoteDelete { .. }
            | ActionKind::Points { .. }
            | ActionKind::PointsGive { .. }
            | ActionKind::PointsAdjust { .. } => self.standings.accept(action, ops),
            ActionKind::Obs { .. } => self.obs.accept(action, ops),
            ActionKind::Extension { .. } => self.extensions.accept(action, cause, ops),
        }
    }
}
