//! Twitch go-live through Helix: `GET {helix_url}/streams?user_login={channel}` with an app token
//! from client credentials (`POST {oauth_url}/oauth2/token`, `grant_type=client_credentials`).
//!
//! Twitch chat (IRC) has no live signal, so for a creator whose `twitch` block names
//! `client_id_env` and `client_secret_env` this poller reports live/offline into the Twitch
//! source's status (its `live` field only), where the go-live watcher reads it like any other
//! source's. A non-empty `data` is live, keyed by the stream's `id`; an empty one is offline. An
//! expired app token (401) is replaced once per poll.

use crate::config::secrets::{Secret, Secrets};
use crate::sources::{LiveStream, StatusHandle};
use crate::wire::{self, ErrorBody, Rfc3339, WireError};
use serde::Deserialize;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use super::helix_api::DEFAULT_HELIX_URL;
pub use super::oauth::DEFAULT_OAUTH_URL;
/// Default time between polls (platforms.json `twitch.live_poll_s`).
pub const DEFAULT_POLL: Duration = Duration::from_secs(60);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A Helix client for one creator's channel.
pub struct HelixStreams {
    http: reqwest::Client,
    helix_url: String,
    oauth_url: String,
    client_id: Secret,
    client_secret: Secret,
    token: Option<Secret>,
    secrets: Secrets,
}

/// `GET /streams`' answer: the live streams of the logins asked for.
#[derive(Debug, Deserialize)]
struct Streams {
    data: Vec<Stream>,
}

#[derive(Debug, Deserialize)]
struct Stream {
    id: String,
    #[serde(default)]
    user_login: Option<String>,
    /// `live`, or empty after an error; absent reads as live.
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    started_at: Option<Rfc3339>,
}

/// Reads a `GET /streams` answer: the live stream of `login`, or `None` when offline.
pub fn parse_streams(body: &str, login: &str) -> Result<Option<LiveStream>, WireError> {
    const WHAT: &str = "the Helix /streams answer";
    let streams: Streams = wire::from_str(WHAT, body)?;
    let Some(stream) = streams
        .data
        .into_iter()
        .find(|s| s.kind.as_deref().unwrap_or("live") == "live")
    else {
        return Ok(None);
    };
    if stream.id.is_empty() {
        return Err(WireError::shape(
            WHAT,
            "data[0].id",
            "the stream id is empty",
        ));
    }
    let user = stream.user_login.as_deref().unwrap_or(login);
    Ok(Some(LiveStream {
        url: Some(format!("https://www.twitch.tv/{user}")),
        id: stream.id,
        started_at: stream.started_at.map_or_else(chrono::Utc::now, |t| t.0),
        title: stream.title.filter(|t| !t.is_empty()),
    }))
}

impl HelixStreams {
    pub fn new(
        helix_url: &str,
        oauth_url: &str,
        client_id: Secret,
        client_secret: Secret,
        secrets: Secrets,
    ) -> Result<HelixStreams, crate::http_out::ClientError> {
        Ok(HelixStreams {
            http: crate::http_out::client(REQUEST_TIMEOUT, REQUEST_TIMEOUT)?,
            helix_url: helix_url.trim_end_matches('/').to_string(),
            oauth_url: oauth_url.trim_end_matches('/').to_string(),
            client_id,
            client_secret,
            token: None,
            secrets,
        })
    }

    async fn app_token(&mut self) -> Result<Secret, String> {
        if let Some(token) = &self.token {
            return Ok(token.clone());
        }
        let form = crate::http_out::form(&[
            ("client_id", self.client_id.expose()),
            ("client_secret", self.client_secret.expose()),
            ("grant_type", "client_credentials"),
        ]);
        let response = self
            .http
            .post(format!("{}/oauth2/token", self.oauth_url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|e| crate::http_out::describe(e, &self.secrets))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            let error = ErrorBody::parse(&body).unwrap_or_default();
            let message = error.text().unwrap_or("");
            return Err(format!(
                "Twitch refused the app token ({status} {message}); check client_id_env and client_secret_env"
            ));
        }
        let token = wire::parse_token("Twitch's token answer", &body).map_err(|e| e.to_string())?;
        let token = Secret::new(&token.access_token);
        self.token = Some(token.clone());
        Ok(token)
    }

