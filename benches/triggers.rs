//! Trigger engine throughput: 1,000 mixed triggers (commands, keywords, regexes, non-empty) against
//! realistic sim chat. Reports events/s (criterion "elem/s").

/// The allocator the `ss` binary uses, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ss::sources::sim::SimChat;
use ss::sources::sim::SimSettings;
use ss::triggers::{Registry, TriggerState, evaluate};
use std::hint::black_box;

#[path = "support/triggers.rs"]
mod triggers;
use triggers::thousand_triggers;

fn bench(c: &mut Criterion) {
    let config = thousand_triggers();
    let registry = Registry::compile(&config).unwrap();
    assert_eq!(registry.len(), 1003);
    let mut chat = SimChat::new("demo", "demo", &SimSettings::default(), "bench");
    let start = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    let events: Vec<_> = (0..20_000)
        .map(|i| chat.next_event(start + chrono::Duration::milliseconds(i * 5)))
        .collect();
    let mut group = c.benchmark_group("triggers");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("1000_mixed_triggers", |b| {
        b.iter(|| {
            let mut state = TriggerState::new(&registry);
            let mut fired = 0usize;
            for e in &events {
                fired += evaluate(black_box(e), &registry, &mut state).len();
            }
            fired
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
