//! `runtime/config/ratelimits.json`: outgoing message limits and quota budgets.

use crate::event::Platform;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `runtime/config/ratelimits.json`: outgoing message limits and quota budgets.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsConfig {
    #[serde(default)]
    pub platforms: BTreeMap<Platform, SendLimit>,
    #[serde(default)]
    pub youtube_quota: YoutubeQuota,
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
    /// A conservative 20 / 30 s, Twitch's documented limit for a bot that is not a moderator.
    /// A platform's source may refine it from `platform_specific`.
    pub fn default_for(_platform: Platform) -> SendLimit {
        SendLimit {
            messages: 20,
            per_s: 30.0,
            platform_specific: serde_json::Map::new(),
        }
    }
}

/// YouTube Data API daily quota budget (units reset at midnight Pacific).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YoutubeQuota {
    /// Units per day the project has (default 10000).
    #[serde(default = "YoutubeQuota::default_daily")]
    pub daily_units: u32,
    /// Units kept back for sending and recovery (default 1000).
    #[serde(default = "YoutubeQuota::default_reserve")]
    pub reserve_units: u32,
    /// Never spend past this many units in a day (default 9500).
    #[serde(default = "YoutubeQuota::default_hard_cap")]
    pub hard_cap_units: u32,
    /// How long a stream is expected to last, counted from the chat's start (default 8): polling
    /// spreads its budget over this time.
    #[serde(default = "YoutubeQuota::default_plan_hours")]
    pub plan_hours: f64,
    /// The shortest wait between polls, whatever the plan (default 1000).
    #[serde(default = "YoutubeQuota::default_min_interval_ms")]
    pub min_interval_ms: u64,
    /// Units per call, from Google's published cost table.
    #[serde(default)]
    pub costs: QuotaCosts,
}

/// Units each YouTube Data API method costs (Google's cost table; configurable because Google
/// changes it and a project may have a negotiated table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaCosts {
    #[serde(default = "QuotaCosts::default_list")]
    pub list: u32,
    #[serde(default = "QuotaCosts::default_one")]
    pub videos_list: u32,
    #[serde(default = "QuotaCosts::default_search")]
    pub search_list: u32,
    #[serde(default = "QuotaCosts::default_one")]
    pub live_broadcasts_list: u32,
    #[serde(default = "QuotaCosts::default_insert")]
    pub insert: u32,
    /// `liveChatBans.insert` and `liveChatMessages.delete` (no published cost: 50 budgeted).
    #[serde(default = "QuotaCosts::default_insert")]
    pub moderation: u32,
}

impl QuotaCosts {
    fn default_list() -> u32 {
        5
    }
    fn default_one() -> u32 {
        1
    }
    fn default_search() -> u32 {
        100
    }
    fn default_insert() -> u32 {
        50
    }
}

impl Default for QuotaCosts {
    fn default() -> Self {
        QuotaCosts {
            list: Self::default_list(),
            videos_list: Self::default_one(),
            search_list: Self::default_search(),
            live_broadcasts_list: Self::default_one(),
            insert: Self::default_insert(),
            moderation: Self::default_insert(),
        }
    }
}

impl YoutubeQuota {
    fn default_daily() -> u32 {
        10_000
    }
    fn default_reserve() -> u32 {
        1_000
    }
    fn default_hard_cap() -> u32 {
        9_500
    }
    fn default_plan_hours() -> f64 {
        8.0
    }
    fn default_min_interval_ms() -> u64 {
        1_000
    }
}

impl Default for YoutubeQuota {
    fn default() -> Self {
        Self {
            daily_units: Self::default_daily(),
            reserve_units: Self::default_reserve(),
            hard_cap_units: Self::default_hard_cap(),
            plan_hours: Self::default_plan_hours(),
            min_interval_ms: Self::default_min_interval_ms(),
            costs: QuotaCosts::default(),
        }
    }
}
