//! The per-item work of the run loop: each item of the data lane through the [`Core`], recorded,
//! its actions routed ([`Pipeline::process`]), and the loop that drains the lane in batches and
//! applies config reloads between them ([`drain`]).
//!
//! What commits together: a chat event with the writes of its actions; a polled page's events with
//! their actions and the page's cursor; a tick with the actions it fired (a tick that fired nothing
//! is not recorded: the tick rule). The groups of one batch taken from the lane are sent to the
//! store writer as one group, in lane order, so the writer's order is the pipeline's and a batch
//! costs one send, not one per event.

use super::counters::RunCounters;
use crate::actions::{Action, ActionKind};
use crate::config::Config;
use crate::effects::router::Router;
use crate::engine::Core;
use crate::event::{ChatEvent, Tick};
use crate::lanes::{Inbound, LaneReceiver, ShardState, StreamItem};
use crate::store::bus_cursors::BusCursor;
use crate::store::shard_state::Imported;
use crate::store::{
    Checkpoint, RunMark, RunMarkKind, ShardImport, StoreError, StoreWriter, WriteOp,
};
use crate::telemetry::Telemetry;
use crate::triggers::Registry;
use crate::triggers::moderation::ModerationRegistry;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Items taken from the data lane per batch.
const BATCH: usize = 512;

/// The per-event work: the core, the chat log, the router.
pub(super) struct Pipeline {
    pub core: Core,
    pub chat_log: bool,
    pub writer: StoreWriter,
    pub router: Router,
    pub counters: Arc<RunCounters>,
    /// Reused between events so the hot path does not allocate a vector per event.
    pub ops: Vec<WriteOp>,
    /// The writes of the lane batch being processed, sent as one group at its end
    /// ([`Pipeline::send_pending`]); empty between batches.
    pub pending: Vec<WriteOp>,
    /// Chat events whose writes the writer refused because it had stopped (counted, not lost
    /// silently).
    pub unsent_events: u64,
    /// The live feed of the HTTP server's `/events`, when it runs.
    pub feed: Option<crate::http::Feed>,
    /// Chat trends, when on (system.json `trends`).
    pub trends: Option<Trends>,
    /// Counted once per batch taken from the lane: what a service manager's watchdog watches.
    pub turns: crate::systemd::LoopTurns,
}

/// The run's chat trends: counted per accepted message, published (to `/events` and the exporter)
/// at most every [`crate::trends::PUBLISH_EVERY`], checked at each tick.
pub(super) struct Trends {
    counts: crate::trends::ChatTrends,
    shared: crate::trends::SharedTrends,
    /// When the last snapshot went out (tokio's clock, so a test can pause it).
    published: Option<Instant>,
}

impl Trends {
    pub fn new(config: &Config, shared: crate::trends::SharedTrends) -> Trends {
        Trends {
            counts: crate::trends::ChatTrends::new(mention_names(config)),
            shared,
            published: None,
        }
    }

    fn publish_if_due(&mut self, feed: Option<&crate::http::Feed>) {
        if self
            .published
            .is_none_or(|at| at.elapsed() >= crate::trends::PUBLISH_EVERY)
        {
            self.publish(feed);
        }
    }

    /// Publishes a snapshot now (the last one of a run, so the final export has every message).
    /// Nothing goes out before the first chat message.
    fn publish(&mut self, feed: Option<&crate::http::Feed>) {
        let snapshot = self.counts.snapshot(chrono::Utc::now());
        if snapshot.creators.is_empty() {
            return;
        }
        self.published = Some(Instant::now());
        if let Some(feed) = feed {
            feed.publish("trends", &snapshot);
        }
        *self
            .shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(snapshot);
    }
}

/// The names that mention each creator in chat: their id, display name (spaces dropped) and the
/// channels their platform blocks name.
fn mention_names(config: &Config) -> std::collections::HashMap<String, Vec<String>> {
    config
        .creators
        .creators
        .iter()
        .map(|c| {
            let mut names = vec![c.id.clone(), c.display_name.replace(' ', "")];
            for (platform, block) in c.platforms.iter() {
                if let Some(channel) =
                    crate::config::platform::config_of(platform).and_then(|p| p.channel(block))
                {
                    names.push(channel);
                }
            }
            (c.id.clone(), names)
        })
        .collect()
}

