//! Chat sources: one contract per shape of platform, and the runners that drive them.
//!
//! A source is built from its creator's settings and then driven by one of two runners in
//! [`runner`], which own everything sources have in common: status, error recording (scrubbed of
//! secrets), backoff, reconnects, shutdown, and serving the source's platform commands
//! ([`crate::command::PlatformCommand`]) through its delivery seam ([`runner::serve`]). Each source
//! says which commands it can do (`commands`); the command sink refuses the rest before queueing.
//!
//! - Connection-based platforms (Twitch IRC, Kick's websocket, the sim chat) implement
//!   [`runner::session::SessionSource`]: connect and serve one session until it ends.
//! - HTTP-polling platforms (YouTube, Rumble) implement [`runner::polling::Poller`]: fetch the page
//!   after a cursor; the runner paces the calls and commits the cursor with the page's events.
//!
//! Transport and parsing are separate in every source, so parsers are pure functions tested on raw
//! wire samples. TLS client settings are built once in [`crate::tls`].
//!
//! Each platform is one folder here, registered in [`registry`] with one line from its own
//! `platform.rs`: its identity, config block, source building and per-run services.

pub mod kick;
pub mod pilled;
pub mod private_file;
pub mod ratelimit;
pub mod registry;
pub mod rumble;
pub mod runner;
pub mod sim;
pub mod status;
pub mod twitch;
pub mod youtube;

use crate::command::CommandSupport;
use crate::config::model::SendLimit;
use crate::config::secrets::Secrets;
use crate::event::wire_checks::{self, WireLimits};
use crate::event::{ChatEvent, Platform};
use crate::guards::{Guard, Guards};
use crate::lanes::{EventSink, SendOutcome};
use runner::Reporter;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub use status::{ConnectionState, LiveStream, SourceStatus, StatusHandle};

/// Capacity of each source's command queue. When full, the command sink drops the command and
/// counts it: a reply minutes late is worse than none.
pub const OUTBOUND_CAPACITY: usize = 256;

/// Everything a running source needs from the runtime.
pub struct SourceContext {
    pub creator: String,
    pub platform: Platform,
    /// Cancelled on shutdown; every wait in a source selects on it.
    pub shutdown: CancellationToken,
    /// Where normalized events go (the data lane).
    pub events: EventSink,
    /// The pacing of the source's commands (its send window). The serving loop takes a slot
    /// before each delivery; a session may change the limit (Twitch, from USERSTATE).
    pub pacing: runner::pacing::Pacing,
    pub secrets: Secrets,
    pub send_limit: SendLimit,
    /// What the source tells its runner: connected, an event accepted, a warning.
    pub report: Reporter,
    /// The run's counters of what was refused from the wire (shared by every source of the run).
    pub guards: Arc<Guards>,
    /// Limits on what the wire may send (line length, clock skew), from `system.json` `limits`.
    pub wire: WireLimits,
}

/// The wire checks ([`wire_checks`]) of one event received at `received`, counted into `guards`:
/// the door every event passes, from a source ([`SourceContext::check_wire`]) or a webhook.
pub fn check_wire(
    guards: &Guards,
    wire: &WireLimits,
    event: &mut ChatEvent,
    received: chrono::DateTime<chrono::Utc>,
) {
    let fixed = wire_checks::check(event, received, wire.max_clock_skew);
    guards.count(Guard::EmoteDropped, fixed.emotes_dropped);
    if fixed.timestamp_replaced {
        guards.count(Guard::TimestampReplaced, 1);
        tracing::debug!(
            creator = %event.creator,
            platform = %event.platform,
            message_id = %event.message_id,
            "Replaced a platform timestamp far from the receive time."
        );
    }
}

pub use crate::http_out::{ClientError, client as http_client};

/// Whether a source should keep reading after handing over an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarded {
    /// Accepted, or shed or dropped by the lane (the lane counted it): keep reading.
    Continue,
    /// The pipeline has stopped; the source should end.
    PipelineClosed,
}

