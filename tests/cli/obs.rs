//! `ss run` with OBS: the demo creator's Twitch chat (the loopback IRC server) drives a loopback
//! obs-websocket v5 server with authentication on ([`crate::obs_server`]). `!scene gameplay`
//! switches the program scene, a trigger toggles a source, a scene OBS does not have is recorded
//! with OBS's code and comment, a dropped connection reconnects, and the password never reaches the
//! log or the exports. A wrong password is reported once and not retried. `!clip` with
//! `clips.source: "obs"` saves OBS's replay buffer and publishes an MP4 cut from the file OBS
//! names; without a running replay buffer the clip fails saying how to turn it on.

use crate::clips_support::{probe, require_ffmpeg};
use crate::harness::{Test, until_within};
use crate::obs_server::{ObsOptions, ObsServer, ReplayBuffer, auth_string};
use crate::run_kick::add_triggers;
use crate::run_twitch::twitch_root;
use crate::twitch_server::{ServerOptions, TwitchServer};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const PASSWORD: &str = "obs-test-password-7f3a";
const TWITCH_TOKEN: &str = "oauth:obs-test-twitch-token";

/// A moderator's chat line on the loopback Twitch server.
fn moderator_says(id: &str, text: &str) -> String {
    let ts = chrono::Utc::now().timestamp_millis();
    format!(
        "@badge-info=;badges=moderator/1;color=#1E90FF;display-name=Mod_One;emotes=;first-msg=0;flags=;id={id};mod=1;returning-chatter=0;room-id=11111111;subscriber=0;tmi-sent-ts={ts};turbo=0;user-id=22222222;user-type=mod :mod_one!mod_one@mod_one.tmi.twitch.tv PRIVMSG #demo_channel :{text}"
    )
}

/// The Twitch root with the demo creator's OBS at `obs` and the OBS triggers.
pub fn obs_root(twitch: &TwitchServer, obs: &ObsServer) -> Test {
    let t = twitch_root(twitch.port());
    t.write(
        "runtime/config/obs.json",
        &serde_json::to_string_pretty(&json!({
            "obs": {"demo": {"url": obs.url(), "password_env": "OBS_PASSWORD_DEMO"}}
        }))
        .unwrap(),
    );
    add_triggers(
        &t,
        json!([
            {"id": "scene", "kind": "command", "command": "!scene", "min_role": "moderator",
             "action": {"type": "obs", "request": "switch_scene", "scene": "{args}"}},
            {"id": "cam", "kind": "command", "command": "!cam", "min_role": "moderator",
             "action": {"type": "obs", "request": "source_visibility", "scene": "gameplay",
                        "source": "Webcam", "visible": "toggle"}},
        ]),
    );
    t
}

fn snapshot(t: &Test) -> Option<Value> {
    std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
}

fn obs_status(t: &Test) -> Option<Value> {
    snapshot(t).map(|s| s["obs"][0].clone())
}

