//! Pure parsers for Kick (PROTOCOLS.md §3 and §7): Pusher frames, the app events inside them, the
//! channel lookup, the OAuth token answer, and the bodies of the official webhooks.
//!
//! Every function takes text or decoded JSON and never panics, whatever its shape: a field of the
//! wrong type reads as absent. Chat messages from Pusher and from webhooks go through one
//! normalizer ([`chat_event`]), so both paths give the same [`ChatEvent`] (same id, text, emotes
//! and roles) and the Core's dedupe counts a message once whichever path delivered it. Inline
//! emotes `[emote:ID:NAME]` become their NAME in the text, located by code-point positions. An
//! event this build does not know is kept as [`EventKind::Other`] with `extras.event`, never
//! dropped. Events without a platform id get one derived from their content (a hash), never from
//! the arrival time, so a re-delivery dedupes.

use crate::event::{Author, ChatEvent, CompactString, Emote, Emotes, EventKind, Extras};
use crate::sources::LiveStream;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Why a frame or body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected Kick data: {0}")]
pub struct WireError(pub String);

/// One Pusher frame from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `pusher:connection_established`; `activity_timeout` in seconds when given.
    Established {
        socket_id: String,
        activity_timeout: Option<u64>,
    },
    /// `pusher_internal:subscription_succeeded` for `channel`.
    Subscribed {
        channel: String,
    },
    Ping,
    Pong,
    /// `pusher:error` (`code` may be absent or null).
    Error {
        code: Option<u16>,
        message: String,
    },
    /// An app event; `data` decoded once (the JSON text inside the double-encoded string).
    App {
        event: String,
        channel: Option<String>,
        data: String,
    },
}

/// What a `pusher:error` code (or a websocket close code) asks the client to do (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorAction {
    /// 4000–4099: reconnecting with the same settings cannot help.
    Permanent,
    /// 4100–4199: reconnect after backing off.
    BackOff,
    /// 4200–4299: reconnect at once.
    ReconnectNow,
    /// Anything else (4300–4399, no code): keep going, the connection decides.
    Other,
}

/// The action for a Pusher error or close code.
pub fn error_action(code: Option<u16>) -> ErrorAction {
    match code {
        Some(4000..=4099) => ErrorAction::Permanent,
        Some(4100..=4199) => ErrorAction::BackOff,
        Some(4200..=4299) => ErrorAction::ReconnectNow,
        _ => ErrorAction::Other,
    }
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?.as_str()
}

/// An id the wire may send as a number or a string.
fn id_at(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn u64_at(v: &Value, key: &str) -> Option<u64> {
    match v.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An RFC 3339 time.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A `data` field: the double-encoded string decoded once, or an object as its JSON text (old
/// servers and some clients send objects; §7 says to accept both).
fn data_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Parses one text frame from the Pusher server.
pub fn parse_frame(text: &str) -> Result<Frame, WireError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| WireError(format!("a Pusher frame that is not JSON ({e})")))?;
    let event = str_at(&v, "event")
        .ok_or_else(|| WireError("a Pusher frame without an \"event\" name".into()))?;
    let data = v.get("data");
    Ok(match event {
        "pusher:connection_established" => {
            let inner = decode_data(data);
            Frame::Established {
                socket_id: str_at(&inner, "socket_id").unwrap_or_default().to_owned(),
                activity_timeout: u64_at(&inner, "activity_timeout"),
            }
        }
        "pusher_internal:subscription_succeeded" => Frame::Subscribed {
            channel: str_at(&v, "channel").unwrap_or_default().to_owned(),
        },
        "pusher:ping" => Frame::Ping,
        "pusher:pong" => Frame::Pong,
        "pusher:error" => {
            let inner = decode_data(data);
            Frame::Error {
                code: u64_at(&inner, "code").and_then(|c| u16::try_from(c).ok()),
                message: str_at(&inner, "message").unwrap_or_default().to_owned(),
            }
        }
        _ => Frame::App {
            event: event.to_owned(),
            channel: str_at(&v, "channel").map(str::to_owned),
            data: data_text(data),
        },
    })
}

/// `data` as JSON whether it came as an object or as a JSON string; `Null` when neither.
fn decode_data(data: Option<&Value>) -> Value {
    match data {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        Some(other) => other.clone(),
        None => Value::Null,
    }
}

/// The client's subscribe frame for `channel`.
pub fn subscribe_frame(channel: &str) -> String {
    serde_json::json!({"event": "pusher:subscribe", "data": {"auth": "", "channel": channel}})
        .to_string()
}

/// The client's ping frame.
pub const PING_FRAME: &str = r#"{"event":"pusher:ping","data":{}}"#;
/// The client's pong frame (the answer to a server ping).
pub const PONG_FRAME: &str = r#"{"event":"pusher:pong","data":{}}"#;

/// The Pusher channel of a chatroom's messages.
pub fn chatroom_channel(chatroom_id: u64) -> String {
    format!("chatrooms.{chatroom_id}.v2")
}

/// The Pusher channel of a channel's stream events (start, end).
pub fn stream_channel(channel_id: u64) -> String {
    format!("channel.{channel_id}")
}

/// Where an event is going and when it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub creator: &'a str,
    /// The channel slug the events are stored under.
    pub channel: &'a str,
    pub received: DateTime<Utc>,
}

