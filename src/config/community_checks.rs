//! Semantic checks of the daily bot's settings: triggers.json's `timers`, `giveaways`, `quotes`,
//! `points` and `links`, and creators.json's declared `links`.
//!
//! What a schema cannot say: a section for a creator creators.json does not define, timer ids that
//! clash with trigger ids, a timer on a platform the creator has no block for, placeholders a timer
//! cannot fill, two features answering the same chat command, a `points` action for a creator
//! without points, an account declared in two people.

use super::files::ConfigKind;
use super::model::{ActionDef, CreatorsConfig, Matcher, Placeholder, TriggersConfig};
use super::spans::escape_token;
use std::collections::{HashMap, HashSet};

/// A problem found: the file, its JSON pointer, the message, and whether it is only a warning.
pub struct Problem {
    pub kind: ConfigKind,
    pub pointer: String,
    pub message: String,
    pub warning: bool,
}

fn error(kind: ConfigKind, pointer: String, message: String) -> Problem {
    Problem {
        kind,
        pointer,
        message,
        warning: false,
    }
}

/// Checks triggers.json's daily bot sections (`creators`: when creators.json is known).
pub fn triggers(config: &TriggersConfig, creators: Option<&CreatorsConfig>) -> Vec<Problem> {
    let k = ConfigKind::Triggers;
    let mut out = Vec::new();
    let sections: [(&str, Vec<&String>); 5] = [
        ("timers", config.timers.keys().collect()),
        ("giveaways", config.giveaways.keys().collect()),
        ("quotes", config.quotes.keys().collect()),
        ("points", config.points.keys().collect()),
        ("links", config.links.keys().collect()),
    ];
    if let Some(creators) = creators {
        for (section, keys) in &sections {
            for creator in keys {
                if creators.get(creator).is_none() {
                    out.push(error(
                        k,
                        format!("/{section}/{}", escape_token(creator)),
                        format!(
                            "{section} for unknown creator {creator:?}; add it to creators.json or fix the key"
                        ),
                    ));
                }
            }
        }
    }
    for (creator, timers) in &config.timers {
        let base = format!("/timers/{}", escape_token(creator));
        let trigger_ids: HashSet<&str> = config
            .triggers
            .get(creator)
            .map(|defs| defs.iter().map(|d| d.id.as_str()).collect())
            .unwrap_or_default();
        let mut ids = HashSet::new();
        for (i, timer) in timers.iter().enumerate() {
            let at = format!("{base}/{i}");
            if !ids.insert(timer.id.as_str()) || trigger_ids.contains(timer.id.as_str()) {
                out.push(error(
                    k,
                    format!("{at}/id"),
                    format!(
                        "{:?} is already the id of another timer or trigger of {creator:?}; ids must be unique per creator",
                        timer.id
                    ),
                ));
            }
            if let Some(c) = creators.and_then(|c| c.get(creator)) {
                for (j, platform) in timer.platforms.iter().enumerate() {
                    if !c.platforms.configured(*platform) {
                        out.push(error(
                            k,
                            format!("{at}/platforms/{j}"),
                            format!(
                                "creator {creator:?} has no {platform} block in creators.json; add one or remove \"{platform}\" here"
                            ),
                        ));
                    }
                }
            }
            for placeholder in Placeholder::used_in(timer.action.template()) {
                let name = placeholder.name();
                if !super::model::TimerAction::PLACEHOLDERS.contains(&name) {
                    out.push(error(
                        k,
                        format!("{at}/action/template"),
                        format!(
                            "{{{name}}} is never filled in a timer, which no chat message or event fires; a timer fills {{platform}} and {{count}}"
                        ),
                    ));
                }
            }
        }
    }
    commands(config, &mut out);
    for (creator, defs) in &config.triggers {
        if config.points.contains_key(creator) {
            continue;
        }
        for (i, def) in defs.iter().enumerate() {
            if matches!(def.action, ActionDef::Points { .. }) {
                out.push(Problem {
                    kind: k,
                    pointer: format!("/triggers/{}/{i}/action", escape_token(creator)),
                    message: format!(
                        "warning: creator {creator:?} has no points settings, so these points are kept but no command shows them; add \"points\": {{\"{creator}\": {{}}}}"
                    ),
                    warning: true,
                });
            }
        }
    }
    out
}

