//! What the runtime knows of one creator's OBS: the connection, what OBS is doing (the program
//! scene, streaming, recording, the replay buffer), and what became of the requests sent to it.
//!
//! The connection task and the request worker write it; the exporter reads a copy
//! ([`ObsStatus::snapshot`]) into `runtime_snapshot.json` `obs`, and `ss status` reads it there.
//! Every request is counted exactly once: `ok` (OBS answered success), `failed` (OBS refused it with
//! a status code, it timed out, or no connection was there to take it) or `dropped` (the request
//! queue was full). The most recent outcomes are kept with their cause, code and comment.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

/// Outcomes kept in [`ObsView::recent`].
pub const RECENT_OUTCOMES: usize = 20;

/// The connection's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObsState {
    Connecting,
    Connected,
    /// Lost; trying again after a backoff.
    Reconnecting,
    /// Stopped for good until the config changes (wrong password, session ended in OBS, password
    /// variable not set).
    Failed,
    Stopped,
}

/// One request's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObsOutcome {
    pub at: DateTime<Utc>,
    /// What caused it (`event:twitch:abc`, `control:...`, `clip:...`).
    pub cause: String,
    /// The call (`switch_scene`, `save_replay`, ...).
    pub request: String,
    pub ok: bool,
    /// OBS's RequestStatus code, when OBS answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u32>,
    /// OBS's comment, or why there was no answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Counted requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ObsCounts {
    pub ok: u64,
    pub failed: u64,
    pub dropped: u64,
}

/// A copy of one OBS's status, as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObsView {
    pub creator: String,
    /// The server, without any user or password part.
    pub url: String,
    pub state: ObsState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_since: Option<DateTime<Utc>>,
    /// Sessions that ended and were tried again.
    pub reconnects: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub obs_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub websocket_version: Option<String>,
    /// The program scene; `None` until known.
    pub current_scene: Option<String>,
    pub streaming: Option<bool>,
    pub recording: Option<bool>,
    /// Whether the replay buffer runs; `None` when unknown or not enabled in OBS.
    pub replay_buffer: Option<bool>,
    pub requests: ObsCounts,
    /// The most recent outcomes, newest last.
    pub recent: Vec<ObsOutcome>,
}

#[derive(Debug)]
struct Inner {
    view: ObsView,
    recent: VecDeque<ObsOutcome>,
}

/// One OBS's status, shared by its tasks and the exporter; cheap to clone.
#[derive(Debug, Clone)]
pub struct ObsStatus(Arc<Mutex<Inner>>);

impl ObsStatus {
    pub fn new(creator: &str, url: &str) -> ObsStatus {
        ObsStatus(Arc::new(Mutex::new(Inner {
            view: ObsView {
                creator: creator.to_owned(),
                url: without_userinfo(url),
                state: ObsState::Connecting,
                connected_since: None,
                reconnects: 0,
                last_error: None,
                obs_version: None,
                websocket_version: None,
                current_scene: None,
                streaming: None,
                recording: None,
                replay_buffer: None,
                requests: ObsCounts::default(),
                recent: Vec::new(),
            },
            recent: VecDeque::with_capacity(RECENT_OUTCOMES),
        })))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn snapshot(&self) -> ObsView {
        self.with(|inner| {
            let mut view = inner.view.clone();
            view.recent = inner.recent.iter().cloned().collect();
            view
        })
    }

    pub fn state(&self) -> ObsState {
        self.with(|inner| inner.view.state)
    }

    pub(super) fn connecting(&self) {
        self.with(|inner| inner.view.state = ObsState::Connecting);
    }

    pub(super) fn connected(&self, obs_version: Option<String>, websocket_version: String) {
        self.with(|inner| {
            let view = &mut inner.view;
            view.state = ObsState::Connected;
            view.connected_since = Some(Utc::now());
            view.last_error = None;
            view.obs_version = obs_version;
            view.websocket_version = Some(websocket_version);
        });
    }

    /// The session ended and will be tried again.
    pub(super) fn lost(&self, reason: &str) {
        self.with(|inner| {
            let view = &mut inner.view;
            if view.state == ObsState::Connected {
                view.reconnects += 1;
            }
            view.state = ObsState::Reconnecting;
            view.connected_since = None;
            view.last_error = Some(reason.to_owned());
            view.current_scene = None;
            view.streaming = None;
            view.recording = None;
            view.replay_buffer = None;
        });
    }

    pub(super) fn failed(&self, reason: &str) {
        self.with(|inner| {
            inner.view.state = ObsState::Failed;
            inner.view.connected_since = None;
            inner.view.last_error = Some(reason.to_owned());
        });
    }

    pub(super) fn stopped(&self) {
        self.with(|inner| {
            if inner.view.state != ObsState::Failed {
                inner.view.state = ObsState::Stopped;
            }
            inner.view.connected_since = None;
        });
    }

    pub(super) fn scene(&self, name: Option<String>) {
        self.with(|inner| inner.view.current_scene = name);
    }

    pub(super) fn streaming(&self, active: Option<bool>) {
        self.with(|inner| inner.view.streaming = active);
    }

    pub(super) fn recording(&self, active: Option<bool>) {
        self.with(|inner| inner.view.recording = active);
    }

    pub(super) fn replay_buffer(&self, active: Option<bool>) {
        self.with(|inner| inner.view.replay_buffer = active);
    }

    /// Counts a request's outcome and keeps it among the recent ones.
    pub(super) fn outcome(&self, outcome: ObsOutcome) {
        self.with(|inner| {
            if outcome.ok {
                inner.view.requests.ok += 1;
            } else {
                inner.view.requests.failed += 1;
            }
            if inner.recent.len() == RECENT_OUTCOMES {
                inner.recent.pop_front();
            }
            inner.recent.push_back(outcome);
        });
    }

    pub(super) fn dropped(&self) {
        self.with(|inner| inner.view.requests.dropped += 1);
    }
}

/// `ws://user:pass@host:4455/x` → `ws://host:4455/x`: a URL may carry credentials; the status
/// never does.
pub fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_url_are_never_shown() {
        assert_eq!(
            without_userinfo("ws://user:pw@127.0.0.1:4455/x@y"),
            "ws://127.0.0.1:4455/x@y"
        );
        assert_eq!(
            without_userinfo("ws://127.0.0.1:4455"),
            "ws://127.0.0.1:4455"
        );
    }

    #[test]
    fn outcomes_are_counted_once_and_the_recent_ones_kept() {
        let status = ObsStatus::new("demo", "ws://127.0.0.1:4455");
        for i in 0..(RECENT_OUTCOMES + 5) {
            status.outcome(ObsOutcome {
                at: Utc::now(),
                cause: format!("c{i}"),
                request: "switch_scene".into(),
                ok: i % 2 == 0,
                code: None,
                comment: None,
            });
        }
        status.dropped();
        let view = status.snapshot();
        assert_eq!(
            view.requests.ok + view.requests.failed,
            RECENT_OUTCOMES as u64 + 5
        );
        assert_eq!(view.requests.dropped, 1);
        assert_eq!(view.recent.len(), RECENT_OUTCOMES);
        assert_eq!(view.recent.last().unwrap().cause, "c24");
    }
}
