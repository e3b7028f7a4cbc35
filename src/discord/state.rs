//! The bot's state, as the dashboard and `ss status` see it: `runtime/discord/runtime.json`.
//!
//! The gateway session and the interaction handlers report into one [`BotState`]; a small task
//! ([`spawn_writer`]) writes it atomically whenever it changed (at most once a
//! [`WRITE_EVERY`]) and once more when the bot stops, so the file shows a stopped bot as stopped.
//! The file is the bot's own: the bot may run in `ss run` or alone (`ss discord`), and whichever
//! runs it is the file's one writer. It holds no secret: no token, no interaction token; errors are
//! scrubbed before they get here.

use super::wire::SessionStartLimit;
use crate::export::catalogue::{Entry, Visibility};
use crate::version::VersionStamp;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The file, below a runtime root.
pub fn path(root: &Path) -> PathBuf {
    root.join("runtime").join("discord").join("runtime.json")
}

/// How the file is described in its `meta` block.
pub const ENTRY: Entry = crate::export::catalogue::entry(
    "discord/runtime.json",
    Visibility::Dashboard,
    "streamsuites.discord_runtime.v1",
);

/// The shortest time between two writes of the file.
pub const WRITE_EVERY: Duration = Duration::from_millis(500);

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    Starting,
    Connecting,
    /// READY or RESUMED received: commands are answered.
    Connected,
    /// Between connections, about to resume or identify again.
    Reconnecting,
    /// Waiting for the Identify budget to reset.
    WaitingForIdentify,
    Stopped,
}

/// One guild the bot serves or is configured for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GuildState {
    pub name: Option<String>,
    /// In discord.json (commands are registered there).
    pub configured: bool,
    /// Discord says the bot is in it and it is available.
    pub available: bool,
    pub creator: Option<String>,
    /// Slash commands registered by the last bulk overwrite.
    pub commands_registered: usize,
    pub registration_error: Option<String>,
}

/// Counts of commands used since the bot started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InteractionCounts {
    /// Answered with the operation done.
    pub done: u64,
    /// Answered with a refusal (role, platform, bad option).
    pub refused: u64,
    /// Could not be answered (Discord's callback failed, or too late).
    pub unanswered: u64,
}

/// Everything the file shows.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub connection: Connection,
    /// Why the bot stopped or last disconnected; scrubbed.
    pub last_error: Option<String>,
    pub user: Option<String>,
    pub application_id: Option<String>,
    pub session: SessionState,
    /// Milliseconds from the last heartbeat to its ACK.
    pub latency_ms: Option<u64>,
    pub guilds: BTreeMap<String, GuildState>,
    /// The commands registered in each configured guild.
    pub commands: Vec<&'static str>,
    pub identify: Option<IdentifyState>,
    pub interactions: InteractionCounts,
    pub started_at: DateTime<Utc>,
    pub connected_since: Option<DateTime<Utc>>,
}

/// The gateway session.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SessionState {
    /// Whether a session exists that a new connection can resume.
    pub resumable: bool,
    /// New sessions started (Identify calls) by this process.
    pub identifies: u64,
    /// Sessions resumed on a new connection.
    pub resumes: u64,
    /// Connections that ended (and were reconnected).
    pub reconnects: u64,
    /// The last sequence number received.
    pub sequence: Option<u64>,
}

/// The Identify budget as Discord last reported it.
#[derive(Debug, Clone, Serialize)]
pub struct IdentifyState {
    pub total: u32,
    pub remaining: u32,
    pub max_concurrency: u32,
    pub resets_at: DateTime<Utc>,
    /// The remaining budget is at or below `identify_warn_below`.
    pub near_end: bool,
}

impl IdentifyState {
    pub fn new(limit: SessionStartLimit, now: DateTime<Utc>, warn_below: u32) -> IdentifyState {
        IdentifyState {
            total: limit.total,
            remaining: limit.remaining,
            max_concurrency: limit.max_concurrency,
            resets_at: now
                + chrono::Duration::milliseconds(i64::try_from(limit.reset_after).unwrap_or(0)),
            near_end: limit.remaining <= warn_below,
        }
    }
}

/// The bot's live state; clones share it.
#[derive(Clone)]
pub struct BotState {
    inner: Arc<Mutex<Snapshot>>,
    changed: Arc<Notify>,
}

