//! The Discord control plane: a gateway bot that answers operators' slash commands in the guilds of
//! discord.json (`/status`, `/clip`, `/poll`, `/giveaway`, `/timer`, `/say`, `/mod`), and never
//! reads chat.
//!
//! It runs on its own: alone (`ss discord`), or inside `ss run` when `bot.enabled`, as a task of
//! its own that nothing else waits on. A gateway failure never stops the sources (the run logs it
//! and goes on) and a source failure never stops the bot. The bot acts through [`acts`]: inside
//! `ss run` the control operations ([`crate::control`]), the same roles, rate limit and audit rows
//! as the control API; alone, the store beside the run.
//!
//! - [`wire`]: the gateway's frames and payloads.
//! - [`gateway`]: one long-lived session over many connections: Hello, heartbeat
//!   ([`heartbeat`]), Identify within its budget ([`identify`]) or Resume, dispatches, and the close
//!   codes ([`close`]).
//! - [`interactions`]: answering commands within 3 seconds, deferring longer work; registering the
//!   commands ([`commands`]) per guild.
//! - [`rest`]: the bot's REST client (gateway URL, registration, callbacks, the log channel).
//! - [`state`]: `runtime/discord/runtime.json` (connected, session, latency, guilds, commands).
//!
//! The bot token is read once from the variable discord.json names; it goes out in Identify,
//! Resume and the `Authorization` header only, and every message the bot logs or exports is
//! scrubbed of it.

pub mod acts;
pub mod close;
pub mod commands;
pub mod gateway;
pub mod heartbeat;
pub mod identify;
pub mod interactions;
pub mod rest;
pub mod state;
pub mod wire;

use crate::config::Config;
use crate::config::secrets::Secrets;
use gateway::{Gateway, GatewayError};
use state::{BotState, Connection};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How long answers still being made get at shutdown.
const ANSWER_GRACE: Duration = Duration::from_secs(3);

/// Why the bot stopped for good (or could not start).
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error(
        "discord.json has no token_env\n  hint: name the environment variable holding the bot token: \"discord\": {{\"token_env\": \"DISCORD_BOT_TOKEN\"}}"
    )]
    NoTokenEnv,
    #[error(
        "{0} is not set, so the Discord bot has no token\n  hint: export {0}=<the bot token from the Developer Portal> (or put it in the root's .env)"
    )]
    NoToken(String),
    #[error("the bot's HTTP client could not be made: {0}")]
    Client(String),
    #[error(transparent)]
    Gateway(#[from] GatewayError),
}

/// What the bot needs from whoever runs it.
pub struct BotParts {
    pub root: PathBuf,
    pub config: watch::Receiver<Arc<Config>>,
    pub secrets: Secrets,
    pub acts: acts::Acts,
    pub shutdown: CancellationToken,
}

/// Runs the bot until `shutdown`, or until Discord refuses it for good. Its state file is written
/// throughout and shows how it ended.
pub async fn run(parts: BotParts) -> Result<(), BotError> {
    let (settings, guilds) = {
        let config = parts.config.borrow();
        (
            config.discord.discord.clone(),
            config
                .discord
                .discord
                .guilds
                .iter()
                .map(|(id, g)| (id.clone(), g.creator.clone()))
                .collect::<Vec<_>>(),
        )
    };
    let state = BotState::new();
    state.update(|s| {
        for (id, creator) in guilds {
            let entry = s.guilds.entry(id).or_default();
            entry.configured = true;
            entry.creator = creator;
        }
    });
    let stop_writer = CancellationToken::new();
    let writer = tokio::spawn(state::run_writer(
        state.clone(),
        parts.root.clone(),
        stop_writer.clone(),
    ));
    let result = async {
        let env = settings.token_env.as_deref().ok_or(BotError::NoTokenEnv)?;
        let token = parts
            .secrets
            .get(env)
            .ok_or_else(|| BotError::NoToken(env.to_owned()))?;
        let rest = rest::Rest::new(&settings.api_base_url, &token, parts.secrets.clone())
            .map_err(|e| BotError::Client(e.to_string()))?;
        let handler = interactions::Interactions::new(
            rest.clone(),
            parts.acts.clone(),
            parts.config.clone(),
            state.clone(),
        );
        tracing::info!(
            guilds = settings.guilds.len(),
            "Discord bot starting (slash commands; no chat is read)."
        );
        let result = Gateway::new(
            &rest,
            &token,
            &state,
            &handler,
            settings.bot.identify_warn_below,
        )
        .run(&parts.shutdown)
        .await;
        handler.finish(ANSWER_GRACE).await;
        result.map_err(BotError::from)
    }
    .await;
    let scrubbed = result
        .as_ref()
        .err()
        .map(|e| crate::sanitize::message(&parts.secrets.scrub(&e.to_string())));
    state.update(|s| {
        s.session.resumable = false;
        if scrubbed.is_some() {
            s.last_error = scrubbed;
        }
    });
    state.set_connection(Connection::Stopped);
    stop_writer.cancel();
    let _ = writer.await;
    result
}
