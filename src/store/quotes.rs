//! Quotes: numbered per creator, with who added them, who said them (when known), the platform
//! and the stream's game or title.
//!
//! `!quote add` takes the next number (one more than the highest ever given, so a deleted number is
//! never reused and `!quote 3` means the same quote forever); `!quote del` marks a quote deleted
//! and keeps its row. Imports from another bot (`ss quotes import`) keep their numbers: a number
//! already taken refuses the whole import (nothing is half imported), unless it is renumbered after
//! the highest. Each chat change records its cause, which is how the reply learns the number.

use super::apply::ApplyError;
use super::error::StoreError;
use super::open::{Store, StoreReader};
use super::rows::{self, ms};
use crate::actions::{Action, ActionKind};
use crate::event::Platform;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// One quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuoteRow {
    pub creator: String,
    pub number: u32,
    pub text: String,
    /// Who added it (the chatter, or the other bot's "creator" field).
    pub added_by: String,
    /// Who is quoted, when known (imports carry it).
    pub said_by: Option<String>,
    pub platform: Option<Platform>,
    /// The stream's game or title when it was added, when known.
    pub game: Option<String>,
    pub added_at: DateTime<Utc>,
    /// `chat` or `import`.
    pub source: String,
}

/// A quote from another bot's export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedQuote {
    pub number: u32,
    pub text: String,
    pub added_by: String,
    pub said_by: Option<String>,
    pub game: Option<String>,
    pub added_at: DateTime<Utc>,
}

/// Applies a quote action: add or delete.
pub(super) fn apply(conn: &Connection, action: &Action) -> Result<(), ApplyError> {
    let cause = action.cause();
    match &action.kind {
        ActionKind::QuoteAdd {
            text,
            added_by,
            game,
            ..
        } => {
            conn.prepare_cached(
                "INSERT INTO quotes (creator, number, text, added_by, platform, game, added_ms, source, cause)
                 SELECT ?1, coalesce(max(number), 0) + 1, ?2, ?3, ?4, ?5, ?6, 'chat', ?7
                 FROM quotes WHERE creator = ?1
                 ON CONFLICT (cause) DO NOTHING",
            )?
            .execute(params![
                action.creator,
                text,
                added_by,
                action.platform.as_str(),
                game,
                ms(&action.at),
                cause
            ])?;
        }
        ActionKind::QuoteDelete { number, .. } => {
            conn.prepare_cached(
                "UPDATE quotes SET deleted_ms = ?3, deleted_cause = ?4
                 WHERE creator = ?1 AND number = ?2 AND deleted_ms IS NULL",
            )?
            .execute(params![action.creator, number, ms(&action.at), cause])?;
        }
        _ => {}
    }
    Ok(())
}

/// Why an import did not happen; nothing was imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(
        "quote numbers already taken for creator {creator:?}: {}{}\n  hint: pass --renumber to number the imported quotes after the highest one (their order is kept), or delete the quotes in the way",
        numbers.iter().take(10).map(u32::to_string).collect::<Vec<_>>().join(", "),
        if numbers.len() > 10 { format!(" and {} more", numbers.len() - 10) } else { String::new() }
    )]
    NumbersTaken { creator: String, numbers: Vec<u32> },
    #[error(
        "the import file numbers quote {number} twice\n  hint: give each quote its own number, or pass --renumber"
    )]
    DuplicateNumber { number: u32 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Imports `quotes` for `creator` in one transaction, as the store's writer: with their
    /// numbers, or (`renumber`) after the highest number in the store, in their order. Returns the
    /// numbers given; on any refusal nothing is imported.
    pub fn import_quotes(
        &mut self,
        creator: &str,
        quotes: &[ImportedQuote],
        renumber: bool,
    ) -> Result<Vec<u32>, ImportError> {
        let path = self.path().to_path_buf();
        let sqlite = |e| ImportError::Store(StoreError::from_sqlite(&path, e));
        let tx = self.conn_mut().transaction().map_err(sqlite)?;
        let numbers = import(&tx, creator, quotes, renumber)?;
        tx.commit().map_err(sqlite)?;
        Ok(numbers)
    }
}

