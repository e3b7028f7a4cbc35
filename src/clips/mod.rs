//! Clips: a replay buffer per creator, clip jobs that survive crashes, and where clips are published.
//!
//! - [`capture`]: one FFmpeg per creator with `clips.capture`, recording the stream by stream copy
//!   into rolling MPEG-TS segments, supervised like a source.
//! - [`segments`]: the segment list (wall-clock times per segment) and whether it covers a window.
//! - [`job`]: one job from `queued` to `published` or `failed` (cut, probe, rename, thumbnail, publish).
//! - [`worker`]: picks jobs up (woken by the clip sink, polling the store every second) and resumes
//!   the ones a previous run left unfinished.
//! - [`encode`]: the FFmpeg and ffprobe work of one clip; [`ffmpeg`]: finding and running them.
//! - [`destination`]: `local`, `http` and `twitch`.
//! - [`manual`]: `ss clip`'s changes beside a running daemon, and `--now` without one.
//!
//! `ss run` starts it with [`Clips::start`]; `ss clip ... --now` runs one job through the same
//! [`job::JobContext`] without a capture.

pub mod capture;
pub mod destination;
pub mod encode;
pub mod ffmpeg;
pub mod job;
pub mod manual;
pub mod segments;
pub mod worker;

use crate::config::Config;
use crate::config::secrets::Secrets;
use crate::routing::Routing;
use crate::store::{Readers, StoreWriter};
use crate::telemetry::Telemetry;
use anyhow::Context;
use capture::{Capture, CaptureStatus, CaptureView};
use job::{JobContext, Recorder};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What [`Clips::start`] needs from the run.
pub struct ClipsParts<'a> {
    pub root: &'a Path,
    pub config: Arc<Config>,
    pub secrets: Secrets,
    /// The store's reader pool (the worker's queue, operators' changes).
    pub readers: Readers,
    /// Where a published clip's notifications go.
    pub routing: Routing,
    pub writer: StoreWriter,
    pub export_now: Arc<Notify>,
    /// Woken when the clip sink's job commits.
    pub wake: Arc<Notify>,
    pub telemetry: Telemetry,
    /// Only this creator's captures (`ss run --creator`).
    pub creator: Option<&'a str>,
    /// The run's OBS connections (clips cut from OBS's replay buffer).
    pub obs: crate::obs::Obs,
}

/// The running clip machinery of `ss run`: captures and the worker.
pub struct Clips {
    captures: Vec<CaptureStatus>,
    stop: CancellationToken,
    tasks: TaskTracker,
}

/// What a job context is made of besides the config.
pub struct JobParts {
    pub secrets: Secrets,
    pub readers: Readers,
    pub routing: Routing,
    pub recorder: Recorder,
    pub telemetry: Telemetry,
    pub captures: BTreeMap<String, CaptureStatus>,
    /// The run's OBS connections (none in `ss clip --now`).
    pub obs: crate::obs::Obs,
}

/// The job context shared by `ss run`'s worker and `ss clip --now`.
pub fn job_context(
    root: &Path,
    config: Arc<Config>,
    parts: JobParts,
) -> anyhow::Result<JobContext> {
    let JobParts {
        secrets,
        readers,
        routing,
        recorder,
        telemetry,
        captures,
        obs,
    } = parts;
    let tools = ffmpeg::Tools::locate(&config.system.clips.ffmpeg_path).map_err(|e| e.to_string());
    let http = crate::http_out::builder()
        .context("building the HTTP client for clip uploads")?
        .user_agent(concat!("streamsuites/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client for clip uploads")?;
    let concurrency = usize::try_from(config.system.clips.concurrency.max(1)).unwrap_or(1);
    Ok(JobContext {
        // Absolute, so FFmpeg's concat lists (resolved against their own directory) name the
        // segments right whatever the current directory.
        root: std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf()),
        config,
        secrets,
        tools,
        captures,
        recorder,
        telemetry,
        permits: Arc::new(Semaphore::new(concurrency)),
        http,
        readers,
        routing,
        obs,
    })
}

impl Clips {
    /// Starts a capture for every enabled creator with `clips.capture`, and the worker.
    /// No captures and no clip jobs: a role that runs no sources (`ss run --role evaluate|export`);
    /// clip requests are recorded, and carried out where the sources run.
    pub fn idle() -> Clips {
        let tasks = TaskTracker::new();
        tasks.close();
        Clips {
            captures: Vec::new(),
            stop: CancellationToken::new(),
            tasks,
        }
    }

    pub fn start(parts: ClipsParts<'_>) -> anyhow::Result<Clips> {
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        let tools = ffmpeg::Tools::locate(&parts.config.system.clips.ffmpeg_path)
            .map_err(|e| e.to_string());
        let mut captures = BTreeMap::new();
        for creator in &parts.config.creators.creators {
            let Some(settings) = creator.clips.as_ref().and_then(|c| c.capture.clone()) else {
                continue;
            };
            if !creator.enabled || parts.creator.is_some_and(|only| only != creator.id) {
                continue;
            }
            let status = CaptureStatus::new(&creator.id);
            captures.insert(creator.id.clone(), status.clone());
            let capture = Capture {
                creator: creator.id.clone(),
                settings,
                dir: std::path::absolute(capture::capture_dir(parts.root, &creator.id))
                    .unwrap_or_else(|_| capture::capture_dir(parts.root, &creator.id)),
                tools: tools.clone(),
                status,
                telemetry: parts.telemetry.clone(),
            };
            tasks.spawn(capture.run(stop.clone()));
        }
        let recorder = Recorder {
            writer: parts.writer,
            export_now: parts.export_now,
            progress: None,
        };
        let ctx = job_context(
            parts.root,
            parts.config,
            JobParts {
                secrets: parts.secrets,
                readers: parts.readers,
                routing: parts.routing,
                recorder,
                telemetry: parts.telemetry,
                captures: captures.clone(),
                obs: parts.obs,
            },
        )?;
        tasks.spawn(worker::run(Arc::new(ctx), parts.wake, stop.clone()));
        tasks.close();
        Ok(Clips {
            captures: captures.into_values().collect(),
            stop,
            tasks,
        })
    }

    /// A handle the exporter reads the captures' states through.
    pub fn views(&self) -> CaptureViews {
        CaptureViews(self.captures.clone())
    }

    /// Stops the captures and the jobs (FFmpeg killed and waited for; jobs left resumable).
    pub async fn stop(self) {
        self.stop.cancel();
        self.tasks.wait().await;
    }
}

/// The captures' live states, for runtime_snapshot.json.
#[derive(Debug, Clone, Default)]
pub struct CaptureViews(Vec<CaptureStatus>);

impl CaptureViews {
    pub fn snapshot(&self) -> Vec<CaptureView> {
        self.0.iter().map(CaptureStatus::snapshot).collect()
    }
}
