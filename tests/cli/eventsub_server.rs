//! Loopback Twitch servers for tests, speaking Twitch's EventSub WebSocket, Helix and OAuth
//! formats as Twitch's own references and its CLI's mock server describe them.
//!
//! [`TwitchCloud`] is two listeners sharing one state:
//! - **HTTP** (`base()`): the id server (`POST /oauth2/device`, `POST /oauth2/token` for the device
//!   code and refresh grants, `GET /oauth2/validate` with `Authorization: OAuth <token>`) and Helix
//!   under `/helix` (`GET /users`, `POST /eventsub/subscriptions`, `POST /chat/messages`,
//!   `POST`/`DELETE /moderation/bans`, `DELETE /moderation/chat`, `POST /chat/announcements`).
//!   Helix accepts only the current access token with the right `Client-Id` (401 otherwise) and
//!   answers every call with `Ratelimit-Limit`, `Ratelimit-Remaining` and `Ratelimit-Reset`.
//!   Device polls answer from a script (`authorization_pending`, `slow_down`, then the tokens: a
//!   400 with the reason in `message`, as Twitch does). A chat message is dropped with HTTP 200 and
//!   a `drop_reason` when the test queued a drop code.
//! - **EventSub WebSocket** (`ws_url()`): a welcome (with `keepalive_timeout_seconds` asked for in
//!   the URL, clamped to 10–600, else the default window) on connect; `session_keepalive` after every
//!   quiet keepalive window; close 4003 when no subscription is created within the window; close
//!   4001 when the client sends anything but a pong; `session_reconnect` with a `reconnect_url` of
//!   `?reconnect_id=…`, where the new session inherits the old one's subscriptions and an unknown
//!   id is closed 4007. Notifications carry the envelope and `payload.subscription` of Twitch's
//!   reference.

#![allow(dead_code)]

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{SinkExt, StreamExt};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response as WsResponse};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

pub use crate::kick_server::wait_for;

/// The channel's owner, who is also the logged-in user in these tests.
pub const BROADCASTER_ID: &str = "1971641";
pub const BROADCASTER_LOGIN: &str = "demo_channel";

/// One answer of a device poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceAnswer {
    Pending,
    SlowDown,
}

/// A Helix call as received.
#[derive(Debug, Clone)]
pub struct HelixCall {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub bearer: String,
    pub client_id: String,
    pub body: serde_json::Value,
    pub status: u16,
    pub at: std::time::Instant,
}

/// A subscription created on a session.
#[derive(Debug, Clone)]
pub struct Sub {
    pub id: String,
    pub kind: String,
    pub version: String,
    pub condition: serde_json::Value,
    pub session: String,
}

/// What a test can make one socket do.
enum WsCommand {
    Send(String),
    Close(u16, String),
    /// Stop sending keepalives (a connection gone silent).
    Silence,
    /// Answered once every command queued before it has gone out on the socket.
    Delivered(tokio::sync::oneshot::Sender<()>),
}

struct Session {
    id: String,
    tx: mpsc::Sender<WsCommand>,
    open: bool,
    welcomed_at: std::time::Instant,
    keepalive_s: u64,
}

#[derive(Default)]
struct CloudState {
    client_id: String,
    access_token: String,
    refresh_token: String,
    scopes: Vec<String>,
    default_keepalive_s: u64,
    device_script: VecDeque<DeviceAnswer>,
    device_polls: Vec<std::time::Instant>,
    device_interval_s: u64,
    refreshes: usize,
    validations: usize,
    calls: Vec<HelixCall>,
    chat_drops: VecDeque<String>,
    subscribe_429s: usize,
    /// Helix paths answered 403 (a scope the token lacks), as Twitch words it.
    forbidden: Vec<String>,
    /// The next Helix answer says the bucket is empty until this many seconds from now.
    exhaust_next: Option<i64>,
    subs: Vec<Sub>,
    sessions: Vec<Session>,
    ws_paths: Vec<String>,
    /// Frames to send on the old socket of a reconnect, then again on the new one after its
    /// welcome.
    overlap: Vec<String>,
    inbound: Vec<String>,
    next: u64,
}

impl CloudState {
    fn next_id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}-{:04}", self.next)
    }
}

