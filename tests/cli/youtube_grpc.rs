//! A local gRPC `liveChatMessages.streamList` server over the fake API's chat (youtube_server.rs),
//! speaking `stream_list.proto` with the field numbers of Google's stream_list.proto, and the stream
//! transport read through it: every kind once across reconnects, each reconnect from the last
//! token, FAILED_PRECONDITION back to discovery, RESOURCE_EXHAUSTED (quota) stopping the source.

use crate::harness::{until_found_explained, until_within};
use crate::youtube_server::{CHAT_ID, KNOWN_SECRETS, ModelTransport, Seen, VIDEO_ID, YoutubeModel};
use chrono::Utc;
use serde_json::Value;

use ss::config::secrets::Secrets;
use ss::lanes::{DataLane, Inbound};
use ss::sources::runner::polling;
use ss::sources::youtube::quota::QuotaProject;
use ss::sources::youtube::stream::*;
use ss::sources::youtube::{Clock, YoutubeEndpoints, YoutubeSource};
use ss::sources::youtube::{YoutubeQuota, YoutubeSettings};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tonic::codegen::{BoxFuture, Context, Poll, Service, StdError, http};
use tonic::{Status, body::Body};

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k)?.as_str().map(str::to_owned)
}

fn u(v: &Value, k: &str) -> Option<u64> {
    match v.get(k)? {
        Value::String(s) => s.parse().ok(),
        n => n.as_u64(),
    }
}

/// The model's JSON item as the proto message a gRPC server sends.
fn to_proto(item: &Value) -> LiveChatMessage {
    let sn = &item["snippet"];
    let kind = sn["type"].as_str().unwrap_or("");
    // A type from the future: a number this build does not know.
    let number = match type_number(kind) {
        0 => 21,
        n => n,
    };
    let d = |k: &str| sn.get(k).cloned().unwrap_or(Value::Null);
    let mut snippet = Snippet {
        r#type: Some(number),
        live_chat_id: s(sn, "liveChatId"),
        author_channel_id: s(sn, "authorChannelId"),
        published_at: s(sn, "publishedAt"),
        has_display_content: sn["hasDisplayContent"].as_bool(),
        display_message: s(sn, "displayMessage"),
        ..Snippet::default()
    };
    let t = d("textMessageDetails");
    if t.is_object() {
        snippet.text_message_details = Some(TextMessageDetails {
            message_text: s(&t, "messageText"),
        });
    }
    let t = d("superChatDetails");
    if t.is_object() {
        snippet.super_chat_details = Some(SuperChatDetails {
            amount_micros: u(&t, "amountMicros"),
            currency: s(&t, "currency"),
            amount_display_string: s(&t, "amountDisplayString"),
            user_comment: s(&t, "userComment"),
            tier: u(&t, "tier").map(|t| t as u32),
        });
    }
    let t = d("superStickerDetails");
    if t.is_object() {
        let m = &t["superStickerMetadata"];
        snippet.super_sticker_details = Some(SuperStickerDetails {
            amount_micros: u(&t, "amountMicros"),
            currency: s(&t, "currency"),
            amount_display_string: s(&t, "amountDisplayString"),
            tier: u(&t, "tier").map(|t| t as u32),
            super_sticker_metadata: Some(SuperStickerMetadata {
                sticker_id: s(m, "stickerId"),
                alt_text: s(m, "altText"),
                alt_text_language: s(m, "language"),
            }),
        });
    }
    let t = d("newSponsorDetails");
    if t.is_object() {
        snippet.new_sponsor_details = Some(NewSponsorDetails {
            member_level_name: s(&t, "memberLevelName"),
            is_upgrade: t["isUpgrade"].as_bool(),
        });
    }
    let t = d("memberMilestoneChatDetails");
    if t.is_object() {
        snippet.member_milestone_chat_details = Some(MemberMilestoneChatDetails {
            member_level_name: s(&t, "memberLevelName"),
            member_month: u(&t, "memberMonth").map(|m| m as u32),
            user_comment: s(&t, "userComment"),
        });
    }
    let t = d("membershipGiftingDetails");
    if t.is_object() {
        snippet.membership_gifting_details = Some(MembershipGiftingDetails {
            gift_memberships_count: u(&t, "giftMembershipsCount").map(|c| c as i32),
            gift_memberships_level_name: s(&t, "giftMembershipsLevelName"),
        });
    }
    let t = d("giftMembershipReceivedDetails");
    if t.is_object() {
        snippet.gift_membership_received_details = Some(GiftMembershipReceivedDetails {
            member_level_name: s(&t, "memberLevelName"),
            gifter_channel_id: s(&t, "gifterChannelId"),
            associated_membership_gifting_message_id: s(&t, "associatedMembershipGiftingMessageId"),
        });
    }
    let t = d("messageDeletedDetails");
    if t.is_object() {
        snippet.message_deleted_details = Some(MessageDeletedDetails {
            deleted_message_id: s(&t, "deletedMessageId"),
        });
    }
    let t = d("messageRetractedDetails");
    if t.is_object() {
        snippet.message_retracted_details = Some(MessageRetractedDetails {
            retracted_message_id: s(&t, "retractedMessageId"),
        });
    }
    let t = d("userBannedDetails");
    if t.is_object() {
        let b = &t["bannedUserDetails"];
        snippet.user_banned_details = Some(UserBannedDetails {
            banned_user_details: Some(ChannelProfileDetails {
                channel_id: s(b, "channelId"),
                channel_url: s(b, "channelUrl"),
                display_name: s(b, "displayName"),
                profile_image_url: s(b, "profileImageUrl"),
            }),
            ban_type: Some(if t["banType"] == "temporary" { 2 } else { 1 }),
            ban_duration_seconds: u(&t, "banDurationSeconds"),
        });
    }
    let t = d("pollDetails");
    if t.is_object() {
        snippet.poll_details = Some(PollDetails {
            metadata: Some(PollMetadata {
                question_text: s(&t["metadata"], "questionText"),
                options: Vec::new(),
            }),
            status: Some(1),
        });
    }
    let a = &item["authorDetails"];
    LiveChatMessage {
        kind: s(item, "kind"),
        etag: s(item, "etag"),
        id: s(item, "id"),
        snippet: Some(snippet),
        author_details: Some(AuthorDetails {
            channel_id: s(a, "channelId"),
            channel_url: s(a, "channelUrl"),
            display_name: s(a, "displayName"),
            profile_image_url: s(a, "profileImageUrl"),
            is_verified: a["isVerified"].as_bool(),
            is_chat_owner: a["isChatOwner"].as_bool(),
            is_chat_sponsor: a["isChatSponsor"].as_bool(),
            is_chat_moderator: a["isChatModerator"].as_bool(),
        }),
    }
}

