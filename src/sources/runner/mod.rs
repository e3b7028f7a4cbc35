//! The runners that drive sources: the one writer of each source's status.
//!
//! [`session`] drives connection-based sources (connect, serve, classify the error, back off,
//! reconnect); [`polling`] drives HTTP-polling sources (poll, pace, commit the cursor with the page,
//! back off). Both record state changes and errors here, through [`Track`], so an error is scrubbed of
//! secrets, logged, put in the status and in telemetry exactly once. A source reports only what the
//! runner cannot see for itself, through its [`Reporter`]: that it is connected, that an event was
//! accepted, a warning. Both serve the source's platform commands through the one serving loop,
//! [`serve`], paced by [`pacing`] and split by [`split`].

pub mod pacing;
pub mod polling;
pub mod serve;
pub mod session;
pub mod split;

use super::status::LiveStream;
use super::{ConnectionState, SourceContext, SourceError, StatusHandle};
use crate::command::PlatformCommand;
use crate::command::receipts::Receipts;
use crate::command::stats::CommandStats;
use crate::config::model::SendLimit;
use crate::config::secrets::Secrets;
use crate::event::Platform;
use crate::event::wire_checks::WireLimits;
use crate::guards::Guards;
use crate::lanes::EventSink;
use crate::telemetry::Telemetry;
use chrono::{DateTime, Utc};
use pacing::Pacing;
use serve::Serving;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long a runner waits between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// After a lost connection or a failed poll: first step and cap (jittered, doubling).
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// After the platform refused the login: retrying sooner cannot help and platforms limit login
    /// attempts, so this starts long.
    pub login_retry_base: Duration,
    pub login_retry_cap: Duration,
    /// A connection that stayed up this long resets the retry backoff.
    pub stable_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(60),
            login_retry_base: Duration::from_secs(60),
            login_retry_cap: Duration::from_secs(15 * 60),
            stable_after: Duration::from_secs(30),
        }
    }
}

/// What a source tells its runner. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Reporter {
    status: StatusHandle,
    secrets: Secrets,
    telemetry: Telemetry,
    /// `source.{platform}`, the subsystem of its telemetry.
    subsystem: String,
}

impl Reporter {
    pub fn new(
        status: StatusHandle,
        secrets: Secrets,
        telemetry: Telemetry,
        platform: Platform,
    ) -> Reporter {
        Reporter {
            status,
            secrets,
            telemetry,
            subsystem: format!("source.{platform}"),
        }
    }

    /// The source is connected and reading (joined the channel, subscribed, first poll answered).
    pub fn connected(&self) {
        self.status.set_state(ConnectionState::Connected);
    }

    /// Whether the channel is live: `Some(the stream)`, or `None` when offline. The go-live state in
    /// the exports and the once-per-stream go-live notifications are built from this.
    pub fn live(&self, stream: Option<LiveStream>) {
        self.status.set_live(stream);
    }

    /// An event was accepted by the data lane.
    pub fn event(&self, at: DateTime<Utc>) {
        self.status.record_events(1, at);
    }

    /// Records `count` events handed to the pipeline, the last one at `last`.
    pub fn events(&self, count: u64, last: DateTime<Utc>) {
        self.status.record_events(count, last);
    }

    /// Something the operator should know that does not stop the source (read-only mode, a
    /// subscription the platform revoked, ...): logged, and kept in the status (`ss status`) and in
    /// telemetry's errors as a `source_warning`. Say each thing once.
    pub fn warning(&self, message: &str) {
        let message = self.secrets.scrub(message);
        tracing::warn!("{message}");
        self.telemetry
            .error("source_warning", &self.subsystem, message.clone());
        self.status.record_error(message);
    }

    /// Something worth knowing that is not a problem (what a source left out and why): logged and
    /// kept in telemetry's events as `kind`.
    pub fn notice(&self, kind: &str, message: &str) {
        let message = self.secrets.scrub(message);
        tracing::info!("{message}");
        self.telemetry.event(kind, &self.subsystem, message);
    }
}

/// The runner's record keeping for one source.
#[derive(Debug, Clone)]
pub struct Track {
    pub creator: String,
    pub platform: Platform,
    pub status: StatusHandle,
    pub telemetry: Telemetry,
    pub secrets: Secrets,
}

impl Track {
    fn name(&self) -> String {
        format!("{}/{}", self.creator, self.platform)
    }

    pub fn set_state(&self, state: ConnectionState) {
        self.status.set_state(state);
    }

    /// A failure that will be retried after `retry_in`.
    pub fn retrying(&self, error: &SourceError, retry_in: Duration) {
        let message = self.secrets.scrub(&format!("{}: {error}", self.name()));
        tracing::warn!(
            creator = %self.creator,
            platform = %self.platform,
            retry_in_ms = retry_in.as_millis() as u64,
            "{message}"
        );
        self.record(error, message);
    }

