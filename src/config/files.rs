//! The kinds of config file, their file names and their embedded JSON Schemas.
//!
//! Schemas live in `schemas/config/` in the repository and are compiled into the binary, so
//! `ss validate-config` works anywhere without the source tree.

use std::sync::OnceLock;

/// One kind of config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigKind {
    System,
    Creators,
    Platforms,
    Triggers,
    Discord,
    RateLimits,
    Posting,
    Moderation,
    Obs,
    Extensions,
}

impl ConfigKind {
    /// Every kind that lives in `runtime/config/`, in the order they are checked.
    pub const RUNTIME: [ConfigKind; 10] = [
        ConfigKind::System,
        ConfigKind::Creators,
        ConfigKind::Platforms,
        ConfigKind::Triggers,
        ConfigKind::Discord,
        ConfigKind::RateLimits,
        ConfigKind::Posting,
        ConfigKind::Moderation,
        ConfigKind::Obs,
        ConfigKind::Extensions,
    ];

    /// The schema name, as `--schema` takes it.
    pub fn name(self) -> &'static str {
        match self {
            ConfigKind::System => "system",
            ConfigKind::Creators => "creators",
            ConfigKind::Platforms => "platforms",
            ConfigKind::Triggers => "triggers",
            ConfigKind::Discord => "discord",
            ConfigKind::RateLimits => "ratelimits",
            ConfigKind::Posting => "posting",
            ConfigKind::Moderation => "moderation",
            ConfigKind::Obs => "obs",
            ConfigKind::Extensions => "extensions",
        }
    }

    /// The file name in `runtime/config/`.
    pub fn file_name(self) -> String {
        format!("{}.json", self.name())
    }

    pub fn from_name(name: &str) -> Option<ConfigKind> {
        Self::RUNTIME.into_iter().find(|k| k.name() == name)
    }

    /// The kind a file name implies: the part before the first `.`, so `creators.json` and
    /// `creators.duplicate-id.json` are both creators files.
    pub fn from_file_name(file_name: &str) -> Option<ConfigKind> {
        let stem = file_name.split('.').next().unwrap_or_default();
        Self::from_name(stem)
    }

    /// The embedded JSON Schema text.
    pub fn schema_text(self) -> &'static str {
        match self {
            ConfigKind::System => include_str!("../../schemas/config/system.schema.json"),
            ConfigKind::Creators => include_str!("../../schemas/config/creators.schema.json"),
            ConfigKind::Platforms => include_str!("../../schemas/config/platforms.schema.json"),
            ConfigKind::Triggers => include_str!("../../schemas/config/triggers.schema.json"),
            ConfigKind::Discord => include_str!("../../schemas/config/discord.schema.json"),
            ConfigKind::RateLimits => {
                include_str!("../../schemas/config/ratelimits.schema.json")
            }
            ConfigKind::Posting => include_str!("../../schemas/config/posting.schema.json"),
            ConfigKind::Moderation => {
                include_str!("../../schemas/config/moderation.schema.json")
            }
            ConfigKind::Obs => include_str!("../../schemas/config/obs.schema.json"),
            ConfigKind::Extensions => {
                include_str!("../../schemas/config/extensions.schema.json")
            }
        }
    }

    /// The compiled validator, built once per process.
    pub fn validator(self) -> &'static jsonschema::Validator {
        static CELLS: [OnceLock<jsonschema::Validator>; ConfigKind::RUNTIME.len()] =
            [const { OnceLock::new() }; ConfigKind::RUNTIME.len()];
        let slot = Self::RUNTIME
            .iter()
            .position(|k| *k == self)
            .unwrap_or_default();
        CELLS[slot].get_or_init(|| {
            // The schemas are part of the binary and covered by tests, so a failure here is a build defect.
            let mut schema: serde_json::Value =
                serde_json::from_str(self.schema_text()).expect("embedded schema is valid JSON");
            // Each platform's part (its creators.json block, its keys) comes from the registry.
            super::platform::extend_schema(self.name(), &mut schema);
            jsonschema::validator_for(&schema).expect("embedded schema compiles")
        })
    }
}
