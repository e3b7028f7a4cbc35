//! Moderation: chat filters, strikes and permits, evaluated before the triggers. Pure and
//! deterministic, like the trigger engine: `evaluate(event, registry, state) -> Verdict`.
//!
//! A creator's filters (moderation.json) are checked in config order against each chat message
//! of a moderated platform; the first that catches it decides, unless the author holds a role the
//! filter spares (the broadcaster always). The decision's penalty is the more severe of the
//! filter's action and the step of the strike ladder the offence reaches; strikes count per
//! (creator, platform, user) on the events' own clock and are forgotten `decay_s` after a user's
//! last offence. A dry run (`"mode": "log"`) decides the same way, counts its strikes apart, and
//! sends nothing. A message acted on for real (anything but a warning) does not reach the triggers.
//!
//! **State.** [`ModerationState`] holds the strikes, which outlive a run: they are kept in the store
//! (as the decisions that made them) and the engine starts from them ([`ModerationState::seed`]), so
//! a restart does not forgive a spammer, and `ss replay` reaches the same counts by replaying the
//! same decisions. The rest (permits, who has chatted, who followed when) starts afresh with the
//! trigger state at each run start and applied reload ([`ModerationState::restart`]).
//!
//! - [`links`]: finding links, dodged ones included, and the allowlist.
//! - [`text`]: folding case and accents; capitals, symbols, runs, repeated words.
//! - [`words`]: banned words (one automaton) and regexes (one linear-time set).

pub mod links;
pub mod text;
pub mod words;

use crate::actions::moderation::{Decision, StrikeRecord};
use crate::actions::{Action, ActionKind};
use crate::config::model::{
    CreatorModeration, FilterDef, FilterRule, MAX_PERMIT_SECONDS, ModerationConfig, ModerationMode,
    Penalty,
};
use crate::event::{
    ChatEvent, CompactString, EventKind, FastHasher, Platform, PlatformSet, Role, Roles,
    process_key,
};
use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use words::{Banned, BannedWords};

/// The trigger id of a filter's decisions: `moderation/{filter}`.
pub fn trigger_id(filter: &str) -> String {
    format!("moderation/{filter}")
}

/// The trigger id of `!permit` replies.
pub const PERMIT_TRIGGER: &str = "moderation/permit";

/// A filter that does not compile (a bad regex).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("moderation of {creator}, filter {filter}: {reason}")]
pub struct ModerationError {
    pub creator: String,
    pub filter: String,
    pub reason: String,
}

/// Every creator's filters, compiled once per config.
#[derive(Debug, Default)]
pub struct ModerationRegistry {
    creators: HashMap<String, CreatorFilters>,
}

#[derive(Debug)]
struct CreatorFilters {
    platforms: PlatformSet,
    permit: Option<Permit>,
    ladder: Vec<Penalty>,
    decay_ms: i64,
    filters: Vec<Filter>,
    /// Some filter is stricter on first messages: who has chatted is tracked.
    tracks_first: bool,
    /// Some filter reads follow ages: follows are tracked.
    tracks_follows: bool,
}

#[derive(Debug)]
struct Permit {
    command: String,
    seconds: u32,
    role: Role,
    reply: String,
}

#[derive(Debug)]
struct Filter {
    id: String,
    trigger_id: String,
    check: Check,
    action: Penalty,
    message: Option<String>,
    exempt: Vec<Role>,
    exempt_followers_ms: Option<i64>,
    strikes: bool,
    dry_run: bool,
    platforms: PlatformSet,
}

#[derive(Debug)]
enum Check {
    Links {
        allow: Vec<String>,
        /// The first-message rule: its penalty (when stricter) and the new-follower window.
        first: Option<(Option<Penalty>, i64)>,
    },
    Caps {
        min: u32,
        ratio: f64,
    },
    Symbols {
        min: u32,
        ratio: f64,
    },
    Repetition {
        run: u32,
        words: u32,
    },
    Emotes {
        max: u32,
    },
    Length {
        max: u32,
    },
    Words(BannedWords),
}

fn platform_set(platforms: &[Platform]) -> PlatformSet {
    if platforms.is_empty() {
        PlatformSet::ALL
    } else {
        platforms.iter().copied().collect()
    }
}

fn seconds_ms(s: u64) -> i64 {
    i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)
}

impl ModerationRegistry {
    /// Compiles every creator's filters.
    pub fn compile(config: &ModerationConfig) -> Result<ModerationRegistry, ModerationError> {
        let mut creators = HashMap::new();
        for (creator, settings) in &config.moderation {
            creators.insert(creator.clone(), compile_creator(creator, settings)?);
        }
        Ok(ModerationRegistry { creators })
    }

