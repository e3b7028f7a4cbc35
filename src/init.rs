//! A new runtime root (`ss init`): the config files for the chosen platforms, each key explained
//! in `_comment` fields ([`crate::config::comments`]), a `.env.example` with every variable the
//! config names, a `.gitignore` that keeps secrets and state out of git, `changelog/` and the
//! export folders.
//!
//! The files are built here as data ([`plan`]); the command writes them. The root runs the sim
//! demo as it is: the chosen platforms are configured but off until the operator has logged in
//! and turned them on, so `ss validate-config` and `ss run` work before any credential exists.

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// The platforms `ss init` can set up (sim is always there: it is the demo).
pub const PLATFORMS: [&str; 4] = ["twitch", "youtube", "kick", "rumble"];

/// What the new root is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitOptions {
    /// Platforms to configure, each one of [`PLATFORMS`].
    pub platforms: Vec<String>,
    /// The creator's id (lowercase letters, digits, `-` and `_`).
    pub creator: String,
}

/// One file of the new root: its path below the root and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    pub path: PathBuf,
    pub text: String,
}

/// The folders the new root starts with (below the root).
pub const FOLDERS: [&str; 6] = [
    "changelog",
    "runtime/config",
    "runtime/exports",
    "runtime/signals",
    "runtime/admin",
    "runtime/state",
];

/// Checks a creator id as creators.json does.
pub fn check_creator(id: &str) -> Result<(), String> {
    let mut chars = id.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if first_ok && rest_ok && id.len() <= 64 {
        Ok(())
    } else {
        Err(format!(
            "{id:?} is not a creator id: use 1 to 64 lowercase letters, digits, - and _, starting with a letter or digit (e.g. --creator my_channel)"
        ))
    }
}

