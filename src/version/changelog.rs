//! The runtime changelog, `changelog/changelog.runtime.json`: its model, its checks, and new entries.
//!
//! The changelog is what dashboards show as release notes, and what operators cite ("fixed in
//! rt-0007"), so published entries are append-only: an entry is never edited or removed and its id is
//! never reused. [`check`] validates a changelog file against its embedded schema, checks that ids are
//! unique, dates real and versions semantic, and, given a base (an earlier published copy), that every
//! base entry is still present and unchanged. Problems are [`Diagnostic`]s placed by JSON pointer, so
//! `ss validate-config` prints them like config problems. [`append_splice`] adds an entry as a text
//! splice, so `ss update-version` keeps every existing byte of the file.

use crate::config::validate::{Diagnostic, Report, diagnostic, load_checked};
use crate::json_spans::JsonSpans;
use crate::version::VersionStamp;
use crate::version::text_edit::Splice;
use anyhow::Context;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The value of the changelog's `schema` field.
pub const FORMAT: &str = "streamsuites.changelog.runtime.v1";

/// The embedded JSON Schema text.
pub const SCHEMA_TEXT: &str = include_str!("../../schemas/changelog.runtime.schema.json");

/// Entry ids: this prefix, then at least four digits.
pub const ID_PREFIX: &str = "rt-";

/// The whole changelog file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changelog {
    pub schema: String,
    /// The release stamp, kept equal to `runtime/version.json` by `ss update-version`.
    pub runtime: VersionStamp,
    /// Oldest first.
    pub entries: Vec<Entry>,
}

/// One release note. Field order here is the order written into the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub version: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    pub scope: String,
    pub summary: String,
    pub items: Vec<String>,
}

/// `<root>/changelog/changelog.runtime.json`.
pub fn changelog_file(root: &Path) -> PathBuf {
    root.join("changelog").join("changelog.runtime.json")
}

/// Whether a file name names a changelog: `changelog.runtime.json`, `changelog.old.json`, ...
pub fn is_changelog_name(file_name: &str) -> bool {
    file_name.starts_with("changelog.") && file_name.ends_with(".json")
}

/// The compiled schema validator, built once per process.
pub fn validator() -> &'static jsonschema::Validator {
    static CELL: OnceLock<jsonschema::Validator> = OnceLock::new();
    CELL.get_or_init(|| {
        // The schema is part of the binary and covered by tests, so a failure here is a build defect.
        let schema: serde_json::Value =
            serde_json::from_str(SCHEMA_TEXT).expect("embedded changelog schema is valid JSON");
        jsonschema::validator_for(&schema).expect("embedded changelog schema compiles")
    })
}

