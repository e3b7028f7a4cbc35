//! The live status of one source: connection state, last event time, counts and recent errors.
//!
//! Sources update it through a cheap [`StatusHandle`]; the exporter reads a [`SourceStatus`] copy for
//! `runtime_snapshot.json` and `platforms.json`. A `std::sync::Mutex` is right here: it is never held
//! across an `.await`, and updates are a few field writes.

pub use crate::event::LiveStream;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// How many recent errors a status keeps.
const RECENT_ERRORS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    Connecting,
    Connected,
    Backoff,
    Stopped,
    /// Not started: credentials missing or settings invalid (see `last_error`).
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceStatus {
    pub state: ConnectionState,
    pub since: DateTime<Utc>,
    pub last_event_at: Option<DateTime<Utc>>,
    pub events: u64,
    pub reconnects: u64,
    pub last_error: Option<String>,
    pub recent_errors: VecDeque<StatusError>,
    /// Whether the channel is live, for sources that know; `None` until a source has said.
    pub live: Option<LiveState>,
}

/// Go-live state of a source's channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveState {
    pub live: bool,
    /// When the stream started (while live), or when it went offline.
    pub since: DateTime<Utc>,
    /// The stream while live: its platform id (the key that makes a go-live post once per stream),
    /// title and link when the platform says.
    pub stream: Option<LiveStream>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusError {
    pub at: DateTime<Utc>,
    pub message: String,
}

/// A shared, cloneable handle to one source's status.
#[derive(Debug, Clone)]
pub struct StatusHandle(Arc<Mutex<SourceStatus>>);

impl Default for StatusHandle {
    fn default() -> Self {
        Self::new()
    }
}

impl StatusHandle {
    pub fn new() -> StatusHandle {
        StatusHandle(Arc::new(Mutex::new(SourceStatus {
            state: ConnectionState::Stopped,
            since: Utc::now(),
            last_event_at: None,
            events: 0,
            reconnects: 0,
            last_error: None,
            recent_errors: VecDeque::new(),
            live: None,
        })))
    }

    fn with<R>(&self, f: impl FnOnce(&mut SourceStatus) -> R) -> R {
        // A panic while holding this lock leaves plain data behind; keep using it.
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    pub fn set_state(&self, state: ConnectionState) {
        self.with(|s| {
            if s.state != state {
                s.state = state;
                s.since = Utc::now();
            }
        });
    }

    /// Live with `stream`, or offline (from now) with `None`.
    pub fn set_live(&self, stream: Option<LiveStream>) {
        self.with(|s| {
            let was_live = s.live.as_ref().is_some_and(|l| l.live);
            match stream {
                Some(stream) => {
                    s.live = Some(LiveState {
                        live: true,
                        since: stream.started_at,
                        stream: Some(stream),
                    })
                }
                None if was_live || s.live.is_none() => {
                    s.live = Some(LiveState {
                        live: false,
                        since: Utc::now(),
                        stream: None,
                    })
                }
                None => {}
            }
        });
    }

    /// Counts a reconnect attempt after a lost connection.
    pub fn record_reconnect(&self) {
        self.with(|s| s.reconnects += 1);
    }

    /// Counts `count` events handed to the pipeline, the last of them at `last`.
    pub fn record_events(&self, count: u64, last: DateTime<Utc>) {
        self.with(|s| {
            s.events += count;
            s.last_event_at = Some(last);
        });
    }

    /// Records an error message. Callers must never pass a secret; messages are exported.
    pub fn record_error(&self, message: impl Into<String>) {
        let message = message.into();
        self.with(|s| {
            s.last_error = Some(message.clone());
            if s.recent_errors.len() == RECENT_ERRORS {
                s.recent_errors.pop_front();
            }
            s.recent_errors.push_back(StatusError {
                at: Utc::now(),
                message,
            });
        });
    }

    pub fn snapshot(&self) -> SourceStatus {
        self.with(|s| s.clone())
    }
}
