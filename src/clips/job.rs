//! One clip job, from `queued` to `published` or `failed`.
//!
//! For a file destination (`local`, `http`): wait until the replay buffer covers the window
//! [t − duration, t + `post_roll_s`] (t: the request's own time), cut it into a work file
//! (`runtime/state/clips/work/`), check it with ffprobe, rename it to `{output_dir}/{clip_id}.mp4`
//! (so no partial file is ever visible there), write the JPEG thumbnail beside it the same way, then
//! publish it. For `twitch`, Twitch makes the clip. Every state change goes to the store through the
//! [`Recorder`] with its time, and wakes the exporter; `published` goes with the notifications
//! routing makes of it (Discord, X), in the same write. Any problem ends the job `failed` with a
//! one-line reason (also in telemetry/errors.json); shutdown ends it where it is, to be resumed.
//!
//! A resumed job (found `encoding`, `encoded` or `uploading` at start) is encoded again from its
//! segments if they are still in the buffer, else fails saying so; one whose file is already in the
//! output directory goes straight to its upload, which carries the same idempotency key as before.

use super::capture::{CaptureState, CaptureStatus, capture_dir};
use super::destination::{self, DestinationKind, Published};
use super::encode::{self, Cut};
use super::ffmpeg::{FfmpegError, Tools};
use super::segments::{self, Coverage, SegmentIndex};
use crate::config::Config;
use crate::config::model::ClipSource;
use crate::config::secrets::Secrets;
use crate::routing::{PublishedClip, Routing};
use crate::store::{ClipRow, ClipState, ClipStateChange, Readers, StoreWriter, WriteOp};
use crate::telemetry::Telemetry;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

/// How often a job waiting for the buffer looks again.
const COVER_POLL: Duration = Duration::from_millis(250);
/// How long past the window's end a job waits for the buffer, beyond three segment lengths.
const COVER_SLACK: Duration = Duration::from_secs(10);

/// Called with every state change of a job (the progress bar of `ss clip --now`).
pub type Progress = Arc<dyn Fn(&ClipStateChange) + Send + Sync>;

/// Records state changes: through the store writer, then wakes the exporter (and reports progress).
#[derive(Clone)]
pub struct Recorder {
    pub writer: StoreWriter,
    pub export_now: Arc<Notify>,
    /// Called with every change (the progress bar of `ss clip --now`).
    pub progress: Option<Progress>,
}

impl Recorder {
    async fn record(&self, change: ClipStateChange) -> Result<(), String> {
        if let Some(progress) = &self.progress {
            progress(&change);
        }
        self.writer
            .send(WriteOp::ClipState(Box::new(change)))
            .await
            .map_err(|e| e.to_string())?;
        self.writer
            .send(WriteOp::Wake(self.export_now.clone()))
            .await
            .map_err(|e| e.to_string())
    }
}

/// Everything a job needs, shared by all jobs of a worker.
pub struct JobContext {
    pub root: PathBuf,
    pub config: Arc<Config>,
    pub secrets: Secrets,
    pub tools: Result<Tools, String>,
    /// The running captures by creator (none in `ss clip --now`).
    pub captures: BTreeMap<String, CaptureStatus>,
    pub recorder: Recorder,
    pub telemetry: Telemetry,
    /// At most `clips.concurrency` FFmpeg jobs at once.
    pub permits: Arc<Semaphore>,
    pub http: reqwest::Client,
    /// The store's reader pool: the worker's queue, and operator changes (`ss clip cancel`).
    pub readers: Readers,
    /// Where a published clip's notifications go.
    pub routing: Routing,
    /// The run's OBS connections (a creator with `clips.source: "obs"` saves its replays there).
    pub obs: crate::obs::Obs,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    Published(String),
    Failed(String),
    /// Stopped by shutdown (or the clip changed under it); left to be resumed.
    Left,
}

/// Why a step stopped.
enum Stop {
    Fail(String),
    Left,
}

impl From<FfmpegError> for Stop {
    fn from(e: FfmpegError) -> Stop {
        match e {
            FfmpegError::Cancelled => Stop::Left,
            e => Stop::Fail(e.to_string()),
        }
    }
}

impl JobContext {
    fn output_dir(&self) -> PathBuf {
        self.root.join(&self.config.system.clips.output_dir)
    }

    fn work_dir(&self) -> PathBuf {
        self.root.join("runtime/state/clips/work")
    }

    fn change(&self, clip: &ClipRow, state: ClipState) -> ClipStateChange {
        ClipStateChange {
            clip_id: clip.clip_id.clone(),
            state,
            at: Utc::now(),
            detail: None,
            url: None,
            thumbnail_url: None,
            outbox: Vec::new(),
        }
    }