/// The id for a new entry: one more than the highest id number in use, so ids are never reused.
pub fn next_id(entries: &[Entry]) -> String {
    let highest = entries
        .iter()
        .filter_map(|e| e.id.strip_prefix(ID_PREFIX)?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    format!("{ID_PREFIX}{:04}", highest + 1)
}

impl Entry {
    /// A new `runtime`-scoped entry for a release, with the next free id and no items.
    pub fn for_release(
        changelog: &Changelog,
        version: &str,
        date: NaiveDate,
        summary: &str,
    ) -> Entry {
        Entry {
            id: next_id(&changelog.entries),
            version: version.to_string(),
            date: date.format("%Y-%m-%d").to_string(),
            scope: "runtime".to_string(),
            summary: summary.trim().to_string(),
            items: Vec::new(),
        }
    }
}

/// The splice that appends `entry` to the `entries` array of `text` (a changelog whose parsed form is
/// `changelog`), laid out like the entries already there: one per line with their indentation, or
/// inline when the array is written on one line.
pub fn append_splice(text: &str, changelog: &Changelog, entry: &Entry) -> anyhow::Result<Splice> {
    let spans = JsonSpans::scan(text).context("locating the entries array")?;
    let array = spans
        .get("/entries")
        .context("no entries array to append to")?;
    let array_indent = leading_whitespace(text, array.range.start);
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let Some(last_index) = changelog.entries.len().checked_sub(1) else {
        let unit = "  ";
        let entry_indent = format!("{array_indent}{unit}");
        let body = render(entry, unit, &entry_indent, newline)?;
        return Ok(Splice {
            range: array.range.clone(),
            replacement: format!("[{newline}{entry_indent}{body}{newline}{array_indent}]"),
        });
    };
    let last = spans
        .get(&format!("/entries/{last_index}"))
        .context("locating the last entry")?;
    let entry_indent = leading_whitespace(text, last.range.start);
    let starts_line = entry_indent.len() == last.range.start - line_start(text, last.range.start);
    let replacement = if starts_line {
        let unit = entry_indent
            .strip_prefix(array_indent)
            .filter(|u| !u.is_empty())
            .unwrap_or("  ");
        let body = render(entry, unit, entry_indent, newline)?;
        format!(",{newline}{entry_indent}{body}")
    } else {
        format!(
            ", {}",
            serde_json::to_string(entry).context("rendering the entry")?
        )
    };
    Ok(Splice {
        range: last.range.end..last.range.end,
        replacement,
    })
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// The spaces and tabs that start the line holding byte `at`.
fn leading_whitespace(text: &str, at: usize) -> &str {
    let start = line_start(text, at);
    let line = &text[start..at];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// `entry` pretty-printed with `unit` per level, its lines after the first indented by `indent`.
fn render(entry: &Entry, unit: &str, indent: &str, newline: &str) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(unit.as_bytes());
    let mut serializer = serde_json::Serializer::with_formatter(&mut buf, formatter);
    entry
        .serialize(&mut serializer)
        .context("rendering the entry")?;
    let pretty = String::from_utf8(buf).context("rendering the entry")?;
    Ok(pretty.replace('\n', &format!("{newline}{indent}")))
}

/// Checks the changelog at `path` (shown as `display`), adding every problem to `report`. With a
/// `base`, also checks that every entry of the base is present and unchanged. A base that cannot be
/// read or is not a valid changelog is an error: the comparison would mean nothing.
pub fn check(
    path: &Path,
    display: &str,
    base: Option<&Path>,
    report: &mut Report,
) -> anyhow::Result<()> {
    report.files.push(display.to_string());
    let not_found = "file not found; create it (see the changelog section of README.md)";
    let Some((value, spans)) = load_checked(path, display, validator(), not_found, report) else {
        return Ok(());
    };
    let changelog: Changelog = match serde_json::from_value(value) {
        Ok(changelog) => changelog,
        Err(e) => {
            let here = spans.position("");
            report
                .errors
                .push(diagnostic(display, here, "", e.to_string()));
            return Ok(());
        }
    };
    let place = |pointer: String, message: String| {
        diagnostic(display, spans.position(&pointer), &pointer, message)
    };
    report.errors.extend(
        entry_problems(&changelog)
            .into_iter()
            .map(|(p, m)| place(p, m)),
    );
    if let Some(base) = base {
        let published = load_base(base)?;
        let base_name = base.display().to_string();
        report.errors.extend(
            append_only_problems(&published, &changelog, &base_name)
                .into_iter()
                .map(|(p, m)| place(p, m)),
        );
    }
    report.errors.sort();
    Ok(())
}

/// Loads a published changelog to compare against.
fn load_base(base: &Path) -> anyhow::Result<Changelog> {
    let mut base_report = Report::default();
    let display = base.display().to_string();
    let not_found = "file not found; pass the path of an earlier published changelog";
    let loaded = load_checked(base, &display, validator(), not_found, &mut base_report);
    match (loaded, base_report.errors.first()) {
        (Some((value, _)), None) => serde_json::from_value(value)
            .with_context(|| format!("{display}: the --changelog-base file is not a changelog")),
        (_, first) => Err(anyhow::anyhow!(
            "the --changelog-base file is not a valid changelog: {}\n  hint: pass an earlier published copy of changelog.runtime.json (e.g. `git show v0.3.0:changelog/changelog.runtime.json > base.json`)",
            first.map_or_else(|| display.clone(), Diagnostic::to_string)
        )),
    }
}

/// Problems within one changelog: duplicate ids, impossible dates, versions that are not semver.
fn entry_problems(changelog: &Changelog) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut first_use: HashMap<&str, usize> = HashMap::new();
    for (index, entry) in changelog.entries.iter().enumerate() {
        match first_use.get(entry.id.as_str()) {
            Some(first) => problems.push((
                format!("/entries/{index}/id"),
                format!(
                    "duplicate id {:?}, first used by /entries/{first}; ids are never reused: give this entry the next free id ({})",
                    entry.id,
                    next_id(&changelog.entries)
                ),
            )),
            None => {
                first_use.insert(&entry.id, index);
            }
        }
        if NaiveDate::parse_from_str(&entry.date, "%Y-%m-%d").is_err() {
            problems.push((
                format!("/entries/{index}/date"),
                format!("{:?} is not a calendar date (YYYY-MM-DD)", entry.date),
            ));
        }
        if let Err(e) = crate::version::release::parse_version(&entry.version) {
            problems.push((format!("/entries/{index}/version"), e.to_string()));
        }
    }
    problems
}

/// Entries of `published` that `current` removed or changed, placed in `current`.
fn append_only_problems(
    published: &Changelog,
    current: &Changelog,
    base_name: &str,
) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for old in &published.entries {
        let found = current
            .entries
            .iter()
            .enumerate()
            .find(|(_, e)| e.id == old.id);
        match found {
            None => problems.push((
                "/entries".to_string(),
                format!(
                    "entry {:?} ({} of {}) was published in {base_name} and has been removed; published entries are append-only: restore it",
                    old.id, old.version, old.date
                ),
            )),
            Some((index, new)) if new != old => {
                let field = changed_field(old, new);
                problems.push((
                    format!("/entries/{index}/{field}"),
                    format!(
                        "entry {:?} was published in {base_name} and its {field} has changed; published entries are append-only: restore it and add a new entry instead",
                        old.id
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    problems
}

/// The first field (in file order) that differs between two versions of an entry.
fn changed_field(old: &Entry, new: &Entry) -> &'static str {
    if old.version != new.version {
        "version"
    } else if old.date != new.date {
        "date"
    } else if old.scope != new.scope {
        "scope"
    } else if old.summary != new.summary {
        "summary"
    } else {
        "items"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../changelog/changelog.runtime.json");

    fn shipped() -> Changelog {
        serde_json::from_str(SHIPPED).unwrap()
    }

    fn check_text(text: &str, base: Option<&str>) -> Report {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("changelog.runtime.json");
        std::fs::write(&path, text).unwrap();
        let base_path = base.map(|b| {
            let p = dir.path().join("base.json");
            std::fs::write(&p, b).unwrap();
            p
        });
        let mut report = Report::default();
        check(
            &path,
            "changelog.runtime.json",
            base_path.as_deref(),
            &mut report,
        )
        .unwrap();
        report
    }

    #[test]
    fn shipped_changelog_is_valid_and_matches_the_runtime_stamp() {
        assert!(check_text(SHIPPED, Some(SHIPPED)).valid());
        let stamp: VersionStamp =
            serde_json::from_str(include_str!("../../runtime/version.json")).unwrap();
        assert_eq!(shipped().runtime, stamp);
    }

    #[test]
    fn next_id_follows_the_highest_id_in_use() {
        let mut log = shipped();
        assert_eq!(next_id(&log.entries), "rt-0002");
        log.entries[0].id = "rt-0041".to_string();
        assert_eq!(next_id(&log.entries), "rt-0042");
        assert_eq!(next_id(&[]), "rt-0001");
    }

    #[test]
    fn appended_entry_keeps_every_existing_byte_and_parses_back() {
        let log = shipped();
        let date = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let entry = Entry::for_release(&log, "0.4.0", date, "  Release tooling.  ");
        let splice = append_splice(SHIPPED, &log, &entry).unwrap();
        let out = crate::version::text_edit::apply(SHIPPED, std::slice::from_ref(&splice)).unwrap();
        assert_eq!(&out[..splice.range.start], &SHIPPED[..splice.range.start]);
        assert!(out.ends_with(&SHIPPED[splice.range.end..]));
        let parsed: Changelog = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed.entries.len(), 2);
        assert_eq!(parsed.entries[1], entry);
        assert_eq!(entry.summary, "Release tooling.");
        assert!(check_text(&out, Some(SHIPPED)).valid());
        insta::assert_snapshot!(&out[splice.range.start..]);
    }

    #[test]
    fn appends_into_an_empty_entries_array() {
        let text = "{\n  \"schema\": \"streamsuites.changelog.runtime.v1\",\n  \"runtime\": {\"version\": \"0.1.0\", \"build\": \"2026.01.01+001\"},\n  \"entries\": []\n}\n";
        let log: Changelog = serde_json::from_str(text).unwrap();
        let entry = Entry::for_release(&log, "0.1.0", NaiveDate::default(), "First.");
        let splice = append_splice(text, &log, &entry).unwrap();
        let out = crate::version::text_edit::apply(text, &[splice]).unwrap();
        let parsed: Changelog = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed.entries, vec![entry]);
        assert!(out.contains("\n  \"entries\": [\n    {\n      \"id\": \"rt-0001\","));
    }

    #[test]
    fn appends_inline_when_entries_are_on_one_line() {
        let log = shipped();
        let text = serde_json::to_string(&log).unwrap();
        let entry = Entry::for_release(&log, "0.4.0", NaiveDate::default(), "Inline.");
        let splice = append_splice(&text, &log, &entry).unwrap();
        let out = crate::version::text_edit::apply(&text, &[splice]).unwrap();
        assert!(!out.contains('\n'));
        let parsed: Changelog = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed.entries[1], entry);
    }

    #[test]
    fn duplicate_ids_bad_dates_and_versions_are_reported_where_they_are() {
        let mut log = shipped();
        let mut second = log.entries[0].clone();
        second.date = "2026-02-30".to_string();
        second.version = "0.3.0-beta..1".to_string();
        log.entries.push(second);
        let text = serde_json::to_string_pretty(&log).unwrap();
        let report = check_text(&text, None);
        let found: Vec<_> = report
            .errors
            .iter()
            .map(|d| (d.pointer.as_str(), d.line))
            .collect();
        assert!(found.contains(&("/entries/1/id", 21)), "{found:?}");
        assert!(found.iter().any(|(p, _)| *p == "/entries/1/date"));
        assert!(found.iter().any(|(p, _)| *p == "/entries/1/version"));
        assert!(report.errors[0].message.contains("rt-0002"));
    }

    #[test]
    fn edited_or_removed_published_entries_are_named() {
        let mut edited = shipped();
        edited.entries[0].summary = "Something else.".to_string();
        let report = check_text(
            &serde_json::to_string_pretty(&edited).unwrap(),
            Some(SHIPPED),
        );
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].pointer, "/entries/0/summary");
        assert!(report.errors[0].message.contains("\"rt-0001\""));

        let mut removed = shipped();
        removed.entries.clear();
        let report = check_text(
            &serde_json::to_string_pretty(&removed).unwrap(),
            Some(SHIPPED),
        );
        assert_eq!(report.errors.len(), 1);
        assert!(report.errors[0].message.contains("has been removed"));
    }

    #[test]
    fn an_invalid_base_is_an_error_not_a_finding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("changelog.runtime.json");
        let base = dir.path().join("base.json");
        std::fs::write(&path, SHIPPED).unwrap();
        std::fs::write(&base, "{\"entries\": 3}").unwrap();
        let err = check(&path, "x", Some(&base), &mut Report::default()).unwrap_err();
        assert!(err.to_string().contains("--changelog-base"), "{err}");
    }

    #[test]
    fn embedded_schema_compiles() {
        assert!(validator().is_valid(&serde_json::from_str(SHIPPED).unwrap()));
    }
}