pub struct TwitchCloud {
    http_port: u16,
    ws_port: u16,
    state: Arc<Mutex<CloudState>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for TwitchCloud {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn now_rfc3339() -> String {
    // Twitch's timestamps carry nanoseconds.
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

static DELIVERY: AtomicU64 = AtomicU64::new(1);

/// A fresh delivery id (`metadata.message_id`).
pub fn delivery_id() -> String {
    format!(
        "befa7b53-d79d-478f-86b9-{:012x}",
        DELIVERY.fetch_add(1, Ordering::Relaxed)
    )
}

impl TwitchCloud {
    /// Starts both listeners. `scopes` are the ones a login gets; the access token valid at
    /// first is `access_token`.
    pub async fn start(
        client_id: &str,
        access_token: &str,
        refresh_token: &str,
        scopes: &[&str],
    ) -> TwitchCloud {
        let state = Arc::new(Mutex::new(CloudState {
            client_id: client_id.into(),
            access_token: access_token.into(),
            refresh_token: refresh_token.into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            default_keepalive_s: 10,
            device_interval_s: 1,
            ..CloudState::default()
        }));
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http_port = http.local_addr().unwrap().port();
        let ws = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws_port = ws.local_addr().unwrap().port();
        let app = Router::new()
            .route("/oauth2/device", post(device))
            .route("/oauth2/token", post(token))
            .route("/oauth2/validate", get(validate))
            .fallback(helix)
            .with_state(state.clone());
        let http_task = tokio::spawn(async move {
            axum::serve(http, app).await.unwrap();
        });
        let ws_task = {
            let state = state.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = ws.accept().await {
                    tokio::spawn(serve_socket(stream, state.clone(), ws_port));
                }
            })
        };
        TwitchCloud {
            http_port,
            ws_port,
            state,
            tasks: vec![http_task, ws_task],
        }
    }

    /// The id server's base (`oauth_url`).
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Helix's base (`helix_url`).
    pub fn helix_url(&self) -> String {
        format!("{}/helix", self.base())
    }

    /// The EventSub WebSocket URL (`eventsub_url`).
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.ws_port)
    }

    fn with<T>(&self, f: impl FnOnce(&mut CloudState) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// The keepalive window of a session whose URL asks for none (Twitch's is 10 s; tests use
    /// shorter ones).
    pub fn set_default_keepalive(&self, seconds: u64) {
        self.with(|s| s.default_keepalive_s = seconds);
    }

    /// The answers of the next device polls, before the tokens.
    pub fn script_device(&self, answers: &[DeviceAnswer]) {
        self.with(|s| s.device_script = answers.iter().copied().collect());
    }

    pub fn device_polls(&self) -> Vec<std::time::Instant> {
        self.with(|s| s.device_polls.clone())
    }

    /// The next chat message is dropped with `code`.
    pub fn drop_next_chat(&self, code: &str) {
        self.with(|s| s.chat_drops.push_back(code.to_owned()));
    }

    /// The next Helix answer says `Ratelimit-Remaining: 0` with the reset `seconds` from now.
    pub fn exhaust_rate_limit(&self, seconds: i64) {
        self.with(|s| s.exhaust_next = Some(seconds));
    }

    /// Every call to `path` (under `/helix`) gets 403, as when the token lacks its scope.
    pub fn forbid(&self, path: &str) {
        self.with(|s| s.forbidden.push(path.to_owned()));
    }

    /// The next `n` subscription requests get 429.
    pub fn refuse_subscriptions(&self, n: usize) {
        self.with(|s| s.subscribe_429s = n);
    }

    /// Makes the current access token invalid (as after it expired).
    pub fn expire_access_token(&self) {
        self.with(|s| s.access_token = format!("{}-expired", s.access_token));
    }

    pub fn access_token(&self) -> String {
        self.with(|s| s.access_token.clone())
    }

    pub fn refresh_token(&self) -> String {
        self.with(|s| s.refresh_token.clone())
    }

    pub fn refreshes(&self) -> usize {
        self.with(|s| s.refreshes)
    }

    pub fn calls(&self) -> Vec<HelixCall> {
        self.with(|s| s.calls.clone())
    }

    pub fn calls_to(&self, method: &str, path: &str) -> Vec<HelixCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && c.path == path)
            .collect()
    }

    pub fn subs(&self) -> Vec<Sub> {
        self.with(|s| s.subs.clone())
    }

    pub fn ws_paths(&self) -> Vec<String> {
        self.with(|s| s.ws_paths.clone())
    }

    /// What clients sent on their sockets (never allowed but pongs).
    pub fn inbound(&self) -> Vec<String> {
        self.with(|s| s.inbound.clone())
    }

    /// Ids of the sessions that are open.
    pub fn open_sessions(&self) -> Vec<String> {
        self.with(|s| {
            s.sessions
                .iter()
                .filter(|x| x.open)
                .map(|x| x.id.clone())
                .collect()
        })
    }

    /// How many sockets were welcomed in total.
    pub fn sessions_started(&self) -> usize {
        self.with(|s| s.sessions.len())
    }

    /// Waits until an open session has a subscription of every one of `kinds`.
    pub async fn wait_subscribed(&self, kinds: &[&str]) {
        wait_for(&format!("subscriptions to {kinds:?}"), || {
            self.with(|s| {
                s.sessions.iter().filter(|x| x.open).any(|session| {
                    kinds.iter().all(|k| {
                        s.subs
                            .iter()
                            .any(|sub| sub.session == session.id && sub.kind == *k)
                    })
                })
            })
        })
        .await;
    }

    /// The notification frame of `kind` with `event`, delivered as `delivery`, on the session
    /// holding such a subscription (`None` without one).
    fn notification_frame(
        s: &CloudState,
        session: &str,
        kind: &str,
        event: &serde_json::Value,
        delivery: &str,
    ) -> Option<String> {
        let sub = s
            .subs
            .iter()
            .find(|x| x.session == session && x.kind == kind)?;
        Some(
            serde_json::json!({
                "metadata": {
                    "message_id": delivery,
                    "message_type": "notification",
                    "message_timestamp": now_rfc3339(),
                    "subscription_type": kind,
                    "subscription_version": sub.version,
                },
                "payload": {
                    "subscription": {
                        "id": sub.id, "status": "enabled", "type": kind, "version": sub.version,
                        "cost": 0, "condition": sub.condition,
                        "transport": {"method": "websocket", "session_id": session},
                        "created_at": now_rfc3339(),
                    },
                    "event": event,
                },
            })
            .to_string(),
        )
    }

    /// Sends a notification of `kind` to every open session subscribed to it; how many got it.
    pub fn notify(&self, kind: &str, event: serde_json::Value) -> usize {
        self.notify_as(kind, event, &delivery_id())
    }

    /// As [`Self::notify`], with a given delivery id (a redelivery keeps its id).
    pub fn notify_as(&self, kind: &str, event: serde_json::Value, delivery: &str) -> usize {
        self.with(|s| {
            let mut sent = 0;
            for session in s.sessions.iter().filter(|x| x.open) {
                if let Some(frame) =
                    Self::notification_frame(s, &session.id, kind, &event, delivery)
                    && session.tx.try_send(WsCommand::Send(frame)).is_ok()
                {
                    sent += 1;
                }
            }
            sent
        })
    }

    /// `session_reconnect` to every open session; `overlap` notifications go on the old socket
    /// when the new one connects, and again (same delivery ids) on the new one after its welcome.
    pub fn reconnect(&self, overlap: &[(&str, serde_json::Value)]) {
        self.with(|s| {
            let open: Vec<(String, mpsc::Sender<WsCommand>)> = s
                .sessions
                .iter()
                .filter(|x| x.open)
                .map(|x| (x.id.clone(), x.tx.clone()))
                .collect();
            for (id, tx) in open {
                s.overlap = overlap
                    .iter()
                    .filter_map(|(kind, event)| Self::notification_frame(s, &id, kind, event, &delivery_id()))
                    .collect();
                let frame = serde_json::json!({
                    "metadata": {"message_id": delivery_id(), "message_type": "session_reconnect", "message_timestamp": now_rfc3339()},
                    "payload": {"session": {"id": id, "status": "reconnecting", "keepalive_timeout_seconds": null,
                        "reconnect_url": format!("ws://127.0.0.1:{}/ws?reconnect_id={}", self.ws_port, reconnect_id(&id)),
                        "connected_at": now_rfc3339()}},
                });
                let _ = tx.try_send(WsCommand::Send(frame.to_string()));
            }
        });
    }

    /// A revocation of `kind` (`status` as Twitch sends it) to every session subscribed to it.
    pub fn revoke(&self, kind: &str, status: &str) -> usize {
        self.with(|s| {
            let mut sent = 0;
            for session in s.sessions.iter().filter(|x| x.open) {
                let Some(sub) = s.subs.iter().find(|x| x.session == session.id && x.kind == kind) else {
                    continue;
                };
                let frame = serde_json::json!({
                    "metadata": {"message_id": delivery_id(), "message_type": "revocation", "message_timestamp": now_rfc3339(),
                        "subscription_type": kind, "subscription_version": sub.version},
                    "payload": {"subscription": {"id": sub.id, "status": status, "type": kind, "version": sub.version, "cost": 0,
                        "condition": sub.condition, "transport": {"method": "websocket", "session_id": session.id},
                        "created_at": now_rfc3339()}},
                });
                if session.tx.try_send(WsCommand::Send(frame.to_string())).is_ok() {
                    sent += 1;
                }
            }
            s.subs.retain(|x| x.kind != kind);
            sent
        })
    }

    /// Closes every open socket with `code`.
    pub fn close_all(&self, code: u16, reason: &str) -> usize {
        self.with(|s| {
            s.sessions
                .iter()
                .filter(|x| x.open)
                .filter(|x| {
                    x.tx.try_send(WsCommand::Close(code, reason.to_owned()))
                        .is_ok()
                })
                .count()
        })
    }

    /// Every open socket stops sending keepalives.
    pub fn silence_all(&self) -> usize {
        self.with(|s| {
            s.sessions
                .iter()
                .filter(|x| x.open)
                .filter(|x| x.tx.try_send(WsCommand::Silence).is_ok())
                .count()
        })
    }
}