/// Two features of one creator must not answer the same chat command (points' `!top` may be the
/// standings' `!top`: it answers only `!top points`).
fn commands(config: &TriggersConfig, out: &mut Vec<Problem>) {
    let k = ConfigKind::Triggers;
    for creator in config.creators() {
        let c = escape_token(creator);
        let mut claimed: Vec<(String, String)> = Vec::new();
        if let Some(p) = config.polls.get(creator) {
            for (field, command) in [
                ("poll_command", &p.poll_command),
                ("vote_command", &p.vote_command),
                ("top_command", &p.top_command),
                ("rank_command", &p.rank_command),
            ] {
                claimed.push((format!("/polls/{c}/{field}"), command.to_lowercase()));
            }
        }
        let mut ours: Vec<(String, String)> = Vec::new();
        if let Some(g) = config.giveaways.get(creator) {
            ours.push((format!("/giveaways/{c}/command"), g.command.clone()));
        }
        if let Some(q) = config.quotes.get(creator) {
            ours.push((format!("/quotes/{c}/command"), q.command.clone()));
        }
        if let Some(p) = config.points.get(creator) {
            ours.push((format!("/points/{c}/command"), p.command.clone()));
            ours.push((format!("/points/{c}/give_command"), p.give_command.clone()));
        }
        if let Some(l) = config.links.get(creator) {
            ours.push((format!("/links/{c}/command"), l.command.clone()));
            ours.push((
                format!("/links/{c}/unlink_command"),
                l.unlink_command.clone(),
            ));
        }
        let mut triggers: HashMap<String, &str> = HashMap::new();
        for def in config.triggers.get(creator).into_iter().flatten() {
            if let Matcher::Command { command, aliases } = &def.matcher {
                for name in std::iter::once(command).chain(aliases) {
                    triggers.insert(name.to_lowercase(), def.id.as_str());
                }
            }
        }
        for (pointer, command) in ours {
            let lower = command.to_lowercase();
            if let Some((other, _)) = claimed.iter().find(|(_, c)| *c == lower) {
                out.push(error(
                    k,
                    pointer.clone(),
                    format!("{command:?} is also {other}; give each command its own word"),
                ));
            } else if let Some(id) = triggers.get(&lower) {
                out.push(error(
                    k,
                    pointer.clone(),
                    format!(
                        "{command:?} is also the command of trigger {id:?}, so both would answer; rename one"
                    ),
                ));
            }
            claimed.push((pointer, lower));
        }
    }
}

/// Checks creators.json's declared links: names unique within a creator, an account in one person.
pub fn declared_links(config: &CreatorsConfig) -> Vec<Problem> {
    let k = ConfigKind::Creators;
    let mut out = Vec::new();
    for (i, creator) in config.creators.iter().enumerate() {
        let mut names = HashSet::new();
        let mut accounts: HashMap<(String, String), &str> = HashMap::new();
        for (j, link) in creator.links.iter().enumerate() {
            let at = format!("/creators/{i}/links/{j}");
            if !names.insert(link.name.as_str()) {
                out.push(error(
                    k,
                    format!("{at}/name"),
                    format!(
                        "{:?} is declared twice for {:?}; give each person one entry",
                        link.name, creator.id
                    ),
                ));
            }
            for (platform, user_id) in &link.accounts {
                let key = (platform.as_str().to_string(), user_id.clone());
                if let Some(other) = accounts.insert(key, link.name.as_str()) {
                    out.push(error(
                        k,
                        format!("{at}/accounts/{}", escape_token(platform.as_str())),
                        format!(
                            "{platform} account {user_id:?} is also declared for {other:?}; an account is one person"
                        ),
                    ));
                }
                if !creator.platforms.configured(*platform) {
                    out.push(Problem {
                        kind: k,
                        pointer: format!("{at}/accounts/{}", escape_token(platform.as_str())),
                        message: format!(
                            "warning: creator {:?} has no {platform} block, so this account never chats here",
                            creator.id
                        ),
                        warning: true,
                    });
                }
            }
        }
    }
    out
}
