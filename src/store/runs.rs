//! Run marks: the points in the chat log where the live trigger state started afresh.
//!
//! The trigger engine's state (cooldowns, `{count}`) lives in memory: it is new at every `ss run`
//! start and at every applied hot reload. `ss replay` must reset its own state at the same points,
//! or a replay of a store holding several runs would carry cooldowns and counts from one run into
//! the next and disagree with what each run did. So the run loop sends a [`RunMark`] through the
//! writer, in pipeline order, before the first event a fresh state sees; the writer records it with
//! the last chat event id committed before it (`after_chat_id`), which is exact because the writer
//! applies ops in the order they were sent. A store written before marks existed has none, and a
//! replay of it runs as one continuous run.

use super::apply::ApplyError;
use super::error::StoreError;
use super::open::StoreReader;
use super::rows::{self, ms};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

/// Why trigger state started afresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMarkKind {
    /// `ss run` started.
    Start,
    /// A hot reload replaced the triggers.
    Reload,
}

impl RunMarkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunMarkKind::Start => "start",
            RunMarkKind::Reload => "reload",
        }
    }

    fn from_name(name: &str) -> Option<RunMarkKind> {
        match name {
            "start" => Some(RunMarkKind::Start),
            "reload" => Some(RunMarkKind::Reload),
            _ => None,
        }
    }
}

/// A mark to record: trigger state is fresh from the next chat event the writer records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMark {
    pub kind: RunMarkKind,
    /// Wall-clock time of the start or reload (for people; replay goes by `after_chat_id`).
    pub at: DateTime<Utc>,
}

/// A recorded mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRunMark {
    /// Its number in recorded order (a recorded tick names the last mark before it by this).
    pub id: i64,
    pub kind: RunMarkKind,
    pub at: DateTime<Utc>,
    /// The last chat event id recorded before the mark (0 when there was none).
    pub after_chat_id: i64,
}

/// Records `mark` after every chat event committed so far (the writer applies ops in order).
pub(super) fn record(conn: &Connection, mark: &RunMark) -> Result<(), ApplyError> {
    conn.prepare_cached(
        "INSERT INTO run_marks (kind, at_ms, after_chat_id)
         VALUES (?1, ?2, (SELECT coalesce(max(id), 0) FROM chat_events))",
    )?
    .execute(params![mark.kind.as_str(), ms(&mark.at)])?;
    Ok(())
}

impl StoreReader {
    /// Every run mark, in the order recorded; empty for a store written before marks existed.
    pub fn run_marks(&self) -> Result<Vec<RecordedRunMark>, StoreError> {
        self.rows(
            "SELECT kind, at_ms, after_chat_id, id FROM run_marks ORDER BY id",
            [],
            |r| {
                let kind: String = r.get(0)?;
                Ok(RecordedRunMark {
                    id: r.get(3)?,
                    kind: RunMarkKind::from_name(&kind)
                        .ok_or_else(|| rows::invalid(0, format!("unknown run mark {kind:?}")))?,
                    at: rows::time(r, 1)?,
                    after_chat_id: r.get(2)?,
                })
            },
        )
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::event::{Author, ChatEvent, Platform};
    use crate::store::{StoreWriter, WriteOp, db_path};

    /// A chat message of `demo` at `1_000 + i` ms.
    pub(in crate::store) fn event(i: i64) -> WriteOp {
        WriteOp::ChatEvent(Box::new(ChatEvent::message(
            Platform::named("sim"),
            "demo",
            &format!("m{i}"),
            DateTime::from_timestamp_millis(1_000 + i).unwrap(),
            Author::viewer("a"),
            "hi",
        )))
    }

    pub(in crate::store) fn mark(kind: RunMarkKind) -> WriteOp {
        WriteOp::RunMark(RunMark {
            kind,
            at: Utc::now(),
        })
    }

    #[test]
    fn marks_sit_after_the_events_sent_before_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let writer = StoreWriter::spawn(&path, 64).unwrap();
        writer.blocking_send(mark(RunMarkKind::Start)).unwrap();
        for i in 0..3 {
            writer.blocking_send(event(i)).unwrap();
        }
        writer.blocking_send(mark(RunMarkKind::Reload)).unwrap();
        writer.blocking_send(event(3)).unwrap();
        writer.close().unwrap();
        let store = StoreReader::open(&path).unwrap();
        let marks: Vec<_> = store
            .run_marks()
            .unwrap()
            .into_iter()
            .map(|m| (m.kind, m.after_chat_id))
            .collect();
        assert_eq!(marks, [(RunMarkKind::Start, 0), (RunMarkKind::Reload, 3)]);
    }

    #[test]
    fn a_store_from_before_run_marks_has_none_once_its_writer_migrated_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let conn = Connection::open(&path).unwrap();
        for step in &crate::store::schema::MIGRATIONS[..2] {
            conn.execute_batch(step).unwrap();
        }
        conn.execute_batch("PRAGMA user_version = 2").unwrap();
        drop(conn);
        let err = StoreReader::open(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::OlderSchema { found: 2, .. }),
            "a reader does not migrate: {err:?}"
        );
        StoreWriter::spawn(&path, 8).unwrap().close().unwrap();
        let store = StoreReader::open(&path).unwrap();
        assert_eq!(store.run_marks().unwrap(), []);
    }
}
