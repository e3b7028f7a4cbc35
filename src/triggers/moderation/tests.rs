use super::*;
use crate::event::Author;
use chrono::{DateTime, Utc};

fn registry(json: &str) -> ModerationRegistry {
    let config: ModerationConfig = serde_json::from_str(json).unwrap();
    ModerationRegistry::compile(&config).unwrap()
}

fn at(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_700_000_000_000 + s * 1000).unwrap()
}

fn message(s: i64, user: &str, text: &str) -> ChatEvent {
    let mut author = Author::viewer(user);
    author.roles.moderator = user.starts_with("mod");
    author.roles.subscriber = user.starts_with("sub");
    ChatEvent::message(
        Platform::named("kick"),
        "demo",
        &format!("m{s}-{user}"),
        at(s),
        author,
        text,
    )
}

/// (decision, seconds, strike, dry run) of each decision.
fn decisions(verdict: &Verdict) -> Vec<(Decision, Option<u32>, u32, bool)> {
    verdict
        .actions
        .iter()
        .filter_map(|a| match &a.kind {
            ActionKind::Moderate {
                decision,
                seconds,
                strike,
                dry_run,
                ..
            } => Some((*decision, *seconds, *strike, *dry_run)),
            _ => None,
        })
        .collect()
}

const LINKS_AND_CAPS: &str = r#"{"moderation": {"demo": {
    "strikes": {"ladder": ["warn", "delete", {"timeout": 60}, {"timeout": 600}, "ban"], "decay_s": 3600},
    "filters": [
        {"id": "links", "type": "links", "allow": ["youtube.com"], "action": "delete",
         "message": "{user}: no links ({rule}), strike {strike}"},
        {"id": "caps", "type": "caps", "min_length": 10, "max_ratio": 0.7, "action": {"timeout": 30}}
    ]}}}"#;

#[test]
fn a_link_from_a_viewer_is_deleted_and_an_allowed_one_passes() {
    let registry = registry(LINKS_AND_CAPS);
    let mut state = ModerationState::default();
    let verdict = evaluate(
        &message(0, "ann", "see example(dot)com"),
        &registry,
        &mut state,
    );
    assert_eq!(decisions(&verdict), [(Decision::Delete, None, 1, false)]);
    assert!(verdict.stop_triggers);
    let action = &verdict.actions[0];
    assert_eq!(action.trigger_id, "moderation/links");
    assert_eq!(action.message_id, "m0-ann");
    match &action.kind {
        ActionKind::Moderate { rule, message, .. } => {
            assert_eq!(rule, "link to example.com");
            assert_eq!(
                message.as_deref(),
                Some("ann: no links (link to example.com), strike 1")
            );
        }
        other => panic!("{other:?}"),
    }
    let verdict = evaluate(
        &message(1, "bob", "watch https://www.youtube.com/watch?v=x"),
        &registry,
        &mut state,
    );
    assert!(verdict.actions.is_empty());
}

#[test]
fn a_moderator_is_exempt_and_the_broadcaster_always() {
    let registry = registry(LINKS_AND_CAPS);
    let mut state = ModerationState::default();
    assert!(
        evaluate(&message(0, "mod_max", "example.com"), &registry, &mut state)
            .actions
            .is_empty()
    );
    let mut owner = message(1, "owner", "example.com");
    owner.author.roles.broadcaster = true;
    assert!(evaluate(&owner, &registry, &mut state).actions.is_empty());
}

