//! Clips: requests, their jobs and every state change, with durable ids.
//!
//! A clip request inserts the clip, a `queued` job and the first history row in one transaction. Its
//! id is six random alphanumeric characters, checked against every clip ever recorded (a collision
//! draws again), so ids stay unique across restarts and never depend on a per-run counter. Each state
//! change updates the clip and its job and appends to `clip_state_history`; the states are
//! [`ClipState`], written as their lowercase names.
//!
//! Two rules keep a clip from being published twice: a `published` clip never changes state again,
//! and a `failed` one (cancelled, or out of attempts) only goes back to `queued` (`ss clip retry`).
//! Recording `published` also queues the clip's notifications, which routing decided
//! ([`ClipStateChange::outbox`], keyed `clip_published:{clip_id}` per destination), in the same
//! transaction, so a notification never exists without the published state, and a second attempt
//! cannot queue a second one.
//!
//! Besides the store writer, `ss clip` changes single clips from another process
//! ([`Store::insert_clip_now`], [`Store::change_clip_state_now`]): one short `IMMEDIATE` transaction
//! each, waiting on SQLite's own lock with the busy timeout (see ARCHITECTURE.md, "One writer").

use super::apply::ApplyError;
use super::error::StoreError;
use super::open::{Store, StoreReader};
use super::outbox::{self, NewOutbox};
use super::rows::{self, count, ms, platform};
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

impl NewClip {
    /// The clip a trigger's clip action asks for, under the id its cause gives ([`id_for_cause`]);
    /// `None` for another action.
    pub fn asked_by(action: &crate::actions::Action) -> Option<NewClip> {
        let crate::actions::ActionKind::Clip {
            channel,
            requested_by,
            duration_s,
            title,
        } = &action.kind
        else {
            return None;
        };
        Some(NewClip {
            clip_id: Some(id_for_cause(
                action.platform,
                &action.message_id,
                &action.trigger_id,
            )),
            creator: action.creator.clone(),
            platform: action.platform,
            channel: channel.clone(),
            requested_by: requested_by.clone(),
            duration_s: *duration_s,
            title: title.clone(),
            at: action.at,
        })
    }
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
    /// Its thumbnail, once there is one.
    pub thumbnail_url: Option<String>,
    /// Notifications to queue with the change, as routing decided them (a published clip's posts);
    /// written only if the change is.
    pub outbox: Vec<NewOutbox>,
}

/// The clip id a trigger's clip request takes: derived from what caused it (the platform, the
/// message and the trigger), so every process folding the same chat (the roles of a split run, a
/// shard's new owner) names the clip alike. Drawn at random instead when it is taken.
pub fn id_for_cause(platform: Platform, message_id: &str, trigger_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(
        format!("{}\u{1f}{message_id}\u{1f}{trigger_id}", platform.as_str()).as_bytes(),
    );
    digest[..CLIP_ID_LEN]
        .iter()
        .map(|b| char::from(ID_ALPHABET[usize::from(*b) % ID_ALPHABET.len()]))
        .collect()
}

