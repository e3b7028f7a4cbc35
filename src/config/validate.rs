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
    /// Problems that do not make a file invalid (a byte order mark); their messages start with
    /// `warning:`.
    pub warnings: Vec<Diagnostic>,
}

/// Config files larger than this are refused before they are parsed: real ones are a few KiB, and
/// parsing, schema-checking and indexing cost several times a file's size in memory.
pub const MAX_CONFIG_BYTES: u64 = 8 * 1024 * 1024;

/// What a path is when it is not a regular file, for messages ("is a directory", ...).
pub fn not_a_regular_file(meta: &std::fs::Metadata) -> Option<&'static str> {
    let kind = meta.file_type();
    if kind.is_file() {
        return None;
    }
    if kind.is_dir() {
        return Some(
            "is a directory, not a config file; name the files inside it, or pass --root DIR to check a runtime root",
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Some(
                "is a FIFO (named pipe), not a regular file; save the config to a file and check that",
            );
        }
        if kind.is_char_device() {
            return Some("is a character device (such as /dev/null), not a config file");
        }
        if kind.is_block_device() {
            return Some("is a block device, not a config file");
        }
        if kind.is_socket() {
            return Some("is a socket, not a config file");
        }
    }
    Some("is not a regular file")
}

/// A config file's text: checked to be a regular file under [`MAX_CONFIG_BYTES`], read as UTF-8,
/// with a leading byte order mark removed (and a warning message returned). `Err` is the message
/// of the diagnostic to report.
pub(crate) fn read_text(path: &Path, not_found: &str) -> Result<(String, Option<String>), String> {
    use std::io::Read;
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found.to_string()),
        Err(e) => return Err(format!("cannot read the file: {e}")),
    };
    if let Some(what) = not_a_regular_file(&meta) {
        return Err(what.to_string());
    }
    let too_big = |size: u64| {
        format!(
            "the file is {size} bytes, over the {MAX_CONFIG_BYTES}-byte (8 MiB) limit for a config file; \
             config files are a few KiB, so check that this is the file you meant"
        )
    };
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read the file: {e}"))?;
    // The file may have grown since the metadata was read.
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    let mut text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "the file is not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
            e.utf8_error().valid_up_to()
        )
    })?;
    let warning = text.starts_with('\u{feff}').then(|| {
        text.drain(..'\u{feff}'.len_utf8());
        "warning: the file starts with a UTF-8 byte order mark (BOM); it was ignored, but other JSON \
         tools reject it; remove it with `sed -i '1s/^\\xEF\\xBB\\xBF//' FILE` or save the file as \
         UTF-8 without BOM"
            .to_string()
    });
    Ok((text, warning))
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
    check_in_root(inputs, context_dir, None)
}