    /// Runs the job of `clip` to its end.
    pub async fn process(&self, clip: ClipRow, cancel: &CancellationToken) -> JobEnd {
        let end = match self.steps(&clip, cancel).await {
            Ok(published) => JobEnd::Published(published.url),
            Err(Stop::Left) => JobEnd::Left,
            Err(Stop::Fail(reason)) => {
                let reason = one_line(&self.secrets.scrub(&reason));
                tracing::warn!(clip = %clip.clip_id, reason, "Clip job failed.");
                self.telemetry.error(
                    "clip_failed",
                    "clips",
                    format!("clip {}: {reason}", clip.clip_id),
                );
                let change = ClipStateChange {
                    detail: Some(reason.clone()),
                    ..self.change(&clip, ClipState::Failed)
                };
                if self.recorder.record(change).await.is_err() {
                    return JobEnd::Left;
                }
                JobEnd::Failed(reason)
            }
        };
        if let JobEnd::Published(url) = &end {
            self.telemetry.event(
                "clip_published",
                "clips",
                format!("clip {} published", clip.clip_id),
            );
            tracing::info!(clip = %clip.clip_id, url, "Clip published.");
        }
        end
    }

    async fn steps(&self, clip: &ClipRow, cancel: &CancellationToken) -> Result<Published, Stop> {
        let creator = self.config.creators.get(&clip.creator);
        let destination_name = creator
            .and_then(|c| c.clips.as_ref())
            .and_then(|c| c.destination.clone())
            .unwrap_or_else(|| self.config.system.clips.default_destination.clone());
        let kind = DestinationKind::from_name(&destination_name).ok_or_else(|| {
            Stop::Fail(format!(
                "unknown clip destination {destination_name:?} (use one of: {})",
                DestinationKind::NAMES.join(", ")
            ))
        })?;
        if !kind.needs_file() {
            self.record(self.change(clip, ClipState::Uploading)).await?;
            let published = self.twitch(clip, cancel).await?;
            self.publish(clip, &published).await?;
            return Ok(published);
        }
        let settings = &self.config.system.clips;
        let output_dir = self.output_dir();
        let file_name = format!("{}.mp4", clip.clip_id);
        let thumb_name = format!("{}.jpg", clip.clip_id);
        let output = output_dir.join(&file_name);
        let already_encoded =
            matches!(clip.state, ClipState::Encoded | ClipState::Uploading) && output.is_file();
        if !already_encoded {
            self.encode(clip, &output, &output_dir.join(&thumb_name), cancel)
                .await?;
        }
        let base = settings.public_url_base.as_deref();
        let local_thumb = output_dir
            .join(&thumb_name)
            .is_file()
            .then(|| destination::local::link(base, &settings.output_dir, &thumb_name));
        let published = match kind {
            DestinationKind::Http => {
                self.record(self.change(clip, ClipState::Uploading)).await?;
                let http = settings.http.as_ref().ok_or_else(|| {
                    Stop::Fail("clips destination http needs system.json clips.http {url}".into())
                })?;
                let auth = match &http.auth_header_env {
                    Some(name) => Some(self.secrets.get(name).ok_or_else(|| {
                        Stop::Fail(format!(
                            "clips.http.auth_header_env names {name}, which is not set"
                        ))
                    })?),
                    None => None,
                };
                let up = destination::http::Upload {
                    settings: http,
                    auth,
                    clip_id: &clip.clip_id,
                    title: clip.title.as_deref(),
                    file: &output,
                };
                let url = destination::http::upload(&self.http, &up, cancel)
                    .await
                    .map_err(|e| stopped_or_failed(cancel, e))?;
                Published {
                    url,
                    thumbnail_url: local_thumb,
                }
            }
            _ => {
                self.record(self.change(clip, ClipState::Uploading)).await?;
                Published {
                    url: destination::local::link(base, &settings.output_dir, &file_name),
                    thumbnail_url: local_thumb,
                }
            }
        };
        self.publish(clip, &published).await?;
        Ok(published)
    }

