//! Points in the engine: what chatting and watching earn, and the points commands.
//!
//! Balances live in the store (the engine must not read it), so the engine describes credits and
//! asks questions; the store applies each credit once per (cause, reason, account) and keeps every
//! balance at zero or above. Per person (linked accounts are one, [`super::people`]):
//!
//! - a chat message earns `per_message`, at most once per `message_interval_s` (event clock);
//! - while the creator is live, every `60 s` of ticks, each person who chatted within
//!   `active_window_s` earns `per_minute` (platforms do not say who watches; chatting is the sign),
//!   credited to the account they last chatted from, one action per platform;
//! - `!points` asks for the author's balance and rank, `!give <user> <n>` moves points, a
//!   moderator's `!points add|remove <user> <n>` changes a balance, `!top points` (or the
//!   currency's name) lists the leaders. Questions answer at most once per
//!   [`super::quotes::QUESTION_COOLDOWN_MS`] per person.
//!
//! A tick changes this state only when it awards (the tick rule); what messages change is pruned
//! as it grows, so memory stays bounded by the people active within the window.

use super::cause::{Cause, split_word};
use super::people::People;
use super::quotes::QUESTION_COOLDOWN_MS;
use crate::actions::community::{CreditReason, PointsQuery, UserOnPlatform};
use crate::actions::{Action, ActionKind};
use crate::config::model::PointsSettings;
use crate::event::{ChatEvent, CompactString, FastHasher, Platform, Tick};
use std::collections::HashMap;

/// How often watch time is awarded.
pub const WATCH_EVERY_MS: i64 = 60_000;
/// Entries kept before the per-person maps are pruned.
const PRUNE_AT: usize = 4096;

/// The account a person last chatted from, and when.
#[derive(Debug, Clone, PartialEq)]
struct Active {
    platform: Platform,
    user_id: CompactString,
    user_name: CompactString,
    at_ms: i64,
}

/// What one person's chat did: where and when they last chatted, and when a message of theirs last
/// earned (one map for both, so a message looks its author up once).
#[derive(Debug, Clone, PartialEq)]
struct Chatter {
    active: Active,
    credited_ms: Option<i64>,
}

impl Chatter {
    fn active_within(&self, now: i64, window: i64) -> bool {
        now.saturating_sub(self.active.at_ms) < window
    }

    fn credited_within(&self, now: i64, interval: i64) -> bool {
        self.credited_ms
            .is_some_and(|at| now.saturating_sub(at) < interval)
    }
}

/// Per creator: message credits, active chatters, the last watch award, question cooldowns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PointsBook {
    creators: HashMap<CompactString, CreatorPoints>,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct CreatorPoints {
    /// Person → their last message and credit.
    chatters: HashMap<CompactString, Chatter, FastHasher>,
    last_watch_ms: Option<i64>,
    /// Person → when they may ask again.
    ready_at: HashMap<CompactString, i64, FastHasher>,
    prune_at: usize,
}

/// Handles one chat message of a creator with points: its credit, then the points commands.
/// Returns whether the message was a points command.
pub fn on_message(
    event: &ChatEvent,
    settings: &PointsSettings,
    book: &mut PointsBook,
    people: &People,
    out: &mut Vec<Action>,
) -> bool {
    let now = event.timestamp_ms();
    let person = people.person_of(&event.creator, event.platform, &event.author.id);
    let state = book.creators.entry(event.creator.clone()).or_default();
    let cause = Cause::of(event);
    let active = Active {
        platform: event.platform,
        user_id: event.author.id.clone(),
        user_name: event.author.display_name.clone(),
        at_ms: now,
    };
    let interval = i64::from(settings.message_interval_s) * 1000;
    let earning = settings.per_message > 0;
    let earns = match state.chatters.get_mut(&person) {
        Some(chatter) => {
            chatter.active = active;
            let earns = earning && !chatter.credited_within(now, interval);
            if earns {
                chatter.credited_ms = Some(now);
            }
            earns
        }
        None => {
            let chatter = Chatter {
                active,
                credited_ms: earning.then_some(now),
            };
            state.chatters.insert(person.clone(), chatter);
            earning
        }
    };
    if earns {
        out.push(cause.action(
            &settings.command,
            ActionKind::PointsCredit {
                reason: CreditReason::Message,
                amount: i64::from(settings.per_message),
                users: vec![author(event)],
            },
        ));
    }
    state.prune(now, interval, i64::from(settings.active_window_s) * 1000);
    command(event, &cause, settings, state, &person, out)
}

