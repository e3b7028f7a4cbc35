//! Points: a per-creator currency, balances per account, summed per person when read.
//!
//! Every change goes through the writer as an action, and every change of a balance is a ledger
//! row whose key is (cause, reason, creator, account): a redelivered event or a replayed action
//! credits nothing twice, because its ledger row is already there. A balance never goes below
//! zero (a `CHECK` the table enforces too): a gift of more than the giver's person holds is refused,
//! a moderator's removal takes what is there. Transfers (`!give`, a moderator's adjustment) record
//! their outcome under the cause of the command, which is how the reply learns what happened.
//!
//! Linked accounts share points: a person's balance is the sum of their accounts' balances
//! ([`super::people::PERSON_JOIN`]), a gift from a person is taken from the account that asked first,
//! then from their other accounts. Unlinking splits the sum again, each account keeping its own.

use super::apply::ApplyError;
use super::error::StoreError;
use super::open::StoreReader;
use super::people::{self, PERSON_JOIN};
use super::rows::{self, ms};
use crate::actions::community::UserOnPlatform;
use crate::actions::{Action, ActionKind};
use crate::event::Platform;
use crate::event::person::PERSON_KEY_SQL;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// What became of a `!give` or a moderator's adjustment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferOutcome {
    /// Moved (for a removal: `moved` may be less than asked when the balance was lower).
    Done,
    /// The giver's person holds fewer points than the gift.
    NotEnough,
    /// Nobody of that name has points with this creator.
    UnknownUser,
    /// The recipient is the giver (or one of their linked accounts).
    ToSelf,
}

impl TransferOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferOutcome::Done => "done",
            TransferOutcome::NotEnough => "not_enough",
            TransferOutcome::UnknownUser => "unknown_user",
            TransferOutcome::ToSelf => "to_self",
        }
    }

    fn from_name(name: &str) -> Option<TransferOutcome> {
        [
            TransferOutcome::Done,
            TransferOutcome::NotEnough,
            TransferOutcome::UnknownUser,
            TransferOutcome::ToSelf,
        ]
        .into_iter()
        .find(|o| o.as_str() == name)
    }
}

/// A recorded transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transfer {
    pub outcome: TransferOutcome,
    /// The recipient's name as found (or as asked when unknown).
    pub to_name: String,
    /// Points asked to move (negative: a removal).
    pub amount: i64,
    /// Points that moved.
    pub moved: i64,
}

/// Applies a points action: a credit, a gift, an adjustment.
pub(super) fn apply(conn: &Connection, action: &Action) -> Result<(), ApplyError> {
    let cause = action.cause();
    let at = ms(&action.at);
    match &action.kind {
        ActionKind::PointsCredit {
            reason,
            amount,
            users,
        } => {
            for user in users {
                credit(
                    conn,
                    &action.creator,
                    action.platform,
                    user,
                    *amount,
                    reason.as_str(),
                    &cause,
                    at,
                )?;
            }
        }
        ActionKind::PointsGive {
            user_id,
            user_name,
            to,
            amount,
            ..
        } => {
            give(
                conn,
                &Giving {
                    creator: &action.creator,
                    platform: action.platform,
                    from: UserOnPlatform {
                        user_id: user_id.clone(),
                        user_name: user_name.clone(),
                    },
                    to,
                    amount: *amount,
                    cause: &cause,
                    at,
                },
            )?;
        }
        ActionKind::PointsAdjust { to, amount, .. } => {
            adjust(
                conn,
                &action.creator,
                action.platform,
                to,
                *amount,
                &cause,
                at,
            )?;
        }
        _ => {}
    }
    Ok(())
}

/// Adds `amount` to one account, once per (cause, reason, account). Returns whether it was new.
#[allow(clippy::too_many_arguments, reason = "one row's columns")]
fn credit(
    conn: &Connection,
    creator: &str,
    platform: Platform,
    user: &UserOnPlatform,
    amount: i64,
    reason: &str,
    cause: &str,
    at: i64,
) -> Result<bool, ApplyError> {
    let new = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO points_ledger (creator, platform, user_id, amount, reason, cause, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            creator,
            platform.as_str(),
            user.user_id,
            amount,
            reason,
            cause,
            at
        ])?
        == 1;
    if new {
        conn.prepare_cached(
            "INSERT INTO points (creator, platform, user_id, user_name, balance, earned, updated_ms)
             VALUES (?1, ?2, ?3, ?4, max(?5, 0), max(?5, 0), ?6)
             ON CONFLICT (creator, platform, user_id) DO UPDATE SET
               user_name = excluded.user_name, balance = balance + ?5,
               earned = earned + max(?5, 0), updated_ms = max(updated_ms, excluded.updated_ms)",
        )?
        .execute(params![
            creator,
            platform.as_str(),
            user.user_id,
            user.user_name,
            amount,
            at
        ])?;
    }
    Ok(new)
}

