//! The one serving loop: takes a source's [`PlatformCommand`]s from its queue, splits long text at
//! the platform's limit, paces every delivery by the platform's send limit ([`Pacing`]), hands each
//! part to the source's [`Delivery`] and records the outcome ([`CommandStats`]).
//!
//! Both runners use it: the session runner runs it beside the sessions for the whole run, so queued
//! commands and the send window survive reconnects; the polling runner runs it between polls. A
//! delivery that needs the live connection (Twitch IRC writes on its socket) waits in
//! [`Delivery::ready`] until the session installs one, and answers [`DeliveryError::Retry`] when the
//! connection went away under it: the part stays first in line. A delivery over HTTP (Kick, YouTube)
//! does not depend on the chat connection.
//!
//! A moderation command (delete, timeout, ban, unban) whose delivery failed for a passing reason
//! ([`DeliveryError::Transient`]: a 5xx, a 429, no answer) is tried again, first in line, after a
//! growing pause, up to [`MODERATION_ATTEMPTS`] times in all; doing it twice does no harm. A chat
//! message is not (a post that timed out may have been posted). A command that asked for a
//! receipt ([`PlatformCommand::receipt`]) reports how it was settled ([`Receipts`]).
//!
//! Queue: the source's command queue ([`crate::sources::OUTBOUND_CAPACITY`]), in front of at most
//! [`PENDING_PARTS`] parts taken out of it; while those are full, the loop takes no more and the
//! command sink drops (and counts) what does not fit. Commands still waiting when the source stops
//! are counted as abandoned.

use super::Track;
use super::pacing::Pacing;
use super::split::split_message;
use crate::command::receipts::{Outcome, Receipt, Receipts};
use crate::command::stats::CommandStats;
use crate::command::{CommandKind, PlatformCommand};
use crate::sources::{BoxFuture, SourceError};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

/// Parts taken out of the queue and waiting for their turn.
pub const PENDING_PARTS: usize = 64;

/// How long a part waits after its delivery asked to retry (the connection went away), at least.
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// Deliveries of a moderation command, in all, before a passing failure counts as failed.
pub const MODERATION_ATTEMPTS: u32 = 4;
/// The pause before the first new attempt of a moderation command; it doubles after each.
const MODERATION_RETRY_BASE: Duration = Duration::from_secs(1);

/// One message's worth of a command: the command itself for kinds without text, one piece of its
/// text otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The command, its text replaced by this part's piece.
    pub command: PlatformCommand,
    /// Which piece this is (from 0) of how many.
    pub index: usize,
    pub count: usize,
    /// Which queued command it belongs to.
    seq: u64,
    /// Deliveries tried so far that failed for a passing reason.
    attempts: u32,
}

impl Part {
    /// The text this part posts, for the kinds that post text.
    pub fn text(&self) -> Option<&str> {
        self.command.kind.text()
    }

    /// The message this part is threaded under: the first part of a reply only; the rest follow it.
    pub fn reply_to(&self) -> Option<&str> {
        match &self.command.kind {
            CommandKind::Reply { reply_to, .. } if self.index == 0 && !reply_to.is_empty() => {
                Some(reply_to)
            }
            _ => None,
        }
    }
}

/// Why a part was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Not delivered, and nothing refused it: the connection went away. Delivered again, first in
    /// line, once the delivery is ready.
    #[error("{0}")]
    Retry(String),
    /// The platform (or the network, or the source's own checks) said no: the command failed.
    #[error(transparent)]
    Failed(#[from] SourceError),
    /// It failed for a reason that may pass (a 5xx, a 429, no answer): a moderation command is
    /// tried again ([`MODERATION_ATTEMPTS`]); anything else failed.
    #[error(transparent)]
    Transient(SourceError),
    /// The platform took the request and refused the message with a reason code of its own
    /// (Twitch's chat `drop_reason`): the command failed, counted by `code`.
    #[error("{error}")]
    Dropped { code: String, error: SourceError },
    /// Failed the way an earlier command already failed and was reported (a missing scope, said
    /// once with its name): counted as failed, logged at debug level only.
    #[error(transparent)]
    Repeated(SourceError),
}

/// How a source carries out commands: its delivery seam.
pub trait Delivery: Send {
    /// Resolves when a part can be delivered: a live connection installed, the channel known.
    fn ready(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }

    /// The most characters one message may carry for `command` on this platform.
    fn max_chars(&self, command: &PlatformCommand) -> usize;

