//! A loopback Discord for the gateway bot, speaking Discord's gateway (v10, JSON) and HTTP API
//! references: one websocket gateway and one REST API sharing one model.
//!
//! REST (`/api/v10`, `Authorization: Bot <token>` required, 401 otherwise):
//! - `GET /gateway/bot`: the gateway's `ws://` URL and the `session_start_limit` (its `remaining`
//!   counts down with each Identify).
//! - `PUT /applications/{app}/guilds/{guild}/commands`: the bulk overwrite, checked like Discord
//!   (an array; names 1–32 lowercase, descriptions 1–100; 400 `Invalid Form Body` otherwise);
//!   answers the commands with ids.
//! - `POST /interactions/{id}/{token}/callback`: only for an interaction the gateway dispatched,
//!   with its token, once (400 `40060` already acknowledged), and within 3 s of the dispatch (404
//!   `10062` Unknown interaction otherwise); 204.
//! - `PATCH /webhooks/{app}/{token}/messages/@original`: only after a callback; 200.
//! - `POST /channels/{id}/messages`: recorded; 200.
//!
//! Gateway: the path must carry `v=10&encoding=json` (4012 otherwise); Hello first with the
//! configured interval; op 1 is answered with op 11; anything but a heartbeat before Identify or
//! Resume is closed with 4003; Identify with a wrong token is closed with 4004, with a privileged
//! intent with 4014; it answers READY (a session id and a `resume_gateway_url` on the `/resume`
//! path) and one GUILD_CREATE per guild; Resume of a known session replays the dispatches after its
//! `seq`, then RESUMED; an unknown session gets op 9 `false`. Dispatches carry a sequence per
//! session. Tests script the rest: op 7, op 9, a close code, a drop with no close frame, and
//! INTERACTION_CREATE dispatches (kept in the session's log, so one sent while the bot is away is
//! replayed on resume).

#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response as WsResponse};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

pub const TOKEN: &str = "discord-bot-token-Qx7.Zm4";
pub const APPLICATION_ID: &str = "333000000000000333";
pub const BOT_USER_ID: &str = "111000000000000111";
/// How long Discord waits for the first answer to an interaction.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(3);

/// What a test can see of one connection.
#[derive(Debug, Clone)]
pub struct Connection {
    pub path: String,
    pub hello_at: Instant,
    /// Heartbeats received: arrival time and `d`.
    pub heartbeats: Vec<(Instant, Value)>,
    pub identified: bool,
    pub resumed: bool,
    pub closed_by_client: Option<u16>,
}

/// One Identify received.
#[derive(Debug, Clone)]
pub struct Identify {
    pub at: Instant,
    pub intents: u64,
    pub body: Value,
}

/// One Resume received.
#[derive(Debug, Clone)]
pub struct Resume {
    pub at: Instant,
    pub session_id: String,
    pub seq: Option<u64>,
    pub path: String,
}

/// An interaction dispatched, and what the bot answered.
#[derive(Debug, Clone)]
pub struct Sent {
    pub id: String,
    pub token: String,
    pub dispatched_at: Option<Instant>,
    /// The callback body, with its arrival time and the status the server answered.
    pub callback: Option<(Instant, Value, u16)>,
    /// Edits of the original response.
    pub edits: Vec<Value>,
}

#[derive(Debug, Default)]
struct Session {
    events: Vec<(u64, String, Value)>,
    seq: u64,
}

#[derive(Debug, Default)]
pub struct Model {
    pub connections: Vec<Connection>,
    pub identifies: Vec<Identify>,
    pub resumes: Vec<Resume>,
    /// `(guild, body)` of each bulk overwrite.
    pub registrations: Vec<(String, Value)>,
    pub interactions: Vec<Sent>,
    /// `(channel, body)` of each message created.
    pub messages: Vec<(String, Value)>,
    pub remaining_identifies: u32,
    /// The token Identify must carry (a test sets a wrong one to get 4004).
    pub expected_token: String,
    /// Guilds announced after READY: `(id, name)`.
    pub guilds: Vec<(String, String)>,
    /// When false, heartbeats get no ACK (a zombie connection).
    pub ack_heartbeats: bool,
    /// Identify is closed with 4004 whatever its token (the token was reset meanwhile).
    pub reject_identify: bool,
    sessions: HashMap<String, Session>,
    /// The session of each live connection, by connection index.
    live: HashMap<usize, String>,
    next_session: u64,
    next_id: u64,
}

