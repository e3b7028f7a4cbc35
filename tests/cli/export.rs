//! `ss export`: the whole catalogue from config and store, schema-valid, deterministic, no churn.

use crate::harness::{Test, repo, wait_until};
use chrono::DateTime;
use serde_json::Value;
use ss::actions::{Action, ActionKind};
use ss::event::{Author, ChatEvent, Platform};
use ss::routing::{PublishedClip, rules};
use ss::store::{ClipState, ClipStateChange, NewClip, StoreReader, StoreWriter, WriteOp, db_path};
use std::collections::BTreeMap;
use std::path::Path;

/// Every file of the catalogue, as `ss export` writes it under `runtime/`.
pub const CATALOGUE: [&str; 35] = [
    "exports/meta.json",
    "exports/version.json",
    "exports/about.public.json",
    "exports/platforms.json",
    "exports/runtime_snapshot.json",
    "exports/clips.json",
    "exports/polls.json",
    "exports/tallies.json",
    "exports/scoreboards.json",
    "exports/giveaways.json",
    "exports/quotes.json",
    "exports/points.json",
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
    "signals/chat_trends.json",
    "admin/creators.json",
    "admin/chat_triggers.json",
    "admin/jobs.json",
    "admin/giveaways.json",
    "admin/people.json",
    "admin/rate_limits.json",
    "admin/quotas.json",
    "admin/moderation.json",
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

/// Waits until everything `writer` was sent is committed.
fn flush(writer: &StoreWriter) {
    let (ack, done) = tokio::sync::oneshot::channel();
    writer.blocking_send(WriteOp::Flush(ack)).unwrap();
    done.blocking_recv().unwrap();
}

/// Records a small, fixed history through the real store writer: chat, votes, tallies, scores,
/// clips, actions, quota and audit entries. Voter ids all start with `voter-secret-`. Notifications
/// are routed as the run does it (the root's discord.json and posting.json): the clip job's
/// published rows, the outbox sink's notify row.
pub fn populate(root: &Path) {
    let config = ss::config::Config::load(root).unwrap();
    let writer = StoreWriter::spawn(&db_path(root), 64).unwrap();
    let t0 = 1_795_000_000_000;
    let before_publishing = vec![
        chat(Platform::named("twitch"), "tw-1", t0, "alice", "hype hype"),
        chat(
            Platform::named("kick"),
            "k-1",
            t0 + 1_000,
            "bob",
            "!vote zelda",
        ),
        chat(
            Platform::named("youtube"),
            "yt-1",
            t0 + 2_000,
            "carol",
            "gg",
        ),
        chat(Platform::named("twitch"), "tw-1", t0, "alice", "hype hype"),
        vote(
            Platform::named("kick"),
            "voter-secret-1",
            "zelda",
            t0 + 1_000,
        ),
        vote(
            Platform::named("twitch"),
            "voter-secret-2",
            "mario",
            t0 + 1_500,
        ),
        vote(
            Platform::named("youtube"),
            "voter-secret-3",
            "zelda",
            t0 + 1_700,
        ),
        action(
            "hype-tally",
            Platform::named("twitch"),
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
            Platform::named("youtube"),
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
            Platform::named("twitch"),
            "ALICE",
            30,
            Some("That play"),
            t0 + 3_000,
        ),
    ];
    for op in before_publishing {
        writer.blocking_send(op).unwrap();
    }
    // The clip job reads the clip, asks routing, and records `published` with its rows.
    flush(&writer);
    let clip01 = StoreReader::open(&db_path(root))
        .unwrap()
        .clip("clip01")
        .unwrap()
        .unwrap();
    let url = "https://clips.example/clip01.mp4";
    let published = PublishedClip {
        clip: &clip01,
        url,
        thumbnail_url: None,
        at: at(t0 + 60_000),
    };
    let mut ops = vec![
        WriteOp::ClipState(Box::new(ClipStateChange {
            clip_id: "clip01".into(),
            state: ClipState::Published,
            at: published.at,
            detail: None,
            url: Some(url.into()),
            thumbnail_url: None,
            outbox: rules::clip_published(&config, &published),
        })),
        clip(
            "clip02",
            Platform::named("kick"),
            "BOB",
            15,
            None,
            t0 + 4_000,
        ),
    ];
    let announce = Action {
        thread: true,
        trigger_id: "announce".into(),
        creator: "demo".into(),
        platform: Platform::named("twitch"),
        message_id: "tw-1".into(),
        at: at(t0 + 4_500),
        kind: ActionKind::Notify {
            channel: "general".into(),
            text: "ALICE is hyped".into(),
        },
    };
    ss::effects::sinks::OutboxSink.accept(announce, &mut ops);
    ops.extend([
        WriteOp::QuotaSpend {
            platform: Platform::named("youtube"),
            day: chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(),
            units: 1234,
        },
        WriteOp::Audit {
            at: at(t0 + 5_000),
            action: "config_reloaded".into(),
            detail: "triggers.json".into(),
        },
    ]);
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
        out.stdout.ends_with("35 written, 0 unchanged\n"),
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
    // Make a rewrite detectable even on file systems with coarse mtimes: every file dated long ago.
    let long_ago = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    for name in CATALOGUE {
        std::fs::File::options()
            .write(true)
            .open(t.path().join("runtime").join(name))
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
    }
    let before = mtimes_and_bytes(&t);
    let out = t.run(&["export"]);
    out.status(0);
    assert_eq!(
        out.stdout,
        format!(
            "exported 35 files to {}: 0 written, 35 unchanged\n",
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
    // The second export in a later second, so any unredacted time would differ.
    let first = chrono::Utc::now().timestamp();
    wait_until(
        "the clock's next second",
        std::time::Duration::from_secs(5),
        || chrono::Utc::now().timestamp() > first,
    );
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

/// A store at `SCHEMA_VERSION - 1` in WAL mode with a row in it, as an older `ss run` keeps it.
fn older_store(t: &Test) -> (std::path::PathBuf, rusqlite::Connection) {
    let path = db_path(t.path());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let older = ss::store::schema::SCHEMA_VERSION - 1;
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL").unwrap();
    for step in &ss::store::schema::MIGRATIONS[..usize::try_from(older).unwrap()] {
        conn.execute_batch(step).unwrap();
    }
    conn.execute_batch(&format!(
        "PRAGMA user_version = {older};
         INSERT INTO audit (at_ms, action, detail) VALUES (1, 'kept', 'an older run wrote this');
         PRAGMA wal_checkpoint(TRUNCATE);"
    ))
    .unwrap();
    (path, conn)
}

fn user_version(conn: &rusqlite::Connection) -> i64 {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn export_from_a_newer_ss_refuses_the_store_of_a_running_older_ss_run() {
    let t = Test::new();
    let (path, running_writer) = older_store(&t);
    let older = ss::store::schema::SCHEMA_VERSION - 1;
    // The older `ss run` holds the writer lock for as long as it runs; one from before this build
    // leaves the lock file empty.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(ss::store::lock::writer_lock_path(&path))
        .unwrap();
    lock.try_lock().unwrap();
    let before = std::fs::read(&path).unwrap();

    let out = t.run(&["export"]);
    out.status(2);
    let stderr = out.stderr_in(&t);
    assert!(
        stderr.contains(&format!(
            "[ROOT]/runtime/state/streamsuites.db: the database has schema version {older}, older than this ss"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("it was left unchanged"), "{stderr}");
    assert!(
        stderr.contains("a running `ss run` from an older ss holds it; stop that `ss run`, then start `ss run` from this ss, which migrates the store"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is unchanged"
    );
    assert_eq!(user_version(&running_writer), older, "not migrated");
    assert!(
        !t.path().join("runtime/exports/meta.json").exists(),
        "nothing was exported from a store it cannot read"
    );

    // A holder recent enough to say who it is is named.
    std::fs::write(
        ss::store::lock::writer_lock_path(&path),
        format!(
            r#"{{"pid":4242,"version":"0.3.0-beta","schema":{older},"since":"2026-12-01T20:00:00Z"}}"#
        ),
    )
    .unwrap();
    let out = t.run(&["export"]);
    out.status(2);
    assert!(
        out.stderr.contains(&format!(
            "in use by a running ss 0.3.0-beta (pid 4242, since 2026-12-01T20:00:00Z), which writes schema {older}"
        )),
        "{}",
        out.stderr
    );
    // `ss migrate` is refused while it runs.
    let out = t.run(&["migrate"]);
    out.status(2);
    assert!(
        out.stderr.contains("locked by another process"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(user_version(&running_writer), older);

    // The older run stops: the reader still refuses, and says how to migrate on purpose.
    drop(lock);
    drop(running_writer);
    let out = t.run(&["export"]);
    out.status(2);
    assert!(
        out.stderr
            .contains("no `ss run` is using it; run `ss migrate`"),
        "{}",
        out.stderr
    );
    let out = t.run(&["migrate"]);
    out.status(0);
    assert!(
        out.stdout.contains(&format!(
            "migrated from schema version {older} to {}",
            ss::store::schema::SCHEMA_VERSION
        )),
        "{}",
        out.stdout
    );
    t.run(&["export"]).status(0);
    let audit = read_json(&t, "runtime/admin/audit.json");
    assert_eq!(audit["entries"][0]["detail"], "an older run wrote this");
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
    let store = StoreReader::open(&db_path(t.path())).unwrap();
    assert_eq!(store.chat_event_count().unwrap(), 3);
    assert_eq!(store.clips(None).unwrap().len(), 2);
}
