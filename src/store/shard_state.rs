//! A shard's part of the store, copied out to a file of its own (a shard snapshot of the bus) and
//! copied into another evaluator's store, so the state of a shard moves with its lease.
//!
//! A shard's rows are those of its creators, in every table with a `creator` column
//! ([`BY_CREATOR`]), with the rows that belong to them ([`DEPENDENT`]: a clip's job and history,
//! an outbox row's deliveries, a moderation decision's outcomes). The aggregates SQLite keeps by
//! trigger ([`AGGREGATES`]: a poll's votes) are not copied: inserting the rows rebuilds them;
//! those the writer keeps (`chat_totals`, `trigger_fires`, `tallies`) are rows of their creators,
//! copied with the rest. The process's own tables ([`LOCAL`]) stay: quotas, the audit log, run
//! marks, webhook ids, sources' checkpoints.
//!
//! **Out** ([`write_snapshot`]): a new store file at this binary's schema, filled from the live
//! store in one read transaction, so the copy is the fold of the shard's events up to the shard's
//! cursor in it, exactly.
//!
//! **In** ([`import_snapshot`], on the writer's connection, between its batches): only into a
//! store that has never folded the shard (its cursor is 0), so no state of the shard's creators in
//! this process predates it. In one transaction: the shard's creators' rows here (links declared at
//! the run's start) are replaced by the snapshot's, with new row ids. The positions other rows keep
//! in the chat log (`after_chat_id` of ticks and links) are mapped to the new ids, after the same
//! events; run marks stay this store's, so a position among them is "after the last one here".
//! Polls and giveaways still open in the snapshot are closed as `interrupted`: their timers and
//! entries lived in the old owner's memory, and trigger state starts afresh here, as at a restart.
//! The shard's cursor is the snapshot's.

use super::error::StoreError;
use super::open::Store;
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

/// Tables whose rows belong to a creator (a `creator` column).
pub const BY_CREATOR: &[&str] = &[
    "chat_events",
    "chat_totals",
    "actions",
    "trigger_fires",
    "clips",
    "polls",
    "poll_votes",
    "tallies",
    "tally_events",
    "scores",
    "score_events",
    "outbox",
    "ticks",
    "links",
    "points",
    "points_ledger",
    "points_transfers",
    "quotes",
    "giveaways",
    "giveaway_entries",
    "giveaway_draws",
    "moderation_decisions",
];

/// Tables whose rows belong to rows of [`BY_CREATOR`]: the table and which of its rows are the
/// shard's (`{db}` is the database read).
pub const DEPENDENT: &[(&str, &str)] = &[
    (
        "clip_jobs",
        "clip_id IN (SELECT clip_id FROM {db}.clips WHERE ss_in_shard(creator))",
    ),
    (
        "clip_state_history",
        "clip_id IN (SELECT clip_id FROM {db}.clips WHERE ss_in_shard(creator))",
    ),
    (
        "outbox_deliveries",
        "outbox_id IN (SELECT id FROM {db}.outbox WHERE ss_in_shard(creator))",
    ),
    (
        "moderation_outcomes",
        "(platform, message_id) IN (SELECT platform, message_id FROM {db}.moderation_decisions WHERE ss_in_shard(creator))",
    ),
];

/// Kept by SQLite triggers from the rows of [`BY_CREATOR`].
pub const AGGREGATES: &[&str] = &["poll_option_votes", "poll_totals"];

/// The process's own tables, never copied.
pub const LOCAL: &[&str] = &[
    "quota_usage",
    "audit",
    "source_checkpoints",
    "run_marks",
    "quota_project_usage",
    "webhook_deliveries",
    "bus_cursors",
];

/// A large table and a small one that has a row for every creator it has rows of (kept in the same
/// transactions: the chat totals and the trigger counts by the writer).
const COMPANIONS: &[(&str, &str)] = &[("chat_events", "chat_totals"), ("actions", "trigger_fires")];

/// Columns that hold a place in the chat log (a chat event id).
const CHAT_POSITIONS: &[&str] = &[
    "after_chat_id",
    "made_after_chat_id",
    "unlinked_after_chat_id",
];

/// What a snapshot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotSize {
    /// The stream sequence of the last event folded into it.
    pub seq: u64,
    /// Its chat events.
    pub events: u64,
}

