//! `runtime/config/creators.json`: creators and, per creator, the platforms they run with their
//! settings (each platform's block is its own: see [`crate::config::platform`]).

use super::yes;
pub use crate::config::platform::CreatorPlatforms;
use serde::{Deserialize, Serialize};

/// A creator id creators.json does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown creator {id:?}; creators.json defines: {}", known.join(", "))]
pub struct UnknownCreator {
    pub id: String,
    pub known: Vec<String>,
}

/// `runtime/config/creators.json`: the creators this runtime serves.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatorsConfig {
    pub creators: Vec<Creator>,
}

impl CreatorsConfig {
    pub fn get(&self, id: &str) -> Option<&Creator> {
        self.creators.iter().find(|c| c.id == id)
    }

    /// The creator `id`, or an error listing the ids creators.json defines.
    pub fn require(&self, id: &str) -> Result<&Creator, UnknownCreator> {
        self.get(id).ok_or_else(|| UnknownCreator {
            id: id.to_string(),
            known: self.creators.iter().map(|c| c.id.clone()).collect(),
        })
    }
}

/// One creator and the platforms their runtime connects to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Creator {
    /// Stable id: lowercase letters, digits, `-` and `_`.
    pub id: String,
    pub display_name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub platforms: CreatorPlatforms,
    /// The creator's replay buffer and clip destination.
    #[serde(default)]
    pub clips: Option<CreatorClips>,
    /// Viewers the operator declares as one person across platforms (as `!link` does from chat).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<DeclaredLink>,
}

/// One person an operator declares: a name and their account id on each platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredLink {
    /// The person's name (letters, digits, `-`, `_`; unique within the creator).
    pub name: String,
    /// Platform name → that platform's user id (Twitch `user-id`, YouTube channel id, ...).
    pub accounts: std::collections::BTreeMap<crate::event::Platform, String>,
}

/// A creator's clip settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatorClips {
    /// The replay buffer; without it only `twitch` clips can be made.
    #[serde(default)]
    pub capture: Option<CaptureSettings>,
    /// Overrides system.json's `clips.default_destination` (`local`, `http`, `twitch`).
    #[serde(default)]
    pub destination: Option<String>,
    /// Where a clip's video comes from: `capture` (the FFmpeg replay buffer above, the default) or
    /// `obs` (OBS's own replay buffer, saved over obs-websocket; obs.json names the OBS).
    #[serde(default)]
    pub source: ClipSource,
}

/// Where a creator's clips are cut from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClipSource {
    /// The runtime's own FFmpeg capture (`clips.capture`).
    #[default]
    Capture,
    /// OBS's replay buffer: `SaveReplayBuffer`, then the file its `ReplayBufferSaved` event names.
    Obs,
}

/// The replay buffer: what FFmpeg records and how much of it is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSettings {
    /// Anything FFmpeg reads: an HLS, RTMP, SRT, UDP or TCP URL, or a file (looped, read in real time).
    pub input: String,
    /// Seconds of stream kept (default 120).
    #[serde(default = "CaptureSettings::default_buffer_s")]
    pub buffer_s: u32,
    /// Seconds per segment (default 2).
    #[serde(default = "CaptureSettings::default_segment_s")]
    pub segment_s: u32,
}

impl CaptureSettings {
    fn default_buffer_s() -> u32 {
        120
    }
    fn default_segment_s() -> u32 {
        2
    }
}
