//! `ss run --role ingest|evaluate|export` over a real nats-server with JetStream on loopback, and
//! `ss bus init|status`: events recorded exactly once across roles, replies counted at the loopback
//! Twitch server, an evaluator killed or paused, the bus away, a three-node cluster losing a node.

use crate::harness::{
    Spawned, Test, exit_code_within, sample_every, signal, until_found_explained, until_some,
    wait_for_explained,
};
use crate::nats_server::Nats;
use crate::run_twitch::{privmsg, twitch_root, with_ts};
use crate::twitch_server::{ServerOptions, TwitchServer};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

const TOKEN: (&str, &str) = ("TWITCH_OAUTH_TOKEN_DEMO", "oauth:bus-secret-token");

/// Adds system.json `bus` (and any `extra` keys of it) to a root.
fn with_bus(t: &Test, urls: &str, extra: Value) {
    let path = "runtime/config/system.json";
    let mut system: Value = serde_json::from_str(&t.read(path)).unwrap();
    let mut bus = json!({"kind": "nats", "url": urls, "shards": 8, "lease_s": 3});
    for (k, v) in extra.as_object().unwrap() {
        bus[k] = v.clone();
    }
    system["bus"] = bus;
    t.write(path, &serde_json::to_string_pretty(&system).unwrap());
}

/// Adds sim creators (`names`) at `rate` events/s to a root's creators.json.
fn with_sim_creators(t: &Test, names: &[&str], rate: u32) {
    let path = "runtime/config/creators.json";
    let mut creators: Value = serde_json::from_str(&t.read(path)).unwrap();
    let list = creators["creators"].as_array_mut().unwrap();
    for (i, name) in names.iter().enumerate() {
        list.push(json!({
            "id": name, "display_name": name, "enabled": true,
            "platforms": {"sim": {"enabled": true, "rate_per_s": rate, "seed": 11 + i, "users": 50, "channel": name}}
        }));
    }
    t.write(path, &serde_json::to_string_pretty(&creators).unwrap());
}

/// The Twitch demo pointed at `twitch_port`, its `!ping` without cooldowns (every ping answered).
fn demo_root(twitch_port: u16) -> Test {
    let t = twitch_root(twitch_port);
    let path = "runtime/config/triggers.json";
    let mut triggers: Value = serde_json::from_str(&t.read(path)).unwrap();
    triggers["triggers"]["demo"][0]["cooldowns"] = json!({});
    t.write(path, &serde_json::to_string_pretty(&triggers).unwrap());
    t
}

/// A root for one role: the Twitch demo pointed at `twitch_port`, the sim creators, the bus.
fn role_root(twitch_port: u16, urls: &str, sims: &[&str]) -> Test {
    let t = demo_root(twitch_port);
    with_sim_creators(&t, sims, 50);
    with_bus(&t, urls, json!({}));
    t
}

fn spawn_role(t: &Test, role: &str) -> Spawned {
    Spawned::from(
        t.std_cmd()
            .args(["run", "--role", role])
            .env(TOKEN.0, TOKEN.1)
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(t.path().join(format!("{role}.log"))).unwrap())
            .spawn()
            .expect("starting ss"),
    )
}

fn snapshot(t: &Test) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json"))
            .unwrap_or_default(),
    )
    .unwrap_or(Value::Null)
}

fn bus_status(t: &Test) -> Value {
    let out = t.run(&["bus", "status", "--format", "json"]);
    serde_json::from_str(&out.stdout).unwrap_or(Value::Null)
}

/// The message ids in a root's chat log.
fn message_ids(root: &Path) -> Vec<String> {
    column(
        root,
        "SELECT platform || ':' || message_id FROM chat_events",
    )
}

/// The one column `sql` selects, read-only from the store below `root`; empty while there is none.
fn column<T: rusqlite::types::FromSql>(root: &Path, sql: &str) -> Vec<T> {
    let path = root.join("runtime/state/streamsuites.db");
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return Vec::new();
    };
    let Ok(mut stmt) = conn.prepare(sql) else {
        return Vec::new();
    };
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// How many item ids the `platform` source's committed checkpoint of the demo creator remembers.
fn checkpoint_ids(t: &Test, platform: &str) -> usize {
    let cursor: Option<String> = column(
        t.path(),
        &format!(
            "SELECT cursor FROM source_checkpoints WHERE creator = 'demo' AND platform = '{platform}'"
        ),
    )
    .pop();
    let Some(cursor) = cursor.and_then(|c| serde_json::from_str::<Value>(&c).ok()) else {
        return 0;
    };
    cursor["lists"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, mark)| mark["ids"].as_array().map_or(0, Vec::len))
        .sum()
}

/// Waits until the export role's store holds every event the stream holds, and returns them.
fn export_caught_up(export: &Test, ingest: &Test, limit: Duration) -> Vec<String> {
    wait_for_explained(
        limit,
        || {
            let stream = bus_status(ingest)["events"].as_u64()?;
            let ids = message_ids(export.path());
            (stream > 0 && ids.len() as u64 == stream).then_some(ids)
        },
        || {
            format!(
                "the export role did not fold every event: stream {}, export {}; its log:\n{}",
                bus_status(ingest)["events"],
                message_ids(export.path()).len(),
                log(export, "export")
            )
        },
    )
}

fn ping_replies(server: &TwitchServer) -> Vec<String> {
    server
        .received_commands("PRIVMSG")
        .into_iter()
        .map(|r| r.line)
        .filter(|l| l.contains(":pong"))
        .collect()
}

/// Sends `!ping` from `count` new viewers (ids from `first`), each a message id of its own.
async fn pings(server: &TwitchServer, first: usize, count: usize) {
    for i in first..first + count {
        server
            .send_to_joined(&privmsg(
                &format!("ping-{i}"),
                &format!("viewer{i}"),
                &format!("9{i:07}"),
                "!ping",
            ))
            .await;
    }
}

/// Each `!ping` answered exactly once: the reply threads under its message id.
fn assert_each_ping_answered_once(server: &TwitchServer, count: usize) {
    let replies = ping_replies(server);
    for i in 0..count {
        let n = replies
            .iter()
            .filter(|l| l.starts_with(&format!("@reply-parent-msg-id=ping-{i} ")))
            .count();
        assert_eq!(n, 1, "ping-{i} answered {n} times: {replies:#?}");
    }
    assert_eq!(replies.len(), count, "{replies:#?}");
}

