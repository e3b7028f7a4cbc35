//! `ss replay`: faithful to the live run (empty diff), a draft's differences listed exactly,
//! byte-identical output on the store, JSONL and IRC inputs, malformed lines named and counted, no
//! effects on the store, the CI check of the README.

use crate::harness::{Output, Test, WATCHING, repo, signal, store_count, wait_until};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

/// A demo root with a faster sim source.
fn demo(rate: u32) -> Test {
    let t = Test::new();
    let creators = t
        .read("runtime/config/creators.json")
        .replace("\"rate_per_s\": 20", &format!("\"rate_per_s\": {rate}"));
    t.write("runtime/config/creators.json", &creators);
    t
}

/// A demo root with two recorded runs (so the store holds two run starts).
fn recorded(rate: u32) -> Test {
    let t = demo(rate);
    for _ in 0..2 {
        let out = t.run(&["run", "--duration", "2s"]);
        out.status(0);
    }
    t
}

/// The demo triggers with one trigger's cooldowns replaced.
fn draft(t: &Test, trigger: &str, cooldowns: Value) -> String {
    let mut doc: Value = serde_json::from_str(&t.read("runtime/config/triggers.json")).unwrap();
    let list = doc["triggers"]["demo"].as_array_mut().unwrap();
    let found = list.iter_mut().find(|x| x["id"] == trigger).unwrap();
    found["cooldowns"] = cooldowns;
    let path = t.write("draft.json", &serde_json::to_string_pretty(&doc).unwrap());
    path.display().to_string()
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// (message id, trigger id) of each JSON line.
fn keys(jsonl: &str) -> BTreeSet<(String, String)> {
    jsonl
        .lines()
        .map(|l| {
            let a: Value = serde_json::from_str(l).unwrap();
            (
                a["message_id"].as_str().unwrap().to_string(),
                a["trigger_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn sha(path: &std::path::Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

#[test]
fn replaying_recorded_runs_with_their_config_gives_an_empty_diff() {
    let t = recorded(300);
    let out = t.run(&["-v", "replay", "--diff"]);
    out.status(0);
    let summary = out.stdout.trim();
    assert!(summary.starts_with("no differences: "), "{summary}");
    let n: u64 = summary
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(n > 50, "too few actions to prove anything: {summary}");
    // The second run's fresh start is in the replay: without it, the validation trigger (60 s
    // creator cooldown) would not fire again in the second run and the diff would show it.
    assert!(out.stderr.contains("1 fresh starts"), "{}", out.stderr);
    let j = json(&t.run(&["replay", "--diff", "--format", "json"]));
    assert_eq!(j["differences"], serde_json::json!([]));
    assert_eq!(j["replayed"], j["recorded"]);
}

#[test]
fn a_draft_cooldown_lists_exactly_the_actions_that_differ() {
    let t = recorded(300);
    let draft = draft(&t, "chat-validated", serde_json::json!({"creator_s": 0.5}));
    let out = t.run(&["replay", "--triggers", &draft, "--diff"]);
    out.status(1);
    assert!(
        out.stdout
            .contains("trigger chat-validated  validation_passed")
    );

    // Exactly the symmetric difference of the two replays' actions, all of the changed trigger.
    let today = t.run(&["replay"]);
    let with_draft = t.run(&["replay", "--triggers", &draft]);
    let (a, b) = (keys(&today.stdout), keys(&with_draft.stdout));
    let added: BTreeSet<_> = b.difference(&a).cloned().collect();
    let removed: BTreeSet<_> = a.difference(&b).cloned().collect();
    assert!(!added.is_empty());
    assert!(added.iter().all(|(_, trigger)| trigger == "chat-validated"));

    let j = json(&t.run(&["replay", "--triggers", &draft, "--diff", "--format", "json"]));
    let listed = |change: &str| -> BTreeSet<(String, String)> {
        j["differences"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["change"] == change)
            .map(|d| {
                (
                    d["action"]["message_id"].as_str().unwrap().to_string(),
                    d["action"]["trigger_id"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(listed("added"), added);
    assert_eq!(listed("removed"), removed);
    assert_eq!(j["changed"], 0);
    let lines = out.stdout.lines().filter(|l| l.starts_with("+ ")).count();
    assert_eq!(lines, added.len(), "one line per added action");
}

#[test]
fn a_since_window_is_evaluated_with_the_state_of_its_run() {
    let t = recorded(300);
    let conn = rusqlite::Connection::open(t.path().join("runtime/state/streamsuites.db")).unwrap();
    // The middle of the second run: cooldowns there depend on events before the window.
    let (after, last): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT after_chat_id FROM run_marks ORDER BY id DESC LIMIT 1), max(id) FROM chat_events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let middle: i64 = conn
        .query_row(
            "SELECT ts_ms FROM chat_events WHERE id = ?1",
            [after + (last - after) / 2],
            |r| r.get(0),
        )
        .unwrap();
    let since = chrono::DateTime::from_timestamp_millis(middle)
        .unwrap()
        .to_rfc3339();
    let out = t.run(&["replay", "--since", &since, "--diff"]);
    out.status(0);
    assert!(out.stdout.starts_with("no differences"), "{}", out.stdout);
    let all = t.run(&["replay"]).stdout.lines().count();
    let window = t.run(&["replay", "--since", &since]).stdout.lines().count();
    assert!(window > 0 && window < all, "{window} of {all}");
    // Another platform has no events: nothing reported, nothing differs.
    let out = t.run(&["replay", "--platform", "twitch", "--diff"]);
    out.status(0);
    assert!(
        out.stdout.starts_with("no differences: 0 replayed"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_hot_reload_restarts_the_replayed_state_where_the_live_one_restarted() {
    let t = demo(200);
    let system = t
        .read("runtime/config/system.json")
        .replace("\"enabled\": false", "\"enabled\": true");
    t.write("runtime/config/system.json", &system);
    let mut run = t.spawn_logged(&["run"]);
    run.wait_for_line(WATCHING, Duration::from_secs(15));
    let validations = "SELECT count(*) FROM actions WHERE trigger_id = 'chat-validated'";
    wait_until(
        "the validation trigger's first fire",
        Duration::from_secs(15),
        || store_count(t.path(), validations) >= 1,
    );
    // The same triggers: only the reload's fresh start can make the validation trigger fire again.
    t.write(
        "runtime/config/system.json",
        &system.replace("\"cadence_s\": 5", "\"cadence_s\": 4"),
    );
    wait_until(
        "the validation trigger's fire after the reload",
        Duration::from_secs(15),
        || store_count(t.path(), validations) >= 2,
    );
    signal(&run.child, "INT");
    assert!(run.child.wait().unwrap().success());
    let conn = rusqlite::Connection::open(t.path().join("runtime/state/streamsuites.db")).unwrap();
    let reloads: i64 = conn
        .query_row(
            "SELECT count(*) FROM run_marks WHERE kind = 'reload'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(reloads >= 1, "the reload was not recorded");
    let validations: i64 = conn
        .query_row(
            "SELECT count(*) FROM actions WHERE trigger_id = 'chat-validated'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(validations >= 2, "the reload did not restart the cooldown");
    let out = t.run(&["replay", "--diff"]);
    out.status(0);
}

#[test]
fn two_replays_of_the_store_are_byte_identical_and_write_nothing() {
    let t = recorded(300);
    let db = t.path().join("runtime/state/streamsuites.db");
    let wal = t.path().join("runtime/state/streamsuites.db-wal");
    let before = (sha(&db), sha(&wal));
    let first = t.run(&["replay"]);
    first.status(0);
    assert!(first.stdout.lines().count() > 50);
    let second = t.run(&["replay"]);
    assert_eq!(first.stdout, second.stdout);
    t.run(&["replay", "--stats"]).status(0);
    t.run(&["replay", "--diff"]).status(0);
    // The database is byte for byte the same. SQLite leaves an empty WAL file behind a read-only
    // connection to a WAL database when there was none: no content, nothing written.
    assert!(before.0 == sha(&db), "replay changed the database");
    let wal_after = sha(&wal);
    assert!(
        wal_after == before.1 || (before.1.is_none() && wal_after == Some(Vec::new())),
        "replay wrote to the WAL"
    );
    // As a file, the same store gives the same bytes.
    let copy = t.path().join("copy.db");
    std::fs::copy(&db, &copy).unwrap();
    let out = t.run(&["replay", "--input", copy.to_str().unwrap()]);
    assert_eq!(out.stdout, first.stdout);
}

#[test]
fn an_irc_log_from_the_fixture_generator_replays_byte_identically() {
    let t = Test::new();
    let log = repo().join("fixtures/twitch/lines.txt");
    let log = log.to_str().unwrap();
    let args = ["replay", "--input", log, "--creator", "demo"];
    let first = t.run(&args);
    first.status(0);
    // Few actions: the generator's times are random, not increasing, and the engine's cooldowns
    // (even zero ones) only let a trigger fire at or after its last firing.
    assert!(first.stdout.lines().count() > 5, "{}", first.stdout);
    assert_eq!(first.stdout, t.run(&args).stdout);
    assert!(!first.stderr.contains("skipped:"), "{}", first.stderr);

    // The same events as JSONL give the same actions, byte for byte, twice.
    let text = std::fs::read_to_string(repo().join("fixtures/twitch/lines.txt")).unwrap();
    let mut jsonl = String::new();
    let mut clock = None;
    for line in text.lines() {
        if let Some(event) = ss::replay::irc_log::read_line(line, "demo", clock).unwrap() {
            clock = Some(event.timestamp);
            jsonl.push_str(&serde_json::to_string(&event).unwrap());
            jsonl.push('\n');
        }
    }
    let path = t.write("events.jsonl", &jsonl);
    let args = ["replay", "--input", path.to_str().unwrap()];
    let from_jsonl = t.run(&args);
    from_jsonl.status(0);
    assert_eq!(from_jsonl.stdout, first.stdout);
    assert_eq!(from_jsonl.stdout, t.run(&args).stdout);
}

#[test]
fn a_broken_line_in_an_irc_log_is_named_counted_and_skipped() {
    let t = Test::new();
    let text = std::fs::read_to_string(repo().join("fixtures/replay/twitch-chat.log")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let whole = lines.len();
    let cut = &lines[10][..120];
    lines.insert(41, cut);
    lines.insert(100, "\u{0}garbage pasted into the log");
    let broken = t.write("broken.log", &(lines.join("\n") + "\n"));
    let broken = broken.to_str().unwrap();
    let out = t.run(&["replay", "--input", broken]);
    out.status(0);
    assert!(out.stdout.lines().count() > 20);
    // Not a terminal: stderr holds the two warnings and nothing else (no bar, no summary).
    assert_eq!(out.stderr.lines().count(), 2, "{}", out.stderr);
    let summary = t.run(&["-v", "replay", "--input", broken]).stderr;
    assert!(summary.contains("2 lines skipped"), "{summary}");
    assert!(
        out.stderr
            .contains(&format!("{broken}:42: skipped: not an IRC line")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("{broken}:101: skipped: not an IRC line")),
        "{}",
        out.stderr
    );
    let stats = json(&t.run(&["replay", "--input", broken, "--stats", "--format", "json"]));
    assert_eq!(stats["skipped_lines"], 2);
    // The other lines are all there: the same actions as the intact log.
    let intact = t.run(&[
        "replay",
        "--input",
        repo()
            .join("fixtures/replay/twitch-chat.log")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(out.stdout, intact.stdout);
    assert_eq!(whole + 2, lines.len());
}

/// The README's CI check: the committed log and expected actions agree with the demo config, and a
/// changed trigger fails the check.
#[test]
fn the_readme_ci_check_passes_on_the_demo_config_and_fails_on_a_change() {
    let t = Test::new();
    let log = repo().join("fixtures/replay/twitch-chat.log");
    let expected = repo().join("fixtures/replay/expected-actions.jsonl");
    let (log, expected) = (log.to_str().unwrap(), expected.to_str().unwrap());
    let got = t.path().join("got.jsonl");
    let out = t.run(&[
        "replay",
        "--input",
        log,
        "--diff",
        expected,
        "--out",
        got.to_str().unwrap(),
    ]);
    out.status(0);
    assert!(out.stdout.starts_with("no differences"), "{}", out.stdout);
    // The committed file is exactly what a replay writes today, byte for byte.
    assert_eq!(
        std::fs::read(&got).unwrap(),
        std::fs::read(expected).unwrap()
    );
    let draft = draft(&t, "chat-validated", serde_json::json!({"creator_s": 120}));
    let out = t.run(&[
        "replay",
        "--input",
        log,
        "--triggers",
        &draft,
        "--diff",
        expected,
    ]);
    out.status(1);
    insta::assert_snapshot!("ci_check_fails_on_a_changed_cooldown", out.stdout);
}

#[test]
fn stats_count_events_chatters_and_actions() {
    let t = Test::new();
    let log = repo().join("fixtures/replay/twitch-chat.log");
    let out = t.run(&["replay", "--input", log.to_str().unwrap(), "--stats"]);
    out.status(0);
    insta::assert_snapshot!("stats_of_the_fixture_log", out.stdout);
}

#[test]
fn errors_say_what_and_how_to_fix_it() {
    let t = Test::new();
    let out = t.run(&["replay"]);
    out.status(2);
    assert!(out.stderr.contains("no store there"), "{}", out.stderr);
    assert!(out.stderr.contains("chat_log.enabled"), "{}", out.stderr);

    let bad = t.write(
        "bad-triggers.json",
        r#"{"triggers": {"demo": [{"id": "x", "kind": "regex", "pattern": "(", "action": {"type": "validation_passed"}}]}}"#,
    );
    let out = t.run(&["replay", "--triggers", bad.to_str().unwrap()]);
    out.status(2);
    assert!(
        out.stderr.contains("bad-triggers.json:1:"),
        "{}",
        out.stderr
    );

    let out = t.run(&["replay", "--creator", "nobody"]);
    out.status(2);
    assert!(
        out.stderr.contains("creators.json defines: demo"),
        "{}",
        out.stderr
    );

    let out = t.run(&["replay", "--since", "yesterday-ish"]);
    out.status(2);
    assert!(out.stderr.contains("--since"), "{}", out.stderr);

    let baseline = t.write("baseline.jsonl", "{\"not\": \"an action\"}\n");
    let log = repo().join("fixtures/replay/twitch-chat.log");
    let out = t.run(&[
        "replay",
        "--input",
        log.to_str().unwrap(),
        "--diff",
        baseline.to_str().unwrap(),
    ]);
    out.status(2);
    assert!(
        out.stderr.contains("baseline.jsonl:1: not an action"),
        "{}",
        out.stderr
    );
}

#[test]
fn help() {
    let out = Test::new().run(&["replay", "--help"]);
    out.status(0);
    insta::assert_snapshot!("help", out.stdout);
}

/// A 200 MB line in a JSONL or IRC log is read past and counted, never held: the replay ends with
/// the other lines replayed.
#[cfg(target_os = "linux")]
#[test]
fn a_line_over_max_line_bytes_is_skipped_in_every_file_format_without_holding_it() {
    let t = Test::new();
    let text = std::fs::read_to_string(repo().join("fixtures/replay/twitch-chat.log")).unwrap();
    let huge = "x".repeat(200 << 20);
    // Between two whole lines of the log.
    let middle = text[..text.len() / 2].rfind('\n').unwrap() + 1;
    for (name, format) in [("huge.log", "irc"), ("huge.jsonl", "jsonl")] {
        let body = match format {
            "irc" => format!("{}{huge}\n{}", &text[..middle], &text[middle..]),
            _ => format!("{{\"x\": \"{huge}\"}}\n"),
        };
        let path = t.write(name, &body);
        let out = t
            .std_cmd()
            .args(["replay", "--stats", "--format", "json", "--input"])
            .arg(&path)
            .args(["--input-format", format])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{format}: {stderr}");
        assert!(
            stderr.contains("longer than system.json limits.max_line_bytes (65536 bytes)"),
            "{format}: {stderr}"
        );
        let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(stats["skipped_lines"], 1, "{format}: {stats}");
    }
}

/// `--input /dev/zero` (no line end, ever) is read past in constant memory: no abort on
/// allocation. The test stops it once it has read well past the limit.
#[cfg(target_os = "linux")]
#[test]
fn replaying_dev_zero_keeps_its_memory_bounded() {
    let t = Test::new();
    let mut child: crate::harness::Spawned = t
        .std_cmd()
        .args(["replay", "--input", "/dev/zero", "--input-format", "irc"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
        .into();
    let status = format!("/proc/{}/status", child.id());
    let io = format!("/proc/{}/io", child.id());
    let field = |file: &str, key: &str| -> Option<u64> {
        std::fs::read_to_string(file).ok()?.lines().find_map(|l| {
            l.strip_prefix(key)?
                .trim()
                .trim_end_matches(" kB")
                .parse()
                .ok()
        })
    };
    // Until it has read 1 GB of zeros (a line 16,000 times the limit).
    wait_until(
        "ss replay to read 1 GB of zeros",
        Duration::from_secs(120),
        || {
            assert!(
                child.try_wait().unwrap().is_none(),
                "ss replay ended on /dev/zero"
            );
            field(&io, "rchar:").unwrap_or(0) >= 1 << 30
        },
    );
    let peak_kb = field(&status, "VmHWM:").unwrap();
    assert!(peak_kb < 100 * 1024, "peak RSS {peak_kb} kB");
    let _ = child.kill();
}

#[test]
fn since_after_until_is_a_usage_error() {
    let t = Test::new();
    let out = t.run(&[
        "replay",
        "--since",
        "2026-11-30T22:00:00Z",
        "--until",
        "2026-11-30T21:00:00Z",
    ]);
    out.status(2);
    assert!(
        out.stderr.contains("--since 2026-11-30T22:00:00Z")
            && out.stderr.contains("is not before --until"),
        "{}",
        out.stderr
    );
}
