//! Clips end to end: a live FFmpeg test stream captured by `ss run`, `!clip 10` in chat over the
//! loopback Twitch server, an MP4 in clips/output checked with ffprobe, the history in clips.json,
//! the clip-published notification posted once to the guild's `twitch_clips` channel of a loopback
//! Discord API, a kill -9 during encoding, and no FFmpeg left behind.

use crate::clips_support::*;
use crate::harness::{Test, exit_code_within, signal};
use crate::twitch_server::{ServerOptions, TwitchServer};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;

fn privmsg(id: &str, user: &str, text: &str) -> String {
    let ts = chrono::Utc::now().timestamp_millis();
    format!(
        "@badge-info=;badges=;color=#1E90FF;display-name={user};emotes=;first-msg=0;flags=;id={id};mod=0;returning-chatter=0;room-id=11111111;subscriber=0;tmi-sent-ts={ts};turbo=0;user-id=22222222;user-type= :{user}!{user}@{user}.tmi.twitch.tv PRIVMSG #demo_channel :{text}"
    )
}

/// The demo creator reads Twitch chat from the loopback server and anyone may `!clip`.
fn with_twitch_chat(t: &Test, port: u16) {
    edit_json(t, "runtime/config/creators.json", |c| {
        c["creators"][0]["platforms"]["twitch"]["enabled"] = json!(true);
    });
    edit_json(t, "runtime/config/platforms.json", |p| {
        p["platforms"]["twitch"] =
            json!({"mode": "active", "host": "127.0.0.1", "port": port, "tls": false});
    });
    t.write(
        "runtime/config/triggers.json",
        r#"{"triggers": {"demo": [
            {"id": "clip", "kind": "command", "command": "!clip", "platforms": ["twitch"], "action": {"type": "clip", "duration_s": 30}}
        ]}}"#,
    );
}

/// Waits until the capture has buffered `seconds` of stream; returns the end of the buffer.
pub(crate) fn buffered(t: &Test, seconds: i64) -> chrono::DateTime<chrono::Utc> {
    wait_for("the replay buffer", Duration::from_secs(60), || {
        let snap = read_json(t, "runtime/exports/runtime_snapshot.json")?;
        let capture = snap["captures"].get(0)?;
        let from = capture["buffer_from"]
            .as_str()?
            .parse::<chrono::DateTime<chrono::Utc>>()
            .ok()?;
        let until = capture["recorded_until"]
            .as_str()?
            .parse::<chrono::DateTime<chrono::Utc>>()
            .ok()?;
        ((until - from).num_seconds() >= seconds).then_some(until)
    })
}

fn clip_in_export(t: &Test, id: &str) -> Option<Value> {
    exported_clips(t).into_iter().find(|c| c["clip_id"] == id)
}

