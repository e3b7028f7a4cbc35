//! Replayed actions against the actions a live run recorded (or a saved replay).
//!
//! Actions are matched by what caused them: (creator, platform, triggering message id, trigger id);
//! a trigger fires at most once per message. A match whose descriptor or time differs is *changed*;
//! an unmatched replayed action is *added*, an unmatched recorded one *removed*. Times are compared
//! in whole milliseconds, the store's precision (the live action carries the event's full-precision
//! time, the recorded one its milliseconds). Entries are listed by event time, replayed order first,
//! so the listing is the same on every run.

use crate::actions::{Action, ActionKind};
use crate::sanitize::terminal;
use chrono::{DateTime, SecondsFormat};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;

/// One difference.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Entry {
    /// The replay fired it; the recording has no such action.
    Added { action: Action },
    /// The recording has it; the replay did not fire it.
    Removed { action: Action },
    /// Both fired it, differently.
    Changed {
        recorded: Box<Action>,
        replayed: Box<Action>,
    },
}

impl Entry {
    fn at_ms(&self) -> i64 {
        match self {
            Entry::Added { action } | Entry::Removed { action } => action.at.timestamp_millis(),
            Entry::Changed { replayed, .. } => replayed.at.timestamp_millis(),
        }
    }
}

/// The differences between two lists of actions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    pub replayed: u64,
    pub recorded: u64,
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    pub differences: Vec<Entry>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.differences.is_empty()
    }
}

type Key = (String, crate::event::Platform, String, String);

fn key(a: &Action) -> Key {
    (
        a.creator.clone(),
        a.platform,
        a.message_id.clone(),
        a.trigger_id.clone(),
    )
}

/// `at` in whole milliseconds.
fn to_ms(mut action: Action) -> Action {
    action.at = DateTime::from_timestamp_millis(action.at.timestamp_millis()).unwrap_or(action.at);
    action
}

/// Compares `replayed` with `recorded`, both in the order they fired.
pub fn diff(replayed: Vec<Action>, recorded: Vec<Action>) -> Diff {
    let (n_replayed, n_recorded) = (replayed.len() as u64, recorded.len() as u64);
    let mut pending: HashMap<Key, VecDeque<usize>> = HashMap::with_capacity(recorded.len());
    let mut recorded: Vec<Option<Action>> = recorded.into_iter().map(to_ms).map(Some).collect();
    for (i, a) in recorded.iter().enumerate() {
        if let Some(a) = a {
            pending.entry(key(a)).or_default().push_back(i);
        }
    }
    let mut entries = Vec::new();
    for action in replayed.into_iter().map(to_ms) {
        let matched = pending
            .get_mut(&key(&action))
            .and_then(VecDeque::pop_front)
            .and_then(|i| recorded[i].take());
        match matched {
            None => entries.push(Entry::Added { action }),
            Some(old) if old.kind == action.kind && old.at == action.at => {}
            Some(old) => entries.push(Entry::Changed {
                recorded: Box::new(old),
                replayed: Box::new(action),
            }),
        }
    }
    entries.extend(
        recorded
            .into_iter()
            .flatten()
            .map(|action| Entry::Removed { action }),
    );
    // Stable: within one time, replayed order, then recorded order.
    entries.sort_by_key(Entry::at_ms);
    let count = |f: fn(&Entry) -> bool| entries.iter().filter(|e| f(e)).count() as u64;
    Diff {
        replayed: n_replayed,
        recorded: n_recorded,
        added: count(|e| matches!(e, Entry::Added { .. })),
        removed: count(|e| matches!(e, Entry::Removed { .. })),
        changed: count(|e| matches!(e, Entry::Changed { .. })),
        differences: entries,
    }
}

/// The diff for people: one line per difference (two for a change), then a summary line.
pub fn render(diff: &Diff, baseline: &str) -> String {
    let mut out = String::new();
    for entry in &diff.differences {
        match entry {
            Entry::Added { action } => {
                let _ = writeln!(
                    out,
                    "+ {}  {}",
                    terminal(&cause(action)),
                    terminal(&describe(action))
                );
            }
            Entry::Removed { action } => {
                let _ = writeln!(
                    out,
                    "- {}  {}",
                    terminal(&cause(action)),
                    terminal(&describe(action))
                );
            }
            Entry::Changed { recorded, replayed } => {
                let _ = writeln!(out, "~ {}", terminal(&cause(replayed)));
                let _ = writeln!(
                    out,
                    "    {baseline}: {}",
                    terminal(&describe_at(recorded, replayed))
                );
                let _ = writeln!(
                    out,
                    "    replayed: {}",
                    terminal(&describe_at(replayed, recorded))
                );
            }
        }
    }
    if diff.is_empty() {
        let _ = writeln!(
            out,
            "no differences: {} replayed actions match the {} {baseline}",
            diff.replayed, diff.recorded
        );
    } else {
        let _ = writeln!(
            out,
            "{} differences: {} added, {} removed, {} changed ({} replayed, {} {baseline})",
            diff.differences.len(),
            diff.added,
            diff.removed,
            diff.changed,
            diff.replayed,
            diff.recorded
        );
    }
    out
}

