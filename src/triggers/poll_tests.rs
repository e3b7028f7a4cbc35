//! Chat polls through the whole engine: opening, votes (changed, repeated, invalid), refusals, the
//! timer on the event clock, the `poll_vote` trigger, and what chat is told.

use super::*;
use crate::config::model::TriggersConfig;
use crate::event::{Author, ChatEvent, Platform, Roles, Tick};
use chrono::{TimeZone, Utc};

fn registry(polls: &str, triggers: &str) -> Registry {
    let config: TriggersConfig = serde_json::from_str(&format!(
        r#"{{"triggers": {{"demo": {triggers}}}, "polls": {{"demo": {polls}}}}}"#
    ))
    .unwrap();
    Registry::compile(&config).unwrap()
}

fn msg(at_s: i64, user: &str, text: &str) -> ChatEvent {
    let moderator = user.starts_with("mod");
    let author = Author {
        id: format!("id-{user}").into(),
        display_name: user.into(),
        roles: Roles {
            moderator,
            ..Roles::default()
        },
        ..Author::viewer(user)
    };
    let at = Utc.timestamp_opt(1_700_000_000 + at_s, 0).unwrap();
    ChatEvent {
        channel: "demo_channel".into(),
        ..ChatEvent::message(
            Platform::named("twitch"),
            "demo",
            &format!("m{at_s}"),
            at,
            author,
            text,
        )
    }
}

fn tick(at_s: i64) -> Tick {
    Tick::new("demo", Utc.timestamp_opt(1_700_000_000 + at_s, 0).unwrap())
}

/// Runs `chat` through one state; each action as one line, `at_s user: text` before its actions.
/// The user `TICK` is a tick of the creator's clock at that second.
fn transcript(reg: &Registry, chat: &[(i64, &str, &str)]) -> String {
    let mut state = TriggerState::new(reg);
    let mut out = String::new();
    for (at, user, text) in chat {
        out.push_str(&format!("{at:>3} {user}: {text}\n"));
        let actions = if *user == "TICK" {
            evaluate_tick(&tick(*at), reg, &mut state)
        } else {
            evaluate(&msg(*at, user, text), reg, &mut state)
        };
        for action in actions {
            let line = match &action.kind {
                ActionKind::Reply { text, .. } if Tick::is_tick_id(&action.message_id) => {
                    format!("reply ({}): {text}", action.message_id)
                }
                ActionKind::Reply { text, .. } => format!("reply: {text}"),
                other => format!(
                    "{}: {}",
                    action.trigger_id,
                    serde_json::to_string(other).unwrap()
                ),
            };
            out.push_str(&format!("      -> {line}\n"));
        }
    }
    out
}

#[test]
fn a_poll_opened_voted_on_and_closed_tells_chat_the_counts() {
    let reg = registry("{}", "[]");
    insta::assert_snapshot!(transcript(
        &reg,
        &[
            (0, "ann", "!vote 1"),
            (
                1,
                "mod_max",
                "!poll open Best snack? | chips | salted nuts | fruit"
            ),
            (2, "ann", "!vote 1"),
            (3, "bob", "!vote Salted Nuts"),
            (4, "cat", "!VOTE 3"),
            (5, "ann", "!vote 2"),
            (6, "ann", "!vote 2"),
            (7, "dan", "!vote 9"),
            (8, "dan", "!vote pizza"),
            (9, "bob", "!poll close"),
            (10, "eve", "!poll"),
            (11, "mod_max", "!poll open Again? | yes | no"),
            (12, "mod_max", "!poll close"),
            (13, "ann", "!vote 1"),
            (14, "mod_max", "!poll close"),
        ]
    ));
}

