//! `ss update-version`: stamping a release in a temporary copy of the repository and a dashboard tree.
//!
//! Each test builds a release root the way a maintainer has one: the repository's `Cargo.toml`,
//! `Cargo.lock`, `runtime/` and `changelog/`, the exports from `fixtures/release/runtime/`, and a
//! dashboard checkout from `fixtures/release/dashboard/`, all committed to a fresh git repository so
//! `git diff` shows exactly what a run changed. `SS_BUILD_DATE` fixes the release date.

use crate::harness::{Output, Test, copy_dir, repo};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const OLD_VERSION: &str = "0.3.0-alpha";
const OLD_BUILD: &str = "2026.11.22+001";
const DATE: &str = "2026.12.01";

/// A release root: the repository's release files, the fixture exports and a dashboard, in git.
fn release_root() -> Test {
    let t = Test::empty();
    let root = t.path();
    for file in ["Cargo.toml", "Cargo.lock"] {
        std::fs::copy(repo().join(file), root.join(file)).unwrap();
    }
    copy_dir(&repo().join("runtime/config"), &root.join("runtime/config"));
    std::fs::copy(
        repo().join("runtime/version.json"),
        root.join("runtime/version.json"),
    )
    .unwrap();
    copy_dir(&repo().join("changelog"), &root.join("changelog"));
    copy_dir(
        &repo().join("fixtures/release/runtime"),
        &root.join("runtime"),
    );
    copy_dir(
        &repo().join("fixtures/release/dashboard"),
        &root.join("dashboard"),
    );
    git(root, &["init", "-q"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "release root"]);
    t
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Release Test",
            "-c",
            "user.email=release@example.invalid",
            "-c",
            "core.autocrlf=false",
        ])
        .args(args)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `ss ARGS` in the root with the release date fixed.
fn ss(t: &Test, args: &[&str]) -> Output {
    let out = t
        .cmd()
        .env("SS_BUILD_DATE", DATE)
        .args(args)
        .output()
        .expect("run ss");
    Output {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every file under the root (but .git) with its bytes, to prove that nothing changed.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn stamps_every_file_and_git_diff_shows_only_version_and_build_values() {
    let t = release_root();
    let out = ss(
        &t,
        &[
            "update-version",
            "0.4.0-beta.1",
            "--dashboard-root",
            "dashboard",
        ],
    );
    out.status(0);
    insta::assert_snapshot!("stamp_all", out.stdout);

    let changed = git(t.path(), &["diff", "--name-only"]);
    let mut changed: Vec<&str> = changed.lines().collect();
    changed.sort_unstable();
    assert_eq!(
        changed,
        [
            "Cargo.lock",
            "Cargo.toml",
            "changelog/changelog.runtime.json",
            "dashboard/about/about.json",
            "dashboard/about/releases.json",
            "dashboard/about/team/credits.json",
            "dashboard/version.json",
            "runtime/admin/about.admin.json",
            "runtime/exports/about.public.json",
            "runtime/exports/changelog.json",
            "runtime/exports/changelog.runtime.json",
            "runtime/exports/version.json",
            "runtime/version.json",
        ]
    );

    // Every changed line differs from its old self by exactly one stamp value.
    let diff = git(t.path(), &["diff", "-U0", "--no-color"]);
    let removed: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with('-') && !l.starts_with("---"))
        .collect();
    let added: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .collect();
    assert_eq!(removed.len(), added.len(), "{diff}");
    let build = format!("{}+001", DATE);
    for (old, new) in removed.iter().zip(&added) {
        let (old, new) = (&old[1..], &new[1..]);
        let stamped = [
            old.replacen(OLD_VERSION, "0.4.0-beta.1", 1),
            old.replacen(OLD_BUILD, &build, 1),
            old.replacen(OLD_VERSION, "0.4.0-beta.1", 1)
                .replacen(OLD_BUILD, &build, 1),
        ];
        assert!(stamped.iter().any(|s| s == new), "{old:?} -> {new:?}");
    }
    // Two stamp values per line at most, in the one-line export: at least one changed line per value.
    assert!(removed.len() >= 20, "{diff}");

    let version = ss(&t, &["--version"]);
    assert_eq!(version.stdout, "ss 0.4.0-beta.1 (build 2026.12.01+001)\n");
    ss(&t, &["validate-config"]).status(0);
}

#[test]
fn values_that_are_not_the_stamp_stay_as_they_were() {
    let t = release_root();
    ss(
        &t,
        &["update-version", "0.4.0", "--dashboard-root", "dashboard"],
    )
    .status(0);
    // A release history entry and a changelog entry name old versions: they are not the stamp.
    let releases = t.read("dashboard/about/releases.json");
    assert!(
        releases.contains("{\"version\": \"0.3.0-alpha\", \"notes\": \"Typed configuration.\"}")
    );
    assert!(releases.starts_with("{\n  \"version\" : \"0.4.0\",\n"));
    let changelog = t.read("changelog/changelog.runtime.json");
    assert!(changelog.contains("\"id\": \"rt-0001\",\n      \"version\": \"0.3.0-alpha\""));
    // CRLF line endings and a missing trailing newline survive.
    let admin = t.read("runtime/admin/about.admin.json");
    assert!(admin.contains("\"version\": \"0.4.0\",\r\n"));
    assert!(
        t.read("dashboard/about/about.json")
            .ends_with("\"overlays\"]\n}")
    );
    assert_eq!(
        t.read("dashboard/about/notes.md"),
        "# About\n\nversion: 0.3.0-alpha (not JSON; left alone)\n"
    );
}

#[test]
fn dry_run_lists_old_and_new_values_and_writes_nothing() {
    let t = release_root();
    let before = tree(t.path());
    let out = ss(
        &t,
        &[
            "update-version",
            "0.4.0-beta.1",
            "--dashboard-root",
            "dashboard",
            "--changelog-summary",
            "Release tooling: ss update-version.",
            "--dry-run",
        ],
    );
    out.status(0);
    insta::assert_snapshot!("dry_run", out.stdout);
    assert_eq!(tree(t.path()), before);
}

#[test]
fn json_report_lists_files_fields_and_skips() {
    let t = release_root();
    std::fs::remove_file(t.path().join("runtime/exports/changelog.json")).unwrap();
    let out = ss(
        &t,
        &["update-version", "0.4.0", "--format", "json", "--dry-run"],
    );
    out.status(0);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["version"], "0.4.0");
    assert_eq!(report["build"], "2026.12.01+001");
    assert_eq!(report["previous"]["version"], OLD_VERSION);
    assert_eq!(report["modified"], 8);
    assert_eq!(
        report["files"][0],
        serde_json::json!({"file": "Cargo.toml", "changes": [
            {"field": "package.version", "old": OLD_VERSION, "new": "0.4.0"}]})
    );
    assert_eq!(
        report["skipped"],
        serde_json::json!([{"file": "runtime/exports/changelog.json", "reason": "not present"}])
    );
}

