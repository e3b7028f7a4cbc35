//! The extension protocol, version 1: JSON lines over the child's stdin and stdout. `ss` writes
//! [`Hello`] first and expects `{"ready": true}`; then one [`Request`] per call, answered by one
//! line carrying the request's `id` (an [`Answer`]). Every line an extension writes is checked
//! against `schemas/extension/` (embedded here) before it is read, so a line that does not fit is
//! refused with the JSON pointer of what is wrong.

use crate::config::model::ExtensionEffect;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// The protocol version `ss` speaks.
pub const PROTOCOL: u32 = 1;

/// The longest line an extension may write; a longer one is refused and the child restarted
/// (its stream can no longer be trusted to be in step).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The first line written to an extension.
#[derive(Debug, Clone, Serialize)]
pub struct Hello<'a> {
    pub hello: HelloBody<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HelloBody<'a> {
    pub protocol: u32,
    pub name: &'a str,
    pub effects_allowed: &'a [ExtensionEffect],
}

/// One call.
#[derive(Debug, Clone, Serialize)]
pub struct Request<'a> {
    pub id: u64,
    pub epoch: u64,
    pub deadline_ms: u64,
    pub event: &'a serde_json::Value,
    pub trigger: &'a str,
    pub input: &'a serde_json::Map<String, serde_json::Value>,
}

/// One effect an extension asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    Say {
        text: String,
    },
    Reply {
        text: String,
    },
    Announce {
        text: String,
    },
    Tally {
        tally: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount: Option<i64>,
    },
    Score {
        board: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        points: Option<i64>,
    },
    Timeout {
        seconds: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Ban {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl Effect {
    /// The name `effects` in extensions.json allows it by.
    pub fn kind(&self) -> ExtensionEffect {
        match self {
            Effect::Say { .. } => ExtensionEffect::Say,
            Effect::Reply { .. } => ExtensionEffect::Reply,
            Effect::Announce { .. } => ExtensionEffect::Announce,
            Effect::Tally { .. } => ExtensionEffect::Tally,
            Effect::Score { .. } => ExtensionEffect::Score,
            Effect::Timeout { .. } => ExtensionEffect::Timeout,
            Effect::Ban { .. } => ExtensionEffect::Ban,
        }
    }
}

/// An answer: effects to apply, or the extension's own error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effects: Option<Vec<Effect>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A line that is not a valid answer: where (a JSON pointer into the line) and why. `id` is the
/// call it names, when it names one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("answer refused at {pointer:?}: {message}")]
pub struct BadAnswer {
    pub id: Option<u64>,
    pub pointer: String,
    pub message: String,
}

fn validator(
    cell: &'static OnceLock<jsonschema::Validator>,
    text: &str,
) -> &'static jsonschema::Validator {
    cell.get_or_init(|| {
        // Embedded and covered by tests: a failure here is a build defect.
        let schema: serde_json::Value =
            serde_json::from_str(text).expect("embedded schema is JSON");
        jsonschema::validator_for(&schema).expect("embedded schema compiles")
    })
}

fn answer_validator() -> &'static jsonschema::Validator {
    static CELL: OnceLock<jsonschema::Validator> = OnceLock::new();
    validator(
        &CELL,
        include_str!("../../schemas/extension/answer.schema.json"),
    )
}

fn ready_validator() -> &'static jsonschema::Validator {
    static CELL: OnceLock<jsonschema::Validator> = OnceLock::new();
    validator(
        &CELL,
        include_str!("../../schemas/extension/ready.schema.json"),
    )
}

/// Checks `value` against `schema`: the first error's pointer and message.
fn check(
    schema: &jsonschema::Validator,
    value: &serde_json::Value,
) -> Result<(), (String, String)> {
    match schema.iter_errors(value).next() {
        None => Ok(()),
        Some(e) => {
            let pointer = e.instance_path().to_string();
            Err((
                if pointer.is_empty() {
                    "/".into()
                } else {
                    pointer
                },
                e.to_string(),
            ))
        }
    }
}