    /// Records `published` with the posts routing makes of it, unless an operator changed the clip
    /// meanwhile (`ss clip cancel`).
    async fn publish(&self, clip: &ClipRow, published: &Published) -> Result<(), Stop> {
        let clip_id = clip.clip_id.clone();
        let now = self
            .readers
            .read(move |store| store.clip(&clip_id))
            .await
            .and_then(|read| read)
            .map_err(|e| Stop::Fail(e.to_string()))?;
        if now.is_none_or(|c| c.state == ClipState::Failed || c.state == ClipState::Published) {
            return Err(Stop::Left);
        }
        let change = self.change(clip, ClipState::Published);
        let outbox = self.routing.clip_published(&PublishedClip {
            clip,
            url: &published.url,
            thumbnail_url: published.thumbnail_url.as_deref(),
            at: change.at,
        });
        self.record(ClipStateChange {
            url: Some(published.url.clone()),
            thumbnail_url: published.thumbnail_url.clone(),
            outbox,
            ..change
        })
        .await
    }

    async fn record(&self, change: ClipStateChange) -> Result<(), Stop> {
        self.recorder.record(change).await.map_err(|_| Stop::Left)
    }

    /// The window of `clip`: [t − duration, t + post_roll].
    fn window(&self, clip: &ClipRow) -> (i64, i64) {
        let at = clip.created_at.timestamp_millis();
        let start = at - i64::from(clip.duration_s) * 1000;
        let end = at + i64::from(self.config.system.clips.post_roll_s) * 1000;
        (start, end)
    }

    /// Cuts the clip into the output directory, with its thumbnail: from the capture's segments,
    /// or from the replay OBS saves (`clips.source: "obs"`).
    async fn encode(
        &self,
        clip: &ClipRow,
        output: &Path,
        thumbnail: &Path,
        cancel: &CancellationToken,
    ) -> Result<(), Stop> {
        let tools = self.tools.clone().map_err(Stop::Fail)?;
        let source = self
            .config
            .creators
            .get(&clip.creator)
            .and_then(|c| c.clips.as_ref())
            .map(|c| c.source)
            .unwrap_or_default();
        let (start, end) = self.window(clip);
        let settings = &self.config.system.clips;
        let timeout = Duration::from_secs(settings.job_timeout_s.max(1));
        let work = self.work_dir();
        let work_file = work.join(format!("{}.mp4", clip.clip_id));
        let longer_ok_ms = match source {
            ClipSource::Capture => {
                self.cut_from_capture(clip, &tools, &work_file, cancel)
                    .await?
            }
            ClipSource::Obs => self.cut_from_obs(clip, &tools, &work_file, cancel).await?,
        };
        let probe = encode::probe(&tools, &work_file, timeout, cancel).await?;
        if let Some(reason) = encode::reject(&probe, end - start, longer_ok_ms) {
            let _ = std::fs::remove_file(&work_file);
            return Err(Stop::Fail(reason));
        }
        let work_thumb = work.join(format!("{}.jpg", clip.clip_id));
        encode::thumbnail(
            &tools,
            &work_file,
            end - start,
            &work_thumb,
            timeout,
            cancel,
        )
        .await?;
        move_into(&work_thumb, thumbnail)
            .map_err(|e| Stop::Fail(format!("the thumbnail could not be moved into place: {e}")))?;
        move_into(&work_file, output)
            .map_err(|e| Stop::Fail(format!("the clip could not be moved into place: {e}")))?;
        self.record(self.change(clip, ClipState::Encoded)).await
    }

