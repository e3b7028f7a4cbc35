//! The trigger engine: pure and deterministic.
//!
//! `evaluate(event, registry, state) -> Vec<Action>`: which triggers of the event's creator match
//! (for a chat message: commands, keywords, regexes, the non-empty validation trigger; for a stream
//! event: the triggers on its kind whose conditions hold), whether the author's role allows them,
//! whether their cooldowns have passed, and what actions they produce. `evaluate_tick(tick, ...)`
//! does what a creator's clock brings due (a poll's or a giveaway's deadline, a timer's slot,
//! watch-time points). The only clocks are the events' own
//! timestamps and the ticks, and the only memory is the [`TriggerState`] passed in, so replaying
//! recorded chat and ticks through a fresh state gives the same actions every time.
//!
//! - [`registry`]: triggers compiled once per config (command table, one keyword automaton, one regex set).
//! - [`state`]: cooldowns and fire counts.
//! - [`events`]: stream-event triggers' conditions.
//! - [`template`]: reply templates and their placeholders.
//! - [`polls`] and [`poll_command`]: chat polls (`!poll open/close`, `!vote`, the timer).
//! - [`standings`]: `!top` and `!rank`, described for the standings worker to answer.
//! - The channel's daily bot: [`timers`] (timed messages while live), [`giveaways`] (with the
//!   auditable [`draw`]), [`quotes`], [`points`], [`people`] (one viewer across platforms:
//!   `!link`, and the person every per-viewer feature keys by).
//! - [`cause`]: how the engine's own commands attribute and word their actions.

pub mod cause;
pub mod draw;
pub mod events;
pub mod giveaways;
pub mod moderation;
pub mod people;
pub mod points;
pub mod poll_command;
pub mod polls;
pub mod quotes;
pub mod registry;
pub mod standings;
pub mod state;
pub mod template;
pub mod timers;

pub use registry::Registry;
pub use state::TriggerState;

use crate::actions::{self, Action, ActionKind};
use crate::config::model::{ActionDef, Matcher};
use crate::event::{ChatEvent, EventDetail, EventKind, Tick};
use registry::CompiledTrigger;

/// Evaluates one event: a chat message against the chat triggers (and polls, standings), a stream
/// event against the triggers on its kind. Matching triggers fire in config order.
pub fn evaluate(event: &ChatEvent, registry: &Registry, state: &mut TriggerState) -> Vec<Action> {
    let mut actions = Vec::new();
    let Some(creator) = registry.creator(&event.creator) else {
        return actions;
    };
    let now_ms = event.timestamp_ms();
    timers::observe(event, &creator.timers, &mut state.timers);
    if event.kind != EventKind::Message {
        if creator.quotes.is_some() {
            quotes::on_event(event, &mut state.quotes);
        }
        if creator.giveaways.is_some() {
            giveaways::on_event(event, &mut state.giveaways);
        }
        let burst = event
            .detail
            .as_deref()
            .and_then(EventDetail::subscription)
            .and_then(|s| s.community_gift_id.as_deref());
        for &index in creator.on_event(event.kind) {
            let trigger = &creator.triggers[index];
            if let Matcher::Event { on } = &trigger.def.matcher
                && events::matches(on, event)
                && burst.is_none_or(|id| !state.burst_fired(trigger, id))
            {
                let before = actions.len();
                fire(
                    trigger,
                    event,
                    event.text.trim(),
                    now_ms,
                    state,
                    &mut actions,
                );
                if let Some(id) = burst
                    && actions.len() > before
                {
                    state.burst_fire(trigger, id, now_ms);
                }
            }
        }
        return actions;
    }
    // The creator's own chat only: a vote, `!top`, a giveaway entry, points, a quote or a link
    // shared from another channel (Twitch shared chat) is not this creator's viewer's.
    if event.shared_from.is_none() {
        own_chat(event, creator, state, &mut actions);
    }
    creator.for_each_match(&event.text, |index, args| {
        fire(
            &creator.triggers[index],
            event,
            args,
            now_ms,
            state,
            &mut actions,
        );
    });
    actions
}

