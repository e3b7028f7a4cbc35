//! The control operations: what a streamer's moderators may do to a running `ss run`, with roles,
//! a rate limit and the audit log. The control API (`http::api`) is a thin layer over these, and so
//! is anything else that lets people act on the runtime (a chat bot): they authenticate a caller,
//! build a [`Change`] and call [`Control::change`], or call the reads.
//!
//! - [`tokens`]: the system.json tokens, resolved, compared in constant time.
//! - [`change`]: the changes, as data, each with its least role.
//! - [`limit`]: the per-token rate limit on changes.
//! - [`persist`]: a trigger toggle written to triggers.json, validated first, atomically.
//! - [`error`]: why an operation was not done, with stable codes.
//!
//! Every change a caller asks for, done or not, is one audit row (the token's name, role, route,
//! the change as asked, and the result), committed before the answer. Platform commands are queued
//! on the source's command queue like a trigger's (`sent` is counted when the platform answers);
//! OBS requests wait for OBS's answer. A run-only trigger toggle is applied to the running config
//! (the same path as a hot reload: trigger state starts afresh, marked in the store) and lasts
//! until the next reload or restart; a persisted one is written to triggers.json and applied.

pub mod change;
pub mod error;
pub mod limit;
pub mod persist;
pub mod tokens;

pub use change::{Change, GiveawayOp, UserRef};
pub use error::ControlError;
pub use tokens::{Caller, Tokens};

use crate::command::{CommandKind, PlatformCommand, TargetUser};
use crate::config::Config;
use crate::config::model::{ControlRole, Matcher};
use crate::effects::sinks::CommandQueues;
use crate::effects::sinks::command::Submitted;
use crate::event::{Author, ChatEvent, OPERATOR_ID_PREFIX, Platform};
use crate::obs::{Obs, ObsError};
use crate::store::{ControlCall, NewClip, Readers, StoreWriter, WriteOp};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{Notify, mpsc, watch};

/// Rows the reads return at most.
pub const READ_LIMIT: usize = 100;

/// What a [`Control`] acts through.
pub struct ControlParts {
    pub tokens: Arc<Tokens>,
    pub commands: CommandQueues,
    pub obs: Obs,
    pub writer: StoreWriter,
    pub readers: Readers,
    /// The running config: read for the triggers, replaced for a toggle (as a hot reload is).
    pub configs: watch::Sender<Arc<Config>>,
    /// The runtime root (its `runtime/config/triggers.json` is what a persisted toggle changes).
    pub root: PathBuf,
    /// Woken when a clip job is committed, and for an export at once.
    pub clip_worker: Arc<Notify>,
    pub export_now: Arc<Notify>,
    /// Operators' commands (a poll opened or closed, a trigger run), into the run loop as chat.
    pub operator: mpsc::Sender<ChatEvent>,
}

/// Operators' commands waiting for the run loop. Policy when full: the change is refused at once
/// (503), never waited for.
pub const OPERATOR_QUEUE: usize = 16;

/// The operations. Cheap to clone.
#[derive(Clone)]
pub struct Control {
    inner: Arc<Inner>,
}

struct Inner {
    parts: ControlParts,
    limiter: limit::ChangeLimiter,
    /// One config file change at a time.
    persisting: tokio::sync::Mutex<()>,
}

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// `queued` (a platform command or a clip job: done later), `done` (OBS answered, the toggle
    /// applied).
    pub status: &'static str,
    /// The cause id every row and command of this change carries.
    pub cause: String,
    pub detail: String,
}

