//! Moderation's audit: every decision a filter made (`moderation_decisions`: filter, rule, user,
//! message, decision, strike level, dry run), and what each platform command of it became
//! (`moderation_outcomes`: queued, sent with the platform's answer such as a ban id, failed with
//! the reason, refused, dropped, abandoned).
//!
//! A decision is written with its action, in the same step ([`super::actions::apply`]); its
//! outcomes arrive on their own as the platform answers, possibly before the decision's batch
//! commits, so they are rows of their own keyed by (platform, message id, command) and never
//! depend on the decision's row being there first. The strikes are read back from the decisions
//! ([`StoreReader::strike_records`]): each user's count after their last offence, which the engine
//! starts from, so a restart does not forgive a spammer.

use super::apply::ApplyError;
use super::error::StoreError;
use super::open::StoreReader;
use super::rows::{count, limit, ms, platform, time};
use crate::actions::moderation::StrikeRecord;
use crate::actions::{Action, ActionKind};
use crate::event::Platform;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// What became of one platform command of a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModerationOutcome {
    pub platform: Platform,
    /// The message the decision was about (the command's cause).
    pub message_id: String,
    /// The command (`delete_message`, `timeout`, `ban`, `say`).
    pub command: String,
    /// `queued`, `sent`, `failed`, `refused`, `dropped`, `abandoned`.
    pub state: String,
    /// The platform's answer (a ban id) or why not.
    pub answer: Option<String>,
    pub at: DateTime<Utc>,
}

/// Records the decision an action carries; an action of another kind is not one.
pub(super) fn record(conn: &Connection, action: &Action) -> Result<(), ApplyError> {
    let ActionKind::Moderate {
        channel,
        filter,
        rule,
        user_id,
        user_login,
        decision,
        seconds,
        strike,
        dry_run,
        message,
    } = &action.kind
    else {
        return Ok(());
    };
    conn.prepare_cached(
        "INSERT OR IGNORE INTO moderation_decisions (creator, platform, channel, message_id, at_ms,
            user_id, user_login, filter, rule, decision, seconds, strike, dry_run, message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        action.creator,
        action.platform.as_str(),
        channel,
        action.message_id,
        ms(&action.at),
        user_id,
        user_login,
        filter,
        rule,
        decision.as_str(),
        seconds,
        strike,
        dry_run,
        message,
    ])?;
    Ok(())
}

/// Records (or updates) what became of one command of a decision.
pub(super) fn record_outcome(
    conn: &Connection,
    outcome: &ModerationOutcome,
) -> Result<(), ApplyError> {
    conn.prepare_cached(
        "INSERT INTO moderation_outcomes (platform, message_id, command, state, answer, at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (platform, message_id, command) DO UPDATE SET
            state = excluded.state, answer = excluded.answer, at_ms = excluded.at_ms",
    )?
    .execute(params![
        outcome.platform.as_str(),
        outcome.message_id,
        outcome.command,
        outcome.state,
        outcome.answer,
        ms(&outcome.at),
    ])?;
    Ok(())
}

/// One recorded decision, with what its commands became.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionRow {
    pub creator: String,
    pub platform: Platform,
    pub message_id: String,
    pub at: DateTime<Utc>,
    pub user_id: String,
    pub user_login: String,
    pub filter: String,
    pub rule: String,
    pub decision: String,
    pub seconds: Option<u32>,
    pub strike: u32,
    pub dry_run: bool,
    /// Said in chat with the decision.
    pub message: Option<String>,
    pub outcomes: Vec<OutcomeRow>,
}

/// What one command of a decision became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutcomeRow {
    pub command: String,
    pub state: String,
    pub answer: Option<String>,
}

/// Decisions counted by (creator, filter, decision, dry run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionCount {
    pub creator: String,
    pub filter: String,
    pub decision: String,
    pub dry_run: bool,
    pub count: u64,
}

/// A user's offences with one creator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offender {
    pub creator: String,
    pub platform: Platform,
    pub user_id: String,
    pub user_login: String,
    /// Decisions that counted a strike (enforced only).
    pub strikes: u64,
    /// The strike level of the last one.
    pub last_strike: u32,
    pub last_at: DateTime<Utc>,
}

