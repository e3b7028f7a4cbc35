//! The trigger registry: every creator's triggers compiled once, for one pass per message.
//!
//! Per creator: a table of commands and aliases (lowercased), one Aho-Corasick automaton over every
//! keyword of every keyword trigger, one `RegexSet` over every regex trigger, the list of
//! non-empty triggers, and the stream-event triggers by event kind. Evaluating a message costs one
//! hash lookup, one automaton pass and one regex-set pass however many triggers there are; a stream
//! event looks only at the triggers on its kind.

use super::timers::CompiledTimer;
use crate::config::model::{
    GiveawaySettings, LinkSettings, Matcher, PointsSettings, PollSettings, QuoteSettings,
    TriggerDef, TriggersConfig,
};
use crate::event::{ChatEvent, EventKind, PlatformSet, Role};
use aho_corasick::AhoCorasick;
use regex::RegexSet;
use std::cell::RefCell;
use std::collections::HashMap;

/// Commands longer than this are never looked up (no configured command can be that long).
const MAX_COMMAND_LEN: usize = 64;

/// One trigger, ready to evaluate.
#[derive(Debug)]
pub struct CompiledTrigger {
    pub def: TriggerDef,
    /// Index into per-trigger state (counts, creator cooldowns).
    pub slot: usize,
    /// Index into global cooldowns: one per distinct trigger id across creators.
    pub global_slot: usize,
    /// The platforms it applies to; all when the trigger lists none.
    platforms: PlatformSet,
    min_role: Role,
    pub user_cooldown_ms: i64,
    pub creator_cooldown_ms: i64,
    pub global_cooldown_ms: i64,
}

impl CompiledTrigger {
    /// Enabled, for this platform, allowed for the author's role, and from the creator's own chat
    /// unless the trigger asks for shared chat too.
    pub fn applies_to(&self, event: &ChatEvent) -> bool {
        self.def.enabled
            && self.platforms.contains(event.platform)
            && event.author.roles.highest() >= self.min_role
            && (event.shared_from.is_none() || self.def.shared_chat)
    }
}

fn seconds_to_ms(s: f64) -> i64 {
    (s * 1000.0).round() as i64
}

/// One creator's compiled triggers.
#[derive(Debug)]
pub struct CreatorTriggers {
    pub triggers: Vec<CompiledTrigger>,
    commands: HashMap<String, Vec<usize>>,
    keywords: Option<AhoCorasick>,
    keyword_owner: Vec<usize>,
    regexes: Option<RegexSet>,
    regex_owner: Vec<usize>,
    non_empty: Vec<usize>,
    /// Stream-event triggers, by the index of their event kind in [`EventKind::ALL`].
    on_event: [Vec<usize>; EventKind::ALL.len()],
    /// Chat polls and standings commands, when the creator has them.
    polls: Option<PollSettings>,
    /// The daily bot's features the creator has.
    pub timers: Vec<CompiledTimer>,
    pub giveaways: Option<GiveawaySettings>,
    pub quotes: Option<QuoteSettings>,
    pub points: Option<PointsSettings>,
    pub links: Option<LinkSettings>,
}

// Event triggers are indexed by their kind's discriminant: every kind must have a slot.
const _: () = assert!(EventKind::Other as usize + 1 == EventKind::ALL.len());

