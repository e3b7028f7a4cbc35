//! Linked accounts: one viewer across platforms, per creator.
//!
//! A link puts an account into a person (`event::person`). Links are made in chat (`!link CODE`, a
//! `link` action: the engine decided it, the store records it) or declared by the operator in
//! creators.json (synced at each `ss run` start by [`WriteOp::DeclaredLinks`]: new declarations are
//! linked, withdrawn ones undone, a declared account's chat link replaced). An account is in at most
//! one person at a time (a partial unique index); undoing a link keeps its row with when and how, so
//! the history stays. A person left with one account is dissolved: one account needs no link.
//!
//! Each link and unlink records the last chat event id before it, like a run mark, so
//! [`StoreReader::links_at`] gives the links as they were at any point of the chat log: `ss replay`
//! starts its engine with the links of the run mark it starts from.
//!
//! Merging by person is read-time: points and scores are kept per account and summed per person
//! through [`PERSON_JOIN`], so `!unlink` splits them again.
//!
//! [`WriteOp::DeclaredLinks`]: super::WriteOp::DeclaredLinks

use super::apply::ApplyError;
use super::error::StoreError;
use super::open::StoreReader;
use super::rows::{self, ms, platform};
use crate::actions::community::LinkedAccount;
use crate::event::{Account, Platform};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// The join that gives an account row (aliased `a`, with `creator`, `platform` and `user_id`
/// columns) its active link `l`; select its person with [`crate::event::person::PERSON_KEY_SQL`].
pub const PERSON_JOIN: &str =
    "LEFT JOIN links l ON l.creator = a.creator AND l.platform = a.platform
     AND l.user_id = a.user_id AND l.unlinked_ms IS NULL";

/// How a link was made or undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkHow {
    /// `!link` / `!unlink` in chat.
    Chat,
    /// Declared in creators.json (or withdrawn from it).
    Config,
}

impl LinkHow {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkHow::Chat => "chat",
            LinkHow::Config => "config",
        }
    }
}

/// A person an operator declared: its id and accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredPerson {
    pub person: String,
    pub accounts: Vec<LinkedAccount>,
}

/// One active link: an account and its person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkRow {
    pub creator: String,
    pub person: String,
    pub platform: Platform,
    pub user_id: String,
    pub user_name: String,
    pub how: String,
    pub made_at: DateTime<Utc>,
}

impl LinkRow {
    pub fn account(&self) -> Account {
        Account::new(self.platform, &self.user_id)
    }

    /// The link as the engine loads it.
    pub fn entry(self) -> crate::actions::community::LinkEntry {
        (
            self.creator,
            self.person,
            LinkedAccount {
                platform: self.platform,
                user_id: self.user_id,
                user_name: self.user_name,
            },
        )
    }
}

/// The position in the chat log a link change is recorded at.
const AFTER_CHAT: &str = "(SELECT coalesce(max(id), 0) FROM chat_events)";

/// The person `account` is linked into now, if any.
pub(super) fn linked_person(
    conn: &Connection,
    creator: &str,
    platform: Platform,
    user_id: &str,
) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT person FROM links WHERE creator = ?1 AND platform = ?2 AND user_id = ?3
           AND unlinked_ms IS NULL",
    )?
    .query_row(params![creator, platform.as_str(), user_id], |r| r.get(0))
    .optional()
}

/// The person key of an account now: its link's person, else the account itself.
pub(super) fn person_of(
    conn: &Connection,
    creator: &str,
    platform: Platform,
    user_id: &str,
) -> rusqlite::Result<String> {
    let linked = linked_person(conn, creator, platform, user_id)?;
    Ok(
        crate::event::person::person_key(&Account::new(platform, user_id), linked.as_deref())
            .into(),
    )
}

