//! Answering slash commands: who may (the guild's role mapping), what is asked (an
//! [`Operation`]), doing it through [`Operations`], and the answer through the interaction
//! callback within Discord's 3 seconds.
//!
//! Each interaction is answered on its own task (tracked, at most [`MAX_IN_FLIGHT`] at once), so a
//! slow store or platform never delays the gateway's heartbeat. The operation races
//! [`DEFER_AFTER`]: done by then, the answer goes out as the callback (type 4); not done, the
//! callback says "thinking…" (type 5) and the answer follows as an edit of it when the operation
//! ends. Answers are ephemeral (seen by the member who asked only) except `/status`'s, and mention
//! no one.
//!
//! Registration: when READY names the application, every guild of discord.json gets the commands
//! with one bulk overwrite (`PUT …/guilds/{id}/commands`); a guild whose registration failed is
//! tried again at the next READY. With logging enabled for a guild, each command that changed
//! something is also posted to its log channel through the bot's REST client.

use super::commands::{self, NAMES};
use super::gateway::Dispatch;
use super::rest::{self, Rest, RestError};
use super::state::BotState;
use super::wire::{INTERACTION_APPLICATION_COMMAND, INTERACTION_PING, Interaction};
use crate::config::Config;
use crate::operations::{Done, OpError, Operation, Operations, Operator};
use crate::status::Health;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

/// After this long without an answer, the callback defers it (Discord allows 3 s in all).
pub const DEFER_AFTER: Duration = Duration::from_millis(1500);
/// Interactions answered at once; more wait for a slot (Discord lets a guild fire a few a second).
pub const MAX_IN_FLIGHT: usize = 32;

/// The interaction side of the bot. Cheap to clone.
#[derive(Clone)]
pub struct Interactions {
    inner: Arc<Inner>,
}

struct Inner {
    rest: Rest,
    operations: Operations,
    config: watch::Receiver<Arc<Config>>,
    state: BotState,
    tasks: TaskTracker,
    slots: Arc<Semaphore>,
    /// Guilds whose commands are registered.
    registered: Mutex<BTreeSet<String>>,
}

impl Interactions {
    pub fn new(
        rest: Rest,
        operations: Operations,
        config: watch::Receiver<Arc<Config>>,
        state: BotState,
    ) -> Interactions {
        Interactions {
            inner: Arc::new(Inner {
                rest,
                operations,
                config,
                state,
                tasks: TaskTracker::new(),
                slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
                registered: Mutex::new(BTreeSet::new()),
            }),
        }
    }

    /// Waits (up to `grace`) for the answers still being made.
    pub async fn finish(&self, grace: Duration) {
        self.inner.tasks.close();
        if tokio::time::timeout(grace, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                tasks = self.inner.tasks.len(),
                "Some Discord answers were still being made at shutdown."
            );
        }
    }
}

impl Dispatch for Interactions {
    fn ready(&self, application_id: &str) {
        let inner = self.inner.clone();
        let application_id = application_id.to_owned();
        self.inner
            .tasks
            .spawn(async move { inner.register(&application_id).await });
    }

    fn interaction(&self, interaction: Interaction) {
        let received = Instant::now();
        let inner = self.inner.clone();
        self.inner.tasks.spawn(async move {
            let Ok(_slot) = inner.slots.clone().acquire_owned().await else {
                return;
            };
            inner.answer(interaction, received).await;
        });
    }
}

/// What to answer, and whether to count it as done.
struct Answer {
    text: String,
    done: bool,
}