/// What importing a snapshot did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    /// The shard's rows and cursor are the snapshot's.
    Loaded(SnapshotSize),
    /// This store has folded the shard before (its cursor is `cursor`): it resumes from there.
    Skipped { cursor: u64 },
}

/// Registers `ss_in_shard(creator)` on `conn`: whether a creator is one of the shard's.
fn register_shard_filter(
    conn: &Connection,
    in_shard: impl Fn(&str) -> bool + Send + 'static,
) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "ss_in_shard",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| Ok(in_shard(ctx.get_raw(0).as_str().unwrap_or_default())),
    )
}

/// The columns of `table`, in order.
fn columns(conn: &Connection, db: &str, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA {db}.table_info({table})"))?;
    let names = stmt.query_map([], |r| r.get::<_, String>(1))?;
    names.collect()
}

fn cursor_of(conn: &Connection, db: &str, stream: &str, shard: u32) -> rusqlite::Result<u64> {
    conn.query_row(
        &format!("SELECT seq FROM {db}.bus_cursors WHERE stream = ?1 AND shard = ?2"),
        params![stream, shard],
        |r| r.get::<_, i64>(0),
    )
    .optional()
    .map(|seq| seq.unwrap_or(0).max(0) as u64)
}

/// Writes the shard's part of the store at `store` to a new store file `out` (replaced if there),
/// read in one transaction. `in_shard` says which creators are the shard's.
pub fn write_snapshot(
    store: &Path,
    out: &Path,
    stream: &str,
    shard: u32,
    in_shard: impl Fn(&str) -> bool + Send + 'static,
) -> Result<SnapshotSize, StoreError> {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", out.display()));
    }
    let mut copy = Store::open_as_writer(out)?;
    let err = |e| StoreError::from_sqlite(out, e);
    let conn = copy.conn_mut();
    register_shard_filter(conn, in_shard).map_err(err)?;
    conn.execute("ATTACH DATABASE ?1 AS live", [store.to_string_lossy()])
        .map_err(err)?;
    let size = (|| {
        let tx = conn.transaction()?;
        for table in BY_CREATOR {
            tx.execute(
                &format!("INSERT INTO main.{table} SELECT * FROM live.{table} WHERE ss_in_shard(creator)"),
                [],
            )?;
        }
        for (table, shard_rows) in DEPENDENT {
            tx.execute(
                &format!(
                    "INSERT INTO main.{table} SELECT * FROM live.{table} WHERE {}",
                    shard_rows.replace("{db}", "live")
                ),
                [],
            )?;
        }
        tx.execute(
            "INSERT INTO main.bus_cursors SELECT * FROM live.bus_cursors WHERE stream = ?1 AND shard = ?2",
            params![stream, shard],
        )?;
        let size = SnapshotSize {
            seq: cursor_of(&tx, "main", stream, shard)?,
            events: tx.query_row("SELECT count(*) FROM main.chat_events", [], |r| {
                r.get::<_, i64>(0)
            })? as u64,
        };
        tx.commit()?;
        Ok(size)
    })()
    .map_err(err)?;
    // One self-contained file (no WAL beside it), to upload and to open anywhere.
    conn.execute_batch("DETACH DATABASE live; PRAGMA journal_mode = DELETE;")
        .map_err(err)?;
    Ok(size)
}

/// Imports the snapshot at `snapshot` into the store of `conn` (the writer's, outside a
/// transaction); see the module doc.
pub fn import_snapshot(
    conn: &mut Connection,
    snapshot: &Path,
    stream: &str,
    shard: u32,
    at_ms: i64,
    in_shard: impl Fn(&str) -> bool + Send + 'static,
) -> rusqlite::Result<Imported> {
    register_shard_filter(conn, in_shard)?;
    // The id maps hold a row per chat event of the shard: on disk, not in the process's memory.
    conn.execute_batch("PRAGMA temp_store = FILE;")?;
    conn.execute("ATTACH DATABASE ?1 AS snap", [snapshot.to_string_lossy()])?;
    let result = import_attached(conn, stream, shard, at_ms);
    let detached = conn.execute_batch(
        "DROP TABLE IF EXISTS temp.chat_map; DROP TABLE IF EXISTS temp.outbox_map; DETACH DATABASE snap;
         PRAGMA temp_store = MEMORY;",
    );
    let imported = result?;
    detached?;
    Ok(imported)
}

