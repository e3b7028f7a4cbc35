//! Synthetic chat for benchmarks and the large-store generator: realistic sizes, unique ids.
//!
//! Shared by `benches/store_writer.rs`, `benches/export.rs` and `examples/fill_store.rs` through
//! `#[path]`, so all three measure the same shape of data.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use ss::event::{Author, ChatEvent, EventKind, Platform, Roles};

const WORDS: [&str; 16] = [
    "hype", "gg", "lol", "that", "was", "insane", "clip", "it", "pog", "nice", "play", "chat",
    "!vote", "zelda", "again", "letsgo",
];

/// The `i`-th synthetic chat message: one of 2,000 viewers, 4 words of text, 50 ms apart.
pub fn event(i: u64) -> ChatEvent {
    let user = i % 2_000;
    let platform = [
        Platform::named("twitch"),
        Platform::named("youtube"),
        Platform::named("kick"),
        Platform::named("sim"),
    ][(i % 4) as usize];
    let text = (0..4)
        .map(|k| WORDS[((i * 7 + k * 3) % 16) as usize])
        .collect::<Vec<_>>()
        .join(" ");
    let start = DateTime::from_timestamp(1_795_000_000, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    ChatEvent {
        platform,
        creator: "demo".into(),
        channel: "demo".into(),
        message_id: format!(
            "{:08x}-5f2c-4a7e-9b1d-{i:012x}",
            i.wrapping_mul(2_654_435_761) & 0xffff_ffff
        )
        .into(),
        timestamp: start + chrono::Duration::milliseconds((i * 50) as i64),
        kind: EventKind::Message,
        author: Author {
            id: format!("{}", 100_000 + user).into(),
            login: format!("viewer_{user}").into(),
            display_name: format!("Viewer_{user}").into(),
            roles: Roles {
                subscriber: user.is_multiple_of(5),
                moderator: user.is_multiple_of(97),
                ..Roles::default()
            },
        },
        text: text.into(),
        emotes: Default::default(),
        detail: None,
        extras: Default::default(),
        shared_from: None,
    }
}
