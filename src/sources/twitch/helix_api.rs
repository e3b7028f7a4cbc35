//! Helix with a creator's user token: the calls EventSub and the platform commands make.
//!
//! | call | Helix | answer |
//! | --- | --- | --- |
//! | [`HelixApi::create_subscription`] | `POST /eventsub/subscriptions` | 202, the subscription with `cost`, `total_cost`, `max_total_cost` |
//! | [`HelixApi::send_chat`] | `POST /chat/messages` | 200 `data[0]`: `is_sent`, and a `drop_reason` when Twitch dropped it |
//! | [`HelixApi::ban`] | `POST /moderation/bans?broadcaster_id&moderator_id` | 200 (a `duration` makes it a timeout) |
//! | [`HelixApi::unban`] | `DELETE /moderation/bans?broadcaster_id&moderator_id&user_id` | 204 |
//! | [`HelixApi::delete_message`] | `DELETE /moderation/chat?broadcaster_id&moderator_id&message_id` | 204 |
//! | [`HelixApi::announce`] | `POST /chat/announcements?broadcaster_id&moderator_id` | 204 |
//! | [`HelixApi::user_id`] | `GET /users?login=` | the channel's user id |
//!
//! Every call carries `Authorization: Bearer` and the `Client-Id` that minted the token, both from
//! the creator's [`TwitchAuth`]. Every answer's `Ratelimit-Remaining` and `Ratelimit-Reset` (Unix
//! seconds) are kept, and a call made while the bucket is empty waits for its reset: Helix's 800
//! points a minute are shared by every call of the token. A 401 refreshes the token once and the
//! call is made again; a 403 is a missing scope ([`HelixError::MissingScope`], which the caller
//! reports once, naming the scope); a 429 is [`HelixError::TooManyRequests`] with the reset, for
//! the caller to wait on (commands) or back off (subscriptions). Errors use Helix's envelope
//! (`{"error":"Bad Request","status":400,"message":"…"}`) and never carry a token.

use super::auth::{AuthError, TwitchAuth};
use crate::config::secrets::Secrets;
use crate::wire::{self, ErrorBody, WireError};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Twitch's Helix API.
pub const DEFAULT_HELIX_URL: &str = "https://api.twitch.tv/helix";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest wait for a rate-limit reset Helix may ask (its bucket refills each minute).
const MAX_RESET_WAIT: Duration = Duration::from_secs(60);

/// Why a Helix call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum HelixError {
    /// The token is unusable (refused, not refreshable) or the id server could not be asked.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// 403: the token lacks a scope (or the user the rights) this call needs.
    #[error("Twitch refused it (403): {0}")]
    MissingScope(String),
    /// 429: over a limit; `reset_in` is how long until Helix's bucket refills, when it said.
    #[error("Twitch says too many requests (429): {message}")]
    TooManyRequests {
        message: String,
        reset_in: Option<Duration>,
    },
    /// Any other error answer.
    #[error("Twitch answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("{0}")]
    Transport(String),
    #[error(transparent)]
    Wire(#[from] WireError),
}

/// What Helix's rate-limit headers said last.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    remaining: Option<u64>,
    /// When the bucket refills.
    reset_at: Option<Instant>,
}

/// A Helix client for one creator's user token.
pub struct HelixApi {
    http: reqwest::Client,
    base: String,
    auth: Arc<TwitchAuth>,
    secrets: Secrets,
    bucket: std::sync::Mutex<Bucket>,
}

impl std::fmt::Debug for HelixApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelixApi")
            .field("base", &self.base)
            .finish()
    }
}

/// A subscription as `POST /eventsub/subscriptions` created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub id: String,
    pub cost: u64,
    pub total_cost: u64,
    pub max_total_cost: u64,
}

#[derive(Deserialize)]
struct CreatedAnswer {
    data: Vec<CreatedSubscription>,
    #[serde(default)]
    total_cost: u64,
    #[serde(default)]
    max_total_cost: u64,
}

#[derive(Deserialize)]
struct CreatedSubscription {
    id: String,
    #[serde(default)]
    cost: u64,
}