/// The log a role wrote (its stderr), for failure messages.
fn log(t: &Test, role: &str) -> String {
    std::fs::read_to_string(t.path().join(format!("{role}.log"))).unwrap_or_default()
}

fn stop(child: &mut Spawned) -> i32 {
    signal(child, "TERM");
    exit_code_within(child, Duration::from_secs(20))
}

#[test]
fn bus_init_creates_then_keeps_and_a_role_without_a_bus_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::single(dir.path());
    let t = Test::new();
    let out = t.run(&["run", "--role", "evaluate", "--duration", "1s"]);
    out.status(2);
    assert!(out.stderr.contains("needs the bus"), "{}", out.stderr);
    with_bus(&t, &nats.urls(), json!({}));
    let first = t.run(&["bus", "init", "--format", "json"]);
    first.status(0);
    let first: Value = serde_json::from_str(&first.stdout).unwrap();
    let outcomes: Vec<(&str, &str)> = first
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("SS_EVENTS", "created"),
            ("SS_EFFECTS", "created"),
            ("ss-ingest", "created"),
            ("ss_leases", "created"),
            ("ss_sent", "created"),
            ("ss_snapshots", "created")
        ]
    );
    let again = t.run(&["bus", "init"]);
    again.status(0);
    assert_eq!(
        again.stdout.matches(" kept: ").count(),
        6,
        "{}",
        again.stdout
    );
    // A changed setting the server takes is applied, and said.
    with_bus(&t, &nats.urls(), json!({"keep_hours": 2}));
    let updated = t.run(&["bus", "init"]);
    updated.status(0);
    assert!(
        updated.stdout.contains("stream SS_EVENTS updated"),
        "{}",
        updated.stdout
    );
    // No evaluator yet: every shard is without an owner, exit 1.
    let status = t.run(&["bus", "status"]);
    status.status(1);
    assert_eq!(
        status.stdout.matches("no owner").count(),
        8,
        "{}",
        status.stdout
    );
    // A server that cannot be reached is said with its URL, and no password in it.
    with_bus(&t, "nats://user:hunter2@127.0.0.1:1", json!({}));
    let down = t.run(&["bus", "init"]);
    down.status(2);
    assert!(
        down.stderr
            .contains("cannot reach the bus at nats://***@127.0.0.1:1"),
        "{}",
        down.stderr
    );
    assert!(!down.stderr.contains("hunter2"), "{}", down.stderr);
}

/// Shards with an owner, by owner (from `ss bus status`).
fn owners(t: &Test) -> std::collections::BTreeMap<String, Vec<u64>> {
    let mut out: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for shard in bus_status(t)["shards"].as_array().into_iter().flatten() {
        if let Some(owner) = shard["owner"].as_str() {
            out.entry(owner.to_owned())
                .or_default()
                .push(shard["shard"].as_u64().unwrap());
        }
    }
    out
}

/// Waits until `count` evaluators share the 8 shards evenly; a timeout names who owns what.
async fn balanced(t: &Test, count: usize) -> std::collections::BTreeMap<String, Vec<u64>> {
    until_found_explained(
        Duration::from_secs(30),
        || {
            let owners = owners(t);
            std::future::ready(
                (owners.len() == count && owners.values().all(|s| s.len() == 8 / count))
                    .then_some(owners),
            )
        },
        || {
            format!(
                "waiting for {count} evaluators sharing every shard; now: {}",
                bus_status(t)["shards"]
            )
        },
    )
    .await
}

/// The same chat for both runs: pings, hype, gg and small talk, with fixed ids and times.
fn script() -> Vec<String> {
    let base = 1_780_000_000_000i64;
    let texts = [
        "!ping",
        "hype hype",
        "gg",
        "hello there",
        "pog",
        "GGG well played",
        "!ping",
        "letsgo",
    ];
    (0..40)
        .map(|i| {
            let text = texts[i % texts.len()];
            let id = if text == "!ping" {
                format!("ping-{}", i / 4)
            } else {
                format!("chat-{i}")
            };
            let user = format!("viewer{}", i % 13);
            with_ts(
                &privmsg(&id, &user, &format!("7{:07}", i % 13), text),
                base + i as i64 * 1000,
            )
        })
        .collect()
}

