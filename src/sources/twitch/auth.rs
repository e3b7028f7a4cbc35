//! A creator's Twitch user login: the token EventSub and Helix calls are made with, where it is
//! kept, and keeping it valid.
//!
//! **Where the token comes from.** `ss auth twitch --creator ID` stores a login in
//! `runtime/state/twitch/{creator}.token.json` ([`token_file`]): the access and refresh tokens,
//! the client id that minted them, the user, the scopes and the expiry ([`StoredLogin`]). The file
//! is created with mode 0600 and replaced atomically, like Kick's refreshed tokens (ARCHITECTURE.md
//! says why a file and not the store). Without a stored login, the creator block's `token_env` is
//! used as the access token (it cannot be refreshed). Every token read or received is adopted by
//! [`Secrets`], so the one scrubber removes it from any message.
//!
//! **Validation.** The token is validated at start and again once an hour
//! ([`VALIDATE_EVERY`]): its user id and login become the sender and moderator ids, its scopes
//! decide which subscriptions and commands the source offers. A token the id server calls invalid
//! is refreshed once; a refresh that fails stops every use of the token until the operator logs
//! in again.
//!
//! **Refresh tokens are single-use.** A refreshed pair is written to the file *before* it is used,
//! so a crash after the refresh never leaves the file holding a spent refresh token. Refreshing is
//! serialized (one lock for the source's session, its delivery and the hourly check), and a caller
//! whose token was already replaced while it waited uses the new one instead of refreshing again.

use super::oauth::{IdServer, OAuthError, Tokens, Validated};
use crate::config::secrets::{Secret, Secrets};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// How often a token in use is validated again (Twitch requires hourly validation).
pub const VALIDATE_EVERY: Duration = Duration::from_secs(60 * 60);

/// Where `creator`'s Twitch login is stored under the state directory.
pub fn token_file(state_dir: &Path, creator: &str) -> PathBuf {
    state_dir
        .join("twitch")
        .join(format!("{creator}.token.json"))
}

/// The token file's contents.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLogin {
    /// The application that minted the tokens (its `Client-Id` goes with every Helix call).
    pub client_id: String,
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    pub user_id: String,
    pub login: String,
    pub scopes: Vec<String>,
    /// When the access token expires; `None` when it does not.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// When the tokens were obtained (the login, or the last refresh).
    pub obtained_at: DateTime<Utc>,
}

impl std::fmt::Debug for StoredLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredLogin")
            .field("user_id", &self.user_id)
            .field("login", &self.login)
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl StoredLogin {
    /// A login from a token pair and what `/oauth2/validate` said of its access token.
    pub fn from_tokens(client_id: &str, tokens: Tokens, validated: &Validated) -> StoredLogin {
        let now = Utc::now();
        StoredLogin {
            client_id: client_id.to_owned(),
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            user_id: validated.user_id.clone(),
            login: validated.login.clone(),
            scopes: validated.scopes.clone(),
            expires_at: expiry(now, validated.expires_in),
            obtained_at: now,
        }
    }
}

fn expiry(now: DateTime<Utc>, expires_in: u64) -> Option<DateTime<Utc>> {
    (expires_in > 0).then(|| {
        now + chrono::Duration::seconds(i64::try_from(expires_in).unwrap_or(i64::MAX / 2000))
    })
}

/// Why a token file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {why}; run `ss auth twitch --creator {creator}` to log in again")]
pub struct TokenFileError {
    pub path: String,
    pub creator: String,
    pub why: String,
}

/// Reads a stored login; `Ok(None)` when there is none.
pub fn read_login(path: &Path, creator: &str) -> Result<Option<StoredLogin>, TokenFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(TokenFileError {
                path: path.display().to_string(),
                creator: creator.to_owned(),
                why: e.to_string(),
            });
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| TokenFileError {
            path: path.display().to_string(),
            creator: creator.to_owned(),
            // serde's message names the field and position, never a value.
            why: format!("not a stored Twitch login ({e})"),
        })
}

/// Stores a login (0600, atomic replace).
pub fn write_login(path: &Path, login: &StoredLogin) -> std::io::Result<()> {
    crate::sources::private_file::write_json(path, login)
}

/// Who the token belongs to and what it may do, as last validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
    pub login: String,
    pub scopes: BTreeSet<String>,
}

impl Identity {
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }
}

