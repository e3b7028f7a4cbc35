//! The action log: every action a trigger fired, and the store effects of those that change state.
//!
//! Each action is one row in `actions` with its descriptor as JSON (a descriptor that cannot be
//! serialized is refused, never stored as an empty row). In the same transaction its effect is
//! applied by the domain that owns it: clip requests in [`super::clips`], votes, tallies and scores in
//! [`super::community`]; and the notifications routing made of it (a `notify`, a poll's results)
//! are queued in [`super::outbox`]. Replies and validations change no state here; their effects
//! happen outside the store.

use super::apply::{ApplyError, BatchTally};
use super::clips::{self, NewClip};
use super::community;
use super::error::StoreError;
use super::moderation;
use super::open::StoreReader;
use super::outbox::{self, NewOutbox};
use super::people::{self, LinkHow};
use super::rows::{self, count, ms, platform};
use super::running_counts::BatchCounts;
use super::{giveaways, points, quotes};
use crate::actions::{Action, ActionKind};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use serde::Serialize;

/// Applies `action`'s store effect, queues its notifications (`outbox`), then records it and
/// counts it for its trigger (`counts`, folded into `trigger_fires` at commit).
///
/// Refusals come before anything is written (the writer runs actions without a savepoint, as they are
/// the hot path): the payload and the notifications are checked first, each domain effect refuses
/// before its first change (a clip that finds no free id, a vote without an option writes nothing),
/// and the action row is written last.
pub(super) fn apply(
    conn: &Connection,
    action: &Action,
    outbox: &[NewOutbox],
    tally: &mut BatchTally,
    counts: &mut BatchCounts,
) -> Result<(), ApplyError> {
    let payload = serde_json::to_string(&action.kind).map_err(|e| {
        ApplyError::Rejected(format!(
            "action of trigger {} not serializable: {e}",
            action.trigger_id
        ))
    })?;
    let notifications = outbox
        .iter()
        .map(outbox::check)
        .collect::<Result<Vec<_>, _>>()?;
    match &action.kind {
        ActionKind::Clip { .. } => {
            if let Some(mut clip) = NewClip::asked_by(action) {
                // The id its cause gives, unless a clip has it already (then a drawn one).
                match clips::insert(conn, &clip) {
                    Err(ApplyError::Rejected(_)) => {
                        clip.clip_id = None;
                        clips::insert(conn, &clip)?;
                    }
                    inserted => {
                        inserted?;
                    }
                }
            }
        }
        ActionKind::Tally { .. }
        | ActionKind::PollVote { .. }
        | ActionKind::Score { .. }
        | ActionKind::PollOpen { .. }
        | ActionKind::PollClose { .. } => {
            community::apply(conn, action, tally, counts)?;
        }
        ActionKind::Moderate { .. } => moderation::record(conn, action)?,
        ActionKind::GiveawayOpen { .. }
        | ActionKind::GiveawayEntry { .. }
        | ActionKind::GiveawayEntriesClosed { .. }
        | ActionKind::GiveawayDraw { .. }
        | ActionKind::GiveawayClose { .. } => guarded(conn, || giveaways::apply(conn, action))?,
        ActionKind::QuoteAdd { .. } | ActionKind::QuoteDelete { .. } => {
            guarded(conn, || quotes::apply(conn, action))?;
        }
        ActionKind::PointsCredit { .. }
        | ActionKind::PointsGive { .. }
        | ActionKind::PointsAdjust { .. } => guarded(conn, || points::apply(conn, action))?,
        ActionKind::Link { person, accounts } => guarded(conn, || {
            people::link(
                conn,
                &action.creator,
                person,
                accounts,
                LinkHow::Chat,
                &action.cause(),
                &action.at,
            )
        })?,
        ActionKind::Unlink { person, account } => guarded(conn, || {
            people::unlink(
                conn,
                &action.creator,
                person,
                account,
                LinkHow::Chat,
                &action.cause(),
                &action.at,
            )
        })?,
        ActionKind::Reply { .. }
        | ActionKind::Notify { .. }
        | ActionKind::Say { .. }
        | ActionKind::Announce { .. }
        | ActionKind::Delete { .. }
        | ActionKind::Timeout { .. }
        | ActionKind::Ban { .. }
        | ActionKind::Unban { .. }
        | ActionKind::ValidationPassed
        | ActionKind::PollRefused { .. }
        | ActionKind::Refused { .. }
        | ActionKind::Quote { .. }
        | ActionKind::Points { .. }
        | ActionKind::Standings { .. }
        | ActionKind::Obs { .. }
        | ActionKind::Extension { .. } => {}
    }
    outbox::enqueue_checked(conn, &notifications)?;
    conn.prepare_cached(
        "INSERT INTO actions (creator, platform, trigger_id, action_type, payload, at_ms, message_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        action.creator,
        action.platform.as_str(),
        action.trigger_id,
        action.kind.type_name(),
        payload,
        ms(&action.at),
        action.message_id
    ])?;
    counts
        .trigger_fires
        .count(&action.creator, &action.trigger_id, ms(&action.at));
    Ok(())
}