/// Base64 of `session_id` without its trailing `=`, as the mock server builds it.
fn reconnect_id(session_id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE
        .encode(session_id)
        .trim_end_matches('=')
        .to_owned()
}

fn query_of(uri: &str) -> HashMap<String, String> {
    uri.split_once('?')
        .map(|(_, q)| form(q))
        .unwrap_or_default()
}

/// `application/x-www-form-urlencoded` pairs.
fn form(text: &str) -> HashMap<String, String> {
    text.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({
            "error": status.canonical_reason().unwrap_or_default(),
            "status": status.as_u16(),
            "message": message,
        })),
    )
        .into_response()
}

/// The id server's answers carry `status` and `message` only.
fn id_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({"status": status.as_u16(), "message": message})),
    )
        .into_response()
}

fn tokens(s: &CloudState) -> Response {
    axum::Json(serde_json::json!({
        "access_token": s.access_token, "expires_in": 14124, "refresh_token": s.refresh_token,
        "scope": s.scopes, "token_type": "bearer",
    }))
    .into_response()
}

async fn device(
    State(state): State<Arc<Mutex<CloudState>>>,
    uri: axum::http::Uri,
    body: String,
) -> Response {
    let mut fields = query_of(&uri.to_string());
    fields.extend(form(&body));
    let s = state.lock().unwrap();
    if fields.get("client_id") != Some(&s.client_id) {
        return id_error(StatusCode::BAD_REQUEST, "invalid client");
    }
    axum::Json(serde_json::json!({
        "device_code": "helloWorld", "expires_in": 1800, "interval": s.device_interval_s,
        "user_code": "ABCDEFGH",
        "verification_uri": "https://www.twitch.tv/activate?public=true&device-code=ABCDEFGH",
    }))
    .into_response()
}

