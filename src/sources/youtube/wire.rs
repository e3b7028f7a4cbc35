//! Pure parsers for the YouTube Data API v3 responses: a chat page
//! (`liveChatMessages.list`, and `streamList` batches turned into the same JSON), the discovery
//! answers (`videos.list`, `search.list`, `liveBroadcasts.list`) and Google's error envelope.
//!
//! Each shape is a serde type below, decoded through [`crate::wire`], so a body that does not fit
//! fails with the path of what did not fit. A page is read item by item: an item that does not
//! decode (no id, no RFC 3339 `publishedAt`, a detail object of the wrong shape) cannot be stored
//! or deduplicated safely, so it is skipped and reported in [`ListPage::skipped`], and the rest of
//! the page is read. Each message becomes one [`ChatEvent`]: Super Chats and Super Stickers are
//! `super_chat` events with their [`Money`], the four membership types are `membership` events with
//! their [`Membership`], and a type this build does not know is kept as [`EventKind::Other`] (its
//! [`OtherEvent`] naming the type, its snippet in extras), never dropped.

use crate::event::{
    Author, ChatEvent, EventDetail, EventKind, Extras, Membership, MembershipKind, Money,
    OtherEvent, Roles,
};
use crate::wire::{self, Rfc3339, U64, WireError};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

pub use crate::wire::parse_time;

/// One parsed `liveChatMessages.list` response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListPage {
    pub events: Vec<ChatEvent>,
    pub next_page_token: Option<String>,
    pub polling_interval: Option<Duration>,
    /// Present once the stream has gone offline.
    pub offline_at: Option<DateTime<Utc>>,
    /// A `chatEndedEvent` was among the items.
    pub chat_ended: bool,
    /// Why each item that could not be read was skipped (its path names it: `items[3]...`).
    pub skipped: Vec<WireError>,
}

impl ListPage {
    /// Whether the chat is over and the source should go back to discovery.
    pub fn ended(&self) -> bool {
        self.chat_ended || self.offline_at.is_some()
    }
}

/// `liveChatMessages.list` (§2.1). Items are decoded one at a time (see [`parse_list`]).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListResponse {
    #[serde(default)]
    next_page_token: Option<String>,
    #[serde(default)]
    polling_interval_millis: Option<U64>,
    #[serde(default)]
    offline_at: Option<Rfc3339>,
    #[serde(default)]
    items: Option<Vec<Value>>,
}

/// One `youtube#liveChatMessage`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    #[serde(borrow)]
    id: &'a str,
    #[serde(borrow)]
    snippet: Snippet<'a>,
    #[serde(default, borrow)]
    author_details: Option<AuthorDetails<'a>>,
}

/// A message's snippet: its type and the detail object that type carries (§2.2).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Snippet<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<&'a str>,
    #[serde(default, borrow)]
    live_chat_id: Option<&'a str>,
    #[serde(default, borrow)]
    author_channel_id: Option<&'a str>,
    published_at: Rfc3339,
    #[serde(default, borrow)]
    display_message: Option<&'a str>,
    #[serde(default, borrow)]
    text_message_details: Option<TextMessageDetails<'a>>,
    #[serde(default, borrow)]
    super_chat_details: Option<PaidDetails<'a>>,
    #[serde(default, borrow)]
    super_sticker_details: Option<PaidDetails<'a>>,
    /// The legacy fan funding event's details; the field name is the discovery document's
    /// (`fanFundingEventDetails`), not in our protocol reference's table.
    #[serde(default, borrow)]
    fan_funding_event_details: Option<PaidDetails<'a>>,
    #[serde(default, borrow)]
    new_sponsor_details: Option<NewSponsorDetails<'a>>,
    #[serde(default, borrow)]
    member_milestone_chat_details: Option<MilestoneDetails<'a>>,
    #[serde(default, borrow)]
    membership_gifting_details: Option<GiftingDetails<'a>>,
    #[serde(default, borrow)]
    gift_membership_received_details: Option<ReceivedDetails<'a>>,
    #[serde(default, borrow)]
    message_deleted_details: Option<DeletedDetails<'a>>,
    #[serde(default, borrow)]
    message_retracted_details: Option<RetractedDetails<'a>>,
    #[serde(default, borrow)]
    user_banned_details: Option<BannedDetails<'a>>,
    #[serde(default)]
    poll_details: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct AuthorDetails<'a> {
    #[serde(borrow)]
    channel_id: Option<&'a str>,
    #[serde(borrow)]
    display_name: Option<&'a str>,
    is_verified: Option<bool>,
    is_chat_owner: Option<bool>,
    is_chat_sponsor: Option<bool>,
    is_chat_moderator: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TextMessageDetails<'a> {
    #[serde(default, borrow)]
    message_text: Option<&'a str>,
}

