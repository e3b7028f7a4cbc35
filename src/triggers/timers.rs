//! Timers: a message posted every N seconds while the creator is live, only into a chat that talked.
//!
//! A timer's slots are fixed on the engine's clock: slot `k` starts at `offset_s + k × every_s`
//! seconds since 1970, so two timers with the same period and different offsets never post
//! together, and a replay computes the same slots. The first chat message a timer counts starts
//! it (its first slot is the next one). A timer posts at the first tick of a slot it has not posted
//! in, when the tick says the creator is live and at least `min_messages` chat messages
//! came (on the timer's platforms) since its last post; a quiet chat keeps it waiting, and the first
//! tick after enough messages posts it (still once per slot). It posts on each of its platforms
//! whose channel the engine has seen a message from (a tick carries no channel).
//!
//! Messages are counted, and channels remembered, as events come; a tick only reads them, and
//! changes the timer's state only when it posts (the tick rule, see [`super::evaluate_tick`]).

use super::cause::Cause;
use crate::actions::{Action, ActionKind};
use crate::config::model::{TimerAction, TimerDef};
use crate::event::{ChatEvent, CompactString, EventKind, Platform, PlatformSet, Tick};

/// One timer, ready to run.
#[derive(Debug)]
pub struct CompiledTimer {
    pub def: TimerDef,
    /// Index into [`TimerBook`]'s per-timer state.
    pub slot: usize,
    platforms: PlatformSet,
    every_ms: i64,
    offset_ms: i64,
}

impl CompiledTimer {
    pub fn new(def: TimerDef, slot: usize) -> CompiledTimer {
        let platforms = if def.platforms.is_empty() {
            PlatformSet::ALL
        } else {
            def.platforms.iter().copied().collect()
        };
        CompiledTimer {
            every_ms: i64::from(def.every_s.max(1)) * 1000,
            offset_ms: i64::from(def.offset_s) * 1000,
            def,
            slot,
            platforms,
        }
    }

    /// The slot `at_ms` falls in.
    fn slot_at(&self, at_ms: i64) -> i64 {
        (at_ms - self.offset_ms).div_euclid(self.every_ms)
    }
}

/// Per timer: the slot it last posted in, messages since, posts so far.
#[derive(Debug, Clone, Default, PartialEq)]
struct TimerState {
    posted_slot: Option<i64>,
    messages: u64,
    posts: u64,
}

/// Every timer's state, and the channel last seen per (creator, platform).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimerBook {
    timers: Vec<TimerState>,
    /// A few entries (creators × platforms), read for every message: a list beats hashing.
    channels: Vec<((CompactString, Platform), CompactString)>,
}

impl TimerBook {
    pub fn new(timers: usize) -> TimerBook {
        TimerBook {
            timers: vec![TimerState::default(); timers],
            channels: Vec::new(),
        }
    }
}

/// Counts a chat message for the creator's timers on its platform, and remembers its channel.
pub fn observe(event: &ChatEvent, timers: &[CompiledTimer], book: &mut TimerBook) {
    if timers.is_empty() {
        return;
    }
    match book
        .channels
        .iter_mut()
        .find(|((creator, platform), _)| *platform == event.platform && *creator == event.creator)
    {
        Some((_, channel)) if *channel == event.channel => {}
        Some((_, channel)) => *channel = event.channel.clone(),
        None => book.channels.push((
            (event.creator.clone(), event.platform),
            event.channel.clone(),
        )),
    }
    if event.kind != EventKind::Message {
        return;
    }
    for timer in timers {
        if timer.def.enabled && timer.platforms.contains(event.platform) {
            let state = &mut book.timers[timer.slot];
            state.messages += 1;
            // The first message starts the timer: its first post is at the next slot's start, so
            // timers with different offsets stay apart from the first post on.
            state
                .posted_slot
                .get_or_insert_with(|| timer.slot_at(event.timestamp_ms()));
        }
    }
}

/// Posts the timers whose slot has come, at a tick of their creator.
pub fn on_tick(tick: &Tick, timers: &[CompiledTimer], book: &mut TimerBook, out: &mut Vec<Action>) {
    if !tick.live {
        return;
    }
    let now = tick.at_ms();
    for timer in timers.iter().filter(|t| t.def.enabled) {
        let slot = timer.slot_at(now);
        let state = &book.timers[timer.slot];
        if state.posted_slot.is_some_and(|posted| posted >= slot)
            || state.messages < u64::from(timer.def.min_messages)
        {
            continue;
        }
        let mut targets: Vec<(Platform, CompactString)> = book
            .channels
            .iter()
            .filter(|((creator, platform), _)| {
                *creator == tick.creator && timer.platforms.contains(*platform)
            })
            .map(|((_, platform), channel)| (*platform, channel.clone()))
            .collect();
        if targets.is_empty() {
            continue;
        }
        targets.sort();
        let state = &mut book.timers[timer.slot];
        state.posted_slot = Some(slot);
        state.messages = 0;
        state.posts += 1;
        let count = state.posts;
        let posts = match &timer.def.action {
            // One Discord post, attributed to the first platform.
            TimerAction::Notify { .. } => &targets[..1],
            _ => &targets[..],
        };
        for (platform, channel) in posts {
            let cause = Cause::tick(tick, *platform, channel);
            let text = fill(timer.def.action.template(), *platform, count);
            let kind = match &timer.def.action {
                TimerAction::Say { .. } => ActionKind::Say {
                    channel: channel.to_string(),
                    text,
                },
                TimerAction::Announce { .. } => ActionKind::Announce {
                    channel: channel.to_string(),
                    text,
                },
                TimerAction::Notify { channel, .. } => ActionKind::Notify {
                    channel: channel.clone(),
                    text,
                },
                TimerAction::Extension { name, input } => ActionKind::Extension {
                    channel: channel.to_string(),
                    name: name.clone(),
                    input: input.clone(),
                },
            };
            out.push(cause.action(&timer.def.id, kind));
        }
    }
}