/// An export file with what differs by run and by root taken out.
fn comparable(t: &Test, name: &str) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for key in [
                    "generated_at",
                    "meta",
                    "updated_at",
                    "exported_at",
                    "run",
                    "root",
                ] {
                    map.remove(key);
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: Value = serde_json::from_str(&t.read(&format!("runtime/exports/{name}"))).unwrap();
    strip(&mut v);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_roles_record_each_event_once_and_export_what_one_process_exports() {
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::single(dir.path());
    let split = TwitchServer::start(ServerOptions::default()).await;
    let single = TwitchServer::start(ServerOptions::default()).await;
    let ingest = role_root(split.port(), &nats.urls(), &[]);
    let (ev1, ev2, export) = (
        role_root(split.port(), &nats.urls(), &[]),
        role_root(split.port(), &nats.urls(), &[]),
        role_root(split.port(), &nats.urls(), &[]),
    );
    let all = demo_root(single.port());
    ingest.run(&["bus", "init"]).status(0);
    let mut e1 = spawn_role(&ev1, "evaluate");
    let mut e2 = spawn_role(&ev2, "evaluate");
    balanced(&ingest, 2).await;
    let mut x = spawn_role(&export, "export");
    let mut i = spawn_role(&ingest, "ingest");
    let mut one = spawn_role(&all, "all");
    split.wait_for_joins(1).await;
    single.wait_for_joins(1).await;
    let script = script();
    for line in &script {
        split.send_to_joined(line).await;
        single.send_to_joined(line).await;
    }
    let pings = script.iter().filter(|l| l.ends_with(":!ping")).count();
    split
        .wait_for_commands("PRIVMSG", pings, Duration::from_secs(20))
        .await;
    single
        .wait_for_commands("PRIVMSG", pings, Duration::from_secs(20))
        .await;
    until_found_explained(
        Duration::from_secs(20),
        || {
            let folded: BTreeSet<String> = message_ids(export.path()).into_iter().collect();
            let single: BTreeSet<String> = message_ids(all.path()).into_iter().collect();
            std::future::ready((single.len() >= script.len() && folded == single).then_some(()))
        },
        || {
            format!(
                "both runs did not record every line: export {}, one process {}, of {}",
                message_ids(export.path()).len(),
                message_ids(all.path()).len(),
                script.len()
            )
        },
    )
    .await;
    for child in [&mut i, &mut e1, &mut e2, &mut x, &mut one] {
        assert_eq!(stop(child), 0);
    }
    assert_each_ping_answered_once(&split, pings);
    // The ingest published each line once; the events stream holds each once.
    let published = &snapshot(&ingest)["bus"];
    let recorded = message_ids(all.path()).len();
    assert_eq!(published["published"], recorded, "{published}");
    assert_eq!(bus_status(&ingest)["events"], recorded);
    // Each evaluator's store holds its shards' lines once, and together every line.
    let mut union = BTreeSet::new();
    for ev in [&ev1, &ev2] {
        let ids = message_ids(ev.path());
        let distinct: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(
            ids.len(),
            distinct.len(),
            "an evaluator recorded a line twice"
        );
        union.extend(distinct);
    }
    let expected: BTreeSet<String> = message_ids(all.path()).into_iter().collect();
    assert_eq!(union, expected);
    // The export role's catalogue is the single process's, for what chat makes of it.
    assert!(
        comparable(&all, "scoreboards.json")
            .to_string()
            .contains("viewer"),
        "the scoreboards hold chat's scores"
    );
    for file in ["scoreboards.json", "polls.json"] {
        assert_eq!(
            comparable(&export, file),
            comparable(&all, file),
            "{file} differs"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evaluator_killed_mid_stream_hands_over_its_shards_and_nothing_is_lost_or_sent_twice() {
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::single(dir.path());
    let twitch = TwitchServer::start(ServerOptions::default()).await;
    let sims = ["alice", "bob", "carol", "dave"];
    // The default lease (10 s): the takeover time is the one a user gets.
    let roots: Vec<Test> = (0..4)
        .map(|_| {
            let t = role_root(twitch.port(), &nats.urls(), &sims);
            with_bus(&t, &nats.urls(), json!({"lease_s": 10}));
            t
        })
        .collect();
    let (ingest, ev1, ev2, export) = (&roots[0], &roots[1], &roots[2], &roots[3]);
    ingest.run(&["bus", "init"]).status(0);
    let mut e1 = spawn_role(ev1, "evaluate");
    let mut e2 = spawn_role(ev2, "evaluate");
    let held = balanced(ingest, 2).await;
    let mut x = spawn_role(export, "export");
    let mut i = spawn_role(ingest, "ingest");
    twitch.wait_for_joins(1).await;
    pings(&twitch, 0, 10).await;
    twitch
        .wait_for_commands("PRIVMSG", 10, Duration::from_secs(20))
        .await;

    // The evaluator holding the Twitch creator's shard is killed mid-stream.
    let shard = u64::from(ss::bus::names::shard_of("demo", 8));
    let (victim_owner, _) = held.iter().find(|(_, s)| s.contains(&shard)).unwrap();
    let victim_pid: u32 = victim_owner.split('-').next().unwrap().parse().unwrap();
    let victim_is_first = e1.id() == victim_pid;
    let survivor_root = if victim_is_first { ev2 } else { ev1 };
    let (victim, survivor) = if victim_is_first {
        (&mut e1, &mut e2)
    } else {
        (&mut e2, &mut e1)
    };
    assert_eq!(victim.id(), victim_pid);
    signal(victim, "KILL");
    let killed_at = std::time::Instant::now();
    let _ = victim.wait();
    pings(&twitch, 10, 10).await;
    until_some(
        "the survivor holding every shard",
        Duration::from_secs(20),
        || {
            let owners = owners(ingest);
            (owners.len() == 1 && owners.values().next().unwrap().len() == 8).then_some(())
        },
    )
    .await;
    let takeover = killed_at.elapsed();
    eprintln!("takeover after kill -9: {takeover:?}");
    assert!(takeover < Duration::from_secs(15), "took {takeover:?}");
    twitch
        .wait_for_commands("PRIVMSG", 20, Duration::from_secs(20))
        .await;

    // Ingest stops; the export role folds everything the stream holds.
    assert_eq!(stop(&mut i), 0);
    let folded = export_caught_up(export, ingest, Duration::from_secs(30));
    let distinct: BTreeSet<&String> = folded.iter().collect();
    assert_eq!(
        distinct.len(),
        folded.len(),
        "the export role recorded an event twice"
    );
    let bus = snapshot(ingest)["bus"].clone();
    assert_eq!(
        bus["published"].as_u64().unwrap() - bus["publish_duplicates"].as_u64().unwrap(),
        folded.len() as u64,
        "{bus}"
    );
    // The survivor folded the victim's shards from where its own store was: nothing missing.
    let stream: BTreeSet<String> = folded.iter().cloned().collect();
    until_found_explained(
        Duration::from_secs(60),
        || {
            let survivor: BTreeSet<String> =
                message_ids(survivor_root.path()).into_iter().collect();
            std::future::ready((survivor == stream).then_some(()))
        },
        || {
            let survivor: BTreeSet<String> =
                message_ids(survivor_root.path()).into_iter().collect();
            let missing: Vec<&String> = stream.difference(&survivor).take(10).collect();
            let extra: Vec<&String> = survivor.difference(&stream).take(10).collect();
            format!(
                "the survivor did not fold every event: stream {}, survivor {}, missing {missing:?}, \
                 extra {extra:?}; bus status {}; its snapshot {}; its log:\n{}",
                stream.len(),
                survivor.len(),
                bus_status(ingest),
                snapshot(survivor_root)["bus"],
                log(survivor_root, "evaluate")
            )
        },
    )
    .await;
    assert_eq!(stop(survivor), 0);
    assert_eq!(stop(&mut x), 0);
    assert_each_ping_answered_once(&twitch, 20);
}

/// A new owner with an empty store takes up the shard from the snapshot the old owner wrote to
/// the bus: it reads only the events after it, its store still holds every event once with the
/// old owner's trigger counts, and no `!ping` is answered twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_owner_takes_up_a_shard_from_its_snapshot_and_folds_only_what_follows() {
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::single(dir.path());
    let twitch = TwitchServer::start(ServerOptions::default()).await;
    // Only the Twitch demo creator: every message of the stream is its shard's.
    let roots: Vec<Test> = (0..3)
        .map(|_| {
            let t = demo_root(twitch.port());
            with_bus(&t, &nats.urls(), json!({"snapshot_s": 1}));
            t
        })
        .collect();
    let (ingest, first_root, second_root) = (&roots[0], &roots[1], &roots[2]);
    ingest.run(&["bus", "init"]).status(0);
    let shard = ss::bus::names::shard_of("demo", 8) as usize;
    let mut first = spawn_role(first_root, "evaluate");
    balanced(ingest, 1).await;
    let mut i = spawn_role(ingest, "ingest");
    twitch.wait_for_joins(1).await;
    pings(&twitch, 0, 10).await;
    twitch
        .wait_for_commands("PRIVMSG", 10, Duration::from_secs(20))
        .await;
    // A snapshot holding the 10 pings: up to the last chat message of the demo's shard (the
    // stream's later messages are clock ticks, which do not call for a new snapshot).
    let pinged_to = last_seq_of(&nats.urls(), &format!("ss.ev.{shard}.twitch.demo")).await;
    let snapshot_seq = wait_for_explained(
        Duration::from_secs(30),
        || {
            bus_status(ingest)["shards"][shard]["snapshot_seq"]
                .as_u64()
                .filter(|&seq| seq >= pinged_to)
        },
        || {
            format!(
                "no snapshot of shard {shard} up to {pinged_to}: {}; the owner's bus {}; its log:\n{}",
                bus_status(ingest),
                snapshot(first_root)["bus"],
                log(first_root, "evaluate")
            )
        },
    );
    let text = ingest.run(&["bus", "status"]).stdout;
    assert!(text.contains(&format!("to {snapshot_seq}, ")), "{text}");
    signal(&first, "KILL");
    let _ = first.wait();

    // Ten more while no evaluator runs, then a new owner with an empty store.
    pings(&twitch, 10, 10).await;
    let mut second = spawn_role(second_root, "evaluate");
    twitch
        .wait_for_commands("PRIVMSG", 20, Duration::from_secs(30))
        .await;
    let pings_in = |t: &Test| {
        column::<String>(
            t.path(),
            "SELECT message_id FROM chat_events WHERE message_id LIKE 'ping-%'",
        )
    };
    until_some(
        "the new owner folding the 10 new pings",
        Duration::from_secs(20),
        || (pings_in(second_root).len() == 20).then_some(()),
    )
    .await;
    let held = pings_in(second_root);
    let distinct: BTreeSet<&String> = held.iter().collect();
    assert_eq!(distinct.len(), 20, "{held:?}");
    // The old owner's counts came with the snapshot; the new owner's own fires add to them.
    let fired: Vec<i64> = column(
        second_root.path(),
        "SELECT fired FROM trigger_fires WHERE creator = 'demo' AND trigger_id = 'ping'",
    );
    assert_eq!(
        fired,
        [20],
        "the ping trigger's count in the new owner's store"
    );
    // Its runtime snapshot, once written after the fold.
    let bus = wait_for_explained(
        Duration::from_secs(20),
        || {
            let bus = snapshot(second_root)["bus"].clone();
            (bus["snapshots"]["loaded"] == 1 && bus["folded"].as_u64() >= Some(10)).then_some(bus)
        },
        || format!("the new owner's snapshot: {}", snapshot(second_root)["bus"]),
    );
    assert!(
        bus["folded"].as_u64().unwrap() < 20,
        "the new owner read only what follows the snapshot: {bus}"
    );
    let status = second_root.run(&["status"]).stdout;
    assert!(status.contains("shard snapshots: "), "{status}");
    assert!(status.contains(" 1 loaded"), "{status}");
    assert!(log(second_root, "evaluate").contains("Took up the shard from its snapshot"));
    assert_eq!(stop(&mut i), 0);
    assert_eq!(stop(&mut second), 0);
    assert_each_ping_answered_once(&twitch, 20);
}

/// A `!clip` in a split run: the evaluator folds it and asks ingest, where the capture runs; ingest
/// makes the clip; the evaluator's and the export role's stores follow it under the same id, and
/// the export role's clips.json shows it published with its whole history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clip_asked_for_in_chat_is_made_by_ingest_and_followed_by_the_other_roles() {
    use crate::clips_support::{TestStream, clip_root, edit_json, exported_clips, stored_state};
    let stream = TestStream::start("320x240");
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::single(dir.path());
    let twitch = TwitchServer::start(ServerOptions::default()).await;
    let roots: Vec<Test> = (0..3)
        .map(|_| {
            let t = clip_root(
                Some(&stream.url()),
                json!({"post_roll_s": 0, "public_url_base": "https://clips.example/media"}),
            );
            edit_json(&t, "runtime/config/creators.json", |c| {
                c["creators"][0]["platforms"]["twitch"]["enabled"] = json!(true);
            });
            edit_json(&t, "runtime/config/platforms.json", |p| {
                p["platforms"]["twitch"] = json!({"mode": "active", "host": "127.0.0.1", "port": twitch.port(), "tls": false});
            });
            t.write(
                "runtime/config/triggers.json",
                r#"{"triggers": {"demo": [
                    {"id": "clip", "kind": "command", "command": "!clip", "platforms": ["twitch"], "action": {"type": "clip", "duration_s": 30}}
                ]}}"#,
            );
            with_bus(&t, &nats.urls(), json!({}));
            t
        })
        .collect();
    let (ingest, evaluator, export) = (&roots[0], &roots[1], &roots[2]);
    ingest.run(&["bus", "init"]).status(0);
    let mut e = spawn_role(evaluator, "evaluate");
    balanced(ingest, 1).await;
    let mut x = spawn_role(export, "export");
    let mut i = spawn_role(ingest, "ingest");
    twitch.wait_for_joins(1).await;
    tokio::task::block_in_place(|| crate::clips::buffered(ingest, 11));
    twitch
        .send_to_joined(&privmsg("clip-1", "viewer_one", "22222222", "!clip 10"))
        .await;
    let clip = wait_for_explained(
        Duration::from_secs(150),
        || {
            exported_clips(export)
                .into_iter()
                .find(|c| c["state"] == "published" || c["state"] == "failed")
        },
        || {
            format!(
                "the export role never saw the clip end: its clips {:?}; ingest's bus {}; ingest's log:\n{}",
                exported_clips(export),
                snapshot(ingest)["bus"],
                log(ingest, "ingest")
            )
        },
    );
    assert_eq!(clip["state"], "published", "{clip:#}");
    let id = clip["clip_id"].as_str().unwrap().to_owned();
    assert_eq!(
        crate::clips::states(&clip),
        ["queued", "encoding", "encoded", "uploading", "published"]
    );
    assert_eq!(clip["url"], format!("https://clips.example/media/{id}.mp4"));
    assert_eq!(clip["requested_by"], "viewer_one");
    // Made once, where the capture runs, under the id every role gave it.
    assert!(
        ingest
            .path()
            .join(format!("clips/output/{id}.mp4"))
            .exists()
    );
    assert!(!export.path().join("clips/output").exists());
    assert!(!evaluator.path().join("clips/output").exists());
    assert_eq!(stored_state(ingest, &id).as_deref(), Some("published"));
    until_some(
        "the evaluator following the clip",
        Duration::from_secs(20),
        || (stored_state(evaluator, &id).as_deref() == Some("published")).then_some(()),
    )
    .await;
    let clips: Vec<String> = column(ingest.path(), "SELECT clip_id FROM clips");
    assert_eq!(clips, std::slice::from_ref(&id), "one clip at ingest");
    assert_eq!(stop(&mut i), 0);
    assert_eq!(stop(&mut e), 0);
    assert_eq!(stop(&mut x), 0);
    let published = snapshot(ingest)["bus"]["clips"]["states_published"].clone();
    assert_eq!(published, 4, "encoding, encoded, uploading, published");
    assert_eq!(snapshot(export)["bus"]["clips"]["states_folded"], 4);
}

