//! Pure parsers for Kick (Kick's chat events and the Pusher Channels protocol, version 7): Pusher frames, the app events inside them, the
//! channel lookup, the OAuth token answer, and the bodies of the official webhooks.
//!
//! Every shape is a serde type below, decoded through [`crate::wire`]: a frame or body that does not
//! fit fails with a [`WireError`] naming the path of what did not fit. Pusher's `data` is a JSON
//! string holding JSON (§7, "double encoding"), or an object from older servers: it is unescaped
//! with the envelope, in one pass, and decoded a second time as the event it names. Chat messages from Pusher and from
//! webhooks go through one normalizer ([`chat_event`]), so both paths give the same [`ChatEvent`]
//! (same id, text, emotes and roles) and the Core's dedupe counts a message once whichever path
//! delivered it. Inline emotes `[emote:ID:NAME]` become their NAME in the text, located by
//! code-point positions.
//!
//! Stream events get their kinds and typed details: subscriptions, renewals and gifts
//! ([`Subscription`]), hosts ([`Raid`]), follows, Kicks ([`Money`] in `kicks`), reward redemptions
//! ([`Redemption`]), and the stream going online or offline ([`StreamChange`]). An event this build
//! does not know is kept as [`EventKind::Other`] with its name ([`OtherEvent`]) and data, never
//! dropped and never an error. Events without a platform id get one derived from their content (a
//! hash), never from the arrival time, so a re-delivery dedupes.
//!
//! The shapes of Pusher events other than chat messages are observed in clients, not documented
//! (§3.1, §8: UNVERIFIED); each says so where it is read. The webhook shapes are those Kick
//! documents for each event type.

use crate::event::{
    Author, ChatEvent, CompactString, Emote, Emotes, EventDetail, EventKind, Extras, Money,
    OtherEvent, Raid, Redemption, StreamChange, SubKind, Subscription, UserRef,
};
use crate::sources::LiveStream;
use crate::wire::{self, Id, U64, WireError};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

pub use crate::wire::{TokenAnswer, parse_time};

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

/// A Pusher envelope (§7); `data` is decoded as its event once the event is known.
#[derive(Debug, Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(default, borrow)]
    channel: Option<Cow<'a, str>>,
    #[serde(default)]
    data: Option<Data>,
}

/// A frame's `data` as text: the double-encoded string decoded once, in the same pass as the
/// envelope, or an object's own JSON text (§7 says to accept both); empty for null.
#[derive(Debug, Default)]
struct Data(String);

impl<'de> Deserialize<'de> for Data {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Data, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Data;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON string holding JSON, or a JSON object")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Data, E> {
                Ok(Data(s.to_owned()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Data, E> {
                Ok(Data(s))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Data, E> {
                Ok(Data::default())
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Data, A::Error> {
                let value = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Data(value.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `pusher:connection_established`'s data.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Established {
    socket_id: String,
    activity_timeout: Option<U64>,
}

/// `pusher:error`'s data (an object, though some servers send it double-encoded too).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PusherError {
    code: Option<U64>,
    message: Option<String>,
}

/// A frame's data decoded as `T`; empty data reads as `T`'s default.
fn inner<T: for<'de> Deserialize<'de> + Default>(what: &str, data: &str) -> Result<T, WireError> {
    if data.trim().is_empty() {
        return Ok(T::default());
    }
    wire::from_str(what, data).map_err(|e| e.within("data"))
}

/// Parses one text frame from the Pusher server.
pub fn parse_frame(text: &str) -> Result<Frame, WireError> {
    let envelope: Envelope<'_> = wire::from_str("a Pusher frame", text)?;
    Ok(match envelope.event.as_ref() {
        "pusher:connection_established" => {
            let data: Established = inner(
                "a Pusher connection_established frame",
                &envelope.data.unwrap_or_default().0,
            )?;
            Frame::Established {
                socket_id: data.socket_id,
                activity_timeout: data.activity_timeout.map(|t| t.0),
            }
        }
        "pusher_internal:subscription_succeeded" => Frame::Subscribed {
            channel: envelope.channel.unwrap_or_default().into_owned(),
        },
        "pusher:ping" => Frame::Ping,
        "pusher:pong" => Frame::Pong,
        "pusher:error" => {
            let data: PusherError =
                inner("a pusher:error frame", &envelope.data.unwrap_or_default().0)?;
            Frame::Error {
                code: data.code.and_then(|c| u16::try_from(c.0).ok()),
                message: data.message.unwrap_or_default(),
            }
        }
        _ => Frame::App {
            data: envelope.data.unwrap_or_default().0,
            event: envelope.event.into_owned(),
            channel: envelope.channel.map(Cow::into_owned),
        },
    })
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

/// Kick's own times: RFC 3339, or `2025-07-17 08:44:56` (UTC) in some stream objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KickTime(DateTime<Utc>);

impl<'de> Deserialize<'de> for KickTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KickTime, D::Error> {
        let s = <Cow<'de, str>>::deserialize(d)?;
        parse_kick_time(&s).map(KickTime).ok_or_else(|| {
            de::Error::invalid_value(
                de::Unexpected::Str(&s),
                &"an RFC 3339 time or `YYYY-MM-DD hh:mm:ss`",
            )
        })
    }
}

fn parse_kick_time(s: &str) -> Option<DateTime<Utc>> {
    parse_time(s).or_else(|| {
        chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S")
            .ok()
            .map(|t| t.and_utc())
    })
}

/// A chat author's identity: colour and badges (`color` over Pusher, `username_color` in
/// webhooks).
#[derive(Debug, Default, Deserialize)]
struct Identity<'a> {
    #[serde(default, alias = "username_color", borrow)]
    color: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    badges: Vec<Badge<'a>>,
}

#[derive(Debug, Deserialize)]
struct Badge<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    /// Months, for `subscriber` and `founder` badges.
    #[serde(default)]
    count: Option<U64>,
}

/// `App\Events\ChatMessageEvent`'s data (§3.1).
#[derive(Debug, Deserialize)]
struct PusherChat<'a> {
    id: Id,
    #[serde(default, borrow)]
    content: Cow<'a, str>,
    #[serde(rename = "type", default, borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(default)]
    created_at: Option<KickTime>,
    #[serde(borrow)]
    sender: PusherUser<'a>,
    #[serde(default, borrow)]
    metadata: Option<PusherChatMetadata<'a>>,
}

/// A user as Pusher events name one: `{id, username, slug, identity}`.
#[derive(Debug, Deserialize)]
struct PusherUser<'a> {
    #[serde(default)]
    id: Option<Id>,
    #[serde(borrow)]
    username: Cow<'a, str>,
    #[serde(default, borrow)]
    slug: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    identity: Option<Identity<'a>>,
}

#[derive(Debug, Deserialize)]
struct PusherChatMetadata<'a> {
    #[serde(default, borrow)]
    original_sender: Option<OriginalSender<'a>>,
    #[serde(default)]
    original_message: Option<OriginalMessage>,
}

#[derive(Debug, Deserialize)]
struct OriginalSender<'a> {
    #[serde(default, borrow)]
    username: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
struct OriginalMessage {
    #[serde(default)]
    id: Option<Id>,
}

/// `App\Events\GiftedSubscriptionsEvent` (§3.1; observed, the gifter total is UNVERIFIED).
#[derive(Debug, Deserialize)]
struct PusherGifts<'a> {
    #[serde(default, borrow)]
    gifted_usernames: Vec<Cow<'a, str>>,
    #[serde(default, borrow)]
    gifter_username: Option<Cow<'a, str>>,
    #[serde(default)]
    gifter_total: Option<U64>,
}

/// `App\Events\SubscriptionEvent` (UNVERIFIED shape, §3.1): one subscriber and their months.
#[derive(Debug, Deserialize)]
struct PusherSubscription<'a> {
    #[serde(borrow)]
    username: Cow<'a, str>,
    #[serde(default)]
    months: Option<U64>,
}

/// `App\Events\StreamHostEvent` (UNVERIFIED shape, observed in clients): another channel hosts
/// this one with its viewers.
#[derive(Debug, Deserialize)]
struct PusherHost<'a> {
    #[serde(borrow)]
    host_username: Cow<'a, str>,
    #[serde(default)]
    number_viewers: Option<U64>,
    #[serde(default, borrow)]
    optional_message: Option<Cow<'a, str>>,
}