impl SourceContext {
    /// Applies the platform-neutral wire checks ([`wire_checks`]) to an event received now (the
    /// receive time is taken here, at the door), counting what they corrected. Every event a source
    /// hands over passes here: [`SourceContext::forward`] and the polling runner's pages call it.
    pub fn check_wire(&self, event: &mut ChatEvent, received: chrono::DateTime<chrono::Utc>) {
        check_wire(&self.guards, &self.wire, event, received);
    }

    /// Checks one event ([`SourceContext::check_wire`]), hands it to the data lane and records it in
    /// the status when accepted.
    pub async fn forward(&self, mut event: ChatEvent) -> Forwarded {
        self.check_wire(&mut event, chrono::Utc::now());
        let at = event.timestamp;
        match self.events.send(event).await {
            SendOutcome::Accepted => {
                self.report.event(at);
                Forwarded::Continue
            }
            SendOutcome::Shed | SendOutcome::Dropped => Forwarded::Continue,
            SendOutcome::Closed => Forwarded::PipelineClosed,
        }
    }

    /// [`SourceContext::forward`] for a source that can pause instead of losing events (the unpaced
    /// sim), a burst of events received now: past its creator's share of the data lane it waits for
    /// room, at most the block time per event. The lane and the status are each locked once for
    /// the burst rather than once per event.
    pub async fn forward_waiting_all(&self, mut events: Vec<ChatEvent>) -> Forwarded {
        let received = chrono::Utc::now();
        for event in &mut events {
            self.check_wire(event, received);
        }
        let mut accepted = 0u64;
        let mut last = None;
        let open = self
            .events
            .send_waiting_all(events, |at| {
                accepted += 1;
                last = Some(at);
            })
            .await;
        if let Some(last) = last {
            self.report.events(accepted, last);
        }
        if open {
            Forwarded::Continue
        } else {
            Forwarded::PipelineClosed
        }
    }
}

/// Why a source stopped before shutdown. The runners act on the variant.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A required secret is not set; retrying cannot help until the operator sets it.
    #[error("missing credentials: environment variable {0} is not set")]
    MissingCredentials(String),
    /// The platform refused the login; retried only after a long backoff.
    #[error("login failed: {0}")]
    LoginFailed(String),
    /// The settings cannot work (bad channel name, bad URL, ...).
    #[error("invalid settings: {0}")]
    InvalidSettings(String),
    /// The platform (or our own budget for it) allows no call before `retry_after`: the runner
    /// waits exactly that long (a quota spent until its daily reset, a rate limit's retry-after).
    /// `kind` is the `error_type` in telemetry (`quota_exceeded`, ...).
    #[error("{message}")]
    Throttled {
        kind: &'static str,
        message: String,
        retry_after: std::time::Duration,
    },
    /// Anything else: retried after a capped, jittered backoff.
    #[error("{0}")]
    Other(String),
}

impl SourceError {
    /// Errors that retrying cannot fix: the source is reported failed and left stopped.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            SourceError::MissingCredentials(_) | SourceError::InvalidSettings(_)
        )
    }

    /// The `error_type` of telemetry/errors.json.
    pub fn error_type(&self) -> &'static str {
        match self {
            SourceError::MissingCredentials(_) => "missing_credentials",
            SourceError::LoginFailed(_) => "login_failed",
            SourceError::InvalidSettings(_) => "invalid_settings",
            SourceError::Throttled { kind, .. } => kind,
            SourceError::Other(_) => "source_error",
        }
    }
}

/// A boxed future, so sources of different platforms fit in one supervisor.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A built source, with the runner that drives it.
pub enum Source {
    /// Connection-based: driven by [`runner::session::run`].
    Session(Box<dyn runner::session::SessionSource>),
    /// HTTP polling: driven by [`runner::polling::run`].
    Polling(Box<dyn runner::polling::Poller>),
}

impl Source {
    /// Which platform commands this source can carry out; the command sink refuses the rest before
    /// queueing them.
    pub fn commands(&self) -> CommandSupport {
        match self {
            Source::Session(source) => source.commands(),
            Source::Polling(poller) => poller.commands(),
        }
    }
}
