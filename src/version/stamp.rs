//! Stamping a release: every file that carries the version and build, what changes in each, and the
//! one write that changes them all.
//!
//! [`plan`] reads every file first and works out each edit as a byte-precise splice at the exact span
//! of a version or build value, so nothing else in a file moves. Files that are optional (exports not
//! generated yet, a dashboard without an `about/` folder) are listed as skipped; a file that is there
//! but cannot be read, parsed or stamped makes the whole plan fail with every such problem named, and
//! nothing is written. [`StampPlan::write`] then replaces the changed files all or nothing
//! ([`super::commit`]). A dry run is simply a plan that is shown and not written.

use super::VersionStamp;
use super::commit::{self, CommitError, PendingWrite};
use super::text_edit::{self, Splice};
use super::toml_spans;
use crate::config::validate::Report;
use crate::json_spans::JsonSpans;
use crate::version::changelog::{self, Changelog, Entry};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// The Cargo package whose entry in `Cargo.lock` carries the version.
const PACKAGE: &str = env!("CARGO_PKG_NAME");

/// What to stamp, and where.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The repository or runtime root.
    pub root: &'a Path,
    /// A dashboard checkout whose `version.json` and `about/*.json` also carry the version.
    pub dashboard: Option<&'a Path>,
    /// The new version and build.
    pub stamp: &'a VersionStamp,
    /// With a summary, a changelog entry for this release is appended, dated `release_date`.
    pub changelog_summary: Option<&'a str>,
    pub release_date: NaiveDate,
}

/// One value changed (or already current) in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// `version`, `meta.runtime.build`, `package.version`, ...
    pub field: String,
    pub old: String,
    pub new: String,
}

/// One file the release touches.
#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    /// The file as shown to the user: relative to the root, or below the dashboard root as given.
    pub file: String,
    pub changes: Vec<FieldChange>,
    #[serde(skip)]
    path: PathBuf,
    #[serde(skip)]
    old_text: String,
    #[serde(skip)]
    new_text: String,
}

impl FileChange {
    /// Whether the file's text changes (false when it already carries the new stamp).
    pub fn modified(&self) -> bool {
        self.old_text != self.new_text
    }
}

/// A file that was looked for and left alone, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub file: String,
    pub reason: String,
}

/// A changelog entry the release appends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppendedEntry {
    pub file: String,
    pub entry: Entry,
}

/// Everything a release changes, worked out before anything is written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StampPlan {
    pub files: Vec<FileChange>,
    pub skipped: Vec<Skipped>,
    pub appended: Option<AppendedEntry>,
}

/// Files that could not be stamped; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    /// `(file, reason)`, in the order the files were visited.
    pub problems: Vec<(String, String)>,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot stamp the release; no file was changed:")?;
        for (file, reason) in &self.problems {
            write!(f, "\n  {file}: {reason}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PlanError {}

impl StampPlan {
    /// Writes every modified file, all or nothing.
    pub fn write(&self) -> Result<(), CommitError> {
        let writes: Vec<PendingWrite<'_>> = self
            .files
            .iter()
            .filter(|f| f.modified())
            .map(|f| PendingWrite {
                path: &f.path,
                display: &f.file,
                old_text: &f.old_text,
                new_text: &f.new_text,
            })
            .collect();
        commit::write_all(&writes)
    }
}

/// Which value of the stamp a field takes.
#[derive(Debug, Clone, Copy)]
enum Part {
    Version,
    Build,
}

/// How many of a JSON file's stamp fields must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coverage {
    /// Every field; a missing one is an error.
    All,
    /// At least one; none is an error (a generated export without its runtime stamp).
    AtLeastOne,
    /// At least one; with none, the file is skipped (a dashboard document without a version).
    AtLeastOneElseSkip,
}

type Fields = &'static [(&'static str, Part)];

const VERSION_FILE: Fields = &[("/version", Part::Version), ("/build", Part::Build)];
const META_RUNTIME: Fields = &[
    ("/meta/runtime/version", Part::Version),
    ("/meta/runtime/build", Part::Build),
];
const VERSION_EXPORT: Fields = &[
    ("/meta/runtime/version", Part::Version),
    ("/meta/runtime/build", Part::Build),
    ("/version", Part::Version),
    ("/build", Part::Build),
];
const CHANGELOG_STAMP: Fields = &[
    ("/runtime/version", Part::Version),
    ("/runtime/build", Part::Build),
];
const ABOUT_DOCUMENT: Fields = &[("/version", Part::Version)];

/// How a file carries the stamp.
#[derive(Debug, Clone, Copy)]
enum Shape {
    CargoToml,
    CargoLock,
    Changelog,
    Json(Fields, Coverage),
}

