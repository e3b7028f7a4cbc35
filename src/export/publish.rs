//! The publish mirror: copies exports into a dashboard checkout's `shared/state/`.
//!
//! The source is an export tree (`runtime/`, or `ss export --out DIR`) whose `exports/meta.json` says
//! which files exist. Files at or below the requested visibility are mirrored: `exports/*` at the top
//! of `<target>/shared/state/`, `signals/` and `admin/` below it, plus a `meta.json` listing exactly
//! the files published. Visibility comes from the catalogue, never from the manifest file.
//!
//! Safety rules, checked for every path before anything is written:
//! - nothing is written outside the target: a symlink under it that resolves elsewhere is refused;
//! - each file is replaced atomically, and a file whose bytes are unchanged is not touched;
//! - only files this mirror published before (recorded in `shared/state/.ss-published.json`) are
//!   ever removed; anything else in the checkout is left alone.

use super::atomic;
use super::catalogue::{MANIFEST, Visibility};
use super::writer::{manifest_entries, render, sha256_hex};
use serde::Serialize;
use serde_json::{Value, json};
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
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.to_path_buf(),
        source,
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

/// Refuses `path` (below `root`, which is canonical) when any existing component of it is a symlink
/// that resolves outside `root`.
fn check_inside(root: &Path, path: &Path) -> Result<(), PublishError> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut current = root.to_path_buf();
    for component in rel.components() {
        let Component::Normal(part) = component else {
            continue;
        };
        current.push(part);
        let Ok(meta) = std::fs::symlink_metadata(&current) else {
            // Nothing exists from here on; whatever is created will be created inside.
            return Ok(());
        };
        if meta.file_type().is_symlink() {
            let resolved = std::fs::canonicalize(&current)
                .or_else(|_| std::fs::read_link(&current))
                .map_err(io(&current))?;
            if !resolved.starts_with(root) {
                return Err(PublishError::EscapingSymlink {
                    link: current,
                    points_to: resolved,
                    target: root.to_path_buf(),
                });
            }
        }
    }
    Ok(())
}

/// The relative paths the last publish recorded.
fn read_record(state_dir: &Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(state_dir.join(RECORD)) else {
        return Vec::new();
    };
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| {
            v.get("files")?.as_array().map(|files| {
                files
                    .iter()
                    .filter_map(|f| f.as_str().map(str::to_string))
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// A recorded path is only acted on when it is a plain relative path (no `..`, not absolute).
fn is_plain_relative(rel: &str) -> bool {
    let path = Path::new(rel);
    !rel.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)))
}

/// Mirrors the exports; `progress(done, total)` is called after each file.
pub fn publish(
    req: &PublishRequest,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<PublishReport, PublishError> {
    let planned = plan(req)?;
    let target = std::fs::canonicalize(&req.target)
        .ok()
        .filter(|t| t.is_dir())
        .ok_or_else(|| PublishError::TargetMissing(req.target.clone()))?;
    let state_dir = target.join(STATE_DIR);
    check_inside(&target, &state_dir.join(RECORD))?;
    let new: Vec<&str> = planned.iter().map(|p| p.rel.as_str()).collect();
    let stale: Vec<String> = read_record(&state_dir)
        .into_iter()
        .filter(|rel| is_plain_relative(rel) && !new.contains(&rel.as_str()))
        .collect();
    // Every check before the first write: a refusal leaves the target exactly as it was.
    for rel in new.iter().copied().chain(stale.iter().map(String::as_str)) {
        check_inside(&target, &state_dir.join(rel))?;
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
    let total = planned.len();
    for (done, file) in planned.iter().enumerate() {
        let path = state_dir.join(&file.rel);
        let bucket = match std::fs::read(&path) {
            Ok(existing) if existing == file.bytes => {
                report.unchanged.push(file.rel.clone());
                progress(done + 1, total);
                continue;
            }
            Ok(_) => &mut report.updated,
            Err(_) => &mut report.added,
        };
        bucket.push(file.rel.clone());
        if !req.dry_run {
            atomic::write(&path, &file.bytes).map_err(io(&path))?;
        }
        progress(done + 1, total);
    }
    for rel in stale {
        let path = state_dir.join(&rel);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_dir()) {
            if !req.dry_run {
                std::fs::remove_file(&path).map_err(io(&path))?;
            }
            report.removed.push(rel);
        }
    }
    if !req.dry_run {
        let record = render(&json!({"files": new}));
        let record_path = state_dir.join(RECORD);
        if std::fs::read(&record_path).ok().as_deref() != Some(record.as_slice()) {
            atomic::write(&record_path, &record).map_err(io(&record_path))?;
        }
    }
    Ok(report)
}
