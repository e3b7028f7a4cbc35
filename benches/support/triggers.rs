//! The trigger set of the trigger-engine measurements: 1,000 mixed triggers plus the demo's own.
//!
//! Shared by `benches/triggers.rs` and `examples/trigger_loop.rs` through `#[path]`, so the timed
//! benchmark and the instruction count measure the same engine work.

use ss::config::model::TriggersConfig;

/// 1,000 triggers: 400 commands, 300 keyword triggers (3 keywords each), 250 regexes, 50 non-empty.
pub fn thousand_triggers() -> TriggersConfig {
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
