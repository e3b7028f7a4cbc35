//! `runtime/config/posting.json`: go-live posts, X posting rules (which creators, which events)
//! and outgoing webhooks (signed JSON POSTs to URLs of the user's choosing).

use crate::event::Platform;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `runtime/config/posting.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostingConfig {
    #[serde(default)]
    pub go_live: GoLiveSettings,
    #[serde(default)]
    pub x: XSettings,
    /// Outgoing webhooks by name: where each POSTs, its signing secret and what it gets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub webhooks: BTreeMap<String, WebhookSettings>,
}

impl PostingConfig {
    /// The webhooks that get `creator`'s `event`, by name.
    pub fn webhooks_for(&self, creator: &str, event: PostEvent) -> impl Iterator<Item = &str> + '_ {
        let creator = creator.to_string();
        self.webhooks
            .iter()
            .filter(move |(_, w)| w.covers(&creator, event))
            .map(|(name, _)| name.as_str())
    }
}

/// How a `notify` action's channel names a webhook (`webhook:NAME`).
pub const WEBHOOK_CHANNEL_PREFIX: &str = "webhook:";

/// Headers a webhook's `headers` may not set: the sender sets them (the signature, the idempotency
/// key, the event name, the body's type and length).
pub const WEBHOOK_RESERVED_HEADERS: [&str; 5] = [
    "X-SS-Signature",
    "Idempotency-Key",
    "X-SS-Event",
    "Content-Type",
    "Content-Length",
];

/// One outgoing webhook: `POST url` with the notification as JSON, signed with
/// `X-SS-Signature: sha256=<hex HMAC-SHA256 of the body>` under the secret in `secret_env`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where to POST (http or https).
    pub url: String,
    /// Environment variable holding the signing secret.
    pub secret_env: String,
    /// Extra request headers (not secrets: they are plain config).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The notifications it gets (a `notify` action names it instead: `"channel": "webhook:NAME"`).
    #[serde(default)]
    pub events: Vec<PostEvent>,
    /// Whose notifications it gets; empty means every creator's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub creators: Vec<String>,
}

impl WebhookSettings {
    /// Whether it gets `creator`'s `event`.
    pub fn covers(&self, creator: &str, event: PostEvent) -> bool {
        self.events.contains(&event)
            && (self.creators.is_empty() || self.creators.iter().any(|c| c == creator))
    }
}

/// Go-live posts: one per stream, to each guild's `general` channel and, per the X rules, to X.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoLiveSettings {
    #[serde(default = "super::yes")]
    pub enabled: bool,
    /// The post text; `{creator}`, `{platform}`, `{title}` and `{url}` are filled in.
    #[serde(default = "GoLiveSettings::default_template")]
    pub template: String,
    /// Platforms whose go-live is posted; empty means every platform.
    #[serde(default)]
    pub platforms: Vec<Platform>,
}

impl Default for GoLiveSettings {
    fn default() -> Self {
        GoLiveSettings {
            enabled: true,
            template: GoLiveSettings::default_template(),
            platforms: Vec::new(),
        }
    }
}

impl GoLiveSettings {
    pub fn default_template() -> String {
        "{creator} is live on {platform}: {title} {url}".into()
    }

    /// Whether a go-live on `platform` is posted.
    pub fn covers(&self, platform: Platform) -> bool {
        self.enabled && (self.platforms.is_empty() || self.platforms.contains(&platform))
    }
}

/// Posting to X (`POST {api_base_url}/tweets`) with a user-context OAuth 2.0 token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XSettings {
    #[serde(default = "XSettings::default_api_base_url")]
    pub api_base_url: String,
    /// The OAuth 2.0 token endpoint, used to refresh the user token.
    #[serde(default = "XSettings::default_oauth_url")]
    pub oauth_url: String,
    /// Environment variable with the OAuth 2.0 user access token (scope `tweet.write`).
    #[serde(default)]
    pub token_env: Option<String>,
    /// Environment variable with the refresh token (scope `offline.access`), used after a 401.
    #[serde(default)]
    pub refresh_token_env: Option<String>,
    /// Environment variable with the app's OAuth 2.0 client id (needed to refresh).
    #[serde(default)]
    pub client_id_env: Option<String>,
    /// Which creators' events are posted, and with what text.
    #[serde(default)]
    pub rules: Vec<XRule>,
}

impl Default for XSettings {
    fn default() -> Self {
        XSettings {
            api_base_url: XSettings::default_api_base_url(),
            oauth_url: XSettings::default_oauth_url(),
            token_env: None,
            refresh_token_env: None,
            client_id_env: None,
            rules: Vec::new(),
        }
    }
}

impl XSettings {
    fn default_api_base_url() -> String {
        "https://api.x.com/2".into()
    }

    fn default_oauth_url() -> String {
        "https://api.x.com/2/oauth2/token".into()
    }

    /// The first rule for `creator` covering `event`.
    pub fn rule(&self, creator: &str, event: PostEvent) -> Option<&XRule> {
        self.rules
            .iter()
            .find(|r| r.creator == creator && r.events.contains(&event))
    }
}

/// One X posting rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XRule {
    pub creator: String,
    pub events: Vec<PostEvent>,
    /// The post text; default: the go-live template, or the clip's title and link.
    #[serde(default)]
    pub template: Option<String>,
}

/// Events that can be posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostEvent {
    GoLive,
    ClipPublished,
    /// A giveaway draw's winners (`{title}` is the winners line).
    GiveawayWinners,
}

impl PostEvent {
    /// The name in posting.json, and the `event` of a webhook's body.
    pub fn as_str(self) -> &'static str {
        match self {
            PostEvent::GoLive => "go_live",
            PostEvent::ClipPublished => "clip_published",
            PostEvent::GiveawayWinners => "giveaway_winners",
        }
    }
}
