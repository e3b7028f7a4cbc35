//! `ss discord`: the Discord control-plane bot on its own, beside `ss run` (or with none running).
//!
//! Restarting it never touches the streams. On its own it answers `/status` (from the runtime's
//! snapshot) and `/clip` (a clip job recorded beside the daemon, as `ss clip create` does); the
//! other commands need the platform connections and the run loop, so they are answered with a
//! refusal saying to run the bot inside `ss run` (discord.json `bot.enabled`). The first SIGINT/SIGTERM stops it in order
//! (exit 0); Discord refusing it for good (a wrong token, disallowed intents) is exit 2 with the
//! fix.

use super::Outcome;
use super::signals::{Signals, watch_signals};
use crate::config::Config;
use crate::config::secrets::Secrets;
use crate::discord::{self, BotParts};
use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    ss discord                      run the bot until Ctrl-C\n  \
    ss discord --duration 1h        stop by itself after an hour\n\n\
    The bot reads discord.json: token_env (the variable holding the bot token), and per guild its\n\
    creator and roles (guild role id -> viewer | moderator | owner; the guild's own id is @everyone).\n\
    It registers /status, /clip, /poll, /giveaway, /timer, /say and /mod in every guild there and\n\
    writes its state to runtime/discord/runtime.json. Alone it can answer /status and /clip; to run\n\
    it inside `ss run` (where the other commands reach the chat), set \"bot\": {\"enabled\": true}\n\
    in discord.json.\n\
    Exit codes: 0 stopped by a signal or --duration, 2 Discord refused the bot (the error says why).")]
pub struct Args {
    /// Stop by itself after this long (e.g. 30s, 5m, 1h).
    #[arg(long, value_name = "DUR", value_parser = super::values::duration)]
    pub duration: Option<Duration>,
}

pub fn run(root: &Path, args: Args) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("ss-discord")
        .build()
        .context("starting the async runtime")?;
    let ended = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let signals = Signals::install()?;
        let (forced, forced_rx) = tokio::sync::oneshot::channel();
        let watcher = tokio::spawn(watch_signals(signals, shutdown.clone(), forced));
        if let Some(duration) = args.duration {
            let token = shutdown.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = token.cancelled() => {}
                    () = tokio::time::sleep(duration) => token.cancel(),
                }
            });
        }
        let config = Config::load(root)?;
        super::trust_tls(root, &config)?;
        let config = Arc::new(config);
        let secrets = Secrets::load(root);
        let (_config_tx, config_rx) = tokio::sync::watch::channel(config);
        let bot = discord::run(BotParts {
            root: root.to_path_buf(),
            config: config_rx.clone(),
            secrets: secrets.clone(),
            acts: crate::discord::acts::Acts::Alone {
                root: root.to_path_buf(),
                config: config_rx,
            },
            shutdown,
        });
        let ended = tokio::select! {
            result = bot => Some(result.map_err(|e| anyhow::anyhow!(secrets.scrub(&e.to_string())))),
            Ok(()) = forced_rx => None,
        };
        watcher.abort();
        anyhow::Ok(ended)
    })?;
    runtime.shutdown_timeout(Duration::from_millis(500));
    match ended {
        None => Ok(Outcome::Interrupted),
        Some(result) => result.map(|()| Outcome::Success),
    }
}