/// The moments (ms) of the ticks a root's store recorded because they fired something.
fn fired_ticks(t: &Test) -> BTreeSet<i64> {
    column(t.path(), "SELECT at_ms FROM ticks WHERE creator = 'demo'")
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_fire_on_the_evaluator_from_ingests_ticks_and_a_new_owner_posts_none_twice() {
    use crate::stream_events::count_said;
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::single(dir.path());
    let twitch = TwitchServer::start(ServerOptions::default()).await;
    // A timer posting in the demo's chat every 2 s while the channel is live (its chat connected).
    let roots: Vec<Test> = (0..3)
        .map(|_| {
            let t = demo_root(twitch.port());
            let path = "runtime/config/triggers.json";
            let mut triggers: Value = serde_json::from_str(&t.read(path)).unwrap();
            triggers["timers"] = json!({"demo": [
                {"id": "tick", "every_s": 2, "action": {"type": "say", "template": "Tick"}}
            ]});
            t.write(path, &serde_json::to_string_pretty(&triggers).unwrap());
            with_bus(&t, &nats.urls(), json!({}));
            t
        })
        .collect();
    let (ingest, first_root, second_root) = (&roots[0], &roots[1], &roots[2]);
    ingest.run(&["bus", "init"]).status(0);
    let mut first = spawn_role(first_root, "evaluate");
    balanced(ingest, 1).await;
    let mut i = spawn_role(ingest, "ingest");
    twitch.wait_for_joins(1).await;
    // The evaluator has no source: the clock it meets is the one ingest publishes.
    twitch
        .wait_until("3 timer posts", Duration::from_secs(30), |s| {
            count_said(s, "Tick") >= 3
        })
        .await;
    signal(&first, "KILL");
    let _ = first.wait();
    let fired_by_first = fired_ticks(first_root);
    assert!(fired_by_first.len() >= 3, "{fired_by_first:?}");

    // A new owner with an empty store folds the shard from the start, ticks included: it fires
    // the same timers at the same ticks, and ingest carries none of those out a second time.
    let before = twitch.with_state(|s| count_said(s, "Tick"));
    let mut second = spawn_role(second_root, "evaluate");
    twitch
        .wait_until("2 more timer posts", Duration::from_secs(40), |s| {
            count_said(s, "Tick") >= before + 2
        })
        .await;
    until_some(
        "the new owner's fold firing the first owner's timers",
        Duration::from_secs(30),
        || {
            fired_by_first
                .is_subset(&fired_ticks(second_root))
                .then_some(())
        },
    )
    .await;
    assert_eq!(stop(&mut i), 0);
    assert_eq!(stop(&mut second), 0);
    let bus = snapshot(ingest)["bus"].clone();
    assert!(bus["ticks_published"].as_u64() > Some(3), "{bus}");
    let posted = twitch.with_state(|s| count_said(s, "Tick")) as u64;
    assert_eq!(
        bus["effects"]["applied"].as_u64(),
        Some(posted),
        "each carried-out effect is one post: {bus}"
    );
    // The new owner's repeats of the first owner's posts: refused by the effects stream's dedupe
    // (within its window) or skipped at ingest as carried out already.
    let second_bus = snapshot(second_root)["bus"].clone();
    let repeats = second_bus["effects"]["already_published"].as_u64().unwrap()
        + bus["effects"]["duplicate"].as_u64().unwrap();
    assert!(repeats >= 3, "ingest {bus}, new owner {second_bus}");
    assert!(
        second_bus["ticks_folded"].as_u64() > Some(3),
        "{second_bus}"
    );
}

/// Adds a second Twitch creator, `other` (channel `other_channel`, the demo's token), with the
/// demo's `!ping`; `runs` says which of the two this root's sources run.
fn with_two_twitch_creators(t: &Test, runs: [bool; 2]) {
    let path = "runtime/config/creators.json";
    let mut creators: Value = serde_json::from_str(&t.read(path)).unwrap();
    let mut other = creators["creators"][0].clone();
    other["id"] = json!("other");
    other["display_name"] = json!("Other Creator");
    other["platforms"]["twitch"]["channel"] = json!("other_channel");
    other["platforms"]["twitch"]["nick"] = json!("other_bot");
    let list = creators["creators"].as_array_mut().unwrap();
    list.push(other);
    for (creator, runs) in list.iter_mut().zip(runs) {
        creator["enabled"] = json!(runs);
    }
    t.write(path, &serde_json::to_string_pretty(&creators).unwrap());
    let path = "runtime/config/triggers.json";
    let mut triggers: Value = serde_json::from_str(&t.read(path)).unwrap();
    triggers["triggers"]["other"] = json!([triggers["triggers"]["demo"][0].clone()]);
    t.write(path, &serde_json::to_string_pretty(&triggers).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ingests_each_carry_out_the_effects_of_their_own_creators() {
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::single(dir.path());
    let twitch = TwitchServer::start(ServerOptions::default()).await;
    let roots: Vec<Test> = (0..3).map(|_| demo_root(twitch.port())).collect();
    let (east, west, evaluator) = (&roots[0], &roots[1], &roots[2]);
    with_two_twitch_creators(east, [true, false]);
    with_bus(east, &nats.urls(), json!({"ingest_name": "east"}));
    with_two_twitch_creators(west, [false, true]);
    with_bus(west, &nats.urls(), json!({"ingest_name": "west"}));
    with_two_twitch_creators(evaluator, [true, true]);
    with_bus(evaluator, &nats.urls(), json!({}));
    for t in [east, west] {
        let init = t.run(&["bus", "init"]);
        init.status(0);
        assert!(init.stdout.contains("ss-ingest-"), "{}", init.stdout);
    }
    let mut e = spawn_role(evaluator, "evaluate");
    balanced(evaluator, 1).await;
    let mut a = spawn_role(east, "ingest");
    let mut b = spawn_role(west, "ingest");
    twitch.wait_for_joins(2).await;
    for i in 0..5 {
        for channel in ["demo", "other"] {
            let line = privmsg(
                &format!("{channel}-ping-{i}"),
                &format!("viewer{i}"),
                &format!("9{i:07}"),
                "!ping",
            )
            .replace("#demo_channel", &format!("#{channel}_channel"));
            twitch.send_to_joined(&line).await;
        }
    }
    twitch
        .wait_for_commands("PRIVMSG", 10, Duration::from_secs(20))
        .await;
    // Each ingest read all ten effects: five its own, five left to the other.
    for t in [east, west] {
        wait_for_explained(
            Duration::from_secs(20),
            || {
                let effects = snapshot(t)["bus"]["effects"].clone();
                (effects["applied"] == 5 && effects["elsewhere"] == 5).then_some(())
            },
            || format!("{}", snapshot(t)["bus"]),
        );
    }
    let status = bus_status(evaluator);
    let ingests: Vec<&str> = status["ingests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["consumer"].as_str().unwrap())
        .collect();
    assert_eq!(ingests, ["ss-ingest-east", "ss-ingest-west"], "{status}");
    for child in [&mut a, &mut b, &mut e] {
        assert_eq!(stop(child), 0);
    }
    let replies = ping_replies(&twitch);
    assert_eq!(replies.len(), 10, "{replies:#?}");
    for i in 0..5 {
        for channel in ["demo", "other"] {
            let answered = replies
                .iter()
                .filter(|l| {
                    l.starts_with(&format!("@reply-parent-msg-id={channel}-ping-{i} "))
                        && l.contains(&format!("PRIVMSG #{channel}_channel :"))
                })
                .count();
            assert_eq!(answered, 1, "{channel}-ping-{i}: {replies:#?}");
        }
    }
}

/// Adds an `!announce` trigger posting to Discord's `general`, with Discord pointed at `server`.
fn with_discord(t: &Test, server: &crate::discord_server::FakeServer) {
    let path = "runtime/config/triggers.json";
    let mut triggers: Value = serde_json::from_str(&t.read(path)).unwrap();
    triggers["triggers"]["demo"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "id": "announce", "kind": "command", "command": "!announce",
            "action": {"type": "notify", "channel": "general", "template": "announced by {user}"}
        }));
    t.write(path, &serde_json::to_string_pretty(&triggers).unwrap());
    let path = "runtime/config/discord.json";
    let mut discord: Value = serde_json::from_str(&t.read(path)).unwrap();
    discord["discord"]["api_base_url"] = json!(server.url("/api/v10"));
    discord["discord"]["guilds"]["100000000000000001"]["notifications"] =
        json!({"general": "100000000000000002"});
    t.write(path, &serde_json::to_string_pretty(&discord).unwrap());
}

fn spawn_evaluator(t: &Test) -> Spawned {
    Spawned::from(
        t.std_cmd()
            .args(["run", "--role", "evaluate"])
            .env("DISCORD_BOT_TOKEN", crate::discord_server::BOT_TOKEN)
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(t.path().join("evaluate.log")).unwrap())
            .spawn()
            .expect("starting ss"),
    )
}

/// The `n`th viewer's `!ping` and moderator's `!announce` (from 0), waited for until answered: the
/// reply at the Twitch server and the post in Discord's `general`.
async fn ping_and_announce(
    twitch: &TwitchServer,
    discord: &crate::discord_server::FakeServer,
    n: usize,
) {
    pings(twitch, n, 1).await;
    twitch
        .send_to_joined(&privmsg(
            &format!("announce-{n}"),
            &format!("mod{n}"),
            &format!("8{n:07}"),
            "!announce",
        ))
        .await;
    twitch
        .wait_for_commands("PRIVMSG", n + 1, Duration::from_secs(20))
        .await;
    until_some(
        &format!("announcement {n} on Discord"),
        Duration::from_secs(20),
        || (discord.fake.messages_in("100000000000000002").len() == n + 1).then_some(()),
    )
    .await;
}

/// The stream sequence of the last message on `subject` in the events stream.
async fn last_seq_of(urls: &str, subject: &str) -> u64 {
    let client = async_nats::connect(urls.split(',').next().unwrap())
        .await
        .unwrap();
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream("SS_EVENTS").await.unwrap();
    stream
        .get_last_raw_message_by_subject(subject)
        .await
        .unwrap()
        .sequence
}

/// Publishes an effect as a stale evaluator would: `epoch` older than the shard's lease.
async fn publish_stale_effect(urls: &str, shard: u32, epoch: u64, text: &str) {
    let client = async_nats::connect(urls.split(',').next().unwrap())
        .await
        .unwrap();
    let js = async_nats::jetstream::new(client);
    let effect = ss::bus::effects::Effect {
        id: format!("stale-{epoch}"),
        shard,
        epoch,
        command: Some(ss::command::PlatformCommand {
            creator: "demo".into(),
            platform: ss::event::Platform::from_name("twitch").unwrap(),
            channel: String::new(),
            cause: "twitch:stale-cause".into(),
            kind: ss::command::CommandKind::Say { text: text.into() },
            receipt: false,
        }),
        clip: None,
    };
    js.publish(
        format!("ss.fx.{shard}"),
        serde_json::to_vec(&effect).unwrap().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evaluator_paused_past_its_lease_is_fenced_at_ingest_and_at_the_discord_sender() {
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::single(dir.path());
    let twitch = TwitchServer::start(ServerOptions::default()).await;
    let discord = crate::discord_server::FakeServer::start().await;
    let roots: Vec<Test> = (0..3)
        .map(|_| role_root(twitch.port(), &nats.urls(), &[]))
        .collect();
    let (ingest, ev1, ev2) = (&roots[0], &roots[1], &roots[2]);
    for ev in [ev1, ev2] {
        with_discord(ev, &discord);
    }
    ingest.run(&["bus", "init"]).status(0);
    let mut e1 = spawn_evaluator(ev1);
    let first = balanced(ingest, 1).await;
    let first_owner = first.keys().next().unwrap().clone();
    let shard = ss::bus::names::shard_of("demo", 8);
    let status = bus_status(ingest);
    let old_epoch = status["shards"][shard as usize]["epoch"].as_u64().unwrap();
    let mut i = spawn_role(ingest, "ingest");
    twitch.wait_for_joins(1).await;
    ping_and_announce(&twitch, &discord, 0).await;

    // Paused past its lease: the other evaluator takes every shard.
    signal(&e1, "STOP");
    let mut e2 = spawn_evaluator(ev2);
    until_some(
        "the second evaluator holding every shard",
        Duration::from_secs(30),
        || {
            let owners = owners(ingest);
            (owners.len() == 1
                && !owners.contains_key(&first_owner)
                && owners.values().next().unwrap().len() == 8)
                .then_some(())
        },
    )
    .await;
    // What a stale evaluator would publish is refused at ingest, and counted.
    publish_stale_effect(&nats.urls(), shard, old_epoch, "stale-effect").await;
    until_some(
        "ingest refusing the stale effect",
        Duration::from_secs(20),
        || (snapshot(ingest)["bus"]["effects"]["fenced"].as_u64() == Some(1)).then_some(()),
    )
    .await;
    ping_and_announce(&twitch, &discord, 1).await;

    // The first wakes up: it knows its leases ran out, and what it still had is not accepted.
    signal(&e1, "CONT");
    until_some(
        "the woken evaluator counting its lost leases",
        Duration::from_secs(20),
        || (snapshot(ev1)["bus"]["leases"]["lost"].as_u64() >= Some(1)).then_some(()),
    )
    .await;
    balanced(ingest, 2).await;
    ping_and_announce(&twitch, &discord, 2).await;
    for child in [&mut i, &mut e1, &mut e2] {
        assert_eq!(stop(child), 0);
    }
    assert_each_ping_answered_once(&twitch, 3);
    let said: Vec<String> = twitch
        .received_commands("PRIVMSG")
        .into_iter()
        .map(|r| r.line)
        .collect();
    assert!(
        !said.iter().any(|l| l.contains("stale-effect")),
        "{said:#?}"
    );
    let posted: Vec<String> = discord
        .fake
        .messages_in("100000000000000002")
        .into_iter()
        .map(|m| m.body.to_string())
        .collect();
    assert_eq!(
        posted.len(),
        3,
        "each announcement posted once: {posted:#?}"
    );
    for user in ["mod0", "mod1", "mod2"] {
        assert_eq!(
            posted.iter().filter(|c| c.contains(user)).count(),
            1,
            "{posted:#?}"
        );
    }
    // The second evaluator folded the first's announcement again and did not post it again.
    let notify = &snapshot(ev2)["notify"]["discord"];
    assert!(notify["already_sent"].as_u64().unwrap() >= 1, "{notify}");
}

/// Stops ingest, then checks that what its sources produced was published exactly once and folded:
/// the lane dropped nothing, the stream holds each event once, the export role recorded each once.
fn assert_nothing_lost(ingest: &Test, export: &Test) {
    let snap = snapshot(ingest);
    let lane = &snap["lanes"]["data"];
    assert_eq!(lane["dropped"], 0, "the lane dropped events: {lane}");
    let bus = &snap["bus"];
    // Every event the sources handed over was acknowledged once (a retry after a lost
    // acknowledgement is acknowledged as a duplicate: the stream had it already).
    let published = bus["published"].as_u64().unwrap();
    assert_eq!(
        lane["sent"].as_u64().unwrap(),
        published,
        "lane {lane} bus {bus}"
    );
    let folded = export_caught_up(export, ingest, Duration::from_secs(60));
    let distinct: BTreeSet<&String> = folded.iter().collect();
    assert_eq!(distinct.len(), folded.len(), "an event was recorded twice");
    let duplicates = bus["publish_duplicates"].as_u64().unwrap();
    assert!(
        (published - duplicates..=published).contains(&(folded.len() as u64)),
        "{} folded, {bus}",
        folded.len()
    );
}

/// An ingest root and an export root with four sim creators at 100 events/s each on `nats`
/// (`bus` settings beside the defaults in `extra`), the bus prepared.
fn sim_roles(nats: &Nats, extra: Value) -> (Test, Test) {
    let roots = [Test::new(), Test::new()];
    for t in &roots {
        with_sim_creators(t, &["alice", "bob", "carol", "dave"], 100);
        with_bus(t, &nats.urls(), extra.clone());
    }
    let init = roots[0].run(&["bus", "init"]);
    init.status(0);
    let replicas = extra["replicas"].as_u64().unwrap_or(1);
    assert!(
        init.stdout.contains(&format!("replicas {replicas}")),
        "{}",
        init.stdout
    );
    let [ingest, export] = roots;
    (ingest, export)
}

/// Waits until ingest has published a few hundred events.
fn publishing(ingest: &Test) {
    wait_for_explained(
        Duration::from_secs(20),
        || (snapshot(ingest)["bus"]["published"].as_u64() > Some(500)).then_some(()),
        || format!("ingest publishing: {}", snapshot(ingest)["bus"]),
    );
}

#[test]
fn the_bus_away_for_10_s_under_load_holds_ingest_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut nats = Nats::single(dir.path());
    let (ingest, export) = sim_roles(&nats, json!({}));
    let mut x = spawn_role(&export, "export");
    let mut i = spawn_role(&ingest, "ingest");
    publishing(&ingest);
    nats.nodes[0].kill();
    // Ten seconds without the bus, sampled each second: ingest holds (its lane fills, nothing is
    // published, nothing dropped) and says it is not connected.
    let mut held = Vec::new();
    sample_every(
        Duration::from_secs(1),
        Duration::from_secs(30),
        || {
            let snap = snapshot(&ingest);
            if snap["bus"]["connected"] == false {
                held.push((
                    snap["lanes"]["data"]["depth"].as_u64().unwrap_or(0),
                    snap["lanes"]["data"]["dropped"].as_u64().unwrap_or(0),
                ));
            }
            (held.len() >= 10).then_some(())
        },
        || "ingest never said the bus was away".into(),
    );
    let status = ingest.run(&["status"]);
    status.status(1);
    assert!(status.stdout.contains("NOT CONNECTED"), "{}", status.stdout);
    assert!(
        held.windows(2).all(|w| w[1].0 >= w[0].0),
        "the lane grows while held: {held:?}"
    );
    assert!(held.iter().all(|(_, dropped)| *dropped == 0), "{held:?}");
    nats.nodes[0].restart();
    nats.wait_ready();
    wait_for_explained(
        Duration::from_secs(30),
        || {
            let snap = snapshot(&ingest);
            (snap["bus"]["connected"] == true
                && snap["lanes"]["data"]["depth"].as_u64() < Some(100))
            .then_some(())
        },
        || format!("ingest did not recover: {}", snapshot(&ingest)),
    );
    let status = ingest.run(&["status"]);
    status.status(0);
    assert!(
        status.stdout.contains("connected") && status.stdout.contains("1 outages"),
        "{}",
        status.stdout
    );
    assert_eq!(stop(&mut i), 0);
    assert_nothing_lost(&ingest, &export);
    assert_eq!(stop(&mut x), 0);
}

/// Ingest told to stop while the bus is away gives up after its grace and says what it could not
/// publish: the events, and the clock ticks (seconds the evaluators' clocks skip).
#[test]
fn ingest_stopped_with_the_bus_away_counts_the_events_and_ticks_it_could_not_publish() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::single(dir.path());
    let (ingest, _export) = sim_roles(&nats, json!({}));
    let mut i = spawn_role(&ingest, "ingest");
    publishing(&ingest);
    let mut nats = nats;
    nats.nodes[0].kill();
    wait_for_explained(
        Duration::from_secs(30),
        || (snapshot(&ingest)["bus"]["connected"] == false).then_some(()),
        || "ingest never said the bus was away".into(),
    );
    signal(&i, "TERM");
    let code = exit_code_within(&mut i, Duration::from_secs(30));
    let mut summary = String::new();
    i.stdout
        .take()
        .unwrap()
        .read_to_string(&mut summary)
        .unwrap();
    let bus = snapshot(&ingest)["bus"].clone();
    assert!(bus["ticks_unsent"].as_u64() > Some(0), "{bus}");
    assert!(
        summary.contains(&format!(
            "clock ticks published ({} NOT, the bus away at shutdown)",
            bus["ticks_unsent"]
        )),
        "{summary}"
    );
    assert!(summary.contains("NOT WRITTEN"), "exit {code}: {summary}");
}

#[test]
fn a_three_node_cluster_losing_a_node_under_load_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut nats = Nats::cluster(dir.path());
    let (ingest, export) = sim_roles(&nats, json!({"replicas": 3}));
    let mut x = spawn_role(&export, "export");
    let mut i = spawn_role(&ingest, "ingest");
    publishing(&ingest);
    // The node ingest is most likely connected to (the first URL) dies under load.
    nats.nodes[0].kill();
    let before = snapshot(&ingest)["bus"]["published"].as_u64().unwrap();
    wait_for_explained(
        Duration::from_secs(30),
        || (snapshot(&ingest)["bus"]["published"].as_u64() > Some(before + 1000)).then_some(()),
        || {
            format!(
                "ingest did not go on publishing on two nodes: {}",
                snapshot(&ingest)["bus"]
            )
        },
    );
    assert_eq!(stop(&mut i), 0);
    assert_nothing_lost(&ingest, &export);
    assert_eq!(stop(&mut x), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_killed_and_restarted_resumes_a_polling_source_from_its_checkpoint() {
    use crate::rumble_server::{RumbleModel, RumbleServer};
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::single(dir.path());
    let base = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() - 90, 0).unwrap();
    let at = |s: i64| base + chrono::Duration::seconds(s);
    let model = RumbleModel::new("RmbLiveKey0123456789abcdef", 5);
    for i in 0..8 {
        model.line("Viewer", &format!("line {i}"), at(i));
    }
    model.reveal_per_call(&[5, 3]);
    let server = RumbleServer::start(model.clone()).await;
    let block =
        json!({"enabled": true, "api_url_env": "RUMBLE_API_URL_DEMO", "poll_interval_s": 5});
    let ingest = crate::run_rumble::rumble_root(&server, block.clone());
    let export = crate::run_rumble::rumble_root(&server, block);
    for t in [&ingest, &export] {
        with_bus(t, &nats.urls(), json!({}));
    }
    ingest.run(&["bus", "init"]).status(0);
    let spawn_ingest = || {
        Spawned::from(
            ingest
                .std_cmd()
                .args(["run", "--role", "ingest"])
                .env("RUMBLE_API_URL_DEMO", server.api_url())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let mut x = spawn_role(&export, "export");
    let mut i = spawn_ingest();
    until_some(
        "the first eight lines folded",
        Duration::from_secs(40),
        || (message_ids(export.path()).len() == 8).then_some(()),
    )
    .await;
    // The stream acknowledged them; the kill comes once ingest committed its checkpoint after it.
    until_some(
        "ingest's checkpoint covering the eight lines",
        Duration::from_secs(20),
        || (checkpoint_ids(&ingest, "rumble") == 8).then_some(()),
    )
    .await;
    signal(&i, "KILL");
    let _ = i.wait();
    // More chat while ingest is down; the restart's first answer repeats the last window.
    for i in 8..11 {
        model.line("Other", &format!("after {i}"), at(20 + i));
    }
    model.reveal_per_call(&[0, 3]);
    let mut i = spawn_ingest();
    until_some(
        "the three new lines folded",
        Duration::from_secs(40),
        || (message_ids(export.path()).len() == 11).then_some(()),
    )
    .await;
    assert_eq!(stop(&mut i), 0);
    let bus = &snapshot(&ingest)["bus"];
    assert_eq!(
        bus["published"], 3,
        "the restart resumed after the checkpoint of what the stream acknowledged: {bus}"
    );
    assert_eq!(bus_status(&ingest)["events"], 11);
    let folded = message_ids(export.path());
    let distinct: BTreeSet<&String> = folded.iter().collect();
    assert_eq!(distinct.len(), 11);
    assert_eq!(stop(&mut x), 0);
}
