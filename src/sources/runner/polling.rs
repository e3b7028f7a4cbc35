//! The polling runner: fetch the page after the cursor, hand it over with its checkpoint, wait.
//!
//! A [`Poller`] fetches one page; the runner owns the loop. Each page goes to the data lane as one
//! [`Page`]: its events and the cursor after them. The pipeline turns a page into one atomic store
//! write, so the checkpoint commits in the same transaction as the events it covers, and a restart
//! (which starts from the committed checkpoint, `ctx` is given it as `resume`) continues exactly where
//! the last commit ended. A page the lane had to drop leaves the cursor where it was, so the same
//! page is fetched again rather than lost.
//!
//! The wait between polls is the larger of the server's hint and the [`Pacer`]'s interval (the
//! YouTube quota planner plugs in there), never under the poller's floor. Errors back off like
//! sessions do: capped and jittered, long after a refused login, and a permanent error stops the
//! source. Every wait selects on shutdown.

use super::{RetryPolicy, Track, wait};
use crate::backoff::Backoff;
use crate::event::ChatEvent;
use crate::pipeline::lanes::{Page, SendOutcome};
use crate::sources::{BoxFuture, ConnectionState, SourceContext, SourceError};
use std::sync::Arc;
use std::time::Duration;

/// One fetched page.
#[derive(Debug, Default)]
pub struct Polled {
    pub events: Vec<ChatEvent>,
    /// Where the next poll starts; `None` keeps the current cursor.
    pub cursor: Option<String>,
    /// How long the server asks the client to wait before the next poll.
    pub interval_hint: Option<Duration>,
}

/// An HTTP-polling source.
pub trait Poller: Send {
    /// Fetches the page after `cursor` (`None`: from where the platform starts a new reader).
    fn poll<'a>(
        &'a mut self,
        ctx: &'a SourceContext,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Polled, SourceError>>;

    /// The shortest wait between polls, whatever the hints say.
    fn min_interval(&self) -> Duration;

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::default()
    }
}

/// Plans the interval between polls from a budget (the YouTube quota planner).
pub trait Pacer: Send + Sync {
    fn interval(&self) -> Duration;
}

/// Drives `poller` until shutdown, the pipeline closing, or a permanent error. `resume` is the last
/// committed checkpoint.
pub async fn run(
    mut poller: Box<dyn Poller>,
    ctx: SourceContext,
    resume: Option<String>,
    pacer: Option<Arc<dyn Pacer>>,
    track: Track,
) {
    let policy = poller.retry_policy();
    let mut retry = Backoff::new(policy.retry_base, policy.retry_cap);
    let mut login_retry = Backoff::new(policy.login_retry_base, policy.login_retry_cap);
    let shutdown = ctx.shutdown.clone();
    let mut cursor = resume;
    let mut failing = false;
    track.started();
    track.set_state(ConnectionState::Connecting);
    loop {
        let polled = tokio::select! {
            () = shutdown.cancelled() => break,
            polled = poller.poll(&ctx, cursor.as_deref()) => polled,
        };
        let delay = match polled {
            Ok(page) => {
                if failing {
                    track.status.record_reconnect();
                    failing = false;
                }
                retry.reset();
                login_retry.reset();
                ctx.report.connected();
                let next = page.cursor.or_else(|| cursor.clone());
                let events = page.events.len();
                let outcome = match &next {
                    Some(next) => {
                        let at: Vec<_> = page.events.iter().map(|e| e.timestamp).collect();
                        let outcome = ctx
                            .events
                            .send_page(Page {
                                creator: ctx.creator.clone(),
                                platform: ctx.platform,
                                events: page.events,
                                cursor: next.clone(),
                            })
                            .await;
                        if outcome == SendOutcome::Accepted {
                            at.into_iter().for_each(|t| ctx.report.event(t));
                        }
                        outcome
                    }
                    // No cursor yet and none given: nothing to resume from, so hand the events over
                    // one by one.
                    None => {
                        let mut outcome = SendOutcome::Accepted;
                        for event in page.events {
                            if ctx.forward(event).await == crate::sources::Forwarded::PipelineClosed
                            {
                                outcome = SendOutcome::Closed;
                                break;
                            }
                        }
                        outcome
                    }
                };
                match outcome {
                    SendOutcome::Accepted => cursor = next,
                    SendOutcome::Dropped => tracing::warn!(
                        creator = %ctx.creator,
                        platform = %ctx.platform,
                        events,
                        "The data lane dropped a polled page; it will be fetched again."
                    ),
                    SendOutcome::Closed => break,
                }
                let planned = pacer.as_ref().map_or(Duration::ZERO, |p| p.interval());
                page.interval_hint
                    .unwrap_or(Duration::ZERO)
                    .max(planned)
                    .max(poller.min_interval())
            }
            Err(error) if error.is_permanent() => {
                track.failed(&error);
                return;
            }
            Err(error) => {
                failing = true;
                let delay = if matches!(error, SourceError::LoginFailed(_)) {
                    login_retry.next_delay()
                } else {
                    retry.next_delay()
                };
                track.retrying(&error, delay);
                track.set_state(ConnectionState::Backoff);
                delay
            }
        };
        if !wait(delay, &shutdown).await {
            break;
        }
    }
    track.stopped();
}
