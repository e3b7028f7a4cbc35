//! Moderation decisions: recorded in the audit with their action, and (unless a dry run) carried
//! out as platform commands on the source the message came from.
//!
//! A decision becomes, in order: the message deleted (anything but a warning), the author timed out
//! or banned (with the rule as the reason), and the filter's message said in chat. Each command asks
//! for a receipt, so the audit learns what the platform answered; what the command sink settles
//! before queueing (refused: the platform cannot do it, counted and reported once per kind; dropped)
//! is recorded here, in the same write as the decision. A command without any outcome recorded is
//! still queued.
//!
//! **Never twice for one message.** The engine makes at most one decision per message (dedupe
//! comes first), and this sink also remembers the last [`ACTED_WINDOW`] messages it acted on: a
//! second decision about one of them is recorded and not sent.
//!
//! Queue: the sources' command queues, through [`CommandQueues`] (drop and count when full).

use super::command::{CommandQueues, Submitted};
use crate::actions::moderation::Decision;
use crate::actions::{Action, ActionKind};
use crate::command::{CommandKind, PlatformCommand, TargetUser};
use crate::effects::router::Routed;
use crate::event::Platform;
use crate::store::{ModerationOutcome, WriteOp};
use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// Messages remembered as acted on.
pub const ACTED_WINDOW: usize = 65_536;

/// The platform commands a decision becomes, in the order they are sent.
pub fn commands_of(action: &Action) -> Vec<PlatformCommand> {
    let ActionKind::Moderate {
        channel,
        filter,
        rule,
        user_id,
        user_login,
        decision,
        seconds,
        message,
        ..
    } = &action.kind
    else {
        return Vec::new();
    };
    let user = || TargetUser {
        id: user_id.clone(),
        login: user_login.clone(),
    };
    let reason = Some(format!("{filter}: {rule}"));
    let mut kinds = Vec::new();
    if *decision != Decision::Warn {
        kinds.push(CommandKind::DeleteMessage {
            message_id: action.message_id.clone(),
        });
    }
    match decision {
        Decision::Timeout => kinds.push(CommandKind::Timeout {
            user: user(),
            seconds: seconds.unwrap_or(60),
            reason,
        }),
        Decision::Ban => kinds.push(CommandKind::Ban {
            user: user(),
            reason,
        }),
        Decision::Warn | Decision::Delete => {}
    }
    if let Some(text) = message {
        kinds.push(CommandKind::Say { text: text.clone() });
    }
    kinds
        .into_iter()
        .map(|kind| PlatformCommand {
            creator: action.creator.clone(),
            platform: action.platform,
            channel: channel.clone(),
            cause: action.cause(),
            kind,
            receipt: true,
        })
        .collect()
}

/// The messages acted on lately.
#[derive(Debug, Default)]
struct Acted {
    seen: HashSet<(Platform, String)>,
    order: VecDeque<(Platform, String)>,
}

impl Acted {
    fn first_time(&mut self, platform: Platform, message_id: &str) -> bool {
        let key = (platform, message_id.to_owned());
        if !self.seen.insert(key.clone()) {
            return false;
        }
        if self.order.len() == ACTED_WINDOW
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.order.push_back(key);
        true
    }
}

/// The sink of moderation decisions.
pub struct ModerationSink {
    queues: CommandQueues,
    acted: Mutex<Acted>,
}

impl ModerationSink {
    pub fn new(queues: CommandQueues) -> ModerationSink {
        ModerationSink {
            queues,
            acted: Mutex::new(Acted::default()),
        }
    }