impl Inner {
    async fn register(&self, application_id: &str) {
        let guilds: Vec<String> = self.config.borrow().discord.discord.guilds.keys().cloned().collect();
        let definitions = commands::definitions();
        for guild in guilds {
            let done = self
                .registered
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains(&guild);
            if done {
                continue;
            }
            let result = self
                .rest
                .register_guild_commands(application_id, &guild, &definitions)
                .await;
            match &result {
                Ok(n) => {
                    tracing::info!(guild = %guild, commands = n, "Slash commands registered.");
                    self.registered
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(guild.clone());
                }
                Err(e) => {
                    tracing::warn!(guild = %guild, error = %e, "Could not register the slash commands; trying again at the next session.");
                }
            }
            self.state.update(|s| {
                let entry = s.guilds.entry(guild.clone()).or_default();
                match &result {
                    Ok(n) => {
                        entry.commands_registered = *n;
                        entry.registration_error = None;
                    }
                    Err(e) => entry.registration_error = Some(crate::sanitize::message(&e.to_string())),
                }
                if result.is_ok() {
                    s.commands = NAMES.to_vec();
                }
            });
        }
    }

    async fn answer(&self, interaction: Interaction, received: Instant) {
        if interaction.kind == INTERACTION_PING {
            let _ = self
                .rest
                .callback(&interaction.id, &interaction.token, &serde_json::json!({"type": 1}))
                .await;
            return;
        }
        if interaction.kind != INTERACTION_APPLICATION_COMMAND {
            return;
        }
        let name = interaction
            .data
            .as_ref()
            .map_or_else(String::new, |d| d.name.clone());
        let public = commands::is_public(&name);
        let cause = format!("discord:{}", interaction.id);
        let (operator, operation, logging) = match self.read(&interaction) {
            Ok(parts) => parts,
            Err(text) => {
                let answer = Answer { text, done: false };
                self.respond(&interaction, received, false, std::future::ready(answer))
                    .await;
                return;
            }
        };
        let changes = operation.changes();
        let summary = describe(&operation);
        let work = async {
            let result = self.operations.perform(&operator, operation, &cause).await;
            Answer {
                done: result.is_ok(),
                text: match &result {
                    Ok(done) => done_text(done),
                    Err(e) => refusal_text(e),
                },
            }
        };
        // A refusal is for the asker's eyes only, even of a public command.
        let answered = self.respond(&interaction, received, public, work).await;
        if changes
            && let (Some(channel), Some(text)) = (logging, answered)
        {
            let line = format!("{} used {summary}: {text}", operator.name);
            if let Err(e) = self
                .rest
                .create_message(&channel, &rest::message(&line, false))
                .await
            {
                tracing::warn!(error = %e, "Could not post to the guild's log channel.");
            }
        }
    }

    /// Who asks and what: the guild's settings, the member's role, the operation. `Err` is the
    /// refusal to answer with.
    fn read(&self, interaction: &Interaction) -> Result<(Operator, Operation, Option<String>), String> {
        let Some(guild_id) = interaction.guild_id.as_deref() else {
            return Err("Use the bot's commands in a server it serves.".into());
        };
        let config = self.config.borrow();
        let Some(guild) = config.discord.discord.guilds.get(guild_id) else {
            return Err(format!(
                "This server ({guild_id}) is not in discord.json; an operator adds it under \"guilds\"."
            ));
        };
        let Some(member) = &interaction.member else {
            return Err("Use the bot's commands in a server it serves.".into());
        };
        let Some(data) = &interaction.data else {
            return Err("The command came without its name.".into());
        };
        let operation = commands::operation(data, guild.creator.as_deref())
            .map_err(|e| format!("Refused: {e}."))?;
        let operator = Operator {
            via: "discord",
            id: member.user.id.clone(),
            name: member.user.display().to_owned(),
            guild: Some(guild_id.to_owned()),
            role: guild.role_of(guild_id, &member.roles),
        };
        let logging = guild
            .logging
            .enabled
            .then(|| guild.logging.channel_id.clone())
            .flatten();
        Ok((operator, operation, logging))
    }

