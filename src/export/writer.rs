//! Writing exports to disk: atomically, skipping unchanged payloads, then the manifest.
//!
//! A file is rewritten only when its document changed apart from `meta.generated_at`: the new document
//! is rendered with the old file's `generated_at` and compared byte for byte with what is on disk. So a
//! quiet runtime, or `ss export` run twice, leaves bytes and mtime alone and static hosts and pollers
//! see no churn. `exports/meta.json` lists every catalogue file present under the output directory with
//! its schema, visibility, size and SHA-256; it is itself skipped when nothing changed.

use super::catalogue::{self, CATALOGUE, MANIFEST};
use super::{ExportError, ExportFile};
use crate::atomic;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;

/// What [`write_all`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WriteSummary {
    /// Files written because they were new or changed (the manifest included when it changed).
    pub written: Vec<String>,
    /// Files left exactly as they were.
    pub unchanged: Vec<String>,
}

/// Renders a document as the bytes written to disk: pretty JSON and a final newline.
pub fn render(doc: &Value) -> Vec<u8> {
    // A serde_json::Value always serializes.
    let mut bytes = serde_json::to_vec_pretty(doc).expect("a JSON value serializes");
    bytes.push(b'\n');
    bytes
}

/// The `meta.generated_at` of a document, if any.
fn generated_at(doc: &Value) -> Option<&Value> {
    doc.get("meta")?.get("generated_at")
}

/// Whether `doc` equals the file at `path` apart from `meta.generated_at`.
fn unchanged(path: &Path, doc: &Value) -> bool {
    let Ok(existing) = std::fs::read(path) else {
        return false;
    };
    let Ok(old) = serde_json::from_slice::<Value>(&existing) else {
        return false;
    };
    let mut candidate = doc.clone();
    if let (Some(old_at), Some(meta)) = (
        generated_at(&old).cloned(),
        candidate.get_mut("meta").and_then(Value::as_object_mut),
    ) {
        meta.insert("generated_at".into(), old_at);
    }
    render(&candidate) == existing
}

/// Writes `doc` to `out_dir/name` unless unchanged; records the outcome in `summary`.
fn write_one(
    out_dir: &Path,
    name: &str,
    doc: &Value,
    summary: &mut WriteSummary,
) -> Result<(), ExportError> {
    let path = out_dir.join(name);
    if unchanged(&path, doc) {
        summary.unchanged.push(name.to_string());
    } else {
        atomic::write(&path, &render(doc)).map_err(|e| ExportError::io(&path, e))?;
        summary.written.push(name.to_string());
    }
    Ok(())
}

/// Writes `files` under `out_dir`, then the manifest. `files` may be a subset of the catalogue
/// (`ss export --only`); the manifest still lists every catalogue file found on disk. The manifest's
/// `meta` is that of the first file (all files of one build share `generated_at` and the version).
///
/// A file that cannot be written (a full disk, a permission) does not stop the others: every file
/// is tried, and the ones that failed are named together in [`ExportError::NotWritten`]. The
/// manifest describes what is on disk, so it stays true either way.
pub fn write_all(out_dir: &Path, files: &[ExportFile]) -> Result<WriteSummary, ExportError> {
    let mut summary = WriteSummary::default();
    let mut failed = Vec::new();
    let mut write = |name: &str, doc: &Value, summary: &mut WriteSummary| match write_one(
        out_dir, name, doc, summary,
    ) {
        Ok(()) => Ok(()),
        Err(ExportError::Io { source, .. }) => {
            failed.push((name.to_string(), source));
            Ok(())
        }
        Err(e) => Err(e),
    };
    for file in files.iter().filter(|f| f.name != MANIFEST.name) {
        write(file.name, &file.payload, &mut summary)?;
    }
    if let Some(first) = files.first() {
        match manifest(out_dir, first) {
            Ok(manifest) => write(MANIFEST.name, &manifest, &mut summary)?,
            Err(ExportError::Io { source, .. }) => failed.push((MANIFEST.name.to_string(), source)),
            Err(e) => return Err(e),
        }
    }
    if failed.is_empty() {
        Ok(summary)
    } else {
        Err(ExportError::NotWritten {
            dir: out_dir.to_path_buf(),
            failed,
        })
    }
}

/// SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The manifest document for the catalogue files present under `out_dir`.
fn manifest(out_dir: &Path, template: &ExportFile) -> Result<Value, ExportError> {
    let mut entries = Vec::new();
    for entry in CATALOGUE.iter().filter(|e| **e != MANIFEST) {
        let path = out_dir.join(entry.name);
        match std::fs::read(&path) {
            Ok(bytes) => entries.push(json!({
                "name": entry.name,
                "schema": entry.schema,
                "visibility": entry.visibility.as_str(),
                "bytes": bytes.len(),
                "sha256": sha256_hex(&bytes),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ExportError::io(&path, e)),
        }
    }
    let mut meta = template
        .payload
        .get("meta")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Some(meta) = meta.as_object_mut() {
        meta.insert("schema".into(), json!(MANIFEST.schema));
        meta.insert("visibility".into(), json!(MANIFEST.visibility.as_str()));
    }
    Ok(json!({"meta": meta, "files": entries}))
}

/// The catalogue entries a manifest document lists. Visibility always comes from the catalogue, never
/// from the manifest file, so an edited manifest cannot make an internal file public.
pub fn manifest_entries(doc: &Value) -> Vec<catalogue::Entry> {
    doc.get("files")
        .and_then(Value::as_array)
        .map(|files| {
            files
                .iter()
                .filter_map(|f| catalogue::by_name(f.get("name")?.as_str()?))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::Visibility;

    fn file(name: &'static str) -> ExportFile {
        ExportFile {
            name,
            visibility: Visibility::Public,
            schema: "streamsuites.test.v1",
            payload: json!({"meta": {"generated_at": "2026-01-01T00:00:00Z"}, "n": 1}),
        }
    }

    #[test]
    fn a_file_that_cannot_be_written_does_not_stop_the_others_and_is_named() {
        let dir = tempfile::tempdir().unwrap();
        // `exports` is a plain file, so nothing can be written below it (even as root).
        std::fs::write(dir.path().join("exports"), "in the way").unwrap();
        let err = write_all(
            dir.path(),
            &[file("exports/a.json"), file("signals/b.json")],
        )
        .unwrap_err();
        let ExportError::NotWritten { failed, .. } = &err else {
            panic!("{err}")
        };
        let names: Vec<&str> = failed.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["exports/a.json", MANIFEST.name]);
        assert!(
            dir.path().join("signals/b.json").is_file(),
            "the other file was written"
        );
        let message = err.to_string();
        assert!(
            message.starts_with("2 export files could not be written under ")
                && message.contains("exports/a.json (")
                && message.contains("hint:"),
            "{message}"
        );
    }
}
