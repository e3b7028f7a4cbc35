//! Where the package version sits in `Cargo.toml` and `Cargo.lock`, as a byte range.
//!
//! Both files are stamped with the same byte-precise splices as the JSON files, so only the version
//! text changes. The scan is line-based and understands exactly what Cargo writes and what people
//! write by hand in a `[package]` table: `version = "X.Y.Z"` (basic or literal string, any spacing,
//! a trailing comment). Anything else (`version.workspace = true`, a multi-line string) is reported,
//! never guessed at.

use std::ops::Range;

/// Why `Cargo.toml`'s package version cannot be stamped in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PackageVersionError {
    #[error(
        "[package] version is inherited (version.workspace); stamp the workspace's Cargo.toml instead"
    )]
    Inherited,
    #[error("[package] version is not a one-line quoted string like version = \"0.3.0\"")]
    NotAQuotedString,
    #[error("no version = \"...\" line in the [package] table")]
    Missing,
}

/// The range of the version text between the quotes of `version = "..."` in `Cargo.toml`'s
/// `[package]` table.
pub fn package_version(cargo_toml: &str) -> Result<Range<usize>, PackageVersionError> {
    let mut in_package = false;
    for (offset, line) in lines_with_offsets(cargo_toml) {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            in_package = table_header(trimmed) == Some("package");
            continue;
        }
        if !in_package {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("version") {
            let indent = line.len() - trimmed.len();
            let key_end = offset + indent + "version".len();
            let rest_trimmed = rest.trim_start();
            if rest_trimmed.starts_with('.') {
                return Err(PackageVersionError::Inherited);
            }
            if rest_trimmed.starts_with('=') {
                return quoted_value(rest, key_end).ok_or(PackageVersionError::NotAQuotedString);
            }
        }
    }
    Err(PackageVersionError::Missing)
}

/// The range of the version text of package `name` in `Cargo.lock`, if the lock file lists it.
pub fn lock_package_version(cargo_lock: &str, name: &str) -> Option<Range<usize>> {
    let mut in_package = false;
    let mut is_named = false;
    let mut version = None;
    for (offset, line) in lines_with_offsets(cargo_lock) {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            if in_package && is_named {
                return version;
            }
            in_package = trimmed.trim_end() == "[[package]]";
            is_named = false;
            version = None;
            continue;
        }
        if !in_package {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if let Some(rest) = trimmed.strip_prefix("name") {
            let range = quoted_value(rest, offset + indent + "name".len());
            is_named = range.is_some_and(|r| &cargo_lock[r] == name);
        } else if let Some(rest) = trimmed.strip_prefix("version") {
            version = quoted_value(rest, offset + indent + "version".len());
        }
    }
    if in_package && is_named {
        version
    } else {
        None
    }
}

/// `[package]` → `package`; `[[bin]]` → `bin`; a trailing comment is allowed.
fn table_header(line: &str) -> Option<&str> {
    let inner = line.trim_start_matches('[');
    let end = inner.find(']')?;
    Some(inner[..end].trim())
}

/// For the text after a key (`  = "0.3.0" # comment`), starting at byte `base` of the file, the range
/// of the string's contents.
fn quoted_value(after_key: &str, base: usize) -> Option<Range<usize>> {
    let after_eq = after_key.trim_start().strip_prefix('=')?;
    let value = after_eq.trim_start();
    let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let body = &value[1..];
    if body.starts_with(quote) {
        // `""` is empty, and `"""` opens a multi-line string; neither is a version.
        return None;
    }
    let len = body.find(quote)?;
    if quote == '"' && body[..len].contains('\\') {
        return None;
    }
    let start = base + (after_key.len() - value.len()) + 1;
    let rest = body[len + 1..].trim_start();
    (rest.is_empty() || rest.starts_with('#')).then_some(start..start + len)
}

/// Lines (without their `\n`) with the byte offset where each starts.
fn lines_with_offsets(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    text.split_inclusive('\n').map(move |raw| {
        let start = offset;
        offset += raw.len();
        (start, raw.trim_end_matches(['\n', '\r']))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CARGO_TOML: &str = "[package]\nname = \"streamsuites\"\nversion = \"0.3.0-alpha\"\nedition = \"2024\"\n\n[dependencies]\nserde = { version = \"1\", features = [\"derive\"] }\n";

    const CARGO_LOCK: &str = "version = 4\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.228\"\n\n[[package]]\nname = \"streamsuites\"\nversion = \"0.3.0-alpha\"\ndependencies = [\n \"serde\",\n]\n\n[[package]]\nname = \"zzz\"\nversion = \"9.9.9\"\n";

    #[test]
    fn finds_the_package_version_not_a_dependency_version() {
        let range = package_version(CARGO_TOML).unwrap();
        assert_eq!(&CARGO_TOML[range.clone()], "0.3.0-alpha");
        assert_eq!(CARGO_TOML[..range.start].matches('\n').count(), 2);
    }

    #[test]
    fn accepts_spacing_literal_strings_and_comments() {
        let text = "[workspace]\nversion = \"9\"\n[ package ] # the crate\n  version='1.2.3'   # bumped by ss update-version\n";
        assert_eq!(&text[package_version(text).unwrap()], "1.2.3");
    }

    #[test]
    fn reports_what_it_cannot_stamp() {
        let inherited = "[package]\nversion.workspace = true\n";
        assert_eq!(
            package_version(inherited),
            Err(PackageVersionError::Inherited)
        );
        assert_eq!(
            package_version("[package]\nname = \"x\"\n"),
            Err(PackageVersionError::Missing)
        );
        assert_eq!(
            package_version("[package]\nversion = \"\"\"\n1\n\"\"\"\n"),
            Err(PackageVersionError::NotAQuotedString)
        );
        assert_eq!(
            package_version("[dependencies]\nversion = \"1\"\n"),
            Err(PackageVersionError::Missing)
        );
    }

    #[test]
    fn finds_the_named_lock_entry() {
        let range = lock_package_version(CARGO_LOCK, "streamsuites").unwrap();
        assert_eq!(&CARGO_LOCK[range], "0.3.0-alpha");
        let last = lock_package_version(CARGO_LOCK, "zzz").unwrap();
        assert_eq!(&CARGO_LOCK[last], "9.9.9");
        assert_eq!(lock_package_version(CARGO_LOCK, "absent"), None);
    }

    #[test]
    fn crlf_files_keep_their_offsets() {
        let text = CARGO_TOML.replace('\n', "\r\n");
        assert_eq!(&text[package_version(&text).unwrap()], "0.3.0-alpha");
    }

    proptest! {
        #[test]
        fn never_panics_and_ranges_are_in_bounds(text in "(\\[package\\]|version|=|\"|'| |\n|[a-z0-9.#-])*") {
            if let Ok(range) = package_version(&text) {
                prop_assert!(range.end <= text.len());
                // The range is the inside of a quoted string: it never holds its own delimiter
                // (a literal string '"' may hold a double quote).
                let quote = text[..range.start].chars().last();
                prop_assert!(matches!(quote, Some('"' | '\'')), "{quote:?}");
                prop_assert!(!text[range.clone()].contains(quote.unwrap_or('"')));
                prop_assert_eq!(text[range.end..].chars().next(), quote);
            }
            if let Some(range) = lock_package_version(&text, "x") {
                prop_assert!(range.end <= text.len());
            }
        }
    }
}