/// `App\Events\FollowersUpdated` (UNVERIFIED shape, observed in clients): a follow (or unfollow)
/// with the follower's name, or only the new count.
#[derive(Debug, Deserialize)]
struct PusherFollowers<'a> {
    #[serde(default, borrow)]
    username: Option<Cow<'a, str>>,
    #[serde(default)]
    followed: Option<bool>,
}

/// `App\Events\MessageDeletedEvent` (UNVERIFIED shape, §3.1).
#[derive(Debug, Deserialize)]
struct PusherDeleted {
    #[serde(default)]
    id: Option<Id>,
    message: IdOnly,
}

#[derive(Debug, Deserialize)]
struct IdOnly {
    id: Id,
}

/// `App\Events\UserBannedEvent` (UNVERIFIED shape, §3.1): `duration` in minutes.
#[derive(Debug, Deserialize)]
struct PusherBan<'a> {
    #[serde(default)]
    id: Option<Id>,
    #[serde(borrow)]
    user: PusherUser<'a>,
    #[serde(default, borrow)]
    banned_by: Option<PusherUser<'a>>,
    #[serde(default)]
    permanent: Option<bool>,
    #[serde(default)]
    duration: Option<U64>,
}

/// `App\Events\StreamerIsLive` and `App\Events\StopStreamBroadcast` on `channel.{id}` (observed).
#[derive(Debug, Deserialize)]
struct PusherStream<'a> {
    #[serde(borrow)]
    livestream: PusherLivestream<'a>,
}

#[derive(Debug, Deserialize)]
struct PusherLivestream<'a> {
    id: Id,
    #[serde(default, borrow)]
    session_title: Option<Cow<'a, str>>,
    #[serde(default)]
    created_at: Option<KickTime>,
}

/// The parts of a chat message both paths carry, under their own field names.
struct ChatParts<'a> {
    id: &'a str,
    content: &'a str,
    created_at: Option<DateTime<Utc>>,
    sender_id: Option<&'a str>,
    username: &'a str,
    slug: Option<&'a str>,
    identity: Option<&'a Identity<'a>>,
    reply_to_id: Option<&'a str>,
    reply_to_login: Option<&'a str>,
}

/// The one normalizer of chat messages (Pusher `ChatMessageEvent`, webhook `chat.message.sent`).
fn chat_event(parts: ChatParts<'_>, target: Target<'_>) -> ChatEvent {
    let (text, emotes) = parse_emotes(parts.content);
    let mut author = Author {
        id: parts.sender_id.unwrap_or(parts.username).into(),
        login: match parts.slug {
            Some(slug) => slug.into(),
            None => parts.username.to_lowercase().into(),
        },
        display_name: parts.username.into(),
        roles: Default::default(),
    };
    let mut extras = Extras::new();
    if let Some(identity) = parts.identity.filter(|i| !i.badges.is_empty()) {
        for badge in &identity.badges {
            match badge.kind.as_ref() {
                "broadcaster" => author.roles.broadcaster = true,
                "moderator" => author.roles.moderator = true,
                "vip" => author.roles.vip = true,
                "subscriber" | "founder" => {
                    author.roles.subscriber = true;
                    if let Some(months) = badge.count {
                        extras.insert_u64("sub_months", months.0);
                    }
                }
                _ => {}
            }
        }
        extras.insert_str_list("badges", identity.badges.iter().map(|b| b.kind.as_ref()));
    }
    if let Some(color) = parts
        .identity
        .and_then(|i| i.color.as_deref())
        .filter(|c| !c.is_empty())
    {
        extras.insert_str("color", color);
    }
    if let Some(reply_to) = parts.reply_to_id {
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
        timestamp: parts.created_at.unwrap_or(target.received),
        kind: EventKind::Message,
        author,
        text: text.into(),
        emotes,
        detail: None,
        extras,
        shared_from: None,
    }
}

/// An event of `kind` by `author` with no text, at `at`, named `name` in extras.
fn channel_event(
    kind: EventKind,
    id: &str,
    author: Author,
    name: &str,
    at: DateTime<Utc>,
    target: Target<'_>,
) -> ChatEvent {
    let mut extras = Extras::new();
    extras.insert_str("event", name);
    ChatEvent {
        platform: crate::sources::kick::KICK,
        creator: target.creator.into(),
        channel: target.channel.into(),
        message_id: id.into(),
        timestamp: at,
        kind,
        author,
        text: CompactString::default(),
        emotes: Emotes::new(),
        detail: None,
        extras,
        shared_from: None,
    }
}

/// The platform itself, as the author of events nobody in chat caused.
const SYSTEM: &str = "kick";

/// A user named only by their username (Pusher events): the login is the username lowercased, as
/// Kick's slugs are.
fn named(username: &str) -> Author {
    let mut author = Author::viewer(username);
    author.login = username.to_lowercase().into();
    author
}

fn pusher_author(user: &PusherUser<'_>) -> Author {
    let mut author = named(&user.username);
    if let Some(slug) = user.slug.as_deref() {
        author.login = slug.into();
    }
    if let Some(id) = user.id.as_ref().and_then(Id::non_empty) {
        author.id = id.into();
    }
    author
}

/// A gift of subscriptions to `recipients` (their user ids when known): one recipient is a
/// [`SubKind::Gift`] to them, several a [`SubKind::CommunityGift`] of that many (Kick sends one
/// event for the whole gift, never one per recipient).
fn gift(recipients: &[UserRef], anonymous: bool) -> Subscription {
    let mut sub = Subscription::new(if recipients.len() == 1 {
        SubKind::Gift
    } else {
        SubKind::CommunityGift
    });
    sub.count = Some(u32::try_from(recipients.len()).unwrap_or(u32::MAX));
    if let [one] = recipients {
        sub.recipient = Some(one.clone());
    }
    sub.anonymous = anonymous;
    sub
}

fn user_ref(username: &str) -> UserRef {
    UserRef {
        id: CompactString::default(),
        login: username.to_lowercase().into(),
        display_name: username.into(),
    }
}

/// An event this build has no kind for: kept with its name and, when it is an object, its data.
fn other_event(
    name: &str,
    id: &str,
    author: Author,
    data: Option<&Value>,
    at: DateTime<Utc>,
    target: Target<'_>,
) -> ChatEvent {
    let mut e = channel_event(EventKind::Other, id, author, name, at, target);
    if let Some(data) = data.filter(|d| d.is_object()) {
        e.extras.insert_value("data", data);
    }
    e.with_detail(
        EventKind::Other,
        EventDetail::Other(OtherEvent { event: name.into() }),
    )
}

