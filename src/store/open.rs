//! Opening the store: a read-only [`StoreReader`] for everyone who reads, and the read-write
//! [`Store`] of the writer.
//!
//! **Only the writer migrates.** The writer is whoever holds the writer lock ([`WriterLock`]): the
//! store writer thread of `ss run`, `ss migrate`, and `ss clip` when no `ss run` is running.
//! [`Store::open_as_writer`] takes the lock, creates the file when missing and migrates it to
//! [`schema::SCHEMA_VERSION`]. Everyone else (exports, notify, clips, standings, `ss export`,
//! `ss replay`) opens a [`StoreReader`]: its connection is read-only and its type has no write
//! methods, so a write from a reader is a compile error, not a convention. A reader never creates
//! or migrates: a store at an older schema is refused ([`StoreError::OlderSchema`], naming the
//! `ss run` that holds it and how to migrate), a newer one too ([`StoreError::NewerSchema`]). The one
//! write beside a running writer, `ss clip`'s short `IMMEDIATE` transactions, opens with
//! [`Store::open_beside_writer`], which checks the schema like a reader. Whatever is refused, the
//! file is left exactly as it was.

use super::error::StoreError;
use super::lock::{self, WriterLock};
use super::schema;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long an open or a write waits for another process's lock before reporting it.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A read-only connection to the store, at this binary's schema version.
pub struct StoreReader {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for StoreReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreReader")
            .field("path", &self.path)
            .finish()
    }
}

/// A reader's page cache: 1 MiB, not SQLite's 2 MiB. Readers (exports, status, the control API)
/// read aggregates and the recent end of the chat log, and a run keeps several of them open; pages
/// they miss come from the operating system's file cache.
const READER_PRAGMAS: &str = "PRAGMA cache_size = -1024;";

impl StoreReader {
    /// Opens the existing store at `path` for reading: nothing is created, migrated or written.
    pub fn open(path: &Path) -> Result<StoreReader, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        let sqlite = |e| StoreError::from_sqlite(path, e);
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
        require_current(path, user_version(&conn, path)?)?;
        conn.execute_batch(READER_PRAGMAS).map_err(sqlite)?;
        Ok(StoreReader {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        user_version(&self.conn, &self.path)
    }

    /// Runs `sql` and maps every row; a row that does not convert is an error naming it.
    pub(crate) fn rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt.query_map(params, map).map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The connection, to install a progress handler that counts a query's work (tests).
    #[cfg(test)]
    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Runs `reads` inside one read transaction, so every read sees the store at one moment (a
    /// poll's votes and its totals, the chat log and its counts), whatever the writer commits
    /// meanwhile. The transaction ends (rolled back: it wrote nothing) whatever `reads` returns.
    pub fn at_one_moment<T, E: From<StoreError>>(
        &self,
        reads: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        if !self.conn.is_autocommit() {
            // Already inside one (a caller's snapshot): that one is the moment.
            return reads();
        }
        self.conn
            .execute_batch("BEGIN DEFERRED")
            .map_err(|e| self.err(e))?;
        // A deferred transaction takes its snapshot at its first read: take it now.
        let started = self
            .conn
            .query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(|e| self.err(e));
        let out = started.map_err(E::from).and_then(|_| reads());
        if let Err(e) = self.conn.execute_batch("ROLLBACK") {
            tracing::debug!(error = %e, "Ending a read transaction failed.");
        }
        out
    }

    pub(crate) fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError::from_sqlite(&self.path, e)
    }
}

/// The store opened for writing: by the writer (holding the writer lock, migrated), or beside a
/// running writer for `ss clip`'s single changes. Reads go through [`StoreReader`]'s methods.
pub struct Store {
    reader: StoreReader,
    /// Held while this is the writer; `None` beside a running writer.
    _lock: Option<WriterLock>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.reader.path)
            .field("writer", &self._lock.is_some())
            .finish()
    }
}

impl std::ops::Deref for Store {
    type Target = StoreReader;

    fn deref(&self) -> &StoreReader {
        &self.reader
    }
}

impl Store {
    /// Becomes the store's writer: takes the writer lock ([`StoreError::Locked`] while a running
    /// `ss run` holds it), creates the file and its directory when missing, and migrates it.
    pub fn open_as_writer(path: &Path) -> Result<Store, StoreError> {
        let lock = WriterLock::take(path)?;
        Ok(Store::open_read_write(path, BUSY_TIMEOUT, Some(lock))?.0)
    }

    /// Opens the store for a single change beside the running writer that holds it (`ss clip`
    /// beside `ss run`): never creates or migrates; the schema must be this binary's, as for a
    /// reader.
    pub fn open_beside_writer(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        Ok(Store::open_read_write(path, BUSY_TIMEOUT, None)?.0)
    }