#[test]
fn a_permitted_viewer_may_post_links_until_the_permit_ends() {
    let registry = registry(LINKS_AND_CAPS);
    let mut state = ModerationState::default();
    let verdict = evaluate(
        &message(0, "mod_max", "!permit @Ann 30"),
        &registry,
        &mut state,
    );
    match &verdict.actions[..] {
        [
            Action {
                trigger_id,
                kind: ActionKind::Reply { text, .. },
                ..
            },
        ] => {
            assert_eq!(trigger_id, PERMIT_TRIGGER);
            assert_eq!(text, "ann may post links for 30 s.");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        evaluate(&message(10, "ann", "example.com"), &registry, &mut state)
            .actions
            .is_empty()
    );
    assert_eq!(
        decisions(&evaluate(
            &message(31, "ann", "example.com"),
            &registry,
            &mut state
        )),
        [(Decision::Delete, None, 1, false)],
        "the permit ended"
    );
    // A viewer cannot permit: the command is an ordinary message.
    assert!(
        evaluate(&message(40, "bob", "!permit bob"), &registry, &mut state)
            .actions
            .is_empty()
    );
}

#[test]
fn a_caps_flood_is_timed_out_and_offences_climb_the_ladder_then_decay() {
    let registry = registry(LINKS_AND_CAPS);
    let mut state = ModerationState::default();
    let flood = |s, state: &mut ModerationState| {
        decisions(&evaluate(
            &message(s, "ann", "WHY IS NOBODY LISTENING TO ME"),
            &registry,
            state,
        ))
    };
    // The filter's own 30 s beats the first steps of the ladder (warn, delete) ...
    assert_eq!(
        flood(0, &mut state),
        [(Decision::Timeout, Some(30), 1, false)]
    );
    assert_eq!(
        flood(10, &mut state),
        [(Decision::Timeout, Some(30), 2, false)]
    );
    // ... the third strike's 60 s beats the filter's.
    assert_eq!(
        flood(20, &mut state),
        [(Decision::Timeout, Some(60), 3, false)]
    );
    assert_eq!(
        flood(30, &mut state),
        [(Decision::Timeout, Some(600), 4, false)]
    );
    assert_eq!(flood(40, &mut state), [(Decision::Ban, None, 5, false)]);
    assert_eq!(flood(50, &mut state), [(Decision::Ban, None, 6, false)]);
    // An hour after the last offence the strikes are forgotten.
    assert_eq!(
        flood(3650, &mut state),
        [(Decision::Timeout, Some(30), 1, false)]
    );
    // Short or calm messages pass.
    assert!(
        evaluate(&message(3700, "ann", "OK OK"), &registry, &mut state)
            .actions
            .is_empty()
    );
}

#[test]
fn strikes_are_per_user_and_survive_a_restart_or_a_seed() {
    let registry = registry(LINKS_AND_CAPS);
    let mut state = ModerationState::default();
    evaluate(&message(0, "ann", "a.com"), &registry, &mut state);
    evaluate(&message(1, "ann", "b.com"), &registry, &mut state);
    assert_eq!(
        decisions(&evaluate(
            &message(2, "bob", "c.com"),
            &registry,
            &mut state
        )),
        [(Decision::Delete, None, 1, false)]
    );
    state.restart();
    assert_eq!(
        decisions(&evaluate(
            &message(3, "ann", "d.com"),
            &registry,
            &mut state
        )),
        [(Decision::Timeout, Some(60), 3, false)]
    );
    let mut fresh = ModerationState::default();
    fresh.seed([StrikeRecord {
        creator: "demo".into(),
        platform: Platform::named("kick"),
        user_id: "ann".into(),
        dry_run: false,
        strikes: 3,
        last_ms: at(3).timestamp_millis(),
    }]);
    assert_eq!(
        decisions(&evaluate(
            &message(4, "ann", "e.com"),
            &registry,
            &mut fresh
        )),
        [(Decision::Timeout, Some(600), 4, false)]
    );
}

#[test]
fn a_dry_run_decides_the_same_counts_apart_and_lets_the_triggers_see_the_message() {
    let registry = registry(
        r#"{"moderation": {"demo": {"mode": "log", "filters": [
            {"id": "links", "type": "links", "action": "delete"},
            {"id": "words", "type": "words", "words": ["spoiler"], "action": "ban", "mode": "enforce"}
        ]}}}"#,
    );
    let mut state = ModerationState::default();
    let verdict = evaluate(&message(0, "ann", "x.com"), &registry, &mut state);
    assert_eq!(decisions(&verdict), [(Decision::Delete, None, 1, true)]);
    assert!(!verdict.stop_triggers);
    let verdict = evaluate(
        &message(1, "ann", "SPOILER: he dies"),
        &registry,
        &mut state,
    );
    assert_eq!(
        decisions(&verdict),
        [(Decision::Ban, None, 1, false)],
        "enforced strikes are counted apart from the dry run's"
    );
    assert!(verdict.stop_triggers);
}

