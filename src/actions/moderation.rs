//! Moderation decisions as data: what a filter decided about one message ([`Decision`]), and a
//! user's strikes as the store keeps them ([`StrikeRecord`]), which the engine starts from so a
//! restart does not forgive a spammer.

use crate::event::Platform;
use serde::{Deserialize, Serialize};

/// What a decision does to the message and its author, from the mildest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// A line in chat; the message stays.
    Warn,
    /// The message is deleted.
    Delete,
    /// The message is deleted and its author timed out.
    Timeout,
    /// The message is deleted and its author banned.
    Ban,
}

impl Decision {
    pub const ALL: [Decision; 4] = [
        Decision::Warn,
        Decision::Delete,
        Decision::Timeout,
        Decision::Ban,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Warn => "warn",
            Decision::Delete => "delete",
            Decision::Timeout => "timeout",
            Decision::Ban => "ban",
        }
    }
}

/// A user's strikes with one creator on one platform, in one mode (a dry run counts its own), as
/// of their last offence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrikeRecord {
    pub creator: String,
    pub platform: Platform,
    pub user_id: String,
    /// Strikes counted in a dry run (`log` mode) are kept apart from enforced ones.
    pub dry_run: bool,
    /// How many strikes the user had after that offence.
    pub strikes: u32,
    /// When that offence happened (the event's time, Unix ms).
    pub last_ms: i64,
}