/// [`check`], with the platforms' checks against `state_dir` (a root's `runtime/state`: stored
/// logins) when given.
pub fn check_in_root(
    inputs: &[(PathBuf, ConfigKind)],
    context_dir: Option<&Path>,
    state_dir: Option<&Path>,
) -> (Report, Config) {
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
            if let Ok((text, _)) = read_text(&path, "")
                && apply_typed(kind, &text, &mut config).is_ok()
            {
                known.insert(kind);
            }
        }
    }

    for finding in semantic::check(&config, &known, state_dir) {
        if let Some(file) = loaded.iter().find(|l| l.kind == finding.kind && l.sound) {
            let pos = file.spans.position(&finding.pointer);
            let found = diagnostic(&file.display, pos, &finding.pointer, finding.message);
            if finding.warning {
                report.warnings.push(found);
            } else {
                report.errors.push(found);
            }
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
    let (value, spans) = load_checked(path, display, kind.validator(), &not_found, report)?;
    drop(value);
    if let Err(e) = apply_typed(kind, spans.text(), config) {
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
    if super::comments::may_have_comments(text) {
        let mut value: serde_json::Value = serde_json::from_str(text)?;
        super::comments::strip(&mut value);
        return apply_value(kind, value, config);
    }
    match kind {
        ConfigKind::System => config.system = serde_json::from_str(text)?,
        ConfigKind::Creators => config.creators = serde_json::from_str(text)?,
        ConfigKind::Platforms => config.platforms = serde_json::from_str(text)?,
        ConfigKind::Triggers => config.triggers = serde_json::from_str(text)?,
        ConfigKind::Discord => config.discord = serde_json::from_str(text)?,
        ConfigKind::RateLimits => config.ratelimits = serde_json::from_str(text)?,
        ConfigKind::Posting => config.posting = serde_json::from_str(text)?,
        ConfigKind::Moderation => config.moderation = serde_json::from_str(text)?,
        ConfigKind::Obs => config.obs = serde_json::from_str(text)?,
        ConfigKind::Extensions => config.extensions = serde_json::from_str(text)?,
    }
    Ok(())
}

/// [`apply_typed`] from a value (comments already stripped).
fn apply_value(
    kind: ConfigKind,
    value: serde_json::Value,
    config: &mut Config,
) -> serde_json::Result<()> {
    use serde_json::from_value;
    match kind {
        ConfigKind::System => config.system = from_value(value)?,
        ConfigKind::Creators => config.creators = from_value(value)?,
        ConfigKind::Platforms => config.platforms = from_value(value)?,
        ConfigKind::Triggers => config.triggers = from_value(value)?,
        ConfigKind::Discord => config.discord = from_value(value)?,
        ConfigKind::RateLimits => config.ratelimits = from_value(value)?,
        ConfigKind::Posting => config.posting = from_value(value)?,
        ConfigKind::Moderation => config.moderation = from_value(value)?,
        ConfigKind::Obs => config.obs = from_value(value)?,
        ConfigKind::Extensions => config.extensions = from_value(value)?,
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
        Kind::AnyOf { context } => {
            // A branch whose error lies inside the value is the form that was meant (an object
            // with a bad field): its own error says what is wrong.
            if let Some(inner) = context
                .iter()
                .filter_map(|branch| branch.first())
                .find(|e| e.instance_path().to_string() != at)
            {
                return locate_schema_error(inner);
            }
            let forms: Vec<String> = context
                .iter()
                .filter_map(|branch| branch.first())
                .flat_map(|e| match e.kind() {
                    Kind::Enum { options } => options
                        .as_array()
                        .map(|o| o.iter().map(ToString::to_string).collect())
                        .unwrap_or_default(),
                    Kind::Type { kind } => {
                        let name = match kind {
                            jsonschema::error::TypeKind::Single(t) => t.to_string(),
                            jsonschema::error::TypeKind::Multiple(_) => "value".to_string(),
                        };
                        let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
                            "an"
                        } else {
                            "a"
                        };
                        vec![format!("{article} {name}")]
                    }
                    _ => Vec::new(),
                })
                .collect();
            if forms.is_empty() {
                return (
                    at,
                    schema_message(&error.to_string(), &error.instance().to_string()),
                );
            }
            (
                at,
                format!(
                    "{} is not allowed; use one of {}",
                    error.instance(),
                    match forms.split_last() {
                        Some((last, rest)) if !rest.is_empty() =>
                            format!("{} or {last}", rest.join(", ")),
                        _ => forms.join(", "),
                    }
                ),
            )
        }
        _ => (
            at,
            schema_message(&error.to_string(), &error.instance().to_string()),
        ),
    }
}

/// serde_json appends " at line L column C"; the diagnostic carries those separately.
fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |i| &message[..i])
}

/// Schema messages quote the offending value, which can be a whole sub-document: shorten the value,
/// never the reason after it ("... is not of type \"array\""), and keep it to one line.
fn schema_message(message: &str, instance: &str) -> String {
    /// Characters of an offending value kept in a message.
    const VALUE_MAX: usize = 60;
    let message = if instance.chars().count() > VALUE_MAX && message.contains(instance) {
        let cut: String = instance.chars().take(VALUE_MAX).collect();
        message.replacen(instance, &format!("{cut}…"), 1)
    } else {
        message.to_string()
    };
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads, parses and schema-checks one JSON file that is not a config file (the changelog), recording
/// every problem in `report` the way [`check`] records config problems. Returns the parsed value and
/// the span index (which holds the text) when the file passed both checks.
pub(crate) fn load_checked(
    path: &Path,
    display: &str,
    validator: &jsonschema::Validator,
    not_found: &str,
    report: &mut Report,
) -> Option<(serde_json::Value, SpanIndex)> {
    let text = match read_text(path, not_found) {
        Ok((text, warning)) => {
            if let Some(message) = warning {
                report
                    .warnings
                    .push(diagnostic(display, Position::default(), "", message));
            }
            text
        }
        Err(message) => {
            report
                .errors
                .push(diagnostic(display, Position::default(), "", message));
            return None;
        }
    };
    let mut value: serde_json::Value = match serde_json::from_str(&text) {
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
    super::comments::strip(&mut value);
    let before = report.errors.len();
    let found: Vec<(String, String)> = validator
        .iter_errors(&value)
        .map(|error| locate_schema_error(&error))
        .collect();
    // Positions need the span index (built on first lookup), and it needs its own copy of the text
    // only when there is something to place.
    let spans = SpanIndex::new(if found.is_empty() {
        String::new()
    } else {
        text.clone()
    });
    for (pointer, message) in found {
        let position = spans.position(&pointer);
        report
            .errors
            .push(diagnostic(display, position, &pointer, message));
    }
    (report.errors.len() == before).then(|| (value, SpanIndex::new(text)))
}
