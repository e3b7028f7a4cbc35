//! The bot's slash commands: what is registered in each guild (the JSON array of the bulk
//! overwrite, per Discord's application-commands reference) and how a used command becomes what
//! is [`Asked`]: a read, or a control [`Change`] on behalf of the guild's creator.
//!
//! - `/status`: sources, health, last event age, degraded. The one public answer.
//! - `/clip [seconds] [title]`: a clip of the guild's creator's stream.
//! - `/poll open|close`, `/giveaway open|draw|close`, `/timer on|off`: the daily bot's features.
//! - `/say <platform> <text>`: a message in the creator's chat.
//! - `/mod timeout|ban|unban <platform> <user> ...`: moderation in the creator's chat.
//!
//! Which guild member may use which command is their `ss` role (the control API's roles), mapped
//! from their guild roles in discord.json; Discord's own `default_member_permissions` is left open
//! so that mapping is the one rule. Option values are checked here (a length, a platform name);
//! whatever Discord sends that does not fit is a refusal naming the option, never a panic.

use super::wire::{CommandData, CommandOption};
use crate::control::{Change, GiveawayOp};
use crate::event::Platform;
use serde_json::{Value, json};

const STRING: u8 = 3;
const INTEGER: u8 = 4;
const SUB_COMMAND: u8 = 1;
const CHAT_INPUT: u8 = 1;
/// The default length of a clip asked for without one, in seconds (as `ss clip create`).
pub const DEFAULT_CLIP_S: u32 = 30;
/// The longest clip an operator may ask for, in seconds (as `!clip`).
pub const MAX_CLIP_S: u32 = crate::triggers::MAX_REQUESTED_CLIP_S;
/// The default length of a timeout, in seconds.
pub const DEFAULT_TIMEOUT_S: u32 = 600;
/// The longest timeout, in seconds (two weeks, Twitch's and Kick's limit).
pub const MAX_TIMEOUT_S: u32 = 14 * 24 * 3600;
/// The longest poll or giveaway, in seconds (a day).
pub const MAX_OPEN_S: u32 = 24 * 3600;
/// The longest `/say` text (the shortest platform limit is Twitch's 500).
pub const MAX_SAY_CHARS: usize = 500;
/// The longest clip title.
pub const MAX_TITLE_CHARS: usize = 100;
/// The longest moderation reason.
pub const MAX_REASON_CHARS: usize = 100;

/// The names of the commands registered, in registration order.
pub const NAMES: [&str; 7] = ["status", "clip", "poll", "giveaway", "timer", "say", "mod"];

/// The answer to `/status` is shown to everyone in the channel; every other answer only to the
/// member who used the command.
pub fn is_public(name: &str) -> bool {
    name == "status"
}

fn platform_option(required: bool) -> Value {
    let choices: Vec<Value> = Platform::all()
        .iter()
        .map(|p| json!({"name": p.title(), "value": p.as_str()}))
        .take(25)
        .collect();
    json!({"name": "platform", "description": "Where", "type": STRING, "required": required, "choices": choices})
}

fn user_option() -> Value {
    json!({"name": "user", "description": "Their login or name as seen in chat, or their platform user id", "type": STRING, "required": true, "max_length": 100})
}

fn reason_option() -> Value {
    json!({"name": "reason", "description": "Why (shown to the platform's moderators)", "type": STRING, "required": false, "max_length": MAX_REASON_CHARS})
}

fn seconds_option(description: &str, max: u32) -> Value {
    json!({"name": "seconds", "description": description, "type": INTEGER, "required": false, "min_value": 1, "max_value": max})
}

