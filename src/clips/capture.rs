//! The replay buffer of one creator: one FFmpeg process recording the stream by stream copy into
//! rolling MPEG-TS segments, supervised like a source.
//!
//! FFmpeg's segment muxer writes `seg-{run}-NNNNNN.ts` under `runtime/state/capture/<creator>/` and
//! appends each finished segment to its own list (`list-{run}.csv`, in stream time). The supervisor
//! reads that list a few times a second and records each new segment in the [`SegmentIndex`] with
//! its wall-clock start and end, ending at the moment the segment was seen finished; it prunes
//! segments older than `buffer_s`. When FFmpeg exits, or writes no segment for a while (a stalled
//! input), it is stopped and started again with capped, jittered backoff; its state, restarts and
//! last error are in [`CaptureStatus`] and runtime_snapshot.json (`captures`). A missing FFmpeg is
//! reported once and the capture stays `failed`. On shutdown FFmpeg is killed and waited for; the
//! segments stay, so clip jobs resumed by the next start still find them.

use super::ffmpeg::{self, Tools};
use super::segments::{Segment, SegmentIndex};
use crate::backoff::Backoff;
use crate::config::model::CaptureSettings;
use crate::telemetry::Telemetry;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

/// How often FFmpeg's segment list is read.
const POLL: Duration = Duration::from_millis(200);
/// Restart backoff: first wait and cap.
const BACKOFF_BASE: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// A run that recorded this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(30);
/// How long a capture may go without a finished segment, beyond three segment lengths, before it
/// counts as stalled and is restarted.
const STALL_SLACK: Duration = Duration::from_secs(10);

/// The capture directory of `creator` below a runtime root.
pub fn capture_dir(root: &Path, creator: &str) -> PathBuf {
    root.join("runtime/state/capture").join(creator)
}

/// What a capture is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureState {
    Starting,
    Recording,
    Backoff,
    Failed,
    Stopped,
}

/// A capture's state as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaptureView {
    pub creator: String,
    pub state: CaptureState,
    pub since: DateTime<Utc>,
    pub restarts: u64,
    pub segments: u64,
    /// End of the newest segment.
    pub recorded_until: Option<DateTime<Utc>>,
    /// Start of the oldest segment kept.
    pub buffer_from: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// A shared, live [`CaptureView`].
#[derive(Debug, Clone)]
pub struct CaptureStatus(Arc<Mutex<CaptureView>>);

impl CaptureStatus {
    pub fn new(creator: &str) -> CaptureStatus {
        CaptureStatus(Arc::new(Mutex::new(CaptureView {
            creator: creator.to_string(),
            state: CaptureState::Starting,
            since: Utc::now(),
            restarts: 0,
            segments: 0,
            recorded_until: None,
            buffer_from: None,
            last_error: None,
        })))
    }

    pub fn snapshot(&self) -> CaptureView {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CaptureView> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set_state(&self, state: CaptureState) {
        let mut view = self.lock();
        if view.state != state {
            view.state = state;
            view.since = Utc::now();
        }
    }

    fn update(&self, f: impl FnOnce(&mut CaptureView)) {
        f(&mut self.lock());
    }
}

/// One creator's capture, ready to run.
pub struct Capture {
    pub creator: String,
    pub settings: CaptureSettings,
    pub dir: PathBuf,
    pub tools: Result<Tools, String>,
    pub status: CaptureStatus,
    pub telemetry: Telemetry,
}

impl Capture {
    /// Records until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) {
        let tools = match &self.tools {
            Ok(tools) => tools.clone(),
            Err(e) => {
                tracing::error!(creator = %self.creator, error = %e, "Clip capture cannot start.");
                self.telemetry.error("capture_failed", "clips", e.clone());
                self.status.update(|v| v.last_error = Some(e.clone()));
                self.status.set_state(CaptureState::Failed);
                return;
            }
        };
        if let Err(e) = std::fs::create_dir_all(&self.dir) {
            let message = format!("capture directory {}: {e}", self.dir.display());
            self.telemetry
                .error("capture_failed", "clips", message.clone());
            self.status.update(|v| v.last_error = Some(message));
            self.status.set_state(CaptureState::Failed);
            return;
        }
        let index = SegmentIndex::new(&self.dir);
        let mut backoff = Backoff::new(BACKOFF_BASE, BACKOFF_CAP);
        loop {
            self.status.set_state(CaptureState::Starting);
            let started = Instant::now();
            let ended = self.record_once(&tools, &index, &cancel).await;
            if cancel.is_cancelled() {
                self.status.set_state(CaptureState::Stopped);
                return;
            }
            // FFmpeg names the input in its errors, credentials and all: redacted before anyone
            // sees the message (log, telemetry, snapshot).
            let message = crate::sanitize::redact(&ended.unwrap_or_else(|| "FFmpeg ended".into()));
            tracing::warn!(creator = %self.creator, error = %message, "Clip capture stopped; restarting.");
            self.telemetry.error(
                "capture_restarted",
                "clips",
                format!("{}: {message}", self.creator),
            );
            self.status.update(|v| {
                v.last_error = Some(message);
                v.restarts += 1;
            });
            if started.elapsed() >= STABLE_AFTER {
                backoff = Backoff::new(BACKOFF_BASE, BACKOFF_CAP);
            }
            self.status.set_state(CaptureState::Backoff);
            tokio::select! {
                () = cancel.cancelled() => {
                    self.status.set_state(CaptureState::Stopped);
                    return;
                }
                () = tokio::time::sleep(backoff.next_delay()) => {}
            }
        }
    }

