//! The `twitch` destination: a platform clip made by Twitch through Helix, without FFmpeg.
//!
//! `GET /helix/users?login=` finds the broadcaster id, `POST /helix/clips?broadcaster_id=` (scope
//! `clips:edit`) asks for the clip and answers `202` with its id at once; the clip exists only once
//! `GET /helix/clips?id=` lists it, which is polled every [`POLL`] until it does or the wait
//! (`clip_wait_s` in platforms.json's `twitch` block, default 15 s) is over. Calls carry the creator's
//! `token_env` token as `Authorization: Bearer` and `client_id_env` as `Client-Id`; a `401` says the
//! token is refused and how to fix it. The endpoints come from platforms.json `twitch`: `helix_url`
//! (default `https://api.twitch.tv/helix`) and `oauth_url` (default `https://id.twitch.tv`).

use super::Published;
use crate::config::model::PlatformOwn;
use crate::config::secrets::Secret;
use crate::wire::ErrorBody;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Default Helix base URL.
pub const DEFAULT_HELIX_URL: &str = "https://api.twitch.tv/helix";
/// Default OAuth base URL.
pub const DEFAULT_OAUTH_URL: &str = "https://id.twitch.tv";
/// How long a created clip is waited for by default.
pub const DEFAULT_CLIP_WAIT: Duration = Duration::from_secs(15);
/// Between two looks for the created clip.
pub const POLL: Duration = Duration::from_millis(500);
/// The longest one Helix call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Twitch's Helix endpoints and the clip wait, from platforms.json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelixEndpoints {
    pub helix_url: String,
    pub oauth_url: String,
    pub clip_wait: Duration,
}

impl HelixEndpoints {
    pub fn from_platform(own: PlatformOwn<'_>) -> HelixEndpoints {
        HelixEndpoints {
            helix_url: own
                .str("helix_url")
                .unwrap_or_else(|| DEFAULT_HELIX_URL.into())
                .trim_end_matches('/')
                .to_string(),
            oauth_url: own
                .str("oauth_url")
                .unwrap_or_else(|| DEFAULT_OAUTH_URL.into())
                .trim_end_matches('/')
                .to_string(),
            clip_wait: own
                .u64("clip_wait_s")
                .map_or(DEFAULT_CLIP_WAIT, Duration::from_secs),
        }
    }
}

/// The credentials of Helix calls.
pub struct HelixAuth {
    pub token: Secret,
    pub client_id: Secret,
}

/// A Helix client for one creator.
pub struct Helix<'a> {
    pub client: &'a reqwest::Client,
    pub endpoints: &'a HelixEndpoints,
    pub auth: &'a HelixAuth,
}

impl Helix<'_> {
    /// Makes a clip of `login`'s live stream; returns its links or a one-line reason.
    pub async fn create_clip(
        &self,
        login: &str,
        cancel: &CancellationToken,
    ) -> Result<Published, String> {
        let users: Listed<Named> = self
            .get(
                &format!(
                    "/users?login={}",
                    login.trim_start_matches('#').to_lowercase()
                ),
                cancel,
            )
            .await?;
        let broadcaster = users.first(|u| Some(&u.id)).ok_or_else(|| {
            format!("Twitch knows no user {login:?} (check the creator's twitch.channel)")
        })?;
        let created: Listed<Named> = self
            .call(
                reqwest::Method::POST,
                &format!("/clips?broadcaster_id={broadcaster}"),
                cancel,
            )
            .await?;
        let clip_id = created
            .first(|c| Some(&c.id))
            .ok_or_else(|| "Twitch accepted the clip request but sent no clip id".to_string())?;
        let waited = tokio::time::Instant::now();
        loop {
            let found: Listed<Clip> = self.get(&format!("/clips?id={clip_id}"), cancel).await?;
            if let Some(url) = found.first(|c| c.url.as_ref()) {
                return Ok(Published {
                    url,
                    thumbnail_url: found.first(|c| c.thumbnail_url.as_ref()),
                });
            }
            if waited.elapsed() + POLL > self.endpoints.clip_wait {
                return Err(format!(
                    "Twitch did not finish clip {clip_id} within {} s; gave up (it may still appear at https://clips.twitch.tv/{clip_id})",
                    self.endpoints.clip_wait.as_secs()
                ));
            }
            tokio::select! {
                () = cancel.cancelled() => return Err("stopped by shutdown".into()),
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        cancel: &CancellationToken,
    ) -> Result<T, String> {
        self.call(reqwest::Method::GET, path, cancel).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        cancel: &CancellationToken,
    ) -> Result<T, String> {
        let token = self.auth.token.expose();
        let request = self
            .client
            .request(
                method.clone(),
                format!("{}{path}", self.endpoints.helix_url),
            )
            .timeout(CALL_TIMEOUT)
            .bearer_auth(token.strip_prefix("oauth:").unwrap_or(token))
            .header("Client-Id", self.auth.client_id.expose());
        let response = tokio::select! {
            () = cancel.cancelled() => return Err("stopped by shutdown".into()),
            r = request.send() => r.map_err(|e| format!("Helix {method} {} failed: {}", route(path), e.without_url()))?,
        };
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(format!(
                "Twitch refused the token (401 {}); renew the creator's token_env token with scope clips:edit and check client_id_env",
                error_message(&body)
            ));
        }
        if !status.is_success() {
            return Err(format!(
                "Helix {method} {} answered {status}: {}",
                route(path),
                error_message(&body)
            ));
        }
        crate::wire::from_str(&format!("the Helix {method} {} answer", route(path)), &body)
            .map_err(|e| e.to_string())
    }
}

