//! The clock of `ss run`: a tick per creator about once a second, through the data lane.
//!
//! Triggers need time that passes without chat (a poll's deadline today; timers and giveaways
//! later). The events' own timestamps cannot give it in a silent chat, so one task sends every
//! creator with a running source a [`Tick`] each [`TICK_INTERVAL`], stamped with the wall clock in
//! whole milliseconds. Ticks go through the same lane as events, so the run loop meets them in order
//! with the chat; a full lane drops a tick at once and counts it (`lanes.data.ticks_dropped` in
//! `runtime_snapshot.json`), and the next tick a second later does its work.
//!
//! What the run loop does with a tick is the engine's tick rule (see
//! [`crate::triggers::evaluate_tick`]): a tick that fires no action changed nothing and is
//! forgotten; a tick that fires actions is recorded with them in one transaction
//! (`store::ticks`), so `ss replay` feeds the engine the same ticks at the same places.
//!
//! The clock holds no strong sender of the lane ([`TickSink`]): when the last source stops the lane
//! still closes, and the clock stops with it (or at shutdown, whichever comes first).
//!
//! Each tick says whether its creator is live ([`creator_live`]), read from their sources'
//! statuses at that second: timers and watch-time points run only while live.

use super::supervisor::SourcePlan;
use crate::event::{Platform, Tick};
use crate::lanes::{SendOutcome, TickSink};
use crate::sources::{ConnectionState, SourceStatus, StatusHandle};
use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often each creator's clock ticks.
pub const TICK_INTERVAL: Duration = Duration::from_secs(1);

/// The creators with a running source, each once: the ones whose clock ticks (a creator whose
/// sources are all skipped has no chat, and nothing of theirs can come due).
pub fn creators(plans: &[SourcePlan]) -> Vec<String> {
    let mut creators: Vec<String> = Vec::new();
    for plan in plans.iter().filter(|p| p.skipped.is_none()) {
        if !creators.contains(&plan.creator) {
            creators.push(plan.creator.clone());
        }
    }
    creators
}

/// Whether a creator whose sources report `statuses` is live: when any source knows (a go-live
/// poller, a platform's stream events), live if one says live; when none knows, live while a source
/// is connected (its chat is on, which is all the runtime can tell).
pub fn creator_live(statuses: &[SourceStatus]) -> bool {
    let known: Vec<bool> = statuses
        .iter()
        .filter_map(|s| s.live.as_ref().map(|l| l.live))
        .collect();
    if known.is_empty() {
        statuses
            .iter()
            .any(|s| s.state == ConnectionState::Connected)
    } else {
        known.contains(&true)
    }
}

/// One creator's clock: who, and the statuses that say whether they are live.
pub struct Ticking {
    pub creator: String,
    pub statuses: Vec<StatusHandle>,
}

/// The creators to tick with their sources' statuses (`statuses` from the supervisor and the
/// platforms' services).
pub fn ticking(
    creators: Vec<String>,
    statuses: &[(String, Platform, StatusHandle)],
) -> Vec<Ticking> {
    creators
        .into_iter()
        .map(|creator| Ticking {
            statuses: statuses
                .iter()
                .filter(|(c, _, _)| *c == creator)
                .map(|(_, _, h)| h.clone())
                .collect(),
            creator,
        })
        .collect()
}

/// Starts the clock for `creators` on `tasks`; it ends at `shutdown` or when the lane closes.
pub fn spawn(
    creators: Vec<Ticking>,
    ticks: TickSink,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
) {
    if creators.is_empty() {
        return;
    }
    tasks.spawn(run(creators, ticks, shutdown, Utc::now));
}

