//! The FFmpeg work of one clip: concatenate and trim segments (or trim a replay OBS saved) into an
//! MP4, check it with ffprobe, and take a JPEG thumbnail.
//!
//! The cut reads the window's segments through FFmpeg's concat demuxer and keeps the window: it
//! starts at the window's start and stops after its length. The start is an *output* seek (`-ss` after
//! `-i`): the concat demuxer can only seek an input to the start of a segment, so an input seek would
//! lengthen a stream-copied clip by up to a whole segment (and the duration check would then refuse
//! it). By stream copy (the default) it costs almost nothing and its length is the window's, but its
//! video starts at the first keyframe inside the window (at most one keyframe interval after the
//! audio); re-encoded (`clips.reencode`: H.264 + AAC) it is exact. Both move the index to the front
//! (`+faststart`), so the file plays while it downloads. Everything is written to a work file first; the caller renames
//! it into the output directory only after ffprobe has accepted it.

use super::ffmpeg::{self, FfmpegError, Tools};
use super::segments::Segment;
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How far the probed length may be from the window's (shorter, or longer than its allowance).
pub const DURATION_SLACK_S: f64 = 1.0;

/// How much longer than its window a stream-copied cut of an OBS replay may be: OBS's keyframe
/// interval is not known here, and its automatic one is about 250 frames (8.3 s at 30 fps).
pub const OBS_KEYFRAME_ALLOWANCE_MS: i64 = 10_000;

/// How much longer than its window a stream-copied cut of the replay buffer may be: one keyframe
/// interval and one segment. A segment holds whole keyframe intervals (the segment muxer cuts at
/// keyframes), so the longest segment of the window bounds the keyframe interval.
pub fn copy_allowance_ms(segments: &[Segment], segment_s: u32) -> i64 {
    let longest = segments
        .iter()
        .map(|s| s.stream_end_ms - s.stream_start_ms)
        .max()
        .unwrap_or(0);
    longest.max(0) + i64::from(segment_s) * 1000
}

/// What ffprobe says about a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub duration_s: f64,
    pub has_video: bool,
}

/// One clip's cut: the segments, where the window starts in the first, and how long it is.
pub struct Cut<'a> {
    pub dir: &'a Path,
    pub segments: &'a [Segment],
    pub offset_ms: i64,
    pub length_ms: i64,
    pub reencode: bool,
}

/// Writes the clip to `out` (an MP4).
pub async fn cut(
    tools: &Tools,
    cut: &Cut<'_>,
    out: &Path,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), FfmpegError> {
    let list = out.with_extension("ffconcat");
    let mut text = String::from("ffconcat version 1.0\n");
    for segment in cut.segments {
        let path = cut.dir.join(&segment.file);
        text.push_str(&format!(
            "file '{}'\n",
            path.display().to_string().replace('\'', "'\\''")
        ));
    }
    std::fs::write(&list, text).map_err(|source| FfmpegError::Spawn {
        program: "ffmpeg",
        source,
    })?;
    let mut args: Vec<String> = ["-f", "concat", "-safe", "0"].map(String::from).to_vec();
    args.extend(["-i".into(), list.display().to_string()]);
    let result = run_cut(
        tools,
        args,
        cut.offset_ms,
        cut.length_ms,
        cut.reencode,
        out,
        timeout,
        cancel,
    )
    .await;
    let _ = std::fs::remove_file(&list);
    result
}

/// One clip's trim of a saved replay (OBS's replay buffer): `length_ms` from `start_ms` into the
/// file.
pub struct Trim<'a> {
    pub file: &'a Path,
    pub start_ms: i64,
    pub length_ms: i64,
    pub reencode: bool,
}

/// Writes the trimmed clip to `out` (an MP4), cut the same way as from the segments.
pub async fn trim(
    tools: &Tools,
    trim: &Trim<'_>,
    out: &Path,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), FfmpegError> {
    let args = vec!["-i".to_owned(), trim.file.display().to_string()];
    run_cut(
        tools,
        args,
        trim.start_ms,
        trim.length_ms,
        trim.reencode,
        out,
        timeout,
        cancel,
    )
    .await
}

/// The cut after the input arguments: an output seek to `offset_ms`, `length_ms` long, stream copy
/// or H.264 + AAC, `+faststart`.
#[allow(
    clippy::too_many_arguments,
    reason = "the one FFmpeg call both cuts share"
)]
async fn run_cut(
    tools: &Tools,
    input: Vec<String>,
    offset_ms: i64,
    length_ms: i64,
    reencode: bool,
    out: &Path,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), FfmpegError> {
    let seconds = |ms: i64| format!("{:.3}", ms as f64 / 1000.0);
    let mut args: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
        .map(String::from)
        .to_vec();
    args.extend(input);
    args.extend(["-ss".into(), seconds(offset_ms)]);
    args.extend(["-t".into(), seconds(length_ms)]);
    args.extend(["-map", "0:v:0", "-map", "0:a:0?"].map(String::from));
    if reencode {
        args.extend(
            [
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-b:a", "128k",
            ]
            .map(String::from),
        );
    } else {
        args.extend(["-c", "copy", "-avoid_negative_ts", "make_zero"].map(String::from));
    }
    args.extend(["-movflags", "+faststart", "-f", "mp4"].map(String::from));
    args.push(out.display().to_string());
    ffmpeg::run(
        "ffmpeg",
        ffmpeg::command(&tools.ffmpeg, &args),
        timeout,
        cancel,
    )
    .await
    .map(|_| ())
}

