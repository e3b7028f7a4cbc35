//! Clip requests checked before anything is recorded, and clip health as users see it: `--now`
//! beside a running `ss run` or another `--now`, `--at` outside the buffer, capture warnings
//! without the input's credentials, a failed or restarting capture in `ss status`, and chat text
//! that cannot drive the terminal in `ss clip show`.

use crate::clips_support::*;
use crate::harness::{Spawned, Test};
use serde_json::json;
use std::time::Duration;

/// Waits for the running `ss run`'s snapshot.
fn running(t: &Test) {
    wait_for(
        "a snapshot of the running runtime",
        Duration::from_secs(30),
        || read_json(t, "runtime/exports/runtime_snapshot.json").filter(|s| s["running"] == true),
    );
}

fn clip_count(t: &Test) -> usize {
    if !t.path().join("runtime/state/streamsuites.db").exists() {
        return 0;
    }
    stored_clip_ids(t).len()
}

#[test]
fn clip_now_beside_a_running_run_refuses_and_records_nothing() {
    let t = clip_root(None, json!({}));
    let _run: Spawned = t.spawn(&["run"]);
    running(&t);
    let out = t.run(&["clip", "create", "--creator", "demo", "--now"]);
    out.status(2);
    assert!(
        out.stderr.contains("a running `ss run` (pid ")
            && out.stderr.contains("nothing was recorded")
            && out.stderr.contains("hint: drop --now"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("queued clip"), "{}", out.stdout);
    assert_eq!(clip_count(&t), 0, "no job is left for the run to publish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_clip_now_is_refused_naming_the_first_and_leaves_nothing() {
    let t = clip_root(None, json!({"default_destination": "twitch"}));
    edit_json(&t, "runtime/config/creators.json", |c| {
        c["creators"][0]["platforms"]["twitch"]["client_id_env"] = json!("TWITCH_CLIENT_ID_DEMO");
    });
    // Helix never finishes the clip: the first job holds the store for the whole wait.
    let (helix, url) = HelixServer::start(None, false).await;
    edit_json(&t, "runtime/config/platforms.json", |p| {
        p["platforms"]["twitch"] = json!({"mode": "active", "helix_url": url, "clip_wait_s": 60});
    });
    let now_cmd = || {
        let mut cmd = t.std_cmd();
        cmd.args(["clip", "create", "--creator", "demo", "--now"])
            .env("TWITCH_OAUTH_TOKEN_DEMO", "oauth:helix-secret-token")
            .env("TWITCH_CLIENT_ID_DEMO", "client-id-123");
        cmd
    };
    let _first = Spawned::from(
        now_cmd()
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    tokio::task::block_in_place(|| {
        wait_for("the first job at Helix", Duration::from_secs(30), || {
            (helix.state.lock().unwrap().created == 1).then_some(())
        });
    });
    let second = tokio::task::block_in_place(|| now_cmd().output().unwrap());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("another `ss clip --now` (pid ") && stderr.contains("nothing was recorded"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("a running `ss run`"),
        "no run is blamed: {stderr}"
    );
    assert_eq!(clip_count(&t), 1, "only the first clip is in the store");
}

#[test]
fn at_in_the_future_or_before_the_buffer_is_refused_with_the_reason() {
    let t = clip_root(Some("udp://127.0.0.1:9"), json!({}));
    let out = t.run(&[
        "clip",
        "create",
        "--creator",
        "demo",
        "--at",
        "9999-12-31T00:00:00Z",
    ]);
    out.status(2);
    assert!(out.stderr.contains("is in the future"), "{}", out.stderr);
    // A buffer a previous run left: ten 1 s segments ending 50 s ago.
    let dir = t.path().join("runtime/state/capture/demo");
    std::fs::create_dir_all(&dir).unwrap();
    let end = chrono::Utc::now().timestamp_millis() - 50_000;
    let mut csv = String::new();
    for i in 0..10i64 {
        let name = format!("seg-1-{i:06}.ts");
        std::fs::write(dir.join(&name), b"").unwrap();
        let start = end - 10_000 + i * 1000;
        csv.push_str(&format!(
            "{name},{start},{},{},{}\n",
            start + 1000,
            i * 1000,
            i * 1000 + 1000
        ));
    }
    std::fs::write(dir.join("segments.csv"), csv).unwrap();
    let long_ago = (chrono::Utc::now() - chrono::Duration::seconds(100)).to_rfc3339();
    let out = t.run(&["clip", "create", "--creator", "demo", "--at", &long_ago]);
    out.status(2);
    assert!(
        out.stderr.contains("starts before demo's replay buffer"),
        "{}",
        out.stderr
    );
    assert_eq!(clip_count(&t), 0);
}

/// The capture's input has credentials; FFmpeg cannot reach it and exits, again and again.
#[test]
fn a_restarting_capture_is_unhealthy_and_its_warnings_hide_the_inputs_credentials() {
    require_ffmpeg();
    let t = clip_root(
        Some("http://streamer:hunter2secret@127.0.0.1:9/live.ts"),
        json!({}),
    );
    let mut run = t.spawn(&["run"]);
    let snap = wait_for("a capture restart", Duration::from_secs(60), || {
        read_json(&t, "runtime/exports/runtime_snapshot.json")
            .filter(|s| s["captures"][0]["restarts"].as_u64().unwrap_or(0) >= 1)
    });
    let status = t.run(&["status", "--stale-after", "60s"]);
    status.status(1);
    assert!(
        status
            .stdout
            .contains("problem: clip capture of demo is restarting"),
        "{}",
        status.stdout
    );
    crate::harness::signal(&run, "TERM");
    assert_eq!(
        crate::harness::exit_code_within(&mut run, Duration::from_secs(15)),
        0
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(run.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("Clip capture stopped; restarting"),
        "{stderr}"
    );
    for text in [
        stderr.as_str(),
        &snap.to_string(),
        &t.read("runtime/exports/telemetry/errors.json"),
    ] {
        assert!(
            !text.contains("hunter2secret"),
            "the password leaked: {text}"
        );
    }
}

#[test]
fn a_capture_whose_ffmpeg_fails_makes_status_unhealthy_naming_it() {
    let t = clip_root(
        Some("udp://127.0.0.1:9"),
        json!({"ffmpeg_path": "/bin/false"}),
    );
    let _run = t.spawn(&["run"]);
    wait_for(
        "the capture to fail or restart",
        Duration::from_secs(60),
        || {
            read_json(&t, "runtime/exports/runtime_snapshot.json").filter(|s| {
                let c = &s["captures"][0];
                c["state"] == "failed" || c["restarts"].as_u64().unwrap_or(0) >= 1
            })
        },
    );
    let status = t.run(&["status", "--stale-after", "60s"]);
    status.status(1);
    assert!(
        status.stdout.contains("problem: clip capture of demo"),
        "{}",
        status.stdout
    );
}

#[test]
fn clip_show_and_list_escape_control_characters() {
    let t = clip_root(None, json!({}));
    let title = "\u{1b}]0;owned\u{7}\u{1b}[2Jgg";
    t.run(&["clip", "create", "--creator", "demo", "--title", title])
        .status(0);
    let id = stored_clip_ids(&t).pop().unwrap();
    let show = t.run(&["clip", "show", &id]);
    show.status(0);
    assert!(!show.stdout.contains('\u{1b}') && !show.stdout.contains('\u{7}'));
    assert!(
        show.stdout
            .contains("title     \\u{1b}]0;owned\\u{7}\\u{1b}[2Jgg"),
        "{}",
        show.stdout
    );
}

/// A live HLS stream as a camera or a restream service serves it: H.264 with a keyframe every
/// 2 s (`-g 50` at 25 fps) in 2 s segments, written by FFmpeg into a directory that a loopback
/// HTTP server serves; stopped when dropped.
struct HlsStream {
    child: std::process::Child,
    _dir: tempfile::TempDir,
    url: String,
}

impl HlsStream {
    async fn start() -> HlsStream {
        require_ffmpeg();
        let dir = tempfile::tempdir().unwrap();
        let child = std::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-re"])
            .args(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"])
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
            ])
            .args(["-g", "50", "-keyint_min", "50", "-sc_threshold", "0"])
            .args(["-c:a", "aac", "-b:a", "64k"])
            .args(["-f", "hls", "-hls_time", "2", "-hls_list_size", "10"])
            .args(["-hls_flags", "delete_segments"])
            .arg(dir.path().join("live.m3u8"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting the ffmpeg HLS stream");
        let root = dir.path().to_path_buf();
        let app = axum::Router::new().route(
            "/hls/{file}",
            axum::routing::get(
                move |axum::extract::Path(file): axum::extract::Path<String>| {
                    let root = root.clone();
                    async move {
                        if file.contains('/') || file.starts_with('.') {
                            return Err(axum::http::StatusCode::NOT_FOUND);
                        }
                        tokio::fs::read(root.join(&file))
                            .await
                            .map_err(|_| axum::http::StatusCode::NOT_FOUND)
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hls/live.m3u8", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        HlsStream {
            child,
            _dir: dir,
            url,
        }
    }
}

impl Drop for HlsStream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// With the default clip settings (stream copy, 2 s segments, 5 s post-roll), ten clips of an HLS
/// stream with a keyframe every 2 s are all published: a stream copy starts at a keyframe, so its
/// file runs up to a keyframe interval and a segment longer than the window, and that is a good clip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_settings_publish_ten_of_ten_clips_from_hls_with_2s_keyframes() {
    let stream = HlsStream::start().await;
    let t = clip_root(None, json!({}));
    edit_json(&t, "runtime/config/creators.json", |c| {
        c["creators"][0]["clips"] = json!({"capture": {"input": stream.url}});
    });
    t.run(&["validate-config"]).status(0);
    let _run = t.spawn(&["run"]);
    let wanted_s = 27;
    tokio::task::block_in_place(|| {
        wait_for(
            "27 s in the replay buffer",
            Duration::from_secs(120),
            || {
                let snap = read_json(&t, "runtime/exports/runtime_snapshot.json")?;
                let capture = snap["captures"].get(0)?;
                let time = |key: &str| {
                    capture[key]
                        .as_str()?
                        .parse::<chrono::DateTime<chrono::Utc>>()
                        .ok()
                };
                ((time("recorded_until")? - time("buffer_from")?).num_seconds() >= wanted_s)
                    .then_some(())
            },
        )
    });
    let now = chrono::Utc::now();
    let mut ids = Vec::new();
    for k in 0..10i64 {
        let at = (now - chrono::Duration::seconds(k)).to_rfc3339();
        let duration = (6 + k).to_string();
        let out = t.run(&[
            "clip",
            "create",
            "--creator",
            "demo",
            "--duration",
            &duration,
            "--at",
            &at,
        ]);
        out.status(0);
        ids.push(out.stdout.split_whitespace().nth(2).unwrap().to_string());
    }
    let clips = tokio::task::block_in_place(|| {
        wait_for("every clip to end", Duration::from_secs(240), || {
            let clips = exported_clips(&t);
            let ended = clips
                .iter()
                .filter(|c| c["state"] == "published" || c["state"] == "failed")
                .count();
            (ended == 10).then_some(clips)
        })
    });
    let failed: Vec<&serde_json::Value> = clips.iter().filter(|c| c["state"] == "failed").collect();
    assert!(failed.is_empty(), "failed clips: {failed:#?}");
    for id in &ids {
        let file = t.path().join(format!("clips/output/{id}.mp4"));
        let (seconds, video) = probe(&file);
        assert!(video, "{id}");
        assert!(seconds > 10.0, "{id}: {seconds} s");
    }
}
