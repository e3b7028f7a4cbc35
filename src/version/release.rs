//! Release versions: parsing a semantic version as given on the command line, and telling an upgrade
//! from a downgrade.
//!
//! The build travels separately (`--build`), so a version carrying `+metadata` is refused rather than
//! half-stamped. Ordering follows semver precedence (`0.4.0-alpha < 0.4.0-beta.1 < 0.4.0`); for the
//! same version the build decides, so re-stamping a release with a newer build is an upgrade.

use super::build::BuildId;
use semver::Version;
use std::cmp::Ordering;

/// What a release version must look like, for the messages.
const EXPECTED: &str =
    "expected MAJOR.MINOR.PATCH with an optional pre-release, e.g. 0.4.0 or 0.4.0-beta.1";

/// Why a release version was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("the version is empty; {EXPECTED}")]
    Empty,
    #[error("{text:?} is not a semantic version: drop the leading {prefix:?} ({rest})")]
    LeadingV {
        text: String,
        prefix: String,
        rest: String,
    },
    #[error("{text:?} is not a semantic version ({reason}); {EXPECTED}")]
    NotSemver { text: String, reason: String },
    #[error(
        "{text:?} carries build metadata (+{build}); give the version alone and the build with --build YYYY.MM.DD+NNN"
    )]
    BuildMetadata { text: String, build: String },
}

/// Parses a release version: `MAJOR.MINOR.PATCH` with an optional pre-release (`-alpha`, `-beta.2`).
pub fn parse_version(text: &str) -> Result<Version, VersionError> {
    if text.trim().is_empty() {
        return Err(VersionError::Empty);
    }
    if let Some(rest) = text.strip_prefix(['v', 'V'])
        && Version::parse(rest).is_ok()
    {
        return Err(VersionError::LeadingV {
            text: text.to_string(),
            prefix: text[..1].to_string(),
            rest: rest.to_string(),
        });
    }
    let version = Version::parse(text).map_err(|e| VersionError::NotSemver {
        text: text.to_string(),
        reason: e.to_string(),
    })?;
    if !version.build.is_empty() {
        return Err(VersionError::BuildMetadata {
            text: text.to_string(),
            build: version.build.to_string(),
        });
    }
    Ok(version)
}

/// How a new stamp relates to the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A newer version, or the same version with a newer build.
    Upgrade,
    /// The same version and build: stamping changes nothing.
    Same,
    /// An older version, or the same version with an older build.
    Downgrade,
}

/// Compares the new stamp with the current one. A current build that does not parse cannot be
/// ordered, so for the same version it counts as older.
pub fn direction(
    current_version: &Version,
    current_build: Option<BuildId>,
    new_version: &Version,
    new_build: BuildId,
) -> Direction {
    let ordering = new_version
        .cmp_precedence(current_version)
        .then_with(|| current_build.map_or(Ordering::Greater, |cur| new_build.cmp(&cur)));
    match ordering {
        Ordering::Greater => Direction::Upgrade,
        Ordering::Equal => Direction::Same,
        Ordering::Less => Direction::Downgrade,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_releases_and_pre_releases() {
        for ok in ["0.4.0", "0.4.0-alpha", "0.4.0-beta.2", "10.20.30-rc.1.x-y"] {
            assert_eq!(parse_version(ok).unwrap().to_string(), ok);
        }
    }

    #[test]
    fn names_the_problem_with_bad_versions() {
        let err = parse_version("not-a-version").unwrap_err().to_string();
        assert!(
            err.contains("\"not-a-version\" is not a semantic version"),
            "{err}"
        );
        assert!(err.contains("e.g. 0.4.0"), "{err}");
        assert!(
            parse_version("v0.4.0")
                .unwrap_err()
                .to_string()
                .contains("drop the leading \"v\"")
        );
        assert!(
            parse_version("0.4")
                .unwrap_err()
                .to_string()
                .contains("MAJOR.MINOR.PATCH")
        );
        assert_eq!(parse_version(""), Err(VersionError::Empty));
        assert!(
            parse_version("0.4.0+20261122")
                .unwrap_err()
                .to_string()
                .contains("--build")
        );
        assert!(parse_version("01.4.0").is_err());
    }

    #[test]
    fn orders_by_precedence_then_build() {
        let v = |s: &str| Version::parse(s).unwrap();
        let b = |s: &str| s.parse::<BuildId>().unwrap();
        let cur = v("0.3.0-alpha");
        let cur_build = Some(b("2026.11.22+001"));
        assert_eq!(
            direction(&cur, cur_build, &v("0.4.0-beta.1"), b("2026.11.22+001")),
            Direction::Upgrade
        );
        assert_eq!(
            direction(&cur, cur_build, &v("0.2.9"), b("2027.01.01+001")),
            Direction::Downgrade
        );
        assert_eq!(
            direction(&cur, cur_build, &v("0.3.0-alpha"), b("2026.11.22+002")),
            Direction::Upgrade
        );
        assert_eq!(
            direction(&cur, cur_build, &v("0.3.0-alpha"), b("2026.11.22+001")),
            Direction::Same
        );
        assert_eq!(
            direction(&cur, cur_build, &v("0.3.0-alpha"), b("2026.11.21+009")),
            Direction::Downgrade
        );
        assert_eq!(
            direction(&v("0.3.0"), None, &v("0.3.0"), b("2026.11.21+009")),
            Direction::Upgrade
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_accepted_versions_print_back(text in ".*") {
            if let Ok(version) = parse_version(&text) {
                prop_assert_eq!(version.to_string(), text);
            }
        }
    }
}
