//! The publish mirror: copies exports into a dashboard checkout's `shared/state/`.
//!
//! The source is an export tree (`runtime/`, or `ss export --out DIR`) whose `exports/meta.json` says
//! which files exist. Files at or below the requested visibility are mirrored: `exports/*` at the top
//! of `<target>/shared/state/`, `signals/` and `admin/` below it, plus a `meta.json` listing exactly
//! the files published. Visibility comes from the catalogue, never from the manifest file.
//!
//! Safety rules, checked for every path before anything is written:
//! - nothing is written outside the target: a symlink under it that resolves elsewhere is refused,
//!   and writes go through directory handles opened without following symlinks ([`super::beneath`]),
//!   so swapping a directory for a symlink during a publish cannot redirect a write;
//! - each file is replaced atomically, and a file whose bytes are unchanged is not touched;
//! - only files this mirror published before (recorded in `shared/state/.ss-published.json`) are
//!   ever removed; anything else in the checkout is left alone.

use super::beneath::{self, BeneathError, Existing, Root};
use super::catalogue::{MANIFEST, Visibility};
use super::writer::{manifest_entries, render, sha256_hex};
use rustix::fd::OwnedFd;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

/// Where the mirror goes below the target.
pub const STATE_DIR: &str = "shared/state";
/// The mirror's record of what it published, below [`STATE_DIR`].
pub const RECORD: &str = ".ss-published.json";

/// What to publish where.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    /// The export tree holding `exports/meta.json`.
    pub source: PathBuf,
    /// The dashboard directory; the mirror goes to `<target>/shared/state/`.
    pub target: PathBuf,
    pub visibility: Visibility,
    pub dry_run: bool,
}

/// What a publish did (or, in a dry run, would do). Paths are relative to `state_dir`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishReport {
    pub state_dir: PathBuf,
    pub visibility: Visibility,
    pub dry_run: bool,
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    pub removed: Vec<String>,
}

impl PublishReport {
    /// Whether anything was (or would be) written or removed.
    pub fn changed(&self) -> bool {
        !(self.added.is_empty() && self.updated.is_empty() && self.removed.is_empty())
    }
}

/// Why a publish was refused or failed. Refusals happen before anything is written.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "no exports to publish: {0} is missing\n  hint: run `ss export` first, or pass --from DIR pointing at an export tree"
    )]
    NoExports(PathBuf),
    #[error("{path}: {detail}\n  hint: run `ss export` to regenerate the exports")]
    BadExports { path: PathBuf, detail: String },
    #[error(
        "publish target {0} is not a directory\n  hint: create it, or pass --target DIR (or set DASHBOARD_STATE_PUBLISH_ROOT)"
    )]
    TargetMissing(PathBuf),
    #[error(
        "{link} is a symlink to {points_to}, outside the publish target {target}; refusing to write through it\n  \
         hint: replace the symlink with a real directory or file; nothing was written"
    )]
    EscapingSymlink {
        link: PathBuf,
        points_to: PathBuf,
        target: PathBuf,
    },
    #[error(
        "{link} is part of a symlink loop; refusing to publish through it\n  \
         hint: replace the symlink with a real directory or file; nothing was written"
    )]
    SymlinkLoop { link: PathBuf },
    /// The OS error is part of the message and deliberately not a `source`, so a report that prints
    /// the chain of causes says it once.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl From<BeneathError> for PublishError {
    fn from(e: BeneathError) -> PublishError {
        match e {
            BeneathError::Escapes {
                link,
                points_to,
                root,
            } => PublishError::EscapingSymlink {
                link,
                points_to,
                target: root,
            },
            BeneathError::Loop { link } => PublishError::SymlinkLoop { link },
            BeneathError::Io { path, error } => PublishError::Io { path, error },
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PublishError + '_ {
    move |error| PublishError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Where a catalogue file goes below the state dir: `exports/x` at the top, the rest as they are.
pub fn mirror_name(name: &str) -> &str {
    name.strip_prefix("exports/").unwrap_or(name)
}

/// One file to mirror: its path below the state dir and its bytes.
struct Planned {
    rel: String,
    bytes: Vec<u8>,
}

/// Reads the source manifest and the files to mirror, and builds the published manifest.
fn plan(req: &PublishRequest) -> Result<Vec<Planned>, PublishError> {
    let manifest_path = req.source.join(MANIFEST.name);
    let text = match std::fs::read(&manifest_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(PublishError::NoExports(manifest_path));
        }
        Err(e) => return Err(io(&manifest_path)(e)),
    };
    let manifest: Value = serde_json::from_slice(&text).map_err(|e| PublishError::BadExports {
        path: manifest_path.clone(),
        detail: format!("invalid JSON: {e}"),
    })?;
    let mut planned = Vec::new();
    let mut listed = Vec::new();
    for entry in manifest_entries(&manifest)
        .into_iter()
        .filter(|e| e.visibility <= req.visibility)
    {
        let path = req.source.join(entry.name);
        let bytes = std::fs::read(&path).map_err(|e| PublishError::BadExports {
            path: path.clone(),
            detail: format!("listed in exports/meta.json but unreadable: {e}"),
        })?;
        listed.push(json!({
            "name": entry.name,
            "schema": entry.schema,
            "visibility": entry.visibility.as_str(),
            "bytes": bytes.len(),
            "sha256": sha256_hex(&bytes),
        }));
        planned.push(Planned {
            rel: mirror_name(entry.name).to_string(),
            bytes,
        });
    }
    // The published manifest lists exactly what this mirror holds; it goes last, after the files.
    let meta = manifest.get("meta").cloned().unwrap_or_else(|| json!({}));
    planned.push(Planned {
        rel: mirror_name(MANIFEST.name).to_string(),
        bytes: render(&json!({"meta": meta, "files": listed})),
    });
    Ok(planned)
}

/// The relative paths the last publish recorded. A record that exists but cannot be read as one is
/// reported and rebuilt by this publish (the files it listed are then not removed: the mirror no
/// longer knows it published them).
fn read_record(root: &Root, state_rel: &Path) -> Result<Vec<String>, PublishError> {
    let path = root.path().join(state_rel).join(RECORD);
    let Some(dir) = root.open_dir(state_rel, false)? else {
        return Ok(Vec::new());
    };
    let Some(bytes) = beneath::read(&dir, OsStr::new(RECORD)).map_err(io(&path))? else {
        return Ok(Vec::new());
    };
    let parsed = serde_json::from_slice::<Value>(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|v| {
            let files = v
                .get("files")
                .and_then(Value::as_array)
                .ok_or("no \"files\" array")?;
            files
                .iter()
                .map(|f| {
                    f.as_str()
                        .map(str::to_string)
                        .ok_or("a non-string entry in \"files\"")
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(str::to_string)
        });
    match parsed {
        Ok(files) => Ok(files),
        Err(reason) => {
            tracing::warn!(
                path = %path.display(),
                %reason,
                "The publish record is malformed; rebuilding it from this publish (files it listed are not removed)."
            );
            Ok(Vec::new())
        }
    }
}

/// A recorded path is only acted on when it is a plain relative path (no `..`, not absolute).
fn is_plain_relative(rel: &str) -> bool {
    let path = Path::new(rel);
    !rel.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)))
}

