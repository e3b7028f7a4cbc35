//! The HTTP side of the Rumble source: one call of the Live Stream API, and opening and reading the
//! chat's event stream.
//!
//! The API URL is the secret (its `key` is the only auth), so no error this module makes carries a
//! URL: reqwest errors are stripped of theirs (`without_url`) and messages name the setting instead
//! (`api_url_env`). The source also registers the URL and its key with `Secrets`, so anything that
//! still reaches a log is scrubbed.

use crate::config::secrets::Secret;
use crate::sources::SourceError;
use serde_json::Value;
use std::time::Duration;

/// An API call or a stream opening that has not answered in this long is abandoned.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of an answer read at most: the API's answer is a few dozen KiB.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// What opening the chat stream gave.
pub enum Opened {
    /// An event stream: read it with [`ChatStream::chunk`].
    Stream(ChatStream),
    /// HTTP 204: nothing to stream now; ask again (Rumble's keepalive, not a failure).
    Keepalive,
    /// A 2xx answer that is not an event stream (an HTML page): its content type.
    NotEventStream(String),
}

/// An open event stream.
pub struct ChatStream(reqwest::Response);

impl ChatStream {
    /// The next bytes; `None` when the server ended the stream.
    pub async fn chunk(&mut self) -> Result<Option<axum::body::Bytes>, String> {
        self.0
            .chunk()
            .await
            .map_err(|e| format!("the chat stream broke: {}", e.without_url()))
    }
}

/// An HTTP client for the API and the chat stream.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
}

impl Http {
    pub fn new() -> Result<Http, SourceError> {
        let client = crate::http_out::builder()
            .map_err(|e| SourceError::Other(e.to_string()))?
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("streamsuites-ss/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SourceError::Other(format!("cannot build the HTTP client: {e}")))?;
        Ok(Http { client })
    }

    /// `GET` the Live Stream API; `env` names the setting for messages.
    pub async fn get_api(&self, url: &Secret, env: &str) -> Result<Value, SourceError> {
        let response = self
            .client
            .get(url.expose())
            .header("accept", "application/json")
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| {
                SourceError::Other(format!(
                    "Rumble Live Stream API ({env}): {}",
                    e.without_url()
                ))
            })?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(SourceError::LoginFailed(format!(
                "the Rumble Live Stream API refused the key (HTTP {}); copy the URL again from \
                 https://rumble.com/account/livestream-api into {env}",
                status.as_u16()
            )));
        }
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(SourceError::LoginFailed(format!(
                "the Rumble Live Stream API answered HTTP 404; check that {env} holds the whole URL \
                 from https://rumble.com/account/livestream-api"
            )));
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or(Duration::from_secs(60), Duration::from_secs);
            return Err(SourceError::Throttled {
                kind: "rate_limited",
                message: format!(
                    "the Rumble Live Stream API asks to slow down (HTTP 429); next call in {}s",
                    retry_after.as_secs()
                ),
                retry_after,
            });
        }
        if !status.is_success() {
            return Err(SourceError::Other(format!(
                "the Rumble Live Stream API answered HTTP {}",
                status.as_u16()
            )));
        }
        let body = read_limited(response).await?;
        serde_json::from_slice(&body).map_err(|e| {
            SourceError::Other(format!(
                "the Rumble Live Stream API answered something that is not JSON ({e})"
            ))
        })
    }

    /// Opens the chat stream at `url` (which holds no secret).
    pub async fn open_stream(&self, url: &str) -> Result<Opened, String> {
        let response = self
            .client
            .get(url)
            .header("accept", "text/event-stream")
            .send()
            .await
            .map_err(|e| format!("cannot open the chat stream: {}", e.without_url()))?;
        let status = response.status();
        if status == reqwest::StatusCode::NO_CONTENT {
            return Ok(Opened::Keepalive);
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if !status.is_success() {
            return Err(format!(
                "the chat stream answered HTTP {} ({content_type})",
                status.as_u16()
            ));
        }
        if !content_type
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("text/event-stream")
        {
            return Ok(Opened::NotEventStream(if content_type.is_empty() {
                "no content type".into()
            } else {
                content_type
            }));
        }
        Ok(Opened::Stream(ChatStream(response)))
    }
}

/// The body, refused past [`MAX_ANSWER_BYTES`].
async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, SourceError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        SourceError::Other(format!(
            "reading the Rumble Live Stream API answer: {}",
            e.without_url()
        ))
    })? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(SourceError::Other(format!(
                "the Rumble Live Stream API answer is over {MAX_ANSWER_BYTES} bytes; not read"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
