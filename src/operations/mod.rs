//! Operations: what an operator asks of the runtime from outside chat (its status, a clip, a
//! message in a creator's chat, a timeout, ban or unban), checked against the operator's role and
//! audited the same way whatever front end asked. The Discord bot's slash commands are its client
//! today; a front end only turns its input into an [`Operation`] and an [`Operator`], and the
//! answer back into its own words.
//!
//! Every operation that changes something writes exactly one audit row (`store::audit`): the
//! action, who asked through what (`via`, the operator's id, name, guild and role), the arguments
//! and the result, refusals included (an operator without the role, a platform that cannot do
//! it). Inside `ss run` ([`Operations::in_run`]) a clip and its audit row commit together through
//! the run's store writer, and messages and moderation go into the same command queues as the
//! triggers' (the command sink's rules: refused before queueing when the platform cannot do it,
//! paced by the platform's send limit), each with the cause `discord:{interaction id}`. Beside a
//! daemon, or with none (`ss discord` alone, [`Operations::alone`]), a clip and its audit row are one
//! short transaction of their own, as `ss clip` does; messages and moderation need the platform
//! connections, which live in `ss run`, so they are refused with that reason.
//!
//! An operation answers once its audit row is committed: "queued" then means recorded.

use crate::command::{CommandKind, CommandName, PlatformCommand, TargetUser};
use crate::config::Config;
use crate::config::model::OperatorRole;
use crate::effects::sinks::command::{CommandQueues, Submitted};
use crate::event::Platform;
use crate::status::Health;
use crate::store::{NewClip, Readers, Store, StoreError, StoreWriter, WriteOp};
use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// The default length of a clip asked for without one, in seconds (as `ss clip create`).
pub const DEFAULT_CLIP_S: u32 = 30;
/// The longest clip an operator may ask for, in seconds (as `!clip`).
pub const MAX_CLIP_S: u32 = crate::triggers::MAX_REQUESTED_CLIP_S;
/// The default length of a timeout, in seconds.
pub const DEFAULT_TIMEOUT_S: u32 = 600;
/// The longest timeout, in seconds (two weeks, Twitch's and Kick's limit).
pub const MAX_TIMEOUT_S: u32 = 14 * 24 * 3600;

/// Who asks: through what front end, their id and name there, their guild, and their role (none
/// when no role of theirs is mapped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operator {
    pub via: &'static str,
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guild: Option<String>,
    pub role: Option<OperatorRole>,
}

/// A moderation command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Moderation {
    Timeout,
    Ban,
    Unban,
}

impl Moderation {
    pub fn as_str(self) -> &'static str {
        match self {
            Moderation::Timeout => "timeout",
            Moderation::Ban => "ban",
            Moderation::Unban => "unban",
        }
    }
}

/// What is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Sources, health, last event age, degraded: read from the runtime's snapshot.
    Status,
    /// A clip of the last `seconds` of `creator`'s stream.
    Clip {
        creator: Option<String>,
        seconds: u32,
        title: Option<String>,
    },
    /// Post `text` in `creator`'s chat on `platform`.
    Say {
        creator: Option<String>,
        platform: Platform,
        text: String,
    },
    /// Time out, ban or unban `user` (a login or display name seen in chat, or a user id) in
    /// `creator`'s chat on `platform`.
    Moderate {
        creator: Option<String>,
        platform: Platform,
        action: Moderation,
        user: String,
        seconds: u32,
        reason: Option<String>,
    },
}

