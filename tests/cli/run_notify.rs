//! `ss run` posting to a local Discord API, Helix and X (discord_server.rs), as a user would see it:
//! a published clip ends as exactly one message with an embed in the guild's `twitch_clips`
//! channel, a 429 delays it by `retry_after` without dropping it, a `kill -9` after Discord created
//! the message but before `ss` heard back still leaves exactly one message (the nonce), and a go-live
//! found through Helix is posted once to Discord and once to X per stream, never again after the
//! stream is seen again or `ss` restarts. No token or webhook URL appears in logs or exports.

use crate::discord_server::*;
use crate::harness::{Test, VerboseRun, until_within};
use serde_json::{Value, json};
use ss::store::{Destination, NewOutbox, StoreWriter, WriteOp};
use std::time::Duration;

const GUILD: &str = "100000000000000001";
const GENERAL: &str = "100000000000000002";
const TWITCH_CLIPS: &str = "100000000000000003";
const SECRETS: [&str; 7] = [
    BOT_TOKEN,
    CLIENT_SECRET,
    APP_TOKEN,
    X_OLD_TOKEN,
    X_FRESH_TOKEN,
    X_REFRESH_TOKEN,
    "hook-secret-Tk55",
];

fn edit(t: &Test, file: &str, f: impl FnOnce(&mut Value)) {
    let rel = format!("runtime/config/{file}");
    let mut value: Value = serde_json::from_str(&t.read(&rel)).unwrap();
    f(&mut value);
    t.write(&rel, &serde_json::to_string_pretty(&value).unwrap());
}

/// The demo root (sim at 2 events/s) with Discord, Helix and X pointed at `server`.
fn root(server: &FakeServer) -> Test {
    let t = Test::fast_demo(Some(2));
    edit(&t, "discord.json", |d| {
        d["discord"]["api_base_url"] = json!(server.url("/api/v10"));
        d["discord"]["guilds"][GUILD]["notifications"] =
            json!({"general": GENERAL, "twitch_clips": TWITCH_CLIPS});
    });
    edit(&t, "posting.json", |p| {
        p["x"]["api_base_url"] = json!(server.url("/2"));
        p["x"]["oauth_url"] = json!(server.url("/2/oauth2/token"));
    });
    t
}

/// Adds Twitch go-live through Helix to `t`'s demo creator (IRC at a closed port; only Helix matters).
fn with_helix(t: &Test, server: &FakeServer) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    edit(t, "creators.json", |c| {
        c["creators"][0]["platforms"]["twitch"] = json!({"enabled": true, "channel": "demo_channel",
            "host": "127.0.0.1", "port": closed, "tls": false,
            "client_id_env": "TWITCH_CLIENT_ID_DEMO", "client_secret_env": "TWITCH_CLIENT_SECRET_DEMO"});
    });
    edit(t, "platforms.json", |p| {
        p["platforms"]["twitch"]["helix_url"] = json!(server.url("/helix"));
        p["platforms"]["twitch"]["oauth_url"] = json!(server.url(""));
        p["platforms"]["twitch"]["live_poll_s"] = json!(1);
    });
}

/// Queues a clip-published row exactly as the clip worker does: a `WriteOp::Outbox` to the writer.
fn publish_clip(t: &Test, clip_id: &str) {
    let db = ss::store::db_path(t.path());
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let row = NewOutbox {
        creator: "demo".into(),
        destination: Destination::Discord,
        target: "clips".into(),
        kind: "clip_published".into(),
        payload: json!({"clip_id": clip_id, "creator": "demo", "platform": "twitch",
                "title": "Checkmate in 3 @everyone", "url": format!("https://clips.example/{clip_id}"),
                "thumbnail_url": format!("https://clips.example/{clip_id}.jpg"), "duration_s": 30,
                "published_at": "2026-12-02T12:00:00Z"}),
        dedupe_key: Some(format!("clip_published:{clip_id}")),
        at: chrono::Utc::now(),
    };
    // The writer's blocking API runs off the test's runtime.
    std::thread::spawn(move || {
        let writer = StoreWriter::spawn(&db, 16).unwrap();
        writer
            .blocking_send(WriteOp::Outbox(Box::new(row)))
            .unwrap();
        writer.close().unwrap();
    })
    .join()
    .unwrap();
}

