//! `ss run` with the store, or the exports, on a disk that fills up: nothing accepted is lost, the
//! runtime says it is degraded, recovers by itself when space frees, and ends the one documented way
//! when it never does: the summary line on stdout naming what was not written, then exit 2.
//!
//! The store (or exports) directory is a small tmpfs (a real file system that really runs out of
//! space), filled by a file the test owns; deleting that file frees the space. Mounting needs root,
//! as CI runs.

use crate::harness::{Spawned, Test, exit_code_within, signal, wait_until};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
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

/// The demo at 300 events/s with a short cadence, its store on a 4 MiB tmpfs that is almost full;
/// `None`, with a skip message on the terminal, when the test cannot mount (not root).
fn demo_on_full_disk(test: &str) -> Option<(Test, Tmpfs, PathBuf)> {
    if !rustix::process::geteuid().is_root() {
        // Straight to stderr: libtest captures print macros only, so this shows in every run.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED full_disk::{test}: needs root to mount a tmpfs (CI runs as root)"
        );
        return None;
    }
    let t = Test::fast_demo(Some(300));
    let state = t.path().join("runtime/state");
    let mount = Tmpfs::mount(&state, "4m");
    // Room for a fresh store (every migration in one transaction, through the WAL, plus the 32 KiB
    // shared-memory file) and a little chat, not more.
    let filler = fill(&state, 416 * 1024);
    Some((t, mount, filler))
}

fn spawn_run(t: &Test) -> Spawned {
    t.spawn(&["run"])
}

fn snapshot(t: &Test) -> Option<Value> {
    let text =
        std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Waits for the process to exit; returns (code, stdout, stderr) and how long it took.
fn finish(child: Spawned, limit: Duration) -> (i32, String, String, Duration) {
    let mut child = child.into_inner();
    let start = Instant::now();
    crate::harness::exit_within(&mut child, limit);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        start.elapsed(),
    )
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

/// Starts `ss run` and waits until its snapshot says the store is degraded.
fn run_until_degraded(t: &Test) -> Spawned {
    let child = spawn_run(t);
    wait_until(
        "the snapshot to say degraded",
        Duration::from_secs(60),
        || degraded(t),
    );
    child
}

#[test]
fn a_full_disk_degrades_then_recovers_with_every_accepted_event_once() {
    let Some((t, _mount, filler)) =
        demo_on_full_disk("a_full_disk_degrades_then_recovers_with_every_accepted_event_once")
    else {
        return;
    };
    let child = run_until_degraded(&t);
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
    let Some((t, _mount, _filler)) = demo_on_full_disk(
        "a_disk_that_stays_full_ends_the_run_with_exit_2_and_says_what_was_not_recorded",
    ) else {
        return;
    };
    let child = run_until_degraded(&t);
    signal(&child, "TERM");
    // The writer retries for its 10 s grace, then gives up; everything stops in order.
    let (code, stdout, stderr, took) = finish(child, Duration::from_secs(40));
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("stopped after ")
            && stdout.contains("; NOT WRITTEN: ")
            && stdout.contains(" chat events in "),
        "the summary line names what was not written: {stdout}"
    );
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
    let Some((t, _mount, _filler)) = demo_on_full_disk("a_second_signal_exits_at_once_with_130")
    else {
        return;
    };
    let run = t.spawn_logged(&["run"]);
    wait_until(
        "the snapshot to say degraded",
        Duration::from_secs(60),
        || degraded(&t),
    );
    // The first signal starts a shutdown that waits for the full store; the second one, once the
    // first was taken, leaves.
    signal(&run.child, "TERM");
    run.wait_for_line("Shutdown requested", Duration::from_secs(20));
    let start = Instant::now();
    signal(&run.child, "TERM");
    let code = exit_code_within(&mut run.child.into_inner(), Duration::from_secs(20));
    let took = start.elapsed();
    assert_eq!(code, 130);
    assert!(took < Duration::from_secs(5), "{took:?}");
}

/// The exports on a full disk end the same way as the store on one: the summary line first, naming
/// the final export files that could not be written, then exit 2 with the reason and the fix. Files
/// on other disks (signals, admin) are still written.
#[test]
fn a_full_disk_under_the_exports_ends_with_the_summary_line_and_exit_2() {
    let t = Test::new();
    let exports = t.path().join("runtime/exports");
    let _mount = Tmpfs::mount(&exports, "1m");
    let _filler = fill(&exports, 0);
    let out = t.run(&["run", "--duration", "3s"]);
    out.status(2);
    assert!(
        out.stdout.starts_with("stopped after ")
            && out.stdout.contains("; NOT WRITTEN: ")
            && out.stdout.contains(" final export files"),
        "the summary line names what was not written: {}",
        out.stdout
    );
    assert!(
        out.stderr.contains("writing the final exports")
            && out
                .stderr
                .contains(" export files could not be written under ")
            && out.stderr.contains("exports/")
            && out.stderr.contains("No space left on device")
            && out.stderr.contains("hint: free space"),
        "{}",
        out.stderr
    );
    assert!(
        t.path().join("runtime/signals/chat_events.json").is_file(),
        "files on other disks are still written"
    );
}

/// Chat as fast as the sim makes it, onto a store that stays full: the writer's queue and then the
/// data lane fill up. When the writer gives up at shutdown, the events it never got (still in the
/// lane, or being sent) are named on the summary line with the abandoned store writes, and every
/// event the lane accepted is accounted for.
#[test]
fn events_never_sent_to_a_store_that_gave_up_are_counted_too() {
    let Some((t, _mount, _filler)) =
        demo_on_full_disk("events_never_sent_to_a_store_that_gave_up_are_counted_too")
    else {
        return;
    };
    let creators = t
        .read("runtime/config/creators.json")
        .replace("\"rate_per_s\": 300", "\"rate_per_s\": 0");
    t.write("runtime/config/creators.json", &creators);
    let child = spawn_run(&t);
    wait_until(
        "the snapshot to say degraded",
        Duration::from_secs(60),
        || degraded(&t),
    );
    wait_until("the data lane to fill", Duration::from_secs(30), || {
        snapshot(&t).is_some_and(|s| s["lanes"]["data"]["dropped"].as_u64() > Some(0))
    });
    signal(&child, "TERM");
    let (code, stdout, stderr, _) = finish(child, Duration::from_secs(40));
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    let unsent: u64 = stdout
        .split("; NOT WRITTEN: ")
        .nth(1)
        .and_then(|rest| {
            rest.split(", ")
                .find(|p| p.ends_with(" chat events never sent to the store\n"))
        })
        .and_then(|p| p.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the summary line names the unsent events: {stdout}\n{stderr}"));
    assert!(
        stderr.contains("were never sent to the store because its writer had given up"),
        "{stderr}"
    );
    let snap = snapshot(&t).unwrap();
    let c = &snap["counters"];
    let n = |v: &Value| v.as_u64().unwrap();
    let accepted = n(&snap["lanes"]["data"]["sent"]);
    let accounted = n(&c["events_recorded"])
        + n(&c["duplicates_skipped"])
        + n(&snap["store"]["writer"]["events_abandoned"])
        + unsent;
    assert_eq!(
        accepted, accounted,
        "every accepted event is accounted for: {snap}"
    );
}