impl Pipeline {
    /// Processes one item and sends its writes at once (what a batch of one does).
    #[cfg(test)]
    async fn process(&mut self, item: Inbound) -> Result<(), StoreError> {
        self.stage(item);
        self.send_pending().await
    }

    /// Processes one item: its writes join [`Pipeline::pending`], as one group.
    fn stage(&mut self, item: Inbound) {
        match item {
            Inbound::Event(event) => {
                self.evaluate(event);
                self.pending.append(&mut self.ops);
            }
            Inbound::Page(page) => {
                let checkpoint = WriteOp::Checkpoint(Box::new(Checkpoint {
                    creator: page.creator,
                    platform: page.platform,
                    cursor: page.cursor,
                    at: chrono::Utc::now(),
                }));
                self.stage_with_cursor(page.events.into_iter().map(StreamItem::Event), checkpoint);
            }
            Inbound::Shard(batch) => {
                let cursor = WriteOp::BusCursor(Box::new(BusCursor {
                    stream: batch.stream,
                    shard: batch.shard,
                    seq: batch.last_seq,
                    at_ms: chrono::Utc::now().timestamp_millis(),
                }));
                self.stage_with_cursor(batch.items, cursor);
            }
            Inbound::ShardState(state) => {
                // Loaded between batches by the run loop ([`Pipeline::load_shard_state`]).
                let _ = state.done.send(Err(
                    "a shard's state reached the pipeline outside the run loop".into(),
                ));
            }
            Inbound::Tick(tick) => {
                if self.tick(tick) {
                    // The tick and its actions commit together: a replay never sees one without
                    // the other.
                    self.pending
                        .push(WriteOp::Atomic(std::mem::take(&mut self.ops)));
                }
            }
        }
    }

    /// The engine's tick rule for one tick; its writes are appended to `self.ops`. A tick that
    /// fired nothing changed nothing, so it is not recorded (false).
    fn tick(&mut self, tick: Tick) -> bool {
        if let Some(trends) = &mut self.trends {
            trends.publish_if_due(self.feed.as_ref());
        }
        let actions = self.core.tick(&tick);
        if actions.is_empty() {
            return false;
        }
        tracing::debug!(
            cause = %tick.id(),
            actions = actions.len(),
            "A tick fired actions; recording it with them."
        );
        self.ops.push(WriteOp::Tick(tick));
        self.route(actions, None);
        true
    }

    /// Loads a shard's state from a snapshot (an evaluator taking the shard): after the writes
    /// staged so far, the store imports it alone, then the core takes up the shard's creators'
    /// strikes, recent ids and links. The reader waiting on `done` learns the outcome.
    async fn load_shard_state(&mut self, state: ShardState) -> Result<(), StoreError> {
        self.send_pending().await?;
        let ShardState {
            stream,
            shard,
            snapshot,
            in_shard,
            strikes,
            recent_keys,
            links,
            done,
        } = state;
        let (imported, outcome) = tokio::sync::oneshot::channel();
        self.writer
            .send(WriteOp::ImportShard(Box::new(ShardImport {
                snapshot,
                stream,
                shard,
                at_ms: chrono::Utc::now().timestamp_millis(),
                in_shard,
                done: imported,
            })))
            .await?;
        let outcome = outcome
            .await
            .unwrap_or_else(|_| Err("the store writer stopped".into()));
        if let Ok(Imported::Loaded(_)) = outcome {
            self.core.take_over(strikes, recent_keys, links);
        }
        let _ = done.send(outcome);
        Ok(())
    }

    /// Sends the pending writes to the store writer as one group (they commit together); what
    /// cannot be sent because the writer stopped is counted in `unsent_events`.
    async fn send_pending(&mut self) -> Result<(), StoreError> {
        let op = match self.pending.len() {
            0 => return Ok(()),
            1 => self.pending.pop().expect("one pending op"),
            // The next batch's list is made at this one's size at once, not grown by doubling.
            n => WriteOp::Atomic(std::mem::replace(&mut self.pending, Vec::with_capacity(n))),
        };
        let events = op.events();
        self.writer.send(op).await.inspect_err(|_| {
            self.unsent_events += events;
        })
    }