fn spawn(t: &Test) -> VerboseRun {
    spawn_with(
        t,
        &[
            ("DISCORD_BOT_TOKEN", BOT_TOKEN),
            ("TWITCH_CLIENT_ID_DEMO", CLIENT_ID),
            ("TWITCH_CLIENT_SECRET_DEMO", CLIENT_SECRET),
            ("X_USER_TOKEN", X_OLD_TOKEN),
            ("X_REFRESH_TOKEN", X_REFRESH_TOKEN),
            ("X_CLIENT_ID", X_CLIENT_ID),
        ],
    )
}

/// `ss -vv run` with exactly `env` set.
fn spawn_with(t: &Test, env: &[(&str, &str)]) -> VerboseRun {
    t.spawn_verbose_run(env)
}

/// Stops `ss` with `signal_name`; all of its stderr. Anything but a kill must stop it cleanly.
async fn stop_with(running: VerboseRun, signal_name: &str) -> String {
    let (code, stderr) = running.stop_with(signal_name).await;
    if signal_name != "KILL" {
        assert_eq!(code, Some(0), "ss run did not stop cleanly");
    }
    stderr
}

async fn until(what: &str, ok: impl FnMut() -> bool) {
    until_within(Duration::from_secs(30), what, ok).await
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn assert_no_secret(t: &Test, stderr: &str) {
    for secret in SECRETS {
        assert!(!stderr.contains(secret), "a secret leaked into the logs");
    }
    for dir in ["exports", "signals", "admin"] {
        for file in walk(&t.path().join("runtime").join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            for secret in SECRETS {
                assert!(!text.contains(secret), "a secret in {}", file.display());
            }
        }
    }
}

fn json_file(t: &Test, rel: &str) -> Value {
    serde_json::from_str(&t.read(rel)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_clip_is_one_embed_in_twitch_clips_after_waiting_out_a_429() {
    let server = FakeServer::start().await;
    let t = root(&server);
    server.fake.lock().rate_limit_next.push_back(0.4);
    publish_clip(&t, "clip-1");

    let running = spawn(&t);
    until("the clip message", || {
        !server.fake.messages_in(TWITCH_CLIPS).is_empty()
    })
    .await;
    let stderr = stop_with(running, "INT").await;

    let messages = server.fake.messages_in(TWITCH_CLIPS);
    assert_eq!(messages.len(), 1, "exactly one message");
    assert!(server.fake.messages_in(GENERAL).is_empty());
    let body = &messages[0].body;
    assert_eq!(body["embeds"][0]["title"], "Checkmate in 3 @everyone");
    assert_eq!(body["embeds"][0]["url"], "https://clips.example/clip-1");
    assert_eq!(
        body["embeds"][0]["thumbnail"]["url"],
        "https://clips.example/clip-1.jpg"
    );
    assert_eq!(body["embeds"][0]["color"], 0x0091_46FF);
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
    // The 429 was waited out: the retry came no sooner than retry_after.
    let posts: Vec<Seen> = server
        .fake
        .lock()
        .requests
        .iter()
        .filter(|r| r.path.ends_with("/messages"))
        .cloned()
        .collect();
    assert_eq!(
        posts.iter().map(|r| r.status).collect::<Vec<_>>(),
        [429, 200]
    );
    assert!(posts[1].at.duration_since(posts[0].at) >= Duration::from_millis(400));

    let jobs = json_file(&t, "runtime/admin/jobs.json");
    assert_eq!(jobs["outbox"]["sent"], 1);
    assert_eq!(jobs["outbox"]["pending"], 0);
    let snapshot = json_file(&t, "runtime/exports/runtime_snapshot.json");
    assert_eq!(snapshot["notify"]["discord"]["sent"], 1);
    assert_eq!(snapshot["notify"]["discord"]["rate_limited"], 1);
    assert_no_secret(&t, &stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_after_discord_created_the_message_still_posts_it_once() {
    let server = FakeServer::start().await;
    let t = root(&server);
    server.fake.lock().hang_next = true;
    publish_clip(&t, "clip-2");

    // Discord creates the message and never answers; ss dies waiting.
    let running = spawn(&t);
    until("the first attempt", || {
        !server.fake.messages_in(TWITCH_CLIPS).is_empty()
    })
    .await;
    stop_with(running, "KILL").await;
    let store = ss::store::Store::open(&ss::store::db_path(t.path())).unwrap();
    assert_eq!(
        store.outbox_counts().unwrap(),
        (1, 0, 0),
        "still pending after the kill"
    );

    // The restart sends it again with the same nonce; Discord answers with the message it has.
    let running = spawn(&t);
    until("the row to be sent", || {
        store.outbox_counts().unwrap() == (0, 1, 0)
    })
    .await;
    let stderr = stop_with(running, "INT").await;
    assert_eq!(
        server.fake.messages_in(TWITCH_CLIPS).len(),
        1,
        "exactly one message"
    );
    let posts = server
        .fake
        .lock()
        .requests
        .iter()
        .filter(|r| r.path.ends_with("/messages"))
        .count();
    assert_eq!(posts, 2, "one attempt per run");
    assert_no_secret(&t, &stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_go_live_is_posted_once_to_discord_and_x_per_stream_across_reconnects_and_restarts() {
    let server = FakeServer::start().await;
    let t = root(&server);
    with_helix(&t, &server);
    server.fake.lock().live = Some(("40952121085".into(), "Chess night".into()));

    let running = spawn(&t);
    until("the go-live posts", || {
        server.fake.messages_in(GENERAL).len() == 1 && server.fake.lock().tweets.len() == 1
    })
    .await;
    // Offline, then live again with the same stream (a reconnect): nothing new.
    server.fake.lock().live = None;
    let polls = server.fake.lock().helix_polls;
    until("an offline poll", || {
        server.fake.lock().helix_polls >= polls + 2
    })
    .await;
    server.fake.lock().live = Some(("40952121085".into(), "Chess night".into()));
    let polls = server.fake.lock().helix_polls;
    until("two polls live again", || {
        server.fake.lock().helix_polls >= polls + 3
    })
    .await;
    let stderr = stop_with(running, "INT").await;
    assert_no_secret(&t, &stderr);

    // A restart sees the same stream: still one post each.
    let running = spawn(&t);
    let polls = server.fake.lock().helix_polls;
    until("polls after the restart", || {
        server.fake.lock().helix_polls >= polls + 3
    })
    .await;
    assert_eq!(server.fake.messages_in(GENERAL).len(), 1);
    assert_eq!(server.fake.lock().tweets.len(), 1);

    // The next stream is posted.
    server.fake.lock().live = Some(("40952121999".into(), "Endgames".into()));
    until("the second stream's posts", || {
        server.fake.messages_in(GENERAL).len() == 2 && server.fake.lock().tweets.len() == 2
    })
    .await;
    let stderr = stop_with(running, "INT").await;
    assert_no_secret(&t, &stderr);

    let general = server.fake.messages_in(GENERAL);
    assert_eq!(
        general[0].body["content"],
        "Demo Creator is live on twitch: Chess night https://www.twitch.tv/demo_channel"
    );
    assert_eq!(general[0].body["embeds"][0]["title"], "Chess night");
    assert_eq!(
        server.fake.lock().tweets,
        [
            "Demo Creator is live on twitch: Chess night https://www.twitch.tv/demo_channel",
            "Demo Creator is live on twitch: Endgames https://www.twitch.tv/demo_channel",
        ]
    );
    let snapshot = json_file(&t, "runtime/exports/runtime_snapshot.json");
    let twitch = snapshot["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["platform"] == "twitch")
        .unwrap()
        .clone();
    assert_eq!(twitch["live"]["stream"]["id"], "40952121999");
    assert_eq!(snapshot["notify"]["x"]["sent"], 1, "this run's X posts");
}

#[test]
fn the_demo_config_runs_offline_with_posting_waiting_for_its_tokens() {
    let t = Test::fast_demo(Some(2));
    let out = t.run(&["run", "--duration", "1500ms"]);
    out.status(0);
    let snapshot = json_file(&t, "runtime/exports/runtime_snapshot.json");
    assert_eq!(snapshot["notify"]["discord"]["state"], "not_configured");
    assert_eq!(snapshot["notify"]["x"]["state"], "not_configured");
    assert!(!out.stderr.contains("ERROR"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clip_reaches_every_guild_of_its_creator_and_a_duplicate_on_x_is_not_retried() {
    let server = FakeServer::start().await;
    let t = root(&server);
    let hook = server.url("/api/webhooks/223344556677889900/hook-secret-Tk55");
    edit(&t, "discord.json", |d| {
        d["discord"]["guilds"]["100000000000000011"] = json!({"creator": "demo",
            "webhook_url_env": "DEMO_GUILD_WEBHOOK", "notifications": {"general": "100000000000000012"}});
    });
    edit(&t, "posting.json", |p| {
        p["x"]["rules"] = json!([{"creator": "demo", "events": ["clip_published"], "template": "New clip: {title} {url}"}]);
    });
    {
        let mut s = server.fake.lock();
        s.x_valid_token = X_OLD_TOKEN.into();
        // The same text was posted before: X answers 403.
        s.tweets
            .push("New clip: Checkmate in 3 @everyone https://clips.example/clip-3".into());
    }
    publish_clip(&t, "clip-3");

    let running = spawn_with(
        &t,
        &[
            ("DISCORD_BOT_TOKEN", BOT_TOKEN),
            ("DEMO_GUILD_WEBHOOK", &hook),
            ("X_USER_TOKEN", X_OLD_TOKEN),
        ],
    );
    let db = ss::store::db_path(t.path());
    until("the clip sent and its X post failed", || {
        ss::store::Store::open(&db)
            .and_then(|s| s.outbox_counts())
            .is_ok_and(|c| c == (0, 1, 1))
    })
    .await;
    let stderr = stop_with(running, "INT").await;

    assert_eq!(server.fake.messages_in(TWITCH_CLIPS).len(), 1);
    let hooked = server.fake.messages_in("webhook:223344556677889900");
    assert_eq!(hooked.len(), 1, "the webhook guild got it too");
    assert_eq!(
        hooked[0].body["embeds"][0]["title"],
        "Checkmate in 3 @everyone"
    );
    let tweets = server
        .fake
        .lock()
        .requests
        .iter()
        .filter(|r| r.path == "/2/tweets")
        .count();
    assert_eq!(tweets, 1, "a duplicate 403 is not retried");
    let jobs = json_file(&t, "runtime/admin/jobs.json");
    let failed = jobs["outbox"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["destination"] == "x")
        .unwrap()
        .clone();
    assert_eq!(failed["failed"], true);
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap()
            .contains("duplicate content"),
        "{failed}"
    );
    assert_no_secret(&t, &stderr);
    assert!(
        !stderr.contains("223344556677889900/hook"),
        "the webhook URL leaked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_bot_token_fails_each_row_once_and_is_reported_once() {
    let server = FakeServer::start().await;
    let t = root(&server);
    publish_clip(&t, "clip-4");
    publish_clip(&t, "clip-5");
    let running = spawn_with(&t, &[("DISCORD_BOT_TOKEN", "wrong-token-Hh42")]);
    let db = ss::store::db_path(t.path());
    until("both rows failed", || {
        ss::store::Store::open(&db)
            .and_then(|s| s.outbox_counts())
            .is_ok_and(|c| c == (0, 0, 2))
    })
    .await;
    let stderr = stop_with(running, "INT").await;
    let posts = server
        .fake
        .lock()
        .requests
        .iter()
        .filter(|r| r.path.ends_with("/messages"))
        .count();
    assert_eq!(posts, 2, "one request per row, no retry storm");
    let reported = stderr
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("401 Unauthorized"))
        .count();
    assert_eq!(reported, 1, "the configuration problem is reported once");
    assert!(!stderr.contains("wrong-token-Hh42"));
    let snapshot = json_file(&t, "runtime/exports/runtime_snapshot.json");
    assert_eq!(snapshot["notify"]["discord"]["state"], "config_error");
    assert_eq!(snapshot["notify"]["discord"]["failed"], 2);
}
