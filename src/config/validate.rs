//! Checking config files: syntax, schema, then semantics, collecting every problem found.
//!
//! [`check`] never stops at the first error: an operator fixing a file wants the whole list. Each
//! problem becomes a [`Diagnostic`] with the file, the 1-based line and column, the JSON pointer and a
//! message that says how to fix it. Files that fail syntax or schema checks are left out of the
//! semantic checks, which would only repeat the same problem in other words.

use super::files::ConfigKind;
use super::spans::{Position, SpanIndex, escape_token};
use super::{Config, semantic};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// JSON pointer of the offending value; `/` for the whole document.
    pub pointer: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.column, self.pointer, self.message
        )
    }
}

/// The result of checking a set of files.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Report {
    /// Files checked, as given.
    pub files: Vec<String>,
    pub errors: Vec<Diagnostic>,
}

impl Report {
    pub fn valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// Files with at least one error.
    pub fn files_with_errors(&self) -> usize {
        self.errors
            .iter()
            .map(|d| d.file.as_str())
            .collect::<BTreeSet<_>>()
            .len()
    }
}

/// A file read and parsed, with what is needed to place diagnostics in it.
struct Loaded {
    display: String,
    kind: ConfigKind,
    spans: SpanIndex,
    /// Only files that passed syntax and schema checks feed semantic checks.
    sound: bool,
}

/// Checks `inputs`. Files of kinds not among the inputs are read from `context_dir` (when given and
/// present) only to resolve cross-file references; problems in those are not reported.
pub fn check(inputs: &[(PathBuf, ConfigKind)], context_dir: Option<&Path>) -> (Report, Config) {
    let mut report = Report::default();
    let mut config = Config::default();
    let mut loaded = Vec::new();
    let mut known = BTreeSet::new();

    for (path, kind) in inputs {
        let display = path.display().to_string();
        report.files.push(display.clone());
        let (spans, sound) = match check_one(path, *kind, &display, &mut report, &mut config) {
            Some(spans) => (spans, true),
            None => (SpanIndex::default(), false),
        };
        if sound {
            known.insert(*kind);
        }
        loaded.push(Loaded {
            display,
            kind: *kind,
            spans,
            sound,
        });
    }

    if let Some(dir) = context_dir {
        for kind in ConfigKind::RUNTIME {
            if inputs.iter().any(|(_, k)| *k == kind) {
                continue;
            }
            let path = dir.join(kind.file_name());
            if let Ok(text) = std::fs::read_to_string(&path)
                && apply_typed(kind, &text, &mut config).is_ok()
            {
                known.insert(kind);
            }
        }
    }

    for finding in semantic::check(&config, &known) {
        if let Some(file) = loaded.iter().find(|l| l.kind == finding.kind && l.sound) {
            let pos = file.spans.position(&finding.pointer);
            report.errors.push(diagnostic(
                &file.display,
                pos,
                &finding.pointer,
                finding.message,
            ));
        }
    }
    report.errors.sort();
    report.errors.dedup();
    (report, config)
}

/// Syntax and schema checks of one file; on success, its typed value is stored in `config`.
fn check_one(
    path: &Path,
    kind: ConfigKind,
    display: &str,
    report: &mut Report,
    config: &mut Config,
) -> Option<SpanIndex> {
    let not_found = format!(
        "file not found; create it (see the config reference in README.md) or copy it from fixtures/config/valid/{}",
        kind.file_name()
    );
    let (text, _, spans) = load_checked(path, display, kind.validator(), &not_found, report)?;
    if let Err(e) = apply_typed(kind, &text, config) {
        report.errors.push(diagnostic(
            display,
            Position {
                line: e.line().max(1),
                column: e.column().max(1),
            },
            "",
            strip_position(&e.to_string()).to_string(),
        ));
        return None;
    }
    Some(spans)
}

