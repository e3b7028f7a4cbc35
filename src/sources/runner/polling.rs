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
//! YouTube quota planner plugs in there, given by [`Poller::pacer`] or by the caller), never under
//! the poller's floor. During that wait the one serving loop ([`super::serve`]) delivers the
//! source's platform commands through the poller's own [`Delivery`] ([`Poller::delivery`]), so
//! sending never needs a second task holding the poller; commands still waiting when the source
//! stops are counted as abandoned.
//! Errors back off like sessions do: capped and jittered, long after a refused login, exactly
//! `retry_after` when the source is throttled (a spent quota), and a permanent error stops the
//! source. Every wait selects on shutdown.

use super::serve::{Delivery, Served, Serving};
use super::{RetryPolicy, Track};
use crate::backoff::Backoff;
use crate::command::CommandSupport;
use crate::event::ChatEvent;
use crate::lanes::{Page, SendOutcome};
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

    /// The source's own pacer (a budget planner), used when the caller gives none.
    fn pacer(&self) -> Option<Arc<dyn Pacer>> {
        None
    }

    /// Which platform commands this source can carry out; the command sink refuses the rest before
    /// queueing them (a read-only platform, Rumble, refuses everything).
    fn commands(&self) -> CommandSupport;

    /// The poller as the delivery of its commands, used between polls; `None` for a read-only one.
    fn delivery(&mut self) -> Option<&mut dyn Delivery> {
        None
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
    mut serving: Serving,
) {
    let pacer = pacer.or_else(|| poller.pacer());
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
                        // The door for pages: the same checks as `forward`, one receive time.
                        let mut page_events = page.events;
                        let received = chrono::Utc::now();
                        for event in &mut page_events {
                            ctx.check_wire(event, received);
                        }
                        let at: Vec<_> = page_events.iter().map(|e| e.timestamp).collect();
                        let outcome = ctx
                            .events
                            .send_page(Page {
                                creator: ctx.creator.clone(),
                                platform: ctx.platform,
                                events: page_events,
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
                    // A page waits for room, so it is never shed; `Shed` is matched for completeness.
                    SendOutcome::Shed | SendOutcome::Dropped => tracing::warn!(
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
                serving.abandon(&track);
                return;
            }
            Err(SourceError::Throttled {
                kind,
                message,
                retry_after,
            }) => {
                let error = SourceError::Throttled {
                    kind,
                    message,
                    retry_after,
                };
                failing = true;
                track.retrying(&error, retry_after);
                track.set_state(ConnectionState::Backoff);
                retry_after
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
        let deadline = tokio::time::Instant::now() + delay;
        let waited = match poller.delivery() {
            Some(delivery) => {
                serving
                    .serve_until(delivery, &track, deadline, &shutdown)
                    .await
                    == Served::Deadline
            }
            None => super::wait(delay, &shutdown).await,
        };
        if !waited {
            break;
        }
    }
    serving.abandon(&track);
    track.stopped();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Author, Platform};
    use crate::lanes::{DataLane, Inbound};
    use crate::sources::runner::Wiring;
    use std::sync::Mutex;

    /// Serves pages `p0`, `p1`, ... of two events each; the cursor after page N is `pN+1`.
    struct PagedChat {
        asked: Arc<Mutex<Vec<Option<String>>>>,
    }

    impl Poller for PagedChat {
        fn poll<'a>(
            &'a mut self,
            _ctx: &'a SourceContext,
            cursor: Option<&'a str>,
        ) -> BoxFuture<'a, Result<Polled, SourceError>> {
            Box::pin(async move {
                self.asked.lock().unwrap().push(cursor.map(str::to_owned));
                let page: u32 = cursor
                    .and_then(|c| c.strip_prefix('p'))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let events = (0..2)
                    .map(|i| {
                        ChatEvent::message(
                            Platform::named("youtube"),
                            "demo",
                            &format!("m{page}-{i}"),
                            chrono::Utc::now(),
                            Author::viewer("v"),
                            "hi",
                        )
                    })
                    .collect();
                Ok(Polled {
                    events,
                    cursor: Some(format!("p{}", page + 1)),
                    interval_hint: Some(Duration::from_secs(5)),
                })
            })
        }

        fn min_interval(&self) -> Duration {
            Duration::from_secs(1)
        }

        fn commands(&self) -> CommandSupport {
            CommandSupport::none("a test source")
        }
    }

    #[tokio::test(start_paused = true)]
    async fn resumes_from_the_checkpoint_sends_pages_with_their_cursor_and_refetches_a_dropped_page()
     {
        // A lane of one item: the second page finds it full and is dropped.
        let lane = DataLane::new(1, Duration::from_millis(100));
        let (_tx, rx) = tokio::sync::mpsc::channel(1);
        let wiring = Wiring {
            ..Wiring::new("demo", Platform::named("youtube"), lane.sink.clone(), rx)
        };
        let (shutdown, status) = (wiring.shutdown.clone(), wiring.status.clone());
        let (ctx, track, serving) = wiring.build();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let poller = Box::new(PagedChat {
            asked: asked.clone(),
        });
        let runner = tokio::spawn(run(poller, ctx, Some("p7".into()), None, track, serving));
        let mut receiver = lane.receiver;
        // Page 7 is taken; page 8 is dropped by the full lane while nobody reads.
        tokio::time::sleep(Duration::from_secs(6)).await;
        let Some(Inbound::Page(first)) = receiver.recv().await else {
            panic!("a page")
        };
        assert_eq!(first.cursor, "p8");
        assert_eq!(first.events[0].message_id, "m7-0");
        // The next poll asks for page 8 again, since its page never made it into the lane.
        tokio::time::sleep(Duration::from_secs(6)).await;
        let Some(Inbound::Page(second)) = receiver.recv().await else {
            panic!("a page")
        };
        assert_eq!(second.events[0].message_id, "m8-0");
        shutdown.cancel();
        runner.await.unwrap();
        let asked = asked.lock().unwrap().clone();
        assert_eq!(
            asked[0].as_deref(),
            Some("p7"),
            "resumed from the checkpoint"
        );
        assert_eq!(asked[1].as_deref(), Some("p8"));
        assert_eq!(
            asked[2].as_deref(),
            Some("p8"),
            "the dropped page is fetched again"
        );
        assert_eq!(status.snapshot().state, ConnectionState::Stopped);
        assert_eq!(status.snapshot().events, 4);
    }

    /// Throttled on its first poll, then pages; records what it was asked to send.
    struct Throttled {
        polls: Arc<Mutex<Vec<tokio::time::Instant>>>,
        sent: Arc<Mutex<Vec<String>>>,
    }

    impl Poller for Throttled {
        fn poll<'a>(
            &'a mut self,
            _ctx: &'a SourceContext,
            _cursor: Option<&'a str>,
        ) -> BoxFuture<'a, Result<Polled, SourceError>> {
            Box::pin(async move {
                let mut polls = self.polls.lock().unwrap();
                polls.push(tokio::time::Instant::now());
                if polls.len() == 1 {
                    return Err(SourceError::Throttled {
                        kind: "quota_exceeded",
                        message: "quota spent".into(),
                        retry_after: Duration::from_secs(3600),
                    });
                }
                Ok(Polled {
                    events: Vec::new(),
                    cursor: Some("c".into()),
                    interval_hint: Some(Duration::from_secs(5)),
                })
            })
        }

        fn min_interval(&self) -> Duration {
            Duration::from_secs(1)
        }

        fn commands(&self) -> CommandSupport {
            CommandSupport::new(crate::command::CommandSet::ALL, "")
        }

        fn delivery(&mut self) -> Option<&mut dyn Delivery> {
            Some(self)
        }
    }

    impl Delivery for Throttled {
        fn max_chars(&self, _command: &crate::command::PlatformCommand) -> usize {
            200
        }

        fn deliver<'a>(
            &'a mut self,
            part: &'a crate::sources::runner::serve::Part,
        ) -> BoxFuture<'a, Result<(), crate::sources::runner::serve::DeliveryError>> {
            Box::pin(async move {
                self.sent
                    .lock()
                    .unwrap()
                    .push(part.text().unwrap_or_default().to_owned());
                Ok(())
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_source_waits_exactly_its_retry_after_and_replies_reach_send_between_polls()
    {
        let lane = DataLane::new(8, Duration::from_millis(100));
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let wiring = Wiring::new("demo", Platform::named("youtube"), lane.sink.clone(), rx);
        let (shutdown, status) = (wiring.shutdown.clone(), wiring.status.clone());
        let telemetry = wiring.telemetry.clone();
        let (ctx, track, serving) = wiring.build();
        let polls = Arc::new(Mutex::new(Vec::new()));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let poller = Box::new(Throttled {
            polls: polls.clone(),
            sent: sent.clone(),
        });
        let start = tokio::time::Instant::now();
        let runner = tokio::spawn(run(poller, ctx, None, None, track, serving));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(status.snapshot().state, ConnectionState::Backoff);
        assert_eq!(telemetry.errors()[0].error_type, "quota_exceeded");
        // A reply while it waits is sent at once, without a poll.
        tx.send(crate::command::PlatformCommand {
            creator: "demo".into(),
            platform: Platform::named("youtube"),
            channel: "c".into(),
            cause: "m1".into(),
            kind: crate::command::CommandKind::Say {
                text: "pong".into(),
            },
            receipt: false,
        })
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(sent.lock().unwrap().clone(), vec!["pong".to_string()]);
        assert_eq!(polls.lock().unwrap().len(), 1);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        shutdown.cancel();
        runner.await.unwrap();
        let polls = polls.lock().unwrap().clone();
        assert_eq!(
            polls[1] - start,
            Duration::from_secs(3600),
            "exactly retry_after"
        );
    }
}

#[cfg(test)]
mod wire_tests {
    use super::*;
    use crate::event::{Author, Emote, Platform};
    use crate::guards::{Guard, Guards};
    use crate::lanes::{DataLane, Inbound};
    use crate::sources::runner::Wiring;

    /// One page with an event from 1970 carrying an emote past its text, and a sound one.
    struct HostilePage;

    impl Poller for HostilePage {
        fn poll<'a>(
            &'a mut self,
            _ctx: &'a SourceContext,
            _cursor: Option<&'a str>,
        ) -> BoxFuture<'a, Result<Polled, SourceError>> {
            Box::pin(async move {
                let mut hostile = ChatEvent::message(
                    Platform::named("youtube"),
                    "demo",
                    "bad",
                    chrono::DateTime::from_timestamp_millis(1).unwrap(),
                    Author::viewer("v"),
                    "hi",
                );
                hostile.emotes.push(Emote {
                    id: "e".into(),
                    start: 0,
                    end: 50,
                });
                let sound = ChatEvent::message(
                    Platform::named("youtube"),
                    "demo",
                    "good",
                    chrono::Utc::now(),
                    Author::viewer("v"),
                    "hi",
                );
                Ok(Polled {
                    events: vec![hostile, sound],
                    cursor: Some("next".into()),
                    interval_hint: Some(Duration::from_secs(3600)),
                })
            })
        }

        fn min_interval(&self) -> Duration {
            Duration::from_secs(1)
        }

        fn commands(&self) -> CommandSupport {
            CommandSupport::none("a test source")
        }
    }

    #[tokio::test]
    async fn a_page_passes_the_wire_checks_before_the_lane() {
        let lane = DataLane::new(4, Duration::from_millis(100));
        let guards = std::sync::Arc::new(Guards::new());
        let (_tx, rx) = tokio::sync::mpsc::channel(1);
        let wiring = Wiring {
            guards: guards.clone(),
            ..Wiring::new("demo", Platform::named("youtube"), lane.sink.clone(), rx)
        };
        let shutdown = wiring.shutdown.clone();
        let (ctx, track, serving) = wiring.build();
        let before = chrono::Utc::now();
        let runner = tokio::spawn(run(Box::new(HostilePage), ctx, None, None, track, serving));
        let mut receiver = lane.receiver;
        let Some(Inbound::Page(page)) = receiver.recv().await else {
            panic!("a page")
        };
        shutdown.cancel();
        runner.await.unwrap();
        let hostile = &page.events[0];
        assert!(hostile.emotes.is_empty(), "{hostile:?}");
        assert!(
            hostile.timestamp >= before,
            "the 1970 timestamp was replaced by the receive time: {hostile:?}"
        );
        assert_eq!(guards.get(Guard::EmoteDropped), 1);
        assert_eq!(guards.get(Guard::TimestampReplaced), 1);
    }
}