#[test]
fn malformed_opens_are_refused_with_the_reason_and_the_usage() {
    let reg = registry(r#"{"max_options": 3}"#, "[]");
    insta::assert_snapshot!(transcript(
        &reg,
        &[
            (0, "mod_max", "!poll open Pick one"),
            (1, "mod_max", "!poll open Pick | a || c"),
            (2, "mod_max", "!poll open Pick | a | b | c | d"),
            (3, "mod_max", "!poll open | a | b"),
            (4, "mod_max", "!poll launch"),
            (5, "ann", "!poll open Pick | a | b"),
            (6, "mod_max", r"!poll open Which? | a \| b | c"),
        ]
    ));
}

#[test]
fn the_timer_runs_on_the_event_clock_and_the_next_message_closes_the_poll() {
    let reg = registry(r#"{"default_duration_s": 60}"#, "[]");
    let out = transcript(
        &reg,
        &[
            (0, "mod_max", "!poll open Short? | yes | no 30s"),
            (10, "ann", "!vote yes"),
            (29, "bob", "!vote no"),
            // No chat for a while: the poll is still open until someone writes.
            (500, "cat", "!vote no"),
            (501, "mod_max", "!poll open Default timer? | a | b"),
            (560, "ann", "!poll"),
            (561, "bob", "hello"),
        ],
    );
    insta::assert_snapshot!(out);
}

#[test]
fn a_poll_closes_at_its_deadline_on_the_tick_clock_in_a_silent_chat() {
    let reg = registry("{}", "[]");
    let out = transcript(
        &reg,
        &[
            (0, "mod_max", "!poll open Thirty? | yes | no 30s"),
            (1, "TICK", ""),
            (5, "ann", "!vote yes"),
            (29, "TICK", ""),
            // The first tick at the deadline closes it: results in the channel it was opened in.
            (30, "TICK", ""),
            (31, "TICK", ""),
            (32, "bob", "!vote no"),
        ],
    );
    insta::assert_snapshot!(out);
}

#[test]
fn a_tick_with_nothing_due_changes_no_state() {
    let reg = registry(
        r#"{"default_duration_s": 30}"#,
        r#"[{"id": "ping", "kind": "command", "command": "!ping", "cooldowns": {"creator_s": 5}, "action": {"type": "reply", "template": "pong"}}]"#,
    );
    let mut state = TriggerState::new(&reg);
    let fresh = state.clone();
    assert!(evaluate_tick(&tick(0), &reg, &mut state).is_empty());
    assert_eq!(state, fresh, "a tick of a fresh state");
    evaluate(
        &msg(0, "mod_max", "!poll open Q? | a | b"),
        &reg,
        &mut state,
    );
    evaluate(&msg(1, "ann", "!vote a"), &reg, &mut state);
    evaluate(&msg(2, "ann", "!ping"), &reg, &mut state);
    let before = state.clone();
    for at in [0, 3, 29] {
        assert!(
            evaluate_tick(&tick(at), &reg, &mut state).is_empty(),
            "{at}"
        );
        assert_eq!(state, before, "a tick at {at}s, before the deadline");
    }
    let mut elsewhere = tick(100);
    elsewhere.creator = "someone-else".into();
    assert!(evaluate_tick(&elsewhere, &reg, &mut state).is_empty());
    assert_eq!(state, before, "another creator's tick");
    let closed = evaluate_tick(&tick(30), &reg, &mut state);
    assert_eq!(closed.len(), 2, "{closed:?}");
    assert_ne!(state, before, "the tick that fired changed the state");
    assert!(
        closed
            .iter()
            .all(|a| a.message_id == tick(30).id() && a.at == tick(30).at)
    );
}

#[test]
fn a_poll_vote_trigger_without_a_poll_votes_in_the_open_poll() {
    let reg = registry(
        r#"{"vote_command": "!ballot"}"#,
        r#"[{"id": "yes-word", "kind": "keyword", "keywords": ["yes"], "action": {"type": "poll_vote", "option": "yes"}},
            {"id": "standing", "kind": "command", "command": "!pick", "action": {"type": "poll_vote", "poll": "next-game"}}]"#,
    );
    let mut state = TriggerState::new(&reg);
    let kinds = |state: &mut TriggerState, at, user, text| -> Vec<String> {
        evaluate(&msg(at, user, text), &reg, state)
            .into_iter()
            .filter(|a| !matches!(a.kind, ActionKind::Reply { .. }))
            .map(|a| {
                format!(
                    "{} {}",
                    a.trigger_id,
                    serde_json::to_string(&a.kind).unwrap()
                )
            })
            .collect()
    };
    assert!(
        kinds(&mut state, 0, "ann", "yes please").is_empty(),
        "no poll open yet"
    );
    kinds(&mut state, 1, "mod_max", "!poll open Go? | yes | no");
    assert_eq!(
        kinds(&mut state, 2, "ann", "oh yes"),
        [r#"yes-word {"type":"poll_vote","poll":"twitch-m1","option":"yes","user_id":"id-ann"}"#]
    );
    assert_eq!(
        kinds(&mut state, 3, "bob", "!ballot 2"),
        [r#"!ballot {"type":"poll_vote","poll":"twitch-m1","option":"no","user_id":"id-bob"}"#]
    );
    // A trigger naming a standing poll keeps its own poll and takes the first word.
    assert_eq!(
        kinds(&mut state, 4, "cat", "!pick Zelda"),
        [r#"standing {"type":"poll_vote","poll":"next-game","option":"zelda","user_id":"id-cat"}"#]
    );
}

#[test]
fn polls_start_afresh_with_the_trigger_state_and_stay_per_creator() {
    let reg = registry("{}", "[]");
    let mut state = TriggerState::new(&reg);
    evaluate(&msg(0, "mod_max", "!poll open Q | a | b"), &reg, &mut state);
    assert!(state.polls.is_open("demo"));
    let mut other = msg(1, "mod_max", "!poll close");
    other.creator = "someone-else".into();
    assert!(evaluate(&other, &reg, &mut state).is_empty());
    assert!(
        state.polls.is_open("demo"),
        "another creator's chat does not touch it"
    );
    let fresh = TriggerState::new(&reg);
    assert!(!fresh.polls.is_open("demo"));
}

#[test]
fn the_same_poll_chat_gives_the_same_actions_twice() {
    let reg = registry(r#"{"default_duration_s": 20}"#, "[]");
    let chat: Vec<ChatEvent> = (0..3000)
        .map(|i| {
            let text = match i % 97 {
                0 => "!poll open Q? | a | b | c".to_string(),
                50 => "!poll close".to_string(),
                _ => format!("!vote {}", ["a", "b", "c", "2", "x"][i % 5]),
            };
            let user = if i % 97 == 0 || i % 97 == 50 {
                "mod_max".to_string()
            } else {
                format!("u{}", i % 23)
            };
            msg(i as i64 / 4, &user, &text)
        })
        .collect();
    let run = || {
        let mut st = TriggerState::new(&reg);
        chat.iter()
            .flat_map(|e| evaluate(e, &reg, &mut st))
            .collect::<Vec<_>>()
    };
    let first = run();
    assert!(
        first
            .iter()
            .any(|a| matches!(a.kind, ActionKind::PollClose { .. }))
    );
    assert_eq!(first, run());
}