/// Deserializes `text` as `kind` into its slot in `config`.
fn apply_typed(kind: ConfigKind, text: &str, config: &mut Config) -> serde_json::Result<()> {
    match kind {
        ConfigKind::System => config.system = serde_json::from_str(text)?,
        ConfigKind::Creators => config.creators = serde_json::from_str(text)?,
        ConfigKind::Platforms => config.platforms = serde_json::from_str(text)?,
        ConfigKind::Triggers => config.triggers = serde_json::from_str(text)?,
        ConfigKind::Discord => config.discord = serde_json::from_str(text)?,
        ConfigKind::RateLimits => config.ratelimits = serde_json::from_str(text)?,
    }
    Ok(())
}

pub(crate) fn diagnostic(file: &str, pos: Position, pointer: &str, message: String) -> Diagnostic {
    Diagnostic {
        file: file.to_string(),
        line: pos.line.max(1),
        column: pos.column.max(1),
        pointer: if pointer.is_empty() {
            "/".to_string()
        } else {
            pointer.to_string()
        },
        message,
    }
}

/// The pointer and message of a schema error, pointing at the offending key where the error is about
/// a key (unexpected property, bad property name) and listing every allowed value of an enum.
fn locate_schema_error(error: &jsonschema::ValidationError<'_>) -> (String, String) {
    use jsonschema::error::ValidationErrorKind as Kind;
    let at = error.instance_path().to_string();
    match error.kind() {
        Kind::AdditionalProperties { unexpected } if !unexpected.is_empty() => {
            let key = &unexpected[0];
            (
                format!("{at}/{}", escape_token(key)),
                format!(
                    "unknown key {key:?}; check its spelling against the config reference in README.md"
                ),
            )
        }
        Kind::UnevaluatedProperties { unexpected } if !unexpected.is_empty() => {
            let key = &unexpected[0];
            (
                format!("{at}/{}", escape_token(key)),
                format!(
                    "unknown key {key:?} for this kind or type; check the config reference in README.md"
                ),
            )
        }
        Kind::FalseSchema => {
            let key = at.rsplit('/').next().unwrap_or_default().to_string();
            (
                at,
                format!(
                    "key {key:?} does not belong here: it is for another kind or type; remove it"
                ),
            )
        }
        Kind::PropertyNames { error: inner } => {
            let key = inner.instance().as_str().unwrap_or_default().to_string();
            (
                format!("{at}/{}", escape_token(&key)),
                format!(
                    "key {key:?} is not allowed here: {}",
                    locate_schema_error(inner).1
                ),
            )
        }
        Kind::Enum { options } => {
            let allowed = options
                .as_array()
                .map(|o| {
                    o.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            (
                at,
                format!("{} is not allowed; use one of {allowed}", error.instance()),
            )
        }
        _ => (at, schema_message(&error.to_string())),
    }
}

/// serde_json appends " at line L column C"; the diagnostic carries those separately.
fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |i| &message[..i])
}

/// Schema messages can quote whole sub-documents; keep them to one readable line.
fn schema_message(message: &str) -> String {
    const MAX: usize = 200;
    let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > MAX {
        let cut: String = one_line.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

/// Reads, parses and schema-checks one JSON file that is not a config file (the changelog), recording
/// every problem in `report` the way [`check`] records config problems. Returns the text, the parsed
/// value and its span index when the file passed both checks.
pub(crate) fn load_checked(
    path: &Path,
    display: &str,
    validator: &jsonschema::Validator,
    not_found: &str,
    report: &mut Report,
) -> Option<(String, serde_json::Value, SpanIndex)> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            let message = if e.kind() == std::io::ErrorKind::NotFound {
                not_found.to_string()
            } else {
                format!("cannot read the file: {e}")
            };
            report
                .errors
                .push(diagnostic(display, Position::default(), "", message));
            return None;
        }
    };
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            let pos = Position {
                line: e.line().max(1),
                column: e.column().max(1),
            };
            let message = format!("malformed JSON: {}", strip_position(&e.to_string()));
            report.errors.push(diagnostic(display, pos, "", message));
            return None;
        }
    };
    let spans = SpanIndex::build(&text);
    let before = report.errors.len();
    for error in validator.iter_errors(&value) {
        let (pointer, message) = locate_schema_error(&error);
        let position = spans.position(&pointer);
        report
            .errors
            .push(diagnostic(display, position, &pointer, message));
    }
    (report.errors.len() == before).then_some((text, value, spans))
}