#[test]
fn first_messages_and_new_followers_get_the_stricter_link_rule() {
    let registry = registry(
        r#"{"moderation": {"demo": {"strikes": {"ladder": []}, "filters": [
            {"id": "links", "type": "links", "allow": ["youtube.com"], "action": "delete",
             "first_message": {"action": "ban", "followed_within_s": 600}}
        ]}}}"#,
    );
    let mut state = ModerationState::default();
    assert_eq!(
        decisions(&evaluate(
            &message(0, "ann", "youtube.com/x"),
            &registry,
            &mut state
        )),
        [(Decision::Ban, None, 1, false)],
        "the allowlist does not apply to a first message"
    );
    assert!(
        evaluate(&message(1, "ann", "youtube.com/x"), &registry, &mut state)
            .actions
            .is_empty()
    );
    // Bob chats, then follows: for ten minutes he is new.
    evaluate(&message(2, "bob", "hi"), &registry, &mut state);
    let mut follow = message(3, "bob", "");
    follow.kind = EventKind::Follow;
    evaluate(&follow, &registry, &mut state);
    assert_eq!(
        decisions(&evaluate(
            &message(4, "bob", "spam.io"),
            &registry,
            &mut state
        )),
        [(Decision::Ban, None, 1, false)]
    );
    assert_eq!(
        decisions(&evaluate(
            &message(700, "bob", "spam.io"),
            &registry,
            &mut state
        )),
        [(Decision::Delete, None, 2, false)]
    );
    // Twitch says which message is a first one.
    let mut returning = message(800, "cat", "youtube.com/x");
    returning.extras.insert_bool("first_msg", false);
    assert!(
        evaluate(&returning, &registry, &mut state)
            .actions
            .is_empty()
    );
}

#[test]
fn symbols_repetition_emotes_length_and_words_each_catch_their_kind() {
    let registry = registry(
        r#"{"moderation": {"demo": {"exempt": [], "strikes": {"ladder": []}, "filters": [
            {"id": "symbols", "type": "symbols", "min_length": 8, "max_ratio": 0.5, "action": "delete"},
            {"id": "repeat", "type": "repetition", "max_char_run": 5, "max_word_repeats": 3, "action": "delete"},
            {"id": "emotes", "type": "emotes", "max": 2, "action": "delete"},
            {"id": "length", "type": "length", "max_chars": 50, "action": "delete"},
            {"id": "words", "type": "words", "words": ["crème"], "patterns": ["(a+)+$"], "action": {"timeout": 5}}
        ]}}}"#,
    );
    let mut state = ModerationState::default();
    let caught = |text: &str, state: &mut ModerationState| {
        let verdict = evaluate(&message(0, "ann", text), &registry, state);
        verdict.actions.first().and_then(|a| match &a.kind {
            ActionKind::Moderate { filter, rule, .. } => Some((filter.clone(), rule.clone())),
            _ => None,
        })
    };
    assert_eq!(caught("$$$ !!! ### @@@", &mut state).unwrap().0, "symbols");
    assert_eq!(
        caught("nooooooo way", &mut state).unwrap().1,
        "'o' 7 times in a row"
    );
    assert_eq!(
        caught("buy buy buy now", &mut state).unwrap().1,
        "word \"buy\" 3 times"
    );
    let long: Vec<String> = (0..20).map(|i| format!("w{i}")).collect();
    assert_eq!(caught(&long.join(" "), &mut state).unwrap().0, "length");
    assert_eq!(
        caught("CRÈME", &mut state),
        Some(("words".into(), "banned word \"creme\"".into()))
    );
    assert_eq!(
        caught("aaaa", &mut state).map(|c| c.1),
        Some("banned pattern \"(a+)+$\"".into())
    );
    let mut emotes = message(0, "ann", "a b c d");
    for i in [0, 2, 4] {
        emotes.emotes.push(crate::event::Emote {
            id: "1".into(),
            start: i,
            end: i,
        });
    }
    let verdict = evaluate(&emotes, &registry, &mut state);
    assert!(
        matches!(&verdict.actions[0].kind, ActionKind::Moderate { filter, .. } if filter == "emotes")
    );
    assert!(caught("hello there, how are you?", &mut state).is_none());
}

