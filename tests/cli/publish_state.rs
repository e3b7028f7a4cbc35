//! `ss publish-state`: mirror exports into a dashboard checkout, by visibility, safely.

use crate::export::populate;
use crate::harness::Test;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A test root with exports written and an empty dashboard directory at `<root>/dash`.
fn exported() -> (Test, PathBuf) {
    let t = Test::new();
    populate(t.path());
    t.run(&["export"]).status(0);
    let dash = t.path().join("dash");
    std::fs::create_dir_all(&dash).unwrap();
    (t, dash)
}

/// Every file below `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            let path = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

const PUBLIC: [&str; 19] = [
    ".ss-published.json",
    "about.public.json",
    "changelog.json",
    "changelog.runtime.json",
    "clips.json",
    "giveaways.json",
    "meta.json",
    "platforms.json",
    "points.json",
    "polls.json",
    "quotes.json",
    "roadmap.json",
    "runtime_snapshot.json",
    "scoreboards.json",
    "tallies.json",
    "telemetry/errors.json",
    "telemetry/events.json",
    "telemetry/rates.json",
    "version.json",
];

#[test]
fn publishes_public_files_only_by_default() {
    let (t, dash) = exported();
    let out = t.run(&["publish-state", "--target", dash.to_str().unwrap()]);
    out.status(0);
    let state = dash.join("shared/state");
    assert_eq!(files_under(&state), PUBLIC);
    insta::assert_snapshot!("publish_public_first_run", out.stdout_in(&t));
    // The published manifest lists exactly the published files.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("meta.json")).unwrap()).unwrap();
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(listed.len(), 17);
    assert!(listed.iter().all(|f| f["visibility"] == "public"));
    // Published bytes are the exported bytes.
    assert_eq!(
        std::fs::read(state.join("clips.json")).unwrap(),
        std::fs::read(t.path().join("runtime/exports/clips.json")).unwrap()
    );
}

