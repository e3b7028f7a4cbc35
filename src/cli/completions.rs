//! `ss completions <shell>`: shell completion scripts generated from the clap definition.

use super::{Cli, Outcome};
use clap::CommandFactory;

#[derive(Debug, clap::Args)]
#[command(after_help = "Example: ss completions bash > /etc/bash_completion.d/ss")]
pub struct Args {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "ss", &mut std::io::stdout());
    Ok(Outcome::Success)
}
