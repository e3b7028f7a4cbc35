//! The segment list of a replay buffer: which MPEG-TS segment holds which stretch of wall-clock time.
//!
//! The capture appends one line per finished segment to `segments.csv` in the creator's capture
//! directory (`file,start_ms,end_ms,stream_start_ms,stream_end_ms`: wall-clock Unix milliseconds,
//! then FFmpeg's stream time), and prunes segments older than the buffer. Segments whose stream
//! times follow each other hold continuous content even when they arrived late (a gap on the wall
//! clock only); a jump in stream time, or a wall-clock gap between different capture runs, is a hole.
//! The list survives restarts, so a clip job resumed after a crash finds the segments its window
//! needs, or learns that they are gone. [`cover`] is the pure question a clip job asks: do the
//! segments cover this window yet, will they, or never?

use std::io::Write;
use std::path::{Path, PathBuf};

/// The list's file name in a capture directory.
pub const INDEX_FILE: &str = "segments.csv";
/// Slack at the window's edges and between segments: timestamps of a live capture are only this
/// exact (the list is read a few times a second).
pub const TOLERANCE_MS: i64 = 500;

/// One finished segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// File name inside the capture directory.
    pub file: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub stream_start_ms: i64,
    pub stream_end_ms: i64,
}

impl Segment {
    fn len_ms(&self) -> i64 {
        self.stream_end_ms - self.stream_start_ms
    }

    /// Whether `next` holds the content right after this one.
    fn followed_by(&self, next: &Segment) -> bool {
        (next.stream_start_ms - self.stream_end_ms).abs() <= TOLERANCE_MS
            || (next.start_ms - self.end_ms).abs() <= TOLERANCE_MS
    }
}

