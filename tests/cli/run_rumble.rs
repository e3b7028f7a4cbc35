//! `ss run` with the demo creator's Rumble block pointed at the fake Rumble (rumble_server.rs): every
//! message of overlapping Live Stream API answers is recorded exactly once, also across a restart;
//! the chat stream's 204 is a keepalive (no failure, no backoff) and repeated HTML answers make the
//! source fall back to the API; the API URL and its key appear in no log line at `-vv`, no export
//! and no error. Rumble is read-only: a trigger that times out the author of a banned word is refused
//! before queueing, counted every time and reported once. Also `validate-config` on the Rumble and
//! Pilled blocks.

use crate::harness::{Test, VerboseRun, until_within};
use crate::rumble_server::{
    LIVESTREAM_ID, RumbleModel, RumbleServer, STREAM_NUMBER, StreamAnswer, stream_messages,
};
use serde_json::{Value, json};
use std::time::Duration;

const KEY: &str = "RmbLiveKey0123456789abcdef";
const ENV: &str = "RUMBLE_API_URL_DEMO";

/// A root whose demo creator reads Rumble (sim off) with `rumble` as its block.
pub(crate) fn rumble_root(server: &RumbleServer, rumble: Value) -> Test {
    let t = Test::new();
    let mut creators: Value =
        serde_json::from_str(&t.read("runtime/config/creators.json")).unwrap();
    let platforms = &mut creators["creators"][0]["platforms"];
    platforms["sim"]["enabled"] = json!(false);
    platforms["rumble"] = rumble;
    t.write(
        "runtime/config/creators.json",
        &serde_json::to_string_pretty(&creators).unwrap(),
    );
    let mut p: Value = serde_json::from_str(&t.read("runtime/config/platforms.json")).unwrap();
    p["platforms"]["rumble"] = json!({"mode": "active", "sse_base_url": server.sse_base_url()});
    t.write(
        "runtime/config/platforms.json",
        &serde_json::to_string_pretty(&p).unwrap(),
    );
    let system = t
        .read("runtime/config/system.json")
        .replace("\"cadence_s\": 5", "\"cadence_s\": 0.5");
    t.write("runtime/config/system.json", &system);
    t
}

/// `ss -vv run` with the API URL in the environment.
fn spawn(t: &Test, url: &str) -> VerboseRun {
    t.spawn_verbose_run(&[(ENV, url)])
}

/// Stops `ss` with SIGTERM; its exit code and stderr.
async fn stop(running: VerboseRun) -> (Option<i32>, String) {
    running.stop_with("TERM").await
}

async fn until(what: &str, ok: impl FnMut() -> bool) {
    until_within(Duration::from_secs(40), what, ok).await
}

/// The Rumble events in the store, oldest first.
fn stored(t: &Test) -> Vec<ss::event::ChatEvent> {
    let Ok(store) = ss::store::StoreReader::open(&ss::store::db_path(t.path())) else {
        return Vec::new();
    };
    let mut events: Vec<_> = store
        .recent_chat_events(100_000)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.platform == ss::sources::rumble::RUMBLE)
        .collect();
    events.sort_by_key(|e| e.timestamp);
    events
}

fn texts(t: &Test) -> Vec<String> {
    stored(t).into_iter().map(|e| e.text.to_string()).collect()
}

/// `runtime_snapshot.json`; `null` until the first export is written.
fn snapshot(t: &Test) -> Value {
    std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null)
}

