//! Directories opened beneath a root by handle, so a path can never be re-resolved to somewhere else
//! between the check and the write.
//!
//! The publish mirror writes into a directory other people's tools also touch (a dashboard checkout),
//! and "check the path, then write to the path" loses to anyone who swaps a directory for a symlink in
//! between. Here every component is opened with `openat(parent, name, O_NOFOLLOW | O_DIRECTORY)`
//! relative to the handle of the one before it, starting from the root's handle. A symlink met on the
//! way is not followed by the kernel: its text is read (`readlinkat`) and resolved by the same
//! walk, so a link that stays inside the root still works and one that leads out (`..` past the root,
//! or an absolute path elsewhere) is refused, as is a loop ([`MAX_LINKS`] links in one walk). Files
//! are then written as a temp file in the opened directory and renamed over the name there
//! (`renameat`), which replaces a symlink rather than writing through it.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Symlinks followed in one walk before it is called a loop (Linux's own limit is 40).
pub const MAX_LINKS: usize = 40;

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Why a path beneath the root could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BeneathError {
    #[error("{link} is a symlink to {points_to}, outside {root}")]
    Escapes {
        link: PathBuf,
        points_to: PathBuf,
        root: PathBuf,
    },
    #[error("{link} is part of a symlink loop (more than {MAX_LINKS} links followed)")]
    Loop { link: PathBuf },
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

fn io_err(path: &Path, errno: Errno) -> BeneathError {
    BeneathError::Io {
        path: path.to_path_buf(),
        error: errno.into(),
    }
}

/// An open root directory; every path below it is reached through handles.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    /// The root's canonical path: for messages, and to recognise absolute links that stay inside.
    path: PathBuf,
}

/// What a name in an opened directory currently is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    Missing,
    Same,
    Different,
}

impl Root {
    /// Opens `path` (canonical; the root itself may be reached through symlinks the user chose).
    pub fn open(path: &Path) -> Result<Root, BeneathError> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err(path, e))?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the directory `rel` (plain relative components) beneath the root. With `create`, missing
    /// directories are made; without, a missing one gives `Ok(None)`.
    pub fn open_dir(&self, rel: &Path, create: bool) -> Result<Option<OwnedFd>, BeneathError> {
        let mut todo: VecDeque<OsString> = components(rel);
        // The directories walked so far below the root, with their paths (for messages).
        let mut stack: Vec<(OwnedFd, PathBuf)> = Vec::new();
        let mut links = 0;
        // The link being expanded, for an escape message: (link path, what it points to).
        let mut last_link: Option<(PathBuf, PathBuf)> = None;
        while let Some(name) = todo.pop_front() {
            if name == ".." {
                if stack.pop().is_none() {
                    let (link, points_to) =
                        last_link.unwrap_or_else(|| (self.path.clone(), self.path.join("..")));
                    return Err(BeneathError::Escapes {
                        link,
                        points_to: normalize(&points_to),
                        root: self.path.clone(),
                    });
                }
                continue;
            }
            let (top, here): (BorrowedFd<'_>, &Path) = match stack.last() {
                Some((fd, path)) => (fd.as_fd(), path),
                None => (self.fd.as_fd(), &self.path),
            };
            let path = here.join(&name);
            match rustix::fs::openat(top, name.as_os_str(), DIR_FLAGS, Mode::empty()) {
                Ok(fd) => stack.push((fd, path)),
                Err(Errno::NOENT) if create => {
                    match rustix::fs::mkdirat(top, name.as_os_str(), Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => todo.push_front(name),
                        Err(e) => return Err(io_err(&path, e)),
                    }
                }
                Err(Errno::NOENT) => return Ok(None),
                Err(e @ (Errno::LOOP | Errno::NOTDIR)) => {
                    if !is_symlink(top, &name) {
                        return Err(io_err(
                            &path,
                            if e == Errno::LOOP { e } else { Errno::NOTDIR },
                        ));
                    }
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(BeneathError::Loop { link: path });
                    }
                    let text = read_link(top, &name).map_err(|e| io_err(&path, e))?;
                    let points_to = if text.is_absolute() {
                        text.clone()
                    } else {
                        here.join(&text)
                    };
                    if text.is_absolute() {
                        let Ok(inside) = text.strip_prefix(&self.path) else {
                            return Err(BeneathError::Escapes {
                                link: path,
                                points_to: normalize(&points_to),
                                root: self.path.clone(),
                            });
                        };
                        stack.clear();
                        prepend(&mut todo, inside);
                    } else {
                        prepend(&mut todo, &text);
                    }
                    last_link = Some((path, points_to));
                }
                Err(e) => return Err(io_err(&path, e)),
            }
        }
        match stack.pop() {
            Some((fd, _)) => Ok(Some(fd)),
            None => rustix::io::dup(&self.fd)
                .map(Some)
                .map_err(|e| io_err(&self.path, e)),
        }
    }

    /// Refuses the file `rel` when it is a symlink leading outside the root (checked on the link's
    /// text; the write itself never follows it, see [`write_file`]). A missing directory is fine:
    /// whatever is created will be created inside.
    pub fn check_file(&self, rel: &Path) -> Result<(), BeneathError> {
        let (parent, name) = split(rel);
        let Some(dir) = self.open_dir(parent, false)? else {
            return Ok(());
        };
        if !is_symlink(dir.as_fd(), name) {
            return Ok(());
        }
        let link = self.path.join(rel);
        let text = read_link(dir.as_fd(), name).map_err(|e| io_err(&link, e))?;
        let points_to = normalize(&self.path.join(parent).join(&text));
        if points_to.starts_with(&self.path) {
            Ok(())
        } else {
            Err(BeneathError::Escapes {
                link,
                points_to,
                root: self.path.clone(),
            })
        }
    }
}