/// A change of the channel's go-live state carried by an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveChange {
    Started(LiveStream),
    Ended,
}

/// One decoded Kick event: what goes to the data lane, and a go-live change when it carries one.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub event: ChatEvent,
    pub live: Option<LiveChange>,
}

/// Text with `[emote:ID:NAME]` replaced by `NAME`, and the emotes at their code-point positions
/// (inclusive). A malformed tag stays as it was written.
pub fn parse_emotes(content: &str) -> (String, Emotes) {
    const OPEN: &str = "[emote:";
    let mut text = String::with_capacity(content.len());
    let mut emotes = Emotes::new();
    let mut chars = 0u32;
    let mut rest = content;
    while let Some(at) = rest.find(OPEN) {
        let (before, tail) = rest.split_at(at);
        text.push_str(before);
        chars += before.chars().count() as u32;
        let body = &tail[OPEN.len()..];
        let parsed = body.find(']').and_then(|close| {
            let (id, name) = body[..close].split_once(':')?;
            let ok = !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && !name.is_empty()
                && !name.contains(['[', ':'])
                && !name.chars().any(char::is_whitespace);
            ok.then_some((id, name, close))
        });
        match parsed {
            Some((id, name, close)) => {
                let len = name.chars().count() as u32;
                emotes.push(Emote {
                    id: id.into(),
                    start: chars,
                    end: chars + len - 1,
                });
                text.push_str(name);
                chars += len;
                rest = &body[close + 1..];
            }
            None => {
                text.push_str(OPEN);
                chars += OPEN.len() as u32;
                rest = body;
            }
        }
    }
    text.push_str(rest);
    (text, emotes)
}

/// A stable id for an event without one: a hash of what it says.
pub fn derived_id(event: &str, data: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(event.as_bytes());
    hash.update(b"\n");
    hash.update(data.as_bytes());
    let digest = hash.finalize();
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("kick-{hex}")
}

/// The parts of a chat message both paths carry, under their own field names.
struct ChatParts<'a> {
    id: String,
    content: &'a str,
    created_at: Option<&'a str>,
    sender_id: Option<String>,
    username: &'a str,
    slug: Option<&'a str>,
    color: Option<&'a str>,
    badges: Option<&'a Value>,
    reply_to_id: Option<String>,
    reply_to_login: Option<&'a str>,
}

/// The one normalizer of chat messages (Pusher `ChatMessageEvent`, webhook `chat.message.sent`).
fn chat_event(parts: ChatParts<'_>, target: Target<'_>) -> ChatEvent {
    let (text, emotes) = parse_emotes(parts.content);
    let mut author = Author {
        id: parts.sender_id.as_deref().unwrap_or(parts.username).into(),
        login: parts
            .slug
            .map_or_else(|| parts.username.to_lowercase(), str::to_owned)
            .into(),
        display_name: parts.username.into(),
        roles: Default::default(),
    };
    let mut extras = Extras::new();
    let mut badge_names = Vec::new();
    if let Some(badges) = parts.badges.and_then(Value::as_array) {
        for badge in badges {
            let Some(kind) = str_at(badge, "type") else {
                continue;
            };
            match kind {
                "broadcaster" => author.roles.broadcaster = true,
                "moderator" => author.roles.moderator = true,
                "vip" => author.roles.vip = true,
                "subscriber" | "founder" => {
                    author.roles.subscriber = true;
                    if let Some(months) = u64_at(badge, "count") {
                        extras.insert_u64("sub_months", months);
                    }
                }
                _ => {}
            }
            badge_names.push(kind);
        }
    }
    if !badge_names.is_empty() {
        extras.insert_str_list("badges", badge_names.iter().copied());
    }
    if let Some(color) = parts.color.filter(|c| !c.is_empty()) {
        extras.insert_str("color", color);
    }
    if let Some(reply_to) = &parts.reply_to_id {
        extras.insert_str("reply_to_id", reply_to);
        if let Some(login) = parts.reply_to_login {
            extras.insert_str("reply_to_login", login);
        }
    }
    ChatEvent {
        platform: crate::sources::kick::KICK,
        creator: target.creator.into(),
        channel: target.channel.into(),
        message_id: parts.id.into(),
        timestamp: parts
            .created_at
            .and_then(parse_time)
            .unwrap_or(target.received),
        kind: EventKind::Message,
        author,
        text: text.into(),
        emotes,
        detail: None,
        extras,
    }
}