/// Mirrors the exports; `progress(done, total)` is called after each file.
///
/// Every path is checked before the first write, so a refusal leaves the target as it was. The
/// writes then go through directory handles opened beneath the target ([`beneath`]): a directory
/// swapped for a symlink after the check cannot redirect a write outside.
pub fn publish(
    req: &PublishRequest,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<PublishReport, PublishError> {
    let planned = plan(req)?;
    let target = std::fs::canonicalize(&req.target)
        .ok()
        .filter(|t| t.is_dir())
        .ok_or_else(|| PublishError::TargetMissing(req.target.clone()))?;
    let root = Root::open(&target)?;
    let state_rel = Path::new(STATE_DIR);
    let state_dir = target.join(STATE_DIR);
    root.check_file(&state_rel.join(RECORD))?;
    let new: Vec<&str> = planned.iter().map(|p| p.rel.as_str()).collect();
    let stale: Vec<String> = read_record(&root, state_rel)?
        .into_iter()
        .filter(|rel| is_plain_relative(rel) && !new.contains(&rel.as_str()))
        .collect();
    // Every check before the first write: a refusal leaves the target exactly as it was.
    for rel in new.iter().copied().chain(stale.iter().map(String::as_str)) {
        root.check_file(&state_rel.join(rel))?;
    }

    let mut report = PublishReport {
        state_dir: state_dir.clone(),
        visibility: req.visibility,
        dry_run: req.dry_run,
        added: Vec::new(),
        updated: Vec::new(),
        unchanged: Vec::new(),
        removed: Vec::new(),
    };
    // Each directory is opened once and then only used by handle.
    let mut dirs = Dirs::default();
    let total = planned.len();
    for (done, file) in planned.iter().enumerate() {
        let rel = state_rel.join(&file.rel);
        let (parent, name) = beneath::split(&rel);
        let dir = dirs.open(&root, parent, !req.dry_run)?;
        let existing = dir.map_or(Existing::Missing, |d| {
            beneath::compare(d, name, &file.bytes)
        });
        let bucket = match existing {
            Existing::Same => {
                report.unchanged.push(file.rel.clone());
                progress(done + 1, total);
                continue;
            }
            Existing::Different => &mut report.updated,
            Existing::Missing => &mut report.added,
        };
        bucket.push(file.rel.clone());
        if let Some(dir) = dir.filter(|_| !req.dry_run) {
            beneath::write_file(dir, name, &file.bytes).map_err(io(&root.path().join(&rel)))?;
        }
        progress(done + 1, total);
    }
    for rel in stale {
        let path = state_rel.join(&rel);
        let (parent, name) = beneath::split(&path);
        let Some(dir) = dirs.open(&root, parent, false)? else {
            continue;
        };
        let gone = if req.dry_run {
            beneath::is_removable(dir, name)
        } else {
            beneath::remove_file(dir, name).map_err(io(&target.join(&path)))?
        };
        if gone {
            report.removed.push(rel);
        }
    }
    if !req.dry_run {
        let record = render(&json!({"files": new}));
        if let Some(dir) = dirs.open(&root, state_rel, true)?
            && beneath::compare(dir, OsStr::new(RECORD), &record) != Existing::Same
        {
            beneath::write_file(dir, OsStr::new(RECORD), &record)
                .map_err(io(&state_dir.join(RECORD)))?;
        }
    }
    Ok(report)
}

/// Directory handles opened during one publish, by path below the target.
#[derive(Default)]
struct Dirs(HashMap<PathBuf, Option<OwnedFd>>);

impl Dirs {
    fn open(
        &mut self,
        root: &Root,
        rel: &Path,
        create: bool,
    ) -> Result<Option<&OwnedFd>, PublishError> {
        let known = self.0.get(rel).is_some_and(|fd| fd.is_some() || !create);
        if !known {
            let fd = root.open_dir(rel, create)?;
            self.0.insert(rel.to_path_buf(), fd);
        }
        Ok(self.0.get(rel).and_then(Option::as_ref))
    }
}
