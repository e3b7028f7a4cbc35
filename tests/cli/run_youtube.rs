//! `ss run` with the demo creator's YouTube block pointed at the fake Data API (youtube_server.rs):
//! it finds the chat by `video_id`, stores every message exactly once although pages overlap,
//! answers `!ping` through `liveChatMessages.insert` with `@Name`, stops calling after
//! `quotaExceeded`, goes back to discovery after `liveChatEnded`, and resumes from the last committed
//! page token after a `kill -9`. No key or token appears in any log line at `-vv` or any export.

use crate::harness::{Test, VerboseRun, until_within};
use crate::youtube_server::{CHAT_ID, KNOWN_SECRETS, VIDEO_ID, YoutubeModel, YoutubeServer};
use serde_json::{Value, json};
use std::time::Duration;

pub(crate) const API_KEY: &str = KNOWN_SECRETS[0];
pub(crate) const TOKEN: &str = KNOWN_SECRETS[1];

/// A root whose demo creator reads YouTube (sim off) from `base_url`, polling at the server's hint.
pub(crate) fn youtube_root(base_url: &str, oauth: bool) -> Test {
    let t = Test::new();
    let mut creators: Value =
        serde_json::from_str(&t.read("runtime/config/creators.json")).unwrap();
    let platforms = &mut creators["creators"][0]["platforms"];
    platforms["sim"]["enabled"] = json!(false);
    let mut youtube = json!({"enabled": true, "video_id": VIDEO_ID,
        "api_key_env": "YOUTUBE_API_KEY_DEMO", "discovery_interval_s": 1});
    if oauth {
        youtube["oauth_token_env"] = json!("YOUTUBE_OAUTH_TOKEN_DEMO");
    }
    platforms["youtube"] = youtube;
    t.write(
        "runtime/config/creators.json",
        &serde_json::to_string_pretty(&creators).unwrap(),
    );
    let mut p: Value = serde_json::from_str(&t.read("runtime/config/platforms.json")).unwrap();
    p["platforms"]["youtube"]["base_url"] = json!(base_url);
    t.write(
        "runtime/config/platforms.json",
        &serde_json::to_string_pretty(&p).unwrap(),
    );
    // A budget large enough that the planner's interval falls under the server's hint.
    let mut r: Value = serde_json::from_str(&t.read("runtime/config/ratelimits.json")).unwrap();
    r["youtube_quota"] = json!({"daily_units": 1_000_000, "reserve_units": 1000,
        "hard_cap_units": 900_000, "min_interval_ms": 100});
    t.write(
        "runtime/config/ratelimits.json",
        &serde_json::to_string_pretty(&r).unwrap(),
    );
    let system = t
        .read("runtime/config/system.json")
        .replace("\"cadence_s\": 5", "\"cadence_s\": 0.5");
    t.write("runtime/config/system.json", &system);
    t
}

/// `ss -vv run` with both secrets set.
pub(crate) fn spawn(t: &Test) -> VerboseRun {
    t.spawn_verbose_run(&[
        ("YOUTUBE_API_KEY_DEMO", API_KEY),
        ("YOUTUBE_OAUTH_TOKEN_DEMO", TOKEN),
    ])
}

/// Stops `ss` with `signal_name` and returns its exit code and stderr.
async fn stop_with(running: VerboseRun, signal_name: &str) -> (Option<i32>, String) {
    running.stop_with(signal_name).await
}

pub(crate) async fn stop(running: VerboseRun) -> (Option<i32>, String) {
    stop_with(running, "TERM").await
}

async fn until(what: &str, ok: impl FnMut() -> bool) {
    until_within(Duration::from_secs(20), what, ok).await
}

fn youtube_ids(t: &Test) -> Vec<String> {
    let store = ss::store::StoreReader::open(&ss::store::db_path(t.path())).unwrap();
    store
        .recent_chat_events(100_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.platform == ss::sources::youtube::YOUTUBE)
        .map(|e| e.message_id.to_string())
        .collect()
}

