//! Clips: requests, their jobs and every state change, with durable ids.
//!
//! A clip request inserts the clip, a `queued` job and the first history row in one transaction. Its
//! id is six random alphanumeric characters, checked against every clip ever recorded (a collision
//! draws again), so ids stay unique across restarts and never depend on a per-run counter. Each state
//! change updates the clip and its job and appends to `clip_state_history`; the states are
//! [`ClipState`], written as their lowercase names.

use super::rows::{self, count, ms, platform};
use super::writer::ApplyError;
use super::{Store, StoreError};
use crate::event::Platform;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Characters of a clip id.
const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Length of a clip id.
pub const CLIP_ID_LEN: usize = 6;
/// Draws before a request is refused: with 62^6 ids, even one collision is rare.
const ID_DRAWS: usize = 16;

/// Where a clip is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClipState {
    Queued,
    Encoding,
    Encoded,
    Uploading,
    Published,
    Failed,
}

impl ClipState {
    pub const ALL: [ClipState; 6] = [
        ClipState::Queued,
        ClipState::Encoding,
        ClipState::Encoded,
        ClipState::Uploading,
        ClipState::Published,
        ClipState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClipState::Queued => "queued",
            ClipState::Encoding => "encoding",
            ClipState::Encoded => "encoded",
            ClipState::Uploading => "uploading",
            ClipState::Published => "published",
            ClipState::Failed => "failed",
        }
    }

    pub fn from_name(name: &str) -> Option<ClipState> {
        ClipState::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for ClipState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A new clip request.
#[derive(Debug, Clone, PartialEq)]
pub struct NewClip {
    /// `None` draws a fresh id (the normal case); `Some` records exactly this id or refuses it.
    pub clip_id: Option<String>,
    pub creator: String,
    pub platform: Platform,
    pub channel: String,
    pub requested_by: String,
    pub duration_s: u32,
    pub title: Option<String>,
    pub at: DateTime<Utc>,
}

/// A clip moved to a new state.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipStateChange {
    pub clip_id: String,
    pub state: ClipState,
    pub at: DateTime<Utc>,
    /// The error of a failed attempt.
    pub detail: Option<String>,
    /// Where a published clip can be watched.
    pub url: Option<String>,
}

/// A fresh random clip id.
fn draw_id() -> String {
    (0..CLIP_ID_LEN)
        .map(|_| char::from(ID_ALPHABET[fastrand::usize(..ID_ALPHABET.len())]))
        .collect()
}

/// Inserts the clip, its queued job and its first history row; returns the clip id.
pub(super) fn insert(conn: &Connection, clip: &NewClip) -> Result<String, ApplyError> {
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO clips (clip_id, creator, platform, channel, requested_by, duration_s,
           title, state, created_ms, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8, ?8)",
    )?;
    let mut try_id = |id: &str| {
        insert.execute(params![
            id,
            clip.creator,
            clip.platform.as_str(),
            clip.channel,
            clip.requested_by,
            clip.duration_s,
            clip.title,
            ms(&clip.at)
        ])
    };
    let clip_id = match &clip.clip_id {
        Some(id) => {
            if try_id(id)? == 0 {
                return Err(ApplyError::Rejected(format!(
                    "clip id {id} already exists; the request was not recorded again"
                )));
            }
            id.clone()
        }
        None => {
            let mut drawn = None;
            for _ in 0..ID_DRAWS {
                let id = draw_id();
                if try_id(&id)? == 1 {
                    drawn = Some(id);
                    break;
                }
            }
            drawn.ok_or_else(|| {
                ApplyError::Rejected(format!("no free clip id after {ID_DRAWS} draws"))
            })?
        }
    };
    conn.prepare_cached(
        "INSERT INTO clip_jobs (clip_id, state, created_ms, updated_ms) VALUES (?1, 'queued', ?2, ?2)",
    )?
    .execute(params![clip_id, ms(&clip.at)])?;
    conn.prepare_cached(
        "INSERT INTO clip_state_history (clip_id, state, at_ms) VALUES (?1, 'queued', ?2)",
    )?
    .execute(params![clip_id, ms(&clip.at)])?;
    Ok(clip_id)
}

