//! The runtime configuration: typed files in `runtime/config/`, their schemas and their checks.
//!
//! Loading a config means: read each file, parse it (syntax errors carry line and column), validate it
//! against its embedded JSON Schema, deserialize it into the types of [`model`], then run the semantic
//! checks a schema cannot express (cross-file references, unique ids, regexes that compile). `ss run`
//! and `ss validate-config` go through the same path, so whatever validates also runs.

pub mod comments;
mod community_checks;
mod extension_checks;
pub mod files;
pub mod model;
pub mod platform;
pub mod post_template;
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
    pub posting: PostingConfig,
    pub moderation: ModerationConfig,
    pub obs: ObsConfig,
    pub extensions: ExtensionsConfig,
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
        Config::load_dir(&config_dir(root), &[])
    }

    /// Loads and checks the config files in `dir`, like [`Config::load`], with each of `drafts`
    /// standing in for the file of its kind (`ss replay --triggers draft.json`). A draft is checked
    /// exactly as `ss validate-config FILE --schema KIND` checks it: syntax, schema, then the
    /// semantic checks against the other files.
    pub fn load_dir(dir: &Path, drafts: &[(PathBuf, ConfigKind)]) -> Result<Config, ConfigError> {
        // The root's state (stored logins) sits beside its config directory.
        let state_dir = dir.parent().map(|runtime| runtime.join("state"));
        Config::load_checked(dir, drafts, state_dir.as_deref())
    }

    /// Loads `root`'s config like [`Config::load`] without the checks against the stored logins
    /// under `runtime/state` (for `ss auth`, which is about to store one).
    pub fn load_without_logins(root: &Path) -> Result<Config, ConfigError> {
        Config::load_checked(&config_dir(root), &[], None)
    }

    fn load_checked(
        dir: &Path,
        drafts: &[(PathBuf, ConfigKind)],
        state_dir: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        if !dir.is_dir() {
            return Err(ConfigError::MissingDir(dir.to_path_buf()));
        }
        let inputs = ConfigKind::RUNTIME
            .iter()
            .map(|kind| match drafts.iter().find(|(_, k)| k == kind) {
                Some((draft, _)) => (draft.clone(), *kind),
                None => (dir.join(kind.file_name()), *kind),
            })
            .filter(|(path, kind)| {
                path.exists()
                    || *kind == ConfigKind::Creators
                    || drafts.iter().any(|(_, k)| k == kind)
            })
            .collect::<Vec<_>>();
        let (report, config) = validate::check_in_root(&inputs, None, state_dir);
        for warning in &report.warnings {
            tracing::warn!("{warning}");
        }
        if report.valid() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(report))
        }
    }

    /// The config files present under `root` now. A running config was loaded from these, so a hot
    /// reload requires each of them ([`Config::reload`]).
    pub fn present_files(root: &Path) -> Vec<ConfigKind> {
        let dir = config_dir(root);
        ConfigKind::RUNTIME
            .into_iter()
            .filter(|kind| dir.join(kind.file_name()).exists())
            .collect()
    }

    /// Loads the config again for a running runtime, like [`Config::load`], except that every file of
    /// `required` (those present at start, see [`Config::present_files`]) must still be there. A
    /// deleted file is a mistake to reject like an invalid one, not a request for the defaults: a
    /// deleted `triggers.json` would otherwise turn a working bot into one with no triggers. An empty
    /// list stays possible on purpose (`{"triggers": {}}`).
    pub fn reload(root: &Path, required: &[ConfigKind]) -> Result<Config, ConfigError> {
        let dir = config_dir(root);
        let missing: Vec<validate::Diagnostic> = required
            .iter()
            .map(|kind| dir.join(kind.file_name()))
            .filter(|path| !path.exists())
            .map(|path| validate::Diagnostic {
                file: path.display().to_string(),
                line: 1,
                column: 1,
                pointer: "/".to_string(),
                message: format!(
                    "file not found; it existed when the runtime started, and a deleted config file is not \
                     read as its defaults; restore it (an intentionally empty file still needs its top-level \
                     object, e.g. {}); the running config stays",
                    empty_example(&path)
                ),
            })
            .collect();
        if !missing.is_empty() {
            let files = missing.iter().map(|d| d.file.clone()).collect();
            return Err(ConfigError::Invalid(Report {
                files,
                errors: missing,
                warnings: Vec::new(),
            }));
        }
        Config::load(root)
    }
}

/// The smallest valid content of a config file, for messages.
fn empty_example(path: &Path) -> &'static str {
    match path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(ConfigKind::from_file_name)
    {
        Some(ConfigKind::Triggers) => r#"{"triggers": {}}"#,
        Some(ConfigKind::Creators) => r#"{"creators": []}"#,
        _ => "{}",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A root holding a copy of the repository's demo config.
    fn demo_root() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime/config");
        let to = config_dir(dir.path());
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
        dir
    }

    #[test]
    fn a_reload_rejects_a_deleted_file_and_accepts_an_empty_list() {
        let root = demo_root();
        let required = Config::present_files(root.path());
        assert!(required.contains(&ConfigKind::Triggers));
        let before = Config::reload(root.path(), &required).unwrap();
        assert!(!before.triggers.triggers.is_empty());

        let triggers = config_dir(root.path()).join("triggers.json");
        std::fs::remove_file(&triggers).unwrap();
        // A fresh start may do without the file; a running config may not lose it.
        assert!(Config::load(root.path()).is_ok());
        let err = Config::reload(root.path(), &required)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("triggers.json:1:1: /: file not found"),
            "{err}"
        );
        assert!(err.contains(r#"{"triggers": {}}"#), "{err}");

        std::fs::write(&triggers, r#"{"triggers": {}}"#).unwrap();
        let empty = Config::reload(root.path(), &required).unwrap();
        assert!(empty.triggers.triggers.is_empty());
    }
}
