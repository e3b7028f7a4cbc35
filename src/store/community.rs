//! Community state: poll votes, tallies and scoreboards, written from the actions that fire them.
//!
//! One vote per (creator, poll, platform, user). In a chat poll (opened by `!poll open`, with a
//! question and options) a later vote replaces the earlier one, as the engine decided; in a standing
//! poll (a `poll_vote` trigger naming it) later votes are ignored and counted. A chat poll still open
//! when trigger state starts afresh (a run mark) is closed here as `interrupted`, because the engine
//! that held it is gone. Tallies and scores keep running totals beside their event tables, so
//! exports read a few rows. Reads return counts only for polls: voter identities never leave the store.

use super::apply::{ApplyError, BatchTally};
use super::error::StoreError;
use super::open::StoreReader;
use super::people::PERSON_JOIN;
use super::rows::{self, count, ms, platform};
use super::running_counts::BatchCounts;
use crate::actions::{Action, ActionKind};
use crate::event::Platform;
use crate::event::person::PERSON_KEY_SQL;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use serde::Serialize;

/// The scores summed per person (linked accounts together) on every board, or only on board
/// `?3` of creator `?2` when `?2` is given: a `people` table of creator, board, person, points,
/// the name and platform of the account that scored last, and every platform scored from.
fn people_on_boards() -> String {
    format!(
        "WITH acct AS (
           SELECT a.creator, a.board, {PERSON_KEY_SQL} AS person, a.platform, a.user_name,
                  a.points, a.updated_ms
           FROM scores a {PERSON_JOIN}
           WHERE ?2 IS NULL OR (a.creator = ?2 AND (?3 IS NULL OR a.board = ?3))),
         people AS (
           -- SQLite takes the bare user_name and platform from the row holding max(updated_ms).
           SELECT creator, board, person, sum(points) AS points, max(updated_ms) AS updated_ms,
                  user_name, platform, group_concat(DISTINCT platform) AS platforms
           FROM acct GROUP BY creator, board, person)"
    )
}

