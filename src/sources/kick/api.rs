//! Kick over HTTP: the channel lookup (unofficial `GET /api/v2/channels/{slug}`), the official
//! Public API's chat and moderation calls (`POST {base_url}/chat`, `DELETE {base_url}/chat/{id}`,
//! `POST` and `DELETE {base_url}/moderation/bans`) and the OAuth token refresh
//! (`POST {oauth_url}/oauth/token`).
//!
//! Each call answers with what a caller acts on ([`ApiError`]): an expired token is
//! [`ApiError::Unauthorized`] (refresh and retry once), a lookup Kick's Cloudflare front blocks is
//! [`ApiError::Blocked`] (a setting to fill in, not something to retry). Tokens travel only in
//! headers and form bodies, never in URLs or messages.

use super::wire::{self, ChannelInfo, TokenAnswer};
use crate::config::secrets::Secret;
use std::time::Duration;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: the token is expired or revoked.
    #[error("Kick answered 401 Unauthorized")]
    Unauthorized,
    /// 403 or a Cloudflare HTML page instead of JSON.
    #[error("Kick blocked the request (HTTP {status}{html})", html = if *.html { ", an HTML page" } else { "" })]
    Blocked { status: u16, html: bool },
    /// Any other non-2xx answer (its body shortened).
    #[error("Kick answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    /// A message id that cannot be a Kick message id (a UUID): nothing was sent.
    #[error("{0:?} is not a Kick message id; nothing was sent")]
    NotAnId(String),
    #[error("{0}")]
    Transport(String),
    #[error("{0}")]
    Wire(#[from] crate::wire::WireError),
}

/// One chat message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatPost<'a> {
    pub broadcaster_user_id: Option<u64>,
    pub content: &'a str,
    /// `user` (as the token's owner, in the broadcaster's channel) or `bot`.
    pub as_bot: bool,
    pub reply_to: Option<&'a str>,
}

/// A ban or timeout (`POST /moderation/bans`): ids are JSON integers, `duration` in minutes
/// (1–10080; absent for a permanent ban), `reason` at most 100 characters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BanBody {
    pub broadcaster_user_id: u64,
    pub user_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Lifting a ban or timeout (`DELETE /moderation/bans` with a JSON body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct UnbanBody {
    pub broadcaster_user_id: u64,
    pub user_id: u64,
}

/// One moderation call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moderation<'a> {
    Ban(BanBody),
    Unban(UnbanBody),
    /// `DELETE /chat/{message_id}` (204).
    DeleteMessage(&'a str),
}

/// The HTTP side of one Kick source.
#[derive(Debug, Clone)]
pub struct KickApi {
    http: reqwest::Client,
    base_url: String,
    oauth_url: String,
    channel_api_url: String,
}

impl KickApi {
    pub fn new(
        base_url: &str,
        oauth_url: &str,
        channel_api_url: &str,
    ) -> Result<KickApi, crate::sources::ClientError> {
        let http = crate::sources::http_client(REQUEST_TIMEOUT, CONNECT_TIMEOUT)?;
        let trim = |u: &str| u.trim_end_matches('/').to_owned();
        Ok(KickApi {
            http,
            base_url: trim(base_url),
            oauth_url: trim(oauth_url),
            channel_api_url: trim(channel_api_url),
        })
    }

    /// `GET {channel_api_url}/channels/{slug}`.
    pub async fn lookup_channel(&self, slug: &str) -> Result<ChannelInfo, ApiError> {
        let url = format!("{}/channels/{slug}", self.channel_api_url);
        let response = self
            .http
            .get(&url)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| transport("channel lookup", &e))?;
        let status = response.status().as_u16();
        let html = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        let body = response
            .text()
            .await
            .map_err(|e| transport("channel lookup", &e))?;
        let looks_html = html || body.trim_start().starts_with('<');
        if status == 403 || (looks_html && (200..300).contains(&status)) {
            return Err(ApiError::Blocked {
                status,
                html: looks_html,
            });
        }
        if !(200..300).contains(&status) {
            return Err(status_error(status, &body));
        }
        Ok(wire::parse_channel(&body, slug)?)
    }

    /// `POST {base_url}/chat`; the platform's message id when it says one.
    pub async fn send_chat(
        &self,
        token: &Secret,
        post: &ChatPost<'_>,
    ) -> Result<Option<String>, ApiError> {
        let mut body = serde_json::json!({
            "content": post.content,
            "type": if post.as_bot { "bot" } else { "user" },
        });
        if let Some(id) = post.broadcaster_user_id {
            body["broadcaster_user_id"] = id.into();
        }
        if let Some(reply_to) = post.reply_to {
            body["reply_to_message_id"] = reply_to.into();
        }
        let response = self
            .http
            .post(format!("{}/chat", self.base_url))
            .bearer_auth(token.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| transport("chat send", &e))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| transport("chat send", &e))?;
        match status {
            200..=299 => Ok(wire::parse_sent(&text)),
            401 => Err(ApiError::Unauthorized),
            _ => Err(status_error(status, &text)),
        }
    }

    /// One moderation call; `Ok` on any 2xx (200 with a body, or 204).
    pub async fn moderate(&self, token: &Secret, call: &Moderation<'_>) -> Result<(), ApiError> {
        let bans = format!("{}/moderation/bans", self.base_url);
        let (what, request) = match call {
            Moderation::Ban(body) => ("ban", self.http.post(&bans).json(body)),
            Moderation::Unban(body) => ("unban", self.http.delete(&bans).json(body)),
            Moderation::DeleteMessage(id) => {
                if id.is_empty()
                    || !id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
                {
                    return Err(ApiError::NotAnId((*id).to_owned()));
                }
                (
                    "message delete",
                    self.http.delete(format!("{}/chat/{id}", self.base_url)),
                )
            }
        };
        let response = request
            .bearer_auth(token.expose())
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| transport(what, &e))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| transport(what, &e))?;
        match status {
            200..=299 => Ok(()),
            401 => Err(ApiError::Unauthorized),
            _ => Err(status_error(status, &text)),
        }
    }

    /// `POST {oauth_url}/oauth/token` with `grant_type=refresh_token`.
    pub async fn refresh(
        &self,
        refresh_token: &Secret,
        client_id: &Secret,
        client_secret: &Secret,
    ) -> Result<TokenAnswer, ApiError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
            ("client_id", client_id.expose()),
            ("client_secret", client_secret.expose()),
        ];
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let response = self
            .http
            .post(format!("{}/oauth/token", self.oauth_url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| transport("token refresh", &e))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| transport("token refresh", &e))?;
        match status {
            200..=299 => Ok(wire::parse_token(&text)?),
            400 | 401 => Err(ApiError::Unauthorized),
            _ => Err(status_error(status, &text)),
        }
    }
}