    /// Whether any creator has a filter.
    pub fn is_empty(&self) -> bool {
        self.creators.values().all(|c| c.filters.is_empty())
    }
}

fn compile_creator(
    creator: &str,
    settings: &CreatorModeration,
) -> Result<CreatorFilters, ModerationError> {
    let mut filters = Vec::new();
    let (mut tracks_first, mut tracks_follows) = (false, false);
    for def in settings.filters.iter().filter(|f| f.enabled) {
        let check = compile_check(def).map_err(|reason| ModerationError {
            creator: creator.to_owned(),
            filter: def.id.clone(),
            reason,
        })?;
        if let Check::Links {
            first: Some((_, within)),
            ..
        } = &check
        {
            tracks_first = true;
            tracks_follows |= *within > 0;
        }
        tracks_follows |= def.exempt_followers_s.is_some();
        filters.push(Filter {
            id: def.id.clone(),
            trigger_id: trigger_id(&def.id),
            check,
            action: def.action,
            message: def.message.clone(),
            exempt: def
                .exempt
                .clone()
                .unwrap_or_else(|| settings.exempt.clone()),
            exempt_followers_ms: def.exempt_followers_s.map(seconds_ms),
            strikes: def.strikes,
            dry_run: def.mode.unwrap_or(settings.mode) == ModerationMode::Log,
            platforms: platform_set(&def.platforms),
        });
    }
    let permit = settings.permit.command.as_ref().map(|command| Permit {
        command: command.to_lowercase(),
        seconds: settings.permit.seconds.clamp(1, MAX_PERMIT_SECONDS),
        role: settings.permit.role,
        reply: settings.permit.reply.clone(),
    });
    Ok(CreatorFilters {
        platforms: platform_set(&settings.platforms),
        permit,
        ladder: settings.strikes.ladder.clone(),
        decay_ms: seconds_ms(settings.strikes.decay_s),
        filters,
        tracks_first,
        tracks_follows,
    })
}

fn compile_check(def: &FilterDef) -> Result<Check, String> {
    Ok(match &def.rule {
        FilterRule::Links {
            allow,
            first_message,
        } => Check::Links {
            allow: allow.iter().map(|d| d.to_ascii_lowercase()).collect(),
            first: first_message
                .as_ref()
                .map(|f| (f.action, seconds_ms(f.followed_within_s))),
        },
        FilterRule::Caps {
            min_length,
            max_ratio,
        } => Check::Caps {
            min: *min_length,
            ratio: *max_ratio,
        },
        FilterRule::Symbols {
            min_length,
            max_ratio,
        } => Check::Symbols {
            min: *min_length,
            ratio: *max_ratio,
        },
        FilterRule::Repetition {
            max_char_run,
            max_word_repeats,
        } => Check::Repetition {
            run: *max_char_run,
            words: (*max_word_repeats).max(2),
        },
        FilterRule::Emotes { max } => Check::Emotes { max: *max },
        FilterRule::Length { max_chars } => Check::Length { max: *max_chars },
        FilterRule::Words { words, patterns } => {
            Check::Words(BannedWords::compile(words, patterns)?)
        }
    })
}