    /// Items that travel with the point their reader resumes from (a polled page and its
    /// checkpoint, a shard's batch of events and ticks and its stream cursor): evaluated in order,
    /// then staged with `cursor` as one group, so they commit together and a restart resumes
    /// exactly after what was committed.
    fn stage_with_cursor(&mut self, items: impl IntoIterator<Item = StreamItem>, cursor: WriteOp) {
        for item in items {
            match item {
                StreamItem::Event(event) => self.evaluate(event),
                StreamItem::Tick(tick) => {
                    self.tick(tick);
                }
                // A clip ingest made, as it moves: recorded under the id this fold gave it.
                StreamItem::Clip(change) => self.ops.push(WriteOp::ClipState(change)),
            }
        }
        self.ops.push(cursor);
        self.pending
            .push(WriteOp::Atomic(std::mem::take(&mut self.ops)));
    }

    /// Dedupe and triggers for one event; its writes are appended to `self.ops`.
    fn evaluate(&mut self, event: ChatEvent) {
        RunCounters::add(&self.counters.events_received, 1);
        let Some(actions) = self.core.evaluate(&event) else {
            RunCounters::add(&self.counters.duplicates_skipped, 1);
            return;
        };
        if let Some(feed) = &self.feed {
            feed.publish("chat", &event);
        }
        if let Some(trends) = &mut self.trends {
            trends.counts.observe(&event);
        }
        // Only an extension call takes the event along (its request carries it).
        let cause = actions
            .iter()
            .any(|a| matches!(a.kind, ActionKind::Extension { .. }))
            .then(|| event.clone());
        if self.chat_log {
            self.ops.push(WriteOp::ChatEvent(Box::new(event)));
        }
        self.route(actions, cause.as_ref());
    }

    /// What an extension answered for a call (actions caused by the call's event), recorded and
    /// routed together in one write.
    pub(super) async fn answered(&mut self, actions: Vec<Action>) -> Result<(), StoreError> {
        self.route(actions, None);
        self.writer
            .send(WriteOp::Atomic(std::mem::take(&mut self.ops)))
            .await
    }

    /// Publishes, counts and routes the actions of one event or tick (`cause`: the event); their
    /// writes are appended to `self.ops`.
    fn route(&mut self, actions: Vec<Action>, cause: Option<&ChatEvent>) {
        if let Some(feed) = &self.feed {
            for action in &actions {
                feed.publish("action", action);
            }
        }
        RunCounters::add(&self.counters.triggers_matched, actions.len() as u64);
        for action in actions {
            self.counters.count_action(action.kind.type_name());
            // What became of a command is counted by the command sink (`commands`).
            self.router.route(action, cause, &mut self.ops);
        }
    }

    /// Applies a reloaded config: new triggers (cooldowns start fresh), new filters (strikes
    /// stay) and the chat log setting. The fresh start is marked in the store, after every event
    /// before it, for `ss replay`.
    async fn reload(&mut self, config: &Config, telemetry: &Telemetry) -> Result<(), StoreError> {
        let registry = match Registry::compile(&config.triggers) {
            Ok(registry) => registry,
            Err(e) => {
                telemetry.error("config_rejected", "triggers", e.to_string());
                return Ok(());
            }
        };
        let moderation = match ModerationRegistry::compile(&config.moderation) {
            Ok(moderation) => moderation,
            Err(e) => {
                telemetry.error("config_rejected", "moderation", e.to_string());
                return Ok(());
            }
        };
        self.core.replace_triggers(registry);
        self.core.replace_moderation(moderation);
        self.chat_log = config.system.chat_log.enabled;
        self.writer.send(run_mark(RunMarkKind::Reload)).await?;
        Ok(())
    }
}

/// A mark that trigger state starts afresh after the events recorded so far.
pub(super) fn run_mark(kind: RunMarkKind) -> WriteOp {
    WriteOp::RunMark(RunMark {
        kind,
        at: chrono::Utc::now(),
    })
}

