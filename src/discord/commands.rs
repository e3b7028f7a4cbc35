//! The bot's slash commands: what is registered in each guild (the JSON array of the bulk
//! overwrite, per Discord's application-commands reference) and how a used command becomes an
//! [`Operation`].
//!
//! - `/status`: sources, health, last event age, degraded. The one public answer.
//! - `/clip [seconds] [title]`: a clip of the guild's creator's stream.
//! - `/say <platform> <text>`: a message in the creator's chat.
//! - `/mod timeout|ban|unban <platform> <user> ...`: moderation in the creator's chat.
//!
//! Which guild member may use which command is the operator's role ([`crate::operations`]), mapped
//! from their guild roles in discord.json; Discord's own `default_member_permissions` is left open
//! so that mapping is the one rule. Option values are checked here (a length, a platform name);
//! whatever Discord sends that does not fit is a refusal naming the option, never a panic.

use crate::event::Platform;
use crate::operations::{DEFAULT_CLIP_S, DEFAULT_TIMEOUT_S, MAX_CLIP_S, MAX_TIMEOUT_S, Moderation, Operation};
use serde_json::{Value, json};
use super::wire::{CommandData, CommandOption};

const STRING: u8 = 3;
const INTEGER: u8 = 4;
const SUB_COMMAND: u8 = 1;
const CHAT_INPUT: u8 = 1;
/// The longest `/say` text (the shortest platform limit is Twitch's 500; longer text is split by
/// the platform's sender, but an operator's message should be one line of chat).
pub const MAX_SAY_CHARS: usize = 500;
/// The longest clip title.
pub const MAX_TITLE_CHARS: usize = 100;
/// The longest moderation reason.
pub const MAX_REASON_CHARS: usize = 100;

/// The names of the commands registered, in registration order.
pub const NAMES: [&str; 4] = ["status", "clip", "say", "mod"];

/// The answer to `/status` is shown to everyone in the channel; every other answer only to the
/// member who used the command.
pub fn is_public(name: &str) -> bool {
    name == "status"
}

fn platform_option() -> Value {
    let choices: Vec<Value> = Platform::all()
        .iter()
        .map(|p| json!({"name": p.title(), "value": p.as_str()}))
        .take(25)
        .collect();
    json!({"name": "platform", "description": "Where", "type": STRING, "required": true, "choices": choices})
}

fn user_option() -> Value {
    json!({"name": "user", "description": "Their login or name as seen in chat, or their platform user id", "type": STRING, "required": true, "max_length": 100})
}

fn reason_option() -> Value {
    json!({"name": "reason", "description": "Why (shown to the platform's moderators)", "type": STRING, "required": false, "max_length": MAX_REASON_CHARS})
}

/// The commands registered in every configured guild: the body of the bulk overwrite.
pub fn definitions() -> Value {
    json!([
        {"name": "status", "type": CHAT_INPUT, "description": "Sources, health, last event age, degraded"},
        {"name": "clip", "type": CHAT_INPUT, "description": "Clip the last seconds of the stream", "options": [
            {"name": "seconds", "description": format!("How many seconds (default {DEFAULT_CLIP_S})"), "type": INTEGER, "required": false, "min_value": 1, "max_value": MAX_CLIP_S},
            {"name": "title", "description": "A title for the clip", "type": STRING, "required": false, "max_length": MAX_TITLE_CHARS}
        ]},
        {"name": "say", "type": CHAT_INPUT, "description": "Post a message in the stream's chat", "options": [
            platform_option(),
            {"name": "text", "description": "The message", "type": STRING, "required": true, "max_length": MAX_SAY_CHARS}
        ]},
        {"name": "mod", "type": CHAT_INPUT, "description": "Moderate the stream's chat", "options": [
            {"name": "timeout", "description": "Keep a user from chatting for a while", "type": SUB_COMMAND, "options": [
                platform_option(), user_option(),
                {"name": "seconds", "description": format!("How long (default {DEFAULT_TIMEOUT_S})"), "type": INTEGER, "required": false, "min_value": 1, "max_value": MAX_TIMEOUT_S},
                reason_option()
            ]},
            {"name": "ban", "description": "Ban a user from the chat", "type": SUB_COMMAND, "options": [
                platform_option(), user_option(), reason_option()
            ]},
            {"name": "unban", "description": "Lift a user's ban or timeout", "type": SUB_COMMAND, "options": [
                platform_option(), user_option()
            ]}
        ]}
    ])
}