/// When, where, which message and which trigger.
fn cause(a: &Action) -> String {
    format!(
        "{}  {}/{}  msg {}  trigger {}",
        a.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        a.creator,
        a.platform,
        a.message_id,
        a.trigger_id
    )
}

/// The descriptor, with its time when that is what differs from `other`.
fn describe_at(a: &Action, other: &Action) -> String {
    if a.at == other.at {
        describe(a)
    } else {
        format!(
            "{} at {}",
            describe(a),
            a.at.to_rfc3339_opts(SecondsFormat::Millis, true)
        )
    }
}

/// An action's descriptor in a few words.
pub fn describe(a: &Action) -> String {
    match &a.kind {
        ActionKind::Reply { text, .. } => format!("reply {text:?}"),
        ActionKind::Say { text, .. } => format!("say {text:?}"),
        ActionKind::Announce { text, .. } => format!("announce {text:?}"),
        ActionKind::Delete { message_id, .. } => format!("delete {message_id}"),
        ActionKind::Timeout {
            user_login,
            seconds,
            ..
        } => format!("timeout {user_login} {seconds}s"),
        ActionKind::Ban { user_login, .. } => format!("ban {user_login}"),
        ActionKind::Unban { user_login, .. } => format!("unban {user_login}"),
        ActionKind::Moderate {
            filter,
            rule,
            user_login,
            decision,
            seconds,
            strike,
            dry_run,
            ..
        } => {
            let length = seconds.map(|s| format!(" {s}s")).unwrap_or_default();
            let dry = if *dry_run { " (dry run)" } else { "" };
            format!(
                "moderate {user_login}: {}{length} by {filter} for {rule}, strike {strike}{dry}",
                decision.as_str()
            )
        }
        ActionKind::Clip {
            duration_s, title, ..
        } => match title {
            Some(t) => format!("clip {duration_s}s {t:?}"),
            None => format!("clip {duration_s}s"),
        },
        ActionKind::Tally { tally, amount, .. } => format!("tally {tally} {amount:+}"),
        ActionKind::PollVote { poll, option, .. } => format!("poll_vote {poll}: {option:?}"),
        ActionKind::Score {
            board,
            points,
            user_name,
            ..
        } => format!("score {board} {points:+} for {user_name}"),
        ActionKind::Notify { channel, text } => format!("notify {channel} {text:?}"),
        ActionKind::ValidationPassed => "validation_passed".into(),
        ActionKind::PollOpen { poll, options, .. } => {
            format!("poll_open {poll} with {} options", options.len())
        }
        ActionKind::PollClose {
            poll,
            reason,
            results,
            ..
        } => format!(
            "poll_close {poll} ({}): {}",
            reason.as_str(),
            crate::actions::poll::counts_line(results)
        ),
        ActionKind::PollRefused { command, reason } => format!("poll_refused {command}: {reason}"),
        ActionKind::Standings { query, .. } => format!("standings {query:?}"),
        ActionKind::Refused { command, reason } => format!("refused {command}: {reason}"),
        ActionKind::GiveawayOpen {
            giveaway, keyword, ..
        } => format!("giveaway_open {giveaway} keyword {keyword:?}"),
        ActionKind::GiveawayEntry { giveaway, entrant } => format!(
            "giveaway_entry {giveaway}: {} ({}) x{}",
            entrant.user_name, entrant.platform, entrant.weight
        ),
        ActionKind::GiveawayEntriesClosed { giveaway, entries } => {
            format!("giveaway_entries_closed {giveaway}: {entries} entries")
        }
        ActionKind::GiveawayDraw { giveaway, draw, .. } => format!(
            "giveaway_draw {giveaway} #{} seed {}: {}",
            draw.number,
            draw.seed,
            draw.winners
                .iter()
                .map(|w| w.user_name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ActionKind::GiveawayClose { giveaway } => format!("giveaway_close {giveaway}"),
        ActionKind::QuoteAdd { text, .. } => format!("quote_add {text:?}"),
        ActionKind::QuoteDelete { number, .. } => format!("quote_delete {number}"),
        ActionKind::Quote { query, .. } => format!("quote {query:?}"),
        ActionKind::PointsCredit {
            reason,
            amount,
            users,
        } => format!(
            "points_credit {} {amount:+} to {} user(s)",
            reason.as_str(),
            users.len()
        ),
        ActionKind::PointsGive {
            user_name,
            to,
            amount,
            ..
        } => format!("points_give {amount} from {user_name} to {to}"),
        ActionKind::PointsAdjust { to, amount, .. } => format!("points_adjust {amount:+} for {to}"),
        ActionKind::Points { query, .. } => format!("points {query:?}"),
        ActionKind::Link { person, accounts } => format!(
            "link {person}: {}",
            accounts
                .iter()
                .map(|a| format!("{}:{}", a.platform, a.user_name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ActionKind::Unlink { person, account } => {
            format!(
                "unlink {}:{} from {person}",
                account.platform, account.user_name
            )
        }
        ActionKind::Obs { call } => format!(
            "obs {}",
            serde_json::to_string(call).unwrap_or_else(|_| call.name().to_string())
        ),
        ActionKind::Extension { name, input, .. } => format!(
            "extension {name} {}",
            serde_json::to_string(input).unwrap_or_default()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Platform;

    fn reply(msg: &str, trigger: &str, ms: i64, text: &str) -> Action {
        Action {
            trigger_id: trigger.into(),
            creator: "demo".into(),
            platform: Platform::named("sim"),
            message_id: msg.into(),
            at: DateTime::from_timestamp_millis(ms).unwrap(),
            kind: ActionKind::Reply {
                channel: "demo".into(),
                text: text.into(),
            },
            thread: false,
        }
    }

    #[test]
    fn equal_lists_have_no_differences_at_millisecond_precision() {
        let mut live = reply("m1", "ping", 1_000, "pong");
        live.at += chrono::Duration::microseconds(456);
        let d = diff(vec![live], vec![reply("m1", "ping", 1_000, "pong")]);
        assert!(d.is_empty(), "{d:?}");
        assert!(render(&d, "recorded").starts_with("no differences: 1 replayed"));
    }

    #[test]
    fn added_removed_and_changed_are_matched_by_message_and_trigger() {
        let replayed = vec![
            reply("m1", "ping", 1_000, "pong"),
            reply("m2", "ping", 2_000, "pong 2"),
            reply("m4", "ping", 4_000, "pong"),
        ];
        let recorded = vec![
            reply("m1", "ping", 1_000, "pong"),
            reply("m2", "ping", 2_000, "pong 3"),
            reply("m3", "ping", 3_000, "pong"),
        ];
        let d = diff(replayed, recorded);
        assert_eq!((d.added, d.removed, d.changed), (1, 1, 1));
        let order: Vec<&str> = d
            .differences
            .iter()
            .map(|e| match e {
                Entry::Added { action } | Entry::Removed { action } => action.message_id.as_str(),
                Entry::Changed { replayed, .. } => replayed.message_id.as_str(),
            })
            .collect();
        assert_eq!(order, ["m2", "m3", "m4"], "by event time");
        let text = render(&d, "recorded");
        assert!(text.contains("~ 1970-01-01T00:00:02.000Z  demo/sim  msg m2  trigger ping"));
        assert!(text.contains("    recorded: reply \"pong 3\"\n    replayed: reply \"pong 2\""));
        assert!(text.contains("- 1970-01-01T00:00:03.000Z  demo/sim  msg m3"));
        assert!(text.contains("+ 1970-01-01T00:00:04.000Z  demo/sim  msg m4"));
        assert!(
            text.ends_with(
                "3 differences: 1 added, 1 removed, 1 changed (3 replayed, 3 recorded)\n"
            )
        );
    }

    #[test]
    fn the_same_trigger_on_another_message_is_another_action() {
        let d = diff(
            vec![reply("m1", "ping", 1_000, "pong")],
            vec![reply("m1", "other", 1_000, "pong")],
        );
        assert_eq!((d.added, d.removed, d.changed), (1, 1, 0));
    }
}
