//! Hostile conditions (issue 11): a broken or full stderr, a closed stdout. Each test reproduces the
//! failure with the real thing (a closed pipe, /dev/full), not a stand-in.

use crate::harness::{Test, WATCHING, exit_code_within};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The demo with a short export cadence.
fn demo() -> Test {
    Test::fast_demo(None)
}

fn json(t: &Test, rel: &str) -> Value {
    serde_json::from_str(&t.read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn read_all(r: Option<impl Read>) -> String {
    let mut s = String::new();
    if let Some(mut r) = r {
        r.read_to_string(&mut s).unwrap();
    }
    s
}

/// stderr is a pipe whose reader goes away after a second: `--duration` still ends the run, cleanly.
#[test]
fn a_stderr_reader_that_goes_away_does_not_stop_the_shutdown() {
    let t = demo();
    let mut child = t
        .std_cmd()
        .args(["-v", "run", "--duration", "3s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let start = Instant::now();
        let mut lines = BufReader::new(stderr).lines();
        while start.elapsed() < Duration::from_secs(1) {
            if lines.next().is_none() {
                break;
            }
        }
        // Dropping the reader closes the pipe's read end.
    });
    reader.join().unwrap();
    let code = exit_code_within(&mut child, Duration::from_secs(15));
    let stdout = read_all(child.stdout.take());
    assert_eq!(code, 0, "stdout: {stdout}");
    assert!(stdout.starts_with("stopped after"), "{stdout}");
    let snap = json(&t, "runtime/exports/runtime_snapshot.json");
    assert_eq!(snap["running"], false);
}

/// `ss run 2>/dev/full`: every log line fails with ENOSPC; the run goes on and counts them.
#[cfg(target_os = "linux")]
#[test]
fn a_full_stderr_drops_and_counts_log_lines() {
    let t = demo();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut child = t
        .std_cmd()
        .args(["run", "--duration", "2s"])
        .stdout(Stdio::piped())
        .stderr(full)
        .spawn()
        .unwrap();
    let code = exit_code_within(&mut child, Duration::from_secs(15));
    let stdout = read_all(child.stdout.take());
    assert_eq!(code, 0, "stdout: {stdout}");
    assert!(stdout.contains("log lines dropped"), "{stdout}");
    let snap = json(&t, "runtime/exports/runtime_snapshot.json");
    let dropped = snap["counters"]["guards"]["log_lines_dropped"]
        .as_u64()
        .unwrap();
    assert!(dropped > 0, "{}", snap["counters"]);
}

/// `ss run 2>&1 | head -2`: stdout and stderr share a pipe that closes after two lines. Log lines and
/// the summary line both meet a broken pipe; neither is an error.
#[test]
fn stdout_and_stderr_into_a_pipe_closed_after_two_lines_exits_0() {
    let t = demo();
    let (reader, writer) = std::io::pipe().unwrap();
    let mut child = t
        .std_cmd()
        .args(["run", "--duration", "2s"])
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .unwrap();
    // The command holds the parent's copies of the write end; drop them so EOF and EPIPE are real.
    let mut lines = BufReader::new(reader).lines();
    for _ in 0..2 {
        lines.next().unwrap().unwrap();
    }
    drop(lines);
    let code = exit_code_within(&mut child, Duration::from_secs(15));
    assert_eq!(code, 0);
    let snap = json(&t, "runtime/exports/runtime_snapshot.json");
    assert_eq!(snap["running"], false, "the final snapshot was written");
}

/// `ss COMMAND | (exec 0<&-)`: the reader closes the pipe before reading anything. Every command
/// treats the closed stdout as the reader's choice: exit 0 (or the command's own verdict), never
/// a panic.
#[test]
fn a_stdout_closed_before_anything_is_read_is_success_for_every_command() {
    let t = demo();
    t.run(&["run", "--duration", "1s"]).status(0);
    let commands: [&[&str]; 9] = [
        &["completions", "bash"],
        &["completions", "zsh"],
        &["--help"],
        &["validate-config"],
        &["export"],
        &["status", "--stale-after", "1h"],
        &["clip", "list"],
        &["replay"],
        &["replay", "--stats"],
    ];
    for args in commands {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = t
            .std_cmd()
            .args(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "ss {}: {stderr}",
            args.join(" ")
        );
        assert!(
            !stderr.contains("panicked"),
            "ss {}: {stderr}",
            args.join(" ")
        );
    }
}

// ---- publish-state: nothing outside the target, even under a race ----

/// A root with exports written, an empty dashboard at `<root>/dash` and a directory `<root>/outside`.
fn exported() -> (Test, PathBuf, PathBuf) {
    let t = Test::new();
    crate::export::populate(t.path());
    t.run(&["export"]).status(0);
    let dash = t.path().join("dash");
    let outside = t.path().join("outside");
    std::fs::create_dir_all(&dash).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    (t, dash, outside)
}

/// Another process's view of the checkout: `shared/state/signals` flips between a real directory
/// and a symlink to a directory outside the target, as fast as it can, while we publish again and
/// again. Every publish may succeed or be refused; none may write outside.
#[cfg(unix)]
#[test]
fn a_directory_swapped_for_a_symlink_mid_publish_never_redirects_a_write() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let (t, dash, outside) = exported();
    let req = ss::export::publish::PublishRequest {
        source: t.path().join("runtime"),
        target: dash.clone(),
        visibility: ss::export::Visibility::Dashboard,
        dry_run: false,
    };
    ss::export::publish::publish(&req, &mut |_, _| {}).unwrap();
    let signals = dash.join("shared/state/signals");
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, signals, outside) = (stop.clone(), signals.clone(), outside.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ =
                    std::fs::remove_dir_all(&signals).or_else(|_| std::fs::remove_file(&signals));
                let _ = std::os::unix::fs::symlink(&outside, &signals);
                std::thread::yield_now();
                let _ = std::fs::remove_file(&signals);
                let _ = std::fs::create_dir(&signals);
                std::thread::yield_now();
            }
        })
    };
    let start = Instant::now();
    let (mut published, mut refused) = (0, 0);
    for _ in 0..600 {
        match ss::export::publish::publish(&req, &mut |_, _| {}) {
            Ok(_) => published += 1,
            Err(_) => refused += 1,
        }
        let leaked: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
        assert!(leaked.is_empty(), "written outside the target: {leaked:?}");
        if start.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    assert!(
        published + refused > 50,
        "too few publishes to mean anything"
    );
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_is_named_as_a_loop() {
    let (t, dash, _) = exported();
    std::fs::create_dir_all(dash.join("shared")).unwrap();
    std::os::unix::fs::symlink("state", dash.join("shared/state")).unwrap();
    let out = t.run(&["publish-state", "--target", dash.to_str().unwrap()]);
    out.status(2);
    assert!(out.stderr.contains("symlink loop"), "{}", out.stderr);
    assert!(!out.stderr.contains("outside"), "{}", out.stderr);
}

#[test]
fn an_os_error_is_printed_once() {
    let (t, dash, _) = exported();
    // A file where the state directory should be.
    t.write("dash/shared/state", "not a directory");
    let out = t.run(&["publish-state", "--target", dash.to_str().unwrap()]);
    out.status(2);
    assert_eq!(out.stderr.matches("os error").count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("shared/state"), "{}", out.stderr);
}

#[test]
fn a_malformed_publish_record_is_reported_then_rebuilt() {
    let (t, dash, _) = exported();
    t.write("dash/shared/state/.ss-published.json", "{\"files\": [1, 2");
    let out = t.run(&["publish-state", "--target", dash.to_str().unwrap()]);
    out.status(0);
    assert!(out.stderr.contains("WARN"), "{}", out.stderr);
    assert!(out.stderr.contains(".ss-published.json"), "{}", out.stderr);
    assert!(out.stderr.contains("malformed"), "{}", out.stderr);
    let record: Value =
        serde_json::from_str(&t.read("dash/shared/state/.ss-published.json")).unwrap();
    assert!(record["files"].as_array().unwrap().len() > 10, "{record}");
}

#[cfg(unix)]
#[test]
fn publish_state_watch_exits_0_on_sigterm() {
    let (t, dash, _) = exported();
    let mut child = t
        .std_cmd()
        .args([
            "publish-state",
            "--watch",
            "--target",
            dash.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The first report line means the watch is set up and the signal handlers with it.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("publishing to"), "{first}");
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    assert_eq!(exit_code_within(&mut child, Duration::from_secs(10)), 0);
}

// ---- hot reload: a deleted file is a mistake, not an empty bot ----

/// A demo root with hot reload on.
fn hot_reload_demo() -> Test {
    let t = demo();
    let system = t.read("runtime/config/system.json").replace(
        "\"enabled\": false,\n    \"watch_dir\"",
        "\"enabled\": true,\n    \"watch_dir\"",
    );
    assert!(system.contains("\"enabled\": true,\n    \"watch_dir\""));
    t.write("runtime/config/system.json", &system);
    t
}

#[test]
fn deleting_triggers_json_under_hot_reload_keeps_the_running_triggers() {
    let t = hot_reload_demo();
    let mut run = t.spawn_logged(&["run", "--duration", "4s"]);
    run.wait_for_line(WATCHING, Duration::from_secs(15));
    std::fs::remove_file(t.path().join("runtime/config/triggers.json")).unwrap();
    assert_eq!(exit_code_within(&mut run.child, Duration::from_secs(15)), 0);
    let errors = t.read("runtime/exports/telemetry/errors.json");
    assert!(errors.contains("config_rejected"), "{errors}");
    assert!(errors.contains("triggers.json"), "{errors}");
    let events = t.read("runtime/exports/telemetry/events.json");
    assert!(!events.contains("config_reloaded"), "{events}");
}

#[test]
fn an_intentionally_empty_trigger_list_is_applied() {
    let t = hot_reload_demo();
    let mut run = t.spawn_logged(&["run", "--duration", "4s"]);
    run.wait_for_line(WATCHING, Duration::from_secs(15));
    t.write("runtime/config/triggers.json", r#"{"triggers": {}}"#);
    assert_eq!(exit_code_within(&mut run.child, Duration::from_secs(15)), 0);
    let events = t.read("runtime/exports/telemetry/events.json");
    assert!(events.contains("config_reloaded"), "{events}");
}

// ---- validate-config says what is wrong ----

/// A long offending value is shortened; the reason after it is kept whole.
#[test]
fn a_long_offending_value_is_shortened_and_the_reason_kept() {
    let t = Test::new();
    let long = "x".repeat(500);
    let path = t.write(
        "drafts/triggers.json",
        &format!(r#"{{"triggers": {{"demo": {{"first": "{long}"}}}}}}"#),
    );
    let out = t.run(&["validate-config", path.to_str().unwrap()]);
    out.status(1);
    let line = out.stdout.lines().next().unwrap();
    assert!(line.ends_with(r#"is not of type "array""#), "{line}");
    assert!(line.chars().count() < 250, "{line}");
    insta::assert_snapshot!("validate_long_value", out.stdout_in(&t));
}

/// A directory, a FIFO and /dev/null are each named for what they are, not "no such file".
#[cfg(unix)]
#[test]
fn a_path_that_is_not_a_regular_file_is_named_as_such() {
    let t = Test::new();
    let dir = t.path().join("triggers.d.json");
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = t.path().join("triggers.fifo.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo failed");
    let mut transcript = String::new();
    for (path, schema) in [
        (dir.to_str().unwrap(), None),
        (fifo.to_str().unwrap(), None),
        ("/dev/null", Some("triggers")),
    ] {
        let mut args = vec!["validate-config", path];
        if let Some(schema) = schema {
            args.extend(["--schema", schema]);
        }
        let out = t.run(&args);
        out.status(2);
        assert!(!out.stderr.contains("no such file"), "{}", out.stderr);
        transcript.push_str(&out.stderr_in(&t));
    }
    assert!(transcript.contains("is a directory"), "{transcript}");
    assert!(transcript.contains("is a FIFO"), "{transcript}");
    assert!(transcript.contains("is a character device"), "{transcript}");
    insta::assert_snapshot!("validate_not_regular_files", transcript);
}

/// A UTF-8 byte order mark is accepted, with a warning that says how to remove it, here and in `ss run`.
#[test]
fn a_byte_order_mark_is_accepted_with_a_warning() {
    let t = Test::new();
    let creators = t.read("runtime/config/creators.json");
    t.write(
        "runtime/config/creators.json",
        &format!("\u{feff}{creators}"),
    );
    let out = t.run(&["validate-config"]);
    out.status(0);
    assert!(out.stdout.contains("byte order mark"), "{}", out.stdout);
    assert!(out.stdout.contains("sed -i"), "{}", out.stdout);
    insta::assert_snapshot!("validate_bom", out.stdout_in(&t));
    let run = t.run(&["run", "--duration", "1s"]);
    run.status(0);
    assert!(run.stderr.contains("byte order mark"), "{}", run.stderr);
}

/// A file over the size limit is refused before it is parsed, quickly, saying what the limit is.
#[test]
fn a_config_over_the_size_limit_is_refused() {
    let t = Test::new();
    let mut text = String::from(r#"{"triggers": {"demo": ["#);
    let one = r#"{"id": "t", "kind": "non_empty", "action": {"type": "validation_passed"}},"#;
    while text.len() <= 9 << 20 {
        text.push_str(one);
    }
    text.pop();
    text.push_str("]}}");
    let path = t.write("drafts/triggers.json", &text);
    let out = t.run(&["validate-config", path.to_str().unwrap()]);
    out.status(1);
    assert!(
        out.stdout.contains("over the 8388608-byte (8 MiB) limit"),
        "{}",
        out.stdout
    );
}
