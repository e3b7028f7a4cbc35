//! What the config files know of each platform, asked of the platform itself.
//!
//! A platform's creators.json block, its platforms.json keys, its default mode and its default send
//! limit belong to the platform: it implements [`PlatformConfig`] in its own folder and registers it
//! with `ss::register_platform!`. This module holds the contract and the lookups; the config code
//! around it iterates the registered platforms and names none:
//!
//! - a creator's `platforms` object is read block by block ([`CreatorPlatforms`]), each block
//!   parsed into the platform's own typed settings ([`PlatformConfig::parse_block`]);
//! - the schemas of creators.json, platforms.json and ratelimits.json get each platform's part
//!   ([`extend_schema`]), so `validate-config` reports a bad block with file:line and pointer as it
//!   reports anything else;
//! - the semantic checks ask each platform about each creator ([`PlatformConfig::check_creator`])
//!   and about ratelimits.json ([`PlatformConfig::check_ratelimits`]).

use super::model::{Creator, PlatformMode, RateLimitsConfig, SendLimit, TriggerDef};
use super::secrets::is_valid_env_name;
use crate::event::Platform;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// A platform's typed settings, as [`PlatformConfig::parse_block`] made them.
pub type Settings = Arc<dyn Any + Send + Sync>;

/// The config side of a platform: its blocks, keys, checks and defaults.
pub trait PlatformConfig: Send + Sync + 'static {
    /// Whose config this is.
    fn platform(&self) -> Platform;

    /// The JSON Schema of its creators.json block (an object schema; it may use
    /// `{"$ref": "#/$defs/env"}` for a field naming an environment variable).
    fn block_schema(&self) -> Value;

    /// Its typed settings from a block that passed [`PlatformConfig::block_schema`]
    /// ([`parse_settings`] does it for a serde type).
    fn parse_block(&self, raw: &Value) -> Result<Settings, serde_json::Error>;

    /// Checks a schema cannot express, for one creator: its block when it has one, and anything of
    /// the creator the platform cares about (a clip destination it serves).
    fn check_creator(&self, creator: &Creator, block: Option<&PlatformBlock>, check: &mut Check) {
        let _ = (creator, block, check);
    }

    /// Checks that need what the runtime root keeps beside the config (`state_dir`, the root's
    /// `runtime/state`: a stored login's scopes), for one creator with their triggers (empty when
    /// triggers.json is not known): warnings on the block ([`Check::warn`]) or on a trigger
    /// ([`Check::trigger_warn`]). Run by `ss validate-config` on a root and at `ss run`'s start.
    fn check_with_state(
        &self,
        creator: &Creator,
        block: Option<&PlatformBlock>,
        triggers: &[TriggerDef],
        state_dir: &std::path::Path,
        check: &mut Check,
    ) {
        let _ = (creator, block, triggers, state_dir, check);
    }

    /// Whether moderation through `block` can be carried out in full with what the runtime root
    /// keeps (`state_dir`: a stored login's scopes): `Err` says what is missing and how to get it.
    /// Checked by `ss validate-config` on a root for each platform moderation.json moderates a
    /// creator on (after [`PlatformConfig::moderation`] said the platform can).
    fn moderation_with_state(
        &self,
        creator: &Creator,
        block: &PlatformBlock,
        state_dir: &std::path::Path,
    ) -> Result<(), String> {
        let _ = (creator, block, state_dir);
        Ok(())
    }

    /// Whether this build can start a source for it (a planned platform cannot).
    fn has_source(&self) -> bool {
        true
    }

    /// Its mode when platforms.json does not set one.
    fn default_mode(&self) -> PlatformMode {
        PlatformMode::Active
    }

    /// Its block in platforms.json beyond `mode`: `{"description": ..., "properties": {...}}`.
    fn platforms_json_schema(&self) -> Value {
        json!({"description": self.platform().title()})
    }

    /// Its send limit when ratelimits.json does not set one.
    fn send_limit(&self) -> SendLimit {
        SendLimit::conservative()
    }

    /// Its own keys in its ratelimits.json block, beside `messages` and `per_s`: name → schema.
    fn send_limit_keys(&self) -> Map<String, Value> {
        Map::new()
    }

    /// Its own top-level keys in ratelimits.json (a quota budget): name → schema.
    fn ratelimits_keys(&self) -> Map<String, Value> {
        Map::new()
    }

    /// Checks of ratelimits.json a schema cannot express, for its send limit and its own keys
    /// ([`Check::error_at`] from the file's root).
    fn check_ratelimits(&self, ratelimits: &RateLimitsConfig, check: &mut Check) {
        let _ = (ratelimits, check);
    }

    /// The credentials a block names, for `admin/integrations.json`.
    fn credentials(&self, block: &PlatformBlock) -> Vec<Credential> {
        let _ = block;
        Vec::new()
    }

    /// The channel a block names, for `admin/creators.json`.
    fn channel(&self, block: &PlatformBlock) -> Option<String> {
        let _ = block;
        None
    }

    /// Whether a creator's block lets the platform carry out moderation (delete a message, time
    /// out, ban): `Err` says why not and how to fix it (no moderation API, no token, the scopes a
    /// token needs). `validate-config` warns when moderation.json moderates a creator on a
    /// platform that cannot; the decisions are still recorded and their commands refused, counted.
    fn moderation(&self, block: &PlatformBlock) -> Result<(), String> {
        let _ = block;
        Err(format!(
            "{} has no moderation API this build can use",
            self.platform().title()
        ))
    }
}

