//! The runtime configuration: typed files in `runtime/config/`, their schemas and their checks.
//!
//! Loading a config means: read each file, parse it (syntax errors carry line and column), validate it
//! against its embedded JSON Schema, deserialize it into the types of [`model`], then run the semantic
//! checks a schema cannot express (cross-file references, unique ids, regexes that compile). `ss run`
//! and `ss validate-config` go through the same path, so whatever validates also runs.

pub mod files;
pub mod model;
pub mod secrets;
mod semantic;
pub mod spans;
pub mod validate;

pub use files::ConfigKind;
pub use model::*;
pub use validate::{Diagnostic, Report};

use std::path::{Path, PathBuf};

/// The directory holding the config files, below a runtime root.
pub fn config_dir(root: &Path) -> PathBuf {
    root.join("runtime").join("config")
}

/// Every config file of a root, parsed and checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub system: SystemConfig,
    pub creators: CreatorsConfig,
    pub platforms: PlatformsConfig,
    pub triggers: TriggersConfig,
    pub discord: DiscordConfig,
    pub ratelimits: RateLimitsConfig,
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no config directory at {0}\n  hint: pass --root DIR (or set SS_ROOT) to a runtime root holding runtime/config/"
    )]
    MissingDir(PathBuf),
    #[error("{}", render_invalid(.0))]
    Invalid(Report),
}

fn render_invalid(report: &Report) -> String {
    let mut out = String::from("the configuration is invalid:\n");
    for d in &report.errors {
        out.push_str("  ");
        out.push_str(&d.to_string());
        out.push('\n');
    }
    out.push_str("  hint: run `ss validate-config` for the full report");
    out
}

impl Config {
    /// Loads and checks every config file under `root`. Missing files take their defaults, except
    /// `creators.json`, without which there is nothing to run.
    pub fn load(root: &Path) -> Result<Config, ConfigError> {
        let dir = config_dir(root);
        if !dir.is_dir() {
            return Err(ConfigError::MissingDir(dir));
        }
        let inputs = ConfigKind::RUNTIME
            .iter()
            .map(|kind| (dir.join(kind.file_name()), *kind))
            .filter(|(path, kind)| path.exists() || *kind == ConfigKind::Creators)
            .collect::<Vec<_>>();
        let (report, config) = validate::check(&inputs, None);
        if report.valid() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(report))
        }
    }
}
