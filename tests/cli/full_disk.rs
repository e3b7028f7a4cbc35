//! `ss run` with the store on a disk that fills up: nothing accepted is lost, the runtime says it is
//! degraded, recovers by itself when space frees, and ends the documented way when it never does.
//!
//! The store directory is a small tmpfs (a real file system that really runs out of space), filled
//! by a file the test owns; deleting that file frees the space. Mounting needs root, as CI runs.

use crate::harness::Test;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A tmpfs of `size` mounted at `dir`, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("running mount");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs to fill a disk and needs root (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system holding `dir` with one file, leaving about `leave` bytes free.
fn fill(dir: &Path, leave: u64) -> PathBuf {
    let filler = dir.join("filler.bin");
    let stat = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .unwrap();
    let avail: u64 = String::from_utf8_lossy(&stat.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::fs::write(&filler, vec![0u8; avail.saturating_sub(leave) as usize]).unwrap();
    filler
}

/// The demo at 300 events/s with a short cadence, its store on a 4 MiB tmpfs that is almost full.
fn demo_on_full_disk() -> (Test, Tmpfs, PathBuf) {
    let t = Test::new();
    let creators = t
        .read("runtime/config/creators.json")
        .replace("\"rate_per_s\": 20", "\"rate_per_s\": 300");
    t.write("runtime/config/creators.json", &creators);
    let system = t
        .read("runtime/config/system.json")
        .replace("\"cadence_s\": 5", "\"cadence_s\": 0.5");
    t.write("runtime/config/system.json", &system);
    let state = t.path().join("runtime/state");
    let mount = Tmpfs::mount(&state, "4m");
    let filler = fill(&state, 160 * 1024);
    (t, mount, filler)
}

fn spawn_run(t: &Test) -> Child {
    t.std_cmd()
        .arg("run")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name} failed");
}

fn snapshot(t: &Test) -> Option<Value> {
    let text =
        std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json")).ok()?;
    serde_json::from_str(&text).ok()
}

fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for the process to exit; returns (code, stdout, stderr) and how long it took.
fn finish(mut child: Child, limit: Duration) -> (i32, String, String, Duration) {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            return (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
                start.elapsed(),
            );
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("ss run did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn chat_rows(t: &Test) -> (u64, u64) {
    let conn = rusqlite::Connection::open(t.path().join("runtime/state/streamsuites.db")).unwrap();
    conn.query_row(
        "SELECT count(*), count(DISTINCT platform || ' ' || message_id) FROM chat_events",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )
    .unwrap()
}

fn degraded(t: &Test) -> bool {
    snapshot(t).is_some_and(|s| s["degraded"] == true)
}

#[test]
fn a_full_disk_degrades_then_recovers_with_every_accepted_event_once() {
    let (t, _mount, filler) = demo_on_full_disk();
    let child = spawn_run(&t);
    wait_until(
        "the snapshot to say degraded",
        Duration::from_secs(60),
        || degraded(&t),
    );
    let snap = snapshot(&t).unwrap();
    assert!(
        snap["degraded_reason"]
            .as_str()
            .is_some_and(|r| r.contains("full")),
        "{snap}"
    );
    assert!(snap["store"]["writer"]["commit_failures"].as_u64().unwrap() > 0);
    wait_until(
        "telemetry/errors.json to record it",
        Duration::from_secs(10),
        || {
            std::fs::read_to_string(t.path().join("runtime/exports/telemetry/errors.json"))
                .is_ok_and(|e| e.contains("store_degraded"))
        },
    );

    // Space frees: the runtime recovers by itself.
    std::fs::remove_file(&filler).unwrap();
    wait_until("the snapshot to recover", Duration::from_secs(30), || {
        snapshot(&t).is_some_and(|s| s["degraded"] == false)
    });
    signal(&child, "INT");
    let (code, stdout, stderr, _) = finish(child, Duration::from_secs(30));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let snap = snapshot(&t).unwrap();
    let counters = &snap["counters"];
    let recorded = counters["events_recorded"].as_u64().unwrap();
    let accepted = counters["events_received"].as_u64().unwrap()
        - counters["duplicates_skipped"].as_u64().unwrap();
    assert_eq!(
        recorded, accepted,
        "every accepted event was recorded: {counters}"
    );
    let (rows, distinct) = chat_rows(&t);
    assert_eq!(
        rows, recorded,
        "the store holds exactly what the counters say"
    );
    assert_eq!(distinct, rows, "no event is stored twice");
    assert_eq!(snap["store"]["writer"]["ops_abandoned"], 0);
}

#[test]
fn a_disk_that_stays_full_ends_the_run_with_exit_2_and_says_what_was_not_recorded() {
    let (t, _mount, _filler) = demo_on_full_disk();
    let child = spawn_run(&t);
    wait_until(
        "the snapshot to say degraded",
        Duration::from_secs(60),
        || degraded(&t),
    );
    signal(&child, "TERM");
    // The writer retries for its 10 s grace, then gives up; everything stops in order.
    let (code, stdout, stderr, took) = finish(child, Duration::from_secs(40));
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("could not be written through shutdown") && stderr.contains("not recorded"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    let snap = snapshot(&t).unwrap();
    assert_eq!(snap["running"], false, "final exports were written: {snap}");
    assert!(
        snap["store"]["writer"]["ops_abandoned"].as_u64().unwrap() > 0,
        "{snap}"
    );
}

#[test]
fn a_second_signal_exits_at_once_with_130() {
    let (t, _mount, _filler) = demo_on_full_disk();
    let child = spawn_run(&t);
    wait_until(
        "the snapshot to say degraded",
        Duration::from_secs(60),
        || degraded(&t),
    );
    // The first signal starts a shutdown that waits for the full store; the second one leaves.
    signal(&child, "TERM");
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, "TERM");
    let (code, stdout, stderr, took) = finish(child, Duration::from_secs(20));
    assert_eq!(code, 130, "{stdout}\n{stderr}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}