impl Operation {
    /// The name audit rows and logs use.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Status => "status",
            Operation::Clip { .. } => "clip",
            Operation::Say { .. } => "say",
            Operation::Moderate { action, .. } => action.as_str(),
        }
    }

    /// The least role that may ask for it.
    pub fn required_role(&self) -> OperatorRole {
        match self {
            Operation::Status => OperatorRole::Viewer,
            _ => OperatorRole::Moderator,
        }
    }

    /// Whether it changes anything (and so is audited).
    pub fn changes(&self) -> bool {
        !matches!(self, Operation::Status)
    }

    /// The arguments as the audit row shows them.
    fn arguments(&self) -> Value {
        match self {
            Operation::Status => json!({}),
            Operation::Clip {
                creator,
                seconds,
                title,
            } => json!({"creator": creator, "seconds": seconds, "title": title}),
            Operation::Say {
                creator,
                platform,
                text,
            } => json!({"creator": creator, "platform": platform, "text": text}),
            Operation::Moderate {
                creator,
                platform,
                action,
                user,
                seconds,
                reason,
            } => {
                let mut args = json!({"creator": creator, "platform": platform, "user": user, "reason": reason});
                if *action == Moderation::Timeout {
                    args["seconds"] = (*seconds).into();
                }
                args
            }
        }
    }
}

/// What an operation did.
#[derive(Debug, Clone, PartialEq)]
pub enum Done {
    /// The runtime's health as its snapshot shows it.
    Status(Box<Health>),
    /// A clip job was recorded; the clip worker takes it from there.
    ClipQueued { clip_id: String, seconds: u32 },
    /// A platform command was queued on its source.
    CommandQueued {
        platform: Platform,
        command: CommandName,
        /// The user it is aimed at, for moderation.
        target: Option<String>,
    },
}

impl Done {
    /// The result as the audit row shows it.
    fn audited(&self) -> Value {
        match self {
            Done::Status(_) => json!({"result": "ok"}),
            Done::ClipQueued { clip_id, .. } => json!({"result": "queued", "clip_id": clip_id}),
            Done::CommandQueued { target, .. } => json!({"result": "queued", "target": target}),
        }
    }
}

/// Why an operation was not done. Each message says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("this needs the {needs} role{}; ask an owner to map one of your roles in discord.json", .has.map(|r| format!(" (yours is {})", r.as_str())).unwrap_or_default(), needs = .needs.as_str())]
    Denied {
        needs: OperatorRole,
        has: Option<OperatorRole>,
    },
    #[error("no creator is set for this; name one (\"creator\" of the guild in discord.json)")]
    NoCreator,
    #[error("unknown creator {0:?}; use an id from creators.json")]
    UnknownCreator(String),
    #[error("{what} needs the platform connections of `ss run`; enable the bot there (discord.json bot.enabled) instead of running `ss discord` alone")]
    NeedsDaemon { what: &'static str },
    #[error("no {platform} source runs for {creator}; enable it in creators.json and restart `ss run`")]
    NoSource { creator: String, platform: Platform },
    #[error("{platform} cannot {command} here: {why}")]
    Unsupported {
        platform: Platform,
        command: CommandName,
        why: String,
    },
    #[error("the {platform} command queue is full; try again in a moment")]
    QueueFull { platform: Platform },
    #[error("no one named {name:?} chatted recently on {platform}; give their {platform} user id instead")]
    UnknownUser { name: String, platform: Platform },
    #[error("{0}")]
    Invalid(String),
    #[error("the runtime's status is not available: {0}")]
    NoStatus(String),
    #[error("the store could not record it: {0}")]
    Store(String),
}

impl OpError {
    fn audited(&self) -> Value {
        let result = match self {
            OpError::Denied { .. } => "denied",
            OpError::Store(_) => "failed",
            _ => "refused",
        };
        json!({"result": result, "reason": self.to_string()})
    }
}

/// Where the operations act: inside `ss run`, or in a process of their own.
enum Backend {
    InRun {
        writer: StoreWriter,
        queues: CommandQueues,
        clip_worker: Arc<Notify>,
        export_now: Arc<Notify>,
    },
    Alone,
}

/// The operations of one runtime root. Cheap to clone.
#[derive(Clone)]
pub struct Operations {
    backend: Arc<Backend>,
    root: PathBuf,
    config: watch::Receiver<Arc<Config>>,
    readers: Readers,
}

