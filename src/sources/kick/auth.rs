//! Kick's OAuth 2.1 tokens: the access token the creator's `token_env` names, refreshed with
//! `refresh_token_env`, `client_id_env` and `client_secret_env` when Kick answers 401, and the
//! refreshed pair kept across restarts.
//!
//! The refreshed pair is written to `runtime/state/kick/{creator}.token.json`, created with mode
//! 0600 and replaced atomically (ARCHITECTURE.md says why a file and not the store). It records a
//! SHA-256 fingerprint of the environment's access token it replaced, so an operator who puts a
//! new token in the environment wins over the file: the file is used only while the environment
//! still holds the token it was refreshed from. Every token read from the file or from Kick is
//! registered with [`Secrets`], so the one scrubber removes it from any message.

use super::api::{ApiError, KickApi};
use crate::config::secrets::{Secret, Secrets};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The environment variables of a creator's `kick` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenEnv {
    pub token_env: Option<String>,
    pub refresh_token_env: Option<String>,
    pub client_id_env: Option<String>,
    pub client_secret_env: Option<String>,
}

/// The token file's contents.
#[derive(Serialize, Deserialize)]
struct StoredTokens {
    /// SHA-256 (hex) of the environment's access token these replaced.
    replaces: String,
    access_token: String,
    refresh_token: Option<String>,
    refreshed_at: chrono::DateTime<chrono::Utc>,
}

/// Why a refresh did not give a new token.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// A variable the refresh needs is not set.
    #[error("cannot refresh the Kick token: {0} is not set")]
    Missing(String),
    /// Kick refused the refresh token or the client credentials.
    #[error(
        "Kick refused the token refresh; authorize the app again and put the new tokens in ${access} and ${refresh}"
    )]
    Refused { access: String, refresh: String },
    #[error("the Kick token refresh failed: {0}")]
    Failed(ApiError),
}

/// The source's current tokens.
pub struct KickAuth {
    env: TokenEnv,
    file: PathBuf,
    access: Option<Secret>,
    refresh: Option<Secret>,
    /// The fingerprint of the environment's access token when loaded.
    env_fingerprint: Option<String>,
}

impl std::fmt::Debug for KickAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KickAuth")
            .field("env", &self.env)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