/// The commands registered in every configured guild: the body of the bulk overwrite.
pub fn definitions() -> Value {
    json!([
        {"name": "status", "type": CHAT_INPUT, "description": "Sources, health, last event age, degraded"},
        {"name": "clip", "type": CHAT_INPUT, "description": "Clip the last seconds of the stream", "options": [
            seconds_option(&format!("How many seconds (default {DEFAULT_CLIP_S})"), MAX_CLIP_S),
            {"name": "title", "description": "A title for the clip", "type": STRING, "required": false, "max_length": MAX_TITLE_CHARS}
        ]},
        {"name": "poll", "type": CHAT_INPUT, "description": "Open or close a chat poll", "options": [
            {"name": "open", "description": "Open a poll in chat", "type": SUB_COMMAND, "options": [
                {"name": "question", "description": "The question", "type": STRING, "required": true, "max_length": 200},
                {"name": "options", "description": "The answers, separated by |", "type": STRING, "required": true, "max_length": 400},
                seconds_option("How long it stays open", MAX_OPEN_S),
                platform_option(false)
            ]},
            {"name": "close", "description": "Close the open poll and post the result", "type": SUB_COMMAND, "options": [platform_option(false)]}
        ]},
        {"name": "giveaway", "type": CHAT_INPUT, "description": "Run a giveaway in chat", "options": [
            {"name": "open", "description": "Open entries: chatters enter with the keyword", "type": SUB_COMMAND, "options": [
                {"name": "keyword", "description": "The word chatters say to enter", "type": STRING, "required": true, "max_length": 50},
                seconds_option("How long entries stay open", MAX_OPEN_S),
                platform_option(false)
            ]},
            {"name": "draw", "description": "Draw winners among the entries", "type": SUB_COMMAND, "options": [
                {"name": "winners", "description": "How many (default 1)", "type": INTEGER, "required": false, "min_value": 1, "max_value": 100},
                platform_option(false)
            ]},
            {"name": "close", "description": "Close entries", "type": SUB_COMMAND, "options": [platform_option(false)]}
        ]},
        {"name": "timer", "type": CHAT_INPUT, "description": "Turn a timed message on or off for this run", "options": [
            {"name": "on", "description": "Turn a timer on", "type": SUB_COMMAND, "options": [
                {"name": "id", "description": "The timer's id in triggers.json", "type": STRING, "required": true, "max_length": 100}
            ]},
            {"name": "off", "description": "Turn a timer off", "type": SUB_COMMAND, "options": [
                {"name": "id", "description": "The timer's id in triggers.json", "type": STRING, "required": true, "max_length": 100}
            ]}
        ]},
        {"name": "say", "type": CHAT_INPUT, "description": "Post a message in the stream's chat", "options": [
            platform_option(true),
            {"name": "text", "description": "The message", "type": STRING, "required": true, "max_length": MAX_SAY_CHARS}
        ]},
        {"name": "mod", "type": CHAT_INPUT, "description": "Moderate the stream's chat", "options": [
            {"name": "timeout", "description": "Keep a user from chatting for a while", "type": SUB_COMMAND, "options": [
                platform_option(true), user_option(),
                seconds_option(&format!("How long (default {DEFAULT_TIMEOUT_S})"), MAX_TIMEOUT_S),
                reason_option()
            ]},
            {"name": "ban", "description": "Ban a user from the chat", "type": SUB_COMMAND, "options": [
                platform_option(true), user_option(), reason_option()
            ]},
            {"name": "unban", "description": "Lift a user's ban or timeout", "type": SUB_COMMAND, "options": [
                platform_option(true), user_option()
            ]}
        ]}
    ])
}

/// A moderation command, before its user is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moderation {
    Timeout { seconds: u32 },
    Ban,
    Unban,
}

/// What a used command asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// `/status`: a read of the runtime's snapshot.
    Status,
    /// A change, ready for the control operations.
    Change(Change),
    /// `/mod`: a change once `user` (a name seen in chat, or an id) is looked up.
    Moderate {
        creator: String,
        platform: Platform,
        action: Moderation,
        user: String,
        reason: Option<String>,
    },
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
    #[error(
        "this server has no creator in discord.json; an operator sets \"creator\" for it under \"guilds\""
    )]
    NoCreator,
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