/// `superChatDetails`, `superStickerDetails` (with its sticker) and the legacy fan funding
/// details: an amount is what makes them what they are, so it is required.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaidDetails<'a> {
    amount_micros: U64,
    #[serde(borrow)]
    currency: &'a str,
    #[serde(default, borrow)]
    amount_display_string: Option<&'a str>,
    #[serde(default, borrow)]
    user_comment: Option<&'a str>,
    #[serde(default)]
    tier: Option<U64>,
    #[serde(default, borrow)]
    super_sticker_metadata: Option<StickerMetadata<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StickerMetadata<'a> {
    #[serde(default, borrow)]
    sticker_id: Option<&'a str>,
    #[serde(default, borrow)]
    alt_text: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewSponsorDetails<'a> {
    #[serde(default, borrow)]
    member_level_name: Option<&'a str>,
    #[serde(default)]
    is_upgrade: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MilestoneDetails<'a> {
    #[serde(default, borrow)]
    user_comment: Option<&'a str>,
    #[serde(default)]
    member_month: Option<U64>,
    #[serde(default, borrow)]
    member_level_name: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GiftingDetails<'a> {
    #[serde(default)]
    gift_memberships_count: Option<U64>,
    #[serde(default, borrow)]
    gift_memberships_level_name: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReceivedDetails<'a> {
    #[serde(default, borrow)]
    member_level_name: Option<&'a str>,
    #[serde(default, borrow)]
    gifter_channel_id: Option<&'a str>,
    #[serde(default, borrow)]
    associated_membership_gifting_message_id: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeletedDetails<'a> {
    #[serde(default, borrow)]
    deleted_message_id: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RetractedDetails<'a> {
    #[serde(default, borrow)]
    retracted_message_id: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BannedDetails<'a> {
    #[serde(default, borrow)]
    banned_user_details: Option<BannedUser<'a>>,
    #[serde(default, borrow)]
    ban_type: Option<&'a str>,
    #[serde(default)]
    ban_duration_seconds: Option<U64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BannedUser<'a> {
    #[serde(default, borrow)]
    channel_id: Option<&'a str>,
    #[serde(default, borrow)]
    display_name: Option<&'a str>,
}

/// The snippet of a message whose type this build does not know, kept whole.
#[derive(Debug, Deserialize)]
struct RawSnippet {
    snippet: Value,
}

/// Parses a `liveChatMessages.list` body read from chat `chat_id` of `creator`.
pub fn parse_list(body: &Value, creator: &str, chat_id: &str) -> Result<ListPage, WireError> {
    let response: ListResponse = wire::from_value("a YouTube chat page", body)?;
    let mut page = ListPage {
        next_page_token: response.next_page_token.filter(|t| !t.is_empty()),
        polling_interval: response
            .polling_interval_millis
            .map(|ms| Duration::from_millis(ms.0)),
        offline_at: response.offline_at.map(|t| t.0),
        ..ListPage::default()
    };
    for (i, item) in response.items.unwrap_or_default().iter().enumerate() {
        match message(item, creator, chat_id) {
            Ok((event, ended)) => {
                page.chat_ended |= ended;
                page.events.push(event);
            }
            Err(e) => page.skipped.push(e.within(&format!("items[{i}]"))),
        }
    }
    Ok(page)
}

const MESSAGE: &str = "a YouTube chat message";

/// Normalizes one `youtube#liveChatMessage`; also says whether it is a `chatEndedEvent`.
fn message(item: &Value, creator: &str, chat_id: &str) -> Result<(ChatEvent, bool), WireError> {
    let m: Message<'_> = wire::from_value(MESSAGE, item)?;
    if m.id.is_empty() {
        return Err(WireError::shape(MESSAGE, "id", "the id is empty"));
    }
    let details = m.author_details.unwrap_or_default();
    let snippet = &m.snippet;
    let channel_id = details
        .channel_id
        .or(snippet.author_channel_id)
        .unwrap_or("");
    let author = Author {
        id: channel_id.into(),
        login: channel_id.into(),
        display_name: details.display_name.unwrap_or(channel_id).into(),
        roles: Roles {
            broadcaster: details.is_chat_owner == Some(true),
            moderator: details.is_chat_moderator == Some(true),
            vip: false,
            subscriber: details.is_chat_sponsor == Some(true),
        },
    };
    let mut event = ChatEvent::message(
        crate::sources::youtube::YOUTUBE,
        creator,
        m.id,
        snippet.published_at.0,
        author,
        "",
    );
    event.channel = snippet.live_chat_id.unwrap_or(chat_id).into();
    let kind = snippet.kind.unwrap_or("");
    let (kind_out, text, detail) = normalize(kind, snippet, &mut event.extras)?;
    if kind_out == EventKind::Other && detail.is_none() {
        // A type this build does not know: kept, with its snippet, for later builds and replays.
        event
            .extras
            .insert_str("event", if kind.is_empty() { "unknown" } else { kind });
        let raw: RawSnippet = wire::from_value(MESSAGE, item)?;
        event.extras.insert_value("snippet", &raw.snippet);
    }
    if details.is_verified == Some(true) {
        event.extras.insert_bool("verified", true);
    }
    event.kind = kind_out;
    event.text = text.into();
    event.detail = match (kind_out, detail) {
        (EventKind::Other, _) => Some(Box::new(EventDetail::Other(OtherEvent {
            event: if kind.is_empty() { "unknown" } else { kind }.into(),
        }))),
        (_, detail) => detail.map(Box::new),
    };
    Ok((event, kind == "chatEndedEvent"))
}