fn fingerprint(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where the refreshed tokens of `creator` are kept under the state directory.
pub fn token_file(state_dir: &Path, creator: &str) -> PathBuf {
    state_dir.join("kick").join(format!("{creator}.token.json"))
}

impl KickAuth {
    /// Loads the tokens: the environment's, or the file's when it replaced exactly those.
    pub fn load(env: TokenEnv, file: PathBuf, secrets: &Secrets) -> KickAuth {
        let get = |name: &Option<String>| name.as_deref().and_then(|n| secrets.get(n));
        let access = get(&env.token_env);
        let refresh = get(&env.refresh_token_env);
        let env_fingerprint = access.as_ref().map(|t| fingerprint(t.expose()));
        let mut auth = KickAuth {
            env,
            file,
            access,
            refresh,
            env_fingerprint,
        };
        if let Some(stored) = auth.read_file()
            && auth.env_fingerprint.as_deref() == Some(stored.replaces.as_str())
        {
            auth.access = Some(secrets.adopt(&stored.access_token));
            if let Some(refresh) = &stored.refresh_token {
                auth.refresh = Some(secrets.adopt(refresh));
            }
            tracing::debug!(platform = "kick", file = %auth.file.display(), "Using the refreshed Kick token.");
        }
        auth
    }

    fn read_file(&self) -> Option<StoredTokens> {
        let text = std::fs::read_to_string(&self.file).ok()?;
        match serde_json::from_str(&text) {
            Ok(stored) => Some(stored),
            Err(e) => {
                tracing::warn!(platform = "kick", file = %self.file.display(), "Ignored an unreadable Kick token file: {e}");
                None
            }
        }
    }

    /// The access token to send with, when there is one.
    pub fn access(&self) -> Option<&Secret> {
        self.access.as_ref()
    }

    /// The variable that should hold the access token (for messages).
    pub fn access_env(&self) -> &str {
        self.env.token_env.as_deref().unwrap_or("token_env")
    }

    /// Refreshes the access token once; on success it is used from now on and written to the
    /// token file.
    pub async fn refresh(&mut self, api: &KickApi, secrets: &Secrets) -> Result<(), RefreshError> {
        let need = |name: &Option<String>, what: &str| -> Result<Secret, RefreshError> {
            let name = name
                .clone()
                .ok_or_else(|| RefreshError::Missing(format!("kick.{what}")))?;
            secrets
                .get(&name)
                .ok_or(RefreshError::Missing(format!("${name}")))
        };
        let refresh = match &self.refresh {
            Some(r) => r.clone(),
            None => need(&self.env.refresh_token_env, "refresh_token_env")?,
        };
        let client_id = need(&self.env.client_id_env, "client_id_env")?;
        let client_secret = need(&self.env.client_secret_env, "client_secret_env")?;
        let answer = match api.refresh(&refresh, &client_id, &client_secret).await {
            Ok(answer) => answer,
            Err(ApiError::Unauthorized) => {
                return Err(RefreshError::Refused {
                    access: self.access_env().to_owned(),
                    refresh: self
                        .env
                        .refresh_token_env
                        .clone()
                        .unwrap_or_else(|| "refresh_token_env".into()),
                });
            }
            Err(e) => return Err(RefreshError::Failed(e)),
        };
        self.access = Some(secrets.adopt(&answer.access_token));
        if let Some(r) = &answer.refresh_token {
            self.refresh = Some(secrets.adopt(r));
        }
        if let Some(replaces) = &self.env_fingerprint {
            let stored = StoredTokens {
                replaces: replaces.clone(),
                access_token: answer.access_token,
                refresh_token: answer.refresh_token,
                refreshed_at: chrono::Utc::now(),
            };
            if let Err(e) = write_private(&self.file, &stored) {
                // The new token works for this run; the next start refreshes again.
                tracing::warn!(platform = "kick", file = %self.file.display(), "Could not keep the refreshed Kick token: {e}");
            }
        }
        tracing::info!(platform = "kick", "Refreshed the Kick access token.");
        Ok(())
    }
}

fn write_private(path: &Path, value: &StoredTokens) -> std::io::Result<()> {
    crate::sources::private_file::write_json(path, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_file_is_private_and_only_replaces_the_token_it_was_refreshed_from() {
        let dir = tempfile::tempdir().unwrap();
        let file = token_file(dir.path(), "demo");
        let stored = StoredTokens {
            replaces: fingerprint("old-access"),
            access_token: "new-access".into(),
            refresh_token: Some("new-refresh".into()),
            refreshed_at: chrono::Utc::now(),
        };
        write_private(&file, &stored).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let env = TokenEnv {
            token_env: Some("SS_TEST_KICK_AUTH_TOKEN".into()),
            ..TokenEnv::default()
        };
        let dotenv = dir.path().join(".env");
        std::fs::write(&dotenv, "SS_TEST_KICK_AUTH_TOKEN=old-access\n").unwrap();
        let secrets = Secrets::load(dir.path());
        let auth = KickAuth::load(env.clone(), file.clone(), &secrets);
        assert_eq!(auth.access().unwrap().expose(), "new-access");
        assert_eq!(secrets.scrub("x new-refresh y"), "x [redacted] y");
        // A different token in the environment wins over the file.
        std::fs::write(&dotenv, "SS_TEST_KICK_AUTH_TOKEN=operator-new\n").unwrap();
        let secrets = Secrets::load(dir.path());
        let auth = KickAuth::load(env, file, &secrets);
        assert_eq!(auth.access().unwrap().expose(), "operator-new");
    }
}