/// Links `accounts` into `person`. An account already in `person` stays as it is; one in another
/// person is moved (its old link undone with the same cause).
pub(super) fn link(
    conn: &Connection,
    creator: &str,
    person: &str,
    accounts: &[LinkedAccount],
    how: LinkHow,
    cause: &str,
    at: &DateTime<Utc>,
) -> Result<(), ApplyError> {
    for account in accounts {
        match linked_person(conn, creator, account.platform, &account.user_id)? {
            Some(current) if current == person => continue,
            Some(current) => {
                unlink_account(conn, creator, &current, account, how, cause, at)?;
            }
            None => {}
        }
        conn.prepare_cached(&format!(
            "INSERT INTO links (creator, person, platform, user_id, user_name, how, cause, made_ms,
                                made_after_chat_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, {AFTER_CHAT})"
        ))?
        .execute(params![
            creator,
            person,
            account.platform.as_str(),
            account.user_id,
            account.user_name,
            how.as_str(),
            cause,
            ms(at)
        ])?;
    }
    Ok(())
}

/// Takes `account` out of `person`; a person left with one account is dissolved.
pub(super) fn unlink(
    conn: &Connection,
    creator: &str,
    person: &str,
    account: &LinkedAccount,
    how: LinkHow,
    cause: &str,
    at: &DateTime<Utc>,
) -> Result<(), ApplyError> {
    unlink_account(conn, creator, person, account, how, cause, at)
}

