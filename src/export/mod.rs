//! Exports: snapshot builders, the atomic writer, the manifest, and the publish mirror.
//!
//! [`build_all`] turns config, store and live runtime state into one [`ExportFile`] per entry of the
//! [`catalogue`], each a JSON document that starts with the `meta` block of DESIGN §4 and matches its
//! schema in `schemas/exports/`. [`writer::write_all`] puts them on disk atomically, skipping files
//! whose payload did not change, and writes `exports/meta.json`. [`publish`] mirrors the result into
//! a dashboard checkout; [`watch`] keeps that mirror current. `ss run` and `ss export` share all of it.
//!
//! Builders are pure over their inputs (time is passed in as `now`), and every list has a fixed order,
//! so the same store and config always give byte-identical payloads.

pub mod beneath;
mod builders;
pub mod catalogue;
pub mod publish;
pub mod runtime_view;
pub mod schemas;
pub mod watch;
pub mod writer;

use crate::config::Config;
use crate::store::{StoreError, StoreReader};
use crate::version::VersionStamp;
use chrono::{DateTime, SecondsFormat, Utc};
use runtime_view::RuntimeView;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

pub use builders::clip_entries;
pub use catalogue::{CATALOGUE, Entry, Visibility};

/// The value of every export's `meta.source`.
pub const SOURCE: &str = "streamsuites-runtime";

/// One built export, ready to write.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportFile {
    /// Path below the output tree, e.g. `exports/clips.json`.
    pub name: &'static str,
    pub visibility: Visibility,
    /// Schema id, e.g. `streamsuites.clips.v1`.
    pub schema: &'static str,
    /// The whole document, `meta` first.
    pub payload: Value,
}

impl ExportFile {
    /// Problems of the payload against its schema (empty when valid).
    pub fn validate(&self) -> Vec<String> {
        schemas::validate(self.schema, &self.payload)
    }
}

/// Why exports could not be built or written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An input file the exports read (changelog, roadmap, version) is unreadable or malformed.
    #[error("{path}: {detail}\n  hint: {hint}")]
    Input {
        path: PathBuf,
        detail: String,
        hint: String,
    },
    /// A file could not be opened because the process has no file handle left: the file is fine.
    #[error(
        "{path} could not be opened: {source}\n  hint: the process has run out of file handles (the file itself is fine); raise the limit (`ulimit -n`, or LimitNOFILE= for a service) or lower system.json http.max_connections"
    )]
    NoFileHandles {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Some files could not be written (each tried, the others written): which, and why.
    #[error("{}", not_written_message(dir, failed))]
    NotWritten {
        dir: PathBuf,
        /// The files, named below `dir`, with their write errors.
        failed: Vec<(String, std::io::Error)>,
    },
}

/// Why version.json could not be read: no file handle left (the file is fine), or the file itself.
fn version_error(root: &Path, e: anyhow::Error) -> ExportError {
    let path = crate::version::version_file(root);
    match out_of_file_handles(&e) {
        Some(source) => ExportError::NoFileHandles { path, source },
        None => ExportError::Input {
            path,
            detail: format!("{e:#}"),
            hint: "fix runtime/version.json or run `ss update-version`".into(),
        },
    }
}

/// The "too many open files" error (of the process, EMFILE, or of the system, ENFILE) in `error`'s
/// chain, if that is what it is.
fn out_of_file_handles(error: &anyhow::Error) -> Option<std::io::Error> {
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .filter_map(std::io::Error::raw_os_error)
        .find(|code| matches!(*code, ENFILE | EMFILE))
        .map(std::io::Error::from_raw_os_error)
}

/// How many failed files [`ExportError::NotWritten`] names before "and N more".
const NAMED_FAILURES: usize = 5;

