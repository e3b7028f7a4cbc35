//! Chat polls in the engine: `!poll open/close`, `!vote`, and the deadline, on the engine's clock.
//!
//! A creator has at most one open poll. It lives in the engine's state ([`PollBook`], part of
//! [`super::TriggerState`]), so it follows the same rule as cooldowns: it starts afresh where the
//! trigger state does (each `ss run` start and each applied hot reload, the store's run marks), in
//! `ss run` and `ss replay` alike, and a replay of recorded chat gives the same polls, votes and
//! results as the live run. The store closes a poll still open at a run mark as `interrupted`, with
//! the votes it had (see `store::community`).
//!
//! Time is the engine's clock: the events' own timestamps and the creator's ticks
//! ([`crate::event::Tick`]). A poll closes at its deadline: the first tick at or after it closes
//! it, in a silent chat too, with its results replied in the channel where it was opened. A chat
//! message that arrives past the deadline before that tick closes it first, before the message is
//! looked at (so a late `!vote` does not count either way).
//!
//! Votes are per (platform, user id); a changed vote replaces the earlier one, and the same vote
//! again changes nothing. Results carry counts only.

use super::cause::{Cause, human_duration};
use super::poll_command::{self, PollCommand, USAGE};
use crate::actions::poll::{self, CloseReason, OptionCount};
use crate::actions::{Action, ActionKind};
use crate::config::model::PollSettings;
use crate::event::{ChatEvent, Platform, Tick};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Every creator's open poll.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollBook {
    /// Looked up for every message: hashed fast (creator ids come from the config, not from chat).
    open: HashMap<String, OpenPoll, crate::event::FastHasher>,
}

#[derive(Debug, Clone, PartialEq)]
struct OpenPoll {
    id: String,
    /// Where it was opened: a tick that closes it replies there.
    platform: Platform,
    channel: String,
    question: String,
    options: Vec<String>,
    closes_at: Option<DateTime<Utc>>,
    /// The option index each voter chose.
    ballots: HashMap<(Platform, String), usize>,
    counts: Vec<u64>,
}

impl OpenPoll {
    fn results(&self) -> Vec<OptionCount> {
        self.options
            .iter()
            .zip(&self.counts)
            .map(|(option, votes)| OptionCount {
                option: option.clone(),
                votes: *votes,
            })
            .collect()
    }

    /// The option `text` names: its exact label (any case) first, then its number.
    fn resolve(&self, text: &str) -> Option<usize> {
        let text = text.trim();
        let lower = text.to_lowercase();
        self.options
            .iter()
            .position(|o| o.to_lowercase() == lower)
            .or_else(|| {
                text.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=self.options.len()).contains(n))
                    .map(|n| n - 1)
            })
    }
}

impl PollBook {
    /// Whether `creator` has a poll open (for tests and status).
    pub fn is_open(&self, creator: &str) -> bool {
        self.open.contains_key(creator)
    }

    /// Removes and returns `creator`'s open poll if its deadline is at or before `now_ms`; changes
    /// nothing otherwise.
    fn take_due(&mut self, creator: &str, now_ms: i64) -> Option<OpenPoll> {
        let due = self.open.get(creator)?.closes_at?.timestamp_millis() <= now_ms;
        if due { self.open.remove(creator) } else { None }
    }

    /// A vote by the author of `event` for the option `choice` names, in the creator's open poll:
    /// the action to record, or `None` when no poll is open, the choice names no option, or it is
    /// the voter's current vote already.
    pub fn vote(&mut self, event: &ChatEvent, choice: &str) -> Option<ActionKind> {
        let poll = self.open.get_mut(event.creator.as_str())?;
        let index = poll.resolve(choice)?;
        let key = (event.platform, event.author.id.to_string());
        match poll.ballots.insert(key, index) {
            Some(previous) if previous == index => return None,
            Some(previous) => poll.counts[previous] -= 1,
            None => {}
        }
        poll.counts[index] += 1;
        Some(ActionKind::PollVote {
            poll: poll.id.clone(),
            option: poll.options[index].clone(),
            user_id: event.author.id.to_string(),
        })
    }
}

/// Handles one tick of a creator with polls: closes the open poll whose deadline has come, with its
/// results replied where it was opened. A tick that finds nothing due changes nothing (the rule that
/// lets `ss run` record only the ticks that fired something).
pub fn on_tick(tick: &Tick, settings: &PollSettings, book: &mut PollBook, out: &mut Vec<Action>) {
    if let Some(poll) = book.take_due(&tick.creator, tick.at_ms()) {
        let channel = poll.channel.clone();
        let cause = Cause::tick(tick, poll.platform, &channel);
        close(&cause, settings, poll, CloseReason::Timer, out);
    }
}

/// Handles one chat message of a creator with polls: the timer first, then the poll and vote
/// commands. The actions (poll changes and their replies) are appended to `out`.
pub fn on_message(
    event: &ChatEvent,
    settings: &PollSettings,
    book: &mut PollBook,
    out: &mut Vec<Action>,
) {
    if let Some(poll) = book.take_due(&event.creator, event.timestamp_ms()) {
        close(&Cause::of(event), settings, poll, CloseReason::Timer, out);
    }
    let cause = Cause::of(event);
    let text = event.text.trim();
    let (word, args) = match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim_start()),
        None => (text, ""),
    };
    if word.eq_ignore_ascii_case(&settings.poll_command) {
        poll_command(event, settings, book, args, out);
    } else if word.eq_ignore_ascii_case(&settings.vote_command)
        && let Some(kind) = book.vote(event, args)
    {
        out.push(cause.action(&settings.vote_command, kind));
    }
}