/// Decodes a Pusher app event (`event` name, `data` decoded once). `Err` when a known event's data
/// is not what it should be; unknown events are kept as [`EventKind::Other`].
pub fn decode_app_event(event: &str, data: &str, target: Target<'_>) -> Result<Decoded, WireError> {
    let name = event.rsplit('\\').next().unwrap_or(event);
    let what = |e: WireError| WireError {
        what: format!("the Kick {name} data"),
        ..e
    };
    let plain = |event| Ok(Decoded { event, live: None });
    let at = target.received;
    match name {
        "ChatMessageEvent" => {
            let m: PusherChat<'_> = wire::from_str("", data).map_err(what)?;
            if m.id.non_empty().is_none() {
                return Err(what(WireError::shape("", "id", "the message id is empty")));
            }
            let original = m
                .metadata
                .as_ref()
                .and_then(|m| m.original_message.as_ref());
            let is_reply = m.kind.as_deref() == Some("reply") || original.is_some();
            plain(chat_event(
                ChatParts {
                    id: m.id.as_str(),
                    content: &m.content,
                    created_at: m.created_at.map(|t| t.0),
                    sender_id: m.sender.id.as_ref().and_then(Id::non_empty),
                    username: &m.sender.username,
                    slug: m.sender.slug.as_deref(),
                    identity: m.sender.identity.as_ref(),
                    reply_to_id: original
                        .filter(|_| is_reply)
                        .and_then(|o| o.id.as_ref())
                        .and_then(Id::non_empty),
                    reply_to_login: m
                        .metadata
                        .as_ref()
                        .and_then(|m| m.original_sender.as_ref())
                        .and_then(|s| s.username.as_deref()),
                },
                target,
            ))
        }
        "GiftedSubscriptionsEvent" => {
            let g: PusherGifts<'_> = wire::from_str("", data).map_err(what)?;
            // No gifter named: an anonymous gift (UNVERIFIED: how Kick marks one over Pusher).
            let gifter = g.gifter_username.as_deref().filter(|g| !g.is_empty());
            let recipients: Vec<UserRef> = g.gifted_usernames.iter().map(|u| user_ref(u)).collect();
            let mut e = channel_event(
                EventKind::Subscription,
                &derived_id(event, data),
                named(gifter.unwrap_or(SYSTEM)),
                "gifted_subscriptions",
                at,
                target,
            );
            e.extras
                .insert_str_list("recipients", g.gifted_usernames.iter().map(|u| u.as_ref()));
            if let Some(total) = g.gifter_total {
                e.extras.insert_u64("gifter_total", total.0);
            }
            let sub = gift(&recipients, gifter.is_none());
            plain(e.with_detail(EventKind::Subscription, EventDetail::Subscription(sub)))
        }
        "SubscriptionEvent" => {
            let s: PusherSubscription<'_> = wire::from_str("", data).map_err(what)?;
            // Kick sends this for first subscriptions and renewals alike: more than one month is a
            // renewal (the webhooks tell them apart by type).
            let months = s.months.map_or(1, U64::as_u32);
            let mut sub = Subscription::new(if months > 1 {
                SubKind::Resub
            } else {
                SubKind::New
            });
            sub.months = Some(months);
            let e = channel_event(
                EventKind::Subscription,
                &derived_id(event, data),
                named(&s.username),
                "subscription",
                at,
                target,
            );
            plain(e.with_detail(EventKind::Subscription, EventDetail::Subscription(sub)))
        }
        "StreamHostEvent" => {
            let h: PusherHost<'_> = wire::from_str("", data).map_err(what)?;
            let mut e = channel_event(
                EventKind::Host,
                &derived_id(event, data),
                named(&h.host_username),
                "host",
                at,
                target,
            );
            e.text = h.optional_message.as_deref().unwrap_or("").into();
            let viewers = h.number_viewers.map_or(0, |v| v.0);
            plain(e.with_detail(EventKind::Host, EventDetail::Raid(Raid { viewers })))
        }
        "FollowersUpdated" => {
            let f: PusherFollowers<'_> = wire::from_str("", data).map_err(what)?;
            let id = derived_id(event, data);
            match f.username.as_deref().filter(|u| !u.is_empty()) {
                Some(follower) if f.followed != Some(false) => plain(channel_event(
                    EventKind::Follow,
                    &id,
                    named(follower),
                    "follow",
                    at,
                    target,
                )),
                // An unfollow, or only the new count: nothing to thank anyone for.
                _ => {
                    let v: Option<Value> = serde_json::from_str(data).ok();
                    plain(other_event(
                        event,
                        &id,
                        named(SYSTEM),
                        v.as_ref(),
                        at,
                        target,
                    ))
                }
            }
        }
        "MessageDeletedEvent" => {
            let d: PusherDeleted = wire::from_str("", data).map_err(what)?;
            let id =
                d.id.as_ref()
                    .and_then(Id::non_empty)
                    .map_or_else(|| derived_id(event, data), str::to_owned);
            let mut e = channel_event(
                EventKind::Deletion,
                &id,
                named(SYSTEM),
                "message_deleted",
                at,
                target,
            );
            e.extras
                .insert_str("target_message_id", d.message.id.as_str());
            plain(e)
        }
        "UserBannedEvent" => {
            let b: PusherBan<'_> = wire::from_str("", data).map_err(what)?;
            let kind = if b.permanent.unwrap_or(true) {
                EventKind::Ban
            } else {
                EventKind::Timeout
            };
            let id =
                b.id.as_ref()
                    .and_then(Id::non_empty)
                    .map_or_else(|| derived_id(event, data), str::to_owned);
            let mut e = channel_event(kind, &id, pusher_author(&b.user), "user_banned", at, target);
            if let Some(by) = &b.banned_by {
                e.extras.insert_str("banned_by", &by.username);
            }
            if let Some(minutes) = b.duration {
                e.extras.insert_u64("duration_min", minutes.0);
            }
            plain(e)
        }
        "ChatroomClearEvent" => {
            let id = derived_id(event, data);
            plain(channel_event(
                EventKind::ChatClear,
                &id,
                named(SYSTEM),
                "chat_cleared",
                at,
                target,
            ))
        }
        "StreamerIsLive" => {
            let s: PusherStream<'_> = wire::from_str("", data).map_err(what)?;
            let stream = s.livestream;
            let id = stream.id.0.to_string();
            let title = stream.session_title.as_deref().map(str::to_owned);
            let e = channel_event(
                EventKind::StreamOnline,
                &format!("kick-live-{id}"),
                named(SYSTEM),
                "stream_started",
                at,
                target,
            );
            let change = StreamChange {
                stream_id: Some(id.as_str().into()),
                title: title.as_deref().map(Into::into),
            };
            Ok(Decoded {
                event: e.with_detail(EventKind::StreamOnline, EventDetail::Stream(change)),
                live: Some(LiveChange::Started(LiveStream {
                    started_at: stream.created_at.map_or(target.received, |t| t.0),
                    id,
                    title,
                    url: Some(format!("https://kick.com/{}", target.channel)),
                })),
            })
        }
        "StopStreamBroadcast" => {
            let s: PusherStream<'_> = wire::from_str("", data).map_err(what)?;
            let id = s.livestream.id.as_str();
            let e = channel_event(
                EventKind::StreamOffline,
                &format!("kick-offline-{id}"),
                named(SYSTEM),
                "stream_ended",
                at,
                target,
            );
            let change = StreamChange {
                stream_id: Some(id.into()),
                title: None,
            };
            Ok(Decoded {
                event: e.with_detail(EventKind::StreamOffline, EventDetail::Stream(change)),
                live: Some(LiveChange::Ended),
            })
        }
        _ => {
            let v: Option<Value> = serde_json::from_str(data).ok();
            plain(other_event(
                event,
                &derived_id(event, data),
                named(SYSTEM),
                v.as_ref(),
                at,
                target,
            ))
        }
    }
}

/// The channel lookup's answer (`GET /api/v2/channels/{slug}`, unofficial, §3.1).
#[derive(Debug, Deserialize)]
struct ChannelLookup {
    #[serde(default)]
    id: Option<U64>,
    #[serde(default)]
    user_id: Option<U64>,
    chatroom: Chatroom,
    #[serde(default)]
    livestream: Option<LookupLivestream>,
}

#[derive(Debug, Deserialize)]
struct Chatroom {
    id: U64,
}

#[derive(Debug, Deserialize)]
struct LookupLivestream {
    id: Id,
    #[serde(default)]
    session_title: Option<String>,
    #[serde(default)]
    start_time: Option<KickTime>,
    #[serde(default)]
    created_at: Option<KickTime>,
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
    let answer: ChannelLookup = wire::from_str("the Kick channel lookup", body)?;
    let livestream = answer.livestream.and_then(|l| {
        Some(LiveStream {
            id: l.id.non_empty()?.to_owned(),
            started_at: l.start_time.or(l.created_at)?.0,
            title: l.session_title,
            url: Some(format!("https://kick.com/{slug}")),
        })
    });
    Ok(ChannelInfo {
        chatroom_id: answer.chatroom.id.0,
        channel_id: answer.id.map(|i| i.0),
        user_id: answer.user_id.map(|i| i.0),
        livestream,
    })
}

/// Parses `POST /oauth/token`'s answer (§3.2).
pub fn parse_token(body: &str) -> Result<TokenAnswer, WireError> {
    wire::parse_token("the Kick token answer", body)
}

/// `POST /public/v1/chat`'s answer (§3.2; the exact fields are UNVERIFIED).
#[derive(Debug, Deserialize)]
struct SentAnswer {
    #[serde(default)]
    data: Option<SentData>,
}

#[derive(Debug, Deserialize)]
struct SentData {
    #[serde(default)]
    message_id: Option<Id>,
}

/// The id of the message the platform says it sent (`data.message_id`), when it says.
pub fn parse_sent(body: &str) -> Option<String> {
    let answer: SentAnswer = wire::from_str("the Kick chat answer", body).ok()?;
    Some(answer.data?.message_id?.non_empty()?.to_owned())
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

/// A person in a webhook body: `{is_anonymous, user_id, username, channel_slug, identity}`; an
/// anonymous gifter has every other field null.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Party<'a> {
    is_anonymous: Option<bool>,
    user_id: Option<Id>,
    #[serde(borrow)]
    username: Option<Cow<'a, str>>,
    #[serde(borrow)]
    channel_slug: Option<Cow<'a, str>>,
    #[serde(borrow)]
    identity: Option<Identity<'a>>,
}

