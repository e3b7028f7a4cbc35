//! A fake YouTube Data API for tests, speaking the JSON of the YouTube Data API v3 reference.
//!
//! [`YoutubeModel`] is the API's behaviour, with time passed in: one live video (`videos.list`,
//! `search.list`, `liveBroadcasts.list`), its chat (`liveChatMessages.list` with page tokens, pages
//! that repeat the last items of the previous page like real overlapping history,
//! `pollingIntervalMillis`, `offlineAt`), `liveChatMessages.insert`, and the moderation calls of §2.7
//! (`liveChatBans.insert`, `liveChatMessages.delete` answering 204; OAuth only), Google's quota (units
//! per key and Pacific day, `quotaExceeded` past the daily limit) and the error envelope, plus errors
//! a test injects. It records every request it answers.
//!
//! [`YoutubeServer`] serves the model over HTTP on `127.0.0.1:0` (axum) for `ss run`;
//! [`ModelTransport`] answers the source in-process, so a whole stream can be simulated in paused
//! tokio time, where sockets and their timeouts cannot be used.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use ss::sources::youtube::client::{Auth, CallError, Request, Transport};
use ss::sources::youtube::quota::{next_reset, quota_day};
use ss::sources::youtube::wire;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

pub const VIDEO_ID: &str = "vid-e2e-1";
pub const CHANNEL_ID: &str = "UCe2eChannel000000000000";
pub const CHAT_ID: &str = "Cg0KC2UyZWNoYXQ";

/// One request the model answered.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: DateTime<Utc>,
    pub method: &'static str,
    pub path: String,
    pub query: BTreeMap<String, String>,
    /// `key` (header or query), `bearer`, or `none`.
    pub auth: &'static str,
    pub status: u16,
    pub body: Option<Value>,
}

