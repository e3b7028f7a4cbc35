//! The bot's REST client: the calls the gateway bot makes over Discord's HTTP API, with the bot
//! token (`Authorization: Bot …`) and Discord's `User-Agent`, as Discord's API reference describes
//! them.
//!
//! - `GET /gateway/bot`: where to connect, and the Identify budget.
//! - `PUT /applications/{app}/guilds/{guild}/commands`: the bulk overwrite of a guild's slash
//!   commands.
//! - `POST /interactions/{id}/{token}/callback`: the first answer to a command (due within 3 s).
//! - `PATCH /webhooks/{app}/{token}/messages/@original`: the answer after a deferred response.
//! - `POST /channels/{id}/messages`: the guild's log channel (logging is off unless enabled).
//!
//! A 429 waits Discord's `retry_after` (bounded) and tries again a few times. Errors never carry a
//! URL (an interaction's token is part of its path) or a token: they name the call, the status and
//! Discord's message, scrubbed through [`Secrets::scrub`].

use super::wire::{GatewayBot, InteractionToken};
use crate::config::secrets::{Secret, Secrets};
use serde_json::Value;
use std::time::Duration;

/// How long one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting to the API may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// 429s in a row on one call before it gives up.
const MAX_RATE_LIMITED: u32 = 3;
/// The longest `retry_after` waited for; a longer one fails the call (an interaction would be
/// stale by then anyway).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
const USER_AGENT: &str = concat!(
    "DiscordBot (https://streamsuites.app, ",
    env!("CARGO_PKG_VERSION"),
    ")"
);

/// Why a REST call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestError {
    #[error(
        "Discord refused the bot token on {call} (401 Unauthorized)\n  hint: the variable named by discord.json token_env must hold the bot token from the Developer Portal (Bot > Reset Token)"
    )]
    Unauthorized { call: &'static str },
    #[error("Discord answered {status} on {call}: {message}")]
    Status {
        call: &'static str,
        status: u16,
        /// Discord's JSON error code (`10062` Unknown interaction, `50013` Missing Permissions).
        code: Option<u64>,
        message: String,
    },
    #[error("Discord kept rate limiting {call} (retry after {retry_after:?})")]
    RateLimited {
        call: &'static str,
        retry_after: Duration,
    },
    #[error("Discord could not be reached for {call}: {error}")]
    Transport { call: &'static str, error: String },
    #[error(transparent)]
    Wire(#[from] crate::wire::WireError),
}

/// The REST client of one bot. Cheap to clone.
#[derive(Clone)]
pub struct Rest {
    http: reqwest::Client,
    base: String,
    auth: Secret,
    secrets: Secrets,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest").field("base", &self.base).finish()
    }
}

/// Discord's error body, with the 429 fields.
#[derive(Debug, Default, serde::Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    code: Option<u64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    retry_after: Option<f64>,
}

impl Rest {
    /// A client for the API at `base` (`https://discord.com/api/v10`) with the bot `token`.
    pub fn new(
        base: &str,
        token: &Secret,
        secrets: Secrets,
    ) -> Result<Rest, crate::http_out::ClientError> {
        Ok(Rest {
            http: crate::http_out::client(REQUEST_TIMEOUT, CONNECT_TIMEOUT)?,
            base: base.trim_end_matches('/').to_owned(),
            auth: secrets.adopt(&format!("Bot {}", token.expose())),
            secrets,
        })
    }

    /// `GET /gateway/bot`.
    pub async fn gateway_bot(&self) -> Result<GatewayBot, RestError> {
        let text = self
            .call(
                "GET /gateway/bot",
                reqwest::Method::GET,
                "/gateway/bot".into(),
                None,
            )
            .await?;
        Ok(crate::wire::from_str(
            "the answer of GET /gateway/bot",
            &text,
        )?)
    }

    /// `PUT /applications/{app}/guilds/{guild}/commands` with `commands`; the number registered.
    pub async fn register_guild_commands(
        &self,
        application_id: &str,
        guild_id: &str,
        commands: &Value,
    ) -> Result<usize, RestError> {
        let text = self
            .call(
                "the guild command registration",
                reqwest::Method::PUT,
                format!("/applications/{application_id}/guilds/{guild_id}/commands"),
                Some(commands),
            )
            .await?;
        let registered: Vec<Value> =
            crate::wire::from_str("the answer of the guild command registration", &text)?;
        Ok(registered.len())
    }

    /// `POST /interactions/{id}/{token}/callback` with `response`.
    pub async fn callback(
        &self,
        interaction_id: &str,
        token: &InteractionToken,
        response: &Value,
    ) -> Result<(), RestError> {
        self.call(
            "the interaction callback",
            reqwest::Method::POST,
            format!("/interactions/{interaction_id}/{}/callback", token.expose()),
            Some(response),
        )
        .await
        .map(drop)
    }

