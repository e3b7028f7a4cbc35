//! Parses and normalizes the realistic Twitch fixture a fixed number of times, for instruction
//! counts under a profiler (`valgrind --tool=callgrind`), where criterion's timed loop would make
//! the amount of work vary from run to run.
//!
//! Run: `cargo build --release --example twitch_decode_loop`, then
//! `valgrind --tool=callgrind target/release/examples/twitch_decode_loop 200`; divide the
//! instructions by `passes x 400` for instructions per line.

/// The allocator the `ss` binary uses, so the counts are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use ss::sources::twitch::decode::decode;
use ss::sources::twitch::irc::parse;
use std::hint::black_box;

const LINES: &str = include_str!("../fixtures/twitch/lines.txt");

fn main() {
    let passes: usize = match std::env::args().nth(1) {
        Some(arg) => match arg.parse() {
            Ok(n) => n,
            Err(_) => {
                eprintln!("usage: twitch_decode_loop [PASSES]: PASSES is a count, not {arg:?}");
                std::process::exit(2);
            }
        },
        None => 100,
    };
    let lines: Vec<&str> = LINES.lines().collect();
    let received = chrono::DateTime::from_timestamp_millis(1_700_000_000_000).expect("valid time");
    let mut events = 0usize;
    for _ in 0..passes {
        for line in &lines {
            if let Ok(msg) = parse(black_box(line)) {
                events += usize::from(black_box(decode(&msg, "demo", received)).is_some());
            }
        }
    }
    println!("{} lines, {events} events", passes * lines.len());
}
