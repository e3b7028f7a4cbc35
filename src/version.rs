//! The release stamp: `runtime/version.json`, the one place the version and build are written.
//!
//! `ss --version`, every export's `meta.runtime` block and `ss update-version` read it from here.
//! When a root has no version file (a bare directory used as a root), the binary's own package version
//! stands in, with build `unknown`.
//!
//! Stamping a new release is split by job: [`release`] parses versions and orders them, [`build`]
//! parses and counts build ids, [`stamp`] plans the edits in every file that carries the stamp using
//! the byte spans of [`crate::json_spans`] and [`toml_spans`] and the splices of [`text_edit`], and
//! [`commit`] writes them all or nothing.

pub mod build;
pub mod changelog;
pub mod commit;
pub mod release;
pub mod stamp;
pub mod text_edit;
pub mod toml_spans;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `{"version": "0.3.0-alpha", "build": "2026.11.22+001"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionStamp {
    pub version: String,
    pub build: String,
}

impl VersionStamp {
    /// The binary's compiled-in package version, for roots without a version file.
    pub fn compiled() -> VersionStamp {
        VersionStamp {
            version: env!("CARGO_PKG_VERSION").to_string(),
            build: "unknown".to_string(),
        }
    }

    /// Reads `<root>/runtime/version.json`; a missing file gives [`VersionStamp::compiled`].
    pub fn read(root: &Path) -> anyhow::Result<VersionStamp> {
        let path = version_file(root);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                anyhow::anyhow!(
                    "{}: invalid version file: {e}\n  hint: it must be {{\"version\": \"X.Y.Z\", \"build\": \"YYYY.MM.DD+NNN\"}}",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(VersionStamp::compiled()),
            Err(e) => Err(anyhow::anyhow!("{}: cannot read: {e}", path.display())),
        }
    }

    /// `0.3.0-alpha (build 2026.11.22+001)`.
    pub fn describe(&self) -> String {
        format!("{} (build {})", self.version, self.build)
    }
}

/// The version file below a runtime root.
pub fn version_file(root: &Path) -> PathBuf {
    root.join("runtime").join("version.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `runtime/version.json` is the one source; the Cargo package version must say the same, or
    /// `ss --version` and the crate disagree. `ss update-version` stamps both.
    #[test]
    fn cargo_package_version_equals_the_runtime_stamp() {
        let stamp: VersionStamp =
            serde_json::from_str(include_str!("../runtime/version.json")).unwrap();
        assert_eq!(stamp.version, env!("CARGO_PKG_VERSION"));
        assert!(
            stamp.build.parse::<build::BuildId>().is_ok(),
            "{}",
            stamp.build
        );
    }
}
