//! Checks a JSON Schema cannot express: unique ids, cross-file references, regexes that compile,
//! well-formed environment variable names, and numbers that only make sense together.
//!
//! Each check runs only when the files it needs are known (passed on the command line, or present in
//! the root's config directory), so validating one file alone still checks everything it can.

use super::Config;
use super::files::ConfigKind;
use super::model::*;
use super::secrets::is_valid_env_name;
use super::spans::escape_token;
use crate::event::Platform;
use std::collections::{BTreeSet, HashSet};

/// One semantic problem, located by file kind and JSON pointer.
pub struct Finding {
    pub kind: ConfigKind,
    pub pointer: String,
    pub message: String,
    /// A warning does not make the file invalid (a setting accepted but not acted on yet).
    pub warning: bool,
}

struct Findings(Vec<Finding>);

impl Findings {
    fn push(&mut self, kind: ConfigKind, pointer: String, message: String) {
        self.0.push(Finding {
            kind,
            pointer,
            message,
            warning: false,
        });
    }

    /// A warning; its message starts with `warning: ` like every warning of a report.
    fn warn(&mut self, kind: ConfigKind, pointer: String, message: &str) {
        self.0.push(Finding {
            kind,
            pointer,
            message: format!("warning: {message}"),
            warning: true,
        });
    }
}

pub fn check(config: &Config, known: &BTreeSet<ConfigKind>) -> Vec<Finding> {
    let mut out = Findings(Vec::new());
    if known.contains(&ConfigKind::Creators) {
        creators(&config.creators, &mut out);
    }
    if known.contains(&ConfigKind::Triggers) {
        let creators = known
            .contains(&ConfigKind::Creators)
            .then_some(&config.creators);
        triggers(&config.triggers, creators, &mut out);
        polls(&config.triggers, creators, &mut out);
    }
    if known.contains(&ConfigKind::Discord) {
        let creators = known
            .contains(&ConfigKind::Creators)
            .then_some(&config.creators);
        discord(&config.discord, creators, &mut out);
    }
    if known.contains(&ConfigKind::Posting) {
        let creators = known
            .contains(&ConfigKind::Creators)
            .then_some(&config.creators);
        posting(&config.posting, creators, &mut out);
    }
    if known.contains(&ConfigKind::Platforms) {
        platforms(&config.platforms, &mut out);
    }
    if known.contains(&ConfigKind::Creators) && known.contains(&ConfigKind::Platforms) {
        paused_platforms(config, &mut out);
    }
    if known.contains(&ConfigKind::RateLimits) {
        ratelimits(&config.ratelimits, &mut out);
    }
    if known.contains(&ConfigKind::System) {
        system(&config.system, &mut out);
    }
    out.0
}

fn env_name(out: &mut Findings, kind: ConfigKind, pointer: String, name: Option<&String>) {
    if let Some(name) = name
        && !is_valid_env_name(name)
    {
        out.push(
            kind,
            pointer,
            format!(
                "{name:?} is not a valid environment variable name; use capitals, digits and `_`, e.g. \"TWITCH_OAUTH_TOKEN_DEMO\""
            ),
        );
    }
}

