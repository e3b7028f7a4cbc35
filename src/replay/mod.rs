//! Replay: recorded chat through the live evaluation core again, with no effects.
//!
//! `ss replay` answers "what would these triggers have done on that stream?" and, with a diff
//! against what the live run recorded, proves that the answer is faithful. The events come from an
//! [`input`] (the store's chat log, a JSONL file of `ChatEvent`s, or a raw Twitch IRC log) in the
//! order they were accepted, and go through [`Core`], the very dedupe → triggers code the run loop
//! calls; nothing here evaluates a trigger itself. Nothing is sent and nothing is written: the store
//! is opened read-only, and actions only come out as data.
//!
//! **Determinism.** The core's only clock is the events' own timestamps and its only memory is its
//! state, so the same events in the same order give the same actions; every map that reaches the
//! output is ordered. Where the live state started afresh (each `ss run` start, each applied hot
//! reload: the store's run marks), the input yields [`Item::FreshState`] and the replay restarts its
//! state there too. The ticks of the creators' clocks that fired actions live (a poll closing at its
//! deadline) are recorded at their place in the chat; the store input yields them as [`Item::Tick`]
//! there, so the replay closes the same polls at the same times. (A tick that fired nothing changed
//! nothing, so the ones not recorded need no replay.) JSONL and IRC inputs carry no ticks: a poll
//! replayed from them closes at the first message past its deadline.
//!
//! **Filters select what is reported, not what is evaluated.** Cooldowns are shared across
//! platforms (per creator) and across creators (global), so dropping other events would change the
//! answer for the ones kept. The replay evaluates every event from the run start before the first
//! selected one and reports the events (and their actions) that `--creator`, `--platform`, `--since`
//! and `--until` select.
//!
//! **Extensions.** An extension may answer differently each time (it may ask the network), so what
//! it answered live is recorded with its call (actions with the trigger id `{trigger}/extension`).
//! The replay takes those recorded answers by default ([`Recorded`]), so `--diff` stays empty;
//! `ss replay --extensions live` calls the extensions again instead (any [`Answers`]), to try a
//! new version of one against recorded chat.
//!
//! - [`input`]: the three input formats, format guessing, malformed lines.
//! - [`irc_log`]: one line of a raw Twitch IRC log (optionally `[time]`-prefixed).
//! - [`diff`]: replayed against recorded actions.
//! - [`stats`]: counts instead of actions.

pub mod diff;
pub mod input;
pub mod irc_log;
pub mod stats;

use crate::actions::Action;
use crate::actions::moderation::StrikeRecord;
use crate::config::CreatorsConfig;
use crate::engine::Core;
use crate::event::{ChatEvent, Platform, Tick};
use crate::store::StoreReader;
use anyhow::Context;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use input::Progress;
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One thing an input yields, in acceptance order.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "events are the hot path and are moved, never stored: boxing would allocate per event"
)]
pub enum Item {
    /// An event, as the pipeline accepted it.
    Event(ChatEvent),
    /// A tick of a creator's clock that fired actions in the live run.
    Tick(Tick),
    /// The live trigger state started afresh before the next event (a run start, a hot reload).
    FreshState,
    /// The moderation strikes the live run had where the replay starts (a window that begins
    /// after earlier runs): each user's count after their last recorded offence.
    Strikes(Vec<StrikeRecord>),
    /// The linked accounts as the store held them here (at the start and after each fresh state):
    /// the live run loaded the same.
    Links(Vec<crate::actions::community::LinkEntry>),
    /// A line that could not be read; replay goes on without it.
    Skipped(SkippedLine),
}

/// A malformed line of an input file, reported and skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedLine {
    /// 1-based line number in the input file.
    pub line: u64,
    pub reason: String,
}

/// Which events a replay reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub creator: Option<String>,
    /// Empty: every platform.
    pub platforms: Vec<Platform>,
    /// Event time at or after this (Unix ms).
    pub since_ms: Option<i64>,
    /// Event time before this (Unix ms).
    pub until_ms: Option<i64>,
}

impl Filter {
    /// Whether an event with these fields is selected.
    pub fn selects(&self, creator: &str, platform: Platform, at_ms: i64) -> bool {
        self.creator.as_deref().is_none_or(|c| c == creator)
            && (self.platforms.is_empty() || self.platforms.contains(&platform))
            && self.since_ms.is_none_or(|s| at_ms >= s)
            && self.until_ms.is_none_or(|u| at_ms < u)
    }