    /// Opens the store for an operator's change (`ss clip create`, `retry`, `cancel`): as its
    /// writer when no `ss run` holds it, else beside the one that does.
    pub fn open_for_change(path: &Path) -> Result<Store, StoreError> {
        match Store::open_as_writer(path) {
            Err(StoreError::Locked { .. }) if lock::writer_held_elsewhere(path)? => {
                Store::open_beside_writer(path)
            }
            other => other,
        }
    }

    /// Opens read-write; migrates only with the writer `lock`. Also returns the schema version found.
    fn open_read_write(
        path: &Path,
        busy_timeout: Duration,
        lock: Option<WriterLock>,
    ) -> Result<(Store, i64), StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let sqlite = |e| StoreError::from_sqlite(path, e);
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if lock.is_some() {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
        conn.busy_timeout(busy_timeout).map_err(sqlite)?;
        // Reading the version first touches the file header: a corrupt file fails here, unchanged.
        let found = user_version(&conn, path)?;
        if lock.is_some() {
            require_not_newer(path, found)?;
        } else {
            require_current(path, found)?;
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
            reader: StoreReader {
                conn,
                path: path.to_path_buf(),
            },
            _lock: lock,
        };
        if store._lock.is_some() {
            store.migrate(found)?;
        }
        Ok((store, found))
    }

    /// [`Store::open_as_writer`] with a chosen wait for other processes' SQLite locks.
    #[cfg(test)]
    pub(crate) fn open_as_writer_with_timeout(
        path: &Path,
        busy_timeout: Duration,
    ) -> Result<Store, StoreError> {
        let lock = WriterLock::take(path)?;
        Ok(Store::open_read_write(path, busy_timeout, Some(lock))?.0)
    }

    /// Runs every migration step after `from`, in one transaction.
    fn migrate(&mut self, from: i64) -> Result<(), StoreError> {
        if from == schema::SCHEMA_VERSION {
            return Ok(());
        }
        let path = self.reader.path.clone();
        let sqlite = |e| StoreError::from_sqlite(&path, e);
        let tx = self
            .reader
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
        if current == 0 {
            // A new store (a first run, a shard snapshot on its way out) is no news.
            tracing::debug!(path = %path.display(), schema = schema::SCHEMA_VERSION, "Store created.");
        } else {
            tracing::info!(
                path = %path.display(),
                from = current,
                to = schema::SCHEMA_VERSION,
                "Store migrated."
            );
        }
        Ok(())
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.reader.conn
    }
}

/// What [`migrate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The schema version found.
    pub from: i64,
    /// The schema version now (this binary's).
    pub to: i64,
}

/// Migrates the existing store at `path` to this binary's schema on purpose (`ss migrate`): as its
/// writer, so it is refused ([`StoreError::Locked`]) while a running `ss run` holds the store.
pub fn migrate(path: &Path) -> Result<Migration, StoreError> {
    if !path.exists() {
        return Err(StoreError::Missing {
            path: path.to_path_buf(),
        });
    }
    let lock = WriterLock::take(path)?;
    let (_store, from) = Store::open_read_write(path, BUSY_TIMEOUT, Some(lock))?;
    Ok(Migration {
        from,
        to: schema::SCHEMA_VERSION,
    })
}

/// `PRAGMA user_version` of `conn`.
fn user_version(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| StoreError::from_sqlite(path, e))
}

