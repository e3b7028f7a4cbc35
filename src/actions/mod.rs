//! Actions: what a fired trigger asks for, as plain serde data, then executed.
//!
//! The trigger engine only *describes* effects ([`Action`]); the [`router`] hands each to the sink of
//! its kind ([`sinks`]), which records it and performs or queues the effect. Keeping
//! them as data makes replays deterministic and testable (compare two `Vec<Action>`), lets the store
//! record them, and lets a future split deployment ship them over a message broker unchanged.

pub mod community;
pub mod moderation;
pub mod poll;

use crate::config::model::ObsCall;
use crate::event::Platform;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One action produced by one trigger for one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub trigger_id: String,
    pub creator: String,
    pub platform: Platform,
    /// What caused it: the id of the message or stream event that fired the trigger, or of the
    /// tick (`tick:{creator}:{ms}`, see [`crate::event::Tick`]).
    pub message_id: String,
    /// The event's or tick's timestamp (the engine's clock).
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub kind: ActionKind,
    /// Whether a reply may be threaded under its cause: only a chat message can be replied to on
    /// every platform, never a stream event (a raid, a gift) or a tick. Not recorded: it follows
    /// from the cause, and nothing read back from the store is sent again.
    #[serde(skip)]
    pub thread: bool,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ActionKind {
    /// Send `text` to the channel the message came from, threaded under it where the platform can.
    Reply { channel: String, text: String },
    /// Post `text` in the channel, not threaded.
    Say { channel: String, text: String },
    /// Post `text` as a highlighted announcement.
    Announce { channel: String, text: String },
    /// Remove the message `message_id`.
    Delete { channel: String, message_id: String },
    /// Keep a user from chatting for `seconds`.
    Timeout {
        channel: String,
        user_id: String,
        user_login: String,
        seconds: u32,
        reason: Option<String>,
    },
    /// A moderation filter caught the message: what was decided (in a dry run, what would have
    /// been done), why, and at which strike. The trigger id is `moderation/{filter}`.
    Moderate {
        channel: String,
        /// The filter's id.
        filter: String,
        /// What it caught, in words (`link to example.com`, `caps 90% of 40 letters`).
        rule: String,
        user_id: String,
        user_login: String,
        decision: moderation::Decision,
        /// A timeout's length.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seconds: Option<u32>,
        /// The user's strikes with this offence (0 when the filter counts none).
        strike: u32,
        /// Recorded only, nothing sent (`"mode": "log"`).
        dry_run: bool,
        /// Said in chat with the decision.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Keep a user from chatting until unbanned.
    Ban {
        channel: String,
        user_id: String,
        user_login: String,
        reason: Option<String>,
    },
    /// Lift a user's ban or timeout.
    Unban {
        channel: String,
        user_id: String,
        user_login: String,
    },
    /// Queue a clip of the last `duration_s` seconds.
    Clip {
        channel: String,
        requested_by: String,
        duration_s: u32,
        title: Option<String>,
    },
    /// Add `amount` to a tally.
    Tally {
        tally: String,
        amount: i64,
        user_id: String,
    },
    /// A vote for `option` in `poll`, one per user per poll. In a chat poll a later vote replaces
    /// the earlier one; in a standing poll (a `poll_vote` trigger naming it) the store ignores it.
    PollVote {
        poll: String,
        option: String,
        user_id: String,
    },
    /// `points` for the author on `board`.
    Score {
        board: String,
        points: i64,
        user_id: String,
        user_name: String,
    },
    /// A Discord notification to one of the guild's notification channels.
    Notify { channel: String, text: String },
    /// The platform's chat was seen end to end.
    ValidationPassed,
    /// A chat poll opened (`!poll open`).
    PollOpen {
        poll: String,
        question: String,
        options: Vec<String>,
        /// Its deadline: the first tick of the creator's clock (or chat message) at or after it
        /// closes the poll.
        closes_at: Option<DateTime<Utc>>,
    },
    /// A chat poll closed, with its results (counts only, never voters).
    PollClose {
        poll: String,
        question: String,
        reason: poll::CloseReason,
        results: Vec<poll::OptionCount>,
        /// The Discord notification channel key its results go to, if any.
        discord: Option<String>,
    },
    /// A poll command that was refused (not allowed, malformed, nothing to close): counted, and
    /// answered by a reply.
    PollRefused { command: String, reason: String },
    /// `!top [name]` or `!rank [user]`: a reply built from the standings the store has committed
    /// when the standings worker reads them.
    Standings {
        channel: String,
        query: StandingsQuery,
    },
    /// A command of the daily bot (giveaway, quote, points, link) that was refused: counted, and
    /// answered by a reply.
    Refused { command: String, reason: String },
    /// A giveaway opened (`!giveaway open <keyword> [duration] [--subs-only|--followers]`).
    GiveawayOpen {
        giveaway: String,
        keyword: String,
        eligibility: community::Eligibility,
        /// When entries close by themselves, if a duration was given.
        closes_at: Option<DateTime<Utc>>,
    },
    /// One person entered (once per person, whichever platform they enter from).
    GiveawayEntry {
        giveaway: String,
        entrant: community::Entrant,
    },
    /// Entries closed at the giveaway's deadline.
    GiveawayEntriesClosed { giveaway: String, entries: u64 },
    /// Winners drawn (`!giveaway draw [n]`) or one replaced (`!giveaway reroll`), with the seed and
    /// the entry list hash that let anyone check the draw.
    GiveawayDraw {
        giveaway: String,
        draw: community::Draw,
        /// The Discord notification channel key the winners go to, if any.
        discord: Option<String>,
    },
    /// The giveaway ended (`!giveaway close`).
    GiveawayClose { giveaway: String },
    /// `!quote add <text>`: the store numbers it; the reply names the number.
    QuoteAdd {
        channel: String,
        text: String,
        added_by: String,
        /// The stream's title when the engine knows it (from the last go-live event).
        game: Option<String>,
    },
    /// `!quote del <n>`.
    QuoteDelete { channel: String, number: u32 },
    /// `!quote [n]`, `!quote search <words>`: answered from the store.
    Quote {
        channel: String,
        query: community::QuoteQuery,
    },
    /// Points credited to users of the action's platform, once per (cause, reason, user).
    PointsCredit {
        reason: community::CreditReason,
        amount: i64,
        users: Vec<community::UserOnPlatform>,
    },
    /// `!give <user> <n>`: points moved from the author's person to the named user, if they have
    /// them.
    PointsGive {
        channel: String,
        user_id: String,
        user_name: String,
        to: String,
        amount: i64,
    },
    /// A moderator's `!points add|remove <user> <n>` (`amount` negative to remove; a balance never
    /// goes below zero).
    PointsAdjust {
        channel: String,
        to: String,
        amount: i64,
    },
    /// `!points`, `!top points`: answered from the store.
    Points {
        channel: String,
        query: community::PointsQuery,
    },
    /// Accounts linked into one person (`!link CODE`).
    Link {
        person: String,
        accounts: Vec<community::LinkedAccount>,
    },
    /// An account taken out of its person (`!unlink`); a person left with one account dissolves.
    Unlink {
        person: String,
        account: community::LinkedAccount,
    },
    /// A request to the creator's OBS, its templates filled.
    Obs { call: ObsCall },
    /// A call of the extension `name` with `input`. What it answers is recorded as actions of
    /// their own with the same cause and the trigger id `{trigger_id}/extension`
    /// ([`extension_trigger_id`]), so a replay can take them from the recording.
    Extension {
        channel: String,
        name: String,
        input: serde_json::Map<String, serde_json::Value>,
    },
}

/// The trigger id of the actions an extension answered for the trigger `trigger_id`.
pub fn extension_trigger_id(trigger_id: &str) -> String {
    format!("{trigger_id}/extension")
}

/// What a standings command asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "query", rename_all = "snake_case")]
pub enum StandingsQuery {
    /// The top of the scoreboard or tally `name`; without it, the creator's most recently changed
    /// scoreboard (or, with none, their tallies).
    Top { name: Option<String> },
    /// Where a user stands on the creator's scoreboards: the one named (`@name` or a display name),
    /// else the author.
    Rank {
        name: Option<String>,
        user_id: String,
        user_name: String,
    },
}

impl Action {
    /// The id of what caused this action, carried by everything it leads to (outbox rows,
    /// platform commands, log lines): see [`crate::event::cause_id`].
    pub fn cause(&self) -> String {
        crate::event::cause_id(self.platform, &self.message_id)
    }
}

impl ActionKind {
    /// The type name used in counters and exports.
    pub fn type_name(&self) -> &'static str {
        match self {
            ActionKind::Reply { .. } => "reply",
            ActionKind::Say { .. } => "say",
            ActionKind::Announce { .. } => "announce",
            ActionKind::Delete { .. } => "delete",
            ActionKind::Timeout { .. } => "timeout",
            ActionKind::Ban { .. } => "ban",
            ActionKind::Moderate { .. } => "moderate",
            ActionKind::Unban { .. } => "unban",
            ActionKind::Clip { .. } => "clip",
            ActionKind::Tally { .. } => "tally",
            ActionKind::PollVote { .. } => "poll_vote",
            ActionKind::Score { .. } => "score",
            ActionKind::Notify { .. } => "notify",
            ActionKind::ValidationPassed => "validation_passed",
            ActionKind::PollOpen { .. } => "poll_open",
            ActionKind::PollClose { .. } => "poll_close",
            ActionKind::PollRefused { .. } => "poll_refused",
            ActionKind::Standings { .. } => "standings",
            ActionKind::Refused { .. } => "refused",
            ActionKind::GiveawayOpen { .. } => "giveaway_open",
            ActionKind::GiveawayEntry { .. } => "giveaway_entry",
            ActionKind::GiveawayEntriesClosed { .. } => "giveaway_entries_closed",
            ActionKind::GiveawayDraw { .. } => "giveaway_draw",
            ActionKind::GiveawayClose { .. } => "giveaway_close",
            ActionKind::QuoteAdd { .. } => "quote_add",
            ActionKind::QuoteDelete { .. } => "quote_delete",
            ActionKind::Quote { .. } => "quote",
            ActionKind::PointsCredit { .. } => "points_credit",
            ActionKind::PointsGive { .. } => "points_give",
            ActionKind::PointsAdjust { .. } => "points_adjust",
            ActionKind::Points { .. } => "points",
            ActionKind::Link { .. } => "link",
            ActionKind::Unlink { .. } => "unlink",
            ActionKind::Obs { .. } => "obs",
            ActionKind::Extension { .. } => "extension",
        }
    }
}
