//! The data the channel's daily bot puts in its actions: giveaway entrants and draws, quote and
//! points questions, points credits, linked accounts.
//!
//! Everything here is plain serde data recorded in the action log, so a replay compares it field
//! by field: a draw carries its seed, the hash of its entry list and its winners; a random quote
//! carries the seed it was picked with.

use crate::event::Platform;
use serde::{Deserialize, Serialize};

/// Who may enter a giveaway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Eligibility {
    /// Everyone in chat.
    #[default]
    Everyone,
    /// Subscribers (and members) only, with `--subs-only`; VIPs, moderators and the broadcaster too.
    Subscribers,
    /// With `--followers`: viewers seen following since the trigger state started, and anyone with
    /// a role (no platform's chat says who follows; see `triggers::giveaways`).
    Followers,
}

impl Eligibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Eligibility::Everyone => "everyone",
            Eligibility::Subscribers => "subscribers",
            Eligibility::Followers => "followers",
        }
    }
}

/// One person's entry in a giveaway (or a winner): the account they entered with and its weight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entrant {
    /// Their person key (`event::person`): one entry per person, whatever platform.
    pub person: String,
    pub platform: Platform,
    pub user_id: String,
    pub user_name: String,
    /// Tickets: 1, or the weight of their role (subscribers ×2, ...).
    pub weight: u32,
    /// The id of the message they entered with.
    pub entry_id: String,
}

/// Whether a draw picked fresh winners or replaced one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrawKind {
    Draw,
    Reroll,
}

impl DrawKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DrawKind::Draw => "draw",
            DrawKind::Reroll => "reroll",
        }
    }
}

/// One draw of a giveaway: everything needed to check it again (see `triggers::draw`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draw {
    /// 1 for the first draw of the giveaway, then 2, 3, ... (rerolls count).
    pub number: u32,
    pub kind: DrawKind,
    /// SHA-256 (hex) of the giveaway id, the entry list hash and the draw number.
    pub seed: String,
    /// SHA-256 (hex) of the entry list, one line per entry in entry order.
    pub entries_hash: String,
    /// Entries in the list (winners of earlier draws included; they cannot win again).
    pub entries: u64,
    /// Tickets of the entries that could win this draw.
    pub total_weight: u64,
    pub winners: Vec<Entrant>,
    /// The winner a reroll replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<Entrant>,
}

/// Why points were credited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditReason {
    /// Chatting (at most once per interval per person).
    Message,
    /// Chatters active while live, once a minute.
    Watch,
    /// A trigger's `points` action (a sub, a cheer, a raid).
    Bonus,
}

impl CreditReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            CreditReason::Message => "message",
            CreditReason::Watch => "watch",
            CreditReason::Bonus => "bonus",
        }
    }
}

/// A user on the action's platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserOnPlatform {
    pub user_id: String,
    pub user_name: String,
}

/// One link as the engine loads it: (creator, person, account).
pub type LinkEntry = (String, String, LinkedAccount);

/// An account being linked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedAccount {
    pub platform: Platform,
    pub user_id: String,
    pub user_name: String,
}

/// What `!quote` asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "pick", rename_all = "snake_case")]
pub enum QuoteQuery {
    /// `!quote 3`.
    Number { number: u32 },
    /// `!quote`: the quote at `seed` modulo the number of quotes (in number order). The seed comes
    /// from the message id, so a replay asks for the same one.
    Random { seed: u64 },
    /// `!quote search <words>`: quotes holding every word.
    Search { words: String },
}

/// What `!points` and `!top points` ask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "query", rename_all = "snake_case")]
pub enum PointsQuery {
    /// The author's balance and rank (of their person, linked accounts together).
    Balance { user_id: String, user_name: String },
    /// The leaders.
    Top,
}

/// Winners as one line for chat and posts: `Giveaway winners: Ann (twitch), Bob (kick)`.
pub fn winners_line(winners: &[Entrant]) -> String {
    if winners.is_empty() {
        return "No entries left to draw from.".to_string();
    }
    let names: Vec<String> = winners
        .iter()
        .map(|w| format!("{} ({})", w.user_name, w.platform))
        .collect();
    format!(
        "Giveaway winner{}: {}",
        if winners.len() == 1 { "" } else { "s" },
        names.join(", ")
    )
}
