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
use crate::event::{Platform, Role};
use std::collections::{BTreeSet, HashSet};

/// One semantic problem, located by file kind and JSON pointer.
pub struct Finding {
    pub kind: ConfigKind,
    pub pointer: String,
    pub message: String,
    /// A warning does not make the file invalid (a setting accepted but not acted on yet).
    pub warning: bool,
}

impl From<super::community_checks::Problem> for Finding {
    fn from(p: super::community_checks::Problem) -> Finding {
        Finding {
            kind: p.kind,
            pointer: p.pointer,
            message: p.message,
            warning: p.warning,
        }
    }
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

pub fn check(
    config: &Config,
    known: &BTreeSet<ConfigKind>,
    state_dir: Option<&std::path::Path>,
) -> Vec<Finding> {
    let mut out = Findings(Vec::new());
    let mut daily = Vec::new();
    if let Some(state_dir) = state_dir
        && known.contains(&ConfigKind::Creators)
    {
        let triggers = known
            .contains(&ConfigKind::Triggers)
            .then_some(&config.triggers);
        with_state(&config.creators, triggers, state_dir, &mut out);
    }
    if known.contains(&ConfigKind::Creators) {
        creators(&config.creators, &mut out);
        daily.extend(super::community_checks::declared_links(&config.creators));
    }
    if known.contains(&ConfigKind::Triggers) {
        let creators = known
            .contains(&ConfigKind::Creators)
            .then_some(&config.creators);
        triggers(&config.triggers, creators, &mut out);
        polls(&config.triggers, creators, &mut out);
        daily.extend(super::community_checks::triggers(
            &config.triggers,
            creators,
        ));
    }
    out.0.extend(daily.into_iter().map(Finding::from));
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
    if known.contains(&ConfigKind::Posting) && known.contains(&ConfigKind::Triggers) {
        notify_webhooks(&config.triggers, &config.posting, &mut out);
    }
    if known.contains(&ConfigKind::Moderation) {
        let creators = known
            .contains(&ConfigKind::Creators)
            .then_some(&config.creators);
        let triggers = known
            .contains(&ConfigKind::Triggers)
            .then_some(&config.triggers);
        moderation(&config.moderation, creators, triggers, state_dir, &mut out);
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
        let creators = known
            .contains(&ConfigKind::Creators)
            .then_some(&config.creators);
        hooks(&config.system, creators, &mut out);
        // The runtime root holds runtime/state; without it only an absolute path can be checked.
        let root = state_dir.and_then(|state| state.parent()?.parent());
        tls_ca_file(&config.system, root, &mut out);
    }
    if known.contains(&ConfigKind::Extensions) {
        out.0.extend(
            super::extension_checks::extensions(&config.extensions)
                .into_iter()
                .map(Finding::from),
        );
        if known.contains(&ConfigKind::Triggers) {
            out.0.extend(
                super::extension_checks::triggers(&config.triggers, &config.extensions)
                    .into_iter()
                    .map(Finding::from),
            );
        }
    }
    if known.contains(&ConfigKind::Obs) {
        let creators = known
            .contains(&ConfigKind::Creators)
            .then_some(&config.creators);
        obs(&config.obs, creators, &mut out);
        if let Some(creators) = creators {
            obs_clip_sources(&config.obs, creators, &mut out);
        }
        if known.contains(&ConfigKind::Triggers) {
            obs_triggers(&config.triggers, &config.obs, &mut out);
        }
    }
    out.0
}

fn obs(config: &ObsConfig, creators: Option<&CreatorsConfig>, out: &mut Findings) {
    let k = ConfigKind::Obs;
    for (creator, settings) in &config.obs {
        let base = format!("/obs/{}", escape_token(creator));
        if creators.is_some_and(|c| c.get(creator).is_none()) {
            out.push(
                k,
                base.clone(),
                format!(
                    "OBS for unknown creator {creator:?}; add it to creators.json or fix the key"
                ),
            );
        }
        env_name(
            out,
            k,
            format!("{base}/password_env"),
            settings.password_env.as_ref(),
        );
    }
}

/// A creator whose clips come from OBS needs an OBS that reports its outputs (the saved replay).
fn obs_clip_sources(config: &ObsConfig, creators: &CreatorsConfig, out: &mut Findings) {
    for (i, creator) in creators.creators.iter().enumerate() {
        if creator.clips.as_ref().map(|c| c.source) != Some(ClipSource::Obs) {
            continue;
        }
        match config.of(&creator.id) {
            None => out.push(
                ConfigKind::Creators,
                format!("/creators/{i}/clips/source"),
                format!(
                    "clips come from OBS, but obs.json has no enabled OBS for creator {:?}; add one (url, password_env) or use \"source\": \"capture\"",
                    creator.id
                ),
            ),
            Some(settings) if !settings.events.contains(&ObsEvents::Outputs) => out.push(
                ConfigKind::Obs,
                format!("/obs/{}/events", escape_token(&creator.id)),
                format!(
                    "creator {:?} cuts clips from OBS's replay buffer, which OBS names in an outputs event; add \"outputs\" to events",
                    creator.id
                ),
            ),
            Some(_) => {}
        }
    }
}

/// OBS actions of creators without an OBS would be dropped.
fn obs_triggers(triggers: &TriggersConfig, config: &ObsConfig, out: &mut Findings) {
    for (creator, defs) in &triggers.triggers {
        for (i, def) in defs.iter().enumerate() {
            if matches!(def.action, ActionDef::Obs(_)) && config.of(creator).is_none() {
                out.warn(
                    ConfigKind::Triggers,
                    format!("/triggers/{}/{i}/action", escape_token(creator)),
                    &format!(
                        "creator {creator:?} has no enabled OBS in obs.json, so this OBS request would be dropped; add the creator's OBS to obs.json"
                    ),
                );
            }
        }
    }
}

/// A `notify` action's `webhook:NAME` channel names a webhook of posting.json.
fn notify_webhooks(triggers: &TriggersConfig, posting: &PostingConfig, out: &mut Findings) {
    for (creator, defs) in &triggers.triggers {
        for (i, def) in defs.iter().enumerate() {
            let ActionDef::Notify { channel, .. } = &def.action else {
                continue;
            };
            let Some(name) = channel.strip_prefix(WEBHOOK_CHANNEL_PREFIX) else {
                continue;
            };
            if !posting.webhooks.contains_key(name) {
                let known: Vec<&str> = posting.webhooks.keys().map(String::as_str).collect();
                out.push(
                    ConfigKind::Triggers,
                    format!("/triggers/{}/{i}/action/channel", escape_token(creator)),
                    format!(
                        "posting.json has no webhook named {name:?} (it has: {}); add it under \"webhooks\" or fix the name",
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    ),
                );
            }
        }
    }
}

fn env_name(out: &mut Findings, kind: ConfigKind, pointer: String, name: Option<&String>) {
    if let Some(name) = name
        && !is_valid_env_name(name)
    {
        out.push(kind, pointer, super::platform::env_name_message(name));
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
        for config in super::platform::configs() {
            let platform = config.platform();
            let mut check = super::platform::Check::new(i, platform);
            config.check_creator(creator, creator.platforms.block(platform), &mut check);
            for (pointer, message, warning) in check.into_found() {
                out.0.push(Finding {
                    kind: k,
                    pointer,
                    message,
                    warning,
                });
            }
        }
    }
}

/// The platforms' checks against the runtime root's state (a stored login's scopes).
fn with_state(
    creators: &CreatorsConfig,
    triggers: Option<&TriggersConfig>,
    state_dir: &std::path::Path,
    out: &mut Findings,
) {
    for (i, creator) in creators.creators.iter().enumerate() {
        let defs = triggers
            .and_then(|t| t.triggers.get(&creator.id))
            .map_or(&[][..], Vec::as_slice);
        for config in super::platform::configs() {
            let platform = config.platform();
            let mut check = super::platform::Check::new(i, platform);
            config.check_with_state(
                creator,
                creator.platforms.block(platform),
                defs,
                state_dir,
                &mut check,
            );
            let super::platform::Found {
                on_block: found,
                on_triggers,
            } = check.into_all();
            for (pointer, message, warning) in found {
                out.0.push(Finding {
                    kind: ConfigKind::Creators,
                    pointer,
                    message,
                    warning,
                });
            }
            for (pointer, message) in on_triggers {
                out.0.push(Finding {
                    kind: ConfigKind::Triggers,
                    pointer,
                    message,
                    warning: true,
                });
            }
        }
    }
}

/// Creators that enable a platform whose mode keeps its source from starting (Rumble is paused by
/// default). A platform without a source says so in its own checks.
fn paused_platforms(config: &Config, out: &mut Findings) {
    for (i, creator) in config.creators.creators.iter().enumerate() {
        for (platform, block) in creator.platforms.iter() {
            let mode = config.platforms.mode(platform);
            let has_source = super::platform::config_of(platform).is_some_and(|c| c.has_source());
            if creator.enabled && block.enabled && has_source && mode != PlatformMode::Active {
                let title = platform.title();
                out.warn(
                    ConfigKind::Creators,
                    format!("/creators/{i}/platforms/{platform}/enabled"),
                    &format!(
                        "{title} is enabled here but its platform mode is {}, so no {title} source starts; set platforms.json {platform}.mode to \"active\"",
                        mode.as_str()
                    ),
                );
            }
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
            if def.action.moderates_author() && def.min_role != Role::Everyone {
                out.warn(
                    k,
                    format!("{at}/min_role"),
                    &format!(
                        "this action moderates the author of the message that fires it, and min_role {:?} lets only {} and above fire it, so it would act on them; remove min_role (moderation triggers match what viewers write)",
                        def.min_role.as_str(),
                        def.min_role.as_str()
                    ),
                );
            }
            event_trigger(def, &at, out);
            if let ActionDef::Obs(call) = &def.action
                && call.owner_only()
                && def.min_role != Role::Broadcaster
            {
                out.push(
                    k,
                    format!("{at}/min_role"),
                    format!(
                        "{} starts or stops the stream, which only the channel's owner may do; set \"min_role\": \"broadcaster\"",
                        call.name()
                    ),
                );
            }
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

/// moderation.json: creators that exist, unique filter ids, patterns that compile, known
/// placeholders, a permit command no trigger also answers; warnings for a filter that spares
/// everyone and for moderation on a platform (or with a block) that cannot carry it out, or, on a
/// root (`state_dir`), with a login that lacks a scope it needs.
fn moderation(
    config: &ModerationConfig,
    creators: Option<&CreatorsConfig>,
    triggers: Option<&TriggersConfig>,
    state_dir: Option<&std::path::Path>,
    out: &mut Findings,
) {
    let k = ConfigKind::Moderation;
    for (creator_id, settings) in &config.moderation {
        let base = format!("/moderation/{}", escape_token(creator_id));
        let creator = creators.map(|c| c.get(creator_id));
        if creator == Some(None) {
            out.push(
                k,
                base.clone(),
                format!(
                    "moderation for unknown creator {creator_id:?}; add it to creators.json or fix the key"
                ),
            );
        }
        let mut ids = HashSet::new();
        for (i, filter) in settings.filters.iter().enumerate() {
            let at = format!("{base}/filters/{i}");
            if !ids.insert(filter.id.as_str()) {
                out.push(
                    k,
                    format!("{at}/id"),
                    format!(
                        "duplicate filter id {:?} for creator {creator_id:?}; filter ids must be unique per creator",
                        filter.id
                    ),
                );
            }
            if let FilterRule::Words { patterns, .. } = &filter.rule {
                for (j, pattern) in patterns.iter().enumerate() {
                    if let Err(e) = regex::RegexBuilder::new(pattern)
                        .size_limit(8 << 20)
                        .build()
                    {
                        let first = e.to_string();
                        let last = first.lines().last().unwrap_or_default().trim();
                        let reason = last.strip_prefix("error: ").unwrap_or(last);
                        out.push(
                            k,
                            format!("{at}/patterns/{j}"),
                            format!("regex does not compile: {reason}"),
                        );
                    }
                }
            }
            if let Some(message) = &filter.message {
                for name in placeholders(message) {
                    if !MODERATION_PLACEHOLDERS.contains(&name) {
                        out.push(
                            k,
                            format!("{at}/message"),
                            format!(
                                "unknown placeholder {{{name}}}; a moderation message may use {}",
                                MODERATION_PLACEHOLDERS
                                    .iter()
                                    .map(|p| format!("{{{p}}}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        );
                    }
                }
            }
            let exempt = filter.exempt.as_ref().unwrap_or(&settings.exempt);
            if filter.enabled && exempt.contains(&Role::Everyone) {
                let pointer = if filter.exempt.is_some() {
                    format!("{at}/exempt")
                } else {
                    format!("{base}/exempt")
                };
                out.warn(
                    k,
                    pointer,
                    &format!(
                        "filter {:?} spares \"everyone\", so it never acts; list the roles to spare (subscriber, vip, moderator)",
                        filter.id
                    ),
                );
            }
        }
        if let (Some(command), Some(triggers)) = (&settings.permit.command, triggers)
            && let Some(defs) = triggers.triggers.get(creator_id)
            && defs.iter().any(|d| d.answers_command(command))
        {
            out.push(
                k,
                format!("{base}/permit/command"),
                format!(
                    "the permit command {command:?} is also a trigger's command of {creator_id:?}; both would answer: rename one"
                ),
            );
        }
        let Some(Some(creator)) = creator else {
            continue;
        };
        let wanted = |p: Platform| settings.platforms.is_empty() || settings.platforms.contains(&p);
        if !settings.filters.iter().any(|f| f.enabled) {
            continue;
        }
        for (platform, block) in creator.platforms.iter() {
            if !block.enabled || !wanted(platform) {
                continue;
            }
            let Some(platform_config) = super::platform::config_of(platform) else {
                continue;
            };
            let pointer = match settings.platforms.iter().position(|p| *p == platform) {
                Some(j) => format!("{base}/platforms/{j}"),
                None => base.clone(),
            };
            if let Err(why) = platform_config.moderation(block) {
                out.warn(
                    k,
                    pointer,
                    &format!(
                        "{creator_id:?} is moderated on {platform}, which cannot carry it out: {why}; decisions there are recorded and their commands refused (list the platforms to moderate in \"platforms\" to leave it out)"
                    ),
                );
            } else if let Some(state_dir) = state_dir
                && let Err(why) = platform_config.moderation_with_state(creator, block, state_dir)
            {
                out.warn(
                    k,
                    pointer,
                    &format!("{creator_id:?} is moderated on {platform}, but {why}"),
                );
            }
        }
        for (j, platform) in settings.platforms.iter().enumerate() {
            if !creator.platforms.configured(*platform) {
                out.push(
                    k,
                    format!("{base}/platforms/{j}"),
                    format!(
                        "creator {creator_id:?} has no {platform} block in creators.json; add one or remove \"{platform}\" here"
                    ),
                );
            }
        }
    }
}

/// The `{name}` placeholders of a template.
fn placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if !after[..close].contains('{') && !after[..close].is_empty() => {
                names.push(&after[..close]);
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    names
}

/// What is wrong with a trigger template's braces, if anything: a `{` that no `}` closes, or a
/// `{name}` that names no placeholder (a typo would otherwise go to chat as written). Braces around
/// anything but a name (`{ }`, `{:)}`) are text.
fn template_syntax(template: &str) -> Option<String> {
    let known = || {
        Placeholder::ALL
            .iter()
            .map(|(n, _)| format!("{{{n}}}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut at = 0;
    while let Some(open) = template[at..].find('{').map(|i| at + i) {
        let after = &template[open + 1..];
        let column = template[..open].chars().count() + 1;
        let close = after.find('}');
        let next_open = after.find('{');
        match close {
            Some(close) if next_open.is_none_or(|n| n > close) => {
                let name = &after[..close];
                let is_name = !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if is_name && Placeholder::from_name(name).is_none() {
                    return Some(format!(
                        "unknown placeholder {{{name}}} at column {column}; the template may use {}",
                        known()
                    ));
                }
                at = open + 1 + close + 1;
            }
            _ => {
                return Some(format!(
                    "unbalanced '{{' at column {column}: no '}}' closes it; write a placeholder as {{user}}, or leave the brace out"
                ));
            }
        }
    }
    None
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
        ActionDef::Obs(call) => call.texts(),
        ActionDef::Clip {
            title: Some(title), ..
        } => vec![("title", title)],
        _ => Vec::new(),
    };
    for (key, text) in templates {
        if let Some(problem) = template_syntax(text) {
            out.push(k, format!("{at}/action/{key}"), problem);
            continue;
        }
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
        if guild.creator.is_none()
            && guild
                .roles
                .values()
                .any(|r| *r >= crate::config::model::ControlRole::Moderator)
        {
            out.warn(
                k,
                format!("{base}/roles"),
                "this guild maps roles for /clip, /say and /mod but names no creator, so those commands are refused; set \"creator\"",
            );
        }
    }
    if config.discord.bot.enabled && config.discord.token_env.is_none() {
        out.push(
            k,
            "/discord/bot/enabled".into(),
            "the bot is enabled but discord.json has no token_env; name the variable holding the bot token (\"token_env\": \"DISCORD_BOT_TOKEN\")".into(),
        );
    }
}

fn posting(config: &PostingConfig, creators: Option<&CreatorsConfig>, out: &mut Findings) {
    let k = ConfigKind::Posting;
    let template = |out: &mut Findings, pointer: String, text: &str| {
        if let Some(unknown) = super::post_template::unknown_placeholder(text) {
            out.push(
                k,
                pointer,
                format!(
                    "unknown placeholder {{{unknown}}}; the template may use {}",
                    super::post_template::PLACEHOLDERS
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
    for (name, webhook) in &config.webhooks {
        let base = format!("/webhooks/{}", escape_token(name));
        env_name(
            out,
            k,
            format!("{base}/secret_env"),
            Some(&webhook.secret_env),
        );
        for (i, creator) in webhook.creators.iter().enumerate() {
            if let Some(creators) = creators
                && creators.get(creator).is_none()
            {
                out.push(
                    k,
                    format!("{base}/creators/{i}"),
                    format!("unknown creator {creator:?}; use an id from creators.json"),
                );
            }
        }
        for header in webhook.headers.keys() {
            if WEBHOOK_RESERVED_HEADERS
                .iter()
                .any(|r| r.eq_ignore_ascii_case(header))
            {
                out.push(
                    k,
                    format!("{base}/headers/{}", escape_token(header)),
                    format!("{header} is set by the sender itself; remove it from headers"),
                );
            } else if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
                out.push(
                    k,
                    format!("{base}/headers/{}", escape_token(header)),
                    format!("{header:?} is not a valid HTTP header name"),
                );
            }
        }
        if webhook.events.is_empty() {
            out.warn(
                k,
                format!("{base}/events"),
                "no events: only a notify action naming \"webhook:NAME\" reaches this webhook",
            );
        }
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
        let has_source = super::platform::config_of(*platform).is_none_or(|c| c.has_source());
        if !has_source && settings.mode == PlatformMode::Active {
            out.push(
                k,
                format!("{base}/mode"),
                format!(
                    "{platform} has no source yet; its mode can be planned, scaffold or paused"
                ),
            );
        }
    }
}

/// Each platform's checks of its send limit and its own keys.
fn ratelimits(config: &RateLimitsConfig, out: &mut Findings) {
    for platform_config in super::platform::configs() {
        let mut check = super::platform::Check::file(platform_config.platform());
        platform_config.check_ratelimits(config, &mut check);
        for (pointer, message, warning) in check.into_found() {
            out.0.push(Finding {
                kind: ConfigKind::RateLimits,
                pointer,
                message,
                warning,
            });
        }
    }
}

/// `tls_ca_file` names a readable PEM file holding at least one certificate.
fn tls_ca_file(config: &SystemConfig, root: Option<&std::path::Path>, out: &mut Findings) {
    let Some(file) = &config.tls_ca_file else {
        return;
    };
    let path = match root {
        Some(root) => root.join(file),
        None if file.is_absolute() => file.clone(),
        None => return,
    };
    if let Err(e) = crate::tls::read_ca_file(&path) {
        out.push(ConfigKind::System, "/tls_ca_file".into(), e.to_string());
    }
}

/// Each incoming hook: its secret variable's name, its creator, and a server to serve it.
fn hooks(config: &SystemConfig, creators: Option<&CreatorsConfig>, out: &mut Findings) {
    let k = ConfigKind::System;
    for (name, hook) in &config.hooks {
        let base = format!("/hooks/{}", escape_token(name));
        env_name(
            out,
            k,
            format!("{base}/verify/secret_env"),
            Some(&hook.verify.secret_env().to_string()),
        );
        if let Some(creators) = creators
            && creators.get(&hook.creator).is_none()
        {
            out.push(
                k,
                format!("{base}/creator"),
                format!(
                    "unknown creator {:?}; use an id from creators.json",
                    hook.creator
                ),
            );
        }
    }
    if !config.hooks.is_empty() && !config.http.enabled {
        out.warn(
            k,
            "/hooks".into(),
            "hooks are declared but http.enabled is false, so no /hooks/ route is served; set http.enabled to true",
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
    let mut names = HashSet::new();
    let mut variables = HashSet::new();
    for (i, token) in config.tokens.iter().enumerate() {
        let at = format!("/tokens/{i}");
        if !names.insert(token.name.as_str()) {
            out.push(
                k,
                format!("{at}/name"),
                format!(
                    "duplicate token name {:?}; the audit log tells tokens apart by name, so give each its own",
                    token.name
                ),
            );
        }
        if !variables.insert(token.token_env.as_str()) {
            out.push(
                k,
                format!("{at}/token_env"),
                format!(
                    "{} already holds another token; each token needs its own variable (and value)",
                    token.token_env
                ),
            );
        }
        if Some(&token.token_env) == config.http.token_env.as_ref() {
            out.push(
                k,
                format!("{at}/token_env"),
                "this is also http.token_env; give the control API's tokens their own variables"
                    .into(),
            );
        }
        env_name(out, k, format!("{at}/token_env"), Some(&token.token_env));
    }
    if !config.tokens.is_empty() && !config.http.enabled {
        out.warn(
            k,
            "/tokens".into(),
            "tokens are set but http.enabled is false, so no control API serves them; set http.enabled to true",
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

#[cfg(test)]
mod tests {
    use super::template_syntax;

    #[test]
    fn trigger_templates_with_unbalanced_braces_or_unknown_placeholders_are_refused() {
        assert_eq!(template_syntax("hi {user}, {count} times :{ }"), None);
        assert_eq!(template_syntax("no braces"), None);
        assert_eq!(template_syntax("{ } and {:)}"), None);
        let unknown = template_syntax("hello {usr}!").unwrap();
        assert!(
            unknown
                .starts_with("unknown placeholder {usr} at column 7; the template may use {user}"),
            "{unknown}"
        );
        for broken in ["hello {user", "{user {args}", "ok {user} then {"] {
            let problem = template_syntax(broken).unwrap();
            assert!(
                problem.starts_with("unbalanced '{' at column"),
                "{broken}: {problem}"
            );
        }
        assert!(
            template_syntax("ok {user} then {")
                .unwrap()
                .contains("column 16")
        );
    }
}
