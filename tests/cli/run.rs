//! `ss run` end to end on the sim source: exports, counters, the chat log, shutdown, determinism.

use crate::harness::{Spawned, Test, exit_code_within, signal, wait_until, wait_until_catching};
use serde_json::Value;
use std::process::Stdio;
use std::time::Duration;

/// A demo root with a faster sim source and a short export cadence.
fn demo(rate: u32) -> Test {
    Test::fast_demo(Some(rate))
}

fn json(t: &Test, rel: &str) -> Value {
    serde_json::from_str(&t.read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn chat_rows(t: &Test) -> u64 {
    let conn = rusqlite::Connection::open(t.path().join("runtime/state/streamsuites.db")).unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM chat_events", [], |r| r.get(0))
        .unwrap();
    n as u64
}

#[test]
fn a_timed_run_records_every_event_and_exports_counters() {
    let t = demo(400);
    let out = t.run(&["run", "--duration", "3s"]);
    out.status(0);
    assert!(out.stdout.starts_with("stopped after"), "{}", out.stdout);
    let snap = json(&t, "runtime/exports/runtime_snapshot.json");
    assert_eq!(
        snap["running"], false,
        "the final snapshot says the runtime stopped"
    );
    let counters = &snap["counters"];
    let received = counters["events_received"].as_u64().unwrap();
    let recorded = counters["events_recorded"].as_u64().unwrap();
    assert!(received > 500, "{counters}");
    assert_eq!(
        recorded,
        received - counters["duplicates_skipped"].as_u64().unwrap()
    );
    assert_eq!(
        chat_rows(&t),
        recorded,
        "the store holds exactly what the counters say"
    );
    assert!(counters["triggers_matched"].as_u64().unwrap() > 0);
    for action in ["reply", "tally", "poll_vote", "score", "validation_passed"] {
        assert!(
            counters["actions"][action].as_u64().unwrap() > 0,
            "no {action} actions: {counters}"
        );
    }
}

fn spawn_run(t: &Test) -> Spawned {
    t.spawn(&["run"])
}

#[cfg(unix)]
#[test]
fn sigterm_at_any_moment_loses_nothing() {
    // From the moment `ss run` handles SIGTERM (before that, the kernel's default applies to any
    // program): at once, once the store exists, and mid-run with events recorded.
    for (i, moment) in ["start-up", "store open", "mid-run"]
        .into_iter()
        .enumerate()
    {
        let t = demo(2000 + 1000 * i as u32);
        let mut child = spawn_run(&t);
        wait_until_catching(&child, 15);
        match moment {
            "store open" => wait_until("the store file", Duration::from_secs(20), || {
                t.path().join("runtime/state/streamsuites.db").exists()
            }),
            "mid-run" => wait_for_file(
                &t,
                "runtime/exports/runtime_snapshot.json",
                Duration::from_secs(20),
                |text| {
                    serde_json::from_str::<Value>(text)
                        .is_ok_and(|s| s["counters"]["events_recorded"].as_u64() > Some(0))
                },
            ),
            _ => {}
        }
        signal(&child, "TERM");
        let code = exit_code_within(&mut child, Duration::from_secs(10));
        assert_eq!(code, 0, "exit code after SIGTERM at {moment}");
        let snap = json(&t, "runtime/exports/runtime_snapshot.json");
        let recorded = snap["counters"]["events_recorded"].as_u64().unwrap();
        assert_eq!(chat_rows(&t), recorded, "SIGTERM at {moment}");
    }
}

#[cfg(unix)]
#[test]
fn sigint_stops_cleanly_and_updates_exports() {
    let t = demo(200);
    let mut child = spawn_run(&t);
    wait_until_catching(&child, 2);
    wait_for_file(
        &t,
        "runtime/exports/runtime_snapshot.json",
        Duration::from_secs(20),
        |text| {
            serde_json::from_str::<Value>(text)
                .is_ok_and(|s| s["counters"]["events_received"].as_u64() > Some(0))
        },
    );
    signal(&child, "INT");
    assert_eq!(exit_code_within(&mut child, Duration::from_secs(10)), 0);
    let snap = json(&t, "runtime/exports/runtime_snapshot.json");
    assert!(snap["counters"]["events_received"].as_u64().unwrap() > 0);
}

#[test]
fn unknown_creator_is_an_error() {
    let t = demo(10);
    let out = t.run(&["run", "--creator", "ghost", "--duration", "1s"]);
    out.status(2);
    assert!(
        out.stderr.contains("unknown creator \"ghost\""),
        "{}",
        out.stderr
    );
}

#[test]
fn invalid_config_refuses_to_start_and_says_why() {
    let t = demo(10);
    t.write("runtime/config/triggers.json", r#"{"triggers": {"demo": [{"id": "x", "kind": "regex", "pattern": "(", "action": {"type": "validation_passed"}}]}}"#);
    let out = t.run(&["run", "--duration", "1s"]);
    out.status(2);
    assert!(out.stderr.contains("triggers.json:1:"), "{}", out.stderr);
    assert!(
        out.stderr.contains("regex does not compile"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_platform_without_a_source_is_reported_not_fatal() {
    let t = demo(50);
    let creators = t
        .read("runtime/config/creators.json")
        .replace(
            "\"channel_id\": \"UCxxxxxxxxxxxxxxxxxxxxxx\",",
            "\"channel_id\": \"UCxxxxxxxxxxxxxxxxxxxxxx\", \"enabled\": true,",
        )
        .replace(
            "\"enabled\": false,\n          \"channel_id\"",
            "\"channel_id\"",
        );
    t.write("runtime/config/creators.json", &creators);
    t.run(&["validate-config"]).status(0);
    let out = t.run(&["run", "--duration", "2s"]);
    out.status(0);
    let platforms = json(&t, "runtime/exports/platforms.json").to_string();
    assert!(platforms.contains("failed"), "{platforms}");
    let snap = json(&t, "runtime/exports/runtime_snapshot.json");
    assert!(snap["counters"]["events_received"].as_u64().unwrap() > 0);
}

/// Events recorded by a run, read back and run through the engine twice, give identical actions.
#[test]
fn recorded_chat_replays_to_the_same_actions() {
    let t = demo(500);
    t.run(&["run", "--duration", "2s"]).status(0);
    let store = ss::store::StoreReader::open(&ss::store::db_path(t.path())).unwrap();
    let events = store.recent_chat_events(100_000).unwrap();
    assert!(events.len() > 300, "{}", events.len());
    let config = ss::config::Config::load(t.path()).unwrap();
    let registry = ss::triggers::Registry::compile(&config.triggers).unwrap();
    let replay = || {
        let mut state = ss::triggers::TriggerState::new(&registry);
        events
            .iter()
            .flat_map(|e| ss::triggers::evaluate(e, &registry, &mut state))
            .collect::<Vec<_>>()
    };
    let first = replay();
    assert!(!first.is_empty());
    assert_eq!(first, replay());
}

/// With hot reload on, a changed config that validates is applied without a restart; one that does
/// not is rejected with an error in telemetry and the running config stays.
#[cfg(unix)]
#[test]
fn hot_reload_applies_valid_changes_and_rejects_invalid_ones() {
    let t = demo(200);
    let system = t.read("runtime/config/system.json").replace(
        "\"enabled\": false,\n    \"watch_dir\"",
        "\"enabled\": true,\n    \"watch_dir\"",
    );
    assert!(system.contains("\"enabled\": true,\n    \"watch_dir\""));
    t.write("runtime/config/system.json", &system);
    let mut child = t
        .std_cmd()
        .args(["run", "--duration", "60s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Running (its first snapshot is out, so the config watcher is up) before the config changes.
    wait_for_file(
        &t,
        "runtime/exports/runtime_snapshot.json",
        Duration::from_secs(30),
        |_| true,
    );
    t.write(
        "runtime/config/triggers.json",
        r#"{"triggers": {"demo": [{"id": "everything", "kind": "non_empty", "action": {"type": "tally", "tally": "reloaded"}}]}}"#,
    );
    wait_for_file(
        &t,
        "runtime/exports/tallies.json",
        Duration::from_secs(30),
        |tallies| tallies.contains("reloaded"),
    );
    t.write(
        "runtime/config/triggers.json",
        r#"{"triggers": {"demo": [{"id": "broken""#,
    );
    wait_for_file(
        &t,
        "runtime/exports/telemetry/errors.json",
        Duration::from_secs(30),
        |errors| errors.contains("config_rejected"),
    );
    signal(&child, "TERM");
    assert_eq!(exit_code_within(&mut child, Duration::from_secs(15)), 0);
    let events = t.read("runtime/exports/telemetry/events.json");
    assert!(events.contains("config_reloaded"), "{events}");
    // The rejected config did not replace the running one: the reloaded trigger still fired.
    let tallies = t.read("runtime/exports/tallies.json");
    assert!(tallies.contains("reloaded"), "{tallies}");
}

/// Waits until `cond` holds for the file at `rel` (read as text), or fails after `limit`.
fn wait_for_file(t: &Test, rel: &str, limit: Duration, cond: impl Fn(&str) -> bool) {
    wait_until(&format!("{rel} to match"), limit, || {
        std::fs::read_to_string(t.path().join(rel)).is_ok_and(|text| cond(&text))
    });
}

#[cfg(unix)]
#[test]
fn after_a_hot_reload_the_exports_show_the_running_triggers() {
    let t = demo(50);
    let system = t
        .read("runtime/config/system.json")
        .replace("\"enabled\": false", "\"enabled\": true");
    t.write("runtime/config/system.json", &system);
    let mut child = spawn_run(&t);
    wait_for_file(
        &t,
        "runtime/admin/chat_triggers.json",
        Duration::from_secs(20),
        |text| text.contains("\"ping\""),
    );
    let triggers = t
        .read("runtime/config/triggers.json")
        .replace("\"id\": \"ping\"", "\"id\": \"ping-renamed-by-reload\"");
    t.write("runtime/config/triggers.json", &triggers);
    wait_for_file(
        &t,
        "runtime/admin/chat_triggers.json",
        Duration::from_secs(20),
        |text| text.contains("ping-renamed-by-reload") && !text.contains("\"id\": \"ping\""),
    );
    signal(&child, "INT");
    assert_eq!(exit_code_within(&mut child, Duration::from_secs(15)), 0);
    let exported = t.read("runtime/admin/chat_triggers.json");
    assert!(exported.contains("ping-renamed-by-reload"), "{exported}");
}
