//! `ss export`: the whole catalogue from config and store, schema-valid, deterministic, no churn.

use crate::harness::{Test, repo};
use chrono::DateTime;
use serde_json::Value;
use ss::actions::{Action, ActionKind};
use ss::event::{Author, ChatEvent, Platform};
use ss::store::{ClipState, ClipStateChange, NewClip, Store, StoreWriter, WriteOp, db_path};
use std::collections::BTreeMap;
use std::path::Path;

/// Every file of the catalogue, as `ss export` writes it under `runtime/`.
pub const CATALOGUE: [&str; 28] = [
    "exports/meta.json",
    "exports/version.json",
    "exports/about.public.json",
    "exports/platforms.json",
    "exports/runtime_snapshot.json",
    "exports/clips.json",
    "exports/polls.json",
    "exports/tallies.json",
    "exports/scoreboards.json",
    "exports/changelog.runtime.json",
    "exports/changelog.json",
    "exports/roadmap.json",
    "exports/telemetry/events.json",
    "exports/telemetry/rates.json",
    "exports/telemetry/errors.json",
    "signals/chat_events.json",
    "signals/poll_votes.json",
    "signals/tally_events.json",
    "signals/score_events.json",
    "admin/creators.json",
    "admin/chat_triggers.json",
    "admin/jobs.json",
    "admin/rate_limits.json",
    "admin/quotas.json",
    "admin/about.admin.json",
    "admin/integrations.json",
    "admin/permissions.json",
    "admin/audit.json",
];

fn at(ms: i64) -> DateTime<chrono::Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

fn chat(platform: Platform, id: &str, ms: i64, user: &str, text: &str) -> WriteOp {
    let author = Author {
        display_name: user.to_uppercase().into(),
        id: format!("id-{user}").into(),
        ..Author::viewer(user)
    };
    WriteOp::ChatEvent(Box::new(ChatEvent::message(
        platform,
        "demo",
        id,
        at(ms),
        author,
        text,
    )))
}

/// An action of `trigger` fired by message `message_id`.
fn action(
    trigger: &str,
    platform: Platform,
    message_id: &str,
    ms: i64,
    kind: ActionKind,
) -> WriteOp {
    WriteOp::action(Action {
        trigger_id: trigger.into(),
        creator: "demo".into(),
        platform,
        message_id: message_id.into(),
        at: at(ms),
        kind,
        thread: false,
    })
}

fn vote(platform: Platform, voter: &str, option: &str, ms: i64) -> WriteOp {
    action(
        "vote",
        platform,
        &format!("m-{voter}"),
        ms,
        ActionKind::PollVote {
            poll: "next-game".into(),
            option: option.into(),
            user_id: voter.into(),
        },
    )
}

fn clip(
    id: &str,
    platform: Platform,
    by: &str,
    duration_s: u32,
    title: Option<&str>,
    ms: i64,
) -> WriteOp {
    WriteOp::Clip(Box::new(NewClip {
        clip_id: Some(id.into()),
        creator: "demo".into(),
        platform,
        channel: "demo".into(),
        requested_by: by.into(),
        duration_s,
        title: title.map(str::to_string),
        at: at(ms),
    }))
}