impl Default for BotState {
    fn default() -> Self {
        BotState::new()
    }
}

impl BotState {
    pub fn new() -> BotState {
        BotState {
            inner: Arc::new(Mutex::new(Snapshot {
                connection: Connection::Starting,
                last_error: None,
                user: None,
                application_id: None,
                session: SessionState::default(),
                latency_ms: None,
                guilds: BTreeMap::new(),
                commands: Vec::new(),
                identify: None,
                interactions: InteractionCounts::default(),
                started_at: Utc::now(),
                connected_since: None,
            })),
            changed: Arc::new(Notify::new()),
        }
    }

    /// Changes the state and wakes the writer.
    pub fn update(&self, change: impl FnOnce(&mut Snapshot)) {
        {
            let mut inner = self
                .inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            change(&mut inner);
        }
        self.changed.notify_one();
    }

    /// A copy of the state now.
    pub fn snapshot(&self) -> Snapshot {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn set_connection(&self, connection: Connection) {
        self.update(|s| {
            if connection == Connection::Connected && s.connection != Connection::Connected {
                s.connected_since = Some(Utc::now());
            } else if connection != Connection::Connected {
                s.connected_since = None;
            }
            s.connection = connection;
        });
    }

    /// The document written to the file.
    pub fn document(&self, stamp: &VersionStamp) -> serde_json::Value {
        let mut doc = crate::export::meta_block(&ENTRY, Utc::now(), stamp);
        if let Ok(serde_json::Value::Object(body)) = serde_json::to_value(self.snapshot()) {
            doc.extend(body);
        }
        serde_json::Value::Object(doc)
    }

    /// Writes the file now.
    pub fn write(&self, root: &Path, stamp: &VersionStamp) -> std::io::Result<()> {
        let path = path(root);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut bytes = serde_json::to_vec_pretty(&self.document(stamp)).unwrap_or_default();
        bytes.push(b'\n');
        crate::atomic::write(&path, &bytes)
    }
}

/// Writes the state file whenever the state changed (at most every [`WRITE_EVERY`]) until
/// `stop`, then once more. The writes run on the blocking pool.
pub async fn run_writer(state: BotState, root: PathBuf, stop: CancellationToken) {
    let stamp = {
        let root = root.clone();
        tokio::task::spawn_blocking(move || VersionStamp::read(&root))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_else(VersionStamp::compiled)
    };
    let write = |state: BotState, root: PathBuf| {
        let stamp = stamp.clone();
        async move {
            let result = tokio::task::spawn_blocking(move || state.write(&root, &stamp)).await;
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "Could not write discord/runtime.json.");
                }
                Err(e) => tracing::warn!(error = %e, "Could not write discord/runtime.json."),
            }
        }
    };
    write(state.clone(), root.clone()).await;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = state.changed.notified() => {}
        }
        write(state.clone(), root.clone()).await;
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(WRITE_EVERY) => {}
        }
    }
    write(state, root).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discord::wire::SessionStartLimit;

    #[test]
    fn the_state_file_matches_its_schema_as_it_starts_runs_and_stops() {
        let state = BotState::new();
        let stamp = VersionStamp::compiled();
        let check = |state: &BotState| {
            let doc = state.document(&stamp);
            let errors = crate::export::schemas::validate(ENTRY.schema, &doc);
            assert!(errors.is_empty(), "{errors:?}\n{doc:#}");
            doc
        };
        check(&state);
        state.update(|s| {
            s.user = Some("ssbot".into());
            s.application_id = Some("111".into());
            s.latency_ms = Some(42);
            s.session.identifies = 1;
            s.session.sequence = Some(7);
            s.commands = crate::discord::commands::NAMES.to_vec();
            s.identify = Some(IdentifyState::new(
                SessionStartLimit {
                    total: 1000,
                    remaining: 99,
                    reset_after: 3_600_000,
                    max_concurrency: 1,
                },
                Utc::now(),
                100,
            ));
            let guild = s.guilds.entry("222000000000000222".into()).or_default();
            guild.configured = true;
            guild.commands_registered = 7;
        });
        state.set_connection(Connection::Connected);
        let doc = check(&state);
        assert_eq!(
            doc["identify"]["near_end"], true,
            "99 left, warned below 100"
        );
        state.set_connection(Connection::Stopped);
        assert_eq!(check(&state)["connection"], "stopped");
    }
}