impl StoreReader {
    /// Each user's strikes after their last offence, per (creator, platform, user, dry run): what
    /// the moderation engine starts from. With `up_to_chat_id`, only decisions about messages the
    /// chat log holds at or before that id (where `ss replay` starts).
    pub fn strike_records(
        &self,
        up_to_chat_id: Option<i64>,
    ) -> Result<Vec<StrikeRecord>, StoreError> {
        let map = |r: &rusqlite::Row<'_>| {
            Ok(StrikeRecord {
                creator: r.get(0)?,
                platform: platform(r, 1)?,
                user_id: r.get(2)?,
                dry_run: r.get(3)?,
                strikes: r.get(4)?,
                last_ms: r.get(5)?,
            })
        };
        const COLUMNS: &str = "creator, platform, user_id, dry_run, strike, at_ms";
        match up_to_chat_id {
            None => self.rows(
                &format!(
                    "SELECT {COLUMNS} FROM moderation_decisions WHERE id IN (
                        SELECT max(id) FROM moderation_decisions WHERE strike > 0
                        GROUP BY creator, platform, user_id, dry_run)
                     ORDER BY id"
                ),
                [],
                map,
            ),
            Some(chat_id) => self.rows(
                &format!(
                    "SELECT {COLUMNS} FROM moderation_decisions WHERE id IN (
                        SELECT max(d.id) FROM moderation_decisions d
                        JOIN chat_events c ON c.ts_ms = d.at_ms AND c.platform = d.platform
                            AND c.message_id = d.message_id
                        WHERE d.strike > 0 AND c.id <= ?1
                        GROUP BY d.creator, d.platform, d.user_id, d.dry_run)
                     ORDER BY id"
                ),
                [chat_id],
                map,
            ),
        }
    }

    /// The `n` most recent decisions, newest first, with what their commands became.
    pub fn recent_decisions(&self, n: usize) -> Result<Vec<DecisionRow>, StoreError> {
        let mut rows = self.rows(
            "SELECT creator, platform, message_id, at_ms, user_id, user_login, filter, rule, decision,
                    seconds, strike, dry_run, message
             FROM moderation_decisions ORDER BY id DESC LIMIT ?1",
            [limit(n)],
            |r| {
                Ok(DecisionRow {
                    creator: r.get(0)?,
                    platform: platform(r, 1)?,
                    message_id: r.get(2)?,
                    at: time(r, 3)?,
                    user_id: r.get(4)?,
                    user_login: r.get(5)?,
                    filter: r.get(6)?,
                    rule: r.get(7)?,
                    decision: r.get(8)?,
                    seconds: r.get(9)?,
                    strike: r.get(10)?,
                    dry_run: r.get(11)?,
                    message: r.get(12)?,
                    outcomes: Vec::new(),
                })
            },
        )?;
        for row in &mut rows {
            row.outcomes = self.rows(
                "SELECT command, state, answer FROM moderation_outcomes
                 WHERE platform = ?1 AND message_id = ?2 ORDER BY rowid",
                params![row.platform.as_str(), row.message_id],
                |r| {
                    Ok(OutcomeRow {
                        command: r.get(0)?,
                        state: r.get(1)?,
                        answer: r.get(2)?,
                    })
                },
            )?;
        }
        Ok(rows)
    }

    /// Every decision counted by creator, filter, decision and dry run.
    pub fn decision_counts(&self) -> Result<Vec<DecisionCount>, StoreError> {
        self.rows(
            "SELECT creator, filter, decision, dry_run, count(*) FROM moderation_decisions
             GROUP BY creator, filter, decision, dry_run ORDER BY creator, filter, decision, dry_run",
            [],
            |r| {
                Ok(DecisionCount {
                    creator: r.get(0)?,
                    filter: r.get(1)?,
                    decision: r.get(2)?,
                    dry_run: r.get(3)?,
                    count: count(r, 4)?,
                })
            },
        )
    }

    /// Commands of decisions counted by state (`sent`, `failed`, ...).
    pub fn outcome_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.rows(
            "SELECT state, count(*) FROM moderation_outcomes GROUP BY state ORDER BY state",
            [],
            |r| Ok((r.get(0)?, count(r, 1)?)),
        )
    }

    /// The `n` users with the most enforced strikes, most first.
    pub fn top_offenders(&self, n: usize) -> Result<Vec<Offender>, StoreError> {
        self.rows(
            "SELECT d.creator, d.platform, d.user_id, d.user_login, g.strikes, d.strike, d.at_ms
             FROM (SELECT max(id) AS last, count(*) AS strikes FROM moderation_decisions
                   WHERE strike > 0 AND dry_run = 0 GROUP BY creator, platform, user_id) g
             JOIN moderation_decisions d ON d.id = g.last
             ORDER BY g.strikes DESC, d.at_ms DESC, d.user_login LIMIT ?1",
            [limit(n)],
            |r| {
                Ok(Offender {
                    creator: r.get(0)?,
                    platform: platform(r, 1)?,
                    user_id: r.get(2)?,
                    user_login: r.get(3)?,
                    strikes: count(r, 4)?,
                    last_strike: r.get(5)?,
                    last_at: time(r, 6)?,
                })
            },
        )
    }

    /// The platform's reference for a command of a decision (a YouTube ban id), when it sent one.
    pub fn moderation_answer(
        &self,
        platform: Platform,
        message_id: &str,
        command: &str,
    ) -> Result<Option<String>, StoreError> {
        self.conn()
            .query_row(
                "SELECT answer FROM moderation_outcomes
                 WHERE platform = ?1 AND message_id = ?2 AND command = ?3 AND state = 'sent'",
                params![platform.as_str(), message_id, command],
                |r| r.get(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::moderation::Decision;
    use crate::store::{StoreWriter, WriteOp};

    fn decision(message_id: &str, user: &str, strike: u32, s: i64, dry_run: bool) -> WriteOp {
        WriteOp::action(Action {
            trigger_id: "moderation/links".into(),
            creator: "demo".into(),
            platform: Platform::named("kick"),
            message_id: message_id.into(),
            at: DateTime::from_timestamp_millis(1_700_000_000_000 + s * 1000).unwrap(),
            kind: ActionKind::Moderate {
                channel: "demo".into(),
                filter: "links".into(),
                rule: "link to example.com".into(),
                user_id: user.into(),
                user_login: user.into(),
                decision: Decision::Delete,
                seconds: None,
                strike,
                dry_run,
                message: None,
            },
            thread: true,
        })
    }

    #[test]
    fn strikes_outcomes_and_offenders_read_back_from_the_decisions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let writer = StoreWriter::spawn(&path, 64).unwrap();
        // The outcome of the first command may arrive before its decision commits.
        writer
            .blocking_send(WriteOp::ModerationOutcome(Box::new(ModerationOutcome {
                platform: Platform::named("kick"),
                message_id: "m1".into(),
                command: "delete_message".into(),
                state: "sent".into(),
                answer: None,
                at: Utc::now(),
            })))
            .unwrap();
        for op in [
            decision("m1", "ann", 1, 0, false),
            decision("m2", "ann", 2, 1, false),
            decision("m3", "bob", 1, 2, false),
            decision("m4", "ann", 1, 3, true),
            // A second decision about the same message is not recorded.
            decision("m3", "bob", 5, 4, false),
        ] {
            writer.blocking_send(op).unwrap();
        }
        writer
            .blocking_send(WriteOp::ModerationOutcome(Box::new(ModerationOutcome {
                platform: Platform::named("kick"),
                message_id: "m2".into(),
                command: "ban".into(),
                state: "failed".into(),
                answer: Some("kick ban: HTTP 500".into()),
                at: Utc::now(),
            })))
            .unwrap();
        writer.close().unwrap();
        let store = StoreReader::open(&path).unwrap();
        let strikes: Vec<(String, u32, bool)> = store
            .strike_records(None)
            .unwrap()
            .into_iter()
            .map(|r| (r.user_id, r.strikes, r.dry_run))
            .collect();
        assert_eq!(
            strikes,
            [
                ("ann".into(), 2, false),
                ("bob".into(), 1, false),
                ("ann".into(), 1, true)
            ]
        );
        let recent = store.recent_decisions(10).unwrap();
        assert_eq!(recent.len(), 4);
        assert_eq!(recent[3].outcomes[0].state, "sent");
        assert_eq!(
            recent[2].outcomes[0].answer.as_deref(),
            Some("kick ban: HTTP 500")
        );
        let top = store.top_offenders(5).unwrap();
        assert_eq!(
            top.iter()
                .map(|o| (o.user_id.as_str(), o.strikes))
                .collect::<Vec<_>>(),
            [("ann", 2), ("bob", 1)]
        );
        assert_eq!(store.decision_counts().unwrap().len(), 2);
        assert_eq!(
            store.outcome_counts().unwrap(),
            [("failed".into(), 1), ("sent".into(), 1)]
        );
    }

    #[test]
    fn a_store_from_the_daily_bot_migrates_to_moderation_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        // The version before moderation's audit (the daily bot's schema).
        let before = 13;
        let conn = rusqlite::Connection::open(&path).unwrap();
        for step in &crate::store::schema::MIGRATIONS[..before] {
            conn.execute_batch(step).unwrap();
        }
        conn.execute_batch(&format!(
            "PRAGMA user_version = {before};
             INSERT INTO points (creator, platform, user_id, user_name, balance, earned, updated_ms)
                 VALUES ('demo', 'kick', 'ann', 'ann', 5, 5, 1);"
        ))
        .unwrap();
        let has_table = |conn: &rusqlite::Connection| -> i64 {
            conn.query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'moderation_decisions'",
                [],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(has_table(&conn), 0, "the old store has no audit yet");
        drop(conn);

        let writer = StoreWriter::spawn(&path, 8).unwrap();
        writer
            .blocking_send(decision("m1", "ann", 1, 0, false))
            .unwrap();
        writer.close().unwrap();
        let store = StoreReader::open(&path).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            crate::store::schema::SCHEMA_VERSION
        );
        assert_eq!(store.strike_records(None).unwrap().len(), 1);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let balance: i64 = conn
            .query_row(
                "SELECT balance FROM points WHERE user_id = 'ann'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(balance, 5, "the daily bot's rows are kept");
        assert_eq!(has_table(&conn), 1);
    }
}
