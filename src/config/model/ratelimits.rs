//! `runtime/config/ratelimits.json`: outgoing message limits, and the keys platforms own there (quota
//! budgets).

use crate::event::Platform;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `runtime/config/ratelimits.json`: outgoing message limits and quota budgets.
///
/// Unknown keys are refused by the schema (which each platform extends with the keys it owns), not
/// here: the platforms' own top-level keys (YouTube's `youtube_quota`) are kept in `own`, read by the
/// platform.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RateLimitsConfig {
    #[serde(default)]
    pub platforms: BTreeMap<Platform, SendLimit>,
    /// The platforms' own top-level keys, as written.
    #[serde(default, flatten)]
    pub own: serde_json::Map<String, serde_json::Value>,
}

impl RateLimitsConfig {
    /// The send limit for `platform`: as configured, else the platform's documented default.
    pub fn send_limit(&self, platform: Platform) -> SendLimit {
        self.platforms
            .get(&platform)
            .cloned()
            .unwrap_or_else(|| SendLimit::default_for(platform))
    }
}

/// At most `messages` per `per_s` seconds: the limit every platform has. A platform's own refinements
/// (Twitch's `privileged_messages` for a bot that moderates the channel) stay in `platform_specific`,
/// read by that platform's source and checked by the schema per platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendLimit {
    pub messages: u32,
    pub per_s: f64,
    #[serde(default, flatten)]
    pub platform_specific: serde_json::Map<String, serde_json::Value>,
}

impl SendLimit {
    /// The platform's own default send limit ([`SendLimit::conservative`] unless it says otherwise).
    pub fn default_for(platform: Platform) -> SendLimit {
        crate::config::platform::config_of(platform)
            .map_or_else(SendLimit::conservative, |c| c.send_limit())
    }

    /// A conservative 20 / 30 s, Twitch's documented limit for a bot that is not a moderator.
    /// A platform's source may refine it from `platform_specific`.
    pub fn conservative() -> SendLimit {
        SendLimit {
            messages: 20,
            per_s: 30.0,
            platform_specific: serde_json::Map::new(),
        }
    }
}
