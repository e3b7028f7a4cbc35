//! Pure parsers for the YouTube Data API v3 responses of PROTOCOLS.md §2: a chat page
//! (`liveChatMessages.list`), the discovery answers (`videos.list`, `search.list`,
//! `liveBroadcasts.list`) and Google's error envelope.
//!
//! Every function takes the decoded JSON and never panics, whatever its shape: a field of the wrong
//! type reads as absent. Each chat message becomes one [`ChatEvent`]; a message type this build does
//! not know is kept as [`EventKind::Other`] with its snippet in extras, never dropped. A message
//! without an id or a parseable `publishedAt` cannot be deduplicated safely (the store's key is the
//! platform's own time and id), so it is skipped and counted in [`ListPage::skipped`].

use crate::event::{Author, ChatEvent, EventKind, Extras, Roles};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::time::Duration;

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
    /// Items without an id or a valid `publishedAt`.
    pub skipped: usize,
}

impl ListPage {
    /// Whether the chat is over and the source should go back to discovery.
    pub fn ended(&self) -> bool {
        self.chat_ended || self.offline_at.is_some()
    }
}

/// Why a response body is not a response at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected YouTube response: {0}")]
pub struct WireError(pub String);

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?.as_str()
}

fn bool_at(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// A uint64 field: Google sends them as strings (`"5000000"`); numbers are accepted too.
fn u64_at(v: &Value, key: &str) -> Option<u64> {
    match v.get(key)? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// An RFC 3339 time (`2023-05-25T20:08:08.479833+00:00`).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Parses a `liveChatMessages.list` body read from chat `chat_id` of `creator`.
pub fn parse_list(body: &Value, creator: &str, chat_id: &str) -> Result<ListPage, WireError> {
    let obj = body
        .as_object()
        .ok_or_else(|| WireError("the chat page is not a JSON object".into()))?;
    let mut page = ListPage {
        next_page_token: obj
            .get("nextPageToken")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        polling_interval: obj
            .get("pollingIntervalMillis")
            .and_then(Value::as_u64)
            .map(Duration::from_millis),
        offline_at: obj
            .get("offlineAt")
            .and_then(Value::as_str)
            .and_then(parse_time),
        ..ListPage::default()
    };
    let items = match obj.get("items") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(items)) => items.as_slice(),
        Some(_) => return Err(WireError("`items` is not an array".into())),
    };
    for item in items {
        match message(item, creator, chat_id) {
            Some(event) => {
                if event.extras.get("event").as_ref().and_then(Value::as_str) == Some("chat_ended")
                {
                    page.chat_ended = true;
                }
                page.events.push(event);
            }
            None => page.skipped += 1,
        }
    }
    Ok(page)
}

/// Normalizes one `youtube#liveChatMessage`; `None` without an id or a valid `publishedAt`.
pub fn message(item: &Value, creator: &str, chat_id: &str) -> Option<ChatEvent> {
    let id = str_at(item, "id").filter(|id| !id.is_empty())?;
    let null = Value::Null;
    let snippet = item.get("snippet").unwrap_or(&null);
    let timestamp = str_at(snippet, "publishedAt").and_then(parse_time)?;
    let details = item.get("authorDetails").unwrap_or(&null);
    let channel_id = str_at(details, "channelId")
        .or_else(|| str_at(snippet, "authorChannelId"))
        .unwrap_or("");
    let display = str_at(details, "displayName").unwrap_or(channel_id);
    let author = Author {
        id: channel_id.into(),
        login: channel_id.into(),
        display_name: display.into(),
        roles: Roles {
            broadcaster: bool_at(details, "isChatOwner"),
            moderator: bool_at(details, "isChatModerator"),
            vip: false,
            subscriber: bool_at(details, "isChatSponsor"),
        },
    };
    let chat = str_at(snippet, "liveChatId").unwrap_or(chat_id);
    let mut event = ChatEvent::message(
        crate::sources::youtube::YOUTUBE,
        creator,
        id,
        timestamp,
        author,
        "",
    );
    event.channel = chat.into();
    let mut extras = Extras::new();
    let kind_name = str_at(snippet, "type").unwrap_or("");
    let display_message = str_at(snippet, "displayMessage").unwrap_or("");
    let (kind, text) = normalize(kind_name, snippet, display_message, &mut extras);
    if bool_at(details, "isVerified") {
        extras.insert_bool("verified", true);
    }
    event.kind = kind;
    event.text = text.into();
    event.extras = extras;
    Some(event)
}