fn unlink_account(
    conn: &Connection,
    creator: &str,
    person: &str,
    account: &LinkedAccount,
    how: LinkHow,
    cause: &str,
    at: &DateTime<Utc>,
) -> Result<(), ApplyError> {
    let undo = format!(
        "UPDATE links SET unlinked_ms = ?5, unlinked_how = ?6, unlinked_cause = ?7,
                          unlinked_after_chat_id = {AFTER_CHAT}
         WHERE creator = ?1 AND person = ?2 AND platform = ?3 AND user_id = ?4
           AND unlinked_ms IS NULL"
    );
    conn.prepare_cached(&undo)?.execute(params![
        creator,
        person,
        account.platform.as_str(),
        account.user_id,
        ms(at),
        how.as_str(),
        cause
    ])?;
    let left: Vec<(String, String)> = conn
        .prepare_cached(
            "SELECT platform, user_id FROM links WHERE creator = ?1 AND person = ?2
               AND unlinked_ms IS NULL",
        )?
        .query_map(params![creator, person], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    if let [(platform, user_id)] = left.as_slice() {
        conn.prepare_cached(&undo)?.execute(params![
            creator,
            person,
            platform,
            user_id,
            ms(at),
            how.as_str(),
            cause
        ])?;
    }
    Ok(())
}

/// Makes the creator's declared links what creators.json says: each declared account linked into
/// its person; declared links no longer there undone.
pub(super) fn declare(
    conn: &Connection,
    creator: &str,
    people: &[DeclaredPerson],
    at: &DateTime<Utc>,
) -> Result<(), ApplyError> {
    let cause = format!("config:{creator}");
    let current: Vec<(String, String, String, String)> = conn
        .prepare_cached(
            "SELECT person, platform, user_id, user_name FROM links
             WHERE creator = ?1 AND how = 'config' AND unlinked_ms IS NULL ORDER BY id",
        )?
        .query_map(params![creator], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    for (person, platform_name, user_id, user_name) in current {
        let still = people.iter().any(|p| {
            p.person == person
                && p.accounts
                    .iter()
                    .any(|a| a.platform.as_str() == platform_name && a.user_id == user_id)
        });
        if !still && let Some(platform) = Platform::from_name(&platform_name) {
            let account = LinkedAccount {
                platform,
                user_id,
                user_name,
            };
            unlink_account(
                conn,
                creator,
                &person,
                &account,
                LinkHow::Config,
                &cause,
                at,
            )?;
        }
    }
    for person in people {
        link(
            conn,
            creator,
            &person.person,
            &person.accounts,
            LinkHow::Config,
            &cause,
            at,
        )?;
    }
    Ok(())
}

/// The columns [`read_link`] reads.
const LINK_COLUMNS: &str = "creator, person, platform, user_id, user_name, how, made_ms";

fn read_link(r: &rusqlite::Row<'_>) -> rusqlite::Result<LinkRow> {
    Ok(LinkRow {
        creator: r.get(0)?,
        person: r.get(1)?,
        platform: platform(r, 2)?,
        user_id: r.get(3)?,
        user_name: r.get(4)?,
        how: r.get(5)?,
        made_at: rows::time(r, 6)?,
    })
}

impl StoreReader {
    /// Every active link, by creator, person and when it was made.
    pub fn links(&self) -> Result<Vec<LinkRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {LINK_COLUMNS} FROM links WHERE unlinked_ms IS NULL
                 ORDER BY creator, person, id"
            ),
            [],
            read_link,
        )
    }

    /// The links that were active right after chat event `after_chat_id` (where a run mark with
    /// that position starts a fresh trigger state).
    pub fn links_at(&self, after_chat_id: i64) -> Result<Vec<LinkRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {LINK_COLUMNS} FROM links WHERE made_after_chat_id <= ?1
                   AND (unlinked_after_chat_id IS NULL OR unlinked_after_chat_id > ?1)
                 ORDER BY creator, person, id"
            ),
            params![after_chat_id],
            read_link,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::{Action, ActionKind};
    use crate::store::{StoreWriter, WriteOp, db_path};

    pub(crate) fn account(platform: &str, id: &str) -> LinkedAccount {
        LinkedAccount {
            platform: Platform::named(platform),
            user_id: id.into(),
            user_name: format!("{platform}-{id}"),
        }
    }

    fn op(ms: i64, kind: ActionKind) -> WriteOp {
        WriteOp::action(Action {
            trigger_id: "!link".into(),
            creator: "demo".into(),
            platform: Platform::named("kick"),
            message_id: format!("m{ms}"),
            at: DateTime::from_timestamp_millis(ms).unwrap(),
            kind,
            thread: false,
        })
    }

    fn active(store: &StoreReader) -> Vec<(String, String)> {
        store
            .links()
            .unwrap()
            .into_iter()
            .map(|l| (l.account().own_key().to_string(), l.person))
            .map(|(account, person)| (person, account))
            .collect()
    }

    /// The writer holds chat events back to insert several per statement, and lets other actions
    /// (a tally) go in ahead of them; a link, which records its place in the chat log, still comes
    /// after every event accepted before it, in the same batch.
    #[test]
    fn a_link_in_a_batch_comes_after_the_chat_events_before_it() {
        use crate::store::runs::tests::event;
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let writer = StoreWriter::spawn(&path, 16).unwrap();
        let tally = op(
            1_500,
            ActionKind::Tally {
                tally: "hype".into(),
                amount: 1,
                user_id: "u".into(),
            },
        );
        let link = op(
            2_000,
            ActionKind::Link {
                person: "p-1".into(),
                accounts: vec![account("twitch", "1"), account("kick", "9")],
            },
        );
        writer
            .blocking_send(WriteOp::Atomic(vec![
                event(1),
                event(2),
                tally,
                event(3),
                link,
                event(4),
            ]))
            .unwrap();
        writer.close().unwrap();
        let store = StoreReader::open(&path).unwrap();
        assert_eq!(store.links_at(2).unwrap().len(), 0, "made after event 3");
        assert_eq!(store.links_at(3).unwrap().len(), 2);
        let ids: Vec<String> = store
            .chat_events_in_acceptance_order()
            .unwrap()
            .into_iter()
            .map(|e| e.message_id.to_string())
            .collect();
        assert_eq!(ids, ["m1", "m2", "m3", "m4"]);
        assert_eq!(store.tallies().unwrap()[0].total, 1);
    }

    #[test]
    fn links_made_and_undone_in_chat_keep_their_history_and_a_lone_account_is_unlinked() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let writer = StoreWriter::spawn(&path, 16).unwrap();
        let three = vec![account("twitch", "1"), account("kick", "9")];
        writer
            .blocking_send(op(
                1_000,
                ActionKind::Link {
                    person: "p-1".into(),
                    accounts: three,
                },
            ))
            .unwrap();
        writer
            .blocking_send(op(
                2_000,
                ActionKind::Link {
                    person: "p-1".into(),
                    accounts: vec![account("twitch", "1"), account("youtube", "Y")],
                },
            ))
            .unwrap();
        writer
            .blocking_send(crate::store::runs::tests::event(1))
            .unwrap();
        writer
            .blocking_send(op(
                3_000,
                ActionKind::Unlink {
                    person: "p-1".into(),
                    account: account("kick", "9"),
                },
            ))
            .unwrap();
        writer.close().unwrap();
        let store = StoreReader::open(&path).unwrap();
        assert_eq!(
            active(&store),
            [
                ("p-1".to_string(), "twitch:1".to_string()),
                ("p-1".to_string(), "youtube:Y".to_string())
            ]
        );
        assert_eq!(store.links_at(0).unwrap().len(), 3, "before the unlink");
        assert_eq!(store.links_at(1).unwrap().len(), 2, "after it");

        let writer = StoreWriter::spawn(&path, 16).unwrap();
        writer
            .blocking_send(op(
                4_000,
                ActionKind::Unlink {
                    person: "p-1".into(),
                    account: account("youtube", "Y"),
                },
            ))
            .unwrap();
        writer.close().unwrap();
        let store = StoreReader::open(&path).unwrap();
        assert_eq!(active(&store), [], "a person of one account dissolves");
        let how: Vec<(String, Option<String>)> = store
            .conn()
            .prepare("SELECT how, unlinked_how FROM links ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            how.len(),
            3,
            "every link is kept with how it was made and undone"
        );
        assert!(
            how.iter()
                .all(|(made, undone)| made == "chat" && undone.as_deref() == Some("chat"))
        );
    }

    #[test]
    fn declared_links_follow_creators_json_and_replace_a_chat_link_of_the_same_account() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let writer = StoreWriter::spawn(&path, 16).unwrap();
        writer
            .blocking_send(op(
                1_000,
                ActionKind::Link {
                    person: "p-1".into(),
                    accounts: vec![account("twitch", "1"), account("kick", "9")],
                },
            ))
            .unwrap();
        let declare = |accounts: Vec<LinkedAccount>| WriteOp::DeclaredLinks {
            creator: "demo".into(),
            people: vec![DeclaredPerson {
                person: "cfg-ann".into(),
                accounts,
            }],
            at: DateTime::from_timestamp_millis(5_000).unwrap(),
        };
        writer
            .blocking_send(declare(vec![
                account("twitch", "1"),
                account("rumble", "r"),
            ]))
            .unwrap();
        // The same declaration again changes nothing.
        writer
            .blocking_send(declare(vec![
                account("twitch", "1"),
                account("rumble", "r"),
            ]))
            .unwrap();
        writer.close().unwrap();
        let store = StoreReader::open(&path).unwrap();
        assert_eq!(
            active(&store),
            [
                ("cfg-ann".to_string(), "twitch:1".to_string()),
                ("cfg-ann".to_string(), "rumble:r".to_string())
            ],
            "the chat link lost its twitch account, so its kick account is alone and unlinked"
        );
        // Withdrawn from creators.json: undone.
        let writer = StoreWriter::spawn(&path, 16).unwrap();
        writer
            .blocking_send(WriteOp::DeclaredLinks {
                creator: "demo".into(),
                people: Vec::new(),
                at: DateTime::from_timestamp_millis(6_000).unwrap(),
            })
            .unwrap();
        writer.close().unwrap();
        assert_eq!(active(&StoreReader::open(&path).unwrap()), []);
    }
}
