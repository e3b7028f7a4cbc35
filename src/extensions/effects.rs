//! What an extension's effects become: actions of the existing kinds (say, reply, announce,
//! tally, score, timeout, ban), caused by the same event as the extension call and named by the
//! trigger id `{trigger}/extension`, so they go through the router and sinks like any trigger's
//! actions, are recorded with the call, and `ss replay` can find them again.

use super::protocol::Effect;
use crate::actions::{Action, ActionKind, extension_trigger_id};
use crate::event::ChatEvent;

/// The actions `effects` (already checked against the declaration) ask for, for the extension
/// action `call` fired by `event` (none for a timer's tick), and the effects about the event's
/// author that cannot be applied without one.
pub fn actions(
    call: &Action,
    event: Option<&ChatEvent>,
    effects: Vec<Effect>,
) -> (Vec<Action>, Vec<Effect>) {
    let channel = match &call.kind {
        ActionKind::Extension { channel, .. } => channel.clone(),
        _ => event.map(|e| e.channel.to_string()).unwrap_or_default(),
    };
    let mut authorless = Vec::new();
    let actions = effects
        .into_iter()
        .filter_map(|effect| {
            let kind = match (effect, event.map(|e| &e.author)) {
                (Effect::Say { text }, _) => ActionKind::Say {
                    channel: channel.clone(),
                    text,
                },
                (Effect::Reply { text }, _) => ActionKind::Reply {
                    channel: channel.clone(),
                    text,
                },
                (Effect::Announce { text }, _) => ActionKind::Announce {
                    channel: channel.clone(),
                    text,
                },
                (Effect::Tally { tally, amount }, Some(author)) => ActionKind::Tally {
                    tally,
                    amount: amount.unwrap_or(1),
                    user_id: author.id.to_string(),
                },
                (Effect::Score { board, points }, Some(author)) => ActionKind::Score {
                    board,
                    points: points.unwrap_or(1),
                    user_id: author.id.to_string(),
                    user_name: author.display_name.to_string(),
                },
                (Effect::Timeout { seconds, reason }, Some(author)) => ActionKind::Timeout {
                    channel: channel.clone(),
                    user_id: author.id.to_string(),
                    user_login: author.login.to_string(),
                    seconds,
                    reason,
                },
                (Effect::Ban { reason }, Some(author)) => ActionKind::Ban {
                    channel: channel.clone(),
                    user_id: author.id.to_string(),
                    user_login: author.login.to_string(),
                    reason,
                },
                (effect, None) => {
                    authorless.push(effect);
                    return None;
                }
            };
            Some(Action {
                trigger_id: extension_trigger_id(&call.trigger_id),
                creator: call.creator.clone(),
                platform: call.platform,
                message_id: call.message_id.clone(),
                at: call.at,
                kind,
                thread: call.thread,
            })
        })
        .collect();
    (actions, authorless)
}
