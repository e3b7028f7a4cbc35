//! A trigger toggle written to `runtime/config/triggers.json`: the file is read as JSON (keys keep
//! their order), the trigger's `enabled` is set, and the new text is staged beside the file and
//! checked as `ss validate-config` checks it, against the other config files. Only a config that
//! validates replaces the file, atomically (a rename); otherwise the file is untouched and the
//! error says why.

use super::ControlError;
use crate::config::{Config, ConfigKind, config_dir};
use serde_json::Value;
use std::path::Path;

/// The error for a trigger the config does not have.
pub fn no_trigger(creator: &str, trigger: &str) -> ControlError {
    ControlError::NotFound(format!(
        "creator {creator} has no trigger {trigger:?} in triggers.json (GET /api/v1/triggers lists them)"
    ))
}

/// Sets `enabled` of `creator`'s trigger `trigger` in triggers.json under `root` and returns the
/// config loaded with it. Blocking file I/O: call it off the async threads.
pub fn set_trigger_enabled(
    root: &Path,
    creator: &str,
    trigger: &str,
    enabled: bool,
) -> Result<Config, ControlError> {
    let dir = config_dir(root);
    let target = dir.join(ConfigKind::Triggers.file_name());
    let io = |what: &str, e: std::io::Error| {
        ControlError::Internal(format!("{what} {}: {e}", target.display()))
    };
    let text = std::fs::read_to_string(&target).map_err(|e| io("cannot read", e))?;
    let mut doc: Value = serde_json::from_str(&text).map_err(|e| {
        ControlError::InvalidConfig(format!(
            "{} is not JSON ({e}); fix it first (`ss validate-config`)",
            target.display()
        ))
    })?;
    let def = doc
        .pointer_mut(&format!(
            "/triggers/{}",
            creator.replace('~', "~0").replace('/', "~1")
        ))
        .and_then(Value::as_array_mut)
        .and_then(|defs| {
            defs.iter_mut()
                .find(|d| d.get("id").and_then(Value::as_str) == Some(trigger))
        })
        .and_then(Value::as_object_mut)
        .ok_or_else(|| no_trigger(creator, trigger))?;
    def.insert("enabled".into(), Value::Bool(enabled));
    let mut new_text =
        serde_json::to_string_pretty(&doc).map_err(|e| ControlError::Internal(e.to_string()))?;
    new_text.push('\n');
    let permissions = std::fs::metadata(&target).ok().map(|m| m.permissions());
    let staged = crate::atomic::stage(&target, new_text.as_bytes(), permissions)
        .map_err(|e| io("cannot write beside", e))?;
    let checked = Config::load_dir(&dir, &[(staged.clone(), ConfigKind::Triggers)]);
    let config = match checked {
        Ok(config) => config,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            return Err(ControlError::InvalidConfig(e.to_string()));
        }
    };
    if let Err(e) = std::fs::rename(&staged, &target) {
        let _ = std::fs::remove_file(&staged);
        return Err(io("cannot replace", e));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A root with the repository's demo config.
    fn demo_root() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = root.path().join("runtime/config");
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(repo.join("runtime/config")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
        root
    }

    fn first_trigger(root: &Path) -> (String, String) {
        let config = Config::load(root).unwrap();
        let (creator, defs) = config.triggers.triggers.iter().next().unwrap();
        (creator.clone(), defs[0].id.clone())
    }

    #[test]
    fn a_toggle_is_written_and_the_file_still_validates() {
        let root = demo_root();
        let (creator, trigger) = first_trigger(root.path());
        let config = set_trigger_enabled(root.path(), &creator, &trigger, false).unwrap();
        let def = |c: &Config| {
            c.triggers.triggers[&creator]
                .iter()
                .find(|d| d.id == trigger)
                .unwrap()
                .enabled
        };
        assert!(!def(&config));
        let reloaded = Config::load(root.path()).unwrap();
        assert!(!def(&reloaded), "written to the file");
        set_trigger_enabled(root.path(), &creator, &trigger, true).unwrap();
        assert!(def(&Config::load(root.path()).unwrap()));
        let leftovers: Vec<_> = std::fs::read_dir(config_dir(root.path()))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "no staged file left: {leftovers:?}");
    }

    #[test]
    fn an_unknown_trigger_is_not_found_and_the_file_is_untouched() {
        let root = demo_root();
        let target = config_dir(root.path()).join("triggers.json");
        let before = std::fs::read_to_string(&target).unwrap();
        let err = set_trigger_enabled(root.path(), "demo", "no-such-trigger", false).unwrap_err();
        assert_eq!(err.code(), "not_found", "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), before);
    }

    #[test]
    fn a_file_that_would_not_validate_is_left_as_it_was() {
        let root = demo_root();
        let (creator, trigger) = first_trigger(root.path());
        // The file is already invalid: the toggle must not be written over it.
        let target = config_dir(root.path()).join("triggers.json");
        let mut doc: Value =
            serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
        doc["triggers"][&creator][0]["min_role"] = serde_json::json!("emperor");
        std::fs::write(&target, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        let before = std::fs::read_to_string(&target).unwrap();
        let err = set_trigger_enabled(root.path(), &creator, &trigger, false).unwrap_err();
        assert_eq!(err.code(), "invalid_config", "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), before);
    }
}
