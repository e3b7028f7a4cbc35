//! What an extension's effects become: actions of the existing kinds (say, reply, announce,
//! tally, score, timeout, ban), caused by the same event as the extension call and named by the
//! trigger id `{trigger}/extension`, so they go through the router and sinks like any trigger's
//! actions, are recorded with the call, and `ss replay` can find them again.

use super::protocol::Effect;
use crate::actions::{Action, ActionKind, extension_trigger_id};
use crate::event::ChatEvent;

/// The actions `effects` (already checked against the declaration) ask for, for the extension
/// action `call` fired by `event`.
pub fn actions(call: &Action, event: &ChatEvent, effects: Vec<Effect>) -> Vec<Action> {
    let channel = match &call.kind {
        ActionKind::Extension { channel, .. } => channel.clone(),
        _ => event.channel.to_string(),
    };
    let author = &event.author;
    effects
        .into_iter()
        .map(|effect| {
            let kind = match effect {
                Effect::Say { text } => ActionKind::Say {
                    channel: channel.clone(),
                    text,
                },
                Effect::Reply { text } => ActionKind::Reply {
                    channel: channel.clone(),
                    text,
                },
                Effect::Announce { text } => ActionKind::Announce {
                    channel: channel.clone(),
                    text,
                },
                Effect::Tally { tally, amount } => ActionKind::Tally {
                    tally,
                    amount: amount.unwrap_or(1),
                    user_id: author.id.to_string(),
                },
                Effect::Score { board, points } => ActionKind::Score {
                    board,
                    points: points.unwrap_or(1),
                    user_id: author.id.to_string(),
                    user_name: author.display_name.to_string(),
                },
                Effect::Timeout { seconds, reason } => ActionKind::Timeout {
                    channel: channel.clone(),
                    user_id: author.id.to_string(),
                    user_login: author.login.to_string(),
                    seconds,
                    reason,
                },
                Effect::Ban { reason } => ActionKind::Ban {
                    channel: channel.clone(),
                    user_id: author.id.to_string(),
                    user_login: author.login.to_string(),
                    reason,
                },
            };
            Action {
                trigger_id: extension_trigger_id(&call.trigger_id),
                creator: call.creator.clone(),
                platform: call.platform,
                message_id: call.message_id.clone(),
                at: call.at,
                kind,
                thread: call.thread,
            }
        })
        .collect()
}