    /// Delivers one part; `Ok` once the platform acknowledged it (HTTP 2xx, or the line written).
    fn deliver<'a>(&'a mut self, part: &'a Part) -> BoxFuture<'a, Result<(), DeliveryError>>;

    /// The platform's own reference for the part just delivered, when it gives one worth keeping
    /// (YouTube's ban id, which lifting the ban needs): reported in the command's receipt.
    fn answer(&mut self) -> Option<String> {
        None
    }
}

/// Why [`Serving::serve_until`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// The deadline passed.
    Deadline,
    /// Told to stop.
    Stopped,
}

/// The serving loop's state for one source: its queue, the parts taken out of it, its pacing.
/// Lives as long as the source's runner.
pub struct Serving {
    commands: mpsc::Receiver<PlatformCommand>,
    closed: bool,
    pending: VecDeque<Part>,
    next_seq: u64,
    pacing: Pacing,
    stats: Arc<CommandStats>,
    receipts: Receipts,
}

impl Serving {
    pub fn new(
        commands: mpsc::Receiver<PlatformCommand>,
        pacing: Pacing,
        stats: Arc<CommandStats>,
    ) -> Serving {
        Serving {
            commands,
            closed: false,
            pending: VecDeque::new(),
            next_seq: 0,
            pacing,
            stats,
            receipts: Receipts::default(),
        }
    }

    /// Reports how commands that ask for it were settled to `receipts`.
    #[must_use]
    pub fn with_receipts(mut self, receipts: Receipts) -> Serving {
        self.receipts = receipts;
        self
    }

    /// Parts waiting for their turn.
    pub fn pending_parts(&self) -> usize {
        self.pending.len()
    }

    /// Serves until `stop` is cancelled.
    pub async fn run(
        &mut self,
        delivery: &mut dyn Delivery,
        track: &Track,
        stop: &CancellationToken,
    ) {
        self.serve(delivery, track, None, stop).await;
    }

    /// Serves until `deadline` (a part being delivered then is finished first) or `stop`.
    pub async fn serve_until(
        &mut self,
        delivery: &mut dyn Delivery,
        track: &Track,
        deadline: Instant,
        stop: &CancellationToken,
    ) -> Served {
        self.serve(delivery, track, Some(deadline), stop).await
    }

    async fn serve(
        &mut self,
        delivery: &mut dyn Delivery,
        track: &Track,
        deadline: Option<Instant>,
        stop: &CancellationToken,
    ) -> Served {
        let until = deadline.unwrap_or_else(Instant::now);
        loop {
            while self.has_room()
                && let Ok(command) = self.commands.try_recv()
            {
                self.push(command, delivery, track);
            }
            if self.pending.is_empty() {
                let received = tokio::select! {
                    biased;
                    () = stop.cancelled() => return Served::Stopped,
                    () = sleep_until(until), if deadline.is_some() => return Served::Deadline,
                    received = self.commands.recv(), if !self.closed => received,
                };
                match received {
                    Some(command) => self.push(command, delivery, track),
                    None => self.closed = true,
                }
                continue;
            }
            tokio::select! {
                biased;
                () = stop.cancelled() => return Served::Stopped,
                () = sleep_until(until), if deadline.is_some() => return Served::Deadline,
                () = delivery.ready() => {}
            }
            match self.pacing.try_acquire(Instant::now().into_std()) {
                Ok(()) => {
                    let part = self.pending.pop_front().expect("checked non-empty above");
                    let result = tokio::select! {
                        biased;
                        () = stop.cancelled() => {
                            self.pending.push_front(part);
                            return Served::Stopped;
                        }
                        result = delivery.deliver(&part) => result,
                    };
                    let answer = if result.is_ok() {
                        delivery.answer()
                    } else {
                        None
                    };
                    if !self.settle(part, result, answer, track, stop).await {
                        return Served::Stopped;
                    }
                }
                Err(free_at) => {
                    let free_at = free_at.map(Instant::from_std);
                    let take = self.has_room() && !self.closed;
                    tokio::select! {
                        biased;
                        () = stop.cancelled() => return Served::Stopped,
                        () = sleep_until(until), if deadline.is_some() => return Served::Deadline,
                        () = sleep_until(free_at.unwrap_or(until)), if free_at.is_some() => {}
                        () = self.pacing.changed() => {}
                        received = self.commands.recv(), if take => match received {
                            Some(command) => self.push(command, delivery, track),
                            None => self.closed = true,
                        },
                    }
                }
            }
        }
    }