/// Records a small, fixed history through the real store writer: chat, votes, tallies, scores,
/// clips, actions, quota and audit entries. Voter ids all start with `voter-secret-`.
pub fn populate(root: &Path) {
    let writer = StoreWriter::spawn(&db_path(root), 64).unwrap();
    let t0 = 1_795_000_000_000;
    let ops = vec![
        chat(Platform::Twitch, "tw-1", t0, "alice", "hype hype"),
        chat(Platform::Kick, "k-1", t0 + 1_000, "bob", "!vote zelda"),
        chat(Platform::Youtube, "yt-1", t0 + 2_000, "carol", "gg"),
        chat(Platform::Twitch, "tw-1", t0, "alice", "hype hype"),
        vote(Platform::Kick, "voter-secret-1", "zelda", t0 + 1_000),
        vote(Platform::Twitch, "voter-secret-2", "mario", t0 + 1_500),
        vote(Platform::Youtube, "voter-secret-3", "zelda", t0 + 1_700),
        action(
            "hype-tally",
            Platform::Twitch,
            "tw-1",
            t0,
            ActionKind::Tally {
                tally: "hype".into(),
                amount: 2,
                user_id: "id-alice".into(),
            },
        ),
        action(
            "gg-score",
            Platform::Youtube,
            "yt-1",
            t0 + 2_000,
            ActionKind::Score {
                board: "good-games".into(),
                points: 1,
                user_id: "id-carol".into(),
                user_name: "CAROL".into(),
            },
        ),
        clip(
            "clip01",
            Platform::Twitch,
            "ALICE",
            30,
            Some("That play"),
            t0 + 3_000,
        ),
        WriteOp::ClipState(Box::new(ClipStateChange {
            clip_id: "clip01".into(),
            state: ClipState::Published,
            at: at(t0 + 60_000),
            detail: None,
            url: Some("https://clips.example/clip01.mp4".into()),
            thumbnail_url: None,
        })),
        clip("clip02", Platform::Kick, "BOB", 15, None, t0 + 4_000),
        action(
            "announce",
            Platform::Twitch,
            "tw-1",
            t0 + 4_500,
            ActionKind::Notify {
                channel: "general".into(),
                text: "ALICE is hyped".into(),
            },
        ),
        WriteOp::QuotaSpend {
            platform: Platform::Youtube,
            day: chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(),
            units: 1234,
        },
        WriteOp::Audit {
            at: at(t0 + 5_000),
            action: "config_reloaded".into(),
            detail: "triggers.json".into(),
        },
    ];
    for op in ops {
        writer.blocking_send(op).unwrap();
    }
    let stats = writer.close().unwrap();
    assert_eq!(stats.ops_rejected, 0);
}

