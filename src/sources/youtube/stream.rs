//! `liveChatMessages.streamList`: the gRPC server-streaming read Google now recommends
//! (`"transport": "stream"` in the creator's youtube block).
//!
//! The messages are Google's `stream_list.proto` (proto2, with Google's field numbers),
//! derived in code with prost so the build needs no `protoc`. A response is turned into the JSON
//! shape of a `list` page ([`response_json`]) and normalized by the same parsers as `list`
//! ([`super::wire`]), so both transports produce identical events. Statuses map to the error
//! classes of `list` ([`status_error`]): FAILED_PRECONDITION and NOT_FOUND end the chat,
//! PERMISSION_DENIED and UNAUTHENTICATED are a credentials problem, RESOURCE_EXHAUSTED is the
//! daily quota when its message says so and a rate limit otherwise.

use super::client::{Auth, CallError};
use super::wire::ApiError;
use serde_json::{Value, json};

/// The method's path.
pub const STREAM_LIST_PATH: &str = "/youtube.api.v3.V3DataLiveChatMessageService/StreamList";
/// Google's gRPC endpoint.
pub const DEFAULT_GRPC_URL: &str = "https://youtube.googleapis.com";

#[derive(Clone, PartialEq, prost::Message)]
pub struct ListRequest {
    #[prost(string, optional, tag = "1")]
    pub live_chat_id: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub hl: Option<String>,
    #[prost(uint32, optional, tag = "3")]
    pub profile_image_size: Option<u32>,
    #[prost(uint32, optional, tag = "98")]
    pub max_results: Option<u32>,
    #[prost(string, optional, tag = "99")]
    pub page_token: Option<String>,
    #[prost(string, repeated, tag = "100")]
    pub part: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ListResponse {
    #[prost(string, optional, tag = "200")]
    pub kind: Option<String>,
    #[prost(string, optional, tag = "201")]
    pub etag: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub offline_at: Option<String>,
    #[prost(message, optional, tag = "1004")]
    pub page_info: Option<PageInfo>,
    #[prost(string, optional, tag = "100602")]
    pub next_page_token: Option<String>,
    #[prost(message, repeated, tag = "1007")]
    pub items: Vec<LiveChatMessage>,
    #[prost(message, optional, tag = "1008")]
    pub active_poll_item: Option<LiveChatMessage>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PageInfo {
    #[prost(int32, optional, tag = "1")]
    pub total_results: Option<i32>,
    #[prost(int32, optional, tag = "2")]
    pub results_per_page: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LiveChatMessage {
    #[prost(string, optional, tag = "200")]
    pub kind: Option<String>,
    #[prost(string, optional, tag = "201")]
    pub etag: Option<String>,
    #[prost(string, optional, tag = "101")]
    pub id: Option<String>,
    #[prost(message, optional, tag = "2")]
    pub snippet: Option<Snippet>,
    #[prost(message, optional, tag = "3")]
    pub author_details: Option<AuthorDetails>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AuthorDetails {
    #[prost(string, optional, tag = "10101")]
    pub channel_id: Option<String>,
    #[prost(string, optional, tag = "102")]
    pub channel_url: Option<String>,
    #[prost(string, optional, tag = "103")]
    pub display_name: Option<String>,
    #[prost(string, optional, tag = "104")]
    pub profile_image_url: Option<String>,
    #[prost(bool, optional, tag = "4")]
    pub is_verified: Option<bool>,
    #[prost(bool, optional, tag = "5")]
    pub is_chat_owner: Option<bool>,
    #[prost(bool, optional, tag = "6")]
    pub is_chat_sponsor: Option<bool>,
    #[prost(bool, optional, tag = "7")]
    pub is_chat_moderator: Option<bool>,
}

/// `LiveChatMessageSnippet`; the `displayed_content` oneof is one optional field per member (the
/// same wire format).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Snippet {
    /// `TypeWrapper.Type`.
    #[prost(int32, optional, tag = "1")]
    pub r#type: Option<i32>,
    #[prost(string, optional, tag = "201")]
    pub live_chat_id: Option<String>,
    #[prost(string, optional, tag = "301")]
    pub author_channel_id: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub published_at: Option<String>,
    #[prost(bool, optional, tag = "17")]
    pub has_display_content: Option<bool>,
    #[prost(string, optional, tag = "16")]
    pub display_message: Option<String>,
    #[prost(message, optional, tag = "19")]
    pub text_message_details: Option<TextMessageDetails>,
    #[prost(message, optional, tag = "20")]
    pub message_deleted_details: Option<MessageDeletedDetails>,
    #[prost(message, optional, tag = "21")]
    pub message_retracted_details: Option<MessageRetractedDetails>,
    #[prost(message, optional, tag = "22")]
    pub user_banned_details: Option<UserBannedDetails>,
    #[prost(message, optional, tag = "27")]
    pub super_chat_details: Option<SuperChatDetails>,
    #[prost(message, optional, tag = "28")]
    pub super_sticker_details: Option<SuperStickerDetails>,
    #[prost(message, optional, tag = "29")]
    pub new_sponsor_details: Option<NewSponsorDetails>,
    #[prost(message, optional, tag = "30")]
    pub member_milestone_chat_details: Option<MemberMilestoneChatDetails>,
    #[prost(message, optional, tag = "31")]
    pub membership_gifting_details: Option<MembershipGiftingDetails>,
    #[prost(message, optional, tag = "32")]
    pub gift_membership_received_details: Option<GiftMembershipReceivedDetails>,
    #[prost(message, optional, tag = "33")]
    pub poll_details: Option<PollDetails>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TextMessageDetails {
    #[prost(string, optional, tag = "1")]
    pub message_text: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MessageDeletedDetails {
    #[prost(string, optional, tag = "101")]
    pub deleted_message_id: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MessageRetractedDetails {
    #[prost(string, optional, tag = "201")]
    pub retracted_message_id: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ChannelProfileDetails {
    #[prost(string, optional, tag = "101")]
    pub channel_id: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub channel_url: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub display_name: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub profile_image_url: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct UserBannedDetails {
    #[prost(message, optional, tag = "1")]
    pub banned_user_details: Option<ChannelProfileDetails>,
    /// 1 permanent, 2 temporary.
    #[prost(int32, optional, tag = "2")]
    pub ban_type: Option<i32>,
    #[prost(uint64, optional, tag = "4")]
    pub ban_duration_seconds: Option<u64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SuperChatDetails {
    #[prost(uint64, optional, tag = "1")]
    pub amount_micros: Option<u64>,
    #[prost(string, optional, tag = "2")]
    pub currency: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub amount_display_string: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub user_comment: Option<String>,
    #[prost(uint32, optional, tag = "5")]
    pub tier: Option<u32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SuperStickerDetails {
    #[prost(uint64, optional, tag = "1")]
    pub amount_micros: Option<u64>,
    #[prost(string, optional, tag = "2")]
    pub currency: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub amount_display_string: Option<String>,
    #[prost(uint32, optional, tag = "4")]
    pub tier: Option<u32>,
    #[prost(message, optional, tag = "5")]
    pub super_sticker_metadata: Option<SuperStickerMetadata>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SuperStickerMetadata {
    #[prost(string, optional, tag = "1")]
    pub sticker_id: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub alt_text: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub alt_text_language: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NewSponsorDetails {
    #[prost(string, optional, tag = "1")]
    pub member_level_name: Option<String>,
    #[prost(bool, optional, tag = "2")]
    pub is_upgrade: Option<bool>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MemberMilestoneChatDetails {
    #[prost(string, optional, tag = "1")]
    pub member_level_name: Option<String>,
    #[prost(uint32, optional, tag = "2")]
    pub member_month: Option<u32>,
    #[prost(string, optional, tag = "3")]
    pub user_comment: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MembershipGiftingDetails {
    #[prost(int32, optional, tag = "1")]
    pub gift_memberships_count: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub gift_memberships_level_name: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GiftMembershipReceivedDetails {
    #[prost(string, optional, tag = "1")]
    pub member_level_name: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub gifter_channel_id: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub associated_membership_gifting_message_id: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PollDetails {
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<PollMetadata>,
    /// 0 unknown, 1 active, 2 closed.
    #[prost(int32, optional, tag = "2")]
    pub status: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PollMetadata {
    #[prost(string, optional, tag = "1")]
    pub question_text: Option<String>,
    #[prost(message, repeated, tag = "2")]
    pub options: Vec<PollOption>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PollOption {
    #[prost(string, optional, tag = "1")]
    pub option_text: Option<String>,
    #[prost(int64, optional, tag = "2")]
    pub tally: Option<i64>,
}

/// `TypeWrapper.Type` ↔ the REST `snippet.type` names.
pub const TYPES: [(i32, &str); 16] = [
    (1, "textMessageEvent"),
    (2, "tombstone"),
    (3, "fanFundingEvent"),
    (4, "chatEndedEvent"),
    (5, "sponsorOnlyModeStartedEvent"),
    (6, "sponsorOnlyModeEndedEvent"),
    (7, "newSponsorEvent"),
    (8, "messageDeletedEvent"),
    (9, "messageRetractedEvent"),
    (10, "userBannedEvent"),
    (15, "superChatEvent"),
    (16, "superStickerEvent"),
    (17, "memberMilestoneChatEvent"),
    (18, "membershipGiftingEvent"),
    (19, "giftMembershipReceivedEvent"),
    (20, "pollEvent"),
];

/// The REST name of a type number; a number this build does not know keeps it (`type21`).
pub fn type_name(n: i32) -> String {
    TYPES
        .iter()
        .find(|(k, _)| *k == n)
        .map_or_else(|| format!("type{n}"), |(_, name)| (*name).to_owned())
}

/// The type number of a REST name (for test servers).
pub fn type_number(name: &str) -> i32 {
    TYPES
        .iter()
        .find(|(_, n)| *n == name)
        .map_or(0, |(k, _)| *k)
}

/// Inserts `value` under `key` when it is present.
fn put<T: serde::Serialize>(
    obj: &mut serde_json::Map<String, Value>,
    key: &str,
    value: &Option<T>,
) {
    if let Some(v) = value {
        obj.insert(key.to_owned(), json!(v));
    }
}

/// One message in the JSON shape of `liveChatMessages.list` (uint64s as strings, like Google's JSON).
pub fn message_json(m: &LiveChatMessage) -> Value {
    let mut item = serde_json::Map::new();
    put(&mut item, "kind", &m.kind);
    put(&mut item, "etag", &m.etag);
    put(&mut item, "id", &m.id);
    if let Some(s) = &m.snippet {
        let mut sn = serde_json::Map::new();
        if let Some(t) = s.r#type {
            sn.insert("type".into(), json!(type_name(t)));
        }
        put(&mut sn, "liveChatId", &s.live_chat_id);
        put(&mut sn, "authorChannelId", &s.author_channel_id);
        put(&mut sn, "publishedAt", &s.published_at);
        put(&mut sn, "hasDisplayContent", &s.has_display_content);
        put(&mut sn, "displayMessage", &s.display_message);
        let micros = |m: Option<u64>| m.map(|m| m.to_string());
        if let Some(d) = &s.text_message_details {
            sn.insert(
                "textMessageDetails".into(),
                json!({"messageText": d.message_text}),
            );
        }
        if let Some(d) = &s.message_deleted_details {
            sn.insert(
                "messageDeletedDetails".into(),
                json!({"deletedMessageId": d.deleted_message_id}),
            );
        }
        if let Some(d) = &s.message_retracted_details {
            sn.insert(
                "messageRetractedDetails".into(),
                json!({"retractedMessageId": d.retracted_message_id}),
            );
        }
        if let Some(d) = &s.user_banned_details {
            let banned = d.banned_user_details.as_ref().map(|b| {
                json!({"channelId": b.channel_id, "channelUrl": b.channel_url,
                    "displayName": b.display_name, "profileImageUrl": b.profile_image_url})
            });
            let ban_type = match d.ban_type {
                Some(2) => "temporary",
                _ => "permanent",
            };
            sn.insert(
                "userBannedDetails".into(),
                json!({"bannedUserDetails": banned, "banType": ban_type,
                    "banDurationSeconds": micros(d.ban_duration_seconds)}),
            );
        }
        if let Some(d) = &s.super_chat_details {
            sn.insert(
                "superChatDetails".into(),
                json!({"amountMicros": micros(d.amount_micros), "currency": d.currency,
                    "amountDisplayString": d.amount_display_string, "userComment": d.user_comment,
                    "tier": d.tier}),
            );
        }
        if let Some(d) = &s.super_sticker_details {
            let meta = d.super_sticker_metadata.as_ref().map(|m| {
                json!({"stickerId": m.sticker_id, "altText": m.alt_text, "language": m.alt_text_language})
            });
            sn.insert(
                "superStickerDetails".into(),
                json!({"superStickerMetadata": meta, "amountMicros": micros(d.amount_micros),
                    "currency": d.currency, "amountDisplayString": d.amount_display_string,
                    "tier": d.tier}),
            );
        }
        if let Some(d) = &s.new_sponsor_details {
            sn.insert(
                "newSponsorDetails".into(),
                json!({"memberLevelName": d.member_level_name, "isUpgrade": d.is_upgrade}),
            );
        }
        if let Some(d) = &s.member_milestone_chat_details {
            sn.insert(
                "memberMilestoneChatDetails".into(),
                json!({"memberLevelName": d.member_level_name, "memberMonth": d.member_month,
                    "userComment": d.user_comment}),
            );
        }
        if let Some(d) = &s.membership_gifting_details {
            sn.insert(
                "membershipGiftingDetails".into(),
                json!({"giftMembershipsCount": d.gift_memberships_count,
                    "giftMembershipsLevelName": d.gift_memberships_level_name}),
            );
        }
        if let Some(d) = &s.gift_membership_received_details {
            sn.insert(
                "giftMembershipReceivedDetails".into(),
                json!({"memberLevelName": d.member_level_name, "gifterChannelId": d.gifter_channel_id,
                    "associatedMembershipGiftingMessageId": d.associated_membership_gifting_message_id}),
            );
        }
        if let Some(d) = &s.poll_details {
            let metadata = d.metadata.as_ref().map(|m| {
                let options: Vec<Value> = m
                    .options
                    .iter()
                    .map(|o| json!({"optionText": o.option_text, "tally": o.tally.map(|t| t.to_string())}))
                    .collect();
                json!({"questionText": m.question_text, "options": options})
            });
            let status = match d.status {
                Some(1) => "active",
                Some(2) => "closed",
                _ => "unknown",
            };
            sn.insert(
                "pollDetails".into(),
                json!({"metadata": metadata, "status": status}),
            );
        }
        item.insert("snippet".into(), Value::Object(sn));
    }
    if let Some(a) = &m.author_details {
        item.insert(
            "authorDetails".into(),
            json!({"channelId": a.channel_id, "channelUrl": a.channel_url,
                "displayName": a.display_name, "profileImageUrl": a.profile_image_url,
                "isVerified": a.is_verified.unwrap_or(false),
                "isChatOwner": a.is_chat_owner.unwrap_or(false),
                "isChatSponsor": a.is_chat_sponsor.unwrap_or(false),
                "isChatModerator": a.is_chat_moderator.unwrap_or(false)}),
        );
    }
    Value::Object(item)
}

/// A response in the JSON shape of a `list` page (no `pollingIntervalMillis`: the server pushes).
pub fn response_json(r: &ListResponse) -> Value {
    let mut page = serde_json::Map::new();
    put(&mut page, "nextPageToken", &r.next_page_token);
    put(&mut page, "offlineAt", &r.offline_at);
    page.insert(
        "items".into(),
        Value::Array(r.items.iter().map(message_json).collect()),
    );
    Value::Object(page)
}

/// A gRPC status as the error of a `list` call, so both transports are handled alike.
pub fn status_error(status: &tonic::Status) -> CallError {
    use tonic::Code;
    let (http, reason) = match status.code() {
        Code::PermissionDenied => (403, "forbidden"),
        Code::Unauthenticated => (401, "authError"),
        Code::InvalidArgument => (400, "invalidArgument"),
        // gRPC cannot tell a disabled chat from an ended one; both send the source to discovery.
        Code::FailedPrecondition => (403, "liveChatEnded"),
        Code::NotFound => (404, "liveChatNotFound"),
        Code::ResourceExhausted if status.message().to_ascii_lowercase().contains("quota") => {
            (403, "quotaExceeded")
        }
        Code::ResourceExhausted => (403, "rateLimitExceeded"),
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Aborted => {
            return CallError::Transport(format!(
                "YouTube streamList: {:?}: {}",
                status.code(),
                status.message()
            ));
        }
        _ => (500, ""),
    };
    CallError::Api(ApiError {
        status: http,
        reason: reason.to_owned(),
        domain: if reason == "quotaExceeded" {
            "youtube.quota".into()
        } else {
            "grpc".into()
        },
        message: format!("{:?}: {}", status.code(), status.message()),
    })
}

/// An open `streamList` connection.
pub struct Stream(tonic::Streaming<ListResponse>);

impl Stream {
    /// Opens the stream for `chat` from `page_token` at `url`.
    pub async fn open(
        url: &str,
        chat: &str,
        page_token: Option<&str>,
        auth: &Auth,
    ) -> Result<Stream, CallError> {
        let transport = |e: &dyn std::fmt::Display| {
            CallError::Transport(format!("YouTube streamList: cannot connect to {url}: {e}"))
        };
        let mut endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())
            .map_err(|e| transport(&e))?
            .connect_timeout(std::time::Duration::from_secs(10));
        if url.starts_with("https://") {
            endpoint = endpoint
                .tls_config(crate::tls::grpc_client_config().map_err(|e| transport(&e))?)
                .map_err(|e| transport(&e))?;
        }
        let channel = endpoint.connect().await.map_err(|e| transport(&e))?;
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.map_err(|e| transport(&e))?;
        let mut request = tonic::Request::new(ListRequest {
            live_chat_id: Some(chat.to_owned()),
            page_token: page_token.map(str::to_owned),
            part: vec!["snippet".into(), "authorDetails".into()],
            max_results: Some(2000),
            ..ListRequest::default()
        });
        let metadata = match auth {
            Auth::ApiKey(key) => ("x-goog-api-key", key.expose().to_owned()),
            Auth::Bearer(token) => ("authorization", format!("Bearer {}", token.expose())),
        };
        let value = metadata.1.parse().map_err(|_| {
            CallError::Transport("the credential is not a valid header value".into())
        })?;
        request.metadata_mut().insert(metadata.0, value);
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(STREAM_LIST_PATH);
        let response = grpc
            .server_streaming(request, path, tonic_prost::ProstCodec::default())
            .await
            .map_err(|s| status_error(&s))?;
        Ok(Stream(response.into_inner()))
    }

    /// The next batch; `None` when the server closed the stream cleanly.
    pub async fn next(&mut self) -> Result<Option<ListResponse>, CallError> {
        self.0.message().await.map_err(|s| status_error(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn a_response_on_the_wire_normalizes_like_a_list_page() {
        let response = ListResponse {
            next_page_token: Some("T1".into()),
            items: vec![
                LiveChatMessage {
                    id: Some("LCC.a".into()),
                    snippet: Some(Snippet {
                        r#type: Some(15),
                        live_chat_id: Some("chat".into()),
                        published_at: Some("2023-05-25T20:09:00+00:00".into()),
                        super_chat_details: Some(SuperChatDetails {
                            amount_micros: Some(5_000_000),
                            currency: Some("USD".into()),
                            amount_display_string: Some("$5.00".into()),
                            user_comment: Some("nice".into()),
                            tier: Some(2),
                        }),
                        ..Snippet::default()
                    }),
                    author_details: Some(AuthorDetails {
                        channel_id: Some("UCa".into()),
                        display_name: Some("Viewer2".into()),
                        is_chat_sponsor: Some(true),
                        ..AuthorDetails::default()
                    }),
                    ..LiveChatMessage::default()
                },
                LiveChatMessage {
                    id: Some("LCC.b".into()),
                    snippet: Some(Snippet {
                        r#type: Some(10),
                        published_at: Some("2023-05-25T20:10:00Z".into()),
                        user_banned_details: Some(UserBannedDetails {
                            banned_user_details: Some(ChannelProfileDetails {
                                channel_id: Some("UCbad".into()),
                                display_name: Some("Troll".into()),
                                ..ChannelProfileDetails::default()
                            }),
                            ban_type: Some(2),
                            ban_duration_seconds: Some(300),
                        }),
                        ..Snippet::default()
                    }),
                    ..LiveChatMessage::default()
                },
                LiveChatMessage {
                    id: Some("LCC.c".into()),
                    snippet: Some(Snippet {
                        r#type: Some(42),
                        published_at: Some("2023-05-25T20:11:00Z".into()),
                        ..Snippet::default()
                    }),
                    ..LiveChatMessage::default()
                },
            ],
            ..ListResponse::default()
        };
        // Through the wire format and back, as a server would send it.
        let decoded = ListResponse::decode(response.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded, response);
        let page =
            super::super::wire::parse_list(&response_json(&decoded), "demo", "chat").unwrap();
        assert_eq!(page.next_page_token.as_deref(), Some("T1"));
        assert_eq!(page.polling_interval, None);
        let sc = &page.events[0];
        assert_eq!(sc.kind, crate::event::EventKind::SuperChat);
        assert_eq!(sc.extras.get("amount_micros").unwrap(), 5_000_000);
        assert!(sc.author.roles.subscriber);
        assert_eq!(page.events[1].kind, crate::event::EventKind::Timeout);
        assert_eq!(page.events[1].extras.get("ban_duration_s").unwrap(), 300);
        assert_eq!(page.events[2].extras.get("event").unwrap(), "type42");
    }

    #[test]
    fn the_request_uses_the_documented_field_numbers() {
        let request = ListRequest {
            live_chat_id: Some("c".into()),
            page_token: Some("t".into()),
            max_results: Some(2000),
            part: vec!["snippet".into()],
            ..ListRequest::default()
        };
        let bytes = request.encode_to_vec();
        // live_chat_id = 1 (key 0x0a), max_results = 98 (varint key 0x90 0x06),
        // page_token = 99 (key 0x9a 0x06), part = 100 (key 0xa2 0x06).
        assert_eq!(&bytes[..3], &[0x0a, 1, b'c']);
        let keys: Vec<&[u8]> = vec![&[0x90, 0x06], &[0x9a, 0x06], &[0xa2, 0x06]];
        for key in keys {
            assert!(bytes.windows(2).any(|w| w == key), "{bytes:?}");
        }
    }

    #[test]
    fn statuses_map_to_the_list_error_classes() {
        use super::super::wire::ErrorClass;
        use tonic::{Code, Status};
        let class = |s: Status| match status_error(&s) {
            CallError::Api(e) => Some(e.class()),
            CallError::Transport(_) => None,
        };
        assert_eq!(
            class(Status::new(Code::FailedPrecondition, "ended")),
            Some(ErrorClass::ChatGone)
        );
        assert_eq!(
            class(Status::new(Code::NotFound, "x")),
            Some(ErrorClass::ChatGone)
        );
        assert_eq!(
            class(Status::new(Code::PermissionDenied, "x")),
            Some(ErrorClass::Credentials)
        );
        assert_eq!(
            class(Status::new(Code::Unauthenticated, "x")),
            Some(ErrorClass::Credentials)
        );
        assert_eq!(
            class(Status::new(Code::ResourceExhausted, "too fast")),
            Some(ErrorClass::RateLimited)
        );
        assert_eq!(
            class(Status::new(
                Code::ResourceExhausted,
                "Quota exceeded for quota metric"
            )),
            Some(ErrorClass::QuotaExceeded)
        );
        assert_eq!(class(Status::new(Code::Unavailable, "x")), None);
    }
}
