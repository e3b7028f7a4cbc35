//! Counts a batch adds to the store's small aggregate tables, gathered in memory and folded in once
//! at commit.
//!
//! `chat_totals` counts the chat log's rows per (creator, platform), `trigger_fires` the action
//! log's per (creator, trigger) and `tallies` the tally log's per (creator, tally) with the sum of
//! their amounts, each with the time of the last. Kept with one upsert per row (for actions, an
//! SQLite trigger's program run on every insert), they cost the store writer about as much as the
//! rows themselves. A batch touches a handful of keys, so the writer counts here and
//! runs one upsert per key just before the batch commits, in the same transaction: a reader never
//! sees an aggregate apart from its rows, and a batch that fails counts nothing.

use rusqlite::{Connection, params};

/// One aggregate's counts in the current batch: (creator, key) → rows, the sum of their amounts
/// and the latest time.
/// A short list beats hashing each row: a batch touches a few keys.
pub(super) struct RunningCounts {
    upsert: &'static str,
    rows: Vec<Count>,
}

struct Count {
    creator: String,
    key: String,
    rows: i64,
    sum: i64,
    last_ms: i64,
}

impl RunningCounts {
    /// Counts folded in by `upsert`, a statement taking (creator, key, rows, sum, last time); one
    /// that keeps no sum leaves `?4` out.
    fn new(upsert: &'static str) -> RunningCounts {
        RunningCounts {
            upsert,
            rows: Vec::new(),
        }
    }

    /// One more row of (`creator`, `key`) at `at_ms`.
    pub(super) fn count(&mut self, creator: &str, key: &str, at_ms: i64) {
        self.add(creator, key, 1, at_ms);
    }

    /// One more row of (`creator`, `key`) at `at_ms`, adding `amount` to the sum.
    pub(super) fn add(&mut self, creator: &str, key: &str, amount: i64, at_ms: i64) {
        match self
            .rows
            .iter_mut()
            .find(|c| c.key == key && c.creator == creator)
        {
            Some(c) => {
                c.rows += 1;
                c.sum = c.sum.saturating_add(amount);
                c.last_ms = c.last_ms.max(at_ms);
            }
            None => self.rows.push(Count {
                creator: creator.to_string(),
                key: key.to_string(),
                rows: 1,
                sum: amount,
                last_ms: at_ms,
            }),
        }
    }

    fn write(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut stmt = conn.prepare_cached(self.upsert)?;
        for c in self.rows.drain(..) {
            stmt.execute(params![c.creator, c.key, c.rows, c.sum, c.last_ms])?;
        }
        Ok(())
    }
}

/// The aggregates one batch keeps.
pub(super) struct BatchCounts {
    /// Chat events recorded per (creator, platform).
    pub chat_totals: RunningCounts,
    /// Actions recorded per (creator, trigger).
    pub trigger_fires: RunningCounts,
    /// Tally events per (creator, tally), and their amounts.
    pub tallies: RunningCounts,
}

impl Default for BatchCounts {
    fn default() -> BatchCounts {
        BatchCounts {
            chat_totals: RunningCounts::new(
                "INSERT INTO chat_totals (creator, platform, events, last_event_ms)
                 VALUES (?1, ?2, ?3, ?5)
                 ON CONFLICT (creator, platform) DO UPDATE SET
                   events = events + excluded.events,
                   last_event_ms = max(last_event_ms, excluded.last_event_ms)",
            ),
            trigger_fires: RunningCounts::new(
                "INSERT INTO trigger_fires (creator, trigger_id, fired, last_fired_ms)
                 VALUES (?1, ?2, ?3, ?5)
                 ON CONFLICT (creator, trigger_id) DO UPDATE SET
                   fired = fired + excluded.fired,
                   last_fired_ms = max(last_fired_ms, excluded.last_fired_ms)",
            ),
            tallies: RunningCounts::new(
                "INSERT INTO tallies (creator, tally, events, total, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (creator, tally) DO UPDATE SET
                   events = events + excluded.events,
                   total = total + excluded.total,
                   updated_ms = max(updated_ms, excluded.updated_ms)",
            ),
        }
    }
}

impl BatchCounts {
    /// Folds the batch's counts into their tables (inside the batch's transaction, before commit).
    pub(super) fn write(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        self.chat_totals.write(conn)?;
        self.trigger_fires.write(conn)?;
        self.tallies.write(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::{MIGRATIONS, store_at_version};

    /// A store at the current schema in `dir`, with `seed` run on it.
    fn store(dir: &tempfile::TempDir, seed: &str) -> Connection {
        let path = dir.path().join("s.db");
        store_at_version(&path, MIGRATIONS.len());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(seed).unwrap();
        conn
    }

    /// Every row `sql` selects, as four columns.
    fn rows<A, B>(conn: &Connection, sql: &str) -> Vec<(String, A, B, i64)>
    where
        A: rusqlite::types::FromSql,
        B: rusqlite::types::FromSql,
    {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Counts per key add up with what the table held, and the latest time wins whatever the order.
    #[test]
    fn counts_fold_into_their_table_per_creator_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let conn = store(
            &dir,
            "INSERT INTO trigger_fires VALUES ('a', 'ping', 5, 9000)",
        );
        let mut counts = BatchCounts::default();
        for (creator, trigger, at) in [
            ("a", "ping", 100),
            ("b", "ping", 300),
            ("a", "ping", 200),
            ("a", "vote", 50),
            ("a", "ping", 150),
        ] {
            counts.trigger_fires.count(creator, trigger, at);
        }
        counts.write(&conn).unwrap();
        let rows: Vec<(String, String, i64, i64)> = rows(
            &conn,
            "SELECT * FROM trigger_fires ORDER BY creator, trigger_id",
        );
        let expected = [
            ("a", "ping", 8, 9000),
            ("a", "vote", 1, 50),
            ("b", "ping", 1, 300),
        ];
        assert_eq!(
            rows,
            expected.map(|(c, t, n, ms)| (c.to_string(), t.to_string(), n, ms))
        );
        // Written once: a second write adds nothing.
        counts.write(&conn).unwrap();
        let total: i64 = conn
            .query_row("SELECT sum(fired) FROM trigger_fires", [], |r| r.get(0))
            .unwrap();
        assert_eq!(total, 10);
    }

    /// A tally's events and the sum of their amounts (negative ones too) add to what it held.
    #[test]
    fn tallies_add_their_amounts_and_events() {
        let dir = tempfile::tempdir().unwrap();
        let conn = store(&dir, "INSERT INTO tallies VALUES ('a', 'hype', 10, 2, 500)");
        let mut counts = BatchCounts::default();
        counts.tallies.add("a", "hype", 5, 700);
        counts.tallies.add("a", "hype", -3, 600);
        counts.tallies.add("a", "deaths", 1, 100);
        counts.write(&conn).unwrap();
        let rows: Vec<(String, i64, i64, i64)> = rows(
            &conn,
            "SELECT tally, total, events, updated_ms FROM tallies ORDER BY tally",
        );
        assert_eq!(
            rows,
            [
                ("deaths".to_string(), 1, 1, 100),
                ("hype".to_string(), 12, 4, 700)
            ]
        );
    }
}