/// The kind, text and typed detail of one message type; extras get what has no typed field.
/// Unknown types answer `(Other, display, None)` and are completed by the caller. A paid message
/// without its details has no amount, which is what it is about: an error, like a missing id.
fn normalize<'a>(
    kind: &str,
    s: &Snippet<'a>,
    extras: &mut Extras,
) -> Result<(EventKind, &'a str, Option<EventDetail>), WireError> {
    let display = s.display_message.unwrap_or("");
    let level = |name: Option<&str>| name.filter(|l| !l.is_empty()).map(Into::into);
    match kind {
        "textMessageEvent" => {
            let text = s
                .text_message_details
                .as_ref()
                .and_then(|d| d.message_text)
                .unwrap_or(display);
            Ok((EventKind::Message, text, None))
        }
        "superChatEvent" | "superStickerEvent" | "fanFundingEvent" => {
            let (name, key, details, event_kind) = match kind {
                "superChatEvent" => (
                    "super_chat",
                    "superChatDetails",
                    &s.super_chat_details,
                    EventKind::SuperChat,
                ),
                "superStickerEvent" => (
                    "super_sticker",
                    "superStickerDetails",
                    &s.super_sticker_details,
                    EventKind::SuperChat,
                ),
                // Legacy fan funding: money sent outside a Super Chat.
                _ => (
                    "fan_funding",
                    "fanFundingEventDetails",
                    &s.fan_funding_event_details,
                    EventKind::Tip,
                ),
            };
            let Some(d) = details else {
                return Err(WireError::shape(
                    MESSAGE,
                    &format!("snippet.{key}"),
                    format!("a {kind} without its details has no amount"),
                ));
            };
            extras.insert_str("event", name);
            // Micros are exact; the typed amount is in currency units for triggers and templates.
            extras.insert_u64("amount_micros", d.amount_micros.0);
            if let Some(sticker) = &d.super_sticker_metadata {
                if let Some(id) = sticker.sticker_id {
                    extras.insert_str("sticker_id", id);
                }
                if let Some(alt) = sticker.alt_text {
                    extras.insert_str("sticker_alt_text", alt);
                }
            }
            let money = Money {
                amount: d.amount_micros.0 as f64 / 1_000_000.0,
                currency: d.currency.into(),
                display: d.amount_display_string.map(Into::into),
                tier: d.tier.map(U64::as_u32),
            };
            Ok((
                event_kind,
                d.user_comment.unwrap_or(""),
                Some(EventDetail::Money(money)),
            ))
        }
        "newSponsorEvent" => {
            extras.insert_str("event", "new_member");
            let d = s.new_sponsor_details.as_ref();
            let upgrade = d.and_then(|d| d.is_upgrade) == Some(true);
            let membership = Membership {
                kind: if upgrade {
                    MembershipKind::Upgrade
                } else {
                    MembershipKind::New
                },
                level: level(d.and_then(|d| d.member_level_name)),
                months: None,
                count: None,
            };
            Ok((
                EventKind::Membership,
                "",
                Some(EventDetail::Membership(membership)),
            ))
        }
        "memberMilestoneChatEvent" => {
            extras.insert_str("event", "member_milestone");
            let d = s.member_milestone_chat_details.as_ref();
            let membership = Membership {
                kind: MembershipKind::Milestone,
                level: level(d.and_then(|d| d.member_level_name)),
                months: d.and_then(|d| d.member_month).map(U64::as_u32),
                count: None,
            };
            Ok((
                EventKind::Membership,
                d.and_then(|d| d.user_comment).unwrap_or(""),
                Some(EventDetail::Membership(membership)),
            ))
        }
        "membershipGiftingEvent" => {
            extras.insert_str("event", "membership_gifting");
            let d = s.membership_gifting_details.as_ref();
            let membership = Membership {
                kind: MembershipKind::Gift,
                level: level(d.and_then(|d| d.gift_memberships_level_name)),
                months: None,
                count: d.and_then(|d| d.gift_memberships_count).map(U64::as_u32),
            };
            Ok((
                EventKind::Membership,
                "",
                Some(EventDetail::Membership(membership)),
            ))
        }
        "giftMembershipReceivedEvent" => {
            extras.insert_str("event", "gift_membership_received");
            let d = s.gift_membership_received_details.as_ref();
            if let Some(gifter) = d.and_then(|d| d.gifter_channel_id) {
                extras.insert_str("gifter_channel_id", gifter);
            }
            if let Some(gift) = d.and_then(|d| d.associated_membership_gifting_message_id) {
                extras.insert_str("gifting_message_id", gift);
            }
            let membership = Membership {
                kind: MembershipKind::Received,
                level: level(d.and_then(|d| d.member_level_name)),
                months: None,
                count: None,
            };
            Ok((
                EventKind::Membership,
                "",
                Some(EventDetail::Membership(membership)),
            ))
        }
        "messageDeletedEvent" => {
            extras.insert_str("event", "message_deleted");
            if let Some(target) = s
                .message_deleted_details
                .as_ref()
                .and_then(|d| d.deleted_message_id)
            {
                extras.insert_str("target_message_id", target);
            }
            Ok((EventKind::Deletion, "", None))
        }
        "messageRetractedEvent" => {
            extras.insert_str("event", "message_retracted");
            if let Some(target) = s
                .message_retracted_details
                .as_ref()
                .and_then(|d| d.retracted_message_id)
            {
                extras.insert_str("target_message_id", target);
            }
            Ok((EventKind::Deletion, "", None))
        }
        "userBannedEvent" => {
            extras.insert_str("event", "user_banned");
            let d = s.user_banned_details.as_ref();
            let banned = d.and_then(|d| d.banned_user_details.as_ref());
            if let Some(id) = banned.and_then(|b| b.channel_id) {
                extras.insert_str("target_user_id", id);
            }
            if let Some(name) = banned.and_then(|b| b.display_name) {
                extras.insert_str("target_user_name", name);
            }
            let temporary = d.and_then(|d| d.ban_type) == Some("temporary");
            extras.insert_str(
                "ban_type",
                if temporary { "temporary" } else { "permanent" },
            );
            if let Some(seconds) = d.and_then(|d| d.ban_duration_seconds) {
                extras.insert_u64("ban_duration_s", seconds.0);
            }
            let kind = if temporary {
                EventKind::Timeout
            } else {
                EventKind::Ban
            };
            Ok((kind, "", None))
        }
        "chatEndedEvent" => {
            extras.insert_str("event", "chat_ended");
            Ok((EventKind::Notice, "", None))
        }
        "sponsorOnlyModeStartedEvent" | "sponsorOnlyModeEndedEvent" => {
            let on = kind == "sponsorOnlyModeStartedEvent";
            extras.insert_str(
                "event",
                if on {
                    "members_only_started"
                } else {
                    "members_only_ended"
                },
            );
            extras.insert_bool("members_only", on);
            Ok((EventKind::RoomState, "", None))
        }
        "pollEvent" => {
            extras.insert_str("event", "poll");
            if let Some(poll) = s.poll_details.as_ref().filter(|p| p.is_object()) {
                extras.insert_value("poll", poll);
            }
            Ok((EventKind::Other, display, other(kind)))
        }
        "tombstone" => {
            extras.insert_str("event", "tombstone");
            Ok((EventKind::Other, "", other(kind)))
        }
        _ => Ok((EventKind::Other, display, None)),
    }
}