fn not_written_message(dir: &Path, failed: &[(String, std::io::Error)]) -> String {
    let mut named: Vec<String> = failed
        .iter()
        .take(NAMED_FAILURES)
        .map(|(name, e)| format!("{name} ({e})"))
        .collect();
    if failed.len() > NAMED_FAILURES {
        named.push(format!("and {} more", failed.len() - NAMED_FAILURES));
    }
    format!(
        "{} export file{} could not be written under {}: {}\n  hint: free space on that disk (or fix its permissions); the other files were written; these are left as they were until the next write (`ss export` rewrites them all)",
        failed.len(),
        if failed.len() == 1 { "" } else { "s" },
        dir.display(),
        named.join(", ")
    )
}

impl ExportError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> ExportError {
        ExportError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Everything a builder reads.
pub(crate) struct Inputs<'a> {
    pub root: &'a Path,
    pub config: &'a Config,
    pub store: Option<&'a StoreReader>,
    pub runtime: &'a RuntimeView,
    pub now: DateTime<Utc>,
    pub stamp: VersionStamp,
}

/// Formats a time the way every export does: RFC 3339, UTC, `Z`, whole seconds unless finer.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The `meta` block of one export.
pub fn meta_block(
    entry: &Entry,
    generated_at: DateTime<Utc>,
    stamp: &VersionStamp,
) -> serde_json::Map<String, Value> {
    let block = json!({
        "schema": entry.schema,
        "generated_at": generated_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "source": SOURCE,
        "visibility": entry.visibility.as_str(),
        "runtime": {"version": stamp.version, "build": stamp.build},
    });
    let mut doc = serde_json::Map::new();
    doc.insert("meta".into(), block);
    doc
}

/// Builds every export of the catalogue except the manifest (which [`writer::write_all`] writes from
/// the files on disk). `store` is `None` when no database exists yet: the exports are then valid and
/// empty. `ss export` passes [`RuntimeView::idle`]. Every file is read from the store at one moment
/// (one read transaction), so files and the numbers inside each agree with each other.
pub fn build_all(
    root: &Path,
    config: &Config,
    store: Option<&StoreReader>,
    runtime: &RuntimeView,
    now: DateTime<Utc>,
) -> Result<Vec<ExportFile>, ExportError> {
    let stamp = VersionStamp::read(root).map_err(|e| version_error(root, e))?;
    let inputs = Inputs {
        root,
        config,
        store,
        runtime,
        now,
        stamp,
    };
    match store {
        Some(store) => store.at_one_moment(|| build_each(&inputs)),
        None => build_each(&inputs),
    }
}