/// Why the token cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Neither a stored login nor `token_env`.
    #[error(
        "no Twitch login for creator {creator}: run `ss auth twitch --creator {creator}` (or set token_env)"
    )]
    NoLogin { creator: String },
    /// The token was refused and cannot be refreshed (or the refresh was refused).
    #[error("{0}")]
    Refused(String),
    /// The id server could not be asked; retried later.
    #[error("{0}")]
    Unavailable(String),
}

/// Why a login could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    File(#[from] TokenFileError),
    /// An environment variable the block names is not set.
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    #[error(
        "Helix calls need the application's client id: set client_id_env in the creator's twitch block"
    )]
    NoClientId,
}

/// Where the current token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    /// The stored login file.
    Stored,
    /// The environment variable `token_env` names.
    Env(String),
}

struct State {
    origin: Origin,
    client_id: Secret,
    access: Secret,
    refresh: Option<Secret>,
    identity: Option<Identity>,
    validated_at: Option<Instant>,
    /// Set once a refresh failed for good: every later use fails with it.
    refused: Option<String>,
    stored: Option<StoredLogin>,
}

/// The settings [`TwitchAuth::load`] reads.
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    pub creator: String,
    pub token_env: Option<String>,
    pub client_id_env: Option<String>,
    pub client_secret_env: Option<String>,
    pub state_dir: PathBuf,
}

/// One creator's Twitch user token, shared by its session, its delivery and the hourly check.
pub struct TwitchAuth {
    creator: String,
    file: PathBuf,
    /// The scopes of the stored login as loaded; `None` for a `token_env` token (unknown until
    /// validated).
    stored_scopes: Option<BTreeSet<String>>,
    client_secret: Option<Secret>,
    id: IdServer,
    secrets: Secrets,
    state: Mutex<State>,
}

