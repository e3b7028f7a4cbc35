//! What the bot acts through: the running runtime's [`Control`] inside `ss run` (every change, with
//! its role check, rate limit and audit row), or, for `ss discord` alone, the store beside it.
//!
//! Alone, the bot has no platform connections and no run loop: it can record a clip job (which
//! the running `ss run`'s clip worker, or the next one, makes) and answer `/status` from the
//! snapshot, and refuses the rest with the reason. Every change asked of it, done or refused, is
//! one audit row in the same shape as the control API's (`control_api`, with the Discord user and
//! guild as the actor), committed before the answer.

use crate::config::Config;
use crate::config::model::ControlRole;
use crate::control::{Caller, Change, Control, ControlError, Done};
use crate::event::Platform;
use crate::store::{ControlCall, Readers, Store};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

/// Where the bot's commands act.
#[derive(Clone)]
pub enum Acts {
    /// Inside `ss run`: the control operations.
    InRun(Control),
    /// `ss discord` alone: the store beside whatever runs.
    Alone {
        root: PathBuf,
        config: watch::Receiver<Arc<Config>>,
    },
}

impl Acts {
    /// Does `change` for `caller` (asked through `route`, e.g. `discord /clip`), audited.
    pub async fn change(
        &self,
        caller: &Caller,
        route: &str,
        change: Change,
    ) -> Result<Done, ControlError> {
        match self {
            Acts::InRun(control) => control.change(caller, route, change).await,
            Acts::Alone { root, config } => {
                let config = config.borrow().clone();
                alone(root.clone(), &config, caller, route, change).await
            }
        }
    }

    /// Audits a change refused before it was read (a member without the role).
    pub async fn refused(
        &self,
        caller: &Caller,
        route: &str,
        arguments: &serde_json::Value,
        error: &ControlError,
    ) {
        match self {
            Acts::InRun(control) => control.audit_refusal(caller, route, arguments, error).await,
            Acts::Alone { root, .. } => {
                let call = call(caller, route, arguments.to_string(), result_of(&Err(error)));
                if let Err(e) = record(root.clone(), call, None).await {
                    tracing::error!(%route, error = %e, "A refused Discord command could not be audited.");
                }
            }
        }
    }

    /// The user id and login of the most recent chatter called `name` in `creator`'s chat on
    /// `platform`; a name of digits that nobody used is taken as a user id.
    pub async fn find_user(
        &self,
        creator: &str,
        platform: Platform,
        name: &str,
    ) -> Result<crate::control::UserRef, ControlError> {
        let name = name.trim().trim_start_matches('@').to_owned();
        if name.is_empty() {
            return Err(ControlError::Refused("the user is empty".into()));
        }
        let (creator, lookup) = (creator.to_owned(), name.clone());
        let found = self
            .readers()
            .read(move |store| store.recent_chatter(&creator, platform, &lookup))
            .await??;
        match found {
            Some((user_id, login)) => Ok(crate::control::UserRef { user_id, login }),
            None if name.chars().all(|c| c.is_ascii_digit()) => Ok(crate::control::UserRef {
                user_id: name.clone(),
                login: name,
            }),
            None => Err(ControlError::NotFound(format!(
                "no one named {name:?} chatted recently on {platform}; give their {platform} user id instead"
            ))),
        }
    }

    fn readers(&self) -> Readers {
        match self {
            Acts::InRun(control) => control.readers(),
            Acts::Alone { root, .. } => Readers::new(&crate::store::db_path(root)),
        }
    }

    /// The runtime root's snapshot path.
    pub fn root(&self) -> PathBuf {
        match self {
            Acts::InRun(control) => control.root(),
            Acts::Alone { root, .. } => root.clone(),
        }
    }
}

async fn alone(
    root: PathBuf,
    config: &Config,
    caller: &Caller,
    route: &str,
    change: Change,
) -> Result<Done, ControlError> {
    let started = chrono::Utc::now();
    let cause = format!("control:{}:{}", caller.name, started.timestamp_millis());
    let arguments = serde_json::to_string(&change).unwrap_or_default();
    let mut clip = None;
    let outcome = Control::require(caller, change.min_role()).and_then(|()| match &change {
        Change::Clip {
            creator,
            duration_s,
            title,
        } => {
            let creator = config
                .creators
                .get(creator)
                .ok_or_else(|| ControlError::NotFound(format!("no creator {creator:?} in creators.json")))?;
            let mut new = crate::clips::manual::new_clip(creator, *duration_s, title.clone(), started);
            let clip_id = crate::store::clips::draw_id();
            new.clip_id = Some(clip_id.clone());
            new.requested_by = cause.clone();
            clip = Some(new);
            Ok(Done {
                status: "queued",
                cause: cause.clone(),
                detail: format!(
                    "clip {clip_id} of the last {duration_s} s of {} is queued (`ss clip show {clip_id}` follows it)",
                    creator.id
                ),
            })
        }
        other => Err(ControlError::Unavailable(format!(
            "{} needs the platform connections of `ss run`: run the bot inside it (discord.json \"bot\": {{\"enabled\": true}})",
            other.name()
        ))),
    });
    let mut call = call(caller, route, arguments, result_of(&outcome.as_ref()));
    call.at = started;
    match record(root, call, clip).await {
        Ok(_) => outcome,
        Err(e) => Err(ControlError::Internal(format!(
            "the store could not record it: {e}"
        ))),
    }
}

fn result_of(outcome: &Result<&Done, &ControlError>) -> String {
    match outcome {
        Ok(done) => format!("ok {}: {}", done.status, done.detail),
        Err(e) => format!("error {}: {e}", e.code()),
    }
}

fn call(caller: &Caller, route: &str, arguments: String, result: String) -> ControlCall {
    ControlCall {
        at: chrono::Utc::now(),
        actor: caller.name.clone(),
        role: caller.role.as_str().to_owned(),
        route: route.to_owned(),
        arguments,
        result,
    }
}

async fn record(
    root: PathBuf,
    call: ControlCall,
    clip: Option<crate::store::NewClip>,
) -> Result<Option<String>, crate::store::StoreError> {
    tokio::task::spawn_blocking(move || {
        Store::open_for_change(&crate::store::db_path(&root))?
            .control_call_now(&call, clip.as_ref())
    })
    .await
    .map_err(|e| crate::store::StoreError::Refused(format!("the store task ended: {e}")))?
}

/// The caller a guild member is: named by their Discord user and guild (never a token), with the
/// highest `ss` role their guild roles map to; `None` when none does.
pub fn caller(
    user_id: &str,
    user_name: &str,
    guild_id: &str,
    role: Option<ControlRole>,
) -> Option<Caller> {
    role.map(|role| Caller {
        name: format!("discord:{user_name}({user_id})@{guild_id}"),
        role,
    })
}
