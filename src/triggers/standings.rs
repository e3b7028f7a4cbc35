//! `!top [name]` and `!rank [user]` in the engine: who asked what, at most once per cooldown.
//!
//! Standings are running totals the store keeps across runs, so the engine cannot (and must not)
//! know them: it only describes the question as a `standings` action, which the standings worker
//! answers from what the store has committed. Each command answers at most once per
//! [`STANDINGS_COOLDOWN_MS`] per creator, on the event clock, so a chat spamming `!top` costs one
//! read and one reply.

use crate::actions::{Action, ActionKind, StandingsQuery};
use crate::config::model::PollSettings;
use crate::event::ChatEvent;
use std::collections::HashMap;

/// The shortest time between two answers to the same standings command of a creator.
pub const STANDINGS_COOLDOWN_MS: i64 = 5_000;

/// When each (creator, command) may answer again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StandingsBook {
    ready_at: HashMap<(String, &'static str), i64>,
}

/// Handles a `top` or `rank` command in one chat message; the action goes to `out`.
pub fn on_message(
    event: &ChatEvent,
    settings: &PollSettings,
    book: &mut StandingsBook,
    out: &mut Vec<Action>,
) {
    let text = event.text.trim();
    let (word, args) = match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim()),
        None => (text, ""),
    };
    // Most messages are neither command: the argument is read only for one that is.
    let first_arg = || {
        args.split_whitespace()
            .next()
            .map(|a| a.trim_start_matches('@'))
            .filter(|a| !a.is_empty())
            .map(str::to_string)
    };
    let (command, trigger_id, query) = if word.eq_ignore_ascii_case(&settings.top_command) {
        (
            "top",
            &settings.top_command,
            StandingsQuery::Top { name: first_arg() },
        )
    } else if word.eq_ignore_ascii_case(&settings.rank_command) {
        (
            "rank",
            &settings.rank_command,
            StandingsQuery::Rank {
                name: first_arg(),
                user_id: event.author.id.to_string(),
                user_name: event.author.display_name.to_string(),
            },
        )
    } else {
        return;
    };
    let now_ms = event.timestamp_ms();
    let ready_at = book
        .ready_at
        .entry((event.creator.to_string(), command))
        .or_insert(i64::MIN);
    if now_ms < *ready_at {
        return;
    }
    *ready_at = now_ms.saturating_add(STANDINGS_COOLDOWN_MS);
    out.push(Action {
        trigger_id: trigger_id.clone(),
        creator: event.creator.to_string(),
        platform: event.platform,
        message_id: event.message_id.to_string(),
        at: event.timestamp,
        kind: ActionKind::Standings {
            channel: event.channel.to_string(),
            query,
        },
        thread: event.can_be_replied_to(),
    });
}
