//! The changelog and roadmap: files kept in `changelog/` and passed through as the dashboards read them.
//!
//! `changelog/changelog.runtime.json` (`{"entries": [...]}`) and `changelog/roadmap.json`
//! (`{"items": [...]}`) are owned by the release tooling; here they are only read. A missing file
//! exports an empty list; a malformed one is an error naming the file, never a silently empty export.

use super::{Body, body};
use crate::export::{ExportError, Inputs};
use serde_json::{Value, json};
use std::path::Path;

/// The array under `key` in the JSON file at `path`, or an empty array when the file does not exist.
fn list(path: &Path, key: &str) -> Result<Value, ExportError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(json!([])),
        Err(e) => return Err(ExportError::io(path, e)),
    };
    let invalid = |detail: String| ExportError::Input {
        path: path.to_path_buf(),
        detail,
        hint: format!("the file must be a JSON object with an array \"{key}\""),
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        invalid(format!(
            "invalid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    match value.get(key) {
        Some(Value::Array(items)) => Ok(Value::Array(items.clone())),
        _ => Err(invalid(format!("/{key}: missing or not an array"))),
    }
}

pub(super) fn changelog(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let path = inputs.root.join("changelog").join("changelog.runtime.json");
    Ok(body(json!({"entries": list(&path, "entries")?})))
}

pub(super) fn roadmap(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let path = inputs.root.join("changelog").join("roadmap.json");
    Ok(body(json!({"items": list(&path, "items")?})))
}
