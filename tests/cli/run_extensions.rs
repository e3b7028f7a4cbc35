//! Extensions end to end: `ss run` with real child processes (Python) on the loopback Twitch
//! server. The example `!8ball` answers in chat; a sleeping extension's late answer is refused and
//! counted while chat and other triggers go on; an extension asking for `ban` without it allowed
//! is refused; one allocating past its memory limit dies and is restarted, and the next call
//! works; SIGTERM with a call in flight sends nothing of its late answer and exits 0 in time;
//! `ss replay --diff` of a run with a random-answering extension is empty, `--extensions live`
//! is not.

use crate::harness::{Test, exit_code_within, signal, wait_until};
use crate::run_twitch::{privmsg, twitch_root, with_ts};
use crate::twitch_server::{ServerOptions, TwitchServer};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn behave() -> String {
    crate::harness::repo()
        .join("tests/fixtures/extensions/behave.py")
        .display()
        .to_string()
}

/// A Twitch root whose demo creator has `triggers` (beside the demo's) and `extensions.json`.
fn root_with(port: u16, triggers: Value, extensions: Value) -> Test {
    let t = twitch_root(port);
    let mut config: Value = serde_json::from_str(&t.read("runtime/config/triggers.json")).unwrap();
    let demo = config["triggers"]["demo"].as_array_mut().unwrap();
    demo.extend(triggers.as_array().unwrap().iter().cloned());
    t.write(
        "runtime/config/triggers.json",
        &serde_json::to_string_pretty(&config).unwrap(),
    );
    t.write(
        "runtime/config/extensions.json",
        &serde_json::to_string_pretty(&json!({ "extensions": extensions })).unwrap(),
    );
    t
}

fn command_trigger(id: &str, command: &str, extension: &str, input: Value) -> Value {
    json!({"id": id, "kind": "command", "command": command,
           "action": {"type": "extension", "name": extension, "input": input}})
}

fn behave_extension(name: &str, budget_ms: u64, effects: &[&str]) -> Value {
    json!({"name": name, "command": ["python3", behave()], "env": ["PATH"],
           "budget_ms": budget_ms, "effects": effects})
}

fn start_run(t: &Test) -> crate::harness::Spawned {
    t.std_cmd()
        .arg("run")
        .env("TWITCH_OAUTH_TOKEN_DEMO", "oauth:e2e-secret-token")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .into()
}

