//! Writing several files as one change: either every file gets its new text, or none does.
//!
//! A release stamp that lands in half the files is worse than none: the repository then disagrees
//! with itself. So the writer works in three steps. First it checks that each file may be written
//! (a read-only file is refused, even for root, because someone made it read-only on purpose). Then
//! it writes every new text to a temporary file beside its target; if any of those writes fails, the
//! temporary files are removed and nothing has changed. Only then does it rename each temporary file
//! over its target, which replaces a file in one step; should a rename still fail, the files already
//! replaced get their old text back.
//! Symbolic links are followed, so the file a link points to is updated and the link stays a link.

use std::fs;
use std::path::{Path, PathBuf};

/// One file to replace: where it is, how to name it in messages, its current and its new text.
#[derive(Debug, Clone, Copy)]
pub struct PendingWrite<'a> {
    pub path: &'a Path,
    pub display: &'a str,
    pub old_text: &'a str,
    pub new_text: &'a str,
}

/// Why the change was not made, naming the file. `unrestored` is empty unless a rename failed midway
/// and a file already replaced could not be given its old text back.
#[derive(Debug, thiserror::Error)]
#[error("{display}: {reason}{}", unrestored_note(.unrestored))]
pub struct CommitError {
    pub display: String,
    pub reason: String,
    pub unrestored: Vec<String>,
}

/// Replaces every file's text with its new text, all or nothing.
pub fn write_all(writes: &[PendingWrite<'_>]) -> Result<(), CommitError> {
    let targets = writes
        .iter()
        .map(|w| writable_target(w).map(|path| (path, w)))
        .collect::<Result<Vec<_>, _>>()?;

    let mut staged: Vec<PathBuf> = Vec::with_capacity(targets.len());
    for (target, write) in &targets {
        match stage(target, write.new_text) {
            Ok(temp) => staged.push(temp),
            Err(e) => {
                remove_all(&staged);
                return Err(failure(write.display, format!("cannot write: {e}")));
            }
        }
    }

    for (index, ((target, write), temp)) in targets.iter().zip(&staged).enumerate() {
        if let Err(e) = fs::rename(temp, target) {
            remove_all(&staged[index..]);
            let unrestored = targets[..index]
                .iter()
                .filter(|(path, done)| restore(path, done.old_text).is_err())
                .map(|(_, done)| done.display.to_string())
                .collect();
            return Err(CommitError {
                display: write.display.to_string(),
                reason: format!("cannot replace the file: {e}"),
                unrestored,
            });
        }
    }
    sync_dirs(targets.iter().map(|(path, _)| path.as_path()));
    Ok(())
}

fn unrestored_note(unrestored: &[String]) -> String {
    if unrestored.is_empty() {
        "; no file was changed".to_string()
    } else {
        format!(
            "; these files kept their new text and need `git checkout` or a second run: {}",
            unrestored.join(", ")
        )
    }
}

fn failure(display: &str, reason: String) -> CommitError {
    CommitError {
        display: display.to_string(),
        reason,
        unrestored: Vec::new(),
    }
}

/// The real file behind `write.path`, once it is known to be a writable regular file.
fn writable_target(write: &PendingWrite<'_>) -> Result<PathBuf, CommitError> {
    let target = fs::canonicalize(write.path)
        .map_err(|e| failure(write.display, format!("cannot resolve the path: {e}")))?;
    let meta = fs::metadata(&target)
        .map_err(|e| failure(write.display, format!("cannot read its metadata: {e}")))?;
    if !meta.is_file() {
        return Err(failure(write.display, "is not a regular file".to_string()));
    }
    if meta.permissions().readonly() {
        return Err(failure(
            write.display,
            "is read-only; make it writable (chmod u+w) and run again".to_string(),
        ));
    }
    Ok(target)
}

/// Writes `text` to a temporary file beside `target`, with the target's permissions, synced to disk.
fn stage(target: &Path, text: &str) -> std::io::Result<PathBuf> {
    let permissions = fs::metadata(target)?.permissions();
    crate::atomic::stage(target, text.as_bytes(), Some(permissions))
}

fn restore(target: &Path, old_text: &str) -> std::io::Result<()> {
    let temp = stage(target, old_text)?;
    fs::rename(temp, target)
}

fn remove_all(temps: &[PathBuf]) {
    for temp in temps {
        let _ = fs::remove_file(temp);
    }
}

/// Makes the renames durable. Best effort: the files are already replaced, and a directory that
/// cannot be synced (some filesystems refuse) does not undo that.
fn sync_dirs<'a>(paths: impl Iterator<Item = &'a Path>) {
    let mut dirs: Vec<&Path> = paths.filter_map(Path::parent).collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        if let Ok(handle) = fs::File::open(dir) {
            let _ = handle.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending<'a>(path: &'a Path, old: &'a str, new: &'a str) -> PendingWrite<'a> {
        PendingWrite {
            path,
            display: "file",
            old_text: old,
            new_text: new,
        }
    }

    #[test]
    fn replaces_every_file_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let b = dir.path().join("b.json");
        fs::write(&a, "a1").unwrap();
        fs::write(&b, "b1").unwrap();
        write_all(&[pending(&a, "a1", "a2"), pending(&b, "b1", "b2")]).unwrap();
        assert_eq!(fs::read_to_string(&a).unwrap(), "a2");
        assert_eq!(fs::read_to_string(&b).unwrap(), "b2");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_file_that_cannot_be_staged_leaves_every_file_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        // A name so long that its temporary file's name is over the file system's limit: staging it
        // fails, even for root.
        let b = dir.path().join(format!("{}.json", "b".repeat(240)));
        fs::write(&a, "a1").unwrap();
        fs::write(&b, "b1").unwrap();
        let err = write_all(&[pending(&a, "a1", "a2"), pending(&b, "b1", "b2")]).unwrap_err();
        assert!(err.reason.starts_with("cannot write"), "{err}");
        assert_eq!(fs::read_to_string(&a).unwrap(), "a1");
        assert_eq!(fs::read_to_string(&b).unwrap(), "b1");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temporary file is left"
        );
    }

    #[cfg(unix)]
    #[test]
    fn follows_symlinks_and_keeps_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        let link = dir.path().join("link.json");
        fs::write(&real, "old").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_all(&[pending(&link, "old", "new")]).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
        let mode = fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }
}