/// One file to look at.
struct Target {
    path: PathBuf,
    display: String,
    shape: Shape,
    /// A required file that is missing is an error; an optional one is skipped.
    required: bool,
}

/// Reads every file the release touches and works out its new text.
pub fn plan(request: &Request<'_>) -> Result<StampPlan, PlanError> {
    let mut plan = StampPlan::default();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for target in targets(request, &mut plan.skipped, &mut problems) {
        let text = match std::fs::read(&target.path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(_) => {
                    problems.push((target.display, "is not UTF-8 text".to_string()));
                    continue;
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !target.required => {
                plan.skipped.push(skipped(&target.display, "not present"));
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let reason = match target.shape {
                    Shape::Changelog => {
                        "not present; --changelog-summary needs a changelog to append to (see README.md)"
                    }
                    _ => "not present; every release root has one (see README.md)",
                };
                problems.push((target.display, reason.to_string()));
                continue;
            }
            Err(e) => {
                problems.push((target.display, format!("cannot read: {e}")));
                continue;
            }
        };
        // Two routes to one file (a dashboard inside the root, a symlink) must not splice it twice.
        if let Ok(real) = std::fs::canonicalize(&target.path)
            && !seen.insert(real)
        {
            plan.skipped
                .push(skipped(&target.display, "already stamped by another entry"));
            continue;
        }
        match stamp_file(&target, &text, request) {
            Ok(Stamped::File(change, appended)) => {
                plan.files.push(*change);
                if let Some(entry) = appended {
                    plan.appended = Some(AppendedEntry {
                        file: target.display.clone(),
                        entry,
                    });
                }
            }
            Ok(Stamped::Skip(reason)) => plan.skipped.push(skipped(&target.display, &reason)),
            Err(problem) => problems.push((target.display, problem.to_string())),
        }
    }
    if problems.is_empty() {
        Ok(plan)
    } else {
        Err(PlanError { problems })
    }
}

fn skipped(file: &str, reason: &str) -> Skipped {
    Skipped {
        file: file.to_string(),
        reason: reason.to_string(),
    }
}

/// The files a release touches, in the order they are reported.
fn targets(
    request: &Request<'_>,
    skipped_out: &mut Vec<Skipped>,
    problems: &mut Vec<(String, String)>,
) -> Vec<Target> {
    let repo = |rel: &str, shape: Shape, required: bool| Target {
        path: request.root.join(rel),
        display: rel.to_string(),
        shape,
        required,
    };
    let mut targets = vec![
        repo("Cargo.toml", Shape::CargoToml, false),
        repo("Cargo.lock", Shape::CargoLock, false),
        repo(
            "runtime/version.json",
            Shape::Json(VERSION_FILE, Coverage::All),
            true,
        ),
        repo(
            "changelog/changelog.runtime.json",
            Shape::Changelog,
            request.changelog_summary.is_some(),
        ),
        repo(
            "runtime/exports/version.json",
            Shape::Json(VERSION_EXPORT, Coverage::AtLeastOne),
            false,
        ),
    ];
    for export in [
        "runtime/exports/changelog.runtime.json",
        "runtime/exports/changelog.json",
        "runtime/exports/about.public.json",
        "runtime/admin/about.admin.json",
    ] {
        targets.push(repo(
            export,
            Shape::Json(META_RUNTIME, Coverage::AtLeastOne),
            false,
        ));
    }
    if let Some(dashboard) = request.dashboard {
        dashboard_targets(dashboard, &mut targets, skipped_out, problems);
    }
    targets
}

/// `DIR/version.json` and every JSON document under `DIR/about/`.
fn dashboard_targets(
    dashboard: &Path,
    targets: &mut Vec<Target>,
    skipped_out: &mut Vec<Skipped>,
    problems: &mut Vec<(String, String)>,
) {
    let shown = |path: &Path| path.display().to_string();
    if !dashboard.is_dir() {
        let reason = if dashboard.exists() {
            "dashboard root is not a directory; nothing stamped there"
        } else {
            "dashboard root does not exist; nothing stamped there"
        };
        skipped_out.push(skipped(&shown(dashboard), reason));
        return;
    }
    let version = dashboard.join("version.json");
    targets.push(Target {
        display: shown(&version),
        path: version,
        shape: Shape::Json(VERSION_EXPORT, Coverage::AtLeastOne),
        required: false,
    });
    let about = dashboard.join("about");
    if !about.is_dir() {
        skipped_out.push(skipped(&shown(&about), "not present"));
        return;
    }
    let mut documents = Vec::new();
    if let Err(e) = json_documents(&about, &mut documents) {
        problems.push((shown(&about), format!("cannot list: {e}")));
        return;
    }
    documents.sort();
    targets.extend(documents.into_iter().map(|path| Target {
        display: shown(&path),
        path,
        shape: Shape::Json(ABOUT_DOCUMENT, Coverage::AtLeastOneElseSkip),
        required: true,
    }));
}

/// Every `*.json` file below `dir`, recursively.
fn json_documents(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            json_documents(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "json") {
            out.push(path);
        }
    }
    Ok(())
}

