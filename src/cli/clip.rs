//! `ss clip`: create, list, show, retry and cancel clip jobs by hand.
//!
//! Works beside a running `ss run` on the same store (each change is one short SQLite transaction;
//! the daemon picks new jobs up within a second); without one, `create --now` and `retry --now` run
//! the job here, with a progress bar when stderr is a terminal. The work is in `clips::manual`.
//! Chat-supplied text (a requester's name, a title, an error quoting chat) is printed through
//! `sanitize::terminal`, so it cannot drive the terminal.

use super::{Format, Outcome, UsageError};
use crate::clips::job::JobEnd;
use crate::clips::manual;
use crate::config::Config;
use crate::config::secrets::Secrets;
use crate::sanitize::terminal;
use crate::store::{ClipState, ClipStateChange, Store, StoreReader, db_path};
use anyhow::Context;
use chrono::{DateTime, Utc};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    ss clip create --creator demo                      the last 30 s of demo's stream\n  \
    ss clip create --creator demo --duration 15 --title \"That play\"\n  \
    ss clip create --creator demo --at 2026-11-22T20:15:00Z --now\n  \
    ss clip list --state failed\n  \
    ss clip show AbC123                                its state history\n  \
    ss clip retry AbC123\n\n\
    Clips are cut from the creator's replay buffer (creators.json clips.capture), which `ss run`\n\
    records. Beside a running `ss run`, new and retried jobs start within a second. Without one,\n\
    --now runs the job here from the segments the last run left in the buffer (or, for the twitch\n\
    destination, asks Twitch).")]