/// The Super Chat and the membership gift of [`YoutubeModel::every_kind`] are stored and exported
/// (signals/chat_events.json) with their kinds and typed fields.
fn assert_stream_events_are_typed(t: &Test, kinds: &[String]) {
    use ss::event::{EventDetail, EventKind, Membership, MembershipKind, Money};
    let store = ss::store::StoreReader::open(&ss::store::db_path(t.path())).unwrap();
    let stored = store.recent_chat_events(100_000).unwrap();
    let super_chat = stored.iter().find(|e| e.message_id == kinds[1]).unwrap();
    assert_eq!(
        (super_chat.kind, super_chat.text.as_str()),
        (EventKind::SuperChat, "nice")
    );
    assert_eq!(
        super_chat.detail.as_deref(),
        Some(&EventDetail::Money(Money {
            amount: 5.0,
            currency: "USD".into(),
            display: Some("$5.00".into()),
            tier: Some(2),
        }))
    );
    let gift = stored.iter().find(|e| e.message_id == kinds[5]).unwrap();
    assert_eq!(
        gift.detail.as_deref(),
        Some(&EventDetail::Membership(Membership {
            kind: MembershipKind::Gift,
            level: Some("Gold".into()),
            months: None,
            count: Some(5),
        }))
    );
    let signals: Value = serde_json::from_str(&t.read("runtime/signals/chat_events.json")).unwrap();
    let exported = |id: &str| {
        signals["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["message_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not exported"))
    };
    let super_chat = exported(&kinds[1]);
    assert_eq!(super_chat["kind"], "super_chat");
    assert_eq!(
        super_chat["detail"],
        serde_json::json!({"type": "money", "amount": 5.0, "currency": "USD", "display": "$5.00", "tier": 2})
    );
    let gift = exported(&kinds[5]);
    assert_eq!(gift["kind"], "membership");
    assert_eq!(
        gift["detail"],
        serde_json::json!({"type": "membership", "kind": "gift", "level": "Gold", "count": 5})
    );
}

fn assert_no_secret(t: &Test, stderr: &str) {
    for secret in KNOWN_SECRETS {
        assert!(!stderr.contains(secret), "a secret leaked into the logs");
    }
    for dir in ["exports", "signals", "admin"] {
        for entry in crate::harness::files_under(&t.path().join("runtime").join(dir)) {
            let text = std::fs::read_to_string(&entry).unwrap();
            for secret in KNOWN_SECRETS {
                assert!(!text.contains(secret), "a secret in {}", entry.display());
            }
        }
    }
}

fn source(t: &Test) -> Value {
    let snapshot: Value =
        serde_json::from_str(&t.read("runtime/exports/runtime_snapshot.json")).unwrap();
    snapshot["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["platform"] == "youtube")
        .cloned()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ss_run_reads_every_kind_once_replies_through_insert_and_stops_at_quota_exceeded() {
    let now = chrono::Utc::now();
    let model = YoutubeModel::new(API_KEY, TOKEN, now - chrono::Duration::minutes(5));
    model.with(|s| s.polling_interval_ms = 300);
    let kinds = model.every_kind(now - chrono::Duration::seconds(30));
    let server = YoutubeServer::start(model.clone()).await;
    let t = youtube_root(&server.base_url(), true);
    t.run(&["validate-config"]).status(0);
    let child = spawn(&t);

    // Found by video_id, with the key in its header.
    until("the first list call", || {
        !model.requests_to("liveChat/messages").is_empty()
    })
    .await;
    let videos = model.requests_to("videos");
    assert_eq!(videos[0].query["id"], VIDEO_ID);
    assert_eq!(videos[0].query["part"], "liveStreamingDetails");
    assert_eq!(videos[0].auth, "key");
    let first = &model.requests_to("liveChat/messages")[0];
    assert_eq!(first.query["part"], "snippet,authorDetails");
    assert_eq!(first.query["maxResults"], "2000");
    assert!(
        !first.query.contains_key("key"),
        "the key is never in the URL"
    );

    // Chat arrives while it runs; pages repeat the last two items of the page before.
    let ping = model.text(chrono::Utc::now(), "Viewer", "!ping");
    let later: Vec<String> = (0..5)
        .map(|i| model.text(chrono::Utc::now(), "Viewer", &format!("line {i}")))
        .collect();
    until("the reply", || model.with(|s| !s.inserted.is_empty())).await;
    assert_eq!(model.with(|s| s.inserted.clone()), vec!["@Viewer pong"]);
    let insert = &model
        .requests_to("liveChat/messages")
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(insert.auth, "bearer");
    assert_eq!(insert.query["part"], "snippet");
    let tokens: Vec<String> = model
        .requests_to("liveChat/messages")
        .iter()
        .filter_map(|r| r.query.get("pageToken").cloned())
        .collect();
    assert!(!tokens.is_empty(), "nextPageToken is passed back");

    // quotaExceeded: no call after it.
    until("two more list calls", || {
        model.requests_to("liveChat/messages").len() > 6
    })
    .await;
    model.with(|s| s.fail_list.push_back((403, "quotaExceeded")));
    until("the quotaExceeded answer", || {
        model
            .requests_to("liveChat/messages")
            .iter()
            .any(|r| r.status == 403)
    })
    .await;
    let calls = model.with(|s| s.requests.len());
    // The runtime has taken the answer as its quota spent until the reset: it says so in
    // admin/quotas.json, and makes no call until then (none up to its exit).
    until("the quota marked exhausted in admin/quotas.json", || {
        std::fs::read_to_string(t.path().join("runtime/admin/quotas.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .is_some_and(|q| q["projects"][0]["exhausted_until"].is_string())
    })
    .await;
    let (code, stderr) = stop(child).await;
    assert_eq!(
        model.with(|s| s.requests.len()),
        calls,
        "no call after quotaExceeded"
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("quotaExceeded"), "{stderr}");
    assert_no_secret(&t, &stderr);

    // Every message, exactly once, though the pages overlapped.
    let ids = youtube_ids(&t);
    let mut want: Vec<String> = kinds.iter().cloned().chain([ping]).chain(later).collect();
    want.sort();
    let mut got = ids.clone();
    got.sort();
    assert_eq!(got, want);
    assert_stream_events_are_typed(&t, &kinds);
    let youtube = source(&t);
    assert!(
        youtube["last_error"]
            .as_str()
            .unwrap()
            .contains("quotaExceeded"),
        "{youtube}"
    );
    assert_eq!(youtube["live"]["live"], true, "{youtube}");
    let errors = t.read("runtime/exports/telemetry/errors.json");
    assert!(errors.contains("quota_exceeded"), "{errors}");
    let quotas: Value = serde_json::from_str(&t.read("runtime/admin/quotas.json")).unwrap();
    let project = &quotas["projects"][0];
    assert!(
        project["project"].as_str().unwrap().starts_with("key-"),
        "{quotas}"
    );
    assert!(project["exhausted_until"].is_string(), "{quotas}");
    assert_eq!(
        project["calls"]["liveChatMessages.insert"]["calls"], 1,
        "{quotas}"
    );
    assert_eq!(project["calls"]["videos.list"]["units"], 1, "{quotas}");
    let list = project["calls"]["liveChatMessages.list"]["calls"]
        .as_u64()
        .unwrap();
    assert_eq!(
        list,
        model
            .requests_to("liveChat/messages")
            .iter()
            .filter(|r| r.method == "GET")
            .count() as u64,
        "every list call is counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ss_run_goes_back_to_discovery_after_live_chat_ended_and_is_read_only_without_oauth() {
    let now = chrono::Utc::now();
    let model = YoutubeModel::new(API_KEY, TOKEN, now);
    model.with(|s| s.polling_interval_ms = 200);
    model.text(now - chrono::Duration::seconds(1), "Viewer", "!ping");
    let server = YoutubeServer::start(model.clone()).await;
    let t = youtube_root(&server.base_url(), false);
    let child = spawn(&t);
    until("reading", || {
        model.requests_to("liveChat/messages").len() >= 2
    })
    .await;
    model.with(|s| s.live = false);
    until("discovery again", || {
        let ended = model
            .requests_to("liveChat/messages")
            .iter()
            .position(|r| r.status == 403);
        ended.is_some() && model.requests_to("videos").len() >= 2
    })
    .await;
    until("the snapshot saying the stream is not live", || {
        std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .and_then(|s| {
                s["sources"]
                    .as_array()?
                    .iter()
                    .find(|s| s["platform"] == "youtube")
                    .map(|y| y["live"]["live"] == false)
            })
            .unwrap_or(false)
    })
    .await;
    let (code, stderr) = stop(child).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        model.with(|s| s.inserted.is_empty()),
        "read-only: no insert"
    );
    assert!(stderr.contains("read-only"), "{stderr}");
    let youtube = source(&t);
    assert_eq!(youtube["live"]["live"], false, "{youtube}");
    assert_no_secret(&t, &stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_mid_stream_resumes_from_the_last_committed_page_token() {
    let now = chrono::Utc::now();
    let model = YoutubeModel::new(API_KEY, TOKEN, now);
    model.with(|s| s.polling_interval_ms = 150);
    let server = YoutubeServer::start(model.clone()).await;
    let t = youtube_root(&server.base_url(), true);
    // A steady chat: a message every 20 ms while the test runs.
    let feeder = {
        let model = model.clone();
        tokio::spawn(async move {
            let mut steady = tokio::time::interval(Duration::from_millis(20));
            for i in 0..400 {
                steady.tick().await;
                model.text(chrono::Utc::now(), "Viewer", &format!("steady {i}"));
            }
        })
    };
    let running = spawn(&t);
    until("a few pages", || {
        model.requests_to("liveChat/messages").len() >= 8
    })
    .await;
    let (code, stderr) = stop_with(running, "KILL").await;
    assert_eq!(code, None, "killed");
    assert_no_secret(&t, &stderr);
    let calls_before = model.requests_to("liveChat/messages").len();
    let store = ss::store::StoreReader::open(&ss::store::db_path(t.path())).unwrap();
    let committed = store
        .checkpoint("demo", ss::sources::youtube::YOUTUBE)
        .unwrap()
        .expect("a committed checkpoint")
        .cursor;
    drop(store);
    let token = committed.split_once('|').unwrap().1.to_owned();
    assert!(token.starts_with("tok-"), "{committed}");

    let child = spawn(&t);
    until("the restart's first list call", || {
        model.requests_to("liveChat/messages").len() > calls_before
    })
    .await;
    let first = model.requests_to("liveChat/messages")[calls_before].clone();
    assert_eq!(
        first.query.get("pageToken"),
        Some(&token),
        "the first call after the restart carries the committed token"
    );
    feeder.await.unwrap();
    // Let it catch up with the whole chat.
    let all = model.with(|s| s.items.len());
    until("every message", || {
        let last = model
            .requests_to("liveChat/messages")
            .last()
            .cloned()
            .unwrap();
        last.query.get("pageToken").map(String::as_str) == Some(&format!("tok-{all}"))
    })
    .await;
    // (The stop commits every queued write, quota spends included.)
    let (code, stderr) = stop(child).await;
    assert_eq!(code, Some(0), "{stderr}");
    // Quota spent before the kill was persisted: the restart continued from it.
    let quotas: Value = serde_json::from_str(&t.read("runtime/admin/quotas.json")).unwrap();
    let used = quotas["projects"][0]["units_used"].as_i64().unwrap();
    let charged = model.units_today(chrono::Utc::now()) as i64;
    assert!(
        (used - charged).abs() <= 10,
        "the store has {used} units, the server charged {charged}"
    );
    // `ss export` (no run) shows the project from the store alone.
    t.run(&["export", "--only", "quotas"]).status(0);
    let quotas: Value = serde_json::from_str(&t.read("runtime/admin/quotas.json")).unwrap();
    let project = &quotas["projects"][0];
    assert_eq!(project["units_used"].as_i64(), Some(used), "{quotas}");
    assert_eq!(project["planned_interval_ms"], Value::Null, "{quotas}");
    let ids = youtube_ids(&t);
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len(), "no message stored twice");
    assert_eq!(ids.len(), all, "every message stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ss_run_reads_over_stream_list_and_replies_through_insert() {
    let now = chrono::Utc::now();
    let model = YoutubeModel::new(API_KEY, TOKEN, now);
    let kinds = model.every_kind(now - chrono::Duration::seconds(10));
    let server = YoutubeServer::start(model.clone()).await;
    let (grpc_url, grpc) = crate::youtube_grpc::serve(crate::youtube_grpc::GrpcChat {
        model: model.clone(),
        batches_per_stream: 100,
    })
    .await;
    let t = youtube_root(&server.base_url(), true);
    let mut creators: Value =
        serde_json::from_str(&t.read("runtime/config/creators.json")).unwrap();
    creators["creators"][0]["platforms"]["youtube"]["transport"] = json!("stream");
    t.write(
        "runtime/config/creators.json",
        &serde_json::to_string_pretty(&creators).unwrap(),
    );
    let mut p: Value = serde_json::from_str(&t.read("runtime/config/platforms.json")).unwrap();
    p["platforms"]["youtube"]["grpc_url"] = json!(grpc_url);
    t.write(
        "runtime/config/platforms.json",
        &serde_json::to_string_pretty(&p).unwrap(),
    );
    t.run(&["validate-config"]).status(0);
    let child = spawn(&t);
    until("the stream", || !model.requests_to("streamList").is_empty()).await;
    // Past the history batches: the stream is open and quiet when !ping arrives.
    until("the history stored", || {
        youtube_ids(&t).len() >= kinds.len()
    })
    .await;
    let ping = model.text(chrono::Utc::now(), "Viewer", "!ping");
    let asked = std::time::Instant::now();
    until("the reply", || model.with(|s| !s.inserted.is_empty())).await;
    assert_eq!(model.with(|s| s.inserted.clone()), vec!["@Viewer pong"]);
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "a reply in a quiet stream goes out within about a second"
    );
    until("every message stored", || {
        youtube_ids(&t).len() > kinds.len()
    })
    .await;
    let (code, stderr) = stop(child).await;
    grpc.abort();
    assert_eq!(code, Some(0), "{stderr}");
    assert_no_secret(&t, &stderr);
    assert!(
        model
            .requests_to("liveChat/messages")
            .iter()
            .all(|r| r.method == "POST"),
        "no list polling over the stream transport"
    );
    let mut got = youtube_ids(&t);
    got.sort();
    let mut want: Vec<String> = kinds.into_iter().chain([ping]).collect();
    want.sort();
    assert_eq!(got, want);
}

/// A trigger on a banned word times its author out (`liveChatBans.insert`, a temporary ban of their
/// channel id) and deletes the message (`liveChatMessages.delete`, 204), each admitted by the quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banned_word_times_its_author_out_and_deletes_the_message() {
    let now = chrono::Utc::now();
    let model = YoutubeModel::new(API_KEY, TOKEN, now - chrono::Duration::minutes(5));
    model.with(|s| s.polling_interval_ms = 300);
    let server = YoutubeServer::start(model.clone()).await;
    let t = youtube_root(&server.base_url(), true);
    crate::run_kick::add_triggers(&t, crate::run_kick::banned_word_triggers());
    t.run(&["validate-config"]).status(0);
    let running = spawn(&t);
    until("the first list call", || {
        !model.requests_to("liveChat/messages").is_empty()
    })
    .await;
    let bad = model.text(chrono::Utc::now(), "Spammer", "buy followers badword now");
    until("the timeout and the delete", || {
        model.with(|s| s.bans.len() == 1 && s.deleted.len() == 1)
    })
    .await;
    until("both counted as sent", || {
        // The first snapshot may not be written yet.
        std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .is_some_and(|s| s["commands"]["sent"] == 2)
    })
    .await;
    let (code, stderr) = stop(running).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        model.with(|s| s.bans[0].clone()),
        json!({"liveChatId": CHAT_ID, "type": "temporary", "banDurationSeconds": "600",
            "bannedUserDetails": {"channelId": "UCspammer"}})
    );
    assert_eq!(model.with(|s| s.deleted.clone()), [bad]);
    let delete = model
        .requests_to("liveChat/messages")
        .into_iter()
        .find(|r| r.method == "DELETE")
        .unwrap();
    assert_eq!((delete.auth, delete.status), ("bearer", 204));
    assert!(model.with(|s| s.inserted.is_empty()));
    assert_no_secret(&t, &stderr);
}
