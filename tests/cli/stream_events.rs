//! Stream events and the clock end to end, on the loopback Twitch IRC server: a trigger on
//! `"event": "raid"` with `min_viewers` thanks a big raid in chat and not a small one; a resub is
//! stored and exported with its typed fields; a poll with a 30 s deadline closes at 30 s in a chat
//! that went silent, and `ss replay --diff` of that run is empty.

use crate::harness::Test;
use crate::polls::{
    assert_replay_matches_the_live_run, line as chat, replayed_poll_closes, start, stop,
};
use crate::run_twitch::twitch_root;
use crate::twitch_server::{ServerOptions, TwitchServer};
use serde_json::{Value, json};
use std::time::Duration;

/// The replies the server received, as sent (tags included).
fn replies(server: &TwitchServer) -> Vec<String> {
    server
        .received_commands("PRIVMSG")
        .into_iter()
        .map(|r| r.line)
        .collect()
}

/// A raid USERNOTICE (the sample in Twitch's IRC reference) into `#demo_channel` from `login` with `viewers`.
fn raid(id: &str, login: &str, viewers: u64) -> String {
    let ts = chrono::Utc::now().timestamp_millis();
    format!(
        r"@badge-info=;badges=;color=#FF69B4;display-name={login};emotes=;flags=;id={id};login={login};mod=0;msg-id=raid;msg-param-displayName={login};msg-param-login={login};msg-param-profileImageURL=https://static-cdn.jtvnw.net/x.png;msg-param-viewerCount={viewers};room-id=11111111;subscriber=0;system-msg={viewers}\sraiders\sfrom\s{login}\shave\sjoined!;tmi-sent-ts={ts};user-id=44444444;user-type= :tmi.twitch.tv USERNOTICE #demo_channel"
    )
}

/// The resub USERNOTICE of Twitch's IRC reference, into `#demo_channel`.
fn resub() -> String {
    let ts = chrono::Utc::now().timestamp_millis();
    format!(
        r"@badge-info=subscriber/2;badges=subscriber/0;color=#0000FF;display-name=Gutrin2;emotes=;flags=;id=e0975c76-0000-4954-8cb0-91b8867ec1ca;login=gutrin2;mod=0;msg-id=resub;msg-param-cumulative-months=2;msg-param-months=0;msg-param-should-share-streak=1;msg-param-streak-months=2;msg-param-sub-plan-name=Channel\sSubscription\s(somechannel);msg-param-sub-plan=1000;room-id=11111111;subscriber=1;system-msg=Gutrin2\ssubscribed\sat\sTier\s1.;tmi-sent-ts={ts};user-id=33333333;user-type= :tmi.twitch.tv USERNOTICE #demo_channel :great stream"
    )
}

/// The demo's triggers with a raid trigger added.
fn with_raid_trigger(t: &Test) {
    let triggers = t.read("runtime/config/triggers.json").replacen(
        "\"demo\": [",
        r#""demo": [
      {
        "id": "thank-raiders",
        "on": { "event": "raid", "min_viewers": 10 },
        "action": { "type": "reply", "template": "Welcome {user} and all {viewers} raiders! (raid #{count})" }
      },"#,
        1,
    );
    t.write("runtime/config/triggers.json", &triggers);
}