impl CreatorPoints {
    /// Forgets what no longer matters once the maps grow: chatters whose credit is older than the
    /// interval and who are outside the window (while awards run they also prune, at each award),
    /// cooldowns passed.
    fn prune(&mut self, now: i64, interval: i64, window: i64) {
        let size = self.chatters.len() + self.ready_at.len();
        if size < self.prune_at.max(PRUNE_AT) {
            return;
        }
        let awarding = self.last_watch_ms.is_some();
        self.chatters.retain(|_, c| {
            c.credited_within(now, interval) || awarding || c.active_within(now, window)
        });
        self.ready_at.retain(|_, at| *at > now);
        self.prune_at = size.max(PRUNE_AT) * 2;
    }
}

fn author(event: &ChatEvent) -> UserOnPlatform {
    UserOnPlatform {
        user_id: event.author.id.to_string(),
        user_name: event.author.display_name.to_string(),
    }
}

fn command(
    event: &ChatEvent,
    cause: &Cause<'_>,
    settings: &PointsSettings,
    state: &mut CreatorPoints,
    person: &str,
    out: &mut Vec<Action>,
) -> bool {
    let (word, args) = split_word(&event.text);
    let channel = || event.channel.to_string();
    let who = &event.author.display_name;
    let name = &settings.command;
    let ready = |state: &mut CreatorPoints| {
        let now = event.timestamp_ms();
        let at = state
            .ready_at
            .entry(CompactString::from(person))
            .or_insert(i64::MIN);
        if now < *at {
            return false;
        }
        *at = now.saturating_add(QUESTION_COOLDOWN_MS);
        true
    };
    if word.eq_ignore_ascii_case(&settings.top_command) {
        let (board, _) = split_word(args);
        if !(board.eq_ignore_ascii_case("points") || board.eq_ignore_ascii_case(&settings.name)) {
            return false;
        }
        if ready(state) {
            out.push(cause.action(
                &settings.top_command,
                ActionKind::Points {
                    channel: channel(),
                    query: PointsQuery::Top,
                },
            ));
        }
        return true;
    }
    if word.eq_ignore_ascii_case(&settings.give_command) {
        let (to, amount) = split_word(args);
        match (to.trim_start_matches('@'), parse_amount(amount)) {
            (to, Some(amount)) if !to.is_empty() => out.push(cause.action(
                &settings.give_command,
                ActionKind::PointsGive {
                    channel: channel(),
                    user_id: event.author.id.to_string(),
                    user_name: who.to_string(),
                    to: to.to_string(),
                    amount,
                },
            )),
            _ => cause.refuse(
                &settings.give_command,
                "usage",
                format!(
                    "@{who} usage: {} <user> <{}>",
                    settings.give_command, settings.name
                ),
                out,
            ),
        }
        return true;
    }
    if !word.eq_ignore_ascii_case(name) {
        return false;
    }
    let (sub, rest) = split_word(args);
    let sign = match sub.to_ascii_lowercase().as_str() {
        "" => {
            if ready(state) {
                out.push(cause.action(
                    name,
                    ActionKind::Points {
                        channel: channel(),
                        query: PointsQuery::Balance {
                            user_id: event.author.id.to_string(),
                            user_name: who.to_string(),
                        },
                    },
                ));
            }
            return true;
        }
        "add" | "give" => 1,
        "remove" | "take" => -1,
        _ => {
            cause.refuse(
                name,
                "usage",
                format!("Usage: {name} | {name} add <user> <n> | {name} remove <user> <n>"),
                out,
            );
            return true;
        }
    };
    if event.author.roles.highest() < settings.manage_role {
        cause.refuse(
            name,
            "not allowed",
            format!(
                "@{who} only {}s can change {}.",
                settings.manage_role.as_str(),
                settings.name
            ),
            out,
        );
        return true;
    }
    let (to, amount) = split_word(rest);
    match (to.trim_start_matches('@'), parse_amount(amount)) {
        (to, Some(amount)) if !to.is_empty() => out.push(cause.action(
            name,
            ActionKind::PointsAdjust {
                channel: channel(),
                to: to.to_string(),
                amount: sign * amount,
            },
        )),
        _ => cause.refuse(
            name,
            "usage",
            format!("Usage: {name} {} <user> <n>", sub.to_ascii_lowercase()),
            out,
        ),
    }
    true
}

