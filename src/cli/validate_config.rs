//! `ss validate-config`: check config files and report every problem with file:line:column.
//!
//! Without FILE arguments it checks every config file in `<root>/runtime/config/`, and the runtime
//! changelog `<root>/changelog/changelog.runtime.json` when present. A FILE's schema is chosen by its
//! name (`creators.json`, `creators.broken.json`, `changelog.runtime.json`) or by `--schema`.
//! Cross-file checks (a trigger's creator exists, ...) use the root's other config files when they are
//! not given. `--changelog-base FILE` adds the append-only check of the changelog against an earlier
//! published copy.

use super::{Format, Outcome, UsageError};
use crate::config::{ConfigKind, Report, config_dir, validate};
use crate::version::changelog;
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    ss validate-config                          check runtime/config/*.json\n  \
    ss validate-config my/creators.json         check one file (schema from its name)\n  \
    ss validate-config draft.json --schema triggers\n  \
    ss validate-config --format json            machine-readable report\n  \
    ss validate-config --changelog-base old/changelog.runtime.json\n  \
                                                also fail when a published changelog entry was edited or removed\n\n\
    Exit codes: 0 valid, 1 problems found, 2 usage or I/O error.")]
pub struct Args {
    /// Files to check; none means every config file in <root>/runtime/config/.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Check every FILE against this schema instead of the one its name implies.
    #[arg(long, value_name = "NAME", value_parser = schema_names())]
    pub schema: Option<String>,

    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// An earlier published changelog: fail when one of its entries was removed or changed.
    #[arg(long, value_name = "FILE")]
    pub changelog_base: Option<PathBuf>,
}

/// The `--schema` name of the runtime changelog.
const CHANGELOG_SCHEMA: &str = "changelog";

/// What a file is checked as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checked {
    Config(ConfigKind),
    Changelog,
}

fn schema_names() -> clap::builder::PossibleValuesParser {
    let mut names = ConfigKind::RUNTIME.map(ConfigKind::name).to_vec();
    names.push(CHANGELOG_SCHEMA);
    clap::builder::PossibleValuesParser::new(names)
}

pub fn run(root: &Path, args: Args) -> anyhow::Result<Outcome> {
    let forced = args
        .schema
        .as_deref()
        .map(|name| ConfigKind::from_name(name).map_or(Checked::Changelog, Checked::Config));
    let dir = config_dir(root);
    let mut inputs = if args.files.is_empty() {
        root_inputs(&dir)?
    } else {
        file_inputs(&args.files, forced)?
    };
    let root_changelog = changelog::changelog_file(root);
    if args.files.is_empty() && root_changelog.is_file() {
        inputs.push((root_changelog, Checked::Changelog));
    }
    let mut config_inputs = Vec::new();
    let mut changelog_inputs = Vec::new();
    for (path, checked) in inputs {
        match checked {
            Checked::Config(kind) => config_inputs.push((path, kind)),
            Checked::Changelog => changelog_inputs.push(path),
        }
    }
    if args.changelog_base.is_some() && changelog_inputs.is_empty() {
        return Err(UsageError(
            "--changelog-base needs a changelog to compare: none among the files, and no changelog/changelog.runtime.json in the root".into(),
        )
        .into());
    }
    let context = dir.is_dir().then_some(dir.as_path());
    let state_dir = root.join("runtime").join("state");
    let (mut report, _) = validate::check_in_root(&config_inputs, context, Some(&state_dir));
    for path in &changelog_inputs {
        let display = path.display().to_string();
        changelog::check(path, &display, args.changelog_base.as_deref(), &mut report)?;
    }
    print_report(&report, args.format)?;
    Ok(if report.valid() {
        Outcome::Success
    } else {
        Outcome::CheckFailed
    })
}

fn root_inputs(dir: &Path) -> anyhow::Result<Vec<(PathBuf, Checked)>> {
    if !dir.is_dir() {
        return Err(UsageError(format!(
            "no config directory at {}\n  hint: run from a runtime root, pass --root DIR, or name the files to check",
            dir.display()
        ))
        .into());
    }
    let inputs: Vec<_> = ConfigKind::RUNTIME
        .iter()
        .map(|kind| (dir.join(kind.file_name()), Checked::Config(*kind)))
        .filter(|(path, _)| path.exists())
        .collect();
    if inputs.is_empty() {
        return Err(UsageError(format!(
            "{} holds no config files (system.json, creators.json, ...)",
            dir.display()
        ))
        .into());
    }
    Ok(inputs)
}

fn file_inputs(
    files: &[PathBuf],
    forced: Option<Checked>,
) -> anyhow::Result<Vec<(PathBuf, Checked)>> {
    files
        .iter()
        .map(|path| {
            match std::fs::metadata(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(UsageError(format!("{}: no such file", path.display())).into());
                }
                Err(e) => {
                    return Err(UsageError(format!("{}: cannot read it: {e}", path.display())).into());
                }
                Ok(meta) => {
                    if let Some(what) = validate::not_a_regular_file(&meta) {
                        return Err(UsageError(format!("{}: {what}", path.display())).into());
                    }
                }
            }
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let kind = forced
                .or_else(|| ConfigKind::from_file_name(name).map(Checked::Config))
                .or_else(|| changelog::is_changelog_name(name).then_some(Checked::Changelog))
                .ok_or_else(|| {
                    UsageError(format!(
                        "{}: cannot tell which schema applies from the name {name:?}\n  hint: name it after its kind ({}, {CHANGELOG_SCHEMA}) or pass --schema NAME",
                        path.display(),
                        ConfigKind::RUNTIME.map(ConfigKind::name).join(", ")
                    ))
                })?;
            Ok((path.clone(), kind))
        })
        .collect()
}

fn print_report(report: &Report, format: Format) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            let mut doc = serde_json::json!({
                "valid": report.valid(),
                "files": report.files,
                "errors": report.errors,
            });
            if !report.warnings.is_empty() {
                doc["warnings"] = serde_json::json!(report.warnings);
            }
            serde_json::to_writer_pretty(&mut out, &doc).context("writing the report")?;
            writeln!(out)?;
        }
        Format::Text => {
            for d in report.warnings.iter().chain(&report.errors) {
                writeln!(out, "{d}")?;
            }
            let files = report.files.len();
            let noun = if files == 1 { "file" } else { "files" };
            if report.valid() {
                writeln!(out, "ok: {files} config {noun} valid")?;
            } else {
                let errors = report.errors.len();
                writeln!(
                    out,
                    "invalid: {errors} {} in {} of {files} {noun}",
                    if errors == 1 { "error" } else { "errors" },
                    report.files_with_errors()
                )?;
            }
        }
    }
    Ok(())
}