/// A credential a block names: what it is for and the environment variable holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// `chat`, `read`, `send`, `refresh`, `helix`, ...
    pub purpose: &'static str,
    pub env: String,
}

impl Credential {
    /// A credential when `env` names one.
    pub fn named(purpose: &'static str, env: Option<&String>) -> Option<Credential> {
        env.map(|env| Credential {
            purpose,
            env: env.clone(),
        })
    }
}

/// A schema part a platform keeps as a JSON file in its folder (`include_str!`).
///
/// # Panics
/// When the text is not JSON: the file is part of the build, and a unit test compiles every
/// registered platform's parts.
pub fn schema_part(text: &'static str) -> Value {
    serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("a platform's schema part is not JSON: {e}"))
}

/// Typed settings of a serde type, for [`PlatformConfig::parse_block`].
pub fn parse_settings<T: DeserializeOwned + Send + Sync + 'static>(
    raw: &Value,
) -> Result<Settings, serde_json::Error> {
    Ok(Arc::new(T::deserialize(raw)?))
}

/// One platform's config, as registered at link time.
pub struct RegisteredConfig(pub &'static dyn PlatformConfig);

inventory::collect!(RegisteredConfig);

/// The config of `platform`. Every registered platform has one (`register_platform!` registers
/// both), so `None` means a platform built by hand that was never registered.
pub fn config_of(platform: Platform) -> Option<&'static dyn PlatformConfig> {
    static ALL: OnceLock<Vec<&'static dyn PlatformConfig>> = OnceLock::new();
    ALL.get_or_init(|| {
        inventory::iter::<RegisteredConfig>
            .into_iter()
            .map(|r| r.0)
            .collect()
    })
    .iter()
    .copied()
    .find(|c| c.platform() == platform)
}

/// Every registered platform's config, in export order.
pub fn configs() -> impl Iterator<Item = &'static dyn PlatformConfig> {
    Platform::all().iter().filter_map(|p| config_of(*p))
}

/// A creator's block for one platform: whether it is enabled, the block as written, and the
/// platform's typed settings.
#[derive(Clone)]
pub struct PlatformBlock {
    pub enabled: bool,
    raw: Value,
    settings: Settings,
}

/// Why a creator's platform block cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error("platform {0} has no registered config")]
    Unregistered(Platform),
    #[error("platforms.{platform}: {source}")]
    Invalid {
        platform: Platform,
        source: serde_json::Error,
    },
}