fn platform(options: &[CommandOption]) -> Result<Option<Platform>, CommandError> {
    let Some(name) = text(options, "platform", 32)? else {
        return Ok(None);
    };
    Platform::from_name(&name.to_ascii_lowercase())
        .map(Some)
        .ok_or_else(|| CommandError::Invalid {
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

fn required_platform(options: &[CommandOption]) -> Result<Platform, CommandError> {
    platform(options)?.ok_or(CommandError::Missing("platform"))
}

/// The subcommand used, and its options.
fn subcommand<'a>(
    options: &'a [CommandOption],
    command: &'static str,
    expected: &'static str,
) -> Result<(&'a str, &'a [CommandOption]), CommandError> {
    options
        .iter()
        .find(|o| o.kind == SUB_COMMAND)
        .map(|o| (o.name.as_str(), o.options.as_slice()))
        .ok_or(CommandError::NoSubcommand { command, expected })
}

/// What a used command asks for, on behalf of the guild's `creator` (needed by every command but
/// `/status`).
pub fn asked(data: &CommandData, creator: Option<&str>) -> Result<Asked, CommandError> {
    let options = &data.options;
    if data.name == "status" {
        return Ok(Asked::Status);
    }
    if !NAMES.contains(&data.name.as_str()) {
        return Err(CommandError::Unknown(data.name.clone()));
    }
    let creator = creator.ok_or(CommandError::NoCreator)?.to_owned();
    let change = match data.name.as_str() {
        "clip" => Change::Clip {
            creator,
            duration_s: number(options, "seconds", MAX_CLIP_S)?.unwrap_or(DEFAULT_CLIP_S),
            title: text(options, "title", MAX_TITLE_CHARS)?.filter(|t| !t.trim().is_empty()),
        },
        "say" => Change::Say {
            creator,
            platform: required_platform(options)?,
            text: required_text(options, "text", MAX_SAY_CHARS)?,
        },
        "poll" => match subcommand(options, "poll", "open or close")? {
            ("open", options) => {
                let answers: Vec<String> = required_text(options, "options", 400)?
                    .split('|')
                    .map(|a| a.trim().to_owned())
                    .filter(|a| !a.is_empty())
                    .collect();
                if answers.len() < 2 {
                    return Err(CommandError::Invalid {
                        option: "options",
                        problem: "needs at least two answers separated by |".into(),
                    });
                }
                Change::PollOpen {
                    creator,
                    platform: platform(options)?,
                    question: required_text(options, "question", 200)?,
                    options: answers,
                    duration_s: number(options, "seconds", MAX_OPEN_S)?,
                }
            }
            ("close", options) => Change::PollClose {
                creator,
                platform: platform(options)?,
            },
            _ => {
                return Err(CommandError::NoSubcommand {
                    command: "poll",
                    expected: "open or close",
                });
            }
        },
        "giveaway" => {
            let (sub, options) = subcommand(options, "giveaway", "open, draw or close")?;
            let op = match sub {
                "open" => GiveawayOp::Open {
                    keyword: required_text(options, "keyword", 50)?,
                    duration_s: number(options, "seconds", MAX_OPEN_S)?,
                },
                "draw" => GiveawayOp::Draw {
                    winners: number(options, "winners", 100)?,
                },
                "close" => GiveawayOp::Close,
                _ => {
                    return Err(CommandError::NoSubcommand {
                        command: "giveaway",
                        expected: "open, draw or close",
                    });
                }
            };
            Change::Giveaway {
                creator,
                platform: platform(options)?,
                op,
            }
        }
        "timer" => {
            let (sub, options) = subcommand(options, "timer", "on or off")?;
            let enabled = match sub {
                "on" => true,
                "off" => false,
                _ => {
                    return Err(CommandError::NoSubcommand {
                        command: "timer",
                        expected: "on or off",
                    });
                }
            };
            Change::SetTimer {
                creator,
                timer: required_text(options, "id", 100)?,
                enabled,
            }
        }
        "mod" => {
            let (sub, options) = subcommand(options, "mod", "timeout, ban or unban")?;
            let action = match sub {
                "timeout" => Moderation::Timeout {
                    seconds: number(options, "seconds", MAX_TIMEOUT_S)?
                        .unwrap_or(DEFAULT_TIMEOUT_S),
                },
                "ban" => Moderation::Ban,
                "unban" => Moderation::Unban,
                _ => {
                    return Err(CommandError::NoSubcommand {
                        command: "mod",
                        expected: "timeout, ban or unban",
                    });
                }
            };
            return Ok(Asked::Moderate {
                creator,
                platform: required_platform(options)?,
                action,
                user: required_text(options, "user", 100)?,
                reason: text(options, "reason", MAX_REASON_CHARS)?,
            });
        }
        other => return Err(CommandError::Unknown(other.to_owned())),
    };
    Ok(Asked::Change(change))
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
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_' || c == '-'),
                "{name}"
            );
            let description = v["description"].as_str().unwrap();
            assert!((1..=100).contains(&description.chars().count()), "{name}");
            assert!(v["options"].as_array().map_or(0, Vec::len) <= 25, "{name}");
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
            for options in [&def["options"]].into_iter().chain(
                def["options"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|o| &o["options"]),
            ) {
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
    fn used_commands_become_changes() {
        let clip = asked(
            &data(r#"{"name":"clip","type":1,"options":[{"type":4,"name":"seconds","value":20},{"type":3,"name":"title","value":"nice"}]}"#),
            Some("demo"),
        )
        .unwrap();
        assert_eq!(
            clip,
            Asked::Change(Change::Clip {
                creator: "demo".into(),
                duration_s: 20,
                title: Some("nice".into())
            })
        );
        let default = asked(&data(r#"{"name":"clip","type":1}"#), Some("demo")).unwrap();
        assert_eq!(
            default,
            Asked::Change(Change::Clip {
                creator: "demo".into(),
                duration_s: DEFAULT_CLIP_S,
                title: None
            })
        );
        let timeout = asked(
            &data(r#"{"name":"mod","type":1,"options":[{"type":1,"name":"timeout","options":[{"type":3,"name":"platform","value":"kick"},{"type":3,"name":"user","value":"spammer"},{"type":4,"name":"seconds","value":60}]}]}"#),
            Some("demo"),
        )
        .unwrap();
        assert_eq!(
            timeout,
            Asked::Moderate {
                creator: "demo".into(),
                platform: Platform::named("kick"),
                action: Moderation::Timeout { seconds: 60 },
                user: "spammer".into(),
                reason: None
            }
        );
        let poll = asked(
            &data(r#"{"name":"poll","type":1,"options":[{"type":1,"name":"open","options":[{"type":3,"name":"question","value":"Map?"},{"type":3,"name":"options","value":"Dust | Nuke |"},{"type":4,"name":"seconds","value":90}]}]}"#),
            Some("demo"),
        )
        .unwrap();
        assert_eq!(
            poll,
            Asked::Change(Change::PollOpen {
                creator: "demo".into(),
                platform: None,
                question: "Map?".into(),
                options: vec!["Dust".into(), "Nuke".into()],
                duration_s: Some(90)
            })
        );
        let draw = asked(
            &data(r#"{"name":"giveaway","type":1,"options":[{"type":1,"name":"draw","options":[{"type":4,"name":"winners","value":2},{"type":3,"name":"platform","value":"twitch"}]}]}"#),
            Some("demo"),
        )
        .unwrap();
        assert_eq!(
            draw,
            Asked::Change(Change::Giveaway {
                creator: "demo".into(),
                platform: Some(Platform::named("twitch")),
                op: GiveawayOp::Draw { winners: Some(2) }
            })
        );
        let timer = asked(
            &data(r#"{"name":"timer","type":1,"options":[{"type":1,"name":"off","options":[{"type":3,"name":"id","value":"socials"}]}]}"#),
            Some("demo"),
        )
        .unwrap();
        assert_eq!(
            timer,
            Asked::Change(Change::SetTimer {
                creator: "demo".into(),
                timer: "socials".into(),
                enabled: false
            })
        );
        assert_eq!(
            asked(&data(r#"{"name":"status","type":1}"#), None).unwrap(),
            Asked::Status
        );
    }

    #[test]
    fn options_that_do_not_fit_are_refused_by_name() {
        let err = asked(
            &data(
                r#"{"name":"clip","type":1,"options":[{"type":4,"name":"seconds","value":9999}]}"#,
            ),
            Some("demo"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("the option \"seconds\" must be a whole number from 1 to {MAX_CLIP_S}")
        );
        let err = asked(
            &data(r#"{"name":"say","type":1,"options":[{"type":3,"name":"platform","value":"myspace"},{"type":3,"name":"text","value":"hi"}]}"#),
            Some("demo"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("names no platform"), "{err}");
        let err = asked(
            &data(r#"{"name":"say","type":1,"options":[{"type":3,"name":"platform","value":"kick"}]}"#),
            Some("demo"),
        )
        .unwrap_err();
        assert_eq!(err, CommandError::Missing("text"));
        let err = asked(&data(r#"{"name":"mod","type":1}"#), Some("demo")).unwrap_err();
        assert!(matches!(err, CommandError::NoSubcommand { .. }));
        let err = asked(
            &data(r#"{"name":"poll","type":1,"options":[{"type":1,"name":"open","options":[{"type":3,"name":"question","value":"?"},{"type":3,"name":"options","value":"only"}]}]}"#),
            Some("demo"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("at least two answers"), "{err}");
        let err = asked(&data(r#"{"name":"clip","type":1}"#), None).unwrap_err();
        assert_eq!(err, CommandError::NoCreator);
        let err = asked(&data(r#"{"name":"raffle","type":1}"#), Some("demo")).unwrap_err();
        assert!(
            err.to_string().starts_with("unknown command /raffle"),
            "{err}"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_option_values_are_read_within_limits_or_refused(
            name in proptest::sample::select(vec!["status", "clip", "say", "mod", "poll", "giveaway", "timer", "x"]),
            value in crate::wire::strategy::arb_json(&["a", "b"], &["kick", "twitch", "20", "x|y"]),
            sub in proptest::sample::select(vec!["timeout", "ban", "unban", "open", "close", "draw", "on", "off", "nope"]),
        ) {
            let option = |n: &str| json!({"type": 3, "name": n, "value": value.clone()});
            let body = json!({"name": name, "type": 1, "options": [
                option("seconds"), option("title"), option("platform"), option("text"),
                {"type": 1, "name": sub, "options": [option("platform"), option("user"), option("seconds"),
                    option("reason"), option("question"), option("options"), option("keyword"),
                    option("winners"), option("id")]}
            ]});
            let data: CommandData = wire::from_value("command data", &body).unwrap();
            match asked(&data, Some("demo")) {
                Ok(Asked::Change(Change::Clip { duration_s, .. })) => {
                    proptest::prop_assert!((1..=MAX_CLIP_S).contains(&duration_s));
                }
                Ok(Asked::Change(Change::Say { text, .. })) => {
                    proptest::prop_assert!(text.chars().count() <= MAX_SAY_CHARS);
                }
                Ok(Asked::Moderate { action: Moderation::Timeout { seconds }, .. }) => {
                    proptest::prop_assert!((1..=MAX_TIMEOUT_S).contains(&seconds));
                }
                Ok(Asked::Change(Change::PollOpen { options, .. })) => {
                    proptest::prop_assert!(options.len() >= 2);
                }
                Ok(Asked::Status) => proptest::prop_assert_eq!(name, "status"),
                Ok(_) => {}
                Err(CommandError::Unknown(n)) => proptest::prop_assert_eq!(n, "x"),
                Err(_) => {}
            }
        }
    }
}
