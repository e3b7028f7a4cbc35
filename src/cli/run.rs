//! `ss run`: the daemon. Loads and checks the config, starts the sources and the pipeline, and runs
//! until Ctrl-C / SIGINT / SIGTERM or `--duration`.
//!
//! The first signal starts an orderly shutdown (stop sources, drain lanes, commit the store, write
//! final exports, exit 0 within a few seconds); a second signal exits at once with code 130.

use super::Outcome;
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
    ss run --creator demo           run one creator's sources only\n\n\
    Exports are written to runtime/exports, runtime/signals and runtime/admin on the cadence of\n\
    system.json (exports.cadence_s) and once more at shutdown. Chat is recorded in\n\
    runtime/state/streamsuites.db when system.json has chat_log.enabled.")]
pub struct Args {
    /// Stop by itself after this long (e.g. 30s, 5m, 1h30m).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Run only this creator's sources.
    #[arg(long, value_name = "ID")]
    pub creator: Option<String>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 10s, 5m, 1h30m)"))
}

pub fn run(root: &Path, args: Args) -> anyhow::Result<Outcome> {
    let config = Config::load(root)?;
    let secrets = Secrets::load(root);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ss-runtime")
        .build()
        .context("starting the async runtime")?;
    let summary = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(watch_signals(shutdown.clone()));
        runner::run(
            root,
            config,
            secrets,
            RunOptions {
                duration: args.duration,
                creator: args.creator,
            },
            shutdown,
        )
        .await
    })?;
    // Sources that ignored shutdown were aborted; don't wait for their leftovers.
    runtime.shutdown_timeout(Duration::from_millis(500));
    let c = &summary.counters;
    let actions: u64 = c.actions.values().sum();
    writeln!(
        std::io::stdout(),
        "stopped after {:.1}s: {} events received, {} recorded, {} dropped, {} duplicates, {} triggers matched, {} actions",
        summary.elapsed.as_secs_f64(),
        c.events_received,
        c.events_recorded,
        c.events_dropped,
        c.duplicates_skipped,
        c.triggers_matched,
        actions
    )?;
    Ok(Outcome::Success)
}

/// First signal: cancel `shutdown`. Second: exit at once.
async fn watch_signals(shutdown: CancellationToken) {
    wait_for_signal().await;
    tracing::info!("Shutdown requested; finishing (press Ctrl-C again to exit at once).");
    shutdown.cancel();
    wait_for_signal().await;
    tracing::warn!("Second signal: exiting without a clean shutdown.");
    std::process::exit(130);
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the process still stops on --duration; never busy-loop here.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