impl Control {
    pub fn new(parts: ControlParts) -> Control {
        Control {
            inner: Arc::new(Inner {
                parts,
                limiter: limit::ChangeLimiter::default(),
                persisting: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The caller holding `token`.
    pub fn authenticate(&self, token: &str) -> Result<Caller, ControlError> {
        self.inner
            .parts
            .tokens
            .authenticate(token)
            .ok_or(ControlError::Unauthorized)
    }

    /// Checks that `caller` has at least `need`.
    pub fn require(caller: &Caller, need: ControlRole) -> Result<(), ControlError> {
        if caller.may(need) {
            Ok(())
        } else {
            Err(ControlError::forbidden(&caller.name, need, caller.role))
        }
    }

    /// Does `change` for `caller`: the role, the rate limit, the change, and its audit row
    /// (committed before this returns), whatever the outcome. `route` names where it was asked
    /// (`POST /api/v1/...`, or a bot's command).
    pub async fn change(
        &self,
        caller: &Caller,
        route: &str,
        change: Change,
    ) -> Result<Done, ControlError> {
        let started = chrono::Utc::now();
        let cause = format!("control:{}:{}", caller.name, started.timestamp_millis());
        let outcome = self.checked_change(caller, &change, &cause).await;
        let result = match &outcome {
            Ok(done) => format!("ok {}: {}", done.status, done.detail),
            Err(e) => format!("error {}: {e}", e.code()),
        };
        match &outcome {
            Ok(_) => {
                tracing::info!(token = %caller.name, role = caller.role.as_str(), %route, %cause, change = change.name(), "Control change done.");
            }
            Err(e) => {
                tracing::info!(token = %caller.name, role = caller.role.as_str(), %route, %cause, change = change.name(), code = e.code(), "Control change not done: {e}");
            }
        }
        self.audit(
            caller,
            route,
            serde_json::to_string(&change).unwrap_or_default(),
            started,
            result,
        )
        .await;
        outcome
    }

    /// Audits a change refused before it could be read (too little role): the arguments as sent.
    pub async fn audit_refusal(
        &self,
        caller: &Caller,
        route: &str,
        arguments: &Value,
        refused: &ControlError,
    ) {
        let result = format!("error {}: {refused}", refused.code());
        tracing::info!(token = %caller.name, role = caller.role.as_str(), %route, code = refused.code(), "Control change refused: {refused}");
        self.audit(
            caller,
            route,
            arguments.to_string(),
            chrono::Utc::now(),
            result,
        )
        .await;
    }

    /// Writes one audit row and waits for its commit. A store that cannot take it is logged: the
    /// answer to the caller does not wait on a broken store.
    async fn audit(
        &self,
        caller: &Caller,
        route: &str,
        arguments: String,
        at: chrono::DateTime<chrono::Utc>,
        result: String,
    ) {
        let call = ControlCall {
            at,
            actor: caller.name.clone(),
            role: caller.role.as_str().to_owned(),
            route: route.to_owned(),
            arguments,
            result,
        };
        let writer = &self.inner.parts.writer;
        let committed = async {
            writer.send(WriteOp::ControlCall(Box::new(call))).await?;
            writer.flush().await
        };
        if let Err(e) = committed.await {
            tracing::error!(token = %caller.name, %route, error = %e, "A control API call could not be audited.");
        }
        self.inner.parts.export_now.notify_one();
    }

    async fn checked_change(
        &self,
        caller: &Caller,
        change: &Change,
        cause: &str,
    ) -> Result<Done, ControlError> {
        Self::require(caller, change.min_role())?;
        let per_minute = self.inner.parts.tokens.changes_per_minute(&caller.name);
        self.inner
            .limiter
            .take(&caller.name, per_minute, Instant::now())
            .map_err(|retry_after_s| ControlError::RateLimited {
                name: caller.name.clone(),
                per_minute,
                retry_after_s,
            })?;
        let config = self.config();
        if config.creators.get(change.creator()).is_none() {
            return Err(ControlError::NotFound(format!(
                "no creator {:?} in creators.json",
                change.creator()
            )));
        }
        match change.clone() {
            Change::Say {
                creator,
                platform,
                text,
            } => self.command(&creator, platform, CommandKind::Say { text }, cause),
            Change::DeleteMessage {
                creator,
                platform,
                message_id,
            } => self.command(
                &creator,
                platform,
                CommandKind::DeleteMessage { message_id },
                cause,
            ),
            Change::Timeout {
                creator,
                platform,
                user,
                seconds,
                reason,
            } => self.command(
                &creator,
                platform,
                CommandKind::Timeout {
                    user: target(user),
                    seconds,
                    reason,
                },
                cause,
            ),
            Change::Ban {
                creator,
                platform,
                user,
                reason,
            } => self.command(
                &creator,
                platform,
                CommandKind::Ban {
                    user: target(user),
                    reason,
                },
                cause,
            ),
            Change::Unban {
                creator,
                platform,
                user,
            } => self.command(
                &creator,
                platform,
                CommandKind::Unban { user: target(user) },
                cause,
            ),
            Change::SetTrigger {
                creator,
                trigger,
                enabled,
                persist,
            } => {
                self.set_trigger(&creator, &trigger, enabled, persist, cause)
                    .await
            }
            Change::Clip {
                creator,
                duration_s,
                title,
            } => self.clip(&config, &creator, duration_s, title, cause).await,
            Change::PollOpen {
                creator,
                platform,
                question,
                options,
                duration_s,
            } => {
                let settings = config.triggers.polls.get(&creator).ok_or_else(|| {
                    ControlError::NotFound(format!(
                        "creator {creator} has no polls; add \"polls\": {{\"{creator}\": {{}}}} to triggers.json"
                    ))
                })?;
                let escape = |t: &str| t.replace('|', "\\|");
                let mut text = format!("{} open {}", settings.poll_command, escape(&question));
                for option in &options {
                    text.push_str(" | ");
                    text.push_str(&escape(option));
                }
                if let Some(seconds) = duration_s {
                    text.push_str(&format!(" {seconds}s"));
                }
                self.operator_says(caller, &creator, platform, &text, cause)
            }
            Change::PollClose { creator, platform } => {
                let settings = config.triggers.polls.get(&creator).ok_or_else(|| {
                    ControlError::NotFound(format!(
                        "creator {creator} has no polls in triggers.json"
                    ))
                })?;
                let text = format!("{} close", settings.poll_command);
                self.operator_says(caller, &creator, platform, &text, cause)
            }
            Change::Giveaway {
                creator,
                platform,
                op,
            } => {
                let settings = config.triggers.giveaways.get(&creator).ok_or_else(|| {
                    ControlError::NotFound(format!(
                        "creator {creator} has no giveaways; add \"giveaways\": {{\"{creator}\": {{}}}} to triggers.json"
                    ))
                })?;
                if let GiveawayOp::Open { keyword, .. } = &op
                    && (keyword.trim().is_empty() || keyword.contains(char::is_whitespace))
                {
                    return Err(ControlError::Refused(
                        "a giveaway keyword is one word (chatters say it to enter)".into(),
                    ));
                }
                let text = op.chat_text(&settings.command);
                self.operator_says(caller, &creator, platform, &text, cause)
            }
            Change::SetTimer {
                creator,
                timer,
                enabled,
            } => self.set_timer(&creator, &timer, enabled, cause),
            Change::RunTrigger {
                creator,
                trigger,
                platform,
                args,
            } => {
                let def = config
                    .triggers
                    .triggers
                    .get(&creator)
                    .and_then(|defs| defs.iter().find(|d| d.id == trigger))
                    .ok_or_else(|| persist::no_trigger(&creator, &trigger))?;
                let Matcher::Command { command, .. } = &def.matcher else {
                    return Err(ControlError::Refused(format!(
                        "trigger {creator}/{trigger} matches chat by keyword, pattern or stream event, not by a command; only command triggers can be run by id"
                    )));
                };
                let text = match args.as_deref().map(str::trim) {
                    Some(args) if !args.is_empty() => format!("{command} {args}"),
                    _ => command.clone(),
                };
                self.operator_says(caller, &creator, platform, &text, cause)
            }
            Change::Obs { creator, call } => {
                let client = self
                    .inner
                    .parts
                    .obs
                    .require(&creator)
                    .map_err(|e| ControlError::Unavailable(e.to_string()))?;
                let name = call.name();
                client
                    .call(call, cause.to_owned())
                    .await
                    .map_err(obs_error)?;
                Ok(Done {
                    status: "done",
                    cause: cause.to_owned(),
                    detail: format!("OBS did {name}"),
                })
            }
        }
    }

    /// Hands the run loop `text` as said by the operator in `creator`'s chat on `platform` (default
    /// the creator's first running source), where the triggers and polls answer it as chat.
    fn operator_says(
        &self,
        caller: &Caller,
        creator: &str,
        platform: Option<Platform>,
        text: &str,
        cause: &str,
    ) -> Result<Done, ControlError> {
        let running = self.inner.parts.commands.platforms_of(creator);
        let platform = match platform {
            Some(p) if running.contains(&p) => p,
            Some(p) => {
                return Err(ControlError::Unavailable(format!(
                    "no {p} source runs for {creator}, so nothing could answer there"
                )));
            }
            None => *running.first().ok_or_else(|| {
                ControlError::Unavailable(format!("no source runs for {creator}"))
            })?,
        };
        let mut author = Author::viewer(&caller.name);
        author.id = format!("control:{}", caller.name).into();
        author.display_name = format!("{} (control)", caller.name).into();
        author.roles.moderator = true;
        author.roles.broadcaster = caller.role == ControlRole::Owner;
        let id = format!(
            "{OPERATOR_ID_PREFIX}{}",
            cause.trim_start_matches("control:").replace(':', "-")
        );
        let event = ChatEvent::operator(platform, creator, &id, chrono::Utc::now(), author, text);
        self.inner.parts.operator.try_send(event).map_err(|_| {
            ControlError::Unavailable("the run loop is busy or stopping; try again".into())
        })?;
        Ok(Done {
            status: "queued",
            cause: format!("event:{platform}:{id}"),
            detail: format!("{text:?} handed to {creator}'s triggers on {platform}"),
        })
    }

    fn command(
        &self,
        creator: &str,
        platform: crate::event::Platform,
        kind: CommandKind,
        cause: &str,
    ) -> Result<Done, ControlError> {
        let name = kind.name();
        let command = PlatformCommand {
            creator: creator.to_owned(),
            platform,
            channel: String::new(),
            cause: cause.to_owned(),
            kind,
            receipt: false,
        };
        match self.inner.parts.commands.submit(command) {
            Submitted::Queued => Ok(Done {
                status: "queued",
                cause: cause.to_owned(),
                detail: format!("{name} queued on {creator}/{platform}"),
            }),
            Submitted::Refused => Err(ControlError::Refused(format!(
                "{creator}/{platform} cannot {name} (runtime_snapshot.json commands.refusals says why)"
            ))),
            Submitted::Dropped => Err(ControlError::Unavailable(format!(
                "no {platform} source runs for {creator}, or its command queue is full; the {name} was dropped"
            ))),
        }
    }

    async fn set_trigger(
        &self,
        creator: &str,
        trigger: &str,
        enabled: bool,
        persist: bool,
        cause: &str,
    ) -> Result<Done, ControlError> {
        let state = if enabled { "enabled" } else { "disabled" };
        if persist {
            let _one_at_a_time = self.inner.persisting.lock().await;
            let root = self.inner.parts.root.clone();
            let (creator_owned, trigger_owned) = (creator.to_owned(), trigger.to_owned());
            let config = tokio::task::spawn_blocking(move || {
                persist::set_trigger_enabled(&root, &creator_owned, &trigger_owned, enabled)
            })
            .await
            .map_err(|e| {
                ControlError::Internal(format!("the config write did not finish: {e}"))
            })??;
            self.inner.parts.configs.send_replace(Arc::new(config));
            return Ok(Done {
                status: "done",
                cause: cause.to_owned(),
                detail: format!("trigger {creator}/{trigger} {state} and saved to triggers.json"),
            });
        }
        let found = self.set_running(enabled, |config| {
            config
                .triggers
                .triggers
                .get_mut(creator)
                .and_then(|defs| defs.iter_mut().find(|d| d.id == trigger))
                .map(|def| &mut def.enabled)
        });
        if !found {
            return Err(persist::no_trigger(creator, trigger));
        }
        Ok(Done {
            status: "done",
            cause: cause.to_owned(),
            detail: format!("trigger {creator}/{trigger} {state} for this run"),
        })
    }

    /// Sets the `enabled` flag `find` picks in the running config (as a hot reload replaces it);
    /// `false` when `find` found nothing, and then nothing changed.
    fn set_running(
        &self,
        enabled: bool,
        find: impl FnOnce(&mut Config) -> Option<&mut bool>,
    ) -> bool {
        let mut found = false;
        self.inner.parts.configs.send_if_modified(|current| {
            let mut next = (**current).clone();
            let Some(flag) = find(&mut next) else {
                return false;
            };
            *flag = enabled;
            found = true;
            *current = Arc::new(next);
            true
        });
        found
    }

    /// Turns a timer on or off in the running config, until the next reload or restart.
    fn set_timer(
        &self,
        creator: &str,
        timer: &str,
        enabled: bool,
        cause: &str,
    ) -> Result<Done, ControlError> {
        let found = self.set_running(enabled, |config| {
            config
                .triggers
                .timers
                .get_mut(creator)
                .and_then(|defs| defs.iter_mut().find(|d| d.id == timer))
                .map(|def| &mut def.enabled)
        });
        if !found {
            return Err(ControlError::NotFound(format!(
                "no timer {timer:?} for creator {creator} in triggers.json"
            )));
        }
        let state = if enabled { "on" } else { "off" };
        Ok(Done {
            status: "done",
            cause: cause.to_owned(),
            detail: format!("timer {creator}/{timer} {state} for this run"),
        })
    }

    async fn clip(
        &self,
        config: &Config,
        creator: &str,
        duration_s: u32,
        title: Option<String>,
        cause: &str,
    ) -> Result<Done, ControlError> {
        let creator = config
            .creators
            .get(creator)
            .ok_or_else(|| ControlError::NotFound(format!("no creator {creator:?}")))?;
        let platform = crate::clips::manual::platform_of(creator);
        let clip_id = crate::store::clips::draw_id();
        let clip = NewClip {
            clip_id: Some(clip_id.clone()),
            creator: creator.id.clone(),
            platform,
            channel: creator.id.clone(),
            requested_by: cause.to_owned(),
            duration_s,
            title,
            at: chrono::Utc::now(),
        };
        let parts = &self.inner.parts;
        parts.writer.send(WriteOp::Clip(Box::new(clip))).await?;
        parts
            .writer
            .send(WriteOp::Wake(parts.clip_worker.clone()))
            .await?;
        parts.writer.flush().await?;
        Ok(Done {
            status: "queued",
            cause: cause.to_owned(),
            detail: format!(
                "clip {clip_id} of the last {duration_s} s of {} is queued (`ss clip show {clip_id}` and GET /api/v1/clips follow it)",
                creator.id
            ),
        })
    }

    /// The store's readers.
    pub fn readers(&self) -> Readers {
        self.inner.parts.readers.clone()
    }

    /// The runtime root.
    pub fn root(&self) -> PathBuf {
        self.inner.parts.root.clone()
    }

    /// The running config.
    pub fn config(&self) -> Arc<Config> {
        self.inner.parts.configs.borrow().clone()
    }

    /// `runtime_snapshot.json` as the exporter last wrote it.
    pub async fn snapshot(&self) -> Result<Value, ControlError> {
        let path = self
            .inner
            .parts
            .root
            .join("runtime/exports/runtime_snapshot.json");
        let bytes = tokio::fs::read(&path).await.map_err(|_| {
            ControlError::Unavailable(
                "no snapshot yet: the exporter writes one on its cadence".into(),
            )
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ControlError::Internal(format!("the snapshot is not JSON: {e}")))
    }

    /// Every creator's triggers with their state in the running config.
    pub fn triggers(&self) -> Value {
        let config = self.config();
        let rows: Vec<Value> = config
            .triggers
            .triggers
            .iter()
            .flat_map(|(creator, defs)| {
                defs.iter().map(move |d| {
                    let matcher = serde_json::to_value(&d.matcher).unwrap_or(Value::Null);
                    let action = serde_json::to_value(&d.action).unwrap_or(Value::Null);
                    json!({
                        "creator": creator,
                        "id": d.id,
                        "enabled": d.enabled,
                        "kind": matcher.get("kind").cloned().unwrap_or(Value::Null),
                        "command": matcher.get("command").cloned().unwrap_or(Value::Null),
                        "action": action.get("type").cloned().unwrap_or(Value::Null),
                    })
                })
            })
            .collect();
        json!({ "triggers": rows })
    }

    /// Reads through the store's reader pool (off the async threads).
    pub async fn read<T: serde::Serialize + Send + 'static>(
        &self,
        read: impl FnOnce(&crate::store::StoreReader) -> Result<T, crate::store::StoreError>
        + Send
        + 'static,
    ) -> Result<Value, ControlError> {
        let rows = self.inner.parts.readers.read(read).await??;
        serde_json::to_value(rows).map_err(|e| ControlError::Internal(e.to_string()))
    }

    /// The names of the creator's OBS scenes.
    pub async fn scenes(
        &self,
        creator: &str,
        caller: &Caller,
    ) -> Result<Vec<String>, ControlError> {
        let client = self
            .inner
            .parts
            .obs
            .require(creator)
            .map_err(|e| ControlError::NotFound(e.to_string()))?;
        client
            .scenes(format!("control:{}:scenes", caller.name))
            .await
            .map_err(obs_error)
    }

    /// Each OBS's health.
    pub fn obs(&self) -> Value {
        serde_json::to_value(
            self.inner
                .parts
                .obs
                .statuses()
                .iter()
                .map(crate::obs::status::ObsStatus::snapshot)
                .collect::<Vec<_>>(),
        )
        .unwrap_or(Value::Null)
    }
}

fn target(user: UserRef) -> TargetUser {
    TargetUser {
        id: user.user_id,
        login: user.login,
    }
}

fn obs_error(e: ObsError) -> ControlError {
    match e {
        ObsError::NotConfigured { .. } => ControlError::NotFound(e.to_string()),
        ObsError::Refused { .. } | ObsError::Invalid(_) | ObsError::ReplayBufferOff { .. } => {
            ControlError::Refused(e.to_string())
        }
        _ => ControlError::Unavailable(e.to_string()),
    }
}
