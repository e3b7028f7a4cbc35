//! `ss publish-state`: mirror exports into a dashboard checkout's `shared/state/`.
//!
//! The target is `--target`, else `$DASHBOARD_STATE_PUBLISH_ROOT`, else
//! `$STREAMSUITES_STATE_PUBLISH_ROOT`, else `../StreamSuites-Dashboard/docs` next to the root when it
//! exists. The mirror itself (visibility filter, symlink refusal, stale-file removal, atomic writes)
//! lives in [`crate::export::publish`]; `--watch` runs [`crate::export::watch`] until
//! Ctrl-C / SIGINT / SIGTERM (exit 0).

use super::export::default_out;
use super::{Format, Outcome, UsageError};
use crate::export::Visibility;
use crate::export::publish::{PublishReport, PublishRequest, publish};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Environment variables naming the target, in the order they are tried.
pub const TARGET_ENVS: [&str; 2] = [
    "DASHBOARD_STATE_PUBLISH_ROOT",
    "STREAMSUITES_STATE_PUBLISH_ROOT",
];

/// The dashboard checkout tried last, relative to the runtime root.
pub const SIBLING_DASHBOARD: &str = "../StreamSuites-Dashboard/docs";

/// A progress bar is shown (on a terminal) from this many files up.
const PROGRESS_MIN_FILES: usize = 20;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    ss publish-state --target ../dash/docs             public files into ../dash/docs/shared/state/\n  \
    ss publish-state --visibility dashboard --dry-run  show what would change\n  \
    ss publish-state --watch                           republish on every export change, until Ctrl-C\n\n\
    Exit codes: 0 published, 2 usage or I/O error, or a refused symlink (nothing written).")]
pub struct Args {
    /// The dashboard directory; files go to DIR/shared/state/.
    #[arg(long, value_name = "DIR")]
    pub target: Option<PathBuf>,

    /// The export tree to publish (default <root>/runtime, as `ss export` writes it).
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,

    /// Publish files up to this visibility; internal files go out only with `internal`.
    #[arg(long, value_enum, default_value_t = Visibility::Public)]
    pub visibility: Visibility,

    /// Show what would change; write nothing.
    #[arg(long, conflicts_with = "watch")]
    pub dry_run: bool,

    /// Keep running and republish whenever the exports change, until Ctrl-C.
    #[arg(long)]
    pub watch: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `--target`, then the environment, then the sibling dashboard checkout.
fn resolve_target(root: &Path, flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(target) = flag {
        return Ok(target);
    }
    for name in TARGET_ENVS {
        if let Some(value) = std::env::var_os(name).filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(value));
        }
    }
    let sibling = root.join(SIBLING_DASHBOARD);
    if sibling.is_dir() {
        return Ok(sibling);
    }
    Err(UsageError(format!(
        "no publish target: --target is not given, {} and {} are not set, and {} does not exist\n  \
         hint: pass --target DIR (the dashboard's docs directory)",
        TARGET_ENVS[0],
        TARGET_ENVS[1],
        sibling.display()
    ))
    .into())
}

pub fn run(root: &Path, args: Args) -> anyhow::Result<Outcome> {
    let req = PublishRequest {
        source: args.from.clone().unwrap_or_else(|| default_out(root)),
        target: resolve_target(root, args.target.clone())?,
        visibility: args.visibility,
        dry_run: args.dry_run,
    };
    if args.watch {
        return watch(req, args.format);
    }
    let report = publish_with_progress(&req)?;
    print_report(&report, args.format, true)?;
    Ok(Outcome::Success)
}

/// One publish, with a progress bar on a terminal when there are many files.
fn publish_with_progress(req: &PublishRequest) -> anyhow::Result<PublishReport> {
    let mut bar: Option<indicatif::ProgressBar> = None;
    let show = std::io::stderr().is_terminal();
    let report = publish(req, &mut |done, total| {
        if show && total >= PROGRESS_MIN_FILES {
            let bar = bar.get_or_insert_with(|| {
                indicatif::ProgressBar::with_draw_target(
                    Some(total as u64),
                    indicatif::ProgressDrawTarget::stderr(),
                )
            });
            bar.set_position(done as u64);
        }
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(report)
}

fn watch(req: PublishRequest, format: Format) -> anyhow::Result<Outcome> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut first = true;
    rt.block_on(async {
        // Registered before the first publish, so a SIGTERM at any moment means "stop, exit 0".
        let stop = stop_signal()?;
        crate::export::watch::watch(
            req.clone(),
            crate::export::watch::DEBOUNCE,
            stop,
            |result| match result {
                Ok(report) => {
                    if first || report.changed() {
                        let _ = print_report(&report, format, first);
                    }
                    first = false;
                }
                Err(e) => {
                    tracing::error!(error = %e, "Publish failed; watching for the next change.")
                }
            },
        )
        .await
        .map_err(anyhow::Error::from)
    })?;
    tracing::info!("Stopped watching.");
    Ok(Outcome::Success)
}

/// Resolves on the first SIGINT or SIGTERM (Ctrl-C elsewhere). The handlers are installed now, not
/// when the future is first polled.
fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

fn print_report(report: &PublishReport, format: Format, header: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if format == Format::Json {
        writeln!(out, "{}", serde_json::to_string(report)?)?;
        return Ok(());
    }
    if header {
        writeln!(
            out,
            "{} {} (visibility: {})",
            if report.dry_run {
                "dry run: would publish to"
            } else {
                "publishing to"
            },
            report.state_dir.display(),
            report.visibility.as_str()
        )?;
    }
    for (label, names) in [
        ("added", &report.added),
        ("updated", &report.updated),
        ("removed", &report.removed),
    ] {
        for name in names {
            writeln!(out, "  {label:<10} {name}")?;
        }
    }
    writeln!(
        out,
        "{} files: {} added, {} updated, {} unchanged, {} removed{}",
        report.added.len() + report.updated.len() + report.unchanged.len(),
        report.added.len(),
        report.updated.len(),
        report.unchanged.len(),
        report.removed.len(),
        if report.dry_run {
            "; nothing was written"
        } else {
            ""
        }
    )?;
    out.flush()?;
    Ok(())
}