impl PlatformBlock {
    /// Reads `raw` as `platform`'s block.
    pub fn parse(platform: Platform, raw: Value) -> Result<PlatformBlock, BlockError> {
        #[derive(Deserialize)]
        struct Enabled {
            #[serde(default)]
            enabled: bool,
        }
        let config = config_of(platform).ok_or(BlockError::Unregistered(platform))?;
        let invalid = |source| BlockError::Invalid { platform, source };
        let settings = config.parse_block(&raw).map_err(invalid)?;
        let enabled = Enabled::deserialize(&raw).map_err(invalid)?.enabled;
        Ok(PlatformBlock {
            enabled,
            raw,
            settings,
        })
    }

    /// The block as written.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// The platform's typed settings; `None` when they are not a `T` (a caller asking for another
    /// platform's type).
    pub fn settings<T: 'static>(&self) -> Option<&T> {
        self.settings.downcast_ref()
    }
}

impl std::fmt::Debug for PlatformBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.raw.fmt(f)
    }
}

impl PartialEq for PlatformBlock {
    fn eq(&self, other: &PlatformBlock) -> bool {
        self.raw == other.raw
    }
}

/// Per-platform settings of one creator, keyed by platform. A missing block means the platform is
/// off.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreatorPlatforms {
    blocks: BTreeMap<Platform, PlatformBlock>,
}

impl CreatorPlatforms {
    /// Whether the creator enables `platform`.
    pub fn enabled(&self, platform: Platform) -> bool {
        self.blocks.get(&platform).is_some_and(|b| b.enabled)
    }

    /// Whether a block for `platform` is present at all.
    pub fn configured(&self, platform: Platform) -> bool {
        self.blocks.contains_key(&platform)
    }

    /// The block for `platform`.
    pub fn block(&self, platform: Platform) -> Option<&PlatformBlock> {
        self.blocks.get(&platform)
    }

    /// `platform`'s typed settings, when the creator has its block.
    pub fn settings<T: 'static>(&self, platform: Platform) -> Option<&T> {
        self.block(platform)?.settings()
    }

    /// The channel `platform`'s block names, when it names one (the platform decides where).
    pub fn channel(&self, platform: Platform) -> Option<String> {
        config_of(platform)?.channel(self.block(platform)?)
    }

    /// The blocks, in export order.
    pub fn iter(&self) -> impl Iterator<Item = (Platform, &PlatformBlock)> {
        self.blocks.iter().map(|(p, b)| (*p, b))
    }

    /// Sets `platform`'s block (config built in code: tests, benchmarks).
    pub fn insert(&mut self, platform: Platform, raw: Value) -> Result<(), BlockError> {
        self.blocks
            .insert(platform, PlatformBlock::parse(platform, raw)?);
        Ok(())
    }
}

impl Serialize for CreatorPlatforms {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.blocks.iter().map(|(p, b)| (p.as_str(), &b.raw)))
    }
}

impl<'de> Deserialize<'de> for CreatorPlatforms {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let raw = BTreeMap::<String, Value>::deserialize(deserializer)?;
        let mut platforms = CreatorPlatforms::default();
        for (name, block) in raw {
            let platform = Platform::parse(&name).map_err(D::Error::custom)?;
            platforms
                .insert(platform, block)
                .map_err(D::Error::custom)?;
        }
        Ok(platforms)
    }
}

/// Where a platform's semantic checks put what they find, relative to one creator.
pub struct Check {
    creator: String,
    block: String,
    found: Vec<(String, String, bool)>,
    /// Warnings on triggers.json: (pointer, message).
    trigger_found: Vec<(String, String)>,
}

impl Check {
    /// Checks of a whole file by `platform`: its block is `/platforms/{platform}`.
    pub(super) fn file(platform: Platform) -> Check {
        Check {
            creator: String::new(),
            block: format!("/platforms/{platform}"),
            found: Vec::new(),
            trigger_found: Vec::new(),
        }
    }