    /// Whether `login` is live now.
    pub async fn live(&mut self, login: &str) -> Result<Option<LiveStream>, String> {
        for _ in 0..2 {
            let token = self.app_token().await?;
            let response = self
                .http
                .get(format!("{}/streams", self.helix_url))
                .query(&[("user_login", login)])
                .header("Client-Id", self.client_id.expose())
                .bearer_auth(token.expose())
                .send()
                .await
                .map_err(|e| crate::http_out::describe(e, &self.secrets))?;
            let status = response.status();
            if status.as_u16() == 401 {
                self.token = None;
                continue;
            }
            let body = response
                .text()
                .await
                .map_err(|e| crate::http_out::describe(e, &self.secrets))?;
            if !status.is_success() {
                return Err(format!("Helix /streams answered {status}"));
            }
            return parse_streams(&body, login).map_err(|e| e.to_string());
        }
        Err("Helix refused a fresh app token (401); check the client id and secret".into())
    }
}

/// Polls `login` every `every` until shutdown, reporting into `status`.
pub async fn watch(
    mut client: HelixStreams,
    login: String,
    status: StatusHandle,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut last_error = None;
    loop {
        match client.live(&login).await {
            Ok(stream) => {
                last_error = None;
                status.set_live(stream);
            }
            Err(e) => {
                let e = client.secrets.scrub(&e);
                if last_error.as_ref() != Some(&e) {
                    tracing::warn!(platform = "twitch", channel = %login, "Go-live check failed: {e}");
                    last_error = Some(e);
                }
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_live_stream_and_an_offline_channel() {
        let live = r#"{"data":[{"id":"40952121085","user_id":"101051819","user_login":"afro","user_name":"Afro",
          "game_id":"32982","game_name":"Grand Theft Auto V","type":"live","title":"Jacob: Digital Den Laptops & Routers",
          "tags":["English"],"viewer_count":1490,"started_at":"2021-03-10T03:18:11Z","language":"en",
          "thumbnail_url":"https://static-cdn.jtvnw.net/previews-ttv/live_user_afro-{width}x{height}.jpg",
          "tag_ids":[],"is_mature":false}],"pagination":{"cursor":"eyJiIjp7IkN1cnNvciI6ImV5SnpJam8zT0RNMk5TNDBORFF4TlRjMU1UY3hOU3dpWkNJNlptRnNjMlVzSW5RaU9uUnlkV1Y5In0sImEiOnsiQ3Vyc29yIjoiZXlKeklqb3hOVGs0TGpRMk5qSXhNVGs0TURFNUxDSmtJanBtWVd4elpTd2lkQ0k2ZEhKMVpYMD0ifX0"}}"#;
        let stream = parse_streams(live, "afro").unwrap().unwrap();
        assert_eq!(stream.id, "40952121085");
        assert_eq!(
            stream.title.as_deref(),
            Some("Jacob: Digital Den Laptops & Routers")
        );
        assert_eq!(stream.url.as_deref(), Some("https://www.twitch.tv/afro"));
        assert_eq!(
            parse_streams(r#"{"data":[],"pagination":{}}"#, "afro").unwrap(),
            None
        );
        assert_eq!(
            parse_streams(r#"{"error":"Unauthorized"}"#, "afro")
                .unwrap_err()
                .to_string(),
            "the Helix /streams answer: missing field `data`"
        );
    }

    proptest! {
        #[test]
        fn parsing_never_panics(body in "\\PC{0,200}") {
            let _ = parse_streams(&body, "x");
        }
    }
}
