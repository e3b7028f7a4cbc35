//! Webhooks out and in, end to end through `ss run`.
//!
//! Out: a published clip's webhook reaches a loopback receiver exactly once, through an outage of
//! the receiver (503) and a `kill -9` of `ss` while the receiver holds the request it accepted:
//! every attempt carries the same `Idempotency-Key` and byte-identical body, and its
//! `X-SS-Signature` verifies with the secret (checked here with ring).
//!
//! In: Ko-fi's published donation, posted to `/hooks/kofi` with the right verification token,
//! becomes a `tip` event that a trigger thanks in the loopback Twitch chat; the same delivery posted
//! again is answered 200 and recorded once (across a restart too); a forged token gets 401, is
//! counted and nothing is stored; a body over the limit gets 413.

use crate::harness::{Spawned, Test, store_count, until_within};
use crate::http::free_port;
use crate::polls::stop;
use crate::run_twitch::twitch_root;
use crate::twitch_server::{ServerOptions, TwitchServer};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "hook-secret-Tk55";
const KOFI_TOKEN: &str = "8cfeb5b0-3f94-4deb-8705-a5e13e10f4a1";
const DONATION: &str = include_str!("../fixtures/kofi/donation.form");

/// How the receiver answers the next request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Answer {
    /// 503: the receiver is down for maintenance.
    Unavailable,
    /// Takes the delivery and never answers (the sender dies waiting).
    TakeAndHang,
}

/// One request the receiver saw.
#[derive(Debug, Clone)]
struct Seen {
    key: Option<String>,
    signature: Option<String>,
    event: Option<String>,
    body: Vec<u8>,
}

#[derive(Default)]
struct Receiver {
    plan: VecDeque<Answer>,
    seen: Vec<Seen>,
    /// Deliveries taken, by idempotency key (a receiver deduplicating as the README says).
    taken: BTreeMap<String, Vec<u8>>,
}

type Shared = Arc<Mutex<Receiver>>;

