//! How a run ended: the [`RunSummary`] `ss run` prints and exits with, assembled from what each part
//! of the ordered stop reported ([`Ended::summary`]).
//!
//! One exit story: a run that stopped in order always has a summary, even when something failed;
//! what was accepted but not written durably is named part by part ([`NotWritten`]), so the summary
//! line can end `NOT WRITTEN: ...` and the exit code is 2.

use crate::export::runtime_view::Counters;
use crate::store::{StoreError, WriterStatsSnapshot};
use std::time::Duration;

/// Why a snapshot of the exports (on the cadence, or the final one) was not (all) written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The exports could not be built (an input file, the store).
    #[error("building exports")]
    Build(#[source] crate::export::ExportError),
    /// Writing them failed, for some files or all.
    #[error("writing exports")]
    Write(#[source] crate::export::ExportError),
    /// The store could not be read for them.
    #[error("reading the store for exports")]
    Read(#[source] StoreError),
}

/// Why the final exports, at shutdown, were not (all) written.
#[derive(Debug, thiserror::Error)]
#[error("writing the final exports")]
pub struct FinalExportError(#[source] pub SnapshotError);

impl FinalExportError {
    /// How many files were not written, when the writer could name them.
    pub fn files_not_written(&self) -> Option<usize> {
        match &self.0 {
            SnapshotError::Write(crate::export::ExportError::NotWritten { failed, .. }) => {
                Some(failed.len())
            }
            _ => None,
        }
    }
}

/// How a run ended. A run that stopped in order always has one, even when something failed; `ss run`
/// prints its summary line and then exits with [`RunSummary::into_result`].
#[derive(Debug)]
pub struct RunSummary {
    pub counters: Counters,
    pub elapsed: Duration,
    /// Sources that had to be aborted at shutdown.
    pub aborted_sources: Vec<String>,
    /// What the run accepted but could not write durably; empty after a clean run.
    pub not_written: Vec<NotWritten>,
    /// An error that ended the run loop early (the run still stopped in order).
    pub failed: Option<anyhow::Error>,
    /// What the bus did, when the run was one of its roles.
    pub bus: Option<crate::bus::stats::BusSnapshot>,
}

/// Something accepted that did not reach the disk by the time the run stopped.
#[derive(Debug)]
pub enum NotWritten {
    /// Store writes given up at shutdown: the store stayed unwritable for the writer's close grace
    /// (`StoreError::Abandoned`, which names the reason and the fix).
    Store {
        ops: u64,
        events: u64,
        error: StoreError,
    },
    /// Chat events never handed to the store because its writer had given up: the ones being sent
    /// then, and the ones still in the data lane (which were not run through triggers either).
    Unsent { events: u64 },
    /// The final exports, or some of their files (`files`, when the writer could name them).
    Exports {
        files: Option<usize>,
        error: FinalExportError,
    },
}

impl NotWritten {
    /// A short phrase for the summary line: what, not why (stderr has the why and the fix).
    pub fn describe(&self) -> String {
        match self {
            NotWritten::Store { ops, events, .. } => {
                format!("{events} chat events in {ops} store writes")
            }
            NotWritten::Unsent { events } => {
                format!("{events} chat events never sent to the store")
            }
            NotWritten::Exports { files: Some(n), .. } => {
                format!("{n} final export file{}", if *n == 1 { "" } else { "s" })
            }
            NotWritten::Exports { files: None, .. } => "the final exports".to_string(),
        }
    }
}

impl RunSummary {
    /// Ok after a clean run; otherwise the error `ss run` exits 2 with: every part, each naming its
    /// cause and fix, the run loop's error first.
    pub fn into_result(self) -> anyhow::Result<()> {
        let mut errors: Vec<anyhow::Error> = self.failed.into_iter().collect();
        for part in self.not_written {
            errors.push(match part {
                NotWritten::Store { error, .. } => {
                    anyhow::Error::new(error).context("committing the store")
                }
                NotWritten::Unsent { events } => anyhow::anyhow!(
                    "{events} chat events were never sent to the store because its writer had given up (the ones still in the data lane were not run through triggers either); they were not recorded"
                ),
                NotWritten::Exports { error, .. } => anyhow::Error::new(error),
            });
        }
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(anyhow::anyhow!(
                "{}",
                errors
                    .iter()
                    .map(|e| format!("{e:#}"))
                    .collect::<Vec<_>>()
                    .join("\nerror: ")
            )),
        }
    }
}

/// What each part of the ordered stop reported.
pub(super) struct Ended {
    pub counters: Counters,
    pub elapsed: Duration,
    pub aborted_sources: Vec<String>,
    /// The run loop's end: an error ended it early.
    pub run_loop: Result<(), StoreError>,
    /// Chat events never handed to the store (being sent when it gave up, or left in the lane).
    pub unsent_events: u64,
    /// The store writer's close.
    pub closed: Result<WriterStatsSnapshot, StoreError>,
    /// The final exports.
    pub exported: Result<(), FinalExportError>,
}

impl Ended {
    /// The summary: the store's own error first (it says more than the loop's "the writer has
    /// stopped" that it caused), then what was never sent, then the exports.
    pub fn summary(self) -> RunSummary {
        let mut not_written = Vec::new();
        let mut failed = None;
        match self.closed {
            Ok(_) => {}
            Err(error @ StoreError::Abandoned { ops, events, .. }) => {
                not_written.push(NotWritten::Store { ops, events, error });
            }
            Err(e) => failed = Some(anyhow::Error::new(e).context("committing the store")),
        }
        match self.run_loop {
            Ok(()) => {}
            Err(StoreError::Closed) if !not_written.is_empty() || failed.is_some() => {}
            Err(e) => {
                failed.get_or_insert_with(|| anyhow::Error::new(e).context("the run loop failed"));
            }
        }
        if self.unsent_events > 0 {
            not_written.push(NotWritten::Unsent {
                events: self.unsent_events,
            });
        }
        if let Err(error) = self.exported {
            not_written.push(NotWritten::Exports {
                files: error.files_not_written(),
                error,
            });
        }
        RunSummary {
            counters: self.counters,
            elapsed: self.elapsed,
            aborted_sources: self.aborted_sources,
            not_written,
            failed,
            bus: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn clean() -> Ended {
        Ended {
            counters: Counters::default(),
            elapsed: Duration::from_secs(1),
            aborted_sources: Vec::new(),
            run_loop: Ok(()),
            unsent_events: 0,
            closed: Ok(WriterStatsSnapshot::default()),
            exported: Ok(()),
        }
    }

    #[test]
    fn a_clean_stop_has_nothing_unwritten_and_exits_0() {
        let summary = clean().summary();
        assert!(summary.not_written.is_empty() && summary.failed.is_none());
        assert!(summary.into_result().is_ok());
    }

    #[test]
    fn a_store_that_gave_up_names_what_it_lost_and_hides_the_loops_echo_of_it() {
        let summary = Ended {
            run_loop: Err(StoreError::Closed),
            unsent_events: 7,
            closed: Err(StoreError::Abandoned {
                ops: 3,
                events: 40,
                reason: "disk full".into(),
            }),
            ..clean()
        }
        .summary();
        assert!(
            summary.failed.is_none(),
            "the loop's Closed is the store's echo"
        );
        let parts: Vec<String> = summary
            .not_written
            .iter()
            .map(NotWritten::describe)
            .collect();
        assert_eq!(
            parts,
            [
                "40 chat events in 3 store writes",
                "7 chat events never sent to the store"
            ]
        );
        let error = format!("{:#}", summary.into_result().unwrap_err());
        assert!(
            error.contains("disk full") && error.contains("never sent"),
            "{error}"
        );
    }

    #[test]
    fn a_loop_error_fails_the_run_and_export_files_are_counted() {
        let failed_files = vec![
            (
                "exports/a.json".to_string(),
                std::io::Error::other("no space"),
            ),
            (
                "exports/b.json".to_string(),
                std::io::Error::other("no space"),
            ),
        ];
        let summary = Ended {
            run_loop: Err(StoreError::Refused("bad op".into())),
            exported: Err(FinalExportError(SnapshotError::Write(
                crate::export::ExportError::NotWritten {
                    dir: PathBuf::from("runtime"),
                    failed: failed_files,
                },
            ))),
            ..clean()
        }
        .summary();
        assert!(
            format!("{:#}", summary.failed.as_ref().unwrap())
                .contains("the run loop failed: bad op")
        );
        assert_eq!(summary.not_written[0].describe(), "2 final export files");
        let error = format!("{:#}", summary.into_result().unwrap_err());
        assert!(error.contains("writing the final exports"), "{error}");
    }
}