    /// One FFmpeg run: returns why it ended (`None` when cancelled).
    async fn record_once(
        &self,
        tools: &Tools,
        index: &SegmentIndex,
        cancel: &CancellationToken,
    ) -> Option<String> {
        let run = Utc::now().timestamp_millis();
        let list = self.dir.join(format!("list-{run}.csv"));
        let pattern = self.dir.join(format!("seg-{run}-%06d.ts"));
        let mut args: Vec<String> = vec!["-hide_banner".into(), "-nostdin".into()];
        args.extend(["-loglevel".into(), "error".into()]);
        if !self.settings.input.contains("://") {
            // A file stands in for a live stream: read it in real time, looped.
            args.extend(["-re".into(), "-stream_loop".into(), "-1".into()]);
        }
        args.extend(["-i".into(), self.settings.input.clone()]);
        args.extend([
            "-map".into(),
            "0:v:0".into(),
            "-map".into(),
            "0:a:0?".into(),
        ]);
        args.extend(["-c".into(), "copy".into(), "-f".into(), "segment".into()]);
        args.extend([
            "-segment_time".into(),
            self.settings.segment_s.max(1).to_string(),
            "-segment_format".into(),
            "mpegts".into(),
            "-segment_list".into(),
            list.display().to_string(),
            "-segment_list_type".into(),
            "csv".into(),
            "-segment_list_flags".into(),
            "+live".into(),
            pattern.display().to_string(),
        ]);
        let mut child = match ffmpeg::command(&tools.ffmpeg, &args).spawn() {
            Ok(child) => child,
            Err(e) => return Some(format!("FFmpeg could not be started: {e}")),
        };
        let stderr = tokio::spawn(tail(child.stderr.take()));
        let stall =
            Duration::from_secs(u64::from(self.settings.segment_s.max(1)) * 3) + STALL_SLACK;
        let mut seen = 0usize;
        let mut last_segment = Instant::now();
        let mut tick = tokio::time::interval(POLL);
        let ended = loop {
            tokio::select! {
                () = cancel.cancelled() => break None,
                _ = tick.tick() => {}
            }
            for segment in new_segments(&list, &mut seen) {
                if let Err(e) = index.append(&segment) {
                    tracing::warn!(error = %e, "The segment list could not be written.");
                }
                last_segment = Instant::now();
                self.status.update(|v| v.segments += 1);
                self.status.set_state(CaptureState::Recording);
            }
            self.prune_and_report(index);
            match child.try_wait() {
                Ok(Some(status)) => {
                    let err = stderr_text(stderr).await;
                    break Some(format!("FFmpeg exited ({status}): {err}"));
                }
                Ok(None) => {}
                Err(e) => break Some(format!("FFmpeg could not be watched: {e}")),
            }
            if last_segment.elapsed() > stall {
                break Some(format!(
                    "no segment from the input for {} s (is the stream live and the input URL right?)",
                    stall.as_secs()
                ));
            }
        };
        ffmpeg::stop(&mut child).await;
        let _ = std::fs::remove_file(&list);
        ended
    }