fn import(
    conn: &Connection,
    creator: &str,
    quotes: &[ImportedQuote],
    renumber: bool,
) -> Result<Vec<u32>, ImportError> {
    let path = std::path::PathBuf::from(conn.path().unwrap_or_default());
    let sqlite = |e| ImportError::Store(StoreError::from_sqlite(&path, e));
    let highest: u32 = conn
        .query_row(
            "SELECT coalesce(max(number), 0) FROM quotes WHERE creator = ?1",
            params![creator],
            |r| r.get(0),
        )
        .map_err(sqlite)?;
    let numbers: Vec<u32> = if renumber {
        (1..=quotes.len())
            .map(|i| highest.saturating_add(u32::try_from(i).unwrap_or(u32::MAX)))
            .collect()
    } else {
        let mut seen = std::collections::HashSet::new();
        if let Some(q) = quotes.iter().find(|q| !seen.insert(q.number)) {
            return Err(ImportError::DuplicateNumber { number: q.number });
        }
        let mut taken = Vec::new();
        for q in quotes {
            let exists = conn
                .query_row(
                    "SELECT 1 FROM quotes WHERE creator = ?1 AND number = ?2",
                    params![creator, q.number],
                    |_| Ok(()),
                )
                .optional()
                .map_err(sqlite)?
                .is_some();
            if exists {
                taken.push(q.number);
            }
        }
        if !taken.is_empty() {
            return Err(ImportError::NumbersTaken {
                creator: creator.to_string(),
                numbers: taken,
            });
        }
        quotes.iter().map(|q| q.number).collect()
    };
    for (q, number) in quotes.iter().zip(&numbers) {
        conn.execute(
            "INSERT INTO quotes (creator, number, text, added_by, said_by, game, added_ms, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'import')",
            params![
                creator,
                number,
                q.text,
                q.added_by,
                q.said_by,
                q.game,
                ms(&q.added_at)
            ],
        )
        .map_err(sqlite)?;
    }
    Ok(numbers)
}

const QUOTE_COLUMNS: &str =
    "creator, number, text, added_by, said_by, platform, game, added_ms, source";

fn read_quote(r: &rusqlite::Row<'_>) -> rusqlite::Result<QuoteRow> {
    let platform: Option<String> = r.get(5)?;
    Ok(QuoteRow {
        creator: r.get(0)?,
        number: r.get(1)?,
        text: r.get(2)?,
        added_by: r.get(3)?,
        said_by: r.get(4)?,
        platform: platform
            .map(|name| {
                Platform::from_name(&name)
                    .ok_or_else(|| rows::invalid(5, format!("unknown platform {name:?}")))
            })
            .transpose()?,
        game: r.get(6)?,
        added_at: rows::time(r, 7)?,
        source: r.get(8)?,
    })
}

