//! A fake Discord REST API, Twitch Helix (with its OAuth app tokens) and X API for tests, speaking
//! Discord's and X's API references: one loopback server, one shared model.
//!
//! Discord: Create Message (`POST /api/v10/channels/{id}/messages`, `Authorization: Bot`) with the
//! embed limits checked (a body over a limit is a 400 `Invalid Form Body`), `enforce_nonce` (a
//! repeated nonce returns the message already created), `X-RateLimit-*` bucket headers on every
//! answer and scripted 429s with `retry_after`; Execute Webhook (`POST /api/webhooks/{id}/{token}`).
//! A scripted "hang" takes a message and never answers, like a timeout after Discord created it.
//! Helix: `POST /oauth2/token` (client credentials) and `GET /helix/streams?user_login=`.
//! X: `POST /2/tweets` (201, or a 403 for a duplicate text) and `POST /2/oauth2/token` (refresh).

#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub const BOT_TOKEN: &str = "bot-token-Zx81KqA9";
pub const CLIENT_ID: &str = "twitch-client-id-77";
pub const CLIENT_SECRET: &str = "twitch-client-secret-Qp3";
pub const APP_TOKEN: &str = "twitch-app-token-Lm2";
pub const X_OLD_TOKEN: &str = "x-expired-token-Ua7";
pub const X_FRESH_TOKEN: &str = "x-fresh-token-Vb8";
pub const X_REFRESH_TOKEN: &str = "x-refresh-token-Wc9";
pub const X_CLIENT_ID: &str = "x-client-id-Xd0";
pub const BUCKET: &str = "41f9cd5d28af77da04563bcb1d67fdfd";

/// A message Discord created.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    /// The channel id, or `webhook:{id}`.
    pub channel: String,
    pub body: Value,
}

/// One request the server answered.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub status: u16,
}

#[derive(Debug, Default)]
pub struct FakeState {
    pub messages: Vec<Message>,
    pub tweets: Vec<String>,
    pub requests: Vec<Seen>,
    /// The next Create Message answers: a 429 with this `retry_after` (seconds) each.
    pub rate_limit_next: VecDeque<f64>,
    /// The next Create Message is created and then never answered.
    pub hang_next: bool,
    /// Helix: the live stream (id, title), or offline.
    pub live: Option<(String, String)>,
    pub helix_polls: u64,
    /// X: the access token that works now (the old one answers 401).
    pub x_valid_token: String,
    next_id: u64,
}

/// The fake APIs; clones share them.
#[derive(Clone, Debug, Default)]
pub struct Fake(pub Arc<Mutex<FakeState>>);

impl Fake {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.0.lock().unwrap()
    }

    pub fn messages_in(&self, channel: &str) -> Vec<Message> {
        let s = self.lock();
        s.messages
            .iter()
            .filter(|m| m.channel == channel)
            .cloned()
            .collect()
    }
}

