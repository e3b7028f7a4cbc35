//! What the clip tests share: a live test stream made by FFmpeg, a runtime root with a replay
//! buffer, ffprobe, a loopback Helix server and a loopback upload server.
//!
//! The stream is FFmpeg's test pattern with a tone (`testsrc` + `sine`), H.264 + AAC with a
//! keyframe every second, sent in real time (`-re`) as MPEG-TS over UDP to a loopback port; `ss run`
//! captures it from there. FFmpeg is required: the tests fail (never skip) when it is missing, naming
//! the package to install.

#![allow(dead_code)]

use crate::harness::Test;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Fails the test, naming the package, when FFmpeg or ffprobe is missing.
pub fn require_ffmpeg() {
    for tool in ["ffmpeg", "ffprobe"] {
        let ok = Command::new(tool)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "{tool} is required by the clip tests: install the `ffmpeg` package (Debian/Ubuntu: apt-get install ffmpeg)"
        );
    }
}

/// A free UDP port on loopback.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A live test stream on `udp://127.0.0.1:port`; stopped when dropped.
pub struct TestStream {
    child: Child,
    pub port: u16,
}

impl TestStream {
    /// Starts the stream at `size` (e.g. `320x240`).
    pub fn start(size: &str) -> TestStream {
        require_ffmpeg();
        let port = free_udp_port();
        let child = Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-re"])
            .args(["-f", "lavfi", "-i", &format!("testsrc=size={size}:rate=25")])
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-tune",
                "zerolatency",
            ])
            .args([
                "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
            ])
            .args([
                "-f",
                "mpegts",
                &format!("udp://127.0.0.1:{port}?pkt_size=1316"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the ffmpeg test stream");
        TestStream { child, port }
    }

    pub fn url(&self) -> String {
        format!("udp://127.0.0.1:{}", self.port)
    }
}

impl Drop for TestStream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A demo root with exports every 0.5 s, the sim source slow (it keeps `ss run` running) and no
/// triggers, and creator `demo` capturing `input`. `clips` is merged over system.json's `clips`.
pub fn clip_root(input: Option<&str>, clips: Value) -> Test {
    let t = Test::new();
    let mut creators: Value =
        serde_json::from_str(&t.read("runtime/config/creators.json")).unwrap();
    let demo = &mut creators["creators"][0];
    demo["platforms"]["sim"]["rate_per_s"] = json!(2);
    if let Some(input) = input {
        demo["clips"] = json!({"capture": {"input": input, "buffer_s": 60, "segment_s": 1}});
    }
    t.write(
        "runtime/config/creators.json",
        &serde_json::to_string_pretty(&creators).unwrap(),
    );
    t.write("runtime/config/triggers.json", r#"{"triggers": {}}"#);
    let mut system: Value = serde_json::from_str(&t.read("runtime/config/system.json")).unwrap();
    system["exports"]["cadence_s"] = json!(0.5);
    for (k, v) in clips.as_object().unwrap() {
        system["clips"][k] = v.clone();
    }
    t.write(
        "runtime/config/system.json",
        &serde_json::to_string_pretty(&system).unwrap(),
    );
    t
}

/// Edits a config file of `t` as JSON.
pub fn edit_json(t: &Test, rel: &str, f: impl FnOnce(&mut Value)) {
    let mut doc: Value = serde_json::from_str(&t.read(rel)).unwrap();
    f(&mut doc);
    t.write(rel, &serde_json::to_string_pretty(&doc).unwrap());
}

/// A JSON file of `t`, or `None` while it does not exist or is being replaced.
pub fn read_json(t: &Test, rel: &str) -> Option<Value> {
    std::fs::read_to_string(t.path().join(rel))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
}

pub use crate::harness::wait_for;

/// The clips of exports/clips.json.
pub fn exported_clips(t: &Test) -> Vec<Value> {
    read_json(t, "runtime/exports/clips.json")
        .and_then(|d| d["clips"].as_array().cloned())
        .unwrap_or_default()
}

/// A clip's state straight from the store.
pub fn stored_state(t: &Test, clip_id: &str) -> Option<String> {
    let conn = rusqlite_open(t);
    conn.query_row(
        "SELECT state FROM clips WHERE clip_id = ?1",
        [clip_id],
        |r| r.get(0),
    )
    .ok()
}

/// Every clip id in the store, oldest first.
pub fn stored_clip_ids(t: &Test) -> Vec<String> {
    let conn = rusqlite_open(t);
    let mut stmt = conn
        .prepare("SELECT clip_id FROM clips ORDER BY created_ms")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Clip-published outbox rows: (dedupe key, payload).
pub fn published_notifications(t: &Test) -> Vec<(String, Value)> {
    let conn = rusqlite_open(t);
    let mut stmt = conn
        .prepare("SELECT dedupe_key, payload FROM outbox WHERE kind = 'clip_published' ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(|r| {
            let (k, p) = r.unwrap();
            (k, serde_json::from_str(&p).unwrap())
        })
        .collect()
}

fn rusqlite_open(t: &Test) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(t.path().join("runtime/state/streamsuites.db"))
        .expect("open the store");
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

/// ffprobe's duration of `file`, and whether it has a video stream.
pub fn probe(file: &Path) -> (f64, bool) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_type",
            "-of",
            "json",
        ])
        .arg(file)
        .output()
        .expect("running ffprobe");
    let v: Value = serde_json::from_slice(&out.stdout).expect("ffprobe json");
    let duration = v["format"]["duration"].as_str().unwrap().parse().unwrap();
    let video = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["codec_type"] == "video");
    (duration, video)
}