/// A whole number of points from 1 to a billion.
fn parse_amount(text: &str) -> Option<i64> {
    text.split_whitespace()
        .next()?
        .parse::<i64>()
        .ok()
        .filter(|n| (1..=1_000_000_000).contains(n))
}

/// Awards watch time at a tick of a live creator: once per [`WATCH_EVERY_MS`], to the people who
/// chatted within the window, if any.
pub fn on_tick(
    tick: &Tick,
    settings: &PointsSettings,
    book: &mut PointsBook,
    out: &mut Vec<Action>,
) {
    if !tick.live || settings.per_minute == 0 {
        return;
    }
    let now = tick.at_ms();
    let Some(state) = book.creators.get_mut(tick.creator.as_str()) else {
        return;
    };
    if state
        .last_watch_ms
        .is_some_and(|last| now.saturating_sub(last) < WATCH_EVERY_MS)
    {
        return;
    }
    let window = i64::from(settings.active_window_s) * 1000;
    let mut by_platform: Vec<(Platform, UserOnPlatform)> = state
        .chatters
        .values()
        .filter(|c| c.active_within(now, window))
        .map(|c| &c.active)
        .map(|a| {
            (
                a.platform,
                UserOnPlatform {
                    user_id: a.user_id.to_string(),
                    user_name: a.user_name.to_string(),
                },
            )
        })
        .collect();
    if by_platform.is_empty() {
        return;
    }
    // Sorted: the same people give the same actions in every run, whatever the map's order.
    by_platform.sort_by(|a, b| (a.0, &a.1.user_id).cmp(&(b.0, &b.1.user_id)));
    state.last_watch_ms = Some(now);
    let interval = i64::from(settings.message_interval_s) * 1000;
    state
        .chatters
        .retain(|_, c| c.active_within(now, window) || c.credited_within(now, interval));
    let mut start = 0;
    while start < by_platform.len() {
        let platform = by_platform[start].0;
        let end = by_platform[start..]
            .iter()
            .position(|(p, _)| *p != platform)
            .map_or(by_platform.len(), |n| start + n);
        let users = by_platform[start..end]
            .iter()
            .map(|(_, u)| u.clone())
            .collect();
        let cause = Cause::tick(tick, platform, "");
        out.push(cause.action(
            &settings.command,
            ActionKind::PointsCredit {
                reason: CreditReason::Watch,
                amount: i64::from(settings.per_minute),
                users,
            },
        ));
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Author, Roles};
    use chrono::DateTime;

    fn say(platform: &str, user: &str, id: &str, ms: i64, text: &str) -> ChatEvent {
        ChatEvent::message(
            Platform::named(platform),
            "demo",
            id,
            DateTime::from_timestamp_millis(ms).unwrap(),
            Author::viewer(user),
            text,
        )
    }

    fn run(book: &mut PointsBook, event: &ChatEvent) -> Vec<ActionKind> {
        let mut out = Vec::new();
        on_message(
            event,
            &PointsSettings::default(),
            book,
            &People::default(),
            &mut out,
        );
        out.into_iter().map(|a| a.kind).collect()
    }

    fn tick(ms: i64) -> Tick {
        Tick::new("demo", DateTime::from_timestamp_millis(ms).unwrap())
    }

    #[test]
    fn messages_earn_once_per_interval_and_watch_time_once_a_minute_for_active_chatters() {
        let mut book = PointsBook::default();
        let credits = |kinds: &[ActionKind]| {
            kinds
                .iter()
                .filter(|k| matches!(k, ActionKind::PointsCredit { .. }))
                .count()
        };
        assert_eq!(
            credits(&run(&mut book, &say("twitch", "ann", "m1", 0, "hi"))),
            1
        );
        assert_eq!(
            credits(&run(&mut book, &say("twitch", "ann", "m2", 30_000, "hi"))),
            0
        );
        assert_eq!(
            credits(&run(&mut book, &say("twitch", "ann", "m3", 60_000, "hi"))),
            1
        );
        assert_eq!(
            credits(&run(&mut book, &say("kick", "bob", "m4", 61_000, "hi"))),
            1
        );
        let settings = PointsSettings::default();
        let mut out = Vec::new();
        on_tick(&tick(62_000), &settings, &mut book, &mut out);
        let users: Vec<(Platform, String)> = out
            .iter()
            .flat_map(|a| match &a.kind {
                ActionKind::PointsCredit {
                    reason: CreditReason::Watch,
                    users,
                    ..
                } => users
                    .iter()
                    .map(|u| (a.platform, u.user_id.clone()))
                    .collect::<Vec<_>>(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            users,
            [
                (Platform::named("twitch"), "ann".into()),
                (Platform::named("kick"), "bob".into())
            ]
        );
        // Within the minute, or offline, or with nobody active: nothing, and nothing changes.
        for t in [
            tick(100_000),
            tick(200_000).with_live(false),
            tick(2_000_000),
        ] {
            let before = book.clone();
            let mut out = Vec::new();
            on_tick(&t, &settings, &mut book, &mut out);
            assert!(out.is_empty() && book == before, "{t:?}");
        }
    }

    #[test]
    fn commands_describe_gifts_adjustments_and_questions() {
        let mut book = PointsBook::default();
        let kinds = run(&mut book, &say("twitch", "ann", "g1", 0, "!give @Bob 50"));
        assert!(
            kinds
                .iter()
                .any(|k| matches!(k, ActionKind::PointsGive { to, amount: 50, .. } if to == "Bob"))
        );
        let bad = run(&mut book, &say("twitch", "ann", "g2", 1, "!give bob -5"));
        assert!(bad.iter().any(|k| matches!(k, ActionKind::Refused { .. })));
        let refused = run(
            &mut book,
            &say("twitch", "ann", "a1", 2, "!points add bob 5"),
        );
        assert!(
            refused.iter().any(
                |k| matches!(k, ActionKind::Refused { reason, .. } if reason == "not allowed")
            )
        );
        let mut moderator = say("twitch", "max", "a2", 3, "!points remove bob 5");
        moderator.author.roles = Roles {
            moderator: true,
            ..Roles::default()
        };
        assert!(
            run(&mut book, &moderator)
                .iter()
                .any(|k| matches!(k, ActionKind::PointsAdjust { amount: -5, .. }))
        );
        assert!(
            run(&mut book, &say("twitch", "cat", "p1", 4, "!points"))
                .iter()
                .any(|k| matches!(
                    k,
                    ActionKind::Points {
                        query: PointsQuery::Balance { .. },
                        ..
                    }
                ))
        );
        assert!(
            !run(&mut book, &say("twitch", "cat", "p2", 5, "!points"))
                .iter()
                .any(|k| matches!(k, ActionKind::Points { .. })),
            "cooling down"
        );
        assert!(
            run(&mut book, &say("twitch", "dan", "t1", 6, "!top points"))
                .iter()
                .any(|k| matches!(
                    k,
                    ActionKind::Points {
                        query: PointsQuery::Top,
                        ..
                    }
                ))
        );
        assert!(
            !run(&mut book, &say("twitch", "eve", "t2", 7, "!top good-games"))
                .iter()
                .any(|k| matches!(k, ActionKind::Points { .. })),
            "another board is the standings' question"
        );
    }
}