/// One creator's user on one platform, as a 64-bit key (who has chatted, who followed when).
/// Seeded per process and fast ([`process_key`]): SipHash here was about 1% of the run loop at full
/// speed.
fn user_key(creator: &str, platform: Platform, user_id: &str) -> u64 {
    process_key((creator, platform, user_id))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct StrikeKey {
    creator: CompactString,
    platform: Platform,
    user_id: CompactString,
    dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Strike {
    count: u32,
    last_ms: i64,
}

/// The moderation engine's memory: strikes (kept across runs), permits, first messages and
/// follows (per run).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModerationState {
    strikes: HashMap<StrikeKey, Strike>,
    /// Permits until (Unix ms), by (creator, platform, lowercase login).
    permits: HashMap<(CompactString, Platform, String), i64>,
    /// Users who have chatted since the run started.
    seen: HashSet<u64, FastHasher>,
    /// When users followed, as far as this run saw.
    follows: HashMap<u64, i64, FastHasher>,
    /// The longest decay of any creator, for pruning forgotten strikes.
    prune_at: usize,
}

/// Strike entries kept before forgotten ones are pruned.
const PRUNE_FROM: usize = 4096;

impl ModerationState {
    /// Strikes as the store kept them (each user's count after their last offence).
    pub fn seed(&mut self, records: impl IntoIterator<Item = StrikeRecord>) {
        for r in records {
            self.strikes.insert(
                StrikeKey {
                    creator: r.creator.into(),
                    platform: r.platform,
                    user_id: r.user_id.into(),
                    dry_run: r.dry_run,
                },
                Strike {
                    count: r.strikes,
                    last_ms: r.last_ms,
                },
            );
        }
    }

    /// The per-run part starts afresh (a run start, an applied reload); strikes stay.
    pub fn restart(&mut self) {
        self.permits.clear();
        self.seen.clear();
        self.follows.clear();
    }

    /// A user's strikes with this offence at `now_ms`: one more, or the first after the old ones
    /// decayed.
    fn strike(&mut self, key: StrikeKey, now_ms: i64, decay_ms: i64) -> u32 {
        let strike = self.strikes.entry(key).or_insert(Strike {
            count: 0,
            last_ms: now_ms,
        });
        if now_ms.saturating_sub(strike.last_ms) >= decay_ms {
            strike.count = 0;
        }
        strike.count = strike.count.saturating_add(1);
        strike.last_ms = strike.last_ms.max(now_ms);
        let count = strike.count;
        self.prune(now_ms, decay_ms);
        count
    }

    /// Forgets decayed strikes once the map has grown (a decayed entry counts as none anyway).
    fn prune(&mut self, now_ms: i64, decay_ms: i64) {
        if self.strikes.len() < self.prune_at.max(PRUNE_FROM) {
            return;
        }
        self.strikes
            .retain(|_, s| now_ms.saturating_sub(s.last_ms) < decay_ms);
        self.prune_at = self.strikes.len() * 2;
    }

    fn permitted(&self, event: &ChatEvent, now_ms: i64) -> bool {
        if self.permits.is_empty() {
            return false;
        }
        [&event.author.login, &event.author.display_name]
            .iter()
            .any(|name| {
                self.permits
                    .get(&(
                        event.creator.clone(),
                        event.platform,
                        name.as_str().to_lowercase(),
                    ))
                    .is_some_and(|until| now_ms < *until)
            })
    }
}

/// What moderation made of one event.
#[derive(Debug, Default)]
pub struct Verdict {
    /// The decision (or a `!permit` reply); empty for most messages.
    pub actions: Vec<Action>,
    /// The message was acted on for real: the triggers do not see it.
    pub stop_triggers: bool,
}

/// What a filter caught, and the penalty it asks for when stricter than its action.
struct Hit {
    rule: String,
    penalty: Option<Penalty>,
}

/// What a check may need besides the event.
struct Context<'a> {
    state: &'a ModerationState,
    now_ms: i64,
    first: bool,
    followed_ms: Option<i64>,
    measures: &'a Measures<'a>,
}

/// What the filters measure in one message, each worked out once, when a filter first asks: a
/// creator's several filters of one type (or the same measure) do not repeat the work.
struct Measures<'e> {
    event: &'e ChatEvent,
    hosts: OnceCell<Vec<String>>,
    caps: OnceCell<(u32, u32)>,
    symbols: OnceCell<(u32, u32)>,
    run: OnceCell<(u32, char)>,
    chars: OnceCell<usize>,
}