fn json_response(status: u16, headers: &[(&str, String)], body: Value) -> Response {
    let mut response = (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
    for (k, v) in headers {
        response.headers_mut().insert(
            axum::http::HeaderName::try_from(*k).unwrap(),
            v.parse().unwrap(),
        );
    }
    response
}

fn bucket_headers(remaining: u32) -> Vec<(&'static str, String)> {
    let reset = chrono::Utc::now().timestamp_millis() as f64 / 1000.0 + 1.0;
    vec![
        ("x-ratelimit-limit", "5".into()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", format!("{reset:.3}")),
        ("x-ratelimit-reset-after", "1.000".into()),
        ("x-ratelimit-bucket", BUCKET.into()),
    ]
}

fn invalid_form(field: &str) -> Response {
    json_response(
        400,
        &[],
        json!({"code": 50035, "message": "Invalid Form Body", "errors": {field: {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 256 or fewer in length."}]}}}),
    )
}

/// Checks a message body as Discord does: content or embeds, and the limits.
fn check_body(body: &Value) -> Result<(), Box<Response>> {
    let content = body.get("content").and_then(Value::as_str);
    let embeds = body.get("embeds").and_then(Value::as_array);
    if content.is_none() && embeds.is_none_or(|e| e.is_empty()) {
        return Err(Box::new(json_response(
            400,
            &[],
            json!({"code": 50006, "message": "Cannot send an empty message"}),
        )));
    }
    if content.is_some_and(|c| c.chars().count() > 2000) {
        return Err(Box::new(invalid_form("content")));
    }
    let len = |v: &Value, p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .map_or(0, |s| s.chars().count())
    };
    let mut total = 0;
    for embed in embeds.into_iter().flatten() {
        if len(embed, "/title") > 256
            || len(embed, "/description") > 4096
            || len(embed, "/author/name") > 256
        {
            return Err(Box::new(invalid_form("embeds.0")));
        }
        total += len(embed, "/title")
            + len(embed, "/description")
            + len(embed, "/author/name")
            + len(embed, "/footer/text");
    }
    if total > 6000 {
        return Err(Box::new(invalid_form("embeds")));
    }
    Ok(())
}

async fn handler(
    State(fake): State<Fake>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or_default().to_string();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let form: Vec<(String, String)> = String::from_utf8_lossy(&body)
        .split('&')
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((k.to_string(), v.replace("%2D", "-").replace("%5F", "_")))
        })
        .collect();
    let form_get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut hang = false;
    let response = {
        let mut s = fake.lock();
        let response = route(
            &mut s, &method, &path, &query, &auth, &json_body, &form_get, &mut hang,
        );
        let status = response.status().as_u16();
        s.requests.push(Seen {
            at: Instant::now(),
            method: method.to_string(),
            path: path.clone(),
            status,
        });
        response
    };
    if hang {
        // Created, and never answered: the client times out or dies waiting.
        std::future::pending::<()>().await;
    }
    response
}

#[allow(clippy::too_many_arguments)]
fn route(
    s: &mut FakeState,
    method: &Method,
    path: &str,
    query: &str,
    auth: &str,
    body: &Value,
    form: &dyn Fn(&str) -> Option<String>,
    hang: &mut bool,
) -> Response {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("POST", ["api", "v10", "channels", channel, "messages"]) => {
            if auth != format!("Bot {BOT_TOKEN}") {
                return json_response(401, &[], json!({"message": "401: Unauthorized", "code": 0}));
            }
            if let Some(retry_after) = s.rate_limit_next.pop_front() {
                let mut h = bucket_headers(0);
                h.push(("retry-after", format!("{}", retry_after.ceil() as u64)));
                h.push(("x-ratelimit-scope", "user".into()));
                return json_response(
                    429,
                    &h,
                    json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": false}),
                );
            }
            if let Err(r) = check_body(body) {
                return *r;
            }
            if body.get("allowed_mentions").is_none() {
                return json_response(
                    400,
                    &[],
                    json!({"code": 50035, "message": "test server: allowed_mentions is required"}),
                );
            }
            let nonce = body.get("nonce").and_then(Value::as_str);
            if body.get("enforce_nonce") == Some(&Value::Bool(true))
                && let Some(existing) = s.messages.iter().find(|m| {
                    m.channel == *channel && m.body.get("nonce").and_then(Value::as_str) == nonce
                })
            {
                return json_response(
                    200,
                    &bucket_headers(4),
                    json!({"id": existing.id, "channel_id": channel}),
                );
            }
            s.next_id += 1;
            let id = format!("{}", 1_200_000_000_000_000_000u64 + s.next_id);
            s.messages.push(Message {
                id: id.clone(),
                channel: channel.to_string(),
                body: body.clone(),
            });
            if std::mem::take(&mut s.hang_next) {
                *hang = true;
            }
            json_response(
                200,
                &bucket_headers(4),
                json!({"id": id, "channel_id": channel, "content": body.get("content")}),
            )
        }
        ("POST", ["api", "webhooks", id, _token]) => {
            if let Err(r) = check_body(body) {
                return *r;
            }
            s.next_id += 1;
            let message_id = format!("{}", 1_300_000_000_000_000_000u64 + s.next_id);
            s.messages.push(Message {
                id: message_id.clone(),
                channel: format!("webhook:{id}"),
                body: body.clone(),
            });
            if query.contains("wait=true") {
                json_response(200, &bucket_headers(4), json!({"id": message_id}))
            } else {
                StatusCode::NO_CONTENT.into_response()
            }
        }
        ("POST", ["oauth2", "token"]) => {
            if form("grant_type").as_deref() == Some("client_credentials")
                && form("client_id").as_deref() == Some(CLIENT_ID)
                && form("client_secret").as_deref() == Some(CLIENT_SECRET)
            {
                json_response(
                    200,
                    &[],
                    json!({"access_token": APP_TOKEN, "expires_in": 5011271, "token_type": "bearer"}),
                )
            } else {
                json_response(
                    400,
                    &[],
                    json!({"status": 400, "message": "invalid client secret"}),
                )
            }
        }
        ("GET", ["helix", "streams"]) => {
            if auth != format!("Bearer {APP_TOKEN}") {
                return json_response(
                    401,
                    &[],
                    json!({"error": "Unauthorized", "status": 401, "message": "Invalid OAuth token"}),
                );
            }
            s.helix_polls += 1;
            let login = query
                .split('&')
                .find_map(|p| p.strip_prefix("user_login="))
                .unwrap_or_default()
                .to_string();
            let data = match &s.live {
                Some((id, title)) => {
                    json!([{"id": id, "user_id": "101051819", "user_login": login, "user_name": login,
                    "game_id": "743", "game_name": "Chess", "type": "live", "title": title, "tags": [],
                    "viewer_count": 12, "started_at": "2026-12-02T10:00:00Z", "language": "en",
                    "thumbnail_url": "https://static-cdn.jtvnw.net/previews-ttv/live_user_x-{width}x{height}.jpg",
                    "tag_ids": [], "is_mature": false}])
                }
                None => json!([]),
            };
            json_response(200, &[], json!({"data": data, "pagination": {}}))
        }
        ("POST", ["2", "tweets"]) => {
            if auth != format!("Bearer {}", s.x_valid_token) {
                return json_response(
                    401,
                    &[],
                    json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}),
                );
            }
            let text = body
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let reset = (chrono::Utc::now().timestamp() + 900).to_string();
            let h = [
                ("x-rate-limit-limit", "200".to_string()),
                ("x-rate-limit-remaining", "199".to_string()),
                ("x-rate-limit-reset", reset),
            ];
            if s.tweets.contains(&text) {
                return json_response(
                    403,
                    &h,
                    json!({"detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank", "title": "Forbidden", "status": 403}),
                );
            }
            s.tweets.push(text.clone());
            json_response(
                201,
                &h,
                json!({"data": {"id": format!("14458805484723281{:02}", s.tweets.len()), "text": text, "edit_history_tweet_ids": []}}),
            )
        }
        ("POST", ["2", "oauth2", "token"]) => {
            if form("grant_type").as_deref() == Some("refresh_token")
                && form("refresh_token").as_deref() == Some(X_REFRESH_TOKEN)
                && form("client_id").as_deref() == Some(X_CLIENT_ID)
            {
                s.x_valid_token = X_FRESH_TOKEN.into();
                json_response(
                    200,
                    &[],
                    json!({"token_type": "bearer", "expires_in": 7200, "access_token": X_FRESH_TOKEN, "scope": "tweet.write users.read tweet.read offline.access", "refresh_token": "x-next-refresh-Ye1"}),
                )
            } else {
                json_response(
                    400,
                    &[],
                    json!({"error": "invalid_request", "error_description": "Value passed for the token was invalid."}),
                )
            }
        }
        _ => json_response(404, &[], json!({"message": "404: Not Found", "code": 0})),
    }
}

/// The server on `127.0.0.1:0`.
pub struct FakeServer {
    pub addr: SocketAddr,
    pub fake: Fake,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    pub async fn start() -> FakeServer {
        let fake = Fake::default();
        fake.lock().x_valid_token = "not-yet-issued".into();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(handler)
            .with_state(fake.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeServer { addr, fake, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}
