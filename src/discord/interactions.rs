//! Answering slash commands: who may (the guild's role mapping to the control API's roles), what
//! is asked ([`Asked`]), doing it through [`Acts`] (the control operations, with their audit rows),
//! and the answer through the interaction callback within Discord's 3 seconds.
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

use super::acts::{self, Acts};
use super::commands::{self, Asked, Moderation, NAMES};
use super::gateway::Dispatch;
use super::rest::{self, Rest, RestError};
use super::state::BotState;
use super::wire::{INTERACTION_APPLICATION_COMMAND, INTERACTION_PING, Interaction};
use crate::config::Config;
use crate::control::{Caller, Change, ControlError, Done};
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
    acts: Acts,
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
        acts: Acts,
        config: watch::Receiver<Arc<Config>>,
        state: BotState,
    ) -> Interactions {
        Interactions {
            inner: Arc::new(Inner {
                rest,
                acts,
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
        let guilds: Vec<String> = self
            .config
            .borrow()
            .discord
            .discord
            .guilds
            .keys()
            .cloned()
            .collect();
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
                    Err(e) => {
                        entry.registration_error = Some(crate::sanitize::message(&e.to_string()))
                    }
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
                .callback(
                    &interaction.id,
                    &interaction.token,
                    &serde_json::json!({"type": 1}),
                )
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
        let (caller, asked, logging) = match self.read(&interaction) {
            Ok(parts) => parts,
            Err(refusal) => {
                if let Some((caller, arguments, error)) = refusal.audit {
                    self.acts
                        .refused(&caller, &format!("discord /{name}"), &arguments, &error)
                        .await;
                }
                let answer = Answer {
                    text: refusal.text,
                    done: false,
                };
                self.respond(&interaction, received, false, std::future::ready(answer))
                    .await;
                return;
            }
        };
        let changes = !matches!(asked, Asked::Status);
        let route = format!("discord /{name}");
        let work = async {
            let result = self.perform(&caller, &route, asked).await;
            Answer {
                done: result.is_ok(),
                text: match result {
                    Ok(text) => text,
                    Err(e) => refusal_text(&e),
                },
            }
        };
        // A refusal is for the asker's eyes only, even of a public command.
        let answered = self.respond(&interaction, received, public, work).await;
        if changes && let (Some(channel), Some(text)) = (logging, answered) {
            let line = format!("{} used /{name}: {text}", caller.name);
            if let Err(e) = self
                .rest
                .create_message(&channel, &rest::message(&line, false))
                .await
            {
                tracing::warn!(error = %e, "Could not post to the guild's log channel.");
            }
        }
    }

    /// Does what was asked; the answer's text.
    async fn perform(
        &self,
        caller: &Caller,
        route: &str,
        asked: Asked,
    ) -> Result<String, ControlError> {
        let change = match asked {
            Asked::Status => return self.status().await.map(|h| status_text(&h)),
            Asked::Change(change) => change,
            Asked::Moderate {
                creator,
                platform,
                action,
                user,
                reason,
            } => {
                let user = match self.acts.find_user(&creator, platform, &user).await {
                    Ok(user) => user,
                    Err(e) => {
                        let arguments = serde_json::json!({"creator": creator, "platform": platform, "user": user});
                        self.acts.refused(caller, route, &arguments, &e).await;
                        return Err(e);
                    }
                };
                match action {
                    Moderation::Timeout { seconds } => Change::Timeout {
                        creator,
                        platform,
                        user,
                        seconds,
                        reason,
                    },
                    Moderation::Ban => Change::Ban {
                        creator,
                        platform,
                        user,
                        reason,
                    },
                    Moderation::Unban => Change::Unban {
                        creator,
                        platform,
                        user,
                    },
                }
            }
        };
        self.acts
            .change(caller, route, change)
            .await
            .map(|done| done_text(&done))
    }

    /// The runtime's health, judged from its snapshot as `ss status` does.
    async fn status(&self) -> Result<Health, ControlError> {
        let path = self
            .acts
            .root()
            .join("runtime/exports/runtime_snapshot.json");
        let cadence = self.config.borrow().system.exports.cadence_s;
        let stale_after = Duration::from_secs_f64((cadence * 3.0).max(1.0));
        let text = tokio::fs::read_to_string(&path).await.map_err(|e| {
            ControlError::Unavailable(format!(
                "cannot read {}: {e}; is `ss run` running in this root?",
                path.display()
            ))
        })?;
        let snapshot: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            ControlError::Unavailable(format!("{} is not JSON: {e}", path.display()))
        })?;
        Health::judge(&snapshot, chrono::Utc::now(), stale_after)
            .map_err(|e| ControlError::Unavailable(e.to_string()))
    }

    /// Who asks and what: the guild's settings, the member's role, what is asked.
    fn read(
        &self,
        interaction: &Interaction,
    ) -> Result<(Caller, Asked, Option<String>), Box<Refusal>> {
        let plain = |text: String| Box::new(Refusal { text, audit: None });
        let Some(guild_id) = interaction.guild_id.as_deref() else {
            return Err(plain(
                "Use the bot's commands in a server it serves.".into(),
            ));
        };
        let config = self.config.borrow();
        let Some(guild) = config.discord.discord.guilds.get(guild_id) else {
            return Err(plain(format!(
                "This server ({guild_id}) is not in discord.json; an operator adds it under \"guilds\"."
            )));
        };
        let Some(member) = &interaction.member else {
            return Err(plain(
                "Use the bot's commands in a server it serves.".into(),
            ));
        };
        let Some(data) = &interaction.data else {
            return Err(plain("The command came without its name.".into()));
        };
        let asked = commands::asked(data, guild.creator.as_deref())
            .map_err(|e| plain(format!("Refused: {e}.")))?;
        let role = guild.role_of(guild_id, &member.roles);
        let Some(caller) = acts::caller(&member.user.id, member.user.display(), guild_id, role)
        else {
            let text = "Refused: none of your roles in this server is mapped to an ss role (discord.json \"roles\"); ask the owner.".to_owned();
            // Who tried to change something without a role is audited, as a refused API call is.
            let audit = match &asked {
                Asked::Status => None,
                _ => Some((
                    acts::caller(
                        &member.user.id,
                        member.user.display(),
                        guild_id,
                        Some(crate::config::model::ControlRole::Viewer),
                    )
                    .expect("a role was given"),
                    serde_json::json!({"command": data.name}),
                    ControlError::Forbidden {
                        name: member.user.display().to_owned(),
                        need: asked_role(&asked).as_str(),
                        have: "no",
                    },
                )),
            };
            return Err(Box::new(Refusal { text, audit }));
        };
        let logging = guild
            .logging
            .enabled
            .then(|| guild.logging.channel_id.clone())
            .flatten();
        Ok((caller, asked, logging))
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

/// The least role what is asked needs.
fn asked_role(asked: &Asked) -> crate::config::model::ControlRole {
    use crate::config::model::ControlRole;
    match asked {
        Asked::Status => ControlRole::Viewer,
        Asked::Change(change) => change.min_role(),
        Asked::Moderate { .. } => ControlRole::Moderator,
    }
}

/// A command refused before it was done: the answer, and what to audit when it asked for a change.
struct Refusal {
    text: String,
    audit: Option<(Caller, serde_json::Value, ControlError)>,
}

fn done_text(done: &Done) -> String {
    sentence(&done.detail)
}

/// `text` as a sentence: a capital first letter and one full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let first = chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>())
        .unwrap_or_default();
    format!("{first}{}.", chars.as_str().trim_end_matches('.'))
}

fn refusal_text(error: &ControlError) -> String {
    format!("Refused: {}", sentence(&error.to_string()))
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
            health
                .degraded_reason
                .as_deref()
                .unwrap_or("commits failing")
        ));
    }
    out.push_str(&format!(
        "\nEvents: {} received, {} recorded, {} dropped",
        health.events_received, health.events_recorded, health.events_dropped
    ));
    for source in &health.sources {
        let age = source.last_event_age_s.map_or_else(
            || "no event yet".to_owned(),
            |s| format!("last event {s} s ago"),
        );
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