/// The kind, text and extras of one message type.
fn normalize<'a>(
    kind: &str,
    snippet: &'a Value,
    display: &'a str,
    extras: &mut Extras,
) -> (EventKind, &'a str) {
    static NULL: Value = Value::Null;
    let null = &NULL;
    let d = |key: &str| snippet.get(key).filter(|v| v.is_object()).unwrap_or(null);
    match kind {
        "textMessageEvent" => {
            let text = str_at(d("textMessageDetails"), "messageText").unwrap_or(display);
            (EventKind::Message, text)
        }
        "superChatEvent" | "superStickerEvent" | "fanFundingEvent" => {
            let (name, details) = match kind {
                "superChatEvent" => ("super_chat", d("superChatDetails")),
                "superStickerEvent" => ("super_sticker", d("superStickerDetails")),
                _ => ("fan_funding", d("fanFundingEventDetails")),
            };
            extras.insert_str("event", name);
            money(details, extras);
            if let Some(tier) = u64_at(details, "tier") {
                extras.insert_u64("tier", tier);
            }
            let sticker = details
                .get("superStickerMetadata")
                .filter(|v| v.is_object())
                .unwrap_or(null);
            if let Some(sticker_id) = str_at(sticker, "stickerId") {
                extras.insert_str("sticker_id", sticker_id);
            }
            if let Some(alt) = str_at(sticker, "altText") {
                extras.insert_str("sticker_alt_text", alt);
            }
            (
                EventKind::SuperChat,
                str_at(details, "userComment").unwrap_or(""),
            )
        }
        "newSponsorEvent" => {
            let details = d("newSponsorDetails");
            extras.insert_str("event", "new_member");
            level(details, extras);
            extras.insert_bool("is_upgrade", bool_at(details, "isUpgrade"));
            (EventKind::Subscription, "")
        }
        "memberMilestoneChatEvent" => {
            let details = d("memberMilestoneChatDetails");
            extras.insert_str("event", "member_milestone");
            level(details, extras);
            if let Some(months) = u64_at(details, "memberMonth") {
                extras.insert_u64("months", months);
            }
            (
                EventKind::Subscription,
                str_at(details, "userComment").unwrap_or(""),
            )
        }
        "membershipGiftingEvent" => {
            let details = d("membershipGiftingDetails");
            extras.insert_str("event", "membership_gifting");
            if let Some(count) = u64_at(details, "giftMembershipsCount") {
                extras.insert_u64("gift_count", count);
            }
            if let Some(level) = str_at(details, "giftMembershipsLevelName") {
                extras.insert_str("member_level", level);
            }
            (EventKind::Subscription, "")
        }
        "giftMembershipReceivedEvent" => {
            let details = d("giftMembershipReceivedDetails");
            extras.insert_str("event", "gift_membership_received");
            level(details, extras);
            if let Some(gifter) = str_at(details, "gifterChannelId") {
                extras.insert_str("gifter_channel_id", gifter);
            }
            if let Some(gift) = str_at(details, "associatedMembershipGiftingMessageId") {
                extras.insert_str("gifting_message_id", gift);
            }
            (EventKind::Subscription, "")
        }
        "messageDeletedEvent" => {
            extras.insert_str("event", "message_deleted");
            if let Some(target) = str_at(d("messageDeletedDetails"), "deletedMessageId") {
                extras.insert_str("target_message_id", target);
            }
            (EventKind::Deletion, "")
        }
        "messageRetractedEvent" => {
            extras.insert_str("event", "message_retracted");
            if let Some(target) = str_at(d("messageRetractedDetails"), "retractedMessageId") {
                extras.insert_str("target_message_id", target);
            }
            (EventKind::Deletion, "")
        }
        "userBannedEvent" => {
            let details = d("userBannedDetails");
            let banned = details
                .get("bannedUserDetails")
                .filter(|v| v.is_object())
                .unwrap_or(null);
            extras.insert_str("event", "user_banned");
            if let Some(id) = str_at(banned, "channelId") {
                extras.insert_str("target_user_id", id);
            }
            if let Some(name) = str_at(banned, "displayName") {
                extras.insert_str("target_user_name", name);
            }
            let temporary = str_at(details, "banType") == Some("temporary");
            extras.insert_str(
                "ban_type",
                if temporary { "temporary" } else { "permanent" },
            );
            if let Some(seconds) = u64_at(details, "banDurationSeconds") {
                extras.insert_u64("ban_duration_s", seconds);
            }
            let kind = if temporary {
                EventKind::Timeout
            } else {
                EventKind::Ban
            };
            (kind, "")
        }
        "chatEndedEvent" => {
            extras.insert_str("event", "chat_ended");
            (EventKind::Notice, "")
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
            (EventKind::RoomState, "")
        }
        "pollEvent" => {
            extras.insert_str("event", "poll");
            if let Some(poll) = snippet.get("pollDetails").filter(|v| v.is_object()) {
                extras.insert_value("poll", poll);
            }
            (EventKind::Other, display)
        }
        "tombstone" => {
            extras.insert_str("event", "tombstone");
            (EventKind::Other, "")
        }
        other => {
            // A type this build does not know: kept, with its snippet, for later builds and replays.
            extras.insert_str("event", if other.is_empty() { "unknown" } else { other });
            extras.insert_value("snippet", snippet);
            (EventKind::Other, display)
        }
    }
}