fn other(kind: &str) -> Option<EventDetail> {
    Some(EventDetail::Other(OtherEvent { event: kind.into() }))
}

/// What `liveChatBans.insert` answers, as far as the source needs it: the ban's id (opaque),
/// without which the ban cannot be lifted through the API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct BanAnswer {
    pub id: String,
}

/// Google's error envelope, with the HTTP status it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    /// `errors[0].reason` (`quotaExceeded`, `liveChatEnded`, ...); empty when absent.
    pub reason: String,
    pub domain: String,
    pub message: String,
}

/// What the source does about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The project's daily quota is spent: stop calling until the Pacific-midnight reset.
    QuotaExceeded,
    /// Polled too fast: back off.
    RateLimited,
    /// The chat is gone (not found, ended, disabled): back to discovery.
    ChatGone,
    /// The credentials cannot do this: report, retry only after a long wait.
    Credentials,
    /// The page token is no longer valid: read again without it.
    BadPageToken,
    /// Anything else, 5xx included: capped, jittered backoff.
    Transient,
}

impl ApiError {
    pub fn class(&self) -> ErrorClass {
        match self.reason.as_str() {
            "quotaExceeded" | "dailyLimitExceeded" => ErrorClass::QuotaExceeded,
            "rateLimitExceeded" | "userRateLimitExceeded" => ErrorClass::RateLimited,
            "liveChatNotFound" | "liveChatEnded" | "liveChatDisabled" => ErrorClass::ChatGone,
            "pageTokenInvalid" => ErrorClass::BadPageToken,
            "forbidden" | "insufficientPermissions" | "authError" | "keyInvalid" => {
                ErrorClass::Credentials
            }
            _ if self.status == 401 => ErrorClass::Credentials,
            _ if self.status == 404 => ErrorClass::ChatGone,
            _ if self.status == 403 && self.domain == "youtube.quota" => ErrorClass::QuotaExceeded,
            _ if self.status == 429 => ErrorClass::RateLimited,
            _ if self.status == 403 => ErrorClass::Credentials,
            _ => ErrorClass::Transient,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if !self.reason.is_empty() {
            write!(f, " {}", self.reason)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", strip_tags(&self.message))?;
        }
        Ok(())
    }
}

/// Google's messages carry HTML links; logs and statuses get the text.
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.chars().take(300).collect()
}

/// Google's error envelope (§2.3).
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: Option<GoogleError>,
}

#[derive(Debug, Default, Deserialize)]
struct GoogleError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    errors: Vec<GoogleErrorItem>,
}

#[derive(Debug, Default, Deserialize)]
struct GoogleErrorItem {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// Reads an error response: the envelope when the body has one, else just the status (an error
/// page from a proxy is still an error of that status).
pub fn parse_error(status: u16, body: &str) -> ApiError {
    let error = wire::from_str::<ErrorBody>("a YouTube error answer", body)
        .ok()
        .and_then(|b| b.error)
        .unwrap_or_default();
    let mut first = error.errors.into_iter().next().unwrap_or_default();
    ApiError {
        status,
        reason: first.reason.take().unwrap_or_default(),
        domain: first.domain.take().unwrap_or_default(),
        message: error.message.or(first.message).unwrap_or_default(),
    }
}

/// A live broadcast found by discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveChat {
    pub live_chat_id: String,
    /// When the broadcast started, when the API says.
    pub started_at: Option<DateTime<Utc>>,
}