/// An event of `kind` by `author` with no text, at the receive time.
fn channel_event(
    kind: EventKind,
    id: String,
    author: Author,
    name: &'static str,
    target: Target<'_>,
) -> ChatEvent {
    let mut extras = Extras::new();
    extras.insert_str("event", name);
    ChatEvent {
        platform: crate::sources::kick::KICK,
        creator: target.creator.into(),
        channel: target.channel.into(),
        message_id: id.into(),
        timestamp: target.received,
        kind,
        author,
        text: CompactString::default(),
        emotes: Emotes::new(),
        detail: None,
        extras,
    }
}

/// A person object (`{id, username, slug}` on Pusher, `{user_id, username, channel_slug}` in
/// webhooks) as an author.
fn person(v: &Value) -> Option<Author> {
    let username = str_at(v, "username").filter(|u| !u.is_empty())?;
    let mut author = Author::viewer(username);
    author.login = str_at(v, "slug")
        .or_else(|| str_at(v, "channel_slug"))
        .map_or_else(|| username.to_lowercase(), str::to_owned)
        .into();
    if let Some(id) = id_at(v, "id").or_else(|| id_at(v, "user_id")) {
        author.id = id.into();
    }
    Some(author)
}

const SYSTEM: &str = "kick";

/// Decodes a Pusher app event (`event` name, `data` decoded once). `Err` when a known event's data
/// is not what it should be; unknown events are kept as [`EventKind::Other`].
pub fn decode_app_event(event: &str, data: &str, target: Target<'_>) -> Result<Decoded, WireError> {
    let name = event.rsplit('\\').next().unwrap_or(event);
    let v: Value = serde_json::from_str(data).unwrap_or(Value::Null);
    let bad = |what: &str| WireError(format!("{name}: {what}"));
    let plain = |event| Ok(Decoded { event, live: None });
    match name {
        "ChatMessageEvent" => {
            let id = id_at(&v, "id").ok_or_else(|| bad("no message id"))?;
            let sender = v.get("sender").ok_or_else(|| bad("no sender"))?;
            let username = str_at(sender, "username").ok_or_else(|| bad("no sender username"))?;
            let identity = sender.get("identity");
            let metadata = v.get("metadata");
            let original = metadata.and_then(|m| m.get("original_message"));
            let original_sender = metadata.and_then(|m| m.get("original_sender"));
            let is_reply = str_at(&v, "type") == Some("reply") || original.is_some();
            plain(chat_event(
                ChatParts {
                    id,
                    content: str_at(&v, "content").unwrap_or_default(),
                    created_at: str_at(&v, "created_at"),
                    sender_id: id_at(sender, "id"),
                    username,
                    slug: str_at(sender, "slug"),
                    color: identity.and_then(|i| str_at(i, "color")),
                    badges: identity.and_then(|i| i.get("badges")),
                    reply_to_id: original.filter(|_| is_reply).and_then(|o| id_at(o, "id")),
                    reply_to_login: original_sender.and_then(|s| str_at(s, "username")),
                },
                target,
            ))
        }
        "GiftedSubscriptionsEvent" => {
            let gifter = str_at(&v, "gifter_username").unwrap_or(SYSTEM);
            let recipients: Vec<&str> = v
                .get("gifted_usernames")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut e = channel_event(
                EventKind::Subscription,
                derived_id(event, data),
                Author::viewer(gifter),
                "gifted_subscriptions",
                target,
            );
            e.extras.insert_u64("gift_count", recipients.len() as u64);
            e.extras.insert_str_list("recipients", recipients);
            plain(e)
        }
        "SubscriptionEvent" => {
            let username = str_at(&v, "username").ok_or_else(|| bad("no username"))?;
            let months = u64_at(&v, "months").unwrap_or(1);
            let mut e = channel_event(
                EventKind::Subscription,
                derived_id(event, data),
                Author::viewer(username),
                "subscription",
                target,
            );
            e.extras.insert_u64("months", months);
            plain(e)
        }
        "MessageDeletedEvent" => {
            let target_id = v
                .get("message")
                .and_then(|m| id_at(m, "id"))
                .ok_or_else(|| bad("no deleted message id"))?;
            let id = id_at(&v, "id").unwrap_or_else(|| derived_id(event, data));
            let mut e = channel_event(
                EventKind::Deletion,
                id,
                Author::viewer(SYSTEM),
                "message_deleted",
                target,
            );
            e.extras.insert_str("target_message_id", &target_id);
            plain(e)
        }
        "UserBannedEvent" => {
            let user = v
                .get("user")
                .and_then(person)
                .ok_or_else(|| bad("no banned user"))?;
            let permanent = v.get("permanent").and_then(Value::as_bool).unwrap_or(true);
            let kind = if permanent {
                EventKind::Ban
            } else {
                EventKind::Timeout
            };
            let id = id_at(&v, "id").unwrap_or_else(|| derived_id(event, data));
            let mut e = channel_event(kind, id, user, "user_banned", target);
            if let Some(by) = v.get("banned_by").and_then(|b| str_at(b, "username")) {
                e.extras.insert_str("banned_by", by);
            }
            if let Some(minutes) = u64_at(&v, "duration") {
                e.extras.insert_u64("duration_min", minutes);
            }
            plain(e)
        }
        "StreamerIsLive" => {
            let stream = v.get("livestream").ok_or_else(|| bad("no livestream"))?;
            let id = id_at(stream, "id").ok_or_else(|| bad("no livestream id"))?;
            let started_at = str_at(stream, "created_at")
                .and_then(parse_kick_time)
                .unwrap_or(target.received);
            let title = str_at(stream, "session_title").map(str::to_owned);
            let mut e = channel_event(
                EventKind::Other,
                format!("kick-live-{id}"),
                Author::viewer(SYSTEM),
                "stream_started",
                target,
            );
            e.extras.insert_str("livestream_id", &id);
            Ok(Decoded {
                event: e,
                live: Some(LiveChange::Started(LiveStream {
                    id,
                    started_at,
                    title,
                    url: Some(format!("https://kick.com/{}", target.channel)),
                })),
            })
        }
        "StopStreamBroadcast" => {
            let id = v
                .get("livestream")
                .and_then(|s| id_at(s, "id"))
                .ok_or_else(|| bad("no livestream id"))?;
            let mut e = channel_event(
                EventKind::Other,
                format!("kick-offline-{id}"),
                Author::viewer(SYSTEM),
                "stream_ended",
                target,
            );
            e.extras.insert_str("livestream_id", &id);
            Ok(Decoded {
                event: e,
                live: Some(LiveChange::Ended),
            })
        }
        _ => {
            let mut e = channel_event(
                EventKind::Other,
                derived_id(event, data),
                Author::viewer(SYSTEM),
                "other",
                target,
            );
            e.extras = Extras::new();
            e.extras.insert_str("event", event);
            if v.is_object() {
                e.extras.insert_value("data", &v);
            }
            plain(e)
        }
    }
}