async fn token(
    State(state): State<Arc<Mutex<CloudState>>>,
    uri: axum::http::Uri,
    body: String,
) -> Response {
    let mut fields = query_of(&uri.to_string());
    fields.extend(form(&body));
    let field = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let mut s = state.lock().unwrap();
    if field("client_id") != s.client_id {
        return id_error(StatusCode::BAD_REQUEST, "invalid client");
    }
    match field("grant_type").as_str() {
        "urn:ietf:params:oauth:grant-type:device_code" => {
            s.device_polls.push(std::time::Instant::now());
            if field("device_code") != "helloWorld" {
                return id_error(StatusCode::BAD_REQUEST, "invalid device code");
            }
            match s.device_script.pop_front() {
                Some(DeviceAnswer::Pending) => {
                    id_error(StatusCode::BAD_REQUEST, "authorization_pending")
                }
                Some(DeviceAnswer::SlowDown) => id_error(StatusCode::BAD_REQUEST, "slow_down"),
                None => tokens(&s),
            }
        }
        "refresh_token" => {
            if field("refresh_token") != s.refresh_token {
                return id_error(StatusCode::BAD_REQUEST, "Invalid refresh token");
            }
            // Single-use: a new pair each time.
            s.refreshes += 1;
            let n = s.refreshes;
            s.access_token = format!("tw-access-refreshed-{n}");
            s.refresh_token = format!("tw-refresh-refreshed-{n}");
            tokens(&s)
        }
        _ => id_error(StatusCode::BAD_REQUEST, "unsupported grant type"),
    }
}