/// A timer's template with `{platform}` and `{count}` filled in; anything else verbatim.
fn fill(template: &str, platform: Platform, count: u64) -> String {
    template
        .replace("{platform}", platform.as_str())
        .replace("{count}", itoa::Buffer::new().format(count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Author;
    use chrono::DateTime;

    /// 40 s into a 120 s slot.
    const T0: i64 = 1_700_000_080_000;

    fn timer(every_s: u32, offset_s: u32, min_messages: u32) -> CompiledTimer {
        CompiledTimer::new(
            serde_json::from_value(serde_json::json!({
                "id": "socials", "every_s": every_s, "offset_s": offset_s,
                "min_messages": min_messages,
                "action": {"type": "say", "template": "Follow us on {platform}! (#{count})"}
            }))
            .unwrap(),
            0,
        )
    }

    fn chat(ms: i64) -> ChatEvent {
        ChatEvent::message(
            Platform::named("twitch"),
            "demo",
            &format!("m{ms}"),
            DateTime::from_timestamp_millis(ms).unwrap(),
            Author::viewer("ann"),
            "hello",
        )
    }

    fn tick(ms: i64, live: bool) -> Tick {
        Tick::new("demo", DateTime::from_timestamp_millis(ms).unwrap()).with_live(live)
    }

    /// Runs `seconds` of ticks (one a second) with a chat message every `message_every_s`
    /// seconds; returns the seconds at which the timer posted.
    fn simulate(timer: &CompiledTimer, seconds: i64, message_every_s: Option<i64>) -> Vec<i64> {
        let mut book = TimerBook::new(1);
        let timers = std::slice::from_ref(timer);
        let mut posted = Vec::new();
        for s in 0..seconds {
            let ms = T0 + s * 1000;
            if message_every_s.is_some_and(|every| s % every == 0) {
                observe(&chat(ms + 500), timers, &mut book);
            }
            let before = book.clone();
            let mut out = Vec::new();
            on_tick(&tick(ms + 999, true), timers, &mut book, &mut out);
            if out.is_empty() {
                assert_eq!(book, before, "the tick rule: no post, no change");
            } else {
                posted.push(s);
            }
        }
        posted
    }

    #[test]
    fn every_two_minutes_with_five_messages_posts_on_schedule_in_busy_chat_and_never_in_a_quiet_one()
     {
        let timer = timer(120, 0, 5);
        // T0 is 40 s into a 120 s slot: slots start at s = 80, 200, 320, ...
        assert_eq!((T0 / 1000 + 80) % 120, 0);
        // A message every 10 s: twelve per slot. The first message starts the timer in the slot
        // it falls in, so the first post is at the next slot's start (s = 80), then one at each
        // slot's start.
        let busy = simulate(&timer, 600, Some(10));
        assert_eq!(busy, [80, 200, 320, 440, 560], "{busy:?}");
        // Four messages in ten minutes: silence.
        assert!(simulate(&timer, 600, Some(150)).is_empty());
        assert!(simulate(&timer, 600, None).is_empty());
    }

    #[test]
    fn offsets_spread_timers_and_nothing_posts_while_offline() {
        let a = simulate(&timer(60, 0, 0), 200, Some(5));
        let b = simulate(&timer(60, 30, 0), 200, Some(5));
        // T0 is 40 s into a minute: slots start at 20, 80, 140 (offset 0) and 50, 110, 170 (30).
        assert_eq!(
            (a.as_slice(), b.as_slice()),
            ([20, 80, 140].as_slice(), [50, 110, 170].as_slice())
        );
        let mut book = TimerBook::new(1);
        let timers = [timer(60, 0, 0)];
        observe(&chat(T0), &timers, &mut book);
        let mut out = Vec::new();
        on_tick(&tick(T0 + 120_000, false), &timers, &mut book, &mut out);
        assert!(out.is_empty(), "offline");
        on_tick(&tick(T0 + 120_000, true), &timers, &mut book, &mut out);
        let ActionKind::Say { channel, text } = &out[0].kind else {
            panic!("{out:?}")
        };
        assert_eq!(
            (channel.as_str(), text.as_str()),
            ("demo", "Follow us on twitch! (#1)")
        );
        assert!(out[0].message_id.starts_with("tick:demo:") && !out[0].thread);
    }

    #[test]
    fn a_timer_calls_an_extension_on_each_of_its_platforms_with_the_tick_as_cause() {
        let timer = CompiledTimer::new(
            serde_json::from_value(serde_json::json!({
                "id": "fact", "every_s": 60,
                "action": {"type": "extension", "name": "facts", "input": {"topic": "space"}}
            }))
            .unwrap(),
            0,
        );
        let timers = [timer];
        let mut book = TimerBook::new(1);
        observe(&chat(T0), &timers, &mut book);
        let mut out = Vec::new();
        on_tick(&tick(T0 + 60_000, true), &timers, &mut book, &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        let ActionKind::Extension {
            channel,
            name,
            input,
        } = &out[0].kind
        else {
            panic!("{out:?}")
        };
        assert_eq!((channel.as_str(), name.as_str()), ("demo", "facts"));
        assert_eq!(input["topic"], "space");
        assert!(out[0].message_id.starts_with("tick:demo:"), "{:?}", out[0]);
    }
}