/// Accounts of one person with their balances, the account `first` first.
fn person_accounts(
    conn: &Connection,
    creator: &str,
    person: &str,
    first: (Platform, &str),
) -> rusqlite::Result<Vec<(String, String, String, i64)>> {
    let mut accounts: Vec<(String, String, String, i64)> = conn
        .prepare_cached(&format!(
            "SELECT a.platform, a.user_id, a.user_name, a.balance FROM points a {PERSON_JOIN}
             WHERE a.creator = ?1 AND {PERSON_KEY_SQL} = ?2 ORDER BY a.platform, a.user_id"
        ))?
        .query_map(params![creator, person], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    accounts.sort_by_key(|(p, id, _, _)| !(p == first.0.as_str() && id == first.1));
    Ok(accounts)
}

/// The account named `name` (a display name or login, `@` optional, any case) with points: on
/// `platform` first, then the one updated last.
fn find_by_name(
    conn: &Connection,
    creator: &str,
    platform: Platform,
    name: &str,
) -> rusqlite::Result<Option<(String, String, String)>> {
    let name = name.trim().trim_start_matches('@');
    conn.prepare_cached(
        "SELECT platform, user_id, user_name FROM points
         WHERE creator = ?1 AND lower(user_name) = lower(?2)
         ORDER BY platform = ?3 DESC, updated_ms DESC, platform, user_id LIMIT 1",
    )?
    .query_row(params![creator, name, platform.as_str()], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
    .optional()
}

struct Giving<'a> {
    creator: &'a str,
    platform: Platform,
    from: UserOnPlatform,
    to: &'a str,
    amount: i64,
    cause: &'a str,
    at: i64,
}

/// Takes up to `amount` from `accounts` in order (never below zero); returns what was taken.
fn debit(
    conn: &Connection,
    creator: &str,
    accounts: &[(String, String, String, i64)],
    amount: i64,
    reason: &str,
    cause: &str,
    at: i64,
) -> Result<i64, ApplyError> {
    let mut left = amount;
    for (platform_name, user_id, user_name, balance) in accounts {
        if left == 0 {
            break;
        }
        let take = left.min(*balance);
        if take <= 0 {
            continue;
        }
        let platform = Platform::from_name(platform_name)
            .ok_or_else(|| ApplyError::Rejected(format!("unknown platform {platform_name:?}")))?;
        let user = UserOnPlatform {
            user_id: user_id.clone(),
            user_name: user_name.clone(),
        };
        if credit(conn, creator, platform, &user, -take, reason, cause, at)? {
            left -= take;
        }
    }
    Ok(amount - left)
}

/// Records a transfer's outcome under its cause; false when the cause was recorded before (a
/// redelivered command: nothing more to do).
#[allow(clippy::too_many_arguments, reason = "one row's columns")]
fn record_transfer(
    conn: &Connection,
    creator: &str,
    cause: &str,
    kind: &str,
    from: Option<(Platform, &str)>,
    to_name: &str,
    to: Option<(&str, &str)>,
    amounts: (i64, i64),
    outcome: TransferOutcome,
    at: i64,
) -> Result<bool, ApplyError> {
    Ok(conn
        .prepare_cached(
            "INSERT OR IGNORE INTO points_transfers (creator, cause, kind, from_platform, from_user_id,
               to_name, to_platform, to_user_id, amount, moved, outcome, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![
            creator,
            cause,
            kind,
            from.map(|f| f.0.as_str()),
            from.map(|f| f.1),
            to_name,
            to.map(|t| t.0),
            to.map(|t| t.1),
            amounts.0,
            amounts.1,
            outcome.as_str(),
            at
        ])?
        == 1)
}

fn transfer_done(conn: &Connection, cause: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM points_transfers WHERE cause = ?1")?
        .query_row(params![cause], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
}

fn give(conn: &Connection, g: &Giving<'_>) -> Result<(), ApplyError> {
    if transfer_done(conn, g.cause)? {
        return Ok(());
    }
    let from = Some((g.platform, g.from.user_id.as_str()));
    let record = |outcome, to_name: &str, to: Option<(&str, &str)>, moved| {
        record_transfer(
            conn,
            g.creator,
            g.cause,
            "give",
            from,
            to_name,
            to,
            (g.amount, moved),
            outcome,
            g.at,
        )
    };
    let Some((to_platform, to_user, to_name)) = find_by_name(conn, g.creator, g.platform, g.to)?
    else {
        record(TransferOutcome::UnknownUser, g.to, None, 0)?;
        return Ok(());
    };
    let giver = people::person_of(conn, g.creator, g.platform, &g.from.user_id)?;
    let to_platform_id = Platform::from_name(&to_platform)
        .ok_or_else(|| ApplyError::Rejected(format!("unknown platform {to_platform:?}")))?;
    let receiver = people::person_of(conn, g.creator, to_platform_id, &to_user)?;
    let to = Some((to_platform.as_str(), to_user.as_str()));
    if giver == receiver {
        record(TransferOutcome::ToSelf, &to_name, to, 0)?;
        return Ok(());
    }
    let accounts = person_accounts(
        conn,
        g.creator,
        &giver,
        (g.platform, g.from.user_id.as_str()),
    )?;
    let held: i64 = accounts.iter().map(|a| a.3).sum();
    if held < g.amount {
        record(TransferOutcome::NotEnough, &to_name, to, 0)?;
        return Ok(());
    }
    let taken = debit(conn, g.creator, &accounts, g.amount, "give", g.cause, g.at)?;
    let user = UserOnPlatform {
        user_id: to_user.clone(),
        user_name: to_name.clone(),
    };
    credit(
        conn,
        g.creator,
        to_platform_id,
        &user,
        taken,
        "received",
        g.cause,
        g.at,
    )?;
    record(TransferOutcome::Done, &to_name, to, taken)?;
    Ok(())
}

fn adjust(
    conn: &Connection,
    creator: &str,
    platform: Platform,
    name: &str,
    amount: i64,
    cause: &str,
    at: i64,
) -> Result<(), ApplyError> {
    if transfer_done(conn, cause)? {
        return Ok(());
    }
    let Some((to_platform, to_user, to_name)) = find_by_name(conn, creator, platform, name)? else {
        record_transfer(
            conn,
            creator,
            cause,
            "adjust",
            None,
            name,
            None,
            (amount, 0),
            TransferOutcome::UnknownUser,
            at,
        )?;
        return Ok(());
    };
    let to_platform_id = Platform::from_name(&to_platform)
        .ok_or_else(|| ApplyError::Rejected(format!("unknown platform {to_platform:?}")))?;
    let moved = if amount >= 0 {
        let user = UserOnPlatform {
            user_id: to_user.clone(),
            user_name: to_name.clone(),
        };
        credit(
            conn,
            creator,
            to_platform_id,
            &user,
            amount,
            "adjust",
            cause,
            at,
        )?;
        amount
    } else {
        let person = people::person_of(conn, creator, to_platform_id, &to_user)?;
        let accounts = person_accounts(conn, creator, &person, (to_platform_id, &to_user))?;
        -debit(conn, creator, &accounts, -amount, "adjust", cause, at)?
    };
    record_transfer(
        conn,
        creator,
        cause,
        "adjust",
        None,
        &to_name,
        Some((&to_platform, &to_user)),
        (amount, moved),
        TransferOutcome::Done,
        at,
    )?;
    Ok(())
}

/// One person's points: their accounts summed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonPoints {
    /// Competition ranking by balance (1, 2, 2, 4).
    pub rank: u64,
    /// The name of the account that changed last.
    pub name: String,
    /// The platforms of the accounts holding their points, in platform order.
    pub platforms: Vec<Platform>,
    pub balance: i64,
    /// Points earned in all (credits, gifts received; never minus what was spent).
    pub earned: i64,
    #[serde(skip)]
    pub person: String,
}

/// One creator's points table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PointsTable {
    pub creator: String,
    /// People holding points.
    pub people: u64,
    /// Points held in all.
    pub total: i64,
    pub leaders: Vec<PersonPoints>,
}