/// A fresh random clip id.
pub(crate) fn draw_id() -> String {
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

/// Whether a clip in state `from` may move to `to`: never out of `published`, and out of `failed`
/// only back to `queued`.
pub fn transition_allowed(from: ClipState, to: ClipState) -> bool {
    match from {
        ClipState::Published => false,
        ClipState::Failed => to == ClipState::Queued,
        _ => true,
    }
}

/// Records a state change of an existing clip, with the notifications handed with it.
pub(super) fn change_state(conn: &Connection, change: &ClipStateChange) -> Result<(), ApplyError> {
    let ClipStateChange {
        clip_id,
        state,
        at,
        detail,
        url,
        thumbnail_url,
        outbox,
    } = change;
    let notifications = outbox
        .iter()
        .map(outbox::check)
        .collect::<Result<Vec<_>, _>>()?;
    let current: Option<String> = conn
        .prepare_cached("SELECT state FROM clips WHERE clip_id = ?1")?
        .query_row(params![clip_id], |r| r.get(0))
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    let Some(current) = current else {
        return Err(ApplyError::Rejected(format!(
            "no clip with id {clip_id}; its state change was not recorded"
        )));
    };
    let from = ClipState::from_name(&current).ok_or_else(|| {
        ApplyError::Rejected(format!("clip {clip_id} has an unknown state {current:?}"))
    })?;
    if !transition_allowed(from, *state) {
        return Err(ApplyError::Rejected(format!(
            "clip {clip_id} is {from}; it cannot become {state}"
        )));
    }
    let name = state.as_str();
    conn.prepare_cached(
        "UPDATE clips SET state = ?2, updated_ms = ?3, url = coalesce(?4, url),
           thumbnail_url = coalesce(?5, thumbnail_url),
           published_ms = CASE WHEN ?2 = 'published' THEN ?3 ELSE published_ms END
         WHERE clip_id = ?1",
    )?
    .execute(params![clip_id, name, ms(at), url, thumbnail_url])?;
    conn.prepare_cached(
        "UPDATE clip_jobs SET state = ?2, updated_ms = ?3,
           attempts = attempts + (?2 = 'encoding'),
           last_error = CASE WHEN ?2 = 'failed' THEN ?4 WHEN ?2 = 'queued' THEN NULL ELSE last_error END
         WHERE clip_id = ?1",
    )?
    .execute(params![clip_id, name, ms(at), detail])?;
    conn.prepare_cached(
        "INSERT INTO clip_state_history (clip_id, state, at_ms, detail) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![clip_id, name, ms(at), detail])?;
    outbox::enqueue_checked(conn, &notifications)?;
    Ok(())
}

const CLIP_COLUMNS: &str = "clip_id, creator, platform, channel, requested_by, duration_s, title,
    state, url, created_ms, updated_ms, published_ms, thumbnail_url,
    (SELECT last_error FROM clip_jobs j WHERE j.clip_id = clips.clip_id)";

fn read_clip_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ClipRow> {
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
        thumbnail_url: r.get(12)?,
        error: r.get(13)?,
    })
}

fn read_clip(conn: &Connection, clip_id: &str) -> rusqlite::Result<Option<ClipRow>> {
    conn.prepare_cached(&format!(
        "SELECT {CLIP_COLUMNS} FROM clips WHERE clip_id = ?1"
    ))?
    .query_row(params![clip_id], read_clip_row)
    .map(Some)
    .or_else(|e| match e {
        rusqlite::Error::QueryReturnedNoRows => Ok(None),
        e => Err(e),
    })
}

/// One recorded state change of a clip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClipHistoryRow {
    pub state: ClipState,
    pub at: DateTime<Utc>,
    pub detail: Option<String>,
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
    pub thumbnail_url: Option<String>,
    /// Why its job last failed.
    pub error: Option<String>,
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

/// A state change a clip's history recorded, with the clip's creator: what ingest publishes to the
/// bus, so the other roles of a split run see the clip it made.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedClipChange {
    /// The history row's id: where the next read starts after.
    pub history_id: i64,
    pub creator: String,
    /// The change, with the clip's links when it is encoded (its thumbnail) or published; no
    /// notifications (they were the recorder's).
    pub change: ClipStateChange,
}