    pub fn selects_event(&self, event: &ChatEvent) -> bool {
        self.selects(&event.creator, event.platform, event.timestamp_ms())
    }

    pub fn selects_action(&self, action: &Action) -> bool {
        self.selects(
            &action.creator,
            action.platform,
            action.at.timestamp_millis(),
        )
    }
}

/// What a replay gives, event by event.
pub trait Observer {
    /// A selected event that the core accepted, with the actions it fired (often none).
    fn event(&mut self, event: &ChatEvent, actions: &[Action]) -> anyhow::Result<()>;
    /// A tick that fired selected actions, with them.
    fn tick(&mut self, tick: &Tick, actions: &[Action]) -> anyhow::Result<()>;
    /// A line of the input that was skipped.
    fn skipped(&mut self, _line: &SkippedLine) {}
}

/// Counts of one replay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Events read from the input (selected or not).
    pub events_read: u64,
    /// Recorded ticks read from the input (selected or not).
    pub ticks_read: u64,
    /// Events the core dropped as duplicates.
    pub duplicates: u64,
    /// Events selected by the filter and reported.
    pub events_selected: u64,
    /// Actions of the selected events.
    pub actions: u64,
    /// Malformed lines skipped.
    pub skipped_lines: u64,
    /// Times the trigger state started afresh (run starts, reloads) within the replay.
    pub fresh_starts: u64,
}

/// Where a replay takes what an extension call answered.
pub trait Answers {
    /// The actions the extension call `call`, fired by `event` (none for a tick), answered.
    fn answer(&mut self, call: &Action, event: Option<&ChatEvent>) -> Vec<Action>;
}

/// What the live runs recorded that each extension call answered.
#[derive(Debug, Default)]
pub struct Recorded {
    by_call: HashMap<(String, Platform, String, String), Vec<Action>>,
}

impl Recorded {
    /// The recorded answers of the store at `path` that `filter` selects.
    pub fn from_store(path: &Path, filter: &Filter) -> anyhow::Result<Recorded> {
        let mut by_call: HashMap<_, Vec<Action>> = HashMap::new();
        for action in recorded_actions(path, filter)? {
            if action.trigger_id.ends_with("/extension") {
                by_call
                    .entry((
                        action.creator.clone(),
                        action.platform,
                        action.message_id.clone(),
                        action.trigger_id.clone(),
                    ))
                    .or_default()
                    .push(action);
            }
        }
        Ok(Recorded { by_call })
    }
}

impl Answers for Recorded {
    fn answer(&mut self, call: &Action, _event: Option<&ChatEvent>) -> Vec<Action> {
        self.by_call
            .remove(&(
                call.creator.clone(),
                call.platform,
                call.message_id.clone(),
                crate::actions::extension_trigger_id(&call.trigger_id),
            ))
            .unwrap_or_default()
    }
}

/// The replay loop: items in, through the core, selected results out.
pub struct Replay {
    /// What extension calls answer (none: their answers are left out).
    answers: Option<Box<dyn Answers>>,
    core: Core,
    filter: Filter,
    summary: Summary,
    /// The longest line a file input may have (system.json `limits.max_line_bytes`, as for the live
    /// line-based sources); a longer one is skipped and counted.
    max_line_bytes: usize,
}

impl Replay {
    pub fn new(core: Core, filter: Filter) -> Replay {
        Replay {
            answers: None,
            core,
            filter,
            summary: Summary::default(),
            max_line_bytes: crate::event::wire_checks::DEFAULT_MAX_LINE_BYTES,
        }
    }

    /// The same, with file input lines capped at `max_line_bytes`.
    #[must_use]
    pub fn with_max_line_bytes(mut self, max_line_bytes: usize) -> Replay {
        self.max_line_bytes = max_line_bytes.max(1);
        self
    }

    /// The same, with extension calls answered by `answers`.
    #[must_use]
    pub fn with_answers(mut self, answers: Box<dyn Answers>) -> Replay {
        self.answers = Some(answers);
        self
    }