fn creators(config: &CreatorsConfig, out: &mut Findings) {
    let k = ConfigKind::Creators;
    let mut seen = HashSet::new();
    for (i, creator) in config.creators.iter().enumerate() {
        let base = format!("/creators/{i}");
        if !seen.insert(creator.id.as_str()) {
            out.push(
                k,
                format!("{base}/id"),
                format!(
                    "duplicate creator id {:?}; every creator needs its own id",
                    creator.id
                ),
            );
        }
        let p = &creator.platforms;
        let pb = format!("{base}/platforms");
        if let Some(t) = &p.twitch {
            env_name(
                out,
                k,
                format!("{pb}/twitch/token_env"),
                t.token_env.as_ref(),
            );
            for (key, name) in [
                ("client_id_env", &t.client_id_env),
                ("client_secret_env", &t.client_secret_env),
            ] {
                env_name(out, k, format!("{pb}/twitch/{key}"), name.as_ref());
            }
        }
        if creator
            .clips
            .as_ref()
            .and_then(|c| c.destination.as_deref())
            == Some("twitch")
            && p.twitch
                .as_ref()
                .is_none_or(|t| t.token_env.is_none() || t.client_id_env.is_none())
        {
            out.push(
                k,
                format!("{base}/clips/destination"),
                "the twitch clip destination needs the creator's twitch block with `token_env` (scope clips:edit) and `client_id_env`"
                    .into(),
            );
        }
        if let Some(capture) = creator.clips.as_ref().and_then(|c| c.capture.as_ref())
            && capture.segment_s * 3 > capture.buffer_s
        {
            out.push(
                k,
                format!("{base}/clips/capture/buffer_s"),
                format!(
                    "buffer_s ({}) must hold at least three segments of segment_s ({}) seconds",
                    capture.buffer_s, capture.segment_s
                ),
            );
        }
        if let Some(y) = &p.youtube {
            env_name(
                out,
                k,
                format!("{pb}/youtube/api_key_env"),
                y.api_key_env.as_ref(),
            );
            env_name(
                out,
                k,
                format!("{pb}/youtube/oauth_token_env"),
                y.oauth_token_env.as_ref(),
            );
            if y.enabled
                && y.channel_id.is_none()
                && y.live_chat_id.is_none()
                && y.video_id.is_none()
            {
                out.push(
                    k,
                    format!("{pb}/youtube"),
                    "an enabled YouTube block needs one of `live_chat_id`, `video_id` or `channel_id`"
                        .into(),
                );
            }
            if y.enabled && y.api_key_env.is_none() && y.oauth_token_env.is_none() {
                out.push(
                    k,
                    format!("{pb}/youtube"),
                    "an enabled YouTube block needs `api_key_env` (reading) or `oauth_token_env` (reading and replies)"
                        .into(),
                );
            }
        }
        if let Some(kick) = &p.kick {
            for (key, value) in [
                ("token_env", &kick.token_env),
                ("refresh_token_env", &kick.refresh_token_env),
                ("client_id_env", &kick.client_id_env),
                ("client_secret_env", &kick.client_secret_env),
            ] {
                env_name(out, k, format!("{pb}/kick/{key}"), value.as_ref());
            }
            let refreshing = [
                &kick.refresh_token_env,
                &kick.client_id_env,
                &kick.client_secret_env,
            ];
            if refreshing.iter().any(|v| v.is_some()) && !refreshing.iter().all(|v| v.is_some()) {
                out.push(
                    k,
                    format!("{pb}/kick"),
                    "refreshing the Kick token needs all three of `refresh_token_env`, `client_id_env` and `client_secret_env`"
                        .into(),
                );
            }
        }
        if let Some(r) = &p.rumble {
            env_name(
                out,
                k,
                format!("{pb}/rumble/api_url_env"),
                r.api_url_env.as_ref(),
            );
            if r.enabled && r.api_url_env.is_none() {
                out.push(
                    k,
                    format!("{pb}/rumble"),
                    "an enabled Rumble block needs `api_url_env`: the environment variable holding the Live Stream API URL from https://rumble.com/account/livestream-api, e.g. \"RUMBLE_API_URL_DEMO\""
                        .into(),
                );
            }
            if r.poll_interval_s < RumbleSettings::MIN_POLL_INTERVAL_S {
                out.push(
                    k,
                    format!("{pb}/rumble/poll_interval_s"),
                    format!(
                        "poll_interval_s ({}) is under Rumble's minimum of 5 seconds between Live Stream API calls; use 5 or more (default 10)",
                        r.poll_interval_s
                    ),
                );
            }
        }
        if p.pilled.is_some() {
            out.warn(
                k,
                format!("{pb}/pilled"),
                "Pilled is not supported yet (planned, ingest only): this block is accepted and kept, but no Pilled source starts",
            );
        }
    }
}