/// `application/x-www-form-urlencoded` for one value.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A non-2xx answer; the body is shortened (it is an error page, not data).
fn status_error(status: u16, body: &str) -> ApiError {
    let body: String = body.trim().chars().take(200).collect();
    ApiError::Status { status, body }
}

/// A transport failure, described without the request (reqwest's message names the URL, which
/// carries no secret here, but the cause is what the operator needs).
fn transport(what: &str, e: &reqwest::Error) -> ApiError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut cause = None;
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        cause = Some(inner.to_string());
        source = inner.source();
    }
    let url = e.url().map(|u| u.to_string()).unwrap_or_default();
    ApiError::Transport(match cause {
        Some(cause) => format!("Kick {what} {kind} ({url}): {cause}"),
        None => format!("Kick {what} {kind} ({url})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bans_are_sent_as_kick_documents_them() {
        let timeout = BanBody {
            broadcaster_user_id: 123_456_789,
            user_id: 987_654_321,
            duration: Some(10),
            reason: Some("spam".into()),
        };
        assert_eq!(
            serde_json::to_value(&timeout).unwrap(),
            serde_json::json!({"broadcaster_user_id": 123_456_789, "user_id": 987_654_321,
                "duration": 10, "reason": "spam"})
        );
        let ban = BanBody {
            duration: None,
            reason: None,
            ..timeout
        };
        assert_eq!(
            serde_json::to_value(&ban).unwrap(),
            serde_json::json!({"broadcaster_user_id": 123_456_789, "user_id": 987_654_321}),
            "a permanent ban has no duration"
        );
    }

    #[tokio::test]
    async fn a_message_id_that_is_not_one_is_never_put_in_a_path() {
        let api = KickApi::new(
            "http://127.0.0.1:9",
            "http://127.0.0.1:9",
            "http://127.0.0.1:9",
        )
        .unwrap();
        let token = Secret::new("t");
        let e = api
            .moderate(&token, &Moderation::DeleteMessage("../moderation/bans"))
            .await
            .unwrap_err();
        assert!(matches!(e, ApiError::NotAnId(_)), "{e}");
    }

    #[test]
    fn form_values_are_encoded() {
        assert_eq!(form_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn blocked_lookups_say_so() {
        let e = ApiError::Blocked {
            status: 403,
            html: true,
        };
        assert_eq!(
            e.to_string(),
            "Kick blocked the request (HTTP 403, an HTML page)"
        );
    }
}