    /// Takes the next item of the input.
    pub fn feed(&mut self, item: Item, out: &mut dyn Observer) -> anyhow::Result<()> {
        match item {
            Item::Event(event) => {
                self.summary.events_read += 1;
                let Some(mut actions) = self.core.evaluate(&event) else {
                    self.summary.duplicates += 1;
                    return Ok(());
                };
                if self.filter.selects_event(&event) {
                    self.answer(&mut actions, Some(&event));
                    self.summary.events_selected += 1;
                    self.summary.actions += actions.len() as u64;
                    out.event(&event, &actions)?;
                }
            }
            Item::Tick(tick) => {
                self.summary.ticks_read += 1;
                let mut actions = self.core.tick(&tick);
                actions.retain(|a| self.filter.selects_action(a));
                self.answer(&mut actions, None);
                if !actions.is_empty() {
                    self.summary.actions += actions.len() as u64;
                    out.tick(&tick, &actions)?;
                }
            }
            Item::Strikes(strikes) => self.core.seed_strikes(strikes),
            Item::FreshState => {
                self.summary.fresh_starts += 1;
                self.core.restart();
            }
            Item::Links(links) => self.core.set_links(links),
            Item::Skipped(line) => {
                self.summary.skipped_lines += 1;
                out.skipped(&line);
            }
        }
        Ok(())
    }

    /// Appends what the extension calls among `actions` answered.
    fn answer(&mut self, actions: &mut Vec<Action>, event: Option<&ChatEvent>) {
        if let Some(answers) = &mut self.answers {
            let answered: Vec<Action> = actions
                .iter()
                .filter(|a| matches!(a.kind, crate::actions::ActionKind::Extension { .. }))
                .flat_map(|call| answers.answer(call, event))
                .collect();
            actions.extend(answered);
        }
    }

    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    pub fn filter(&self) -> &Filter {
        &self.filter
    }
}

/// Where the events come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A store's chat log (the runtime root's, or `--input FILE`).
    Store(PathBuf),
    /// A JSONL file of chat events.
    Jsonl(PathBuf),
    /// A raw Twitch IRC log.
    Irc(PathBuf),
}

impl Input {
    pub fn path(&self) -> &Path {
        match self {
            Input::Store(p) | Input::Jsonl(p) | Input::Irc(p) => p,
        }
    }
}

/// Whose chat each Twitch channel of an IRC log is: one creator for every line (`--creator`), or
/// the creator whose twitch block in creators.json names the channel.
#[derive(Debug, Clone)]
pub enum ChannelOwners {
    One(String),
    ByChannel(HashMap<String, String>),
}

impl ChannelOwners {
    /// Channel → creator from every creator's twitch block (enabled or not: a log may be older
    /// than the current settings).
    pub fn from_config(creators: &CreatorsConfig) -> ChannelOwners {
        ChannelOwners::ByChannel(
            creators
                .creators
                .iter()
                .filter_map(|c| {
                    use crate::sources::twitch::{TWITCH, TwitchSettings};
                    let twitch = c.platforms.settings::<TwitchSettings>(TWITCH)?;
                    Some((twitch.channel.to_ascii_lowercase(), c.id.clone()))
                })
                .collect(),
        )
    }
}

/// Items the reader thread hands to the replay loop at a time.
const READ_BATCH: usize = 1024;
/// Batches read ahead of the replay loop. Policy when full: the reader waits (the loop sets the
/// pace), so memory stays at about `READ_AHEAD * READ_BATCH` events.
const READ_AHEAD: usize = 8;

/// The replay loop stopped (its own error), so the reader stops too; not an error of the input.
#[derive(Debug, thiserror::Error)]
#[error("the replay stopped")]
struct Stopped;