/// Waits until the export `rel` holds JSON for which `cond` is true.
async fn wait_for_export(
    t: &Test,
    rel: &str,
    limit: Duration,
    cond: impl Fn(&Value) -> bool,
) -> Value {
    crate::harness::until_some(&format!("{rel} to match"), limit, || {
        std::fs::read_to_string(t.path().join(rel))
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .filter(|doc| cond(doc))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raid_trigger_thanks_a_big_raid_and_a_resub_is_stored_and_exported_with_its_fields() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let t = twitch_root(server.port());
    with_raid_trigger(&t);
    t.run(&["validate-config"]).status(0);
    let child = start(&t);
    server.wait_for_joins(1).await;

    // A small raid first: under min_viewers, so nothing is said; then a big one, then a resub.
    server
        .send_to_joined(&raid("raid-small", "tinychannel", 5))
        .await;
    server
        .send_to_joined(&raid("raid-big", "bigchannel", 430))
        .await;
    server.send_to_joined(&resub()).await;
    server
        .wait_for_commands("PRIVMSG", 1, Duration::from_secs(20))
        .await;
    // The resub is in the exports once the store has committed it (and the raids before it).
    let doc = wait_for_export(
        &t,
        "runtime/signals/chat_events.json",
        Duration::from_secs(20),
        |doc| {
            doc["events"].as_array().is_some_and(|events| {
                events
                    .iter()
                    .any(|e| e["message_id"] == "e0975c76-0000-4954-8cb0-91b8867ec1ca")
            })
        },
    )
    .await;
    stop(child).await;

    let said = replies(&server);
    assert_eq!(
        said,
        ["PRIVMSG #demo_channel :Welcome bigchannel and all 430 raiders! (raid #1)"],
        "one thanks, for the big raid only, not threaded under the raid"
    );

    let events = doc["events"].as_array().unwrap();
    let by_id = |id: &str| {
        events
            .iter()
            .find(|e| e["message_id"] == id)
            .unwrap_or_else(|| panic!("{id} not exported: {events:#?}"))
    };
    let resub = by_id("e0975c76-0000-4954-8cb0-91b8867ec1ca");
    assert_eq!(resub["kind"], "subscription");
    assert_eq!(resub["author"]["login"], "gutrin2");
    assert_eq!(resub["text"], "great stream");
    assert_eq!(
        resub["detail"],
        json!({"type": "subscription", "kind": "resub", "tier": "tier1", "months": 2, "streak_months": 2})
    );
    assert_eq!(by_id("raid-big")["kind"], "raid");
    assert_eq!(
        by_id("raid-big")["detail"],
        json!({"type": "raid", "viewers": 430})
    );
    assert_eq!(
        by_id("raid-small")["detail"],
        json!({"type": "raid", "viewers": 5})
    );

    // The dashboard's list of triggers shows the stream-event trigger, its conditions and its fire.
    let admin: Value = serde_json::from_str(&t.read("runtime/admin/chat_triggers.json")).unwrap();
    let raid_trigger = admin["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tr| tr["id"] == "thank-raiders")
        .expect("listed");
    assert_eq!(
        raid_trigger["matcher"],
        json!({"kind": "event", "on": {"event": "raid", "min_viewers": 10}})
    );
    assert_eq!(raid_trigger["fired"], 1);
    let errors: Vec<String> = {
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(
                crate::harness::repo().join("schemas/exports/chat_triggers.schema.json"),
            )
            .unwrap(),
        )
        .unwrap();
        jsonschema::validator_for(&schema)
            .unwrap()
            .iter_errors(&admin)
            .map(|e| e.to_string())
            .collect()
    };
    assert!(errors.is_empty(), "{errors:?}");

    // The store reads the typed fields back as they were, and a replay fires the same thanks.
    let store = ss::store::StoreReader::open(&ss::store::db_path(t.path())).unwrap();
    let stored = store.recent_chat_events(10).unwrap();
    let stored_resub = stored
        .iter()
        .find(|e| e.kind == ss::event::EventKind::Subscription)
        .expect("the resub is stored");
    let sub = stored_resub
        .detail
        .as_deref()
        .and_then(ss::event::EventDetail::subscription)
        .expect("with its subscription fields");
    assert_eq!(
        (sub.kind, sub.tier, sub.months, sub.streak_months),
        (
            ss::event::SubKind::Resub,
            Some(ss::event::SubTier::Tier1),
            Some(2),
            Some(2)
        )
    );
    drop(store);
    assert_replay_matches_the_live_run(&t);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_with_a_30_s_deadline_closes_at_30_s_in_a_silent_chat_and_replays_the_same() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let t = twitch_root(server.port());
    let child = start(&t);
    server.wait_for_joins(1).await;

    let t0 = chrono::Utc::now().timestamp_millis();
    server
        .send_to_joined(&chat(
            "open",
            "mod_max",
            t0,
            "!poll open Best snack? | chips | nuts 30s",
        ))
        .await;
    server
        .send_to_joined(&chat("v1", "ann", t0 + 100, "!vote nuts"))
        .await;
    server
        .send_to_joined(&chat("v2", "bob", t0 + 200, "!vote 1"))
        .await;
    server
        .send_to_joined(&chat("v3", "cat", t0 + 300, "!vote 2"))
        .await;
    // The open reply; then nobody says anything.
    server
        .wait_for_commands("PRIVMSG", 1, Duration::from_secs(10))
        .await;
    // The results come from the clock alone.
    server
        .wait_for_commands("PRIVMSG", 2, Duration::from_secs(45))
        .await;
    let closed_after_ms = chrono::Utc::now().timestamp_millis() - t0;
    let polls = wait_for_export(
        &t,
        "runtime/exports/polls.json",
        Duration::from_secs(10),
        |doc| doc["polls"][0]["state"] == "closed",
    )
    .await;
    stop(child).await;

    let said = replies(&server);
    assert_eq!(said.len(), 2, "{said:#?}");
    assert_eq!(
        said[1],
        "PRIVMSG #demo_channel :Poll closed: Best snack? | chips 1 (33.3%), nuts 2 (66.7%) | 3 votes | winner: nuts",
        "the results, threaded under nothing"
    );
    assert!(
        closed_after_ms >= 30_000,
        "closed after {closed_after_ms} ms"
    );

    let poll = &polls["polls"][0];
    assert_eq!(
        (&poll["close_reason"], &poll["total_votes"]),
        (&json!("timer"), &json!(3))
    );
    let at = |key: &str| {
        chrono::DateTime::parse_from_rfc3339(poll[key].as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    assert_eq!(at("opened_at"), t0);
    assert_eq!(at("closes_at"), t0 + 30_000);
    let late = at("closed_at") - at("closes_at");
    assert!(
        (0..=1_500).contains(&late),
        "closed {late} ms after its deadline (a tick comes each second)"
    );

    // The tick that closed it is in the store with its actions; the replay meets it there.
    assert_replay_matches_the_live_run(&t);
    let closes = replayed_poll_closes(&t);
    assert_eq!(closes.len(), 1, "{closes:?}");
    assert!(
        closes[0]["message_id"]
            .as_str()
            .is_some_and(|cause| cause.starts_with("tick:demo:")),
        "caused by a tick: {}",
        closes[0]
    );
    assert_eq!(
        closes[0]["results"],
        json!([{"option": "chips", "votes": 1}, {"option": "nuts", "votes": 2}])
    );
}

/// A USERNOTICE into `#demo_channel` from `login`: `msg-id` with its `params` (`msg-param-*` tags,
/// `;`-separated, without the prefix), shaped as in Twitch's IRC reference.
fn usernotice(id: &str, login: &str, user_id: u64, msg_id: &str, params: &str) -> String {
    let ts = chrono::Utc::now().timestamp_millis();
    let params: String = params
        .split(';')
        .filter(|p| !p.is_empty())
        .map(|p| format!("msg-param-{p};"))
        .collect();
    format!(
        r"@badge-info=;badges=;color=#0000FF;display-name={login};emotes=;flags=;id={id};login={login};mod=0;msg-id={msg_id};{params}room-id=11111111;subscriber=0;system-msg=;tmi-sent-ts={ts};user-id={user_id};user-type= :tmi.twitch.tv USERNOTICE #demo_channel"
    )
}

/// The texts the server received in PRIVMSGs to `#demo_channel`, in order.
fn said_texts(server: &TwitchServer) -> Vec<String> {
    replies(server)
        .iter()
        .filter_map(|l| {
            l.split_once("PRIVMSG #demo_channel :")
                .map(|(_, t)| t.to_owned())
        })
        .collect()
}

/// How many of the texts the server received start with `prefix`.
pub(crate) fn count_said(state: &crate::twitch_server::ServerState, prefix: &str) -> usize {
    state
        .received
        .iter()
        .filter(|r| r.line.contains(&format!("PRIVMSG #demo_channel :{prefix}")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raid_of_42_and_a_community_gift_of_10_are_thanked_once_and_a_timer_waits_for_chat() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let t = twitch_root(server.port());
    let mut triggers: Value =
        serde_json::from_str(&t.read("runtime/config/triggers.json")).unwrap();
    let demo = triggers["triggers"]["demo"].as_array_mut().unwrap();
    demo.push(json!({
        "id": "thank-raiders", "on": {"event": "raid", "min_viewers": 10},
        "action": {"type": "say", "template": "Raid! Welcome {user} and {viewers} raiders"}
    }));
    // Any subscription: the community gift is thanked, the ten single gifts of its burst are not.
    demo.push(json!({
        "id": "thank-subs", "on": {"event": "subscription"},
        "action": {"type": "say", "template": "Subs! Thank you {user} ({gifts} gifted)"}
    }));
    // Two timers on one clock: `tick` posts in a silent chat too (it shows the clock going round),
    // `plug` only after 5 messages since its last post.
    triggers["timers"] = json!({"demo": [
        {"id": "tick", "every_s": 2, "action": {"type": "say", "template": "Tick"}},
        {"id": "plug", "every_s": 2, "min_messages": 5,
         "action": {"type": "say", "template": "Plug: follow the channel"}}
    ]});
    t.write(
        "runtime/config/triggers.json",
        &serde_json::to_string_pretty(&triggers).unwrap(),
    );
    t.run(&["validate-config"]).status(0);
    let child = start(&t);
    server.wait_for_joins(1).await;

    // A quiet chat: three rounds of the clock's witness, and the plug stays silent.
    server
        .wait_until("3 ticks", Duration::from_secs(30), |s| {
            count_said(s, "Tick") >= 3
        })
        .await;
    assert_eq!(
        server.with_state(|s| count_said(s, "Plug")),
        0,
        "nothing to say to an empty room: {:#?}",
        said_texts(&server)
    );

    // A busy chat: five messages, and the plug posts once at its next slot.
    let t0 = chrono::Utc::now().timestamp_millis();
    for i in 0..5 {
        server
            .send_to_joined(&chat(&format!("c{i}"), "ann", t0 + i, "hello there"))
            .await;
    }
    server
        .wait_until("the plug", Duration::from_secs(30), |s| {
            count_said(s, "Plug") >= 1
        })
        .await;

    // A raid of 42; a community gift of 10 and its ten single gifts (one community gift id).
    server
        .send_to_joined(&usernotice(
            "raid-42",
            "bigchannel",
            44444444,
            "raid",
            "displayName=bigchannel;login=bigchannel;viewerCount=42",
        ))
        .await;
    let gift = "community-gift-id=3407440396593398416;sub-plan=1000";
    server
        .send_to_joined(&usernotice(
            "mystery",
            "gifter",
            55555555,
            "submysterygift",
            &format!("{gift};mass-gift-count=10;sender-count=10"),
        ))
        .await;
    for i in 0..10 {
        server
            .send_to_joined(&usernotice(
                &format!("single-{i}"),
                "gifter",
                55555555,
                "subgift",
                &format!(
                    "{gift};gift-months=1;months=1;recipient-id={};recipient-user-name=viewer{i};recipient-display-name=viewer{i}",
                    6000 + i
                ),
            ))
            .await;
    }
    // The last single gift is committed (and evaluated) once it is in the chat log export.
    wait_for_export(
        &t,
        "runtime/signals/chat_events.json",
        Duration::from_secs(20),
        |doc| {
            doc["events"]
                .as_array()
                .is_some_and(|events| events.iter().any(|e| e["message_id"] == "single-9"))
        },
    )
    .await;
    server
        .wait_until("both thanks", Duration::from_secs(20), |s| {
            count_said(s, "Raid!") >= 1 && count_said(s, "Subs!") >= 1
        })
        .await;
    // Two more rounds of the clock (a thank-you still queued would have gone by then).
    let ticks = server.with_state(|s| count_said(s, "Tick"));
    server
        .wait_until("2 more ticks", Duration::from_secs(30), |s| {
            count_said(s, "Tick") >= ticks + 2
        })
        .await;
    stop(child).await;

    let said = said_texts(&server);
    let with =
        |prefix: &str| -> Vec<&String> { said.iter().filter(|s| s.starts_with(prefix)).collect() };
    assert_eq!(
        with("Raid!"),
        ["Raid! Welcome bigchannel and 42 raiders"],
        "{said:#?}"
    );
    assert_eq!(
        with("Subs!"),
        ["Subs! Thank you gifter (10 gifted)"],
        "one thank-you for the burst: {said:#?}"
    );
    assert_eq!(
        with("Plug").len(),
        1,
        "five messages, one post; then none until five more: {said:#?}"
    );
    // Replay fires the same timers at the same moments, and the same thanks.
    assert_replay_matches_the_live_run(&t);
}