#[test]
fn build_sequence_counts_up_within_a_day_and_restarts_the_next() {
    let t = release_root();
    let stamp = |t: &Test| -> serde_json::Value {
        serde_json::from_str(&t.read("runtime/version.json")).unwrap()
    };
    ss(&t, &["update-version", "0.4.0-alpha"]).status(0);
    assert_eq!(stamp(&t)["build"], "2026.12.01+001");
    // The same version with a new build is allowed.
    ss(&t, &["update-version", "0.4.0-alpha"]).status(0);
    assert_eq!(stamp(&t)["build"], "2026.12.01+002");
    let out = t
        .cmd()
        .env("SS_BUILD_DATE", "2026.12.02")
        .args(["update-version", "0.4.0-alpha"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(stamp(&t)["build"], "2026.12.02+001");
    ss(
        &t,
        &["update-version", "0.4.0", "--build", "2026.12.02+017"],
    )
    .status(0);
    assert_eq!(stamp(&t)["build"], "2026.12.02+017");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&t.read("runtime/exports/version.json")).unwrap()
            ["build"],
        "2026.12.02+017"
    );
}

#[test]
fn a_malformed_build_or_build_date_is_a_usage_error() {
    let t = release_root();
    let before = tree(t.path());
    let out = ss(&t, &["update-version", "0.4.0", "--build", "2026-12-01+1"]);
    out.status(2);
    assert!(
        out.stderr
            .contains("\"2026-12-01+1\" is not YYYY.MM.DD+NNN")
    );
    let out = t
        .cmd()
        .env("SS_BUILD_DATE", "2026.13.01")
        .args(["update-version", "0.4.0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SS_BUILD_DATE: \"2026.13.01\""));
    assert_eq!(tree(t.path()), before);
}

#[test]
fn invalid_semver_is_a_usage_error_that_names_the_problem() {
    let t = release_root();
    let before = tree(t.path());
    for (version, problem) in [
        (
            "not-a-version",
            "\"not-a-version\" is not a semantic version",
        ),
        ("0.4", "\"0.4\" is not a semantic version"),
        ("v0.4.0", "drop the leading \"v\""),
        ("0.4.0+build.5", "carries build metadata"),
    ] {
        let out = ss(&t, &["update-version", version]);
        out.status(2);
        assert!(out.stderr.contains(problem), "{version}: {}", out.stderr);
    }
    assert_eq!(tree(t.path()), before);
    let out = ss(&t, &["update-version", "not-a-version"]);
    insta::assert_snapshot!("invalid_semver", out.stderr);
}

