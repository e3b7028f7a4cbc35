//! `ss run` with the demo creator's Kick source pointed at the loopback Pusher server and Kick API
//! ([`crate::kick_server`]): it looks up the chatroom, reads every message, pings and answers pings,
//! reconnects after a `pusher:error` 4200 and an abrupt close, answers `!ping` through
//! `POST /public/v1/chat` after refreshing its expired token once, and keeps every secret out of
//! its logs at `-vv` and its exports. A lookup Kick blocks stops the source once with the setting
//! to fill in. Signed webhooks are recorded once however often (and by whichever path) they come;
//! unsigned or badly signed ones get 401 and are not recorded. A trigger on a banned word times its
//! author out and deletes the message through Kick's moderation API.

use crate::harness::{Test, exit_code_within, signal, store_count};
use crate::kick_server::{KickApi, PusherServer, wait_for};
use base64::Engine;
use ss::event::EventKind;
use std::time::Duration;

pub(crate) const CHATROOM: u64 = 55_555;
pub(crate) const CHATROOM_CHANNEL: &str = "chatrooms.55555.v2";
/// The channel id the loopback lookup answers with (its stream events channel).
const STREAM_CHANNEL: &str = "channel.9001";

/// Every secret of these tests: none may appear in a log line or an export.
pub(crate) const ACCESS: &str = "expired-access-token-1111";
pub(crate) const REFRESH: &str = "kick-refresh-secret-2222";
pub(crate) const CLIENT_ID: &str = "kick-client-id-3333";
pub(crate) const CLIENT_SECRET: &str = "kick-client-secret-4444";

/// The demo root with the sim source off and the Kick source on, pointed at the loopback servers.
pub(crate) fn kick_root(pusher: &PusherServer, api: &KickApi, kick: serde_json::Value) -> Test {
    let t = Test::fast_demo(None);
    let mut creators: serde_json::Value =
        serde_json::from_str(&t.read("runtime/config/creators.json")).unwrap();
    let platforms = &mut creators["creators"][0]["platforms"];
    platforms["sim"]["enabled"] = false.into();
    platforms["kick"] = kick;
    t.write(
        "runtime/config/creators.json",
        &serde_json::to_string_pretty(&creators).unwrap(),
    );
    let mut platforms: serde_json::Value =
        serde_json::from_str(&t.read("runtime/config/platforms.json")).unwrap();
    platforms["platforms"]["kick"] = serde_json::json!({
        "mode": "active",
        "ws_url": pusher.url(),
        "base_url": format!("{}/public/v1", api.base()),
        "oauth_url": api.base(),
        "channel_api_url": format!("{}/api/v2", api.base()),
    });
    t.write(
        "runtime/config/platforms.json",
        &serde_json::to_string_pretty(&platforms).unwrap(),
    );
    t
}

pub(crate) fn kick_block() -> serde_json::Value {
    serde_json::json!({
        "enabled": true,
        "channel": "demo-channel",
        "token_env": "KICK_OAUTH_TOKEN_DEMO",
        "refresh_token_env": "KICK_REFRESH_TOKEN_DEMO",
        "client_id_env": "KICK_CLIENT_ID_DEMO",
        "client_secret_env": "KICK_CLIENT_SECRET_DEMO",
    })
}

pub(crate) fn spawn_run(t: &Test, extra: &[&str]) -> std::process::Child {
    let mut cmd = t.std_cmd();
    cmd.args(["-vv", "run"])
        .args(extra)
        .env("KICK_OAUTH_TOKEN_DEMO", ACCESS)
        .env("KICK_REFRESH_TOKEN_DEMO", REFRESH)
        .env("KICK_CLIENT_ID_DEMO", CLIENT_ID)
        .env("KICK_CLIENT_SECRET_DEMO", CLIENT_SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    cmd.spawn().unwrap()
}

/// Stops `child` with SIGTERM and returns its exit code and stderr.
pub(crate) async fn stop(mut child: std::process::Child) -> (i32, String) {
    signal(&child, "TERM");
    tokio::task::spawn_blocking(move || {
        let code = exit_code_within(&mut child, Duration::from_secs(30));
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        (code, stderr)
    })
    .await
    .unwrap()
}

pub(crate) fn chat_message(id: &str, user: &str, user_id: u64, content: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "chatroom_id": CHATROOM, "content": content, "type": "message",
        "created_at": chrono::Utc::now().to_rfc3339(),
        "sender": {"id": user_id, "username": user, "slug": user.to_lowercase(),
          "identity": {"color": "#FF9D00", "badges": [{"type": "subscriber", "text": "Subscriber", "count": 2}]}},
        "metadata": {"message_ref": "1752741896375"},
    })
}

