//! `ss run`: the daemon. Loads and checks the config, starts the sources and the pipeline, and runs
//! until Ctrl-C / SIGINT / SIGTERM or `--duration`.
//!
//! The first signal starts an orderly shutdown (stop sources, drain lanes, commit the store, write
//! final exports, exit 0 within a few seconds); a second signal exits at once with code 130.
//!
//! A run that stopped in order always prints its summary line on stdout. When something it accepted
//! could not be written durably (store writes given up on a disk that stayed full, final exports
//! that could not be written), the line ends with `NOT WRITTEN: ...` and `ss run` exits 2 with the
//! reasons and fixes on stderr.

use super::Outcome;
use super::signals::{Signals, watch_signals};
use crate::config::Config;
use crate::config::secrets::Secrets;
use crate::pipeline::runner::{self, RunOptions};
use anyhow::Context;
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    ss run                          run until Ctrl-C (the demo config uses the offline sim source)\n  \
    ss run --duration 10s           stop by itself after 10 seconds\n  \
    ss run --creator demo           run one creator's sources only\n  \
    ss run --role evaluate          with system.json `bus`: run triggers on leased shards\n\n\
    Exports are written to runtime/exports, runtime/signals and runtime/admin on the cadence of\n\
    system.json (exports.cadence_s) and once more at shutdown. Chat is recorded in\n\
    runtime/state/streamsuites.db when system.json has chat_log.enabled.")]
pub struct Args {
    /// Stop by itself after this long (e.g. 30s, 5m, 1h30m).
    #[arg(long, value_name = "DUR", value_parser = super::values::duration)]
    pub duration: Option<Duration>,

    /// Run only this creator's sources.
    #[arg(long, value_name = "ID")]
    pub creator: Option<String>,

    /// Which part of the work to do: `all` (the default) is the embedded single process; with
    /// system.json `bus`, `ingest` runs the sources into the bus, `evaluate` runs triggers on the
    /// shards it leases, `export` writes the exports of every shard. See `ss bus --help`.
    #[arg(long, value_enum, default_value_t = crate::bus::Role::All)]
    pub role: crate::bus::Role,
}

pub fn run(root: &Path, args: Args) -> anyhow::Result<Outcome> {
    crate::store::lock::set_holder_command("ss run");
    raise_open_files_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ss-runtime")
        .build()
        .context("starting the async runtime")?;
    let summary = runtime.block_on(async {
        // Signal handlers first: a SIGTERM that arrives while the config loads must still mean
        // "stop cleanly", not the default "die at once".
        let shutdown = CancellationToken::new();
        let signals = Signals::install()?;
        let (forced, forced_rx) = tokio::sync::oneshot::channel();
        // Tracked like every task: it ends with the run (aborted below once the run returns).
        let watcher = tokio::spawn(watch_signals(signals, shutdown.clone(), forced));
        let run = async {
            let config = Config::load(root)?;
            super::trust_tls(root, &config)?;
            let secrets = Secrets::load(root);
            runner::run(
                root,
                config,
                secrets,
                RunOptions {
                    duration: args.duration,
                    creator: args.creator,
                    role: args.role,
                },
                shutdown,
            )
            .await
        };
        let ended = tokio::select! {
            summary = run => summary.map(Some),
            // Only a second signal sends; a dropped sender never ends the run.
            Ok(()) = forced_rx => Ok(None),
        };
        watcher.abort();
        ended
    })?;
    let Some(summary) = summary else {
        // The second signal: leave at once through the one exit-code path (130).
        runtime.shutdown_timeout(Duration::ZERO);
        return Ok(Outcome::Interrupted);
    };
    // Sources that ignored shutdown were aborted; don't wait for their leftovers.
    runtime.shutdown_timeout(Duration::from_millis(500));
    // The one exit story of a run that stopped in order: the summary line first, always (it names
    // what was not written, if anything); then exit 0, or exit 2 with every error and its fix.
    // A closed stdout (`ss run | head`) surfaces as BrokenPipe, which main_entry maps to exit 0,
    // unless the run itself failed.
    let printed = writeln!(std::io::stdout(), "{}", summary_line(&summary));
    summary.into_result()?;
    printed?;
    Ok(Outcome::Success)
}

/// The one line `ss run` prints on stdout when it stops.
fn summary_line(summary: &runner::RunSummary) -> String {
    let c = &summary.counters;
    let actions: u64 = c.actions.values().sum();
    let ingest = summary.bus.as_ref().filter(|b| b.role == "ingest");
    let mut line = match ingest {
        // Ingest runs no triggers and records no chat: what it did is publish.
        Some(bus) => format!(
            "stopped after {:.1}s: {} events published to the bus ({} already there), {} dropped",
            summary.elapsed.as_secs_f64(),
            bus.published,
            bus.publish_duplicates,
            c.events_dropped
        ),
        None => format!(
            "stopped after {:.1}s: {} events received, {} recorded, {} dropped, {} duplicates, {} triggers matched, {} actions",
            summary.elapsed.as_secs_f64(),
            c.events_received,
            c.events_recorded,
            c.events_dropped,
            c.duplicates_skipped,
            c.triggers_matched,
            actions
        ),
    };
    // Shed events and guards are named only when there are some, so the usual line stays short.
    if c.events_shed > 0 {
        line.push_str(&format!(
            ", {} shed (a creator past its share of the data lane)",
            c.events_shed
        ));
    }
    for (name, n) in c.guards.iter().filter(|(_, n)| **n > 0) {
        line.push_str(&format!(", {n} {}", name.replace('_', " ")));
    }
    if let Some(bus) = &summary.bus {
        line.push_str(&match bus.role {
            "ingest" => format!(
                "; {} clock ticks published{}, {} effects carried out, {} refused as stale, {} left to other ingests",
                bus.ticks_published,
                match bus.ticks_unsent {
                    0 => String::new(),
                    n => format!(" ({n} NOT, the bus away at shutdown)"),
                },
                bus.effects.applied,
                bus.effects.fenced,
                bus.effects.elsewhere
            ),
            "export" => format!(
                "; bus: {} events and {} ticks read from every shard",
                bus.folded, bus.ticks_folded
            ),
            _ => format!(
                "; bus: {} events and {} ticks read, {} shard leases taken, {} lost, {} effects published; shard snapshots: {} written, {} loaded",
                bus.folded,
                bus.ticks_folded,
                bus.leases.taken,
                bus.leases.lost,
                bus.effects.published,
                bus.snapshots.written,
                bus.snapshots.loaded
            ),
        });
    }
    if !summary.not_written.is_empty() {
        let parts: Vec<String> = summary.not_written.iter().map(|n| n.describe()).collect();
        line.push_str(&format!("; NOT WRITTEN: {}", parts.join(", ")));
    }
    if summary.failed.is_some() {
        line.push_str("; the run loop failed (see the error on stderr)");
    }
    line
}

/// Raises the soft limit on open files to the hard limit, as servers do: the HTTP server, the
/// store, the exports and FFmpeg's pipes all take file handles, and a soft limit of 1024 is low for
/// a daemon. A refusal is logged and the run goes on with the limit it has.
fn raise_open_files_limit() {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        if limit.current != limit.maximum {
            let raised = Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            };
            match setrlimit(Resource::Nofile, raised) {
                Ok(()) => {
                    tracing::debug!(from = ?limit.current, to = ?limit.maximum, "Raised the open-file limit to the hard limit.")
                }
                Err(e) => {
                    tracing::warn!(error = %e, soft = ?limit.current, "The open-file limit could not be raised; the run goes on with it.")
                }
            }
        }
    }
}
