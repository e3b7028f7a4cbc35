//! `ss migrate`: brings the store to this `ss`'s schema version on purpose.
//!
//! Only the store's writer migrates, and readers (`ss export`, `ss replay`, ...) refuse a store at an
//! older schema rather than change it under a running older `ss run`. This command is the writer for
//! a moment: it takes the writer lock (refused while an `ss run` holds it), migrates, and lets go.
//! Starting `ss run` does the same as part of its start.

use super::Outcome;
use crate::store::{db_path, open};
use std::io::Write;
use std::path::Path;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    ss migrate                 migrate runtime/state/streamsuites.db to this ss's schema\n\n\
    Refused while an `ss run` holds the store: stop it first (or start `ss run` from this ss,\n\
    which migrates too). A store written by a newer ss is refused and left unchanged.\n\
    Exit codes: 0 migrated or already current, 2 no store, locked, newer, corrupt or I/O error.")]
pub struct Args {}

pub fn run(root: &Path, _args: Args) -> anyhow::Result<Outcome> {
    crate::store::lock::set_holder_command("ss migrate");
    let db = db_path(root);
    let migration = open::migrate(&db)?;
    let mut stdout = std::io::stdout().lock();
    if migration.from == migration.to {
        writeln!(
            stdout,
            "{}: already at schema version {}; nothing to do",
            db.display(),
            migration.to
        )?;
    } else {
        writeln!(
            stdout,
            "{}: migrated from schema version {} to {}",
            db.display(),
            migration.from,
            migration.to
        )?;
    }
    Ok(Outcome::Success)
}
