//! `ss replay`: recorded chat through today's (or a draft's) triggers again, with no effects.
//!
//! Reads the events (the store's chat log by default; `--input FILE` for a store file, a JSONL file
//! of chat events or a raw Twitch IRC log), runs them through the live evaluation core
//! ([`crate::replay`]) and prints the actions as JSON lines; `--diff` compares them with what the
//! live run recorded (exit 1 on any difference), `--stats` prints counts instead. Malformed lines
//! are warned about on stderr with their line numbers and skipped; the progress bar shows only
//! when stderr is a terminal.

use super::{Format, Outcome, UsageError};
use crate::config::{Config, ConfigKind, config_dir};
use crate::engine::Core;
use crate::event::Platform;
use crate::pages::recorded::{self, RecordedChat};
use crate::replay::input::{self, InputFormat, Progress};
use crate::replay::{
    self, ChannelOwners, Collect, Filter, Input, JsonLines, Observer, Replay, SkippedLine, diff,
    stats::Stats,
};
use crate::store::db_path;
use crate::triggers::Registry;
use crate::triggers::moderation::ModerationRegistry;
use anyhow::Context;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    ss replay                                 every recorded event through today's triggers\n  \
    ss replay --since 12h --creator demo      last night's stream of one creator\n  \
    ss replay --diff                          compare with what the live runs did\n  \
    ss replay --triggers draft.json --diff    what a draft would have done differently\n  \
    ss replay --moderation draft.json --diff  which messages changed filters act on differently\n  \
    ss replay --stats                         counts of events, chatters and actions\n  \
    ss replay --input chat.log                a raw Twitch IRC log\n  \
    ss replay --input events.jsonl --out actions.jsonl\n  \
    ss replay --since 12h --html pages/       replay.html (player) and overlay.html (OBS)\n\n\
    A CI check of a bot's config: commit a chat log and the actions it should give, then\n  \
    ss replay --input chat.log --out expected.jsonl     (once, and after intended changes)\n  \
    ss replay --input chat.log --diff expected.jsonl    (in CI: exit 1 lists what changed)\n\n\
    Nothing is sent and nothing is written to the store. The same input and config give the\n\
    same bytes on every run. Filters choose which events are reported; the triggers still see\n\
    every event since the run start before them, so cooldowns are as they were live.\n\
    Exit codes: 0 done (no differences), 1 --diff found differences, 2 usage, config, input\n\
    or I/O error.")]
pub struct Args {
    /// Read events from FILE instead of the root's store: a store (.db), JSONL chat events (.jsonl)
    /// or a raw Twitch IRC log (.log).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// The format of --input (default: guessed from the extension, else the content).
    #[arg(long, value_name = "FORMAT", value_parser = clap::builder::PossibleValuesParser::new(InputFormat::NAMES))]
    pub input_format: Option<String>,

    /// Report only this creator's events; for an IRC log, whose chat every line is (default: the
    /// creator whose twitch block names the line's channel).
    #[arg(long, value_name = "ID")]
    pub creator: Option<String>,

    /// Report only events of this platform; repeat for several.
    #[arg(long, value_name = "PLATFORM", value_parser = platform_names())]
    pub platform: Vec<String>,

    /// Report only events at or after this time: RFC 3339, "YYYY-MM-DD HH:MM" (UTC), a date, or a
    /// time ago (2h, 30m, 1d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Report only events before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Use the config files in DIR instead of <root>/runtime/config.
    #[arg(long, value_name = "DIR")]
    pub config: Option<PathBuf>,

    /// Use this triggers file (a draft) instead of the config's triggers.json; checked like
    /// `ss validate-config FILE --schema triggers`.
    #[arg(long, value_name = "FILE")]
    pub triggers: Option<PathBuf>,

    /// Use this moderation file (a draft) instead of the config's moderation.json; checked like
    /// `ss validate-config FILE --schema moderation`. With --diff: exactly the messages the
    /// changed filters would act on differently.
    #[arg(long, value_name = "FILE")]
    pub moderation: Option<PathBuf>,

    /// Write the actions (JSON lines) to FILE instead of stdout.
    #[arg(long, value_name = "FILE", conflicts_with = "stats")]
    pub out: Option<PathBuf>,

    /// Compare the actions with those the live runs recorded in the store, or with a saved replay
    /// (JSON lines, as --out writes them); list what was added, removed or changed.
    #[arg(long, value_name = "ACTIONS", num_args = 0..=1)]
    pub diff: Option<Option<PathBuf>>,

    /// Print counts (events by platform and kind, chatters, actions by type and trigger, skipped
    /// lines, time span) instead of the actions.
    #[arg(long, conflicts_with = "diff")]
    pub stats: bool,