    /// `PATCH /webhooks/{app}/{token}/messages/@original`: the answer after a deferred response.
    pub async fn edit_original(
        &self,
        application_id: &str,
        token: &InteractionToken,
        message: &Value,
    ) -> Result<(), RestError> {
        self.call(
            "the interaction follow-up",
            reqwest::Method::PATCH,
            format!(
                "/webhooks/{application_id}/{}/messages/@original",
                token.expose()
            ),
            Some(message),
        )
        .await
        .map(drop)
    }

    /// `POST /channels/{id}/messages`.
    pub async fn create_message(&self, channel_id: &str, message: &Value) -> Result<(), RestError> {
        self.call(
            "a log channel message",
            reqwest::Method::POST,
            format!("/channels/{channel_id}/messages"),
            Some(message),
        )
        .await
        .map(drop)
    }

    /// One call, with 429s waited out; the answer's text on 2xx.
    async fn call(
        &self,
        call: &'static str,
        method: reqwest::Method,
        path: String,
        body: Option<&Value>,
    ) -> Result<String, RestError> {
        let url = format!("{}{path}", self.base);
        let mut limited = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header("Authorization", self.auth.expose())
                .header("User-Agent", USER_AGENT);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|e| RestError::Transport {
                call,
                error: crate::http_out::describe(e, &self.secrets),
            })?;
            let status = response.status().as_u16();
            let retry_header = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<f64>().ok());
            let text = response.text().await.unwrap_or_default();
            if (200..300).contains(&status) {
                return Ok(text);
            }
            let answer: ErrorAnswer =
                crate::wire::from_str("a Discord error", &text).unwrap_or_default();
            match status {
                401 => return Err(RestError::Unauthorized { call }),
                429 => {
                    let retry_after = Duration::from_secs_f64(
                        answer
                            .retry_after
                            .or(retry_header)
                            .unwrap_or(1.0)
                            .clamp(0.0, 3600.0),
                    );
                    limited += 1;
                    if limited > MAX_RATE_LIMITED || retry_after > MAX_RETRY_AFTER {
                        return Err(RestError::RateLimited { call, retry_after });
                    }
                    tracing::info!(
                        call,
                        retry_after_s = retry_after.as_secs_f64(),
                        "Discord rate limit; waiting."
                    );
                    tokio::time::sleep(retry_after).await;
                }
                _ => {
                    let message = answer.message.map_or_else(
                        || {
                            reqwest::StatusCode::from_u16(status)
                                .ok()
                                .and_then(|s| s.canonical_reason())
                                .unwrap_or("error")
                                .to_owned()
                        },
                        |m| self.secrets.scrub(&m),
                    );
                    return Err(RestError::Status {
                        call,
                        status,
                        code: answer.code,
                        message: crate::sanitize::message(&message),
                    });
                }
            }
        }
    }
}

/// An answer shown only to the member who used the command (`flags: 64`, EPHEMERAL).
pub const EPHEMERAL: u64 = 1 << 6;
/// Callback type 4: a message now.
pub const CHANNEL_MESSAGE_WITH_SOURCE: u64 = 4;
/// Callback type 5: "thinking…" now, the message later (an edit of the original).
pub const DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: u64 = 5;

/// A message body that mentions no one, whatever its text says.
pub fn message(content: &str, ephemeral: bool) -> Value {
    let mut body = serde_json::json!({
        "content": truncate(content, MAX_CONTENT_CHARS),
        "allowed_mentions": {"parse": []},
    });
    if ephemeral {
        body["flags"] = EPHEMERAL.into();
    }
    body
}

/// The callback answering at once with `content`.
pub fn reply(content: &str, ephemeral: bool) -> Value {
    serde_json::json!({"type": CHANNEL_MESSAGE_WITH_SOURCE, "data": message(content, ephemeral)})
}

/// The callback deferring the answer.
pub fn defer(ephemeral: bool) -> Value {
    let mut body = serde_json::json!({"type": DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE});
    if ephemeral {
        body["data"] = serde_json::json!({"flags": EPHEMERAL});
    }
    body
}

/// The longest message content Discord accepts, in characters.
pub const MAX_CONTENT_CHARS: usize = 2000;

/// `text` cut to `max` characters, an ellipsis marking the cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_mention_no_one_and_hide_what_should_be_hidden() {
        let body = reply("@everyone clip queued", true);
        assert_eq!(body["type"], 4);
        assert_eq!(body["data"]["flags"], 64);
        assert_eq!(
            body["data"]["allowed_mentions"]["parse"],
            serde_json::json!([])
        );
        assert!(reply("status", false)["data"].get("flags").is_none());
        assert_eq!(
            defer(true),
            serde_json::json!({"type": 5, "data": {"flags": 64}})
        );
        let long = "x".repeat(2500);
        assert_eq!(
            message(&long, false)["content"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            2000
        );
    }
}