/// `videos.list?part=liveStreamingDetails` (§2.4).
#[derive(Debug, Deserialize)]
struct VideoList {
    #[serde(default)]
    items: Vec<Video>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Video {
    #[serde(default)]
    live_streaming_details: Option<LiveStreamingDetails>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LiveStreamingDetails {
    #[serde(default)]
    active_live_chat_id: Option<String>,
    #[serde(default)]
    actual_start_time: Option<Rfc3339>,
    #[serde(default)]
    actual_end_time: Option<Rfc3339>,
}

/// `videos.list?part=liveStreamingDetails`: the first video's active chat, if it is live.
pub fn parse_video(body: &Value) -> Result<Option<LiveChat>, WireError> {
    let list: VideoList = wire::from_value("a YouTube videos.list answer", body)?;
    let Some(details) = list
        .items
        .into_iter()
        .next()
        .and_then(|v| v.live_streaming_details)
    else {
        return Ok(None);
    };
    if details.actual_end_time.is_some() {
        return Ok(None);
    }
    Ok(details
        .active_live_chat_id
        .filter(|id| !id.is_empty())
        .map(|live_chat_id| LiveChat {
            live_chat_id,
            started_at: details.actual_start_time.map(|t| t.0),
        }))
}

/// `search.list?eventType=live&type=video`.
#[derive(Debug, Deserialize)]
struct SearchList {
    #[serde(default)]
    items: Vec<SearchResult>,
}

#[derive(Debug, Deserialize)]
struct SearchResult {
    id: SearchId,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchId {
    #[serde(default)]
    video_id: Option<String>,
}

/// `search.list?eventType=live&type=video`: the ids of the live videos.
pub fn parse_search(body: &Value) -> Result<Vec<String>, WireError> {
    let list: SearchList = wire::from_value("a YouTube search.list answer", body)?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|i| i.id.video_id)
        .collect())
}

/// `liveBroadcasts.list?part=snippet`.
#[derive(Debug, Deserialize)]
struct BroadcastList {
    #[serde(default)]
    items: Vec<Broadcast>,
}

#[derive(Debug, Deserialize)]
struct Broadcast {
    #[serde(default)]
    snippet: Option<BroadcastSnippet>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BroadcastSnippet {
    #[serde(default)]
    live_chat_id: Option<String>,
    #[serde(default)]
    actual_start_time: Option<Rfc3339>,
}

/// `liveBroadcasts.list?part=snippet&broadcastStatus=active`: the first broadcast with a chat.
pub fn parse_broadcasts(body: &Value) -> Result<Option<LiveChat>, WireError> {
    let list: BroadcastList = wire::from_value("a YouTube liveBroadcasts.list answer", body)?;
    Ok(list.items.into_iter().find_map(|b| {
        let snippet = b.snippet?;
        Some(LiveChat {
            live_chat_id: snippet.live_chat_id.filter(|id| !id.is_empty())?,
            started_at: snippet.actual_start_time.map(|t| t.0),
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{MembershipKind, OtherEvent};
    use crate::wire::strategy::arb_json;
    use proptest::prelude::*;
    use serde_json::json;

    /// The response of the YouTube Data API v3 reference (liveChatMessages.list), verbatim but for the elided ids.
    const PAGE: &str = r#"{"kind":"youtube#liveChatMessageListResponse","etag":"s6KCf_z6XZ0b","nextPageToken":"GLCe1Ja","pollingIntervalMillis":2055,
 "pageInfo":{"totalResults":2,"resultsPerPage":2},
 "items":[
  {"kind":"youtube#liveChatMessage","etag":"driOQ","id":"LCC.CjgKDQoLRDlm",
   "snippet":{"type":"textMessageEvent","liveChatId":"Cg0KC0Q5ZnFG","authorChannelId":"UCrjdRCm0gGcdrYtl8z66t6g",
     "publishedAt":"2023-05-25T20:08:08.479833+00:00","hasDisplayContent":true,"displayMessage":"hello",
     "textMessageDetails":{"messageText":"hello"}},
   "authorDetails":{"channelId":"UCrjdRCm0gGcdrYtl8z66t6g","channelUrl":"http://www.youtube.com/channel/UCrjd",
     "displayName":"Viewer","profileImageUrl":"https://yt3.ggpht.com/=s88-c-k-c0x00ffffff-no-rj",
     "isVerified":false,"isChatOwner":false,"isChatSponsor":false,"isChatModerator":false}},
  {"kind":"youtube#liveChatMessage","etag":"x","id":"LCC.abc",
   "snippet":{"type":"superChatEvent","liveChatId":"Cg0KC0Q5ZnFG","authorChannelId":"UCaaa","publishedAt":"2023-05-25T20:09:00+00:00",
     "hasDisplayContent":true,"displayMessage":"$5.00 from Viewer2: nice",
     "superChatDetails":{"amountMicros":"5000000","currency":"USD","amountDisplayString":"$5.00","userComment":"nice","tier":2}},
   "authorDetails":{"channelId":"UCaaa","channelUrl":"…","displayName":"Viewer2","profileImageUrl":"…",
     "isVerified":false,"isChatOwner":false,"isChatSponsor":true,"isChatModerator":false}}]}"#;

    fn item(kind: &str, details_key: &str, details: Value) -> Value {
        let mut snippet = json!({"type": kind, "liveChatId": "chat1", "authorChannelId": "UCx",
            "publishedAt": "2023-05-25T20:10:00Z", "hasDisplayContent": true, "displayMessage": "shown"});
        if !details_key.is_empty() {
            snippet[details_key] = details;
        }
        json!({"kind": "youtube#liveChatMessage", "id": format!("id-{kind}"), "snippet": snippet,
            "authorDetails": {"channelId": "UCx", "displayName": "Mod", "isVerified": true,
                "isChatOwner": false, "isChatSponsor": false, "isChatModerator": true}})
    }

    fn one(kind: &str, details_key: &str, details: Value) -> ChatEvent {
        message(&item(kind, details_key, details), "demo", "chat1")
            .expect("an event")
            .0
    }

    fn membership(e: &ChatEvent) -> &Membership {
        match e.detail.as_deref() {
            Some(EventDetail::Membership(m)) => m,
            other => panic!("not a membership: {other:?}"),
        }
    }

    fn money(e: &ChatEvent) -> &Money {
        match e.detail.as_deref() {
            Some(EventDetail::Money(m)) => m,
            other => panic!("not money: {other:?}"),
        }
    }

    #[test]
    fn the_documented_page_parses_with_token_interval_text_and_a_typed_super_chat() {
        let page = parse_list(&serde_json::from_str(PAGE).unwrap(), "demo", "fallback").unwrap();
        assert_eq!(page.next_page_token.as_deref(), Some("GLCe1Ja"));
        assert_eq!(page.polling_interval, Some(Duration::from_millis(2055)));
        assert!(!page.ended());
        assert!(page.skipped.is_empty());
        assert_eq!(page.events.len(), 2);
        let text = &page.events[0];
        assert_eq!(text.message_id, "LCC.CjgKDQoLRDlm");
        assert_eq!(text.channel, "Cg0KC0Q5ZnFG");
        assert_eq!(text.text, "hello");
        assert_eq!(text.kind, EventKind::Message);
        assert_eq!(text.detail, None);
        assert_eq!(text.author.display_name, "Viewer");
        assert_eq!(text.author.id, "UCrjdRCm0gGcdrYtl8z66t6g");
        assert_eq!(
            text.timestamp,
            parse_time("2023-05-25T20:08:08.479833Z").unwrap()
        );
        let sc = &page.events[1];
        assert_eq!(sc.kind, EventKind::SuperChat);
        assert_eq!(sc.text, "nice");
        assert!(sc.author.roles.subscriber);
        assert_eq!(
            money(sc),
            &Money {
                amount: 5.0,
                currency: "USD".into(),
                display: Some("$5.00".into()),
                tier: Some(2),
            }
        );
        assert_eq!(
            sc.extras.as_json(),
            r#"{"event":"super_chat","amount_micros":5000000}"#,
            "what has a typed field is not repeated in extras"
        );
    }

    #[test]
    fn paid_and_membership_types_map_to_their_kinds_and_typed_fields() {
        let e = one(
            "superStickerEvent",
            "superStickerDetails",
            json!({"superStickerMetadata": {"stickerId": "st1", "altText": "Wave", "language": "en"},
                "amountMicros": "1990000", "currency": "EUR", "amountDisplayString": "€1.99", "tier": 1}),
        );
        assert_eq!(e.kind, EventKind::SuperChat);
        assert_eq!(
            money(&e),
            &Money {
                amount: 1.99,
                currency: "EUR".into(),
                display: Some("€1.99".into()),
                tier: Some(1),
            }
        );
        assert_eq!(
            e.extras.as_json(),
            r#"{"event":"super_sticker","amount_micros":1990000,"sticker_id":"st1","sticker_alt_text":"Wave","verified":true}"#
        );
        assert!(e.author.roles.moderator);

        let e = one(
            "fanFundingEvent",
            "fanFundingEventDetails",
            json!({"amountMicros": "2500000", "currency": "JPY", "amountDisplayString": "¥2", "userComment": "old"}),
        );
        assert_eq!((e.kind, e.text.as_str()), (EventKind::Tip, "old"));
        assert_eq!(money(&e).amount, 2.5);

        let e = one(
            "newSponsorEvent",
            "newSponsorDetails",
            json!({"memberLevelName": "Gold", "isUpgrade": true}),
        );
        assert_eq!(e.kind, EventKind::Membership);
        assert_eq!(
            membership(&e),
            &Membership {
                kind: MembershipKind::Upgrade,
                level: Some("Gold".into()),
                months: None,
                count: None
            }
        );
        let e = one(
            "newSponsorEvent",
            "newSponsorDetails",
            json!({"memberLevelName": "Gold", "isUpgrade": false}),
        );
        assert_eq!(membership(&e).kind, MembershipKind::New);

        let e = one(
            "memberMilestoneChatEvent",
            "memberMilestoneChatDetails",
            json!({"userComment": "a year!", "memberMonth": 12, "memberLevelName": "Gold"}),
        );
        assert_eq!(
            (e.kind, e.text.as_str()),
            (EventKind::Membership, "a year!")
        );
        assert_eq!(
            membership(&e),
            &Membership {
                kind: MembershipKind::Milestone,
                level: Some("Gold".into()),
                months: Some(12),
                count: None
            }
        );

        let e = one(
            "membershipGiftingEvent",
            "membershipGiftingDetails",
            json!({"giftMembershipsCount": 5, "giftMembershipsLevelName": "Gold"}),
        );
        assert_eq!(
            membership(&e),
            &Membership {
                kind: MembershipKind::Gift,
                level: Some("Gold".into()),
                months: None,
                count: Some(5)
            }
        );

        let e = one(
            "giftMembershipReceivedEvent",
            "giftMembershipReceivedDetails",
            json!({"memberLevelName": "Gold", "gifterChannelId": "UCg", "associatedMembershipGiftingMessageId": "LCC.g"}),
        );
        assert_eq!(membership(&e).kind, MembershipKind::Received);
        assert_eq!(e.extras.get("gifter_channel_id").unwrap(), "UCg");
        assert_eq!(e.extras.get("gifting_message_id").unwrap(), "LCC.g");
    }

    #[test]
    fn moderation_room_and_unknown_types_are_kept() {
        let e = one(
            "messageDeletedEvent",
            "messageDeletedDetails",
            json!({"deletedMessageId": "LCC.gone"}),
        );
        assert_eq!((e.kind, e.detail.as_deref()), (EventKind::Deletion, None));
        assert_eq!(e.extras.get("target_message_id").unwrap(), "LCC.gone");

        let e = one(
            "messageRetractedEvent",
            "messageRetractedDetails",
            json!({"retractedMessageId": "LCC.r"}),
        );
        assert_eq!(e.extras.get("event").unwrap(), "message_retracted");

        let e = one(
            "userBannedEvent",
            "userBannedDetails",
            json!({"bannedUserDetails": {"channelId": "UCbad", "displayName": "Troll"},
                "banType": "temporary", "banDurationSeconds": "300"}),
        );
        assert_eq!(e.kind, EventKind::Timeout);
        assert_eq!(e.extras.get("ban_duration_s").unwrap(), 300);
        assert_eq!(e.extras.get("target_user_name").unwrap(), "Troll");
        let e = one(
            "userBannedEvent",
            "userBannedDetails",
            json!({"bannedUserDetails": {"channelId": "UCbad"}, "banType": "permanent"}),
        );
        assert_eq!(e.kind, EventKind::Ban);

        let e = one("chatEndedEvent", "", Value::Null);
        assert_eq!(e.extras.get("event").unwrap(), "chat_ended");
        let e = one("sponsorOnlyModeStartedEvent", "", Value::Null);
        assert_eq!(e.kind, EventKind::RoomState);
        assert_eq!(e.extras.get("members_only").unwrap(), true);
        let e = one("sponsorOnlyModeEndedEvent", "", Value::Null);
        assert_eq!(e.extras.get("members_only").unwrap(), false);

        let other = |name: &str| Some(EventDetail::Other(OtherEvent { event: name.into() }));
        let e = one(
            "pollEvent",
            "pollDetails",
            json!({"metadata": {"questionText": "Best?", "options": [{"optionText": "A"}]}, "status": "active"}),
        );
        assert_eq!(e.kind, EventKind::Other);
        assert_eq!(e.detail.as_deref().cloned(), other("pollEvent"));
        assert_eq!(e.extras.get("event").unwrap(), "poll");
        assert!(e.extras.get("poll").unwrap()["metadata"].is_object());
        let e = one("tombstone", "", Value::Null);
        assert_eq!(e.detail.as_deref().cloned(), other("tombstone"));
        let e = one("giftEvent", "giftDetails", json!({"giftName": "rose"}));
        assert_eq!(e.kind, EventKind::Other);
        assert_eq!(e.detail.as_deref().cloned(), other("giftEvent"));
        assert_eq!(e.text, "shown");
        assert_eq!(e.extras.get("event").unwrap(), "giftEvent");
        assert_eq!(
            e.extras.get("snippet").unwrap()["giftDetails"]["giftName"],
            "rose"
        );
    }

    #[test]
    fn the_owner_is_the_broadcaster_and_a_chat_end_ends_the_page() {
        let mut owner = item("chatEndedEvent", "", Value::Null);
        owner["authorDetails"]["isChatOwner"] = json!(true);
        let page = parse_list(
            &json!({"items": [owner], "offlineAt": "2023-05-25T22:00:00Z"}),
            "demo",
            "c",
        )
        .unwrap();
        assert!(page.events[0].author.roles.broadcaster);
        assert!(page.chat_ended && page.offline_at.is_some() && page.ended());
        assert_eq!(page.next_page_token, None);
    }

    #[test]
    fn unreadable_items_are_skipped_with_where_and_why_and_the_rest_is_read() {
        let mut no_amount = item("superChatEvent", "", Value::Null);
        no_amount["id"] = json!("sc");
        let page = parse_list(
            &json!({"items": [{"snippet": {"publishedAt": "2023-05-25T20:10:00Z"}},
                {"id": "x", "snippet": {"publishedAt": "yesterday"}}, 7,
                item("textMessageEvent", "textMessageDetails", json!({"messageText": "kept"})),
                no_amount]}),
            "demo",
            "c",
        )
        .unwrap();
        assert_eq!(page.events.len(), 1);
        assert_eq!(page.events[0].text, "kept");
        let skipped: Vec<String> = page.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            skipped,
            [
                "a YouTube chat message: missing field `id` (at items[0])",
                r#"a YouTube chat message: invalid value: string "yesterday", expected an RFC 3339 time (at items[1].snippet.publishedAt)"#,
                "a YouTube chat message: invalid type: integer `7`, expected struct Message (at items[2])",
                "a YouTube chat message: a superChatEvent without its details has no amount (at items[4].snippet.superChatDetails)",
            ]
        );
        let e = parse_list(&json!([1]), "demo", "c").unwrap_err();
        assert_eq!(e.what, "a YouTube chat page");
        let e = parse_list(&json!({"items": {}}), "demo", "c").unwrap_err();
        assert_eq!(e.path, "items");
    }

    #[test]
    fn the_error_envelope_is_read_and_classified() {
        let body = r#"{"error":{"code":403,"message":"The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.",
  "errors":[{"message":"…","domain":"youtube.quota","reason":"quotaExceeded"}]}}"#;
        let e = parse_error(403, body);
        assert_eq!(e.class(), ErrorClass::QuotaExceeded);
        assert_eq!(
            e.to_string(),
            "HTTP 403 quotaExceeded: The request cannot be completed because you have exceeded your quota."
        );
        let reason = |status, reason: &str| {
            parse_error(
                status,
                &json!({"error": {"code": status, "message": "m", "errors": [{"reason": reason, "domain": "youtube.liveChat"}]}})
                    .to_string(),
            )
            .class()
        };
        assert_eq!(reason(403, "rateLimitExceeded"), ErrorClass::RateLimited);
        assert_eq!(reason(404, "liveChatNotFound"), ErrorClass::ChatGone);
        assert_eq!(reason(403, "liveChatEnded"), ErrorClass::ChatGone);
        assert_eq!(reason(403, "liveChatDisabled"), ErrorClass::ChatGone);
        assert_eq!(reason(403, "forbidden"), ErrorClass::Credentials);
        assert_eq!(reason(400, "pageTokenInvalid"), ErrorClass::BadPageToken);
        assert_eq!(parse_error(401, "").class(), ErrorClass::Credentials);
        assert_eq!(parse_error(503, "<html>").class(), ErrorClass::Transient);
        assert_eq!(parse_error(503, "<html>").to_string(), "HTTP 503");
    }

    #[test]
    fn discovery_answers_are_read() {
        let video = json!({"items": [{"id": "v1", "liveStreamingDetails": {
            "actualStartTime": "2023-05-25T19:00:00Z", "activeLiveChatId": "chat1", "concurrentViewers": "12"}}]});
        assert_eq!(
            parse_video(&video).unwrap(),
            Some(LiveChat {
                live_chat_id: "chat1".into(),
                started_at: parse_time("2023-05-25T19:00:00Z")
            })
        );
        let ended = json!({"items": [{"liveStreamingDetails": {"actualEndTime": "2023-05-25T21:00:00Z", "activeLiveChatId": "chat1"}}]});
        assert_eq!(parse_video(&ended).unwrap(), None);
        assert_eq!(parse_video(&json!({"items": []})).unwrap(), None);
        assert!(parse_video(&json!({"items": 3})).is_err());
        assert_eq!(
            parse_search(&json!({"items": [{"id": {"kind": "youtube#video", "videoId": "v9"}}]}))
                .unwrap(),
            vec!["v9".to_string()]
        );
        assert_eq!(
            parse_broadcasts(&json!({"items": [{"snippet": {"liveChatId": "c2"}}]}))
                .unwrap()
                .map(|c| c.live_chat_id),
            Some("c2".into())
        );
    }

    const KEYS: &[&str] = &[
        "items",
        "id",
        "snippet",
        "type",
        "publishedAt",
        "authorDetails",
        "superChatDetails",
        "amountMicros",
        "currency",
        "userBannedDetails",
        "bannedUserDetails",
        "banDurationSeconds",
        "nextPageToken",
        "pollingIntervalMillis",
        "liveStreamingDetails",
        "error",
        "errors",
        "superStickerMetadata",
        "superStickerDetails",
        "membershipGiftingDetails",
        "giftMembershipsCount",
    ];
    const STRINGS: &[&str] = &[
        "2023-05-25T20:08:08Z",
        "textMessageEvent",
        "superChatEvent",
        "userBannedEvent",
        "membershipGiftingEvent",
        "5000000",
    ];

    proptest! {
        #[test]
        fn parsers_never_panic_on_arbitrary_json(v in arb_json(KEYS, STRINGS)) {
            if let Ok(page) = parse_list(&v, "demo", "c") {
                for e in &page.events {
                    prop_assert!(!e.message_id.is_empty());
                }
            }
            let _ = message(&v, "demo", "c");
            let _ = parse_video(&v);
            let _ = parse_search(&v);
            let _ = parse_broadcasts(&v);
            let _ = parse_error(403, &v.to_string()).class();
        }

        #[test]
        fn a_super_chat_decodes_to_exactly_what_was_sent(
            micros in 0u64..10_000_000_000_000,
            as_number in any::<bool>(),
            currency in "[A-Z]{3}",
            display in "\\PC{0,12}",
            comment in "\\PC{0,40}",
            tier in proptest::option::of(1u32..12),
            name in "[\\p{L}0-9 _]{1,20}",
            sticker in any::<bool>(),
        ) {
            let amount = if as_number { json!(micros) } else { json!(micros.to_string()) };
            let mut details = json!({"amountMicros": amount, "currency": currency,
                "amountDisplayString": display, "userComment": comment, "tier": tier});
            let (kind, key) = if sticker {
                details["superStickerMetadata"] = json!({"stickerId": "s", "altText": "a"});
                ("superStickerEvent", "superStickerDetails")
            } else {
                ("superChatEvent", "superChatDetails")
            };
            let mut it = item(kind, key, details);
            it["authorDetails"]["displayName"] = json!(name);
            let page = parse_list(&json!({"items": [it]}), "demo", "c").unwrap();
            prop_assert!(page.skipped.is_empty(), "{:?}", page.skipped);
            let e = &page.events[0];
            prop_assert_eq!(e.kind, EventKind::SuperChat);
            prop_assert_eq!(e.author.display_name.as_str(), name.as_str());
            prop_assert_eq!(e.text.as_str(), comment.as_str());
            let m = money(e);
            prop_assert_eq!(m.amount, micros as f64 / 1e6);
            prop_assert_eq!(m.currency.as_str(), currency.as_str());
            prop_assert_eq!(m.display.as_deref(), Some(display.as_str()));
            prop_assert_eq!(m.tier, tier);
            prop_assert_eq!(e.extras.get("amount_micros"), Some(json!(micros)));
        }

        #[test]
        fn a_membership_gift_decodes_to_exactly_what_was_sent(
            count in 1u32..1000,
            level in "\\PC{1,20}",
        ) {
            let e = one("membershipGiftingEvent", "membershipGiftingDetails",
                json!({"giftMembershipsCount": count, "giftMembershipsLevelName": level}));
            prop_assert_eq!(e.kind, EventKind::Membership);
            prop_assert_eq!(membership(&e), &Membership {
                kind: MembershipKind::Gift,
                level: Some(level.as_str().into()),
                months: None,
                count: Some(count),
            });
        }
    }
}
