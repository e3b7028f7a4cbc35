//! `ss status`: the health probe over the daemon's snapshot, exit 0 / 1 / 2 as documented.

use crate::harness::{Test, signal, wait_until};
use serde_json::Value;
use std::time::Duration;

/// The demo with a short export cadence.
fn demo() -> Test {
    Test::fast_demo(None)
}

fn running(t: &Test) -> bool {
    std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .is_some_and(|s| s["running"] == true && s["sources"][0]["state"] == "connected")
}

#[test]
fn healthy_while_running_then_unhealthy_once_the_snapshot_goes_stale() {
    let t = demo();
    let mut child = t.spawn(&["run"]);
    wait_until("ss run reporting running", Duration::from_secs(30), || {
        running(&t)
    });
    let out = t.run(&["status"]);
    out.status(0);
    assert!(
        out.stdout.starts_with("healthy: runtime running"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("demo/sim"), "{}", out.stdout);
    let json = t.run(&["status", "--format", "json"]);
    json.status(0);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["healthy"], true);
    assert_eq!(report["sources"][0]["state"], "connected");

    signal(&child, "INT");
    assert!(child.wait().unwrap().success());
    // Stale after 1 s means a snapshot 2 whole seconds old (ages are counted in whole seconds).
    let snapshot: Value =
        serde_json::from_str(&t.read("runtime/exports/runtime_snapshot.json")).unwrap();
    let generated_at: chrono::DateTime<chrono::Utc> = snapshot["meta"]["generated_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    wait_until(
        "the final snapshot to be 2 s old",
        Duration::from_secs(10),
        || (chrono::Utc::now() - generated_at).num_milliseconds() >= 2_050,
    );
    let out = t.run(&["status", "--stale-after", "1s"]);
    out.status(1);
    assert!(
        out.stdout.starts_with("UNHEALTHY: runtime stopped"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("STALE"), "{}", out.stdout);
}

#[test]
fn a_failed_source_is_unhealthy_even_in_a_fresh_snapshot() {
    let t = demo();
    let creators = t.read("runtime/config/creators.json").replacen(
        "\"enabled\": false,\n          \"channel\": \"demo_channel\"",
        "\"enabled\": true,\n          \"channel\": \"demo_channel\"",
        1,
    );
    t.write("runtime/config/creators.json", &creators);
    let mut cmd = t.cmd();
    cmd.env_remove("TWITCH_OAUTH_TOKEN_DEMO")
        .args(["run", "--duration", "1s"])
        .assert()
        .success();
    let out = t.run(&["status", "--stale-after", "10m"]);
    out.status(1);
    assert!(
        out.stdout
            .contains("problem: demo/twitch failed: demo/twitch: missing credentials"),
        "{}",
        out.stdout
    );
}

#[test]
fn no_snapshot_is_a_usage_error_that_says_what_writes_one() {
    let t = Test::empty();
    let out = t.run(&["status"]);
    out.status(2);
    assert!(
        out.stderr.contains("`ss run` (or `ss export`) writes it"),
        "{}",
        out.stderr
    );
}