fn money(details: &Value, extras: &mut Extras) {
    if let Some(micros) = u64_at(details, "amountMicros") {
        extras.insert_u64("amount_micros", micros);
        // Micros are exact; the decimal amount is for display and triggers.
        let amount = format!(
            "{}.{:02}",
            micros / 1_000_000,
            (micros % 1_000_000) / 10_000
        );
        extras.insert_str("amount", &amount);
    }
    if let Some(currency) = str_at(details, "currency") {
        extras.insert_str("currency", currency);
    }
    if let Some(display) = str_at(details, "amountDisplayString") {
        extras.insert_str("amount_display", display);
    }
}

fn level(details: &Value, extras: &mut Extras) {
    if let Some(level) = str_at(details, "memberLevelName") {
        extras.insert_str("member_level", level);
    }
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

/// Reads an error response: the envelope when the body has one, else just the status.
pub fn parse_error(status: u16, body: &str) -> ApiError {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let null = Value::Null;
    let error = value.get("error").unwrap_or(&null);
    let first = error
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
        .unwrap_or(&null);
    ApiError {
        status,
        reason: str_at(first, "reason").unwrap_or("").to_owned(),
        domain: str_at(first, "domain").unwrap_or("").to_owned(),
        message: str_at(error, "message")
            .or_else(|| str_at(first, "message"))
            .unwrap_or("")
            .to_owned(),
    }
}

/// A live broadcast found by discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveChat {
    pub live_chat_id: String,
    /// When the broadcast started, when the API says.
    pub started_at: Option<DateTime<Utc>>,
}

/// `videos.list?part=liveStreamingDetails`: the first video's active chat, if it is live.
pub fn parse_video(body: &Value) -> Option<LiveChat> {
    let details = body
        .get("items")?
        .as_array()?
        .first()?
        .get("liveStreamingDetails")?;
    if str_at(details, "actualEndTime").is_some() {
        return None;
    }
    Some(LiveChat {
        live_chat_id: str_at(details, "activeLiveChatId")
            .filter(|id| !id.is_empty())?
            .to_owned(),
        started_at: str_at(details, "actualStartTime").and_then(parse_time),
    })
}