/// Creators that enable a platform whose mode keeps it from starting (Rumble is paused by default).
fn paused_platforms(config: &Config, out: &mut Findings) {
    for (i, creator) in config.creators.creators.iter().enumerate() {
        if creator.enabled
            && creator.platforms.enabled(Platform::Rumble)
            && config.platforms.mode(Platform::Rumble) != PlatformMode::Active
        {
            out.warn(
                ConfigKind::Creators,
                format!("/creators/{i}/platforms/rumble/enabled"),
                &format!(
                    "Rumble is enabled here but its platform mode is {}, so no Rumble source starts; set platforms.json rumble.mode to \"active\"",
                    config.platforms.mode(Platform::Rumble).as_str()
                ),
            );
        }
    }
}

fn triggers(config: &TriggersConfig, creators: Option<&CreatorsConfig>, out: &mut Findings) {
    let k = ConfigKind::Triggers;
    for (creator_id, defs) in &config.triggers {
        let base = format!("/triggers/{}", escape_token(creator_id));
        let creator = creators.map(|c| c.get(creator_id));
        if creator == Some(None) {
            out.push(
                k,
                base.clone(),
                format!(
                    "triggers for unknown creator {creator_id:?}; add it to creators.json or fix the key"
                ),
            );
        }
        let mut ids = HashSet::new();
        for (i, def) in defs.iter().enumerate() {
            let at = format!("{base}/{i}");
            if !ids.insert(def.id.as_str()) {
                out.push(
                    k,
                    format!("{at}/id"),
                    format!(
                        "duplicate trigger id {:?} for creator {creator_id:?}; trigger ids must be unique per creator",
                        def.id
                    ),
                );
            }
            if let Matcher::Regex { pattern } = &def.matcher
                && let Err(e) = regex::Regex::new(pattern)
            {
                let first = e.to_string();
                let last = first.lines().last().unwrap_or_default().trim();
                let reason = last.strip_prefix("error: ").unwrap_or(last);
                out.push(
                    k,
                    format!("{at}/pattern"),
                    format!("regex does not compile: {reason}"),
                );
            }
            if let Some(Some(creator)) = creator {
                for (j, platform) in def.platforms.iter().enumerate() {
                    if !creator.platforms.configured(*platform) {
                        out.push(
                            k,
                            format!("{at}/platforms/{j}"),
                            format!(
                                "creator {creator_id:?} has no {platform} block in creators.json; add one or remove \"{platform}\" here"
                            ),
                        );
                    }
                }
            }
            event_trigger(def, &at, out);
            let c = def.cooldowns;
            if c.user_s > 0.0 && c.creator_s > 0.0 && c.user_s < c.creator_s {
                out.push(
                    k,
                    format!("{at}/cooldowns/user_s"),
                    format!(
                        "user_s ({}) is shorter than creator_s ({}), so it never applies; raise it or set it to 0",
                        c.user_s, c.creator_s
                    ),
                );
            }
        }
    }
}