/// Why a used command could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown command /{0}; this bot knows /{known}", known = NAMES.join(", /"))]
    Unknown(String),
    #[error("/{command} needs a subcommand ({expected})")]
    NoSubcommand {
        command: &'static str,
        expected: &'static str,
    },
    #[error("the option {0:?} is missing")]
    Missing(&'static str),
    #[error("the option {option:?} {problem}")]
    Invalid {
        option: &'static str,
        problem: String,
    },
}

fn find<'a>(options: &'a [CommandOption], name: &str) -> Option<&'a Value> {
    options
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| o.value.as_ref())
}

fn text(
    options: &[CommandOption],
    name: &'static str,
    max: usize,
) -> Result<Option<String>, CommandError> {
    match find(options, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(CommandError::Invalid {
            option: name,
            problem: format!("is longer than {max} characters"),
        }),
        Some(_) => Err(CommandError::Invalid {
            option: name,
            problem: "is not text".into(),
        }),
    }
}

fn required_text(
    options: &[CommandOption],
    name: &'static str,
    max: usize,
) -> Result<String, CommandError> {
    text(options, name, max)?.ok_or(CommandError::Missing(name))
}

fn number(
    options: &[CommandOption],
    name: &'static str,
    max: u32,
) -> Result<Option<u32>, CommandError> {
    match find(options, name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=max).contains(n))
            .map(Some)
            .ok_or(CommandError::Invalid {
                option: name,
                problem: format!("must be a whole number from 1 to {max}"),
            }),
    }
}