#[derive(Debug)]
pub struct ModelState {
    pub api_key: String,
    pub oauth_token: String,
    /// Every message of the chat, visible once `publishedAt` has passed.
    pub items: Vec<(DateTime<Utc>, Value)>,
    pub live: bool,
    pub started_at: DateTime<Utc>,
    pub polling_interval_ms: u64,
    /// How many items of the previous page each page repeats.
    pub overlap: usize,
    pub daily_limit: u64,
    /// Units charged per Pacific day (all keys of one project).
    pub units: BTreeMap<chrono::NaiveDate, u64>,
    pub quota_exceeded_answers: u64,
    /// Errors the next list calls answer with: (status, reason).
    pub fail_list: VecDeque<(u16, &'static str)>,
    pub requests: Vec<Seen>,
    pub inserted: Vec<String>,
    /// The snippets of every ban or timeout it took.
    pub bans: Vec<Value>,
    /// The ids of every message it deleted.
    pub deleted: Vec<String>,
    pub next_id: u64,
}

/// A message type, its detail object and its author's name.
type Kind<'a> = (&'a str, Option<(&'a str, Value)>, &'a str);

/// The fake API; clones share it.
#[derive(Clone, Debug)]
pub struct YoutubeModel(pub Arc<Mutex<ModelState>>);

fn error(status: u16, reason: &str, domain: &str, message: &str) -> (u16, Value) {
    (
        status,
        json!({"error": {"code": status, "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}]}}),
    )
}

fn author(name: &str, owner: bool, moderator: bool, sponsor: bool) -> Value {
    let id = format!("UC{}", name.to_lowercase());
    json!({"channelId": id, "channelUrl": format!("http://www.youtube.com/channel/{id}"),
        "displayName": name, "profileImageUrl": "https://yt3.ggpht.com/x=s88-c-k-c0x00ffffff-no-rj",
        "isVerified": false, "isChatOwner": owner, "isChatSponsor": sponsor, "isChatModerator": moderator})
}

impl YoutubeModel {
    pub fn new(api_key: &str, oauth_token: &str, now: DateTime<Utc>) -> YoutubeModel {
        YoutubeModel(Arc::new(Mutex::new(ModelState {
            api_key: api_key.into(),
            oauth_token: oauth_token.into(),
            items: Vec::new(),
            live: true,
            started_at: now,
            polling_interval_ms: 2000,
            overlap: 2,
            daily_limit: 10_000,
            units: BTreeMap::new(),
            quota_exceeded_answers: 0,
            fail_list: VecDeque::new(),
            requests: Vec::new(),
            inserted: Vec::new(),
            bans: Vec::new(),
            deleted: Vec::new(),
            next_id: 0,
        })))
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut ModelState) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }

    /// Adds a message of `kind` with `details` (the snippet's detail object) by `name`.
    pub fn push(
        &self,
        at: DateTime<Utc>,
        id: &str,
        kind: &str,
        details: Option<(&str, Value)>,
        name: &str,
        text: &str,
    ) {
        let mut snippet = json!({"type": kind, "liveChatId": CHAT_ID,
            "authorChannelId": format!("UC{}", name.to_lowercase()),
            "publishedAt": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
            "hasDisplayContent": true, "displayMessage": text});
        if let Some((key, value)) = details {
            snippet[key] = value;
        }
        let item = json!({"kind": "youtube#liveChatMessage", "etag": format!("e-{id}"), "id": id,
            "snippet": snippet, "authorDetails": author(name, name == "Owner", name == "Mod", name == "Member")});
        self.with(|s| s.items.push((at, item)));
    }

    /// A text message; returns its id.
    pub fn text(&self, at: DateTime<Utc>, name: &str, text: &str) -> String {
        let id = self.with(|s| {
            s.next_id += 1;
            format!("LCC.msg{:06}", s.next_id)
        });
        self.push(
            at,
            &id,
            "textMessageEvent",
            Some(("textMessageDetails", json!({"messageText": text}))),
            name,
            text,
        );
        id
    }

    /// One message of every `snippet.type` YouTube documents (and a type from the future); their ids.
    pub fn every_kind(&self, at: DateTime<Utc>) -> Vec<String> {
        let kinds: Vec<Kind<'_>> = vec![
            (
                "textMessageEvent",
                Some((
                    "textMessageDetails",
                    json!({"messageText": "hello from a member"}),
                )),
                "Member",
            ),
            (
                "superChatEvent",
                Some((
                    "superChatDetails",
                    json!({"amountMicros": "5000000", "currency": "USD", "amountDisplayString": "$5.00", "userComment": "nice", "tier": 2}),
                )),
                "Viewer2",
            ),
            (
                "superStickerEvent",
                Some((
                    "superStickerDetails",
                    json!({"superStickerMetadata": {"stickerId": "s1", "altText": "Wave", "language": "en"}, "amountMicros": "2000000", "currency": "EUR", "amountDisplayString": "€2.00", "tier": 1}),
                )),
                "Viewer3",
            ),
            (
                "newSponsorEvent",
                Some((
                    "newSponsorDetails",
                    json!({"memberLevelName": "Gold", "isUpgrade": false}),
                )),
                "Member",
            ),
            (
                "memberMilestoneChatEvent",
                Some((
                    "memberMilestoneChatDetails",
                    json!({"userComment": "a year", "memberMonth": 12, "memberLevelName": "Gold"}),
                )),
                "Member",
            ),
            (
                "membershipGiftingEvent",
                Some((
                    "membershipGiftingDetails",
                    json!({"giftMembershipsCount": 5, "giftMembershipsLevelName": "Gold"}),
                )),
                "Viewer4",
            ),
            (
                "giftMembershipReceivedEvent",
                Some((
                    "giftMembershipReceivedDetails",
                    json!({"memberLevelName": "Gold", "gifterChannelId": "UCviewer4", "associatedMembershipGiftingMessageId": "LCC.kind05"}),
                )),
                "Viewer5",
            ),
            (
                "messageDeletedEvent",
                Some((
                    "messageDeletedDetails",
                    json!({"deletedMessageId": "LCC.kind00"}),
                )),
                "Mod",
            ),
            (
                "messageRetractedEvent",
                Some((
                    "messageRetractedDetails",
                    json!({"retractedMessageId": "LCC.kind01"}),
                )),
                "Viewer2",
            ),
            (
                "userBannedEvent",
                Some((
                    "userBannedDetails",
                    json!({"bannedUserDetails": {"channelId": "UCtroll", "channelUrl": "u", "displayName": "Troll", "profileImageUrl": "p"}, "banType": "temporary", "banDurationSeconds": "300"}),
                )),
                "Mod",
            ),
            ("sponsorOnlyModeStartedEvent", None, "Owner"),
            ("sponsorOnlyModeEndedEvent", None, "Owner"),
            (
                "pollEvent",
                Some((
                    "pollDetails",
                    json!({"metadata": {"questionText": "Best?", "options": [{"optionText": "A", "tally": "1"}]}, "status": "active"}),
                )),
                "Owner",
            ),
            ("tombstone", None, "Viewer2"),
            (
                "giftEvent",
                Some(("giftDetails", json!({"giftName": "rose"}))),
                "Viewer6",
            ),
        ];
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, (kind, details, name))| {
                let id = format!("LCC.kind{i:02}");
                let text = if kind == "textMessageEvent" {
                    "hello from a member"
                } else {
                    ""
                };
                self.push(at, &id, kind, details, name, text);
                id
            })
            .collect()
    }