impl std::fmt::Debug for TwitchAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwitchAuth")
            .field("creator", &self.creator)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl TwitchAuth {
    /// The creator's login: the stored one, else `token_env` with `client_id_env`. `Ok(None)`
    /// when there is neither; an error when the file cannot be read or a variable is missing.
    pub fn load(
        settings: &AuthSettings,
        id: IdServer,
        secrets: &Secrets,
    ) -> Result<Option<TwitchAuth>, LoadError> {
        let file = token_file(&settings.state_dir, &settings.creator);
        let stored = read_login(&file, &settings.creator)?;
        let client_secret = settings
            .client_secret_env
            .as_deref()
            .and_then(|name| secrets.get(name));
        let state = match stored {
            Some(stored) => State {
                origin: Origin::Stored,
                client_id: secrets.adopt(&stored.client_id),
                access: secrets.adopt(&stored.access_token),
                refresh: stored.refresh_token.as_deref().map(|r| secrets.adopt(r)),
                identity: None,
                validated_at: None,
                refused: None,
                stored: Some(stored),
            },
            None => {
                let Some(name) = &settings.token_env else {
                    return Ok(None);
                };
                let access = secrets
                    .get(name)
                    .ok_or_else(|| LoadError::MissingEnv(name.clone()))?;
                let client_id_env = settings
                    .client_id_env
                    .as_deref()
                    .ok_or(LoadError::NoClientId)?;
                let client_id = secrets
                    .get(client_id_env)
                    .ok_or_else(|| LoadError::MissingEnv(client_id_env.to_owned()))?;
                // IRC tokens are written with `oauth:`; Helix wants the bare token.
                let bare = access.expose().trim_start_matches("oauth:").to_owned();
                State {
                    origin: Origin::Env(name.clone()),
                    client_id,
                    access: secrets.adopt(&bare),
                    refresh: None,
                    identity: None,
                    validated_at: None,
                    refused: None,
                    stored: None,
                }
            }
        };
        let stored_scopes = state
            .stored
            .as_ref()
            .map(|s| s.scopes.iter().cloned().collect());
        Ok(Some(TwitchAuth {
            creator: settings.creator.clone(),
            file,
            stored_scopes,
            client_secret,
            id,
            secrets: secrets.clone(),
            state: Mutex::new(state),
        }))
    }

    /// The scopes the stored login was granted, known before anything is sent; `None` for a
    /// `token_env` token.
    pub fn stored_scopes(&self) -> Option<&BTreeSet<String>> {
        self.stored_scopes.as_ref()
    }

    /// The access token and the client id to send with it.
    pub async fn credentials(&self) -> Result<(Secret, Secret), AuthError> {
        let state = self.state.lock().await;
        if let Some(why) = &state.refused {
            return Err(AuthError::Refused(why.clone()));
        }
        Ok((state.access.clone(), state.client_id.clone()))
    }

    /// Who the token belongs to: validated now when it never was or an hour has passed
    /// ([`VALIDATE_EVERY`]), refreshed once when the id server calls it invalid.
    pub async fn identity(&self) -> Result<Identity, AuthError> {
        {
            let state = self.state.lock().await;
            if let Some(why) = &state.refused {
                return Err(AuthError::Refused(why.clone()));
            }
            if let (Some(identity), Some(at)) = (&state.identity, state.validated_at)
                && at.elapsed() < VALIDATE_EVERY
            {
                return Ok(identity.clone());
            }
        }
        self.validate().await
    }

    /// Validates the token now (refreshing it once when it is invalid).
    pub async fn validate(&self) -> Result<Identity, AuthError> {
        let mut refreshed = false;
        loop {
            let (access, _) = self.credentials().await?;
            match self.id.validate(&access).await {
                Ok(validated) => {
                    let identity = Identity {
                        user_id: validated.user_id.clone(),
                        login: validated.login.to_ascii_lowercase(),
                        scopes: validated.scopes.iter().cloned().collect(),
                    };
                    let mut state = self.state.lock().await;
                    state.identity = Some(identity.clone());
                    state.validated_at = Some(Instant::now());
                    tracing::debug!(platform = "twitch", creator = %self.creator, user = %identity.login, scopes = identity.scopes.len(), "Validated the Twitch token.");
                    return Ok(identity);
                }
                Err(OAuthError::InvalidToken(_)) if !refreshed => {
                    refreshed = true;
                    self.refresh_after_refusal(&access).await?;
                }
                Err(OAuthError::InvalidToken(message)) => {
                    return Err(self
                        .refuse(format!(
                            "Twitch calls the freshly refreshed token invalid ({message})"
                        ))
                        .await);
                }
                Err(e) => {
                    return Err(AuthError::Unavailable(
                        self.secrets
                            .scrub(&format!("validating the Twitch token: {e}")),
                    ));
                }
            }
        }
    }

    /// Marks the token unusable for good (until the operator logs in again) and says why.
    async fn refuse(&self, why: String) -> AuthError {
        let why = self.secrets.scrub(&format!(
            "{why}; run `ss auth twitch --creator {}` to log in again",
            self.creator
        ));
        self.state.lock().await.refused = Some(why.clone());
        AuthError::Refused(why)
    }

    /// Twitch refused `used` (401): refreshes the token once, unless another caller already did
    /// while this one waited (then the new token is simply used).
    pub async fn refresh_after_refusal(&self, used: &Secret) -> Result<(), AuthError> {
        let mut state = self.state.lock().await;
        if let Some(why) = &state.refused {
            return Err(AuthError::Refused(why.clone()));
        }
        if state.access != *used {
            return Ok(());
        }
        let Some(refresh) = state.refresh.clone() else {
            let why = match &state.origin {
                Origin::Env(name) => {
                    format!("Twitch refused the token in ${name} and it cannot be refreshed")
                }
                Origin::Stored => {
                    "Twitch refused the stored token and there is no refresh token".into()
                }
            };
            drop(state);
            return Err(self.refuse(why).await);
        };
        let tokens = match self
            .id
            .refresh(&state.client_id, &refresh, self.client_secret.as_ref())
            .await
        {
            Ok(tokens) => tokens,
            Err(OAuthError::Refused(message)) => {
                drop(state);
                return Err(self
                    .refuse(format!("Twitch refused the refresh token ({message})"))
                    .await);
            }
            Err(e) => {
                return Err(AuthError::Unavailable(
                    self.secrets
                        .scrub(&format!("refreshing the Twitch token: {e}")),
                ));
            }
        };
        let access = self.secrets.adopt(&tokens.access_token);
        let new_refresh = tokens
            .refresh_token
            .as_deref()
            .map(|r| self.secrets.adopt(r));
        // Single-use refresh tokens: the new pair is on disk before anything uses it.
        if let Some(stored) = &state.stored {
            let mut next = stored.clone();
            next.access_token = tokens.access_token.clone();
            next.refresh_token = tokens.refresh_token.clone().or(next.refresh_token);
            if !tokens.scope.is_empty() {
                next.scopes = tokens.scope.clone();
            }
            next.obtained_at = Utc::now();
            next.expires_at = tokens.expires_in.and_then(|s| expiry(next.obtained_at, s));
            match write_login(&self.file, &next) {
                Ok(()) => state.stored = Some(next),
                Err(e) => tracing::error!(
                    platform = "twitch",
                    creator = %self.creator,
                    file = %self.file.display(),
                    "Could not store the refreshed Twitch login ({e}); it works for this run, but the next start needs `ss auth twitch --creator {}`.",
                    self.creator
                ),
            }
        }
        state.access = access;
        if new_refresh.is_some() {
            state.refresh = new_refresh;
        }
        // The new token is validated on its next use.
        state.validated_at = None;
        tracing::info!(platform = "twitch", creator = %self.creator, "Refreshed the Twitch access token.");
        Ok(())
    }
}

