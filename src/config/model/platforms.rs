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

    /// The endpoint overrides of `platform` (empty when none).
    pub fn endpoints(&self, platform: Platform) -> Endpoints {
        self.platforms
            .get(&platform)
            .map(|s| s.endpoints.clone())
            .unwrap_or_default()
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
    /// Built-in modes: Rumble paused, Pilled planned, the rest active.
    pub fn default_for(platform: Platform) -> PlatformMode {
        match platform {
            Platform::Rumble => PlatformMode::Paused,
            Platform::Pilled => PlatformMode::Planned,
            _ => PlatformMode::Active,
        }
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

/// One platform's mode and endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformSettings {
    pub mode: PlatformMode,
    #[serde(default, flatten)]
    pub endpoints: Endpoints,
}

/// Endpoint overrides, so tests and self-hosted servers can stand in for the real ones.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Endpoints {
    /// HTTP API base URL (YouTube, Kick, Rumble, Discord).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Websocket URL (Kick's Pusher).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws_url: Option<String>,
    /// Host for socket protocols (Twitch IRC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
}
