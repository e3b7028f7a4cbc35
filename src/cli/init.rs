//! `ss init [DIR]`: a new runtime root, ready to run ([`crate::init`] builds its files).
//!
//! Nothing is overwritten unless `--force` is given: without it, the command looks at every file
//! it would write first, and refuses (exit 1, naming them) when any exists, so a second `ss init`
//! on the same folder changes nothing. Files are written atomically; then it prints the next
//! commands.

use super::{Outcome, UsageError};
use crate::init::{self, InitOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    ss init my-stream --platforms twitch,kick --creator my_channel\n  \
    ss init                                   a sim-only demo root in the current folder\n  \
    ss init my-stream --platforms youtube --force   write the files again (overwrites them)\n\n\
    Creates runtime/config/*.json (only the platforms asked for, each key explained in \"_comment\"\n\
    fields that validate-config ignores), .env.example with every variable the config names,\n\
    .gitignore (keeps .env and runtime/state/ out of git), changelog/ and the export folders.\n\
    The chosen platforms start off; the sim demo runs at once. Refuses to overwrite any file\n\
    unless --force. Exit codes: 0 created, 1 refused (files exist), 2 usage or I/O error.")]
pub struct Args {
    /// The folder to create the root in (default: the --root folder, else the current one).
    pub dir: Option<PathBuf>,
    /// Platforms to set up, comma-separated: twitch, youtube, kick, rumble (default: none, the sim
    /// demo only).
    #[arg(long, value_name = "LIST")]
    pub platforms: Option<String>,
    /// The creator's id (lowercase letters, digits, - and _).
    #[arg(long, value_name = "ID", default_value = "demo")]
    pub creator: String,
    /// Overwrite files that exist.
    #[arg(long)]
    pub force: bool,
}

pub fn run(root: &Path, args: Args) -> anyhow::Result<Outcome> {
    let dir = args.dir.clone().unwrap_or_else(|| root.to_path_buf());
    let platforms =
        init::parse_platforms(args.platforms.as_deref().unwrap_or_default()).map_err(UsageError)?;
    init::check_creator(&args.creator).map_err(UsageError)?;
    let options = InitOptions {
        platforms,
        creator: args.creator,
    };
    let files = init::plan(&options, chrono::Local::now().date_naive());
    let existing: Vec<PathBuf> = files
        .iter()
        .map(|f| dir.join(&f.path))
        .filter(|path| path.exists())
        .collect();
    let mut err = std::io::stderr().lock();
    if !existing.is_empty() && !args.force {
        writeln!(
            err,
            "error: {} already holds a runtime root; nothing was written. These files exist:",
            dir.display()
        )?;
        for path in &existing {
            writeln!(err, "  {}", path.display())?;
        }
        writeln!(
            err,
            "  hint: choose an empty folder, or add --force to overwrite them (your edits are lost)"
        )?;
        return Ok(Outcome::CheckFailed);
    }
    init::write(&dir, &files).map_err(anyhow::Error::msg)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Created a runtime root in {} ({} files{}).",
        dir.display(),
        files.len(),
        if existing.is_empty() {
            ""
        } else {
            ", overwriting"
        }
    )?;
    writeln!(out, "Next:")?;
    let shown = dir.display().to_string();
    for step in init::next_steps(&shown, &options) {
        writeln!(out, "  {step}")?;
    }
    Ok(Outcome::Success)
}