    /// Takes an encoding permit, records `encoding` and makes the work and output directories.
    async fn start_encoding(
        &self,
        clip: &ClipRow,
        work_file: &Path,
        cancel: &CancellationToken,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, Stop> {
        let permit = tokio::select! {
            () = cancel.cancelled() => return Err(Stop::Left),
            permit = self.permits.clone().acquire_owned() => permit.map_err(|_| Stop::Left)?,
        };
        self.record(self.change(clip, ClipState::Encoding)).await?;
        let output_dir = self.output_dir();
        std::fs::create_dir_all(work_file.parent().unwrap_or(&output_dir))
            .and_then(|()| std::fs::create_dir_all(&output_dir))
            .map_err(|e| Stop::Fail(format!("clip directories could not be created: {e}")))?;
        Ok(permit)
    }

    /// The window cut from the capture's segments into `work_file`; returns how much longer than
    /// the window the cut may be (a stream copy's keyframe interval and segment, 0 re-encoded).
    async fn cut_from_capture(
        &self,
        clip: &ClipRow,
        tools: &Tools,
        work_file: &Path,
        cancel: &CancellationToken,
    ) -> Result<i64, Stop> {
        let capture = self
            .config
            .creators
            .get(&clip.creator)
            .and_then(|c| c.clips.as_ref())
            .and_then(|c| c.capture.clone())
            .ok_or_else(|| {
                Stop::Fail(format!(
                    "creator {} has no clips.capture input in creators.json, so there is no replay buffer to cut from",
                    clip.creator
                ))
            })?;
        let (start, end) = self.window(clip);
        let dir = capture_dir(&self.root, &clip.creator);
        let (segments, offset_ms) = self
            .wait_for_cover(clip, &dir, capture.segment_s, start, end, cancel)
            .await?;
        let _permit = self.start_encoding(clip, work_file, cancel).await?;
        let settings = &self.config.system.clips;
        let cut = Cut {
            dir: &dir,
            segments: &segments,
            offset_ms,
            length_ms: end - start,
            reencode: settings.reencode,
        };
        let timeout = Duration::from_secs(settings.job_timeout_s.max(1));
        encode::cut(tools, &cut, work_file, timeout, cancel).await?;
        Ok(if settings.reencode {
            0
        } else {
            encode::copy_allowance_ms(&segments, capture.segment_s)
        })
    }

    /// The window cut from the replay OBS saves (how much longer than the window the cut may be is
    /// returned, as from the capture): once the window has ended, OBS saves its buffer
    /// (`SaveReplayBuffer`) and names the file (`ReplayBufferSaved`); the file ends when the save
    /// was asked for, so the window sits that far before its end.
    async fn cut_from_obs(
        &self,
        clip: &ClipRow,
        tools: &Tools,
        work_file: &Path,
        cancel: &CancellationToken,
    ) -> Result<i64, Stop> {
        let obs = self.obs.require(&clip.creator).map_err(|e| {
            if self.config.obs.of(&clip.creator).is_some() {
                Stop::Fail(format!(
                    "creator {} cuts clips from OBS, and no OBS connection runs in this process (`ss clip --now` has none); let `ss run` make the clip (drop --now)",
                    clip.creator
                ))
            } else {
                Stop::Fail(format!(
                    "creator {} cuts clips from OBS (clips.source \"obs\"): {e}",
                    clip.creator
                ))
            }
        })?;
        let (start, end) = self.window(clip);
        let wait = end - Utc::now().timestamp_millis();
        if wait > 0 {
            tokio::select! {
                () = cancel.cancelled() => return Err(Stop::Left),
                () = tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())) => {}
            }
        }
        let asked_at = Utc::now().timestamp_millis();
        let saved = tokio::select! {
            () = cancel.cancelled() => return Err(Stop::Left),
            saved = obs.save_replay(format!("clip:{}", clip.clip_id)) => saved,
        }
        .map_err(|e| Stop::Fail(e.to_string()))?;
        if !saved.is_file() {
            return Err(Stop::Fail(format!(
                "OBS saved its replay to {}, which this runtime cannot read; run ss on the machine OBS records on (or share the folder under the same path)",
                saved.display()
            )));
        }
        let _permit = self.start_encoding(clip, work_file, cancel).await?;
        let settings = &self.config.system.clips;
        let timeout = Duration::from_secs(settings.job_timeout_s.max(1));
        let replay = encode::probe(tools, &saved, timeout, cancel).await?;
        let replay_ms = (replay.duration_s * 1000.0).round() as i64;
        let from_end = asked_at - start;
        if from_end > replay_ms + 1000 {
            return Err(Stop::Fail(format!(
                "the window starting {} is older than OBS's replay buffer, which holds {:.0} s; raise OBS's Settings → Output → Replay Buffer → Maximum Replay Time",
                clock(start),
                replay.duration_s
            )));
        }
        let trim = encode::Trim {
            file: &saved,
            start_ms: (replay_ms - from_end).max(0),
            length_ms: end - start,
            reencode: settings.reencode,
        };
        encode::trim(tools, &trim, work_file, timeout, cancel).await?;
        Ok(if settings.reencode {
            0
        } else {
            encode::OBS_KEYFRAME_ALLOWANCE_MS
        })
    }

    /// Waits until the buffer covers `[start, end]`; fails when it never will.
    async fn wait_for_cover(
        &self,
        clip: &ClipRow,
        dir: &Path,
        segment_s: u32,
        start: i64,
        end: i64,
        cancel: &CancellationToken,
    ) -> Result<(Vec<segments::Segment>, i64), Stop> {
        let index = SegmentIndex::new(dir);
        let give_up = end
            + i64::try_from(
                (Duration::from_secs(u64::from(segment_s.max(1)) * 3) + COVER_SLACK).as_millis(),
            )
            .unwrap_or(i64::MAX);
        let capture = self.captures.get(&clip.creator);
        loop {
            let listed = index
                .load()
                .map_err(|e| Stop::Fail(format!("the segment list could not be read: {e}")))?;
            match segments::cover(&listed, start, end) {
                Coverage::Ready {
                    segments,
                    offset_ms,
                } => return Ok((segments, offset_ms)),
                Coverage::Gone { oldest_ms } => {
                    return Err(Stop::Fail(format!(
                        "the window starting {} is older than the replay buffer (it starts {})",
                        clock(start),
                        clock(oldest_ms)
                    )));
                }
                Coverage::Gap { from_ms, to_ms } => {
                    return Err(Stop::Fail(format!(
                        "the capture was down inside the window, from {} to {}",
                        clock(from_ms),
                        clock(to_ms)
                    )));
                }
                Coverage::Pending { covered_until_ms } => {
                    let view = capture.map(CaptureStatus::snapshot);
                    let down = match &view {
                        None => Some("no capture is running (start `ss run`)".to_string()),
                        Some(v) if v.state == CaptureState::Failed => Some(format!(
                            "the capture is down: {}",
                            v.last_error.as_deref().unwrap_or("failed")
                        )),
                        Some(_) => None,
                    };
                    let now = Utc::now().timestamp_millis();
                    if let Some(down) = down.filter(|_| now >= end || view.is_none()) {
                        return Err(Stop::Fail(format!(
                            "the replay buffer does not reach {}: {down}",
                            clock(end)
                        )));
                    }
                    if now > give_up {
                        let reason = view
                            .and_then(|v| v.last_error)
                            .map_or_else(String::new, |e| format!(" (capture: {e})"));
                        return Err(Stop::Fail(format!(
                            "the replay buffer did not reach {} in time; it ends {}{reason}",
                            clock(end),
                            covered_until_ms.map_or_else(|| "nowhere yet".into(), clock)
                        )));
                    }
                }
            }
            tokio::select! {
                () = cancel.cancelled() => return Err(Stop::Left),
                () = tokio::time::sleep(COVER_POLL) => {}
            }
        }
    }

    /// Asks Twitch for a platform clip of the creator's channel.
    async fn twitch(&self, clip: &ClipRow, cancel: &CancellationToken) -> Result<Published, Stop> {
        let settings = self
            .config
            .creators
            .get(&clip.creator)
            .and_then(|c| {
                c.platforms
                    .settings::<crate::sources::twitch::TwitchSettings>(
                        crate::sources::twitch::TWITCH,
                    )
            })
            .ok_or_else(|| {
                Stop::Fail(format!(
                    "clips destination twitch needs creator {}'s twitch block",
                    clip.creator
                ))
            })?;
        let secret = |field: &str, name: Option<&String>| {
            let name = name.ok_or_else(|| {
                Stop::Fail(format!(
                    "clips destination twitch needs twitch.{field} for creator {}",
                    clip.creator
                ))
            })?;
            self.secrets
                .get(name)
                .ok_or_else(|| Stop::Fail(format!("twitch.{field} names {name}, which is not set")))
        };
        let auth = destination::twitch::HelixAuth {
            token: secret("token_env", settings.token_env.as_ref())?,
            client_id: secret("client_id_env", settings.client_id_env.as_ref())?,
        };
        let endpoints = destination::twitch::HelixEndpoints::from_platform(
            self.config
                .platforms
                .settings(crate::sources::twitch::TWITCH),
        );
        let helix = destination::twitch::Helix {
            client: &self.http,
            endpoints: &endpoints,
            auth: &auth,
        };
        helix
            .create_clip(&settings.channel, cancel)
            .await
            .map_err(|e| stopped_or_failed(cancel, e))
    }
}

/// A destination's error: the job stays resumable when shutdown caused it, else it fails.
fn stopped_or_failed(cancel: &CancellationToken, reason: String) -> Stop {
    if cancel.is_cancelled() {
        Stop::Left
    } else {
        Stop::Fail(reason)
    }
}

/// Moves a finished work file to its place: a rename, or a copy to a hidden name beside the target
/// and a rename when they are on different file systems. Either way the target appears complete.
fn move_into(from: &Path, to: &Path) -> std::io::Result<()> {
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    let hidden = to.with_file_name(format!(
        ".{}.partial",
        to.file_name().unwrap_or_default().to_string_lossy()
    ));
    std::fs::copy(from, &hidden)?;
    std::fs::rename(&hidden, to)?;
    std::fs::remove_file(from)
}

/// A millisecond time as `HH:MM:SS` UTC, for messages.
fn clock(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map_or_else(|| ms.to_string(), |t| t.format("%H:%M:%S UTC").to_string())
}

/// The first line of `text`, bounded: reasons are one line in clips.json and errors.json.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("failed")
        .chars()
        .take(300)
        .collect()
}