fn poll_command(
    event: &ChatEvent,
    settings: &PollSettings,
    book: &mut PollBook,
    args: &str,
    out: &mut Vec<Action>,
) {
    let cause = Cause::of(event);
    let command = &settings.poll_command;
    let parsed = poll_command::parse(args, settings.max_options);
    let manages = event.author.roles.highest() >= settings.manage_role;
    let creator = event.creator.as_str();
    match parsed {
        Ok(PollCommand::Show) => {
            let text = match book.open.get(creator) {
                Some(poll) => show_text(poll, event.timestamp, &settings.vote_command),
                None => format!("No poll is open. Moderators open one with {command} {USAGE}"),
            };
            out.push(cause.reply(command, text));
        }
        Ok(PollCommand::Open(_) | PollCommand::Close) if !manages => refuse(
            &cause,
            command,
            "not allowed",
            format!(
                "@{} only {}s can open or close polls.",
                event.author.display_name,
                settings.manage_role.as_str()
            ),
            out,
        ),
        Err(e) if !manages => refuse(
            &cause,
            command,
            "not allowed",
            format!(
                "@{} only {}s can open or close polls ({e}).",
                event.author.display_name,
                settings.manage_role.as_str()
            ),
            out,
        ),
        Err(e) => refuse(
            &cause,
            command,
            &e.to_string(),
            format!("Can't do that: {e}. Usage: {command} {USAGE}"),
            out,
        ),
        Ok(PollCommand::Close) => match book.open.remove(creator) {
            Some(poll) => close(&cause, settings, poll, CloseReason::Command, out),
            None => refuse(
                &cause,
                command,
                "no poll open",
                "No poll is open.".to_string(),
                out,
            ),
        },
        Ok(PollCommand::Open(_)) if book.open.contains_key(creator) => {
            let question = &book.open[creator].question;
            refuse(
                &cause,
                command,
                "a poll is already open",
                format!("A poll is already open: {question} Close it first with {command} close."),
                out,
            );
        }
        Ok(PollCommand::Open(request)) => {
            let duration_s = request.duration_s.or(match settings.default_duration_s {
                0 => None,
                s => Some(s),
            });
            // In whole milliseconds, as the store keeps event times: `ss replay` of the recorded
            // chat computes the same deadline and compares it the same way.
            let closes_at = duration_s.and_then(|s| {
                DateTime::from_timestamp_millis(event.timestamp_ms())?
                    .checked_add_signed(seconds(s))
            });
            let poll = OpenPoll {
                id: format!("{}-{}", event.platform, event.message_id),
                platform: event.platform,
                channel: event.channel.to_string(),
                counts: vec![0; request.options.len()],
                question: request.question,
                options: request.options,
                closes_at,
                ballots: HashMap::new(),
            };
            out.push(cause.action(
                command,
                ActionKind::PollOpen {
                    poll: poll.id.clone(),
                    question: poll.question.clone(),
                    options: poll.options.clone(),
                    closes_at,
                },
            ));
            let text = open_text(&poll, duration_s, &settings.vote_command);
            out.push(cause.reply(command, text));
            book.open.insert(creator.to_string(), poll);
        }
    }
}

fn close(
    cause: &Cause<'_>,
    settings: &PollSettings,
    poll: OpenPoll,
    reason: CloseReason,
    out: &mut Vec<Action>,
) {
    let results = poll.results();
    let text = poll::results_text(&poll.question, &results);
    out.push(cause.action(
        &settings.poll_command,
        ActionKind::PollClose {
            poll: poll.id,
            question: poll.question,
            reason,
            results,
            discord: settings.discord.clone(),
        },
    ));
    out.push(cause.reply(&settings.poll_command, text));
}

fn refuse(cause: &Cause<'_>, command: &str, reason: &str, text: String, out: &mut Vec<Action>) {
    out.push(cause.action(
        command,
        ActionKind::PollRefused {
            command: command.to_string(),
            reason: reason.to_string(),
        },
    ));
    out.push(cause.reply(command, text));
}

fn open_text(poll: &OpenPoll, duration_s: Option<u32>, vote_command: &str) -> String {
    let closes = duration_s.map_or(String::new(), |s| {
        format!(" Closes in {}.", human_duration(s))
    });
    format!(
        "Poll: {} | {} | Vote with {vote_command} <number or option>.{closes}",
        poll.question,
        numbered(&poll.options)
    )
}

fn show_text(poll: &OpenPoll, now: DateTime<Utc>, vote_command: &str) -> String {
    let closes = poll.closes_at.map_or(String::new(), |at| {
        let left = (at - now).num_seconds().max(0);
        format!(
            " Closes in {}.",
            human_duration(u32::try_from(left).unwrap_or(u32::MAX))
        )
    });
    format!(
        "Poll: {} | {} | Vote with {vote_command} <number or option>.{closes}",
        poll.question,
        poll::counts_line(&poll.results())
    )
}

fn numbered(options: &[String]) -> String {
    options
        .iter()
        .enumerate()
        .map(|(i, o)| format!("{}) {o}", i + 1))
        .collect::<Vec<_>>()
        .join(" ")
}

fn seconds(s: u32) -> chrono::Duration {
    chrono::Duration::seconds(i64::from(s))
}
