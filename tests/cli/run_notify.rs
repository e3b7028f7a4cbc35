//! `ss run` posting to a local Discord API, Helix and X (discord_server.rs), as a user would see it:
//! a published clip ends as exactly one message with an embed in the guild's `twitch_clips`
//! channel, a 429 delays it by `retry_after` without dropping it, a `kill -9` after Discord created
//! the message but before `ss` heard back still leaves exactly one message (the nonce), and a go-live
//! found through Helix is posted once to Discord and once to X per stream, never again after the
//! stream is seen again or `ss` restarts. A clip's X post is queued with the clip's `published`
//! state, so it goes out once with no Discord at all. No token or webhook URL appears in logs or
//! exports.

use crate::discord_server::*;
use crate::harness::{Test, VerboseRun, until_within};
use serde_json::{Value, json};
use ss::routing::{PublishedClip, rules};
use ss::store::{ClipState, ClipStateChange, NewClip, StoreReader, StoreWriter, WriteOp};
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

/// Records a published clip exactly as the clip job does: the clip, then `published` with the
/// rows routing makes of it from the root's discord.json and posting.json, in one write.
pub(crate) fn publish_clip(t: &Test, clip_id: &str) {
    let db = ss::store::db_path(t.path());
    let config = ss::config::Config::load(t.path()).unwrap();
    let clip_id = clip_id.to_string();
    // The writer's blocking API runs off the test's runtime.
    std::thread::spawn(move || {
        let writer = StoreWriter::spawn(&db, 16).unwrap();
        let at = chrono::Utc::now();
        writer
            .blocking_send(WriteOp::Clip(Box::new(NewClip {
                clip_id: Some(clip_id.clone()),
                creator: "demo".into(),
                platform: ss::event::Platform::named("twitch"),
                channel: "demo".into(),
                requested_by: "viewer".into(),
                duration_s: 30,
                title: Some("Checkmate in 3 @everyone".into()),
                at,
            })))
            .unwrap();
        let (ack, done) = tokio::sync::oneshot::channel();
        writer.blocking_send(WriteOp::Flush(ack)).unwrap();
        done.blocking_recv().unwrap();
        let clip = StoreReader::open(&db)
            .unwrap()
            .clip(&clip_id)
            .unwrap()
            .unwrap();
        let url = format!("https://clips.example/{clip_id}");
        let thumbnail = format!("https://clips.example/{clip_id}.jpg");
        let published = PublishedClip {
            clip: &clip,
            url: &url,
            thumbnail_url: Some(&thumbnail),
            at,
        };
        writer
            .blocking_send(WriteOp::ClipState(Box::new(ClipStateChange {
                clip_id,
                state: ClipState::Published,
                at,
                detail: None,
                url: Some(url.clone()),
                thumbnail_url: Some(thumbnail.clone()),
                outbox: rules::clip_published(&config, &published),
            })))
            .unwrap();
        assert_eq!(writer.close().unwrap().ops_rejected, 0);
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

/// How many posts X was asked for.
fn x_requests(server: &FakeServer) -> usize {
    server
        .fake
        .lock()
        .requests
        .iter()
        .filter(|r| r.path == "/2/tweets")
        .count()
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
    let store = StoreReader::open(&ss::store::db_path(t.path())).unwrap();
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
    // Every go-live row names its stream as its cause, for Discord and X alike.
    let jobs = json_file(&t, "runtime/admin/jobs.json");
    let mut causes: Vec<(String, String)> = jobs["outbox"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "go_live")
        .map(|r| {
            (
                r["destination"].as_str().unwrap().to_string(),
                r["cause"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    causes.sort();
    assert_eq!(
        causes,
        [
            ("discord".into(), "stream:twitch:40952121085".into()),
            ("discord".into(), "stream:twitch:40952121999".into()),
            ("x".into(), "stream:twitch:40952121085".into()),
            ("x".into(), "stream:twitch:40952121999".into()),
        ]
    );
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
        StoreReader::open(&db)
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
    assert_eq!(x_requests(&server), 1, "a duplicate 403 is not retried");
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
        StoreReader::open(&db)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clips_x_post_goes_out_once_without_discord_also_across_a_restart() {
    let server = FakeServer::start().await;
    // Twitch makes the clip (no FFmpeg), `ss clip create --now` publishes it with no `ss run`.
    let t = crate::clips_support::clip_root(None, json!({"default_destination": "twitch"}));
    let (_helix, helix_url) = crate::clips_support::HelixServer::start(Some(0), false).await;
    edit(&t, "creators.json", |c| {
        c["creators"][0]["platforms"]["twitch"]["client_id_env"] = json!("TWITCH_CLIENT_ID_DEMO");
    });
    edit(&t, "platforms.json", |p| {
        p["platforms"]["twitch"] = json!({"mode": "active", "helix_url": helix_url});
    });
    // No Discord at all; X posts the creator's clips.
    edit(&t, "discord.json", |d| d["discord"]["guilds"] = json!({}));
    edit(&t, "posting.json", |p| {
        p["x"]["api_base_url"] = json!(server.url("/2"));
        p["x"]["oauth_url"] = json!(server.url("/2/oauth2/token"));
        p["x"]["rules"] = json!([{"creator": "demo", "events": ["clip_published"], "template": "New clip: {title} {url}"}]);
    });
    server.fake.lock().x_valid_token = X_OLD_TOKEN.into();
    let out = tokio::task::block_in_place(|| {
        t.cmd()
            .args([
                "clip",
                "create",
                "--creator",
                "demo",
                "--duration",
                "30",
                "--title",
                "Checkmate",
                "--now",
            ])
            .env("TWITCH_OAUTH_TOKEN_DEMO", "oauth:helix-secret-token")
            .env("TWITCH_CLIENT_ID_DEMO", "client-id-123")
            .output()
            .unwrap()
    });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let clip_id = stdout
        .split_whitespace()
        .nth(2)
        .expect("queued clip ID")
        .to_string();

    // The clip's published write queued exactly its X post, naming the clip as its cause.
    let db = ss::store::db_path(t.path());
    let rows = StoreReader::open(&db).unwrap().outbox(10).unwrap();
    let queued: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.destination.as_str(),
                r.kind.as_str(),
                r.cause.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(queued, [("x", "clip_published", format!("clip:{clip_id}"))]);

    // `ss run` with no Discord token at all sends it once.
    let running = spawn_with(&t, &[("X_USER_TOKEN", X_OLD_TOKEN)]);
    until("the clip's X post sent", || {
        StoreReader::open(&db)
            .and_then(|s| s.outbox_counts())
            .is_ok_and(|c| c == (0, 1, 0))
    })
    .await;
    let stderr = stop_with(running, "INT").await;
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("Notification sent.") && l.contains(&format!("clip:{clip_id}"))),
        "the sender's log line names the clip: {stderr}"
    );
    let text = "New clip: Checkmate https://clips.twitch.tv/FiveWordsForClipSlug";
    assert_eq!(server.fake.lock().tweets, [text]);

    // A restart reads the outbox again and sends nothing more.
    let running = spawn_with(&t, &[("X_USER_TOKEN", X_OLD_TOKEN)]);
    until("the restarted run's snapshot", || {
        std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .is_some_and(|s| s["running"] == true && s["uptime_s"].as_f64() >= Some(2.0))
    })
    .await;
    stop_with(running, "INT").await;
    assert_eq!(x_requests(&server), 1, "one X request in both runs");
    assert_eq!(server.fake.lock().tweets, [text]);
    let jobs = json_file(&t, "runtime/admin/jobs.json");
    let row = &jobs["outbox"]["rows"][0];
    assert_eq!(row["destination"], "x");
    assert_eq!(row["cause"], format!("clip:{clip_id}"));
    assert!(row["sent_at"].is_string(), "{row}");
    assert_eq!(jobs["outbox"]["rows"].as_array().unwrap().len(), 1);
}