/// What `ss auth status` shows of a stored login: never a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoginSummary {
    pub creator: String,
    pub user: String,
    pub user_id: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub refreshable: bool,
    pub file: String,
}

/// Every stored Twitch login under `state_dir`, by creator; unreadable files as errors.
pub fn stored_logins(state_dir: &Path) -> Vec<Result<LoginSummary, TokenFileError>> {
    let dir = state_dir.join("twitch");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".token.json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_string_lossy().into_owned();
            let creator = name.strip_suffix(".token.json")?.to_owned();
            Some(match read_login(&path, &creator) {
                Ok(Some(login)) => Ok(LoginSummary {
                    creator,
                    user: login.login,
                    user_id: login.user_id,
                    scopes: login.scopes,
                    expires_at: login.expires_at,
                    refreshable: login.refresh_token.is_some(),
                    file: path.display().to_string(),
                }),
                Ok(None) => return None,
                Err(e) => Err(e),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login() -> StoredLogin {
        StoredLogin {
            client_id: "client-1".into(),
            access_token: "access-secret-1".into(),
            refresh_token: Some("refresh-secret-1".into()),
            user_id: "66666666".into(),
            login: "mybot".into(),
            scopes: vec!["user:read:chat".into()],
            expires_at: None,
            obtained_at: Utc::now(),
        }
    }

    #[test]
    fn a_stored_login_is_private_round_trips_and_never_prints_a_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = token_file(dir.path(), "demo");
        let stored = login();
        write_login(&path, &stored).unwrap();
        assert_eq!(read_login(&path, "demo").unwrap(), Some(stored.clone()));
        assert!(!format!("{stored:?}").contains("secret"));
        let summaries = stored_logins(dir.path());
        let summary = summaries[0].as_ref().unwrap();
        assert_eq!(
            (summary.creator.as_str(), summary.user.as_str()),
            ("demo", "mybot")
        );
        assert!(!serde_json::to_string(summary).unwrap().contains("secret"));
        std::fs::write(&path, "{not json").unwrap();
        let err = read_login(&path, "demo").unwrap_err().to_string();
        assert!(err.contains("run `ss auth twitch --creator demo`"), "{err}");
        assert!(
            read_login(&dir.path().join("none.json"), "x")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn without_a_stored_login_the_environment_token_is_used_bare() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "SS_TEST_TW_TOKEN=oauth:env-token-1\nSS_TEST_TW_CLIENT=client-9\n",
        )
        .unwrap();
        let secrets = Secrets::load(dir.path());
        let settings = AuthSettings {
            creator: "demo".into(),
            token_env: Some("SS_TEST_TW_TOKEN".into()),
            client_id_env: Some("SS_TEST_TW_CLIENT".into()),
            client_secret_env: None,
            state_dir: dir.path().join("state"),
        };
        let id = IdServer::new("http://127.0.0.1:9", secrets.clone()).unwrap();
        let auth = TwitchAuth::load(&settings, id.clone(), &secrets)
            .unwrap()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (access, client) = rt.block_on(auth.credentials()).unwrap();
        assert_eq!(
            (access.expose(), client.expose()),
            ("env-token-1", "client-9")
        );
        let none = AuthSettings {
            token_env: None,
            ..settings
        };
        assert!(TwitchAuth::load(&none, id, &secrets).unwrap().is_none());
    }
}