pub struct Args {
    #[command(subcommand)]
    pub command: ClipCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ClipCommand {
    /// Queue a clip of a creator's stream: the DURATION seconds before --at, plus system.json's post_roll_s.
    Create(CreateArgs),
    /// List clips, newest first.
    List(ListArgs),
    /// Show one clip and its state history.
    Show {
        /// The clip id (6 characters).
        id: String,
    },
    /// Queue a failed clip again.
    Retry {
        id: String,
        /// Run the job here and now (no `ss run` may be running).
        #[arg(long)]
        now: bool,
    },
    /// Stop a clip's job: it becomes failed ("cancelled by the operator").
    Cancel { id: String },
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The creator (an id from creators.json).
    #[arg(long, value_name = "ID")]
    pub creator: String,
    /// Seconds before the moment.
    #[arg(long, value_name = "S", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub duration: u32,
    /// The moment, RFC 3339 (e.g. 2026-11-22T20:15:00Z); default now.
    #[arg(long, value_name = "TIME", value_parser = super::values::time)]
    pub at: Option<DateTime<Utc>>,
    /// A title for the clip.
    #[arg(long, value_name = "T")]
    pub title: Option<String>,
    /// Run the job here and now (no `ss run` may be running).
    #[arg(long)]
    pub now: bool,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only clips in this state (queued, encoding, encoded, uploading, published, failed).
    #[arg(long, value_name = "S", value_parser = parse_state)]
    pub state: Option<ClipState>,
    /// Only this creator's clips.
    #[arg(long, value_name = "ID")]
    pub creator: Option<String>,
    /// Output format; json is the `clips` array of exports/clips.json.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// A `--state` that names no clip state.
#[derive(Debug, thiserror::Error)]
#[error("unknown state {given:?}; use one of: {}", ClipState::ALL.map(ClipState::as_str).join(", "))]
struct UnknownState {
    given: String,
}

fn parse_state(s: &str) -> Result<ClipState, UnknownState> {
    ClipState::from_name(s).ok_or_else(|| UnknownState {
        given: s.to_string(),
    })
}

pub fn run(root: &Path, args: Args) -> anyhow::Result<Outcome> {
    let db = db_path(root);
    match args.command {
        ClipCommand::Create(create) => {
            let config = Config::load(root)?;
            let creator = config
                .creators
                .require(&create.creator)
                .map_err(|e| UsageError(e.to_string()))?;
            let at = create.at.unwrap_or_else(Utc::now);
            if let Some(reason) = manual::refuse_moment(root, &config, creator, create.duration, at)
            {
                return Err(UsageError(format!("{reason}\n  (nothing was recorded)")).into());
            }
            let clip = manual::new_clip(creator, create.duration, create.title, at);
            if create.now {
                return run_now(root, config, manual::NowJob::Create(clip));
            }
            let id = Store::open_for_change(&db)?
                .insert_clip_now(&clip)
                .with_context(|| format!("recording the clip in {}", db.display()))?;
            queued_line(&id, &clip)?;
            hint_without_daemon(&db)?;
            Ok(Outcome::Success)
        }
        ClipCommand::List(list) => {
            if !db.exists() {
                // No store yet: no clips (a reader never creates one).
                if list.format == Format::Json {
                    writeln!(std::io::stdout(), "{}", serde_json::json!({"clips": []}))?;
                }
                return Ok(Outcome::Success);
            }
            let store = StoreReader::open(&db)?;
            let entries = crate::export::clip_entries(
                &store,
                list.state,
                list.creator.as_deref(),
                usize::MAX,
            )?;
            let mut out = std::io::stdout().lock();
            match list.format {
                Format::Json => writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({"clips": entries}))?
                )?,
                Format::Text => {
                    for c in store
                        .clips(list.state)?
                        .iter()
                        .filter(|c| list.creator.as_deref().is_none_or(|id| c.creator == id))
                    {
                        let what = match c.state {
                            ClipState::Published => c.url.clone().unwrap_or_default(),
                            ClipState::Failed => c.error.clone().unwrap_or_default(),
                            _ => String::new(),
                        };
                        writeln!(
                            out,
                            "{}  {:<9}  {:<12}  {:>4} s  {}  {}",
                            c.clip_id,
                            c.state.as_str(),
                            c.creator,
                            c.duration_s,
                            crate::export::timestamp(c.created_at),
                            terminal(&what),
                        )?;
                    }
                }
            }
            Ok(Outcome::Success)
        }
        ClipCommand::Show { id } => {
            let store = StoreReader::open(&db)?;
            let clip = store.clip(&id)?.ok_or_else(|| {
                UsageError(format!(
                    "no clip {id}\n  hint: `ss clip list` shows the clip ids"
                ))
            })?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "clip {}: {}", clip.clip_id, clip.state)?;
            writeln!(
                out,
                "  creator   {} ({})",
                clip.creator,
                clip.platform.as_str()
            )?;
            writeln!(
                out,
                "  requested {} by {}",
                crate::export::timestamp(clip.created_at),
                terminal(&clip.requested_by)
            )?;
            writeln!(out, "  duration  {} s", clip.duration_s)?;
            if let Some(title) = &clip.title {
                writeln!(out, "  title     {}", terminal(title))?;
            }
            if let Some(url) = &clip.url {
                writeln!(out, "  url       {}", terminal(url))?;
            }
            if let Some(error) = clip
                .error
                .as_ref()
                .filter(|_| clip.state == ClipState::Failed)
            {
                writeln!(out, "  error     {}", terminal(error))?;
            }
            writeln!(out, "history:")?;
            for h in store.clip_history(&id)? {
                writeln!(
                    out,
                    "  {}  {:<9}  {}",
                    crate::export::timestamp(h.at),
                    h.state.as_str(),
                    terminal(&h.detail.unwrap_or_default())
                )?;
            }
            Ok(Outcome::Success)
        }
        ClipCommand::Retry { id, now } => {
            if now {
                return run_now(root, Config::load(root)?, manual::NowJob::Retry(id));
            }
            // Closed before anything looks for a daemon: as the writer it holds the lock itself.
            manual::retry(&mut Store::open_for_change(&db)?, &id)
                .map_err(|e| UsageError(format!("{e:#}")))?;
            writeln!(std::io::stdout(), "queued clip {id} again")?;
            hint_without_daemon(&db)?;
            Ok(Outcome::Success)
        }
        ClipCommand::Cancel { id } => {
            manual::cancel(&mut Store::open_for_change(&db)?, &id)
                .map_err(|e| UsageError(format!("{e:#}")))?;
            writeln!(std::io::stdout(), "cancelled clip {id}")?;
            Ok(Outcome::Success)
        }
    }
}

