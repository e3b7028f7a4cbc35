//! `ss completions <shell>`: shell completion scripts generated from the clap definition.

use super::{Cli, Outcome};
use clap::CommandFactory;
use std::io::Write;

#[derive(Debug, clap::Args)]
#[command(after_help = "Example: ss completions bash > /etc/bash_completion.d/ss")]
pub struct Args {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut cmd = Cli::command();
    // Generated in memory, then written: clap_complete panics on a failed write, and a closed
    // stdout (`ss completions bash | head -1`) is the reader's choice, not an error (see `cli`).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "ss", &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(Outcome::Success)
}