/// The `V3DataLiveChatMessageService` over the model. Each stream ends by itself after
/// `batches_per_stream` batches, so clients must reconnect with their last token.
#[derive(Clone)]
pub struct GrpcChat {
    pub model: YoutubeModel,
    pub batches_per_stream: usize,
}

impl tonic::server::NamedService for GrpcChat {
    const NAME: &'static str = "youtube.api.v3.V3DataLiveChatMessageService";
}

struct StreamList(GrpcChat);

impl tonic::server::ServerStreamingService<ListRequest> for StreamList {
    type Response = ListResponse;
    type ResponseStream = tokio_stream::wrappers::ReceiverStream<Result<ListResponse, Status>>;
    type Future = BoxFuture<tonic::Response<Self::ResponseStream>, Status>;

    fn call(&mut self, request: tonic::Request<ListRequest>) -> Self::Future {
        let chat = self.0.clone();
        Box::pin(async move { chat.open(request) })
    }
}

impl GrpcChat {
    fn open(
        &self,
        request: tonic::Request<ListRequest>,
    ) -> Result<
        tonic::Response<tokio_stream::wrappers::ReceiverStream<Result<ListResponse, Status>>>,
        Status,
    > {
        let meta = |k: &str| {
            request
                .metadata()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let auth = match (meta("x-goog-api-key"), meta("authorization")) {
            (Some(key), _) => ("key", key),
            (None, Some(bearer)) => ("bearer", bearer.trim_start_matches("Bearer ").to_owned()),
            _ => return Err(Status::unauthenticated("no credentials")),
        };
        let req = request.into_inner();
        let now = Utc::now();
        let from: usize = req
            .page_token
            .as_deref()
            .and_then(|t| t.strip_prefix("tok-"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let opened = self.model.with(|s| {
            let mut query = BTreeMap::new();
            if let Some(t) = &req.page_token {
                query.insert("pageToken".to_string(), t.clone());
            }
            query.insert(
                "liveChatId".to_string(),
                req.live_chat_id.clone().unwrap_or_default(),
            );
            let ok = auth.1 == s.api_key || auth.1 == s.oauth_token;
            let result = if !ok {
                Err(Status::permission_denied("bad credentials"))
            } else if YoutubeModel::charge(s, 5, now).is_err() {
                Err(Status::resource_exhausted(
                    "Quota exceeded for quota metric 'Queries'",
                ))
            } else if let Some((_, reason)) = s.fail_list.pop_front() {
                Err(if reason == "quotaExceeded" {
                    Status::resource_exhausted("Quota exceeded for quota metric 'Queries'")
                } else {
                    Status::unavailable(reason)
                })
            } else if req.live_chat_id.as_deref() != Some(CHAT_ID) {
                Err(Status::not_found("liveChatNotFound"))
            } else if !s.live {
                Err(Status::failed_precondition(
                    "The live chat is no longer live.",
                ))
            } else {
                Ok(())
            };
            s.requests.push(Seen {
                at: now,
                method: "GRPC",
                path: "streamList".into(),
                query,
                auth: auth.0,
                status: if result.is_ok() { 200 } else { 403 },
                body: None,
            });
            result
        });
        opened?;
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let model = self.model.clone();
        let batches = self.batches_per_stream;
        tokio::spawn(async move {
            let mut from = from;
            let mut sent = 0;
            // The server looks at its chat every 40 ms and streams what is new.
            let mut looks = tokio::time::interval(Duration::from_millis(40));
            loop {
                looks.tick().await;
                let (items, end, live, overlap) = model.with(|s| {
                    let visible = s
                        .items
                        .iter()
                        .take_while(|(at, _)| *at <= Utc::now())
                        .count();
                    let start = from.saturating_sub(s.overlap).min(visible);
                    let items: Vec<LiveChatMessage> = s.items[start..visible]
                        .iter()
                        .map(|(_, v)| to_proto(v))
                        .collect();
                    (items, visible, s.live, s.overlap)
                });
                if !live {
                    let _ = tx
                        .send(Err(Status::failed_precondition(
                            "The live chat is no longer live.",
                        )))
                        .await;
                    return;
                }
                if items.len() > overlap.min(from) || (sent == 0 && !items.is_empty()) {
                    let batch = ListResponse {
                        kind: Some("youtube#liveChatMessageListResponse".into()),
                        next_page_token: Some(format!("tok-{end}")),
                        items,
                        ..ListResponse::default()
                    };
                    if tx.send(Ok(batch)).await.is_err() {
                        return;
                    }
                    from = end;
                    sent += 1;
                    if sent == batches {
                        // Close the stream cleanly: the client reconnects with its last token.
                        return;
                    }
                }
            }
        });
        Ok(tonic::Response::new(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
    }
}

impl<B> Service<http::Request<B>> for GrpcChat
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let chat = self.clone();
        Box::pin(async move {
            if req.uri().path() != STREAM_LIST_PATH {
                return Ok(Status::unimplemented("no such method").into_http());
            }
            let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
            Ok(grpc.server_streaming(StreamList(chat), req).await)
        })
    }
}

/// Serves `chat` on 127.0.0.1; the URL for `grpc_url`.
pub async fn serve(chat: GrpcChat) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(chat)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_list_reads_every_kind_once_across_reconnects_and_ends_in_discovery() {
    let start = Utc::now();
    let model = YoutubeModel::new(KNOWN_SECRETS[0], KNOWN_SECRETS[1], start);
    let kinds = model.every_kind(start - chrono::Duration::seconds(5));
    let (url, server) = serve(GrpcChat {
        model: model.clone(),
        batches_per_stream: 4,
    })
    .await;
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join(".env"),
        format!("SIM_YT_KEY={}\n", KNOWN_SECRETS[0]),
    )
    .unwrap();
    let secrets = Secrets::load(root.path());
    let settings: YoutubeSettings = serde_json::from_value(serde_json::json!({
        "enabled": true, "video_id": VIDEO_ID, "api_key_env": "SIM_YT_KEY",
        "transport": "stream", "discovery_interval_s": 1}))
    .unwrap();
    let quota = YoutubeQuota {
        min_interval_ms: 100,
        ..YoutubeQuota::default()
    };
    let project = Arc::new(QuotaProject::new("grpc", quota, &[], None, start));
    let clock = Clock::system();
    let source = YoutubeSource::new("demo", &settings, project.clone())
        .unwrap()
        .with_endpoints(YoutubeEndpoints {
            base_url: "http://unused.invalid".into(),
            grpc_url: url,
        })
        .with_transport(Arc::new(ModelTransport {
            model: model.clone(),
            clock: clock.clone(),
        }));
    let lane = DataLane::new(64, Duration::from_secs(1));
    let wiring = crate::youtube_server::wiring_on_sim_clock(&secrets, &lane);
    let (shutdown, status) = (wiring.shutdown.clone(), wiring.status.clone());
    let (ctx, track, serving) = wiring.build();
    let runner = tokio::spawn(polling::run(
        Box::new(source),
        ctx,
        None,
        None,
        track,
        serving,
    ));
    let DataLane { sink, receiver, .. } = lane;
    drop(sink);
    let mut receiver = receiver;
    let reader = tokio::spawn(async move {
        let mut ids = Vec::new();
        let mut cursors = Vec::new();
        while let Some(item) = receiver.recv().await {
            if let Inbound::Page(page) = item {
                ids.extend(page.events.iter().map(|e| e.message_id.to_string()));
                cursors.push(page.cursor);
            }
        }
        (ids, cursors)
    });
    // A steady chat while the streams come and go.
    let mut want = kinds.clone();
    let mut steady = tokio::time::interval(Duration::from_millis(30));
    for i in 0..60 {
        steady.tick().await;
        want.push(model.text(Utc::now(), "Viewer", &format!("streamed {i}")));
    }
    let total = model.with(|s| s.items.len()) as u64;
    until_within(Duration::from_secs(15), "every message streamed", || {
        status.snapshot().events >= total
    })
    .await;
    // The chat ends: FAILED_PRECONDITION sends the source back to discovery.
    let videos_before = model.requests_to("videos").len();
    model.with(|s| s.live = false);
    until_found_explained(
        Duration::from_secs(10),
        || std::future::ready((model.requests_to("videos").len() != videos_before).then_some(())),
        || {
            format!(
                "no discovery after the end: {:?} {:?}",
                model.with(|s| s
                    .requests
                    .iter()
                    .map(|r| (r.path.clone(), r.status, r.query.get("pageToken").cloned()))
                    .collect::<Vec<_>>()),
                status.snapshot()
            )
        },
    )
    .await;
    shutdown.cancel();
    runner.await.unwrap();
    server.abort();
    let (ids, cursors) = reader.await.unwrap();

    let mut got = ids.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want, "every message once");
    let opens = model.requests_to("streamList");
    assert!(
        opens.len() >= 3,
        "the server closed streams: {}",
        opens.len()
    );
    // Each reconnect carries the token after the last page handed over.
    for open in &opens[1..] {
        let token = open.query.get("pageToken").expect("a token on reconnect");
        assert!(
            cursors.iter().any(|c| c.ends_with(&format!("|{token}"))),
            "{token} was never a page's cursor"
        );
    }
    assert!(opens.iter().all(|o| o.auth == "key"));
    assert_eq!(status.snapshot().live.map(|l| l.live), Some(false));
    // Every connection was admitted by the planner and counted like a list call.
    let snapshot = project.snapshot(Utc::now());
    assert_eq!(
        snapshot.calls["liveChatMessages.list"].calls,
        opens.len() as u64
    );
    assert!(snapshot.units_used <= 9_500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_exhausted_for_quota_stops_the_stream_source_until_the_reset() {
    let start = Utc::now();
    let model = YoutubeModel::new(KNOWN_SECRETS[0], KNOWN_SECRETS[1], start);
    model.with(|s| s.fail_list.push_back((403, "quotaExceeded")));
    let (url, server) = serve(GrpcChat {
        model: model.clone(),
        batches_per_stream: 100,
    })
    .await;
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join(".env"),
        format!("SIM_YT_TOKEN={}\n", KNOWN_SECRETS[1]),
    )
    .unwrap();
    let secrets = Secrets::load(root.path());
    let settings: YoutubeSettings = serde_json::from_value(serde_json::json!({
        "enabled": true, "live_chat_id": CHAT_ID, "oauth_token_env": "SIM_YT_TOKEN",
        "transport": "stream"}))
    .unwrap();
    let project = Arc::new(QuotaProject::new(
        "grpc",
        YoutubeQuota::default(),
        &[],
        None,
        start,
    ));
    let source = YoutubeSource::new("demo", &settings, project.clone())
        .unwrap()
        .with_endpoints(YoutubeEndpoints {
            base_url: "http://unused.invalid".into(),
            grpc_url: url,
        });
    let lane = DataLane::new(64, Duration::from_secs(1));
    let wiring = crate::youtube_server::wiring_on_sim_clock(&secrets, &lane);
    let (shutdown, status) = (wiring.shutdown.clone(), wiring.status.clone());
    let telemetry = wiring.telemetry.clone();
    let (ctx, track, serving) = wiring.build();
    let runner = tokio::spawn(polling::run(
        Box::new(source),
        ctx,
        None,
        None,
        track,
        serving,
    ));
    // The runner has taken the answer as the quota spent until its reset (it then waits exactly
    // that long): the project says so.
    crate::harness::until_within(Duration::from_secs(20), "the quota marked spent", || {
        project.snapshot(Utc::now()).exhausted_until.is_some()
    })
    .await;
    shutdown.cancel();
    runner.await.unwrap();
    server.abort();
    let opens = model.requests_to("streamList");
    assert_eq!(
        opens.len(),
        1,
        "no second connection after the quota ran out"
    );
    assert_eq!(opens[0].auth, "bearer");
    assert_eq!(telemetry.errors()[0].error_type, "quota_exceeded");
    assert!(project.snapshot(Utc::now()).exhausted_until.is_some());
    let last_error = status.snapshot().last_error.unwrap();
    assert!(last_error.contains("quotaExceeded"), "{last_error}");
    assert!(!last_error.contains(KNOWN_SECRETS[1]));
}