impl<'e> Measures<'e> {
    fn new(event: &'e ChatEvent) -> Measures<'e> {
        Measures {
            event,
            hosts: OnceCell::new(),
            caps: OnceCell::new(),
            symbols: OnceCell::new(),
            run: OnceCell::new(),
            chars: OnceCell::new(),
        }
    }

    fn hosts(&self) -> &[String] {
        self.hosts.get_or_init(|| links::hosts(&self.event.text))
    }

    fn caps(&self) -> (u32, u32) {
        *self.caps.get_or_init(|| text::caps(self.event))
    }

    fn symbols(&self) -> (u32, u32) {
        *self.symbols.get_or_init(|| text::symbols(self.event))
    }

    fn longest_run(&self) -> (u32, char) {
        *self.run.get_or_init(|| text::longest_run(&self.event.text))
    }

    fn chars(&self) -> usize {
        *self.chars.get_or_init(|| self.event.text.chars().count())
    }
}

fn ratio_hit(what: &str, count: u32, total: u32, min: u32, ratio: f64, unit: &str) -> Option<Hit> {
    (total >= min && f64::from(count) > ratio * f64::from(total)).then(|| Hit {
        rule: format!(
            "{what} {}% of {total} {unit}",
            (f64::from(count) * 100.0 / f64::from(total)).round()
        ),
        penalty: None,
    })
}

impl Check {
    fn catches(&self, event: &ChatEvent, cx: &Context<'_>) -> Option<Hit> {
        match self {
            Check::Links { allow, first } => {
                let hosts = cx.measures.hosts();
                if hosts.is_empty() || cx.state.permitted(event, cx.now_ms) {
                    return None;
                }
                let new_follower = first.is_some_and(|(_, within)| {
                    within > 0 && cx.followed_ms.is_some_and(|at| cx.now_ms - at < within)
                });
                if let Some((penalty, _)) = first
                    && (cx.first || new_follower)
                {
                    let why = if cx.first {
                        "in a first message"
                    } else {
                        "from a new follower"
                    };
                    return Some(Hit {
                        rule: format!("link to {} {why}", hosts[0]),
                        penalty: *penalty,
                    });
                }
                let host = hosts.iter().find(|h| !links::allowed(h, allow))?;
                Some(Hit {
                    rule: format!("link to {host}"),
                    penalty: None,
                })
            }
            Check::Caps { min, ratio } => {
                let (upper, letters) = cx.measures.caps();
                ratio_hit("caps", upper, letters, *min, *ratio, "letters")
            }
            Check::Symbols { min, ratio } => {
                let (symbols, visible) = cx.measures.symbols();
                ratio_hit("symbols", symbols, visible, *min, *ratio, "characters")
            }
            Check::Repetition { run, words } => {
                let (longest, c) = cx.measures.longest_run();
                if longest > *run {
                    return Some(Hit {
                        rule: format!("{c:?} {longest} times in a row"),
                        penalty: None,
                    });
                }
                let (n, word) = text::most_repeated_word(&event.text, *words)?;
                (n >= *words).then(|| Hit {
                    rule: format!("word {word:?} {n} times"),
                    penalty: None,
                })
            }
            Check::Emotes { max } => {
                let n = event.emotes.len();
                (n > *max as usize).then(|| Hit {
                    rule: format!("{n} emotes (at most {max})"),
                    penalty: None,
                })
            }
            Check::Length { max } => {
                let n = cx.measures.chars();
                (n > *max as usize).then(|| Hit {
                    rule: format!("{n} characters (at most {max})"),
                    penalty: None,
                })
            }
            Check::Words(banned) => match banned.find(&event.text)? {
                Banned::Word(word) => Some(Hit {
                    rule: format!("banned word {word:?}"),
                    penalty: None,
                }),
                Banned::Pattern(pattern) => Some(Hit {
                    rule: format!("banned pattern {pattern:?}"),
                    penalty: None,
                }),
            },
        }
    }
}

/// Whether `roles` include one of `exempt`.
fn exempt(exempt: &[Role], roles: &Roles) -> bool {
    exempt.iter().any(|role| match role {
        Role::Everyone => true,
        Role::Subscriber => roles.subscriber,
        Role::Vip => roles.vip,
        Role::Moderator => roles.moderator,
        Role::Broadcaster => roles.broadcaster,
    })
}

/// Whether this is the author's first message: Twitch says so (`first-msg`); elsewhere, the
/// first since the run started.
fn first_message(event: &ChatEvent, state: &mut ModerationState, key: u64) -> bool {
    let new_here = state.seen.insert(key);
    if event.extras.as_json().contains("\"first_msg\":true") {
        return true;
    }
    new_here && !event.extras.as_json().contains("\"first_msg\":")
}

/// Evaluates one event: a chat message against its creator's filters (and `!permit`), a follow
/// remembered for follow ages; anything else passes.
pub fn evaluate(
    event: &ChatEvent,
    registry: &ModerationRegistry,
    state: &mut ModerationState,
) -> Verdict {
    let Some(creator) = registry.creators.get(event.creator.as_str()) else {
        return Verdict::default();
    };
    if !creator.platforms.contains(event.platform) {
        return Verdict::default();
    }
    let now_ms = event.timestamp_ms();
    match event.kind {
        EventKind::Message => {}
        EventKind::Follow if creator.tracks_follows => {
            let key = user_key(&event.creator, event.platform, &event.author.id);
            state.follows.entry(key).or_insert(now_ms);
            return Verdict::default();
        }
        _ => return Verdict::default(),
    }
    if let Some(permit) = &creator.permit
        && let Some(reply) = permit_command(event, permit, state, now_ms)
    {
        return Verdict {
            actions: vec![reply],
            stop_triggers: false,
        };
    }
    if creator.filters.is_empty() {
        return Verdict::default();
    }
    let key = (creator.tracks_first || creator.tracks_follows)
        .then(|| user_key(&event.creator, event.platform, &event.author.id));
    let first = match key {
        Some(key) if creator.tracks_first => first_message(event, state, key),
        _ => false,
    };
    let roles = &event.author.roles;
    if roles.broadcaster {
        return Verdict::default();
    }
    let followed_ms = key.and_then(|k| state.follows.get(&k).copied());
    let measures = Measures::new(event);
    for filter in &creator.filters {
        if !filter.platforms.contains(event.platform) || exempt(&filter.exempt, roles) {
            continue;
        }
        if let Some(age) = filter.exempt_followers_ms
            && followed_ms.is_some_and(|at| now_ms - at >= age)
        {
            continue;
        }
        let cx = Context {
            state,
            now_ms,
            first,
            followed_ms,
            measures: &measures,
        };
        let Some(hit) = filter.check.catches(event, &cx) else {
            continue;
        };
        return decide(event, creator, filter, hit, state, now_ms);
    }
    Verdict::default()
}

/// The decision of `filter` on a message it caught.
fn decide(
    event: &ChatEvent,
    creator: &CreatorFilters,
    filter: &Filter,
    hit: Hit,
    state: &mut ModerationState,
    now_ms: i64,
) -> Verdict {
    let base = hit.penalty.unwrap_or(filter.action);
    let strike = if filter.strikes {
        state.strike(
            StrikeKey {
                creator: event.creator.clone(),
                platform: event.platform,
                user_id: event.author.id.clone(),
                dry_run: filter.dry_run,
            },
            now_ms,
            creator.decay_ms,
        )
    } else {
        0
    };
    let penalty = match creator.ladder.len() {
        0 => base,
        _ if strike == 0 => base,
        n => base.max(creator.ladder[(strike as usize).min(n) - 1]),
    };
    let decision = match penalty {
        Penalty::Warn => Decision::Warn,
        Penalty::Delete => Decision::Delete,
        Penalty::Timeout(_) => Decision::Timeout,
        Penalty::Ban => Decision::Ban,
    };
    let template = filter.message.as_deref().or(match decision {
        Decision::Warn => Some("{user}, please mind the chat rules: {rule}."),
        _ => None,
    });
    let message = template.map(|t| {
        render(
            t,
            &[
                ("user", &event.author.display_name),
                ("filter", &filter.id),
                ("rule", &hit.rule),
                ("action", decision.as_str()),
                (
                    "seconds",
                    &penalty.seconds().map(|s| s.to_string()).unwrap_or_default(),
                ),
                ("strike", &strike.to_string()),
            ],
        )
    });
    Verdict {
        actions: vec![Action {
            trigger_id: filter.trigger_id.clone(),
            creator: event.creator.to_string(),
            platform: event.platform,
            message_id: event.message_id.to_string(),
            at: event.timestamp,
            kind: ActionKind::Moderate {
                channel: event.channel.to_string(),
                filter: filter.id.clone(),
                rule: hit.rule,
                user_id: event.author.id.to_string(),
                user_login: event.author.login.to_string(),
                decision,
                seconds: penalty.seconds(),
                strike,
                dry_run: filter.dry_run,
                message,
            },
            thread: true,
        }],
        stop_triggers: !filter.dry_run && decision != Decision::Warn,
    }
}

/// `!permit user [seconds]` from someone allowed: the permit, and its reply.
fn permit_command(
    event: &ChatEvent,
    permit: &Permit,
    state: &mut ModerationState,
    now_ms: i64,
) -> Option<Action> {
    let mut words = event.text.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case(&permit.command)
        || event.author.roles.highest() < permit.role
    {
        return None;
    }
    let text = match words.next() {
        None => format!("Usage: {} user [seconds]", permit.command),
        Some(target) => {
            let target = target.trim_start_matches('@').to_lowercase();
            let seconds = words
                .next()
                .and_then(|s| s.trim_end_matches('s').parse::<u32>().ok())
                .unwrap_or(permit.seconds)
                .clamp(1, MAX_PERMIT_SECONDS);
            if state.permits.len() >= PRUNE_FROM {
                state.permits.retain(|_, until| *until > now_ms);
            }
            state.permits.insert(
                (event.creator.clone(), event.platform, target.clone()),
                now_ms.saturating_add(i64::from(seconds) * 1000),
            );
            render(
                &permit.reply,
                &[("user", &target), ("seconds", &seconds.to_string())],
            )
        }
    };
    Some(Action {
        trigger_id: PERMIT_TRIGGER.to_owned(),
        creator: event.creator.to_string(),
        platform: event.platform,
        message_id: event.message_id.to_string(),
        at: event.timestamp,
        kind: ActionKind::Reply {
            channel: event.channel.to_string(),
            text,
        },
        thread: true,
    })
}

/// Fills `{name}` placeholders; unknown ones stay as written.
fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (close, *v))
        }) {
            Some((close, value)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
