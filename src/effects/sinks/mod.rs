//! Sinks: one per kind of effect, each with the queue in front of it and that queue's policy when
//! full stated in its module.
//!
//! | sink | effect | queue | when full |
//! | --- | --- | --- | --- |
//! | [`command`] | a platform command (reply, say, announce, delete, timeout, ban, unban) for the source's platform; refused before queueing when the source cannot do it | the source's command queue ([`crate::sources::OUTBOUND_CAPACITY`]) | drop the command, count it |
//! | [`moderation`] | a moderation decision: recorded in the audit, and (unless a dry run) its platform commands (delete, timeout or ban, the filter's message) queued like any command, each asking for a receipt | the source's command queue, through [`command::CommandQueues`] | drop the command, count it, record it as dropped |
//! | [`clip`] | a durable clip job, then the clip worker is woken | the store writer's queue | block (backpressure) |
//! | [`community`] | votes, tallies, scores, giveaways, points credits, links in the store (a poll's results and a draw's winners routed with them) | the store writer's queue | block |
//! | [`outbox`] | a durable outbox row for the Discord / X senders | the store writer's queue | block |
//! | [`validation`] | marks the platform's chat as seen end to end | none (a map entry) | — |
//! | [`obs`] | a request to the creator's OBS (scene, source, input, replay buffer, chapter, stream), answered and recorded by its worker | the OBS client's queue ([`crate::obs::REQUEST_QUEUE`]) | drop the request, count it |
//! | [`extension`] | a call of an extension: recorded, then awaited by the extension worker off the run loop, whose answer comes back to the loop as actions of their own | the worker's queue ([`extension::EXTENSION_QUEUE`]) | drop the call, count it as a dropped command |
//! | [`standings`] | `!top` / `!rank` / `!points` / `!quote` answered from the store by the standings worker, and the outcome of `!give`, `!points add`, `!quote add` / `del` told after their commit | the worker's queue ([`standings::STANDINGS_QUEUE`]) | drop the question, count it as a dropped command (the change itself is still recorded) |
//!
//! The store writer's queue is [`crate::pipeline::runner::WRITER_CAPACITY`] ops; a full queue makes
//! the pipeline wait, which the bounded data lane in front of it absorbs and then sheds, counted.

pub mod clip;
pub mod command;
pub mod community;
pub mod extension;
pub mod moderation;
pub mod obs;
pub mod outbox;
pub mod standings;
pub mod validation;

pub use clip::ClipSink;
pub use command::{CommandQueues, CommandSink};
pub use community::CommunitySink;
pub use extension::{ExtensionCall, ExtensionSink};
pub use moderation::ModerationSink;
pub use obs::ObsSink;
pub use outbox::OutboxSink;
pub use standings::{StandingsRequest, StandingsSink};
pub use validation::{Validated, ValidationSink};