    /// Answers within Discord's deadline: at once when `work` is done before [`DEFER_AFTER`],
    /// else deferred and then edited. Returns the answer's text when it reached Discord.
    async fn respond(
        &self,
        interaction: &Interaction,
        received: Instant,
        public: bool,
        work: impl Future<Output = Answer>,
    ) -> Option<String> {
        let mut work = std::pin::pin!(work);
        let deadline = received + DEFER_AFTER;
        let (answer, deferred) = tokio::select! {
            answer = &mut work => (answer, false),
            () = tokio::time::sleep_until(deadline) => {
                let ephemeral = !public;
                if let Err(e) = self.rest.callback(&interaction.id, &interaction.token, &rest::defer(ephemeral)).await {
                    self.unanswered(&e);
                    // The work still runs to its end (and its audit row is written).
                    let _ = work.await;
                    return None;
                }
                (work.await, true)
            }
        };
        // A deferred answer keeps the visibility it was deferred with.
        let ephemeral = !(public && (answer.done || deferred));
        let sent = if deferred {
            self.rest
                .edit_original(
                    &interaction.application_id,
                    &interaction.token,
                    &rest::message(&answer.text, ephemeral),
                )
                .await
        } else {
            self.rest
                .callback(
                    &interaction.id,
                    &interaction.token,
                    &rest::reply(&answer.text, ephemeral),
                )
                .await
        };
        match sent {
            Ok(()) => {
                self.state.update(|s| {
                    if answer.done {
                        s.interactions.done += 1;
                    } else {
                        s.interactions.refused += 1;
                    }
                });
                Some(answer.text)
            }
            Err(e) => {
                self.unanswered(&e);
                None
            }
        }
    }

    fn unanswered(&self, error: &RestError) {
        tracing::warn!(error = %error, "A slash command could not be answered.");
        self.state.update(|s| s.interactions.unanswered += 1);
    }
}

/// The command as the log channel names it.
fn describe(operation: &Operation) -> String {
    match operation {
        Operation::Status => "/status".into(),
        Operation::Clip { seconds, .. } => format!("/clip {seconds}"),
        Operation::Say { platform, .. } => format!("/say {platform}"),
        Operation::Moderate {
            platform,
            action,
            user,
            ..
        } => format!("/mod {} {platform} {user}", action.as_str()),
    }
}

fn done_text(done: &Done) -> String {
    match done {
        Done::Status(health) => status_text(health),
        Done::ClipQueued { clip_id, seconds } => {
            format!("Clip `{clip_id}` queued: the last {seconds} s. `ss clip show {clip_id}` follows it.")
        }
        Done::CommandQueued {
            platform,
            command,
            target,
        } => match target {
            Some(user) => format!("Queued on {}: {command} of {user}.", platform.title()),
            None => format!("Queued on {}: {command}.", platform.title()),
        },
    }
}

fn refusal_text(error: &OpError) -> String {
    let text = error.to_string();
    let mut chars = text.chars();
    let first = chars.next().map(|c| c.to_uppercase().collect::<String>()).unwrap_or_default();
    format!("Refused: {first}{}.", chars.as_str().trim_end_matches('.'))
}

/// `/status` in a few lines: the verdict, then one line per source.
pub fn status_text(health: &Health) -> String {
    let mut out = if health.healthy {
        "**Healthy**".to_owned()
    } else {
        format!("**Unhealthy**: {}", health.problems.join("; "))
    };
    if health.degraded {
        out.push_str(&format!(
            "\nStore degraded: {}",
            health.degraded_reason.as_deref().unwrap_or("commits failing")
        ));
    }
    out.push_str(&format!(
        "\nEvents: {} received, {} recorded, {} dropped",
        health.events_received, health.events_recorded, health.events_dropped
    ));
    for source in &health.sources {
        let age = source
            .last_event_age_s
            .map_or_else(|| "no event yet".to_owned(), |s| format!("last event {s} s ago"));
        out.push_str(&format!(
            "\n- {}/{}: {}, {age}, {} events, {} reconnects",
            source.creator, source.platform, source.state, source.events, source.reconnects
        ));
        if let Some(error) = &source.last_error {
            out.push_str(&format!(" ({error})"));
        }
    }
    if health.sources.is_empty() {
        out.push_str("\nNo sources.");
    }
    out
}