#[test]
fn internal_visibility_adds_the_rest_and_lowering_it_removes_them() {
    let (t, dash) = exported();
    let target = dash.to_str().unwrap();
    t.run(&[
        "publish-state",
        "--target",
        target,
        "--visibility",
        "internal",
    ])
    .status(0);
    let state = dash.join("shared/state");
    let all = files_under(&state);
    assert_eq!(all.len(), 36, "{all:?}"); // 35 files and the record
    assert!(all.contains(&"admin/audit.json".to_string()));
    assert!(all.contains(&"signals/chat_events.json".to_string()));

    // A file the mirror never published stays, whatever happens.
    std::fs::write(state.join("admin/notes.txt"), "mine").unwrap();
    let out = t.run(&["publish-state", "--target", target]);
    out.status(0);
    assert!(
        out.stdout.contains("  removed    admin/audit.json\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .ends_with("18 files: 0 added, 1 updated, 17 unchanged, 17 removed\n"),
        "{}",
        out.stdout
    );
    let mut expected: Vec<String> = PUBLIC.iter().map(|s| s.to_string()).collect();
    expected.push("admin/notes.txt".into());
    expected.sort();
    assert_eq!(files_under(&state), expected);
}

#[test]
fn dashboard_visibility_stops_short_of_internal() {
    let (t, dash) = exported();
    let out = t.run(&[
        "publish-state",
        "--target",
        dash.to_str().unwrap(),
        "--visibility",
        "dashboard",
        "--format",
        "json",
    ]);
    out.status(0);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let added: Vec<&str> = report["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(added.contains(&"admin/jobs.json"));
    assert!(!added.contains(&"admin/integrations.json"));
    assert!(!added.contains(&"admin/audit.json"));
    assert_eq!(report["visibility"], "dashboard");
}

#[test]
fn second_publish_changes_nothing() {
    let (t, dash) = exported();
    let target = dash.to_str().unwrap();
    t.run(&["publish-state", "--target", target]).status(0);
    // The published file is dated an hour back: a rewrite, however soon, would date it now.
    let clip = dash.join("shared/state/clips.json");
    let before = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&clip)
        .unwrap()
        .set_modified(before)
        .unwrap();
    let out = t.run(&["publish-state", "--target", target]);
    out.status(0);
    assert!(
        out.stdout
            .ends_with("18 files: 0 added, 0 updated, 18 unchanged, 0 removed\n"),
        "{}",
        out.stdout
    );
    assert_eq!(
        std::fs::metadata(&clip).unwrap().modified().unwrap(),
        before
    );
}

#[test]
fn dry_run_writes_nothing() {
    let (t, dash) = exported();
    let out = t.run(&[
        "publish-state",
        "--target",
        dash.to_str().unwrap(),
        "--dry-run",
    ]);
    out.status(0);
    assert!(
        out.stdout.starts_with("dry run: would publish to "),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("  added      clips.json\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.ends_with(
            "18 files: 18 added, 0 updated, 0 unchanged, 0 removed; nothing was written\n"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(files_under(&dash), Vec::<String>::new());
}

#[cfg(unix)]
#[test]
fn symlink_leading_outside_the_target_is_refused_and_nothing_is_written() {
    let (t, dash) = exported();
    let outside = t.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, dash.join("shared")).unwrap();
    let out = t.run(&["publish-state", "--target", dash.to_str().unwrap()]);
    out.status(2);
    let stderr = out.stderr_in(&t);
    assert!(
        stderr.contains(
            "[ROOT]/dash/shared is a symlink to [ROOT]/outside, outside the publish target"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert_eq!(files_under(&outside), Vec::<String>::new());
}

#[cfg(unix)]
#[test]
fn symlinked_file_leading_outside_is_refused_before_any_write() {
    let (t, dash) = exported();
    let state = dash.join("shared/state");
    std::fs::create_dir_all(state.join("telemetry")).unwrap();
    let victim = t.path().join("victim.json");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, state.join("telemetry/rates.json")).unwrap();
    let out = t.run(&["publish-state", "--target", dash.to_str().unwrap()]);
    out.status(2);
    assert!(out.stderr.contains("is a symlink to"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    // Refused before the first write: only the symlink is there.
    assert_eq!(files_under(&state), ["telemetry/rates.json"]);
}

#[cfg(unix)]
#[test]
fn symlink_that_stays_inside_the_target_is_fine() {
    let (t, dash) = exported();
    std::fs::create_dir_all(dash.join("real")).unwrap();
    std::os::unix::fs::symlink(dash.join("real"), dash.join("shared")).unwrap();
    t.run(&["publish-state", "--target", dash.to_str().unwrap()])
        .status(0);
    assert!(dash.join("real/state/clips.json").exists());
}

#[test]
fn target_comes_from_the_environment() {
    let (t, dash) = exported();
    let out = t
        .cmd()
        .args(["publish-state"])
        .env("DASHBOARD_STATE_PUBLISH_ROOT", &dash)
        .env_remove("STREAMSUITES_STATE_PUBLISH_ROOT")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dash.join("shared/state/meta.json").exists());
}

#[test]
fn target_falls_back_to_the_sibling_dashboard_checkout() {
    let t = Test::new();
    let root = t.path().join("StreamSuites");
    crate::harness::copy_dir(&t.path().join("runtime"), &root.join("runtime"));
    let docs = t.path().join("StreamSuites-Dashboard/docs");
    std::fs::create_dir_all(&docs).unwrap();
    let run = |args: &[&str]| {
        let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("ss");
        cmd.env_remove("SS_ROOT")
            .env_remove("DASHBOARD_STATE_PUBLISH_ROOT")
            .env_remove("STREAMSUITES_STATE_PUBLISH_ROOT")
            .current_dir(&root)
            .args(args)
            .output()
            .unwrap()
    };
    assert_eq!(run(&["export"]).status.code(), Some(0));
    let out = run(&["publish-state"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(docs.join("shared/state/version.json").exists());
}

#[test]
fn no_target_anywhere_is_a_usage_error() {
    let (t, _) = exported();
    let out = t
        .cmd()
        .args(["publish-state"])
        .env_remove("DASHBOARD_STATE_PUBLISH_ROOT")
        .env_remove("STREAMSUITES_STATE_PUBLISH_ROOT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no publish target"), "{stderr}");
    assert!(stderr.contains("hint: pass --target DIR"), "{stderr}");
}

#[test]
fn missing_target_directory_is_an_error() {
    let (t, dash) = exported();
    let out = t.run(&[
        "publish-state",
        "--target",
        dash.join("nope").to_str().unwrap(),
    ]);
    out.status(2);
    assert!(out.stderr.contains("is not a directory"), "{}", out.stderr);
}

#[test]
fn nothing_exported_yet_says_to_run_export() {
    let t = Test::new();
    let dash = t.path().join("dash");
    std::fs::create_dir_all(&dash).unwrap();
    let out = t.run(&["publish-state", "--target", dash.to_str().unwrap()]);
    out.status(2);
    assert!(
        out.stderr.contains("run `ss export` first"),
        "{}",
        out.stderr
    );
}

/// Waits up to 20 s for `check`, polling.
fn eventually(what: &str, check: impl Fn() -> bool) {
    crate::harness::wait_until(what, Duration::from_secs(20), check)
}

#[test]
fn watch_republishes_when_the_exports_change() {
    let (t, dash) = exported();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("ss"))
        .args([
            "--root",
            t.path().to_str().unwrap(),
            "publish-state",
            "--watch",
            "--target",
            dash.to_str().unwrap(),
        ])
        .env_remove("SS_ROOT")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let published = dash.join("shared/state/changelog.json");
    let result = std::panic::catch_unwind(|| {
        eventually("the first publish", || published.exists());
        t.write(
            "changelog/changelog.runtime.json",
            r#"{"entries": [{"id": "rt-0042", "version": "0.3.1", "date": "2026-11-23", "scope": "runtime", "summary": "Watch", "items": []}]}"#,
        );
        t.run(&["export", "--only", "changelog"]).status(0);
        eventually("the change to be mirrored", || {
            std::fs::read_to_string(&published).is_ok_and(|s| s.contains("rt-0042"))
        });
    });
    child.kill().unwrap();
    child.wait().unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