/// The person-summed, ranked rows of one creator: `{where}` selects among them.
fn ranked_sql(filter: &str) -> String {
    format!(
        "WITH acct AS (
           SELECT {PERSON_KEY_SQL} AS person, a.platform, a.user_name, a.balance, a.earned,
                  a.updated_ms
           FROM points a {PERSON_JOIN} WHERE a.creator = ?1),
         people AS (
           -- SQLite takes the bare user_name from the row holding max(updated_ms).
           SELECT person, sum(balance) AS balance, sum(earned) AS earned,
                  max(updated_ms) AS updated_ms, user_name, group_concat(DISTINCT platform) AS platforms
           FROM acct GROUP BY person),
         ranked AS (
           SELECT *, RANK() OVER (ORDER BY balance DESC) AS rank,
                  ROW_NUMBER() OVER (ORDER BY balance DESC, lower(user_name), person) AS n
           FROM people)
         SELECT rank, user_name, platforms, balance, earned, person FROM ranked {filter} ORDER BY n"
    )
}

fn read_person(r: &rusqlite::Row<'_>) -> rusqlite::Result<PersonPoints> {
    let names: String = r.get(2)?;
    let mut platforms = names
        .split(',')
        .map(|n| {
            Platform::from_name(n)
                .ok_or_else(|| rows::invalid(2, format!("unknown platform {n:?}")))
        })
        .collect::<rusqlite::Result<Vec<_>>>()?;
    platforms.sort();
    platforms.dedup();
    Ok(PersonPoints {
        rank: rows::count(r, 0)?,
        name: r.get(1)?,
        platforms,
        balance: r.get(3)?,
        earned: r.get(4)?,
        person: r.get(5)?,
    })
}

