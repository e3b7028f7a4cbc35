//! Twitch's id server (`{oauth_url}/oauth2/…`, default `https://id.twitch.tv`): validating a user
//! token, refreshing it, and the device code grant a headless machine logs in with.
//!
//! - `GET /oauth2/validate` with `Authorization: OAuth <token>`: who the token belongs to, its
//!   scopes and seconds left (`0`: never expires); 401 when it is no longer valid.
//! - `POST /oauth2/token`, `grant_type=refresh_token`: a new access token and a new refresh token.
//!   Refresh tokens of public clients are single-use; the caller stores the pair before using it.
//!   `client_secret` is sent only when the app has one (a confidential client).
//! - `POST /oauth2/device` (`client_id`, `scopes`, space-separated), then `POST /oauth2/token` with
//!   `grant_type=urn:ietf:params:oauth:grant-type:device_code` until the user approves. Twitch says
//!   why a poll did not succeed in the body's `message` of a 400 (`authorization_pending`,
//!   `slow_down`, `invalid device code`), not in RFC 8628's `error`, so both are read.
//!
//! Requests carry tokens only in headers or form bodies, never in URLs; errors never hold a token
//! (they are scrubbed by the caller's [`Secrets`] as well).

use crate::config::secrets::{Secret, Secrets};
use crate::wire::{self, ErrorBody, WireError};
use serde::Deserialize;
use std::time::Duration;

/// Twitch's id server.
pub const DEFAULT_OAUTH_URL: &str = "https://id.twitch.tv";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// What the id server said no to, or why it could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// 401: the token is not (or no longer) valid.
    #[error("the token is not valid ({0})")]
    InvalidToken(String),
    /// 400 on a refresh or a device poll: the refresh token or device code is spent, expired or
    /// unknown (or the user denied the login).
    #[error("refused: {0}")]
    Refused(String),
    /// Any other answer.
    #[error("the id server answered {status}: {message}")]
    Status { status: u16, message: String },
    /// The request did not get an answer.
    #[error("{0}")]
    Transport(String),
    /// The answer does not have the documented shape.
    #[error(transparent)]
    Wire(#[from] WireError),
}

/// What `/oauth2/validate` says about a token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Validated {
    pub client_id: String,
    pub login: String,
    pub user_id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub scopes: Vec<String>,
    /// Seconds the token has left; `0` when it does not expire.
    #[serde(default)]
    pub expires_in: u64,
}

fn null_default<'de, D: serde::Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A new token pair (a refresh or a completed device login).
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub scope: Vec<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("scope", &self.scope)
            .finish()
    }
}

/// The start of a device login: what to show the user and how to poll.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeviceCode {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    /// Seconds until the code expires.
    pub expires_in: u64,
    /// Seconds between polls.
    pub interval: u64,
}

/// One poll of a device login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevicePoll {
    /// The user has not approved yet.
    Pending,
    /// Polling too fast: wait 5 s longer between polls from now on.
    SlowDown,
    Done(Tokens),
}

/// A client of the id server.
#[derive(Clone)]
pub struct IdServer {
    http: reqwest::Client,
    base: String,
    secrets: Secrets,
}

impl std::fmt::Debug for IdServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdServer")
            .field("base", &self.base)
            .finish()
    }
}

/// The message of an error answer (`{"status":400,"message":"…"}`, or OAuth's `error`).
fn message_of(body: &str) -> String {
    ErrorBody::parse(body)
        .and_then(|b| b.text().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect())
}

impl IdServer {
    pub fn new(
        oauth_url: &str,
        secrets: Secrets,
    ) -> Result<IdServer, crate::http_out::ClientError> {
        Ok(IdServer {
            http: crate::http_out::client(REQUEST_TIMEOUT, REQUEST_TIMEOUT)?,
            base: oauth_url.trim_end_matches('/').to_owned(),
            secrets,
        })
    }

    fn transport(&self, e: reqwest::Error) -> OAuthError {
        OAuthError::Transport(crate::http_out::describe(e, &self.secrets))
    }