    /// Checks of creator number `index` by `platform`.
    pub(super) fn new(index: usize, platform: Platform) -> Check {
        let creator = format!("/creators/{index}");
        let block = format!("{creator}/platforms/{platform}");
        Check {
            creator,
            block,
            found: Vec::new(),
            trigger_found: Vec::new(),
        }
    }

    /// An error at `key` of the block (`""`: the block itself).
    pub fn error(&mut self, key: &str, message: impl Into<String>) {
        let pointer = join(&self.block, key);
        self.found.push((pointer, message.into(), false));
    }

    /// A warning at `key` of the block; `message` is said without the `warning: ` prefix.
    pub fn warn(&mut self, key: &str, message: &str) {
        let pointer = join(&self.block, key);
        self.found
            .push((pointer, format!("warning: {message}"), true));
    }

    /// An error at `path` of the creator (`clips/destination`), outside the block.
    pub fn creator_error(&mut self, path: &str, message: impl Into<String>) {
        let pointer = join(&self.creator, path);
        self.found.push((pointer, message.into(), false));
    }

    /// An error at `path` from the file's root (`youtube_quota/hard_cap_units`).
    pub fn error_at(&mut self, path: &str, message: impl Into<String>) {
        self.found.push((format!("/{path}"), message.into(), false));
    }

    /// An error when `name` (at `key` of the block) is not a valid environment variable name.
    pub fn env_name(&mut self, key: &str, name: Option<&String>) {
        if let Some(name) = name
            && !is_valid_env_name(name)
        {
            self.error(key, env_name_message(name));
        }
    }

    /// A warning at `key` of trigger number `index` of `creator_id` in triggers.json (`message`
    /// said without the `warning: ` prefix).
    pub fn trigger_warn(&mut self, creator_id: &str, index: usize, key: &str, message: &str) {
        let base = format!(
            "/triggers/{}/{index}",
            super::spans::escape_token(creator_id)
        );
        self.trigger_found
            .push((join(&base, key), format!("warning: {message}")));
    }

    /// (pointer, message, warning) of everything found.
    pub(super) fn into_found(self) -> Vec<(String, String, bool)> {
        self.found
    }

    /// Everything found: on the creator's file, and warnings on triggers.json.
    pub(super) fn into_all(self) -> Found {
        Found {
            on_block: self.found,
            on_triggers: self.trigger_found,
        }
    }
}

/// What a platform's checks found.
pub(super) struct Found {
    /// On the creator's block: (pointer, message, warning).
    pub on_block: Vec<(String, String, bool)>,
    /// Warnings on triggers.json: (pointer, message).
    pub on_triggers: Vec<(String, String)>,
}

/// The message for a bad environment variable name: one wording for every file.
pub(super) fn env_name_message(name: &str) -> String {
    format!(
        "{name:?} is not a valid environment variable name; use capitals, digits and `_`, e.g. \"TWITCH_OAUTH_TOKEN_DEMO\""
    )
}

fn join(base: &str, key: &str) -> String {
    if key.is_empty() {
        base.to_owned()
    } else {
        format!("{base}/{key}")
    }
}

/// The mode `enum` of a platforms.json block.
const MODES: [&str; 4] = ["active", "paused", "scaffold", "planned"];

/// Adds every registered platform's part to the schema of a config file: the block schemas under
/// creators.json `platforms`, each platform's keys in platforms.json, each platform's send limit in
/// ratelimits.json, and the platform names wherever a schema lists them (`$defs/platform`).
pub fn extend_schema(file: &str, schema: &mut Value) {
    crate::event::register_platforms_in_schema(schema);
    let at = match file {
        "creators" => "/$defs/creator/properties/platforms/properties",
        "platforms" | "ratelimits" => "/properties/platforms/properties",
        _ => return,
    };
    if file == "ratelimits"
        && let Some(Value::Object(top)) = schema.pointer_mut("/properties")
    {
        for config in configs() {
            top.extend(config.ratelimits_keys());
        }
    }
    let Some(Value::Object(properties)) = schema.pointer_mut(at) else {
        return;
    };
    for config in configs() {
        let name = config.platform().as_str().to_owned();
        let part = match file {
            "creators" => config.block_schema(),
            "platforms" => platforms_json_block(config),
            _ => send_limit_block(config),
        };
        properties.insert(name, part);
    }
}