    /// A failure retrying cannot fix: the source stays stopped, marked failed.
    pub fn failed(&self, error: &SourceError) {
        let message = self.secrets.scrub(&format!("{}: {error}", self.name()));
        tracing::warn!(creator = %self.creator, platform = %self.platform, "Source stopped: {message}");
        self.record(error, message);
        self.status.set_state(ConnectionState::Failed);
    }

    /// A command the source could not carry out; the source keeps reading. The log line carries the
    /// command's cause.
    pub fn command_failed(&self, command: &PlatformCommand, error: &SourceError) {
        let message = self.secrets.scrub(&format!(
            "{}: {} not sent: {error}",
            self.name(),
            command.kind.name()
        ));
        tracing::warn!(
            creator = %self.creator,
            platform = %self.platform,
            cause = %command.cause,
            command = %command.kind.name(),
            "{message}"
        );
        self.record(error, message);
    }

    fn record(&self, error: &SourceError, message: String) {
        self.telemetry.error(
            error.error_type(),
            &format!("source.{}", self.platform),
            message.clone(),
        );
        self.status.record_error(message);
    }

    pub fn started(&self) {
        self.telemetry.event(
            "source_started",
            "supervisor",
            format!("{} started", self.name()),
        );
    }

    pub fn stopped(&self) {
        self.status.set_state(ConnectionState::Stopped);
        self.telemetry.event(
            "source_stopped",
            "supervisor",
            format!("{} stopped", self.name()),
        );
    }
}

/// Everything one source gets from the runtime. [`Wiring::build`] makes the source's context and its
/// runner's [`Track`] from the same handles, so they always agree; the supervisor and tests use it.
pub struct Wiring {
    pub creator: String,
    pub platform: Platform,
    pub events: EventSink,
    /// The source's command queue (the command sink holds its sender).
    pub commands: mpsc::Receiver<PlatformCommand>,
    /// The run's command counters (shared by every source and the command sink).
    pub command_stats: Arc<CommandStats>,
    /// Where the serving loop reports how commands that ask for it were settled.
    pub receipts: Receipts,
    pub secrets: Secrets,
    pub send_limit: SendLimit,
    pub shutdown: CancellationToken,
    pub status: StatusHandle,
    pub telemetry: Telemetry,
    pub guards: Arc<Guards>,
    pub wire: WireLimits,
}

impl Wiring {
    /// A source of `creator` on `platform` with fresh handles and default limits; override fields
    /// with struct-update syntax.
    pub fn new(
        creator: &str,
        platform: Platform,
        events: EventSink,
        commands: mpsc::Receiver<PlatformCommand>,
    ) -> Wiring {
        Wiring {
            creator: creator.to_owned(),
            platform,
            events,
            commands,
            command_stats: Arc::default(),
            receipts: Receipts::default(),
            secrets: Secrets::default(),
            send_limit: SendLimit::default_for(platform),
            shutdown: CancellationToken::new(),
            status: StatusHandle::new(),
            telemetry: Telemetry::default(),
            guards: Arc::default(),
            wire: WireLimits::default(),
        }
    }

    /// The runner's record keeping alone (for a source that could not be built).
    pub fn track(&self) -> Track {
        Track {
            creator: self.creator.clone(),
            platform: self.platform,
            status: self.status.clone(),
            telemetry: self.telemetry.clone(),
            secrets: self.secrets.clone(),
        }
    }

    /// The source's context, its runner's record keeping and its serving loop (which shares the
    /// context's pacing).
    pub fn build(self) -> (SourceContext, Track, Serving) {
        let track = self.track();
        let pacing = Pacing::for_send_limit(&self.send_limit);
        let serving = Serving::new(self.commands, pacing.clone(), self.command_stats)
            .with_receipts(self.receipts);
        // Bound to the creator's queue in the lane once, so its events are admitted by its share.
        let events = self.events.for_creator(&self.creator);
        let ctx = SourceContext {
            creator: self.creator,
            platform: self.platform,
            shutdown: self.shutdown,
            events,
            pacing,
            report: Reporter::new(
                self.status,
                self.secrets.clone(),
                self.telemetry,
                self.platform,
            ),
            secrets: self.secrets,
            send_limit: self.send_limit,
            guards: self.guards,
            wire: self.wire,
        };
        (ctx, track, serving)
    }
}

/// Sleeps `delay` unless shutdown comes first; true when it slept the whole delay.
async fn wait(delay: Duration, shutdown: &tokio_util::sync::CancellationToken) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep(delay) => true,
    }
}