/// Whether `kind`'s store effect reads the chat log: a link records its position there (the last
/// chat event id), so the chat events accepted before it must be inserted first. The writer holds
/// chat events back to insert several per statement and flushes them before such an action; every
/// other action's rows may go in ahead of them. Every kind is named, so a new one must decide.
pub(super) fn reads_chat_log(kind: &ActionKind) -> bool {
    match kind {
        ActionKind::Link { .. } | ActionKind::Unlink { .. } => true,
        ActionKind::Reply { .. }
        | ActionKind::Say { .. }
        | ActionKind::Announce { .. }
        | ActionKind::Delete { .. }
        | ActionKind::Timeout { .. }
        | ActionKind::Moderate { .. }
        | ActionKind::Ban { .. }
        | ActionKind::Unban { .. }
        | ActionKind::Clip { .. }
        | ActionKind::Tally { .. }
        | ActionKind::PollVote { .. }
        | ActionKind::Score { .. }
        | ActionKind::Notify { .. }
        | ActionKind::ValidationPassed
        | ActionKind::PollOpen { .. }
        | ActionKind::PollClose { .. }
        | ActionKind::PollRefused { .. }
        | ActionKind::Standings { .. }
        | ActionKind::Refused { .. }
        | ActionKind::GiveawayOpen { .. }
        | ActionKind::GiveawayEntry { .. }
        | ActionKind::GiveawayEntriesClosed { .. }
        | ActionKind::GiveawayDraw { .. }
        | ActionKind::GiveawayClose { .. }
        | ActionKind::QuoteAdd { .. }
        | ActionKind::QuoteDelete { .. }
        | ActionKind::Quote { .. }
        | ActionKind::PointsCredit { .. }
        | ActionKind::PointsGive { .. }
        | ActionKind::PointsAdjust { .. }
        | ActionKind::Points { .. }
        | ActionKind::Obs { .. }
        | ActionKind::Extension { .. } => false,
    }
}

/// Runs a domain effect of several statements inside a savepoint, so a refusal halfway leaves
/// nothing behind. The hot-path effects (votes, tallies, scores) refuse before their first change
/// and need none; the daily bot's (points, links, quotes, giveaways) are rare and may refuse late.
fn guarded(
    conn: &Connection,
    effect: impl FnOnce() -> Result<(), ApplyError>,
) -> Result<(), ApplyError> {
    conn.prepare_cached("SAVEPOINT effect")?.execute([])?;
    match effect() {
        Ok(()) => {
            conn.prepare_cached("RELEASE effect")?.execute([])?;
            Ok(())
        }
        Err(e) => {
            conn.prepare_cached("ROLLBACK TO effect")?.execute([])?;
            conn.prepare_cached("RELEASE effect")?.execute([])?;
            Err(e)
        }
    }
}

/// How often a trigger produced an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriggerFires {
    pub creator: String,
    pub trigger_id: String,
    pub fired: u64,
    pub last_fired_at: DateTime<Utc>,
}

impl StoreReader {
    /// How often each trigger fired (kept per trigger as actions are recorded: one row each).
    pub fn trigger_fires(&self) -> Result<Vec<TriggerFires>, StoreError> {
        self.rows(
            "SELECT creator, trigger_id, fired, last_fired_ms FROM trigger_fires
             ORDER BY creator, trigger_id",
            [],
            |r| {
                Ok(TriggerFires {
                    creator: r.get(0)?,
                    trigger_id: r.get(1)?,
                    fired: count(r, 2)?,
                    last_fired_at: rows::time(r, 3)?,
                })
            },
        )
    }

    /// The `limit` most recently recorded actions, newest first.
    pub fn recent_actions(&self, limit: usize) -> Result<Vec<Action>, StoreError> {
        self.rows(
            &format!("SELECT {ACTION_COLUMNS} FROM actions ORDER BY id DESC LIMIT ?1"),
            params![rows::limit(limit)],
            read_action,
        )
    }