/// Drains the data lane until it closes, applying config reloads between batches; operators'
/// commands (`operator`) are taken between batches too.
pub(super) async fn drain(
    receiver: &mut LaneReceiver,
    pipeline: &mut Pipeline,
    reloads: &mut watch::Receiver<Arc<Config>>,
    operator: &mut mpsc::Receiver<ChatEvent>,
    answers: &mut mpsc::Receiver<Vec<Action>>,
    telemetry: &Telemetry,
) -> Result<(), StoreError> {
    let mut batch = Vec::with_capacity(BATCH);
    let started_with = reloads.borrow_and_update().clone();
    loop {
        if reloads.has_changed().unwrap_or(false) {
            let next = reloads.borrow_and_update().clone();
            if next.creators != started_with.creators || next.platforms != started_with.platforms {
                tracing::warn!(
                    "creators.json or platforms.json changed: restart `ss run` to apply source changes."
                );
            }
            if next.extensions != started_with.extensions {
                tracing::warn!(
                    "extensions.json changed: restart `ss run` to start the extensions as declared now."
                );
            }
            pipeline.reload(&next, telemetry).await?;
        }
        // Extensions' answers first (few, bounded by the calls in flight, and late ones are worth
        // nothing), then the lane; an operator's command (the control API) between batches. The
        // loop ends when the lane closes, whatever operators and extensions still hold.
        tokio::select! {
            biased;
            Some(actions) = answers.recv() => {
                pipeline.answered(actions).await?;
                continue;
            }
            received = receiver.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    // The lane closed: the run's last trends go out, for the final export.
                    if let Some(trends) = &mut pipeline.trends {
                        trends.publish(pipeline.feed.as_ref());
                    }
                    return Ok(());
                }
            }
            Some(event) = operator.recv() => batch.push(Inbound::Event(event)),
        }
        for item in batch.drain(..) {
            match item {
                Inbound::ShardState(state) => pipeline.load_shard_state(state).await?,
                item => pipeline.stage(item),
            }
        }
        pipeline.send_pending().await?;
        pipeline.turns.turned();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::TriggersConfig;
    use crate::effects::sinks::{
        ClipSink, CommandQueues, CommandSink, CommunitySink, ModerationSink, ObsSink, OutboxSink,
        StandingsSink, ValidationSink,
    };
    use crate::event::{Author, Platform, Tick};
    use crate::lanes::Page;
    use crate::store::{StoreReader, db_path};
    use chrono::{TimeZone, Utc};
    use tokio::sync::Notify;

    /// A pipeline over a fresh store, with a `!ping` trigger and chat polls for creator `demo`.
    fn pipeline(root: &std::path::Path) -> Pipeline {
        let config: TriggersConfig = serde_json::from_value(serde_json::json!({
            "triggers": {"demo": [{"id": "ping", "kind": "command", "command": "!ping",
                                   "action": {"type": "reply", "template": "pong"}}]},
            "polls": {"demo": {}}
        }))
        .unwrap();
        let registry = Registry::compile(&config).unwrap();
        let commands = CommandQueues::new(Default::default(), Arc::default(), Telemetry::default());
        Pipeline {
            core: Core::new(registry, 1024),
            chat_log: true,
            writer: StoreWriter::spawn(&db_path(root), 64).unwrap(),
            router: Router {
                commands: CommandSink::new(commands.clone()),
                moderation: ModerationSink::new(commands.clone()),
                clips: ClipSink::new(Arc::new(Notify::new()), Arc::new(Notify::new())),
                community: CommunitySink::default(),
                outbox: OutboxSink,
                validation: ValidationSink::new(Default::default()),
                standings: StandingsSink::new(None, commands),
                obs: ObsSink::new(crate::obs::Obs::default(), Telemetry::default()),
                extensions: crate::effects::sinks::ExtensionSink::default(),
            },
            counters: Arc::default(),
            ops: Vec::new(),
            pending: Vec::new(),
            unsent_events: 0,
            feed: None,
            trends: None,
            turns: Default::default(),
        }
    }

    fn message(id: &str, at_s: i64, text: &str, moderator: bool) -> ChatEvent {
        let mut author = Author::viewer("ann");
        author.roles.moderator = moderator;
        ChatEvent::message(
            Platform::named("sim"),
            "demo",
            id,
            Utc.timestamp_opt(1_700_000_000 + at_s, 0).unwrap(),
            author,
            text,
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_page_commits_its_events_and_its_cursor_and_a_duplicate_is_counted_not_recorded() {
        let root = tempfile::tempdir().unwrap();
        let mut p = pipeline(root.path());
        let page = Page {
            creator: "demo".into(),
            platform: Platform::named("sim"),
            events: vec![
                message("a", 0, "hi", false),
                message("b", 1, "!ping", false),
            ],
            cursor: "after-b".into(),
        };
        p.process(Inbound::Page(page)).await.unwrap();
        p.process(Inbound::Event(message("a", 0, "hi", false)))
            .await
            .unwrap();
        p.writer.flush().await.unwrap();
        let store = StoreReader::open(&db_path(root.path())).unwrap();
        assert_eq!(store.chat_event_count().unwrap(), 2);
        let checkpoint = store
            .checkpoint("demo", Platform::named("sim"))
            .unwrap()
            .unwrap();
        assert_eq!(checkpoint.cursor, "after-b");
        assert_eq!(store.recorded_actions().unwrap().len(), 1, "the pong");
        assert_eq!(
            p.counters
                .duplicates_skipped
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(
            p.counters
                .events_received
                .load(std::sync::atomic::Ordering::Relaxed),
            3
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tick_is_recorded_only_with_the_actions_it_fires() {
        let root = tempfile::tempdir().unwrap();
        let mut p = pipeline(root.path());
        let at = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap();
        p.process(Inbound::Event(message(
            "open",
            0,
            "!poll open snack? | chips | nuts 30s",
            true,
        )))
        .await
        .unwrap();
        p.process(Inbound::Tick(Tick::new("demo", at(10))))
            .await
            .unwrap();
        p.process(Inbound::Tick(Tick::new("demo", at(31))))
            .await
            .unwrap();
        p.writer.flush().await.unwrap();
        let store = StoreReader::open(&db_path(root.path())).unwrap();
        let ticks = store.recorded_ticks(0, i64::MAX).unwrap();
        assert_eq!(
            ticks.len(),
            1,
            "the quiet tick at 10 s left no trace: {ticks:?}"
        );
        assert_eq!(ticks[0].tick.at, at(31));
        let by_tick: Vec<&str> = store
            .recorded_actions()
            .unwrap()
            .iter()
            .filter(|a| a.message_id == ticks[0].tick.id())
            .map(|a| a.kind.type_name())
            .collect();
        assert_eq!(
            by_tick,
            ["poll_close", "reply"],
            "the close and its results, caused by the tick"
        );
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn trends_go_to_the_feed_at_most_every_five_seconds_with_what_chat_said() {
        let root = tempfile::tempdir().unwrap();
        let mut p = pipeline(root.path());
        let feed = crate::http::Feed::new();
        let shared = crate::trends::SharedTrends::default();
        p.feed = Some(feed.clone());
        p.trends = Some(Trends::new(&Config::default(), shared.clone()));
        let now = Utc::now();
        for (i, text) in ["hype hype", "more hype", "hello"].iter().enumerate() {
            let mut event = message(&format!("m{i}"), 0, text, false);
            event.timestamp = now;
            p.process(Inbound::Event(event)).await.unwrap();
        }
        // Twelve ticks a second apart: snapshots at 0 s, 5 s and 10 s only.
        for s in 0..12 {
            p.process(Inbound::Tick(Tick::new(
                "demo",
                now + chrono::Duration::seconds(s),
            )))
            .await
            .unwrap();
            tokio::time::advance(std::time::Duration::from_secs(1)).await;
        }
        let trends: Vec<serde_json::Value> = feed
            .subscribe(Some(0))
            .0
            .items
            .iter()
            .filter(|item| item.kind == "trends")
            .map(|item| serde_json::from_str(&item.json).unwrap())
            .collect();
        assert_eq!(trends.len(), 3, "every 5 s, not every tick: {trends:?}");
        let window = &trends[0]["creators"][0]["windows"][0];
        assert_eq!(window["messages"], 3, "{window}");
        assert_eq!(window["top_words"][0]["text"], "hype", "{window}");
        assert!(shared.lock().unwrap().is_some(), "the exporter's copy too");
    }
}
