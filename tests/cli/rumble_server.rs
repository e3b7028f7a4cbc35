//! A fake Rumble for tests, speaking Rumble's Live Stream API over HTTP on `127.0.0.1:0` (axum).
//!
//! - `GET /-livestream-api/get-data?key=KEY` answers the Live Stream API JSON of §4.1: the user's
//!   followers, subscribers and gifted subs (with the empty `latest_*` objects Rumble sends when
//!   there is nothing), and one livestream with its chat and rants. Like the real API, each answer
//!   lists only the most recent `window` items of each list, so consecutive answers overlap. Chat is
//!   revealed per call: a test queues what each call makes visible ([`RumbleModel::reveal_per_call`]),
//!   so overlap does not depend on timing. A wrong key gets 403.
//! - `GET /chat/api/chat/{id}/stream` answers what the test scripted, one entry per request:
//!   `204 No Content` (the keepalive), an HTML page (what a blocked client gets), or an event stream
//!   that sends the given `data:` events and stays open. With nothing scripted it answers 204.
//!
//! Every request is recorded.

#![allow(dead_code)]

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The livestream's id (base 36), and the number the chat stream URL takes for it.
pub const LIVESTREAM_ID: &str = "6dq0x8";
pub const STREAM_NUMBER: &str = "385846316";

/// One chat line of the model.
#[derive(Debug, Clone)]
pub struct Line {
    pub username: String,
    pub text: String,
    pub at: DateTime<Utc>,
    pub rant_cents: Option<u64>,
}

/// What one stream request answers.
#[derive(Debug, Clone)]
pub enum StreamAnswer {
    Keepalive,
    Html,
    Events(Vec<String>),
}

#[derive(Debug)]
pub struct ModelState {
    pub key: String,
    pub window: usize,
    /// Every line, in order; `visible` of them are shown.
    pub lines: Vec<Line>,
    pub visible: usize,
    /// How many more lines each API call reveals, front first (then none).
    pub reveal: VecDeque<usize>,
    pub followers: Vec<(String, DateTime<Utc>)>,
    pub live: bool,
    pub started_at: DateTime<Utc>,
    pub api_calls: u64,
    pub refused_calls: u64,
    pub stream_script: VecDeque<StreamAnswer>,
    pub stream_requests: Vec<(String, Option<String>)>,
    /// Open event streams (kept so they stay open).
    pub open_streams: Vec<mpsc::Sender<Result<Bytes, std::convert::Infallible>>>,
}

/// The fake Rumble; clones share it.
#[derive(Clone, Debug)]
pub struct RumbleModel(pub Arc<Mutex<ModelState>>);

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

impl RumbleModel {
    pub fn new(key: &str, window: usize) -> RumbleModel {
        RumbleModel(Arc::new(Mutex::new(ModelState {
            key: key.into(),
            window,
            lines: Vec::new(),
            visible: 0,
            reveal: VecDeque::new(),
            followers: Vec::new(),
            live: true,
            started_at: Utc::now() - chrono::Duration::minutes(10),
            api_calls: 0,
            refused_calls: 0,
            stream_script: VecDeque::new(),
            stream_requests: Vec::new(),
            open_streams: Vec::new(),
        })))
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut ModelState) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }

    /// Adds a chat line (not yet visible).
    pub fn line(&self, username: &str, text: &str, at: DateTime<Utc>) {
        self.with(|s| {
            s.lines.push(Line {
                username: username.into(),
                text: text.into(),
                at,
                rant_cents: None,
            })
        });
    }

    pub fn rant(&self, username: &str, text: &str, at: DateTime<Utc>, cents: u64) {
        self.with(|s| {
            s.lines.push(Line {
                username: username.into(),
                text: text.into(),
                at,
                rant_cents: Some(cents),
            })
        });
    }

    /// Each of the next API calls reveals that many more lines.
    pub fn reveal_per_call(&self, counts: &[usize]) {
        self.with(|s| s.reveal.extend(counts));
    }

    pub fn script_stream(&self, answers: Vec<StreamAnswer>) {
        self.with(|s| s.stream_script.extend(answers));
    }

    pub fn api_calls(&self) -> u64 {
        self.with(|s| s.api_calls)
    }

    pub fn stream_requests(&self) -> usize {
        self.with(|s| s.stream_requests.len())
    }

    /// The API answer now (and the reveal of this call).
    fn answer(&self) -> Value {
        self.with(|s| {
            s.api_calls += 1;
            let more = s.reveal.pop_front().unwrap_or(0);
            s.visible = (s.visible + more).min(s.lines.len());
            let shown = &s.lines[..s.visible];
            let recent = |rants: bool| -> Vec<Value> {
                let of_kind: Vec<&Line> = shown
                    .iter()
                    .filter(|l| l.rant_cents.is_some() == rants)
                    .collect();
                of_kind[of_kind.len().saturating_sub(s.window)..]
                    .iter()
                    .map(|l| {
                        let mut v = json!({"username": l.username, "badges": ["premium"],
                            "text": l.text, "created_on": time(l.at)});
                        if let Some(cents) = l.rant_cents {
                            v["amount_cents"] = json!(cents);
                            v["amount_dollars"] = json!(cents / 100);
                            v["expires_on"] = json!(time(l.at + chrono::Duration::minutes(2)));
                        }
                        v
                    })
                    .collect()
            };
            let messages = recent(false);
            let rants = recent(true);
            let followers: Vec<Value> = s.followers[s.followers.len().saturating_sub(s.window)..]
                .iter()
                .map(|(name, at)| json!({"username": name, "followed_on": time(*at)}))
                .collect();
            let empty_message = json!({"username": "", "badges": [], "text": "", "created_on": ""});
            let livestreams = if s.live {
                json!([{"id": LIVESTREAM_ID, "title": "Test stream", "created_on": time(s.started_at),
                    "is_live": true, "visibility": "public", "stream_key": "XXXX", "likes": 3,
                    "dislikes": 0, "watching_now": 19,
                    "chat": {
                        "latest_message": messages.last().cloned().unwrap_or(empty_message.clone()),
                        "recent_messages": messages,
                        "latest_rant": rants.last().cloned().unwrap_or(json!({"username": "", "amount_cents": 0})),
                        "recent_rants": rants}}])
            } else {
                json!([])
            };
            json!({"now": Utc::now().timestamp(), "type": "user", "user_id": "U1", "username": "owner",
                "channel_id": null, "channel_name": null, "since": null, "max_num_results": s.window,
                "followers": {"num_followers": followers.len(), "num_followers_total": followers.len(),
                    "latest_follower": followers.last().cloned().unwrap_or(json!({"username": "", "followed_on": null})),
                    "recent_followers": followers},
                "subscribers": {"num_subscribers": 0, "num_subscribers_total": 0,
                    "latest_subscriber": {"user": "", "username": "", "amount_cents": 0, "amount_dollars": 0, "subscribed_on": ""},
                    "recent_subscribers": []},
                "gifted_subs": {"num_gifted_subs": 0, "latest_gifted_sub": null, "recent_gifted_subs": []},
                "livestreams": livestreams})
        })
    }
}

