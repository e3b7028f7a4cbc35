//! Trigger engine throughput: 1,000 mixed triggers (commands, keywords, regexes, non-empty) against
//! realistic sim chat. Reports events/s (criterion "elem/s").

/// The allocator the `ss` binary uses, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ss::config::model::{SimSettings, TriggersConfig};
use ss::sources::sim::SimChat;
use ss::triggers::{Registry, TriggerState, evaluate};
use std::hint::black_box;

/// 1,000 triggers: 400 commands, 300 keyword triggers (3 keywords each), 250 regexes, 50 non-empty.
fn thousand_triggers() -> TriggersConfig {
    let mut defs = Vec::new();
    let actions = [
        r#"{"type": "reply", "template": "hi {user}, you said {args} ({count})"}"#,
        r#"{"type": "tally", "tally": "t"}"#,
        r#"{"type": "score", "board": "b"}"#,
        r#"{"type": "poll_vote", "poll": "p"}"#,
    ];
    for i in 0..1000 {
        let action = actions[i % actions.len()];
        let matcher = match i % 10 {
            0..=3 => format!(r#""kind": "command", "command": "!cmd{i}", "aliases": ["!c{i}"]"#),
            4..=6 => format!(r#""kind": "keyword", "keywords": ["word{i}", "term{i}", "hype{i}"]"#),
            _ if i % 20 == 19 => r#""kind": "non_empty""#.to_string(),
            _ => format!(r#""kind": "regex", "pattern": "(?i)\\bpat{i}[a-z]*\\b""#),
        };
        defs.push(format!(
            r#"{{"id": "t{i}", {matcher}, "cooldowns": {{"user_s": 5, "creator_s": 1}}, "action": {action}}}"#
        ));
    }
    // The demo's own triggers, so common chat lines really match something.
    defs.push(r#"{"id": "ping", "kind": "command", "command": "!ping", "action": {"type": "reply", "template": "pong"}}"#.into());
    defs.push(r#"{"id": "hype", "kind": "keyword", "keywords": ["hype", "pog", "letsgo"], "action": {"type": "tally", "tally": "hype"}}"#.into());
    defs.push(r#"{"id": "gg", "kind": "regex", "pattern": "(?i)\\bgg+\\b", "action": {"type": "score", "board": "gg"}}"#.into());
    serde_json::from_str(&format!(
        r#"{{"triggers": {{"demo": [{}]}}}}"#,
        defs.join(",")
    ))
    .unwrap()
}

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
