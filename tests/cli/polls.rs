//! Chat polls end to end: `ss run` on the loopback Twitch server, a moderator opens a poll, viewers
//! vote (one changes their vote, one tries to close it), the poll closes; then its timer closes
//! another on the event clock, a third is left open across a restart. The results reply, polls.json
//! and the Discord outbox row agree with the votes, and `ss replay` of the same chat finds the same.

use crate::harness::{Test, exit_code_within, signal, store_count, until_within};
use crate::run_twitch::{privmsg, twitch_root, with_ts};
use crate::twitch_server::{ServerOptions, TwitchServer};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;

/// The Twitch token these runs use (tests check it never reaches the logs).
pub(crate) const TOKEN: &str = "oauth:polls-secret-token";

/// A line from `user` at `ts`; users whose name starts with `mod` are moderators.
pub(crate) fn line(id: &str, user: &str, ts: i64, text: &str) -> String {
    let line = with_ts(&privmsg(id, user, &user_id(user), text), ts);
    if user.starts_with("mod") {
        line.replace(";mod=0;", ";mod=1;")
            .replace("badges=;", "badges=moderator/1;")
    } else {
        line
    }
}

fn user_id(user: &str) -> String {
    // The name's bytes as a number: distinct for distinct short names.
    format!("{}", user.bytes().fold(0u64, |n, b| n * 256 + u64::from(b)))
}

