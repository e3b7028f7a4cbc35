//! Running FFmpeg and ffprobe: finding them, starting them so they cannot outlive `ss`, and bounding them.
//!
//! The executables come from `system.clips.ffmpeg_path` (default `ffmpeg` on PATH); ffprobe is the
//! `ffprobe` beside it. Nothing is ever downloaded: a missing FFmpeg is an error that names the
//! package to install. Every child is started in its own process group, with `kill_on_drop`, and on
//! Linux with a parent-death signal, so neither a stopped nor a killed `ss` leaves one behind; a run
//! that is cancelled or times out is killed and then waited for (reaped) before the call returns.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

/// How much of a child's stderr is kept for its error message.
const STDERR_KEPT: usize = 16 * 1024;

/// The FFmpeg and ffprobe executables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
}

/// Why an FFmpeg or ffprobe run did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum FfmpegError {
    #[error(
        "{program} was not found ({path}); install FFmpeg (Debian/Ubuntu: `apt-get install ffmpeg`) or set system.json clips.ffmpeg_path"
    )]
    Missing { program: &'static str, path: String },
    #[error("{program} could not be started: {source}")]
    Spawn {
        program: &'static str,
        source: std::io::Error,
    },
    #[error("{program} failed ({status}): {message}")]
    Failed {
        program: &'static str,
        status: String,
        message: String,
    },
    #[error("{program} did not finish within {seconds} s and was stopped")]
    TimedOut { program: &'static str, seconds: u64 },
    #[error("stopped by shutdown")]
    Cancelled,
}

impl Tools {
    /// The tools named by `ffmpeg_path`: a bare name is looked up on PATH; ffprobe sits beside it.
    pub fn locate(ffmpeg_path: &str) -> Result<Tools, FfmpegError> {
        let ffmpeg = find(ffmpeg_path).ok_or_else(|| FfmpegError::Missing {
            program: "ffmpeg",
            path: ffmpeg_path.to_string(),
        })?;
        let beside = ffmpeg.with_file_name(format!("ffprobe{}", std::env::consts::EXE_SUFFIX));
        let ffprobe = if beside.is_file() {
            beside
        } else {
            find("ffprobe").ok_or_else(|| FfmpegError::Missing {
                program: "ffprobe",
                path: beside.display().to_string(),
            })?
        };
        Ok(Tools { ffmpeg, ffprobe })
    }
}

/// `name` as a path when it has a directory part, else its first match on PATH.
fn find(name: &str) -> Option<PathBuf> {
    let path = Path::new(name);
    if path.components().count() > 1 {
        return path.is_file().then(|| path.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// A command for `program` that cannot outlive this process (see the module docs).
pub fn command(
    program: &Path,
    args: impl IntoIterator<Item = impl AsRef<OsStr>>,
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    // A service manager's notification socket is this process's, not FFmpeg's.
    for name in crate::systemd::CHILD_ENV {
        cmd.env_remove(name);
    }
    #[cfg(target_os = "linux")]
    // SAFETY: the closure runs in the child between fork and exec and makes one async-signal-safe
    // system call (prctl); it allocates nothing and touches no lock.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(std::io::Error::from)
        });
    }
    cmd
}

/// Runs `cmd` to its end, at most `timeout`, stopping it when `cancel` fires. A failure carries the
/// last line FFmpeg wrote on stderr.
pub async fn run(
    program: &'static str,
    mut cmd: tokio::process::Command,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Vec<u8>, FfmpegError> {
    cmd.stdout(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| spawn_error(program, source))?;
    let stdout = tokio::spawn(read_all(child.stdout.take()));
    let stderr = tokio::spawn(read_all(child.stderr.take()));
    enum Ended {
        Exited(std::io::Result<std::process::ExitStatus>),
        TimedOut,
        Cancelled,
    }
    let ended = tokio::select! {
        waited = tokio::time::timeout(timeout, child.wait()) => match waited {
            Ok(status) => Ended::Exited(status),
            Err(_) => Ended::TimedOut,
        },
        () = cancel.cancelled() => Ended::Cancelled,
    };
    let status = match ended {
        Ended::Exited(Ok(status)) => status,
        Ended::Exited(Err(source)) => {
            stop(&mut child).await;
            return Err(spawn_error(program, source));
        }
        Ended::TimedOut => {
            stop(&mut child).await;
            return Err(FfmpegError::TimedOut {
                program,
                seconds: timeout.as_secs(),
            });
        }
        Ended::Cancelled => {
            stop(&mut child).await;
            return Err(FfmpegError::Cancelled);
        }
    };
    let out = stdout.await.unwrap_or_default();
    let err = stderr.await.unwrap_or_default();
    if status.success() {
        Ok(out)
    } else {
        Err(FfmpegError::Failed {
            program,
            status: status.to_string(),
            message: last_line(&err),
        })
    }
}

/// Everything a child writes on one of its pipes.
async fn read_all(pipe: Option<impl tokio::io::AsyncRead + Unpin>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_end(&mut bytes).await;
    }
    bytes
}

fn spawn_error(program: &'static str, source: std::io::Error) -> FfmpegError {
    if source.kind() == std::io::ErrorKind::NotFound {
        FfmpegError::Missing {
            program,
            path: program.to_string(),
        }
    } else {
        FfmpegError::Spawn { program, source }
    }
}

/// Kills `child` and waits for it, so no zombie and no orphan remains.
pub async fn stop(child: &mut tokio::process::Child) {
    let _ = child.start_kill();
    let _ = child.wait().await;
}

/// The last non-empty line of a child's stderr (the one that says what went wrong), bounded.
pub fn last_line(stderr: &[u8]) -> String {
    let tail = &stderr[stderr.len().saturating_sub(STDERR_KEPT)..];
    String::from_utf8_lossy(tail)
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no message")
        .chars()
        .take(300)
        .collect()
}