/// Reads `--platforms twitch,kick` into the list, refusing a name ss cannot set up.
pub fn parse_platforms(list: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let name = name.to_ascii_lowercase();
        if !PLATFORMS.contains(&name.as_str()) {
            return Err(format!(
                "unknown platform {name:?} in --platforms; choose from {}",
                PLATFORMS.join(", ")
            ));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// The files of a new root; `today` dates its first release stamp (`ss update-version` moves it).
pub fn plan(options: &InitOptions, today: chrono::NaiveDate) -> Vec<PlannedFile> {
    let configs = [
        ("creators.json", creators(options)),
        ("platforms.json", platforms(options)),
        ("system.json", system()),
        ("triggers.json", triggers(options)),
        ("ratelimits.json", ratelimits(options)),
        ("posting.json", posting()),
        ("discord.json", discord()),
    ];
    let mut env = BTreeSet::new();
    let mut files: Vec<PlannedFile> = configs
        .into_iter()
        .map(|(name, value)| {
            collect_env_names(&value, &mut env);
            PlannedFile {
                path: PathBuf::from("runtime/config").join(name),
                text: pretty(&value),
            }
        })
        .collect();
    files.push(PlannedFile {
        path: ".env.example".into(),
        text: env_example(&env),
    });
    files.push(PlannedFile {
        path: ".gitignore".into(),
        text: GITIGNORE.into(),
    });
    // The root's release stamp and its changelog agree from the start.
    let stamp = json!({"version": "0.1.0", "build": format!("{}+001", today.format("%Y.%m.%d"))});
    files.push(PlannedFile {
        path: "runtime/version.json".into(),
        text: pretty(&stamp),
    });
    files.push(PlannedFile {
        path: "changelog/changelog.runtime.json".into(),
        text: pretty(&json!({
            "schema": "streamsuites.changelog.runtime.v1",
            "runtime": stamp,
            "entries": []
        })),
    });
    files
}

/// Creates [`FOLDERS`] below `dir` and writes `files` there, each atomically; the error names the
/// path.
pub fn write(dir: &std::path::Path, files: &[PlannedFile]) -> Result<(), String> {
    for folder in FOLDERS {
        let path = dir.join(folder);
        std::fs::create_dir_all(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
    }
    for file in files {
        let path = dir.join(&file.path);
        crate::atomic::write(&path, file.text.as_bytes())
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

const GITIGNORE: &str = "# Secrets: copy .env.example to .env and fill it in; never commit it.\n.env\n\
# Logins, the store and other state the runtime keeps.\nruntime/state/\n\
# Clip files.\nclips/output/\n";

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("a JSON value serializes");
    text.push('\n');
    text
}

/// Every string value of a key ending in `_env`: the environment variables the config names.
fn collect_env_names(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match v {
                    Value::String(name) if key.ends_with("_env") && !key.starts_with('_') => {
                        out.insert(name.clone());
                    }
                    _ => collect_env_names(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_env_names(v, out)),
        _ => {}
    }
}

fn env_example(names: &BTreeSet<String>) -> String {
    let mut text = String::from(
        "# The secrets the config names, one per line: copy this file to .env (kept out of git)\n\
         # and fill in the values, or export them in the environment of `ss run`.\n\
         # `ss auth twitch --creator ID` stores a Twitch login under runtime/state/ instead.\n",
    );
    for name in names {
        text.push_str(name);
        text.push_str("=\n");
    }
    text
}

/// `DEMO` from `demo`: the suffix of a creator's variables.
fn env_suffix(creator: &str) -> String {
    creator
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn creators(options: &InitOptions) -> Value {
    let id = &options.creator;
    let suffix = env_suffix(id);
    let mut platforms = serde_json::Map::new();
    platforms.insert("_comment".into(), json!("One block per platform. Each is off (\"enabled\": false) until you have logged in; turn it on, then `ss validate-config`."));
    platforms.insert(
        "sim".into(),
        json!({
            "_comment": "A simulated chat, so the root runs before any platform is set up. Turn it off once a real platform is on.",
            "enabled": true,
            "rate_per_s": 5,
            "_comment_rate_per_s": "Simulated messages per second.",
            "seed": 7,
            "users": 50,
            "channel": id
        }),
    );
    for name in &options.platforms {
        let block = match name.as_str() {
            "twitch" => json!({
                "_comment": "Twitch chat. Log in with `ss auth twitch --creator ID` (stores a token under runtime/state/), or set the token variable.",
                "enabled": false,
                "channel": id,
                "_comment_channel": "The channel's login, as in twitch.tv/NAME.",
                "nick": format!("{id}_bot"),
                "_comment_nick": "The login of the account the bot chats as.",
                "transport": "irc",
                "_comment_transport": "irc: chat and sub/raid notices over IRC; eventsub: EventSub websocket and Helix (needed for moderation, follows, redemptions).",
                "token_env": format!("TWITCH_OAUTH_TOKEN_{suffix}"),
                "_comment_token_env": "The variable holding the user access token (oauth:...), unless `ss auth twitch` stored one.",
                "client_id_env": format!("TWITCH_CLIENT_ID_{suffix}"),
                "_comment_client_id_env": "The variable holding your Twitch application's client id (Helix calls, go-live)."
            }),
            "youtube" => json!({
                "_comment": "YouTube live chat. Polling costs quota: see ratelimits.json youtube_quota.",
                "enabled": false,
                "channel_id": "UCxxxxxxxxxxxxxxxxxxxxxx",
                "_comment_channel_id": "The channel id (starts with UC), from youtube.com/account_advanced.",
                "api_key_env": format!("YOUTUBE_API_KEY_{suffix}"),
                "_comment_api_key_env": "The variable holding a YouTube Data API key (reading chat).",
                "oauth_token_env": format!("YOUTUBE_OAUTH_TOKEN_{suffix}"),
                "_comment_oauth_token_env": "The variable holding an OAuth token (replies and moderation)."
            }),
            "kick" => json!({
                "_comment": "Kick chat over Kick's Pusher websocket; replies and moderation through Kick's public API.",
                "enabled": false,
                "channel": id.replace('_', "-"),
                "_comment_channel": "The channel slug, as in kick.com/NAME.",
                "token_env": format!("KICK_OAUTH_TOKEN_{suffix}"),
                "_comment_token_env": "The variable holding the OAuth access token (scope chat:write).",
                "refresh_token_env": format!("KICK_REFRESH_TOKEN_{suffix}"),
                "client_id_env": format!("KICK_CLIENT_ID_{suffix}"),
                "client_secret_env": format!("KICK_CLIENT_SECRET_{suffix}"),
                "_comment_refresh": "The refresh token and your Kick app's id and secret let ss renew an expired access token."
            }),
            "rumble" => json!({
                "_comment": "Rumble chat through the Live Stream API (read only: Rumble has no API to send).",
                "enabled": false,
                "api_url_env": format!("RUMBLE_API_URL_{suffix}"),
                "_comment_api_url_env": "The variable holding the whole Live Stream API URL from rumble.com/account/livestream-api.",
                "poll_interval_s": 5,
                "_comment_poll_interval_s": "Seconds between calls; Rumble allows no less than 5."
            }),
            _ => continue,
        };
        platforms.insert(name.clone(), block);
    }
    json!({
        "_comment": "The creators this runtime serves, each with its platforms. Docs: README.md, \"Configuration\".",
        "creators": [{
            "id": id,
            "_comment_id": "Lowercase letters, digits, - and _; used in file names, exports and commands (--creator).",
            "display_name": id,
            "enabled": true,
            "platforms": Value::Object(platforms)
        }]
    })
}

fn platforms(options: &InitOptions) -> Value {
    let mut modes = serde_json::Map::new();
    modes.insert(
        "_comment".into(),
        json!("Per platform: active (runs), paused (configured, not started) or planned."),
    );
    modes.insert("sim".into(), json!({"mode": "active"}));
    for name in &options.platforms {
        modes.insert(name.clone(), json!({"mode": "active"}));
    }
    json!({"platforms": Value::Object(modes)})
}

fn system() -> Value {
    json!({
        "_comment": "How the runtime itself behaves. Every section is optional; these are the defaults worth knowing.",
        "exports": {
            "cadence_s": 5,
            "_comment_cadence_s": "Seconds between writes of runtime/exports/ (the dashboard and overlays read them).",
            "recent_events": 200
        },
        "chat_log": {
            "enabled": true,
            "_comment": "Record every chat message in the store (needed for replay, clips' context and moderation by name)."
        },
        "hot_reload": {
            "enabled": false,
            "_comment": "Apply edits of runtime/config/ without a restart.",
            "watch_dir": "runtime/config"
        },
        "clips": {
            "ffmpeg_path": "ffmpeg",
            "_comment_ffmpeg_path": "The FFmpeg used to capture and cut clips (apt install ffmpeg).",
            "concurrency": 2,
            "output_dir": "clips/output",
            "default_destination": "local"
        },
        "http": {
            "enabled": false,
            "_comment": "The local HTTP server: /healthz, /api/snapshot, the live feed and the moderators' control API. Loopback only by default.",
            "listen": "127.0.0.1:8765"
        }
    })
}

fn triggers(options: &InitOptions) -> Value {
    let id = &options.creator;
    json!({
        "_comment": "What the bot does in chat: triggers (commands, keywords, stream events) and the daily features (timers, giveaways, quotes, points), per creator. Test a change against recorded chat with `ss replay --triggers`.",
        "triggers": {
            id.as_str(): [
                {
                    "id": "ping",
                    "_comment": "A command: !ping answers pong, at most once every 10 s per viewer.",
                    "kind": "command",
                    "command": "!ping",
                    "cooldowns": {"user_s": 10},
                    "action": {"type": "reply", "template": "pong, {user}"}
                },
                {
                    "id": "clip",
                    "_comment": "Subscribers and up can clip the last 30 s (needs a capture under the creator's \"clips\" in creators.json).",
                    "kind": "command",
                    "command": "!clip",
                    "min_role": "subscriber",
                    "cooldowns": {"creator_s": 30},
                    "action": {"type": "clip", "duration_s": 30}
                },
                {
                    "id": "thank-raiders",
                    "_comment": "A stream event: thanks a raid of 5 viewers or more.",
                    "on": {"event": "raid", "min_viewers": 5},
                    "action": {"type": "reply", "template": "Welcome, {user} and all {viewers} raiders!"}
                }
            ]
        },
        "quotes": {
            "_comment": "!quote, !quote add ... for these creators ({} is the defaults).",
            id.as_str(): {}
        }
    })
}

fn ratelimits(options: &InitOptions) -> Value {
    let mut platforms = serde_json::Map::new();
    platforms.insert("_comment".into(), json!("How many messages the bot may send per window on each platform; the defaults follow each platform's published limits."));
    for name in &options.platforms {
        let limit = match name.as_str() {
            "twitch" => json!({"messages": 20, "per_s": 30, "privileged_messages": 100}),
            "youtube" => json!({"messages": 10, "per_s": 30}),
            "kick" => json!({"messages": 20, "per_s": 30}),
            "rumble" => json!({"messages": 10, "per_s": 30}),
            _ => continue,
        };
        platforms.insert(name.clone(), limit);
    }
    let mut out = json!({"platforms": Value::Object(platforms)});
    if options.platforms.iter().any(|p| p == "youtube") {
        out["youtube_quota"] = json!({
            "_comment": "The Data API's daily units: polling stops at the hard cap, and the reserve is kept for replies.",
            "daily_units": 10000,
            "reserve_units": 1000,
            "hard_cap_units": 9500
        });
    }
    out
}

fn posting() -> Value {
    json!({
        "_comment": "Posts outside chat: go-live announcements (to Discord guilds in discord.json, and to X per its rules).",
        "go_live": {
            "enabled": false,
            "_comment": "Turn on to announce each stream once.",
            "template": "{creator} is live on {platform}: {title} {url}"
        }
    })
}

fn discord() -> Value {
    json!({
        "_comment": "Discord: notifications to guild channels and the operators' bot (slash commands). Add guilds by id under \"guilds\".",
        "discord": {
            "token_env": "DISCORD_BOT_TOKEN",
            "_comment_token_env": "The variable holding the bot token from the Developer Portal.",
            "bot": {
                "enabled": false,
                "_comment": "Start the slash-command bot with `ss run` (or run `ss discord` beside it). Map guild roles to ss roles under each guild's \"roles\"."
            },
            "guilds": {}
        }
    })
}

/// The commands to run next, for the platforms chosen.
pub fn next_steps(dir: &str, options: &InitOptions) -> Vec<String> {
    let mut steps = vec![format!(
        "cp {dir}/.env.example {dir}/.env    # then fill in the secrets you have"
    )];
    if options.platforms.iter().any(|p| p == "twitch") {
        steps.push(format!(
            "ss --root {dir} auth twitch --creator {}    # log the bot in on Twitch",
            options.creator
        ));
    }
    steps.push(format!("ss --root {dir} validate-config"));
    steps.push(format!(
        "ss --root {dir} run    # the sim demo runs at once; turn platforms on in creators.json"
    ));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_example_names_every_variable_of_the_chosen_platforms_only() {
        let options = InitOptions {
            platforms: vec!["twitch".into(), "kick".into()],
            creator: "my_channel".into(),
        };
        let files = plan(
            &options,
            chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap(),
        );
        let env = files
            .iter()
            .find(|f| f.path == std::path::Path::new(".env.example"))
            .unwrap();
        for name in [
            "TWITCH_OAUTH_TOKEN_MY_CHANNEL",
            "KICK_OAUTH_TOKEN_MY_CHANNEL",
            "KICK_CLIENT_SECRET_MY_CHANNEL",
            "DISCORD_BOT_TOKEN",
        ] {
            assert!(
                env.text.contains(&format!("\n{name}=\n")),
                "{name} missing:\n{}",
                env.text
            );
        }
        assert!(!env.text.contains("YOUTUBE"), "{}", env.text);
        let creators = files
            .iter()
            .find(|f| f.path.ends_with("creators.json"))
            .unwrap();
        let value: Value = serde_json::from_str(&creators.text).unwrap();
        let platforms = value["creators"][0]["platforms"].as_object().unwrap();
        let names: Vec<&str> = platforms
            .keys()
            .filter(|k| !k.starts_with('_'))
            .map(String::as_str)
            .collect();
        assert_eq!(names, ["sim", "twitch", "kick"]);
        assert_eq!(
            value["creators"][0]["platforms"]["kick"]["channel"],
            "my-channel"
        );
    }

    #[test]
    fn bad_platforms_and_creator_ids_are_refused_with_the_fix() {
        assert_eq!(
            parse_platforms("Twitch, kick,twitch").unwrap(),
            ["twitch", "kick"]
        );
        let err = parse_platforms("twitch,myspace").unwrap_err();
        assert!(
            err.contains("\"myspace\"") && err.contains("twitch, youtube, kick, rumble"),
            "{err}"
        );
        assert!(check_creator("my_channel").is_ok());
        assert!(
            check_creator("My Channel")
                .unwrap_err()
                .contains("--creator")
        );
        assert!(check_creator("").is_err());
    }
}
