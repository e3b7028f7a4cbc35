//! Platform commands: replies, posts, announcements and moderation, turned into
//! [`PlatformCommand`]s and queued on the command queue of the source the event came from.
//!
//! Every running source has a route here: its queue and what it can do ([`CommandSupport`]). A
//! command the source cannot do is refused *before* it is queued: counted, and reported once per
//! (creator, platform, kind) in the log and telemetry, with the reason. The rest is queued.
//!
//! Queue: each source's command queue, [`crate::sources::OUTBOUND_CAPACITY`] commands. When full (or
//! when no source runs for the creator and platform) the command is dropped and counted, never waited
//! for: a reply minutes late is worse than none, and waiting would stall the pipeline behind one slow
//! chat. [`CommandStats`] keeps the totals (`runtime_snapshot.json` `commands`).

use crate::actions::{Action, ActionKind};
use crate::command::stats::CommandStats;
use crate::command::{CommandKind, CommandSupport, PlatformCommand, TargetUser};
use crate::effects::router::Routed;
use crate::event::Platform;
use crate::store::WriteOp;
use crate::telemetry::Telemetry;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// One running source's queue and what it can do.
#[derive(Debug, Clone)]
pub struct CommandRoute {
    pub queue: mpsc::Sender<PlatformCommand>,
    pub support: CommandSupport,
}

/// Routes of every running source, by (creator, platform).
pub type CommandRoutes = HashMap<(String, Platform), CommandRoute>;

/// What became of one command handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    Queued,
    /// The source's queue was full, or no source runs for it.
    Dropped,
    /// The source cannot do this kind of command.
    Refused,
}

/// The one way into the sources' command queues (the command sink's and the standings worker's).
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct CommandQueues {
    routes: Arc<CommandRoutes>,
    stats: Arc<CommandStats>,
    telemetry: Telemetry,
}

impl CommandQueues {
    pub fn new(routes: CommandRoutes, stats: Arc<CommandStats>, telemetry: Telemetry) -> Self {
        CommandQueues {
            routes: Arc::new(routes),
            stats,
            telemetry,
        }
    }

    /// Queues `command` on its source, or refuses or drops it; counted either way.
    /// Whether a source of this process runs for `creator` on `platform` (has a command route).
    pub fn runs(&self, creator: &str, platform: Platform) -> bool {
        self.routes.contains_key(&(creator.to_owned(), platform))
    }

    pub fn submit(&self, command: PlatformCommand) -> Submitted {
        let Some(route) = self
            .routes
            .get(&(command.creator.clone(), command.platform))
        else {
            self.stats.dropped();
            tracing::debug!(creator = %command.creator, platform = %command.platform, cause = %command.cause, command = %command.kind.name(), "No source runs for this command; dropped.");
            return Submitted::Dropped;
        };
        let name = command.kind.name();
        if !route.support.allows(name) {
            if self.stats.refused(&command, &route.support.otherwise) {
                let message = format!(
                    "{}/{} cannot {name}: {}; such commands are refused and counted (runtime_snapshot.json commands.refusals)",
                    command.creator, command.platform, route.support.otherwise
                );
                tracing::warn!(creator = %command.creator, platform = %command.platform, cause = %command.cause, command = %name, "{message}");
                self.telemetry.error("command_refused", "commands", message);
            }
            return Submitted::Refused;
        }
        let (creator, platform, cause) = (
            command.creator.clone(),
            command.platform,
            command.cause.clone(),
        );
        match route.queue.try_send(command) {
            Ok(()) => {
                self.stats.queued();
                Submitted::Queued
            }
            Err(_) => {
                self.stats.dropped();
                tracing::debug!(%creator, %platform, %cause, command = %name, "The source's command queue is full; dropped.");
                Submitted::Dropped
            }
        }
    }

    /// Why `creator`'s source on `platform` refuses what it cannot do, when one runs.
    pub fn why_refused(&self, creator: &str, platform: Platform) -> Option<String> {
        self.routes
            .get(&(creator.to_owned(), platform))
            .map(|route| route.support.otherwise.clone())
    }

    /// The platforms with a running source for `creator`, in the platforms' order.
    pub fn platforms_of(&self, creator: &str) -> Vec<Platform> {
        let mut platforms: Vec<Platform> = self
            .routes
            .keys()
            .filter(|(c, _)| c == creator)
            .map(|(_, p)| *p)
            .collect();
        platforms.sort_by_key(|p| Platform::all().iter().position(|q| q == p));
        platforms
    }

    /// A reply that could not even be made (a standings read failed): counted as dropped.
    pub fn unanswered(&self) {
        self.stats.dropped();
    }
}