    /// Every recorded action, in the order it was recorded.
    pub fn recorded_actions(&self) -> Result<Vec<Action>, StoreError> {
        self.rows(
            &format!("SELECT {ACTION_COLUMNS} FROM actions ORDER BY id"),
            [],
            read_action,
        )
    }

    /// Calls `f` with each recorded action whose time is in `[since_ms, until_ms)`, in the order
    /// recorded, one row at a time.
    pub fn for_each_recorded_action<E: From<StoreError>>(
        &self,
        since_ms: Option<i64>,
        until_ms: Option<i64>,
        mut f: impl FnMut(Action) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stmt = self
            .conn()
            .prepare(&format!(
                "SELECT {ACTION_COLUMNS} FROM actions WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY id"
            ))
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params![
                since_ms.unwrap_or(i64::MIN),
                until_ms.unwrap_or(i64::MAX)
            ])
            .map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            f(read_action(row).map_err(|e| self.err(e))?)?;
        }
        Ok(())
    }
}

/// The columns [`read_action`] reads, in its order.
const ACTION_COLUMNS: &str = "creator, platform, trigger_id, payload, at_ms, message_id";

/// One `actions` row back into an action; a payload that does not parse is an error naming it.
fn read_action(r: &rusqlite::Row<'_>) -> rusqlite::Result<Action> {
    let payload = r.get_ref(3)?.as_str()?;
    Ok(Action {
        creator: r.get(0)?,
        platform: platform(r, 1)?,
        trigger_id: r.get(2)?,
        kind: serde_json::from_str(payload)
            .map_err(|e| rows::invalid(3, format!("action payload does not parse ({e})")))?,
        at: rows::time(r, 4)?,
        message_id: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
        thread: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Platform;
    use crate::store::{StoreWriter, WriteOp};

    fn reply(trigger: &str, at_ms: i64) -> WriteOp {
        WriteOp::action(Action {
            trigger_id: trigger.into(),
            creator: "demo".into(),
            platform: Platform::named("twitch"),
            message_id: format!("m-{at_ms}"),
            at: DateTime::from_timestamp_millis(at_ms).unwrap(),
            kind: ActionKind::Reply {
                channel: "demo".into(),
                text: "pong".into(),
            },
            thread: true,
        })
    }

    /// A store at 17 (the last released schema) with actions in it migrates: the SQLite trigger
    /// that counted fires and the unused `actions_by_trigger` index are gone, the actions and their
    /// counts per trigger are kept, and the writer counts new actions in the same table.
    #[test]
    fn a_store_at_17_keeps_its_actions_and_counts_and_the_writer_counts_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        crate::store::schema::store_at_version(&path, 17);
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "INSERT INTO actions (creator, platform, trigger_id, action_type, payload, at_ms, message_id)
                 VALUES ('demo', 'twitch', 'ping', 'reply', '{\"type\":\"reply\",\"channel\":\"demo\",\"text\":\"pong\"}', 1000, 'm-1000'),
                        ('demo', 'twitch', 'ping', 'reply', '{\"type\":\"reply\",\"channel\":\"demo\",\"text\":\"pong\"}', 2000, 'm-2000')",
            )
            .unwrap();
        }
        let writer = StoreWriter::spawn(&path, 16).unwrap();
        writer.blocking_send(reply("ping", 3000)).unwrap();
        writer.blocking_send(reply("hello", 4000)).unwrap();
        writer.close().unwrap();

        let reader = StoreReader::open(&path).unwrap();
        let on_actions: Vec<String> = reader
            .rows(
                "SELECT type || ' ' || name FROM sqlite_master
                 WHERE type IN ('index', 'trigger') AND tbl_name = 'actions'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(on_actions, Vec::<String>::new());
        let recorded = reader.recorded_actions().unwrap();
        let triggers: Vec<&str> = recorded.iter().map(|a| a.trigger_id.as_str()).collect();
        assert_eq!(triggers, ["ping", "ping", "ping", "hello"]);
        let fires: Vec<(String, u64, i64)> = reader
            .trigger_fires()
            .unwrap()
            .into_iter()
            .map(|f| (f.trigger_id, f.fired, f.last_fired_at.timestamp_millis()))
            .collect();
        assert_eq!(
            fires,
            [
                ("hello".to_string(), 1, 4000),
                ("ping".to_string(), 3, 3000)
            ]
        );
    }
}
