//! Engine behaviour: matching, permissions, cooldowns, templates, determinism.

use super::*;
use crate::config::model::TriggersConfig;
use crate::event::{Author, ChatEvent, EventKind, Platform, Roles};
use chrono::{TimeZone, Utc};

fn registry(json: &str) -> Registry {
    let config: TriggersConfig =
        serde_json::from_str(&format!(r#"{{"triggers": {{"demo": {json}}}}}"#)).unwrap();
    Registry::compile(&config).unwrap()
}

fn msg(at_s: i64, user: &str, text: &str) -> ChatEvent {
    let author = Author {
        id: format!("id-{user}").into(),
        display_name: user.to_uppercase().into(),
        ..Author::viewer(user)
    };
    let at = Utc.timestamp_opt(1_700_000_000 + at_s, 0).unwrap();
    ChatEvent {
        channel: "demo_channel".into(),
        ..ChatEvent::message(
            Platform::named("twitch"),
            "demo",
            &format!("{user}-{at_s}"),
            at,
            author,
            text,
        )
    }
}

fn fired(reg: &Registry, state: &mut TriggerState, event: &ChatEvent) -> Vec<String> {
    evaluate(event, reg, state)
        .into_iter()
        .map(|a| {
            format!(
                "{}:{}",
                a.trigger_id,
                serde_json::to_string(&a.kind).unwrap()
            )
        })
        .collect()
}

const SET: &str = r#"[
  {"id": "ping", "kind": "command", "command": "!ping", "aliases": ["!P"], "action": {"type": "reply", "template": "pong {user} {args} #{count} on {platform}"}},
  {"id": "hype", "kind": "keyword", "keywords": ["hype", "pog"], "action": {"type": "tally", "tally": "hype"}},
  {"id": "gg", "kind": "regex", "pattern": "(?i)\\bgg+\\b", "action": {"type": "score", "board": "gg", "points": 2}},
  {"id": "vote", "kind": "command", "command": "!vote", "action": {"type": "poll_vote", "poll": "next"}},
  {"id": "clip", "kind": "command", "command": "!clip", "min_role": "subscriber", "action": {"type": "clip"}},
  {"id": "seen", "kind": "non_empty", "action": {"type": "validation_passed"}}
]"#;

#[test]
fn commands_match_case_insensitively_with_aliases_and_args() {
    let reg = registry(SET);
    let mut st = TriggerState::new(&reg);
    let out = fired(&reg, &mut st, &msg(0, "ann", "!PING  hello   world "));
    assert_eq!(
        out,
        [
            r#"ping:{"type":"reply","channel":"demo_channel","text":"pong ANN hello   world #1 on twitch"}"#,
            r#"seen:{"type":"validation_passed"}"#
        ]
    );
    let out = fired(&reg, &mut st, &msg(1, "bob", "!p"));
    assert_eq!(
        out[0],
        r#"ping:{"type":"reply","channel":"demo_channel","text":"pong BOB  #2 on twitch"}"#
    );
    // A command word inside a sentence is not a command.
    let out = fired(&reg, &mut st, &msg(2, "cat", "say !ping please"));
    assert_eq!(out, [r#"seen:{"type":"validation_passed"}"#]);
}

#[test]
fn keywords_match_whole_words_only_and_once_per_trigger() {
    let reg = registry(SET);
    let mut st = TriggerState::new(&reg);
    let out = fired(&reg, &mut st, &msg(0, "ann", "HYPE hype pog!"));
    assert_eq!(out.iter().filter(|a| a.starts_with("hype:")).count(), 1);
    let out = fired(&reg, &mut st, &msg(1, "ann", "hyperbole and pogo sticks"));
    assert!(!out.iter().any(|a| a.starts_with("hype:")), "{out:?}");
}

#[test]
fn regex_triggers_and_poll_votes_take_the_first_argument() {
    let reg = registry(SET);
    let mut st = TriggerState::new(&reg);
    let out = fired(&reg, &mut st, &msg(0, "ann", "GGG well played"));
    assert!(
        out[0].starts_with(r#"gg:{"type":"score","board":"gg","points":2"#),
        "{out:?}"
    );
    let out = fired(&reg, &mut st, &msg(1, "ann", "!vote B extra"));
    assert!(out[0].contains(r#""option":"b""#), "{out:?}");
}

#[test]
fn roles_gate_triggers() {
    let reg = registry(SET);
    let mut st = TriggerState::new(&reg);
    let mut e = msg(0, "ann", "!clip");
    assert!(
        !fired(&reg, &mut st, &e)
            .iter()
            .any(|a| a.starts_with("clip:"))
    );
    e.author.roles.subscriber = true;
    assert!(
        fired(&reg, &mut st, &e)
            .iter()
            .any(|a| a.starts_with("clip:"))
    );
    e.author.roles = Roles {
        moderator: true,
        ..Roles::default()
    };
    e.message_id.push('x');
    assert!(
        fired(&reg, &mut st, &e)
            .iter()
            .any(|a| a.starts_with("clip:"))
    );
}

#[test]
fn cooldowns_per_user_creator_and_global_use_event_time() {
    let reg = registry(
        r#"[{"id": "u", "kind": "command", "command": "!u", "cooldowns": {"user_s": 10}, "action": {"type": "validation_passed"}},
            {"id": "c", "kind": "command", "command": "!c", "cooldowns": {"creator_s": 5}, "action": {"type": "validation_passed"}},
            {"id": "g", "kind": "command", "command": "!g", "cooldowns": {"global_s": 3}, "action": {"type": "validation_passed"}}]"#,
    );
    let mut st = TriggerState::new(&reg);
    let n = |st: &mut TriggerState, at, user, text| fired(&reg, st, &msg(at, user, text)).len();
    assert_eq!(n(&mut st, 0, "ann", "!u"), 1);
    assert_eq!(n(&mut st, 5, "ann", "!u"), 0, "same user within 10 s");
    assert_eq!(n(&mut st, 5, "bob", "!u"), 1, "other user unaffected");
    assert_eq!(n(&mut st, 10, "ann", "!u"), 1, "after 10 s");
    assert_eq!(n(&mut st, 0, "ann", "!c"), 1);
    assert_eq!(n(&mut st, 4, "bob", "!c"), 0, "anyone within 5 s");
    assert_eq!(n(&mut st, 5, "bob", "!c"), 1);
    assert_eq!(n(&mut st, 0, "ann", "!g"), 1);
    assert_eq!(n(&mut st, 2, "bob", "!g"), 0);
    assert_eq!(n(&mut st, 3, "bob", "!g"), 1);
}

#[test]
fn a_trigger_without_cooldowns_fires_for_a_message_stamped_before_the_last_one() {
    // Two chats' clocks differ: a Kick message can arrive after a later-stamped Twitch one.
    let reg = registry(SET);
    let mut st = TriggerState::new(&reg);
    assert!(
        fired(&reg, &mut st, &msg(10, "ann", "gg"))
            .iter()
            .any(|a| a.starts_with("gg:"))
    );
    let earlier = fired(&reg, &mut st, &msg(9, "bob", "gg"));
    assert!(
        earlier.iter().any(|a| a.starts_with("gg:")),
        "no cooldown, so nothing holds it back: {earlier:?}"
    );
}

#[test]
fn platform_filter_and_disabled_triggers() {
    let reg = registry(
        r#"[{"id": "k", "kind": "command", "command": "!k", "platforms": ["kick"], "action": {"type": "validation_passed"}},
            {"id": "off", "kind": "command", "command": "!k", "enabled": false, "action": {"type": "validation_passed"}}]"#,
    );
    let mut st = TriggerState::new(&reg);
    let mut e = msg(0, "ann", "!k");
    assert!(fired(&reg, &mut st, &e).is_empty());
    e.platform = Platform::named("kick");
    assert_eq!(
        fired(&reg, &mut st, &e),
        [r#"k:{"type":"validation_passed"}"#]
    );
}

#[test]
fn shared_chat_fires_only_the_triggers_that_ask_for_it() {
    let reg = registry(
        r#"[{"id": "own", "kind": "command", "command": "!hi", "action": {"type": "validation_passed"}},
            {"id": "shared", "kind": "command", "command": "!hi", "shared_chat": true, "action": {"type": "validation_passed"}},
            {"id": "raid", "on": {"event": "raid"}, "action": {"type": "validation_passed"}}]"#,
    );
    let mut st = TriggerState::new(&reg);
    let own = msg(0, "ann", "!hi");
    let ids = |actions: Vec<String>| -> Vec<String> {
        actions
            .into_iter()
            .map(|a| a.split(':').next().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(ids(fired(&reg, &mut st, &own)), ["own", "shared"]);
    let mut shared = msg(10, "bob", "!hi");
    shared.shared_from = Some("other_channel".into());
    assert_eq!(ids(fired(&reg, &mut st, &shared)), ["shared"]);
    let mut shared_raid = raid(20, "raider", 5);
    shared_raid.shared_from = Some("other_channel".into());
    assert!(fired(&reg, &mut st, &shared_raid).is_empty());
    assert_eq!(ids(fired(&reg, &mut st, &raid(30, "raider", 5))), ["raid"]);
}

#[test]
fn non_messages_and_other_creators_fire_nothing() {
    let reg = registry(SET);
    let mut st = TriggerState::new(&reg);
    let mut e = msg(0, "ann", "!ping");
    e.kind = EventKind::Subscription;
    assert!(fired(&reg, &mut st, &e).is_empty());
    let mut e = msg(0, "ann", "!ping");
    e.creator = "someone-else".into();
    assert!(fired(&reg, &mut st, &e).is_empty());
    assert!(fired(&reg, &mut st, &msg(0, "ann", "   ")).is_empty());
}

#[test]
fn the_same_events_give_the_same_actions_twice() {
    let reg = registry(SET);
    let events: Vec<ChatEvent> = (0..500)
        .map(|i| {
            let text = ["!ping x", "hype", "gg", "!vote a", "!clip", "hello"][i % 6];
            let mut e = msg(i as i64 / 3, &format!("u{}", i % 17), text);
            e.author.roles.subscriber = i % 4 == 0;
            e
        })
        .collect();
    let run = || {
        let mut st = TriggerState::new(&reg);
        events
            .iter()
            .flat_map(|e| evaluate(e, &reg, &mut st))
            .collect::<Vec<_>>()
    };
    let first = run();
    assert!(first.len() > 500);
    assert_eq!(first, run());
}

#[test]
fn user_cooldown_memory_stays_bounded() {
    let reg = registry(
        r#"[{"id": "u", "kind": "command", "command": "!u", "cooldowns": {"user_s": 1}, "action": {"type": "validation_passed"}}]"#,
    );
    let mut st = TriggerState::new(&reg);
    for i in 0..100_000 {
        evaluate(&msg(i / 100, &format!("user{i}"), "!u"), &reg, &mut st);
    }
    assert!(st.tracked_users() < 20_000, "{}", st.tracked_users());
}

#[test]
fn a_clip_request_may_name_its_length_within_bounds() {
    assert_eq!(super::requested_clip_seconds("10"), Some(10));
    assert_eq!(super::requested_clip_seconds("15s please"), Some(15));
    for refused in ["", "0", "301", "-5", "ten", "9999999999"] {
        assert_eq!(super::requested_clip_seconds(refused), None, "{refused}");
    }
}

#[test]
fn moderation_actions_aim_at_the_author_and_the_message_with_templated_reasons() {
    let reg = registry(
        r#"[
  {"id": "timeout", "kind": "keyword", "keywords": ["badword"], "action": {"type": "timeout", "seconds": 600, "reason": "{user} said a banned word"}},
  {"id": "delete", "kind": "keyword", "keywords": ["badword"], "action": {"type": "delete"}},
  {"id": "ban", "kind": "keyword", "keywords": ["worseword"], "action": {"type": "ban"}},
  {"id": "unban", "kind": "command", "command": "!sorry", "action": {"type": "unban"}},
  {"id": "say", "kind": "command", "command": "!rules", "action": {"type": "say", "template": "be kind, {user}"}},
  {"id": "announce", "kind": "command", "command": "!news", "action": {"type": "announce", "template": "news: {args}"}}
]"#,
    );
    let mut st = TriggerState::new(&reg);
    assert_eq!(
        fired(&reg, &mut st, &msg(0, "spam", "buy badword now")),
        [
            r#"timeout:{"type":"timeout","channel":"demo_channel","user_id":"id-spam","user_login":"spam","seconds":600,"reason":"SPAM said a banned word"}"#,
            r#"delete:{"type":"delete","channel":"demo_channel","message_id":"spam-0"}"#,
        ]
    );
    assert_eq!(
        fired(&reg, &mut st, &msg(1, "troll", "worseword")),
        [
            r#"ban:{"type":"ban","channel":"demo_channel","user_id":"id-troll","user_login":"troll","reason":null}"#
        ]
    );
    assert_eq!(
        fired(&reg, &mut st, &msg(2, "troll", "!sorry")),
        [
            r#"unban:{"type":"unban","channel":"demo_channel","user_id":"id-troll","user_login":"troll"}"#
        ]
    );
    assert_eq!(
        fired(&reg, &mut st, &msg(3, "ann", "!rules")),
        [r#"say:{"type":"say","channel":"demo_channel","text":"be kind, ANN"}"#]
    );
    assert_eq!(
        fired(&reg, &mut st, &msg(4, "mod", "!news we are live")),
        [r#"announce:{"type":"announce","channel":"demo_channel","text":"news: we are live"}"#]
    );
}

const EVENT_SET: &str = r#"[
  {"id": "ping", "kind": "command", "command": "!ping", "action": {"type": "reply", "template": "pong"}},
  {"id": "thanks-raid", "on": {"event": "raid", "min_viewers": 10}, "cooldowns": {"user_s": 60}, "action": {"type": "reply", "template": "Welcome raiders of {user}: all {viewers} of you! ({count})"}},
  {"id": "any-raid", "kind": "event", "on": {"event": "raid"}, "platforms": ["kick"], "action": {"type": "tally", "tally": "raids"}},
  {"id": "vip-subs", "on": {"event": "subscription", "sub_kind": ["new", "resub"], "min_months": 3}, "min_role": "vip", "action": {"type": "reply", "template": "{user}: {months} months at tier {tier}"}},
  {"id": "bomb", "on": {"event": "subscription", "sub_kind": "community_gift"}, "cooldowns": {"creator_s": 30}, "action": {"type": "reply", "template": "{user} gifted {gifts}!"}}
]"#;

fn raid(at_s: i64, user: &str, viewers: u64) -> ChatEvent {
    msg(at_s, user, "").with_detail(
        EventKind::Raid,
        crate::event::EventDetail::Raid(crate::event::Raid { viewers }),
    )
}

fn subscription(
    at_s: i64,
    user: &str,
    f: impl FnOnce(&mut crate::event::Subscription),
) -> ChatEvent {
    let mut sub = crate::event::Subscription::new(crate::event::SubKind::Resub);
    sub.tier = Some(crate::event::SubTier::Tier1);
    f(&mut sub);
    msg(at_s, user, "").with_detail(
        EventKind::Subscription,
        crate::event::EventDetail::Subscription(sub),
    )
}

#[test]
fn a_raid_trigger_fires_on_a_big_enough_raid_with_its_fields_and_never_on_chat() {
    let reg = registry(EVENT_SET);
    let mut st = TriggerState::new(&reg);
    assert!(
        fired(&reg, &mut st, &raid(0, "small", 9)).is_empty(),
        "under min_viewers"
    );
    let actions = evaluate(&raid(1, "big", 430), &reg, &mut st);
    assert_eq!(actions.len(), 1);
    assert_eq!(
        actions[0].kind,
        ActionKind::Reply {
            channel: "demo_channel".into(),
            text: "Welcome raiders of BIG: all 430 of you! (1)".into()
        }
    );
    assert_eq!(actions[0].message_id, "big-1", "the raid is the cause");
    assert!(!actions[0].thread, "nothing is threaded under a raid");
    // The user cooldown applies to the raiding channel, as to a chatter.
    assert!(fired(&reg, &mut st, &raid(2, "big", 500)).is_empty());
    assert_eq!(
        fired(&reg, &mut st, &raid(3, "other", 11)),
        [
            r#"thanks-raid:{"type":"reply","channel":"demo_channel","text":"Welcome raiders of OTHER: all 11 of you! (2)"}"#
        ]
    );
    // Chat that says "raid" is a message, not a raid; and a raid fires no chat trigger.
    assert!(fired(&reg, &mut st, &msg(4, "ann", "raid")).is_empty());
    let mut loud = raid(5, "loud", 50);
    loud.text = "!ping".into();
    assert_eq!(
        fired(&reg, &mut st, &loud).len(),
        1,
        "only the raid trigger"
    );
    // A platform filter applies as to chat triggers.
    let mut kick = raid(6, "kicker", 1);
    kick.platform = Platform::named("kick");
    assert_eq!(
        fired(&reg, &mut st, &kick),
        [r#"any-raid:{"type":"tally","tally":"raids","amount":1,"user_id":"id-kicker"}"#]
    );
}

#[test]
fn roles_and_creator_cooldowns_apply_to_stream_event_triggers() {
    let reg = registry(EVENT_SET);
    let mut st = TriggerState::new(&reg);
    let long = |at, user: &str, vip| {
        let mut e = subscription(at, user, |s| s.months = Some(5));
        e.author.roles.vip = vip;
        e
    };
    assert!(
        fired(&reg, &mut st, &long(0, "ann", false)).is_empty(),
        "below min_role"
    );
    assert_eq!(
        fired(&reg, &mut st, &long(1, "bob", true)),
        [r#"vip-subs:{"type":"reply","channel":"demo_channel","text":"BOB: 5 months at tier 1"}"#]
    );
    let short = {
        let mut e = subscription(2, "cat", |s| s.months = Some(2));
        e.author.roles.vip = true;
        e
    };
    assert!(fired(&reg, &mut st, &short).is_empty(), "under min_months");
    let bomb = |at| {
        subscription(at, "dan", |s| {
            s.kind = crate::event::SubKind::CommunityGift;
            s.count = Some(20);
        })
    };
    assert_eq!(fired(&reg, &mut st, &bomb(10)).len(), 1);
    assert!(
        fired(&reg, &mut st, &bomb(20)).is_empty(),
        "creator cooldown of 30 s"
    );
    assert_eq!(
        fired(&reg, &mut st, &bomb(40)),
        [r#"bomb:{"type":"reply","channel":"demo_channel","text":"DAN gifted 20!"}"#]
    );
}
