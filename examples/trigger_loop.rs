//! Instruction-count probe for the trigger engine: evaluates the 1,000-trigger bench set over
//! 20,000 sim events `PASSES` times (first argument, default 1). Run under callgrind twice with
//! different pass counts; the difference is the cost of the evaluation alone.

use chrono::{TimeZone, Utc};
use ss::sources::sim::SimChat;
use ss::sources::sim::SimSettings;
use ss::triggers::{Registry, TriggerState, evaluate};
use std::hint::black_box;

#[path = "../benches/support/triggers.rs"]
mod triggers;
use triggers::thousand_triggers;

fn main() {
    let passes: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let registry = Registry::compile(&thousand_triggers()).unwrap();
    let mut chat = SimChat::new("demo", "demo", &SimSettings::default(), "bench");
    let start = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    let events: Vec<_> = (0..20_000)
        .map(|i| chat.next_event(start + chrono::Duration::milliseconds(i * 5)))
        .collect();
    let mut fired = 0usize;
    for _ in 0..passes {
        let mut state = TriggerState::new(&registry);
        for e in &events {
            fired += evaluate(black_box(e), &registry, &mut state).len();
        }
    }
    println!("{fired} actions");
}
