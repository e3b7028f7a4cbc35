//! `ss export`: regenerate every export from config and store, without running any worker.
//!
//! Reads `runtime/config/`, the store (when one exists; otherwise the exports are valid and empty) and
//! writes the catalogue under `<root>/runtime/` or `--out DIR`. Every file is checked against its schema
//! before anything is written; unchanged files keep their bytes and mtime. The store is opened
//! read-only and never migrated: a store at another schema version than this `ss` (a running older
//! `ss run`'s) is refused with how to fix it, and left as it is. All files are read from the store
//! at one moment. Beside a running `ss run` (it holds the store's writer lock), writing into its
//! runtime tree, the files built from the run's own state (`catalogue::LIVE`: the runtime snapshot,
//! telemetry, ...) are left to it.

use super::{Format, Outcome, UsageError};
use crate::config::Config;
use crate::export::runtime_view::RuntimeView;
use crate::export::{self, ExportFile, catalogue, writer};
use crate::store::lock::writer_held_elsewhere;
use crate::store::{StoreReader, db_path};
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    ss export                              write runtime/exports, runtime/signals, runtime/admin\n  \
    ss export --out /tmp/state             write the same tree under /tmp/state\n  \
    ss export --only clips --only polls    regenerate two files (and exports/meta.json)\n\n\
    NAME is a catalogue name (exports/clips.json) or its short form (clips).\n\
    Exit codes: 0 written, 2 usage, config, store or I/O error.")]
pub struct Args {
    /// Write the export tree (exports/, signals/, admin/) here instead of <root>/runtime.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Regenerate only these files; repeat the flag or list several.
    #[arg(long, value_name = "NAME", num_args = 1..)]
    pub only: Vec<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// The export tree below a runtime root.
pub fn default_out(root: &Path) -> PathBuf {
    root.join("runtime")
}

/// The catalogue entries `--only` names; a usage error lists the valid names.
fn selected(only: &[String]) -> anyhow::Result<Vec<&'static str>> {
    only.iter()
        .map(|name| {
            catalogue::lookup(name).map(|e| e.name).ok_or_else(|| {
                let names: Vec<_> = catalogue::CATALOGUE
                    .iter()
                    .map(|e| e.short_name())
                    .collect();
                UsageError(format!(
                    "--only {name}: no such export\n  hint: use one of: {}",
                    names.join(", ")
                ))
                .into()
            })
        })
        .collect()
}

pub fn run(root: &Path, args: Args) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let only = selected(&args.only)?;
    let out = args.out.unwrap_or_else(|| default_out(root));
    let config = Config::load(root)?;
    let db = db_path(root);
    let store = if db.exists() {
        Some(StoreReader::open(&db)?)
    } else {
        None
    };
    let mut files = export::build_all(
        root,
        &config,
        store.as_ref(),
        &RuntimeView::idle(),
        chrono::Utc::now(),
    )?;
    if !only.is_empty() {
        files.retain(|f| only.contains(&f.name));
    }
    // Beside a running `ss run`, its own state is its to write: this process knows none of it.
    let beside_run =
        same_dir(&out, &default_out(root)) && store.is_some() && writer_held_elsewhere(&db)?;
    let mut left_to_run = Vec::new();
    if beside_run {
        files.retain(|f| {
            let live = catalogue::LIVE.contains(&f.name);
            if live {
                left_to_run.push(f.name);
            }
            !live
        });
    }
    check_schemas(&files)?;
    let summary = writer::write_all(&out, &files)
        .with_context(|| format!("writing exports under {}", out.display()))?;
    tracing::info!(
        out = %out.display(),
        written = summary.written.len(),
        unchanged = summary.unchanged.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "Exports written."
    );
    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let doc = serde_json::json!({
                "out": out,
                "written": summary.written,
                "unchanged": summary.unchanged,
                "left_to_run": left_to_run,
            });
            writeln!(stdout, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Format::Text => {
            for name in &summary.written {
                writeln!(stdout, "  wrote      {name}")?;
            }
            writeln!(
                stdout,
                "exported {} files to {}: {} written, {} unchanged",
                summary.written.len() + summary.unchanged.len(),
                out.display(),
                summary.written.len(),
                summary.unchanged.len()
            )?;
            if !left_to_run.is_empty() {
                writeln!(
                    stdout,
                    "left {} files to the running `ss run`, which writes its own state: {}",
                    left_to_run.len(),
                    left_to_run.join(", ")
                )?;
            }
        }
    }
    Ok(Outcome::Success)
}

/// Whether `a` and `b` name the same directory (both resolved when they exist).
fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Refuses to write a file its own schema rejects (a defect in a builder, never user input).
fn check_schemas(files: &[ExportFile]) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for file in files {
        for problem in file.validate() {
            problems.push(format!("  {} ({}): {problem}", file.name, file.schema));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "built exports do not match their schemas; nothing was written:\n{}\n  hint: this is a defect in ss; please report it with the lines above",
            problems.join("\n")
        )
    }
}
