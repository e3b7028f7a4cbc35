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

/// A thousand sim creators start together (their sources in the same millisecond): every event
/// each one sends is its own, so nothing is skipped as a duplicate and the store holds them all.
#[test]
fn a_thousand_sim_creators_record_every_event_they_send() {
    let t = demo(10);
    let mut creators = json(&t, "runtime/config/creators.json");
    let demo_creator = creators["creators"][0].clone();
    // The demo creator (the other config files name it) and 999 more.
    let list: Vec<Value> = std::iter::once(demo_creator.clone())
        .chain((1..1000).map(|i| {
            let mut c = demo_creator.clone();
            c["id"] = Value::from(format!("c{i:04}"));
            c["platforms"]["sim"]["channel"] = Value::from(format!("c{i:04}"));
            c
        }))
        .collect();
    creators["creators"] = Value::Array(list);
    t.write(
        "runtime/config/creators.json",
        &serde_json::to_string_pretty(&creators).unwrap(),
    );
    let out = t.run(&["run", "--duration", "4s"]);
    out.status(0);
    let snap = json(&t, "runtime/exports/runtime_snapshot.json");
    let counters = &snap["counters"];
    let received = counters["events_received"].as_u64().unwrap();
    assert!(received >= 10_000, "{counters}");
    assert_eq!(counters["duplicates_skipped"], 0, "{counters}");
    assert_eq!(
        counters["events_recorded"].as_u64(),
        Some(received),
        "{counters}"
    );
    assert_eq!(chat_rows(&t), received);
    let conn = rusqlite::Connection::open(t.path().join("runtime/state/streamsuites.db")).unwrap();
    let creators_seen: i64 = conn
        .query_row("SELECT COUNT(DISTINCT creator) FROM chat_events", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(creators_seen, 1000);
}

/// Waits (up to 30 s) for a snapshot of the running runtime.
fn wait_for_running_snapshot(t: &Test) {
    wait_until(
        "a snapshot of the running runtime",
        Duration::from_secs(30),
        || snapshot_now(t).is_some_and(|s| s["running"] == true),
    );
}

/// The snapshot, when it is there and whole.
fn snapshot_now(t: &Test) -> Option<Value> {
    let text =
        std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// SIGHUP (the terminal went away) stops the run like SIGTERM: summary, final export, and a
/// snapshot that no longer says running.
#[cfg(unix)]
#[test]
fn sighup_stops_cleanly_with_a_summary_and_a_final_export() {
    let t = demo(200);
    let mut child = spawn_run(&t);
    wait_until_catching(&child, 1);
    wait_for_running_snapshot(&t);
    signal(&child, "HUP");
    assert_eq!(exit_code_within(&mut child, Duration::from_secs(10)), 0);
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    assert!(stdout.starts_with("stopped after"), "{stdout}");
    let snap = json(&t, "runtime/exports/runtime_snapshot.json");
    assert_eq!(snap["running"], false);
    assert_eq!(
        chat_rows(&t),
        snap["counters"]["events_recorded"].as_u64().unwrap()
    );
}

/// `ss export` beside a full-speed `ss run`: every export succeeds (each reads the store at one
/// moment, so a poll's votes never outrun its totals), none replaces the run's own snapshot, and
/// `ss status` stays healthy with the run's true counters throughout.
#[test]
fn exports_beside_a_full_speed_run_succeed_and_leave_the_runs_snapshot_alone() {
    let t = demo(0);
    let _child = spawn_run(&t);
    wait_for_running_snapshot(&t);
    let mut last_received = 0;
    for i in 0..50 {
        let out = t.run(&["export"]);
        out.status(0);
        assert!(
            out.stdout.contains("left 7 files to the running `ss run`"),
            "{}",
            out.stdout
        );
        let snap = json(&t, "runtime/exports/runtime_snapshot.json");
        assert_eq!(snap["running"], true, "after export {i}");
        let received = snap["counters"]["events_received"].as_u64().unwrap();
        assert!(
            received >= last_received,
            "after export {i}: {received} < {last_received}"
        );
        last_received = received;
        if i % 10 == 0 {
            let status = t.run(&["status", "--stale-after", "30s"]);
            status.status(0);
            assert!(
                status.stdout.starts_with("healthy: runtime running"),
                "{}",
                status.stdout
            );
        }
    }
    assert!(last_received > 0);
}

/// Started with SIGHUP ignored (`nohup ss run`), the run leaves it ignored: a hangup does not stop it.
#[cfg(target_os = "linux")]
#[test]
fn under_nohup_sighup_stays_ignored() {
    let t = demo(20);
    let ss = env!("CARGO_BIN_EXE_ss");
    let child: Spawned = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("trap '' HUP && exec \"{ss}\" --root \"$1\" run"))
        .arg("sh")
        .arg(t.path())
        .env_remove("SS_ROOT")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
        .into();
    wait_until_catching(&child, 15);
    wait_for_running_snapshot(&t);
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let mask = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .unwrap()
    };
    assert_eq!(mask("SigIgn:") & 1, 1, "SIGHUP is still ignored");
    assert_eq!(mask("SigCgt:") & 1, 0, "no SIGHUP handler was installed");
}