/// Refuses a database written by a newer `ss`.
fn require_not_newer(path: &Path, found: i64) -> Result<(), StoreError> {
    if found > schema::SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported: schema::SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Refuses a database at any other schema than this binary's (only the writer migrates).
fn require_current(path: &Path, found: i64) -> Result<(), StoreError> {
    require_not_newer(path, found)?;
    if found < schema::SCHEMA_VERSION {
        return Err(StoreError::OlderSchema {
            path: path.to_path_buf(),
            found,
            supported: schema::SCHEMA_VERSION,
            holder: lock::holder(path),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::error::Holder;
    use crate::store::{StoreWriter, db_path};

    /// A database at `version` (each step up to it applied), in WAL mode like a running `ss run`'s.
    fn at_version(path: &Path, version: usize) {
        schema::store_at_version(path, version);
    }

    /// Reads inside `at_one_moment` see the store as it was when the first read ran, whatever
    /// the writer commits meanwhile; the next moment sees the commit.
    #[test]
    fn reads_at_one_moment_do_not_see_commits_made_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        at_version(&path, schema::SCHEMA_VERSION as usize);
        let reader = StoreReader::open(&path).unwrap();
        let writer = Connection::open(&path).unwrap();
        let count = |r: &StoreReader| -> i64 {
            r.conn()
                .query_row("SELECT COUNT(*) FROM audit", [], |row| row.get(0))
                .unwrap()
        };
        let (before, after) = reader
            .at_one_moment(|| -> Result<(i64, i64), StoreError> {
                let before = count(&reader);
                writer
                    .execute_batch("INSERT INTO audit (at_ms, action, detail) VALUES (1, 'a', 'b')")
                    .unwrap();
                Ok((before, count(&reader)))
            })
            .unwrap();
        assert_eq!((before, after), (0, 0));
        assert_eq!(count(&reader), 1, "the next read sees the commit");
    }

    fn version_of(path: &Path) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn the_writer_creates_and_migrates_a_new_database_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let store = Store::open_as_writer(&path).unwrap();
        assert!(path.exists());
        assert_eq!(store.schema_version().unwrap(), schema::SCHEMA_VERSION);
        let mode: String = store
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(store);
        // Opening again is a no-op migration, and a reader sees the same version.
        assert_eq!(
            Store::open_as_writer(&path)
                .unwrap()
                .schema_version()
                .unwrap(),
            schema::SCHEMA_VERSION
        );
        assert_eq!(
            StoreReader::open(&path).unwrap().schema_version().unwrap(),
            schema::SCHEMA_VERSION
        );
    }

    #[test]
    fn newer_schema_is_refused_by_writer_and_reader_and_left_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .unwrap();
        drop(conn);
        for err in [
            Store::open_as_writer(&path).unwrap_err(),
            StoreReader::open(&path).unwrap_err(),
        ] {
            assert!(
                matches!(err, StoreError::NewerSchema { found: 99, supported, .. } if supported == schema::SCHEMA_VERSION),
                "{err:?}"
            );
            assert!(err.to_string().contains("upgrade ss"), "{err}");
        }
        assert_eq!(version_of(&path), 99);
        let tables: i64 = Connection::open(&path)
            .unwrap()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'chat_events'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0, "nothing was migrated");
    }

    #[test]
    fn a_reader_refuses_an_older_store_nobody_runs_and_says_how_to_migrate_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let older = schema::MIGRATIONS.len() - 1;
        at_version(&path, older);
        let before = std::fs::read(&path).unwrap();
        let err = StoreReader::open(&path).unwrap_err();
        assert!(
            matches!(&err, StoreError::OlderSchema { found, holder: Holder::Nobody, .. } if *found == older as i64),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("older than this ss"), "{text}");
        assert!(text.contains("left unchanged"), "{text}");
        assert!(text.contains("run `ss migrate`"), "{text}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(version_of(&path), older as i64);
        // Migrating on purpose (`ss migrate`) is the writer's way in; a second time does nothing.
        assert_eq!(
            migrate(&path).unwrap(),
            Migration {
                from: older as i64,
                to: schema::SCHEMA_VERSION
            }
        );
        assert_eq!(migrate(&path).unwrap().from, schema::SCHEMA_VERSION);
        assert_eq!(
            StoreReader::open(&path).unwrap().schema_version().unwrap(),
            schema::SCHEMA_VERSION
        );
    }

    #[test]
    fn an_older_store_held_by_a_running_writer_is_refused_naming_it_and_not_migrated_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let older = schema::MIGRATIONS.len() - 1;
        at_version(&path, older);
        // A running `ss run` holds the writer lock and says who it is.
        let running = WriterLock::take(&path).unwrap();
        let before = std::fs::read(&path).unwrap();
        for err in [
            StoreReader::open(&path).unwrap_err(),
            Store::open_beside_writer(&path).unwrap_err(),
            Store::open_for_change(&path).unwrap_err(),
        ] {
            let StoreError::OlderSchema {
                holder: Holder::Running(Some(info)),
                ..
            } = &err
            else {
                panic!("{err:?}");
            };
            assert_eq!(info.pid, std::process::id());
            let text = err.to_string();
            assert!(
                text.contains(&format!("pid {}", std::process::id())),
                "{text}"
            );
            assert!(text.contains("stop that `ss run`"), "{text}");
        }
        for err in [
            Store::open_as_writer(&path).unwrap_err(),
            migrate(&path).unwrap_err(),
        ] {
            assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        }
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(version_of(&path), older as i64);
        drop(running);
    }

    #[test]
    fn a_reader_never_creates_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        for err in [
            StoreReader::open(&path).unwrap_err(),
            Store::open_beside_writer(&path).unwrap_err(),
            migrate(&path).unwrap_err(),
        ] {
            assert!(matches!(err, StoreError::Missing { .. }), "{err:?}");
            assert!(err.to_string().contains("chat_log.enabled"), "{err}");
        }
        assert!(!path.exists());
    }

    #[test]
    fn a_change_beside_a_running_writer_commits_without_taking_its_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let writer = StoreWriter::spawn(&path, 8).unwrap();
        let store = Store::open_for_change(&path).unwrap();
        assert!(format!("{store:?}").contains("writer: false"), "{store:?}");
        drop(store);
        writer.close().unwrap();
        let store = Store::open_for_change(&path).unwrap();
        assert!(format!("{store:?}").contains("writer: true"), "{store:?}");
    }

    #[test]
    fn corrupt_file_is_reported_and_kept_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let junk = b"this is not a database, but it is someone's data\n".repeat(200);
        std::fs::write(&path, &junk).unwrap();
        for err in [
            Store::open_as_writer(&path).unwrap_err(),
            StoreReader::open(&path).unwrap_err(),
        ] {
            assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
            assert!(err.to_string().contains("left untouched"), "{err}");
        }
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
        let err = Store::open_as_writer_with_timeout(&path, Duration::from_millis(50)).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        assert!(
            err.to_string().contains("locked by another process"),
            "{err}"
        );
        other.execute_batch("COMMIT").unwrap();
        drop(other);
        let store = Store::open_as_writer(&path).unwrap();
        let rows: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM kept", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 2);
    }

    #[test]
    fn upgrading_from_14_counts_the_fires_of_every_recorded_action() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        at_version(&path, 14);
        let conn = Connection::open(&path).unwrap();
        let insert =
            "INSERT INTO actions (creator, platform, trigger_id, action_type, payload, at_ms)
                      VALUES (?1, 'sim', ?2, 'reply', '{}', ?3)";
        for (creator, trigger, at) in [
            ("a", "hi", 10),
            ("a", "hi", 30),
            ("a", "bye", 20),
            ("b", "hi", 5),
        ] {
            conn.execute(insert, rusqlite::params![creator, trigger, at])
                .unwrap();
        }
        drop(conn);
        let store = Store::open_as_writer(&path).unwrap();
        let fires = |store: &Store| -> Vec<(String, String, i64, i64)> {
            let mut stmt = store
                .conn()
                .prepare("SELECT creator, trigger_id, fired, last_fired_ms FROM trigger_fires ORDER BY 1, 2")
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let row = |c: &str, t: &str, n, at| (c.to_string(), t.to_string(), n, at);
        assert_eq!(
            fires(&store),
            vec![
                row("a", "bye", 1, 20),
                row("a", "hi", 2, 30),
                row("b", "hi", 1, 5)
            ]
        );
        // Counting from then on is the writer's (`store::actions`' tests).
    }

    #[test]
    fn upgrading_from_14_counts_each_polls_votes_and_follows_a_changed_vote() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        at_version(&path, 14);
        let conn = Connection::open(&path).unwrap();
        let vote = "INSERT INTO poll_votes (creator, poll, platform, user_id, option, at_ms)
                    VALUES ('a', 'p', 'sim', ?1, ?2, ?3)";
        for (user, option, at) in [("u1", "x", 10), ("u2", "x", 20), ("u3", "y", 15)] {
            conn.execute(vote, rusqlite::params![user, option, at])
                .unwrap();
        }
        drop(conn);
        let store = Store::open_as_writer(&path).unwrap();
        let counts = |store: &Store| -> (Vec<(String, i64)>, (i64, i64)) {
            let conn = store.conn();
            let mut stmt = conn
                .prepare("SELECT option, votes FROM poll_option_votes WHERE poll = 'p' ORDER BY 1")
                .unwrap();
            let options = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let total = conn
                .query_row(
                    "SELECT votes, last_vote_ms FROM poll_totals WHERE poll = 'p'",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            (options, total)
        };
        let opt = |o: &str, n| (o.to_string(), n);
        assert_eq!(counts(&store), (vec![opt("x", 2), opt("y", 1)], (3, 20)));
        // A new vote, then a changed one (as a chat poll takes it): counted where it now is.
        store
            .conn()
            .execute(vote, rusqlite::params!["u4", "y", 30])
            .unwrap();
        store
            .conn()
            .execute(
                "UPDATE poll_votes SET option = 'y', at_ms = 40 WHERE user_id = 'u1'",
                [],
            )
            .unwrap();
        assert_eq!(counts(&store), (vec![opt("x", 1), opt("y", 3)], (4, 40)));
    }
}
