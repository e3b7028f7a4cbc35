//! Extensions: code in any language behind a fenced boundary. Each extension of extensions.json
//! is one long-lived child process ([`child`]) speaking JSON lines ([`protocol`]), owned by a
//! supervisor task ([`supervisor`]) that starts it, greets it, writes calls, matches answers by
//! id, refuses what comes late, from an older epoch, outside its allowed effects or after shutdown
//! began, and restarts it with backoff when it dies or hangs. Its counters ([`stats`]) are
//! exported in `runtime_snapshot.json`. An answer's effects become ordinary actions
//! ([`effects`]), so they go through the router and sinks like any trigger's.
//!
//! [`Extensions`] is the set of a run (or of `ss replay --extensions live`): the one way to call
//! one by name.

pub mod blocking;
pub mod child;
pub mod effects;
pub mod protocol;
pub mod stats;
pub mod stderr;
pub mod supervisor;

use crate::actions::{Action, ActionKind};
use crate::config::model::ExtensionsConfig;
use crate::event::ChatEvent;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
pub use supervisor::{CallError, Extension};
use tokio_util::sync::CancellationToken;

/// The running extensions, by name.
#[derive(Clone, Default)]
pub struct Extensions {
    by_name: Arc<BTreeMap<String, Extension>>,
}

impl Extensions {
    /// Starts every enabled extension of `config` (on the current tokio runtime), each with its
    /// supervisor; they stop at `shutdown`. The returned handles end once they have.
    pub fn start(
        root: &Path,
        config: &ExtensionsConfig,
        shutdown: &CancellationToken,
    ) -> (Extensions, Vec<tokio::task::JoinHandle<()>>) {
        let ids = Arc::new(AtomicU64::new(1));
        let mut tasks = Vec::new();
        let by_name = config
            .extensions
            .iter()
            .filter(|def| def.enabled)
            .map(|def| {
                let (extension, task) = Extension::start(
                    def.clone(),
                    root.to_path_buf(),
                    ids.clone(),
                    shutdown.clone(),
                );
                tasks.push(task);
                (def.name.clone(), extension)
            })
            .collect();
        (
            Extensions {
                by_name: Arc::new(by_name),
            },
            tasks,
        )
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Calls the extension `call` names (an [`ActionKind::Extension`] fired by `event`, or by a
    /// timer's tick when none): the actions its answer becomes. Effects about the event's author
    /// (tally, score, timeout, ban) with no event are refused and counted (`no_author`).
    pub async fn call(
        &self,
        call: &Action,
        event: Option<&ChatEvent>,
    ) -> Result<Vec<Action>, CallError> {
        let ActionKind::Extension { name, input, .. } = &call.kind else {
            return Ok(Vec::new());
        };
        let extension = self
            .by_name
            .get(name)
            .ok_or_else(|| CallError::Unknown(name.clone()))?;
        let event_json = event
            .map(|e| serde_json::to_value(e).unwrap_or_default())
            .unwrap_or_default();
        let effects = extension.call(event_json, &call.trigger_id, input).await?;
        let (actions, authorless) = effects::actions(call, event, effects);
        for effect in authorless {
            extension.stats.refuse(
                name,
                stats::Refusal::NoAuthor,
                &format!(
                    "effect {:?} is about the event's author, and a timer's call has none",
                    effect.kind().name()
                ),
            );
        }
        Ok(actions)
    }

    /// Every extension's counters, by name.
    pub fn views(&self) -> Vec<stats::ExtensionView> {
        self.by_name
            .iter()
            .map(|(name, e)| e.stats.view(name))
            .collect()
    }
}

#[cfg(test)]
mod tests;