    fn prune_and_report(&self, index: &SegmentIndex) {
        let keep_from = Utc::now().timestamp_millis() - i64::from(self.settings.buffer_s) * 1000;
        if let Err(e) = index.prune(keep_from) {
            tracing::warn!(error = %e, "Old segments could not be pruned.");
        }
        let segments = index.load().unwrap_or_default();
        self.status.update(|v| {
            v.buffer_from = segments
                .first()
                .and_then(|s| DateTime::from_timestamp_millis(s.start_ms));
            v.recorded_until = segments
                .iter()
                .map(|s| s.end_ms)
                .max()
                .and_then(DateTime::from_timestamp_millis);
        });
    }
}

/// Segments FFmpeg finished since the last call, with wall-clock times: the ones seen in one look
/// end now (FFmpeg lists a segment as it closes it) and follow each other, each as long as its stream
/// time. Their stream times go along, so content that arrived late is not taken for a hole.
fn new_segments(list: &Path, seen: &mut usize) -> Vec<Segment> {
    let Ok(text) = std::fs::read_to_string(list) else {
        return Vec::new();
    };
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let usable = if complete {
        lines.len()
    } else {
        lines.len().saturating_sub(1)
    };
    let mut fresh: Vec<(String, i64, i64)> = Vec::new();
    for line in lines.iter().take(usable).skip(*seen) {
        *seen += 1;
        let mut parts = line.split(',');
        let (Some(file), Some(start), Some(end)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (Ok(start), Ok(end)) = (start.parse::<f64>(), end.parse::<f64>()) else {
            continue;
        };
        #[allow(clippy::cast_possible_truncation)]
        let (start_ms, end_ms) = (
            (start * 1000.0).round() as i64,
            (end * 1000.0).round() as i64,
        );
        let name = Path::new(file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if end_ms > start_ms && !name.is_empty() {
            fresh.push((name, start_ms, end_ms));
        }
    }
    let total: i64 = fresh.iter().map(|(_, s, e)| e - s).sum();
    let mut wall = Utc::now().timestamp_millis() - total;
    fresh
        .into_iter()
        .map(|(file, stream_start_ms, stream_end_ms)| {
            let start_ms = wall;
            wall += stream_end_ms - stream_start_ms;
            Segment {
                file,
                start_ms,
                end_ms: wall,
                stream_start_ms,
                stream_end_ms,
            }
        })
        .collect()
}

/// The last part of a child's stderr.
async fn tail(pipe: Option<tokio::process::ChildStderr>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf).await {
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buf[..n]);
            if bytes.len() > 32 * 1024 {
                bytes.drain(..bytes.len() - 16 * 1024);
            }
        }
    }
    bytes
}

async fn stderr_text(task: tokio::task::JoinHandle<Vec<u8>>) -> String {
    match tokio::time::timeout(Duration::from_secs(1), task).await {
        Ok(Ok(bytes)) => ffmpeg::last_line(&bytes),
        _ => "no message".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_segments_end_now_follow_each_other_and_keep_their_stream_times() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("list.csv");
        let mut seen = 0;
        std::fs::write(
            &list,
            "seg-1.ts,0.000,2.000\nseg-2.ts,2.000,4.000\nseg-3.ts,4.0",
        )
        .unwrap();
        let before = Utc::now().timestamp_millis();
        let first = new_segments(&list, &mut seen);
        assert_eq!(first.len(), 2, "the torn last line waits");
        assert_eq!(first[0].end_ms, first[1].start_ms);
        assert_eq!(first[1].end_ms - first[0].start_ms, 4_000);
        assert!(first[1].end_ms >= before);
        assert_eq!(
            (first[1].stream_start_ms, first[1].stream_end_ms),
            (2_000, 4_000)
        );
        std::fs::write(&list, "seg-1.ts,0,2\nseg-2.ts,2,4\nseg-3.ts,4.000,6.000\n").unwrap();
        let next = new_segments(&list, &mut seen);
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].stream_start_ms, 4_000);
    }
}