/// The creator-state features of a chat message from the creator's own chat: points, polls and
/// standings, giveaways, quotes and linked accounts, in that order.
fn own_chat(
    event: &ChatEvent,
    creator: &registry::CreatorTriggers,
    state: &mut TriggerState,
    actions: &mut Vec<Action>,
) {
    let mut points_command = false;
    if let Some(settings) = &creator.points {
        points_command =
            points::on_message(event, settings, &mut state.points, &state.people, actions);
    }
    if let Some(settings) = creator.polls() {
        polls::on_message(event, settings, &mut state.polls, actions);
        if !points_command {
            standings::on_message(event, settings, &mut state.standings, actions);
        }
    }
    if let Some(settings) = &creator.giveaways {
        giveaways::on_message(
            event,
            settings,
            &mut state.giveaways,
            &state.people,
            actions,
        );
    }
    if let Some(settings) = &creator.quotes {
        quotes::on_message(event, settings, &mut state.quotes, actions);
    }
    if let Some(settings) = &creator.links {
        people::on_message(event, settings, &mut state.people, actions);
    }
}

/// Fires `trigger` for `event` if it applies (enabled, platform, role) and its cooldowns have
/// passed: the same rules for chat and stream-event triggers. `now_ms` is the event's time, taken
/// once per event. This runs for every candidate trigger and most are turned away by the first
/// check (a cooldown), so that check is inlined into the dispatch loop and the rest is not.
#[inline(always)]
fn fire(
    trigger: &CompiledTrigger,
    event: &ChatEvent,
    args: &str,
    now_ms: i64,
    state: &mut TriggerState,
    actions: &mut Vec<Action>,
) {
    if state.ready(trigger, now_ms) && trigger.applies_to(event) {
        fire_ready(trigger, event, args, now_ms, state, actions);
    }
}

/// [`fire`] past its first check: the per-user cooldown, the count and the action.
fn fire_ready(
    trigger: &CompiledTrigger,
    event: &ChatEvent,
    args: &str,
    now_ms: i64,
    state: &mut TriggerState,
    actions: &mut Vec<Action>,
) {
    if !state.try_fire(trigger, &event.author.id, event.platform, now_ms) {
        return;
    }
    let count = state.fire_count(trigger.slot);
    let kind = match &trigger.def.action {
        // A vote in the open chat poll: nothing when none is open or the choice names no option.
        ActionDef::PollVote { poll: None, option } => {
            match state.polls.vote(event, option.as_deref().unwrap_or(args)) {
                Some(kind) => kind,
                None => return,
            }
        }
        _ => action_kind(trigger, event, args, count),
    };
    actions.push(Action {
        trigger_id: trigger.def.id.clone(),
        creator: event.creator.to_string(),
        platform: event.platform,
        message_id: event.message_id.to_string(),
        at: event.timestamp,
        kind,
        thread: event.can_be_replied_to(),
    });
}

/// Evaluates one tick of a creator's clock: the work whose time has come (a chat poll's or a
/// giveaway's deadline, a timer's slot while live, watch-time points while live), with the tick
/// as its cause.
///
/// **The tick rule.** A tick that fires no action changes no state. `ss run` records only the ticks
/// that fire something (with their actions, in one transaction), and `ss replay` replays only
/// those; a tick that changed state without an action would be missing from the replay, and the
/// replay would drift from the live run. So tick handlers take state only when something is due
/// and always answer it with an action (`polls::on_tick` removes a poll only to close it, which
/// replies); tests check that a tick with nothing due leaves the state equal.
pub fn evaluate_tick(tick: &Tick, registry: &Registry, state: &mut TriggerState) -> Vec<Action> {
    let mut actions = Vec::new();
    let Some(creator) = registry.creator(&tick.creator) else {
        return actions;
    };
    if let Some(settings) = creator.polls() {
        polls::on_tick(tick, settings, &mut state.polls, &mut actions);
    }
    if let Some(settings) = &creator.giveaways {
        giveaways::on_tick(tick, settings, &mut state.giveaways, &mut actions);
    }
    timers::on_tick(tick, &creator.timers, &mut state.timers, &mut actions);
    if let Some(settings) = &creator.points {
        points::on_tick(tick, settings, &mut state.points, &mut actions);
    }
    actions
}