async fn receive(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let seen = Seen {
        key: header("idempotency-key"),
        signature: header("x-ss-signature"),
        event: header("x-ss-event"),
        body: body.to_vec(),
    };
    let answer = {
        let mut r = state.lock().unwrap();
        r.seen.push(seen.clone());
        let answer = r.plan.pop_front();
        if answer != Some(Answer::Unavailable) {
            let key = seen.key.clone().unwrap_or_default();
            r.taken.entry(key).or_insert(seen.body);
        }
        answer
    };
    match answer {
        Some(Answer::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
        Some(Answer::TakeAndHang) => std::future::pending().await,
        None => StatusCode::OK,
    }
}

/// A loopback webhook receiver answering per `plan`, then 200.
async fn receiver(plan: &[Answer]) -> (Shared, String) {
    let state: Shared = Arc::new(Mutex::new(Receiver {
        plan: plan.iter().copied().collect(),
        ..Receiver::default()
    }));
    let app = axum::Router::new()
        .route("/ss", axum::routing::post(receive))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ss", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (state, url)
}

fn edit(t: &Test, file: &str, f: impl FnOnce(&mut Value)) {
    let rel = format!("runtime/config/{file}");
    let mut value: Value = serde_json::from_str(&t.read(&rel)).unwrap();
    f(&mut value);
    t.write(&rel, &serde_json::to_string_pretty(&value).unwrap());
}

fn json_file(t: &Test, rel: &str) -> Value {
    serde_json::from_str(&t.read(rel)).unwrap()
}

/// Whether `signature` is `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
fn verifies(secret: &str, body: &[u8], signature: &str) -> bool {
    let Some(hex) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Some(tag) = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    ring::hmac::verify(&key, body, &tag).is_ok()
}

/// The webhook row's (sent, attempts) in the store.
fn webhook_row(t: &Test) -> (i64, i64) {
    (
        store_count(
            t.path(),
            "SELECT count(*) FROM outbox WHERE destination = 'webhook' AND sent_ms IS NOT NULL",
        ),
        store_count(
            t.path(),
            "SELECT coalesce(max(attempts), 0) FROM outbox WHERE destination = 'webhook'",
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clip_webhook_reaches_its_receiver_once_through_an_outage_and_a_kill_9() {
    let (receiver, url) = receiver(&[Answer::Unavailable, Answer::TakeAndHang]).await;
    let t = Test::fast_demo(Some(2));
    edit(&t, "posting.json", |p| {
        p["webhooks"] = json!({"home": {"url": url, "secret_env": "SS_WEBHOOK_SECRET",
            "headers": {"X-Team": "stream"}, "events": ["clip_published"]}});
    });
    t.run(&["validate-config"]).status(0);
    crate::run_notify::publish_clip(&t, "clip-w1");
    let env = [("SS_WEBHOOK_SECRET", SECRET)];

    // The receiver is down (503), then takes the delivery and never answers: ss dies waiting.
    let running = t.spawn_verbose_run(&env);
    until_within(Duration::from_secs(30), "the second attempt", || {
        receiver.lock().unwrap().seen.len() == 2
    })
    .await;
    let (_, first_stderr) = running.stop_with("KILL").await;
    assert_eq!(webhook_row(&t).0, 0, "not sent before the kill");
    assert_eq!(receiver.lock().unwrap().taken.len(), 1);

    // The restart sends it again with the same key; the receiver has it and answers 200.
    let running = t.spawn_verbose_run(&env);
    until_within(Duration::from_secs(30), "the row to be sent", || {
        webhook_row(&t).0 == 1
    })
    .await;
    let (code, stderr) = running.stop_with("INT").await;
    assert_eq!(code, Some(0), "{stderr}");

    let r = receiver.lock().unwrap();
    assert_eq!(r.taken.len(), 1, "the receiver has the clip exactly once");
    assert_eq!(r.seen.len(), 3, "503, taken and no answer, then 200");
    let first = &r.seen[0];
    for seen in &r.seen {
        assert_eq!(seen.body, first.body, "every attempt sends the same bytes");
        assert_eq!(seen.key, first.key, "one idempotency key");
        assert_eq!(seen.event.as_deref(), Some("clip_published"));
        let signature = seen.signature.as_deref().expect("signed");
        assert!(verifies(SECRET, &seen.body, signature), "{signature}");
        assert!(!verifies("another secret", &seen.body, signature));
    }
    let body: Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(body["event"], "clip_published");
    assert_eq!(body["id"].as_str(), first.key.as_deref());
    assert_eq!(body["cause"], "clip:clip-w1");
    assert_eq!(body["data"]["clip_id"], "clip-w1");
    assert_eq!(body["data"]["url"], "https://clips.example/clip-w1");
    drop(r);

    let (_, attempts) = webhook_row(&t);
    assert!(
        attempts >= 2,
        "the 503 was recorded as an attempt: {attempts}"
    );
    let jobs = json_file(&t, "runtime/admin/jobs.json");
    let row = jobs["outbox"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["destination"] == "webhook")
        .expect("the webhook row in jobs.json")
        .clone();
    assert_eq!(row["target"], "home");
    assert!(row["sent_at"].is_string(), "{row}");
    let snapshot = json_file(&t, "runtime/exports/runtime_snapshot.json");
    assert_eq!(snapshot["notify"]["webhook"]["sent"], 1);
    assert_eq!(snapshot["notify"]["webhook"]["state"], "ready");
    for text in [&first_stderr, &stderr] {
        assert!(!text.contains(SECRET), "the secret leaked into the logs");
        assert!(!text.contains(&url), "the URL leaked into the logs");
    }
    for dir in ["exports", "signals", "admin"] {
        for file in crate::harness::files_under(&t.path().join("runtime").join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            assert!(!text.contains(SECRET), "the secret in {}", file.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_webhook_shows_its_error_in_jobs_and_is_retried() {
    // Always down: the row is retried with backoff and its error is visible while it waits.
    let (receiver, url) = receiver(&[Answer::Unavailable; 8]).await;
    let t = Test::fast_demo(Some(2));
    edit(&t, "posting.json", |p| {
        p["webhooks"] = json!({"home": {"url": url, "secret_env": "SS_WEBHOOK_SECRET",
            "events": ["clip_published"]}});
    });
    crate::run_notify::publish_clip(&t, "clip-w2");
    let running = t.spawn_verbose_run(&[("SS_WEBHOOK_SECRET", SECRET)]);
    until_within(Duration::from_secs(30), "the error in jobs.json", || {
        std::fs::read_to_string(t.path().join("runtime/admin/jobs.json"))
            .is_ok_and(|s| s.contains("answered 503"))
    })
    .await;
    until_within(Duration::from_secs(30), "the retry in the snapshot", || {
        std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .is_some_and(|s| s["notify"]["webhook"]["retried"].as_u64() >= Some(1))
    })
    .await;
    let (code, stderr) = running.stop_with("INT").await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(webhook_row(&t).0, 0);
    assert!(receiver.lock().unwrap().taken.is_empty());
}

/// The Twitch root with a Ko-fi hook on the HTTP server at `http`, and a trigger thanking tips.
fn kofi_root(twitch: u16, http: u16) -> Test {
    let t = twitch_root(twitch);
    edit(&t, "system.json", |s| {
        s["http"] = json!({"enabled": true, "listen": format!("127.0.0.1:{http}")});
        s["hooks"] = json!({"kofi": {
            "verify": {"kind": "token_field", "field": "verification_token", "secret_env": "KOFI_VERIFICATION_TOKEN"},
            "map": "kofi", "creator": "demo", "platform": "twitch", "max_body_bytes": 4096}});
    });
    let triggers = t.read("runtime/config/triggers.json").replacen(
        "\"demo\": [",
        r#""demo": [
      {
        "id": "thank-kofi",
        "on": { "event": "tip" },
        "action": { "type": "reply", "template": "Thank you {user} for the {amount} {currency}!" }
      },"#,
        1,
    );
    t.write("runtime/config/triggers.json", &triggers);
    t
}

async fn post(client: &reqwest::Client, port: u16, body: String) -> (u16, String) {
    let answer = client
        .post(format!("http://127.0.0.1:{port}/hooks/kofi"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

/// Tip events recorded with `message_id`.
fn tips(t: &Test, message_id: &str) -> i64 {
    store_count(
        t.path(),
        &format!("SELECT count(*) FROM chat_events WHERE message_id = '{message_id}'"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kofi_donation_is_thanked_in_chat_once_and_a_forged_one_gets_401() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let http = free_port();
    let t = kofi_root(server.port(), http);
    t.run(&["validate-config"]).status(0);
    let client = ss::http_out::builder().unwrap().build().unwrap();
    let child = start_with_token(&t);
    server.wait_for_joins(1).await;
    let donation = DONATION.trim().to_string();
    let id = "kofi:3a1fac0c-f960-4506-a60e-824979a74e74";

    // A forged token: 401, counted, nothing stored.
    let forged = donation.replace("8cfeb5b0-3f94", "00000000-3f94");
    assert_ne!(forged, donation);
    let (status, text) = post(&client, http, forged).await;
    assert_eq!(status, 401, "{text}");
    // Over the hook's limit: 413.
    let (status, _) = post(
        &client,
        http,
        format!("{donation}&pad={}", "x".repeat(5000)),
    )
    .await;
    assert_eq!(status, 413);

    // The real delivery: accepted, and the trigger thanks the supporter in chat.
    let (status, text) = post(&client, http, donation.clone()).await;
    assert_eq!(status, 200, "{text}");
    server
        .wait_for_commands("PRIVMSG", 1, Duration::from_secs(20))
        .await;
    let reply = server.received_commands("PRIVMSG")[0].line.clone();
    assert!(
        reply.ends_with("PRIVMSG #demo_channel :Thank you Ko-fi Team for the 3 USD!"),
        "{reply}"
    );
    // Ko-fi retries: the same delivery is answered 200 and recorded once.
    let (status, text) = post(&client, http, donation.clone()).await;
    assert_eq!((status, text.as_str()), (200, "already accepted\n"));
    until_within(Duration::from_secs(10), "the tip in the store", || {
        tips(&t, id) == 1
    })
    .await;
    stop(child.into_inner()).await;

    // After a restart too.
    let child = start_with_token(&t);
    server.wait_for_joins(2).await;
    let (status, text) = post(&client, http, donation).await;
    assert_eq!((status, text.as_str()), (200, "already accepted\n"));
    stop(child.into_inner()).await;

    assert_eq!(tips(&t, id), 1, "one row for the delivery");
    assert_eq!(
        store_count(
            t.path(),
            "SELECT count(*) FROM chat_events WHERE text LIKE '%00000000-3f94%' OR message_id LIKE 'kofi:%' AND message_id <> 'kofi:3a1fac0c-f960-4506-a60e-824979a74e74'"
        ),
        0,
        "nothing of the forged delivery is stored"
    );
    assert_eq!(server.received_commands("PRIVMSG").len(), 1, "thanked once");
    let store = ss::store::StoreReader::open(&ss::store::db_path(t.path())).unwrap();
    let event = store
        .recent_chat_events(50)
        .unwrap()
        .into_iter()
        .find(|e| e.message_id == id)
        .expect("the tip event");
    assert_eq!(event.kind, ss::event::EventKind::Tip);
    assert_eq!(event.author.display_name, "Ko-fi Team");
    assert_eq!(event.text, "Good luck with the integration!");
    let Some(ss::event::EventDetail::Money(money)) = event.detail.as_deref() else {
        panic!("the tip carries its money: {event:?}");
    };
    assert_eq!((money.amount, money.currency.as_str()), (3.0, "USD"));
    // The second run's counters: the repeated delivery only.
    let snapshot = json_file(&t, "runtime/exports/runtime_snapshot.json");
    assert_eq!(
        snapshot["hooks"]["kofi"]["duplicates"], 1,
        "{}",
        snapshot["hooks"]
    );
    assert_eq!(snapshot["hooks"]["kofi"]["accepted"], 0);
    let everything = crate::harness::files_under(&t.path().join("runtime"))
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "json"))
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .collect::<String>();
    assert!(!everything.contains(KOFI_TOKEN), "the token in an export");
    assert!(
        !everything.contains("someone@example.com"),
        "the e-mail in an export"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_oversized_deliveries_are_counted_per_hook() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let http = free_port();
    let t = kofi_root(server.port(), http);
    let client = ss::http_out::builder().unwrap().build().unwrap();
    let child = start_with_token(&t);
    server.wait_for_joins(1).await;
    let donation = DONATION.trim().to_string();
    let forged = donation.replace("8cfeb5b0-3f94", "00000000-3f94");
    for _ in 0..2 {
        assert_eq!(post(&client, http, forged.clone()).await.0, 401);
    }
    assert_eq!(post(&client, http, "x".repeat(5000)).await.0, 413);
    // Not the form Ko-fi sends: unverifiable, so 401 too (nothing about the body is told).
    assert_eq!(post(&client, http, "{}".into()).await.0, 401);
    until_within(Duration::from_secs(20), "the counters exported", || {
        std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .is_some_and(|s| s["hooks"]["kofi"]["unauthorized"] == 3)
    })
    .await;
    stop(child.into_inner()).await;
    let snapshot = json_file(&t, "runtime/exports/runtime_snapshot.json");
    assert_eq!(
        snapshot["hooks"]["kofi"],
        json!({"accepted": 0, "duplicates": 0, "unauthorized": 3, "too_large": 1, "malformed": 0, "unavailable": 0})
    );
    assert_eq!(
        store_count(
            t.path(),
            "SELECT count(*) FROM chat_events WHERE message_id LIKE 'kofi:%'"
        ),
        0
    );
}

/// `ss run` with the Twitch token and the Ko-fi token set (killed if the test fails first).
fn start_with_token(t: &Test) -> Spawned {
    let mut cmd = t.std_cmd();
    cmd.arg("run")
        .env("TWITCH_OAUTH_TOKEN_DEMO", crate::polls::TOKEN)
        .env("KOFI_VERIFICATION_TOKEN", KOFI_TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    Spawned::from(cmd.spawn().unwrap())
}

#[test]
fn validate_config_points_at_bad_webhooks_and_hooks() {
    let t = Test::new();
    edit(&t, "posting.json", |p| {
        p["webhooks"] = json!({"home": {"url": "http://127.0.0.1:9/ss", "secret_env": "bad name",
            "headers": {"X-SS-Signature": "mine"}, "events": ["clip_published"], "creators": ["ghost"]}});
    });
    edit(&t, "system.json", |s| {
        s["hooks"] = json!({"kofi": {
            "verify": {"kind": "token_field", "field": "verification_token", "secret_env": "KOFI TOKEN"},
            "map": "kofi", "creator": "nobody", "platform": "twitch"}});
    });
    let triggers = t.read("runtime/config/triggers.json").replacen(
        "\"demo\": [",
        r#""demo": [
      { "id": "lights", "kind": "command", "command": "!lights", "action": { "type": "notify", "channel": "webhook:hom", "template": "lights" } },"#,
        1,
    );
    t.write("runtime/config/triggers.json", &triggers);
    let out = t.run(&["validate-config"]);
    out.status(1);
    insta::assert_snapshot!(out.stdout_in(&t));
}