impl StoreReader {
    /// The `top` leaders of every creator with points.
    pub fn points_tables(&self, top: usize) -> Result<Vec<PointsTable>, StoreError> {
        let creators = self.rows(
            "SELECT creator, sum(balance) FROM points GROUP BY creator ORDER BY creator",
            [],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
        )?;
        let mut tables = Vec::new();
        for (creator, total) in creators {
            let leaders = self.points_leaders(&creator, usize::MAX)?;
            tables.push(PointsTable {
                people: leaders.len() as u64,
                total,
                leaders: leaders.into_iter().take(top).collect(),
                creator,
            });
        }
        Ok(tables)
    }

    /// The creator's people by balance, best first, at most `top`.
    pub fn points_leaders(
        &self,
        creator: &str,
        top: usize,
    ) -> Result<Vec<PersonPoints>, StoreError> {
        self.rows(
            &ranked_sql("WHERE n <= ?2"),
            params![creator, rows::limit(top)],
            read_person,
        )
    }

    /// Where the person of `(platform, user_id)` stands, and how many people hold points.
    pub fn points_of(
        &self,
        creator: &str,
        platform: Platform,
        user_id: &str,
    ) -> Result<(Option<PersonPoints>, u64), StoreError> {
        let person =
            people::person_of(self.conn(), creator, platform, user_id).map_err(|e| self.err(e))?;
        let found = self
            .rows(
                &ranked_sql("WHERE person = ?2"),
                params![creator, person],
                read_person,
            )?
            .pop();
        let people = self.rows(
            &format!(
                "SELECT count(DISTINCT {PERSON_KEY_SQL}) FROM points a {PERSON_JOIN} WHERE a.creator = ?1"
            ),
            params![creator],
            |r| rows::count(r, 0),
        )?;
        Ok((found, people.first().copied().unwrap_or(0)))
    }

    /// The outcome of the transfer caused by `cause`, once committed.
    pub fn points_transfer(&self, cause: &str) -> Result<Option<Transfer>, StoreError> {
        Ok(self
            .rows(
                "SELECT outcome, to_name, amount, moved FROM points_transfers WHERE cause = ?1",
                params![cause],
                |r| {
                    let outcome: String = r.get(0)?;
                    Ok(Transfer {
                        outcome: TransferOutcome::from_name(&outcome).ok_or_else(|| {
                            rows::invalid(0, format!("unknown transfer outcome {outcome:?}"))
                        })?,
                        to_name: r.get(1)?,
                        amount: r.get(2)?,
                        moved: r.get(3)?,
                    })
                },
            )?
            .pop())
    }