impl Party<'_> {
    fn author(&self) -> Option<Author> {
        let username = self.username.as_deref().filter(|u| !u.is_empty())?;
        let mut author = named(username);
        if let Some(slug) = self.channel_slug.as_deref().filter(|s| !s.is_empty()) {
            author.login = slug.into();
        }
        if let Some(id) = self.user_id.as_ref().and_then(Id::non_empty) {
            author.id = id.into();
        }
        Some(author)
    }

    fn user_ref(&self) -> Option<UserRef> {
        let author = self.author()?;
        Some(UserRef {
            id: author.id,
            login: author.login,
            display_name: author.display_name,
        })
    }
}

/// Just enough of any webhook body to route it.
#[derive(Debug, Deserialize)]
struct Routed<'a> {
    #[serde(default, borrow)]
    broadcaster: Option<Party<'a>>,
}

/// `chat.message.sent`.
#[derive(Debug, Deserialize)]
struct WebhookChat<'a> {
    message_id: Id,
    #[serde(default, borrow)]
    replies_to: Option<RepliedTo<'a>>,
    #[serde(borrow)]
    sender: Party<'a>,
    #[serde(default, borrow)]
    content: Cow<'a, str>,
    #[serde(default)]
    created_at: Option<KickTime>,
}

#[derive(Debug, Deserialize)]
struct RepliedTo<'a> {
    #[serde(default)]
    message_id: Option<Id>,
    #[serde(default, borrow)]
    sender: Option<Party<'a>>,
}

/// `channel.followed`.
#[derive(Debug, Deserialize)]
struct Followed<'a> {
    #[serde(borrow)]
    follower: Party<'a>,
}

/// `channel.subscription.new` and `channel.subscription.renewal`: `duration` is the months
/// subscribed.
#[derive(Debug, Deserialize)]
struct Subscribed<'a> {
    #[serde(borrow)]
    subscriber: Party<'a>,
    #[serde(default)]
    duration: Option<U64>,
    #[serde(default)]
    created_at: Option<KickTime>,
}

/// `channel.subscription.gifts`.
#[derive(Debug, Deserialize)]
struct Gifts<'a> {
    #[serde(default, borrow)]
    gifter: Option<Party<'a>>,
    #[serde(default, borrow)]
    giftees: Vec<Party<'a>>,
    #[serde(default)]
    created_at: Option<KickTime>,
}

/// `channel.reward.redemption.updated`.
#[derive(Debug, Deserialize)]
struct RedemptionUpdated<'a> {
    id: Id,
    #[serde(default, borrow)]
    user_input: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(default)]
    redeemed_at: Option<KickTime>,
    #[serde(borrow)]
    reward: Reward<'a>,
    #[serde(borrow)]
    redeemer: Party<'a>,
}

#[derive(Debug, Deserialize)]
struct Reward<'a> {
    id: Id,
    #[serde(default, borrow)]
    title: Option<Cow<'a, str>>,
    #[serde(default)]
    cost: Option<U64>,
}

/// `kicks.gifted`: Kicks, Kick's own currency, sent with a named gift.
#[derive(Debug, Deserialize)]
struct KicksGifted<'a> {
    #[serde(borrow)]
    sender: Party<'a>,
    #[serde(borrow)]
    gift: KicksGift<'a>,
    #[serde(default)]
    created_at: Option<KickTime>,
}

#[derive(Debug, Deserialize)]
struct KicksGift<'a> {
    amount: U64,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(rename = "type", default, borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tier: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    message: Option<Cow<'a, str>>,
}

/// `livestream.status.updated` (§3.3).
#[derive(Debug, Deserialize)]
struct StatusUpdated<'a> {
    is_live: bool,
    #[serde(default, borrow)]
    title: Option<Cow<'a, str>>,
    #[serde(default)]
    started_at: Option<KickTime>,
    #[serde(default)]
    ended_at: Option<KickTime>,
}

/// `moderation.banned` (§3.3): `expires_at` null for a permanent ban.
#[derive(Debug, Deserialize)]
struct Banned<'a> {
    #[serde(default, borrow)]
    moderator: Option<Party<'a>>,
    #[serde(borrow)]
    banned_user: Party<'a>,
    #[serde(default, borrow)]
    metadata: Option<BanMetadata<'a>>,
}

#[derive(Debug, Deserialize)]
struct BanMetadata<'a> {
    #[serde(default, borrow)]
    reason: Option<Cow<'a, str>>,
    #[serde(default)]
    expires_at: Option<KickTime>,
}

/// Parses a webhook body: a JSON object. The error says what is wrong, for the 400 answer.
pub fn parse_webhook_body(body: &[u8]) -> Result<WebhookBody, WireError> {
    const WHAT: &str = "the Kick webhook body";
    let json: Value = wire::from_slice(WHAT, body)?;
    if !json.is_object() {
        return Err(WireError::shape(WHAT, ".", "the body is not a JSON object"));
    }
    let routed: Routed<'_> = wire::from_value(WHAT, &json)?;
    let broadcaster = routed.broadcaster.unwrap_or_default();
    Ok(WebhookBody {
        broadcaster_user_id: broadcaster
            .user_id
            .as_ref()
            .and_then(|id| id.as_str().parse().ok()),
        broadcaster_slug: broadcaster.channel_slug.map(Cow::into_owned),
        json,
    })
}

