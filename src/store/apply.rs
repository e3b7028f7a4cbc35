//! The contract between the writer and the domains: how one op's write succeeds, is refused, or
//! fails for a storage reason ([`ApplyError`]), and what a batch counts as it goes ([`BatchTally`]).
//!
//! The domain modules (`chat`, `actions`, `clips`, ...) write through it, and the store writer
//! ([`super::writer`]) decides from it whether to skip an op or hold the whole batch; neither imports
//! the other for it, so the writer depends on the domains and never the reverse.

use rusqlite::ErrorCode;

/// What one attempt at a batch did, added to the writer's stats only when it commits.
#[derive(Debug, Default)]
pub(crate) struct BatchTally {
    pub events_recorded: u64,
    pub events_duplicate: u64,
    pub votes_ignored: u64,
    pub ops_written: u64,
    pub ops_rejected: u64,
}

/// Why one op could not be applied.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApplyError {
    /// The storage failed (disk full, I/O, locked): the whole batch is held and retried.
    #[error("{0}")]
    Storage(rusqlite::Error),
    /// The store refuses this op; it is skipped and counted, the rest of the batch commits.
    #[error("{0}")]
    Rejected(String),
}

impl From<rusqlite::Error> for ApplyError {
    fn from(e: rusqlite::Error) -> ApplyError {
        if is_storage_failure(&e) {
            ApplyError::Storage(e)
        } else {
            ApplyError::Rejected(e.to_string())
        }
    }
}

/// Errors that say nothing about the op and may pass: retry the batch rather than skip the op.
fn is_storage_failure(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(
            ErrorCode::DiskFull
                | ErrorCode::SystemIoFailure
                | ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::ReadOnly
                | ErrorCode::CannotOpen
                | ErrorCode::OutOfMemory
                | ErrorCode::FileLockingProtocolFailed
                | ErrorCode::DatabaseCorrupt
                | ErrorCode::NoLargeFileSupport
        )
    )
}
