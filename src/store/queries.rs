//! Read queries over the store, for the snapshot builders, `ss` commands and tests.
//!
//! Every query returns rows in a fixed order (ties broken down to a unique key), because exports must
//! be byte-identical for the same store. Aggregates that exports need on every tick are kept as running
//! totals by the writer (`chat_totals`, `tallies`, `scores`), so reading them does not scan the large
//! event tables. Poll queries return counts only: voter identities never leave the store.

use super::{Store, StoreError};
use crate::event::{Author, ChatEvent, CompactString, EventKind, Extras, Platform, Roles};
use chrono::{DateTime, Utc};
use rusqlite::{Row, params};
use serde::Serialize;

/// Chat events recorded per (creator, platform).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatTotal {
    pub creator: String,
    pub platform: Platform,
    pub events: u64,
    pub last_event_at: DateTime<Utc>,
}

/// One poll with its vote counts per option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PollSummary {
    pub creator: String,
    pub poll: String,
    pub opened_at: DateTime<Utc>,
    pub last_vote_at: Option<DateTime<Utc>>,
    pub total_votes: u64,
    /// Most votes first, then by option.
    pub options: Vec<PollOption>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PollOption {
    pub option: String,
    pub votes: u64,
}

/// A recent vote, without the voter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PollVoteSignal {
    pub at: DateTime<Utc>,
    pub creator: String,
    pub poll: String,
    pub option: String,
    pub platform: Platform,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TallyRow {
    pub creator: String,
    pub tally: String,
    pub total: i64,
    pub events: u64,
    pub updated_at: DateTime<Utc>,
}

/// A recent tally increment, without the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TallySignal {
    pub at: DateTime<Utc>,
    pub creator: String,
    pub tally: String,
    pub amount: i64,
    pub platform: Platform,
}

/// One scoreboard, best first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scoreboard {
    pub creator: String,
    pub board: String,
    /// Everyone with points on the board (entries may be cut to the top N).
    pub players: u64,
    pub entries: Vec<ScoreEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScoreEntry {
    /// Competition ranking: equal points share a rank (1, 2, 2, 4).
    pub rank: u64,
    pub platform: Platform,
    pub user_name: String,
    pub points: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScoreSignal {
    pub at: DateTime<Utc>,
    pub creator: String,
    pub board: String,
    pub platform: Platform,
    pub user_name: String,
    pub points: i64,
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
    pub state: String,
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
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How often a trigger produced an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriggerFires {
    pub creator: String,
    pub trigger_id: String,
    pub fired: u64,
    pub last_fired_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaRow {
    pub platform: Platform,
    pub day: String,
    pub units: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    pub at: DateTime<Utc>,
    pub action: String,
    pub detail: String,
}

/// Milliseconds to a time. The writer only stores `timestamp_millis()` of valid times, so the
/// fallback (the epoch) is only reachable through a hand-edited database.
fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::UNIX_EPOCH)
}

/// Reads a platform name column; an unknown name is a conversion error naming the value.
fn platform(row: &Row<'_>, index: usize) -> rusqlite::Result<Platform> {
    let name: String = row.get(index)?;
    Platform::from_name(&name).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            format!("unknown platform {name:?}").into(),
        )
    })
}

/// Reads a text column into an event string (short values stay inline).
fn text(row: &Row<'_>, index: usize) -> rusqlite::Result<CompactString> {
    row.get_ref(index)?
        .as_str()
        .map(CompactString::from)
        .map_err(Into::into)
}

fn count(row: &Row<'_>, index: usize) -> rusqlite::Result<u64> {
    let n: i64 = row.get(index)?;
    Ok(u64::try_from(n).unwrap_or_default())
}