/// One `data:` event of the chat stream carrying `messages` (id, time, user, text).
pub fn stream_messages(kind: &str, messages: &[(&str, &str, &str, DateTime<Utc>)]) -> String {
    let users: Vec<Value> = messages
        .iter()
        .map(|(_, user, _, _)| json!({"id": format!("u-{user}"), "username": user, "badges": [], "color": "00ff00", "is_follower": false}))
        .collect();
    let messages: Vec<Value> = messages
        .iter()
        .map(|(id, user, text, at)| json!({"id": id, "time": time(*at), "user_id": format!("u-{user}"), "text": text}))
        .collect();
    json!({"type": kind, "data": {"messages": messages, "users": users, "channels": []}})
        .to_string()
}

/// The model over HTTP on 127.0.0.1.
pub struct RumbleServer {
    pub addr: SocketAddr,
    pub model: RumbleModel,
    task: JoinHandle<()>,
}

impl Drop for RumbleServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn api(
    State(model): State<RumbleModel>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let key = model.with(|s| s.key.clone());
    if query.get("key") != Some(&key) {
        model.with(|s| s.refused_calls += 1);
        return (StatusCode::FORBIDDEN, "Forbidden").into_response();
    }
    axum::Json(model.answer()).into_response()
}

async fn stream(
    State(model): State<RumbleModel>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let answer = model.with(|s| {
        s.stream_requests.push((id, accept));
        s.stream_script
            .pop_front()
            .unwrap_or(StreamAnswer::Keepalive)
    });
    match answer {
        StreamAnswer::Keepalive => StatusCode::NO_CONTENT.into_response(),
        StreamAnswer::Html => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
            "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>",
        )
            .into_response(),
        StreamAnswer::Events(events) => {
            let (tx, rx) = mpsc::channel(64);
            for data in events {
                let _ = tx.try_send(Ok(Bytes::from(format!("data: {data}\n\n"))));
            }
            model.with(|s| s.open_streams.push(tx));
            let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "text/event-stream"),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                body,
            )
                .into_response()
        }
    }
}

impl RumbleServer {
    pub async fn start(model: RumbleModel) -> RumbleServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/-livestream-api/get-data", axum::routing::get(api))
            .route("/chat/api/chat/{id}/stream", axum::routing::get(stream))
            .with_state(model.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        RumbleServer { addr, model, task }
    }

    /// The Live Stream API URL with the key, as a user copies it.
    pub fn api_url(&self) -> String {
        let key = self.model.with(|s| s.key.clone());
        format!("http://{}/-livestream-api/get-data?key={key}", self.addr)
    }

    /// The value for platforms.json's `rumble.sse_base_url`.
    pub fn sse_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