    /// Write the selected chat as pages into DIR instead of printing actions: replay.html (a
    /// player with play/pause, 1×/2×/4×, a seek bar and jump-to-time) and overlay.html (the same
    /// chat in real time, transparent, for an OBS browser source). Self-contained: open them from
    /// disk; themes with ?theme=default|midnight|slate. The only requests they make are emote
    /// images from the platforms' CDNs.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["stats", "diff", "out"])]
    pub html: Option<PathBuf>,

    /// With --html: show emotes as their text, so the pages make no network request at all.
    #[arg(long, requires = "html")]
    pub no_remote_images: bool,

    /// What extension calls answer: `recorded` (what the live run recorded they answered, so a
    /// diff stays empty) or `live` (call the extensions of extensions.json again, to try a new
    /// version of one against recorded chat).
    #[arg(long, value_enum, default_value_t = ExtensionAnswers::Recorded)]
    pub extensions: ExtensionAnswers,

    /// Format of the --diff and --stats reports.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Where `ss replay` takes extensions' answers from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExtensionAnswers {
    Recorded,
    Live,
}

/// `--extensions live`: each call made again, synchronously.
struct LiveAnswers(crate::extensions::blocking::Blocking);

impl replay::Answers for LiveAnswers {
    fn answer(
        &mut self,
        call: &crate::actions::Action,
        event: Option<&crate::event::ChatEvent>,
    ) -> Vec<crate::actions::Action> {
        self.0.call(call, event).unwrap_or_else(|e| {
            tracing::warn!(cause = %call.cause(), "An extension call gave no answer: {e}");
            Vec::new()
        })
    }
}

fn platform_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(Platform::all().iter().map(|p| p.as_str()))
}

/// Skipped lines warned about one by one; the rest are counted in one line.
const WARN_SKIPPED: u64 = 20;