/// Records a state change of an existing clip.
pub(super) fn change_state(conn: &Connection, change: &ClipStateChange) -> Result<(), ApplyError> {
    let ClipStateChange {
        clip_id,
        state,
        at,
        detail,
        url,
    } = change;
    let state = state.as_str();
    let changed = conn
        .prepare_cached(
            "UPDATE clips SET state = ?2, updated_ms = ?3, url = coalesce(?4, url),
               published_ms = CASE WHEN ?2 = 'published' THEN ?3 ELSE published_ms END
             WHERE clip_id = ?1",
        )?
        .execute(params![clip_id, state, ms(at), url])?;
    if changed == 0 {
        return Err(ApplyError::Rejected(format!(
            "no clip with id {clip_id}; its state change was not recorded"
        )));
    }
    conn.prepare_cached(
        "UPDATE clip_jobs SET state = ?2, updated_ms = ?3,
           attempts = attempts + (?2 = 'encoding'),
           last_error = CASE WHEN ?2 = 'failed' THEN ?4 ELSE last_error END
         WHERE clip_id = ?1",
    )?
    .execute(params![clip_id, state, ms(at), detail])?;
    conn.prepare_cached(
        "INSERT INTO clip_state_history (clip_id, state, at_ms, detail) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![clip_id, state, ms(at), detail])?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClipRow {
    pub clip_id: String,
    pub creator: String,
    pub platform: Platform,
    pub channel: String,
    pub requested_by: String,
    pub duration_s: u32,
    pub title: Option<String>,
    pub state: ClipState,
    pub url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClipJobRow {
    pub job_id: i64,
    pub clip_id: String,
    pub creator: String,
    pub platform: Platform,
    pub state: ClipState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Reads a clip state column.
fn state(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<ClipState> {
    let name: String = row.get(index)?;
    ClipState::from_name(&name)
        .ok_or_else(|| rows::invalid(index, format!("unknown clip state {name:?}")))
}

impl Store {
    /// Clips, newest first; only those in `only` when given.
    pub fn clips(&self, only: Option<ClipState>) -> Result<Vec<ClipRow>, StoreError> {
        self.rows(
            "SELECT clip_id, creator, platform, channel, requested_by, duration_s, title, state, url,
                    created_ms, updated_ms, published_ms
             FROM clips WHERE ?1 IS NULL OR state = ?1 ORDER BY created_ms DESC, clip_id",
            params![only.map(ClipState::as_str)],
            |r| {
                Ok(ClipRow {
                    clip_id: r.get(0)?,
                    creator: r.get(1)?,
                    platform: platform(r, 2)?,
                    channel: r.get(3)?,
                    requested_by: r.get(4)?,
                    duration_s: r.get(5)?,
                    title: r.get(6)?,
                    state: state(r, 7)?,
                    url: r.get(8)?,
                    created_at: rows::time(r, 9)?,
                    updated_at: rows::time(r, 10)?,
                    published_at: rows::opt_time(r, 11)?,
                })
            },
        )
    }

    /// Clip jobs, newest first.
    pub fn clip_jobs(&self, limit: usize) -> Result<Vec<ClipJobRow>, StoreError> {
        self.rows(
            "SELECT j.id, j.clip_id, c.creator, c.platform, j.state, j.attempts, j.last_error,
                    j.created_ms, j.updated_ms
             FROM clip_jobs j JOIN clips c ON c.clip_id = j.clip_id
             ORDER BY j.created_ms DESC, j.id DESC LIMIT ?1",
            params![rows::limit(limit)],
            |r| {
                Ok(ClipJobRow {
                    job_id: r.get(0)?,
                    clip_id: r.get(1)?,
                    creator: r.get(2)?,
                    platform: platform(r, 3)?,
                    state: state(r, 4)?,
                    attempts: r.get(5)?,
                    last_error: r.get(6)?,
                    created_at: rows::time(r, 7)?,
                    updated_at: rows::time(r, 8)?,
                })
            },
        )
    }

    /// Clip jobs per state.
    pub fn clip_job_counts(&self) -> Result<Vec<(ClipState, u64)>, StoreError> {
        self.rows(
            "SELECT state, count(*) FROM clip_jobs GROUP BY state ORDER BY state",
            [],
            |r| Ok((state(r, 0)?, count(r, 1)?)),
        )
    }
}