/// The schema file in `schemas/exports/` for a `meta.schema` id (`streamsuites.clips.v1` -> clips).
fn schema_for(id: &str) -> jsonschema::Validator {
    let stem = id
        .strip_prefix("streamsuites.")
        .and_then(|s| s.strip_suffix(".v1"))
        .unwrap_or_else(|| panic!("unexpected schema id {id}"));
    let path = repo().join(format!("schemas/exports/{stem}.schema.json"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn read_json(t: &Test, rel: &str) -> Value {
    serde_json::from_str(&t.read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Asserts every catalogue file exists under `runtime/` and validates against its schema file.
pub fn assert_catalogue_valid(t: &Test) {
    for name in CATALOGUE {
        let doc = read_json(t, &format!("runtime/{name}"));
        let id = doc["meta"]["schema"].as_str().unwrap();
        let errors: Vec<String> = schema_for(id)
            .iter_errors(&doc)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{name} against {id}:\n{}",
            errors.join("\n")
        );
        assert_eq!(doc["meta"]["source"], "streamsuites-runtime");
        assert_eq!(doc["meta"]["runtime"]["version"], "0.3.0-alpha");
    }
}

fn redacted(doc: Value) -> Value {
    let mut doc = doc;
    doc["meta"]["generated_at"] = Value::String("[generated_at]".into());
    doc
}

#[test]
fn empty_store_gives_the_whole_valid_catalogue() {
    let t = Test::new();
    let out = t.run(&["export"]);
    out.status(0);
    assert!(
        out.stdout.ends_with("28 written, 0 unchanged\n"),
        "{}",
        out.stdout
    );
    assert_catalogue_valid(&t);
    assert!(
        !db_path(t.path()).exists(),
        "export does not create a store"
    );
    insta::assert_json_snapshot!(
        "export_empty_runtime_snapshot",
        redacted(read_json(&t, "runtime/exports/runtime_snapshot.json"))
    );
    insta::assert_json_snapshot!(
        "export_empty_platforms",
        redacted(read_json(&t, "runtime/exports/platforms.json"))
    );
    insta::assert_json_snapshot!(
        "export_empty_chat_events",
        redacted(read_json(&t, "runtime/signals/chat_events.json"))
    );
}

#[test]
fn populated_store_exports_validate_and_show_the_history() {
    let t = Test::new();
    populate(t.path());
    t.run(&["export"]).status(0);
    assert_catalogue_valid(&t);
    for name in [
        "exports/polls.json",
        "exports/tallies.json",
        "exports/scoreboards.json",
        "exports/clips.json",
        "signals/chat_events.json",
        "signals/poll_votes.json",
        "admin/jobs.json",
        "admin/chat_triggers.json",
        "admin/quotas.json",
        "admin/audit.json",
    ] {
        let snap = format!("export_populated_{}", name.replace(['/', '.'], "_"));
        insta::assert_json_snapshot!(snap, redacted(read_json(&t, &format!("runtime/{name}"))));
    }
    let chat = read_json(&t, "runtime/signals/chat_events.json");
    assert_eq!(
        chat["total_recorded"], 3,
        "the re-delivered message is stored once"
    );
}

#[test]
fn polls_never_carry_voter_identities() {
    let t = Test::new();
    populate(t.path());
    t.run(&["export"]).status(0);
    for name in CATALOGUE {
        let text = t.read(&format!("runtime/{name}"));
        assert!(!text.contains("voter-secret"), "{name} leaks a voter id");
    }
    let polls = read_json(&t, "runtime/exports/polls.json");
    assert_eq!(polls["polls"][0]["total_votes"], 3);
    assert_eq!(
        polls["polls"][0]["options"][0],
        serde_json::json!({"option": "zelda", "votes": 2, "percent": 66.7})
    );
}

fn mtimes_and_bytes(t: &Test) -> BTreeMap<String, (std::time::SystemTime, Vec<u8>)> {
    CATALOGUE
        .iter()
        .map(|name| {
            let path = t.path().join("runtime").join(name);
            let meta = std::fs::metadata(&path).unwrap();
            (
                name.to_string(),
                (meta.modified().unwrap(), std::fs::read(&path).unwrap()),
            )
        })
        .collect()
}

#[test]
fn exporting_twice_leaves_bytes_and_mtimes_alone() {
    let t = Test::new();
    populate(t.path());
    t.run(&["export"]).status(0);
    let before = mtimes_and_bytes(&t);
    // Make a rewrite detectable even on file systems with coarse mtimes.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = t.run(&["export"]);
    out.status(0);
    assert_eq!(
        out.stdout,
        format!(
            "exported 28 files to {}: 0 written, 28 unchanged\n",
            t.path().join("runtime").display()
        )
    );
    assert_eq!(before, mtimes_and_bytes(&t));
}

#[test]
fn a_change_rewrites_only_the_files_it_touches() {
    let t = Test::new();
    t.run(&["export"]).status(0);
    populate(t.path());
    let out = t.run(&["export", "--format", "json"]);
    out.status(0);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let written: Vec<&str> = report["written"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(written.contains(&"exports/polls.json"), "{written:?}");
    assert!(written.contains(&"exports/meta.json"), "{written:?}");
    assert!(!written.contains(&"exports/version.json"), "{written:?}");
    assert!(!written.contains(&"admin/rate_limits.json"), "{written:?}");
}

#[test]
fn same_store_and_config_give_identical_payloads() {
    let t = Test::new();
    populate(t.path());
    let a = t.path().join("a");
    let b = t.path().join("b");
    t.run(&["export", "--out", a.to_str().unwrap()]).status(0);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    t.run(&["export", "--out", b.to_str().unwrap()]).status(0);
    for name in CATALOGUE {
        let read = |dir: &Path| -> Value {
            let mut doc =
                redacted(serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap());
            // The manifest hashes the bytes on disk, which include each file's own generated_at.
            for file in doc
                .get_mut("files")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                file["sha256"] = Value::Null;
            }
            doc
        };
        assert_eq!(read(&a), read(&b), "{name}");
    }
    assert!(
        !t.path().join("runtime/exports").exists(),
        "--out replaces runtime/"
    );
}

#[test]
fn only_regenerates_the_named_files_and_the_manifest() {
    let t = Test::new();
    let out = t.run(&["export", "--only", "clips", "signals/chat_events.json"]);
    out.status(0);
    assert!(t.path().join("runtime/exports/clips.json").exists());
    assert!(t.path().join("runtime/signals/chat_events.json").exists());
    assert!(!t.path().join("runtime/exports/polls.json").exists());
    let manifest = read_json(&t, "runtime/exports/meta.json");
    let names: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["exports/clips.json", "signals/chat_events.json"]);
}

#[test]
fn unknown_only_name_is_a_usage_error() {
    let t = Test::new();
    let out = t.run(&["export", "--only", "clipz"]);
    out.status(2);
    assert!(
        out.stderr.contains("--only clipz: no such export"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hint: use one of: meta, version"),
        "{}",
        out.stderr
    );
    assert!(!t.path().join("runtime/exports").exists());
}

#[test]
fn manifest_hashes_match_the_files() {
    let t = Test::new();
    populate(t.path());
    t.run(&["export"]).status(0);
    let manifest = read_json(&t, "runtime/exports/meta.json");
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(files.len(), CATALOGUE.len() - 1);
    for f in files {
        let bytes =
            std::fs::read(t.path().join("runtime").join(f["name"].as_str().unwrap())).unwrap();
        assert_eq!(f["bytes"], bytes.len());
        assert_eq!(
            f["sha256"].as_str().unwrap(),
            ss::export::writer::sha256_hex(&bytes)
        );
    }
}

#[test]
fn changelog_and_roadmap_are_passed_through() {
    let t = Test::new();
    t.write(
        "changelog/changelog.runtime.json",
        r#"{"entries": [{"id": "rt-0001", "version": "0.3.0-alpha", "date": "2026-11-22", "scope": "runtime", "summary": "Exports", "items": ["ss export"]}]}"#,
    );
    t.write(
        "changelog/roadmap.json",
        r#"{"items": [{"id": "clips", "title": "Clip pipeline", "status": "planned"}]}"#,
    );
    t.run(&["export"]).status(0);
    assert_catalogue_valid(&t);
    for name in ["exports/changelog.runtime.json", "exports/changelog.json"] {
        assert_eq!(
            read_json(&t, &format!("runtime/{name}"))["entries"][0]["id"],
            "rt-0001"
        );
    }
    assert_eq!(
        read_json(&t, "runtime/exports/roadmap.json")["items"][0]["status"],
        "planned"
    );
}

#[test]
fn malformed_changelog_is_an_error_naming_the_file() {
    let t = Test::new();
    t.write(
        "changelog/changelog.runtime.json",
        "{\"entries\": [\n  {\"id\": 1},\n",
    );
    let out = t.run(&["export"]);
    out.status(2);
    assert!(
        out.stderr_in(&t)
            .contains("[ROOT]/changelog/changelog.runtime.json: invalid JSON at line 3"),
        "{}",
        out.stderr
    );
    assert!(
        !t.path().join("runtime/exports").exists(),
        "nothing is written"
    );
}

#[test]
fn store_from_a_newer_ss_is_refused_untouched() {
    let t = Test::new();
    let path = db_path(t.path());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 42;").unwrap();
    drop(conn);
    let before = std::fs::read(&path).unwrap();
    let out = t.run(&["export"]);
    out.status(2);
    assert!(
        out.stderr.contains(&format!(
            "schema version 42, but this ss supports up to {}",
            ss::store::schema::SCHEMA_VERSION
        )),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn corrupt_store_is_an_error_that_keeps_the_file() {
    let t = Test::new();
    let path = t.write("runtime/state/streamsuites.db", &"not sqlite ".repeat(500));
    let out = t.run(&["export"]);
    out.status(2);
    assert!(
        out.stderr.contains("corrupt or not an SQLite database"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "not sqlite ".repeat(500)
    );
}

#[test]
fn the_store_written_by_the_writer_reads_back() {
    let t = Test::new();
    populate(t.path());
    let store = Store::open(&db_path(t.path())).unwrap();
    assert_eq!(store.chat_event_count().unwrap(), 3);
    assert_eq!(store.clips(None).unwrap().len(), 2);
}
