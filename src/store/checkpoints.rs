//! Resume checkpoints of polling sources: a page token or cursor per (creator, platform).
//!
//! A polled page reaches the writer as one atomic group: its events, the actions they fired and the
//! checkpoint after them commit in one transaction. A restart reads the checkpoint back and resumes
//! exactly where the last commit ended, so nothing is lost and nothing is counted twice.

use super::apply::ApplyError;
use super::error::StoreError;
use super::open::StoreReader;
use super::rows::{self, ms, platform};
use crate::event::Platform;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

/// Where a polling source resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub creator: String,
    pub platform: Platform,
    /// The platform's resume token (a page token, a cursor), opaque to the store.
    pub cursor: String,
    pub at: DateTime<Utc>,
}

pub(super) fn save(conn: &Connection, checkpoint: &Checkpoint) -> Result<(), ApplyError> {
    conn.prepare_cached(
        "INSERT INTO source_checkpoints (creator, platform, cursor, updated_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (creator, platform) DO UPDATE SET cursor = excluded.cursor,
           updated_ms = excluded.updated_ms",
    )?
    .execute(params![
        checkpoint.creator,
        checkpoint.platform.as_str(),
        checkpoint.cursor,
        ms(&checkpoint.at)
    ])?;
    Ok(())
}

impl StoreReader {
    /// The last committed checkpoint of a source, if it has one.
    pub fn checkpoint(
        &self,
        creator: &str,
        platform_: Platform,
    ) -> Result<Option<Checkpoint>, StoreError> {
        self.conn()
            .query_row(
                "SELECT creator, platform, cursor, updated_ms FROM source_checkpoints
                 WHERE creator = ?1 AND platform = ?2",
                params![creator, platform_.as_str()],
                read_checkpoint,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every source's last committed checkpoint.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        self.rows(
            "SELECT creator, platform, cursor, updated_ms FROM source_checkpoints
             ORDER BY creator, platform",
            [],
            read_checkpoint,
        )
    }
}

fn read_checkpoint(r: &rusqlite::Row<'_>) -> rusqlite::Result<Checkpoint> {
    Ok(Checkpoint {
        creator: r.get(0)?,
        platform: platform(r, 1)?,
        cursor: r.get(2)?,
        at: rows::time(r, 3)?,
    })
}