/// A platform's block in platforms.json: `mode` and the platform's own keys.
fn platforms_json_block(config: &dyn PlatformConfig) -> Value {
    let own = config.platforms_json_schema();
    let mut properties = Map::new();
    properties.insert("mode".into(), json!({"enum": MODES}));
    if let Some(Value::Object(keys)) = own.get("properties") {
        properties.extend(keys.clone());
    }
    let mut block = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["mode"],
    });
    if let Some(description) = own.get("description") {
        block["description"] = description.clone();
    }
    block["properties"] = Value::Object(properties);
    block
}

/// A platform's block in ratelimits.json: `messages`, `per_s` and the platform's own keys.
fn send_limit_block(config: &dyn PlatformConfig) -> Value {
    let mut properties = Map::new();
    properties.insert(
        "messages".into(),
        json!({"type": "integer", "minimum": 1, "maximum": 100_000}),
    );
    properties.insert(
        "per_s".into(),
        json!({"type": "number", "exclusiveMinimum": 0, "maximum": 86_400}),
    );
    properties.extend(config.send_limit_keys());
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["messages", "per_s"],
        "properties": properties,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigKind;

    #[test]
    fn every_registered_platform_has_a_config_and_a_module_and_its_schema_parts_are_in_the_files() {
        let creators = ConfigKind::Creators.validator();
        for &platform in Platform::all() {
            let config = config_of(platform).unwrap_or_else(|| panic!("{platform} has no config"));
            assert!(
                crate::sources::registry::module_of(platform).is_some(),
                "{platform} has no module"
            );
            assert_eq!(config.block_schema()["type"], "object", "{platform}");
            let block = json!({"creators": [{"id": "c", "display_name": "C",
                "platforms": {platform.as_str(): {"enabled": false, "no_such_key": 1}}}]});
            let pointers: Vec<String> = creators
                .iter_errors(&block)
                .map(|e| e.instance_path().to_string())
                .collect();
            assert!(
                pointers
                    .iter()
                    .any(|p| p.starts_with(&format!("/creators/0/platforms/{platform}"))),
                "{platform}: the block's own schema checks it: {pointers:?}"
            );
        }
        let modes = json!({"platforms": {"myspace": {"mode": "active"}}});
        assert!(
            ConfigKind::Platforms
                .validator()
                .iter_errors(&modes)
                .next()
                .is_some()
        );
    }

    #[test]
    fn creator_platforms_read_each_block_as_its_platform_and_name_unknown_ones() {
        let platforms: CreatorPlatforms = serde_json::from_value(
            json!({"sim": {"enabled": true, "seed": 3}, "kick": {"channel": "x"}}),
        )
        .unwrap();
        let sim = Platform::named("sim");
        let kick = Platform::named("kick");
        assert!(platforms.enabled(sim) && !platforms.enabled(kick));
        assert!(platforms.configured(kick) && !platforms.configured(Platform::named("twitch")));
        assert_eq!(
            platforms
                .iter()
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>(),
            ["kick", "sim"],
            "export order"
        );
        assert_eq!(
            serde_json::to_value(&platforms).unwrap(),
            json!({"kick": {"channel": "x"}, "sim": {"enabled": true, "seed": 3}})
        );
        let err = serde_json::from_value::<CreatorPlatforms>(json!({"myspace": {}})).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown platform \"myspace\"; known platforms: twitch, youtube"),
            "{err}"
        );
    }
}