async fn validate(State(state): State<Arc<Mutex<CloudState>>>, headers: HeaderMap) -> Response {
    let mut s = state.lock().unwrap();
    s.validations += 1;
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return id_error(StatusCode::UNAUTHORIZED, "missing authorization token");
    };
    if auth.strip_prefix("OAuth ") != Some(s.access_token.as_str()) {
        return id_error(StatusCode::UNAUTHORIZED, "invalid access token");
    }
    axum::Json(serde_json::json!({
        "client_id": s.client_id, "login": BROADCASTER_LOGIN, "scopes": s.scopes,
        "user_id": BROADCASTER_ID, "expires_in": 5_520_838,
    }))
    .into_response()
}

/// Every Helix route, with the token check and the rate-limit headers.
async fn helix(
    State(state): State<Arc<Mutex<CloudState>>>,
    method: Method,
    uri: axum::http::Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let path = uri
        .path()
        .strip_prefix("/helix")
        .unwrap_or(uri.path())
        .to_owned();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let bearer = header("authorization")
        .strip_prefix("Bearer ")
        .unwrap_or_default()
        .to_owned();
    let body_json: serde_json::Value =
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    let mut s = state.lock().unwrap();
    let mut response = if bearer != s.access_token || header("client-id") != s.client_id {
        error(StatusCode::UNAUTHORIZED, "Invalid OAuth token")
    } else if s.forbidden.contains(&path) {
        error(
            StatusCode::FORBIDDEN,
            "Missing scope: moderator:manage:banned_users",
        )
    } else {
        route(&mut s, &method, &path, &query, &body_json)
    };
    let status = response.status().as_u16();
    s.calls.push(HelixCall {
        method: method.to_string(),
        path,
        query,
        bearer,
        client_id: header("client-id"),
        body: body_json,
        status,
        at: std::time::Instant::now(),
    });
    let (remaining, reset) = match s.exhaust_next.take() {
        Some(seconds) => ("0", chrono::Utc::now().timestamp() + seconds),
        None => ("799", chrono::Utc::now().timestamp() + 60),
    };
    let h = response.headers_mut();
    h.insert("Ratelimit-Limit", HeaderValue::from_static("800"));
    h.insert("Ratelimit-Remaining", HeaderValue::from_static(remaining));
    h.insert(
        "Ratelimit-Reset",
        HeaderValue::from_str(&reset.to_string()).unwrap(),
    );
    response
}