    fn has_room(&self) -> bool {
        self.pending.len() < PENDING_PARTS
    }

    /// Splits a command taken from the queue into its parts.
    fn push(&mut self, command: PlatformCommand, delivery: &dyn Delivery, track: &Track) {
        let kinds = match command.kind.text() {
            Some(text) => {
                let pieces = split_message(text, delivery.max_chars(&command));
                if pieces.is_empty() {
                    self.stats.failed();
                    track.command_failed(
                        &command,
                        &SourceError::InvalidSettings(
                            "its text is blank (check the trigger's template)".into(),
                        ),
                    );
                    return;
                }
                pieces
                    .into_iter()
                    .map(|piece| command.kind.with_text(piece))
                    .collect()
            }
            None => vec![command.kind.clone()],
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let count = kinds.len();
        for (index, kind) in kinds.into_iter().enumerate() {
            self.pending.push_back(Part {
                command: PlatformCommand {
                    kind,
                    ..command.clone()
                },
                index,
                count,
                seq,
                attempts: 0,
            });
        }
    }

    /// Reports how a command that asked for it was settled.
    fn receipt(&self, command: &PlatformCommand, outcome: Outcome) {
        if !command.receipt {
            return;
        }
        let sent = self.receipts.send(Receipt {
            creator: command.creator.clone(),
            platform: command.platform,
            cause: command.cause.clone(),
            command: command.kind.name(),
            outcome,
            at: chrono::Utc::now(),
        });
        if !sent {
            self.stats.receipt_lost();
        }
    }

    /// Records what became of one part; false when told to stop while pausing before a retry.
    async fn settle(
        &mut self,
        mut part: Part,
        result: Result<(), DeliveryError>,
        answer: Option<String>,
        track: &Track,
        stop: &CancellationToken,
    ) -> bool {
        let result = match result {
            Err(DeliveryError::Transient(error))
                if part.command.kind.is_moderation() && part.attempts + 1 < MODERATION_ATTEMPTS =>
            {
                let pause = MODERATION_RETRY_BASE * 2u32.pow(part.attempts);
                part.attempts += 1;
                tracing::info!(
                    creator = %part.command.creator,
                    platform = %part.command.platform,
                    cause = %part.command.cause,
                    command = %part.command.kind.name(),
                    attempt = part.attempts + 1,
                    retry_in_ms = pause.as_millis() as u64,
                    "{}",
                    track.secrets.scrub(&format!("Moderation command failed ({error}); trying again."))
                );
                self.pending.push_front(part);
                return tokio::select! {
                    () = stop.cancelled() => false,
                    () = tokio::time::sleep(pause) => true,
                };
            }
            Err(DeliveryError::Transient(error)) => Err(DeliveryError::Failed(error)),
            other => other,
        };
        let command = &part.command;
        match result {
            Ok(()) => {
                if part.index + 1 == part.count {
                    self.receipt(command, Outcome::Sent { answer });
                    self.stats.sent();
                    tracing::debug!(
                        creator = %command.creator,
                        platform = %command.platform,
                        cause = %command.cause,
                        command = %command.kind.name(),
                        parts = part.count,
                        "Command sent."
                    );
                }
                true
            }
            Err(DeliveryError::Retry(why)) => {
                tracing::debug!(
                    creator = %command.creator,
                    platform = %command.platform,
                    cause = %command.cause,
                    command = %command.kind.name(),
                    why,
                    "Command not delivered; it goes first when the source is ready again."
                );
                self.pending.push_front(part);
                tokio::select! {
                    () = stop.cancelled() => false,
                    () = tokio::time::sleep(RETRY_PAUSE) => true,
                }
            }
            Err(DeliveryError::Failed(error) | DeliveryError::Transient(error)) => {
                self.stats.failed();
                track.command_failed(command, &error);
                let reason = track.secrets.scrub(&error.to_string());
                let reason = if part.attempts > 0 {
                    format!("{reason} (after {} attempts)", part.attempts + 1)
                } else {
                    reason
                };
                self.receipt(command, Outcome::Failed { reason });
                self.drop_rest(&part);
                true
            }
            Err(DeliveryError::Dropped { code, error }) => {
                self.stats.failed_because(&code);
                track.command_failed(command, &error);
                let reason = track.secrets.scrub(&error.to_string());
                self.receipt(command, Outcome::Failed { reason });
                self.drop_rest(&part);
                true
            }
            Err(DeliveryError::Repeated(error)) => {
                self.stats.failed();
                let reason = track.secrets.scrub(&error.to_string());
                self.receipt(command, Outcome::Failed { reason });
                tracing::debug!(
                    creator = %command.creator,
                    platform = %command.platform,
                    cause = %command.cause,
                    command = %command.kind.name(),
                    "Command not sent, as before: {error}"
                );
                self.drop_rest(&part);
                true
            }
        }
    }

    /// Drops the parts after a failed one: the rest of the command goes with it.
    fn drop_rest(&mut self, part: &Part) {
        while self.pending.front().is_some_and(|p| p.seq == part.seq) {
            self.pending.pop_front();
        }
    }

    /// Counts the commands still waiting (taken out or in the queue) as abandoned: the source
    /// stopped. Takes no more.
    pub fn abandon(&mut self, track: &Track) {
        let pending: Vec<Part> = self.pending.drain(..).collect();
        let mut abandoned = 0;
        let mut last_seq = None;
        for part in pending {
            if last_seq != Some(part.seq) {
                last_seq = Some(part.seq);
                abandoned += 1;
                self.receipt(&part.command, Outcome::Abandoned);
            }
        }
        self.commands.close();
        while let Ok(command) = self.commands.try_recv() {
            abandoned += 1;
            self.receipt(&command, Outcome::Abandoned);
        }
        if abandoned > 0 {
            self.stats.abandoned(abandoned);
            tracing::info!(
                creator = %track.creator,
                platform = %track.platform,
                abandoned,
                "Commands not sent: the source stopped."
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{CommandKind, CommandName};
    use crate::event::Platform;
    use crate::lanes::DataLane;
    use crate::sources::ratelimit::SlidingWindow;
    use crate::sources::runner::Wiring;
    use std::sync::Mutex;
    use tokio::sync::watch;

    /// When each part was delivered, what it carried, and what it was threaded under.
    type DeliveredLog = Arc<Mutex<Vec<(Instant, String, Option<String>)>>>;

    /// A delivery over a connection the test opens and drops: it waits for the connection, and a
    /// part it is handed while the connection is down is to be retried. Text `fail` is refused.
    struct Chat {
        connected: watch::Receiver<bool>,
        connection: watch::Sender<bool>,
        /// Set: the connection is lost under the next part.
        lose_next: Arc<std::sync::atomic::AtomicBool>,
        /// When each part was delivered, with what it carried.
        log: DeliveredLog,
        max_chars: usize,
        /// How many of the next deliveries fail for a passing reason (a 5xx).
        transient: Arc<std::sync::atomic::AtomicU32>,
    }

    impl Delivery for Chat {
        fn ready(&mut self) -> BoxFuture<'_, ()> {
            Box::pin(async move {
                let _ = self.connected.wait_for(|c| *c).await;
            })
        }

        fn max_chars(&self, _command: &PlatformCommand) -> usize {
            self.max_chars
        }

        fn deliver<'a>(&'a mut self, part: &'a Part) -> BoxFuture<'a, Result<(), DeliveryError>> {
            Box::pin(async move {
                if self
                    .lose_next
                    .swap(false, std::sync::atomic::Ordering::SeqCst)
                {
                    self.connection.send_replace(false);
                }
                if !*self.connected.borrow() {
                    return Err(DeliveryError::Retry("connection lost".into()));
                }
                if self
                    .transient
                    .fetch_update(
                        std::sync::atomic::Ordering::SeqCst,
                        std::sync::atomic::Ordering::SeqCst,
                        |n| n.checked_sub(1),
                    )
                    .is_ok()
                {
                    return Err(DeliveryError::Transient(SourceError::Other(
                        "HTTP 503".into(),
                    )));
                }
                let text = part.text().unwrap_or(part.command.kind.name().as_str());
                if text == "fail" {
                    return Err(DeliveryError::Failed(SourceError::Other("refused".into())));
                }
                self.log.lock().unwrap().push((
                    Instant::now(),
                    text.to_owned(),
                    part.reply_to().map(str::to_owned),
                ));
                Ok(())
            })
        }
    }

    struct Harness {
        queue: mpsc::Sender<PlatformCommand>,
        connection: watch::Sender<bool>,
        lose_next: Arc<std::sync::atomic::AtomicBool>,
        log: DeliveredLog,
        pacing: Pacing,
        stats: Arc<CommandStats>,
        stop: CancellationToken,
        task: tokio::task::JoinHandle<()>,
        t0: Instant,
        transient: Arc<std::sync::atomic::AtomicU32>,
        receipts: mpsc::Receiver<crate::command::receipts::Receipt>,
    }

    /// A serving loop of at most `limit` sends per 10 s (plus the window's 2% margin: 10.2 s),
    /// splitting at `max_chars`, over a connection that starts up.
    fn serve(limit: u32, max_chars: usize) -> Harness {
        let lane = DataLane::new(1, Duration::from_millis(1));
        let (queue, rx) = mpsc::channel(16);
        let wiring = Wiring::new("demo", Platform::named("sim"), lane.sink.clone(), rx);
        let stats = wiring.command_stats.clone();
        let track = wiring.track();
        let pacing = Pacing::new(SlidingWindow::new(limit, Duration::from_millis(10_200)));
        let (receipts_tx, receipts) = Receipts::channel();
        let mut serving =
            Serving::new(wiring.commands, pacing.clone(), stats.clone()).with_receipts(receipts_tx);
        let transient = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let (connection, connected) = watch::channel(true);
        let log = Arc::new(Mutex::new(Vec::new()));
        let lose_next = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut chat = Chat {
            connected,
            connection: connection.clone(),
            lose_next: lose_next.clone(),
            log: log.clone(),
            max_chars,
            transient: transient.clone(),
        };
        let stop = CancellationToken::new();
        let task = {
            let stop = stop.clone();
            tokio::spawn(async move {
                serving.run(&mut chat, &track, &stop).await;
                serving.abandon(&track);
            })
        };
        Harness {
            queue,
            connection,
            lose_next,
            log,
            pacing,
            stats,
            stop,
            task,
            t0: Instant::now(),
            transient,
            receipts,
        }
    }

    fn command(kind: CommandKind) -> PlatformCommand {
        PlatformCommand {
            creator: "demo".into(),
            platform: Platform::named("sim"),
            channel: "demo".into(),
            cause: "m-1".into(),
            kind,
            receipt: false,
        }
    }

    fn say(text: &str) -> PlatformCommand {
        command(CommandKind::Say { text: text.into() })
    }

    impl Harness {
        async fn send(&self, command: PlatformCommand) {
            // What the command sink does when it queues one.
            self.stats.queued();
            self.queue.send(command).await.unwrap();
        }

        /// (milliseconds after the start, text, threaded under) of every delivered part.
        fn delivered(&self) -> Vec<(u128, String, Option<String>)> {
            self.log
                .lock()
                .unwrap()
                .iter()
                .map(|(at, text, reply_to)| {
                    ((*at - self.t0).as_millis(), text.clone(), reply_to.clone())
                })
                .collect()
        }

        async fn stop(self) -> crate::command::stats::CommandsSnapshot {
            self.stop.cancel();
            self.task.await.unwrap();
            self.stats.snapshot()
        }
    }

    fn at(ms: u128, text: &str) -> (u128, String, Option<String>) {
        (ms, text.to_owned(), None)
    }

    #[tokio::test(start_paused = true)]
    async fn deliveries_keep_the_send_limit_and_long_text_is_split_with_only_its_first_part_threaded()
     {
        let chat = serve(2, 9);
        chat.send(command(CommandKind::Reply {
            text: "aaaa bbbb cccc dddd".into(),
            reply_to: "m-1".into(),
        }))
        .await;
        chat.send(say("next")).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(
            chat.delivered(),
            [
                (0, "aaaa bbbb".to_owned(), Some("m-1".to_owned())),
                at(0, "cccc dddd"),
                at(10_200, "next"),
            ]
        );
        let stats = chat.stop().await;
        assert_eq!((stats.queued, stats.sent, stats.pending), (2, 2, 0));
    }

    /// A moderation command that meets passing failures is tried again after 1, 2 and 4 s, and
    /// its receipt says sent; one that fails every attempt is reported failed for good, with the
    /// count. A chat message is not tried again.
    #[tokio::test(start_paused = true)]
    async fn moderation_commands_are_retried_through_passing_failures_and_report_receipts() {
        use crate::command::receipts::Outcome;
        let mut chat = serve(100, 100);
        let timeout = |cause: &str| PlatformCommand {
            cause: cause.into(),
            receipt: true,
            ..command(CommandKind::Timeout {
                user: crate::command::TargetUser {
                    id: "42".into(),
                    login: "loud".into(),
                },
                seconds: 60,
                reason: None,
            })
        };
        chat.transient.store(2, std::sync::atomic::Ordering::SeqCst);
        chat.send(timeout("m-1")).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        // Delivered on the third attempt, after pauses of 1 and 2 s.
        assert_eq!(chat.delivered(), [at(3_000, "timeout")]);
        let receipt = chat.receipts.recv().await.unwrap();
        assert_eq!(
            (receipt.cause.as_str(), receipt.outcome),
            ("m-1", Outcome::Sent { answer: None })
        );

        chat.transient
            .store(10, std::sync::atomic::Ordering::SeqCst);
        chat.send(timeout("m-2")).await;
        tokio::time::sleep(Duration::from_secs(20)).await;
        let receipt = chat.receipts.recv().await.unwrap();
        assert_eq!(receipt.cause, "m-2");
        assert_eq!(
            receipt.outcome,
            Outcome::Failed {
                reason: "HTTP 503 (after 4 attempts)".into()
            }
        );
        // Four attempts in all, then no more.
        assert_eq!(
            chat.transient.load(std::sync::atomic::Ordering::SeqCst),
            10 - MODERATION_ATTEMPTS
        );

        chat.transient.store(1, std::sync::atomic::Ordering::SeqCst);
        chat.send(say("hello")).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(
            chat.delivered().len(),
            1,
            "a chat message is not tried again"
        );
        let stats = chat.stop().await;
        assert_eq!((stats.sent, stats.failed), (1, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_reconnect_keeps_the_queue_and_the_window() {
        let chat = serve(2, 100);
        for text in ["one", "two", "three", "four"] {
            chat.send(say(text)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        // The connection drops and comes back at once: the window still holds the first two sends.
        chat.connection.send_replace(false);
        tokio::time::sleep(Duration::from_secs(1)).await;
        chat.connection.send_replace(true);
        tokio::time::sleep(Duration::from_secs(8)).await;
        assert_eq!(chat.delivered(), [at(0, "one"), at(0, "two")]);
        // Down when the window frees: the parts wait, in order, for the next connection.
        chat.connection.send_replace(false);
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert_eq!(chat.delivered().len(), 2);
        chat.connection.send_replace(true);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            chat.delivered(),
            [
                at(0, "one"),
                at(0, "two"),
                at(30_000, "three"),
                at(30_000, "four")
            ]
        );
        let stats = chat.stop().await;
        assert_eq!((stats.sent, stats.failed, stats.pending), (4, 0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_part_lost_with_the_connection_goes_first_on_the_next_one() {
        let chat = serve(10, 100);
        chat.lose_next
            .store(true, std::sync::atomic::Ordering::SeqCst);
        chat.send(say("first")).await;
        chat.send(say("second")).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(chat.delivered().is_empty());
        chat.connection.send_replace(true);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let texts: Vec<String> = chat.delivered().into_iter().map(|d| d.1).collect();
        assert_eq!(texts, ["first", "second"]);
        chat.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_part_fails_its_command_and_the_next_goes_on() {
        let chat = serve(10, 100);
        chat.send(say("fail")).await;
        chat.send(say("   ")).await;
        chat.send(command(CommandKind::DeleteMessage {
            message_id: "m-9".into(),
        }))
        .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            chat.delivered(),
            [at(0, CommandName::DeleteMessage.as_str())]
        );
        let stats = chat.stop().await;
        assert_eq!((stats.queued, stats.sent, stats.failed), (3, 1, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn raising_the_limit_wakes_the_loop_and_what_is_left_at_stop_is_abandoned() {
        let chat = serve(1, 100);
        for text in ["one", "two", "three", "four"] {
            chat.send(say(text)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(chat.delivered(), [at(0, "one")]);
        // The bot became a moderator: the privileged limit applies at once.
        chat.pacing.set_limit(2);
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(chat.delivered(), [at(0, "one"), at(1_000, "two")]);
        let stats = chat.stop().await;
        assert_eq!(
            (stats.queued, stats.sent, stats.abandoned, stats.pending),
            (4, 2, 2, 0),
            "the totals add up"
        );
    }
}