/// The longest clip a viewer can ask for with `!clip SECONDS`.
pub const MAX_REQUESTED_CLIP_S: u32 = 300;

/// `!clip 10`: a whole number of seconds from 1 to [`MAX_REQUESTED_CLIP_S`] as the first argument.
fn requested_clip_seconds(args: &str) -> Option<u32> {
    args.split_whitespace()
        .next()?
        .trim_end_matches('s')
        .parse()
        .ok()
        .filter(|s| (1..=MAX_REQUESTED_CLIP_S).contains(s))
}

fn action_kind(trigger: &CompiledTrigger, event: &ChatEvent, args: &str, count: u64) -> ActionKind {
    let author = &event.author;
    let firing = template::Firing { event, args, count };
    let fill = |t: &str| template::render(t, &firing);
    match &trigger.def.action {
        ActionDef::Reply { template } => ActionKind::Reply {
            channel: event.channel.to_string(),
            text: fill(template),
        },
        ActionDef::Say { template } => ActionKind::Say {
            channel: event.channel.to_string(),
            text: fill(template),
        },
        ActionDef::Announce { template } => ActionKind::Announce {
            channel: event.channel.to_string(),
            text: fill(template),
        },
        ActionDef::Delete => ActionKind::Delete {
            channel: event.channel.to_string(),
            message_id: event.message_id.to_string(),
        },
        ActionDef::Timeout { seconds, reason } => ActionKind::Timeout {
            channel: event.channel.to_string(),
            user_id: author.id.to_string(),
            user_login: author.login.to_string(),
            seconds: *seconds,
            reason: reason.as_deref().map(fill),
        },
        ActionDef::Ban { reason } => ActionKind::Ban {
            channel: event.channel.to_string(),
            user_id: author.id.to_string(),
            user_login: author.login.to_string(),
            reason: reason.as_deref().map(fill),
        },
        ActionDef::Unban => ActionKind::Unban {
            channel: event.channel.to_string(),
            user_id: author.id.to_string(),
            user_login: author.login.to_string(),
        },
        ActionDef::Clip { duration_s, title } => ActionKind::Clip {
            channel: event.channel.to_string(),
            requested_by: author.display_name.to_string(),
            duration_s: requested_clip_seconds(args).unwrap_or(duration_s.unwrap_or(30)),
            title: title.as_deref().map(fill),
        },
        ActionDef::Tally { tally, amount } => ActionKind::Tally {
            tally: tally.clone(),
            amount: amount.unwrap_or(1),
            user_id: author.id.to_string(),
        },
        ActionDef::PollVote { poll, option } => ActionKind::PollVote {
            poll: poll.clone().unwrap_or_default(),
            option: option.clone().unwrap_or_else(|| {
                args.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_lowercase()
            }),
            user_id: author.id.to_string(),
        },
        ActionDef::Score { board, points } => ActionKind::Score {
            board: board.clone(),
            points: points.unwrap_or(1),
            user_id: author.id.to_string(),
            user_name: author.display_name.to_string(),
        },
        ActionDef::Notify { channel, template } => ActionKind::Notify {
            channel: channel.clone(),
            text: fill(template),
        },
        ActionDef::ValidationPassed => ActionKind::ValidationPassed,
        ActionDef::Points { amount } => ActionKind::PointsCredit {
            reason: actions::community::CreditReason::Bonus,
            amount: i64::from(*amount),
            users: vec![actions::community::UserOnPlatform {
                user_id: author.id.to_string(),
                user_name: author.display_name.to_string(),
            }],
        },
        ActionDef::Obs(call) => ActionKind::Obs {
            call: call.map_text(fill),
        },
        ActionDef::Extension { name, input } => ActionKind::Extension {
            channel: event.channel.to_string(),
            name: name.clone(),
            input: input.clone(),
        },
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod poll_tests;