    /// Requests to `path` answered so far.
    pub fn requests_to(&self, path: &str) -> Vec<Seen> {
        self.with(|s| {
            s.requests
                .iter()
                .filter(|r| r.path == path)
                .cloned()
                .collect()
        })
    }

    pub fn charge(s: &mut ModelState, units: u64, now: DateTime<Utc>) -> Result<(), (u16, Value)> {
        let day = quota_day(now);
        let used = s.units.entry(day).or_default();
        if *used + units > s.daily_limit {
            s.quota_exceeded_answers += 1;
            return Err(error(
                403,
                "quotaExceeded",
                "youtube.quota",
                "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.",
            ));
        }
        *used += units;
        Ok(())
    }

    /// Answers one request at `now`.
    pub fn handle(
        &self,
        method: &'static str,
        path: &str,
        query: BTreeMap<String, String>,
        auth: Option<(&'static str, String)>,
        body: Option<Value>,
        now: DateTime<Utc>,
    ) -> (u16, Value) {
        let mut s = self.0.lock().unwrap();
        let (auth_kind, answer) = match &auth {
            None => (
                "none",
                Some(error(
                    403,
                    "forbidden",
                    "global",
                    "The request is missing a valid API key.",
                )),
            ),
            Some(("key", v)) if *v == s.api_key => ("key", None),
            Some(("bearer", v)) if *v == s.oauth_token => ("bearer", None),
            Some((kind, _)) => (
                *kind,
                Some(error(401, "authError", "global", "Invalid Credentials")),
            ),
        };
        let answer = match answer {
            Some(e) => e,
            None => Self::route(&mut s, method, path, &query, auth_kind, body.as_ref(), now),
        };
        s.requests.push(Seen {
            at: now,
            method,
            path: path.to_owned(),
            query,
            auth: auth_kind,
            status: answer.0,
            body,
        });
        answer
    }

    fn route(
        s: &mut ModelState,
        method: &str,
        path: &str,
        query: &BTreeMap<String, String>,
        auth: &str,
        body: Option<&Value>,
        now: DateTime<Utc>,
    ) -> (u16, Value) {
        let q = |k: &str| query.get(k).map(String::as_str).unwrap_or("");
        match (method, path) {
            ("GET", "videos") => {
                if let Err(e) = Self::charge(s, 1, now) {
                    return e;
                }
                if q("id") != VIDEO_ID {
                    return (
                        200,
                        json!({"kind": "youtube#videoListResponse", "items": []}),
                    );
                }
                let mut details = json!({"actualStartTime": s.started_at.to_rfc3339(), "concurrentViewers": "42"});
                if s.live {
                    details["activeLiveChatId"] = json!(CHAT_ID);
                } else {
                    details["actualEndTime"] = json!(now.to_rfc3339());
                }
                (
                    200,
                    json!({"kind": "youtube#videoListResponse", "items": [{"kind": "youtube#video", "id": VIDEO_ID, "liveStreamingDetails": details}]}),
                )
            }
            ("GET", "search") => {
                if let Err(e) = Self::charge(s, 100, now) {
                    return e;
                }
                let items = if s.live && q("channelId") == CHANNEL_ID && q("eventType") == "live" {
                    json!([{"kind": "youtube#searchResult", "id": {"kind": "youtube#video", "videoId": VIDEO_ID}}])
                } else {
                    json!([])
                };
                (
                    200,
                    json!({"kind": "youtube#searchListResponse", "items": items}),
                )
            }
            ("GET", "liveBroadcasts") => {
                if auth != "bearer" {
                    return error(401, "authError", "global", "Login Required.");
                }
                if let Err(e) = Self::charge(s, 1, now) {
                    return e;
                }
                let items = if s.live {
                    json!([{"kind": "youtube#liveBroadcast", "id": VIDEO_ID, "snippet": {"liveChatId": CHAT_ID, "actualStartTime": s.started_at.to_rfc3339()}}])
                } else {
                    json!([])
                };
                (
                    200,
                    json!({"kind": "youtube#liveBroadcastListResponse", "items": items}),
                )
            }
            ("GET", "liveChat/messages") => {
                if let Err(e) = Self::charge(s, 5, now) {
                    return e;
                }
                if let Some((status, reason)) = s.fail_list.pop_front() {
                    let domain = if reason == "quotaExceeded" {
                        "youtube.quota"
                    } else {
                        "youtube.liveChat"
                    };
                    return error(status, reason, domain, &format!("injected {reason}"));
                }
                if q("liveChatId") != CHAT_ID {
                    return error(
                        404,
                        "liveChatNotFound",
                        "youtube.liveChat",
                        "The live chat that you are trying to retrieve cannot be found.",
                    );
                }
                if !s.live {
                    return error(
                        403,
                        "liveChatEnded",
                        "youtube.liveChat",
                        "The live chat is no longer live.",
                    );
                }
                let from: usize = match q("pageToken").strip_prefix("tok-") {
                    Some(n) => match n.parse() {
                        Ok(n) => n,
                        Err(_) => {
                            return error(
                                400,
                                "pageTokenInvalid",
                                "youtube.liveChat",
                                "The page token is not valid.",
                            );
                        }
                    },
                    None if q("pageToken").is_empty() => 0,
                    None => {
                        return error(
                            400,
                            "pageTokenInvalid",
                            "youtube.liveChat",
                            "The page token is not valid.",
                        );
                    }
                };
                let visible = s.items.iter().take_while(|(at, _)| *at <= now).count();
                let start = from.saturating_sub(s.overlap).min(visible);
                let max: usize = q("maxResults").parse().unwrap_or(500);
                let end = visible.min(start + max);
                let items: Vec<Value> =
                    s.items[start..end].iter().map(|(_, v)| v.clone()).collect();
                (
                    200,
                    json!({"kind": "youtube#liveChatMessageListResponse", "etag": "e",
                    "nextPageToken": format!("tok-{}", end.max(from.min(visible))),
                    "pollingIntervalMillis": s.polling_interval_ms,
                    "pageInfo": {"totalResults": items.len(), "resultsPerPage": items.len()},
                    "items": items}),
                )
            }
            ("POST", "liveChat/messages") => {
                if auth != "bearer" {
                    return error(401, "authError", "global", "Login Required.");
                }
                if let Err(e) = Self::charge(s, 50, now) {
                    return e;
                }
                let text = body
                    .and_then(|b| b["snippet"]["textMessageDetails"]["messageText"].as_str())
                    .unwrap_or("")
                    .to_owned();
                s.inserted.push(text.clone());
                s.next_id += 1;
                (
                    200,
                    json!({"kind": "youtube#liveChatMessage", "id": format!("LCC.sent{}", s.next_id),
                    "snippet": {"type": "textMessageEvent", "liveChatId": CHAT_ID, "publishedAt": now.to_rfc3339(),
                        "hasDisplayContent": true, "displayMessage": text, "textMessageDetails": {"messageText": text}}}),
                )
            }
            ("POST", "liveChat/bans") => {
                if auth != "bearer" {
                    return error(401, "authError", "global", "Login Required.");
                }
                if let Err(e) = Self::charge(s, 50, now) {
                    return e;
                }
                let snippet = body.map(|b| b["snippet"].clone()).unwrap_or_default();
                if snippet["liveChatId"] != CHAT_ID {
                    return error(
                        400,
                        "invalidLiveChatId",
                        "youtube.liveChatBan",
                        "Invalid live chat id.",
                    );
                }
                if snippet["bannedUserDetails"]["channelId"]
                    .as_str()
                    .is_none_or(str::is_empty)
                {
                    return error(
                        400,
                        "invalidChannelId",
                        "youtube.liveChatBan",
                        "Invalid channel id.",
                    );
                }
                // uint64 as a JSON string, 1 to 86400, for temporary bans only.
                let duration_ok = match snippet["type"].as_str() {
                    Some("permanent") => snippet.get("banDurationSeconds").is_none(),
                    Some("temporary") => snippet["banDurationSeconds"]
                        .as_str()
                        .and_then(|d| d.parse::<u64>().ok())
                        .is_some_and(|d| (1..=86_400).contains(&d)),
                    _ => false,
                };
                if !duration_ok {
                    return error(
                        400,
                        "badRequest",
                        "youtube.liveChatBan",
                        "Bad ban type or duration.",
                    );
                }
                s.bans.push(snippet.clone());
                s.next_id += 1;
                (
                    200,
                    json!({"kind": "youtube#liveChatBan", "etag": "fakeEtag",
                        "id": format!("BAN-{}", s.next_id), "snippet": snippet}),
                )
            }
            ("DELETE", "liveChat/messages") => {
                if auth != "bearer" {
                    return error(401, "authError", "global", "Login Required.");
                }
                if let Err(e) = Self::charge(s, 50, now) {
                    return e;
                }
                let id = q("id");
                if !s.items.iter().any(|(_, item)| item["id"] == id) {
                    return error(
                        404,
                        "liveChatMessageNotFound",
                        "youtube.liveChatMessage",
                        "Message not found.",
                    );
                }
                s.deleted.push(id.to_owned());
                (204, Value::Null)
            }
            _ => error(404, "notFound", "global", "Not Found"),
        }
    }

    /// Units charged on `now`'s Pacific day.
    pub fn units_today(&self, now: DateTime<Utc>) -> u64 {
        self.with(|s| s.units.get(&quota_day(now)).copied().unwrap_or(0))
    }

    pub fn reset_after(now: DateTime<Utc>) -> DateTime<Utc> {
        next_reset(now)
    }
}

/// Answers the source in-process at the time its clock says.
pub struct ModelTransport {
    pub model: YoutubeModel,
    pub clock: ss::sources::youtube::Clock,
}

impl Transport for ModelTransport {
    fn call<'a>(
        &'a self,
        request: Request<'a>,
    ) -> ss::sources::BoxFuture<'a, Result<Value, CallError>> {
        Box::pin(async move {
            let auth = match request.auth {
                a @ Auth::ApiKey(_) => ("key", secret_of(a)),
                a @ Auth::Bearer(_) => ("bearer", secret_of(a)),
            };
            let query = request
                .query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let method = request.method.as_str();
            let (status, body) = self.model.handle(
                method,
                request.path,
                query,
                Some(auth),
                request.body.cloned(),
                self.clock.now(),
            );
            if (200..300).contains(&status) {
                Ok(body)
            } else {
                Err(CallError::Api(wire::parse_error(status, &body.to_string())))
            }
        })
    }
}

