//! Fairness under overload, end to end: one sim creator flooding at 50,000 messages/s beside 20
//! creators chatting at 5/s in one `ss run`. The data lane sheds the flood past its creator's share
//! and counts it per creator; every event of the others is recorded, and quickly.
//!
//! The delay is measured from outside, truthfully: a sim event's `ts_ms` is the time it was made and
//! handed to the lane (its receive time), and a reader polling the store every 50 ms sees a row only
//! once it is committed, so "first seen minus `ts_ms`" is an upper bound of receive → commit.

use crate::harness::{Test, exit_code_within, sample_every, wait_until};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

const NORMAL: usize = 20;
const NORMAL_RATE: u32 = 5;
const FLOOD_RATE: u32 = 50_000;
const RUN_S: u64 = 12;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn snapshot(t: &Test) -> Option<Value> {
    let text =
        std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json")).ok()?;
    serde_json::from_str(&text).ok()
}

#[test]
fn a_flood_on_one_creator_is_shed_and_counted_while_twenty_others_are_all_recorded_within_a_second()
{
    let t = Test::fast_demo(Some(NORMAL_RATE));
    let mut creators: Value =
        serde_json::from_str(&t.read("runtime/config/creators.json")).unwrap();
    let demo = creators["creators"][0].clone();
    let mut list = vec![demo.clone()];
    for i in 1..NORMAL {
        let mut c = demo.clone();
        c["id"] = Value::from(format!("c{i:02}"));
        c["platforms"]["sim"]["channel"] = Value::from(format!("c{i:02}"));
        list.push(c);
    }
    let mut flood = demo.clone();
    flood["id"] = Value::from("flood");
    flood["platforms"]["sim"]["channel"] = Value::from("flood");
    flood["platforms"]["sim"]["rate_per_s"] = Value::from(FLOOD_RATE);
    list.push(flood);
    creators["creators"] = Value::Array(list);
    t.write(
        "runtime/config/creators.json",
        &serde_json::to_string_pretty(&creators).unwrap(),
    );

    let mut run = t.spawn(&["run", "--duration", &format!("{RUN_S}s")]);
    let db = t.path().join("runtime/state/streamsuites.db");
    wait_until("the store", Duration::from_secs(30), || db.exists());
    // Poll the committed store: each normal creator's row, the first time it is seen.
    let mut last_id = 0i64;
    // Row id → when it was first seen committed (ms).
    let mut seen: HashMap<i64, i64> = HashMap::new();
    let mut shed_in_status = None;
    let conn = rusqlite::Connection::open_with_flags(
        &db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    conn.busy_timeout(Duration::from_secs(1)).unwrap();
    // Sampled every 50 ms until `ss run` stops by itself (`--duration`).
    let stopped_at = sample_every(
        Duration::from_millis(50),
        Duration::from_secs(RUN_S + 30),
        || {
            if run.try_wait().unwrap().is_some() {
                return Some(now_ms());
            }
            let rows: Vec<(i64, String)> = conn
                .prepare_cached("SELECT id, creator FROM chat_events WHERE id > ?1")
                .and_then(|mut s| {
                    s.query_map([last_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect()
                })
                .unwrap_or_default();
            let at = now_ms();
            for (id, creator) in rows {
                last_id = last_id.max(id);
                if creator != "flood" {
                    seen.insert(id, at);
                }
            }
            // While it runs, `ss status --format json` shows the flood's shed events.
            if shed_in_status.is_none()
                && snapshot(&t).is_some_and(|s| {
                    s["running"] == true && s["counters"]["events_shed"].as_u64() > Some(0)
                })
            {
                let out = t.run(&["status", "--format", "json"]);
                let status: Value = serde_json::from_str(&out.stdout).unwrap();
                shed_in_status = Some(status);
            }
            None
        },
        || "ss run did not stop by itself after its --duration".into(),
    );
    assert_eq!(exit_code_within(&mut run, Duration::from_secs(15)), 0);

    // Visible in `ss status` while running, per creator.
    let status = shed_in_status.expect("the snapshot showed shed events while running");
    assert!(status["events_shed"].as_u64() > Some(0), "{status}");
    let losses = status["lane_losses"].as_array().unwrap();
    assert_eq!(losses.len(), 1, "only the flood loses events: {status}");
    assert_eq!(losses[0]["creator"], "flood", "{status}");
    assert!(losses[0]["shed"].as_u64() > Some(0), "{status}");

    // Totals add up, per creator: received = recorded + shed + dropped (+ duplicates, none here).
    let snap = snapshot(&t).unwrap();
    assert_eq!(snap["running"], false);
    assert_eq!(
        snap["counters"]["duplicates_skipped"], 0,
        "{}",
        snap["counters"]
    );
    let lane = &snap["lanes"]["data"]["creators"];
    let recorded: BTreeMap<String, u64> = {
        let mut stmt = conn
            .prepare("SELECT creator, COUNT(*) FROM chat_events GROUP BY creator")
            .unwrap();
        stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    let n = |v: &Value| v.as_u64().unwrap();
    for (creator, counts) in lane.as_object().unwrap() {
        let stored = recorded.get(creator).copied().unwrap_or(0);
        assert_eq!(
            n(&counts["received"]),
            stored + n(&counts["shed"]) + n(&counts["dropped"]),
            "{creator}: {counts}"
        );
        if creator != "flood" {
            assert_eq!(
                (n(&counts["shed"]), n(&counts["dropped"])),
                (0, 0),
                "{creator}"
            );
            assert!(stored >= 10, "{creator} chatted: {stored}");
        }
    }
    assert_eq!(lane.as_object().unwrap().len(), NORMAL + 1, "{lane}");
    let flood = &lane["flood"];
    assert!(n(&flood["shed"]) > 0, "the flood was shed: {flood}");
    // The summary line names them too.
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut run.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(
        stdout.contains(&format!(
            ", {} shed (a creator past its share of the data lane)",
            snap["counters"]["events_shed"]
        )),
        "{stdout}"
    );
    assert_eq!(snap["counters"]["events_shed"], flood["shed"]);
    let normal_recorded: u64 = recorded
        .iter()
        .filter(|(c, _)| *c != "flood")
        .map(|(_, n)| n)
        .sum();
    let total: u64 = recorded.values().sum();
    assert_eq!(n(&snap["counters"]["events_recorded"]), total);

    // The delay of every normal event made at least a second before the run stopped: first seen
    // committed minus its receive time, or (never seen while running) at least the time it waited.
    let mut delays: Vec<i64> = Vec::new();
    let mut stmt = conn
        .prepare("SELECT id, ts_ms FROM chat_events WHERE creator != 'flood' AND ts_ms <= ?1")
        .unwrap();
    let rows: Vec<(i64, i64)> = stmt
        .query_map([stopped_at - 1000], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (id, ts) in rows {
        let delay = match seen.get(&id) {
            Some(at) => at - ts,
            None => stopped_at - ts,
        };
        delays.push(delay);
    }
    delays.sort_unstable();
    assert!(
        delays.len() as u64 > normal_recorded / 2,
        "{}",
        delays.len()
    );
    let p = |q: f64| delays[((delays.len() as f64 * q) as usize).min(delays.len() - 1)];
    let (p50, p99, max) = (p(0.5), p(0.99), delays[delays.len() - 1]);
    let flood_received = n(&flood["received"]);
    let flood_recorded = recorded.get("flood").copied().unwrap_or(0);
    eprintln!(
        "fairness: {} normal events (p50 {p50} ms, p99 {p99} ms, max {max} ms); flood {} received ({:.0}/s), {} recorded, {} shed, {} dropped",
        delays.len(),
        flood_received,
        flood_received as f64 / RUN_S as f64,
        flood_recorded,
        n(&flood["shed"]),
        n(&flood["dropped"]),
    );
    assert!(p99 < 1000, "p99 {p99} ms (p50 {p50}, max {max})");
}
