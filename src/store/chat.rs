//! The chat log: recorded [`ChatEvent`]s, their running totals, and the reads over them.
//!
//! `chat_events` is append-only; its `id` is the order in which the pipeline accepted the events,
//! which is the order `ss replay` evaluates them in. A re-delivery of a recorded message is ignored by
//! the unique key (time, platform, message id) and counted as a duplicate (see ARCHITECTURE.md for how
//! this key agrees with the pipeline's (platform, message id) dedupe). `chat_totals` keeps events per
//! (creator, platform) so exports never count the large table; the writer folds each batch's counts
//! into it at commit ([`super::running_counts`]).

use super::apply::{ApplyError, BatchTally};
use super::error::StoreError;
use super::open::StoreReader;
use super::rows::{self, count, limit, platform, text};
use super::running_counts::RunningCounts;
use super::static_insert::Arg;
use crate::event::{Author, ChatEvent, EventKind, Extras, Platform, Roles};
use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

/// The chat log's columns, in the order [`EncodedEvent::args`] gives their values.
pub(super) const INSERT_COLUMNS: &str =
    "platform, message_id, creator, channel, ts_ms, kind, author_id,
       author_login, author_name, roles, text, emotes, extras, detail, shared_from";
/// How many columns [`INSERT_COLUMNS`] names.
pub(super) const INSERT_WIDTH: usize = 15;

/// Chat events recorded per (creator, platform).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatTotal {
    pub creator: String,
    pub platform: Platform,
    pub events: u64,
    pub last_event_at: DateTime<Utc>,
}

/// An event ready to insert: its JSON columns encoded, the rest borrowed.
pub(super) struct EncodedEvent<'e> {
    pub event: &'e ChatEvent,
    emotes: Option<String>,
    detail: Option<String>,
}

impl<'e> EncodedEvent<'e> {
    /// Encodes `event`'s JSON columns; one that cannot be serialized refuses the event.
    pub(super) fn new(event: &'e ChatEvent) -> Result<EncodedEvent<'e>, ApplyError> {
        let emotes = if event.emotes.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&event.emotes).map_err(|e| {
                ApplyError::Rejected(format!(
                    "emotes of {} not serializable: {e}",
                    event.message_id
                ))
            })?)
        };
        let detail = match &event.detail {
            None => None,
            Some(detail) => Some(serde_json::to_string(detail).map_err(|e| {
                ApplyError::Rejected(format!(
                    "detail of {} not serializable: {e}",
                    event.message_id
                ))
            })?),
        };
        Ok(EncodedEvent {
            event,
            emotes,
            detail,
        })
    }

    /// The row's values, in [`INSERT_COLUMNS`]' order.
    pub(super) fn args(&self) -> [Arg<'_>; INSERT_WIDTH] {
        let event = self.event;
        [
            Arg::Text(event.platform.as_str()),
            Arg::Text(event.message_id.as_str()),
            Arg::Text(event.creator.as_str()),
            Arg::Text(event.channel.as_str()),
            Arg::Int(event.timestamp_ms()),
            Arg::Text(event.kind.as_str()),
            Arg::Text(event.author.id.as_str()),
            Arg::Text(event.author.login.as_str()),
            Arg::Text(event.author.display_name.as_str()),
            Arg::Int(roles_bits(&event.author.roles)),
            Arg::Text(event.text.as_str()),
            Arg::from(self.emotes.as_deref()),
            Arg::from((!event.extras.is_empty()).then(|| event.extras.as_json())),
            Arg::from(self.detail.as_deref()),
            Arg::from(event.shared_from.as_deref()),
        ]
    }

    /// Counts the row's op as written, and the event as recorded (`inserted`) or as a re-delivery
    /// the unique key ignored.
    pub(super) fn count(&self, inserted: bool, tally: &mut BatchTally, totals: &mut RunningCounts) {
        tally.ops_written += 1;
        if inserted {
            tally.events_recorded += 1;
            totals.count(
                &self.event.creator,
                self.event.platform.as_str(),
                self.event.timestamp_ms(),
            );
        } else {
            tally.events_duplicate += 1;
        }
    }
}

/// Roles as a bit set: 1 broadcaster, 2 moderator, 4 vip, 8 subscriber.
pub(crate) fn roles_bits(roles: &Roles) -> i64 {
    i64::from(roles.broadcaster)
        | i64::from(roles.moderator) << 1
        | i64::from(roles.vip) << 2
        | i64::from(roles.subscriber) << 3
}

fn roles_from_bits(bits: i64) -> Roles {
    Roles {
        broadcaster: bits & 1 != 0,
        moderator: bits & 2 != 0,
        vip: bits & 4 != 0,
        subscriber: bits & 8 != 0,
    }
}

/// The columns [`read_event`] reads, in its order.
const EVENT_COLUMNS: &str = "platform, creator, channel, message_id, ts_ms, kind, author_id,
    author_login, author_name, roles, text, emotes, extras, detail, shared_from";

/// One `chat_events` row back into an event; a column that does not parse is an error naming it.
fn read_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChatEvent> {
    read_event_at(r, 0)
}