/// Reads a comma-separated list of platform names, in platform order.
fn platforms(r: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Vec<Platform>> {
    let names: String = r.get(index)?;
    let mut list = names
        .split(',')
        .map(|n| {
            Platform::from_name(n)
                .ok_or_else(|| rows::invalid(index, format!("unknown platform {n:?}")))
        })
        .collect::<rusqlite::Result<Vec<_>>>()?;
    list.sort();
    list.dedup();
    Ok(list)
}

/// Applies a tally, poll-vote or score action; other kinds are not community state.
pub(super) fn apply(
    conn: &Connection,
    action: &Action,
    tally: &mut BatchTally,
    counts: &mut BatchCounts,
) -> Result<(), ApplyError> {
    let creator = &action.creator;
    let platform = action.platform.as_str();
    let at = ms(&action.at);
    match &action.kind {
        ActionKind::Tally {
            tally: name,
            amount,
            user_id,
        } => {
            conn.prepare_cached(
                "INSERT INTO tally_events (creator, tally, amount, platform, user_id, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![creator, name, amount, platform, user_id, at])?;
            counts.tallies.add(creator, name, *amount, at);
        }
        ActionKind::PollVote {
            poll,
            option,
            user_id,
        } => {
            if option.is_empty() {
                // `!vote` without an option: the action is recorded, but there is no vote to count.
                return Ok(());
            }
            conn.prepare_cached(
                "INSERT OR IGNORE INTO polls (creator, poll, opened_ms) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![creator, poll, at])?;
            // A chat poll (it has a question) takes the changed vote; a standing poll keeps the first.
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO poll_votes (creator, poll, platform, user_id, option, at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (creator, poll, platform, user_id) DO UPDATE SET
                       option = excluded.option, at_ms = excluded.at_ms
                     WHERE (SELECT question FROM polls
                            WHERE creator = excluded.creator AND poll = excluded.poll) IS NOT NULL",
                )?
                .execute(params![creator, poll, platform, user_id, option, at])?;
            if inserted == 0 {
                tally.votes_ignored += 1;
            }
        }
        ActionKind::PollOpen {
            poll,
            question,
            options,
            closes_at,
        } => {
            let options = serde_json::to_string(options)
                .map_err(|e| ApplyError::Rejected(format!("poll options not serializable: {e}")))?;
            conn.prepare_cached(
                "INSERT INTO polls (creator, poll, opened_ms, question, options, closes_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                creator,
                poll,
                at,
                question,
                options,
                closes_at.as_ref().map(ms)
            ])?;
        }
        ActionKind::PollClose { poll, reason, .. } => {
            conn.prepare_cached(
                "UPDATE polls SET closed_ms = ?3, close_reason = ?4
                 WHERE creator = ?1 AND poll = ?2 AND closed_ms IS NULL",
            )?
            .execute(params![creator, poll, at, reason.as_str()])?;
        }
        ActionKind::Score {
            board,
            points,
            user_id,
            user_name,
        } => {
            conn.prepare_cached(
                "INSERT INTO score_events (creator, board, platform, user_id, user_name, points, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![creator, board, platform, user_id, user_name, points, at])?;
            conn.prepare_cached(
                "INSERT INTO scores (creator, board, platform, user_id, user_name, points, events, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7)
                 ON CONFLICT (creator, board, platform, user_id) DO UPDATE SET
                   user_name = excluded.user_name, points = points + excluded.points,
                   events = events + 1, updated_ms = max(updated_ms, excluded.updated_ms)",
            )?
            .execute(params![creator, board, platform, user_id, user_name, points, at])?;
        }
        _ => {}
    }
    Ok(())
}

/// Closes every chat poll still open (and matching `only`, an SQL condition, or `TRUE`) as
/// `interrupted`: trigger state starts afresh at `at_ms` (a run mark, a shard's state loaded from a
/// snapshot), so the engine that held the poll and its timer is gone.
pub(super) fn interrupt_open_polls(
    conn: &Connection,
    at_ms: i64,
    only: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(&format!(
        "UPDATE polls SET closed_ms = ?1, close_reason = 'interrupted'
         WHERE question IS NOT NULL AND closed_ms IS NULL AND {only}"
    ))?
    .execute(params![at_ms])?;
    Ok(())
}

/// One poll with its vote counts per option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PollSummary {
    pub creator: String,
    pub poll: String,
    /// The question of a chat poll; `None` for a standing poll.
    pub question: Option<String>,
    pub opened_at: DateTime<Utc>,
    /// When a chat poll's timer ends it, if it has one.
    pub closes_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// `command`, `timer` or `interrupted` once closed.
    pub close_reason: Option<String>,
    pub last_vote_at: Option<DateTime<Utc>>,
    pub total_votes: u64,
    /// A chat poll's options in their order, with zero-vote ones; a standing poll's by most votes,
    /// then by option.
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

/// One person's place on a scoreboard: their linked accounts' points summed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScoreEntry {
    /// Competition ranking: equal points share a rank (1, 2, 2, 4).
    pub rank: u64,
    /// The platform of the account that scored last.
    pub platform: Platform,
    /// The name of the account that scored last.
    pub user_name: String,
    pub points: i64,
    /// Every platform the person scored from, in platform order.
    pub platforms: Vec<Platform>,
}

/// One user's place on one scoreboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRank {
    pub board: String,
    pub rank: u64,
    pub players: u64,
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

/// The polls an export shows (`?1`: how many recent ones per creator): the most recently opened
/// per creator, and every open one.
const SHOWN_POLLS: &str = "WITH shown AS (
    SELECT creator, poll FROM (
        SELECT creator, poll, closed_ms,
               row_number() OVER (PARTITION BY creator ORDER BY opened_ms DESC, poll DESC) AS age
        FROM polls)
    WHERE age <= ?1 OR closed_ms IS NULL)";

impl StoreReader {
    /// Each creator's `recent` most recently opened polls, and every poll still open, with their
    /// counts per option, oldest first. Reads the vote aggregates the store keeps (`poll_totals`,
    /// `poll_option_votes`), never the votes themselves, so the work and the memory follow
    /// `recent`, not the history.
    pub fn polls(&self, recent: usize) -> Result<Vec<PollSummary>, StoreError> {
        let recent = i64::try_from(recent).unwrap_or(i64::MAX);
        let mut polls = self.rows(
            &format!(
                "{SHOWN_POLLS}
                 SELECT p.creator, p.poll, p.opened_ms, t.last_vote_ms, coalesce(t.votes, 0),
                        p.question, p.options, p.closes_ms, p.closed_ms, p.close_reason
                 FROM shown s JOIN polls p ON p.creator = s.creator AND p.poll = s.poll
                 LEFT JOIN poll_totals t ON t.creator = p.creator AND t.poll = p.poll
                 ORDER BY p.creator, p.opened_ms, p.poll"
            ),
            [recent],
            |r| {
                let options: Option<String> = r.get(6)?;
                let options = match options {
                    Some(json) => serde_json::from_str::<Vec<String>>(&json)
                        .map_err(|e| rows::invalid(6, format!("poll options do not parse ({e})")))?
                        .into_iter()
                        .map(|option| PollOption { option, votes: 0 })
                        .collect(),
                    None => Vec::new(),
                };
                Ok(PollSummary {
                    creator: r.get(0)?,
                    poll: r.get(1)?,
                    question: r.get(5)?,
                    opened_at: rows::time(r, 2)?,
                    closes_at: rows::opt_time(r, 7)?,
                    closed_at: rows::opt_time(r, 8)?,
                    close_reason: r.get(9)?,
                    last_vote_at: rows::opt_time(r, 3)?,
                    total_votes: count(r, 4)?,
                    options,
                })
            },
        )?;
        let options = self.rows(
            &format!(
                "{SHOWN_POLLS}
                 SELECT o.creator, o.poll, o.option, o.votes
                 FROM shown s JOIN poll_option_votes o ON o.creator = s.creator AND o.poll = s.poll
                 WHERE o.votes > 0
                 ORDER BY o.creator, o.poll, o.votes DESC, o.option"
            ),
            [recent],
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
        let at: std::collections::HashMap<(&str, &str), usize> = polls
            .iter()
            .enumerate()
            .map(|(i, p)| ((p.creator.as_str(), p.poll.as_str()), i))
            .collect();
        let at: Vec<Option<usize>> = options
            .iter()
            .map(|(creator, poll, _)| at.get(&(creator.as_str(), poll.as_str())).copied())
            .collect();
        for ((_, _, option), at) in options.into_iter().zip(at) {
            if let Some(summary) = at.map(|i| &mut polls[i]) {
                match summary
                    .options
                    .iter_mut()
                    .find(|o| o.option == option.option)
                {
                    // A chat poll lists its options up front, in order.
                    Some(listed) => listed.votes = option.votes,
                    None => summary.options.push(option),
                }
            }
        }
        Ok(polls)
    }

    /// The `limit` most recent votes, oldest first, without voters.
    pub fn recent_poll_votes(&self, limit: usize) -> Result<Vec<PollVoteSignal>, StoreError> {
        self.rows(
            "SELECT at_ms, creator, poll, option, platform FROM
               (SELECT * FROM poll_votes ORDER BY id DESC LIMIT ?1) ORDER BY at_ms, id",
            params![rows::limit(limit)],
            |r| {
                Ok(PollVoteSignal {
                    at: rows::time(r, 0)?,
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
                    updated_at: rows::time(r, 4)?,
                })
            },
        )
    }

    /// The `limit` most recent tally increments, oldest first, without users.
    pub fn recent_tally_events(&self, limit: usize) -> Result<Vec<TallySignal>, StoreError> {
        self.rows(
            "SELECT at_ms, creator, tally, amount, platform FROM
               (SELECT * FROM tally_events ORDER BY id DESC LIMIT ?1) ORDER BY at_ms, id",
            params![rows::limit(limit)],
            |r| {
                Ok(TallySignal {
                    at: rows::time(r, 0)?,
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
        let boards = self.rows(
            &format!(
                "SELECT a.creator, a.board, count(DISTINCT {PERSON_KEY_SQL}) FROM scores a {PERSON_JOIN}
                 GROUP BY a.creator, a.board ORDER BY a.creator, a.board"
            ),
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
        self.with_entries(boards, None, top)
    }

    /// One scoreboard with its `top` best entries; `None` when nobody has points on it.
    pub fn scoreboard(
        &self,
        creator: &str,
        board: &str,
        top: usize,
    ) -> Result<Option<Scoreboard>, StoreError> {
        let boards = self.rows(
            &format!(
                "SELECT a.creator, a.board, count(DISTINCT {PERSON_KEY_SQL}) FROM scores a {PERSON_JOIN}
                 WHERE a.creator = ?1 AND a.board = ?2 GROUP BY a.creator, a.board"
            ),
            params![creator, board],
            |r| {
                Ok(Scoreboard {
                    creator: r.get(0)?,
                    board: r.get(1)?,
                    players: count(r, 2)?,
                    entries: Vec::new(),
                })
            },
        )?;
        Ok(self
            .with_entries(boards, Some((creator, board)), top)?
            .pop())
    }

    /// The creator's scoreboard that changed last (ties by name), if they have any.
    pub fn latest_scoreboard(&self, creator: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .rows(
                "SELECT board FROM scores WHERE creator = ?1 GROUP BY board
                 ORDER BY max(updated_ms) DESC, board LIMIT 1",
                params![creator],
                |r| r.get::<_, String>(0),
            )?
            .pop())
    }

    /// Fills each board's `top` best entries, ranked; `only` limits the read to one board.
    ///
    /// Entries are people: linked accounts' points are summed (see `store::people`). Ranking is
    /// standard competition ranking: equal points share a rank and the next rank skips
    /// (1, 2, 2, 4). Within a rank, entries are ordered by name (case-insensitively, then exactly),
    /// then platform and person, so the order never depends on insertion.
    fn with_entries(
        &self,
        mut boards: Vec<Scoreboard>,
        only: Option<(&str, &str)>,
        top: usize,
    ) -> Result<Vec<Scoreboard>, StoreError> {
        let (creator, board) = only.unzip();
        let entries = self.rows(
            &format!(
                "{people}
                 SELECT creator, board, rank, platform, user_name, points, platforms FROM (
                   SELECT *, RANK() OVER (PARTITION BY creator, board ORDER BY points DESC) AS rank,
                     ROW_NUMBER() OVER (PARTITION BY creator, board
                                        ORDER BY points DESC, lower(user_name), user_name, platform,
                                                 person) AS n
                   FROM people)
                 WHERE n <= ?1 ORDER BY creator, board, n",
                people = people_on_boards()
            ),
            params![rows::limit(top), creator, board],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    ScoreEntry {
                        rank: count(r, 2)?,
                        platform: platform(r, 3)?,
                        user_name: r.get(4)?,
                        points: r.get(5)?,
                        platforms: platforms(r, 6)?,
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

    /// Where one person stands on each of the creator's scoreboards, by board name: the person
    /// whose name is `name` (a display name, any case), else the person of `(platform, user_id)`.
    pub fn ranks_of(
        &self,
        creator: &str,
        name: Option<&str>,
        platform: Platform,
        user_id: &str,
    ) -> Result<Vec<UserRank>, StoreError> {
        let person = super::people::person_of(self.conn(), creator, platform, user_id)
            .map_err(|e| self.err(e))?;
        self.rows(
            &format!(
                "{people}
                 SELECT board, rank, players, user_name, points FROM (
                   SELECT *, RANK() OVER (PARTITION BY board ORDER BY points DESC) AS rank,
                     count(*) OVER (PARTITION BY board) AS players
                   FROM people WHERE creator = ?2)
                 WHERE CASE WHEN ?1 IS NULL THEN person = ?4
                            ELSE lower(user_name) = lower(?1) END
                 ORDER BY board, rank",
                people = people_on_boards()
            ),
            params![name, creator, Option::<&str>::None, person],
            |r| {
                Ok(UserRank {
                    board: r.get(0)?,
                    rank: count(r, 1)?,
                    players: count(r, 2)?,
                    user_name: r.get(3)?,
                    points: r.get(4)?,
                })
            },
        )
    }

    /// The `limit` most recent score events, oldest first.
    pub fn recent_score_events(&self, limit: usize) -> Result<Vec<ScoreSignal>, StoreError> {
        self.rows(
            "SELECT at_ms, creator, board, platform, user_name, points FROM
               (SELECT * FROM score_events ORDER BY id DESC LIMIT ?1) ORDER BY at_ms, id",
            params![rows::limit(limit)],
            |r| {
                Ok(ScoreSignal {
                    at: rows::time(r, 0)?,
                    creator: r.get(1)?,
                    board: r.get(2)?,
                    platform: platform(r, 3)?,
                    user_name: r.get(4)?,
                    points: r.get(5)?,
                })
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::poll::CloseReason;
    use crate::actions::poll::OptionCount;
    use crate::store::{RunMark, RunMarkKind, StoreWriter, WriteOp, db_path};

    fn op(ms: i64, kind: ActionKind) -> WriteOp {
        WriteOp::action(Action {
            trigger_id: "!poll".into(),
            creator: "demo".into(),
            platform: Platform::named("twitch"),
            message_id: format!("m{ms}"),
            at: DateTime::from_timestamp_millis(ms).unwrap(),
            kind,
            thread: false,
        })
    }

    fn open(ms: i64, poll: &str) -> WriteOp {
        op(
            ms,
            ActionKind::PollOpen {
                poll: poll.into(),
                question: "Snack?".into(),
                options: vec!["chips".into(), "nuts".into(), "fruit".into()],
                closes_at: None,
            },
        )
    }

    fn vote(ms: i64, poll: &str, user: &str, option: &str) -> WriteOp {
        op(
            ms,
            ActionKind::PollVote {
                poll: poll.into(),
                option: option.into(),
                user_id: user.into(),
            },
        )
    }

    fn close(ms: i64, poll: &str, counts: &[u64], discord: Option<&str>) -> WriteOp {
        let results = ["chips", "nuts", "fruit"]
            .iter()
            .zip(counts)
            .map(|(o, v)| OptionCount {
                option: (*o).into(),
                votes: *v,
            })
            .collect();
        op(
            ms,
            ActionKind::PollClose {
                poll: poll.into(),
                question: "Snack?".into(),
                reason: CloseReason::Command,
                results,
                discord: discord.map(Into::into),
            },
        )
    }

    fn counts(poll: &PollSummary) -> Vec<(&str, u64)> {
        poll.options
            .iter()
            .map(|o| (o.option.as_str(), o.votes))
            .collect()
    }

    #[test]
    fn an_export_lists_the_recent_polls_and_every_open_one_with_their_votes() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let writer = StoreWriter::spawn(&path, 16).unwrap();
        // p0 stays open; p1..p5 are voted on and closed in turn.
        writer.blocking_send(open(1_000, "p0")).unwrap();
        writer
            .blocking_send(vote(1_500, "p0", "ann", "nuts"))
            .unwrap();
        for n in 1..=5 {
            let ms = 10_000 * n;
            let poll = format!("p{n}");
            writer.blocking_send(open(ms, &poll)).unwrap();
            writer
                .blocking_send(vote(ms + 1, &poll, "bob", "fruit"))
                .unwrap();
            writer
                .blocking_send(close(ms + 2, &poll, &[0, 0, 1], None))
                .unwrap();
        }
        writer.close().unwrap();
        let store = StoreReader::open(&path).unwrap();
        let shown = |recent| {
            store
                .polls(recent)
                .unwrap()
                .iter()
                .map(|p| (p.poll.clone(), p.total_votes, counts(p).len()))
                .collect::<Vec<_>>()
        };
        let row = |poll: &str, votes| (poll.to_string(), votes, 3);
        assert_eq!(shown(2), [row("p0", 1), row("p4", 1), row("p5", 1)]);
        assert_eq!(shown(1), [row("p0", 1), row("p5", 1)]);
        assert_eq!(shown(usize::MAX).len(), 6);
        let nuts = store.polls(1).unwrap()[0].options[1].clone();
        assert_eq!((nuts.option.as_str(), nuts.votes), ("nuts", 1));
    }

    #[test]
    fn a_chat_poll_keeps_its_option_order_and_a_changed_vote_replaces_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let writer = StoreWriter::spawn(&path, 16).unwrap();
        for op in [
            open(1_000, "p1"),
            vote(2_000, "p1", "ann", "chips"),
            vote(3_000, "p1", "bob", "nuts"),
            vote(4_000, "p1", "ann", "nuts"),
            close(5_000, "p1", &[0, 2, 0], Some("general")),
            // Closing twice (a re-delivered action) keeps the first close.
            close(6_000, "p1", &[0, 2, 0], Some("general")),
        ] {
            writer.blocking_send(op).unwrap();
        }
        let stats = writer.close().unwrap();
        assert_eq!(
            stats.votes_ignored, 0,
            "a changed vote is not an ignored one"
        );
        let store = StoreReader::open(&path).unwrap();
        let polls = store.polls(usize::MAX).unwrap();
        let p = &polls[0];
        assert_eq!(p.question.as_deref(), Some("Snack?"));
        assert_eq!(counts(p), [("chips", 0), ("nuts", 2), ("fruit", 0)]);
        assert_eq!(p.total_votes, 2);
        assert_eq!(p.close_reason.as_deref(), Some("command"));
        assert_eq!(p.closed_at.map(|t| t.timestamp_millis()), Some(5_000));
        // Where its results go is routing's decision, handed over with the action: none here.
        assert_eq!(store.outbox_counts().unwrap(), (0, 0, 0));
    }

    #[test]
    fn a_poll_open_at_a_run_mark_is_interrupted_with_its_votes_and_posts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let writer = StoreWriter::spawn(&path, 16).unwrap();
        writer.blocking_send(open(1_000, "p1")).unwrap();
        writer
            .blocking_send(vote(2_000, "p1", "ann", "fruit"))
            .unwrap();
        writer
            .blocking_send(WriteOp::RunMark(RunMark {
                kind: RunMarkKind::Start,
                at: DateTime::from_timestamp_millis(9_000).unwrap(),
            }))
            .unwrap();
        // A later poll, closed, is not touched by a later mark.
        writer.blocking_send(open(10_000, "p2")).unwrap();
        writer
            .blocking_send(close(11_000, "p2", &[0, 0, 0], None))
            .unwrap();
        writer
            .blocking_send(WriteOp::RunMark(RunMark {
                kind: RunMarkKind::Reload,
                at: DateTime::from_timestamp_millis(12_000).unwrap(),
            }))
            .unwrap();
        writer.close().unwrap();
        let store = StoreReader::open(&path).unwrap();
        let polls = store.polls(usize::MAX).unwrap();
        let summary: Vec<_> = polls
            .iter()
            .map(|p| {
                (
                    p.poll.as_str(),
                    p.close_reason.as_deref(),
                    p.closed_at.map(|t| t.timestamp_millis()),
                    p.total_votes,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("p1", Some("interrupted"), Some(9_000), 1),
                ("p2", Some("command"), Some(11_000), 0)
            ]
        );
        assert_eq!(store.outbox_counts().unwrap(), (0, 0, 0));
    }
}
