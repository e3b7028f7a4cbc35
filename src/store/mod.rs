//! The durable store: one SQLite database at `runtime/state/streamsuites.db`, in WAL mode.
//!
//! [`Store::open`] creates the file on first use and migrates it to [`schema::SCHEMA_VERSION`]
//! (`PRAGMA user_version`). A database written by a newer `ss` is refused ([`StoreError::NewerSchema`])
//! rather than silently misread, and a corrupt or locked file is reported as such and left exactly as
//! it was, so nothing already recorded is lost. Writes go through the one writer thread in [`writer`].
//! Each domain owns its writes and its reads: [`chat`] (the chat log), [`actions`] (the action log and
//! the effects it dispatches), [`community`] (polls, tallies, scores), [`clips`], [`outbox`],
//! [`checkpoints`] (polling sources' resume points), [`quotas`], [`audit`] and [`runs`] (where the
//! live trigger state started afresh, for `ss replay`). [`Store::open_read_only`] is for readers
//! that must change nothing (`ss replay`): it neither creates nor migrates.

pub mod actions;
pub mod audit;
pub mod chat;
pub mod checkpoints;
pub mod clips;
pub mod community;
pub mod outbox;
pub mod quotas;
mod rows;
pub mod runs;
pub mod schema;
pub mod ticks;
pub mod writer;

use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use actions::TriggerFires;
pub use audit::AuditRow;
pub use chat::ChatTotal;
pub use checkpoints::Checkpoint;
pub use clips::{ClipHistoryRow, ClipJobRow, ClipRow, ClipState, ClipStateChange, NewClip};
pub use community::*;
pub use outbox::{Destination, NewOutbox, OutboxResult, OutboxRow};
pub use quotas::{ProjectQuotaRow, QuotaRow};
pub use runs::{RecordedRunMark, RunMark, RunMarkKind};
pub use ticks::RecordedTick;
pub use writer::{Degraded, StoreWriter, WriteOp, WriterStats, WriterStatsSnapshot};

/// How long an open or a write waits for another process's lock before reporting it.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The database file below a runtime root.
pub fn db_path(root: &Path) -> PathBuf {
    root.join("runtime").join("state").join("streamsuites.db")
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

/// An open store: one connection, migrated to the current schema.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating it and its directory when missing) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with_timeout(path, BUSY_TIMEOUT)
    }

    /// [`Store::open`] with a chosen wait for other processes' locks.
    pub fn open_with_timeout(path: &Path, busy_timeout: Duration) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let sqlite = |e| StoreError::from_sqlite(path, e);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
        conn.busy_timeout(busy_timeout).map_err(sqlite)?;
        // Reading the version first touches the file header: a corrupt file fails here, unchanged.
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sqlite)?;
        if found > schema::SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: path.to_path_buf(),
                found,
                supported: schema::SCHEMA_VERSION,
            });
        }
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(sqlite)?;
        if !mode.eq_ignore_ascii_case("wal") {
            // Another process holds the file in rollback mode; WAL could not be switched on.
            return Err(StoreError::Locked {
                path: path.to_path_buf(),
            });
        }
        // NORMAL is durable across process crashes in WAL mode; only a power cut can lose the last commits.
        // The writer's connection adds its own cache and checkpoint settings (writer::WRITER_PRAGMAS).
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;")
            .map_err(sqlite)?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.migrate(found)?;
        Ok(store)
    }

    /// Opens an existing database for reading only: nothing is created, migrated or written. A
    /// database at an older schema version is read as it is (readers check for the tables they
    /// need, see [`Store::has_table`]); a newer one is refused.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        let sqlite = |e| StoreError::from_sqlite(path, e);
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sqlite)?;
        if found > schema::SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: path.to_path_buf(),
                found,
                supported: schema::SCHEMA_VERSION,
            });
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Whether the database has table `name` (a store at an older schema version may not).
    pub(crate) fn has_table(&self, name: &str) -> Result<bool, StoreError> {
        self.conn()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }

    /// Runs every migration step after `from`, in one transaction.
    fn migrate(&mut self, from: i64) -> Result<(), StoreError> {
        if from == schema::SCHEMA_VERSION {
            return Ok(());
        }
        let path = self.path.clone();
        let sqlite = |e| StoreError::from_sqlite(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        // Re-read inside the write lock: another process may have migrated in the meantime.
        let current: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sqlite)?;
        let start = usize::try_from(current).unwrap_or_default();
        for step in schema::MIGRATIONS.iter().skip(start) {
            tx.execute_batch(step).map_err(sqlite)?;
        }
        tx.execute_batch(&format!("PRAGMA user_version = {}", schema::SCHEMA_VERSION))
            .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        tracing::info!(
            path = %self.path.display(),
            from = current,
            to = schema::SCHEMA_VERSION,
            "Store migrated."
        );
        Ok(())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Runs `sql` and maps every row; a row that does not convert is an error naming it.
    pub(crate) fn rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn().prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt.query_map(params, map).map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub(crate) fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError::from_sqlite(&self.path, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_and_migrates_a_new_database_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let store = Store::open(&path).unwrap();
        assert!(path.exists());
        assert_eq!(store.schema_version().unwrap(), schema::SCHEMA_VERSION);
        let mode: String = store
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(store);
        // Opening again is a no-op migration.
        assert_eq!(
            Store::open(&path).unwrap().schema_version().unwrap(),
            schema::SCHEMA_VERSION
        );
    }

    #[test]
    fn newer_schema_is_refused_and_left_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .unwrap();
        drop(conn);
        let err = Store::open(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::NewerSchema { found: 99, supported, .. } if supported == schema::SCHEMA_VERSION),
            "{err:?}"
        );
        assert!(err.to_string().contains("upgrade ss"), "{err}");
        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 99);
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'chat_events'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0, "nothing was migrated");
    }

    #[test]
    fn corrupt_file_is_reported_and_kept_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let junk = b"this is not a database, but it is someone's data\n".repeat(200);
        std::fs::write(&path, &junk).unwrap();
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("left untouched"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), junk);
    }

    #[test]
    fn locked_database_is_reported_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        // A database another program holds in rollback mode with an exclusive lock.
        let other = Connection::open(&path).unwrap();
        other
            .execute_batch("CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('mine'); BEGIN EXCLUSIVE; INSERT INTO kept VALUES ('pending');")
            .unwrap();
        let err = Store::open_with_timeout(&path, Duration::from_millis(50)).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        assert!(
            err.to_string().contains("locked by another process"),
            "{err}"
        );
        other.execute_batch("COMMIT").unwrap();
        drop(other);
        let store = Store::open(&path).unwrap();
        let rows: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM kept", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 2);
    }
}