/// A stream-event trigger's conditions fit its kind of event, and every trigger's templates use
/// only placeholders its kind of event (or chat message) fills.
fn event_trigger(def: &TriggerDef, at: &str, out: &mut Findings) {
    let k = ConfigKind::Triggers;
    let names = |kinds: &[crate::event::EventKind]| {
        kinds
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let event = match &def.matcher {
        Matcher::Event { on } => Some(on.event),
        _ => None,
    };
    if let Matcher::Event { on } = &def.matcher {
        for key in on.conditions_set() {
            let kinds = EventMatch::kinds_of(key);
            if !kinds.contains(&on.event) {
                out.push(
                    k,
                    format!("{at}/on/{key}"),
                    format!(
                        "{key:?} does not apply to {} events, which never carry it; it is a condition of {} events",
                        on.event.as_str(),
                        names(kinds)
                    ),
                );
            }
        }
    }
    let templates: Vec<(&str, &str)> = match &def.action {
        ActionDef::Reply { template } | ActionDef::Notify { template, .. } => {
            vec![("template", template)]
        }
        ActionDef::Clip {
            title: Some(title), ..
        } => vec![("title", title)],
        _ => Vec::new(),
    };
    for (key, text) in templates {
        let mut seen = HashSet::new();
        for placeholder in Placeholder::used_in(text) {
            let Some(kinds) = placeholder.kinds() else {
                continue;
            };
            if placeholder.fits(event) || !seen.insert(placeholder.name()) {
                continue;
            }
            let name = placeholder.name();
            let message = match event {
                Some(kind) => format!(
                    "{{{name}}} is never filled for {} events; it is filled for {} events",
                    kind.as_str(),
                    names(kinds)
                ),
                None => format!(
                    "{{{name}}} is filled only for stream events ({}); this trigger matches chat messages (use \"on\" for a stream event)",
                    names(kinds)
                ),
            };
            out.push(k, format!("{at}/action/{key}"), message);
        }
    }
}

/// Poll settings: a known creator, and chat commands that do not collide with each other or with
/// one of the creator's triggers (both would answer the same message).
fn polls(config: &TriggersConfig, creators: Option<&CreatorsConfig>, out: &mut Findings) {
    let k = ConfigKind::Triggers;
    for (creator_id, settings) in &config.polls {
        let base = format!("/polls/{}", escape_token(creator_id));
        if creators.is_some_and(|c| c.get(creator_id).is_none()) {
            out.push(
                k,
                base.clone(),
                format!(
                    "polls for unknown creator {creator_id:?}; add it to creators.json or fix the key"
                ),
            );
        }
        let fields = [
            "poll_command",
            "vote_command",
            "top_command",
            "rank_command",
        ];
        let commands = settings.commands();
        for (i, command) in commands.iter().enumerate() {
            let at = format!("{base}/{}", fields[i]);
            if let Some(j) = commands[..i]
                .iter()
                .position(|c| c.eq_ignore_ascii_case(command))
            {
                out.push(
                    k,
                    at.clone(),
                    format!(
                        "{command:?} is already the {}; give each poll command its own word",
                        fields[j]
                    ),
                );
            }
            let defs = config
                .triggers
                .get(creator_id)
                .map_or(&[][..], Vec::as_slice);
            for def in defs {
                if let Matcher::Command {
                    command: c,
                    aliases,
                } = &def.matcher
                    && std::iter::once(c)
                        .chain(aliases)
                        .any(|c| c.eq_ignore_ascii_case(command))
                {
                    out.push(
                        k,
                        at.clone(),
                        format!(
                            "{command:?} is also the command of trigger {:?}, so both would answer; rename one (a poll_vote trigger without \"poll\" votes in the open chat poll)",
                            def.id
                        ),
                    );
                }
            }
        }
    }
}

fn discord(config: &DiscordConfig, creators: Option<&CreatorsConfig>, out: &mut Findings) {
    let k = ConfigKind::Discord;
    env_name(
        out,
        k,
        "/discord/token_env".into(),
        config.discord.token_env.as_ref(),
    );
    for (guild_id, guild) in &config.discord.guilds {
        let base = format!("/discord/guilds/{}", escape_token(guild_id));
        if let (Some(creators), Some(creator)) = (creators, &guild.creator)
            && creators.get(creator).is_none()
        {
            out.push(
                k,
                format!("{base}/creator"),
                format!("unknown creator {creator:?}; use an id from creators.json"),
            );
        }
        env_name(
            out,
            k,
            format!("{base}/webhook_url_env"),
            guild.webhook_url_env.as_ref(),
        );
        if guild.logging.enabled && guild.logging.channel_id.is_none() {
            out.push(
                k,
                format!("{base}/logging"),
                "logging is enabled but has no channel_id; set one or disable logging".into(),
            );
        }
    }
}

fn posting(config: &PostingConfig, creators: Option<&CreatorsConfig>, out: &mut Findings) {
    let k = ConfigKind::Posting;
    let template = |out: &mut Findings, pointer: String, text: &str| {
        if let Err(unknown) = crate::notify::template::check(text) {
            out.push(
                k,
                pointer,
                format!(
                    "unknown placeholder {{{unknown}}}; the template may use {}",
                    crate::notify::template::PLACEHOLDERS
                        .map(|p| format!("{{{p}}}"))
                        .join(" ")
                ),
            );
        }
    };
    template(out, "/go_live/template".into(), &config.go_live.template);
    let x = &config.x;
    for (key, name) in [
        ("token_env", &x.token_env),
        ("refresh_token_env", &x.refresh_token_env),
        ("client_id_env", &x.client_id_env),
    ] {
        env_name(out, k, format!("/x/{key}"), name.as_ref());
    }
    for (i, rule) in x.rules.iter().enumerate() {
        if let Some(creators) = creators
            && creators.get(&rule.creator).is_none()
        {
            out.push(
                k,
                format!("/x/rules/{i}/creator"),
                format!(
                    "unknown creator {:?}; use an id from creators.json",
                    rule.creator
                ),
            );
        }
        if let Some(text) = &rule.template {
            template(out, format!("/x/rules/{i}/template"), text);
        }
    }
    if !x.rules.is_empty() && x.token_env.is_none() {
        out.push(
            k,
            "/x".into(),
            "X rules are set but no token_env names the user token; add \"token_env\": \"X_USER_TOKEN\"".into(),
        );
    }
}

fn platforms(config: &PlatformsConfig, out: &mut Findings) {
    let k = ConfigKind::Platforms;
    for (platform, settings) in &config.platforms {
        let base = format!("/platforms/{platform}");
        let own = config.settings(*platform);
        if let Some(url) = own.str("base_url")
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            out.push(
                k,
                format!("{base}/base_url"),
                format!("{url:?} is not an http(s) URL; write it as https://host[:port]/path"),
            );
        }
        if let Some(url) = own.str("ws_url")
            && !(url.starts_with("ws://") || url.starts_with("wss://"))
        {
            out.push(
                k,
                format!("{base}/ws_url"),
                format!("{url:?} is not a websocket URL; write it as wss://host[:port]/path"),
            );
        }
        if *platform == Platform::Pilled && settings.mode == PlatformMode::Active {
            out.push(
                k,
                format!("{base}/mode"),
                "pilled has no source yet; its mode can be planned, scaffold or paused".into(),
            );
        }
    }
}