impl StoreReader {
    /// Clips' state changes recorded after history row `after`, oldest first, at most `limit`;
    /// each clip's first row (its request, `queued`) is not a change and is left out.
    pub fn clip_changes_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<RecordedClipChange>, StoreError> {
        self.rows(
            "SELECT h.id, c.creator, h.clip_id, h.state, h.at_ms, h.detail, c.url, c.thumbnail_url
             FROM clip_state_history h JOIN clips c ON c.clip_id = h.clip_id
             WHERE h.id > ?1
               AND h.id > (SELECT min(f.id) FROM clip_state_history f WHERE f.clip_id = h.clip_id)
             ORDER BY h.id LIMIT ?2",
            params![after, limit as i64],
            |r| {
                let state = state(r, 3)?;
                let published = state == ClipState::Published;
                let with_thumbnail = published || state == ClipState::Encoded;
                Ok(RecordedClipChange {
                    history_id: r.get(0)?,
                    creator: r.get(1)?,
                    change: ClipStateChange {
                        clip_id: r.get(2)?,
                        state,
                        at: rows::time(r, 4)?,
                        detail: r.get(5)?,
                        url: if published { r.get(6)? } else { None },
                        thumbnail_url: if with_thumbnail { r.get(7)? } else { None },
                        outbox: Vec::new(),
                    },
                })
            },
        )
    }

    /// Clips, newest first; only those in `only` when given.
    pub fn clips(&self, only: Option<ClipState>) -> Result<Vec<ClipRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {CLIP_COLUMNS} FROM clips WHERE ?1 IS NULL OR state = ?1
                 ORDER BY created_ms DESC, clip_id"
            ),
            params![only.map(ClipState::as_str)],
            read_clip_row,
        )
    }

    /// One clip.
    pub fn clip(&self, clip_id: &str) -> Result<Option<ClipRow>, StoreError> {
        read_clip(self.conn(), clip_id).map_err(|e| self.err(e))
    }

    /// Clips in any of `states`, oldest first (the worker's queue).
    pub fn clips_in(&self, states: &[ClipState]) -> Result<Vec<ClipRow>, StoreError> {
        let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        let names = serde_json::to_string(&names).unwrap_or_default();
        self.rows(
            &format!(
                "SELECT {CLIP_COLUMNS} FROM clips
                 WHERE state IN (SELECT value FROM json_each(?1))
                 ORDER BY created_ms, clip_id"
            ),
            params![names],
            read_clip_row,
        )
    }

    /// A clip's state changes, in the order they were recorded.
    pub fn clip_history(&self, clip_id: &str) -> Result<Vec<ClipHistoryRow>, StoreError> {
        self.rows(
            "SELECT state, at_ms, detail FROM clip_state_history WHERE clip_id = ?1 ORDER BY id",
            params![clip_id],
            |r| {
                Ok(ClipHistoryRow {
                    state: state(r, 0)?,
                    at: rows::time(r, 1)?,
                    detail: r.get(2)?,
                })
            },
        )
    }
}

impl Store {
    /// Records a clip request at once, in its own transaction (`ss clip create` beside a running
    /// `ss run`): SQLite's lock, waited for up to the busy timeout, orders it with the writer's
    /// commits. Returns the clip id.
    pub fn insert_clip_now(&mut self, clip: &NewClip) -> Result<String, StoreError> {
        self.immediately(|tx| insert(tx, clip))
    }

    /// Records a clip's state change at once, in its own transaction (`ss clip retry`, `cancel`).
    pub fn change_clip_state_now(&mut self, change: &ClipStateChange) -> Result<(), StoreError> {
        self.immediately(|tx| change_state(tx, change))
    }

    /// Runs `write` in one `IMMEDIATE` transaction; a refusal is a `StoreError::Refused`.
    pub(super) fn immediately<T>(
        &mut self,
        write: impl FnOnce(&Connection) -> Result<T, ApplyError>,
    ) -> Result<T, StoreError> {
        let path = self.path().to_path_buf();
        let sqlite = |e| StoreError::from_sqlite(&path, e);
        let tx = self
            .conn_mut()
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        let value = match write(&tx) {
            Ok(value) => value,
            Err(ApplyError::Storage(e)) => return Err(sqlite(e)),
            Err(ApplyError::Rejected(reason)) => return Err(StoreError::Refused(reason)),
        };
        tx.commit().map_err(sqlite)?;
        Ok(value)
    }
}

impl StoreReader {
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
