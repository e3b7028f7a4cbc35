//! The store's tables and the migrations between schema versions.
//!
//! `PRAGMA user_version` holds the version a database is at. [`MIGRATIONS`] has one step per version:
//! step `i` takes a database from version `i` to `i + 1`. Opening a database runs every step it has not
//! seen, in one transaction, so a crash mid-migration leaves the old version intact. Steps are only ever
//! appended: a released step is never edited, because databases in the field have already run it.
//!
//! Times are Unix milliseconds (`*_ms`), so ordering and range queries are plain integer comparisons.

/// The schema version this binary writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// One SQL batch per version step.
pub const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the tables of DESIGN §5.
    r"
    CREATE TABLE chat_events (
        id           INTEGER PRIMARY KEY,
        platform     TEXT    NOT NULL,
        message_id   TEXT    NOT NULL,
        creator      TEXT    NOT NULL,
        channel      TEXT    NOT NULL,
        ts_ms        INTEGER NOT NULL,
        kind         TEXT    NOT NULL,
        author_id    TEXT    NOT NULL,
        author_login TEXT    NOT NULL,
        author_name  TEXT    NOT NULL,
        roles        INTEGER NOT NULL,
        text         TEXT    NOT NULL,
        emotes       TEXT,
        extras       TEXT,
        -- The dedupe key. A platform re-delivers a message with its id and its own timestamp, so
        -- (time, platform, id) identifies it; leading with the time makes inserts append to the index
        -- instead of scattering over it (random message ids made each batch rewrite ~1000 index pages:
        -- 15k inserts/s instead of 160k+).
        UNIQUE (ts_ms, platform, message_id)
    );
    -- Running totals per (creator, platform), kept by the writer so exports never count a large table.
    CREATE TABLE chat_totals (
        creator        TEXT    NOT NULL,
        platform       TEXT    NOT NULL,
        events         INTEGER NOT NULL,
        last_event_ms  INTEGER NOT NULL,
        PRIMARY KEY (creator, platform)
    ) WITHOUT ROWID;
    CREATE TABLE actions (
        id           INTEGER PRIMARY KEY,
        creator      TEXT    NOT NULL,
        platform     TEXT    NOT NULL,
        trigger_id   TEXT    NOT NULL,
        action_type  TEXT    NOT NULL,
        payload      TEXT    NOT NULL,
        at_ms        INTEGER NOT NULL,
        message_id   TEXT
    );
    CREATE INDEX actions_by_trigger ON actions (creator, trigger_id);
    CREATE TABLE clips (
        clip_id       TEXT    PRIMARY KEY,
        creator       TEXT    NOT NULL,
        platform      TEXT    NOT NULL,
        channel       TEXT    NOT NULL,
        requested_by  TEXT    NOT NULL,
        duration_s    INTEGER NOT NULL,
        title         TEXT,
        state         TEXT    NOT NULL,
        url           TEXT,
        created_ms    INTEGER NOT NULL,
        updated_ms    INTEGER NOT NULL,
        published_ms  INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE clip_jobs (
        id          INTEGER PRIMARY KEY,
        clip_id     TEXT    NOT NULL UNIQUE,
        state       TEXT    NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT,
        created_ms  INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL
    );
    CREATE TABLE clip_state_history (
        id       INTEGER PRIMARY KEY,
        clip_id  TEXT    NOT NULL,
        state    TEXT    NOT NULL,
        at_ms    INTEGER NOT NULL,
        detail   TEXT
    );
    CREATE INDEX clip_history_by_clip ON clip_state_history (clip_id);
    CREATE TABLE polls (
        creator    TEXT    NOT NULL,
        poll       TEXT    NOT NULL,
        opened_ms  INTEGER NOT NULL,
        PRIMARY KEY (creator, poll)
    ) WITHOUT ROWID;
    CREATE TABLE poll_votes (
        id        INTEGER PRIMARY KEY,
        creator   TEXT    NOT NULL,
        poll      TEXT    NOT NULL,
        platform  TEXT    NOT NULL,
        user_id   TEXT    NOT NULL,
        option    TEXT    NOT NULL,
        at_ms     INTEGER NOT NULL,
        UNIQUE (creator, poll, platform, user_id)
    );
    CREATE TABLE tallies (
        creator     TEXT    NOT NULL,
        tally       TEXT    NOT NULL,
        total       INTEGER NOT NULL,
        events      INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL,
        PRIMARY KEY (creator, tally)
    ) WITHOUT ROWID;
    CREATE TABLE tally_events (
        id        INTEGER PRIMARY KEY,
        creator   TEXT    NOT NULL,
        tally     TEXT    NOT NULL,
        amount    INTEGER NOT NULL,
        platform  TEXT    NOT NULL,
        user_id   TEXT    NOT NULL,
        at_ms     INTEGER NOT NULL
    );
    CREATE TABLE scores (
        creator     TEXT    NOT NULL,
        board       TEXT    NOT NULL,
        platform    TEXT    NOT NULL,
        user_id     TEXT    NOT NULL,
        user_name   TEXT    NOT NULL,
        points      INTEGER NOT NULL,
        events      INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL,
        PRIMARY KEY (creator, board, platform, user_id)
    ) WITHOUT ROWID;
    CREATE TABLE score_events (
        id         INTEGER PRIMARY KEY,
        creator    TEXT    NOT NULL,
        board      TEXT    NOT NULL,
        platform   TEXT    NOT NULL,
        user_id    TEXT    NOT NULL,
        user_name  TEXT    NOT NULL,
        points     INTEGER NOT NULL,
        at_ms      INTEGER NOT NULL
    );
    CREATE TABLE notifications (
        id        INTEGER PRIMARY KEY,
        creator   TEXT    NOT NULL,
        channel   TEXT    NOT NULL,
        text      TEXT    NOT NULL,
        at_ms     INTEGER NOT NULL,
        sent_ms   INTEGER
    );
    CREATE TABLE quota_usage (
        platform  TEXT    NOT NULL,
        day       TEXT    NOT NULL,
        units     INTEGER NOT NULL,
        PRIMARY KEY (platform, day)
    ) WITHOUT ROWID;
    CREATE TABLE audit (
        id      INTEGER PRIMARY KEY,
        at_ms   INTEGER NOT NULL,
        action  TEXT    NOT NULL,
        detail  TEXT    NOT NULL
    );
    ",
    // 1 -> 2: the outbox replaces `notifications` (each row keeps its text as a notify payload), and
    // polling sources get resume checkpoints.
    r"
    CREATE TABLE outbox (
        id               INTEGER PRIMARY KEY,
        creator          TEXT    NOT NULL,
        destination      TEXT    NOT NULL,
        target           TEXT    NOT NULL,
        kind             TEXT    NOT NULL,
        payload          TEXT    NOT NULL,
        dedupe_key       TEXT    UNIQUE,
        nonce            TEXT    NOT NULL,
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms  INTEGER NOT NULL,
        sent_ms          INTEGER,
        failed           INTEGER NOT NULL DEFAULT 0,
        last_error       TEXT,
        created_ms       INTEGER NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (destination, next_attempt_ms) WHERE sent_ms IS NULL;
    INSERT INTO outbox (creator, destination, target, kind, payload, nonce, next_attempt_ms, sent_ms,
                        created_ms)
      SELECT creator, 'discord', channel, 'notify', json_object('text', text), lower(hex(randomblob(8))),
             at_ms, sent_ms, at_ms
      FROM notifications ORDER BY id;
    DROP TABLE notifications;
    CREATE TABLE source_checkpoints (
        creator     TEXT    NOT NULL,
        platform    TEXT    NOT NULL,
        cursor      TEXT    NOT NULL,
        updated_ms  INTEGER NOT NULL,
        PRIMARY KEY (creator, platform)
    ) WITHOUT ROWID;
    ",
    // 2 -> 3: where trigger state started afresh (each `ss run` start, each applied hot reload), so
    // `ss replay` resets its state at the same points and a replay of several runs matches each one.
    r"
    CREATE TABLE run_marks (
        id             INTEGER PRIMARY KEY,
        kind           TEXT    NOT NULL,
        at_ms          INTEGER NOT NULL,
        -- The last chat_events id accepted before the mark (0 for none): state is fresh from the next.
        after_chat_id  INTEGER NOT NULL
    );
    ",
    // 3 -> 4: YouTube quota usage per Google project (an API key or OAuth client), Pacific quota
    // day and method, so creators sharing a project share one persisted budget.
    r"
    CREATE TABLE quota_project_usage (
        project  TEXT    NOT NULL,
        day      TEXT    NOT NULL,
        method   TEXT    NOT NULL,
        calls    INTEGER NOT NULL,
        units    INTEGER NOT NULL,
        PRIMARY KEY (project, day, method)
    ) WITHOUT ROWID;
    ",
    // 4 -> 5: chat polls. A poll opened from chat has a question,
    // its options in order (a JSON array) and maybe a timer; it ends closed by `!poll close`, by
    // its timer, or `interrupted` when trigger state started afresh (a run start, a hot reload)
    // while it was open. Standing polls (a `poll_vote` trigger naming one) leave these NULL.
    r"
    ALTER TABLE polls ADD COLUMN question TEXT;
    ALTER TABLE polls ADD COLUMN options TEXT;
    ALTER TABLE polls ADD COLUMN closes_ms INTEGER;
    ALTER TABLE polls ADD COLUMN closed_ms INTEGER;
    ALTER TABLE polls ADD COLUMN close_reason TEXT;
    ",
    // 5 -> 6 (the notify step): each message an outbox row became (one per Discord guild channel),
    // recorded once the destination answered 2xx, so a retry or a restart sends only the rest.
    r"
    CREATE TABLE outbox_deliveries (
        outbox_id  INTEGER NOT NULL REFERENCES outbox (id),
        delivery   TEXT    NOT NULL,
        sent_ms    INTEGER NOT NULL,
        PRIMARY KEY (outbox_id, delivery)
    ) WITHOUT ROWID;
    ",
    // 6 -> 7: a clip's thumbnail link, sent with its clip-published notification.
    r"
    ALTER TABLE clips ADD COLUMN thumbnail_url TEXT;
    ",
    // 7 -> 8: the typed fields of a stream event (a subscription's months, a cheer's amount, a
    // raid's viewers), as JSON; NULL for chat messages and for rows recorded before.
    r"
    ALTER TABLE chat_events ADD COLUMN detail TEXT;
    ",
    // 8 -> 9: what caused each notification (`event:{platform}:{message_id}`, `clip:{clip_id}`,
    // `stream:{platform}:{stream_id}`, ...), so one message can be followed from the wire to the
    // post; NULL for rows queued before.
    r"
    ALTER TABLE outbox ADD COLUMN cause TEXT;
    ",
    // 9 -> 10: the ticks of a creator's clock that fired actions (a poll closing at its deadline),
    // positioned like run marks: after the last chat event and the last run mark recorded before
    // them, so `ss replay` meets each at the same place in the chat and the same time.
    r"
    CREATE TABLE ticks (
        id             INTEGER PRIMARY KEY,
        creator        TEXT    NOT NULL,
        at_ms          INTEGER NOT NULL,
        -- The last chat_events id recorded before the tick (0 for none).
        after_chat_id  INTEGER NOT NULL,
        -- The last run_marks id recorded before the tick (0 for none): orders a tick and a mark
        -- that follow the same chat event.
        after_mark_id  INTEGER NOT NULL
    );
    ",
    // 10 -> 11: control API calls in the audit log: who (the token's name and role), what (the
    // route and its arguments, without secrets) and the result. NULL for the runtime's own entries.
    r"
    ALTER TABLE audit ADD COLUMN actor     TEXT;
    ALTER TABLE audit ADD COLUMN role      TEXT;
    ALTER TABLE audit ADD COLUMN route     TEXT;
    ALTER TABLE audit ADD COLUMN arguments TEXT;
    ALTER TABLE audit ADD COLUMN result    TEXT;
    ",
    // 11 -> 12: the channel a message came from through Twitch's shared chat (NULL for the
    // channel's own chat and for rows recorded before), so `ss replay` ignores it exactly as the
    // live triggers did.
    r"
    ALTER TABLE chat_events ADD COLUMN shared_from TEXT;
    ",
    // 12 -> 13: the channel's daily bot. Whether the creator was live at a recorded tick (timers
    // and watch-time points run only while live); linked accounts (one viewer across platforms),
    // with when, how and where in the chat log each link was made and undone; points balances, the
    // ledger that makes a credit once-only per (cause, reason, account), and transfers with their
    // outcome; quotes, numbered per creator and never renumbered; giveaways, their entries (one per
    // person) and their draws with the seed and entry list hash that let anyone check them.
    r"
    ALTER TABLE ticks ADD COLUMN live INTEGER NOT NULL DEFAULT 1;
    CREATE TABLE links (
        id                      INTEGER PRIMARY KEY,
        creator                 TEXT    NOT NULL,
        person                  TEXT    NOT NULL,
        platform                TEXT    NOT NULL,
        user_id                 TEXT    NOT NULL,
        user_name               TEXT    NOT NULL,
        -- 'chat' (!link) or 'config' (creators.json).
        how                     TEXT    NOT NULL,
        cause                   TEXT    NOT NULL,
        made_ms                 INTEGER NOT NULL,
        -- The last chat_events id recorded before the link (0 for none), as for run marks.
        made_after_chat_id      INTEGER NOT NULL,
        unlinked_ms             INTEGER,
        unlinked_how            TEXT,
        unlinked_cause          TEXT,
        unlinked_after_chat_id  INTEGER
    );
    CREATE UNIQUE INDEX links_active ON links (creator, platform, user_id) WHERE unlinked_ms IS NULL;
    CREATE INDEX links_by_person ON links (creator, person);
    CREATE TABLE points (
        creator     TEXT    NOT NULL,
        platform    TEXT    NOT NULL,
        user_id     TEXT    NOT NULL,
        user_name   TEXT    NOT NULL,
        balance     INTEGER NOT NULL CHECK (balance >= 0),
        earned      INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL,
        PRIMARY KEY (creator, platform, user_id)
    ) WITHOUT ROWID;
    CREATE TABLE points_ledger (
        id        INTEGER PRIMARY KEY,
        creator   TEXT    NOT NULL,
        platform  TEXT    NOT NULL,
        user_id   TEXT    NOT NULL,
        amount    INTEGER NOT NULL,
        reason    TEXT    NOT NULL,
        cause     TEXT    NOT NULL,
        at_ms     INTEGER NOT NULL,
        UNIQUE (cause, reason, creator, platform, user_id)
    );
    CREATE TABLE points_transfers (
        id             INTEGER PRIMARY KEY,
        creator        TEXT    NOT NULL,
        cause          TEXT    NOT NULL UNIQUE,
        kind           TEXT    NOT NULL,
        from_platform  TEXT,
        from_user_id   TEXT,
        to_name        TEXT    NOT NULL,
        to_platform    TEXT,
        to_user_id     TEXT,
        amount         INTEGER NOT NULL,
        moved          INTEGER NOT NULL,
        outcome        TEXT    NOT NULL,
        at_ms          INTEGER NOT NULL
    );
    CREATE TABLE quotes (
        creator        TEXT    NOT NULL,
        number         INTEGER NOT NULL,
        text           TEXT    NOT NULL,
        added_by       TEXT    NOT NULL,
        said_by        TEXT,
        platform       TEXT,
        game           TEXT,
        added_ms       INTEGER NOT NULL,
        -- 'chat' or 'import'.
        source         TEXT    NOT NULL,
        cause          TEXT    UNIQUE,
        deleted_ms     INTEGER,
        deleted_cause  TEXT,
        PRIMARY KEY (creator, number)
    ) WITHOUT ROWID;
    CREATE TABLE giveaways (
        creator            TEXT    NOT NULL,
        giveaway           TEXT    NOT NULL,
        platform           TEXT    NOT NULL,
        keyword            TEXT    NOT NULL,
        eligibility        TEXT    NOT NULL,
        opened_ms          INTEGER NOT NULL,
        closes_ms          INTEGER,
        entries_closed_ms  INTEGER,
        closed_ms          INTEGER,
        -- 'command', or 'interrupted' when trigger state started afresh while it was running.
        close_reason       TEXT,
        PRIMARY KEY (creator, giveaway)
    ) WITHOUT ROWID;
    CREATE TABLE giveaway_entries (
        id         INTEGER PRIMARY KEY,
        creator    TEXT    NOT NULL,
        giveaway   TEXT    NOT NULL,
        person     TEXT    NOT NULL,
        platform   TEXT    NOT NULL,
        user_id    TEXT    NOT NULL,
        user_name  TEXT    NOT NULL,
        weight     INTEGER NOT NULL,
        entry_id   TEXT    NOT NULL,
        at_ms      INTEGER NOT NULL,
        UNIQUE (creator, giveaway, person)
    );
    CREATE TABLE giveaway_draws (
        id            INTEGER PRIMARY KEY,
        creator       TEXT    NOT NULL,
        giveaway      TEXT    NOT NULL,
        number        INTEGER NOT NULL,
        kind          TEXT    NOT NULL,
        seed          TEXT    NOT NULL,
        entries_hash  TEXT    NOT NULL,
        entries       INTEGER NOT NULL,
        total_weight  INTEGER NOT NULL,
        winners       TEXT    NOT NULL,
        replaced      TEXT,
        at_ms         INTEGER NOT NULL,
        UNIQUE (creator, giveaway, number)
    );
    ",
    // 13 -> 14: moderation's audit. Every decision a filter made (a dry run's too), one per message;
    // the strikes the engine starts from are each user's last decision. What each platform command
    // of a decision became arrives on its own, keyed by (platform, message, command), since the
    // platform may answer before the decision's batch commits.
    r"
    CREATE TABLE moderation_decisions (
        id          INTEGER PRIMARY KEY,
        creator     TEXT    NOT NULL,
        platform    TEXT    NOT NULL,
        channel     TEXT    NOT NULL,
        message_id  TEXT    NOT NULL,
        at_ms       INTEGER NOT NULL,
        user_id     TEXT    NOT NULL,
        user_login  TEXT    NOT NULL,
        filter      TEXT    NOT NULL,
        rule        TEXT    NOT NULL,
        decision    TEXT    NOT NULL,
        seconds     INTEGER,
        strike      INTEGER NOT NULL,
        dry_run     INTEGER NOT NULL,
        message     TEXT,
        UNIQUE (platform, message_id)
    );
    CREATE INDEX moderation_by_user ON moderation_decisions (creator, platform, user_id, dry_run);
    CREATE TABLE moderation_outcomes (
        platform    TEXT    NOT NULL,
        message_id  TEXT    NOT NULL,
        command     TEXT    NOT NULL,
        state       TEXT    NOT NULL,
        answer      TEXT,
        at_ms       INTEGER NOT NULL,
        PRIMARY KEY (platform, message_id, command)
    );
    ",
    // 14 -> 15: aggregates the exports read instead of grouping logs that grow with the chat, kept
    // by the store itself (SQLite triggers, so no writer path can miss them): how often each
    // trigger fired, and each poll's votes per option, total and last vote. Actions and votes are
    // never deleted; a changed vote (a chat poll takes the latest) moves between options.
    r"
    CREATE TABLE trigger_fires (
        creator        TEXT    NOT NULL,
        trigger_id     TEXT    NOT NULL,
        fired          INTEGER NOT NULL,
        last_fired_ms  INTEGER NOT NULL,
        PRIMARY KEY (creator, trigger_id)
    ) WITHOUT ROWID;
    INSERT INTO trigger_fires (creator, trigger_id, fired, last_fired_ms)
        SELECT creator, trigger_id, count(*), max(at_ms) FROM actions GROUP BY creator, trigger_id;
    CREATE TRIGGER actions_count_fires AFTER INSERT ON actions BEGIN
        INSERT INTO trigger_fires (creator, trigger_id, fired, last_fired_ms)
            VALUES (NEW.creator, NEW.trigger_id, 1, NEW.at_ms)
            ON CONFLICT (creator, trigger_id) DO UPDATE SET
                fired = fired + 1,
                last_fired_ms = max(last_fired_ms, excluded.last_fired_ms);
    END;
    CREATE TABLE poll_option_votes (
        creator  TEXT    NOT NULL,
        poll     TEXT    NOT NULL,
        option   TEXT    NOT NULL,
        votes    INTEGER NOT NULL,
        PRIMARY KEY (creator, poll, option)
    ) WITHOUT ROWID;
    CREATE TABLE poll_totals (
        creator       TEXT    NOT NULL,
        poll          TEXT    NOT NULL,
        votes         INTEGER NOT NULL,
        last_vote_ms  INTEGER NOT NULL,
        PRIMARY KEY (creator, poll)
    ) WITHOUT ROWID;
    INSERT INTO poll_option_votes (creator, poll, option, votes)
        SELECT creator, poll, option, count(*) FROM poll_votes GROUP BY creator, poll, option;
    INSERT INTO poll_totals (creator, poll, votes, last_vote_ms)
        SELECT creator, poll, count(*), max(at_ms) FROM poll_votes GROUP BY creator, poll;
    CREATE TRIGGER poll_votes_count AFTER INSERT ON poll_votes BEGIN
        INSERT INTO poll_option_votes (creator, poll, option, votes)
            VALUES (NEW.creator, NEW.poll, NEW.option, 1)
            ON CONFLICT (creator, poll, option) DO UPDATE SET votes = votes + 1;
        INSERT INTO poll_totals (creator, poll, votes, last_vote_ms)
            VALUES (NEW.creator, NEW.poll, 1, NEW.at_ms)
            ON CONFLICT (creator, poll) DO UPDATE SET
                votes = votes + 1,
                last_vote_ms = max(last_vote_ms, excluded.last_vote_ms);
    END;
    CREATE TRIGGER poll_votes_change AFTER UPDATE ON poll_votes BEGIN
        UPDATE poll_option_votes SET votes = votes - 1
            WHERE creator = OLD.creator AND poll = OLD.poll AND option = OLD.option;
        INSERT INTO poll_option_votes (creator, poll, option, votes)
            VALUES (NEW.creator, NEW.poll, NEW.option, 1)
            ON CONFLICT (creator, poll, option) DO UPDATE SET votes = votes + 1;
        UPDATE poll_totals SET last_vote_ms = max(last_vote_ms, NEW.at_ms)
            WHERE creator = NEW.creator AND poll = NEW.poll;
    END;
    ",
    // 15 -> 16: the delivery ids a platform's webhook accepted, kept for its replay window, so a
    // captured delivery sent again after a restart is still refused.
    r"
    CREATE TABLE webhook_deliveries (
        platform     TEXT    NOT NULL,
        delivery_id  TEXT    NOT NULL,
        at_ms        INTEGER NOT NULL,
        PRIMARY KEY (platform, delivery_id)
    );
    CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries (at_ms);
    ",
    // 16 -> 17: where an evaluator of the bus is in each shard of the event stream (`bus_cursors`),
    // committed with the events it folded in.
    r"
    CREATE TABLE bus_cursors (
        stream      TEXT    NOT NULL,
        shard       INTEGER NOT NULL,
        seq         INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL,
        PRIMARY KEY (stream, shard)
    ) WITHOUT ROWID;
    ",
    // 17 -> 18: the action log's insert gets cheaper. `trigger_fires` is kept by the store writer,
    // which folds each batch's counts in at commit (like `chat_totals`), instead of an SQLite
    // trigger run for every action: that trigger was about a sixth of the writer's time at full
    // speed. And `actions_by_trigger` goes: no read looks actions up by trigger (`trigger_fires`
    // answers how often each fired), so it cost every action a B-tree insert and served nothing.
    r"
    DROP TRIGGER actions_count_fires;
    DROP INDEX actions_by_trigger;
    ",
];

/// A database at `version` (each migration up to it applied), in WAL mode like a running `ss run`'s:
/// the store an older `ss` left, for upgrade tests.
#[cfg(test)]
pub(crate) fn store_at_version(path: &std::path::Path, version: usize) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL").unwrap();
    for step in &MIGRATIONS[..version] {
        conn.execute_batch(step).unwrap();
    }
    conn.execute_batch(&format!("PRAGMA user_version = {version}"))
        .unwrap();
}