    /// One account's balance (not its person's): for tests and support.
    pub fn account_points(
        &self,
        creator: &str,
        platform: Platform,
        user_id: &str,
    ) -> Result<i64, StoreError> {
        Ok(self
            .rows(
                "SELECT balance FROM points WHERE creator = ?1 AND platform = ?2 AND user_id = ?3",
                params![creator, platform.as_str(), user_id],
                |r| r.get::<_, i64>(0),
            )?
            .pop()
            .unwrap_or(0))
    }

    /// Every point the creator's people hold (the sum of all balances).
    pub fn points_total(&self, creator: &str) -> Result<i64, StoreError> {
        Ok(self
            .rows(
                "SELECT coalesce(sum(balance), 0) FROM points WHERE creator = ?1",
                params![creator],
                |r| r.get::<_, i64>(0),
            )?
            .pop()
            .unwrap_or(0))
    }

    /// When the creator's points last changed, if ever (for exports).
    pub fn points_updated(&self, creator: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .rows(
                "SELECT max(updated_ms) FROM points WHERE creator = ?1",
                params![creator],
                |r| rows::opt_time(r, 0),
            )?
            .pop()
            .flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::community::CreditReason;
    use crate::store::{StoreWriter, WriteOp, db_path};

    fn twitch() -> Platform {
        Platform::named("twitch")
    }

    fn action(id: &str, kind: ActionKind) -> WriteOp {
        WriteOp::action(Action {
            trigger_id: "!points".into(),
            creator: "demo".into(),
            platform: twitch(),
            message_id: id.into(),
            at: DateTime::from_timestamp_millis(1_700_000_000_000).unwrap(),
            kind,
            thread: true,
        })
    }

    fn credit(id: &str, user: &str, amount: i64) -> WriteOp {
        action(
            id,
            ActionKind::PointsCredit {
                reason: CreditReason::Message,
                amount,
                users: vec![UserOnPlatform {
                    user_id: format!("id-{user}"),
                    user_name: user.into(),
                }],
            },
        )
    }

    fn give(id: &str, from: &str, to: &str, amount: i64) -> WriteOp {
        action(
            id,
            ActionKind::PointsGive {
                channel: "demo".into(),
                user_id: format!("id-{from}"),
                user_name: from.into(),
                to: to.into(),
                amount,
            },
        )
    }

    #[test]
    fn credits_and_gifts_count_once_per_cause_move_without_making_points_and_never_go_negative() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let writer = StoreWriter::spawn(&path, 16).unwrap();
        for op in [
            credit("m1", "ann", 10),
            // A redelivered (or replayed) credit: its ledger row is there, nothing more.
            credit("m1", "ann", 10),
            credit("m2", "bob", 5),
            // More than ann holds: refused, nothing moves.
            give("g1", "ann", "bob", 30),
            give("g2", "ann", "@BOB", 4),
            give("g2", "ann", "@BOB", 4),
            give("g3", "ann", "nobody", 1),
            give("g4", "ann", "ann", 1),
            // A moderator removes more than bob holds: he ends at zero.
            action(
                "a1",
                ActionKind::PointsAdjust {
                    channel: "demo".into(),
                    to: "bob".into(),
                    amount: -100,
                },
            ),
        ] {
            writer.blocking_send(op).unwrap();
        }
        writer.close().unwrap();
        let store = StoreReader::open(&path).unwrap();
        let balance = |user: &str| {
            store
                .account_points("demo", twitch(), &format!("id-{user}"))
                .unwrap()
        };
        assert_eq!((balance("ann"), balance("bob")), (6, 0));
        assert_eq!(
            store.points_total("demo").unwrap(),
            6,
            "15 earned, 9 removed"
        );
        let outcome = |cause: &str| {
            store
                .points_transfer(cause)
                .unwrap()
                .map(|t| (t.outcome, t.moved))
        };
        assert_eq!(
            outcome("event:twitch:g1"),
            Some((TransferOutcome::NotEnough, 0))
        );
        assert_eq!(outcome("event:twitch:g2"), Some((TransferOutcome::Done, 4)));
        assert_eq!(
            outcome("event:twitch:g3"),
            Some((TransferOutcome::UnknownUser, 0))
        );
        assert_eq!(
            outcome("event:twitch:g4"),
            Some((TransferOutcome::ToSelf, 0))
        );
        assert_eq!(
            outcome("event:twitch:a1"),
            Some((TransferOutcome::Done, -9))
        );
    }
}