/// `message` dated `seconds` later than now (the trigger cooldowns run on the event's own time).
pub(crate) fn later(mut message: serde_json::Value, seconds: i64) -> serde_json::Value {
    message["created_at"] = (chrono::Utc::now() + chrono::Duration::seconds(seconds))
        .to_rfc3339()
        .into();
    message
}

pub(crate) const CHAT_EVENT: &str = r"App\Events\ChatMessageEvent";

/// Asserts that no secret (nor a token the refresh handed out) is in `text`.
pub(crate) fn assert_no_secret(text: &str, what: &str, also: &[String]) {
    for secret in [ACCESS, REFRESH, CLIENT_ID, CLIENT_SECRET]
        .iter()
        .map(|s| s.to_string())
        .chain(also.iter().cloned())
    {
        assert!(!text.contains(&secret), "{secret:?} leaked into {what}");
    }
}

pub(crate) fn assert_exports_hold_no_secret(t: &Test, also: &[String]) {
    for dir in ["exports", "signals", "admin"] {
        let dir = t.path().join("runtime").join(dir);
        for entry in crate::harness::files_under(&dir) {
            let text = std::fs::read_to_string(&entry).unwrap_or_default();
            assert_no_secret(&text, &entry.display().to_string(), also);
        }
    }
}

fn recorded(t: &Test) -> Vec<ss::event::ChatEvent> {
    let store = ss::store::StoreReader::open(&ss::store::db_path(t.path())).unwrap();
    store
        .recent_chat_events(1000)
        .unwrap()
        .into_iter()
        .filter(|e| e.platform == ss::sources::kick::KICK)
        .collect()
}

fn snapshot(t: &Test) -> serde_json::Value {
    serde_json::from_str(&t.read("runtime/exports/runtime_snapshot.json")).unwrap()
}