/// `ss run` in `t` with the Twitch token set.
pub(crate) fn start(t: &Test) -> std::process::Child {
    t.std_cmd()
        .arg("run")
        .env("TWITCH_OAUTH_TOKEN_DEMO", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Stops `ss run` as an operator would; it must exit 0 without the token in its logs.
pub(crate) async fn stop(child: std::process::Child) {
    signal(&child, "TERM");
    tokio::task::spawn_blocking(move || {
        let mut child = child;
        let code = exit_code_within(&mut child, Duration::from_secs(15));
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        assert_eq!(code, 0, "{stderr}");
        assert!(!stderr.contains("polls-secret-token"), "the token leaked");
    })
    .await
    .unwrap();
}

/// `ss replay --diff` of the root's store finds no difference from what the live runs did.
pub(crate) fn assert_replay_matches_the_live_run(t: &Test) {
    let diff = t.run(&["replay", "--diff"]);
    assert!(
        diff.status(0).stdout.starts_with("no differences"),
        "{}",
        diff.stdout
    );
}

/// The `poll_close` actions `ss replay` of the root's store fires, as JSON.
pub(crate) fn replayed_poll_closes(t: &Test) -> Vec<Value> {
    let replayed = t.run(&["replay"]);
    replayed
        .status(0)
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|a| a["type"] == "poll_close")
        .collect()
}

/// The text of every reply the server received, in order.
fn replies(server: &TwitchServer) -> Vec<String> {
    server
        .received_commands("PRIVMSG")
        .iter()
        .map(|r| {
            r.line
                .split_once("PRIVMSG #demo_channel :")
                .expect("a reply to the channel")
                .1
                .to_string()
        })
        .collect()
}

/// Waits until the export `rel` contains `needle` (the exporter writes every 0.5 s).
async fn wait_for(t: &Test, rel: &str, needle: &str) {
    until_within(
        Duration::from_secs(10),
        &format!("{rel} to contain {needle:?}"),
        || std::fs::read_to_string(t.path().join(rel)).is_ok_and(|text| text.contains(needle)),
    )
    .await
}

fn polls(t: &Test) -> Vec<Value> {
    let doc: Value = serde_json::from_str(&t.read("runtime/exports/polls.json")).unwrap();
    doc["polls"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_run_from_twitch_chat_agrees_in_chat_polls_json_discord_and_replay() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let t = twitch_root(server.port());
    t.run(&["validate-config"]).status(0);
    let child = start(&t);
    server.wait_for_joins(1).await;

    let t0 = chrono::Utc::now().timestamp_millis();
    let chat = [
        (
            "p1",
            "mod_max",
            0,
            "!poll open Best snack? | chips | salted nuts | fruit",
        ),
        ("v1", "ann", 100, "!vote 1"),
        ("v2", "bob", 200, "!vote salted nuts"),
        ("v3", "cat", 300, "!vote 3"),
        // Ann changes her mind: her vote moves from chips to salted nuts.
        ("v4", "ann", 400, "!vote 2"),
        // Bob is no moderator: refused, and the poll stays open.
        ("c1", "bob", 500, "!poll close"),
        ("v5", "dan", 600, "!vote 2"),
        ("c2", "mod_max", 700, "!poll close"),
        // A second poll with a 1 s timer: the first message after it closes it, and the vote in
        // that message comes too late.
        ("p2", "mod_max", 800, "!poll open Quick one? | yes | no 1s"),
        ("v6", "ann", 900, "!vote yes"),
        ("v7", "bob", 1_900, "!vote no"),
        // A third poll, left open when the runtime stops.
        ("p3", "mod_max", 2_000, "!poll open Left open? | a | b"),
        ("v8", "cat", 2_100, "!vote b"),
    ];
    for (id, user, dt, text) in chat {
        server.send_to_joined(&line(id, user, t0 + dt, text)).await;
    }
    // Open, refused, results, open, results (timer), open.
    server
        .wait_for_commands("PRIVMSG", 6, Duration::from_secs(20))
        .await;
    // Points on the demo's good-games board ("gg"), then the standings once the store has them
    // (scoreboards.json is written from committed rows).
    for (id, user, dt) in [
        ("g1", "ann", 2_200),
        ("g2", "bob", 2_300),
        ("g3", "cat", 2_400),
    ] {
        server.send_to_joined(&line(id, user, t0 + dt, "gg")).await;
    }
    wait_for(&t, "runtime/exports/scoreboards.json", "\"players\": 3").await;
    server
        .send_to_joined(&line("top", "dan", t0 + 2_500, "!top"))
        .await;
    server
        .send_to_joined(&line("rank", "bob", t0 + 2_600, "!rank"))
        .await;
    // Within the 5 s standings cooldown (event clock): recorded nowhere, answered never.
    server
        .send_to_joined(&line("rank2", "cat", t0 + 2_700, "!rank @ann"))
        .await;
    server
        .wait_for_commands("PRIVMSG", 8, Duration::from_secs(20))
        .await;
    // The exporter writes at a 0.5 s cadence; the final export at shutdown has everything.
    stop(child).await;

    let said = replies(&server);
    insta::assert_snapshot!(said.join("\n"));
    let results =
        "chips 0 (0%), salted nuts 3 (75%), fruit 1 (25%) | 4 votes | winner: salted nuts";
    assert!(said[2].ends_with(results), "{said:?}");

    let polls = polls(&t);
    assert_eq!(polls.len(), 3, "{polls:?}");
    let first = &polls[0];
    assert_eq!(
        (
            &first["question"],
            &first["state"],
            &first["close_reason"],
            &first["total_votes"]
        ),
        (
            &json!("Best snack?"),
            &json!("closed"),
            &json!("command"),
            &json!(4)
        )
    );
    assert_eq!(
        first["options"],
        json!([
            {"option": "chips", "votes": 0, "percent": 0.0},
            {"option": "salted nuts", "votes": 3, "percent": 75.0},
            {"option": "fruit", "votes": 1, "percent": 25.0},
        ])
    );
    let second = &polls[1];
    assert_eq!(second["close_reason"], "timer");
    assert_eq!(
        second["options"],
        json!([
            {"option": "yes", "votes": 1, "percent": 100.0},
            {"option": "no", "votes": 0, "percent": 0.0},
        ])
    );
    assert_eq!(polls[2]["state"], "open");
    assert_eq!(polls[2]["total_votes"], 1);
    let text = t.read("runtime/exports/polls.json");
    for voter in ["ann", "bob", "cat", "dan"] {
        assert!(
            !text.contains(voter) && !text.contains(&user_id(voter)),
            "polls.json names a voter: {text}"
        );
    }

    // The Discord outbox has one poll_results row per closed poll, carrying the chat's words.
    let store = ss::store::StoreReader::open(&ss::store::db_path(t.path())).unwrap();
    let due = store
        // Rows are due from their event's time, which this chat set a little ahead of the clock.
        .outbox_due(
            "discord",
            chrono::Utc::now() + chrono::Duration::hours(1),
            10,
        )
        .unwrap();
    let posts: Vec<(&str, &str, &str)> = due
        .iter()
        .map(|r| {
            (
                r.kind.as_str(),
                r.target.as_str(),
                r.payload["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        posts,
        [
            ("poll_results", "general", said[2].as_str()),
            ("poll_results", "general", said[4].as_str()),
        ]
    );
    // Each names the chat message that closed its poll as its cause.
    for row in &due {
        let cause = row.cause.as_deref().unwrap_or_default();
        assert!(cause.starts_with("event:twitch:"), "{cause}");
    }
    drop(store);

    // The same chat through `ss replay`: the same actions, poll results included.
    assert_replay_matches_the_live_run(&t);
    let closes = replayed_poll_closes(&t);
    assert_eq!(closes.len(), 2);
    assert_eq!(
        closes[0]["results"],
        json!([
            {"option": "chips", "votes": 0},
            {"option": "salted nuts", "votes": 3},
            {"option": "fruit", "votes": 1},
        ])
    );

    // A restart: the poll left open is interrupted (its vote kept), and nothing is posted for it.
    let child = start(&t);
    server.wait_for_joins(2).await;
    server
        .send_to_joined(&line(
            "after",
            "ann",
            chrono::Utc::now().timestamp_millis(),
            "!vote a",
        ))
        .await;
    // Recorded with whatever the vote did, in the same batch.
    until_within(
        Duration::from_secs(20),
        "the vote after the restart in the store",
        || {
            store_count(
                t.path(),
                "SELECT count(*) FROM chat_events WHERE message_id = 'after'",
            ) == 1
        },
    )
    .await;
    stop(child).await;
    let polls = self::polls(&t);
    assert_eq!(
        (
            &polls[2]["state"],
            &polls[2]["close_reason"],
            &polls[2]["total_votes"]
        ),
        (&json!("closed"), &json!("interrupted"), &json!(1))
    );
    assert_eq!(
        replies(&server).len(),
        8,
        "no reply to a vote after the restart"
    );
    assert_replay_matches_the_live_run(&t);
}

#[test]
fn validate_config_points_at_poll_commands_that_collide_and_unknown_creators() {
    let t = Test::new();
    let triggers = t.read("runtime/config/triggers.json").replace(
        r#""demo": { "manage_role": "moderator", "default_duration_s": 120, "max_options": 5, "discord": "general" }"#,
        "\"demo\": { \"vote_command\": \"!ping\", \"top_command\": \"!POLL\" },\n    \"ghost\": {}",
    );
    assert!(triggers.contains("ghost"));
    t.write("runtime/config/triggers.json", &triggers);
    let out = t.run(&["validate-config"]);
    out.status(1);
    insta::assert_snapshot!(out.stdout_in(&t));
}