#[test]
fn a_pathological_pattern_from_the_config_answers_a_long_near_miss() {
    let registry = registry(
        r#"{"moderation": {"demo": {"filters": [
            {"id": "words", "type": "words", "patterns": ["(a+)+$"], "action": "delete"}
        ]}}}"#,
    );
    let mut state = ModerationState::default();
    let near_miss = format!("{}b", "a".repeat(100_000));
    assert!(
        evaluate(&message(0, "ann", &near_miss), &registry, &mut state)
            .actions
            .is_empty()
    );
    assert_eq!(
        decisions(&evaluate(
            &message(1, "ann", &"a".repeat(100_000)),
            &registry,
            &mut state
        )),
        [(Decision::Delete, None, 1, false)]
    );
}

/// The pipeline's evaluation (dedupe, moderation, triggers) is not slowed by the catastrophic
/// pattern: a chat of long near-misses takes no longer than the same chat of harmless text of the
/// same length (a backtracking engine would need 2^n steps per message and never end).
#[test]
fn a_pathological_pattern_does_not_slow_the_pipeline() {
    use crate::engine::Core;
    use crate::triggers::Registry;
    let moderation = registry(
        r#"{"moderation": {"demo": {"filters": [
            {"id": "words", "type": "words", "patterns": ["(a+)+$"], "action": "delete"}
        ]}}}"#,
    );
    let run = |text: &str, moderation: ModerationRegistry| {
        let mut core = Core::new(Registry::default(), 1024).with_moderation(moderation);
        let started = std::time::Instant::now();
        let mut acted = 0;
        for i in 0..200 {
            acted += core
                .evaluate(&message(i, &format!("viewer{i}"), text))
                .unwrap()
                .len();
        }
        (started.elapsed(), acted)
    };
    let near_miss = format!("{}b", "a".repeat(20_000));
    let harmless = format!("{}b", "c".repeat(20_000));
    let (pathological, acted) = run(&near_miss, moderation);
    assert_eq!(acted, 0, "a near miss is no match");
    let moderation = registry(
        r#"{"moderation": {"demo": {"filters": [
            {"id": "words", "type": "words", "patterns": ["(a+)+$"], "action": "delete"}
        ]}}}"#,
    );
    let (baseline, _) = run(&harmless, moderation);
    // Linear: the same order of time as harmless text (generous for a loaded machine), and well
    // under a second for 4 MB of chat.
    assert!(
        pathological < baseline * 20 + std::time::Duration::from_millis(200),
        "{pathological:?} for near misses against {baseline:?} for harmless text"
    );
    assert!(
        pathological < std::time::Duration::from_secs(5),
        "{pathological:?}"
    );
}

#[test]
fn templates_fill_known_placeholders_and_keep_the_rest() {
    assert_eq!(
        render(
            "{user} got {action} for {seconds}s {oops} {",
            &[("user", "ann"), ("action", "timeout"), ("seconds", "60")]
        ),
        "ann got timeout for 60s {oops} {"
    );
}