fn platform(options: &[CommandOption]) -> Result<Platform, CommandError> {
    let name = required_text(options, "platform", 32)?;
    Platform::from_name(&name.to_ascii_lowercase()).ok_or_else(|| CommandError::Invalid {
        option: "platform",
        problem: format!(
            "names no platform; use one of {}",
            Platform::all()
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// The operation a used command asks for, on behalf of the guild's `creator`.
pub fn operation(data: &CommandData, creator: Option<&str>) -> Result<Operation, CommandError> {
    let creator = creator.map(str::to_owned);
    let options = &data.options;
    match data.name.as_str() {
        "status" => Ok(Operation::Status),
        "clip" => Ok(Operation::Clip {
            creator,
            seconds: number(options, "seconds", MAX_CLIP_S)?.unwrap_or(DEFAULT_CLIP_S),
            title: text(options, "title", MAX_TITLE_CHARS)?.filter(|t| !t.trim().is_empty()),
        }),
        "say" => Ok(Operation::Say {
            creator,
            platform: platform(options)?,
            text: required_text(options, "text", MAX_SAY_CHARS)?,
        }),
        "mod" => {
            let sub = options
                .iter()
                .find(|o| o.kind == SUB_COMMAND)
                .ok_or(CommandError::NoSubcommand {
                    command: "mod",
                    expected: "timeout, ban or unban",
                })?;
            let action = match sub.name.as_str() {
                "timeout" => Moderation::Timeout,
                "ban" => Moderation::Ban,
                "unban" => Moderation::Unban,
                _ => {
                    return Err(CommandError::NoSubcommand {
                        command: "mod",
                        expected: "timeout, ban or unban",
                    });
                }
            };
            let options = &sub.options;
            Ok(Operation::Moderate {
                creator,
                platform: platform(options)?,
                action,
                user: required_text(options, "user", 100)?,
                seconds: number(options, "seconds", MAX_TIMEOUT_S)?.unwrap_or(DEFAULT_TIMEOUT_S),
                reason: text(options, "reason", MAX_REASON_CHARS)?,
            })
        }
        other => Err(CommandError::Unknown(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire;

    fn data(json: &str) -> CommandData {
        wire::from_str("command data", json).unwrap()
    }

    #[test]
    fn definitions_stay_within_discords_limits() {
        let defs = definitions();
        let defs = defs.as_array().unwrap();
        assert_eq!(defs.len(), NAMES.len());
        fn check(v: &Value) {
            let name = v["name"].as_str().unwrap();
            assert!(
                (1..=32).contains(&name.len())
                    && name.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '-'),
                "{name}"
            );
            let description = v["description"].as_str().unwrap();
            assert!((1..=100).contains(&description.chars().count()), "{name}");
            for option in v["options"].as_array().into_iter().flatten() {
                check(option);
            }
            if let Some(choices) = v["choices"].as_array() {
                assert!(choices.len() <= 25);
            }
        }
        for (def, name) in defs.iter().zip(NAMES) {
            assert_eq!(def["name"], name);
            check(def);
        }
        // Required options come before optional ones, as Discord requires.
        for def in defs {
            for options in [&def["options"]]
                .into_iter()
                .chain(def["options"].as_array().into_iter().flatten().map(|o| &o["options"]))
            {
                let required: Vec<bool> = options
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|o| o["type"] != SUB_COMMAND)
                    .map(|o| o["required"] == true)
                    .collect();
                assert!(required.windows(2).all(|w| w[0] || !w[1]), "{def}");
            }
        }
    }

    #[test]
    fn used_commands_become_operations() {
        let op = operation(
            &data(r#"{"name":"clip","type":1,"options":[{"type":4,"name":"seconds","value":20},{"type":3,"name":"title","value":"nice"}]}"#),
            Some("demo"),
        )
        .unwrap();
        assert_eq!(
            op,
            Operation::Clip {
                creator: Some("demo".into()),
                seconds: 20,
                title: Some("nice".into())
            }
        );
        let op = operation(&data(r#"{"name":"clip","type":1}"#), None).unwrap();
        assert_eq!(
            op,
            Operation::Clip {
                creator: None,
                seconds: DEFAULT_CLIP_S,
                title: None
            }
        );
        let op = operation(
            &data(r#"{"name":"mod","type":1,"options":[{"type":1,"name":"timeout","options":[{"type":3,"name":"platform","value":"kick"},{"type":3,"name":"user","value":"spammer"},{"type":4,"name":"seconds","value":60}]}]}"#),
            Some("demo"),
        )
        .unwrap();
        assert_eq!(
            op,
            Operation::Moderate {
                creator: Some("demo".into()),
                platform: Platform::named("kick"),
                action: Moderation::Timeout,
                user: "spammer".into(),
                seconds: 60,
                reason: None
            }
        );
    }

    #[test]
    fn options_that_do_not_fit_are_refused_by_name() {
        let err = operation(
            &data(r#"{"name":"clip","type":1,"options":[{"type":4,"name":"seconds","value":9999}]}"#),
            Some("demo"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("the option \"seconds\" must be a whole number from 1 to {MAX_CLIP_S}")
        );
        let err = operation(
            &data(r#"{"name":"say","type":1,"options":[{"type":3,"name":"platform","value":"myspace"},{"type":3,"name":"text","value":"hi"}]}"#),
            Some("demo"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("names no platform"), "{err}");
        let err = operation(&data(r#"{"name":"say","type":1,"options":[{"type":3,"name":"platform","value":"kick"}]}"#), None).unwrap_err();
        assert_eq!(err, CommandError::Missing("text"));
        let err = operation(&data(r#"{"name":"mod","type":1}"#), None).unwrap_err();
        assert!(matches!(err, CommandError::NoSubcommand { .. }));
        let err = operation(&data(r#"{"name":"giveaway","type":1}"#), None).unwrap_err();
        assert!(err.to_string().starts_with("unknown command /giveaway"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn any_option_values_are_read_or_refused_without_panicking(
            name in proptest::sample::select(vec!["status", "clip", "say", "mod", "x"]),
            value in crate::wire::strategy::arb_json(&["a", "b"], &["kick", "twitch", "20", "x"]),
            sub in proptest::sample::select(vec!["timeout", "ban", "unban", "nope"]),
        ) {
            let option = |n: &str| json!({"type": 3, "name": n, "value": value.clone()});
            let body = json!({"name": name, "type": 1, "options": [
                option("seconds"), option("title"), option("platform"), option("text"),
                {"type": 1, "name": sub, "options": [option("platform"), option("user"), option("seconds"), option("reason")]}
            ]});
            let data: CommandData = wire::from_value("command data", &body).unwrap();
            let _ = operation(&data, Some("demo"));
        }
    }
}