/// Replays `input` through `replay`, giving each result to `out`. A second thread reads and
/// decodes the input (SQLite rows, JSON, IRC lines) while this one evaluates and writes, in the
/// input's order: the batches go through one bounded channel.
pub fn run(
    input: &Input,
    replay: &mut Replay,
    owners: &ChannelOwners,
    progress: &(dyn Progress + Sync),
    out: &mut dyn Observer,
) -> anyhow::Result<()> {
    let filter = replay.filter().clone();
    let max_line = replay.max_line_bytes;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Item>>(READ_AHEAD);
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("ss-replay-read".into())
            .spawn_scoped(scope, move || -> anyhow::Result<()> {
                let mut batch = Vec::with_capacity(READ_BATCH);
                let mut send = |item| {
                    batch.push(item);
                    if batch.len() == READ_BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(READ_BATCH));
                        tx.send(full).map_err(|_| Stopped)?;
                    }
                    Ok(())
                };
                match input {
                    Input::Store(path) => input::read_store(path, &filter, progress, &mut send)?,
                    Input::Jsonl(path) => input::read_jsonl(path, max_line, progress, &mut send)?,
                    Input::Irc(path) => match owners {
                        ChannelOwners::One(creator) => {
                            input::read_irc(path, creator.as_str(), max_line, progress, &mut send)?;
                        }
                        ChannelOwners::ByChannel(map) => {
                            input::read_irc(path, map, max_line, progress, &mut send)?;
                        }
                    },
                }
                if !batch.is_empty() {
                    tx.send(batch).map_err(|_| Stopped)?;
                }
                Ok(())
            })
            .context("starting the reader thread")?;
        // Dropping `rx` on an error here stops the reader at its next batch.
        for batch in rx {
            for item in batch {
                replay.feed(item, out)?;
            }
        }
        match reader.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Writes each action as one line of JSON (the `--out` / stdout format, and what `--diff FILE`
/// reads back).
pub struct JsonLines<W: Write> {
    out: W,
    /// One line at a time, so a write error reaches the caller as the `io::Error` it is (a closed
    /// stdout is then recognized as such).
    line: Vec<u8>,
}

impl<W: Write> JsonLines<W> {
    pub fn new(out: W) -> JsonLines<W> {
        JsonLines {
            out,
            line: Vec::with_capacity(512),
        }
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> JsonLines<W> {
    fn write_actions(&mut self, actions: &[Action]) -> anyhow::Result<()> {
        for action in actions {
            self.line.clear();
            serde_json::to_writer(&mut self.line, action)?;
            self.line.push(b'\n');
            self.out.write_all(&self.line)?;
        }
        Ok(())
    }
}

impl<W: Write> Observer for JsonLines<W> {
    fn event(&mut self, _event: &ChatEvent, actions: &[Action]) -> anyhow::Result<()> {
        self.write_actions(actions)
    }

    fn tick(&mut self, _tick: &Tick, actions: &[Action]) -> anyhow::Result<()> {
        self.write_actions(actions)
    }
}

/// Keeps every action, in order (for a diff).
#[derive(Debug, Default)]
pub struct Collect(pub Vec<Action>);

impl Observer for Collect {
    fn event(&mut self, _event: &ChatEvent, actions: &[Action]) -> anyhow::Result<()> {
        self.0.extend_from_slice(actions);
        Ok(())
    }

    fn tick(&mut self, _tick: &Tick, actions: &[Action]) -> anyhow::Result<()> {
        self.0.extend_from_slice(actions);
        Ok(())
    }
}

/// Reads actions saved as JSON lines (a replay's `--out`) as a baseline for `--diff FILE`, keeping
/// those `filter` selects. A line that does not read is an error naming it: a baseline is a file
/// someone committed, and a diff against part of it would prove nothing.
pub fn read_actions(path: &Path, filter: &Filter) -> anyhow::Result<Vec<Action>> {
    use std::io::BufRead;
    let file = std::fs::File::open(path)
        .with_context(|| format!("opening the baseline {}", path.display()))?;
    let mut actions = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let action: Action = serde_json::from_str(&line).map_err(|e| {
            anyhow::anyhow!(
                "{}:{}: not an action ({e}); the baseline must be JSON lines as `ss replay --out FILE` writes them",
                path.display(),
                i + 1
            )
        })?;
        if filter.selects_action(&action) {
            actions.push(action);
        }
    }
    Ok(actions)
}

/// The actions a store recorded during its live runs that `filter` selects, in recorded order.
pub fn recorded_actions(path: &Path, filter: &Filter) -> anyhow::Result<Vec<Action>> {
    let store = StoreReader::open(path)?;
    let mut actions = Vec::new();
    store.for_each_recorded_action(filter.since_ms, filter.until_ms, |action| {
        if filter.selects_action(&action) {
            actions.push(action);
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(actions)
}

/// A `--since` / `--until` value that is no time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("{0:?} reaches back before any representable time")]
    TooFarBack(String),
    #[error(
        "{0:?} is not a time; use RFC 3339 (2026-11-30T21:00:00Z), a UTC date and time (\"2026-11-30 21:00\"), a date (2026-11-30), or a time ago (2h, 90m, 1d)"
    )]
    NotATime(String),
}

/// Reads a `--since` / `--until` value: an RFC 3339 time (`2026-11-30T21:00:00Z`), a UTC date and
/// time (`2026-11-30 21:00[:00]`), a UTC date (`2026-11-30`), or a duration before `now` (`2h`,
/// `90m`, `1d`).
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, TimeError> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now));
    }
    match humantime::parse_duration(text) {
        Ok(ago) => chrono::Duration::from_std(ago)
            .ok()
            .and_then(|ago| now.checked_sub_signed(ago))
            .ok_or_else(|| TimeError::TooFarBack(text.to_string())),
        Err(_) => Err(TimeError::NotATime(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn times_absolute_and_relative() {
        let at = |s: &str| parse_time(s, now()).map(|t| t.to_rfc3339());
        assert_eq!(
            at("2026-11-30T21:04:05Z").unwrap(),
            "2026-11-30T21:04:05+00:00"
        );
        assert_eq!(
            at("2026-11-30T22:04:05+01:00").unwrap(),
            "2026-11-30T21:04:05+00:00"
        );
        assert_eq!(at("2026-11-30 21:04").unwrap(), "2026-11-30T21:04:00+00:00");
        assert_eq!(at("2026-11-30").unwrap(), "2026-11-30T00:00:00+00:00");
        assert_eq!(at("2h").unwrap(), "2026-12-01T10:00:00+00:00");
        assert_eq!(at("1d").unwrap(), "2026-11-30T12:00:00+00:00");
        let err = at("yesterday").unwrap_err().to_string();
        assert!(err.contains("RFC 3339") && err.contains("2h"), "{err}");
    }

    #[test]
    fn the_filter_selects_by_every_field() {
        let filter = Filter {
            creator: Some("demo".into()),
            platforms: vec![Platform::named("twitch")],
            since_ms: Some(100),
            until_ms: Some(200),
        };
        assert!(filter.selects("demo", Platform::named("twitch"), 100));
        assert!(
            !filter.selects("demo", Platform::named("twitch"), 200),
            "until is exclusive"
        );
        assert!(!filter.selects("demo", Platform::named("twitch"), 99));
        assert!(!filter.selects("other", Platform::named("twitch"), 150));
        assert!(!filter.selects("demo", Platform::named("kick"), 150));
        assert!(Filter::default().selects("x", Platform::named("sim"), i64::MIN));
    }

    /// What the live run loop does with one item: the same core, and the same writes (an event
    /// with its actions; a tick only when it fired, with its actions in one atomic group).
    enum Live {
        Chat(i64, &'static str, &'static str),
        Tick(i64),
        Reload,
    }

    fn live_run(path: &Path, script: &[Live]) -> Vec<Action> {
        use crate::event::{Author, Roles};
        use crate::store::{RunMark, RunMarkKind, StoreWriter, WriteOp};
        let config: crate::config::model::TriggersConfig =
            serde_json::from_str(r#"{"polls": {"demo": {}}}"#).unwrap();
        let registry = || crate::triggers::Registry::compile(&config).unwrap();
        let writer = StoreWriter::spawn(path, 64).unwrap();
        let mark = |kind| {
            WriteOp::RunMark(RunMark {
                kind,
                at: Utc::now(),
            })
        };
        writer.blocking_send(mark(RunMarkKind::Start)).unwrap();
        let mut core = Core::new(registry(), 100);
        let mut fired = Vec::new();
        let at = |s: i64| DateTime::from_timestamp_millis(1_700_000_000_000 + s * 1000).unwrap();
        for (i, item) in script.iter().enumerate() {
            match item {
                Live::Chat(s, user, text) => {
                    let author = Author {
                        roles: Roles {
                            moderator: user.starts_with("mod"),
                            ..Roles::default()
                        },
                        ..Author::viewer(user)
                    };
                    let event = ChatEvent::message(
                        Platform::named("twitch"),
                        "demo",
                        &format!("m{i}"),
                        at(*s),
                        author,
                        text,
                    );
                    let actions = core.evaluate(&event).unwrap();
                    writer
                        .blocking_send(WriteOp::ChatEvent(Box::new(event)))
                        .unwrap();
                    for action in actions {
                        fired.push(action.clone());
                        writer.blocking_send(WriteOp::action(action)).unwrap();
                    }
                }
                Live::Tick(s) => {
                    let tick = Tick::new("demo", at(*s));
                    let actions = core.tick(&tick);
                    if actions.is_empty() {
                        continue;
                    }
                    fired.extend(actions.iter().cloned());
                    let mut group = vec![WriteOp::Tick(tick)];
                    group.extend(actions.into_iter().map(WriteOp::action));
                    writer.blocking_send(WriteOp::Atomic(group)).unwrap();
                }
                Live::Reload => {
                    core.replace_triggers(registry());
                    writer.blocking_send(mark(RunMarkKind::Reload)).unwrap();
                }
            }
        }
        writer.close().unwrap();
        fired
    }

    #[test]
    fn a_replay_meets_the_recorded_ticks_at_their_place_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let script = [
            Live::Chat(0, "mod_max", "!poll open First? | a | b 10s"),
            Live::Chat(1, "ann", "!vote a"),
            Live::Tick(5),
            // A silent chat: the tick at the deadline closes it.
            Live::Tick(10),
            Live::Tick(11),
            // A tick and a reload after the same chat event: the tick came first.
            Live::Chat(12, "mod_max", "!poll open Second? | a | b 3s"),
            Live::Chat(13, "bob", "!vote b"),
            Live::Tick(15),
            Live::Reload,
            Live::Chat(16, "mod_max", "!poll open Third? | a | b 2s"),
            Live::Reload,
            // State is fresh: the third poll was interrupted, this tick fires nothing.
            Live::Tick(19),
            Live::Chat(20, "mod_max", "!poll open Fourth? | x | y 1s"),
            // The chat's last event, then a tick that closes the fourth poll after it.
            Live::Tick(22),
        ];
        let live = live_run(&path, &script);
        let closes: Vec<(&str, String)> = live
            .iter()
            .filter_map(|a| match &a.kind {
                crate::actions::ActionKind::PollClose { question, .. } => {
                    Some((question.as_str(), a.message_id.clone()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            closes,
            [
                ("First?", "tick:demo:1700000010000".to_string()),
                ("Second?", "tick:demo:1700000015000".to_string()),
                ("Fourth?", "tick:demo:1700000022000".to_string()),
            ]
        );
        let recorded = recorded_actions(&path, &Filter::default()).unwrap();
        assert_eq!(recorded.len(), live.len());

        let replayed = |filter: &Filter| {
            let config: crate::config::model::TriggersConfig =
                serde_json::from_str(r#"{"polls": {"demo": {}}}"#).unwrap();
            let core = Core::new(crate::triggers::Registry::compile(&config).unwrap(), 100);
            let mut replay = Replay::new(core, filter.clone());
            let mut out = Collect::default();
            let owners = ChannelOwners::One("demo".into());
            run(
                &Input::Store(path.clone()),
                &mut replay,
                &owners,
                &(),
                &mut out,
            )
            .unwrap();
            (out.0, replay.summary().clone())
        };
        let (actions, summary) = replayed(&Filter::default());
        assert_eq!((summary.ticks_read, summary.fresh_starts), (3, 2));
        let diff = diff::diff(actions, recorded);
        assert!(diff.is_empty(), "{}", diff::render(&diff, "recorded"));

        // A window from the second poll on starts at the run start before it and still meets the
        // tick that closed it and the one after the chat's end.
        let since = Filter {
            since_ms: Some(1_700_000_012_000),
            ..Filter::default()
        };
        let (actions, _) = replayed(&since);
        let diff = diff::diff(actions, recorded_actions(&path, &since).unwrap());
        assert!(diff.is_empty(), "{}", diff::render(&diff, "recorded"));
    }

    proptest! {
        #[test]
        fn parse_time_never_panics(s in "\\PC{0,40}") {
            let _ = parse_time(&s, now());
        }

        #[test]
        fn parse_time_never_panics_on_huge_durations(n in any::<u64>(), unit in "(s|m|h|d|y)") {
            let _ = parse_time(&format!("{n}{unit}"), now());
        }
    }
}