/// Why Twitch dropped a chat message it accepted (HTTP 200 with `is_sent: false`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DropReason {
    /// `msg_duplicate`, `msg_ratelimit`, `msg_banned`, ... (unknown codes are kept as they are).
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// What `POST /chat/messages` said of one message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChatSent {
    #[serde(default)]
    pub message_id: String,
    pub is_sent: bool,
    #[serde(default)]
    pub drop_reason: Option<DropReason>,
}

#[derive(Deserialize)]
struct ChatAnswer {
    data: Vec<ChatSent>,
}

#[derive(Serialize)]
struct ChatBody<'a> {
    broadcaster_id: &'a str,
    sender_id: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_parent_message_id: Option<&'a str>,
}

#[derive(Serialize)]
struct BanBody<'a> {
    data: BanData<'a>,
}

#[derive(Serialize)]
struct BanData<'a> {
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

#[derive(Deserialize)]
struct Users {
    data: Vec<User>,
}

#[derive(Deserialize)]
struct User {
    id: String,
}

/// The message of an error answer.
fn message_of(body: &str) -> String {
    ErrorBody::parse(body)
        .and_then(|b| b.text().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect())
}

/// How long until `reset` (Unix seconds), as Helix's `Ratelimit-Reset` says it.
fn reset_in(reset: u64, now_unix: i64) -> Duration {
    let now = u64::try_from(now_unix).unwrap_or(0);
    Duration::from_secs(reset.saturating_sub(now)).min(MAX_RESET_WAIT)
}