/// Processes whose command line mentions `needle` (FFmpeg children left behind), from /proc.
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(needle) && text.contains("ffmpeg") {
                found.push(format!("{}: {text}", name.to_string_lossy()));
            }
        }
    }
    found
}

/// A loopback Helix server: users, clip creation, and clip lookups that find the clip after
/// `ready_after` looks (`None`: never), or 401 for everything when `refuse` is set.
#[derive(Clone, Default)]
pub struct HelixServer {
    pub state: Arc<Mutex<HelixState>>,
}

#[derive(Default)]
pub struct HelixState {
    pub ready_after: Option<usize>,
    pub refuse: bool,
    pub lookups: usize,
    pub created: usize,
    /// (method path, Authorization, Client-Id) of every request.
    pub requests: Vec<(String, String, String)>,
}

impl HelixServer {
    /// Serves on a loopback port; returns the `helix_url` to configure.
    pub async fn start(ready_after: Option<usize>, refuse: bool) -> (HelixServer, String) {
        let server = HelixServer {
            state: Arc::new(Mutex::new(HelixState {
                ready_after,
                refuse,
                ..HelixState::default()
            })),
        };
        let app = axum::Router::new()
            .route("/helix/users", get(users))
            .route("/helix/clips", post(create).get(lookup))
            .with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/helix", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (server, url)
    }
}

type Answer = (StatusCode, Json<Value>);

fn note(server: &HelixServer, what: &str, headers: &HeaderMap) -> Option<Answer> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut state = server.state.lock().unwrap();
    state.requests.push((
        what.to_string(),
        header("authorization"),
        header("client-id"),
    ));
    state.refuse.then(|| {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "Unauthorized", "status": 401, "message": "Invalid OAuth token"})),
        )
    })
}

async fn users(
    State(server): State<HelixServer>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    if let Some(refused) = note(&server, "GET /users", &headers) {
        return refused;
    }
    let login = q.get("login").cloned().unwrap_or_default();
    (
        StatusCode::OK,
        Json(json!({"data": [{"id": "141981764", "login": login, "display_name": login}]})),
    )
}

async fn create(
    State(server): State<HelixServer>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    if let Some(refused) = note(&server, "POST /clips", &headers) {
        return refused;
    }
    assert_eq!(
        q.get("broadcaster_id").map(String::as_str),
        Some("141981764")
    );
    server.state.lock().unwrap().created += 1;
    (
        StatusCode::ACCEPTED,
        Json(
            json!({"data": [{"id": "FiveWordsForClipSlug", "edit_url": "https://clips.twitch.tv/FiveWordsForClipSlug/edit"}]}),
        ),
    )
}

async fn lookup(
    State(server): State<HelixServer>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    if let Some(refused) = note(&server, "GET /clips", &headers) {
        return refused;
    }
    assert_eq!(
        q.get("id").map(String::as_str),
        Some("FiveWordsForClipSlug")
    );
    let mut state = server.state.lock().unwrap();
    state.lookups += 1;
    if state.ready_after.is_some_and(|n| state.lookups > n) {
        return (
            StatusCode::OK,
            Json(json!({"data": [{
                "id": "FiveWordsForClipSlug",
                "url": "https://clips.twitch.tv/FiveWordsForClipSlug",
                "thumbnail_url": "https://clips-media-assets2.twitch.tv/FiveWordsForClipSlug-preview-480x272.jpg",
                "duration": 30.0
            }]})),
        );
    }
    (StatusCode::OK, Json(json!({"data": [], "pagination": {}})))
}

/// One upload as received: (method, Idempotency-Key, Authorization, body bytes).
pub type Upload = (String, String, String, usize);

/// A loopback upload server for the `http` destination: answers 503 to the first `fail_first`
/// uploads, then 201 with a `Location`; records (method, Idempotency-Key, Authorization, bytes).
#[derive(Clone, Default)]
pub struct UploadServer {
    pub received: Arc<Mutex<Vec<Upload>>>,
    pub fail_first: usize,
}

impl UploadServer {
    pub async fn start(fail_first: usize) -> (UploadServer, String) {
        let server = UploadServer {
            received: Arc::default(),
            fail_first,
        };
        let app = axum::Router::new()
            .route("/upload/{name}", axum::routing::put(upload).post(upload))
            .with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/upload", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (server, url)
    }
}

async fn upload(
    State(server): State<UploadServer>,
    method: axum::http::Method,
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, HeaderMap, String) {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut received = server.received.lock().unwrap();
    received.push((
        method.to_string(),
        header("idempotency-key"),
        header("authorization"),
        body.len(),
    ));
    if received.len() <= server.fail_first {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            HeaderMap::new(),
            String::new(),
        );
    }
    let mut out = HeaderMap::new();
    out.insert(
        "location",
        format!("https://cdn.example/clips/{name}").parse().unwrap(),
    );
    (StatusCode::CREATED, out, String::new())
}