/// The extension `name` in the current runtime_snapshot.json, once it is there.
fn extension_in_snapshot(t: &Test, name: &str) -> Option<Value> {
    let text =
        std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json")).ok()?;
    let snapshot: Value = serde_json::from_str(&text).ok()?;
    snapshot["extensions"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .cloned()
}

fn wait_for_extension(t: &Test, name: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    wait_until(what, Duration::from_secs(20), || {
        extension_in_snapshot(t, name).is_some_and(|e| ok(&e))
    });
    extension_in_snapshot(t, name).unwrap()
}

fn chat_lines(server: &TwitchServer) -> Vec<String> {
    server
        .received_commands("PRIVMSG")
        .into_iter()
        .map(|r| r.line)
        .collect()
}

/// A message `ms` after now, so creator cooldowns of earlier messages are past.
fn message_at(id: &str, text: &str, ms: i64) -> String {
    with_ts(
        &privmsg(id, "viewer_one", "22222222", text),
        chrono::Utc::now().timestamp_millis() + ms,
    )
}

async fn stop(mut child: crate::harness::Spawned) -> (i32, Duration) {
    signal(&child, "TERM");
    let started = Instant::now();
    let code =
        tokio::task::spawn_blocking(move || exit_code_within(&mut child, Duration::from_secs(10)))
            .await
            .unwrap();
    (code, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_8ball_answers_a_late_answer_is_refused_while_chat_flows_and_ban_is_refused() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let eightball = crate::harness::repo()
        .join("examples/extensions/eightball.py")
        .display()
        .to_string();
    let t = root_with(
        server.port(),
        json!([
            command_trigger("8ball", "!8ball", "8ball", json!({})),
            command_trigger(
                "nap",
                "!nap",
                "sleepy",
                json!({"do": "sleep", "seconds": 2.5})
            ),
            command_trigger("banme", "!banme", "banner", json!({"do": "ban"})),
        ]),
        json!([
            {"name": "8ball", "command": ["python3", eightball], "env": ["PATH"],
             "memory_mb": 256, "cpu_s": 60, "effects": ["reply"]},
            behave_extension("sleepy", 500, &["say"]),
            behave_extension("banner", 2000, &["say"]),
        ]),
    );
    t.run(&["validate-config"]).status(0);
    let child = start_run(&t);
    server.wait_for_joins(1).await;
    for name in ["8ball", "sleepy", "banner"] {
        wait_for_extension(&t, name, &format!("{name} ready"), |e| {
            e["state"] == "ready"
        });
    }

    server
        .send_to_joined(&message_at("ball-1", "!8ball will it rain?", 0))
        .await;
    server
        .wait_for_commands("PRIVMSG", 1, Duration::from_secs(10))
        .await;
    let answer = chat_lines(&server)[0].clone();
    assert!(
        answer.starts_with("@reply-parent-msg-id=ball-1 "),
        "{answer}"
    );
    assert!(answer.contains("PRIVMSG #demo_channel :🎱 "), "{answer}");

    // The sleeper holds its call past the budget; meanwhile !ping and the 8ball answer at once.
    server
        .send_to_joined(&message_at("nap-1", "!nap", 3_000))
        .await;
    server
        .send_to_joined(&message_at("ping-1", "!ping", 6_000))
        .await;
    server
        .send_to_joined(&message_at("ball-2", "!8ball and tomorrow?", 9_000))
        .await;
    server
        .wait_for_commands("PRIVMSG", 3, Duration::from_secs(10))
        .await;
    let sleepy = wait_for_extension(&t, "sleepy", "the sleeper's late answer counted", |e| {
        e["late"] == 1
    });
    assert_eq!(sleepy["refused"]["late"], 1, "{sleepy}");
    assert_eq!(sleepy["failed"], 1, "{sleepy}");
    assert_eq!(sleepy["answered"], 0, "{sleepy}");
    let lines = chat_lines(&server);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("@reply-parent-msg-id=ping-1 ") && l.ends_with(":pong")),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.ends_with(":slept")),
        "nothing of a late answer is sent: {lines:#?}"
    );

    // A ban the extension may not ask for: refused, counted, nothing sent.
    server
        .send_to_joined(&message_at("ban-1", "!banme", 12_000))
        .await;
    let banner = wait_for_extension(&t, "banner", "the ban refused", |e| {
        e["refused"]["not_allowed"] == 1
    });
    assert_eq!(banner["answered"], 1, "{banner}");
    let (code, _) = stop(child).await;
    assert_eq!(code, 0);
    let lines = chat_lines(&server);
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("/ban") || l.contains("CLEARCHAT")),
        "{lines:#?}"
    );
    let db = ss::store::db_path(t.path());
    let bans = crate::harness::store_count(
        t.path(),
        "SELECT COUNT(*) FROM actions WHERE action_type = 'ban'",
    );
    assert_eq!(bans, 0, "no ban recorded in {}", db.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_past_its_memory_limit_is_restarted_and_the_next_call_works() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let mut hog = behave_extension("hog", 2000, &["say", "reply"]);
    hog["memory_mb"] = json!(200);
    let t = root_with(
        server.port(),
        json!([
            command_trigger("hog", "!hog", "hog", json!({"do": "allocate", "mb": 400})),
            command_trigger("echo", "!echo", "hog", json!({"do": "echo"})),
        ]),
        json!([hog]),
    );
    let child = start_run(&t);
    server.wait_for_joins(1).await;
    wait_for_extension(&t, "hog", "hog ready", |e| {
        e["state"] == "ready" && e["epoch"] == 1
    });
    server.send_to_joined(&message_at("hog-1", "!hog", 0)).await;
    let hog = wait_for_extension(&t, "hog", "the hog restarted", |e| {
        e["restarts"] == 1 && e["epoch"] == 2 && e["state"] == "ready"
    });
    assert_eq!(hog["failed"], 1, "{hog}");
    assert!(
        hog["last_error"].as_str().unwrap().contains("exited"),
        "{hog}"
    );
    server
        .send_to_joined(&message_at("echo-1", "!echo hi", 3_000))
        .await;
    server
        .wait_for_commands("PRIVMSG", 1, Duration::from_secs(10))
        .await;
    let lines = chat_lines(&server);
    assert!(lines[0].ends_with(":echo: !echo hi"), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("allocated")), "{lines:#?}");
    let hog = wait_for_extension(&t, "hog", "the echo answered", |e| e["answered"] == 1);
    assert_eq!(hog["restarts"], 1, "{hog}");
    let (code, _) = stop(child).await;
    assert_eq!(code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_call_in_flight_sends_nothing_of_it_and_exits_0_in_time() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let t = root_with(
        server.port(),
        json!([command_trigger(
            "nap",
            "!nap",
            "sleepy",
            json!({"do": "sleep", "seconds": 3})
        )]),
        json!([behave_extension("sleepy", 10_000, &["say"])]),
    );
    let child = start_run(&t);
    server.wait_for_joins(1).await;
    wait_for_extension(&t, "sleepy", "sleepy ready", |e| e["state"] == "ready");
    server.send_to_joined(&message_at("nap-1", "!nap", 0)).await;
    wait_for_extension(&t, "sleepy", "the call in flight", |e| e["in_flight"] == 1);
    let (code, took) = stop(child).await;
    assert_eq!(code, 0);
    assert!(
        took < Duration::from_secs(5),
        "ss run took {took:?} to stop"
    );
    // The sleeper would have answered 3 s after the call: wait past that on the server's clock.
    let quiet_until = Instant::now() + Duration::from_secs(3);
    wait_until(
        "the sleeper's answer time to pass",
        Duration::from_secs(5),
        || Instant::now() >= quiet_until,
    );
    assert!(chat_lines(&server).is_empty(), "{:#?}", chat_lines(&server));
    let sleepy = extension_in_snapshot(&t, "sleepy").unwrap();
    assert_eq!(sleepy["answered"], 0, "{sleepy}");
    assert_eq!(sleepy["failed"], 1, "cancelled at shutdown: {sleepy}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_re_applies_recorded_answers_and_live_shows_the_differences() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let t = root_with(
        server.port(),
        json!([command_trigger(
            "lucky",
            "!lucky",
            "dice",
            json!({"do": "random"})
        )]),
        json!([behave_extension("dice", 2000, &["say"])]),
    );
    let child = start_run(&t);
    server.wait_for_joins(1).await;
    wait_for_extension(&t, "dice", "dice ready", |e| e["state"] == "ready");
    for (i, id) in ["lucky-1", "lucky-2", "lucky-3"].iter().enumerate() {
        server
            .send_to_joined(&message_at(id, "!lucky", 3_000 * i as i64))
            .await;
    }
    server
        .wait_for_commands("PRIVMSG", 3, Duration::from_secs(10))
        .await;
    let (code, _) = stop(child).await;
    assert_eq!(code, 0);

    let recorded = t.run(&["replay", "--diff"]);
    recorded.status(0);
    assert!(
        recorded
            .stdout
            .starts_with("no differences: 7 replayed actions match the 7 recorded"),
        "three calls, their three answers and the demo's chat validation: {}",
        recorded.stdout
    );
    let live = t.run(&[
        "replay",
        "--diff",
        "--extensions",
        "live",
        "--format",
        "json",
    ]);
    live.status(1);
    let diff: Value = serde_json::from_str(&live.stdout).unwrap();
    assert_eq!(diff["changed"], 3, "{diff:#}");
    assert_eq!(diff["added"], 0, "{diff:#}");
    assert_eq!(diff["removed"], 0, "{diff:#}");
    for entry in diff["differences"].as_array().unwrap() {
        assert_eq!(
            entry["replayed"]["trigger_id"], "lucky/extension",
            "{entry:#}"
        );
        assert!(
            entry["replayed"]["text"]
                .as_str()
                .unwrap()
                .starts_with("lucky number "),
            "{entry:#}"
        );
    }
}