/// The line that says a new clip is recorded.
fn queued_line(id: &str, clip: &crate::store::NewClip) -> std::io::Result<()> {
    writeln!(
        std::io::stdout(),
        "queued clip {id} ({} s of {})",
        clip.duration_s,
        clip.creator
    )
}

/// Says so when no daemon will pick the job up.
fn hint_without_daemon(db: &Path) -> anyhow::Result<()> {
    if !manual::daemon_running(db)? {
        writeln!(
            std::io::stderr(),
            "note: no `ss run` is running; the job starts with the next one (or pass --now)"
        )?;
    }
    Ok(())
}

/// Records and runs the job here with a progress bar on a terminal; exit 2 when it fails.
fn run_now(root: &Path, config: Config, job: manual::NowJob) -> anyhow::Result<Outcome> {
    let (id, end) = run_job_here(root, config, job)?;
    match end {
        JobEnd::Published(url) => {
            writeln!(std::io::stdout(), "published clip {id}: {url}")?;
            Ok(Outcome::Success)
        }
        JobEnd::Failed(reason) => Err(anyhow::anyhow!(
            "clip {id} failed: {reason}\n  hint: fix the cause, then `ss clip retry {id}`"
        )),
        JobEnd::Left => Err(anyhow::anyhow!(
            "clip {id} was stopped before it finished; it resumes with the next `ss run` (or `ss clip retry`)"
        )),
    }
}

/// [`run_now`]'s work: the clip id and how its job ended.
fn run_job_here(
    root: &Path,
    config: Config,
    job: manual::NowJob,
) -> anyhow::Result<(String, JobEnd)> {
    super::trust_tls(root, &config)?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} clip {prefix}: {msg} ({elapsed})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_message("waiting for the buffer");
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        Some(bar)
    } else {
        None
    };
    let progress: crate::clips::job::Progress = {
        let bar = bar.clone();
        Arc::new(move |change: &ClipStateChange| {
            if let Some(bar) = &bar {
                bar.set_message(change.state.as_str());
            }
        })
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let config = Arc::new(config);
    let queued = {
        let bar = bar.clone();
        let new_clip = match &job {
            manual::NowJob::Create(clip) => Some(clip.clone()),
            manual::NowJob::Retry(_) => None,
        };
        move |id: &str| {
            if let Some(bar) = &bar {
                bar.set_prefix(id.to_string());
            }
            // The job runs either way; a closed stdout only loses this line.
            let _ = match &new_clip {
                Some(clip) => queued_line(id, clip),
                None => writeln!(std::io::stdout(), "queued clip {id} again"),
            };
        }
    };
    let (id, end) = runtime.block_on(manual::run_now(
        root,
        config.clone(),
        Secrets::load(root),
        job,
        queued,
        progress,
    ))?;
    // The job's changes are committed: clips.json shows them before the command returns.
    write_clips_json(root, &config, &db_path(root))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok((id, end))
}

/// Writes exports/clips.json from the store at `db`.
fn write_clips_json(root: &Path, config: &Config, db: &Path) -> anyhow::Result<()> {
    let store = StoreReader::open(db)?;
    let mut files = crate::export::build_all(
        root,
        config,
        Some(&store),
        &crate::export::runtime_view::RuntimeView::idle(),
        chrono::Utc::now(),
    )?;
    files.retain(|f| f.name == "exports/clips.json");
    crate::export::writer::write_all(&root.join("runtime"), &files)
        .context("writing exports/clips.json")?;
    Ok(())
}