pub fn run(root: &Path, args: Args) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let config = load_config(root, &args)?;
    let filter = filter_of(&args, &config)?;
    let input = input_of(root, &args)?;
    let owners = match &args.creator {
        Some(creator) => ChannelOwners::One(creator.clone()),
        None => ChannelOwners::from_config(&config.creators),
    };
    let core = Core::new(
        Registry::compile(&config.triggers)?,
        config.system.limits.dedupe_window,
    )
    .with_moderation(ModerationRegistry::compile(&config.moderation)?);
    let mut replay =
        Replay::new(core, filter.clone()).with_max_line_bytes(config.system.limits.max_line_bytes);
    match (args.extensions, &input) {
        (ExtensionAnswers::Live, _) => {
            let live = crate::extensions::blocking::Blocking::start(root, &config.extensions)
                .context("starting the extensions")?;
            replay = replay.with_answers(Box::new(LiveAnswers(live)));
        }
        // Read only when a trigger calls an extension: a big store's actions are not read twice
        // for nothing.
        (ExtensionAnswers::Recorded, Input::Store(path)) if config.triggers.calls_extensions() => {
            replay = replay.with_answers(Box::new(replay::Recorded::from_store(path, &filter)?));
        }
        // A file of events carries no recorded answers; without extension calls none is asked for.
        (ExtensionAnswers::Recorded, _) => {}
    }
    let bar = Bar::new();
    let mut warned = Warned {
        file: input.path().display().to_string(),
        count: 0,
    };

    let outcome = if args.stats {
        let mut stats = Stats::default();
        replay::run(
            &input,
            &mut replay,
            &owners,
            &bar,
            &mut With(&mut stats, &mut warned),
        )?;
        bar.finish();
        let report = stats.report(replay.summary());
        let mut out = std::io::stdout().lock();
        match args.format {
            Format::Text => out.write_all(report.render().as_bytes())?,
            Format::Json => {
                serde_json::to_writer_pretty(&mut out, &report)?;
                writeln!(out)?;
            }
        }
        Outcome::Success
    } else if let Some(baseline) = &args.diff {
        let mut collected = Collect::default();
        let mut saved = args.out.as_deref().map(open_out).transpose()?;
        match &mut saved {
            Some(file) => replay::run(
                &input,
                &mut replay,
                &owners,
                &bar,
                &mut With(&mut With(&mut collected, file), &mut warned),
            )?,
            None => replay::run(
                &input,
                &mut replay,
                &owners,
                &bar,
                &mut With(&mut collected, &mut warned),
            )?,
        }
        bar.finish();
        if let Some(file) = saved {
            file.finish()?;
        }
        let (recorded, name) = match baseline {
            Some(file) => (replay::read_actions(file, &filter)?, "expected"),
            None => {
                let store = match &input {
                    Input::Store(path) => path.clone(),
                    _ => db_path(root),
                };
                (replay::recorded_actions(&store, &filter)?, "recorded")
            }
        };
        if replay.summary().events_read == 0 && !recorded.is_empty() {
            tracing::warn!(
                "The input holds no chat events, but {} actions were {name}; was chat_log.enabled off in system.json during the run?",
                recorded.len()
            );
        }
        let diff = diff::diff(collected.0, recorded);
        let mut out = std::io::stdout().lock();
        match args.format {
            Format::Text => out.write_all(diff::render(&diff, name).as_bytes())?,
            Format::Json => {
                serde_json::to_writer_pretty(&mut out, &diff)?;
                writeln!(out)?;
            }
        }
        out.flush()?;
        if diff.is_empty() {
            Outcome::Success
        } else {
            Outcome::CheckFailed
        }
    } else if let Some(dir) = &args.html {
        let mut chat = RecordedChat::default();
        replay::run(
            &input,
            &mut replay,
            &owners,
            &bar,
            &mut With(&mut chat, &mut warned),
        )?;
        bar.finish();
        let events = chat.events();
        let title = args.creator.as_deref().unwrap_or("all creators");
        let [page, overlay] =
            recorded::write_pages(dir, &chat.into_json(), !args.no_remote_images, title)
                .with_context(|| format!("writing the pages into {}", dir.display()))?;
        writeln!(
            std::io::stdout(),
            "{} events: {} and {}",
            events,
            page.display(),
            overlay.display()
        )?;
        Outcome::Success
    } else {
        match &args.out {
            Some(path) => {
                let mut file = open_out(path)?;
                replay::run(
                    &input,
                    &mut replay,
                    &owners,
                    &bar,
                    &mut With(&mut file, &mut warned),
                )?;
                file.finish()?;
            }
            None => {
                let stdout = std::io::stdout().lock();
                let mut lines = JsonLines::new(std::io::BufWriter::with_capacity(1 << 16, stdout));
                replay::run(
                    &input,
                    &mut replay,
                    &owners,
                    &bar,
                    &mut With(&mut lines, &mut warned),
                )?;
                lines.finish()?;
            }
        }
        bar.finish();
        Outcome::Success
    };

    let s = replay.summary();
    if warned.count > WARN_SKIPPED {
        tracing::warn!(
            "{}: {} more malformed lines skipped (not listed)",
            warned.file,
            warned.count - WARN_SKIPPED
        );
    }
    let line = format!(
        "Replayed {} events from {} ({} reported, {} duplicates, {} lines skipped, {} fresh starts, {} recorded ticks): {} actions in {:.2}s.",
        s.events_read,
        input.path().display(),
        s.events_selected,
        s.duplicates,
        s.skipped_lines,
        s.fresh_starts,
        s.ticks_read,
        s.actions,
        started.elapsed().as_secs_f64()
    );
    // On a terminal the summary is for the person watching; in a pipe or CI log, stderr carries
    // only problems (skipped lines, errors) unless -v asks for more.
    if std::io::stderr().is_terminal() {
        tracing::info!("{line}");
    } else {
        tracing::debug!("{line}");
    }
    Ok(outcome)
}

/// The config: the root's (or --config DIR's), with the draft --triggers file in place of triggers.json.
fn load_config(root: &Path, args: &Args) -> anyhow::Result<Config> {
    let dir = match &args.config {
        Some(dir) if !dir.is_dir() => {
            return Err(UsageError(format!(
                "--config {}: not a directory\n  hint: pass the directory holding creators.json, triggers.json, ...",
                dir.display()
            ))
            .into());
        }
        Some(dir) => dir.clone(),
        None => config_dir(root),
    };
    let mut drafts = Vec::new();
    if let Some(file) = &args.triggers {
        if !file.is_file() {
            return Err(UsageError(format!(
                "--triggers {}: no such file\n  hint: pass a triggers file such as runtime/config/triggers.json",
                file.display()
            ))
            .into());
        }
        drafts.push((file.clone(), ConfigKind::Triggers));
    }
    if let Some(file) = &args.moderation {
        if !file.is_file() {
            return Err(UsageError(format!(
                "--moderation {}: no such file\n  hint: pass a moderation file such as runtime/config/moderation.json",
                file.display()
            ))
            .into());
        }
        drafts.push((file.clone(), ConfigKind::Moderation));
    }
    Ok(Config::load_dir(&dir, &drafts)?)
}

