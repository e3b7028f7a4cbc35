//! Kick Pusher frame parsing throughput, in frames per second on one core.
//!
//! The input is the reference `ChatMessageEvent` frame of Kick's Pusher chat events, as chat clients see them (an emote, two badges,
//! double-encoded `data`) and a plain reply, alternating. Two figures:
//!
//! - `frame`: [`parse_frame`] alone (the envelope, `data` decoded once);
//! - `frame_normalize`: [`parse_frame`] plus [`decode_app_event`] into a `ChatEvent`, what the
//!   source does per frame.
//!
//! Run: `cargo bench --bench kick_parse`.

/// The allocator the `ss` binary uses, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ss::sources::kick::wire::{Frame, Target, decode_app_event, parse_frame};
use std::hint::black_box;

const CHAT: &str = r##"{"event":"App\\Events\\ChatMessageEvent","data":"{\"id\":\"bbcdbcfd-8619-40c2-a0d0-ae7cf4c7a932\",\"chatroom_id\":1221707,\"content\":\"[emote:3989851:PogU] hi\",\"type\":\"message\",\"created_at\":\"2025-07-17T08:44:56+00:00\",\"sender\":{\"id\":3528468,\"username\":\"OhLookItsMax\",\"slug\":\"ohlookitsmax\",\"identity\":{\"color\":\"#FF9D00\",\"badges\":[{\"type\":\"vip\",\"text\":\"VIP\"},{\"type\":\"subscriber\",\"text\":\"Subscriber\",\"count\":26}]}},\"metadata\":{\"message_ref\":\"1752741896375\"}}","channel":"chatrooms.1221707.v2"}"##;
const REPLY: &str = r##"{"event":"App\\Events\\ChatMessageEvent","data":"{\"id\":\"c1\",\"chatroom_id\":1221707,\"content\":\"agreed, that was close\",\"type\":\"reply\",\"created_at\":\"2025-07-17T08:45:01+00:00\",\"sender\":{\"id\":42,\"username\":\"Someone\",\"slug\":\"someone\",\"identity\":{\"color\":\"#00FF00\",\"badges\":[]}},\"metadata\":{\"original_sender\":{\"id\":3528468,\"username\":\"OhLookItsMax\"},\"original_message\":{\"id\":\"bbcdbcfd-8619-40c2-a0d0-ae7cf4c7a932\",\"content\":\"hi\"}}}","channel":"chatrooms.1221707.v2"}"##;

fn bench(c: &mut Criterion) {
    let frames = [CHAT, REPLY];
    let target = Target {
        creator: "demo",
        channel: "ohlookitsmax",
        received: chrono::DateTime::from_timestamp_millis(1_752_741_900_000).expect("valid time"),
    };
    let mut group = c.benchmark_group("kick_frames");
    group.throughput(Throughput::Elements(frames.len() as u64));
    group.bench_function("frame", |b| {
        b.iter(|| {
            for frame in frames {
                let _ = black_box(parse_frame(black_box(frame)));
            }
        })
    });
    group.bench_function("frame_normalize", |b| {
        b.iter(|| {
            for frame in frames {
                if let Ok(Frame::App { event, data, .. }) = parse_frame(black_box(frame)) {
                    let _ = black_box(decode_app_event(&event, &data, target));
                }
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