enum Stamped {
    File(Box<FileChange>, Option<Entry>),
    Skip(String),
}

/// Why one file cannot be stamped; reported with the file's name in front.
#[derive(Debug, thiserror::Error)]
enum FileProblem {
    #[error(transparent)]
    CargoToml(#[from] toml_spans::PackageVersionError),
    #[error("malformed JSON: {0}; fix the file (or restore it from version control) and run again")]
    MalformedJson(serde_json::Error),
    #[error(transparent)]
    Scan(#[from] crate::json_spans::ScanError),
    #[error("cannot locate {label} in the text")]
    Unlocated { label: String },
    #[error("{label} is {found}, not a string; it must hold the {part} as a string")]
    NotAString {
        label: String,
        found: serde_json::Value,
        part: &'static str,
    },
    #[error("has no {missing} field; expected {expected}")]
    MissingFields { missing: String, expected: String },
    #[error(
        "carries no runtime stamp: expected {expected}; regenerate it with `ss export` or remove it"
    )]
    NoStamp { expected: String },
    #[error(
        "is not a valid changelog ({count} problem(s), first: line {line}, {pointer}: {message}); run `ss validate-config` for the full list"
    )]
    InvalidChangelog {
        count: usize,
        line: usize,
        pointer: String,
        message: String,
    },
    #[error("{0:#}")]
    ChangelogUnreadable(anyhow::Error),
    #[error("is not a valid changelog: {0}")]
    ChangelogShape(serde_json::Error),
    #[error("cannot append the entry: {0:#}")]
    Append(anyhow::Error),
    #[error(transparent)]
    Overlap(#[from] text_edit::OverlapError),
}

fn stamp_file(target: &Target, text: &str, request: &Request<'_>) -> Result<Stamped, FileProblem> {
    let stamp = request.stamp;
    let mut appended = None;
    let (splices, changes) = match target.shape {
        Shape::CargoToml => {
            let range = toml_spans::package_version(text)?;
            toml_edit(text, range, "package.version", &stamp.version)
        }
        Shape::CargoLock => match toml_spans::lock_package_version(text, PACKAGE) {
            Some(range) => toml_edit(text, range, &format!("{PACKAGE}.version"), &stamp.version),
            None => return Ok(Stamped::Skip(format!("lists no {PACKAGE} package"))),
        },
        Shape::Json(fields, coverage) => {
            let (splices, changes) = json_edits(text, fields, coverage, stamp)?;
            if changes.is_empty() {
                return Ok(Stamped::Skip(format!(
                    "no {} field",
                    labels(fields).join(" or ")
                )));
            }
            (splices, changes)
        }
        Shape::Changelog => {
            let changelog = valid_changelog(&target.path, &target.display, text)?;
            let (mut splices, changes) = json_edits(text, CHANGELOG_STAMP, Coverage::All, stamp)?;
            if let Some(summary) = request.changelog_summary {
                let entry =
                    Entry::for_release(&changelog, &stamp.version, request.release_date, summary);
                splices.push(
                    changelog::append_splice(text, &changelog, &entry)
                        .map_err(FileProblem::Append)?,
                );
                appended = Some(entry);
            }
            (splices, changes)
        }
    };
    let new_text = text_edit::apply(text, &splices)?;
    Ok(Stamped::File(
        Box::new(FileChange {
            file: target.display.clone(),
            changes,
            path: target.path.clone(),
            old_text: text.to_string(),
            new_text,
        }),
        appended,
    ))
}

/// The changelog, once it passes every check `ss validate-config` makes of it.
fn valid_changelog(path: &Path, display: &str, text: &str) -> Result<Changelog, FileProblem> {
    let mut report = Report::default();
    changelog::check(path, display, None, &mut report).map_err(FileProblem::ChangelogUnreadable)?;
    if let Some(first) = report.errors.first() {
        return Err(FileProblem::InvalidChangelog {
            count: report.errors.len(),
            line: first.line,
            pointer: first.pointer.clone(),
            message: first.message.clone(),
        });
    }
    serde_json::from_str(text).map_err(FileProblem::ChangelogShape)
}

fn toml_edit(
    text: &str,
    range: std::ops::Range<usize>,
    field: &str,
    new: &str,
) -> (Vec<Splice>, Vec<FieldChange>) {
    let old = &text[range.clone()];
    let splices = if old == new {
        Vec::new()
    } else {
        vec![Splice {
            range,
            replacement: new.to_string(),
        }]
    };
    let change = FieldChange {
        field: field.to_string(),
        old: old.to_string(),
        new: new.to_string(),
    };
    (splices, vec![change])
}