fn route(
    s: &mut CloudState,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    body: &serde_json::Value,
) -> Response {
    let moderator_ok = query.get("moderator_id").map(String::as_str) == Some(BROADCASTER_ID);
    match (method.as_str(), path) {
        ("GET", "/users") => {
            let data: Vec<serde_json::Value> = match query.get("login").map(String::as_str) {
                Some(BROADCASTER_LOGIN) => vec![serde_json::json!({
                    "id": BROADCASTER_ID, "login": BROADCASTER_LOGIN, "display_name": "Demo_Channel",
                    "type": "", "broadcaster_type": "affiliate", "description": "", "profile_image_url": "",
                    "offline_image_url": "", "created_at": "2016-12-14T20:32:28Z",
                })],
                _ => Vec::new(),
            };
            axum::Json(serde_json::json!({"data": data})).into_response()
        }
        ("POST", "/eventsub/subscriptions") => subscribe(s, body),
        ("POST", "/chat/messages") => {
            if body["sender_id"] != BROADCASTER_ID {
                return error(
                    StatusCode::FORBIDDEN,
                    "The sender must be the token's user.",
                );
            }
            match s.chat_drops.pop_front() {
                Some(code) => axum::Json(serde_json::json!({"data": [{"message_id": "", "is_sent": false,
                    "drop_reason": {"code": code, "message": "Your message is identical to the one you sent within the last 30 seconds."}}]}))
                .into_response(),
                None => {
                    let id = s.next_id("sent");
                    axum::Json(serde_json::json!({"data": [{"message_id": id, "is_sent": true}]})).into_response()
                }
            }
        }
        ("POST", "/moderation/bans") if !moderator_ok => error(
            StatusCode::UNAUTHORIZED,
            "Moderator ID does not match token.",
        ),
        ("POST", "/moderation/bans") => {
            let data = &body["data"];
            let Some(user) = data["user_id"].as_str() else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Missing required parameter \"user_id\"",
                );
            };
            let end = data["duration"].as_u64().map(|d| {
                (chrono::Utc::now() + chrono::Duration::seconds(d as i64))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            });
            axum::Json(serde_json::json!({"data": [{"broadcaster_id": query.get("broadcaster_id"),
                "moderator_id": BROADCASTER_ID, "user_id": user,
                "created_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "end_time": end}]}))
            .into_response()
        }
        ("DELETE", "/moderation/bans" | "/moderation/chat") if moderator_ok => {
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "/chat/announcements") if moderator_ok => StatusCode::NO_CONTENT.into_response(),
        ("DELETE" | "POST", _) if !moderator_ok && path.starts_with("/moderation") => error(
            StatusCode::UNAUTHORIZED,
            "Moderator ID does not match token.",
        ),
        _ => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

fn subscribe(s: &mut CloudState, body: &serde_json::Value) -> Response {
    if s.subscribe_429s > 0 {
        s.subscribe_429s -= 1;
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "websocket transport subscriptions total cost exceeded",
        );
    }
    if body["transport"]["method"] != "websocket" {
        return error(
            StatusCode::BAD_REQUEST,
            "The value specified in the 'method' field is not valid",
        );
    }
    let (Some(kind), Some(version), Some(session)) = (
        body["type"].as_str(),
        body["version"].as_str(),
        body["transport"]["session_id"].as_str(),
    ) else {
        return error(StatusCode::BAD_REQUEST, "Missing required parameter");
    };
    if kind == "channel.follow" && version != "2" {
        return error(StatusCode::GONE, "This subscription type is not available.");
    }
    if !s.sessions.iter().any(|x| x.id == session && x.open) {
        return error(
            StatusCode::BAD_REQUEST,
            "session does not exist or has already disconnected",
        );
    }
    if s.subs
        .iter()
        .any(|x| x.session == session && x.kind == kind)
    {
        return error(StatusCode::CONFLICT, "subscription already exists");
    }
    let id = s.next_id("sub");
    s.subs.push(Sub {
        id: id.clone(),
        kind: kind.into(),
        version: version.into(),
        condition: body["condition"].clone(),
        session: session.into(),
    });
    let total = s.subs.iter().filter(|x| x.session == session).count();
    (
        StatusCode::ACCEPTED,
        axum::Json(serde_json::json!({"data": [{"id": id, "status": "enabled", "type": kind, "version": version,
            "condition": body["condition"], "created_at": now_rfc3339(),
            "transport": {"method": "websocket", "session_id": session, "connected_at": now_rfc3339()}, "cost": 0}],
            "total": total, "total_cost": 0, "max_total_cost": 10})),
    )
        .into_response()
}

fn welcome(id: &str, keepalive_s: u64) -> String {
    serde_json::json!({
        "metadata": {"message_id": delivery_id(), "message_type": "session_welcome", "message_timestamp": now_rfc3339()},
        "payload": {"session": {"id": id, "status": "connected", "connected_at": now_rfc3339(),
            "keepalive_timeout_seconds": keepalive_s, "reconnect_url": null, "recovery_url": null}},
    })
    .to_string()
}

fn keepalive_frame() -> String {
    serde_json::json!({
        "metadata": {"message_id": delivery_id(), "message_type": "session_keepalive", "message_timestamp": now_rfc3339()},
        "payload": {},
    })
    .to_string()
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_owned().into(),
    }))
}

async fn serve_socket(stream: tokio::net::TcpStream, state: Arc<Mutex<CloudState>>, port: u16) {
    let _ = port;
    let path = Arc::new(Mutex::new(String::new()));
    let seen = path.clone();
    #[allow(clippy::result_large_err)]
    let record = move |request: &Request, response: WsResponse| {
        *seen.lock().unwrap() = request.uri().to_string();
        Ok(response)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, record).await else {
        return;
    };
    let path = path.lock().unwrap().clone();
    let query = query_of(&path);
    let (tx, mut rx) = mpsc::channel::<WsCommand>(1024);
    // A reconnect: the old session's id, its subscriptions moved to a new session.
    let accepted = (|| {
        let mut s = state.lock().unwrap();
        s.ws_paths.push(path.clone());
        // An invalid number gets the nearest acceptable value.
        let keepalive_s = query
            .get("keepalive_timeout_seconds")
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(s.default_keepalive_s, |asked| asked.clamp(10, 600));
        let id = {
            let n = s.next_id("session");
            format!("AQoQexAWVYKSTIu4ec_2VA{n}")
        };
        match query.get("reconnect_id") {
            Some(old) => {
                // An id of no open session: the caller closes 4007.
                let old_id = s
                    .sessions
                    .iter()
                    .find(|x| x.open && reconnect_id(&x.id) == *old)
                    .map(|x| x.id.clone())?;
                for sub in s.subs.iter_mut().filter(|x| x.session == old_id) {
                    sub.session = id.clone();
                }
                let old_tx = s
                    .sessions
                    .iter()
                    .find(|x| x.id == old_id)
                    .map(|x| x.tx.clone());
                let overlap = std::mem::take(&mut s.overlap);
                let mut delivered = None;
                if let Some(old_tx) = old_tx
                    && !overlap.is_empty()
                {
                    for frame in &overlap {
                        let _ = old_tx.try_send(WsCommand::Send(frame.clone()));
                    }
                    let (done, on_old_socket) = tokio::sync::oneshot::channel();
                    let _ = old_tx.try_send(WsCommand::Delivered(done));
                    delivered = Some(on_old_socket);
                }
                Some((id, keepalive_s, true, overlap, delivered))
            }
            None => Some((id, keepalive_s, false, Vec::new(), None)),
        }
    })();
    let Some((id, keepalive_s, inherited, overlap, delivered)) = accepted else {
        let _ = ws.send(close(4007, "invalid reconnect attempt")).await;
        return;
    };
    if let Some(on_old_socket) = delivered {
        // The old socket delivers the overlap first; the new one's welcome follows, as Twitch's
        // old connection keeps delivering until the new one is welcomed. (A closed old socket
        // drops the signal: nothing more to wait for.)
        let _ = on_old_socket.await;
    }
    if ws
        .send(Message::text(welcome(&id, keepalive_s)))
        .await
        .is_err()
    {
        return;
    }
    state.lock().unwrap().sessions.push(Session {
        id: id.clone(),
        tx: tx.clone(),
        open: true,
        welcomed_at: std::time::Instant::now(),
        keepalive_s,
    });
    for frame in overlap {
        // The same deliveries again (their `message_id`s unchanged) on the new socket. The
        // subscription ids inside are the same; only the transport's session id differs.
        if ws.send(Message::text(frame)).await.is_err() {
            break;
        }
    }
    let window = Duration::from_secs(keepalive_s);
    let mut quiet_until = tokio::time::Instant::now() + window;
    let mut silent = false;
    let deadline = tokio::time::Instant::now() + window;
    let mut subscribed = inherited;
    let end = loop {
        let check_deadline = !subscribed;
        tokio::select! {
            command = rx.recv() => match command {
                Some(WsCommand::Send(text)) => {
                    if ws.send(Message::text(text)).await.is_err() { break None; }
                    quiet_until = tokio::time::Instant::now() + window;
                }
                Some(WsCommand::Close(code, reason)) => break Some((code, reason)),
                Some(WsCommand::Silence) => silent = true,
                Some(WsCommand::Delivered(done)) => {
                    let _ = done.send(());
                }
                None => break None,
            },
            message = ws.next() => match message {
                Some(Ok(Message::Pong(_) | Message::Ping(_))) => {}
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break None,
                Some(Ok(other)) => {
                    state.lock().unwrap().inbound.push(other.to_string());
                    break Some((4001, "client sent inbound traffic".to_owned()));
                }
            },
            () = tokio::time::sleep_until(quiet_until), if !silent => {
                if ws.send(Message::text(keepalive_frame())).await.is_err() { break None; }
                quiet_until = tokio::time::Instant::now() + window;
            }
            () = tokio::time::sleep_until(deadline), if check_deadline => {
                subscribed = state.lock().unwrap().subs.iter().any(|x| x.session == id);
                if !subscribed {
                    break Some((4003, "connection unused".to_owned()));
                }
            }
        }
    };
    if let Some((code, reason)) = end {
        let _ = ws.send(close(code, &reason)).await;
    }
    let mut s = state.lock().unwrap();
    if let Some(me) = s.sessions.iter_mut().find(|x| x.id == id) {
        me.open = false;
    }
}