/// The root's store, or --input FILE in its named or guessed format.
fn input_of(root: &Path, args: &Args) -> anyhow::Result<Input> {
    let Some(path) = &args.input else {
        if args.input_format.as_deref().is_some_and(|f| f != "store") {
            return Err(UsageError(
                "--input-format needs --input FILE (without it, the root's store is read)".into(),
            )
            .into());
        }
        return Ok(Input::Store(db_path(root)));
    };
    let meta = std::fs::metadata(path)
        .map_err(|e| UsageError(format!("--input {}: cannot read it: {e}", path.display())))?;
    if meta.is_dir() {
        return Err(UsageError(format!(
            "--input {}: is a directory; pass a store (.db), JSONL (.jsonl) or IRC log (.log) file",
            path.display()
        ))
        .into());
    }
    let format = match args
        .input_format
        .as_deref()
        .and_then(InputFormat::from_name)
    {
        Some(format) => format,
        None => input::guess_format(path).with_context(|| format!("reading {}", path.display()))?,
    };
    Ok(match format {
        InputFormat::Store => Input::Store(path.clone()),
        InputFormat::Jsonl => Input::Jsonl(path.clone()),
        InputFormat::Irc => Input::Irc(path.clone()),
    })
}

fn filter_of(args: &Args, config: &Config) -> anyhow::Result<Filter> {
    if let Some(id) = &args.creator {
        config
            .creators
            .require(id)
            .map_err(|e| UsageError(format!("--creator {id}: {e}")))?;
    }
    let now = chrono::Utc::now();
    let time = |flag: &str, value: &Option<String>| -> anyhow::Result<Option<i64>> {
        value
            .as_deref()
            .map(|v| {
                replay::parse_time(v, now)
                    .map(|t| t.timestamp_millis())
                    .map_err(|e| UsageError(format!("--{flag}: {e}")).into())
            })
            .transpose()
    };
    let (since_ms, until_ms) = (time("since", &args.since)?, time("until", &args.until)?);
    if let (Some(since), Some(until)) = (since_ms, until_ms)
        && since >= until
    {
        let at = |ms: i64| {
            chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
                .map_or_else(|| ms.to_string(), crate::export::timestamp)
        };
        return Err(UsageError(format!(
            "--since {} ({}) is not before --until {} ({}); the window would select nothing\n  hint: swap them, or give a --since earlier than --until",
            args.since.as_deref().unwrap_or_default(),
            at(since),
            args.until.as_deref().unwrap_or_default(),
            at(until)
        ))
        .into());
    }
    Ok(Filter {
        creator: args.creator.clone(),
        platforms: args
            .platform
            .iter()
            .filter_map(|p| Platform::from_name(p))
            .collect(),
        since_ms,
        until_ms,
    })
}

type FileLines = JsonLines<std::io::BufWriter<std::fs::File>>;

fn open_out(path: &Path) -> anyhow::Result<FileLines> {
    let file = std::fs::File::create(path)
        .with_context(|| format!("creating --out {}", path.display()))?;
    Ok(JsonLines::new(std::io::BufWriter::with_capacity(
        1 << 16,
        file,
    )))
}

/// Warns about skipped lines as they come, up to [`WARN_SKIPPED`].
struct Warned {
    file: String,
    count: u64,
}

impl Observer for Warned {
    fn event(
        &mut self,
        _: &crate::event::ChatEvent,
        _: &[crate::actions::Action],
    ) -> anyhow::Result<()> {
        Ok(())
    }

    fn tick(&mut self, _: &crate::event::Tick, _: &[crate::actions::Action]) -> anyhow::Result<()> {
        Ok(())
    }

    fn skipped(&mut self, line: &SkippedLine) {
        self.count += 1;
        if self.count <= WARN_SKIPPED {
            tracing::warn!("{}:{}: skipped: {}", self.file, line.line, line.reason);
        }
    }
}

/// Two observers in one.
struct With<'a, A: ?Sized, B: ?Sized>(&'a mut A, &'a mut B);

impl<A: Observer + ?Sized, B: Observer + ?Sized> Observer for With<'_, A, B> {
    fn event(
        &mut self,
        event: &crate::event::ChatEvent,
        actions: &[crate::actions::Action],
    ) -> anyhow::Result<()> {
        self.0.event(event, actions)?;
        self.1.event(event, actions)
    }

    fn tick(
        &mut self,
        tick: &crate::event::Tick,
        actions: &[crate::actions::Action],
    ) -> anyhow::Result<()> {
        self.0.tick(tick, actions)?;
        self.1.tick(tick, actions)
    }

    fn skipped(&mut self, line: &SkippedLine) {
        self.0.skipped(line);
        self.1.skipped(line);
    }
}

/// A progress bar on stderr when it is a terminal; nothing otherwise.
struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    fn new() -> Bar {
        Bar(std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "replaying {wide_bar} {percent:>3}% {elapsed_precise} eta {eta}",
            ) {
                bar.set_style(style);
            }
            bar
        }))
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn start(&self, total: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(total);
        }
    }

    fn position(&self, position: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(position);
        }
    }
}
