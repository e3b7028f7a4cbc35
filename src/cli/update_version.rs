//! `ss update-version VERSION`: stamp one version and build everywhere they appear, at release time.
//!
//! The command checks what it was given (a semantic version, a well-formed build, no accidental
//! downgrade), asks [`crate::version::stamp`] for the plan (every file, every old → new value), prints
//! it, and unless `--dry-run` writes it all or nothing. The build defaults to the release date with the
//! day's next sequence number; the date comes from `$SS_BUILD_DATE` when set, so releases and tests
//! can be reproduced, else from the local clock.

use super::{Format, Outcome, UsageError};
use crate::version::build::{self, BuildId};
use crate::version::release::{self, Direction};
use crate::version::stamp::{self, Request, StampPlan};
use crate::version::{VersionStamp, version_file};
use anyhow::Context;
use chrono::NaiveDate;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment variable that fixes the release date (`YYYY.MM.DD`).
pub const BUILD_DATE_ENV: &str = "SS_BUILD_DATE";

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Stamps Cargo.toml, Cargo.lock, runtime/version.json, changelog/changelog.runtime.json\n\
    and the exports that carry the version: runtime/exports/version.json, changelog.runtime.json,\n\
    changelog.json, about.public.json and runtime/admin/about.admin.json. Files not present are\n\
    listed as skipped. Only version and build values change; every other byte stays. If any file\n\
    cannot be stamped, none is.\n\n\
    Environment:\n  \
    SS_BUILD_DATE=YYYY.MM.DD   release date for the default build (default: today, local time)\n\n\
    Examples:\n  \
    ss update-version 0.4.0-beta.1 --dry-run          show every old -> new value\n  \
    ss update-version 0.4.0 --dashboard-root ../dash  also stamp a dashboard checkout\n  \
    ss update-version 0.4.0 --changelog-summary \"Release tooling.\"\n\n\
    Exit codes: 0 stamped, 1 downgrade refused, 2 usage or I/O error (1 and 2 change nothing)."
)]
pub struct Args {
    /// The new version: semantic, pre-releases allowed (0.4.0, 0.4.0-alpha, 0.4.0-beta.2).
    #[arg(value_name = "VERSION")]
    pub version: String,

    /// The build, YYYY.MM.DD+NNN [default: the release date with that day's next sequence number].
    #[arg(long, value_name = "BUILD")]
    pub build: Option<String>,

    /// A dashboard checkout: also stamp DIR/version.json and the `version` of every JSON document
    /// under DIR/about/. A directory that does not exist is reported and skipped.
    #[arg(long, value_name = "DIR")]
    pub dashboard_root: Option<PathBuf>,

    /// Append a changelog entry for this version, with this summary and a fresh id.
    #[arg(long, value_name = "TEXT")]
    pub changelog_summary: Option<String>,

