//! Why the store could not be opened, read or written: [`StoreError`], one variant per thing a
//! caller (or an operator reading the message) does something different about.
//!
//! Every message that refuses a file says the file was left unchanged and how to go on. A store at
//! another schema version than this binary's names who holds it ([`Holder`], read from the writer
//! lock file), because the fix differs: stop the running `ss run`, or migrate a store nobody runs.

use rusqlite::ErrorCode;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the writer records about itself in the writer lock file (see `super::lock`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriterInfo {
    pub pid: u32,
    /// The holder's `ss` version.
    pub version: String,
    /// The schema version the holder writes.
    pub schema: i64,
    /// When it took the lock (RFC 3339).
    pub since: String,
    /// Which command holds it (`ss run`, `ss clip --now`, `ss migrate`), when the holder said
    /// (see `super::lock::set_holder_command`); older holders did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// Who holds the writer lock of a store that was refused for its schema version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// No process holds it: no `ss run` is using the store.
    Nobody,
    /// A running `ss run` (or `ss migrate`, `ss clip --now`) holds it; what it recorded about itself,
    /// when it is recent enough to record that.
    Running(Option<Box<WriterInfo>>),
}

/// Why the store could not be opened, read or written. Callers branch on the variant.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{path}: the database has schema version {found}, but this ss supports up to {supported}\n  \
         hint: it was written by a newer ss; upgrade ss, or point --root at another runtime (the file was not changed)"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// A store at an older schema, which only its writer may migrate.
    #[error("{}", older_message(path, *found, *supported, holder))]
    OlderSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
        holder: Holder,
    },
    #[error(
        "{path}: the database is corrupt or not an SQLite database ({detail})\n  \
         hint: the file was left untouched; move it aside (it can be inspected with `sqlite3 FILE .recover`) and ss will start a new one"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path}: the database is locked by another process\n  \
         hint: stop the other ss (or sqlite3 session) holding it, then retry; nothing was changed"
    )]
    Locked { path: PathBuf },
    #[error(
        "{path}: no store there\n  \
         hint: `ss run` records one (with chat_log.enabled in system.json); pass --root DIR for another runtime root"
    )]
    Missing { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: SQLite error: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// The store refused a change (an unknown clip, a state it cannot move to); nothing changed.
    #[error("{0}")]
    Refused(String),
    /// The writer thread has stopped; the op was not accepted.
    #[error("the store writer has stopped; the write was not accepted")]
    Closed,
    /// Shutdown with a storage that kept failing: these ops were never committed.
    #[error(
        "the store could not be written through shutdown ({reason}); {ops} queued writes ({events} chat events) were not recorded\n  \
         hint: free space on the disk holding runtime/state (or fix its permissions), then run again"
    )]
    Abandoned {
        ops: u64,
        events: u64,
        reason: String,
    },
}

impl StoreError {
    /// Classifies an SQLite error on `path`: corrupt and locked files get their own variants.
    pub(crate) fn from_sqlite(path: &Path, source: rusqlite::Error) -> StoreError {
        let path = path.to_path_buf();
        match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt {
                path,
                detail: source.to_string(),
            },
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Locked { path }
            }
            _ => StoreError::Sqlite { path, source },
        }
    }
}

/// The message of [`StoreError::OlderSchema`]: what was found, that nothing changed, and the fix
/// for whoever holds the store.
fn older_message(path: &Path, found: i64, supported: i64, holder: &Holder) -> String {
    let ours = env!("CARGO_PKG_VERSION");
    let mut text = format!(
        "{}: the database has schema version {found}, older than this ss ({ours}) reads (schema {supported}); it was left unchanged\n  hint: ",
        path.display()
    );
    let restart = "stop that `ss run`, then start `ss run` from this ss, which migrates the store (or run `ss migrate` once it has stopped)";
    match holder {
        Holder::Running(Some(info)) => text.push_str(&format!(
            "it is in use by a running ss {} (pid {}, since {}), which writes schema {}; {restart}",
            info.version, info.pid, info.since, info.schema
        )),
        Holder::Running(None) => text.push_str(&format!(
            "a running `ss run` from an older ss holds it; {restart}"
        )),
        Holder::Nobody => text.push_str(&format!(
            "no `ss run` is using it; run `ss migrate` (or start `ss run`) to bring it to schema {supported}"
        )),
    }
    text
}
