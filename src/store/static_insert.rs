//! A prepared statement that binds borrowed text without copying it, for the chat log's insert.
//!
//! rusqlite binds every string as `SQLITE_TRANSIENT`, so SQLite allocates and copies each one before
//! the step: for the chat log's ten text columns that was about a seventh of the store writer's
//! instructions per event. [`StaticInsert`] binds them as `SQLITE_STATIC` instead, which is sound
//! because the values are borrowed only for one [`StaticInsert::execute`]: bound, stepped once,
//! and the statement reset and its bindings cleared before the borrow ends, so SQLite never holds a
//! pointer past it. The statement borrows its connection, so it is finalized before the connection
//! can close. Everything else goes through rusqlite.

use rusqlite::{Connection, ffi};
use std::ffi::{CStr, c_int};
use std::marker::PhantomData;
use std::ptr::NonNull;

/// One value to bind.
#[derive(Debug, Clone, Copy)]
pub(super) enum Arg<'a> {
    Text(&'a str),
    Int(i64),
    Null,
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(value: Option<&'a str>) -> Arg<'a> {
        value.map_or(Arg::Null, Arg::Text)
    }
}

/// A prepared statement run one row at a time with borrowed arguments; finalized on drop.
pub(super) struct StaticInsert<'conn> {
    db: *mut ffi::sqlite3,
    stmt: NonNull<ffi::sqlite3_stmt>,
    _conn: PhantomData<&'conn Connection>,
}

impl<'conn> StaticInsert<'conn> {
    /// Prepares `sql` (one statement) on `conn`.
    pub(super) fn prepare(conn: &'conn Connection, sql: &str) -> rusqlite::Result<Self> {
        // SAFETY: the handle is used only while `conn` is borrowed, on the thread that owns it.
        let db = unsafe { conn.handle() };
        let mut stmt = std::ptr::null_mut();
        let len = c_int::try_from(sql.len()).map_err(|_| rusqlite::Error::InvalidQuery)?;
        // SAFETY: `sql` is valid for `len` bytes; `stmt` receives the statement or null.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                db,
                sql.as_ptr().cast(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &raw mut stmt,
                std::ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(error(db, rc));
        }
        let stmt = NonNull::new(stmt).ok_or(rusqlite::Error::InvalidQuery)?;
        Ok(StaticInsert {
            db,
            stmt,
            _conn: PhantomData,
        })
    }

    /// Binds `args` (one per parameter, in order), steps once and resets: the rows changed (0 when
    /// `OR IGNORE` ignored the row).
    pub(super) fn execute(&mut self, args: &[Arg<'_>]) -> rusqlite::Result<usize> {
        let stmt = self.stmt.as_ptr();
        // SAFETY: `stmt` is a live statement of `db`. Text is bound SQLITE_STATIC: `args` outlive
        // this call, and the statement is reset and its bindings cleared before it returns, so
        // SQLite does not keep the pointers.
        unsafe {
            let count = usize::try_from(ffi::sqlite3_bind_parameter_count(stmt)).unwrap_or(0);
            if count != args.len() {
                return Err(rusqlite::Error::InvalidParameterCount(args.len(), count));
            }
            let mut rc = ffi::SQLITE_OK;
            for (i, arg) in args.iter().enumerate() {
                let at = c_int::try_from(i + 1).unwrap_or(c_int::MAX);
                rc = match *arg {
                    // Every parameter is NULL here already: a new statement's are, and each
                    // execute ends by clearing the bindings.
                    Arg::Null => continue,
                    Arg::Text(text) => ffi::sqlite3_bind_text64(
                        stmt,
                        at,
                        text.as_ptr().cast(),
                        text.len() as u64,
                        ffi::SQLITE_STATIC(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                    Arg::Int(n) => ffi::sqlite3_bind_int64(stmt, at, n),
                };
                if rc != ffi::SQLITE_OK {
                    break;
                }
            }
            if rc == ffi::SQLITE_OK {
                rc = ffi::sqlite3_step(stmt);
            }
            let result = match rc {
                ffi::SQLITE_DONE => {
                    Ok(usize::try_from(ffi::sqlite3_changes64(self.db)).unwrap_or_default())
                }
                ffi::SQLITE_ROW => Err(rusqlite::Error::ExecuteReturnedResults),
                rc => Err(error(self.db, rc)),
            };
            ffi::sqlite3_reset(stmt);
            ffi::sqlite3_clear_bindings(stmt);
            result
        }
    }
}

impl Drop for StaticInsert<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement is live and finalized once; the connection is still open (borrowed).
        unsafe {
            ffi::sqlite3_finalize(self.stmt.as_ptr());
        }
    }
}

/// The error SQLite reports for `rc` on `db`, as rusqlite reports its own (so the writer classifies
/// storage failures the same way).
fn error(db: *mut ffi::sqlite3, rc: c_int) -> rusqlite::Error {
    // SAFETY: `db` is an open connection; the message is copied before any other call on it.
    let message = unsafe {
        let text = if ffi::sqlite3_errcode(db) == rc {
            ffi::sqlite3_errmsg(db)
        } else {
            ffi::sqlite3_errstr(rc)
        };
        (!text.is_null()).then(|| CStr::from_ptr(text).to_string_lossy().into_owned())
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(rc), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_inserted_ignored_and_refused_as_sqlite_says_and_the_statement_is_reused() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (k TEXT NOT NULL UNIQUE, n INTEGER, note TEXT);
             CREATE TRIGGER refuse BEFORE INSERT ON t WHEN NEW.n < 0
               BEGIN SELECT RAISE(ABORT, 'negative n'); END;",
        )
        .unwrap();
        let mut insert =
            StaticInsert::prepare(&conn, "INSERT OR IGNORE INTO t VALUES (?1, ?2, ?3)").unwrap();
        let key = String::from("first");
        assert_eq!(
            insert
                .execute(&[Arg::Text(&key), Arg::Int(7), Arg::Null])
                .unwrap(),
            1
        );
        drop(key);
        assert_eq!(
            insert
                .execute(&[Arg::Text("first"), Arg::Int(8), Arg::from(Some("again"))])
                .unwrap(),
            0,
            "a duplicate is ignored"
        );
        let refused = insert
            .execute(&[Arg::Text("third"), Arg::Int(-1), Arg::Null])
            .unwrap_err();
        assert_eq!(
            refused.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ConstraintViolation),
            "{refused}"
        );
        assert!(refused.to_string().contains("negative n"), "{refused}");
        let wrong = insert.execute(&[Arg::Int(1)]).unwrap_err();
        assert!(
            matches!(wrong, rusqlite::Error::InvalidParameterCount(1, 3)),
            "{wrong}"
        );
        assert_eq!(
            insert
                .execute(&[Arg::Text("fourth"), Arg::Int(4), Arg::from(Some("é ✓"))])
                .unwrap(),
            1,
            "the statement is usable after an error"
        );
        assert_eq!(
            insert
                .execute(&[Arg::Text("fifth"), Arg::Int(5), Arg::Null])
                .unwrap(),
            1,
            "a NULL after a text in the same place is NULL, not the text left bound"
        );
        drop(insert);
        let rows: Vec<(String, i64, Option<String>)> = conn
            .prepare("SELECT k, n, note FROM t ORDER BY rowid")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                ("first".to_string(), 7, None),
                ("fourth".to_string(), 4, Some("é ✓".to_string())),
                ("fifth".to_string(), 5, None)
            ]
        );
    }
}