/// Normalizes a webhook delivery like the Pusher events: `chat.message.sent` through the same
/// chat normalizer; subscriptions, gifts, follows, Kicks, redemptions, stream status and bans as
/// their kinds with their details; anything else as [`EventKind::Other`]. Events without their own
/// id use `webhook-{Kick-Event-Message-Id}`, which Kick keeps across its retries; a redemption is
/// keyed by its own id, so its later status updates are the same event.
pub fn decode_webhook(
    delivery: Delivery<'_>,
    body: &WebhookBody,
    target: Target<'_>,
) -> Result<ChatEvent, WireError> {
    let v = &body.json;
    let what = format!("the Kick {} webhook", delivery.event_type);
    let id = format!("webhook-{}", delivery.message_id);
    let system = || named(SYSTEM);
    let at = |t: Option<KickTime>| t.map_or(target.received, |t| t.0);
    let event = match delivery.event_type {
        "chat.message.sent" => {
            let m: WebhookChat<'_> = wire::from_value(&what, v)?;
            if m.message_id.non_empty().is_none() {
                return Err(WireError::shape(&what, "message_id", "the id is empty"));
            }
            let username = m.sender.username.as_deref().unwrap_or_default();
            if username.is_empty() {
                return Err(WireError::shape(&what, "sender.username", "no sender name"));
            }
            let replies_to = m.replies_to.as_ref();
            chat_event(
                ChatParts {
                    id: m.message_id.as_str(),
                    content: &m.content,
                    created_at: m.created_at.map(|t| t.0),
                    sender_id: m.sender.user_id.as_ref().and_then(Id::non_empty),
                    username,
                    slug: m.sender.channel_slug.as_deref(),
                    identity: m.sender.identity.as_ref(),
                    reply_to_id: replies_to
                        .and_then(|r| r.message_id.as_ref())
                        .and_then(Id::non_empty),
                    reply_to_login: replies_to
                        .and_then(|r| r.sender.as_ref())
                        .and_then(|s| s.username.as_deref()),
                },
                target,
            )
        }
        "channel.followed" => {
            let f: Followed<'_> = wire::from_value(&what, v)?;
            let author = f.follower.author().unwrap_or_else(system);
            channel_event(
                EventKind::Follow,
                &id,
                author,
                "follow",
                target.received,
                target,
            )
        }
        kind @ ("channel.subscription.new" | "channel.subscription.renewal") => {
            let s: Subscribed<'_> = wire::from_value(&what, v)?;
            let renewal = kind == "channel.subscription.renewal";
            let mut sub = Subscription::new(if renewal {
                SubKind::Resub
            } else {
                SubKind::New
            });
            sub.months = s.duration.map(U64::as_u32);
            let name = if renewal {
                "subscription_renewal"
            } else {
                "subscription"
            };
            let author = s.subscriber.author().unwrap_or_else(system);
            channel_event(
                EventKind::Subscription,
                &id,
                author,
                name,
                at(s.created_at),
                target,
            )
            .with_detail(EventKind::Subscription, EventDetail::Subscription(sub))
        }
        "channel.subscription.gifts" => {
            let g: Gifts<'_> = wire::from_value(&what, v)?;
            let gifter = g.gifter.as_ref();
            let anonymous = gifter.and_then(|p| p.is_anonymous) == Some(true);
            let recipients: Vec<UserRef> = g.giftees.iter().filter_map(Party::user_ref).collect();
            let mut e = channel_event(
                EventKind::Subscription,
                &id,
                gifter.and_then(Party::author).unwrap_or_else(system),
                "gifted_subscriptions",
                at(g.created_at),
                target,
            );
            e.extras.insert_str_list(
                "recipients",
                recipients.iter().map(|r| r.display_name.as_str()),
            );
            let sub = gift(&recipients, anonymous);
            e.with_detail(EventKind::Subscription, EventDetail::Subscription(sub))
        }
        "channel.reward.redemption.updated" => {
            let r: RedemptionUpdated<'_> = wire::from_value(&what, v)?;
            let mut e = channel_event(
                EventKind::Redemption,
                &format!("kick-redemption-{}", r.id.as_str()),
                r.redeemer.author().unwrap_or_else(system),
                "reward_redemption",
                at(r.redeemed_at),
                target,
            );
            let input = r.user_input.as_deref().filter(|i| !i.is_empty());
            e.text = input.unwrap_or("").into();
            if let Some(status) = r.status.as_deref() {
                e.extras.insert_str("status", status);
            }
            let redemption = Redemption {
                reward_id: r.reward.id.0.clone(),
                title: r.reward.title.as_deref().map(Into::into),
                cost: r.reward.cost.map(|c| c.0),
                input: input.map(Into::into),
            };
            e.with_detail(EventKind::Redemption, EventDetail::Redemption(redemption))
        }
        "kicks.gifted" => {
            let k: KicksGifted<'_> = wire::from_value(&what, v)?;
            let mut e = channel_event(
                EventKind::Tip,
                &id,
                k.sender.author().unwrap_or_else(system),
                "kicks_gifted",
                at(k.created_at),
                target,
            );
            e.text = k.gift.message.as_deref().unwrap_or("").into();
            for (key, value) in [
                ("gift_name", &k.gift.name),
                ("gift_type", &k.gift.kind),
                ("gift_tier", &k.gift.tier),
            ] {
                if let Some(value) = value.as_deref() {
                    e.extras.insert_str(key, value);
                }
            }
            let money = Money {
                amount: k.gift.amount.0 as f64,
                currency: "kicks".into(),
                display: None,
                tier: None,
            };
            e.with_detail(EventKind::Tip, EventDetail::Money(money))
        }
        "livestream.status.updated" => {
            let s: StatusUpdated<'_> = wire::from_value(&what, v)?;
            let (kind, name, time) = if s.is_live {
                (EventKind::StreamOnline, "stream_started", s.started_at)
            } else {
                (EventKind::StreamOffline, "stream_ended", s.ended_at)
            };
            let change = StreamChange {
                stream_id: None,
                title: s.title.as_deref().map(Into::into),
            };
            channel_event(kind, &id, system(), name, at(time), target)
                .with_detail(kind, EventDetail::Stream(change))
        }
        "moderation.banned" => {
            let b: Banned<'_> = wire::from_value(&what, v)?;
            let metadata = b.metadata.as_ref();
            let kind = if metadata.and_then(|m| m.expires_at).is_some() {
                EventKind::Timeout
            } else {
                EventKind::Ban
            };
            let author = b.banned_user.author().unwrap_or_else(system);
            let mut e = channel_event(kind, &id, author, "user_banned", target.received, target);
            if let Some(by) = b.moderator.as_ref().and_then(|m| m.username.as_deref()) {
                e.extras.insert_str("banned_by", by);
            }
            if let Some(reason) = metadata.and_then(|m| m.reason.as_deref()) {
                e.extras.insert_str("reason", reason);
            }
            e
        }
        other => other_event(other, &id, system(), Some(v), target.received, target),
    };
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::SubTier;
    use crate::wire::strategy::arb_json;
    use proptest::prelude::*;
    use serde_json::json;

    const ESTABLISHED: &str = r#"{"event":"pusher:connection_established","data":"{\"socket_id\":\"123.456\",\"activity_timeout\":120}"}"#;
    const SUBSCRIBED: &str = r#"{"event":"pusher_internal:subscription_succeeded","data":"{}","channel":"chatrooms.1221707.v2"}"#;
    const CHAT: &str = r##"{"event":"App\\Events\\ChatMessageEvent","data":"{\"id\":\"bbcdbcfd-8619-40c2-a0d0-ae7cf4c7a932\",\"chatroom_id\":1221707,\"content\":\"[emote:3989851:PogU] hi\",\"type\":\"message\",\"created_at\":\"2025-07-17T08:44:56+00:00\",\"sender\":{\"id\":3528468,\"username\":\"OhLookItsMax\",\"slug\":\"ohlookitsmax\",\"identity\":{\"color\":\"#FF9D00\",\"badges\":[{\"type\":\"vip\",\"text\":\"VIP\"},{\"type\":\"subscriber\",\"text\":\"Subscriber\",\"count\":26}]}},\"metadata\":{\"message_ref\":\"1752741896375\"}}","channel":"chatrooms.1221707.v2"}"##;
    /// The `chat.message.sent` body of Kick's Public API (docs.kick.com).
    const WEBHOOK_CHAT: &str = r##"{"message_id":"unique_message_id_123","replies_to":null,
   "broadcaster":{"is_anonymous":false,"user_id":123456789,"username":"broadcaster_name","is_verified":true,"profile_picture":"https://x","channel_slug":"broadcaster_channel","identity":null},
   "sender":{"is_anonymous":false,"user_id":987654321,"username":"sender_name","is_verified":false,"profile_picture":"https://x","channel_slug":"sender_channel",
     "identity":{"username_color":"#FF5733","badges":[{"text":"Moderator","type":"moderator"},{"text":"Subscriber","type":"subscriber","count":3}]}},
   "content":"Hello [emote:37226:KEKW]","emotes":[{"emote_id":"37226","positions":[{"s":6,"e":23}]}],
   "created_at":"2025-01-14T16:08:06Z"}"##;
    const BROADCASTER: &str = r#""broadcaster":{"is_anonymous":false,"user_id":123456789,"username":"broadcaster_name","is_verified":true,"profile_picture":"https://example.com/broadcaster_avatar.jpg","channel_slug":"broadcaster_channel","identity":null}"#;

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

    fn pusher(event: &str, data: &Value) -> Decoded {
        decode_app_event(&format!(r"App\Events\{event}"), &data.to_string(), target()).unwrap()
    }

    fn webhook(event_type: &str, body: &str) -> ChatEvent {
        let body = parse_webhook_body(body.as_bytes()).unwrap();
        let delivery = Delivery {
            message_id: "01JDELIVERY",
            event_type,
        };
        decode_webhook(delivery, &body, target()).unwrap()
    }

    fn subscription(e: &ChatEvent) -> &Subscription {
        match e.detail.as_deref() {
            Some(EventDetail::Subscription(s)) => s,
            other => panic!("not a subscription: {other:?}"),
        }
    }

    fn user(id: &str, login: &str, name: &str) -> UserRef {
        UserRef {
            id: id.into(),
            login: login.into(),
            display_name: name.into(),
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
            parse_frame(r#"{"event":"pusher:error","data":"{\"code\":null,\"message\":\"x\"}"}"#)
                .unwrap(),
            Frame::Error {
                code: None,
                message: "x".into()
            }
        );
        assert_eq!(
            parse_frame(r#"{"event":"pusher:ping","data":{}}"#).unwrap(),
            Frame::Ping
        );
        assert_eq!(
            parse_frame(r#"{"event":"pusher:pong","data":"{}"}"#).unwrap(),
            Frame::Pong
        );
        // Data sent as an object reads like data sent as a string.
        assert_eq!(
            app(r#"{"event":"x","channel":"c","data":{"a":1}}"#),
            app(r#"{"event":"x","channel":"c","data":"{\"a\":1}"}"#)
        );
        let e = parse_frame("not json").unwrap_err();
        assert_eq!(e.kind, crate::wire::WireProblem::Syntax);
        let e = parse_frame(r#"{"data":{}}"#).unwrap_err();
        assert_eq!(e.to_string(), "a Pusher frame: missing field `event`");
        let e = parse_frame(
            r#"{"event":"pusher:connection_established","data":"{\"activity_timeout\":\"soon\"}"}"#,
        )
        .unwrap_err();
        assert_eq!(e.path, "data.activity_timeout");
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
        assert_eq!(e.kind, EventKind::Message);
        assert_eq!(e.detail, None);
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
        assert_eq!(
            e.extras.as_json(),
            r##"{"sub_months":26,"badges":["vip","subscriber"],"color":"#FF9D00"}"##
        );
        assert_eq!(e.channel, "demo-channel");
        assert!(decoded.live.is_none());
    }

    #[test]
    fn a_reply_names_the_message_it_answers_and_a_broken_chat_says_where() {
        let data = r#"{"id":"r1","content":"yes","type":"reply","created_at":"2025-07-17T08:44:56+00:00","sender":{"id":1,"username":"A","slug":"a","identity":{"badges":[{"type":"moderator"}]}},"metadata":{"original_sender":{"id":2,"username":"B"},"original_message":{"id":"m0","content":"q?"}}}"#;
        let e = decode_app_event(r"App\Events\ChatMessageEvent", data, target())
            .unwrap()
            .event;
        assert_eq!(e.extras.get("reply_to_id"), Some("m0".into()));
        assert_eq!(e.extras.get("reply_to_login"), Some("B".into()));
        assert!(e.author.roles.moderator);
        let e = decode_app_event(
            r"App\Events\ChatMessageEvent",
            r#"{"id":"r2","content":"x","sender":{"id":1}}"#,
            target(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the Kick ChatMessageEvent data: missing field `username` (at sender)"
        );
    }

    #[test]
    fn pusher_gifts_subscriptions_and_hosts_get_their_kinds_and_typed_fields() {
        // The GiftedSubscriptionsEvent of Kick's Pusher chat events, as chat clients see them, with the gifter total clients see.
        let gifts = json!({"chatroom_id": 1, "gifted_usernames": ["Alice", "Bob"], "gifter_username": "Gifter", "gifter_total": 10});
        let g1 = pusher("GiftedSubscriptionsEvent", &gifts);
        let g2 = pusher("GiftedSubscriptionsEvent", &gifts);
        assert_eq!(g1.event.message_id, g2.event.message_id, "stable ids");
        let e = &g1.event;
        assert_eq!(e.kind, EventKind::Subscription);
        assert_eq!(e.author.display_name, "Gifter");
        let mut want = Subscription::new(SubKind::CommunityGift);
        want.count = Some(2);
        assert_eq!(subscription(e), &want);
        assert_eq!(
            e.extras.as_json(),
            r#"{"event":"gifted_subscriptions","recipients":["Alice","Bob"],"gifter_total":10}"#
        );
        let one = pusher(
            "GiftedSubscriptionsEvent",
            &json!({"chatroom_id": 1, "gifted_usernames": ["Alice"], "gifter_username": "Gifter"}),
        );
        let mut want = Subscription::new(SubKind::Gift);
        want.count = Some(1);
        want.recipient = Some(user("", "alice", "Alice"));
        assert_eq!(subscription(&one.event), &want);
        let anonymous = pusher(
            "GiftedSubscriptionsEvent",
            &json!({"chatroom_id": 1, "gifted_usernames": ["Alice"], "gifter_username": null}),
        );
        assert!(subscription(&anonymous.event).anonymous);

        let sub = pusher(
            "SubscriptionEvent",
            &json!({"chatroom_id": 1, "username": "Sub", "months": 3}),
        );
        let mut want = Subscription::new(SubKind::Resub);
        want.months = Some(3);
        assert_eq!(subscription(&sub.event), &want);
        assert_eq!(sub.event.author.login, "sub");
        let first = pusher(
            "SubscriptionEvent",
            &json!({"chatroom_id": 1, "username": "New", "months": 1}),
        );
        assert_eq!(subscription(&first.event).kind, SubKind::New);
        assert_eq!(subscription(&first.event).tier, None::<SubTier>);

        let host = pusher(
            "StreamHostEvent",
            &json!({"chatroom_id": 1, "optional_message": "hi all", "number_viewers": 42, "host_username": "Friend"}),
        );
        assert_eq!(host.event.kind, EventKind::Host);
        assert_eq!(host.event.text, "hi all");
        assert_eq!(host.event.author.display_name, "Friend");
        assert_eq!(
            host.event.detail.as_deref(),
            Some(&EventDetail::Raid(Raid { viewers: 42 }))
        );

        let follow = pusher(
            "FollowersUpdated",
            &json!({"followersCount": 5, "channel_id": 9, "username": "Fan", "followed": true}),
        );
        assert_eq!(follow.event.kind, EventKind::Follow);
        assert_eq!(follow.event.author.display_name, "Fan");
        let count_only = pusher("FollowersUpdated", &json!({"followersCount": 5}));
        assert_eq!(count_only.event.kind, EventKind::Other);
    }

    #[test]
    fn moderation_and_unknown_events_are_kept() {
        let del = pusher(
            "MessageDeletedEvent",
            &json!({"id": "d1", "message": {"id": "m9"}, "aiModerated": false}),
        );
        assert_eq!(del.event.kind, EventKind::Deletion);
        assert_eq!(del.event.message_id, "d1");
        assert_eq!(del.event.extras.get("target_message_id"), Some("m9".into()));
        let ban = pusher(
            "UserBannedEvent",
            &json!({"id": "b1", "user": {"id": 5, "username": "Troll", "slug": "troll"}, "banned_by": {"id": 6, "username": "Mod", "slug": "mod"}, "permanent": false, "duration": 10}),
        );
        assert_eq!(ban.event.kind, EventKind::Timeout);
        assert_eq!(
            (
                ban.event.author.login.as_str(),
                ban.event.author.id.as_str()
            ),
            ("troll", "5")
        );
        assert_eq!(ban.event.extras.get("duration_min"), Some(10.into()));
        let clear = pusher("ChatroomClearEvent", &json!({"id": "c1"}));
        assert_eq!(clear.event.kind, EventKind::ChatClear);
        let other = pusher("PinnedMessageCreatedEvent", &json!({"x": 1}));
        assert_eq!(other.event.kind, EventKind::Other);
        assert_eq!(
            other.event.detail.as_deref(),
            Some(&EventDetail::Other(OtherEvent {
                event: r"App\Events\PinnedMessageCreatedEvent".into()
            }))
        );
        assert_eq!(
            other.event.extras.as_json(),
            r#"{"event":"App\\Events\\PinnedMessageCreatedEvent","data":{"x":1}}"#
        );
        let not_json = decode_app_event("SomethingNew", "<<", target()).unwrap();
        assert_eq!(not_json.event.kind, EventKind::Other);
    }

    #[test]
    fn stream_start_and_end_change_the_live_state_and_are_stream_events() {
        let live = pusher(
            "StreamerIsLive",
            &json!({"livestream": {"id": 555, "channel_id": 9, "session_title": "Hello", "created_at": "2025-07-17 08:00:00"}}),
        );
        assert_eq!(live.event.kind, EventKind::StreamOnline);
        assert_eq!(
            live.event.detail.as_deref(),
            Some(&EventDetail::Stream(StreamChange {
                stream_id: Some("555".into()),
                title: Some("Hello".into())
            }))
        );
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
        let end = pusher(
            "StopStreamBroadcast",
            &json!({"livestream": {"id": 555, "channel": {"id": 9}}}),
        );
        assert_eq!(end.live, Some(LiveChange::Ended));
        assert_eq!(end.event.kind, EventKind::StreamOffline);
        assert_eq!(end.event.message_id, "kick-offline-555");
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
        assert_eq!(
            body.broadcaster_slug.as_deref(),
            Some("broadcaster_channel")
        );
        let e = webhook("chat.message.sent", WEBHOOK_CHAT);
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
        let p = pusher(
            "ChatMessageEvent",
            &json!({
                "id": "unique_message_id_123", "content": "Hello [emote:37226:KEKW]", "type": "message",
                "created_at": "2025-01-14T16:08:06Z",
                "sender": {"id": 987654321, "username": "sender_name", "slug": "sender_channel",
                  "identity": {"color": "#FF5733", "badges": [{"type": "moderator"}, {"type": "subscriber", "count": 3}]}}
            }),
        )
        .event;
        assert_eq!(p, e);
    }

    #[test]
    fn webhook_stream_events_map_onto_their_kinds_and_typed_fields() {
        // The bodies Kick documents for each webhook type.
        let e = webhook(
            "channel.subscription.gifts",
            &format!(
                r#"{{{BROADCASTER},
                "gifter":{{"is_anonymous":false,"user_id":987654321,"username":"gifter_name","is_verified":false,"profile_picture":"https://example.com/sender_avatar.jpg","channel_slug":"gifter_channel","identity":null}},
                "giftees":[{{"is_anonymous":false,"user_id":561654654,"username":"giftee_name","is_verified":true,"profile_picture":"https://example.com/broadcaster_avatar.jpg","channel_slug":"giftee_channel","identity":null}}],
                "created_at":"2025-01-14T16:08:06Z","expires_at":"2025-02-14T16:08:06Z"}}"#
            ),
        );
        assert_eq!(e.kind, EventKind::Subscription);
        assert_eq!(e.message_id, "webhook-01JDELIVERY");
        assert_eq!(e.timestamp, parse_time("2025-01-14T16:08:06Z").unwrap());
        assert_eq!(
            (e.author.id.as_str(), e.author.login.as_str()),
            ("987654321", "gifter_channel")
        );
        let mut want = Subscription::new(SubKind::Gift);
        want.count = Some(1);
        want.recipient = Some(user("561654654", "giftee_channel", "giftee_name"));
        assert_eq!(subscription(&e), &want);
        let anonymous = webhook(
            "channel.subscription.gifts",
            &format!(
                r#"{{{BROADCASTER},
                "gifter":{{"is_anonymous":true,"user_id":null,"username":null,"is_verified":null,"profile_picture":null,"channel_slug":null,"identity":null}},
                "giftees":[{{"user_id":1,"username":"a","channel_slug":"a"}},{{"user_id":2,"username":"b","channel_slug":"b"}}],
                "created_at":"2025-01-14T16:08:06Z","expires_at":"2025-02-14T16:08:06Z"}}"#
            ),
        );
        let sub = subscription(&anonymous);
        assert_eq!(
            (sub.kind, sub.count, sub.anonymous),
            (SubKind::CommunityGift, Some(2), true)
        );
        assert_eq!(anonymous.author.login, "kick");

        let subscriber = r#""subscriber":{"is_anonymous":false,"user_id":987654321,"username":"subscriber_name","is_verified":false,"profile_picture":"https://example.com/sender_avatar.jpg","channel_slug":"subscriber_channel","identity":null}"#;
        let e = webhook(
            "channel.subscription.renewal",
            &format!(
                r#"{{{BROADCASTER},{subscriber},"duration":3,"created_at":"2025-01-14T16:08:06Z","expires_at":"2025-02-14T16:08:06Z"}}"#
            ),
        );
        let mut want = Subscription::new(SubKind::Resub);
        want.months = Some(3);
        assert_eq!(subscription(&e), &want);
        assert_eq!(e.author.login, "subscriber_channel");
        let e = webhook(
            "channel.subscription.new",
            &format!(
                r#"{{{BROADCASTER},{subscriber},"duration":1,"created_at":"2025-01-14T16:08:06Z","expires_at":"2025-02-14T16:08:06Z"}}"#
            ),
        );
        assert_eq!(subscription(&e).kind, SubKind::New);
        assert_eq!(subscription(&e).months, Some(1));

        let e = webhook(
            "channel.followed",
            &format!(
                r#"{{{BROADCASTER},"follower":{{"is_anonymous":false,"user_id":987654321,"username":"follower_name","is_verified":false,"profile_picture":"https://example.com/sender_avatar.jpg","channel_slug":"follower_channel","identity":null}}}}"#
            ),
        );
        assert_eq!(
            (e.kind, e.author.display_name.as_str()),
            (EventKind::Follow, "follower_name")
        );

        let e = webhook(
            "kicks.gifted",
            r#"{"broadcaster":{"user_id":123456789,"username":"broadcaster_name","is_verified":true,"profile_picture":"https://example.com/broadcaster_avatar.jpg","channel_slug":"broadcaster_channel"},
              "sender":{"user_id":987654321,"username":"gift_sender","is_verified":false,"profile_picture":"https://example.com/sender_avatar.jpg","channel_slug":"gift_sender_channel"},
              "gift":{"amount":500,"name":"Rage Quit","type":"LEVEL_UP","tier":"MID","message":"w","pinned_time_seconds":600},
              "created_at":"2025-10-20T04:00:08.634Z"}"#,
        );
        assert_eq!((e.kind, e.text.as_str()), (EventKind::Tip, "w"));
        assert_eq!(
            e.detail.as_deref(),
            Some(&EventDetail::Money(Money {
                amount: 500.0,
                currency: "kicks".into(),
                display: None,
                tier: None
            }))
        );
        assert_eq!(
            e.extras.as_json(),
            r#"{"event":"kicks_gifted","gift_name":"Rage Quit","gift_type":"LEVEL_UP","gift_tier":"MID"}"#
        );

        let e = webhook(
            "channel.reward.redemption.updated",
            r#"{"id":"01KBHE78QE4HZY1617DK5FC7YD","user_input":"unban me","status":"rejected","redeemed_at":"2025-12-02T22:54:19.323Z",
              "reward":{"id":"01KBHE7RZNHB0SKDV1H86CD4F3","title":"Uban Request","cost":1000,"description":"Only good reasons pls"},
              "redeemer":{"user_id":123,"username":"naughty-user","is_verified":false,"profile_picture":"","channel_slug":"naughty_user"},
              "broadcaster":{"user_id":333,"username":"gigachad","is_verified":true,"profile_picture":"","channel_slug":"gigachad"}}"#,
        );
        assert_eq!(e.kind, EventKind::Redemption);
        assert_eq!(e.message_id, "kick-redemption-01KBHE78QE4HZY1617DK5FC7YD");
        assert_eq!(e.text, "unban me");
        assert_eq!(
            e.detail.as_deref(),
            Some(&EventDetail::Redemption(Redemption {
                reward_id: "01KBHE7RZNHB0SKDV1H86CD4F3".into(),
                title: Some("Uban Request".into()),
                cost: Some(1000),
                input: Some("unban me".into())
            }))
        );
        assert_eq!(e.extras.get("status"), Some("rejected".into()));

        let started = webhook(
            "livestream.status.updated",
            &format!(
                r#"{{{BROADCASTER},"is_live":true,"title":"Stream Title","started_at":"2025-01-01T11:00:00+11:00","ended_at":null}}"#
            ),
        );
        assert_eq!(started.kind, EventKind::StreamOnline);
        assert_eq!(
            started.timestamp,
            parse_time("2025-01-01T00:00:00Z").unwrap()
        );
        assert_eq!(
            started.detail.as_deref(),
            Some(&EventDetail::Stream(StreamChange {
                stream_id: None,
                title: Some("Stream Title".into())
            }))
        );
        let ended = webhook(
            "livestream.status.updated",
            &format!(
                r#"{{{BROADCASTER},"is_live":false,"title":"Stream Title","started_at":"2025-01-01T11:00:00+11:00","ended_at":"2025-01-01T15:00:00+11:00"}}"#
            ),
        );
        assert_eq!(ended.kind, EventKind::StreamOffline);
        assert_eq!(ended.timestamp, parse_time("2025-01-01T04:00:00Z").unwrap());

        let party = |name: &str| {
            format!(
                r#"{{"is_anonymous":false,"user_id":1,"username":"{name}","is_verified":false,"profile_picture":"p","channel_slug":"{name}","identity":null}}"#
            )
        };
        let banned = |expires: &str| {
            webhook(
                "moderation.banned",
                &format!(
                    r#"{{{BROADCASTER},"moderator":{},"banned_user":{},"metadata":{{"reason":"banned reason","created_at":"2025-01-14T16:08:05Z","expires_at":{expires}}}}}"#,
                    party("moderator_name"),
                    party("banned_user_name")
                ),
            )
        };
        let timeout = banned(r#""2025-01-14T16:10:06Z""#);
        assert_eq!(timeout.kind, EventKind::Timeout);
        assert_eq!(timeout.author.login, "banned_user_name");
        assert_eq!(
            timeout.extras.as_json(),
            r#"{"event":"user_banned","banned_by":"moderator_name","reason":"banned reason"}"#
        );
        assert_eq!(banned("null").kind, EventKind::Ban);

        let meta = webhook(
            "livestream.metadata.updated",
            &format!(
                r#"{{{BROADCASTER},"metadata":{{"title":"Stream Title","language":"en","has_mature_content":true,"category":{{"id":123,"name":"Category name","thumbnail":"http://example.com/image123"}}}}}}"#
            ),
        );
        assert_eq!(meta.kind, EventKind::Other);
        assert_eq!(
            meta.detail.as_deref(),
            Some(&EventDetail::Other(OtherEvent {
                event: "livestream.metadata.updated".into()
            }))
        );
        assert_eq!(
            meta.extras.get("data").unwrap()["metadata"]["title"],
            "Stream Title"
        );
    }

    #[test]
    fn every_decoded_stream_event_matches_the_published_event_schema() {
        let schema: Value = serde_json::from_str(crate::event::CHAT_EVENT_SCHEMA).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let events = [
            pusher(
                "GiftedSubscriptionsEvent",
                &json!({"gifted_usernames": ["a"], "gifter_username": null}),
            )
            .event,
            pusher(
                "StreamHostEvent",
                &json!({"host_username": "h", "number_viewers": 3}),
            )
            .event,
            pusher("StreamerIsLive", &json!({"livestream": {"id": 1}})).event,
            pusher("Brand\\New", &json!({"x": 1})).event,
            webhook(
                "kicks.gifted",
                r#"{"sender":{"user_id":1,"username":"s"},"gift":{"amount":5}}"#,
            ),
            webhook(
                "channel.reward.redemption.updated",
                r#"{"id":"r","reward":{"id":"w","title":"t","cost":1},"redeemer":{"user_id":1,"username":"u"}}"#,
            ),
            webhook("livestream.status.updated", r#"{"is_live":false}"#),
        ];
        for event in events {
            let json = serde_json::to_value(&event).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&json)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{json}: {errors:?}");
            let back: ChatEvent = serde_json::from_value(json).unwrap();
            assert_eq!(back, event, "stored and read back unchanged");
        }
    }

    #[test]
    fn a_webhook_that_does_not_fit_its_type_says_where() {
        let body = parse_webhook_body(
            br#"{"broadcaster":{"user_id":1,"channel_slug":"c"},"gift":{"amount":"lots"},"sender":{}}"#,
        )
        .unwrap();
        let delivery = Delivery {
            message_id: "01K",
            event_type: "kicks.gifted",
        };
        let e = decode_webhook(delivery, &body, target()).unwrap_err();
        assert_eq!(e.path, "gift.amount");
        assert!(
            e.to_string().starts_with("the Kick kicks.gifted webhook: "),
            "{e}"
        );
        assert!(parse_webhook_body(b"[1]").is_err());
        let e = parse_webhook_body(b"{").unwrap_err();
        assert!(e.to_string().contains("not JSON"), "{e}");
        let e = parse_webhook_body(br#"{"broadcaster":{"user_id":[1]}}"#).unwrap_err();
        assert_eq!(e.path, "broadcaster.user_id");
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
        let offline = parse_channel(r#"{"chatroom":{"id":"12"},"livestream":null}"#, "c").unwrap();
        assert_eq!((offline.chatroom_id, offline.livestream), (12, None));
        assert!(parse_channel("<html>Just a moment...</html>", "c").is_err());
        assert_eq!(
            parse_channel("{}", "c").unwrap_err().to_string(),
            "the Kick channel lookup: missing field `chatroom`"
        );
        let token = parse_token(r#"{"access_token":"a","token_type":"Bearer","refresh_token":"r","expires_in":7200,"scope":"chat:write"}"#).unwrap();
        assert_eq!(token.refresh_token.as_deref(), Some("r"));
        assert_eq!(token.expires_in, Some(U64(7200)));
        assert!(parse_token("{}").is_err());
        assert!(parse_token(r#"{"access_token":""}"#).is_err());
        assert_eq!(
            parse_sent(r#"{"data":{"is_sent":true,"message_id":"m1"},"message":"OK"}"#).as_deref(),
            Some("m1")
        );
        assert_eq!(parse_sent(r#"{"data":{},"message":"OK"}"#), None);
    }

    const KEYS: &[&str] = &[
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
        "gifter",
        "giftees",
        "gift",
        "amount",
        "gifted_usernames",
        "gifter_username",
    ];
    const STRINGS: &[&str] = &[
        "2025-07-17T08:44:56+00:00",
        "reply",
        "subscriber",
        "moderator",
    ];

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
            r"App\Events\StopStreamBroadcast", r"App\Events\StreamHostEvent",
            r"App\Events\FollowersUpdated", "x"]), data in r#"[{}\[\]":,a-z0-9 \\]{0,200}"#) {
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
            kind in prop::sample::select(vec!["chat.message.sent", "channel.subscription.gifts", "moderation.banned", "kicks.gifted", "x"])) {
            if let Ok(parsed) = parse_webhook_body(&body) {
                let _ = decode_webhook(Delivery { message_id: "1", event_type: kind }, &parsed, target());
            }
        }

        #[test]
        fn structured_json_never_panics(v in arb_json(KEYS, STRINGS)) {
            let text = v.to_string();
            let _ = decode_app_event(r"App\Events\ChatMessageEvent", &text, target());
            let _ = decode_app_event(r"App\Events\GiftedSubscriptionsEvent", &text, target());
            if let Ok(parsed) = parse_webhook_body(text.as_bytes()) {
                for kind in ["chat.message.sent", "channel.subscription.gifts", "kicks.gifted"] {
                    let _ = decode_webhook(Delivery { message_id: "1", event_type: kind }, &parsed, target());
                }
            }
            let _ = parse_channel(&text, "c");
        }

        #[test]
        fn a_pusher_chat_frame_decodes_to_exactly_what_was_sent(
            id in "[a-f0-9-]{1,36}",
            user_id in any::<u32>(),
            username in "[A-Za-z0-9_]{1,25}",
            content in "[^\\[]{0,80}",
            badges in prop::collection::vec(prop::sample::select(vec!["vip", "moderator", "broadcaster", "og"]), 0..3),
            numeric_id in any::<bool>(),
        ) {
            let sender_id = if numeric_id { json!(user_id) } else { json!(user_id.to_string()) };
            let badges: Vec<Value> = badges.iter().map(|b| json!({"type": b, "text": b})).collect();
            let data = json!({"id": id, "chatroom_id": 1, "content": content, "type": "message",
                "created_at": "2025-07-17T08:44:56+00:00",
                "sender": {"id": sender_id, "username": username, "slug": username.to_lowercase(),
                    "identity": {"color": "#00FF00", "badges": badges}}});
            let frame = json!({"event": r"App\Events\ChatMessageEvent", "data": data.to_string(), "channel": "chatrooms.1.v2"}).to_string();
            let (event, data) = app(&frame);
            let e = decode_app_event(&event, &data, target()).unwrap().event;
            prop_assert_eq!(e.message_id.as_str(), id.as_str());
            prop_assert_eq!(e.text.as_str(), content.as_str());
            prop_assert_eq!(e.author.id.to_string(), user_id.to_string());
            prop_assert_eq!(e.author.display_name.as_str(), username.as_str());
            prop_assert_eq!(e.author.roles.vip, badges.iter().any(|b| b["type"] == "vip"));
            prop_assert_eq!(e.author.roles.moderator, badges.iter().any(|b| b["type"] == "moderator"));
        }

        #[test]
        fn a_gift_of_subscriptions_decodes_to_exactly_what_was_sent(
            gifter in "[A-Za-z0-9_]{1,25}",
            recipients in prop::collection::vec("[A-Za-z0-9_]{1,25}", 1..60),
            over_webhook in any::<bool>(),
        ) {
            let e = if over_webhook {
                let giftees: Vec<Value> = recipients.iter().enumerate()
                    .map(|(i, r)| json!({"is_anonymous": false, "user_id": i, "username": r, "channel_slug": r.to_lowercase(), "identity": null}))
                    .collect();
                let body = json!({"broadcaster": {"user_id": 1, "channel_slug": "c"},
                    "gifter": {"is_anonymous": false, "user_id": 7, "username": gifter, "channel_slug": gifter.to_lowercase()},
                    "giftees": giftees, "created_at": "2025-01-14T16:08:06Z"});
                webhook("channel.subscription.gifts", &body.to_string())
            } else {
                pusher("GiftedSubscriptionsEvent", &json!({"chatroom_id": 1, "gifted_usernames": recipients, "gifter_username": gifter}))
                    .event
            };
            prop_assert_eq!(e.kind, EventKind::Subscription);
            prop_assert_eq!(e.author.display_name.as_str(), gifter.as_str());
            let sub = subscription(&e);
            prop_assert_eq!(sub.count, Some(recipients.len() as u32));
            prop_assert_eq!(sub.kind, if recipients.len() == 1 { SubKind::Gift } else { SubKind::CommunityGift });
            prop_assert_eq!(sub.recipient.as_ref().map(|r| r.display_name.to_string()),
                (recipients.len() == 1).then(|| recipients[0].clone()));
            prop_assert!(!sub.anonymous);
            prop_assert_eq!(e.extras.get("recipients"), Some(json!(recipients)));
        }
    }
}
