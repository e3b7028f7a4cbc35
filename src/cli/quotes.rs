//! `ss quotes import FILE`: quotes from another bot's export, into the store, numbers kept.
//!
//! The file is read by [`crate::imports`] (Firebot's CSV export and database, CSV or JSON with the
//! documented column names), then imported in one transaction as the store's writer
//! ([`crate::store::Store::import_quotes`]): all quotes or none. The writer lock makes it wait for
//! no one: while an `ss run` holds the store, the import is refused with how to go on.

use super::{Outcome, UsageError};
use crate::imports::{self, Format};
use crate::store::{Store, db_path};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: QuotesCommand,
}

#[derive(Debug, clap::Subcommand)]
enum QuotesCommand {
    /// Import quotes from another bot's export (Firebot's CSV export or quotes.db, CSV, JSON).
    Import(ImportArgs),
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    ss quotes import firebot-quotes.csv --creator demo\n  \
    ss quotes import quotes.db --creator demo --renumber\n  \
    ss quotes import quotes.json --dry-run\n\n\
    Columns (CSV) or keys (JSON), any case: ID/_id/number (the quote's number, kept), Text/quote,\n\
    Originator/said_by (who is quoted), Creator/added_by (who added it), Category/game,\n\
    Created/createdAt/date (RFC 3339, YYYY-MM-DD, Unix ms or {\"$$date\": ms}).\n\
    Nothing is imported when a number is already taken (unless --renumber), a quote has no text,\n\
    or a line does not read; the error names the line. Refused while `ss run` holds the store.\n\
    Exit codes: 0 imported (or checked, with --dry-run), 1 refused, 2 usage or I/O error.")]
struct ImportArgs {
    /// The export file.
    file: PathBuf,
    /// The creator the quotes belong to (default: the only creator in creators.json).
    #[arg(long)]
    creator: Option<String>,
    /// The file's format (default: by extension, else by content).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Number the quotes after the highest number in the store, in file order, instead of keeping
    /// their numbers.
    #[arg(long)]
    renumber: bool,
    /// Read and check the file; import nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Csv,
    Json,
}

pub fn run(root: &Path, args: Args) -> anyhow::Result<Outcome> {
    match args.command {
        QuotesCommand::Import(args) => import(root, args),
    }
}

fn import(root: &Path, args: ImportArgs) -> anyhow::Result<Outcome> {
    let config = crate::config::Config::load(root)?;
    let creator = match args.creator {
        Some(id) => config
            .creators
            .require(&id)
            .map_err(|e| UsageError(format!("--creator {id}: {e}")))?
            .id
            .clone(),
        None => match config.creators.creators.as_slice() {
            [only] => only.id.clone(),
            _ => {
                return Err(UsageError(
                    "creators.json has several creators; name one with --creator ID".into(),
                )
                .into());
            }
        },
    };
    let text = std::fs::read_to_string(&args.file).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}\n  hint: pass the path of the exported file",
            args.file.display()
        )
    })?;
    let format = match args.format {
        Some(FormatArg::Csv) => Format::Csv,
        Some(FormatArg::Json) => Format::Json,
        None => Format::guess(&args.file, &text),
    };
    let read = imports::read(&text, format).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}\n  hint: fix that line (nothing was imported)",
            args.file.display()
        )
    })?;
    if !args.renumber
        && let Some(q) = read.iter().find(|q| q.number.is_none())
    {
        return Err(anyhow::anyhow!(
            "{}: line {}: the quote has no number\n  hint: pass --renumber to number the quotes after the highest one (nothing was imported)",
            args.file.display(),
            q.line
        ));
    }
    let now = chrono::Utc::now();
    let quotes: Vec<_> = read
        .into_iter()
        .map(|q| q.into_imported("import", now))
        .collect();
    let mut stdout = std::io::stdout().lock();
    if args.dry_run {
        writeln!(
            stdout,
            "{}: {} quote{} read for {creator}; nothing imported (--dry-run)",
            args.file.display(),
            quotes.len(),
            if quotes.len() == 1 { "" } else { "s" }
        )?;
        return Ok(Outcome::Success);
    }
    let db = db_path(root);
    let mut store = Store::open_as_writer(&db)?;
    match store.import_quotes(&creator, &quotes, args.renumber) {
        Ok(numbers) => {
            let range = match (numbers.iter().min(), numbers.iter().max()) {
                (Some(a), Some(b)) if a == b => format!(" (number {a})"),
                (Some(a), Some(b)) => format!(" (numbers {a} to {b})"),
                _ => String::new(),
            };
            writeln!(
                stdout,
                "{}: imported {} quote{} for {creator}{range}",
                args.file.display(),
                numbers.len(),
                if numbers.len() == 1 { "" } else { "s" }
            )?;
            Ok(Outcome::Success)
        }
        Err(crate::store::ImportError::Store(e)) => Err(e.into()),
        Err(refused) => {
            drop(stdout);
            crate::log_sink::write_message(
                &format!("error: {}: {refused}\n", args.file.display()),
                std::time::Duration::from_secs(1),
            );
            Ok(Outcome::CheckFailed)
        }
    }
}