/// Reads one line of an extension as an answer.
pub fn decode_answer(line: &str) -> Result<Answer, BadAnswer> {
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| BadAnswer {
        id: None,
        pointer: "/".into(),
        message: format!("not JSON: {e}"),
    })?;
    let id = value.get("id").and_then(serde_json::Value::as_u64);
    check(answer_validator(), &value).map_err(|(pointer, message)| BadAnswer {
        id,
        pointer,
        message,
    })?;
    serde_json::from_value(value).map_err(|e| BadAnswer {
        id,
        pointer: "/".into(),
        message: e.to_string(),
    })
}

/// Whether `line` is the handshake's `{"ready": true}`; otherwise why not.
pub fn decode_ready(line: &str) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    check(ready_validator(), &value)
        .map_err(|(pointer, message)| format!("at {pointer}: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_answer_with_effects_or_an_error_decodes() {
        let a = decode_answer(r#"{"id": 7, "effects": [{"type": "say", "text": "hi"}, {"type": "tally", "tally": "hugs"}]}"#).unwrap();
        assert_eq!(a.id, 7);
        assert_eq!(
            a.effects.unwrap(),
            [
                Effect::Say { text: "hi".into() },
                Effect::Tally {
                    tally: "hugs".into(),
                    amount: None
                }
            ]
        );
        let e = decode_answer(r#"{"id": 8, "error": "upstream down"}"#).unwrap();
        assert_eq!(e.error.as_deref(), Some("upstream down"));
    }

    #[test]
    fn a_bad_answer_is_refused_with_the_pointer_of_what_is_wrong() {
        let bad = decode_answer(
            r#"{"id": 3, "effects": [{"type": "say", "text": "ok"}, {"type": "say"}]}"#,
        )
        .unwrap_err();
        assert_eq!(bad.id, Some(3));
        assert_eq!(bad.pointer, "/effects/1", "{bad}");
        let bad = decode_answer(r#"{"id": 4, "effects": [{"type": "launch"}]}"#).unwrap_err();
        assert_eq!(bad.pointer, "/effects/0/type", "{bad}");
        let bad = decode_answer(r#"{"id": 5, "effects": [], "error": "x"}"#).unwrap_err();
        assert_eq!(bad.pointer, "/", "{bad}");
        let bad = decode_answer("pong").unwrap_err();
        assert_eq!(bad.id, None);
        assert!(bad.message.starts_with("not JSON"), "{bad}");
        assert!(decode_ready(r#"{"ready": true}"#).is_ok());
        assert!(decode_ready(r#"{"ready": false}"#).is_err());
    }

    fn effect() -> impl Strategy<Value = Effect> {
        let text = "[a-zA-Z0-9 !?]{1,40}";
        let name = "[a-z][a-z0-9_]{0,10}";
        prop_oneof![
            text.prop_map(|text| Effect::Say { text }),
            text.prop_map(|text| Effect::Reply { text }),
            text.prop_map(|text| Effect::Announce { text }),
            (name, proptest::option::of(-1000i64..1000))
                .prop_map(|(tally, amount)| Effect::Tally { tally, amount }),
            (name, proptest::option::of(-1000i64..1000))
                .prop_map(|(board, points)| Effect::Score { board, points }),
            (1u32..100_000, proptest::option::of(text))
                .prop_map(|(seconds, reason)| Effect::Timeout { seconds, reason }),
            proptest::option::of(text).prop_map(|reason| Effect::Ban { reason }),
        ]
    }

    proptest! {
        #[test]
        fn every_valid_answer_decodes_to_itself(
            id in 1u64..u64::MAX / 2,
            epoch in proptest::option::of(1u64..1000),
            effects in proptest::collection::vec(effect(), 0..16),
        ) {
            let answer = Answer { id, epoch, effects: Some(effects), error: None };
            let line = serde_json::to_string(&answer).unwrap();
            prop_assert_eq!(decode_answer(&line).unwrap(), answer);
        }

        #[test]
        fn the_decoder_never_panics(line in "\\PC{0,200}") {
            let _ = decode_answer(&line);
        }

        #[test]
        fn a_mangled_answer_is_refused_or_decoded_never_panics(
            id in 1u64..1000,
            key in "[a-z]{1,8}",
            value in "[a-z0-9\"{}\\[\\],: ]{0,30}",
        ) {
            let line = format!(r#"{{"id": {id}, "effects": [{{"type": "say", "{key}": {value}}}]}}"#);
            if let Ok(a) = decode_answer(&line) {
                prop_assert_eq!(a.id, id);
            }
        }
    }
}