/// A path without its query, for messages.
fn route(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

/// A Helix answer: its `data` list (of users, created clips, clips).
#[derive(Debug, Deserialize)]
pub struct Listed<T> {
    pub data: Vec<T>,
}

impl<T> Listed<T> {
    /// A non-empty text field of the first item.
    pub fn first(&self, field: impl Fn(&T) -> Option<&String>) -> Option<String> {
        self.data
            .first()
            .and_then(field)
            .filter(|s| !s.is_empty())
            .cloned()
    }
}

/// A user (`/users`) or a created clip (`POST /clips`): its id.
#[derive(Debug, Deserialize)]
pub struct Named {
    pub id: String,
}

/// A clip as `/clips?id=` lists it once it exists.
#[derive(Debug, Deserialize)]
pub struct Clip {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub thumbnail_url: Option<String>,
}

/// The `message` of a Helix error answer.
pub fn error_message(body: &str) -> String {
    ErrorBody::parse(body)
        .as_ref()
        .and_then(ErrorBody::text)
        .unwrap_or("no message")
        .chars()
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn helix_answers_are_read() {
        let created: Listed<Named> = crate::wire::from_str(
            "a",
            r#"{"data":[{"id":"FiveWordsForClipSlug","edit_url":"https://clips.twitch.tv/FiveWordsForClipSlug/edit"}]}"#,
        )
        .unwrap();
        assert_eq!(
            created.first(|c| Some(&c.id)).as_deref(),
            Some("FiveWordsForClipSlug")
        );
        let pending: Listed<Clip> =
            crate::wire::from_str("a", r#"{"data":[],"pagination":{}}"#).unwrap();
        assert_eq!(pending.first(|c| c.url.as_ref()), None);
        let found: Listed<Clip> = crate::wire::from_str(
            "a",
            r#"{"data":[{"id":"c","url":"https://clips.twitch.tv/c","thumbnail_url":""}]}"#,
        )
        .unwrap();
        assert_eq!(
            found.first(|c| c.url.as_ref()).as_deref(),
            Some("https://clips.twitch.tv/c")
        );
        assert_eq!(found.first(|c| c.thumbnail_url.as_ref()), None);
        assert_eq!(
            error_message(
                r#"{"error":"Unauthorized","status":401,"message":"Invalid OAuth token"}"#
            ),
            "Invalid OAuth token"
        );
        assert_eq!(error_message("<html>"), "no message");
    }

    #[test]
    fn endpoints_default_to_twitch() {
        let e = HelixEndpoints::from_platform(PlatformOwn::default());
        assert_eq!(e.helix_url, DEFAULT_HELIX_URL);
        assert_eq!(e.oauth_url, DEFAULT_OAUTH_URL);
        assert_eq!(e.clip_wait, DEFAULT_CLIP_WAIT);
    }

    proptest! {
        #[test]
        fn reading_any_answer_never_panics(body in "\\PC{0,200}") {
            if let Ok(listed) = crate::wire::from_str::<Listed<Clip>>("a", &body) {
                let _ = listed.first(|c| c.url.as_ref());
            }
            let _ = error_message(&body);
        }
    }
}
