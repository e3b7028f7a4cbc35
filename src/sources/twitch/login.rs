//! `ss auth twitch --creator ID [--scopes …]`: a Twitch login without a browser on this machine
//! (OAuth's device code grant, as Twitch documents it for headless tools).
//!
//! It asks the id server for a device code with the creator's application (`client_id_env`, a
//! public client needs no secret) and the scopes ([`super::scopes::default_scopes`] unless given),
//! prints the address to open and the code to enter on any device, then polls every `interval`
//! seconds (5 more after each `slow_down`) until the login is approved, refused or the code
//! expires. The tokens are validated (their user and scopes) and stored in the creator's token
//! file ([`super::auth::token_file`], 0600, replaced atomically). Nothing printed or returned holds a
//! token.

use super::auth::{StoredLogin, token_file, write_login};
use super::oauth::{DevicePoll, IdServer, OAuthError};
use super::settings::TwitchSettings;
use super::{TWITCH, scopes};
use crate::config::secrets::Secret;
use crate::sources::registry::{LoginError, LoginRequest};
use std::time::Duration;
use tokio::time::Instant;

/// How much `slow_down` adds to the polling interval.
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// Logs `request.creator` in; the line to print when done.
pub async fn login(request: LoginRequest<'_>) -> Result<String, LoginError> {
    let creator_id = request.creator;
    let creator = request.config.creators.get(creator_id).ok_or_else(|| {
        let known: Vec<&str> = request
            .config
            .creators
            .creators
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        LoginError::Usage(format!(
            "no creator {creator_id:?} in creators.json; known creators: {}",
            known.join(", ")
        ))
    })?;
    let settings = creator
        .platforms
        .settings::<TwitchSettings>(TWITCH)
        .ok_or_else(|| {
            LoginError::Usage(format!(
                "creator {creator_id:?} has no twitch block in creators.json; add one with `channel` and `client_id_env`"
            ))
        })?;
    let client_id_env = settings.client_id_env.as_deref().ok_or_else(|| {
        LoginError::Usage(format!(
            "set client_id_env in creator {creator_id:?}'s twitch block to the environment variable holding your Twitch application's client id (register a Public client at dev.twitch.tv/console)"
        ))
    })?;
    let client_id = request.secrets.get(client_id_env).ok_or_else(|| {
        LoginError::Usage(format!(
            "environment variable {client_id_env} is not set (creator {creator_id:?}'s client_id_env); set it in the environment or in the root's .env"
        ))
    })?;
    let oauth_url = request
        .config
        .platforms
        .settings(TWITCH)
        .str("oauth_url")
        .unwrap_or_else(|| super::oauth::DEFAULT_OAUTH_URL.into());
    let scopes = match request.scopes {
        Some(scopes) if !scopes.is_empty() => scopes,
        _ => scopes::default_scopes(),
    };
    for scope in scopes.iter().filter(|s| !scopes::is_known(s)) {
        (request.say)(&format!(
            "note: {scope} is not a scope ss uses; asking for it anyway"
        ));
    }
    let id = IdServer::new(&oauth_url, request.secrets.clone())
        .map_err(|e| LoginError::Failed(format!("cannot set up the HTTP client: {e}")))?;
    let failed = |what: &str, e: OAuthError| {
        LoginError::Failed(request.secrets.scrub(&format!("{what}: {e}")))
    };
    let code = id
        .device_code(&client_id, &scopes)
        .await
        .map_err(|e| failed("the Twitch login could not start", e))?;
    (request.say)(&format!(
        "To log creator {creator_id} in on Twitch, open {} on any device",
        code.verification_uri
    ));
    (request.say)(&format!(
        "and enter the code {} (it expires in {} minutes).",
        code.user_code,
        code.expires_in.div_ceil(60)
    ));
    (request.say)(&format!("Scopes asked for: {}", scopes.join(" ")));
    (request.say)("Waiting for the login to be approved...");
    let tokens = poll(&id, &client_id, &code.device_code, code.interval, code.expires_in)
        .await
        .map_err(|e| match e {
            OAuthError::Refused(message) => LoginError::Failed(format!(
                "Twitch refused the login ({message}); run `ss auth twitch --creator {creator_id}` again"
            )),
            other => failed("the login failed", other),
        })?;
    request.secrets.adopt(&tokens.access_token);
    if let Some(refresh) = &tokens.refresh_token {
        request.secrets.adopt(refresh);
    }
    let validated = id
        .validate(&Secret::new(tokens.access_token.clone()))
        .await
        .map_err(|e| failed("Twitch did not validate the new token", e))?;
    let stored = StoredLogin::from_tokens(client_id.expose(), tokens, &validated);
    let file = token_file(&request.root.join("runtime").join("state"), creator_id);
    write_login(&file, &stored).map_err(|e| {
        LoginError::Failed(format!(
            "could not store the login in {}: {e}",
            file.display()
        ))
    })?;
    let channel = settings
        .channel
        .trim_start_matches('#')
        .to_ascii_lowercase();
    let owner = if stored.login == channel {
        "the channel's owner".to_owned()
    } else {
        format!(
            "not the owner of {channel}; it needs moderator rights there to moderate and to see follows"
        )
    };
    Ok(format!(
        "Logged in as {} (user id {}, {owner}) for creator {creator_id}.\nScopes: {}\nStored in {} (readable by you only). `ss auth status` lists stored logins.",
        stored.login,
        stored.user_id,
        stored.scopes.join(" "),
        file.display()
    ))
}

/// Polls until the login is approved, refused or `expires_in` seconds pass.
async fn poll(
    id: &IdServer,
    client_id: &Secret,
    device_code: &str,
    interval: u64,
    expires_in: u64,
) -> Result<super::oauth::Tokens, OAuthError> {
    let mut interval = Duration::from_secs(interval.max(1));
    let deadline = Instant::now() + Duration::from_secs(expires_in.max(1));
    loop {
        tokio::time::sleep(interval).await;
        if Instant::now() >= deadline {
            return Err(OAuthError::Refused(
                "the code expired before the login was approved".into(),
            ));
        }
        match id.device_poll(client_id, device_code).await? {
            DevicePoll::Pending => {}
            DevicePoll::SlowDown => {
                interval += SLOW_DOWN_STEP;
                tracing::debug!(
                    platform = "twitch",
                    interval_s = interval.as_secs(),
                    "Twitch asked to poll more slowly."
                );
            }
            DevicePoll::Done(tokens) => return Ok(tokens),
        }
    }
}