impl Store {
    /// Runs `sql` and maps every row.
    fn rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn().prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt.query_map(params, map).map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Every chat event recorded.
    pub fn chat_event_count(&self) -> Result<u64, StoreError> {
        let total: i64 = self
            .conn()
            .query_row(
                "SELECT coalesce(sum(events), 0) FROM chat_totals",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        Ok(u64::try_from(total).unwrap_or_default())
    }

    /// Chat events recorded per (creator, platform).
    pub fn chat_totals(&self) -> Result<Vec<ChatTotal>, StoreError> {
        self.rows(
            "SELECT creator, platform, events, last_event_ms FROM chat_totals ORDER BY creator, platform",
            [],
            |r| {
                Ok(ChatTotal {
                    creator: r.get(0)?,
                    platform: platform(r, 1)?,
                    events: count(r, 2)?,
                    last_event_at: time(r.get(3)?),
                })
            },
        )
    }

    /// The `limit` most recently recorded chat events, oldest first (by event time, then id).
    pub fn recent_chat_events(&self, limit: usize) -> Result<Vec<ChatEvent>, StoreError> {
        self.rows(
            "SELECT platform, creator, channel, message_id, ts_ms, kind, author_id, author_login,
                    author_name, roles, text, emotes, extras
             FROM (SELECT * FROM chat_events ORDER BY id DESC LIMIT ?1)
             ORDER BY ts_ms, platform, message_id",
            params![i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                let kind: String = r.get(5)?;
                let roles: i64 = r.get(9)?;
                let emotes: Option<String> = r.get(11)?;
                let extras: Option<String> = r.get(12)?;
                Ok(ChatEvent {
                    platform: platform(r, 0)?,
                    creator: text(r, 1)?,
                    channel: text(r, 2)?,
                    message_id: text(r, 3)?,
                    timestamp: time(r.get(4)?),
                    kind: serde_json::from_value(serde_json::Value::String(kind))
                        .unwrap_or(EventKind::Other),
                    author: Author {
                        id: text(r, 6)?,
                        login: text(r, 7)?,
                        display_name: text(r, 8)?,
                        roles: Roles {
                            broadcaster: roles & 1 != 0,
                            moderator: roles & 2 != 0,
                            vip: roles & 4 != 0,
                            subscriber: roles & 8 != 0,
                        },
                    },
                    text: text(r, 10)?,
                    emotes: emotes
                        .and_then(|j| serde_json::from_str(&j).ok())
                        .unwrap_or_default(),
                    extras: extras
                        .and_then(|j| Extras::parse(&j).ok())
                        .unwrap_or_default(),
                })
            },
        )
    }

    /// Every poll with its counts per option.
    pub fn polls(&self) -> Result<Vec<PollSummary>, StoreError> {
        let mut polls = self.rows(
            "SELECT p.creator, p.poll, p.opened_ms, max(v.at_ms), count(v.id)
             FROM polls p LEFT JOIN poll_votes v ON v.creator = p.creator AND v.poll = p.poll
             GROUP BY p.creator, p.poll ORDER BY p.creator, p.poll",
            [],
            |r| {
                Ok(PollSummary {
                    creator: r.get(0)?,
                    poll: r.get(1)?,
                    opened_at: time(r.get(2)?),
                    last_vote_at: r.get::<_, Option<i64>>(3)?.map(time),
                    total_votes: count(r, 4)?,
                    options: Vec::new(),
                })
            },
        )?;
        let options = self.rows(
            "SELECT creator, poll, option, count(*) AS votes FROM poll_votes
             GROUP BY creator, poll, option ORDER BY creator, poll, votes DESC, option",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    PollOption {
                        option: r.get(2)?,
                        votes: count(r, 3)?,
                    },
                ))
            },
        )?;
        for (creator, poll, option) in options {
            if let Some(summary) = polls
                .iter_mut()
                .find(|p| p.creator == creator && p.poll == poll)
            {
                summary.options.push(option);
            }
        }
        Ok(polls)
    }

    /// The `limit` most recent votes, oldest first, without voters.
    pub fn recent_poll_votes(&self, limit: usize) -> Result<Vec<PollVoteSignal>, StoreError> {
        self.rows(
            "SELECT at_ms, creator, poll, option, platform FROM
               (SELECT * FROM poll_votes ORDER BY id DESC LIMIT ?1) ORDER BY at_ms, id",
            params![i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                Ok(PollVoteSignal {
                    at: time(r.get(0)?),
                    creator: r.get(1)?,
                    poll: r.get(2)?,
                    option: r.get(3)?,
                    platform: platform(r, 4)?,
                })
            },
        )
    }

    /// Every tally's running total.
    pub fn tallies(&self) -> Result<Vec<TallyRow>, StoreError> {
        self.rows(
            "SELECT creator, tally, total, events, updated_ms FROM tallies ORDER BY creator, tally",
            [],
            |r| {
                Ok(TallyRow {
                    creator: r.get(0)?,
                    tally: r.get(1)?,
                    total: r.get(2)?,
                    events: count(r, 3)?,
                    updated_at: time(r.get(4)?),
                })
            },
        )
    }

    /// The `limit` most recent tally increments, oldest first, without users.
    pub fn recent_tally_events(&self, limit: usize) -> Result<Vec<TallySignal>, StoreError> {
        self.rows(
            "SELECT at_ms, creator, tally, amount, platform FROM
               (SELECT * FROM tally_events ORDER BY id DESC LIMIT ?1) ORDER BY at_ms, id",
            params![i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                Ok(TallySignal {
                    at: time(r.get(0)?),
                    creator: r.get(1)?,
                    tally: r.get(2)?,
                    amount: r.get(3)?,
                    platform: platform(r, 4)?,
                })
            },
        )
    }

    /// Every scoreboard with its `top` best entries.
    pub fn scoreboards(&self, top: usize) -> Result<Vec<Scoreboard>, StoreError> {
        let mut boards = self.rows(
            "SELECT creator, board, count(*) FROM scores GROUP BY creator, board ORDER BY creator, board",
            [],
            |r| {
                Ok(Scoreboard {
                    creator: r.get(0)?,
                    board: r.get(1)?,
                    players: count(r, 2)?,
                    entries: Vec::new(),
                })
            },
        )?;
        let entries = self.rows(
            "SELECT creator, board, rank, platform, user_name, points FROM (
               SELECT creator, board, platform, user_name, points, user_id,
                 RANK() OVER (PARTITION BY creator, board ORDER BY points DESC) AS rank,
                 ROW_NUMBER() OVER (PARTITION BY creator, board
                                    ORDER BY points DESC, user_name, platform, user_id) AS n
               FROM scores)
             WHERE n <= ?1 ORDER BY creator, board, n",
            params![i64::try_from(top).unwrap_or(i64::MAX)],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    ScoreEntry {
                        rank: count(r, 2)?,
                        platform: platform(r, 3)?,
                        user_name: r.get(4)?,
                        points: r.get(5)?,
                    },
                ))
            },
        )?;
        for (creator, board, entry) in entries {
            if let Some(b) = boards
                .iter_mut()
                .find(|b| b.creator == creator && b.board == board)
            {
                b.entries.push(entry);
            }
        }
        Ok(boards)
    }

    /// The `limit` most recent score events, oldest first.
    pub fn recent_score_events(&self, limit: usize) -> Result<Vec<ScoreSignal>, StoreError> {
        self.rows(
            "SELECT at_ms, creator, board, platform, user_name, points FROM
               (SELECT * FROM score_events ORDER BY id DESC LIMIT ?1) ORDER BY at_ms, id",
            params![i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                Ok(ScoreSignal {
                    at: time(r.get(0)?),
                    creator: r.get(1)?,
                    board: r.get(2)?,
                    platform: platform(r, 3)?,
                    user_name: r.get(4)?,
                    points: r.get(5)?,
                })
            },
        )
    }

    /// Clips, newest first; only those in `state` when given.
    pub fn clips(&self, state: Option<&str>) -> Result<Vec<ClipRow>, StoreError> {
        self.rows(
            "SELECT clip_id, creator, platform, channel, requested_by, duration_s, title, state, url,
                    created_ms, updated_ms, published_ms
             FROM clips WHERE ?1 IS NULL OR state = ?1 ORDER BY created_ms DESC, clip_id",
            params![state],
            |r| {
                Ok(ClipRow {
                    clip_id: r.get(0)?,
                    creator: r.get(1)?,
                    platform: platform(r, 2)?,
                    channel: r.get(3)?,
                    requested_by: r.get(4)?,
                    duration_s: r.get(5)?,
                    title: r.get(6)?,
                    state: r.get(7)?,
                    url: r.get(8)?,
                    created_at: time(r.get(9)?),
                    updated_at: time(r.get(10)?),
                    published_at: r.get::<_, Option<i64>>(11)?.map(time),
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
            params![i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                Ok(ClipJobRow {
                    job_id: r.get(0)?,
                    clip_id: r.get(1)?,
                    creator: r.get(2)?,
                    platform: platform(r, 3)?,
                    state: r.get(4)?,
                    attempts: r.get(5)?,
                    last_error: r.get(6)?,
                    created_at: time(r.get(7)?),
                    updated_at: time(r.get(8)?),
                })
            },
        )
    }

    /// How often each trigger fired.
    pub fn trigger_fires(&self) -> Result<Vec<TriggerFires>, StoreError> {
        self.rows(
            "SELECT creator, trigger_id, count(*), max(at_ms) FROM actions
             GROUP BY creator, trigger_id ORDER BY creator, trigger_id",
            [],
            |r| {
                Ok(TriggerFires {
                    creator: r.get(0)?,
                    trigger_id: r.get(1)?,
                    fired: count(r, 2)?,
                    last_fired_at: time(r.get(3)?),
                })
            },
        )
    }

    /// Quota units spent, the `days` most recent days per platform, newest first.
    pub fn quota_usage(&self, days: usize) -> Result<Vec<QuotaRow>, StoreError> {
        self.rows(
            "SELECT platform, day, units FROM (
               SELECT *, ROW_NUMBER() OVER (PARTITION BY platform ORDER BY day DESC) AS n FROM quota_usage)
             WHERE n <= ?1 ORDER BY platform, day DESC",
            params![i64::try_from(days).unwrap_or(i64::MAX)],
            |r| {
                Ok(QuotaRow {
                    platform: platform(r, 0)?,
                    day: r.get(1)?,
                    units: r.get(2)?,
                })
            },
        )
    }

    /// The `limit` most recent audit entries, newest first.
    pub fn audit(&self, limit: usize) -> Result<Vec<AuditRow>, StoreError> {
        self.rows(
            "SELECT at_ms, action, detail FROM audit ORDER BY at_ms DESC, id DESC LIMIT ?1",
            params![i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                Ok(AuditRow {
                    at: time(r.get(0)?),
                    action: r.get(1)?,
                    detail: r.get(2)?,
                })
            },
        )
    }
}

impl Store {
    /// Clip jobs per state.
    pub fn clip_job_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.rows(
            "SELECT state, count(*) FROM clip_jobs GROUP BY state ORDER BY state",
            [],
            |r| Ok((r.get(0)?, count(r, 1)?)),
        )
    }
}