/// Kick's own times: RFC 3339, or `2025-07-17 08:44:56` (UTC) in some stream objects.
fn parse_kick_time(s: &str) -> Option<DateTime<Utc>> {
    parse_time(s).or_else(|| {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
            .ok()
            .map(|t| t.and_utc())
    })
}

/// What the channel lookup (`GET /api/v2/channels/{slug}`) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    pub chatroom_id: u64,
    /// The channel id (Pusher `channel.{id}` carries stream start and end).
    pub channel_id: Option<u64>,
    pub user_id: Option<u64>,
    /// The live stream, when live.
    pub livestream: Option<LiveStream>,
}

/// Parses the channel lookup answer for `slug`.
pub fn parse_channel(body: &str, slug: &str) -> Result<ChannelInfo, WireError> {
    let v: Value = serde_json::from_str(body).map_err(|_| {
        WireError("the channel lookup answered with something that is not JSON".into())
    })?;
    let chatroom_id = v
        .get("chatroom")
        .and_then(|c| u64_at(c, "id"))
        .ok_or_else(|| WireError("the channel lookup has no chatroom.id".into()))?;
    let livestream = v.get("livestream").filter(|l| l.is_object()).and_then(|l| {
        Some(LiveStream {
            id: id_at(l, "id")?,
            started_at: str_at(l, "start_time")
                .or_else(|| str_at(l, "created_at"))
                .and_then(parse_kick_time)?,
            title: str_at(l, "session_title").map(str::to_owned),
            url: Some(format!("https://kick.com/{slug}")),
        })
    });
    Ok(ChannelInfo {
        chatroom_id,
        channel_id: u64_at(&v, "id"),
        user_id: u64_at(&v, "user_id"),
        livestream,
    })
}

/// An OAuth token answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAnswer {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<u64>,
}

/// Parses `POST /oauth/token`'s answer.
pub fn parse_token(body: &str) -> Result<TokenAnswer, WireError> {
    let v: Value =
        serde_json::from_str(body).map_err(|_| WireError("the token answer is not JSON".into()))?;
    Ok(TokenAnswer {
        access_token: str_at(&v, "access_token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| WireError("the token answer has no access_token".into()))?
            .to_owned(),
        refresh_token: str_at(&v, "refresh_token")
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        expires_in: u64_at(&v, "expires_in"),
    })
}

/// The id of the message the platform says it sent (`data.message_id`), when it says.
pub fn parse_sent(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    id_at(v.get("data")?, "message_id")
}

/// One webhook delivery, as its headers describe it.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// `Kick-Event-Message-Id`: the idempotency key.
    pub message_id: &'a str,
    /// `Kick-Event-Type`.
    pub event_type: &'a str,
}

/// A webhook body parsed far enough to route it: whose channel, and the JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookBody {
    pub broadcaster_user_id: Option<u64>,
    pub broadcaster_slug: Option<String>,
    pub json: Value,
}