fn header_u64(headers: &reqwest::header::HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

impl HelixApi {
    pub fn new(
        helix_url: &str,
        auth: Arc<TwitchAuth>,
        secrets: Secrets,
    ) -> Result<HelixApi, crate::http_out::ClientError> {
        Ok(HelixApi {
            http: crate::http_out::client(REQUEST_TIMEOUT, REQUEST_TIMEOUT)?,
            base: helix_url.trim_end_matches('/').to_owned(),
            auth,
            secrets,
            bucket: std::sync::Mutex::new(Bucket::default()),
        })
    }

    /// The token these calls are made with.
    pub fn auth(&self) -> &Arc<TwitchAuth> {
        &self.auth
    }

    /// Waits while the rate-limit bucket is empty and not yet refilled.
    async fn pace(&self) {
        let wait = {
            let bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
            match (bucket.remaining, bucket.reset_at) {
                (Some(0), Some(at)) if at > Instant::now() => Some(at),
                _ => None,
            }
        };
        if let Some(at) = wait {
            tracing::debug!(
                platform = "twitch",
                wait_ms = (at - Instant::now()).as_millis() as u64,
                "Helix rate limit spent; waiting for its reset."
            );
            tokio::time::sleep_until(at).await;
        }
    }

    fn note_limits(&self, headers: &reqwest::header::HeaderMap) -> Option<Duration> {
        let remaining = header_u64(headers, "ratelimit-remaining");
        let reset = header_u64(headers, "ratelimit-reset")
            .map(|r| reset_in(r, chrono::Utc::now().timestamp()));
        let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        if remaining.is_some() {
            bucket.remaining = remaining;
        }
        if let Some(reset) = reset {
            bucket.reset_at = Some(Instant::now() + reset);
        }
        reset
    }

    /// [`Self::call`] for the calls whose answer has no body worth reading: any 2xx is success,
    /// anything else the error it names.
    async fn call_for_success(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<(), HelixError> {
        let (status, text) = self.call(method, path, query, body).await?;
        match status {
            200..=299 => Ok(()),
            _ => Err(Self::error(status, &text)),
        }
    }

    /// Makes one call (again after refreshing the token once on a 401); the status and body of
    /// any answer but 401, 403 and 429.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<(u16, String), HelixError> {
        let mut refreshed = false;
        loop {
            self.pace().await;
            let (token, client_id) = self.auth.credentials().await?;
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .query(query)
                .bearer_auth(token.expose())
                .header("Client-Id", client_id.expose());
            if let Some(body) = &body {
                request = request
                    .header("Content-Type", "application/json")
                    .body(body.clone());
            }
            let response = request
                .send()
                .await
                .map_err(|e| HelixError::Transport(crate::http_out::describe(e, &self.secrets)))?;
            let status = response.status().as_u16();
            let reset = self.note_limits(response.headers());
            let text = response
                .text()
                .await
                .map_err(|e| HelixError::Transport(crate::http_out::describe(e, &self.secrets)))?;
            match status {
                401 if !refreshed => {
                    refreshed = true;
                    self.auth.refresh_after_refusal(&token).await?;
                }
                401 => {
                    return Err(HelixError::Auth(AuthError::Refused(format!(
                        "Twitch refused the freshly refreshed token (401: {})",
                        message_of(&text)
                    ))));
                }
                403 => return Err(HelixError::MissingScope(message_of(&text))),
                429 => {
                    return Err(HelixError::TooManyRequests {
                        message: message_of(&text),
                        reset_in: reset,
                    });
                }
                _ => return Ok((status, text)),
            }
        }
    }

    fn error(status: u16, body: &str) -> HelixError {
        HelixError::Status {
            status,
            message: message_of(body),
        }
    }

    /// Creates an EventSub subscription of `kind` (`version`) with `condition` on the WebSocket
    /// session `session_id`.
    pub async fn create_subscription(
        &self,
        kind: &str,
        version: &str,
        condition: &serde_json::Value,
        session_id: &str,
    ) -> Result<Created, HelixError> {
        let body = serde_json::json!({
            "type": kind,
            "version": version,
            "condition": condition,
            "transport": {"method": "websocket", "session_id": session_id},
        });
        let (status, text) = self
            .call(
                Method::POST,
                "/eventsub/subscriptions",
                &[],
                Some(body.to_string()),
            )
            .await?;
        if !(200..300).contains(&status) {
            return Err(Self::error(status, &text));
        }
        let answer: CreatedAnswer = wire::from_str("Helix's subscription answer", &text)?;
        let created = answer.data.into_iter().next().ok_or_else(|| {
            WireError::shape(
                "Helix's subscription answer",
                "data",
                "no subscription in the answer",
            )
        })?;
        Ok(Created {
            id: created.id,
            cost: created.cost,
            total_cost: answer.total_cost,
            max_total_cost: answer.max_total_cost,
        })
    }

    /// Sends a chat message as `sender_id` (threaded under `reply_to`).
    pub async fn send_chat(
        &self,
        broadcaster_id: &str,
        sender_id: &str,
        message: &str,
        reply_to: Option<&str>,
    ) -> Result<ChatSent, HelixError> {
        let body = serde_json::to_string(&ChatBody {
            broadcaster_id,
            sender_id,
            message,
            reply_parent_message_id: reply_to,
        })
        .map_err(|e| HelixError::Transport(e.to_string()))?;
        let (status, text) = self
            .call(Method::POST, "/chat/messages", &[], Some(body))
            .await?;
        if status != 200 {
            return Err(Self::error(status, &text));
        }
        let answer: ChatAnswer = wire::from_str("Helix's chat answer", &text)?;
        answer.data.into_iter().next().ok_or_else(|| {
            WireError::shape("Helix's chat answer", "data", "no message in the answer").into()
        })
    }

    /// Bans `user_id`, or times them out for `duration` seconds.
    pub async fn ban(
        &self,
        broadcaster_id: &str,
        moderator_id: &str,
        user_id: &str,
        duration: Option<u32>,
        reason: Option<&str>,
    ) -> Result<(), HelixError> {
        let body = serde_json::to_string(&BanBody {
            data: BanData {
                user_id,
                duration,
                reason,
            },
        })
        .map_err(|e| HelixError::Transport(e.to_string()))?;
        self.call_for_success(
            Method::POST,
            "/moderation/bans",
            &[
                ("broadcaster_id", broadcaster_id),
                ("moderator_id", moderator_id),
            ],
            Some(body),
        )
        .await
    }

    /// Lifts a ban or timeout of `user_id`.
    pub async fn unban(
        &self,
        broadcaster_id: &str,
        moderator_id: &str,
        user_id: &str,
    ) -> Result<(), HelixError> {
        self.call_for_success(
            Method::DELETE,
            "/moderation/bans",
            &[
                ("broadcaster_id", broadcaster_id),
                ("moderator_id", moderator_id),
                ("user_id", user_id),
            ],
            None,
        )
        .await
    }

    /// Deletes one chat message.
    pub async fn delete_message(
        &self,
        broadcaster_id: &str,
        moderator_id: &str,
        message_id: &str,
    ) -> Result<(), HelixError> {
        self.call_for_success(
            Method::DELETE,
            "/moderation/chat",
            &[
                ("broadcaster_id", broadcaster_id),
                ("moderator_id", moderator_id),
                ("message_id", message_id),
            ],
            None,
        )
        .await
    }

    /// Posts `message` as an announcement (in the channel's colour).
    pub async fn announce(
        &self,
        broadcaster_id: &str,
        moderator_id: &str,
        message: &str,
    ) -> Result<(), HelixError> {
        let body = serde_json::json!({"message": message, "color": "primary"}).to_string();
        self.call_for_success(
            Method::POST,
            "/chat/announcements",
            &[
                ("broadcaster_id", broadcaster_id),
                ("moderator_id", moderator_id),
            ],
            Some(body),
        )
        .await
    }

    /// The user id of `login`; `None` when Twitch has no such user.
    pub async fn user_id(&self, login: &str) -> Result<Option<String>, HelixError> {
        let (status, text) = self
            .call(Method::GET, "/users", &[("login", login)], None)
            .await?;
        if status != 200 {
            return Err(Self::error(status, &text));
        }
        let users: Users = wire::from_str("Helix's /users answer", &text)?;
        Ok(users.data.into_iter().next().map(|u| u.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn answers_as_helix_sends_them() {
        let created: CreatedAnswer = wire::from_str(
            "c",
            r#"{"data":[{"id":"0b7f3361-672b-4d39-b307-dd5b576c9b27","status":"enabled","type":"channel.chat.message","version":"1","condition":{"broadcaster_user_id":"1971641","user_id":"2914196"},"created_at":"2023-11-06T18:11:47.492253549Z","transport":{"method":"websocket","session_id":"AQoQ","connected_at":"2023-11-06T18:11:47.492253549Z"},"cost":0}],"total":1,"total_cost":0,"max_total_cost":10}"#,
        )
        .unwrap();
        assert_eq!(created.max_total_cost, 10);
        assert_eq!(created.data[0].id, "0b7f3361-672b-4d39-b307-dd5b576c9b27");

        let sent: ChatAnswer = wire::from_str(
            "s",
            r#"{"data":[{"message_id":"abc-123-def","is_sent":true}]}"#,
        )
        .unwrap();
        assert!(sent.data[0].is_sent && sent.data[0].drop_reason.is_none());
        let dropped: ChatAnswer = wire::from_str(
            "s",
            r#"{"data":[{"message_id":"","is_sent":false,"drop_reason":{"code":"msg_rejected","message":"Your message is being checked by mods and has not been sent."}}]}"#,
        )
        .unwrap();
        assert_eq!(
            dropped.data[0]
                .drop_reason
                .as_ref()
                .map(|d| d.code.as_str()),
            Some("msg_rejected")
        );
        assert_eq!(
            message_of(
                r#"{"error":"Bad Request","status":400,"message":"user is already banned"}"#
            ),
            "user is already banned"
        );
        assert_eq!(
            serde_json::to_value(BanBody {
                data: BanData {
                    user_id: "9876",
                    duration: Some(300),
                    reason: Some("no reason")
                }
            })
            .unwrap(),
            serde_json::json!({"data": {"user_id": "9876", "duration": 300, "reason": "no reason"}})
        );
    }

    #[test]
    fn the_reset_is_unix_seconds_from_now_and_never_far() {
        assert_eq!(
            reset_in(1_700_000_010, 1_700_000_000),
            Duration::from_secs(10)
        );
        assert_eq!(reset_in(1_699_999_990, 1_700_000_000), Duration::ZERO);
        assert_eq!(reset_in(u64::MAX, 0), MAX_RESET_WAIT);
    }

    proptest! {
        #[test]
        fn answers_never_panic(body in "\\PC{0,200}") {
            let _ = wire::from_str::<ChatAnswer>("x", &body);
            let _ = wire::from_str::<CreatedAnswer>("x", &body);
            let _ = message_of(&body);
        }
    }
}