/// `search.list?eventType=live&type=video`: the ids of the live videos.
pub fn parse_search(body: &Value) -> Vec<String> {
    let Some(items) = body.get("items").and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|i| str_at(i.get("id")?, "videoId"))
        .map(str::to_owned)
        .collect()
}

/// `liveBroadcasts.list?part=snippet&broadcastStatus=active`: the first broadcast with a chat.
pub fn parse_broadcasts(body: &Value) -> Option<LiveChat> {
    body.get("items")?.as_array()?.iter().find_map(|item| {
        let snippet = item.get("snippet")?;
        Some(LiveChat {
            live_chat_id: str_at(snippet, "liveChatId")
                .filter(|id| !id.is_empty())?
                .to_owned(),
            started_at: str_at(snippet, "actualStartTime").and_then(parse_time),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// The response of PROTOCOLS.md §2.1, verbatim but for the elided ids.
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
        message(&item(kind, details_key, details), "demo", "chat1").expect("an event")
    }

    #[test]
    fn the_documented_page_parses_with_token_interval_text_and_super_chat() {
        let page = parse_list(&serde_json::from_str(PAGE).unwrap(), "demo", "fallback").unwrap();
        assert_eq!(page.next_page_token.as_deref(), Some("GLCe1Ja"));
        assert_eq!(page.polling_interval, Some(Duration::from_millis(2055)));
        assert!(!page.ended());
        assert_eq!(page.events.len(), 2);
        let text = &page.events[0];
        assert_eq!(text.message_id, "LCC.CjgKDQoLRDlm");
        assert_eq!(text.channel, "Cg0KC0Q5ZnFG");
        assert_eq!(text.text, "hello");
        assert_eq!(text.kind, EventKind::Message);
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
            sc.extras.as_json(),
            r#"{"event":"super_chat","amount_micros":5000000,"amount":"5.00","currency":"USD","amount_display":"$5.00","tier":2}"#
        );
    }

    #[test]
    fn every_message_type_is_normalized_and_unknown_types_are_kept() {
        let e = one(
            "superStickerEvent",
            "superStickerDetails",
            json!({"superStickerMetadata": {"stickerId": "st1", "altText": "Wave", "language": "en"},
                "amountMicros": "1990000", "currency": "EUR", "amountDisplayString": "€1.99", "tier": 1}),
        );
        assert_eq!(e.kind, EventKind::SuperChat);
        assert_eq!(e.extras.get("amount").unwrap(), "1.99");
        assert_eq!(e.extras.get("sticker_alt_text").unwrap(), "Wave");
        assert_eq!(e.extras.get("verified").unwrap(), true);
        assert!(e.author.roles.moderator);

        let e = one(
            "newSponsorEvent",
            "newSponsorDetails",
            json!({"memberLevelName": "Gold", "isUpgrade": true}),
        );
        assert_eq!(e.kind, EventKind::Subscription);
        assert_eq!(e.extras.get("is_upgrade").unwrap(), true);

        let e = one(
            "memberMilestoneChatEvent",
            "memberMilestoneChatDetails",
            json!({"userComment": "a year!", "memberMonth": 12, "memberLevelName": "Gold"}),
        );
        assert_eq!(
            (e.kind, e.text.as_str()),
            (EventKind::Subscription, "a year!")
        );
        assert_eq!(e.extras.get("months").unwrap(), 12);

        let e = one(
            "membershipGiftingEvent",
            "membershipGiftingDetails",
            json!({"giftMembershipsCount": 5, "giftMembershipsLevelName": "Gold"}),
        );
        assert_eq!(e.kind, EventKind::Subscription);
        assert_eq!(e.extras.get("gift_count").unwrap(), 5);

        let e = one(
            "giftMembershipReceivedEvent",
            "giftMembershipReceivedDetails",
            json!({"memberLevelName": "Gold", "gifterChannelId": "UCg", "associatedMembershipGiftingMessageId": "LCC.g"}),
        );
        assert_eq!(e.kind, EventKind::Subscription);
        assert_eq!(e.extras.get("gifter_channel_id").unwrap(), "UCg");

        let e = one(
            "messageDeletedEvent",
            "messageDeletedDetails",
            json!({"deletedMessageId": "LCC.gone"}),
        );
        assert_eq!(e.kind, EventKind::Deletion);
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
        let e = one(
            "pollEvent",
            "pollDetails",
            json!({"metadata": {"questionText": "Best?", "options": [{"optionText": "A"}]}, "status": "active"}),
        );
        assert_eq!(e.extras.get("event").unwrap(), "poll");
        assert!(e.extras.get("poll").unwrap()["metadata"].is_object());
        let e = one("tombstone", "", Value::Null);
        assert_eq!(e.extras.get("event").unwrap(), "tombstone");
        let e = one("giftEvent", "giftDetails", json!({"giftName": "rose"}));
        assert_eq!(e.kind, EventKind::Other);
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
    fn items_without_id_or_time_are_skipped_and_counted() {
        let page = parse_list(
            &json!({"items": [{"snippet": {"publishedAt": "2023-05-25T20:10:00Z"}},
                {"id": "x", "snippet": {"publishedAt": "yesterday"}}, 7]}),
            "demo",
            "c",
        )
        .unwrap();
        assert_eq!((page.events.len(), page.skipped), (0, 3));
        assert!(parse_list(&json!([1]), "demo", "c").is_err());
        assert!(parse_list(&json!({"items": {}}), "demo", "c").is_err());
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
            parse_video(&video),
            Some(LiveChat {
                live_chat_id: "chat1".into(),
                started_at: parse_time("2023-05-25T19:00:00Z")
            })
        );
        let ended = json!({"items": [{"liveStreamingDetails": {"actualEndTime": "2023-05-25T21:00:00Z", "activeLiveChatId": "chat1"}}]});
        assert_eq!(parse_video(&ended), None);
        assert_eq!(parse_video(&json!({"items": []})), None);
        assert_eq!(
            parse_search(&json!({"items": [{"id": {"kind": "youtube#video", "videoId": "v9"}}]})),
            vec!["v9".to_string()]
        );
        assert_eq!(
            parse_broadcasts(&json!({"items": [{"snippet": {"liveChatId": "c2"}}]}))
                .map(|c| c.live_chat_id),
            Some("c2".into())
        );
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-zA-Z0-9:. -]{0,12}".prop_map(Value::String),
            prop_oneof![
                Just("2023-05-25T20:08:08Z"),
                Just("textMessageEvent"),
                Just("superChatEvent"),
                Just("userBannedEvent"),
                Just("5000000")
            ]
            .prop_map(|s| Value::String(s.into())),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            let keys = prop_oneof![
                Just("items"),
                Just("id"),
                Just("snippet"),
                Just("type"),
                Just("publishedAt"),
                Just("authorDetails"),
                Just("superChatDetails"),
                Just("amountMicros"),
                Just("userBannedDetails"),
                Just("bannedUserDetails"),
                Just("banDurationSeconds"),
                Just("nextPageToken"),
                Just("pollingIntervalMillis"),
                Just("liveStreamingDetails"),
                Just("error"),
                Just("errors"),
                Just("superStickerMetadata"),
                Just("superStickerDetails"),
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((keys, inner), 0..6).prop_map(|kv| {
                    Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn parsers_never_panic_on_arbitrary_json(v in arb_json()) {
            let _ = parse_list(&v, "demo", "c");
            let _ = message(&v, "demo", "c");
            let _ = parse_video(&v);
            let _ = parse_search(&v);
            let _ = parse_broadcasts(&v);
            let _ = parse_error(403, &v.to_string()).class();
        }
    }
}
