//! `ss validate-config`: check config files and report every problem with file:line:column.
//!
//! Without FILE arguments it checks every config file in `<root>/runtime/config/`. A FILE's schema is
//! chosen by its name (`creators.json`, `creators.broken.json`) or by `--schema`. Cross-file checks
//! (a trigger's creator exists, ...) use the root's other config files when they are not given.

use super::{Format, Outcome, UsageError};
use crate::config::{ConfigKind, Report, config_dir, validate};
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    ss validate-config                          check runtime/config/*.json\n  \
    ss validate-config my/creators.json         check one file (schema from its name)\n  \
    ss validate-config draft.json --schema triggers\n  \
    ss validate-config --format json            machine-readable report\n\n\
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
}

fn schema_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(ConfigKind::RUNTIME.map(ConfigKind::name))
}

pub fn run(root: &Path, args: Args) -> anyhow::Result<Outcome> {
    let forced = args.schema.as_deref().and_then(ConfigKind::from_name);
    let dir = config_dir(root);
    let inputs = if args.files.is_empty() {
        root_inputs(&dir)?
    } else {
        file_inputs(&args.files, forced)?
    };
    let context = dir.is_dir().then_some(dir.as_path());
    let (report, _) = validate::check(&inputs, context);
    print_report(&report, args.format)?;
    Ok(if report.valid() {
        Outcome::Success
    } else {
        Outcome::CheckFailed
    })
}

fn root_inputs(dir: &Path) -> anyhow::Result<Vec<(PathBuf, ConfigKind)>> {
    if !dir.is_dir() {
        return Err(UsageError(format!(
            "no config directory at {}\n  hint: run from a runtime root, pass --root DIR, or name the files to check",
            dir.display()
        ))
        .into());
    }
    let inputs: Vec<_> = ConfigKind::RUNTIME
        .iter()
        .map(|kind| (dir.join(kind.file_name()), *kind))
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
    forced: Option<ConfigKind>,
) -> anyhow::Result<Vec<(PathBuf, ConfigKind)>> {
    files
        .iter()
        .map(|path| {
            if !path.is_file() {
                return Err(UsageError(format!("{}: no such file", path.display())).into());
            }
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let kind = forced
                .or_else(|| ConfigKind::from_file_name(name))
                .ok_or_else(|| {
                    UsageError(format!(
                        "{}: cannot tell which schema applies from the name {name:?}\n  hint: name it after its kind ({}) or pass --schema NAME",
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
            let doc = serde_json::json!({
                "valid": report.valid(),
                "files": report.files,
                "errors": report.errors,
            });
            serde_json::to_writer_pretty(&mut out, &doc).context("writing the report")?;
            writeln!(out)?;
        }
        Format::Text => {
            for d in &report.errors {
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
