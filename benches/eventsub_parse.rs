//! Twitch EventSub parsing throughput, in frames per second on one core: the WebSocket text frames
//! of an EventSub session read into `ChatEvent`s, the figure to set beside `twitch_parse`'s IRC
//! lines per second.
//!
//! The input is 400 frames built here, deterministically, in the shape of Twitch's EventSub
//! reference: 90% `channel.chat.message` (text, emote and mention fragments, badges, a cheer on
//! every twentieth), the rest `channel.chat.notification` (resubs, gifts, raids), `channel.follow`
//! and `session_keepalive`. Two figures:
//!
//! - `frame`: the envelope read by its `message_type` (`frames::parse`);
//! - `frame_normalize`: that plus the notification normalized into a `ChatEvent`
//!   (`events::normalize`), what the source does per frame.
//!
//! Run: `cargo bench --bench eventsub_parse` (and `--bench twitch_parse` for the IRC figure).

/// The allocator the `ss` binary uses, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ss::sources::twitch::eventsub::events::normalize;
use ss::sources::twitch::eventsub::frames::{Frame, parse};
use std::hint::black_box;

const AT: &str = "2023-11-06T18:11:47.492253549Z";
const BROADCASTER: &str = r#""broadcaster_user_id":"1971641","broadcaster_user_login":"demo_channel","broadcaster_user_name":"Demo_Channel""#;

fn notification(i: usize, kind: &str, version: &str, event: &str) -> String {
    format!(
        r#"{{"metadata":{{"message_id":"befa7b53-d79d-478f-86b9-{i:012x}","message_type":"notification","message_timestamp":"{AT}","subscription_type":"{kind}","subscription_version":"{version}"}},"payload":{{"subscription":{{"id":"0b7f3361-672b-4d39-b307-dd5b576c9b27","status":"enabled","type":"{kind}","version":"{version}","cost":0,"condition":{{"broadcaster_user_id":"1971641","user_id":"1971641"}},"transport":{{"method":"websocket","session_id":"AQoQexAWVYKSTIu4ec_2VAxyuhAB"}},"created_at":"{AT}"}},"event":{event}}}}}"#
    )
}

fn chat(i: usize) -> String {
    let cheer = if i.is_multiple_of(20) {
        r#"{"bits":100}"#
    } else {
        "null"
    };
    let event = format!(
        r##"{{{BROADCASTER},"chatter_user_id":"{user}","chatter_user_login":"viewer_{user}","chatter_user_name":"Viewer_{user}","message_id":"cc106a89-1814-919d-454c-{i:012x}","message":{{"text":"hello there Kappa @demo_channel how is the stream going today","fragments":[{{"type":"text","text":"hello there ","cheermote":null,"emote":null,"mention":null}},{{"type":"emote","text":"Kappa","cheermote":null,"emote":{{"id":"25","emote_set_id":"0","owner_id":"0","format":["static","animated"]}},"mention":null}},{{"type":"text","text":" ","cheermote":null,"emote":null,"mention":null}},{{"type":"mention","text":"@demo_channel","cheermote":null,"emote":null,"mention":{{"user_id":"1971641","user_name":"Demo_Channel","user_login":"demo_channel"}}}},{{"type":"text","text":" how is the stream going today","cheermote":null,"emote":null,"mention":null}}]}},"message_type":"text","badges":[{{"set_id":"subscriber","id":"12","info":"16"}},{{"set_id":"premium","id":"1","info":""}}],"cheer":{cheer},"color":"#1E90FF","reply":null,"channel_points_custom_reward_id":null,"channel_points_animation_id":null,"source_broadcaster_user_id":null,"source_broadcaster_user_login":null,"source_broadcaster_user_name":null,"source_message_id":null,"source_badges":null,"is_source_only":null}}"##,
        user = 20_000 + i % 200,
    );
    notification(i, "channel.chat.message", "1", &event)
}