thread_local! {
    /// Scratch for matched trigger indices, reused across calls so matching does not allocate.
    static MATCHED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

impl CreatorTriggers {
    /// The creator's poll settings, when polls are on for them.
    pub fn polls(&self) -> Option<&PollSettings> {
        self.polls.as_ref()
    }

    /// The indices of the triggers on stream events of `kind`, in config order.
    pub fn on_event(&self, kind: EventKind) -> &[usize] {
        &self.on_event[kind as usize]
    }

    /// Calls `f(trigger_index, args)` for every trigger whose matcher matches `text`, in config order,
    /// each at most once. `args` is the text after the command word for commands, the whole trimmed
    /// text otherwise.
    pub fn for_each_match(&self, text: &str, mut f: impl FnMut(usize, &str)) {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return;
        }
        MATCHED.with(|cell| {
            let Ok(mut matched) = cell.try_borrow_mut() else {
                // Re-entered from inside `f` (never done by the engine); fall back to a fresh buffer.
                let mut fresh = Vec::new();
                self.collect(trimmed, &mut fresh);
                return self.dispatch(trimmed, &fresh, &mut f);
            };
            matched.clear();
            self.collect(trimmed, &mut matched);
            self.dispatch(trimmed, &matched, &mut f);
        });
    }

    fn dispatch(&self, text: &str, matched: &[usize], f: &mut impl FnMut(usize, &str)) {
        let (first, rest) = split_command(text);
        for &index in matched {
            let args = match self.triggers[index].def.matcher {
                Matcher::Command { .. } if first.len() <= MAX_COMMAND_LEN => rest,
                _ => text,
            };
            f(index, args);
        }
    }

    fn collect(&self, text: &str, matched: &mut Vec<usize>) {
        let (first, _) = split_command(text);
        if !self.commands.is_empty() && first.len() <= MAX_COMMAND_LEN {
            let mut buf = [0u8; MAX_COMMAND_LEN];
            let lower = &mut buf[..first.len()];
            lower.copy_from_slice(first.as_bytes());
            lower.make_ascii_lowercase();
            if let Ok(key) = std::str::from_utf8(lower)
                && let Some(indices) = self.commands.get(key)
            {
                matched.extend_from_slice(indices);
            }
        }
        if let Some(ac) = &self.keywords {
            let bytes = text.as_bytes();
            for m in ac.find_overlapping_iter(text) {
                let before_ok = m.start() == 0 || !is_word_byte(bytes[m.start() - 1]);
                let after_ok = m.end() == bytes.len() || !is_word_byte(bytes[m.end()]);
                if before_ok && after_ok {
                    matched.push(self.keyword_owner[m.pattern().as_usize()]);
                }
            }
        }
        if let Some(set) = &self.regexes
            && set.is_match(text)
        {
            matched.extend(set.matches(text).iter().map(|i| self.regex_owner[i]));
        }
        matched.extend_from_slice(&self.non_empty);
        matched.sort_unstable();
        matched.dedup();
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The first whitespace-separated word and the trimmed rest.
fn split_command(text: &str) -> (&str, &str) {
    match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim_start()),
        None => (text, ""),
    }
}

/// Every creator's compiled triggers.
#[derive(Debug, Default)]
pub struct Registry {
    /// Looked up for every event: hashed fast (creator ids come from the config, not from chat).
    creators: HashMap<String, CreatorTriggers, crate::event::FastHasher>,
    slots: usize,
    global_slots: usize,
    max_user_cooldown_ms: i64,
    timer_slots: usize,
}

/// A trigger that could not be compiled (the config checks normally catch these first).
#[derive(Debug, thiserror::Error)]
#[error("creator {creator:?}, trigger {trigger:?}: {reason}")]
pub struct CompileError {
    pub creator: String,
    pub trigger: String,
    pub reason: String,
}

impl Registry {
    /// Compiles every creator's triggers.
    pub fn compile(config: &TriggersConfig) -> Result<Registry, CompileError> {
        let mut registry = Registry::default();
        let mut global_ids: HashMap<String, usize> = HashMap::new();
        for creator in config.creators() {
            let defs = config.triggers.get(creator).map_or(&[][..], Vec::as_slice);
            let mut compiled = registry.compile_creator(creator, defs, &mut global_ids)?;
            compiled.polls = config.polls.get(creator).cloned();
            for def in config.timers.get(creator).into_iter().flatten() {
                compiled
                    .timers
                    .push(CompiledTimer::new(def.clone(), registry.timer_slots));
                registry.timer_slots += 1;
            }
            compiled.giveaways = config.giveaways.get(creator).cloned();
            compiled.quotes = config.quotes.get(creator).cloned();
            compiled.points = config.points.get(creator).cloned();
            compiled.links = config.links.get(creator).cloned();
            registry.creators.insert(creator.clone(), compiled);
        }
        registry.global_slots = global_ids.len();
        Ok(registry)
    }

