//! Rumble's entry in the platform registry: its identity, its creators.json block and checks, its
//! platforms.json keys, its default mode (paused: the Live Stream API is read-only and needs a key
//! per creator) and how its source is built.

use super::{RumbleEndpoints, RumbleSource};
use crate::config::model::{Creator, PlatformMode};
use crate::config::platform::{
    Check, Credential, PlatformBlock, PlatformConfig, Settings, parse_settings, schema_part,
};
use crate::event::{Platform, PlatformInfo};
use crate::sources::registry::{PlatformModule, SourceBuild};
use crate::sources::{Source, SourceError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Rumble's identity.
pub static RUMBLE_INFO: PlatformInfo = PlatformInfo {
    name: "rumble",
    title: "Rumble",
    rank: 30,
    colour: Some(0x0085_C742),
    emotes: None,
};

/// Rumble.
pub const RUMBLE: Platform = Platform::new(&RUMBLE_INFO);

/// Rumble's module in the registry.
pub struct Rumble;

crate::register_platform!(RUMBLE_INFO, Rumble);

/// A creator's `rumble` block: the official Live Stream API, optionally with the chat's event
/// stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RumbleSettings {
    #[serde(default)]
    pub enabled: bool,
    /// Environment variable holding the full Live Stream API URL (it embeds a key).
    #[serde(default)]
    pub api_url_env: Option<String>,
    /// Seconds between API polls (default 10; never under [`RumbleSettings::MIN_POLL_INTERVAL_S`]).
    #[serde(default = "RumbleSettings::default_poll_interval_s")]
    pub poll_interval_s: f64,
    /// `api` (default) polls the Live Stream API only; `sse` also reads the chat's event stream.
    #[serde(default)]
    pub transport: RumbleTransport,
    /// The livestream's number for the event stream (base 10); default: the live stream the API
    /// names, converted from its base-36 id.
    #[serde(default)]
    pub stream_id: Option<String>,
    /// Failed event-stream openings in a row after which the source falls back to the API (default 3).
    #[serde(default = "RumbleSettings::default_sse_max_failures")]
    pub sse_max_failures: u32,
}

impl RumbleSettings {
    /// Rumble's minimum time between Live Stream API calls.
    pub const MIN_POLL_INTERVAL_S: f64 = 5.0;

    pub(crate) fn default_poll_interval_s() -> f64 {
        10.0
    }
    pub(crate) fn default_sse_max_failures() -> u32 {
        3
    }
}

/// How a Rumble source reads chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RumbleTransport {
    #[default]
    Api,
    Sse,
}

impl PlatformConfig for Rumble {
    fn platform(&self) -> Platform {
        RUMBLE
    }

    fn block_schema(&self) -> Value {
        schema_part(include_str!("creators_block.schema.json"))
    }

    fn parse_block(&self, raw: &Value) -> Result<Settings, serde_json::Error> {
        parse_settings::<RumbleSettings>(raw)
    }

    fn check_creator(&self, _creator: &Creator, block: Option<&PlatformBlock>, check: &mut Check) {
        let Some(r) = block.and_then(PlatformBlock::settings::<RumbleSettings>) else {
            return;
        };
        check.env_name("api_url_env", r.api_url_env.as_ref());
        if r.enabled && r.api_url_env.is_none() {
            check.error(
                "",
                "an enabled Rumble block needs `api_url_env`: the environment variable holding the Live Stream API URL from https://rumble.com/account/livestream-api, e.g. \"RUMBLE_API_URL_DEMO\"",
            );
        }
        if r.poll_interval_s < RumbleSettings::MIN_POLL_INTERVAL_S {
            check.error(
                "poll_interval_s",
                format!(
                    "poll_interval_s ({}) is under Rumble's minimum of 5 seconds between Live Stream API calls; use 5 or more (default 10)",
                    r.poll_interval_s
                ),
            );
        }
    }

    /// Paused: set platforms.json `rumble.mode` to `active` to read Rumble.
    fn default_mode(&self) -> PlatformMode {
        PlatformMode::Paused
    }

    fn platforms_json_schema(&self) -> Value {
        schema_part(include_str!("platforms_block.schema.json"))
    }

    fn credentials(&self, block: &PlatformBlock) -> Vec<Credential> {
        block
            .settings::<RumbleSettings>()
            .and_then(|r| Credential::named("read", r.api_url_env.as_ref()))
            .into_iter()
            .collect()
    }
}

impl PlatformModule for Rumble {
    fn build_source(&self, build: &SourceBuild<'_>) -> Result<Source, SourceError> {
        let rumble = build.settings::<RumbleSettings>()?;
        let endpoints = RumbleEndpoints::from_platform(build.own);
        Ok(Source::Polling(Box::new(
            RumbleSource::new(build.creator, rumble)?.with_endpoints(endpoints),
        )))
    }
}