fn kick_status(snapshot: &serde_json::Value) -> serde_json::Value {
    snapshot["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["platform"] == "kick")
        .cloned()
        .unwrap_or_else(|| panic!("no kick source in {snapshot}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ss_run_reads_kick_answers_ping_refreshes_once_and_reconnects_after_each_failure() {
    let pusher = PusherServer::start(1).await;
    let api = KickApi::start(
        "only-a-refresh-gives-this",
        REFRESH,
        CLIENT_ID,
        CLIENT_SECRET,
        CHATROOM,
    )
    .await;
    let t = kick_root(&pusher, &api, kick_block());
    t.run(&["validate-config"]).status(0);
    let child = spawn_run(&t, &[]);

    // The chatroom comes from the lookup; both its channel and the stream channel are subscribed.
    pusher.wait_for_subscriptions(CHATROOM_CHANNEL, 1).await;
    pusher.wait_for_subscriptions(STREAM_CHANNEL, 1).await;
    assert_eq!(api.lookups(), ["demo-channel"]);
    assert!(
        pusher.log().paths[0].contains("protocol=7"),
        "{:?}",
        pusher.log().paths
    );

    // `!ping` is answered through the Public API: the expired token gets a 401, is refreshed once,
    // and the same reply goes out with the new token, threaded to the message.
    pusher.send_event(
        CHATROOM_CHANNEL,
        CHAT_EVENT,
        &chat_message("m1", "ViewerOne", 11, "!ping"),
    );
    api.wait_for_chat(1).await;
    let posts = api.chat();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert_eq!((posts[0].status, posts[0].bearer.as_str()), (401, ACCESS));
    assert_eq!(posts[1].status, 200);
    assert_eq!(posts[1].bearer, api.access_token());
    assert_eq!(
        posts[1].body,
        serde_json::json!({"content": "pong", "type": "user", "broadcaster_user_id": 4242, "reply_to_message_id": "m1"})
    );
    assert_eq!(api.refreshes().len(), 1);

    // Pings both ways: the server's is answered, and after the announced activity_timeout (1 s) of
    // silence the client pings and the server's pong keeps it connected.
    pusher.send_raw(CHATROOM_CHANNEL, r#"{"event":"pusher:ping","data":"{}"}"#);
    wait_for("the client's pong", || {
        pusher.log().frames_named("pusher:pong") >= 1
    })
    .await;
    wait_for("the client's ping", || {
        pusher.log().frames_named("pusher:ping") >= 1
    })
    .await;

    // pusher:error 4200: reconnect at once, and subscribe again.
    assert_eq!(
        pusher.send_error(CHATROOM_CHANNEL, 4200, "Generic reconnect"),
        1
    );
    pusher.wait_for_subscriptions(CHATROOM_CHANNEL, 2).await;
    pusher.send_event(
        CHATROOM_CHANNEL,
        CHAT_EVENT,
        &chat_message("m2", "ViewerTwo", 22, "hello [emote:37226:KEKW]"),
    );
    pusher.send_event(
        CHATROOM_CHANNEL,
        r"App\Events\GiftedSubscriptionsEvent",
        &serde_json::json!({"chatroom_id": CHATROOM, "gifted_usernames": ["a", "b"], "gifter_username": "Gifter"}),
    );
    pusher.send_event(
        CHATROOM_CHANNEL,
        r"App\Events\PinnedMessageCreatedEvent",
        &serde_json::json!({"message": {"id": "m2"}}),
    );
    // A chat event without its sender's name cannot be read: skipped and counted, the connection
    // kept.
    pusher.send_event(
        CHATROOM_CHANNEL,
        CHAT_EVENT,
        &serde_json::json!({"id": "broken", "content": "x", "sender": {"id": 1}}),
    );
    pusher.send_event(
        STREAM_CHANNEL,
        r"App\Events\StreamerIsLive",
        &serde_json::json!({"livestream": {"id": 888, "channel_id": 9001, "session_title": "Live now", "created_at": "2025-07-17T09:00:00Z"}}),
    );

    // An abrupt close (no close frame): reconnect, subscribe again, keep reading.
    wait_for("the events before the abrupt close", || {
        recorded(&t).len() >= 5
    })
    .await;
    assert_eq!(pusher.abort(CHATROOM_CHANNEL), 1);
    pusher.wait_for_subscriptions(CHATROOM_CHANNEL, 3).await;
    // Past the trigger's 2 s creator cooldown: the clock is the event's own timestamp, so the
    // message is dated 3 s later.
    let m3 = later(chat_message("m3", "ViewerThree", 33, "!ping"), 3);
    pusher.send_event(CHATROOM_CHANNEL, CHAT_EVENT, &m3);
    // A re-delivery of the same message is recorded and answered once.
    pusher.send_event(CHATROOM_CHANNEL, CHAT_EVENT, &m3);
    api.wait_for_chat(2).await;
    assert_eq!(api.refreshes().len(), 1, "the refreshed token kept working");
    let refreshed = api.access_token();
    assert!(api.chat().iter().skip(1).all(|p| p.bearer == refreshed));

    wait_for("the re-delivery skipped as a duplicate", || {
        std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .is_some_and(|s| s["counters"]["duplicates_skipped"].as_u64() >= Some(1))
    })
    .await;
    let (code, stderr) = stop(child).await;
    assert_eq!(code, 0, "{stderr}");

    let events = recorded(&t);
    let ids: Vec<&str> = events.iter().map(|e| e.message_id.as_str()).collect();
    for id in ["m1", "m2", "m3"] {
        assert_eq!(
            ids.iter().filter(|i| **i == id).count(),
            1,
            "{id} in {ids:?}"
        );
    }
    let m2 = events.iter().find(|e| e.message_id == "m2").unwrap();
    assert_eq!(m2.text, "hello KEKW");
    assert_eq!((m2.emotes[0].start, m2.emotes[0].end), (6, 9));
    assert!(m2.author.roles.subscriber);
    // The gift is stored and exported with its typed fields.
    let gift = events
        .iter()
        .find(|e| e.kind == EventKind::Subscription)
        .unwrap();
    assert_eq!(gift.author.display_name, "Gifter");
    let mut want = ss::event::Subscription::new(ss::event::SubKind::CommunityGift);
    want.count = Some(2);
    assert_eq!(
        gift.detail.as_deref(),
        Some(&ss::event::EventDetail::Subscription(want))
    );
    let signals: serde_json::Value =
        serde_json::from_str(&t.read("runtime/signals/chat_events.json")).unwrap();
    let exported = signals["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["message_id"] == gift.message_id.as_str())
        .unwrap_or_else(|| panic!("the gift is not in {signals}"));
    assert_eq!(exported["kind"], "subscription");
    assert_eq!(
        exported["detail"],
        serde_json::json!({"type": "subscription", "kind": "community_gift", "count": 2})
    );
    assert_eq!(
        exported["extras"]["recipients"],
        serde_json::json!(["a", "b"])
    );
    let live = events
        .iter()
        .find(|e| e.kind == EventKind::StreamOnline)
        .unwrap();
    assert_eq!(
        live.detail.as_deref(),
        Some(&ss::event::EventDetail::Stream(ss::event::StreamChange {
            stream_id: Some("888".into()),
            title: Some("Live now".into()),
        }))
    );
    assert!(events.iter().any(|e| e.kind == EventKind::Other
        && e.extras.get("event") == Some(r"App\Events\PinnedMessageCreatedEvent".into())));
    assert_eq!(api.chat().iter().filter(|p| p.status == 200).count(), 2);

    let snapshot = snapshot(&t);
    assert_eq!(
        snapshot["counters"]["guards"]["events_unreadable"], 1,
        "{snapshot}"
    );
    assert!(!ids.contains(&"broken"), "{ids:?}");
    let kick = kick_status(&snapshot);
    assert!(kick["reconnects"].as_u64().unwrap() >= 2, "{kick}");
    assert_eq!(kick["live"]["live"], true, "{kick}");
    assert_eq!(kick["live"]["stream"]["id"], "888", "{kick}");

    // The refreshed pair is kept for the next run, readable by the owner only.
    let file = t.path().join("runtime/state/kick/demo.token.json");
    let stored = std::fs::read_to_string(&file).unwrap();
    assert!(stored.contains(&refreshed));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let refreshed_refresh: serde_json::Value = serde_json::from_str(&stored).unwrap();
    let also = [
        refreshed.clone(),
        refreshed_refresh["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned(),
    ];
    assert!(
        stderr.contains("Subscribed to the chatroom"),
        "ran at -vv: {stderr}"
    );
    assert_no_secret(&stderr, "the -vv log", &also);
    assert_exports_hold_no_secret(&t, &also);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_kick_blocks_stops_the_source_once_naming_chatroom_id() {
    let pusher = PusherServer::start(120).await;
    let api = KickApi::start("a", REFRESH, CLIENT_ID, CLIENT_SECRET, CHATROOM).await;
    let mut block = kick_block();
    block["channel"] = "blocked".into();
    let t = kick_root(&pusher, &api, block);
    let child = spawn_run(&t, &[]);
    wait_for("the lookup", || !api.lookups().is_empty()).await;
    wait_for("the failed source in the snapshot", || {
        std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .is_some_and(|s| kick_status(&s)["state"] == "failed")
    })
    .await;
    // A failed source is not retried: the state is final and the channel was looked up once.
    let (code, stderr) = stop(child).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(api.lookups(), ["blocked"], "looked up once, not in a loop");
    assert!(pusher.log().paths.is_empty());
    let kick = kick_status(&snapshot(&t));
    let error = kick["last_error"].as_str().unwrap();
    assert!(
        error.contains("HTTP 403")
            && error.contains("`chatroom_id`")
            && error.contains("creators.json"),
        "{error}"
    );
    assert_eq!(stderr.matches("Source stopped").count(), 1, "{stderr}");
}

/// Signs a delivery like Kick: RSA PKCS#1 v1.5 SHA-256 over `id.timestamp.body`, base64.
fn sign(message_id: &str, timestamp: &str, body: &str) -> String {
    use tokio_rustls::rustls::pki_types::PrivatePkcs8KeyDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let pem =
        std::fs::read(crate::harness::repo().join("tests/fixtures/kick_webhook_test_key.pem"))
            .unwrap();
    let der = PrivatePkcs8KeyDer::from_pem_slice(&pem).unwrap();
    let key = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        format!("{message_id}.{timestamp}.{body}").as_bytes(),
        &mut signature,
    )
    .unwrap();
    base64::engine::general_purpose::STANDARD.encode(signature)
}

async fn deliver(
    port: u16,
    message_id: &str,
    event_type: &str,
    body: &str,
    signature: Option<&str>,
) -> u16 {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    deliver_signed_at(port, message_id, event_type, body, signature, &now)
        .await
        .0
}

/// A delivery signed at `timestamp`: the status and the answer's text.
async fn deliver_signed_at(
    port: u16,
    message_id: &str,
    event_type: &str,
    body: &str,
    signature: Option<&str>,
    timestamp: &str,
) -> (u16, String) {
    let mut request = ss::http_out::builder()
        .unwrap()
        .build()
        .unwrap()
        .post(format!("http://127.0.0.1:{port}/webhooks/kick"))
        .header("Kick-Event-Message-Id", message_id)
        .header("Kick-Event-Message-Timestamp", timestamp)
        .header("Kick-Event-Type", event_type)
        .header("Kick-Event-Version", "1")
        .body(body.to_owned());
    let signed = sign(message_id, timestamp, body);
    if let Some(signature) = signature.or(Some(&signed)).filter(|s| !s.is_empty()) {
        request = request.header("Kick-Event-Signature", signature);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap_or_default())
}

fn webhook_chat(message_id: &str) -> String {
    serde_json::json!({
        "message_id": message_id, "replies_to": null,
        "broadcaster": {"is_anonymous": false, "user_id": 123456789, "username": "Demo", "is_verified": true,
          "profile_picture": "https://x", "channel_slug": "demo-channel", "identity": null},
        "sender": {"is_anonymous": false, "user_id": 987654321, "username": "sender_name", "is_verified": false,
          "profile_picture": "https://x", "channel_slug": "sender_channel",
          "identity": {"username_color": "#FF5733", "badges": [{"text": "Moderator", "type": "moderator"}]}},
        "content": "Hello [emote:37226:KEKW]",
        "emotes": [{"emote_id": "37226", "positions": [{"s": 6, "e": 23}]}],
        "created_at": chrono::Utc::now().to_rfc3339(),
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhooks_are_recorded_once_and_bad_signatures_get_401() {
    let pusher = PusherServer::start(120).await;
    let api = KickApi::start("a", REFRESH, CLIENT_ID, CLIENT_SECRET, CHATROOM).await;
    let mut block = kick_block();
    block["chatroom_id"] = CHATROOM.into();
    block["broadcaster_user_id"] = 123_456_789.into();
    let t = kick_root(&pusher, &api, block);
    std::fs::copy(
        crate::harness::repo().join("tests/fixtures/kick_webhook_test_key.pub.pem"),
        t.path().join("kick_webhook_test_key.pub.pem"),
    )
    .unwrap();
    let mut platforms: serde_json::Value =
        serde_json::from_str(&t.read("runtime/config/platforms.json")).unwrap();
    platforms["platforms"]["kick"]["webhook_public_key_file"] =
        "kick_webhook_test_key.pub.pem".into();
    t.write("runtime/config/platforms.json", &platforms.to_string());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let system = t.read("runtime/config/system.json").replacen(
        "{",
        &format!("{{\n  \"http\": {{\"enabled\": true, \"listen\": \"127.0.0.1:{port}\"}},"),
        1,
    );
    t.write("runtime/config/system.json", &system);
    t.run(&["validate-config"]).status(0);
    let child = spawn_run(&t, &[]);
    pusher.wait_for_subscriptions(CHATROOM_CHANNEL, 1).await;
    assert!(api.lookups().is_empty(), "chatroom_id is set: no lookup");

    // The same delivery three times (Kick's retries), and the same message over Pusher too.
    let body = webhook_chat("wh-1");
    for _ in 0..3 {
        assert_eq!(
            deliver(port, "01JWH1", "chat.message.sent", &body, None).await,
            200
        );
    }
    pusher.send_event(
        CHATROOM_CHANNEL,
        CHAT_EVENT,
        &serde_json::json!({"id": "wh-1", "content": "Hello [emote:37226:KEKW]", "type": "message",
            "created_at": chrono::Utc::now().to_rfc3339(),
            "sender": {"id": 987654321, "username": "sender_name", "slug": "sender_channel",
              "identity": {"color": "#FF5733", "badges": [{"type": "moderator"}]}}}),
    );
    // A subscription has no id of its own: the delivery id makes its retries dedupe too.
    let sub = r#"{"broadcaster":{"user_id":123456789,"channel_slug":"demo-channel"},"subscriber":{"user_id":5,"username":"NewSub","channel_slug":"newsub"},"duration":1}"#;
    for _ in 0..2 {
        assert_eq!(
            deliver(port, "01JWH2", "channel.subscription.new", sub, None).await,
            200
        );
    }
    // Refused: a signature over other bytes, none at all, and signed garbage.
    let forged = sign("01JWH3", "2025-01-14T16:08:07Z", "{}");
    assert_eq!(
        deliver(
            port,
            "01JWH3",
            "chat.message.sent",
            &webhook_chat("wh-bad"),
            Some(&forged)
        )
        .await,
        401
    );
    assert_eq!(
        deliver(
            port,
            "01JWH4",
            "chat.message.sent",
            &webhook_chat("wh-unsigned"),
            Some("")
        )
        .await,
        401
    );
    assert_eq!(
        deliver(port, "01JWH5", "chat.message.sent", "{not json", None).await,
        400
    );
    let huge = webhook_chat(&"x".repeat(70 * 1024));
    assert_eq!(
        deliver(port, "01JWH6", "chat.message.sent", &huge, None).await,
        413
    );

    // A captured delivery sent again long after it was signed: refused as a replay.
    let long_ago = (chrono::Utc::now() - chrono::Duration::minutes(11))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (status, text) = deliver_signed_at(
        port,
        "01JWH7",
        "chat.message.sent",
        &webhook_chat("wh-replayed"),
        None,
        &long_ago,
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("refused as a replay"), "{text}");

    wait_for("the webhook events recorded", || recorded(&t).len() >= 2).await;
    let (code, stderr) = stop(child).await;
    assert_eq!(code, 0, "{stderr}");
    let events = recorded(&t);
    let ids: Vec<&str> = events.iter().map(|e| e.message_id.as_str()).collect();
    assert_eq!(ids.iter().filter(|i| **i == "wh-1").count(), 1, "{ids:?}");
    assert_eq!(
        ids.iter().filter(|i| **i == "webhook-01JWH2").count(),
        1,
        "{ids:?}"
    );
    assert!(
        !ids.iter()
            .any(|i| i.contains("wh-bad") || i.contains("wh-unsigned")),
        "{ids:?}"
    );
    assert_eq!(events.len(), 2, "{ids:?}");
    let wh1 = events.iter().find(|e| e.message_id == "wh-1").unwrap();
    assert_eq!(
        (wh1.text.as_str(), wh1.channel.as_str()),
        ("Hello KEKW", "demo-channel")
    );
    assert!(wh1.author.roles.moderator);
    let guards = &snapshot(&t)["counters"]["guards"];
    assert_eq!(guards["webhook_bad_signatures"], 2, "{guards}");
    assert_eq!(guards["webhook_malformed"], 1, "{guards}");
    assert_eq!(guards["webhook_stale"], 1, "{guards}");
    assert_no_secret(&stderr, "the -vv log", &[]);
    // After a restart, a delivery accepted before (inside the window) is still known.
    let child = spawn_run(&t, &[]);
    pusher.wait_for_subscriptions(CHATROOM_CHANNEL, 2).await;
    let (status, text) = deliver_signed_at(
        port,
        "01JWH2",
        "channel.subscription.new",
        sub,
        None,
        &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
    .await;
    assert_eq!((status, text.as_str()), (200, "already accepted\n"));
    let (code, stderr) = stop(child).await;
    assert_eq!(code, 0, "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_is_reported_as_a_login_failure_and_not_retried() {
    let pusher = PusherServer::start(120).await;
    // The API knows another refresh token: the refresh is refused.
    let api = KickApi::start(
        "valid",
        "another-refresh-token",
        CLIENT_ID,
        CLIENT_SECRET,
        CHATROOM,
    )
    .await;
    let mut block = kick_block();
    block["chatroom_id"] = CHATROOM.into();
    block["broadcaster_user_id"] = 4242.into();
    let t = kick_root(&pusher, &api, block);
    let child = spawn_run(&t, &[]);
    pusher.wait_for_subscriptions(CHATROOM_CHANNEL, 1).await;
    pusher.send_event(
        CHATROOM_CHANNEL,
        CHAT_EVENT,
        &chat_message("r1", "ViewerOne", 11, "!ping"),
    );
    wait_for("the refused refresh", || api.refreshes().len() == 1).await;
    wait_for("the login failure in the snapshot", || {
        std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .is_some_and(|s| {
                kick_status(&s)["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("login failed"))
            })
    })
    .await;
    // Reading goes on; a later `!ping` (dated past the 2 s cooldown) is recorded, and no send or
    // refresh is tried again.
    pusher.send_event(
        CHATROOM_CHANNEL,
        CHAT_EVENT,
        &later(chat_message("r2", "ViewerTwo", 22, "!ping"), 3),
    );
    wait_for("the second message and its reply action", || {
        store_count(
            t.path(),
            "SELECT count(*) FROM actions WHERE message_id = 'r2'",
        ) >= 1
    })
    .await;
    let (code, stderr) = stop(child).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(api.refreshes().len(), 1);
    assert_eq!(api.chat().len(), 1, "{:?}", api.chat());
    let kick = kick_status(&snapshot(&t));
    let error = kick["last_error"].as_str().unwrap();
    assert!(
        error.contains("KICK_OAUTH_TOKEN_DEMO") && error.contains("KICK_REFRESH_TOKEN_DEMO"),
        "{error}"
    );
    assert!(!t.path().join("runtime/state/kick/demo.token.json").exists());
    assert_no_secret(&stderr, "the -vv log", &[]);
    assert_exports_hold_no_secret(&t, &[]);
}

/// Adds `triggers` to the demo creator's triggers.json.
pub fn add_triggers(t: &Test, triggers: serde_json::Value) {
    let mut config: serde_json::Value =
        serde_json::from_str(&t.read("runtime/config/triggers.json")).unwrap();
    let demo = config["triggers"]["demo"].as_array_mut().unwrap();
    demo.extend(triggers.as_array().unwrap().iter().cloned());
    t.write(
        "runtime/config/triggers.json",
        &serde_json::to_string_pretty(&config).unwrap(),
    );
}

/// The moderation triggers of the banned-word tests: time the author out for ten minutes and
/// delete the message.
pub fn banned_word_triggers() -> serde_json::Value {
    serde_json::json!([
        {"id": "no-badword", "kind": "keyword", "keywords": ["badword"],
         "action": {"type": "timeout", "seconds": 600, "reason": "banned word from {user}"}},
        {"id": "drop-badword", "kind": "keyword", "keywords": ["badword"],
         "action": {"type": "delete"}},
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banned_word_times_its_author_out_and_deletes_the_message_through_kicks_api() {
    let pusher = PusherServer::start(120).await;
    let api = KickApi::start(ACCESS, REFRESH, CLIENT_ID, CLIENT_SECRET, CHATROOM).await;
    let t = kick_root(&pusher, &api, kick_block());
    add_triggers(&t, banned_word_triggers());
    t.run(&["validate-config"]).status(0);
    let child = spawn_run(&t, &[]);
    pusher.wait_for_subscriptions(CHATROOM_CHANNEL, 1).await;
    pusher.send_event(
        CHATROOM_CHANNEL,
        CHAT_EVENT,
        &chat_message("fine1", "ViewerOne", 11, "a clean message"),
    );
    pusher.send_event(
        CHATROOM_CHANNEL,
        CHAT_EVENT,
        &chat_message(
            "8f2c1a9e-0b7d-4c55-9e31-5d2f7a6b1c40",
            "Spammer",
            777,
            "buy followers badword now",
        ),
    );
    api.wait_for_moderation(2).await;
    wait_for("both commands counted as sent", || {
        std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .is_some_and(|s| s["commands"]["sent"] == 2)
    })
    .await;
    let (code, stderr) = stop(child).await;
    assert_eq!(code, 0, "{stderr}");
    let calls = api.moderation();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let ban = calls.iter().find(|c| c.method == "POST").unwrap();
    assert_eq!(ban.path, "/public/v1/moderation/bans");
    assert_eq!(ban.bearer, ACCESS);
    // The channel's broadcaster id from the lookup; Kick counts minutes.
    assert_eq!(
        ban.body,
        serde_json::json!({"broadcaster_user_id": 4242, "user_id": 777, "duration": 10,
            "reason": "banned word from Spammer"})
    );
    assert_eq!(ban.status, 200);
    let delete = calls.iter().find(|c| c.method == "DELETE").unwrap();
    assert_eq!(
        delete.path,
        "/public/v1/chat/8f2c1a9e-0b7d-4c55-9e31-5d2f7a6b1c40"
    );
    assert_eq!(delete.status, 204);
    assert!(api.chat().is_empty(), "nothing was posted in chat");
    let commands = &snapshot(&t)["commands"];
    assert_eq!(commands["queued"], 2, "{commands}");
    assert_eq!(commands["failed"], 0, "{commands}");
    assert_eq!(commands["refused"], 0, "{commands}");
    // The log line about each command names the message that caused it.
    for command in ["timeout", "delete_message"] {
        assert!(
            stderr.lines().any(|l| l.contains("Command sent")
                && l.contains(command)
                && l.contains("8f2c1a9e-0b7d-4c55-9e31-5d2f7a6b1c40")),
            "no log line for the {command} with its cause:\n{stderr}"
        );
    }
    assert_no_secret(&stderr, "the -vv log", &[]);
}

/// The Kick settings are checked by `ss validate-config`, each problem at its file, line and
/// pointer: a slug that is not one, a bad variable name, a refresh set missing a part, and a
/// platforms.json URL of the wrong scheme.
#[test]
fn validate_config_reports_kick_settings_at_their_location() {
    let t = Test::new();
    let mut creators: serde_json::Value =
        serde_json::from_str(&t.read("runtime/config/creators.json")).unwrap();
    creators["creators"][0]["platforms"]["kick"] = serde_json::json!({
        "enabled": true,
        "channel": "two words",
        "token_env": "kick-token",
        "refresh_token_env": "KICK_REFRESH_TOKEN_DEMO",
    });
    t.write(
        "runtime/config/creators.json",
        &serde_json::to_string_pretty(&creators).unwrap(),
    );
    let platforms = t.read("runtime/config/platforms.json").replace(
        "\"kick\": { \"mode\": \"active\" }",
        "\"kick\": { \"mode\": \"active\", \"oauth_url\": \"id.kick.com\" }",
    );
    assert!(platforms.contains("oauth_url"));
    t.write("runtime/config/platforms.json", &platforms);
    let out = t.run(&["validate-config"]);
    out.status(1);
    let stdout = out.stdout_in(&t);
    assert_reported(
        &stdout,
        &[
            ("creators.json", "/creators/0/platforms/kick/channel"),
            ("platforms.json", "/platforms/kick/oauth_url"),
        ],
    );
    // With the shapes right, the checks across keys run.
    creators["creators"][0]["platforms"]["kick"]["channel"] = "demo-channel".into();
    t.write(
        "runtime/config/creators.json",
        &serde_json::to_string_pretty(&creators).unwrap(),
    );
    t.write(
        "runtime/config/platforms.json",
        &platforms.replace("id.kick.com", "https://id.kick.com"),
    );
    let out = t.run(&["validate-config"]);
    out.status(1);
    let stdout = out.stdout_in(&t);
    assert_reported(
        &stdout,
        &[
            ("creators.json", "/creators/0/platforms/kick/token_env"),
            ("creators.json", "/creators/0/platforms/kick:"),
        ],
    );
    assert!(
        stdout.contains("`refresh_token_env`, `client_id_env` and `client_secret_env`"),
        "{stdout}"
    );
}

fn assert_reported(stdout: &str, found: &[(&str, &str)]) {
    for (file, pointer) in found {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(file) && l.contains(&format!(" {pointer}"))),
            "{pointer} in:\n{stdout}"
        );
    }
}
