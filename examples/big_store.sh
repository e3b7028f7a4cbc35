#!/usr/bin/env bash
# A large store for timing `ss export` and shutdown: ROOT gets the demo config with the sim source at
# full speed, `ss run` records SECONDS of real chat (actions, polls, votes, tallies, scores with it),
# then the chat log and the action log are copied forward in time (new ids, message ids and times)
# until the chat log holds at least EVENTS rows.
#
#   examples/big_store.sh ROOT [EVENTS=10000000] [SECONDS=30] [SS=target/release/ss]
set -euo pipefail
root=${1:?usage: big_store.sh ROOT [EVENTS] [SECONDS] [SS]}
events=${2:-10000000}
seconds=${3:-30}
ss=${4:-target/release/ss}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/runtime"
cp -r "$here/runtime/config" "$here/runtime/version.json" "$root/runtime/"
cat > "$root/runtime/config/creators.json" <<'JSON'
{"creators": [{"id": "demo", "display_name": "Demo", "platforms": {"sim": {"enabled": true, "rate_per_s": 0, "seed": 7, "users": 5000}}}]}
JSON
"$ss" --root "$root" run --duration "${seconds}s"
db="$root/runtime/state/streamsuites.db"
base=$(sqlite3 "$db" "SELECT max(id) FROM chat_events")
actions=$(sqlite3 "$db" "SELECT coalesce(max(id), 0) FROM actions")
copy=1
while [ "$(sqlite3 "$db" "SELECT count(*) FROM chat_events")" -lt "$events" ]; do
  sqlite3 "$db" <<SQL
BEGIN;
INSERT INTO chat_events (id, platform, message_id, creator, channel, ts_ms, kind, author_id,
    author_login, author_name, roles, text, emotes, extras, detail, shared_from)
  SELECT id + $copy * $base, platform, message_id || '-$copy', creator, channel,
    ts_ms + $copy * 3600000, kind, author_id, author_login, author_name, roles, text, emotes,
    extras, detail, shared_from
  FROM chat_events WHERE id <= $base;
INSERT INTO actions (creator, platform, trigger_id, action_type, payload, at_ms, message_id)
  SELECT creator, platform, trigger_id, action_type, payload, at_ms + $copy * 3600000,
    message_id || '-$copy'
  FROM actions WHERE id <= $actions;
UPDATE chat_totals SET
    events = (SELECT count(*) FROM chat_events c
              WHERE c.creator = chat_totals.creator AND c.platform = chat_totals.platform),
    last_event_ms = (SELECT max(ts_ms) FROM chat_events c
                     WHERE c.creator = chat_totals.creator AND c.platform = chat_totals.platform);
COMMIT;
SQL
  copy=$((copy + 1))
done
sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE)" > /dev/null
echo "$(sqlite3 "$db" "SELECT count(*) FROM chat_events") chat events, $(sqlite3 "$db" "SELECT count(*) FROM actions") actions in $db"