    fn compile_creator(
        &mut self,
        creator: &str,
        defs: &[TriggerDef],
        global_ids: &mut HashMap<String, usize>,
    ) -> Result<CreatorTriggers, CompileError> {
        let mut out = CreatorTriggers {
            triggers: Vec::with_capacity(defs.len()),
            commands: HashMap::new(),
            keywords: None,
            keyword_owner: Vec::new(),
            regexes: None,
            regex_owner: Vec::new(),
            non_empty: Vec::new(),
            on_event: std::array::from_fn(|_| Vec::new()),
            polls: None,
            timers: Vec::new(),
            giveaways: None,
            quotes: None,
            points: None,
            links: None,
        };
        let mut keywords = Vec::new();
        let mut patterns = Vec::new();
        for (index, def) in defs.iter().enumerate() {
            let next_global = global_ids.len();
            let global_slot = *global_ids.entry(def.id.clone()).or_insert(next_global);
            match &def.matcher {
                Matcher::Command { command, aliases } => {
                    for name in std::iter::once(command).chain(aliases) {
                        out.commands
                            .entry(name.to_ascii_lowercase())
                            .or_default()
                            .push(index);
                    }
                }
                Matcher::Keyword { keywords: words } => {
                    for word in words {
                        keywords.push(word.clone());
                        out.keyword_owner.push(index);
                    }
                }
                Matcher::Regex { pattern } => {
                    regex::Regex::new(pattern).map_err(|e| CompileError {
                        creator: creator.into(),
                        trigger: def.id.clone(),
                        reason: format!("regex does not compile: {e}"),
                    })?;
                    patterns.push(pattern.clone());
                    out.regex_owner.push(index);
                }
                Matcher::NonEmpty => out.non_empty.push(index),
                Matcher::Event { on } => out.on_event[on.event as usize].push(index),
            }
            let platforms = if def.platforms.is_empty() {
                PlatformSet::ALL
            } else {
                def.platforms.iter().copied().collect()
            };
            let user_cooldown_ms = seconds_to_ms(def.cooldowns.user_s);
            self.max_user_cooldown_ms = self.max_user_cooldown_ms.max(user_cooldown_ms);
            out.triggers.push(CompiledTrigger {
                def: def.clone(),
                slot: self.slots,
                global_slot,
                platforms,
                min_role: def.min_role,
                user_cooldown_ms,
                creator_cooldown_ms: seconds_to_ms(def.cooldowns.creator_s),
                global_cooldown_ms: seconds_to_ms(def.cooldowns.global_s),
            });
            self.slots += 1;
        }
        let fail = |reason: String| CompileError {
            creator: creator.into(),
            trigger: "*".into(),
            reason,
        };
        if !keywords.is_empty() {
            out.keywords = Some(
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(&keywords)
                    .map_err(|e| fail(format!("keywords: {e}")))?,
            );
        }
        if !patterns.is_empty() {
            out.regexes =
                Some(RegexSet::new(&patterns).map_err(|e| fail(format!("regex set: {e}")))?);
        }
        Ok(out)
    }

    pub fn creator(&self, id: &str) -> Option<&CreatorTriggers> {
        self.creators.get(id)
    }

    /// Number of per-trigger state slots.
    pub fn slots(&self) -> usize {
        self.slots
    }

    pub fn global_slots(&self) -> usize {
        self.global_slots
    }

    /// Number of timers over every creator.
    pub fn timer_slots(&self) -> usize {
        self.timer_slots
    }

    /// The longest per-user cooldown; older per-user entries can be forgotten.
    pub fn max_user_cooldown_ms(&self) -> i64 {
        self.max_user_cooldown_ms
    }

    /// How many triggers in all.
    pub fn len(&self) -> usize {
        self.slots
    }

    pub fn is_empty(&self) -> bool {
        self.slots == 0
    }
}