pub(crate) fn states(clip: &Value) -> Vec<String> {
    clip["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap().to_string())
        .collect()
}

fn output_files(t: &Test) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(t.path().join("clips/output"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bang_clip_10_in_chat_publishes_a_ten_second_mp4_with_its_whole_history() {
    let stream = TestStream::start("320x240");
    let server = TwitchServer::start(ServerOptions::default()).await;
    let discord = crate::discord_server::FakeServer::start().await;
    let t = clip_root(
        Some(&stream.url()),
        json!({"post_roll_s": 0, "public_url_base": "https://clips.example/media"}),
    );
    with_twitch_chat(&t, server.port());
    edit_json(&t, "runtime/config/discord.json", |d| {
        d["discord"]["api_base_url"] = json!(discord.url("/api/v10"));
    });
    let twitch_clips = {
        let d: Value = serde_json::from_str(&t.read("runtime/config/discord.json")).unwrap();
        let guild = d["discord"]["guilds"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap();
        guild["notifications"]["twitch_clips"]
            .as_str()
            .unwrap()
            .to_string()
    };
    t.run(&["validate-config"]).status(0);
    let mut child: crate::harness::Spawned = t
        .std_cmd()
        .arg("run")
        .env("TWITCH_OAUTH_TOKEN_DEMO", "oauth:e2e-secret-token")
        .env("DISCORD_BOT_TOKEN", crate::discord_server::BOT_TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .into();
    server.wait_for_joins(1).await;
    tokio::task::block_in_place(|| buffered(&t, 11));

    let asked = chrono::Utc::now();
    server
        .send_to_joined(&privmsg("clip-1", "viewer_one", "!clip 10"))
        .await;
    let clip = tokio::task::block_in_place(|| {
        wait_for(
            "the clip to be published or fail",
            Duration::from_secs(150),
            || {
                exported_clips(&t)
                    .into_iter()
                    .find(|c| c["state"] == "published" || c["state"] == "failed")
            },
        )
    });
    if clip["state"] != "published" {
        let captures =
            read_json(&t, "runtime/exports/runtime_snapshot.json").map(|s| s["captures"].clone());
        panic!("the clip failed: {clip:#}\ncaptures: {captures:#?}");
    }
    let id = clip["clip_id"].as_str().unwrap().to_string();
    tokio::task::block_in_place(|| {
        wait_for(
            "the clip posted to Discord",
            Duration::from_secs(30),
            || (!discord.fake.messages_in(&twitch_clips).is_empty()).then_some(()),
        )
    });

    // A window older than the buffer, asked for beside the running daemon: refused with the
    // reason, nothing recorded.
    let hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let refused = t.run(&[
        "clip",
        "create",
        "--creator",
        "demo",
        "--duration",
        "5",
        "--at",
        &hour_ago,
    ]);
    refused.status(2);
    assert!(
        refused
            .stderr
            .contains("starts before demo's replay buffer"),
        "{}",
        refused.stderr
    );
    assert_eq!(stored_clip_ids(&t), vec![id.clone()]);

    signal(&child, "INT");
    let code =
        tokio::task::block_in_place(|| exit_code_within(&mut child, Duration::from_secs(20)));
    assert_eq!(code, 0);
    assert_eq!(
        processes_mentioning(&t.path().display().to_string()),
        Vec::<String>::new(),
        "no FFmpeg outlives ss run"
    );

    // The MP4: ten seconds (± 0.5: a stream copy keeps the window's length) with video, its
    // thumbnail beside it, nothing else.
    let (duration, video) = probe(&t.path().join(format!("clips/output/{id}.mp4")));
    assert!((duration - 10.0).abs() <= 0.5, "duration {duration}");
    assert!(video);
    assert_eq!(output_files(&t), [format!("{id}.jpg"), format!("{id}.mp4")]);
    let clip = clip_in_export(&t, &id).unwrap();
    assert_eq!(clip["duration_s"], 10);
    assert_eq!(clip["platform"], "twitch");
    assert_eq!(clip["requested_by"], "viewer_one");
    assert_eq!(clip["url"], format!("https://clips.example/media/{id}.mp4"));
    assert_eq!(
        states(&clip),
        ["queued", "encoding", "encoded", "uploading", "published"]
    );
    let times: Vec<&str> = clip["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["at"].as_str().unwrap())
        .collect();
    let parsed: Vec<chrono::DateTime<chrono::Utc>> =
        times.iter().map(|t| t.parse().unwrap()).collect();
    assert!(parsed.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

    // Exactly one clip-published notification, with the contract's payload.
    let notes = published_notifications(&t);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].0, format!("clip_published:{id}"));
    let payload = &notes[0].1;
    for key in [
        "clip_id",
        "creator",
        "platform",
        "title",
        "url",
        "thumbnail_url",
        "duration_s",
        "published_at",
    ] {
        assert!(payload.get(key).is_some(), "{key} in {payload}");
    }
    assert_eq!(
        payload["thumbnail_url"],
        format!("https://clips.example/media/{id}.jpg")
    );

    // ... and it became exactly one Discord message, an embed linking the clip, in `twitch_clips`.
    let messages = discord.fake.messages_in(&twitch_clips);
    assert_eq!(messages.len(), 1, "{messages:?}");
    let embed = &messages[0].body["embeds"][0];
    assert_eq!(
        embed["url"],
        format!("https://clips.example/media/{id}.mp4")
    );
    assert_eq!(
        embed["thumbnail"]["url"],
        format!("https://clips.example/media/{id}.jpg")
    );
    assert_eq!(messages[0].body["allowed_mentions"], json!({"parse": []}));
    assert_eq!(discord.fake.lock().messages.len(), 1, "no other channel");

    let published: chrono::DateTime<chrono::Utc> =
        clip["published_at"].as_str().unwrap().parse().unwrap();
    eprintln!(
        "clip latency (stream copy): !clip sent {asked}, published {published}: {} ms",
        (published - asked).num_milliseconds()
    );
}

#[test]
fn a_kill_during_encoding_resumes_once_after_restart_with_no_partial_file() {
    let stream = TestStream::start("640x360");
    let t = clip_root(
        Some(&stream.url()),
        json!({"reencode": true, "post_roll_s": 1}),
    );
    let mut first = t.spawn(&["run"]);
    buffered(&t, 12);
    let created = t.run(&[
        "clip",
        "create",
        "--creator",
        "demo",
        "--duration",
        "10",
        "--title",
        "kill test",
    ]);
    created.status(0);
    let id = created
        .stdout
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_string();

    wait_for("the job to start encoding", Duration::from_secs(60), || {
        (stored_state(&t, &id).as_deref() == Some("encoding")).then_some(())
    });
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(
        stored_state(&t, &id).as_deref(),
        Some("encoding"),
        "killed while encoding"
    );
    assert!(
        !output_files(&t).iter().any(|f| f.starts_with(&id)),
        "no partial file is visible: {:?}",
        output_files(&t)
    );
    // The killed run's FFmpeg children die with it.
    wait_for(
        "FFmpeg children to die with ss",
        Duration::from_secs(5),
        || {
            processes_mentioning(&t.path().display().to_string())
                .is_empty()
                .then_some(())
        },
    );

    let mut second = t.spawn(&["run"]);
    let clip = wait_for(
        "the resumed clip published",
        Duration::from_secs(90),
        || clip_in_export(&t, &id).filter(|c| c["state"] == "published"),
    );
    signal(&second, "INT");
    assert_eq!(exit_code_within(&mut second, Duration::from_secs(20)), 0);

    let history = states(&clip);
    assert_eq!(history.first().map(String::as_str), Some("queued"));
    assert_eq!(
        history.iter().filter(|s| *s == "encoding").count(),
        2,
        "{history:?}"
    );
    assert_eq!(
        history.iter().filter(|s| *s == "published").count(),
        1,
        "{history:?}"
    );
    assert_eq!(output_files(&t), [format!("{id}.jpg"), format!("{id}.mp4")]);
    let (duration, video) = probe(&t.path().join(format!("clips/output/{id}.mp4")));
    assert!((duration - 11.0).abs() <= 1.0, "duration {duration}");
    assert!(video);
    assert_eq!(
        stored_clip_ids(&t),
        std::slice::from_ref(&id),
        "no second clip"
    );
    assert_eq!(published_notifications(&t).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ss_clip_create_now_uploads_over_http_and_retry_list_and_cancel_work() {
    let stream = TestStream::start("320x240");
    let (uploads, url) = UploadServer::start(1).await;
    let t = clip_root(
        Some(&stream.url()),
        json!({"post_roll_s": 0, "default_destination": "http",
               "http": {"url": format!("{url}/{{clip_id}}.mp4"), "auth_header_env": "CLIP_UPLOAD_AUTH"}}),
    );
    t.run(&["validate-config"]).status(0);
    let mut run = t.spawn(&["run"]);
    let until = tokio::task::block_in_place(|| buffered(&t, 6));
    signal(&run, "INT");
    assert_eq!(
        tokio::task::block_in_place(|| exit_code_within(&mut run, Duration::from_secs(20))),
        0
    );

    // No daemon now: --now cuts from the buffer the run left, and uploads (503 once, then 201).
    let at = (until - chrono::Duration::seconds(1)).to_rfc3339();
    let out = tokio::task::block_in_place(|| {
        t.cmd()
            .args([
                "clip",
                "create",
                "--creator",
                "demo",
                "--duration",
                "3",
                "--at",
                &at,
                "--now",
            ])
            .env("CLIP_UPLOAD_AUTH", "Bearer up-secret-123")
            .output()
            .unwrap()
    });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let id = stdout.split_whitespace().nth(2).unwrap().to_string();
    assert!(
        stdout.contains(&format!(
            "published clip {id}: https://cdn.example/clips/{id}.mp4"
        )),
        "{stdout}"
    );
    {
        let received = uploads.received.lock().unwrap();
        assert_eq!(received.len(), 2, "one 503, then the retry");
        for (method, key, auth, bytes) in received.iter() {
            assert_eq!(method, "PUT");
            assert_eq!(key, &format!("clip-{id}"));
            assert_eq!(auth, "Bearer up-secret-123");
            assert!(*bytes > 1000);
        }
    }
    let (duration, _) = probe(&t.path().join(format!("clips/output/{id}.mp4")));
    assert!((duration - 3.0).abs() <= 1.0, "duration {duration}");

    // A window the buffer no longer holds: refused, exit 2, the reason, nothing recorded.
    let hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let refused = t.run(&[
        "clip",
        "create",
        "--creator",
        "demo",
        "--duration",
        "3",
        "--at",
        &hour_ago,
        "--now",
    ]);
    refused.status(2);
    assert!(
        refused
            .stderr
            .contains("starts before demo's replay buffer"),
        "{}",
        refused.stderr
    );
    assert_eq!(stored_clip_ids(&t), vec![id.clone()]);
    // A failed clip for what follows: queued for the next run, then cancelled.
    let queued = t.run(&["clip", "create", "--creator", "demo", "--duration", "3"]);
    queued.status(0);
    let failed_id = queued.stdout.split_whitespace().nth(2).unwrap().to_string();
    t.run(&["clip", "cancel", &failed_id]).status(0);
    t.run(&["export", "--only", "clips"]).status(0);

    // list --format json is clips.json's list.
    let listed: Value = serde_json::from_str(
        &t.run(&["clip", "list", "--format", "json"])
            .status(0)
            .stdout,
    )
    .unwrap();
    assert_eq!(listed["clips"], Value::Array(exported_clips(&t)));
    assert_eq!(listed["clips"].as_array().unwrap().len(), 2);
    let only_failed: Value = serde_json::from_str(
        &t.run(&["clip", "list", "--state", "failed", "--format", "json"])
            .status(0)
            .stdout,
    )
    .unwrap();
    assert_eq!(only_failed["clips"][0]["clip_id"], failed_id.as_str());
    assert_eq!(only_failed["clips"].as_array().unwrap().len(), 1);

    // retry: failed clips only.
    let refused = t.run(&["clip", "retry", &id]);
    refused.status(2);
    assert!(
        refused.stderr.contains("only failed clips can be retried"),
        "{}",
        refused.stderr
    );
    let retried = t.run(&["clip", "retry", &failed_id]);
    retried.status(0);
    assert!(
        retried.stderr.contains("no `ss run` is running"),
        "{}",
        retried.stderr
    );
    assert_eq!(stored_state(&t, &failed_id).as_deref(), Some("queued"));
    t.run(&["clip", "cancel", &failed_id]).status(0);
    assert_eq!(stored_state(&t, &failed_id).as_deref(), Some("failed"));
    let shown = t
        .run(&["clip", "show", &failed_id])
        .status(0)
        .stdout
        .clone();
    assert!(shown.contains("cancelled by the operator"), "{shown}");
    assert!(shown.contains("retried by the operator"), "{shown}");

    for text in [&stdout, &stderr, &t.read("runtime/exports/clips.json")] {
        assert!(!text.contains("up-secret-123"), "the upload secret leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twitch_destination_waits_for_helix_gives_up_and_reports_a_401() {
    let t = clip_root(None, json!({"default_destination": "twitch"}));
    edit_json(&t, "runtime/config/creators.json", |c| {
        c["creators"][0]["platforms"]["twitch"]["client_id_env"] = json!("TWITCH_CLIENT_ID_DEMO");
    });
    let point_at = |url: &str| {
        edit_json(&t, "runtime/config/platforms.json", |p| {
            p["platforms"]["twitch"] =
                json!({"mode": "active", "helix_url": url, "clip_wait_s": 2});
        });
    };
    let create = || {
        tokio::task::block_in_place(|| {
            let out = t
                .cmd()
                .args([
                    "clip",
                    "create",
                    "--creator",
                    "demo",
                    "--duration",
                    "30",
                    "--now",
                ])
                .env("TWITCH_OAUTH_TOKEN_DEMO", "oauth:helix-secret-token")
                .env("TWITCH_CLIENT_ID_DEMO", "client-id-123")
                .output()
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
    };

    // Asynchronous creation: the clip exists on the third look.
    let (helix, url) = HelixServer::start(Some(2), false).await;
    point_at(&url);
    t.run(&["validate-config"]).status(0);
    let (code, stdout, stderr) = create();
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(": https://clips.twitch.tv/FiveWordsForClipSlug"),
        "{stdout}"
    );
    {
        let state = helix.state.lock().unwrap();
        assert_eq!((state.created, state.lookups), (1, 3));
        for (what, auth, client) in &state.requests {
            assert_eq!(auth, "Bearer helix-secret-token", "{what}");
            assert_eq!(client, "client-id-123", "{what}");
        }
    }
    let published = exported_clips(&t);
    assert_eq!(states(&published[0]), ["queued", "uploading", "published"]);
    assert_eq!(
        published[0]["thumbnail_url"],
        "https://clips-media-assets2.twitch.tv/FiveWordsForClipSlug-preview-480x272.jpg"
    );

    // Never ready: gives up after the configured wait.
    let (_never, url) = HelixServer::start(None, false).await;
    point_at(&url);
    let (code, _, stderr) = create();
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("did not finish clip FiveWordsForClipSlug within 2 s"),
        "{stderr}"
    );

    // 401: the token is refused, and the message says how to fix it without showing it.
    let (_refusing, url) = HelixServer::start(None, true).await;
    point_at(&url);
    let (code, stdout, stderr) = create();
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("Twitch refused the token (401 Invalid OAuth token)"),
        "{stderr}"
    );
    assert!(stderr.contains("clips:edit"), "{stderr}");
    let clips = t.read("runtime/exports/clips.json");
    for text in [&stdout, &stderr, &clips] {
        assert!(!text.contains("helix-secret-token"), "the token leaked");
    }
    let failed: Vec<Value> = exported_clips(&t)
        .into_iter()
        .filter(|c| c["state"] == "failed")
        .collect();
    assert_eq!(failed.len(), 2);
    assert!(
        failed
            .iter()
            .all(|c| !c["error"].as_str().unwrap().contains('\n'))
    );
}

#[test]
fn ss_clip_list_without_a_store_lists_nothing_and_creates_none() {
    let t = Test::new();
    let out = t.run(&["clip", "list", "--format", "json"]);
    out.status(0);
    let listed: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(listed, json!({"clips": []}));
    t.run(&["clip", "list"]).status(0);
    assert!(
        !t.path().join("runtime/state/streamsuites.db").exists(),
        "a reader never creates the store"
    );
}
