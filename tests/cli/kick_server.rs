//! Loopback Kick servers for tests: a Pusher server speaking protocol 7 (the Pusher Channels protocol, version 7) and the
//! HTTP endpoints of §3 (the channel lookup, `POST /public/v1/chat`, `POST /oauth/token`).
//!
//! [`PusherServer`] accepts websockets, sends `pusher:connection_established` with the
//! `activity_timeout` it was given, answers `pusher:subscribe` with
//! `pusher_internal:subscription_succeeded` (taking `data` as an object or a string), answers
//! `pusher:ping` with `pusher:pong`, and records every frame clients send. Tests push app events
//! (double-encoded `data`), `pusher:error` frames, server pings, and abrupt closes (the TCP
//! connection dropped without a close frame).
//!
//! [`KickApi`] accepts only its current access token on `/public/v1/chat` and on the moderation
//! endpoints of §3.3 (401 otherwise): `POST` and `DELETE /public/v1/moderation/bans` (a JSON body of
//! integer ids, `duration` in minutes 1–10080, `reason` at most 100 characters; 400
//! `Invalid request` otherwise; 200 `{"data":{},"message":"OK"}`) and `DELETE /public/v1/chat/{id}`
//! (204). It swaps
//! in a new one when `/oauth/token` gets the right refresh token and client credentials (400
//! `invalid_grant` otherwise), and answers the channel lookup with JSON, or for the slug `blocked`
//! with a Cloudflare-style 403 HTML page. Everything it is sent is recorded.

#![allow(dead_code)]

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use futures_util::{SinkExt, StreamExt};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response as WsResponse};

/// What a test can make one connection do.
enum Command {
    Send(String),
    /// Drop the TCP connection without a websocket close frame.
    Abort,
}

/// One connected client.
struct Client {
    tx: mpsc::Sender<Command>,
    channels: Vec<String>,
}

/// What the Pusher server saw.
#[derive(Debug, Default, Clone)]
pub struct PusherLog {
    /// Request paths (with query) of every websocket handshake.
    pub paths: Vec<String>,
    /// Every frame clients sent, in order.
    pub frames: Vec<serde_json::Value>,
    /// Channels subscribed, one entry per subscription.
    pub subscriptions: Vec<String>,
}

impl PusherLog {
    pub fn frames_named(&self, event: &str) -> usize {
        self.frames.iter().filter(|f| f["event"] == event).count()
    }
}

pub struct PusherServer {
    port: u16,
    log: Arc<Mutex<PusherLog>>,
    clients: Arc<Mutex<Vec<Client>>>,
    task: JoinHandle<()>,
}

impl Drop for PusherServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits until `check` holds, polling; fails after 20 s with `what`.
pub async fn wait_for(what: &str, check: impl FnMut() -> bool) {
    crate::harness::until_within(Duration::from_secs(20), what, check).await
}