/// Parses a webhook body: a JSON object. The error says what is wrong, for the 400 answer.
pub fn parse_webhook_body(body: &[u8]) -> Result<WebhookBody, WireError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| WireError(format!("the body is not JSON: {e}")))?;
    if !json.is_object() {
        return Err(WireError("the body is not a JSON object".into()));
    }
    let broadcaster = json.get("broadcaster");
    Ok(WebhookBody {
        broadcaster_user_id: broadcaster.and_then(|b| u64_at(b, "user_id")),
        broadcaster_slug: broadcaster
            .and_then(|b| str_at(b, "channel_slug"))
            .map(str::to_owned),
        json,
    })
}

/// Normalizes a webhook delivery like the Pusher events: `chat.message.sent` through the same
/// chat normalizer; subscriptions, gifts, bans as their kinds; anything else as
/// [`EventKind::Other`]. Events without their own id use `webhook-{Kick-Event-Message-Id}`, which
/// Kick keeps across its retries.
pub fn decode_webhook(
    delivery: Delivery<'_>,
    body: &WebhookBody,
    target: Target<'_>,
) -> Result<ChatEvent, WireError> {
    let v = &body.json;
    let bad = |what: &str| WireError(format!("{}: {what}", delivery.event_type));
    let id = format!("webhook-{}", delivery.message_id);
    let who = ["sender", "subscriber", "gifter", "follower", "banned_user"]
        .iter()
        .find_map(|key| v.get(*key).and_then(person))
        .unwrap_or_else(|| Author::viewer(SYSTEM));
    let event = match delivery.event_type {
        "chat.message.sent" => {
            let sender = v.get("sender").ok_or_else(|| bad("no sender"))?;
            let identity = sender.get("identity");
            let replies_to = v.get("replies_to").filter(|r| r.is_object());
            chat_event(
                ChatParts {
                    id: id_at(v, "message_id").ok_or_else(|| bad("no message_id"))?,
                    content: str_at(v, "content").unwrap_or_default(),
                    created_at: str_at(v, "created_at"),
                    sender_id: id_at(sender, "user_id"),
                    username: str_at(sender, "username")
                        .ok_or_else(|| bad("no sender username"))?,
                    slug: str_at(sender, "channel_slug"),
                    color: identity.and_then(|i| str_at(i, "username_color")),
                    badges: identity.and_then(|i| i.get("badges")),
                    reply_to_id: replies_to.and_then(|r| id_at(r, "message_id")),
                    reply_to_login: replies_to
                        .and_then(|r| r.get("sender"))
                        .and_then(|s| str_at(s, "username")),
                },
                target,
            )
        }
        "channel.subscription.new" => {
            channel_event(EventKind::Subscription, id, who, "subscription", target)
        }
        "channel.subscription.renewal" => {
            let mut e = channel_event(
                EventKind::Subscription,
                id,
                who,
                "subscription_renewal",
                target,
            );
            if let Some(months) = u64_at(v, "duration") {
                e.extras.insert_u64("months", months);
            }
            e
        }
        "channel.subscription.gifts" => {
            let giftees: Vec<&str> = v
                .get("giftees")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|g| str_at(g, "username")).collect())
                .unwrap_or_default();
            let mut e = channel_event(
                EventKind::Subscription,
                id,
                who,
                "gifted_subscriptions",
                target,
            );
            e.extras.insert_u64("gift_count", giftees.len() as u64);
            e.extras.insert_str_list("recipients", giftees);
            e
        }
        "moderation.banned" => {
            let permanent = v
                .get("metadata")
                .is_none_or(|m| m.get("expires_at").is_none_or(Value::is_null));
            let kind = if permanent {
                EventKind::Ban
            } else {
                EventKind::Timeout
            };
            let mut e = channel_event(kind, id, who, "user_banned", target);
            if let Some(by) = v.get("moderator").and_then(|m| str_at(m, "username")) {
                e.extras.insert_str("banned_by", by);
            }
            e
        }
        other => {
            let mut e = channel_event(EventKind::Other, id, who, "other", target);
            e.extras = Extras::new();
            e.extras.insert_str("event", other);
            e.extras.insert_value("data", v);
            e
        }
    };
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ESTABLISHED: &str = r#"{"event":"pusher:connection_established","data":"{\"socket_id\":\"123.456\",\"activity_timeout\":120}"}"#;
    const SUBSCRIBED: &str = r#"{"event":"pusher_internal:subscription_succeeded","data":"{}","channel":"chatrooms.1221707.v2"}"#;
    const CHAT: &str = r##"{"event":"App\\Events\\ChatMessageEvent","data":"{\"id\":\"bbcdbcfd-8619-40c2-a0d0-ae7cf4c7a932\",\"chatroom_id\":1221707,\"content\":\"[emote:3989851:PogU] hi\",\"type\":\"message\",\"created_at\":\"2025-07-17T08:44:56+00:00\",\"sender\":{\"id\":3528468,\"username\":\"OhLookItsMax\",\"slug\":\"ohlookitsmax\",\"identity\":{\"color\":\"#FF9D00\",\"badges\":[{\"type\":\"vip\",\"text\":\"VIP\"},{\"type\":\"subscriber\",\"text\":\"Subscriber\",\"count\":26}]}},\"metadata\":{\"message_ref\":\"1752741896375\"}}","channel":"chatrooms.1221707.v2"}"##;
    const WEBHOOK_CHAT: &str = r##"{"message_id":"unique_message_id_123","replies_to":null,
   "broadcaster":{"is_anonymous":false,"user_id":123456789,"username":"broadcaster_name","is_verified":true,"profile_picture":"https://x","channel_slug":"broadcaster_channel","identity":null},
   "sender":{"is_anonymous":false,"user_id":987654321,"username":"sender_name","is_verified":false,"profile_picture":"https://x","channel_slug":"sender_channel",
     "identity":{"username_color":"#FF5733","badges":[{"text":"Moderator","type":"moderator"},{"text":"Subscriber","type":"subscriber","count":3}]}},
   "content":"Hello [emote:37226:KEKW]","emotes":[{"emote_id":"37226","positions":[{"s":6,"e":23}]}],
   "created_at":"2025-01-14T16:08:06Z"}"##;

    fn target() -> Target<'static> {
        Target {
            creator: "demo",
            channel: "demo-channel",
            received: parse_time("2025-07-17T08:45:00Z").unwrap(),
        }
    }

    fn app(frame: &str) -> (String, String) {
        match parse_frame(frame).unwrap() {
            Frame::App { event, data, .. } => (event, data),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn protocol_frames_of_the_reference_parse() {
        assert_eq!(
            parse_frame(ESTABLISHED).unwrap(),
            Frame::Established {
                socket_id: "123.456".into(),
                activity_timeout: Some(120)
            }
        );
        assert_eq!(
            parse_frame(SUBSCRIBED).unwrap(),
            Frame::Subscribed {
                channel: "chatrooms.1221707.v2".into()
            }
        );
        assert_eq!(
            parse_frame(r#"{"event":"pusher:error","data":{"code":4201,"message":"Pong reply not received"}}"#).unwrap(),
            Frame::Error { code: Some(4201), message: "Pong reply not received".into() }
        );
        assert_eq!(
            parse_frame(r#"{"event":"pusher:ping","data":{}}"#).unwrap(),
            Frame::Ping
        );
        assert_eq!(
            parse_frame(r#"{"event":"pusher:pong","data":"{}"}"#).unwrap(),
            Frame::Pong
        );
        assert!(parse_frame("not json").is_err());
        assert!(parse_frame(r#"{"data":{}}"#).is_err());
        let subscribe: Value = serde_json::from_str(&subscribe_frame("chatrooms.1.v2")).unwrap();
        assert_eq!(subscribe["data"]["channel"], "chatrooms.1.v2");
    }

    #[test]
    fn error_codes_map_to_the_three_reconnect_rules() {
        assert_eq!(error_action(Some(4001)), ErrorAction::Permanent);
        assert_eq!(error_action(Some(4100)), ErrorAction::BackOff);
        assert_eq!(error_action(Some(4200)), ErrorAction::ReconnectNow);
        assert_eq!(error_action(Some(4301)), ErrorAction::Other);
        assert_eq!(error_action(None), ErrorAction::Other);
    }

    #[test]
    fn the_reference_chat_message_normalizes_with_emotes_and_roles() {
        let (event, data) = app(CHAT);
        assert_eq!(event, r"App\Events\ChatMessageEvent");
        let decoded = decode_app_event(&event, &data, target()).unwrap();
        let e = decoded.event;
        assert_eq!(e.message_id, "bbcdbcfd-8619-40c2-a0d0-ae7cf4c7a932");
        assert_eq!(e.text, "PogU hi");
        assert_eq!(
            e.emotes.as_slice(),
            [Emote {
                id: "3989851".into(),
                start: 0,
                end: 3
            }]
        );
        assert_eq!(e.author.id, "3528468");
        assert_eq!(e.author.login, "ohlookitsmax");
        assert_eq!(e.author.display_name, "OhLookItsMax");
        assert!(e.author.roles.vip && e.author.roles.subscriber && !e.author.roles.moderator);
        assert_eq!(e.timestamp, parse_time("2025-07-17T08:44:56Z").unwrap());
        assert_eq!(e.extras.get("sub_months"), Some(26.into()));
        assert_eq!(e.channel, "demo-channel");
        assert!(decoded.live.is_none());
    }

    #[test]
    fn a_reply_names_the_message_it_answers() {
        let data = r#"{"id":"r1","content":"yes","type":"reply","created_at":"2025-07-17T08:44:56+00:00","sender":{"id":1,"username":"A","slug":"a","identity":{"badges":[{"type":"moderator"}]}},"metadata":{"original_sender":{"id":2,"username":"B"},"original_message":{"id":"m0","content":"q?"}}}"#;
        let e = decode_app_event(r"App\Events\ChatMessageEvent", data, target())
            .unwrap()
            .event;
        assert_eq!(e.extras.get("reply_to_id"), Some("m0".into()));
        assert_eq!(e.extras.get("reply_to_login"), Some("B".into()));
        assert!(e.author.roles.moderator);
    }

    #[test]
    fn channel_events_get_their_kinds_and_stable_ids() {
        let gift = r#"{"chatroom_id":1,"gifted_usernames":["a","b"],"gifter_username":"G"}"#;
        let g1 = decode_app_event(r"App\Events\GiftedSubscriptionsEvent", gift, target()).unwrap();
        let g2 = decode_app_event(r"App\Events\GiftedSubscriptionsEvent", gift, target()).unwrap();
        assert_eq!(g1.event.kind, EventKind::Subscription);
        assert_eq!(g1.event.message_id, g2.event.message_id);
        assert_eq!(g1.event.extras.get("gift_count"), Some(2.into()));
        let sub = decode_app_event(
            r"App\Events\SubscriptionEvent",
            r#"{"chatroom_id":1,"username":"s","months":3}"#,
            target(),
        )
        .unwrap();
        assert_eq!(sub.event.kind, EventKind::Subscription);
        let del = decode_app_event(
            r"App\Events\MessageDeletedEvent",
            r#"{"id":"d1","message":{"id":"m9"}}"#,
            target(),
        )
        .unwrap();
        assert_eq!(del.event.kind, EventKind::Deletion);
        assert_eq!(del.event.extras.get("target_message_id"), Some("m9".into()));
        let ban = decode_app_event(
            r"App\Events\UserBannedEvent",
            r#"{"id":"b1","user":{"id":5,"username":"Troll","slug":"troll"},"banned_by":{"username":"Mod"},"permanent":false,"duration":10}"#,
            target(),
        )
        .unwrap();
        assert_eq!(ban.event.kind, EventKind::Timeout);
        assert_eq!(ban.event.author.login, "troll");
        let other = decode_app_event(
            r"App\Events\PinnedMessageCreatedEvent",
            r#"{"x":1}"#,
            target(),
        )
        .unwrap();
        assert_eq!(other.event.kind, EventKind::Other);
        assert_eq!(
            other.event.extras.get("event"),
            Some(r"App\Events\PinnedMessageCreatedEvent".into())
        );
    }

    #[test]
    fn stream_start_and_end_change_the_live_state() {
        let live = decode_app_event(
            r"App\Events\StreamerIsLive",
            r#"{"livestream":{"id":555,"channel_id":9,"session_title":"Hello","created_at":"2025-07-17 08:00:00"}}"#,
            target(),
        )
        .unwrap();
        match live.live {
            Some(LiveChange::Started(stream)) => {
                assert_eq!(stream.id, "555");
                assert_eq!(stream.title.as_deref(), Some("Hello"));
                assert_eq!(
                    stream.started_at,
                    parse_time("2025-07-17T08:00:00Z").unwrap()
                );
            }
            other => panic!("{other:?}"),
        }
        let end = decode_app_event(
            r"App\Events\StopStreamBroadcast",
            r#"{"livestream":{"id":555,"channel":{"id":9}}}"#,
            target(),
        )
        .unwrap();
        assert_eq!(end.live, Some(LiveChange::Ended));
    }

    #[test]
    fn emote_tags_become_names_and_malformed_ones_stay() {
        let (text, emotes) = parse_emotes("é [emote:1:Ab] x [emote:2:Cd][emote:x:y] [emote:3:");
        assert_eq!(text, "é Ab x Cd[emote:x:y] [emote:3:");
        assert_eq!(
            emotes[0],
            Emote {
                id: "1".into(),
                start: 2,
                end: 3
            }
        );
        assert_eq!(
            emotes[1],
            Emote {
                id: "2".into(),
                start: 7,
                end: 8
            }
        );
    }

    #[test]
    fn the_reference_webhook_chat_equals_the_same_message_over_pusher() {
        let body = parse_webhook_body(WEBHOOK_CHAT.as_bytes()).unwrap();
        assert_eq!(body.broadcaster_user_id, Some(123_456_789));
        let delivery = Delivery {
            message_id: "01JH0000000000000000000000",
            event_type: "chat.message.sent",
        };
        let e = decode_webhook(delivery, &body, target()).unwrap();
        assert_eq!(e.message_id, "unique_message_id_123");
        assert_eq!(e.text, "Hello KEKW");
        assert_eq!(
            e.emotes[0],
            Emote {
                id: "37226".into(),
                start: 6,
                end: 9
            }
        );
        assert!(e.author.roles.moderator && e.author.roles.subscriber);
        assert_eq!(e.author.id, "987654321");
        assert_eq!(e.author.login, "sender_channel");
        // The same message over Pusher normalizes to the same event.
        let pusher = serde_json::json!({
            "id": "unique_message_id_123", "content": "Hello [emote:37226:KEKW]", "type": "message",
            "created_at": "2025-01-14T16:08:06Z",
            "sender": {"id": 987654321, "username": "sender_name", "slug": "sender_channel",
              "identity": {"color": "#FF5733", "badges": [{"type": "moderator"}, {"type": "subscriber", "count": 3}]}}
        });
        let p = decode_app_event(
            r"App\Events\ChatMessageEvent",
            &pusher.to_string(),
            target(),
        )
        .unwrap()
        .event;
        assert_eq!(p, e);
    }

    #[test]
    fn webhook_events_without_ids_use_the_delivery_id() {
        let body = parse_webhook_body(
            br#"{"broadcaster":{"user_id":1,"channel_slug":"c"},"subscriber":{"user_id":2,"username":"Sub","channel_slug":"sub"},"duration":4}"#,
        )
        .unwrap();
        let delivery = Delivery {
            message_id: "01J",
            event_type: "channel.subscription.renewal",
        };
        let e = decode_webhook(delivery, &body, target()).unwrap();
        assert_eq!(
            (e.kind, e.message_id.as_str()),
            (EventKind::Subscription, "webhook-01J")
        );
        assert_eq!(e.author.login, "sub");
        let delivery = Delivery {
            message_id: "01K",
            event_type: "kicks.gifted",
        };
        let e = decode_webhook(delivery, &body, target()).unwrap();
        assert_eq!(e.extras.get("event"), Some("kicks.gifted".into()));
        assert!(parse_webhook_body(b"[1]").is_err());
        assert!(parse_webhook_body(b"{").unwrap_err().0.contains("not JSON"));
    }

    #[test]
    fn channel_lookup_and_token_answers_parse() {
        let info = parse_channel(
            r#"{"id":9,"user_id":77,"slug":"c","chatroom":{"id":1221707},"livestream":{"id":5,"session_title":"t","start_time":"2025-07-17 08:00:00"}}"#,
            "c",
        )
        .unwrap();
        assert_eq!(
            (info.chatroom_id, info.channel_id, info.user_id),
            (1_221_707, Some(9), Some(77))
        );
        assert_eq!(info.livestream.unwrap().id, "5");
        assert!(parse_channel("<html>Just a moment...</html>", "c").is_err());
        let token = parse_token(r#"{"access_token":"a","token_type":"Bearer","refresh_token":"r","expires_in":7200,"scope":"chat:write"}"#).unwrap();
        assert_eq!(token.refresh_token.as_deref(), Some("r"));
        assert!(parse_token("{}").is_err());
        assert_eq!(
            parse_sent(r#"{"data":{"is_sent":true,"message_id":"m1"},"message":"OK"}"#).as_deref(),
            Some("m1")
        );
    }

    proptest! {
        #[test]
        fn frames_never_panic(text in ".{0,300}") {
            let _ = parse_frame(&text);
        }

        #[test]
        fn app_events_never_panic(event in prop::sample::select(vec![
            r"App\Events\ChatMessageEvent", r"App\Events\GiftedSubscriptionsEvent",
            r"App\Events\SubscriptionEvent", r"App\Events\MessageDeletedEvent",
            r"App\Events\UserBannedEvent", r"App\Events\StreamerIsLive",
            r"App\Events\StopStreamBroadcast", "x"]), data in r#"[{}\[\]":,a-z0-9 \\]{0,200}"#) {
            let _ = decode_app_event(event, &data, target());
        }

        #[test]
        fn emotes_stay_inside_the_text(content in r"(\[emote:[0-9]{0,3}:[a-zé]{0,3}\]?|[ a-zé\[\]:])*") {
            let (text, emotes) = parse_emotes(&content);
            let len = text.chars().count() as u32;
            for e in emotes {
                prop_assert!(e.start <= e.end && e.end < len);
            }
        }

        #[test]
        fn webhook_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..300),
            kind in prop::sample::select(vec!["chat.message.sent", "channel.subscription.gifts", "moderation.banned", "x"])) {
            if let Ok(parsed) = parse_webhook_body(&body) {
                let _ = decode_webhook(Delivery { message_id: "1", event_type: kind }, &parsed, target());
            }
        }

        #[test]
        fn structured_chat_json_never_panics(v in arb_json()) {
            let text = v.to_string();
            let _ = decode_app_event(r"App\Events\ChatMessageEvent", &text, target());
            if let Ok(parsed) = parse_webhook_body(text.as_bytes()) {
                let _ = decode_webhook(Delivery { message_id: "1", event_type: "chat.message.sent" }, &parsed, target());
            }
            let _ = parse_channel(&text, "c");
        }
    }

    /// JSON trees whose keys are the ones the parsers look for, so the fuzzing reaches past the
    /// first missing field.
    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z\\[\\]:0-9 ]{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            let keys = prop::sample::select(vec![
                "id",
                "content",
                "sender",
                "username",
                "identity",
                "badges",
                "type",
                "count",
                "metadata",
                "original_message",
                "user_id",
                "message_id",
                "replies_to",
                "chatroom",
                "livestream",
                "created_at",
            ]);
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::vec((keys, inner), 0..6).prop_map(|kv| {
                    Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                }),
            ]
        })
    }
}