fn import_attached(
    conn: &mut Connection,
    stream: &str,
    shard: u32,
    at_ms: i64,
) -> rusqlite::Result<Imported> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let cursor = cursor_of(&tx, "main", stream, shard)?;
    if cursor > 0 {
        return Ok(Imported::Skipped { cursor });
    }
    // What this store holds of the shard's creators goes first (dependents before their rows).
    for (table, shard_rows) in DEPENDENT {
        tx.execute(
            &format!(
                "DELETE FROM main.{table} WHERE {}",
                shard_rows.replace("{db}", "main")
            ),
            [],
        )?;
    }
    for table in BY_CREATOR.iter().chain(AGGREGATES) {
        // The chat log and the action log are the large ones, with no index by creator: scanned
        // only when their small companion says this store holds rows of the shard's creators.
        if let Some((_, companion)) = COMPANIONS.iter().find(|(t, _)| t == table) {
            let holds: bool = tx.query_row(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM main.{companion} WHERE ss_in_shard(creator))"
                ),
                [],
                |r| r.get(0),
            )?;
            if !holds {
                continue;
            }
        }
        tx.execute(
            &format!("DELETE FROM main.{table} WHERE ss_in_shard(creator)"),
            [],
        )?;
    }
    // New ids for the snapshot's chat events and outbox rows, after this store's, in their order.
    let id_map = |table: &str, map: &str| {
        format!(
            "CREATE TEMP TABLE {map} (old INTEGER PRIMARY KEY, new INTEGER NOT NULL);
             INSERT INTO temp.{map} SELECT id,
                 (SELECT coalesce(max(id), 0) FROM main.{table}) + row_number() OVER (ORDER BY id)
               FROM snap.{table};"
        )
    };
    tx.execute_batch(&id_map("chat_events", "chat_map"))?;
    tx.execute_batch(&id_map("outbox", "outbox_map"))?;
    let last_mark: i64 =
        tx.query_row("SELECT coalesce(max(id), 0) FROM main.run_marks", [], |r| {
            r.get(0)
        })?;
    for table in BY_CREATOR
        .iter()
        .copied()
        .chain(DEPENDENT.iter().map(|(t, _)| *t))
    {
        let cols = columns(&tx, "main", table)?;
        let has_id = cols.iter().any(|c| c == "id");
        let (mut into, mut from) = (Vec::new(), Vec::new());
        for col in &cols {
            let value = match (table, col.as_str()) {
                ("chat_events", "id") => "(SELECT new FROM temp.chat_map WHERE old = s.id)".into(),
                ("outbox", "id") => "(SELECT new FROM temp.outbox_map WHERE old = s.id)".into(),
                ("outbox_deliveries", "outbox_id") => {
                    "(SELECT new FROM temp.outbox_map WHERE old = s.outbox_id)".into()
                }
                (_, "id") => continue,
                (_, "after_mark_id") => last_mark.to_string(),
                (_, c) if CHAT_POSITIONS.contains(&c) => format!(
                    "CASE WHEN s.{c} IS NULL THEN NULL ELSE coalesce(
                       (SELECT new FROM temp.chat_map WHERE old <= s.{c} ORDER BY old DESC LIMIT 1),
                       (SELECT coalesce(min(new), 1) - 1 FROM temp.chat_map)) END"
                ),
                (_, c) => format!("s.{c}"),
            };
            into.push(col.clone());
            from.push(value);
        }
        let order = if has_id { " ORDER BY s.id" } else { "" };
        tx.execute(
            &format!(
                "INSERT INTO main.{table} ({}) SELECT {} FROM snap.{table} AS s{order}",
                into.join(", "),
                from.join(", ")
            ),
            [],
        )?;
    }
    // Their timers and entries were the old owner's, in memory: trigger state starts afresh here.
    super::community::interrupt_open_polls(&tx, at_ms, "ss_in_shard(creator)")?;
    super::giveaways::interrupt_running(&tx, at_ms, "ss_in_shard(creator)")?;
    let size = SnapshotSize {
        seq: cursor_of(&tx, "snap", stream, shard)?,
        events: tx.query_row("SELECT count(*) FROM snap.chat_events", [], |r| {
            r.get::<_, i64>(0)
        })? as u64,
    };
    tx.execute(
        "INSERT INTO main.bus_cursors (stream, shard, seq, updated_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (stream, shard) DO UPDATE SET seq = max(seq, excluded.seq),
           updated_ms = excluded.updated_ms",
        params![stream, shard, size.seq as i64, at_ms],
    )?;
    tx.commit()?;
    Ok(Imported::Loaded(size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::{Action, ActionKind};
    use crate::event::{Author, ChatEvent, Platform, Tick};
    use crate::store::bus_cursors::BusCursor;
    use crate::store::{StoreReader, StoreWriter, WriteOp};
    use chrono::DateTime;

    const STREAM: &str = "SS_EVENTS";

    fn chat(creator: &str, id: &str, ms: i64) -> WriteOp {
        WriteOp::ChatEvent(Box::new(ChatEvent::message(
            Platform::named("twitch"),
            creator,
            id,
            DateTime::from_timestamp_millis(ms).unwrap(),
            Author::viewer("viewer"),
            "hi",
        )))
    }

    fn vote(creator: &str, user: &str, option: &str, ms: i64) -> WriteOp {
        WriteOp::action(Action {
            trigger_id: "vote".into(),
            creator: creator.into(),
            platform: Platform::named("twitch"),
            message_id: format!("{user}-{ms}"),
            at: DateTime::from_timestamp_millis(ms).unwrap(),
            kind: ActionKind::PollVote {
                poll: "next-game".into(),
                option: option.into(),
                user_id: user.into(),
            },
            thread: false,
        })
    }

    fn tick(creator: &str, ms: i64) -> WriteOp {
        WriteOp::Tick(Tick {
            creator: creator.into(),
            at: DateTime::from_timestamp_millis(ms).unwrap(),
            live: true,
        })
    }

    fn cursor(shard: u32, seq: u64) -> WriteOp {
        WriteOp::BusCursor(Box::new(BusCursor {
            stream: STREAM.into(),
            shard,
            seq,
            at_ms: 1,
        }))
    }

    fn rows(path: &Path, sql: &str) -> Vec<String> {
        let conn = Connection::open(path).unwrap();
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn import(writer: &StoreWriter, snapshot: &Path) -> Result<Imported, String> {
        let (done, outcome) = tokio::sync::oneshot::channel();
        writer
            .blocking_send(WriteOp::ImportShard(Box::new(crate::store::ShardImport {
                snapshot: snapshot.to_path_buf(),
                stream: STREAM.into(),
                shard: 1,
                at_ms: 50_000,
                in_shard: Box::new(|c| c == "alpha"),
                done,
            })))
            .unwrap();
        outcome.blocking_recv().unwrap()
    }

    /// What a creator's state looks like, with row ids left out: its chat in order, each tick with
    /// the chat message it comes after, the poll counts the triggers keep, its open polls.
    fn state_of(path: &Path, creator: &str) -> Vec<Vec<String>> {
        vec![
            rows(
                path,
                &format!(
                    "SELECT message_id FROM chat_events WHERE creator = '{creator}' ORDER BY id"
                ),
            ),
            rows(
                path,
                &format!(
                    "SELECT t.at_ms || ' after ' || coalesce(
                        (SELECT message_id FROM chat_events c WHERE c.id <= t.after_chat_id
                           AND c.creator = '{creator}' ORDER BY c.id DESC LIMIT 1), 'none')
                     FROM ticks t WHERE creator = '{creator}' ORDER BY t.id"
                ),
            ),
            rows(
                path,
                &format!(
                    "SELECT option || '=' || votes FROM poll_option_votes WHERE creator = '{creator}' ORDER BY option"
                ),
            ),
            rows(
                path,
                &format!(
                    "SELECT poll || ':' || votes FROM poll_totals WHERE creator = '{creator}'"
                ),
            ),
            rows(
                path,
                &format!(
                    "SELECT events || '@' || last_event_ms FROM chat_totals WHERE creator = '{creator}'"
                ),
            ),
        ]
    }

    #[test]
    fn a_shards_state_moves_to_another_store_with_its_positions_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new, snap) = (
            dir.path().join("old.db"),
            dir.path().join("new.db"),
            dir.path().join("shard-1.sqlite3"),
        );
        // The old owner folded shards 1 (alpha) and 2 (beta), interleaved.
        let writer = StoreWriter::spawn(&old, 64).unwrap();
        for i in 0..6 {
            writer
                .blocking_send(chat("alpha", &format!("a{i}"), 1_000 + i))
                .unwrap();
            writer
                .blocking_send(chat("beta", &format!("b{i}"), 1_000 + i))
                .unwrap();
            if i == 2 {
                writer.blocking_send(tick("alpha", 1_500)).unwrap();
            }
        }
        writer
            .blocking_send(vote("alpha", "u1", "chess", 2_000))
            .unwrap();
        writer
            .blocking_send(vote("alpha", "u2", "go", 2_001))
            .unwrap();
        writer
            .blocking_send(vote("alpha", "u3", "go", 2_002))
            .unwrap();
        writer
            .blocking_send(vote("beta", "u1", "chess", 2_003))
            .unwrap();
        writer.blocking_send(cursor(1, 40)).unwrap();
        writer.blocking_send(cursor(2, 41)).unwrap();
        writer.close().unwrap();

        let size = write_snapshot(&old, &snap, STREAM, 1, |c| c == "alpha").unwrap();
        assert_eq!(size, SnapshotSize { seq: 40, events: 6 });
        assert!(rows(&snap, "SELECT DISTINCT creator FROM chat_events") == ["alpha"]);

        // The new owner folded another shard first, and holds stray rows of alpha's (a vote, a
        // message) that the snapshot replaces.
        let writer = StoreWriter::spawn(&new, 64).unwrap();
        for i in 0..3 {
            writer
                .blocking_send(chat("gamma", &format!("g{i}"), 900 + i))
                .unwrap();
        }
        writer
            .blocking_send(vote("alpha", "u9", "stale", 800))
            .unwrap();
        writer.blocking_send(chat("alpha", "stray", 700)).unwrap();
        writer.blocking_send(cursor(3, 7)).unwrap();
        let imported = import(&writer, &snap).unwrap();
        assert_eq!(
            imported,
            Imported::Loaded(SnapshotSize { seq: 40, events: 6 })
        );
        // A store that has folded the shard keeps its own fold.
        assert_eq!(
            import(&writer, &snap).unwrap(),
            Imported::Skipped { cursor: 40 }
        );
        // The writer goes on as before, after the imported rows.
        writer.blocking_send(chat("alpha", "a6", 3_000)).unwrap();
        writer.close().unwrap();

        let mut expected = state_of(&old, "alpha");
        expected[0].push("a6".into());
        expected[4] = vec!["7@3000".into()];
        assert_eq!(state_of(&new, "alpha"), expected);
        assert_eq!(state_of(&new, "alpha")[1], ["1500 after a2"]);
        assert_eq!(state_of(&new, "alpha")[2], ["chess=1", "go=2"]);
        assert_eq!(
            rows(
                &new,
                "SELECT message_id FROM chat_events WHERE creator = 'gamma' ORDER BY id"
            ),
            ["g0", "g1", "g2"]
        );
        assert!(state_of(&new, "beta").iter().all(Vec::is_empty));
        let reader = StoreReader::open(&new).unwrap();
        assert_eq!(reader.bus_cursor(STREAM, 1).unwrap(), 40);
        assert_eq!(reader.bus_cursor(STREAM, 3).unwrap(), 7);
    }

    #[test]
    fn every_table_of_the_schema_is_placed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        drop(Store::open_as_writer(&path).unwrap());
        let placed: Vec<&str> = BY_CREATOR
            .iter()
            .chain(AGGREGATES)
            .chain(LOCAL)
            .copied()
            .chain(DEPENDENT.iter().map(|(t, _)| *t))
            .collect();
        for table in rows(
            &path,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        ) {
            assert!(
                placed.contains(&table.as_str()),
                "table {table} is not placed in shard_state: say whether a shard snapshot carries it"
            );
        }
    }
}
