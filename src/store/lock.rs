//! The writer lock: one writer per store, across processes.
//!
//! `streamsuites.db.writer-lock` beside the database carries an OS file lock (released when its
//! holder exits, even by `kill -9`). Whoever holds it is the store's writer: the store writer thread
//! of `ss run`, `ss migrate`, `ss clip` with no `ss run` running. Only the writer migrates the store
//! (see [`super::open`]). The holder writes a line about itself into the file ([`WriterInfo`]: pid,
//! version, schema, since when), so a reader refused for the schema version can say which `ss` holds
//! the store. A holder from before this record leaves the file empty, and is reported as such.

use super::error::{Holder, StoreError, WriterInfo};
use super::schema;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The lock file next to the database at `db`.
pub fn writer_lock_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".writer-lock");
    db.with_file_name(name)
}

/// The command this process runs, recorded for the writer lock's readers (set once, by the CLI).
static HOLDER_COMMAND: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Says which command this process is (`ss run`, `ss clip --now`), so a process refused the lock
/// can name who holds it. The first call wins.
pub fn set_holder_command(command: &'static str) {
    let _ = HOLDER_COMMAND.set(command);
}

/// The held writer lock; dropping it releases the store to the next writer.
#[derive(Debug)]
pub struct WriterLock {
    _file: std::fs::File,
}

impl WriterLock {
    /// Takes the lock of the store at `db`, or says [`StoreError::Locked`] when another holds it.
    pub fn take(db: &Path) -> Result<WriterLock, StoreError> {
        let mut file = lock_file(db)?;
        let info = WriterInfo {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            schema: schema::SCHEMA_VERSION,
            since: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            command: HOLDER_COMMAND.get().map(|c| (*c).to_string()),
        };
        // Only a courtesy for readers' messages: the lock is what counts, so a failed note is no error.
        let line = serde_json::to_string(&info).unwrap_or_default();
        if let Err(e) = file
            .set_len(0)
            .and_then(|()| writeln!(file, "{line}"))
            .and_then(|()| file.flush())
        {
            tracing::debug!(error = %e, "The writer lock file could not say who holds it.");
        }
        Ok(WriterLock { _file: file })
    }
}

/// Opens the lock file of the store at `db` and locks it; [`StoreError::Locked`] when another holds it.
fn lock_file(db: &Path) -> Result<std::fs::File, StoreError> {
    let path = writer_lock_path(db);
    let io = |source| StoreError::Io {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked {
            path: db.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}

/// Whether another process (a running `ss run`) holds the writer lock of the store at `db` now.
/// Checking takes the lock for an instant when it is free (and leaves the file's record as it was).
pub fn writer_held_elsewhere(db: &Path) -> Result<bool, StoreError> {
    match lock_file(db) {
        Ok(_released_on_drop) => Ok(false),
        Err(StoreError::Locked { .. }) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Who holds the store at `db`, for a refusal's message: nobody, or a running writer and what it
/// recorded about itself.
pub(crate) fn holder(db: &Path) -> Holder {
    if !writer_held_elsewhere(db).unwrap_or(false) {
        return Holder::Nobody;
    }
    let info = std::fs::read_to_string(writer_lock_path(db))
        .ok()
        .and_then(|text| serde_json::from_str(text.trim()).ok())
        .map(Box::new);
    Holder::Running(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_says_who_it_is_and_a_second_taker_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        assert_eq!(holder(&db), Holder::Nobody);
        let lock = WriterLock::take(&db).unwrap();
        assert!(matches!(
            WriterLock::take(&db),
            Err(StoreError::Locked { .. })
        ));
        let Holder::Running(Some(info)) = holder(&db) else {
            panic!("{:?}", holder(&db));
        };
        assert_eq!(info.pid, std::process::id());
        assert_eq!(info.schema, schema::SCHEMA_VERSION);
        drop(lock);
        assert_eq!(holder(&db), Holder::Nobody);
    }
}
