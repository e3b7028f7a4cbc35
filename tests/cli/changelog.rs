//! `ss validate-config` on the runtime changelog: schema, unique ids, and the append-only check
//! against an earlier published copy (`--changelog-base`).

use crate::harness::{Test, repo};

/// A root with the demo config and the repository's changelog, plus the changelog as published.
fn root_with_changelog() -> Test {
    let t = Test::new();
    let shipped = std::fs::read_to_string(repo().join("changelog/changelog.runtime.json")).unwrap();
    t.write("changelog/changelog.runtime.json", &shipped);
    t.write("published/changelog.runtime.json", &shipped);
    t
}

fn edit_changelog(t: &Test, from: &str, to: &str) {
    let text = t.read("changelog/changelog.runtime.json");
    assert!(text.contains(from), "{from}");
    t.write(
        "changelog/changelog.runtime.json",
        &text.replacen(from, to, 1),
    );
}

#[test]
fn the_root_changelog_is_checked_with_the_config() {
    let t = root_with_changelog();
    let out = t.run(&["validate-config"]);
    out.status(0);
    assert_eq!(out.stdout, "ok: 9 config files valid\n");
    let out = t.run(&["validate-config", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        report["files"][8]
            .as_str()
            .unwrap()
            .ends_with("changelog/changelog.runtime.json")
    );
}

#[test]
fn an_edited_published_entry_fails_and_is_named() {
    let t = root_with_changelog();
    edit_changelog(
        &t,
        "\"summary\": \"The ss binary",
        "\"summary\": \"Rewritten: the ss binary",
    );
    // Without a base the file is still a valid changelog.
    t.run(&["validate-config"]).status(0);
    let out = t.run(&[
        "validate-config",
        "--changelog-base",
        "published/changelog.runtime.json",
    ]);
    out.status(1);
    insta::assert_snapshot!("edited_entry", out.stdout_in(&t));
}

#[test]
fn a_removed_published_entry_fails_and_is_named() {
    let t = Test::new();
    let base = std::fs::read_to_string(repo().join("changelog/changelog.runtime.json")).unwrap();
    t.write("old.json", &base);
    let mut current: serde_json::Value = serde_json::from_str(&base).unwrap();
    current["entries"] = serde_json::json!([]);
    t.write(
        "changelog.runtime.json",
        &serde_json::to_string_pretty(&current).unwrap(),
    );
    let out = t.run(&[
        "validate-config",
        "changelog.runtime.json",
        "--changelog-base",
        "old.json",
    ]);
    out.status(1);
    assert!(
        out.stdout.contains(
            "/entries: entry \"rt-0001\" (0.3.0-alpha of 2026-11-22) was published in old.json and has been removed"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn duplicate_ids_and_schema_problems_print_like_config_problems() {
    let t = Test::new();
    let mut log: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("changelog/changelog.runtime.json")).unwrap(),
    )
    .unwrap();
    let mut copy = log["entries"][0].clone();
    copy["summary"] = "Again.".into();
    let mut bad_scope = copy.clone();
    bad_scope["id"] = "rt-0009".into();
    bad_scope["scope"] = "Runtime!".into();
    log["entries"].as_array_mut().unwrap().push(copy);
    t.write(
        "changelog.draft.json",
        &serde_json::to_string_pretty(&log).unwrap(),
    );
    let out = t.run(&["validate-config", "changelog.draft.json"]);
    out.status(1);
    insta::assert_snapshot!("duplicate_id", out.stdout);

    log["entries"].as_array_mut().unwrap().push(bad_scope);
    t.write("draft.json", &serde_json::to_string_pretty(&log).unwrap());
    let out = t.run(&["validate-config", "draft.json", "--schema", "changelog"]);
    out.status(1);
    assert!(
        out.stdout
            .contains("draft.json:36:16: /entries/2/scope: \"Runtime!\" does not match"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_base_that_is_not_a_changelog_is_a_usage_error() {
    let t = root_with_changelog();
    t.write("published/changelog.runtime.json", "{\"entries\": [}");
    let out = t.run(&[
        "validate-config",
        "--changelog-base",
        "published/changelog.runtime.json",
    ]);
    out.status(2);
    assert!(
        out.stderr
            .contains("the --changelog-base file is not a valid changelog"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_base_without_a_changelog_to_compare_is_a_usage_error() {
    let t = Test::new();
    t.write("old.json", "{}");
    let out = t.run(&["validate-config", "--changelog-base", "old.json"]);
    out.status(2);
    assert!(out.stderr.contains("--changelog-base needs a changelog"));
}
