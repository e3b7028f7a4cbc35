//! A creator's `twitch` block in creators.json ([`TwitchSettings`]) and its [`Transport`]: plain data,
//! read by the registry entry, the checks and the login alike.

use serde::{Deserialize, Serialize};

/// How a creator's Twitch chat is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// IRC (TLS by default): chat and USERNOTICE events; moderation through Helix with a login.
    #[default]
    Irc,
    /// EventSub over WebSocket for events, Helix for sending and moderating; needs a login
    /// (`ss auth twitch`) or a user token in `token_env`, and `client_id_env`.
    EventSub,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Irc => "irc",
            Transport::EventSub => "eventsub",
        }
    }
}

/// A creator's `twitch` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwitchSettings {
    #[serde(default)]
    pub enabled: bool,
    /// `irc` (the default) or `eventsub`.
    #[serde(default)]
    pub transport: Transport,
    /// The channel's user id, when the login's user is not the channel's owner (else looked up
    /// once per run).
    #[serde(default)]
    pub broadcaster_id: Option<String>,
    /// The channel login to join, without `#`.
    pub channel: String,
    /// The bot's login; a `justinfan…` nick (or no token_env) reads anonymously.
    #[serde(default = "TwitchSettings::default_nick")]
    pub nick: String,
    /// Environment variable holding the OAuth token (with or without `oauth:`).
    #[serde(default)]
    pub token_env: Option<String>,
    /// IRC host (default `irc.chat.twitch.tv`); platforms.json may override it for every creator.
    #[serde(default)]
    pub host: Option<String>,
    /// IRC port (default 6697 with TLS, 6667 without).
    #[serde(default)]
    pub port: Option<u16>,
    /// TLS on (default true).
    #[serde(default)]
    pub tls: Option<bool>,
    /// Environment variable with the Twitch application's client id (Helix: go-live, clips).
    #[serde(default)]
    pub client_id_env: Option<String>,
    /// Environment variable with the application's client secret (an app token by client credentials).
    #[serde(default)]
    pub client_secret_env: Option<String>,
}

impl TwitchSettings {
    pub(crate) fn default_nick() -> String {
        "justinfan12345".into()
    }
}
