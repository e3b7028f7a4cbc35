//! Twitch IRC parsing throughput, in lines per second on one core.
//!
//! The input is `fixtures/twitch/lines.txt`: 400 realistic lines (97% PRIVMSG with the full tag set,
//! the rest USERNOTICE, CLEARCHAT, CLEARMSG, ROOMSTATE, PING), produced by the deterministic line
//! generator. Three figures:
//!
//! - `split`: [`parse`] alone (tags located, not yet split);
//! - `parse`: [`parse`] plus walking every tag and unescaping its value, which is what a parser
//!   that returns a tag map does (the comparable figure for other IRC parsers);
//! - `parse_normalize`: [`parse`] plus [`decode`] into a `ChatEvent`, what the source does per line.
//!
//! The same lines also go through twitch-irc-rs (`IRCMessage::parse`, then `ServerMessage::try_from`),
//! so the figures come with a reference measured on the same machine at the same time.
//!
//! Target: at least 2,000,000 lines/s for `parse_normalize`.
//! Run: `cargo bench --bench twitch_parse`.

/// The allocator the `ss` binary uses, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ss::sources::twitch::decode::decode;
use ss::sources::twitch::irc::parse;
use std::hint::black_box;

const LINES: &str = include_str!("../fixtures/twitch/lines.txt");

fn bench(c: &mut Criterion) {
    let lines: Vec<&str> = LINES.lines().collect();
    let received = chrono::DateTime::from_timestamp_millis(1_700_000_000_000).expect("valid time");
    let mut group = c.benchmark_group("twitch_lines");
    group.throughput(Throughput::Elements(lines.len() as u64));

    group.bench_function("split", |b| {
        b.iter(|| {
            for line in &lines {
                let _ = black_box(parse(black_box(line)));
            }
        })
    });

    group.bench_function("parse", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            for line in &lines {
                if let Ok(msg) = parse(black_box(line)) {
                    for (key, value) in msg.tags().iter() {
                        bytes += key.len() + value.unescape().len();
                    }
                    bytes += msg.params().map(str::len).sum::<usize>();
                }
            }
            black_box(bytes)
        })
    });

    group.bench_function("parse_normalize", |b| {
        b.iter(|| {
            for line in &lines {
                if let Ok(msg) = parse(black_box(line)) {
                    black_box(decode(&msg, "demo", received));
                }
            }
        })
    });
    group.bench_function("twitch_irc_rs_parse", |b| {
        b.iter(|| {
            for line in &lines {
                let _ = black_box(twitch_irc::message::IRCMessage::parse(black_box(line)));
            }
        })
    });

    group.bench_function("twitch_irc_rs_parse_normalize", |b| {
        b.iter(|| {
            for line in &lines {
                if let Ok(msg) = twitch_irc::message::IRCMessage::parse(black_box(line)) {
                    let _ = black_box(twitch_irc::message::ServerMessage::try_from(msg));
                }
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