impl StoreReader {
    /// Every quote not deleted, by creator and number.
    pub fn quotes(&self) -> Result<Vec<QuoteRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {QUOTE_COLUMNS} FROM quotes WHERE deleted_ms IS NULL ORDER BY creator, number"
            ),
            [],
            read_quote,
        )
    }

    /// Quote `number` of `creator`, unless deleted.
    pub fn quote(&self, creator: &str, number: u32) -> Result<Option<QuoteRow>, StoreError> {
        Ok(self
            .rows(
                &format!(
                    "SELECT {QUOTE_COLUMNS} FROM quotes
                     WHERE creator = ?1 AND number = ?2 AND deleted_ms IS NULL"
                ),
                params![creator, number],
                read_quote,
            )?
            .pop())
    }

    /// The quote at `seed` modulo the creator's quotes (in number order): a random quote whose
    /// randomness was decided by the engine.
    pub fn quote_at(&self, creator: &str, seed: u64) -> Result<Option<QuoteRow>, StoreError> {
        let count = self
            .rows(
                "SELECT count(*) FROM quotes WHERE creator = ?1 AND deleted_ms IS NULL",
                params![creator],
                |r| rows::count(r, 0),
            )?
            .pop()
            .unwrap_or(0);
        if count == 0 {
            return Ok(None);
        }
        let offset = i64::try_from(seed % count).unwrap_or(0);
        Ok(self
            .rows(
                &format!(
                    "SELECT {QUOTE_COLUMNS} FROM quotes WHERE creator = ?1 AND deleted_ms IS NULL
                     ORDER BY number LIMIT 1 OFFSET ?2"
                ),
                params![creator, offset],
                read_quote,
            )?
            .pop())
    }

    /// The creator's quotes holding every word of `words` (any case), oldest first.
    pub fn search_quotes(&self, creator: &str, words: &str) -> Result<Vec<QuoteRow>, StoreError> {
        let words: Vec<String> = words
            .split_whitespace()
            .take(8)
            .map(|w| {
                let escaped = w
                    .to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                format!("%{escaped}%")
            })
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let conditions = (0..words.len())
            .map(|i| format!("lower(text) LIKE ?{} ESCAPE '\\'", i + 2))
            .collect::<Vec<_>>()
            .join(" AND ");
        let mut args: Vec<&dyn rusqlite::ToSql> = vec![&creator];
        args.extend(words.iter().map(|w| w as &dyn rusqlite::ToSql));
        self.rows(
            &format!(
                "SELECT {QUOTE_COLUMNS} FROM quotes WHERE creator = ?1 AND deleted_ms IS NULL
                   AND {conditions} ORDER BY number"
            ),
            args.as_slice(),
            read_quote,
        )
    }

    /// The number the quote added by `cause` got, once committed.
    pub fn quote_added_by(&self, cause: &str) -> Result<Option<u32>, StoreError> {
        Ok(self
            .rows(
                "SELECT number FROM quotes WHERE cause = ?1",
                params![cause],
                |r| r.get::<_, u32>(0),
            )?
            .pop())
    }

    /// Whether `cause` deleted a quote.
    pub fn quote_deleted_by(&self, cause: &str) -> Result<bool, StoreError> {
        Ok(!self
            .rows(
                "SELECT number FROM quotes WHERE deleted_cause = ?1",
                params![cause],
                |r| r.get::<_, u32>(0),
            )?
            .is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{StoreWriter, WriteOp, db_path};

    fn op(ms: i64, kind: ActionKind) -> WriteOp {
        WriteOp::action(Action {
            trigger_id: "!quote".into(),
            creator: "demo".into(),
            platform: Platform::named("twitch"),
            message_id: format!("m{ms}"),
            at: DateTime::from_timestamp_millis(ms).unwrap(),
            kind,
            thread: true,
        })
    }

    fn add(ms: i64, text: &str) -> WriteOp {
        op(
            ms,
            ActionKind::QuoteAdd {
                channel: "demo".into(),
                text: text.into(),
                added_by: "mod_max".into(),
                game: Some("Chess".into()),
            },
        )
    }

    fn imported(number: u32, text: &str) -> ImportedQuote {
        ImportedQuote {
            number,
            text: text.into(),
            added_by: "firebot".into(),
            said_by: Some("Demo".into()),
            game: None,
            added_at: DateTime::from_timestamp_millis(5).unwrap(),
        }
    }

    #[test]
    fn numbers_are_never_reused_and_a_redelivered_add_adds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let writer = StoreWriter::spawn(&path, 16).unwrap();
        for op in [
            add(1_000, "one"),
            add(2_000, "two"),
            add(2_000, "two"),
            add(3_000, "Three little words"),
            op(
                4_000,
                ActionKind::QuoteDelete {
                    channel: "demo".into(),
                    number: 3,
                },
            ),
            add(5_000, "four"),
        ] {
            writer.blocking_send(op).unwrap();
        }
        writer.close().unwrap();
        let store = StoreReader::open(&path).unwrap();
        let numbers: Vec<(u32, String)> = store
            .quotes()
            .unwrap()
            .into_iter()
            .map(|q| (q.number, q.text))
            .collect();
        assert_eq!(
            numbers,
            [(1, "one".into()), (2, "two".into()), (4, "four".into())]
        );
        assert_eq!(store.quote_added_by("event:twitch:m5000").unwrap(), Some(4));
        assert!(store.quote_deleted_by("event:twitch:m4000").unwrap());
        assert_eq!(store.quote("demo", 3).unwrap(), None, "deleted");
        let q = store.quote("demo", 2).unwrap().unwrap();
        assert_eq!(
            (q.added_by.as_str(), q.platform, q.game.as_deref()),
            ("mod_max", Some(Platform::named("twitch")), Some("Chess"))
        );
        let picks: Vec<u32> = (0..4)
            .map(|seed| store.quote_at("demo", seed).unwrap().unwrap().number)
            .collect();
        assert_eq!(picks, [1, 2, 4, 1]);
        assert_eq!(store.quote_at("nobody", 3).unwrap(), None);
        assert_eq!(store.search_quotes("demo", "FOUR").unwrap()[0].number, 4);
        // Every word, anywhere in the text; a deleted quote is never found.
        let numbers = |words: &str| -> Vec<u32> {
            store
                .search_quotes("demo", words)
                .unwrap()
                .iter()
                .map(|q| q.number)
                .collect()
        };
        assert_eq!(numbers("o w"), [2]);
        assert!(numbers("little").is_empty(), "quote 3 was deleted");
        assert!(store.search_quotes("demo", "100%").unwrap().is_empty());
    }

    #[test]
    fn an_import_keeps_its_numbers_or_is_refused_whole_and_renumbering_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let writer = StoreWriter::spawn(&path, 16).unwrap();
        writer.blocking_send(add(1_000, "live one")).unwrap();
        writer.close().unwrap();
        let mut store = Store::open_as_writer(&path).unwrap();
        assert_eq!(
            store
                .import_quotes(
                    "demo",
                    &[imported(7, "seven"), imported(12, "twelve")],
                    false
                )
                .unwrap(),
            [7, 12]
        );
        // Number 7 is taken now: the whole second import is refused, naming it.
        let err = store
            .import_quotes("demo", &[imported(8, "eight"), imported(7, "again")], false)
            .unwrap_err();
        assert!(
            matches!(&err, ImportError::NumbersTaken { numbers, .. } if numbers == &[7]),
            "{err}"
        );
        assert!(err.to_string().contains("--renumber"), "{err}");
        assert!(matches!(
            store.import_quotes("demo", &[imported(20, "a"), imported(20, "b")], false),
            Err(ImportError::DuplicateNumber { number: 20 })
        ));
        assert_eq!(
            store
                .import_quotes("demo", &[imported(7, "again")], true)
                .unwrap(),
            [13]
        );
        drop(store);
        let store = StoreReader::open(&path).unwrap();
        let numbers: Vec<(u32, String, String)> = store
            .quotes()
            .unwrap()
            .into_iter()
            .map(|q| (q.number, q.text, q.source))
            .collect();
        assert_eq!(
            numbers,
            [
                (1, "live one".into(), "chat".into()),
                (7, "seven".into(), "import".into()),
                (12, "twelve".into(), "import".into()),
                (13, "again".into(), "import".into()),
            ]
        );
    }
}