/// The command an action asks for, if it asks for one.
pub fn command_of(action: &Action) -> Option<PlatformCommand> {
    let (channel, kind) = match &action.kind {
        // Threaded under the chat message that caused it; a reply to a stream event or a tick (a
        // poll closing at its deadline) threads under nothing, so it is said.
        ActionKind::Reply { channel, text } if action.thread => (
            channel,
            CommandKind::Reply {
                text: text.clone(),
                reply_to: action.message_id.clone(),
            },
        ),
        ActionKind::Reply { channel, text } => (channel, CommandKind::Say { text: text.clone() }),
        ActionKind::Say { channel, text } => (channel, CommandKind::Say { text: text.clone() }),
        ActionKind::Announce { channel, text } => {
            (channel, CommandKind::Announce { text: text.clone() })
        }
        ActionKind::Delete {
            channel,
            message_id,
        } => (
            channel,
            CommandKind::DeleteMessage {
                message_id: message_id.clone(),
            },
        ),
        ActionKind::Timeout {
            channel,
            user_id,
            user_login,
            seconds,
            reason,
        } => (
            channel,
            CommandKind::Timeout {
                user: TargetUser {
                    id: user_id.clone(),
                    login: user_login.clone(),
                },
                seconds: *seconds,
                reason: reason.clone(),
            },
        ),
        ActionKind::Ban {
            channel,
            user_id,
            user_login,
            reason,
        } => (
            channel,
            CommandKind::Ban {
                user: TargetUser {
                    id: user_id.clone(),
                    login: user_login.clone(),
                },
                reason: reason.clone(),
            },
        ),
        ActionKind::Unban {
            channel,
            user_id,
            user_login,
        } => (
            channel,
            CommandKind::Unban {
                user: TargetUser {
                    id: user_id.clone(),
                    login: user_login.clone(),
                },
            },
        ),
        _ => return None,
    };
    Some(PlatformCommand {
        creator: action.creator.clone(),
        platform: action.platform,
        channel: channel.clone(),
        cause: action.cause(),
        kind,
        receipt: false,
    })
}

/// The sink of every action that is a platform command.
pub struct CommandSink {
    queues: CommandQueues,
}

impl CommandSink {
    pub fn new(queues: CommandQueues) -> CommandSink {
        CommandSink { queues }
    }

    pub fn accept(&self, action: Action, ops: &mut Vec<WriteOp>) -> Routed {
        let submitted = command_of(&action).map(|command| self.queues.submit(command));
        ops.push(WriteOp::action(action));
        match submitted {
            Some(Submitted::Queued) => Routed::Done,
            Some(Submitted::Refused) => Routed::CommandRefused,
            Some(Submitted::Dropped) | None => Routed::CommandDropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{CommandName, CommandSet};

    fn action(platform: Platform, kind: ActionKind) -> Action {
        Action {
            thread: true,
            trigger_id: "t".into(),
            creator: "demo".into(),
            platform,
            message_id: "m-1".into(),
            at: chrono::Utc::now(),
            kind,
        }
    }

    fn timeout() -> ActionKind {
        ActionKind::Timeout {
            channel: "demo".into(),
            user_id: "42".into(),
            user_login: "spammer".into(),
            seconds: 600,
            reason: Some("banned word".into()),
        }
    }

    #[test]
    fn a_command_the_platform_cannot_do_is_refused_before_queueing_counted_and_reported_once() {
        let (rumble_tx, mut rumble_rx) = mpsc::channel(4);
        let (kick_tx, mut kick_rx) = mpsc::channel(1);
        let mut routes = CommandRoutes::new();
        routes.insert(
            ("demo".into(), Platform::named("rumble")),
            CommandRoute {
                queue: rumble_tx,
                support: CommandSupport::none("read-only"),
            },
        );
        routes.insert(
            ("demo".into(), Platform::named("kick")),
            CommandRoute {
                queue: kick_tx,
                support: CommandSupport::new(
                    CommandSet::of(&[CommandName::Timeout]),
                    "no announcements",
                ),
            },
        );
        let stats = Arc::new(CommandStats::default());
        let telemetry = Telemetry::default();
        let sink = CommandSink::new(CommandQueues::new(routes, stats.clone(), telemetry.clone()));
        let mut ops = Vec::new();
        for _ in 0..3 {
            assert_eq!(
                sink.accept(action(Platform::named("rumble"), timeout()), &mut ops),
                Routed::CommandRefused
            );
        }
        assert!(rumble_rx.try_recv().is_err(), "nothing was queued");
        assert_eq!(
            sink.accept(action(Platform::named("kick"), timeout()), &mut ops),
            Routed::Done
        );
        // The queue holds one: the next is dropped.
        assert_eq!(
            sink.accept(action(Platform::named("kick"), timeout()), &mut ops),
            Routed::CommandDropped
        );
        assert_eq!(
            sink.accept(action(Platform::named("youtube"), timeout()), &mut ops),
            Routed::CommandDropped,
            "no source runs for it"
        );
        let queued = kick_rx.try_recv().unwrap();
        assert_eq!(queued.cause, "event:kick:m-1");
        assert_eq!(queued.kind.name(), CommandName::Timeout);
        assert_eq!(ops.len(), 6, "every action is recorded");
        let snapshot = stats.snapshot();
        assert_eq!(
            (snapshot.queued, snapshot.dropped, snapshot.refused),
            (1, 2, 3)
        );
        assert_eq!(snapshot.refusals.len(), 1);
        assert_eq!(snapshot.refusals[0].command, CommandName::Timeout);
        let errors = telemetry.errors();
        assert_eq!(errors.len(), 1, "reported once: {errors:?}");
        assert_eq!(errors[0].error_type, "command_refused");
        assert!(
            errors[0]
                .message
                .contains("demo/rumble cannot timeout: read-only"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn replies_are_threaded_under_the_message_that_caused_them() {
        let command = command_of(&action(
            Platform::named("twitch"),
            ActionKind::Reply {
                channel: "demo".into(),
                text: "pong".into(),
            },
        ))
        .unwrap();
        assert_eq!(
            command.kind,
            CommandKind::Reply {
                text: "pong".into(),
                reply_to: "m-1".into()
            }
        );
        assert_eq!(command.cause, "event:twitch:m-1");
        assert!(
            command_of(&action(
                Platform::named("twitch"),
                ActionKind::ValidationPassed
            ))
            .is_none()
        );
    }
}