    async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<(u16, String), OAuthError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(crate::http_out::form(form))
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| self.transport(e))?;
        Ok((status, body))
    }

    /// Who `token` belongs to and what it may do.
    pub async fn validate(&self, token: &Secret) -> Result<Validated, OAuthError> {
        let response = self
            .http
            .get(format!("{}/oauth2/validate", self.base))
            .header("Authorization", format!("OAuth {}", token.expose()))
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| self.transport(e))?;
        match status {
            200 => Ok(wire::from_str("Twitch's /oauth2/validate answer", &body)?),
            401 => Err(OAuthError::InvalidToken(message_of(&body))),
            _ => Err(OAuthError::Status {
                status,
                message: message_of(&body),
            }),
        }
    }

    /// A new token pair for `refresh`; the old refresh token is spent either way.
    pub async fn refresh(
        &self,
        client_id: &Secret,
        refresh: &Secret,
        client_secret: Option<&Secret>,
    ) -> Result<Tokens, OAuthError> {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose()),
            ("client_id", client_id.expose()),
        ];
        if let Some(secret) = client_secret {
            form.push(("client_secret", secret.expose()));
        }
        let (status, body) = self.post_form("/oauth2/token", &form).await?;
        match status {
            200 => read_tokens(&body),
            400 | 401 => Err(OAuthError::Refused(message_of(&body))),
            _ => Err(OAuthError::Status {
                status,
                message: message_of(&body),
            }),
        }
    }

    /// Starts a device login for `scopes`.
    pub async fn device_code(
        &self,
        client_id: &Secret,
        scopes: &[String],
    ) -> Result<DeviceCode, OAuthError> {
        let scopes = scopes.join(" ");
        let (status, body) = self
            .post_form(
                "/oauth2/device",
                &[("client_id", client_id.expose()), ("scopes", &scopes)],
            )
            .await?;
        match status {
            200 => Ok(wire::from_str("Twitch's /oauth2/device answer", &body)?),
            _ => Err(OAuthError::Status {
                status,
                message: message_of(&body),
            }),
        }
    }

    /// Asks once whether the user approved the device login.
    pub async fn device_poll(
        &self,
        client_id: &Secret,
        device_code: &str,
    ) -> Result<DevicePoll, OAuthError> {
        let (status, body) = self
            .post_form(
                "/oauth2/token",
                &[
                    ("client_id", client_id.expose()),
                    ("device_code", device_code),
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ],
            )
            .await?;
        match status {
            200 => Ok(DevicePoll::Done(read_tokens(&body)?)),
            400 => {
                let message = message_of(&body);
                match message.as_str() {
                    "authorization_pending" => Ok(DevicePoll::Pending),
                    "slow_down" => Ok(DevicePoll::SlowDown),
                    _ => Err(OAuthError::Refused(message)),
                }
            }
            _ => Err(OAuthError::Status {
                status,
                message: message_of(&body),
            }),
        }
    }
}

fn read_tokens(body: &str) -> Result<Tokens, OAuthError> {
    let tokens: Tokens = wire::from_str("Twitch's token answer", body)?;
    if tokens.access_token.is_empty() {
        return Err(WireError::shape(
            "Twitch's token answer",
            "access_token",
            "the access token is empty",
        )
        .into());
    }
    Ok(Tokens {
        refresh_token: tokens.refresh_token.filter(|r| !r.is_empty()),
        ..tokens
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn answers_as_the_id_server_sends_them() {
        let v: Validated = wire::from_str(
            "v",
            r#"{"client_id":"wbmytr93xzw8zbg0p1izqyzzc5mbiz","login":"twitchdev","scopes":["channel:read:subscriptions"],"user_id":"141981764","expires_in":5520838}"#,
        )
        .unwrap();
        assert_eq!(
            (v.login.as_str(), v.user_id.as_str(), v.expires_in),
            ("twitchdev", "141981764", 5_520_838)
        );
        assert_eq!(v.scopes, ["channel:read:subscriptions"]);
        let no_scopes: Validated = wire::from_str(
            "v",
            r#"{"client_id":"c","login":"l","scopes":null,"user_id":"1","expires_in":0}"#,
        )
        .unwrap();
        assert!(no_scopes.scopes.is_empty());

        let t = read_tokens(r#"{"access_token":"rfx2uswqe8l4g1mkagrvg5tv0ks3","expires_in":14124,"refresh_token":"5b93chm6hdve3mycz05zfzatkfdenfspp1h1ar2xxdalen01","scope":["channel:read:subscriptions"],"token_type":"bearer"}"#).unwrap();
        assert_eq!(t.scope, ["channel:read:subscriptions"]);
        assert!(!format!("{t:?}").contains("rfx2uswqe8l4g1mkagrvg5tv0ks3"));
        assert!(read_tokens(r#"{"access_token":"","token_type":"bearer"}"#).is_err());

        let d: DeviceCode = wire::from_str(
            "d",
            r#"{"device_code":"helloWorld","expires_in":1800,"interval":5,"user_code":"ABCDEFGH","verification_uri":"https://www.twitch.tv/activate?public=true&device-code=ABCDEFGH"}"#,
        )
        .unwrap();
        assert_eq!((d.user_code.as_str(), d.interval), ("ABCDEFGH", 5));
        assert_eq!(
            message_of(r#"{"status":400,"message":"authorization_pending"}"#),
            "authorization_pending"
        );
        assert_eq!(message_of(r#"{"error":"slow_down"}"#), "slow_down");
    }

    proptest! {
        #[test]
        fn token_answers_never_panic(body in "\\PC{0,200}") {
            let _ = read_tokens(&body);
            let _ = message_of(&body);
        }
    }
}
