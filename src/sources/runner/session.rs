//! The session runner: connect, serve, classify the error, back off, reconnect.
//!
//! A [`SessionSource`] connects and serves one session until it ends; the runner does the rest. A
//! session that ends because the server asked to reconnect, or with a transient error, is retried
//! after a capped, jittered backoff that resets once a connection stayed up; a refused login is
//! retried only after the long login backoff; a permanent error (missing credentials, invalid
//! settings) marks the source failed and stops it. Shutdown ends every wait at once.
//!
//! Beside the sessions, for the whole run, the runner serves the source's platform commands through
//! the one serving loop ([`super::serve`]) and the source's [`Delivery`]: queued commands and the
//! send window outlive every reconnect, and a delivery that needs the connection waits for the next
//! one.

use super::serve::{Delivery, Serving};
use super::{RetryPolicy, Track, wait};
use crate::backoff::Backoff;
use crate::command::CommandSupport;
use crate::sources::{BoxFuture, ConnectionState, SourceContext, SourceError};
use std::time::Duration;

/// How a session ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The runtime is shutting down.
    Shutdown,
    /// The pipeline stopped reading events.
    PipelineClosed,
    /// The server asked the client to reconnect.
    ReconnectRequested,
    /// The server asked the client to reconnect at once (Pusher 4200–4299): no backoff after a
    /// session that was connected; one that never was backs off as usual, so a server that
    /// refuses every session cannot make the runner spin.
    ReconnectAtOnce,
}

/// What one session did.
#[derive(Debug)]
pub struct SessionReport {
    pub result: Result<SessionEnd, SourceError>,
    /// How long it stayed connected (`None` when it never was).
    pub connected_for: Option<Duration>,
}

/// A connection-based source.
pub trait SessionSource: Send {
    /// Connects and serves one session until it ends. Reports `connected` through `ctx.report`.
    fn session<'a>(&'a mut self, ctx: &'a mut SourceContext) -> BoxFuture<'a, SessionReport>;

    /// The waits between sessions (tests use short ones).
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::default()
    }

    /// Which platform commands this source can carry out (the platform's declaration, narrowed by
    /// what its settings allow: no token, no sending).
    fn commands(&self) -> CommandSupport;

    /// The source's delivery seam, made once per run; it may share state with the sessions (the
    /// live connection a session installs).
    fn delivery(&mut self, ctx: &SourceContext) -> Box<dyn Delivery>;
}

/// Drives `source` and serves its commands until shutdown, the pipeline closing, or a permanent
/// error; commands still waiting then are counted as abandoned.
pub async fn run(
    mut source: Box<dyn SessionSource>,
    mut ctx: SourceContext,
    track: Track,
    mut serving: Serving,
) {
    let mut delivery = source.delivery(&ctx);
    let over = ctx.shutdown.child_token();
    let sessions = async {
        let failed = !sessions(source.as_mut(), &mut ctx, &track).await;
        over.cancel();
        failed
    };
    let serve = serving.run(delivery.as_mut(), &track, &over);
    let (failed, ()) = tokio::join!(sessions, serve);
    serving.abandon(&track);
    if !failed {
        track.stopped();
    }
}

/// Connects, serves and reconnects until shutdown or the pipeline closing (true), or a permanent
/// error (false: the source is marked failed).
async fn sessions(source: &mut dyn SessionSource, ctx: &mut SourceContext, track: &Track) -> bool {
    let policy = source.retry_policy();
    let mut retry = Backoff::new(policy.retry_base, policy.retry_cap);
    let mut login_retry = Backoff::new(policy.login_retry_base, policy.login_retry_cap);
    let shutdown = ctx.shutdown.clone();
    track.started();
    let mut attempts: u64 = 0;
    loop {
        track.set_state(ConnectionState::Connecting);
        if attempts > 0 {
            track.status.record_reconnect();
        }
        attempts += 1;
        let report = source.session(ctx).await;
        if shutdown.is_cancelled() {
            break;
        }
        if let Some(up) = report.connected_for {
            login_retry.reset();
            if up >= policy.stable_after {
                retry.reset();
            }
        }
        let delay = match report.result {
            Ok(SessionEnd::Shutdown | SessionEnd::PipelineClosed) => break,
            Ok(SessionEnd::ReconnectRequested) => retry.next_delay(),
            Ok(SessionEnd::ReconnectAtOnce) if report.connected_for.is_some() => Duration::ZERO,
            Ok(SessionEnd::ReconnectAtOnce) => retry.next_delay(),
            Err(error) if error.is_permanent() => {
                track.failed(&error);
                return false;
            }
            Err(error) => {
                let delay = if matches!(error, SourceError::LoginFailed(_)) {
                    login_retry.next_delay()
                } else {
                    retry.next_delay()
                };
                track.retrying(&error, delay);
                delay
            }
        };
        track.set_state(ConnectionState::Backoff);
        if !wait(delay, &shutdown).await {
            break;
        }
    }
    true
}
