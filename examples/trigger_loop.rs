//! Instruction-count probe for the trigger engine: evaluates the 1,000-trigger bench set over
//! 20,000 sim events `PASSES` times (first argument, default 1). Run under callgrind twice with
//! different pass counts; the difference is the cost of the evaluation alone.

use chrono::{TimeZone, Utc};
use ss::config::model::{SimSettings, TriggersConfig};
use ss::sources::sim::SimChat;
use ss::triggers::{Registry, TriggerState, evaluate};
use std::hint::black_box;

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
    defs.push(r#"{"id": "ping", "kind": "command", "command": "!ping", "action": {"type": "reply", "template": "pong"}}"#.into());
    defs.push(r#"{"id": "hype", "kind": "keyword", "keywords": ["hype", "pog", "letsgo"], "action": {"type": "tally", "tally": "hype"}}"#.into());
    defs.push(r#"{"id": "gg", "kind": "regex", "pattern": "(?i)\\bgg+\\b", "action": {"type": "score", "board": "gg"}}"#.into());
    serde_json::from_str(&format!(
        r#"{{"triggers": {{"demo": [{}]}}}}"#,
        defs.join(",")
    ))
    .unwrap()
}

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