/// Asserts no file under the exports (and no stderr line) holds a secret.
fn assert_no_secrets(t: &Test, stderr: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!stderr.contains(secret), "{secret} in the -vv log");
    }
    for dir in ["runtime/exports", "runtime/admin", "runtime/signals"] {
        for file in crate::harness::files_under(&t.path().join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            for secret in secrets {
                assert!(!text.contains(secret), "{secret} in {}", file.display());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_switches_the_obs_scene_toggles_a_source_and_survives_a_dropped_connection() {
    let twitch = TwitchServer::start(ServerOptions::default()).await;
    let obs = ObsServer::start(ObsOptions::default()).await;
    let t = obs_root(&twitch, &obs);
    t.run(&["validate-config"]).status(0);
    let run = t.spawn_verbose_run(&[
        ("TWITCH_OAUTH_TOKEN_DEMO", TWITCH_TOKEN),
        ("OBS_PASSWORD_DEMO", PASSWORD),
    ]);
    twitch.wait_for_joins(1).await;
    obs.wait_for("an Identify", |s| !s.identifies.is_empty())
        .await;
    let identify = obs.state().identifies[0].clone();
    assert_eq!(
        identify,
        json!({"rpcVersion": 1, "authentication": auth_string(PASSWORD), "eventSubscriptions": 76})
    );

    twitch
        .send_to_joined(&moderator_says("s1", "!scene gameplay"))
        .await;
    obs.wait_for("the scene switch", |s| s.program == "gameplay")
        .await;
    assert_eq!(
        obs.state().requests_of("SetCurrentProgramScene"),
        [json!({"sceneName": "gameplay"})]
    );
    // A trigger toggles the webcam off, then on again.
    twitch.send_to_joined(&moderator_says("c1", "!cam")).await;
    obs.wait_for("the webcam hidden", |s| {
        s.item_enabled("gameplay", "Webcam") == Some(false)
    })
    .await;
    twitch.send_to_joined(&moderator_says("c2", "!cam")).await;
    obs.wait_for("the webcam shown", |s| {
        s.item_enabled("gameplay", "Webcam") == Some(true)
    })
    .await;
    let state = obs.state();
    assert_eq!(
        state.requests_of("GetSceneItemId")[0],
        json!({"sceneName": "gameplay", "sourceName": "Webcam"})
    );
    assert_eq!(state.requests_of("GetSceneItemEnabled").len(), 2);
    // A scene OBS does not have: OBS's code and comment are recorded with the cause.
    twitch
        .send_to_joined(&moderator_says("s2", "!scene Nope"))
        .await;
    until_within(
        Duration::from_secs(20),
        "the refusal in the snapshot",
        || obs_status(&t).is_some_and(|o| o["requests"]["failed"] == 1),
    )
    .await;
    let status = obs_status(&t).unwrap();
    assert_eq!(status["state"], "connected");
    assert_eq!(status["current_scene"], "gameplay");
    assert_eq!(
        status["requests"],
        json!({"ok": 3, "failed": 1, "dropped": 0})
    );
    let refused = status["recent"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ok"] == false)
        .unwrap();
    assert_eq!(refused["cause"], "event:twitch:s2");
    assert_eq!(refused["request"], "switch_scene");
    assert_eq!(refused["code"], 600);
    assert!(
        refused["comment"]
            .as_str()
            .unwrap()
            .contains("No source was found by the name of `Nope`."),
        "{refused}"
    );

    // OBS goes away without a close frame: the runtime reconnects and identifies again.
    obs.drop_connections();
    obs.wait_for("a second Identify", |s| s.identifies.len() == 2)
        .await;
    until_within(
        Duration::from_secs(20),
        "the reconnect in the snapshot",
        || obs_status(&t).is_some_and(|o| o["reconnects"] == 1 && o["state"] == "connected"),
    )
    .await;
    twitch
        .send_to_joined(&moderator_says("s3", "!scene Starting"))
        .await;
    obs.wait_for("a switch after the reconnect", |s| s.program == "Starting")
        .await;

    // `ss status` reads the snapshot, written on its cadence after OBS reports the new scene.
    let mut last_status = String::new();
    until_within(
        Duration::from_secs(10),
        "the new scene in `ss status`",
        || {
            last_status = t.run(&["status"]).stdout;
            last_status.contains("demo/obs                 connected  scene \"Starting\"")
        },
    )
    .await;
    let (code, stderr) = run.stop_with("TERM").await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_no_secrets(
        &t,
        &stderr,
        &[PASSWORD, "obs-test-twitch-token", &auth_string(PASSWORD)],
    );
    assert_eq!(obs.state().auth_failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_obs_password_is_reported_once_and_not_retried() {
    let twitch = TwitchServer::start(ServerOptions::default()).await;
    let obs = ObsServer::start(ObsOptions::default()).await;
    let t = obs_root(&twitch, &obs);
    let run = t.spawn_verbose_run(&[
        ("TWITCH_OAUTH_TOKEN_DEMO", TWITCH_TOKEN),
        ("OBS_PASSWORD_DEMO", "not-the-obs-password"),
    ]);
    until_within(
        Duration::from_secs(20),
        "the failed OBS in the snapshot",
        || obs_status(&t).is_some_and(|o| o["state"] == "failed"),
    )
    .await;
    // Several export cycles later (0.5 s each), still one attempt.
    let failed_at = snapshot(&t).unwrap()["meta"]["generated_at"].clone();
    until_within(Duration::from_secs(20), "three more snapshots", || {
        snapshot(&t).is_some_and(|s| {
            let at = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
            at(&s["meta"]["generated_at"]) - at(&failed_at) >= chrono::Duration::milliseconds(1500)
        })
    })
    .await;
    let state = obs.state();
    assert_eq!((state.connections, state.auth_failures), (1, 1));
    let status = obs_status(&t).unwrap();
    let error = status["last_error"].as_str().unwrap();
    assert!(
        error.contains("OBS refused the password (close 4009: Authentication failed.)"),
        "{error}"
    );
    assert!(error.contains("password_env"), "{error}");
    let verdict = t.run(&["status"]);
    assert_eq!(verdict.status, 1, "{}", verdict.stdout);
    assert!(
        verdict
            .stdout
            .contains("problem: OBS of demo failed: OBS refused the password"),
        "{}",
        verdict.stdout
    );
    let (code, stderr) = run.stop_with("TERM").await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stderr.matches("OBS refused the password").count(),
        1,
        "reported once: {stderr}"
    );
    assert_no_secrets(&t, &stderr, &["not-the-obs-password"]);
}

/// A 20 s test video with a tone, as OBS's replay buffer would save it (Matroska, H.264 + AAC).
fn replay_file(dir: &Path) -> std::path::PathBuf {
    require_ffmpeg();
    let file = dir.join("Replay 2026-01-01 20-00-00.mkv");
    let ok = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args([
            "-t",
            "20",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
        ])
        .args(["-c:a", "aac", "-shortest"])
        .arg(&file)
        .status()
        .unwrap()
        .success();
    assert!(ok, "making the replay file");
    file
}

/// Waits (without blocking the servers' runtime) for an exported clip in `state`.
async fn clip_in_state(t: &Test, state: &str) -> Value {
    let find = || {
        crate::clips_support::exported_clips(t)
            .into_iter()
            .find(|c| c["state"] == state)
    };
    until_within(Duration::from_secs(60), &format!("a {state} clip"), || {
        find().is_some()
    })
    .await;
    find().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clip_from_obs_is_cut_from_the_replay_obs_saved_and_published() {
    let twitch = TwitchServer::start(ServerOptions::default()).await;
    let media = tempfile::tempdir().unwrap();
    let obs = ObsServer::start(ObsOptions {
        replay_file: Some(replay_file(media.path())),
        replay_buffer: ReplayBuffer::NotEnabled,
        ..ObsOptions::default()
    })
    .await;
    let t = obs_root(&twitch, &obs);
    crate::clips_support::edit_json(&t, "runtime/config/creators.json", |c| {
        c["creators"][0]["clips"] = json!({"source": "obs"});
    });
    crate::clips_support::edit_json(&t, "runtime/config/system.json", |s| {
        s["clips"]["post_roll_s"] = json!(1);
    });
    add_triggers(
        &t,
        json!([{"id": "clip10", "kind": "command", "command": "!clip10",
                "action": {"type": "clip", "duration_s": 10}}]),
    );
    t.run(&["validate-config"]).status(0);
    let run = t.spawn_verbose_run(&[
        ("TWITCH_OAUTH_TOKEN_DEMO", TWITCH_TOKEN),
        ("OBS_PASSWORD_DEMO", PASSWORD),
    ]);
    twitch.wait_for_joins(1).await;
    obs.wait_for("an Identify", |s| !s.identifies.is_empty())
        .await;

    // Without a replay buffer enabled in OBS, the clip fails and says how to turn it on.
    twitch
        .send_to_joined(&moderator_says("k1", "!clip10"))
        .await;
    let failed = clip_in_state(&t, "failed").await;
    let reason = failed["error"].as_str().unwrap_or_default().to_owned();
    assert!(
        reason.contains("replay buffer is not running") && reason.contains("Enable Replay Buffer"),
        "{failed}"
    );

    // With the buffer running, `!clip10` is the last 10 s (and the post-roll) of the file OBS names.
    obs.change(|s| s.replay_buffer = ReplayBuffer::Running);
    twitch
        .send_to_joined(&moderator_says("k2", "!clip10"))
        .await;
    let published = clip_in_state(&t, "published").await;
    let clip_id = published["clip_id"].as_str().unwrap();
    let file = t.path().join("clips/output").join(format!("{clip_id}.mp4"));
    let (duration, has_video) = probe(&file);
    assert!(has_video);
    assert!((duration - 11.0).abs() <= 1.0, "{duration} s");
    let state = obs.state();
    assert_eq!(state.requests_of("SaveReplayBuffer").len(), 1);
    assert!(state.requests_of("GetReplayBufferStatus").len() >= 2);
    let (code, stderr) = run.stop_with("TERM").await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_no_secrets(&t, &stderr, &[PASSWORD]);
}
