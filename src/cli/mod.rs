//! The command line: global options, the subcommand enum, and the one place outcomes become exit codes.
//!
//! Each subcommand has its own module with an `Args` struct and a `run` function; the work it does
//! lives in the domain modules. Exit codes (README, DESIGN §7): 0 success, 1 the check ran and found
//! problems, 2 usage, I/O or runtime error. A closed stdout (`ss ... | head`) is not an error.

mod auth;
mod bus;
mod clip;
mod completions;
mod discord;
mod export;
mod init;
mod logging;
mod migrate;
mod publish_state;
mod quotes;
mod replay;
mod run;
mod signals;
mod status;
mod update_version;
mod validate_config;
mod values;

use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// StreamSuites runtime: headless livestream automation for Twitch, YouTube, Kick and Rumble chat.
#[derive(Debug, Parser)]
#[command(
    name = "ss",
    disable_version_flag = true,
    after_help = "Every command works on a runtime root: --root DIR, else $SS_ROOT, else the current directory.\n\
                  Exit codes: 0 success, 1 the check found problems, 2 usage, I/O or runtime error."
)]
pub struct Cli {
    /// The runtime root holding runtime/config/, runtime/exports/ and runtime/state/.
    #[arg(long, global = true, env = "SS_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// More log output on stderr (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Less log output on stderr (-q warnings and errors only, -qq errors only).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,

    /// Log line format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = logging::LogFormat::Text)]
    pub log_format: logging::LogFormat,

    /// Print the version and build (from runtime/version.json) and exit.
    #[arg(short = 'V', long)]
    pub version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the runtime: connect sources, run triggers and actions, record chat, write exports.
    Run(run::Args),
    /// Regenerate every export from config and store, without running any worker.
    Export(export::Args),
    /// Mirror exports into a dashboard checkout's shared/state/, up to a visibility.
    PublishState(publish_state::Args),
    /// Re-run recorded chat through the triggers with no effects: actions, a diff against the live run, or counts.
    Replay(replay::Args),
    /// Check config files against their schemas and each other; every problem with file:line:column.
    ValidateConfig(validate_config::Args),
    /// Stamp a release: one version and build in every file that carries them (all or nothing).
    UpdateVersion(update_version::Args),
    /// Create, list, show, retry and cancel clip jobs (beside a running `ss run`, or --now without one).
    Clip(clip::Args),
    /// Is the runtime healthy? Reads its snapshot; exit 0 healthy, 1 stale, failed or degraded.
    Status(status::Args),
    /// Create a new runtime root ready to run: config files for the chosen platforms, .env.example, .gitignore.
    Init(init::Args),
    /// Run the Discord bot alone: slash commands for operators, restartable without touching the streams.
    Discord(discord::Args),
    /// Bring the store to this ss's schema version (refused while an `ss run` holds it).
    Migrate(migrate::Args),
    /// Log a creator in on a platform without a browser here (`ss auth twitch --creator ID`), or list stored logins.
    Auth(auth::Args),
    /// Quotes: import another bot's quotes (Firebot's export, CSV, JSON), numbers kept.
    Quotes(quotes::Args),
    /// The NATS JetStream bus of a split run: create and verify its streams (`init`), show its shards (`status`).
    Bus(bus::Args),
    /// Print shell completions (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(completions::Args),
}

/// How a command ended when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: the command ran and found problems (invalid config, replay diff, refused downgrade).
    CheckFailed,
    /// Exit 130: a second stop signal ended `ss run` without a clean shutdown.
    Interrupted,
}

/// Output format for commands that scripts read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// A usage error found after parsing (exit 2), printed without a stack of context.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Parses the process arguments, runs the command and returns the exit code.
pub fn main_entry() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    logging::init(cli.verbose, cli.quiet, cli.log_format);
    let code = match run(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::CheckFailed) => ExitCode::from(1),
        Ok(Outcome::Interrupted) => ExitCode::from(130),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Through the log queue, after the log lines before it; never panics on a bad stderr.
            crate::log_sink::write_message(&format!("error: {e:#}\n"), STDERR_GRACE);
            ExitCode::from(2)
        }
    };
    // Bounded: a stderr nobody reads must not keep the process alive.
    crate::log_sink::flush(STDERR_GRACE);
    code
}

/// How long the process waits at exit for queued log lines to reach a slow stderr.
const STDERR_GRACE: Duration = Duration::from_secs(1);

/// Runs a parsed command line. Holds no global state, so it can be called more than once.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let root = resolve_root(cli.root.as_deref())?;
    if cli.version {
        let stamp = crate::version::VersionStamp::read(&root)?;
        writeln!(std::io::stdout(), "ss {}", stamp.describe())?;
        return Ok(Outcome::Success);
    }
    match cli.command {
        Some(Command::Run(args)) => run::run(&root, args),
        Some(Command::ValidateConfig(args)) => validate_config::run(&root, args),
        Some(Command::UpdateVersion(args)) => update_version::run(&root, args),
        Some(Command::Status(args)) => status::run(&root, args),
        Some(Command::Completions(args)) => completions::run(args),
        Some(Command::Export(args)) => export::run(&root, args),
        Some(Command::PublishState(args)) => publish_state::run(&root, args),
        Some(Command::Replay(args)) => replay::run(&root, args),
        Some(Command::Clip(args)) => clip::run(&root, args),
        Some(Command::Migrate(args)) => migrate::run(&root, args),
        Some(Command::Discord(args)) => discord::run(&root, args),
        Some(Command::Init(args)) => init::run(&root, args),
        Some(Command::Auth(args)) => auth::run(&root, args),
        Some(Command::Quotes(args)) => quotes::run(&root, args),
        Some(Command::Bus(args)) => bus::run(&root, args),
        None => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            cmd.print_help()?;
            Err(UsageError("no command given; pick one of the commands above".into()).into())
        }
    }
}

/// Makes this process's TLS clients trust system.json's `tls_ca_file` (read once, at start), for a
/// command that connects to the network.
fn trust_tls(root: &Path, config: &crate::config::Config) -> anyhow::Result<()> {
    crate::tls::trust_ca_file(config.system.tls_ca_path(root).as_deref())?;
    Ok(())
}

/// `--root`, else `$SS_ROOT` (clap reads both), else the current directory.
fn resolve_root(root: Option<&Path>) -> anyhow::Result<PathBuf> {
    match root {
        Some(dir) if dir.is_dir() => Ok(dir.to_path_buf()),
        Some(dir) => Err(UsageError(format!(
            "runtime root {} is not a directory\n  hint: pass --root DIR or set SS_ROOT to the directory holding runtime/",
            dir.display()
        ))
        .into()),
        None => Ok(std::env::current_dir()?),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