/// Ticks every creator each [`TICK_INTERVAL`] at the time `now` gives, until `shutdown` or until
/// the lane is closed. A late wake-up (a busy machine) skips the missed ticks instead of sending a
/// burst: the next tick's time covers them.
async fn run(
    creators: Vec<Ticking>,
    ticks: TickSink,
    shutdown: CancellationToken,
    now: impl Fn() -> DateTime<Utc>,
) {
    let mut interval = tokio::time::interval(TICK_INTERVAL);
    interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        let at = now();
        for creator in &creators {
            let statuses: Vec<SourceStatus> = creator
                .statuses
                .iter()
                .map(StatusHandle::snapshot)
                .collect();
            let tick = Tick::new(&creator.creator, at).with_live(creator_live(&statuses));
            if ticks.send(tick) == SendOutcome::Closed {
                tracing::debug!("The data lane closed; the clock stops.");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lanes::{DataLane, Inbound};

    fn start_ms() -> i64 {
        1_700_000_000_000
    }

    /// A wall clock that follows tokio's (paused) clock from a fixed start.
    fn paused_wall_clock() -> impl Fn() -> DateTime<Utc> {
        let origin = tokio::time::Instant::now();
        move || {
            let elapsed = i64::try_from(origin.elapsed().as_millis()).unwrap();
            DateTime::from_timestamp_millis(start_ms() + elapsed).unwrap()
        }
    }

    #[test]
    fn creators_with_a_running_source_tick_once_each() {
        use crate::config::model::PlatformMode;
        use crate::event::Platform;
        let plan = |creator: &str, platform, skipped: Option<&str>| SourcePlan {
            creator: creator.into(),
            platform,
            mode: PlatformMode::Active,
            skipped: skipped.map(Into::into),
        };
        let plans = [
            plan("ann", Platform::named("twitch"), None),
            plan("ann", Platform::named("kick"), None),
            plan("bob", Platform::named("twitch"), Some("creator disabled")),
            plan(
                "cat",
                Platform::named("sim"),
                Some("platform mode is paused"),
            ),
            plan("cat", Platform::named("kick"), None),
        ];
        assert_eq!(creators(&plans), ["ann", "cat"]);
    }

    #[test]
    fn a_creator_is_live_when_a_source_says_so_else_while_a_chat_is_connected() {
        use crate::event::LiveStream;
        let status = |state, live: Option<bool>| {
            let handle = StatusHandle::new();
            handle.set_state(state);
            if let Some(live) = live {
                handle.set_live(live.then(|| LiveStream {
                    id: "s1".into(),
                    started_at: Utc::now(),
                    title: None,
                    url: None,
                }));
            }
            handle.snapshot()
        };
        use ConnectionState::{Backoff, Connected};
        assert!(
            creator_live(&[status(Connected, None)]),
            "nobody knows: the chat is on"
        );
        assert!(!creator_live(&[status(Backoff, None)]));
        assert!(!creator_live(&[]));
        assert!(
            !creator_live(&[status(Connected, None), status(Connected, Some(false))]),
            "a go-live poller says offline"
        );
        assert!(creator_live(&[
            status(Connected, Some(false)),
            status(Backoff, Some(true))
        ]));
    }

    #[tokio::test(start_paused = true)]
    async fn every_creator_ticks_once_a_second_in_order() {
        let lane = DataLane::new(64, Duration::from_millis(250));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(
            ticking(vec!["ann".into(), "bob".into()], &[]),
            lane.sink.ticks(),
            shutdown.clone(),
            paused_wall_clock(),
        ));
        let mut rx = lane.receiver;
        let mut seen = Vec::new();
        while seen.len() < 6 {
            match rx.recv().await {
                Some(Inbound::Tick(tick)) => {
                    seen.push((tick.creator.to_string(), tick.at_ms() - start_ms()));
                }
                other => panic!("{other:?}"),
            }
        }
        let expected: Vec<(String, i64)> = [0, 1_000, 2_000]
            .iter()
            .flat_map(|ms| [("ann".to_string(), *ms), ("bob".to_string(), *ms)])
            .collect();
        assert_eq!(seen, expected);
        shutdown.cancel();
        task.await.unwrap();
        drop(lane.sink);
        assert!(rx.recv().await.is_none(), "nothing after shutdown");
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_lane_drops_ticks_and_a_late_wake_sends_no_burst() {
        let lane = DataLane::new(1, Duration::from_millis(250));
        let probe = lane.probe();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(
            ticking(vec!["demo".into()], &[]),
            lane.sink.ticks(),
            shutdown.clone(),
            paused_wall_clock(),
        ));
        // Nobody reads for 5.5 s: the first tick fills the lane, the next five are dropped.
        tokio::time::sleep(Duration::from_millis(5_500)).await;
        let snap = probe.snapshot();
        assert_eq!((snap.ticks_sent, snap.ticks_dropped), (1, 5));
        let mut rx = lane.receiver;
        let Some(Inbound::Tick(first)) = rx.recv().await else {
            panic!("the first tick")
        };
        assert_eq!(first.at_ms(), start_ms());
        let Some(Inbound::Tick(next)) = rx.recv().await else {
            panic!("the next tick")
        };
        assert_eq!(
            next.at_ms(),
            start_ms() + 6_000,
            "the next second, no backlog"
        );
        shutdown.cancel();
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn the_clock_stops_when_the_last_source_has_stopped() {
        let DataLane { sink, receiver, .. } = DataLane::new(8, Duration::from_millis(250));
        let task = tokio::spawn(run(
            ticking(vec!["demo".into()], &[]),
            sink.ticks(),
            CancellationToken::new(),
            paused_wall_clock(),
        ));
        let mut rx = receiver;
        assert!(matches!(rx.recv().await, Some(Inbound::Tick(_))));
        drop(sink);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the clock stops by itself")
            .unwrap();
        while rx.recv().await.is_some() {}
    }
}