fn ratelimits(config: &RateLimitsConfig, out: &mut Findings) {
    let k = ConfigKind::RateLimits;
    for (platform, limit) in &config.platforms {
        if let Some(p) = limit
            .platform_specific
            .get("privileged_messages")
            .and_then(serde_json::Value::as_u64)
            && p < u64::from(limit.messages)
        {
            out.push(
                k,
                format!("/platforms/{platform}/privileged_messages"),
                format!(
                    "privileged_messages ({p}) is below messages ({}); moderators never get fewer sends",
                    limit.messages
                ),
            );
        }
    }
    let q = config.youtube_quota;
    if q.hard_cap_units > q.daily_units {
        out.push(
            k,
            "/youtube_quota/hard_cap_units".into(),
            format!(
                "hard_cap_units ({}) exceeds daily_units ({}); the cap must fit in the daily budget",
                q.hard_cap_units, q.daily_units
            ),
        );
    }
    if q.reserve_units >= q.hard_cap_units {
        out.push(
            k,
            "/youtube_quota/reserve_units".into(),
            format!(
                "reserve_units ({}) leaves nothing below hard_cap_units ({}); lower the reserve",
                q.reserve_units, q.hard_cap_units
            ),
        );
    }
}

fn system(config: &SystemConfig, out: &mut Findings) {
    let k = ConfigKind::System;
    if config.clips.default_destination == "http" && config.clips.http.is_none() {
        out.push(
            k,
            "/clips/default_destination".into(),
            "the http clip destination needs `clips.http` with its `url`".into(),
        );
    }
    if let Some(http) = &config.clips.http {
        env_name(
            out,
            k,
            "/clips/http/auth_header_env".into(),
            http.auth_header_env.as_ref(),
        );
    }
    if config.limits.dedupe_window < config.limits.data_lane_capacity {
        out.push(
            k,
            "/limits/dedupe_window".into(),
            format!(
                "dedupe_window ({}) is smaller than data_lane_capacity ({}); duplicates could slip through after a reconnect",
                config.limits.dedupe_window, config.limits.data_lane_capacity
            ),
        );
    }
}