enum Command {
    Send(String),
    Close(u16),
    Drop,
}

/// The loopback Discord.
pub struct DiscordGateway {
    model: Arc<Mutex<Model>>,
    rest_port: u16,
    gateway_port: u16,
    clients: Arc<Mutex<HashMap<usize, mpsc::Sender<Command>>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for DiscordGateway {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

pub use crate::harness::until_within as wait_until;

impl DiscordGateway {
    /// Starts both servers; Hello announces `heartbeat_interval` ms.
    pub async fn start(heartbeat_interval: u64) -> DiscordGateway {
        let model = Arc::new(Mutex::new(Model {
            remaining_identifies: 998,
            expected_token: TOKEN.to_owned(),
            guilds: vec![("222000000000000222".into(), "Demo server".into())],
            ack_heartbeats: true,
            ..Model::default()
        }));
        let clients: Arc<Mutex<HashMap<usize, mpsc::Sender<Command>>>> = Arc::default();
        let gateway = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway_port = gateway.local_addr().unwrap().port();
        let rest_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let rest_port = rest_listener.local_addr().unwrap().port();
        let gateway_task = {
            let (model, clients) = (model.clone(), clients.clone());
            tokio::spawn(async move {
                while let Ok((stream, _)) = gateway.accept().await {
                    tokio::spawn(serve_gateway(
                        stream,
                        heartbeat_interval,
                        gateway_port,
                        model.clone(),
                        clients.clone(),
                    ));
                }
            })
        };
        let rest_task = {
            let state = RestState {
                model: model.clone(),
                gateway_port,
            };
            let app = axum::Router::new().fallback(rest).with_state(state);
            tokio::spawn(async move {
                axum::serve(rest_listener, app).await.unwrap();
            })
        };
        DiscordGateway {
            model,
            rest_port,
            gateway_port,
            clients,
            tasks: vec![gateway_task, rest_task],
        }
    }

    /// `api_base_url` for discord.json.
    pub fn api_base(&self) -> String {
        format!("http://127.0.0.1:{}/api/v10", self.rest_port)
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Model> {
        self.model.lock().unwrap()
    }

    pub fn identifies(&self) -> usize {
        self.lock().identifies.len()
    }

    pub fn resumes(&self) -> usize {
        self.lock().resumes.len()
    }

    /// Whether a connection is live and identified or resumed.
    pub fn ready(&self) -> bool {
        let m = self.lock();
        !m.live.is_empty()
    }

    fn to_live(&self, command: impl Fn() -> Command) -> usize {
        let live: Vec<usize> = self.lock().live.keys().copied().collect();
        let clients = self.clients.lock().unwrap();
        live.iter()
            .filter_map(|i| clients.get(i))
            .filter(|tx| tx.try_send(command()).is_ok())
            .count()
    }

    /// Op 7 to every live connection.
    pub fn reconnect(&self) -> usize {
        self.to_live(|| Command::Send(json!({"op": 7, "d": null}).to_string()))
    }

    /// Op 9 with `d` to every live connection.
    pub fn invalidate(&self, resumable: bool) -> usize {
        self.to_live(|| Command::Send(json!({"op": 9, "d": resumable}).to_string()))
    }

    /// Closes every live connection with `code`.
    pub fn close(&self, code: u16) -> usize {
        self.to_live(|| Command::Close(code))
    }

    /// Drops every live connection without a close frame.
    pub fn drop_connections(&self) -> usize {
        self.to_live(|| Command::Drop)
    }

    /// Dispatches a slash command as `member` (user id, name, role ids) in `guild`: `data` is the
    /// interaction's `data`. Returns the interaction id.
    pub fn command(&self, guild: &str, user: (&str, &str), roles: &[&str], data: Value) -> String {
        let (id, token, payload, targets) = {
            let mut m = self.lock();
            m.next_id += 1;
            let id = format!("{}", 786_008_729_715_212_000u64 + m.next_id);
            let token = format!("interaction-token-{}-Kp2", m.next_id);
            let payload = json!({
                "id": id, "application_id": APPLICATION_ID, "type": 2, "token": token, "version": 1,
                "guild_id": guild, "channel_id": "645027906669510667",
                "member": {"user": {"id": user.0, "username": user.1}, "roles": roles, "permissions": "2147483647"},
                "app_permissions": "442368", "locale": "en-US",
                "data": data,
            });
            m.interactions.push(Sent {
                id: id.clone(),
                token: token.clone(),
                dispatched_at: None,
                callback: None,
                edits: Vec::new(),
            });
            // Into the log of the live session (or the last one, to be replayed on resume).
            let session = m
                .live
                .values()
                .next()
                .cloned()
                .or_else(|| m.sessions.keys().max().cloned());
            let mut frame = None;
            if let Some(sid) = session
                && let Some(s) = m.sessions.get_mut(&sid)
            {
                s.seq += 1;
                let seq = s.seq;
                s.events
                    .push((seq, "INTERACTION_CREATE".into(), payload.clone()));
                frame = Some(
                    json!({"op": 0, "s": seq, "t": "INTERACTION_CREATE", "d": payload}).to_string(),
                );
            }
            let targets: Vec<usize> = m.live.keys().copied().collect();
            (id, token, frame, targets)
        };
        let _ = token;
        if let Some(frame) = payload {
            let clients = self.clients.lock().unwrap();
            let stamp = |at: Option<Instant>| {
                let mut m = self.lock();
                if let Some(sent) = m.interactions.iter_mut().find(|s| s.id == id) {
                    sent.dispatched_at = at;
                }
            };
            for i in targets {
                if let Some(tx) = clients.get(&i) {
                    // Stamped before it leaves: the bot's callback can reach the REST side before
                    // this thread runs again, and must find the dispatch time there.
                    stamp(Some(Instant::now()));
                    if tx.try_send(Command::Send(frame.clone())).is_err() {
                        stamp(None);
                    }
                }
            }
        }
        id
    }

    /// The interaction `id` once its answer (callback, and the edit after a deferral) is in.
    pub async fn answer(&self, id: &str) -> Sent {
        wait_until(
            Duration::from_secs(15),
            &format!("the answer to interaction {id}"),
            || {
                let m = self.lock();
                m.interactions.iter().any(|s| {
                    s.id == id
                        && match &s.callback {
                            Some((_, body, _)) if body["type"] == 5 => !s.edits.is_empty(),
                            Some(_) => true,
                            None => false,
                        }
                })
            },
        )
        .await;
        self.lock()
            .interactions
            .iter()
            .find(|s| s.id == id)
            .cloned()
            .unwrap()
    }
}

impl Sent {
    /// The text of the answer (the edit after a deferral, else the callback's).
    pub fn text(&self) -> String {
        let body = match (&self.callback, self.edits.last()) {
            (_, Some(edit)) => edit.clone(),
            (Some((_, body, _)), None) => body["data"].clone(),
            (None, None) => Value::Null,
        };
        body["content"].as_str().unwrap_or_default().to_owned()
    }

    /// Whether the answer is shown to the asker only.
    pub fn ephemeral(&self) -> bool {
        self.callback
            .as_ref()
            .is_some_and(|(_, body, _)| body["data"]["flags"].as_u64().unwrap_or(0) & 64 != 0)
    }

    /// Time from the dispatch to the callback.
    pub fn answered_in(&self) -> Option<Duration> {
        let (at, _, _) = self.callback.as_ref()?;
        Some(at.saturating_duration_since(self.dispatched_at?))
    }
}

fn dispatch_frame(session: &mut Session, event: &str, d: Value) -> String {
    session.seq += 1;
    session
        .events
        .push((session.seq, event.to_owned(), d.clone()));
    json!({"op": 0, "s": session.seq, "t": event, "d": d}).to_string()
}

async fn serve_gateway(
    stream: tokio::net::TcpStream,
    heartbeat_interval: u64,
    port: u16,
    model: Arc<Mutex<Model>>,
    clients: Arc<Mutex<HashMap<usize, mpsc::Sender<Command>>>>,
) {
    let path = Arc::new(Mutex::new(String::new()));
    let record = {
        let path = path.clone();
        // The callback's error type is tungstenite's (an HTTP response), not ours to make smaller.
        #[allow(clippy::result_large_err)]
        move |request: &Request, response: WsResponse| {
            *path.lock().unwrap() = request.uri().to_string();
            Ok(response)
        }
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, record).await else {
        return;
    };
    let path = path.lock().unwrap().clone();
    let index = {
        let mut m = model.lock().unwrap();
        m.connections.push(Connection {
            path: path.clone(),
            hello_at: Instant::now(),
            heartbeats: Vec::new(),
            identified: false,
            resumed: false,
            closed_by_client: None,
        });
        m.connections.len() - 1
    };
    let close = |code: u16| {
        Message::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: "".into(),
        }))
    };
    if !path.contains("v=10") || !path.contains("encoding=json") {
        let _ = ws.send(close(4012)).await;
        return;
    }
    let hello = json!({"op": 10, "d": {"heartbeat_interval": heartbeat_interval}}).to_string();
    if ws.send(Message::text(hello)).await.is_err() {
        return;
    }
    model.lock().unwrap().connections[index].hello_at = Instant::now();
    let (tx, mut rx) = mpsc::channel(256);
    clients.lock().unwrap().insert(index, tx);
    let mut session_id: Option<String> = None;
    let end = |model: &Arc<Mutex<Model>>| {
        model.lock().unwrap().live.remove(&index);
    };
    loop {
        tokio::select! {
            command = rx.recv() => match command {
                Some(Command::Send(text)) => {
                    if ws.send(Message::text(text)).await.is_err() { end(&model); return; }
                }
                Some(Command::Close(code)) => {
                    let _ = ws.send(close(code)).await;
                    end(&model);
                    return;
                }
                Some(Command::Drop) | None => { end(&model); return; }
            },
            message = ws.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(frame))) => {
                        model.lock().unwrap().connections[index].closed_by_client = frame.map(|f| u16::from(f.code));
                        end(&model);
                        return;
                    }
                    Some(Ok(_)) => continue,
                    _ => { end(&model); return; }
                };
                let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else {
                    let _ = ws.send(close(4002)).await;
                    end(&model);
                    return;
                };
                let mut replies = Vec::new();
                let mut close_with = None;
                {
                    let mut m = model.lock().unwrap();
                    let m = &mut *m;
                    match frame["op"].as_u64() {
                        Some(1) => {
                            m.connections[index].heartbeats.push((Instant::now(), frame["d"].clone()));
                            if m.ack_heartbeats {
                                replies.push(json!({"op": 11}).to_string());
                            }
                        }
                        Some(2) => {
                            let d = &frame["d"];
                            let intents = d["intents"].as_u64().unwrap_or(0);
                            m.identifies.push(Identify { at: Instant::now(), intents, body: d.clone() });
                            if session_id.is_some() {
                                close_with = Some(4005);
                            } else if m.reject_identify || d["token"] != m.expected_token.as_str() {
                                close_with = Some(4004);
                            } else if intents & ((1 << 1) | (1 << 8) | (1 << 15)) != 0 {
                                close_with = Some(4014);
                            } else {
                                m.remaining_identifies = m.remaining_identifies.saturating_sub(1);
                                m.next_session += 1;
                                let sid = format!("session-{}", m.next_session);
                                let mut session = Session::default();
                                let guilds = m.guilds.clone();
                                replies.push(dispatch_frame(&mut session, "READY", json!({
                                    "v": 10,
                                    "user": {"id": BOT_USER_ID, "username": "ssbot", "discriminator": "0", "bot": true, "avatar": null},
                                    "guilds": guilds.iter().map(|(id, _)| json!({"id": id, "unavailable": true})).collect::<Vec<_>>(),
                                    "session_id": sid,
                                    "resume_gateway_url": format!("ws://127.0.0.1:{port}/resume"),
                                    "shard": [0, 1],
                                    "application": {"id": APPLICATION_ID, "flags": 0},
                                })));
                                for (id, name) in guilds {
                                    replies.push(dispatch_frame(&mut session, "GUILD_CREATE", json!({
                                        "id": id, "name": name, "owner_id": "444", "roles": [], "emojis": [], "features": [],
                                        "joined_at": "2024-01-01T00:00:00+00:00", "large": false, "member_count": 2,
                                        "channels": [{"id": "555", "type": 0, "name": "general"}],
                                        "members": [], "voice_states": [], "threads": [], "presences": [],
                                    })));
                                }
                                m.sessions.insert(sid.clone(), session);
                                m.live.insert(index, sid.clone());
                                m.connections[index].identified = true;
                                session_id = Some(sid);
                            }
                        }
                        Some(6) => {
                            let d = &frame["d"];
                            let sid = d["session_id"].as_str().unwrap_or_default().to_owned();
                            let seq = d["seq"].as_u64();
                            m.resumes.push(Resume { at: Instant::now(), session_id: sid.clone(), seq, path: path.clone() });
                            if d["token"] != m.expected_token.as_str() {
                                close_with = Some(4004);
                            } else if let Some(session) = m.sessions.get_mut(&sid) {
                                for (s, t, d) in session.events.iter().filter(|(s, _, _)| Some(*s) > seq) {
                                    replies.push(json!({"op": 0, "s": s, "t": t, "d": d}).to_string());
                                }
                                replies.push(dispatch_frame(session, "RESUMED", Value::Null));
                                m.live.insert(index, sid.clone());
                                m.connections[index].resumed = true;
                                session_id = Some(sid);
                            } else {
                                replies.push(json!({"op": 9, "d": false}).to_string());
                            }
                        }
                        _ if session_id.is_none() => close_with = Some(4003),
                        _ => close_with = Some(4001),
                    }
                    // Replayed interactions count as dispatched now.
                    for reply in &replies {
                        if let Ok(v) = serde_json::from_str::<Value>(reply)
                            && v["t"] == "INTERACTION_CREATE"
                            && let Some(sent) = m.interactions.iter_mut().find(|s| v["d"]["id"] == s.id.as_str())
                        {
                            sent.dispatched_at = Some(Instant::now());
                        }
                    }
                }
                for reply in replies {
                    if ws.send(Message::text(reply)).await.is_err() { end(&model); return; }
                }
                if let Some(code) = close_with {
                    let _ = ws.send(close(code)).await;
                    end(&model);
                    return;
                }
            }
        }
    }
}

