//! `ss status`: is the runtime healthy? A probe for systemd, monitoring and operators.
//!
//! Reads `runtime/exports/runtime_snapshot.json` (the daemon's own report, written on its cadence),
//! prints each source's state, last event age, reconnects and errors, the store's health and the
//! quota left (from `runtime/admin/quotas.json`), the Discord bot (from
//! `runtime/discord/runtime.json`, unhealthy when it stopped on an error), and flags a snapshot
//! that stopped being refreshed. Exit 0 when healthy, 1 when stale, a source or a clip capture
//! failed (or the capture keeps restarting) or the store is degraded, 2 when there is no snapshot
//! to read. The judging lives in [`crate::status`].

use super::{Format, Outcome, UsageError};
use crate::config::Config;
use crate::status::Health;
use anyhow::Context;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    ss status                        one report; exit 0 healthy, 1 unhealthy\n  \
    ss status --format json          the same as JSON, for scripts and monitoring\n  \
    ss status --stale-after 30s      a snapshot older than 30 s counts as stale\n  \
    ss status --watch                refresh in place every 2 s until Ctrl-C\n\n\
    Unhealthy means: the snapshot is older than --stale-after (default 3x exports.cadence_s of\n\
    system.json), a source failed, a clip capture failed or keeps restarting, or the store is\n\
    degraded (commits failing, writes held).\n\
    Exit codes: 0 healthy, 1 unhealthy, 2 no snapshot or an unreadable one.")]
pub struct Args {
    /// A snapshot older than this is stale (e.g. 15s, 1m). Default: 3x the export cadence.
    #[arg(long, value_name = "DUR", value_parser = super::values::duration)]
    pub stale_after: Option<Duration>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Keep refreshing the report (in place on a terminal) until Ctrl-C.
    #[arg(long)]
    pub watch: bool,

    /// Seconds between refreshes with --watch.
    #[arg(long, value_name = "DUR", value_parser = super::values::duration, default_value = "2s")]
    pub interval: Duration,

    /// Read this snapshot instead of <root>/runtime/exports/runtime_snapshot.json.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
}

/// The snapshot a root's daemon writes.
pub fn snapshot_path(root: &Path) -> PathBuf {
    root.join("runtime/exports/runtime_snapshot.json")
}

pub fn run(root: &Path, args: Args) -> anyhow::Result<Outcome> {
    let path = args.snapshot.clone().unwrap_or_else(|| snapshot_path(root));
    let stale_after = args.stale_after.unwrap_or_else(|| {
        // Three missed export ticks; the demo's cadence when the config cannot be read.
        let cadence = Config::load(root).map_or(5.0, |c| c.system.exports.cadence_s);
        Duration::from_secs_f64((cadence * 3.0).max(1.0))
    });
    loop {
        let health = judge(&path, stale_after)?;
        let mut out = std::io::stdout().lock();
        if args.watch && out.is_terminal() {
            // Clear the screen and home the cursor: refresh in place.
            write!(out, "\x1b[2J\x1b[H")?;
        }
        match args.format {
            Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&health)?)?,
            Format::Text => write!(out, "{}", health.render())?,
        }
        out.flush()?;
        if !args.watch {
            return Ok(if health.healthy {
                Outcome::Success
            } else {
                Outcome::CheckFailed
            });
        }
        std::thread::sleep(args.interval);
    }
}

fn judge(path: &Path, stale_after: Duration) -> anyhow::Result<Health> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        UsageError(format!(
            "cannot read {}: {e}\n  hint: `ss run` (or `ss export`) writes it in this root; pass --root DIR for another root, or --snapshot FILE",
            path.display()
        ))
    })?;
    let snapshot: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    let health = Health::judge(&snapshot, chrono::Utc::now(), stale_after)
        .with_context(|| format!("{}", path.display()))?;
    // The quota budgets and the Discord bot's state sit beside the snapshot's export tree; a root
    // without them has none.
    let beside = |rel: &str| {
        path.parent()
            .and_then(Path::parent)
            .map(|runtime| runtime.join(rel))
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
    };
    let health = match beside("admin/quotas.json") {
        Some(quotas) => health.with_quotas(&quotas),
        None => health,
    };
    Ok(match beside("discord/runtime.json") {
        Some(bot) => health.with_discord(&bot),
        None => health,
    })
}