/// What `ss run` lends the operations.
pub struct RunParts {
    pub root: PathBuf,
    pub config: watch::Receiver<Arc<Config>>,
    pub readers: Readers,
    pub writer: StoreWriter,
    pub queues: CommandQueues,
    pub clip_worker: Arc<Notify>,
    pub export_now: Arc<Notify>,
}

impl Operations {
    /// The operations inside a running `ss run`.
    pub fn in_run(parts: RunParts) -> Operations {
        Operations {
            backend: Arc::new(Backend::InRun {
                writer: parts.writer,
                queues: parts.queues,
                clip_worker: parts.clip_worker,
                export_now: parts.export_now,
            }),
            root: parts.root,
            config: parts.config,
            readers: parts.readers,
        }
    }

    /// The operations of a process beside `ss run` (or with none running).
    pub fn alone(root: &Path, config: watch::Receiver<Arc<Config>>) -> Operations {
        Operations {
            backend: Arc::new(Backend::Alone),
            root: root.to_path_buf(),
            readers: Readers::new(&crate::store::db_path(root)),
            config,
        }
    }

    /// Does `operation` for `operator`; `cause` is the id commands carry (`discord:{id}`).
    pub async fn perform(
        &self,
        operator: &Operator,
        operation: Operation,
        cause: &str,
    ) -> Result<Done, OpError> {
        let needs = operation.required_role();
        let (mut result, clip) = if operator.role.is_none_or(|has| has < needs) {
            (
                Err(OpError::Denied {
                    needs,
                    has: operator.role,
                }),
                None,
            )
        } else {
            self.run(&operation, cause).await
        };
        if operation.changes() {
            let mut detail = json!({
                "via": operator.via,
                "operator": operator,
                "cause": cause,
                "arguments": operation.arguments(),
            });
            let outcome = match &result {
                Ok(done) => done.audited(),
                Err(e) => e.audited(),
            };
            if let (Some(d), Some(o)) = (detail.as_object_mut(), outcome.as_object()) {
                d.extend(o.clone());
            }
            let with_clip = clip.is_some();
            if let Err(e) = self.commit(operation.name(), detail, clip).await {
                if with_clip {
                    // The clip and its row commit together: neither was recorded.
                    result = Err(e);
                } else {
                    // The command went out; say its audit row is missing rather than hide it.
                    tracing::error!(operation = operation.name(), %cause, error = %e, "The audit row of an operation could not be recorded.");
                }
            }
        }
        match &result {
            Ok(_) => tracing::info!(
                operation = operation.name(),
                via = operator.via,
                operator = %operator.name,
                %cause,
                "Operation done."
            ),
            Err(e) => tracing::info!(
                operation = operation.name(),
                via = operator.via,
                operator = %operator.name,
                %cause,
                reason = %e,
                "Operation refused."
            ),
        }
        result
    }

    /// Does `operation`; a clip to record comes back with the result, to be committed with the
    /// audit row.
    async fn run(
        &self,
        operation: &Operation,
        cause: &str,
    ) -> (Result<Done, OpError>, Option<NewClip>) {
        let result = match operation {
            Operation::Status => self.status().await,
            Operation::Clip {
                creator,
                seconds,
                title,
            } => {
                return match self.clip(creator.as_deref(), *seconds, title.clone()) {
                    Ok(clip) => (
                        Ok(Done::ClipQueued {
                            clip_id: clip.clip_id.clone().unwrap_or_default(),
                            seconds: clip.duration_s,
                        }),
                        Some(clip),
                    ),
                    Err(e) => (Err(e), None),
                };
            }
            Operation::Say {
                creator,
                platform,
                text,
            } => self.say(creator.as_deref(), *platform, text, cause),
            Operation::Moderate {
                creator,
                platform,
                action,
                user,
                seconds,
                reason,
            } => {
                self.moderate(
                    creator.as_deref(),
                    *platform,
                    *action,
                    user,
                    *seconds,
                    reason.clone(),
                    cause,
                )
                .await
            }
        };
        (result, None)
    }