const NOTICE_TYPES: [&str; 21] = [
    "sub",
    "resub",
    "sub_gift",
    "community_sub_gift",
    "gift_paid_upgrade",
    "prime_paid_upgrade",
    "raid",
    "unraid",
    "pay_it_forward",
    "announcement",
    "bits_badge_tier",
    "charity_donation",
    "shared_chat_sub",
    "shared_chat_resub",
    "shared_chat_sub_gift",
    "shared_chat_community_sub_gift",
    "shared_chat_gift_paid_upgrade",
    "shared_chat_prime_paid_upgrade",
    "shared_chat_raid",
    "shared_chat_pay_it_forward",
    "shared_chat_announcement",
];

fn notice(i: usize) -> String {
    let (notice_type, object) = match i % 3 {
        0 => (
            "resub",
            r#"{"cumulative_months":10,"duration_months":1,"streak_months":3,"sub_tier":"1000","is_prime":false,"is_gift":false,"gifter_is_anonymous":null,"gifter_user_id":null,"gifter_user_name":null,"gifter_user_login":null}"#,
        ),
        1 => (
            "sub_gift",
            r#"{"duration_months":1,"cumulative_total":null,"recipient_user_id":"501","recipient_user_name":"Lucky","recipient_user_login":"lucky","sub_tier":"1000","community_gift_id":null}"#,
        ),
        _ => (
            "raid",
            r#"{"user_id":"4242","user_name":"Raider_One","user_login":"raider_one","viewer_count":42,"profile_image_url":""}"#,
        ),
    };
    let objects: Vec<String> = NOTICE_TYPES
        .iter()
        .map(|k| {
            if *k == notice_type {
                format!(r#""{k}":{object}"#)
            } else {
                format!(r#""{k}":null"#)
            }
        })
        .collect();
    let event = format!(
        r##"{{{BROADCASTER},"chatter_user_id":"33333333","chatter_user_login":"gutrin2","chatter_user_name":"Gutrin2","chatter_is_anonymous":false,"color":"#0000FF","badges":[{{"set_id":"subscriber","id":"0","info":"2"}}],"system_message":"A system message.","message_id":"n-{i}","message":{{"text":"great stream","fragments":[{{"type":"text","text":"great stream","cheermote":null,"emote":null,"mention":null}}]}},"notice_type":"{notice_type}",{},"source_broadcaster_user_id":null,"source_broadcaster_user_login":null,"source_broadcaster_user_name":null,"source_message_id":null,"source_badges":null}}"##,
        objects.join(",")
    );
    notification(i, "channel.chat.notification", "1", &event)
}

fn follow(i: usize) -> String {
    let event = format!(
        r#"{{"user_id":"{i}","user_login":"fan_{i}","user_name":"Fan_{i}",{BROADCASTER},"followed_at":"{AT}"}}"#
    );
    notification(i, "channel.follow", "2", &event)
}

fn keepalive(i: usize) -> String {
    format!(
        r#"{{"metadata":{{"message_id":"84c1e79a-2a4b-4c13-ba0b-{i:012x}","message_type":"session_keepalive","message_timestamp":"{AT}"}},"payload":{{}}}}"#
    )
}

/// 400 frames: 360 chat messages, then notices, follows and keepalives spread among them.
fn frames() -> Vec<String> {
    (0..400)
        .map(|i| match i % 40 {
            7 | 27 => notice(i),
            17 => follow(i),
            37 => keepalive(i),
            _ => chat(i),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let frames = frames();
    for frame in &frames {
        if let Frame::Notification(n) = parse(frame).expect("a valid frame") {
            normalize(&n, "demo").expect("a valid notification");
        }
    }
    let mut group = c.benchmark_group("eventsub_frames");
    group.throughput(Throughput::Elements(frames.len() as u64));
    group.bench_function("frame", |b| {
        b.iter(|| {
            for frame in &frames {
                let _ = black_box(parse(black_box(frame)));
            }
        })
    });
    group.bench_function("frame_normalize", |b| {
        b.iter(|| {
            for frame in &frames {
                if let Ok(Frame::Notification(n)) = parse(black_box(frame)) {
                    let _ = black_box(normalize(&n, "demo"));
                }
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