/// Reads one line of the list; `None` for a malformed one (a torn last line after a crash).
pub fn parse_line(line: &str) -> Option<Segment> {
    let mut parts = line.trim().split(',');
    let file = parts.next()?.trim();
    let start_ms: i64 = parts.next()?.trim().parse().ok()?;
    let end_ms: i64 = parts.next()?.trim().parse().ok()?;
    let (stream_start_ms, stream_end_ms) = match (parts.next(), parts.next()) {
        (None, None) => (start_ms, end_ms),
        (Some(a), Some(b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
        _ => return None,
    };
    let safe = !file.is_empty() && !file.contains(['/', '\\']) && !file.starts_with('.');
    (parts.next().is_none() && safe && end_ms > start_ms && stream_end_ms > stream_start_ms).then(
        || Segment {
            file: file.to_string(),
            start_ms,
            end_ms,
            stream_start_ms,
            stream_end_ms,
        },
    )
}

/// The segment list of one capture directory.
#[derive(Debug, Clone)]
pub struct SegmentIndex {
    dir: PathBuf,
}

impl SegmentIndex {
    pub fn new(dir: &Path) -> SegmentIndex {
        SegmentIndex {
            dir: dir.to_path_buf(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every listed segment whose file still exists, oldest first; an empty list when there is none.
    pub fn load(&self) -> std::io::Result<Vec<Segment>> {
        let text = match std::fs::read_to_string(self.dir.join(INDEX_FILE)) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        // In the order they were finished (not sorted by wall-clock start: segments seen together
        // may overlap a little there, and their order is what makes the content continuous).
        Ok(text
            .lines()
            .filter_map(parse_line)
            .filter(|s| self.dir.join(&s.file).is_file())
            .collect())
    }

    /// Adds a finished segment.
    pub fn append(&self, segment: &Segment) -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(INDEX_FILE))?;
        writeln!(file, "{}", line(segment))
    }

    /// Deletes segments that ended before `keep_from_ms` and rewrites the list without them
    /// (atomically: a crash leaves the old list or the new one). Returns how many were deleted.
    pub fn prune(&self, keep_from_ms: i64) -> std::io::Result<usize> {
        let segments = self.load()?;
        let (old, kept): (Vec<_>, Vec<_>) =
            segments.into_iter().partition(|s| s.end_ms < keep_from_ms);
        if old.is_empty() {
            return Ok(0);
        }
        let text: String = kept.iter().map(|s| format!("{}\n", line(s))).collect();
        let tmp = self.dir.join(format!(".{INDEX_FILE}.tmp"));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, self.dir.join(INDEX_FILE))?;
        for segment in &old {
            let _ = std::fs::remove_file(self.dir.join(&segment.file));
        }
        Ok(old.len())
    }
}

fn line(s: &Segment) -> String {
    format!(
        "{},{},{},{},{}",
        s.file, s.start_ms, s.end_ms, s.stream_start_ms, s.stream_end_ms
    )
}

/// How the buffer stands for a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// These segments, in order, cover the window; it starts `offset_ms` into the first.
    Ready {
        segments: Vec<Segment>,
        offset_ms: i64,
    },
    /// Not yet: the buffer reaches `covered_until_ms` (`None`: it holds nothing).
    Pending { covered_until_ms: Option<i64> },
    /// Never: the window starts before the oldest segment still kept.
    Gone { oldest_ms: i64 },
    /// Never: the capture was interrupted inside the window, from `from_ms` to `to_ms`.
    Gap { from_ms: i64, to_ms: i64 },
}

/// Whether `segments` (oldest first) cover the window `[start_ms, end_ms]`: ready once the content
/// from the window's start on, without a hole, is at least as long as the window. Only the joins
/// and the window's start get [`TOLERANCE_MS`] (wall-clock and stream times drift apart by jitter);
/// the length does not, since the cut keeps exactly the window and a short buffer would make a
/// short clip.
pub fn cover(segments: &[Segment], start_ms: i64, end_ms: i64) -> Coverage {
    let Some(oldest) = segments.first() else {
        return Coverage::Pending {
            covered_until_ms: None,
        };
    };
    if oldest.start_ms > start_ms + TOLERANCE_MS {
        return Coverage::Gone {
            oldest_ms: oldest.start_ms,
        };
    }
    let newest_end = segments.iter().map(|s| s.end_ms).max();
    let Some(first_at) = segments.iter().position(|s| s.end_ms > start_ms) else {
        return Coverage::Pending {
            covered_until_ms: newest_end,
        };
    };
    let first = &segments[first_at];
    if first.start_ms > start_ms + TOLERANCE_MS
        && first_at > 0
        && !segments[first_at - 1].followed_by(first)
    {
        return Coverage::Gap {
            from_ms: segments[first_at - 1].end_ms,
            to_ms: first.start_ms,
        };
    }
    let offset_ms = (start_ms - first.start_ms).clamp(0, first.len_ms());
    let want = end_ms - start_ms;
    let mut content = first.len_ms() - offset_ms;
    let mut taken = vec![first.clone()];
    for next in &segments[first_at + 1..] {
        if content >= want {
            break;
        }
        let prev = taken.last().unwrap_or(first);
        if !prev.followed_by(next) {
            return Coverage::Gap {
                from_ms: prev.end_ms,
                to_ms: next.start_ms,
            };
        }
        content += next.len_ms();
        taken.push(next.clone());
    }
    if content >= want {
        Coverage::Ready {
            segments: taken,
            offset_ms,
        }
    } else {
        Coverage::Pending {
            covered_until_ms: newest_end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seg(n: i64, start: i64, end: i64) -> Segment {
        Segment {
            file: format!("seg-{n}.ts"),
            start_ms: start,
            end_ms: end,
            stream_start_ms: start,
            stream_end_ms: end,
        }
    }

    fn buffer() -> Vec<Segment> {
        (0..10).map(|n| seg(n, n * 2000, (n + 1) * 2000)).collect()
    }

    #[test]
    fn a_window_inside_the_buffer_is_ready_with_its_offset() {
        let c = cover(&buffer(), 3_000, 9_000);
        let Coverage::Ready {
            segments,
            offset_ms,
        } = c
        else {
            panic!("{c:?}")
        };
        let files: Vec<_> = segments.iter().map(|s| s.file.as_str()).collect();
        assert_eq!(files, ["seg-1.ts", "seg-2.ts", "seg-3.ts", "seg-4.ts"]);
        assert_eq!(offset_ms, 1_000);
    }

    #[test]
    fn a_window_reaching_past_the_newest_segment_waits() {
        assert_eq!(
            cover(&buffer(), 15_000, 25_000),
            Coverage::Pending {
                covered_until_ms: Some(20_000)
            }
        );
        assert_eq!(
            cover(&[], 0, 1),
            Coverage::Pending {
                covered_until_ms: None
            }
        );
    }

    #[test]
    fn a_window_the_buffer_holds_all_but_the_last_moments_of_waits() {
        // The buffer ends at 20 s: a window to 20.4 s is 400 ms short and must wait, not be cut
        // 400 ms short.
        assert_eq!(
            cover(&buffer(), 10_400, 20_400),
            Coverage::Pending {
                covered_until_ms: Some(20_000)
            }
        );
        assert!(matches!(
            cover(&buffer(), 10_000, 20_000),
            Coverage::Ready { .. }
        ));
    }

    #[test]
    fn a_window_older_than_the_buffer_is_gone() {
        assert_eq!(
            cover(&buffer()[3..], 1_000, 7_000),
            Coverage::Gone { oldest_ms: 6_000 }
        );
    }

    #[test]
    fn an_interrupted_capture_inside_the_window_is_a_gap() {
        let mut segments = buffer();
        segments.remove(4);
        assert_eq!(
            cover(&segments, 6_000, 12_000),
            Coverage::Gap {
                from_ms: 8_000,
                to_ms: 10_000
            }
        );
    }

    #[test]
    fn content_that_arrived_late_is_not_a_gap() {
        let mut segments = buffer();
        // Segment 5 arrived 1.5 s late, but its stream time follows segment 4's.
        for s in &mut segments[5..] {
            s.start_ms += 1_500;
            s.end_ms += 1_500;
        }
        let c = cover(&segments, 7_000, 13_000);
        let Coverage::Ready {
            segments: taken,
            offset_ms,
        } = c
        else {
            panic!("{c:?}")
        };
        assert_eq!(offset_ms, 1_000);
        assert_eq!(
            taken.len(),
            4,
            "6 s of content from 7 s on: segments 3 to 6"
        );
    }

    #[test]
    fn lines_are_read_strictly() {
        assert_eq!(
            parse_line("seg-1.ts,10,20,0,10").map(|s| (s.stream_start_ms, s.stream_end_ms)),
            Some((0, 10))
        );
        assert_eq!(parse_line("seg-1.ts,10,20"), Some(seg(1, 10, 20)));
        for bad in [
            "",
            "seg.ts,1",
            "seg.ts,a,2",
            "../x.ts,1,2",
            "seg.ts,5,5",
            "s,1,2,3",
        ] {
            assert_eq!(parse_line(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_index_appends_loads_and_prunes_old_segments() {
        let dir = tempfile::tempdir().unwrap();
        let index = SegmentIndex::new(dir.path());
        for s in buffer() {
            std::fs::write(dir.path().join(&s.file), b"ts").unwrap();
            index.append(&s).unwrap();
        }
        assert_eq!(index.load().unwrap(), buffer());
        assert_eq!(index.prune(10_000).unwrap(), 4);
        assert_eq!(index.load().unwrap(), buffer()[4..].to_vec());
        assert!(!dir.path().join("seg-0.ts").exists());
        assert!(dir.path().join("seg-5.ts").exists());
    }

    proptest! {
        #[test]
        fn parsing_any_line_never_panics(line in "\\PC{0,60}") {
            let _ = parse_line(&line);
        }

        #[test]
        fn coverage_of_any_window_never_panics(start in -10_000i64..30_000, len in 0i64..20_000) {
            let _ = cover(&buffer(), start, start + len);
        }
    }
}