    pub fn accept(&self, action: Action, ops: &mut Vec<WriteOp>) -> Routed {
        let dry_run = matches!(action.kind, ActionKind::Moderate { dry_run: true, .. });
        let first = self
            .acted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .first_time(action.platform, &action.message_id);
        let commands = if dry_run {
            Vec::new()
        } else if first {
            commands_of(&action)
        } else {
            tracing::warn!(creator = %action.creator, platform = %action.platform, cause = %action.message_id, "A second moderation decision about one message; recorded, not sent again.");
            Vec::new()
        };
        let (platform, message_id) = (action.platform, action.message_id.clone());
        ops.push(WriteOp::action(action));
        let mut routed = Routed::Done;
        for command in commands {
            let name = command.kind.name();
            let (creator, command_platform) = (command.creator.clone(), command.platform);
            let (state, answer) = match self.queues.submit(command) {
                Submitted::Queued => continue,
                Submitted::Refused => {
                    routed = Routed::CommandRefused;
                    (
                        "refused",
                        self.queues.why_refused(&creator, command_platform),
                    )
                }
                Submitted::Dropped => {
                    if routed == Routed::Done {
                        routed = Routed::CommandDropped;
                    }
                    (
                        "dropped",
                        Some("no source ran for it, or its command queue was full".to_owned()),
                    )
                }
            };
            ops.push(WriteOp::ModerationOutcome(Box::new(ModerationOutcome {
                platform,
                message_id: message_id.clone(),
                command: name.as_str().to_owned(),
                state: state.to_owned(),
                answer,
                at: chrono::Utc::now(),
            })));
        }
        routed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::stats::CommandStats;
    use crate::command::{CommandName, CommandSet, CommandSupport};
    use crate::effects::sinks::command::{CommandRoute, CommandRoutes};
    use crate::telemetry::Telemetry;
    use std::sync::Arc;
    use tokio::sync::mpsc;

    fn decision(platform: &str, message_id: &str, decision: Decision, dry_run: bool) -> Action {
        Action {
            trigger_id: "moderation/caps".into(),
            creator: "demo".into(),
            platform: Platform::named(platform),
            message_id: message_id.into(),
            at: chrono::Utc::now(),
            kind: ActionKind::Moderate {
                channel: "demo".into(),
                filter: "caps".into(),
                rule: "caps 100% of 20 letters".into(),
                user_id: "42".into(),
                user_login: "loud".into(),
                decision,
                seconds: (decision == Decision::Timeout).then_some(30),
                strike: 1,
                dry_run,
                message: Some("calm down".into()),
            },
            thread: true,
        }
    }

    #[test]
    fn a_decision_is_sent_once_refused_where_the_platform_cannot_and_never_in_a_dry_run() {
        let (kick_tx, mut kick_rx) = mpsc::channel(16);
        let (rumble_tx, mut rumble_rx) = mpsc::channel(16);
        let mut routes = CommandRoutes::new();
        routes.insert(
            ("demo".into(), Platform::named("kick")),
            CommandRoute {
                queue: kick_tx,
                support: CommandSupport::new(CommandSet::ALL, ""),
            },
        );
        routes.insert(
            ("demo".into(), Platform::named("rumble")),
            CommandRoute {
                queue: rumble_tx,
                support: CommandSupport::none("Rumble has no moderation API"),
            },
        );
        let stats = Arc::new(CommandStats::default());
        let sink = ModerationSink::new(CommandQueues::new(
            routes,
            stats.clone(),
            Telemetry::default(),
        ));
        let mut ops = Vec::new();
        assert_eq!(
            sink.accept(decision("kick", "m1", Decision::Timeout, false), &mut ops),
            Routed::Done
        );
        let sent: Vec<(CommandName, bool)> = std::iter::from_fn(|| kick_rx.try_recv().ok())
            .map(|c| (c.kind.name(), c.receipt))
            .collect();
        assert_eq!(
            sent,
            [
                (CommandName::DeleteMessage, true),
                (CommandName::Timeout, true),
                (CommandName::Say, true)
            ]
        );
        // The same message again: recorded, not sent.
        sink.accept(decision("kick", "m1", Decision::Timeout, false), &mut ops);
        assert!(kick_rx.try_recv().is_err());
        // A dry run sends nothing.
        sink.accept(decision("kick", "m2", Decision::Ban, true), &mut ops);
        assert!(kick_rx.try_recv().is_err());
        assert_eq!(ops.len(), 3, "every decision is recorded");
        // Rumble cannot: each command refused, recorded with the reason.
        assert_eq!(
            sink.accept(decision("rumble", "m3", Decision::Delete, false), &mut ops),
            Routed::CommandRefused
        );
        assert!(rumble_rx.try_recv().is_err());
        let refused: Vec<(String, String, Option<String>)> = ops
            .iter()
            .filter_map(|op| match op {
                WriteOp::ModerationOutcome(o) => {
                    Some((o.command.clone(), o.state.clone(), o.answer.clone()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            refused,
            [
                (
                    "delete_message".into(),
                    "refused".into(),
                    Some("Rumble has no moderation API".into())
                ),
                (
                    "say".into(),
                    "refused".into(),
                    Some("Rumble has no moderation API".into())
                )
            ]
        );
        assert_eq!(stats.snapshot().refusals.len(), 2, "reported once per kind");
    }
}
