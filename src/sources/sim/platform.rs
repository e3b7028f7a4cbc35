//! The sim source's entry in the platform registry: its identity (it shows Twitch's emote images,
//! whose ids it uses), its creators.json block and how its source is built.

use super::SimSource;
use crate::config::platform::{
    PlatformBlock, PlatformConfig, Settings, parse_settings, schema_part,
};
use crate::event::{Platform, PlatformInfo};
use crate::sources::registry::{PlatformModule, SourceBuild};
use crate::sources::{Source, SourceError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The sim source's identity.
pub static SIM_INFO: PlatformInfo = PlatformInfo {
    name: "sim",
    title: "Sim",
    rank: 50,
    colour: None,
    emotes: Some(crate::sources::twitch::platform::TWITCH_EMOTES),
};

/// The built-in synthetic chat.
pub const SIM: Platform = Platform::new(&SIM_INFO);

/// The sim source's module in the registry.
pub struct Sim;

crate::register_platform!(SIM_INFO, Sim);

/// A creator's `sim` block: the built-in synthetic chat source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSettings {
    #[serde(default)]
    pub enabled: bool,
    /// Events per second (default 5; 0 means as fast as the pipeline takes them).
    #[serde(default = "SimSettings::default_rate")]
    pub rate_per_s: f64,
    /// Seed: the same seed gives the same chat (default 7).
    #[serde(default = "SimSettings::default_seed")]
    pub seed: u64,
    /// How many distinct viewers chat (default 200).
    #[serde(default = "SimSettings::default_users")]
    pub users: u32,
    /// The channel name the events claim (default the creator id).
    #[serde(default)]
    pub channel: Option<String>,
}

impl SimSettings {
    pub(crate) fn default_rate() -> f64 {
        5.0
    }
    pub(crate) fn default_seed() -> u64 {
        7
    }
    pub(crate) fn default_users() -> u32 {
        200
    }
}

impl Default for SimSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            rate_per_s: Self::default_rate(),
            seed: Self::default_seed(),
            users: Self::default_users(),
            channel: None,
        }
    }
}

impl PlatformConfig for Sim {
    fn platform(&self) -> Platform {
        SIM
    }

    fn block_schema(&self) -> Value {
        schema_part(include_str!("creators_block.schema.json"))
    }

    fn parse_block(&self, raw: &Value) -> Result<Settings, serde_json::Error> {
        parse_settings::<SimSettings>(raw)
    }

    fn platforms_json_schema(&self) -> Value {
        schema_part(include_str!("platforms_block.schema.json"))
    }

    fn moderation(&self, _block: &PlatformBlock) -> Result<(), String> {
        Ok(())
    }

    fn channel(&self, block: &PlatformBlock) -> Option<String> {
        block.settings::<SimSettings>()?.channel.clone()
    }
}

impl PlatformModule for Sim {
    fn build_source(&self, build: &SourceBuild<'_>) -> Result<Source, SourceError> {
        let sim = build.settings::<SimSettings>()?;
        Ok(Source::Session(Box::new(SimSource::new(
            build.creator,
            sim,
        ))))
    }
}