fn rumble_source(snapshot: &Value) -> Value {
    snapshot["sources"]
        .as_array()
        .and_then(|sources| sources.iter().find(|s| s["platform"] == "rumble"))
        .cloned()
        .unwrap_or(Value::Null)
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Neither the URL nor the key inside it is in `stderr` or any export.
fn assert_no_secret(t: &Test, server: &RumbleServer, stderr: &str) {
    let url = server.api_url();
    for secret in [url.as_str(), KEY] {
        assert!(
            !stderr.contains(secret),
            "the Rumble API URL or key leaked into the logs"
        );
    }
    for dir in ["exports", "signals", "admin"] {
        for entry in walk(&t.path().join("runtime").join(dir)) {
            let text = std::fs::read_to_string(&entry).unwrap();
            for secret in [url.as_str(), KEY] {
                assert!(!text.contains(secret), "a secret in {}", entry.display());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_answers_are_recorded_exactly_once_also_across_a_restart() {
    // Whole seconds, as Rumble sends them.
    let base = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() - 90, 0).unwrap();
    let at = |s: i64| base + chrono::Duration::seconds(s);
    let model = RumbleModel::new(KEY, 5);
    for i in 0..5 {
        model.line("Viewer", &format!("line {i}"), at(i));
    }
    // Two different lines from one user in the same second are two messages.
    model.line("Viewer", "same second a", at(5));
    model.line("Viewer", "same second b", at(5));
    model.rant("Whale", "take my money", at(6), 500);
    model.line("Viewer", "!ping", at(7));
    model.line("Other", "line 9", at(8));
    model.line("Other", "line 10", at(9));
    model.with(|s| s.followers.push(("NewFan".into(), at(3))));
    // Each answer lists the last five messages: they overlap by two.
    model.reveal_per_call(&[5, 3, 3]);
    let server = RumbleServer::start(model.clone()).await;
    let t = rumble_root(
        &server,
        json!({"enabled": true, "api_url_env": ENV, "poll_interval_s": 5}),
    );
    t.run(&["validate-config"]).status(0);

    let running = spawn(&t, &server.api_url());
    until("the eleven lines and the follow", || stored(&t).len() == 12).await;
    until("the exports of the first run", || {
        let s = snapshot(&t);
        s["counters"]["events_recorded"] == 12
            && rumble_source(&s)["live"]["live"] == true
            && s["commands"]["refused_by_kind"]["reply"] == 1
    })
    .await;
    let first = snapshot(&t);
    assert_eq!(
        first["counters"]["duplicates_skipped"], 0,
        "the overlap never reached the pipeline: the checkpoint filtered it"
    );
    let source = rumble_source(&first);
    assert_eq!(source["live"]["stream"]["id"], LIVESTREAM_ID);
    assert_eq!(source["live"]["stream"]["title"], "Test stream");
    let (code, stderr) = stop(running).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_no_secret(&t, &server, &stderr);
    assert!(model.api_calls() >= 3);

    let events = stored(&t);
    let rant = events.iter().find(|e| e.text == "take my money").unwrap();
    assert_eq!(rant.kind, ss::event::EventKind::Tip);
    assert_eq!(rant.extras.get("amount_cents").unwrap(), 500);
    let follow = events
        .iter()
        .find(|e| e.author.display_name == "NewFan")
        .unwrap();
    assert_eq!(follow.extras.get("event").unwrap(), "follow");
    assert_eq!(follow.timestamp, at(3), "the platform's own time");

    // More chat while it is down; the restart's first answer repeats the last window.
    model.line("Viewer", "after 1", at(20));
    model.line("Viewer", "after 2", at(21));
    model.line("Other", "after 3", at(22));
    model.reveal_per_call(&[0, 3]);
    let running = spawn(&t, &server.api_url());
    until("the three new lines", || stored(&t).len() == 15).await;
    until("the exports of the second run", || {
        snapshot(&t)["counters"]["events_recorded"] == 3
    })
    .await;
    let calls = model.api_calls();
    until("one more answer with nothing new", || {
        model.api_calls() > calls
    })
    .await;
    until("the exports after it", || {
        let s = snapshot(&t);
        s["counters"]["events_received"] == 3
    })
    .await;
    let (code, stderr) = stop(running).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_no_secret(&t, &server, &stderr);
    let second = snapshot(&t);
    assert_eq!(
        second["counters"]["duplicates_skipped"], 0,
        "the restart resumed from the committed checkpoint: {}",
        second["counters"]
    );

    let mut all = texts(&t);
    all.sort();
    let mut want: Vec<String> = (0..5).map(|i| format!("line {i}")).collect();
    want.extend(
        [
            "same second a",
            "same second b",
            "take my money",
            "!ping",
            "line 9",
            "line 10",
            "after 1",
            "after 2",
            "after 3",
            "",
        ]
        .map(String::from),
    );
    want.sort();
    assert_eq!(all, want, "every line exactly once");
    let ids: std::collections::HashSet<String> = stored(&t)
        .iter()
        .map(|e| e.message_id.to_string())
        .collect();
    assert_eq!(ids.len(), 15);
    let signals: Value = serde_json::from_str(&t.read("runtime/signals/chat_events.json")).unwrap();
    let exported: Vec<&Value> = signals["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["platform"] == "rumble")
        .collect();
    assert_eq!(exported.len(), 15, "the chat export lists each once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_is_a_login_failure_that_names_the_setting_not_the_url() {
    let model = RumbleModel::new(KEY, 5);
    let server = RumbleServer::start(model.clone()).await;
    let t = rumble_root(&server, json!({"enabled": true, "api_url_env": ENV}));
    let wrong = server.api_url().replace(KEY, "WrongKey987654321");
    let running = spawn(&t, &wrong);
    until("the refusal in the exports", || {
        rumble_source(&snapshot(&t))["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("refused"))
    })
    .await;
    let (code, stderr) = stop(running).await;
    assert_eq!(code, Some(0), "{stderr}");
    let error = rumble_source(&snapshot(&t))["last_error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(error.contains(ENV), "{error}");
    assert!(!error.contains("WrongKey987654321"), "{error}");
    assert!(!error.contains("127.0.0.1"), "{error}");
    assert!(!stderr.contains("WrongKey987654321"), "the key in the logs");
    assert!(!stderr.contains(&wrong), "the URL in the logs");
    assert!(model.with(|s| s.refused_calls) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_stream_takes_204_as_keepalive_and_shares_ids_with_the_api() {
    let now = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() - 30, 0).unwrap();
    let model = RumbleModel::new(KEY, 5);
    // The API lists one line the stream also sends: it is recorded once.
    model.line("Fan", "hello both", now);
    model.reveal_per_call(&[1]);
    model.script_stream(vec![
        StreamAnswer::Keepalive,
        StreamAnswer::Keepalive,
        StreamAnswer::Keepalive,
        StreamAnswer::Events(vec![stream_messages(
            "init",
            &[
                ("1001", "Fan", "hello both", now),
                (
                    "1002",
                    "Streamer",
                    "only on the stream",
                    now + chrono::Duration::seconds(1),
                ),
            ],
        )]),
    ]);
    let server = RumbleServer::start(model.clone()).await;
    let t = rumble_root(
        &server,
        json!({"enabled": true, "api_url_env": ENV, "transport": "sse"}),
    );
    t.run(&["validate-config"]).status(0);
    let running = spawn(&t, &server.api_url());
    until("both lines", || stored(&t).len() == 2).await;
    until("the exports", || {
        snapshot(&t)["counters"]["events_recorded"] == 2
    })
    .await;
    let s = snapshot(&t);
    let (code, stderr) = stop(running).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_no_secret(&t, &server, &stderr);

    let requests = model.with(|s| s.stream_requests.clone());
    assert_eq!(requests.len(), 4, "three keepalives, then the stream");
    for (id, accept) in &requests {
        assert_eq!(id, STREAM_NUMBER, "the live stream's id in base 10");
        assert_eq!(accept.as_deref(), Some("text/event-stream"));
    }
    let source = rumble_source(&s);
    assert_eq!(
        source["last_error"],
        Value::Null,
        "a keepalive is no failure: nothing recorded, no backoff"
    );
    assert_eq!(source["reconnects"], 0);
    assert_eq!(s["counters"]["guards"]["not_event_streams"], 0);
    assert_eq!(s["counters"]["duplicates_skipped"], 0);
    let events = stored(&t);
    assert_eq!(events[0].text, "hello both");
    assert_eq!(events[1].text, "only on the stream");
    assert_eq!(events[1].extras.get("rumble_id").unwrap(), "1002");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_html_from_the_chat_stream_falls_back_to_the_api() {
    let now = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() - 30, 0).unwrap();
    let model = RumbleModel::new(KEY, 5);
    model.line("Fan", "first", now);
    model.line(
        "Fan",
        "after the fallback",
        now + chrono::Duration::seconds(1),
    );
    model.reveal_per_call(&[1]);
    model.script_stream(vec![
        StreamAnswer::Html,
        StreamAnswer::Html,
        StreamAnswer::Html,
        StreamAnswer::Events(vec![stream_messages(
            "init",
            &[("9", "Never", "never read", now)],
        )]),
    ]);
    let server = RumbleServer::start(model.clone()).await;
    let t = rumble_root(
        &server,
        json!({"enabled": true, "api_url_env": ENV, "transport": "sse",
            "sse_max_failures": 3, "stream_id": STREAM_NUMBER, "poll_interval_s": 5}),
    );
    t.run(&["validate-config"]).status(0);
    let running = spawn(&t, &server.api_url());
    until("the fallback", || {
        snapshot(&t)["counters"]["guards"]["not_event_streams"] == 3
    })
    .await;
    // The API alone from now on: the next answer reveals the second line.
    model.reveal_per_call(&[1]);
    until("the line read from the API after the fallback", || {
        stored(&t).len() == 2
    })
    .await;
    let calls = model.api_calls();
    until("another API answer", || model.api_calls() > calls).await;
    until("the exports", || {
        snapshot(&t)["counters"]["events_recorded"] == 2
    })
    .await;
    let s = snapshot(&t);
    let (code, stderr) = stop(running).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_no_secret(&t, &server, &stderr);
    assert_eq!(
        model.stream_requests(),
        3,
        "never asked the stream again after the third HTML answer"
    );
    assert_eq!(texts(&t), vec!["first", "after the fallback"]);
    let error = rumble_source(&s)["last_error"].as_str().unwrap().to_owned();
    assert!(
        error.contains("falling back") || error.contains("Live Stream API every"),
        "{error}"
    );
    assert!(error.contains("text/html"), "{error}");
    assert_eq!(s["counters"]["guards"]["not_event_streams"], 3);
}

#[test]
fn validate_config_checks_the_rumble_block_and_warns_about_pilled() {
    let t = Test::new();
    let mut creators: Value =
        serde_json::from_str(&t.read("runtime/config/creators.json")).unwrap();
    creators["creators"][0]["platforms"]["rumble"] =
        json!({"enabled": true, "poll_interval_s": 2, "transport": "carrier-pigeon"});
    creators["creators"][0]["platforms"]["pilled"] = json!({"enabled": true, "channel": "demo"});
    t.write(
        "runtime/config/creators.json",
        &serde_json::to_string_pretty(&creators).unwrap(),
    );
    let out = t.run(&["validate-config"]);
    out.status(1);
    insta::assert_snapshot!("rumble_schema_errors", out.stdout_in(&t));

    creators["creators"][0]["platforms"]["rumble"] = json!({"enabled": true, "poll_interval_s": 2});
    t.write(
        "runtime/config/creators.json",
        &serde_json::to_string_pretty(&creators).unwrap(),
    );
    let out = t.run(&["validate-config"]);
    out.status(1);
    insta::assert_snapshot!("rumble_semantic_errors", out.stdout_in(&t));

    creators["creators"][0]["platforms"]["rumble"] =
        json!({"enabled": true, "api_url_env": ENV, "transport": "sse", "stream_id": "385846316"});
    t.write(
        "runtime/config/creators.json",
        &serde_json::to_string_pretty(&creators).unwrap(),
    );
    let out = t.run(&["validate-config"]);
    out.status(0);
    insta::assert_snapshot!("rumble_warnings", out.stdout_in(&t));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_on_rumble_is_refused_counted_and_reported_once() {
    let base = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() - 30, 0).unwrap();
    let model = RumbleModel::new(KEY, 5);
    model.line("Spammer", "buy followers badword now", base);
    model.line(
        "Other",
        "badword again",
        base + chrono::Duration::seconds(1),
    );
    model.reveal_per_call(&[2]);
    let server = RumbleServer::start(model.clone()).await;
    let t = rumble_root(
        &server,
        json!({"enabled": true, "api_url_env": ENV, "poll_interval_s": 5}),
    );
    crate::run_kick::add_triggers(&t, crate::run_kick::banned_word_triggers());
    t.run(&["validate-config"]).status(0);
    let running = spawn(&t, &server.api_url());
    until("both messages recorded", || stored(&t).len() == 2).await;
    until("the refusals in the snapshot", || {
        snapshot(&t)["commands"]["refused"] == 4
    })
    .await;
    let (code, stderr) = stop(running).await;
    assert_eq!(code, Some(0), "{stderr}");
    let commands = snapshot(&t)["commands"].clone();
    // Refused before queueing: nothing queued, nothing dropped in silence.
    assert_eq!(commands["queued"], 0, "{commands}");
    assert_eq!(commands["dropped"], 0, "{commands}");
    assert_eq!(
        commands["refused_by_kind"],
        json!({"timeout": 2, "delete_message": 2})
    );
    let refusals = commands["refusals"].as_array().unwrap();
    assert_eq!(refusals.len(), 2, "one per kind: {refusals:?}");
    let timeout = refusals.iter().find(|r| r["command"] == "timeout").unwrap();
    assert_eq!(timeout["creator"], "demo");
    assert_eq!(timeout["platform"], "rumble");
    assert_eq!(timeout["count"], 2);
    assert!(
        timeout["reason"].as_str().unwrap().contains("read-only"),
        "{timeout}"
    );
    // Reported once per kind, not once per command.
    let errors: Value =
        serde_json::from_str(&t.read("runtime/exports/telemetry/errors.json")).unwrap();
    let refused: Vec<&Value> = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["error_type"] == "command_refused")
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused.iter().any(|e| e["message"]
            .as_str()
            .unwrap()
            .contains("demo/rumble cannot timeout")),
        "{refused:?}"
    );
    assert_eq!(
        stderr.matches("demo/rumble cannot timeout").count(),
        1,
        "logged once:\n{stderr}"
    );
}