impl PusherServer {
    /// Starts on a free loopback port; `activity_timeout` is announced in
    /// `connection_established`.
    pub async fn start(activity_timeout: u64) -> PusherServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(PusherLog::default()));
        let clients: Arc<Mutex<Vec<Client>>> = Arc::default();
        let task = {
            let (log, clients) = (log.clone(), clients.clone());
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (log, clients) = (log.clone(), clients.clone());
                    tokio::spawn(serve_connection(stream, activity_timeout, log, clients));
                }
            })
        };
        PusherServer {
            port,
            log,
            clients,
            task,
        }
    }

    /// The `ws_url` for platforms.json.
    pub fn url(&self) -> String {
        format!(
            "ws://127.0.0.1:{}/app/32cbd69e4b950bf97679?protocol=7&client=js&version=8.4.0&flash=false",
            self.port
        )
    }

    pub fn log(&self) -> PusherLog {
        self.log.lock().unwrap().clone()
    }

    /// Waits until `n` subscriptions to `channel` have succeeded in total.
    pub async fn wait_for_subscriptions(&self, channel: &str, n: usize) {
        wait_for(&format!("{n} subscriptions to {channel}"), || {
            self.log()
                .subscriptions
                .iter()
                .filter(|c| *c == channel)
                .count()
                >= n
        })
        .await;
    }

    fn to_subscribers(&self, channel: &str, command: impl Fn() -> Command) -> usize {
        let clients = self.clients.lock().unwrap();
        let mut sent = 0;
        for client in clients.iter() {
            if client.channels.iter().any(|c| c == channel) && client.tx.try_send(command()).is_ok()
            {
                sent += 1;
            }
        }
        sent
    }

    /// Sends an app event to every client subscribed to `channel`, `data` double-encoded.
    pub fn send_event(&self, channel: &str, event: &str, data: &serde_json::Value) -> usize {
        let frame =
            serde_json::json!({"event": event, "data": data.to_string(), "channel": channel})
                .to_string();
        self.to_subscribers(channel, || Command::Send(frame.clone()))
    }

    /// Sends a raw frame to every client subscribed to `channel`.
    pub fn send_raw(&self, channel: &str, frame: &str) -> usize {
        self.to_subscribers(channel, || Command::Send(frame.to_owned()))
    }

    /// `pusher:error` with `code` to every client subscribed to `channel`.
    pub fn send_error(&self, channel: &str, code: u16, message: &str) -> usize {
        let frame = serde_json::json!({"event": "pusher:error", "data": {"code": code, "message": message}})
            .to_string();
        self.send_raw(channel, &frame)
    }

    /// Drops every connection subscribed to `channel` without a close frame.
    pub fn abort(&self, channel: &str) -> usize {
        self.to_subscribers(channel, || Command::Abort)
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    activity_timeout: u64,
    log: Arc<Mutex<PusherLog>>,
    clients: Arc<Mutex<Vec<Client>>>,
) {
    let path_log = log.clone();
    // The callback's error type is tungstenite's (an HTTP response), not ours to make smaller.
    #[allow(clippy::result_large_err)]
    let record_path = move |request: &Request, response: WsResponse| {
        path_log
            .lock()
            .unwrap()
            .paths
            .push(request.uri().to_string());
        Ok(response)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, record_path).await else {
        return;
    };
    let established = serde_json::json!({
        "event": "pusher:connection_established",
        "data": serde_json::json!({"socket_id": "123.456", "activity_timeout": activity_timeout}).to_string(),
    });
    if ws
        .send(Message::text(established.to_string()))
        .await
        .is_err()
    {
        return;
    }
    let (tx, mut rx) = mpsc::channel(1024);
    let mut registered = false;
    loop {
        tokio::select! {
            command = rx.recv() => match command {
                Some(Command::Send(text)) => {
                    if ws.send(Message::text(text)).await.is_err() {
                        return;
                    }
                }
                Some(Command::Abort) | None => return,
            },
            message = ws.next() => {
                let Some(Ok(message)) = message else { return };
                let Message::Text(text) = message else { continue };
                let Ok(frame) = serde_json::from_str::<serde_json::Value>(text.as_str()) else { continue };
                log.lock().unwrap().frames.push(frame.clone());
                match frame["event"].as_str() {
                    Some("pusher:subscribe") => {
                        // `data` may be an object (today's clients) or a JSON string (the old spec).
                        let data = match &frame["data"] {
                            serde_json::Value::String(s) => serde_json::from_str(s).unwrap_or_default(),
                            other => other.clone(),
                        };
                        let Some(channel) = data["channel"].as_str().map(str::to_owned) else { continue };
                        let ok = serde_json::json!({
                            "event": "pusher_internal:subscription_succeeded",
                            "channel": channel,
                            "data": "{}",
                        });
                        if ws.send(Message::text(ok.to_string())).await.is_err() {
                            return;
                        }
                        log.lock().unwrap().subscriptions.push(channel.clone());
                        let mut all = clients.lock().unwrap();
                        if !registered {
                            registered = true;
                            all.push(Client { tx: tx.clone(), channels: Vec::new() });
                        }
                        if let Some(me) = all.iter_mut().find(|c| c.tx.same_channel(&tx)) {
                            me.channels.push(channel);
                        }
                    }
                    Some("pusher:ping") => {
                        let pong = r#"{"event":"pusher:pong","data":"{}"}"#;
                        if ws.send(Message::text(pong)).await.is_err() {
                            return;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// One `POST /public/v1/chat` as received.
#[derive(Debug, Clone)]
pub struct ChatPost {
    pub bearer: String,
    pub body: serde_json::Value,
    pub status: u16,
}

/// One moderation call as received.
#[derive(Debug, Clone)]
pub struct ModerationCall {
    pub method: String,
    pub path: String,
    pub bearer: String,
    /// The JSON body (`null` for none).
    pub body: serde_json::Value,
    pub status: u16,
}

#[derive(Debug, Default)]
struct ApiState {
    access_token: String,
    refresh_token: String,
    client_id: String,
    client_secret: String,
    chatroom_id: u64,
    chat: Vec<ChatPost>,
    moderation: Vec<ModerationCall>,
    refreshes: Vec<String>,
    lookups: Vec<String>,
}

/// The loopback Kick HTTP API.
pub struct KickApi {
    port: u16,
    state: Arc<Mutex<ApiState>>,
    task: JoinHandle<()>,
}

impl Drop for KickApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl KickApi {
    /// Accepts `access_token` on chat sends until a refresh with these credentials replaces it.
    pub async fn start(
        access_token: &str,
        refresh_token: &str,
        client_id: &str,
        client_secret: &str,
        chatroom_id: u64,
    ) -> KickApi {
        let state = Arc::new(Mutex::new(ApiState {
            access_token: access_token.into(),
            refresh_token: refresh_token.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            chatroom_id,
            ..ApiState::default()
        }));
        let app = Router::new()
            .route("/api/v2/channels/{slug}", get(lookup))
            .route("/public/v1/chat", post(chat))
            .route("/public/v1/chat/{message_id}", delete(delete_message))
            .route("/public/v1/moderation/bans", post(ban).delete(unban))
            .route("/oauth/token", post(token))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        KickApi { port, state, task }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn chat(&self) -> Vec<ChatPost> {
        self.state.lock().unwrap().chat.clone()
    }

    /// Every moderation call, in order.
    pub fn moderation(&self) -> Vec<ModerationCall> {
        self.state.lock().unwrap().moderation.clone()
    }

    pub async fn wait_for_moderation(&self, n: usize) {
        wait_for(&format!("{n} moderation calls"), || {
            self.moderation().len() >= n
        })
        .await;
    }

    /// The grant bodies of every token request.
    pub fn refreshes(&self) -> Vec<String> {
        self.state.lock().unwrap().refreshes.clone()
    }

    pub fn lookups(&self) -> Vec<String> {
        self.state.lock().unwrap().lookups.clone()
    }

    /// The access token the API accepts now.
    pub fn access_token(&self) -> String {
        self.state.lock().unwrap().access_token.clone()
    }

    pub async fn wait_for_chat(&self, n: usize) {
        wait_for(&format!("{n} chat sends"), || {
            self.chat().iter().filter(|p| p.status == 200).count() >= n
        })
        .await;
    }
}

async fn lookup(State(state): State<Arc<Mutex<ApiState>>>, Path(slug): Path<String>) -> Response {
    let mut state = state.lock().unwrap();
    state.lookups.push(slug.clone());
    if slug == "blocked" {
        return (
            StatusCode::FORBIDDEN,
            [("content-type", "text/html; charset=UTF-8")],
            "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Cloudflare</body></html>",
        )
            .into_response();
    }
    let body = serde_json::json!({
        "id": 9001, "user_id": 4242, "slug": slug,
        "chatroom": {"id": state.chatroom_id, "channel_id": 9001},
        "livestream": {"id": 777, "session_title": "Test stream", "start_time": "2025-07-17 08:00:00"},
    });
    axum::Json(body).into_response()
}

async fn chat(
    State(state): State<Arc<Mutex<ApiState>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut state = state.lock().unwrap();
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let ok = bearer == state.access_token;
    let status = if ok { 200 } else { 401 };
    state.chat.push(ChatPost {
        bearer,
        body,
        status,
    });
    if ok {
        let id = format!("sent-{}", state.chat.len());
        axum::Json(
            serde_json::json!({"data": {"is_sent": true, "message_id": id}, "message": "OK"}),
        )
        .into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"message": "Unauthorized"})),
        )
            .into_response()
    }
}

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned()
}

/// Whether `body` is a ban as §3.3 describes it: integer ids, `duration` minutes 1–10080 when
/// present, `reason` a string of at most 100 characters when present, nothing else.
fn valid_ban(body: &serde_json::Value, unban: bool) -> bool {
    let Some(fields) = body.as_object() else {
        return false;
    };
    let ids = ["broadcaster_user_id", "user_id"]
        .iter()
        .all(|k| fields.get(*k).is_some_and(serde_json::Value::is_u64));
    let known = fields.keys().all(|k| {
        matches!(k.as_str(), "broadcaster_user_id" | "user_id")
            || (!unban && matches!(k.as_str(), "duration" | "reason"))
    });
    let duration = fields
        .get("duration")
        .is_none_or(|d| d.as_u64().is_some_and(|m| (1..=10_080).contains(&m)));
    let reason = fields
        .get("reason")
        .is_none_or(|r| r.as_str().is_some_and(|r| r.chars().count() <= 100));
    ids && known && duration && reason
}

fn moderation(
    state: &Arc<Mutex<ApiState>>,
    method: &str,
    path: String,
    headers: &HeaderMap,
    body: &str,
    valid: impl Fn(&serde_json::Value) -> bool,
    success: StatusCode,
) -> Response {
    let mut state = state.lock().unwrap();
    let bearer = bearer(headers);
    let body: serde_json::Value = if body.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(body).unwrap_or(serde_json::Value::String(body.to_owned()))
    };
    let status = if bearer != state.access_token {
        StatusCode::UNAUTHORIZED
    } else if !valid(&body) {
        StatusCode::BAD_REQUEST
    } else {
        success
    };
    state.moderation.push(ModerationCall {
        method: method.into(),
        path,
        bearer,
        body,
        status: status.as_u16(),
    });
    match status {
        StatusCode::NO_CONTENT => StatusCode::NO_CONTENT.into_response(),
        StatusCode::OK => (
            status,
            axum::Json(serde_json::json!({"data": {}, "message": "OK"})),
        )
            .into_response(),
        StatusCode::UNAUTHORIZED => (
            status,
            axum::Json(serde_json::json!({"message": "Unauthorized", "data": null})),
        )
            .into_response(),
        _ => (
            status,
            axum::Json(serde_json::json!({"message": "Invalid request", "data": null})),
        )
            .into_response(),
    }
}

async fn ban(
    State(state): State<Arc<Mutex<ApiState>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let path = "/public/v1/moderation/bans".to_owned();
    let valid = |b: &serde_json::Value| valid_ban(b, false);
    moderation(&state, "POST", path, &headers, &body, valid, StatusCode::OK)
}

async fn unban(
    State(state): State<Arc<Mutex<ApiState>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let path = "/public/v1/moderation/bans".to_owned();
    let valid = |b: &serde_json::Value| valid_ban(b, true);
    moderation(
        &state,
        "DELETE",
        path,
        &headers,
        &body,
        valid,
        StatusCode::OK,
    )
}

async fn delete_message(
    State(state): State<Arc<Mutex<ApiState>>>,
    Path(message_id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let path = format!("/public/v1/chat/{message_id}");
    let valid = |b: &serde_json::Value| b.is_null();
    moderation(
        &state,
        "DELETE",
        path,
        &headers,
        &body,
        valid,
        StatusCode::NO_CONTENT,
    )
}

async fn token(State(state): State<Arc<Mutex<ApiState>>>, body: String) -> Response {
    let mut state = state.lock().unwrap();
    state.refreshes.push(body.clone());
    let form: std::collections::HashMap<String, String> = body
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.replace('+', " ")))
        .collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let ok = field("grant_type") == "refresh_token"
        && field("refresh_token") == state.refresh_token
        && field("client_id") == state.client_id
        && field("client_secret") == state.client_secret;
    if !ok {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"error": "invalid_grant"})),
        )
            .into_response();
    }
    let n = state.refreshes.len();
    state.access_token = format!("refreshed-access-{n}-0123456789");
    state.refresh_token = format!("refreshed-refresh-{n}-0123456789");
    axum::Json(serde_json::json!({
        "access_token": state.access_token,
        "token_type": "Bearer",
        "refresh_token": state.refresh_token,
        "expires_in": 7200,
        "scope": "chat:write",
    }))
    .into_response()
}