#[derive(Clone)]
struct RestState {
    model: Arc<Mutex<Model>>,
    gateway_port: u16,
}

fn answer(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn invalid_form(why: &str) -> Response {
    answer(
        400,
        json!({"code": 50035, "message": "Invalid Form Body", "errors": {"_errors": [{"code": "INVALID", "message": why}]}}),
    )
}

async fn rest(
    State(state): State<RestState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut m = state.model.lock().unwrap();
    let authorized = auth == format!("Bot {}", m.expected_token);
    match (method.as_str(), parts.as_slice()) {
        (_, ["api", "v10", ..]) if !authorized => {
            answer(401, json!({"message": "401: Unauthorized", "code": 0}))
        }
        ("GET", ["api", "v10", "gateway", "bot"]) => answer(
            200,
            json!({"url": format!("ws://127.0.0.1:{}", state.gateway_port), "shards": 1,
                   "session_start_limit": {"total": 1000, "remaining": m.remaining_identifies, "reset_after": 14_400_000, "max_concurrency": 1}}),
        ),
        (
            "PUT",
            [
                "api",
                "v10",
                "applications",
                app,
                "guilds",
                guild,
                "commands",
            ],
        ) => {
            if *app != APPLICATION_ID {
                return answer(
                    404,
                    json!({"message": "Unknown Application", "code": 10002}),
                );
            }
            let Some(commands) = body.as_array() else {
                return invalid_form("the body must be an array of commands");
            };
            fn ok(c: &Value) -> bool {
                let name = c["name"].as_str().unwrap_or_default();
                let description = c["description"].as_str().unwrap_or_default();
                (1..=32).contains(&name.len())
                    && name.chars().all(|ch| {
                        ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-'
                    })
                    && (1..=100).contains(&description.chars().count())
                    && c["options"].as_array().into_iter().flatten().all(ok)
            }
            if commands.len() > 100 || !commands.iter().all(ok) {
                return invalid_form("a command name or description breaks Discord's limits");
            }
            m.registrations.push((guild.to_string(), body.clone()));
            let answered: Vec<Value> = commands
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let mut c = c.clone();
                    c["id"] = json!(format!("{}", 771_825_006_014_889_000u64 + i as u64));
                    c["application_id"] = json!(APPLICATION_ID);
                    c["guild_id"] = json!(guild);
                    c["version"] = json!("1");
                    c
                })
                .collect();
            answer(200, Value::Array(answered))
        }
        ("POST", ["api", "v10", "interactions", id, token, "callback"]) => {
            let Some(sent) = m
                .interactions
                .iter_mut()
                .find(|s| s.id == *id && s.token == *token)
            else {
                return answer(
                    404,
                    json!({"message": "Unknown interaction", "code": 10062}),
                );
            };
            let late = sent
                .dispatched_at
                .is_none_or(|at| at.elapsed() > ANSWER_DEADLINE);
            if sent.callback.is_some() {
                return answer(
                    400,
                    json!({"message": "Interaction has already been acknowledged.", "code": 40060}),
                );
            }
            let status = if late { 404 } else { 204 };
            sent.callback = Some((Instant::now(), body.clone(), status));
            if late {
                return answer(
                    404,
                    json!({"message": "Unknown interaction", "code": 10062}),
                );
            }
            let kind = body["type"].as_u64().unwrap_or(0);
            if !matches!(kind, 1 | 4 | 5) {
                return invalid_form("unknown callback type");
            }
            if kind == 4
                && body["data"]["content"]
                    .as_str()
                    .is_none_or(|c| c.is_empty() || c.chars().count() > 2000)
            {
                return invalid_form("content must be 1 to 2000 characters");
            }
            StatusCode::NO_CONTENT.into_response()
        }
        (
            "PATCH",
            [
                "api",
                "v10",
                "webhooks",
                app,
                token,
                "messages",
                "@original",
            ],
        ) => {
            if *app != APPLICATION_ID {
                return answer(404, json!({"message": "Unknown Webhook", "code": 10015}));
            }
            let Some(sent) = m
                .interactions
                .iter_mut()
                .find(|s| s.token == *token && s.callback.as_ref().is_some_and(|c| c.2 == 204))
            else {
                return answer(404, json!({"message": "Unknown Webhook", "code": 10015}));
            };
            sent.edits.push(body.clone());
            answer(
                200,
                json!({"id": "1200000000000000001", "content": body["content"]}),
            )
        }
        ("POST", ["api", "v10", "channels", channel, "messages"]) => {
            m.messages.push((channel.to_string(), body.clone()));
            answer(
                200,
                json!({"id": "1200000000000000002", "channel_id": channel}),
            )
        }
        _ => answer(404, json!({"message": "404: Not Found", "code": 0})),
    }
}