/// The secret inside `auth`, found by asking (the model knows the two values it accepts).
fn secret_of(auth: &Auth) -> String {
    for candidate in KNOWN_SECRETS {
        if auth.is(candidate) {
            return candidate.to_string();
        }
    }
    "unknown".into()
}

/// The secrets tests use.
pub const KNOWN_SECRETS: [&str; 2] = [
    "AIzaE2eSecretApiKey0123456789",
    "ya29.e2e-secret-oauth-token",
];

/// The model over HTTP on 127.0.0.1.
pub struct YoutubeServer {
    pub addr: SocketAddr,
    pub model: YoutubeModel,
    task: JoinHandle<()>,
}

impl Drop for YoutubeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl YoutubeServer {
    pub async fn start(model: YoutubeModel) -> YoutubeServer {
        use axum::body::Bytes;
        use axum::extract::{Query, State};
        use axum::http::{HeaderMap, Method, StatusCode, Uri};
        async fn handler(
            State(model): State<YoutubeModel>,
            method: Method,
            uri: Uri,
            Query(mut query): Query<BTreeMap<String, String>>,
            headers: HeaderMap,
            body: Bytes,
        ) -> axum::response::Response {
            use axum::response::IntoResponse;
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let auth = if let Some(key) = header("x-goog-api-key").or_else(|| query.remove("key")) {
                Some(("key", key))
            } else {
                header("authorization")
                    .and_then(|v| v.strip_prefix("Bearer ").map(str::to_owned))
                    .map(|t| ("bearer", t))
            };
            let path = uri.path().trim_start_matches("/youtube/v3/").to_owned();
            let method = match method {
                Method::POST => "POST",
                Method::DELETE => "DELETE",
                _ => "GET",
            };
            let body = serde_json::from_slice(&body).ok();
            let (status, value) = model.handle(method, &path, query, auth, body, Utc::now());
            if status == 204 {
                return StatusCode::NO_CONTENT.into_response();
            }
            (StatusCode::from_u16(status).unwrap(), axum::Json(value)).into_response()
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(handler)
            .with_state(model.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        YoutubeServer { addr, model, task }
    }

    /// The value for platforms.json's `youtube.base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/youtube/v3", self.addr)
    }
}

/// The wiring of a YouTube source under test: its replies queue is never read, and the wire checks
/// allow any clock skew, because the simulated stream keeps its own clock, far from the wall clock.
pub fn wiring_on_sim_clock(
    secrets: &ss::config::secrets::Secrets,
    lane: &ss::lanes::DataLane,
) -> ss::sources::runner::Wiring {
    let (_, outbound) = tokio::sync::mpsc::channel(1);
    ss::sources::runner::Wiring {
        secrets: secrets.clone(),
        wire: ss::event::wire_checks::WireLimits {
            max_clock_skew: std::time::Duration::from_secs(100 * 365 * 86_400),
            ..ss::event::wire_checks::WireLimits::default()
        },
        ..ss::sources::runner::Wiring::new(
            "demo",
            ss::sources::youtube::YOUTUBE,
            lane.sink.clone(),
            outbound,
        )
    }
}