/// [`read_event`] for [`EVENT_COLUMNS`] starting at column `at`.
fn read_event_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<ChatEvent> {
    let kind = r.get_ref(at + 5)?.as_str()?;
    let kind = EventKind::from_name(kind)
        .ok_or_else(|| rows::invalid(at + 5, format!("unknown event kind {kind:?}")))?;
    let emotes = match r.get_ref(at + 11)?.as_str_or_null()? {
        None => Default::default(),
        Some(json) => serde_json::from_str(json)
            .map_err(|e| rows::invalid(at + 11, format!("emotes are not valid JSON ({e})")))?,
    };
    let extras = match r.get_ref(at + 12)?.as_str_or_null()? {
        None => Extras::default(),
        Some(json) => Extras::parse(json)
            .map_err(|e| rows::invalid(at + 12, format!("extras are not a JSON object ({e})")))?,
    };
    let detail = match r.get_ref(at + 13)?.as_str_or_null()? {
        None => None,
        Some(json) => Some(Box::new(serde_json::from_str(json).map_err(|e| {
            rows::invalid(at + 13, format!("detail does not parse ({e})"))
        })?)),
    };
    Ok(ChatEvent {
        platform: platform(r, at)?,
        creator: text(r, at + 1)?,
        channel: text(r, at + 2)?,
        message_id: text(r, at + 3)?,
        timestamp: rows::time(r, at + 4)?,
        kind,
        author: Author {
            id: text(r, at + 6)?,
            login: text(r, at + 7)?,
            display_name: text(r, at + 8)?,
            roles: roles_from_bits(r.get(at + 9)?),
        },
        text: text(r, at + 10)?,
        emotes,
        detail,
        extras,
        shared_from: r
            .get_ref(at + 14)?
            .as_str_or_null()?
            .map(crate::event::CompactString::from),
    })
}

/// How many of the most recent chat events [`StoreReader::recent_chatter`] looks through.
pub const CHATTER_LOOKBACK: usize = 50_000;

impl StoreReader {
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

    /// The user id and login of the most recent chatter named `name` (login or display name, any
    /// case) in `creator`'s chat on `platform`, among the last [`CHATTER_LOOKBACK`] events recorded:
    /// how an operator names a user to moderate without knowing the platform's user id.
    pub fn recent_chatter(
        &self,
        creator: &str,
        platform: Platform,
        name: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let name = name.trim().trim_start_matches('@');
        let found = self.rows(
            "SELECT author_id, author_login FROM
               (SELECT author_id, author_login, author_name, creator, platform, id FROM chat_events
                ORDER BY id DESC LIMIT ?1)
             WHERE creator = ?2 AND platform = ?3 AND author_id <> ''
               AND (lower(author_login) = lower(?4) OR lower(author_name) = lower(?4))
             ORDER BY id DESC LIMIT 1",
            params![limit(CHATTER_LOOKBACK), creator, platform.as_str(), name],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )?;
        Ok(found.into_iter().next())
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
                    last_event_at: rows::time(r, 3)?,
                })
            },
        )
    }

    /// The `n` most recently recorded chat events, oldest first (by event time, then id).
    pub fn recent_chat_events(&self, n: usize) -> Result<Vec<ChatEvent>, StoreError> {
        self.rows(
            &format!(
                "SELECT {EVENT_COLUMNS} FROM (SELECT * FROM chat_events ORDER BY id DESC LIMIT ?1)
                 ORDER BY ts_ms, platform, message_id"
            ),
            params![limit(n)],
            read_event,
        )
    }

    /// Every chat event in the order the pipeline accepted it (the replay order).
    pub fn chat_events_in_acceptance_order(&self) -> Result<Vec<ChatEvent>, StoreError> {
        self.rows(
            &format!("SELECT {EVENT_COLUMNS} FROM chat_events ORDER BY id"),
            [],
            read_event,
        )
    }

    /// Calls `f(id, event)` for each chat event with `after < id <= through`, in acceptance order,
    /// one row at a time (a replay of a million events never holds them all).
    pub fn for_each_chat_event<E: From<StoreError>>(
        &self,
        after: i64,
        through: i64,
        mut f: impl FnMut(i64, ChatEvent) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stmt = self
            .conn()
            .prepare(&format!(
                "SELECT id, {EVENT_COLUMNS} FROM chat_events WHERE id > ?1 AND id <= ?2 ORDER BY id"
            ))
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params![after, through])
            .map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let id: i64 = row.get(0).map_err(|e| self.err(e))?;
            let event = read_event_at(row, 1).map_err(|e| self.err(e))?;
            f(id, event)?;
        }
        Ok(())
    }

    /// The first and last chat event ids whose event time is in `[since_ms, until_ms)`; `None` when
    /// no event is. Without bounds, the whole log.
    pub fn chat_id_range(
        &self,
        since_ms: Option<i64>,
        until_ms: Option<i64>,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        // Without bounds the two ends of the primary key (two lookups); with them, a range scan of
        // the time index.
        let both = |r: &rusqlite::Row<'_>| Ok((r.get(0)?, r.get(1)?));
        let (min, max): (Option<i64>, Option<i64>) = if since_ms.is_none() && until_ms.is_none() {
            self.conn().query_row(
                "SELECT (SELECT min(id) FROM chat_events), (SELECT max(id) FROM chat_events)",
                [],
                both,
            )
        } else {
            self.conn().query_row(
                "SELECT min(id), max(id) FROM chat_events WHERE ts_ms >= ?1 AND ts_ms < ?2",
                params![since_ms.unwrap_or(i64::MIN), until_ms.unwrap_or(i64::MAX)],
                both,
            )
        }
        .map_err(|e| self.err(e))?;
        Ok(min.zip(max))
    }

    /// The (platform, message id) of the `n` most recently accepted events, oldest first: the
    /// pipeline seeds its dedupe window with them, so a restart does not fire triggers again for
    /// messages a platform re-delivers.
    pub fn recent_message_keys(&self, n: usize) -> Result<Vec<(Platform, String)>, StoreError> {
        self.rows(
            "SELECT platform, message_id FROM
               (SELECT id, platform, message_id FROM chat_events ORDER BY id DESC LIMIT ?1) ORDER BY id",
            params![limit(n)],
            |r| Ok((platform(r, 0)?, r.get(1)?)),
        )
    }
}
