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

pub mod atomic;
mod builders;
pub mod catalogue;
pub mod publish;
pub mod runtime_view;
pub mod sanitize;
pub mod schemas;
pub mod watch;
pub mod writer;

use crate::config::Config;
use crate::store::{Store, StoreError};
use crate::version::VersionStamp;
use chrono::{DateTime, SecondsFormat, Utc};
use runtime_view::RuntimeView;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

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
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
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
    pub store: Option<&'a Store>,
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
/// empty. `ss export` passes [`RuntimeView::idle`].
pub fn build_all(
    root: &Path,
    config: &Config,
    store: Option<&Store>,
    runtime: &RuntimeView,
    now: DateTime<Utc>,
) -> Result<Vec<ExportFile>, ExportError> {
    let stamp = VersionStamp::read(root).map_err(|e| ExportError::Input {
        path: crate::version::version_file(root),
        detail: format!("{e:#}"),
        hint: "fix runtime/version.json or run `ss update-version`".into(),
    })?;
    let inputs = Inputs {
        root,
        config,
        store,
        runtime,
        now,
        stamp,
    };
    let mut files = Vec::with_capacity(CATALOGUE.len() - 1);
    for entry in CATALOGUE.iter().filter(|e| **e != catalogue::MANIFEST) {
        let body = builders::build(entry, &inputs)?;
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
