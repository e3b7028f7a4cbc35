//! Receipts: what became of a command whose cause wants to know (a moderation decision's audit
//! records whether its delete, timeout or ban was sent, with the platform's answer, or why not).
//!
//! A command asks for one with [`super::PlatformCommand::receipt`]. The serving loop sends one when
//! the command is settled: sent (every part acknowledged, with the platform's reference when it
//! gives one, such as a YouTube ban id), failed for good (after its retries), or abandoned (still
//! waiting when its source stopped). What the command sink knows before queueing (refused,
//! dropped) its caller records itself.
//!
//! Queue: [`RECEIPTS_CAPACITY`] receipts between the serving loops and the store writer. When full
//! the receipt is dropped and counted (`runtime_snapshot.json` `commands.receipts_lost`): the
//! command itself was settled and counted either way; only its audit row stays `queued`.

use super::CommandName;
use crate::event::Platform;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

/// Receipts waiting for the store writer.
pub const RECEIPTS_CAPACITY: usize = 1024;

/// How a command was settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The platform acknowledged every part; `answer` is its reference, when it gives one.
    Sent { answer: Option<String> },
    /// The platform (or the network, or the source's own checks) said no, for good.
    Failed { reason: String },
    /// Still waiting when its source stopped.
    Abandoned,
}

impl Outcome {
    /// The state name the audit keeps: `sent`, `failed`, `abandoned`.
    pub fn state(&self) -> &'static str {
        match self {
            Outcome::Sent { .. } => "sent",
            Outcome::Failed { .. } => "failed",
            Outcome::Abandoned => "abandoned",
        }
    }

    /// The platform's reference, or why the command failed.
    pub fn answer(&self) -> Option<&str> {
        match self {
            Outcome::Sent { answer } => answer.as_deref(),
            Outcome::Failed { reason } => Some(reason),
            Outcome::Abandoned => None,
        }
    }
}

/// What became of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub creator: String,
    pub platform: Platform,
    /// The command's cause (a moderated message's id).
    pub cause: String,
    pub command: CommandName,
    pub outcome: Outcome,
    pub at: DateTime<Utc>,
}

/// Where a source's serving loop sends receipts; none in tests and tools that do not audit.
#[derive(Debug, Clone, Default)]
pub struct Receipts {
    queue: Option<mpsc::Sender<Receipt>>,
}

impl Receipts {
    /// A bounded queue of receipts and its receiving end.
    pub fn channel() -> (Receipts, mpsc::Receiver<Receipt>) {
        let (tx, rx) = mpsc::channel(RECEIPTS_CAPACITY);
        (Receipts { queue: Some(tx) }, rx)
    }

    /// Hands a receipt over; false when it was lost (the queue full or closed), for the caller
    /// to count. Without a queue nothing is expected, and nothing is lost.
    pub fn send(&self, receipt: Receipt) -> bool {
        match &self.queue {
            None => true,
            Some(queue) => queue.try_send(receipt).is_ok(),
        }
    }
}