/// [`build_all`]'s loop over the catalogue.
fn build_each(inputs: &Inputs<'_>) -> Result<Vec<ExportFile>, ExportError> {
    let now = inputs.now;
    let mut files = Vec::with_capacity(CATALOGUE.len() - 1);
    for entry in CATALOGUE.iter().filter(|e| **e != catalogue::MANIFEST) {
        let body = builders::build(entry, inputs)?;
        let mut payload = meta_block(entry, now, &inputs.stamp);
        payload.extend(body);
        files.push(ExportFile {
            name: entry.name,
            visibility: entry.visibility,
            schema: entry.schema,
            payload: Value::Object(payload),
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Platform;
    use crate::export::runtime_view::SourceView;
    use crate::lanes::LaneSnapshot;
    use crate::sources::{ConnectionState, StatusHandle};
    use crate::telemetry::{RateWindow, TelemetryError, TelemetryEvent};

    fn demo_config() -> Config {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        Config::load(root).expect("the demo config loads")
    }

    fn live_view(now: DateTime<Utc>) -> RuntimeView {
        let status = StatusHandle::new();
        status.set_state(ConnectionState::Connected);
        status.record_events(1, now);
        status.record_error(
            "reconnecting: GET https://api.example/chat?key=AIzaSecretKey123456 timed out",
        );
        let mut view = RuntimeView {
            started_at: Some(now - chrono::Duration::seconds(90)),
            sources: vec![SourceView {
                creator: "demo".into(),
                platform: Platform::named("sim"),
                status: status.snapshot(),
            }],
            ..RuntimeView::idle()
        };
        view.counters.events_received = 10;
        view.counters.actions.insert("reply".into(), 2);
        view.lanes.insert(
            "data".into(),
            LaneSnapshot {
                capacity: 8192,
                bytes_capacity: 8 << 20,
                depth: 3,
                bytes: 1024,
                share: 8192,
                sent: 10,
                shed: 2,
                dropped: 1,
                ticks_sent: 40,
                ticks_dropped: 0,
                creators: std::collections::BTreeMap::from([(
                    "demo".to_string(),
                    crate::lanes::CreatorLane {
                        received: 13,
                        sent: 10,
                        shed: 2,
                        dropped: 1,
                        depth: 3,
                        ticks_sent: 40,
                        ticks_dropped: 0,
                    },
                )]),
            },
        );
        view.telemetry_events.push(TelemetryEvent {
            at: now,
            kind: "source_connected".into(),
            subsystem: "sources".into(),
            message: "sim connected".into(),
        });
        view.telemetry_errors.push(TelemetryError {
            at: now,
            error_type: "login_failed".into(),
            subsystem: "twitch".into(),
            message: "login failed with PASS oauth:hunter2hunter2\nstack backtrace:\n  0: ss::sources::twitch".into(),
        });
        view.rates.push(RateWindow {
            window_s: 60,
            rates: [("events".to_string(), 1.0 / 3.0)].into(),
            totals: [("events".to_string(), 20)].into(),
        });
        view.validated.insert("demo/sim".into(), now);
        view
    }

    #[test]
    fn live_runtime_exports_validate_and_leak_no_secrets_or_traces() {
        let config = demo_config();
        let now = DateTime::from_timestamp(1_795_000_000, 0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let files = build_all(dir.path(), &config, None, &live_view(now), now).unwrap();
        assert_eq!(files.len(), CATALOGUE.len() - 1);
        for file in &files {
            assert_eq!(file.validate(), Vec::<String>::new(), "{}", file.name);
            let text = file.payload.to_string();
            for secret in ["hunter2hunter2", "AIzaSecretKey123456", "stack backtrace"] {
                assert!(!text.contains(secret), "{} leaks {secret}", file.name);
            }
        }
        let get = |name: &str| &files.iter().find(|f| f.name == name).unwrap().payload;
        let snapshot = get("exports/runtime_snapshot.json");
        assert_eq!(snapshot["running"], true);
        assert_eq!(snapshot["uptime_s"], 90);
        assert_eq!(snapshot["sources"][0]["state"], "connected");
        assert_eq!(snapshot["lanes"]["data"]["dropped"], 1);
        assert_eq!(snapshot["counters"]["actions"]["reply"], 2);
        let errors = get("exports/telemetry/errors.json");
        assert_eq!(
            errors["errors"][0]["message"],
            "login failed with PASS oauth:[redacted]"
        );
        let platforms = get("exports/platforms.json");
        assert_eq!(
            platforms["platforms"][5]["creators"][0]["state"],
            "connected"
        );
        assert_eq!(
            get("exports/telemetry/rates.json")["windows"][0]["rates"]["events"],
            0.333
        );
    }

    /// With no file handle left, the export error says so and does not blame version.json.
    #[test]
    fn running_out_of_file_handles_is_named_as_such() {
        let root = Path::new("/srv/ss");
        let emfile = anyhow::Error::new(std::io::Error::from_raw_os_error(24))
            .context("reading /srv/ss/runtime/version.json");
        let text = version_error(root, emfile).to_string();
        assert!(text.contains("run out of file handles"), "{text}");
        assert!(!text.contains("fix runtime/version.json"), "{text}");
        let bad = anyhow::anyhow!("expected value at line 1 column 1");
        let text = version_error(root, bad).to_string();
        assert!(text.contains("fix runtime/version.json"), "{text}");
    }

    #[test]
    fn idle_exports_with_no_store_are_valid_and_empty() {
        let config = demo_config();
        let dir = tempfile::tempdir().unwrap();
        let files = build_all(dir.path(), &config, None, &RuntimeView::idle(), Utc::now()).unwrap();
        for file in &files {
            assert_eq!(file.validate(), Vec::<String>::new(), "{}", file.name);
        }
        let clips = &files
            .iter()
            .find(|f| f.name == "exports/clips.json")
            .unwrap()
            .payload;
        assert_eq!(clips["clips"], serde_json::json!([]));
    }

    /// Grows the store's logs (chat, actions, votes, tallies, scores) by `n` rows each.
    fn grow_logs(store: &crate::store::Store, from: i64, n: i64) {
        let conn = store.conn();
        let rows = |table_and_values: &str| {
            conn.execute(
                &format!(
                    "INSERT INTO {table_and_values} FROM (WITH RECURSIVE k(i) AS
                       (SELECT {from} UNION ALL SELECT i + 1 FROM k WHERE i < {last}) SELECT i FROM k)",
                    last = from + n - 1
                ),
                [],
            )
            .unwrap();
        };
        rows(
            "chat_events (platform, message_id, creator, channel, ts_ms, kind, author_id, author_login,
               author_name, roles, text) SELECT 'sim', 'm' || i, 'demo', 'demo', 1700000000000 + i,
               'message', 'u' || (i % 50), 'user', 'User', 0, 'hello'",
        );
        rows(
            "actions (creator, platform, trigger_id, action_type, payload, at_ms, message_id)
               SELECT 'demo', 'sim', 't' || (i % 5), 'validation_passed',
               '{\"type\":\"validation_passed\"}', 1700000000000 + i, 'm' || i",
        );
        rows(
            "tally_events (creator, tally, amount, platform, user_id, at_ms)
               SELECT 'demo', 'hype', 1, 'sim', 'u' || (i % 50), 1700000000000 + i",
        );
        rows(
            "score_events (creator, board, platform, user_id, user_name, points, at_ms)
               SELECT 'demo', 'gg', 'sim', 'u' || (i % 50), 'User', 1, 1700000000000 + i",
        );
        rows(
            "poll_votes (creator, poll, platform, user_id, option, at_ms)
               SELECT 'demo', 'p' || (i % 3), 'sim', 'u' || i, 'a', 1700000000000 + i",
        );
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
    }

    /// SQLite's virtual machine steps (in hundreds) that building every export takes.
    fn export_work(config: &Config, path: &Path) -> u64 {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU64, Ordering};
        let mut reader = StoreReader::open(path).unwrap();
        let steps = Arc::new(AtomicU64::new(0));
        let counted = steps.clone();
        reader
            .conn_mut()
            .progress_handler(
                100,
                Some(move || {
                    counted.fetch_add(1, Ordering::Relaxed);
                    false
                }),
            )
            .unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        build_all(
            root,
            config,
            Some(&reader),
            &RuntimeView::idle(),
            Utc::now(),
        )
        .unwrap();
        steps.load(Ordering::Relaxed)
    }

    #[test]
    fn export_work_does_not_grow_with_the_logs() {
        let dir = tempfile::tempdir().unwrap();
        let path = crate::store::db_path(dir.path());
        let store = crate::store::Store::open_as_writer(&path).unwrap();
        let config = demo_config();
        grow_logs(&store, 1, 2_000);
        let small = export_work(&config, &path);
        grow_logs(&store, 2_001, 18_000);
        let large = export_work(&config, &path);
        // Ten times the rows: the same reads (a B-tree a level deeper may add a few steps).
        assert!(
            large <= small + small / 5,
            "export work grew with the logs: {small} hundred VM steps at 2,000 rows, {large} at 20,000"
        );
    }
}