    fn say(
        &self,
        creator: Option<&str>,
        platform: Platform,
        text: &str,
        cause: &str,
    ) -> Result<Done, OpError> {
        let creator = self.creator(creator)?;
        if text.trim().is_empty() {
            return Err(OpError::Invalid("the text is empty".into()));
        }
        self.submit(
            &creator,
            platform,
            cause,
            CommandKind::Say {
                text: text.to_owned(),
            },
            None,
        )
    }

    #[allow(clippy::too_many_arguments)]
    async fn moderate(
        &self,
        creator: Option<&str>,
        platform: Platform,
        action: Moderation,
        user: &str,
        seconds: u32,
        reason: Option<String>,
        cause: &str,
    ) -> Result<Done, OpError> {
        let creator = self.creator(creator)?;
        if let Backend::Alone = &*self.backend {
            return Err(OpError::NeedsDaemon { what: "moderation" });
        }
        let target = self.target(&creator, platform, user).await?;
        let login = target.login.clone();
        let kind = match action {
            Moderation::Timeout => CommandKind::Timeout {
                user: target,
                seconds: seconds.clamp(1, MAX_TIMEOUT_S),
                reason,
            },
            Moderation::Ban => CommandKind::Ban {
                user: target,
                reason,
            },
            Moderation::Unban => CommandKind::Unban { user: target },
        };
        self.submit(&creator, platform, cause, kind, Some(login))
    }

    /// The creator id asked for, checked against creators.json.
    fn creator(&self, creator: Option<&str>) -> Result<String, OpError> {
        let creator = creator.ok_or(OpError::NoCreator)?;
        let config = self.config.borrow();
        config
            .creators
            .get(creator)
            .map(|c| c.id.clone())
            .ok_or_else(|| OpError::UnknownCreator(creator.to_owned()))
    }

    async fn status(&self) -> Result<Done, OpError> {
        let path = self.root.join("runtime/exports/runtime_snapshot.json");
        let cadence = self.config.borrow().system.exports.cadence_s;
        let stale_after = Duration::from_secs_f64((cadence * 3.0).max(1.0));
        let text = tokio::fs::read_to_string(&path).await.map_err(|e| {
            OpError::NoStatus(format!(
                "cannot read {}: {e}; is `ss run` running in this root?",
                path.display()
            ))
        })?;
        let snapshot: Value = serde_json::from_str(&text)
            .map_err(|e| OpError::NoStatus(format!("{} is not JSON: {e}", path.display())))?;
        let health = Health::judge(&snapshot, Utc::now(), stale_after)
            .map_err(|e| OpError::NoStatus(e.to_string()))?;
        Ok(Done::Status(Box::new(health)))
    }

    /// The clip request asked for, with a fresh id (recorded with its audit row).
    fn clip(
        &self,
        creator: Option<&str>,
        seconds: u32,
        title: Option<String>,
    ) -> Result<NewClip, OpError> {
        let creator = self.creator(creator)?;
        if !(1..=MAX_CLIP_S).contains(&seconds) {
            return Err(OpError::Invalid(format!(
                "a clip is 1 to {MAX_CLIP_S} seconds long"
            )));
        }
        let config = self.config.borrow();
        let Some(creator) = config.creators.get(&creator) else {
            return Err(OpError::UnknownCreator(creator));
        };
        let mut clip = crate::clips::manual::new_clip(creator, seconds, title, Utc::now());
        clip.clip_id = Some(crate::store::clips::draw_id());
        Ok(clip)
    }

