//! The durable store: one SQLite database at `runtime/state/streamsuites.db`, in WAL mode.
//!
//! **One writer, many readers.** Everything that changes the store goes through the one writer
//! thread in [`writer`], which holds the writer lock ([`lock`]) and is the only one to create and
//! migrate the file ([`open::Store::open_as_writer`]; `PRAGMA user_version`, [`schema`]). Everyone
//! else reads through a [`StoreReader`], a read-only handle with no write methods that refuses a
//! store at another schema version instead of migrating it ([`StoreError::OlderSchema`],
//! [`StoreError::NewerSchema`]); async code reads through the [`Readers`] pool on the blocking
//! pool. A corrupt or locked file is reported as such and left exactly as it was, so nothing already
//! recorded is lost. The one write beside a running writer is `ss clip`'s (see [`clips`]).
//!
//! Each domain owns its writes and its reads: [`chat`] (the chat log), [`actions`] (the action log and
//! the effects it dispatches), [`community`] (polls, tallies, scores), [`clips`], [`outbox`] (the
//! rows routing hands over, destination and all, as data), [`checkpoints`] (polling sources' resume
//! points), [`quotas`], [`audit`], [`runs`] (where the live trigger state started afresh, for
//! `ss replay`), [`ticks`], [`moderation`] (decisions and what their commands became),
//! [`deliveries`] (webhook delivery ids, for the replay window), and the
//! daily bot's: [`people`] (linked accounts), [`points`], [`quotes`] and [`giveaways`]. The
//! domains write through the contract in [`apply`]; the writer depends on them,
//! never the reverse.

pub mod actions;
mod apply;
pub mod audit;
pub mod bus_cursors;
pub mod chat;
mod chat_rows;
pub mod checkpoints;
pub mod clips;
pub mod community;
pub mod deliveries;
pub mod error;
pub mod giveaways;
pub mod lock;
pub mod moderation;
pub mod open;
pub mod outbox;
pub mod people;
pub mod points;
pub mod quotas;
pub mod quotes;
pub mod readers;
mod rows;
mod running_counts;
pub mod runs;
pub mod schema;
pub mod shard_state;
mod static_insert;
pub mod ticks;
mod wal;
pub mod writer;

use std::path::{Path, PathBuf};

pub use actions::TriggerFires;
pub use audit::{AuditRow, ControlCall};
pub use chat::ChatTotal;
pub use checkpoints::Checkpoint;
pub use clips::{ClipHistoryRow, ClipJobRow, ClipRow, ClipState, ClipStateChange, NewClip};
pub use community::*;
pub use error::{Holder, StoreError};
pub use giveaways::{DrawRow, GiveawayRow};
pub use moderation::{DecisionCount, DecisionRow, ModerationOutcome, Offender, OutcomeRow};
pub use open::{BUSY_TIMEOUT, Store, StoreReader};
pub use outbox::{NewOutbox, OutboxResult, OutboxRow};
pub use people::{DeclaredPerson, LinkRow};
pub use points::{PersonPoints, PointsTable, Transfer, TransferOutcome};
pub use quotas::{ProjectQuotaRow, QuotaRow};
pub use quotes::{ImportError, ImportedQuote, QuoteRow};
pub use readers::Readers;
pub use runs::{RecordedRunMark, RunMark, RunMarkKind};
pub use ticks::RecordedTick;
pub use writer::{Degraded, ShardImport, StoreWriter, WriteOp, WriterStats, WriterStatsSnapshot};

/// The database file below a runtime root.
pub fn db_path(root: &Path) -> PathBuf {
    root.join("runtime").join("state").join("streamsuites.db")
}