    /// Show every file with its old → new values and write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Stamp a version (or, for the same version, a build) older than the current one.
    #[arg(long)]
    pub allow_downgrade: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub fn run(root: &Path, args: Args) -> anyhow::Result<Outcome> {
    let version = release::parse_version(&args.version).map_err(|e| UsageError(e.to_string()))?;
    let summary = args.changelog_summary.as_deref().map(str::trim);
    if summary.is_some_and(str::is_empty) {
        return Err(UsageError(
            "--changelog-summary is empty; give the entry a one-line summary".into(),
        )
        .into());
    }
    let current = current_stamp(root)?;
    let current_version = semver::Version::parse(&current.version).with_context(|| {
        format!(
            "{}: the current version {:?} is not a semantic version; fix it by hand, then run again",
            version_file(root).display(),
            current.version
        )
    })?;
    let current_build = current.build.parse::<BuildId>().ok();
    let build = match args.build.as_deref() {
        Some(text) => text
            .parse::<BuildId>()
            .map_err(|e| UsageError(e.to_string()))?,
        None => {
            BuildId::next(release_date()?, current_build).map_err(|e| UsageError(e.to_string()))?
        }
    };
    let new = VersionStamp {
        version: version.to_string(),
        build: build.to_string(),
    };

    let direction = release::direction(&current_version, current_build, &version, build);
    if direction == Direction::Downgrade && !args.allow_downgrade {
        refuse_downgrade(&current, &new, args.format)?;
        return Ok(Outcome::CheckFailed);
    }

    let plan = stamp::plan(&Request {
        root,
        dashboard: args.dashboard_root.as_deref(),
        stamp: &new,
        changelog_summary: summary,
        release_date: build.date,
    })?;
    if !args.dry_run {
        plan.write()?;
        tracing::info!(
            version = %new.version,
            build = %new.build,
            files = plan.files.iter().filter(|f| f.modified()).count(),
            "Release stamped."
        );
    }
    print_plan(&plan, &current, &new, args.dry_run, args.format)?;
    Ok(Outcome::Success)
}

/// The stamp in `runtime/version.json`, which must exist: it is the source every other file follows.
fn current_stamp(root: &Path) -> anyhow::Result<VersionStamp> {
    let path = version_file(root);
    if !path.is_file() {
        return Err(UsageError(format!(
            "{}: not present; ss update-version stamps a release root holding runtime/version.json\n  hint: run it from the repository root or pass --root DIR",
            path.display()
        ))
        .into());
    }
    VersionStamp::read(root)
}

/// `$SS_BUILD_DATE` when set, else today's local date.
fn release_date() -> anyhow::Result<NaiveDate> {
    match std::env::var(BUILD_DATE_ENV) {
        Ok(text) => build::parse_date(&text).map_err(|e| {
            UsageError(format!(
                "{BUILD_DATE_ENV}: {e}\n  hint: set it to the release date, e.g. {BUILD_DATE_ENV}=2026.11.22, or unset it to use today's date"
            ))
            .into()
        }),
        Err(_) => Ok(chrono::Local::now().date_naive()),
    }
}

fn refuse_downgrade(
    current: &VersionStamp,
    new: &VersionStamp,
    format: Format,
) -> anyhow::Result<()> {
    let reason = format!(
        "{} is older than the current {}",
        new.describe(),
        current.describe()
    );
    match format {
        Format::Json => {
            let doc = serde_json::json!({
                "refused": true,
                "reason": reason,
                "current": current,
                "requested": new,
            });
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &doc).context("writing the report")?;
            writeln!(out)?;
        }
        Format::Text => {
            crate::log_sink::write_message(
                &format!(
                    "refused: {reason}; nothing was changed\n  hint: pass --allow-downgrade to stamp an older release on purpose\n"
                ),
                std::time::Duration::from_secs(1),
            );
        }
    }
    Ok(())
}

fn print_plan(
    plan: &StampPlan,
    current: &VersionStamp,
    new: &VersionStamp,
    dry_run: bool,
    format: Format,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let modified = plan.files.iter().filter(|f| f.modified()).count();
    if format == Format::Json {
        let doc = serde_json::json!({
            "dry_run": dry_run,
            "previous": current,
            "version": new.version,
            "build": new.build,
            "files": plan.files,
            "skipped": plan.skipped,
            "appended": plan.appended,
            "modified": modified,
        });
        serde_json::to_writer_pretty(&mut out, &doc).context("writing the report")?;
        writeln!(out)?;
        return Ok(());
    }

    let width = plan.files.iter().map(|f| f.file.len()).max().unwrap_or(0);
    let field_width = plan
        .files
        .iter()
        .flat_map(|f| &f.changes)
        .map(|c| c.field.len())
        .max()
        .unwrap_or(0);
    for file in &plan.files {
        for change in &file.changes {
            let values = if change.old == change.new {
                format!("{} (unchanged)", change.new)
            } else {
                format!("{} → {}", change.old, change.new)
            };
            writeln!(
                out,
                "{:<width$}  {:<field_width$}  {values}",
                file.file, change.field
            )?;
        }
        if let Some(appended) = plan.appended.as_ref().filter(|a| a.file == file.file) {
            writeln!(
                out,
                "{:<width$}  {:<field_width$}  {} ({}): {}",
                appended.file,
                "appended entry",
                appended.entry.id,
                appended.entry.version,
                appended.entry.summary
            )?;
        }
    }
    for skipped in &plan.skipped {
        writeln!(out, "skipped: {} ({})", skipped.file, skipped.reason)?;
    }
    let noun = |n: usize| if n == 1 { "file" } else { "files" };
    if dry_run {
        writeln!(
            out,
            "dry run: would stamp {} in {modified} {}; nothing written",
            new.describe(),
            noun(modified)
        )?;
    } else {
        writeln!(
            out,
            "stamped {} in {modified} {}",
            new.describe(),
            noun(modified)
        )?;
    }
    Ok(())
}