    /// Queues `kind` on the source of `creator` on `platform`.
    fn submit(
        &self,
        creator: &str,
        platform: Platform,
        cause: &str,
        kind: CommandKind,
        target: Option<String>,
    ) -> Result<Done, OpError> {
        let Backend::InRun { queues, .. } = &*self.backend else {
            return Err(OpError::NeedsDaemon {
                what: match kind.name() {
                    CommandName::Say => "posting in chat",
                    _ => "moderation",
                },
            });
        };
        let command = kind.name();
        let Some(support) = queues.support(creator, platform) else {
            return Err(OpError::NoSource {
                creator: creator.to_owned(),
                platform,
            });
        };
        if !support.allows(command) {
            return Err(OpError::Unsupported {
                platform,
                command,
                why: support.otherwise.clone(),
            });
        }
        let channel = self
            .config
            .borrow()
            .creators
            .get(creator)
            .and_then(|c| c.platforms.channel(platform))
            .unwrap_or_default();
        match queues.submit(PlatformCommand {
            creator: creator.to_owned(),
            platform,
            channel,
            cause: cause.to_owned(),
            kind,
        }) {
            Submitted::Queued => Ok(Done::CommandQueued {
                platform,
                command,
                target,
            }),
            Submitted::Dropped => Err(OpError::QueueFull { platform }),
            Submitted::Refused => Err(OpError::Unsupported {
                platform,
                command,
                why: support.otherwise.clone(),
            }),
        }
    }

    /// The user `name` on `platform`: an id as given, else the most recent chatter of that name.
    async fn target(
        &self,
        creator: &str,
        platform: Platform,
        name: &str,
    ) -> Result<TargetUser, OpError> {
        let name = name.trim().trim_start_matches('@').to_owned();
        if name.is_empty() {
            return Err(OpError::Invalid("the user is empty".into()));
        }
        let (creator_id, lookup) = (creator.to_owned(), name.clone());
        let found = self
            .readers
            .read(move |store| store.recent_chatter(&creator_id, platform, &lookup))
            .await
            .and_then(|r| r)
            .map_err(|e| OpError::Store(e.to_string()))?;
        match found {
            Some((id, login)) => Ok(TargetUser { id, login }),
            None if name.chars().all(|c| c.is_ascii_digit()) => Ok(TargetUser {
                id: name.clone(),
                login: name,
            }),
            None => Err(OpError::UnknownUser { name, platform }),
        }
    }

    /// Records one audit row, with the clip it describes when there is one, and waits until both
    /// are committed.
    async fn commit(&self, action: &str, detail: Value, clip: Option<NewClip>) -> Result<(), OpError> {
        let at = Utc::now();
        let detail = detail.to_string();
        match &*self.backend {
            Backend::InRun {
                writer,
                clip_worker,
                export_now,
                ..
            } => {
                let mut ops = Vec::with_capacity(4);
                let wake = clip.is_some();
                if let Some(clip) = clip {
                    ops.push(WriteOp::Clip(Box::new(clip)));
                }
                ops.push(WriteOp::Audit {
                    at,
                    action: action.to_owned(),
                    detail,
                });
                if wake {
                    // After the commit: the worker and the exporter then find the job.
                    ops.push(WriteOp::Wake(clip_worker.clone()));
                    ops.push(WriteOp::Wake(export_now.clone()));
                }
                send_committed(writer, ops).await
            }
            Backend::Alone => {
                let db = crate::store::db_path(&self.root);
                let action = action.to_owned();
                tokio::task::spawn_blocking(move || {
                    Store::open_for_change(&db)?.audit_now(&at, &action, &detail, clip.as_ref())
                })
                .await
                .map_err(|e| OpError::Store(e.to_string()))?
                .map(drop)
                .map_err(|e: StoreError| OpError::Store(e.to_string()))
            }
        }
    }
}

/// Sends `ops` to the writer as one atomic group and waits until they are committed.
async fn send_committed(writer: &StoreWriter, ops: Vec<WriteOp>) -> Result<(), OpError> {
    let (done, committed) = tokio::sync::oneshot::channel();
    let store = |e: StoreError| OpError::Store(e.to_string());
    writer.send(WriteOp::Atomic(ops)).await.map_err(store)?;
    writer.send(WriteOp::Flush(done)).await.map_err(store)?;
    committed
        .await
        .map_err(|_| OpError::Store("the store writer stopped before committing".into()))
}
