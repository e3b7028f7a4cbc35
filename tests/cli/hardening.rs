//! Hostile conditions (issue 11): a broken or full stderr, a closed stdout. Each test reproduces the
//! failure with the real thing (a closed pipe, /dev/full), not a stand-in.

use crate::harness::Test;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A demo root with a faster sim source and a short export cadence.
fn demo() -> Test {
    let t = Test::new();
    let system = t
        .read("runtime/config/system.json")
        .replace("\"cadence_s\": 5", "\"cadence_s\": 0.5");
    t.write("runtime/config/system.json", &system);
    t
}

fn json(t: &Test, rel: &str) -> Value {
    serde_json::from_str(&t.read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Waits for `child` to exit; kills it and fails when it takes longer than `limit`.
fn exit_code_within(child: &mut Child, limit: Duration) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("ss did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
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
