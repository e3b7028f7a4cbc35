//! `runtime/config/platforms.json`: platform modes and each platform's own endpoint settings.

use crate::event::Platform;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `runtime/config/platforms.json`: platform modes and endpoint overrides.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformsConfig {
    #[serde(default)]
    pub platforms: BTreeMap<Platform, PlatformSettings>,
}

impl PlatformsConfig {
    /// The mode of `platform`: as configured, else its built-in default.
    pub fn mode(&self, platform: Platform) -> PlatformMode {
        self.platforms
            .get(&platform)
            .map_or_else(|| PlatformMode::default_for(platform), |s| s.mode)
    }

    /// `platform`'s own settings (endpoint overrides and the like), as written: each platform's
    /// source reads its own keys (Twitch `host`/`port`/`tls`, YouTube `base_url`, Kick `ws_url`, ...),
    /// which the schema checks per platform.
    pub fn settings(&self, platform: Platform) -> PlatformOwn<'_> {
        PlatformOwn(self.platforms.get(&platform).map(|s| &s.settings))
    }
}

/// Whether a platform runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlatformMode {
    /// Sources start for every creator that enables the platform.
    Active,
    /// Implemented but switched off; never started.
    Paused,
    /// Partly built; listed, never started.
    Scaffold,
    /// Announced; listed, never started.
    Planned,
}

impl PlatformMode {
    /// The platform's own default (Rumble paused, Pilled planned, most active).
    pub fn default_for(platform: Platform) -> PlatformMode {
        crate::config::platform::config_of(platform)
            .map_or(PlatformMode::Active, |c| c.default_mode())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PlatformMode::Active => "active",
            PlatformMode::Paused => "paused",
            PlatformMode::Scaffold => "scaffold",
            PlatformMode::Planned => "planned",
        }
    }
}

/// One platform's mode and its own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformSettings {
    pub mode: PlatformMode,
    /// Everything else in the platform's block; its meaning belongs to the platform.
    #[serde(default, flatten)]
    pub settings: serde_json::Map<String, serde_json::Value>,
}

/// A platform's own settings, read key by key with the type the platform expects.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlatformOwn<'a>(Option<&'a serde_json::Map<String, serde_json::Value>>);

impl PlatformOwn<'_> {
    pub fn str(&self, key: &str) -> Option<String> {
        self.0?.get(key)?.as_str().map(str::to_owned)
    }

    pub fn u64(&self, key: &str) -> Option<u64> {
        self.0?.get(key)?.as_u64()
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        self.0?.get(key)?.as_bool()
    }
}
