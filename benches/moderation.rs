//! Moderation's cost in the trigger engine: the demo's triggers against realistic sim chat, first
//! without filters, then behind 20 filters (every type; one of them with 1,000 banned words and
//! 50 regexes), as `ss run` evaluates them (moderation first; a message acted on does not reach the
//! triggers). Reports events/s (criterion "elem/s"); the issue's bar is 1 M events/s with the
//! filters on. Two more cases split the cost: the big words filter alone, and the 19 others.

/// The allocator the `ss` binary uses, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ss::config::model::{ModerationConfig, TriggersConfig};
use ss::sources::sim::{SimChat, SimSettings};
use ss::triggers::moderation::{self, ModerationRegistry, ModerationState};
use ss::triggers::{Registry, TriggerState, evaluate};
use std::hint::black_box;

/// 20 filters: links, caps, symbols, repetition, emotes, length, the big words filter, and 13
/// more of the same types with other thresholds and actions.
fn twenty_filters() -> ModerationConfig {
    let words: Vec<String> = (0..1000).map(|i| format!("bannedword{i:04}")).collect();
    let patterns: Vec<String> = (0..50)
        .map(|i| format!(r"sp[a4]m+{i}\s*(?:dot|\.)\s*c[o0]m"))
        .collect();
    let mut filters = vec![
        serde_json::json!({"id": "words", "type": "words", "words": words, "patterns": patterns, "action": {"timeout": 300}}),
    ];
    for i in 0..19 {
        let id = format!("f{i}");
        filters.push(match i % 6 {
            0 => serde_json::json!({"id": id, "type": "links", "allow": ["youtube.com", "twitch.tv", "kick.com"], "action": "delete"}),
            1 => serde_json::json!({"id": id, "type": "caps", "min_length": 12 + i, "max_ratio": 0.8, "action": "warn"}),
            2 => serde_json::json!({"id": id, "type": "symbols", "min_length": 12 + i, "max_ratio": 0.6, "action": "delete"}),
            3 => serde_json::json!({"id": id, "type": "repetition", "max_char_run": 12 + i, "max_word_repeats": 6 + i, "action": "delete"}),
            4 => serde_json::json!({"id": id, "type": "emotes", "max": 10 + i, "action": "delete"}),
            _ => serde_json::json!({"id": id, "type": "length", "max_chars": 400 + i, "action": "delete"}),
        });
    }
    serde_json::from_value(serde_json::json!({"moderation": {"demo": {
        "exempt": ["moderator"],
        "strikes": {"ladder": ["warn", "delete", {"timeout": 60}, {"timeout": 600}, "ban"], "decay_s": 3600},
        "filters": filters,
    }}}))
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let triggers: TriggersConfig = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/runtime/config/triggers.json"
    )))
    .unwrap();
    let registry = Registry::compile(&triggers).unwrap();
    let filters = ModerationRegistry::compile(&twenty_filters()).unwrap();
    let none = ModerationRegistry::default();
    let mut chat = SimChat::new("demo", "demo", &SimSettings::default(), "bench");
    let start = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    let events: Vec<_> = (0..20_000)
        .map(|i| chat.next_event(start + chrono::Duration::milliseconds(i * 5)))
        .collect();
    let mut group = c.benchmark_group("moderation");
    group.throughput(Throughput::Elements(events.len() as u64));
    let mut words_only = twenty_filters();
    words_only
        .moderation
        .get_mut("demo")
        .unwrap()
        .filters
        .truncate(1);
    let words_only = ModerationRegistry::compile(&words_only).unwrap();
    let mut others = twenty_filters();
    others.moderation.get_mut("demo").unwrap().filters.remove(0);
    let others = ModerationRegistry::compile(&others).unwrap();
    for (name, filters) in [
        ("no_filters", &none),
        ("20_filters", &filters),
        ("words_only", &words_only),
        ("others", &others),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut state = TriggerState::new(&registry);
                let mut moderation_state = ModerationState::default();
                let mut fired = 0usize;
                for e in &events {
                    let verdict =
                        moderation::evaluate(black_box(e), filters, &mut moderation_state);
                    fired += verdict.actions.len();
                    if !verdict.stop_triggers {
                        fired += evaluate(e, &registry, &mut state).len();
                    }
                }
                fired
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