/// `rel` as (directory, file name).
pub fn split(rel: &Path) -> (&Path, &OsStr) {
    (
        rel.parent().unwrap_or(Path::new("")),
        rel.file_name().unwrap_or_default(),
    )
}

fn components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn prepend(todo: &mut VecDeque<OsString>, path: &Path) {
    for c in components(path).into_iter().rev() {
        todo.push_front(c);
    }
}

/// `a/b/../c` as `a/c`, without touching the file system (for messages only).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn is_symlink(dir: BorrowedFd<'_>, name: &OsStr) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink)
}

fn read_link(dir: BorrowedFd<'_>, name: &OsStr) -> Result<PathBuf, Errno> {
    let text = rustix::fs::readlinkat(dir, name, Vec::new())?;
    Ok(PathBuf::from(OsStr::from_bytes(text.as_bytes())))
}

/// Compares `bytes` with what `name` in `dir` holds now (a symlink there counts as different).
pub fn compare(dir: &OwnedFd, name: &OsStr, bytes: &[u8]) -> Existing {
    let file = match rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Existing::Missing,
        Err(_) => return Existing::Different,
    };
    let mut existing = Vec::with_capacity(bytes.len());
    match std::fs::File::from(file).read_to_end(&mut existing) {
        Ok(_) if existing == bytes => Existing::Same,
        _ => Existing::Different,
    }
}

/// Reads `name` in `dir` without following a symlink; `Ok(None)` when it does not exist.
pub fn read(dir: &OwnedFd, name: &OsStr) -> std::io::Result<Option<Vec<u8>>> {
    match rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => {
            let mut bytes = Vec::new();
            std::fs::File::from(fd).read_to_end(&mut bytes)?;
            Ok(Some(bytes))
        }
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Replaces `name` in `dir` with `bytes` atomically: a temp file in the same directory, fsync,
/// `renameat` over the name (replacing whatever entry is there, a symlink included, never writing
/// through it), fsync the directory.
pub fn write_file(dir: &OwnedFd, name: &OsStr, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut temp = OsString::from(".");
    temp.push(name);
    temp.push(format!(".tmp-{}-{n}", std::process::id()));
    let fd = rustix::fs::openat(
        dir,
        temp.as_os_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )?;
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::from(fd);
        file.write_all(bytes)?;
        file.sync_all()?;
        rustix::fs::renameat(dir, temp.as_os_str(), dir, name)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = rustix::fs::unlinkat(dir, temp.as_os_str(), AtFlags::empty());
    }
    result?;
    // Persist the rename; some file systems cannot fsync a directory, and the data is already safe.
    let _ = rustix::fs::fsync(dir);
    Ok(())
}

/// Whether `name` in `dir` exists and is not a directory (what [`remove_file`] would remove).
pub fn is_removable(dir: &OwnedFd, name: &OsStr) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) != FileType::Directory)
}

/// Removes `name` from `dir` unless it is a directory; returns whether it removed something.
pub fn remove_file(dir: &OwnedFd, name: &OsStr) -> std::io::Result<bool> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => Ok(false),
        Ok(_) => {
            rustix::fs::unlinkat(dir, name, AtFlags::empty())?;
            Ok(true)
        }
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        let path = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(path.join("in")).unwrap();
        let root = Root::open(&path.join("in")).unwrap();
        (dir, root)
    }

    #[test]
    fn links_inside_are_followed_and_links_out_are_refused() {
        let (dir, root) = root();
        let r = root.path().to_path_buf();
        std::fs::create_dir_all(r.join("real/sub")).unwrap();
        symlink("real", r.join("rel")).unwrap();
        symlink(r.join("real"), r.join("abs")).unwrap();
        symlink("../", r.join("up")).unwrap();
        symlink(dir.path(), r.join("out")).unwrap();
        assert!(
            root.open_dir(Path::new("rel/sub"), false)
                .unwrap()
                .is_some()
        );
        assert!(
            root.open_dir(Path::new("abs/sub"), false)
                .unwrap()
                .is_some()
        );
        for escaping in ["up/in", "out", "real/../../in"] {
            let err = root.open_dir(Path::new(escaping), true).unwrap_err();
            assert!(
                matches!(err, BeneathError::Escapes { .. }),
                "{escaping}: {err}"
            );
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "nothing created outside"
        );
    }

    #[test]
    fn a_loop_is_named_a_loop() {
        let (_dir, root) = root();
        let r = root.path().to_path_buf();
        symlink("b", r.join("a")).unwrap();
        symlink("a", r.join("b")).unwrap();
        symlink("self", r.join("self")).unwrap();
        for name in ["a/x", "self"] {
            let err = root.open_dir(Path::new(name), true).unwrap_err();
            assert!(matches!(err, BeneathError::Loop { .. }), "{name}: {err}");
            assert!(err.to_string().contains("symlink loop"), "{err}");
        }
    }

    #[test]
    fn write_file_replaces_a_symlink_instead_of_writing_through_it() {
        let (dir, root) = root();
        let victim = dir.path().join("victim.json");
        std::fs::write(&victim, "keep").unwrap();
        symlink(&victim, root.path().join("file.json")).unwrap();
        let fd = root.open_dir(Path::new(""), false).unwrap().unwrap();
        write_file(&fd, OsStr::new("file.json"), b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(
            std::fs::read_to_string(root.path().join("file.json")).unwrap(),
            "new"
        );
        assert!(
            !std::fs::symlink_metadata(root.path().join("file.json"))
                .unwrap()
                .is_symlink()
        );
    }
}