/// Splices for the stamp fields present in a JSON text, and what each changes.
fn json_edits(
    text: &str,
    fields: Fields,
    coverage: Coverage,
    stamp: &VersionStamp,
) -> Result<(Vec<Splice>, Vec<FieldChange>), FileProblem> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(FileProblem::MalformedJson)?;
    let spans = JsonSpans::scan(text)?;
    let mut splices = Vec::new();
    let mut changes = Vec::new();
    let mut missing = Vec::new();
    for (pointer, part) in fields {
        let label = label(pointer);
        let new = match part {
            Part::Version => &stamp.version,
            Part::Build => &stamp.build,
        };
        match value.pointer(pointer) {
            None => missing.push(label),
            Some(serde_json::Value::String(old)) => {
                if old != new {
                    // The parser found a string here, so the scan did too.
                    let span = spans.get(pointer).ok_or_else(|| FileProblem::Unlocated {
                        label: label.clone(),
                    })?;
                    // A string always serializes.
                    let replacement = serde_json::Value::String(new.clone()).to_string();
                    splices.push(Splice {
                        range: span.range.clone(),
                        replacement,
                    });
                }
                changes.push(FieldChange {
                    field: label,
                    old: old.clone(),
                    new: new.clone(),
                });
            }
            Some(other) => {
                return Err(FileProblem::NotAString {
                    label,
                    found: other.clone(),
                    part: match part {
                        Part::Version => "version",
                        Part::Build => "build",
                    },
                });
            }
        }
    }
    match coverage {
        Coverage::All if !missing.is_empty() => Err(FileProblem::MissingFields {
            missing: missing.join(" or "),
            expected: labels(fields).join(", "),
        }),
        Coverage::AtLeastOne if changes.is_empty() => Err(FileProblem::NoStamp {
            expected: labels(fields).join(" or "),
        }),
        _ => Ok((splices, changes)),
    }
}

/// `/meta/runtime/version` → `meta.runtime.version`.
fn label(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

fn labels(fields: Fields) -> Vec<String> {
    fields.iter().map(|(pointer, _)| label(pointer)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> VersionStamp {
        VersionStamp {
            version: "0.4.0-beta.1".to_string(),
            build: "2026.11.23+001".to_string(),
        }
    }

    #[test]
    fn json_edits_change_only_the_stamp_values() {
        let text = "{\"meta\": {\"schema\": \"x\", \"runtime\": {\"build\":\"2026.11.22+001\",  \"version\" : \"0.3.0-alpha\"}},\n\t\"version\": \"other\"}";
        let (splices, changes) =
            json_edits(text, META_RUNTIME, Coverage::AtLeastOne, &stamp()).unwrap();
        let out = text_edit::apply(text, &splices).unwrap();
        assert_eq!(
            out,
            "{\"meta\": {\"schema\": \"x\", \"runtime\": {\"build\":\"2026.11.23+001\",  \"version\" : \"0.4.0-beta.1\"}},\n\t\"version\": \"other\"}"
        );
        assert_eq!(changes[0].field, "meta.runtime.version");
        assert_eq!(changes[0].old, "0.3.0-alpha");
    }

    #[test]
    fn json_edits_name_what_is_wrong() {
        let err =
            json_edits("{\"version\": 3}", VERSION_FILE, Coverage::All, &stamp()).unwrap_err();
        assert!(matches!(err, FileProblem::NotAString { .. }), "{err}");
        assert!(
            err.to_string().contains("version is 3, not a string"),
            "{err}"
        );
        let err = json_edits(
            "{\"version\": \"1.0.0\"}",
            VERSION_FILE,
            Coverage::All,
            &stamp(),
        )
        .unwrap_err();
        assert!(matches!(err, FileProblem::MissingFields { .. }), "{err}");
        assert!(err.to_string().contains("has no build field"), "{err}");
        let err = json_edits("{}", META_RUNTIME, Coverage::AtLeastOne, &stamp()).unwrap_err();
        assert!(matches!(err, FileProblem::NoStamp { .. }), "{err}");
        assert!(
            err.to_string().contains("carries no runtime stamp"),
            "{err}"
        );
        let err =
            json_edits("{\"a\": }", META_RUNTIME, Coverage::AtLeastOne, &stamp()).unwrap_err();
        assert!(matches!(err, FileProblem::MalformedJson(_)), "{err}");
        assert!(err.to_string().contains("malformed JSON"), "{err}");
        let (splices, changes) =
            json_edits("{}", ABOUT_DOCUMENT, Coverage::AtLeastOneElseSkip, &stamp()).unwrap();
        assert!(splices.is_empty() && changes.is_empty());
    }
}