#[test]
fn a_downgrade_is_refused_and_changes_nothing_unless_allowed() {
    let t = release_root();
    let before = tree(t.path());
    for (version, build) in [("0.2.9", None), (OLD_VERSION, Some("2026.11.21+009"))] {
        let mut args = vec!["update-version", version];
        args.extend(build.map(|b| ["--build", b]).into_iter().flatten());
        let out = ss(&t, &args);
        out.status(1);
        assert!(out.stderr.contains("refused:"), "{}", out.stderr);
        assert!(out.stderr.contains("--allow-downgrade"));
    }
    let out = ss(&t, &["update-version", "0.2.9", "--format", "json"]);
    out.status(1);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["refused"], true);
    assert_eq!(report["current"]["version"], OLD_VERSION);
    assert_eq!(report["requested"]["version"], "0.2.9");
    assert_eq!(tree(t.path()), before);
    ss(&t, &["update-version", "0.2.9", "--allow-downgrade"]).status(0);
    assert!(t.read("Cargo.toml").contains("\nversion = \"0.2.9\"\n"));
}

#[test]
fn a_read_only_file_leaves_every_file_unchanged() {
    use std::os::unix::fs::PermissionsExt;
    let t = release_root();
    let locked = t.path().join("dashboard/about/team/credits.json");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = tree(t.path());
    let out = ss(
        &t,
        &["update-version", "0.4.0", "--dashboard-root", "dashboard"],
    );
    out.status(2);
    assert!(
        out.stderr
            .contains("dashboard/about/team/credits.json: is read-only"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("no file was changed"));
    assert_eq!(tree(t.path()), before);
    assert_eq!(git(t.path(), &["status", "--porcelain"]), "");
}

#[test]
fn files_that_cannot_be_parsed_are_all_named_and_nothing_changes() {
    let t = release_root();
    t.write(
        "dashboard/about/broken.json",
        "{\"version\": \"0.3.0-alpha\",,}\n",
    );
    t.write("runtime/exports/about.public.json", "{\"meta\": {}}\n");
    let before = tree(t.path());
    let out = ss(
        &t,
        &["update-version", "0.4.0", "--dashboard-root", "dashboard"],
    );
    out.status(2);
    insta::assert_snapshot!("unparseable", out.stderr);
    assert_eq!(tree(t.path()), before);
}

#[test]
fn a_missing_dashboard_root_is_reported_and_skipped() {
    let t = release_root();
    let out = ss(
        &t,
        &[
            "update-version",
            "0.4.0",
            "--dashboard-root",
            "no-such-dashboard",
        ],
    );
    out.status(0);
    assert!(out.stdout.contains(
        "skipped: no-such-dashboard (dashboard root does not exist; nothing stamped there)"
    ));
    assert!(t.read("runtime/version.json").contains("\"0.4.0\""));
}

#[test]
fn changelog_summary_appends_an_entry_with_a_fresh_id() {
    let t = release_root();
    std::fs::copy(
        t.path().join("changelog/changelog.runtime.json"),
        t.path().join("published.json"),
    )
    .unwrap();
    for (version, summary) in [("0.4.0-beta.1", "Release tooling."), ("0.4.0", "Stable.")] {
        let out = ss(
            &t,
            &["update-version", version, "--changelog-summary", summary],
        );
        out.status(0);
    }
    let changelog: serde_json::Value =
        serde_json::from_str(&t.read("changelog/changelog.runtime.json")).unwrap();
    let entries = changelog["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(
        entries[2],
        serde_json::json!({"id": "rt-0003", "version": "0.4.0", "date": "2026-12-01",
            "scope": "runtime", "summary": "Stable.", "items": []})
    );
    assert_eq!(entries[1]["id"], "rt-0002");
    assert_eq!(changelog["runtime"]["build"], "2026.12.01+002");
    // Appending is what append-only allows.
    ss(
        &t,
        &["validate-config", "--changelog-base", "published.json"],
    )
    .status(0);
}

#[test]
fn an_invalid_changelog_stops_the_release() {
    let t = release_root();
    let text = t
        .read("changelog/changelog.runtime.json")
        .replace("\"rt-0001\"", "\"r1\"");
    t.write("changelog/changelog.runtime.json", &text);
    let out = ss(&t, &["update-version", "0.4.0", "--changelog-summary", "x"]);
    out.status(2);
    assert!(
        out.stderr
            .contains("changelog/changelog.runtime.json: is not a valid changelog"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("/entries/0/id"));
}

#[test]
fn a_root_without_a_version_file_is_a_usage_error() {
    let t = Test::empty();
    let out = t.run(&["update-version", "0.4.0"]);
    out.status(2);
    assert!(out.stderr.contains("runtime/version.json: not present"));
}

#[test]
fn help_names_every_option_and_the_build_date_variable() {
    let out = Test::empty().run(&["update-version", "--help"]);
    out.status(0);
    insta::assert_snapshot!("help", out.stdout);
}
