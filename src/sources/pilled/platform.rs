//! Pilled's entry in the platform registry: its identity and its creators.json block. Pilled is
//! planned (ingest only): its block is accepted with a warning, its mode cannot be active, and no
//! source starts.

use crate::config::model::{Creator, PlatformMode};
use crate::config::platform::{
    Check, PlatformBlock, PlatformConfig, Settings, parse_settings, schema_part,
};
use crate::event::{Platform, PlatformInfo};
use crate::sources::registry::PlatformModule;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Pilled's identity.
pub static PILLED_INFO: PlatformInfo = PlatformInfo {
    name: "pilled",
    title: "Pilled",
    rank: 40,
    colour: Some(0x00F5_A623),
    emotes: None,
};

/// Pilled.
pub const PILLED: Platform = Platform::new(&PILLED_INFO);

/// Pilled's module in the registry.
pub struct Pilled;

crate::register_platform!(PILLED_INFO, Pilled);

/// A creator's `pilled` block: planned, ingest only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PilledSettings {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub channel: Option<String>,
}

impl PlatformConfig for Pilled {
    fn platform(&self) -> Platform {
        PILLED
    }

    fn block_schema(&self) -> Value {
        schema_part(include_str!("creators_block.schema.json"))
    }

    fn parse_block(&self, raw: &Value) -> Result<Settings, serde_json::Error> {
        parse_settings::<PilledSettings>(raw)
    }

    fn check_creator(&self, _creator: &Creator, block: Option<&PlatformBlock>, check: &mut Check) {
        if block.is_some() {
            check.warn(
                "",
                "Pilled is not supported yet (planned, ingest only): this block is accepted and kept, but no Pilled source starts",
            );
        }
    }

    fn has_source(&self) -> bool {
        false
    }

    fn default_mode(&self) -> PlatformMode {
        PlatformMode::Planned
    }

    fn platforms_json_schema(&self) -> Value {
        schema_part(include_str!("platforms_block.schema.json"))
    }

    fn channel(&self, block: &PlatformBlock) -> Option<String> {
        block.settings::<PilledSettings>()?.channel.clone()
    }
}

impl PlatformModule for Pilled {}