/// Probes `file` for its duration and whether it has a video stream.
pub async fn probe(
    tools: &Tools,
    file: &Path,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Probe, FfmpegError> {
    let args = [
        "-v".into(),
        "error".into(),
        "-show_entries".into(),
        "format=duration:stream=codec_type".into(),
        "-of".into(),
        "json".into(),
        file.display().to_string(),
    ];
    let out = ffmpeg::run(
        "ffprobe",
        ffmpeg::command(&tools.ffprobe, args),
        timeout,
        cancel,
    )
    .await?;
    parse_probe(&out).ok_or_else(|| FfmpegError::Failed {
        program: "ffprobe",
        status: "exit status: 0".into(),
        message: "its output had no duration".into(),
    })
}

/// Reads ffprobe's JSON (`-show_entries format=duration:stream=codec_type -of json`).
pub fn parse_probe(json: &[u8]) -> Option<Probe> {
    let value: serde_json::Value = serde_json::from_slice(json).ok()?;
    let duration_s = value
        .pointer("/format/duration")?
        .as_str()?
        .parse::<f64>()
        .ok()?;
    let has_video = value
        .get("streams")
        .and_then(|s| s.as_array())
        .is_some_and(|streams| {
            streams
                .iter()
                .any(|s| s.get("codec_type").and_then(|t| t.as_str()) == Some("video"))
        });
    Some(Probe {
        duration_s,
        has_video,
    })
}

/// Why a probed file is not the clip that was asked for; `None` when it is. A file shorter than
/// the window lost data; one longer by up to `longer_ok_ms` is a good clip (a stream copy starts
/// at a keyframe: see [`copy_allowance_ms`]; a re-encoded cut has none).
pub fn reject(probe: &Probe, length_ms: i64, longer_ok_ms: i64) -> Option<String> {
    let want = length_ms as f64 / 1000.0;
    let longest = want + longer_ok_ms.max(0) as f64 / 1000.0 + DURATION_SLACK_S;
    if !probe.has_video {
        return Some("the encoded file has no video stream".into());
    }
    if probe.duration_s < want - DURATION_SLACK_S {
        return Some(format!(
            "the encoded file is {:.1} s long, shorter than the {want:.1} s asked for (the capture may have lost data)",
            probe.duration_s
        ));
    }
    if probe.duration_s > longest {
        return Some(format!(
            "the encoded file is {:.1} s long, more than the {want:.1} s asked for plus {:.1} s (a keyframe interval and a segment); the cut went wrong",
            probe.duration_s,
            longest - want - DURATION_SLACK_S
        ));
    }
    None
}

/// Writes a JPEG of the frame a second into `clip` (or its first frame) to `out`.
pub async fn thumbnail(
    tools: &Tools,
    clip: &Path,
    length_ms: i64,
    out: &Path,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), FfmpegError> {
    let at = if length_ms > 2_000 { "1" } else { "0" };
    let args = [
        "-hide_banner".into(),
        "-nostdin".into(),
        "-loglevel".into(),
        "error".into(),
        "-y".into(),
        "-ss".into(),
        at.into(),
        "-i".into(),
        clip.display().to_string(),
        "-frames:v".into(),
        "1".into(),
        "-q:v".into(),
        "4".into(),
        "-f".into(),
        "image2".into(),
        out.display().to_string(),
    ];
    ffmpeg::run(
        "ffmpeg",
        ffmpeg::command(&tools.ffmpeg, args),
        timeout,
        cancel,
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffprobe_output_is_read_and_judged() {
        let out =
            br#"{"programs": [], "streams": [{"codec_type": "video"}, {"codec_type": "audio"}],
                       "format": {"duration": "10.480000"}}"#;
        let probe = parse_probe(out).unwrap();
        assert_eq!(
            probe,
            Probe {
                duration_s: 10.48,
                has_video: true
            }
        );
        assert_eq!(reject(&probe, 10_000, 0), None);
        assert!(
            reject(&probe, 12_000, 4_000)
                .unwrap()
                .contains("10.5 s long, shorter than the 12.0 s asked for")
        );
        let audio_only = Probe {
            duration_s: 10.0,
            has_video: false,
        };
        assert!(reject(&audio_only, 10_000, 0).unwrap().contains("no video"));
    }

    fn segment(stream_start_ms: i64, stream_end_ms: i64) -> Segment {
        Segment {
            file: "seg.ts".into(),
            start_ms: stream_start_ms,
            end_ms: stream_end_ms,
            stream_start_ms,
            stream_end_ms,
        }
    }

    #[test]
    fn a_stream_copy_may_run_one_keyframe_interval_and_one_segment_long() {
        // Keyframes every 2 s, segments of 2 s: the cut of an 11 s window starts at the keyframe
        // before it and may end after the segment it stops in.
        let segments: Vec<Segment> = (0..7).map(|i| segment(i * 2000, i * 2000 + 2000)).collect();
        let allowance = copy_allowance_ms(&segments, 2);
        assert_eq!(allowance, 4_000);
        let probe = |duration_s| Probe {
            duration_s,
            has_video: true,
        };
        // The length seen on real streams: 12.8 s for an 11 s window.
        assert_eq!(reject(&probe(12.8), 11_000, allowance), None);
        assert_eq!(reject(&probe(15.9), 11_000, allowance), None);
        assert!(
            reject(&probe(16.5), 11_000, allowance)
                .unwrap()
                .contains("16.5 s long, more than the 11.0 s asked for plus 4.0 s")
        );
        assert!(
            reject(&probe(9.5), 11_000, allowance)
                .unwrap()
                .contains("shorter")
        );
        // Re-encoded cuts are exact.
        assert!(reject(&probe(12.8), 11_000, 0).is_some());
        assert_eq!(parse_probe(b"{}"), None);
        assert_eq!(parse_probe(b"not json"), None);
    }
}
