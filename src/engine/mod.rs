//! The evaluation core: dedupe, then moderation, then triggers. The one implementation `ss run`
//! uses, and what `ss replay` feeds recorded chat through.
//!
//! It owns the dedupe window, the compiled filters and triggers and their state (strikes, permits,
//! cooldowns, counts), and nothing with effects: what to record and where actions go is the
//! caller's business. A message that moderation acts on for real does not reach the triggers. Its
//! only clocks are the events' own timestamps and the ticks the caller feeds it, so the same events
//! and ticks in the same order give the same actions every time.

pub mod dedupe;

use crate::actions::Action;
use crate::actions::community::LinkEntry;
use crate::actions::moderation::StrikeRecord;
use crate::event::{ChatEvent, Platform, Tick};
use crate::triggers::moderation::{self, ModerationRegistry, ModerationState};
use crate::triggers::people::People;
use crate::triggers::{self, Registry, TriggerState};
use dedupe::Dedupe;

pub struct Core {
    dedupe: Dedupe,
    registry: Registry,
    state: TriggerState,
    moderation: ModerationRegistry,
    moderation_state: ModerationState,
}

impl Core {
    /// A core over `registry` that remembers the last `dedupe_window` message ids.
    pub fn new(registry: Registry, dedupe_window: usize) -> Core {
        Core {
            dedupe: Dedupe::new(dedupe_window),
            state: TriggerState::new(&registry),
            registry,
            moderation: ModerationRegistry::default(),
            moderation_state: ModerationState::default(),
        }
    }

    /// The same core with these filters.
    #[must_use]
    pub fn with_moderation(mut self, moderation: ModerationRegistry) -> Core {
        self.moderation = moderation;
        self
    }

    /// Starts from the strikes the store kept, so a restart does not forgive a spammer.
    pub fn seed_strikes(&mut self, strikes: impl IntoIterator<Item = StrikeRecord>) {
        self.moderation_state.seed(strikes);
    }

    /// Remembers ids already accepted before this core started (the store's most recent ones), so a
    /// platform re-delivering them after a restart does not fire triggers again.
    pub fn remember(&mut self, keys: impl IntoIterator<Item = (Platform, String)>) {
        for (platform, id) in keys {
            self.dedupe.first_seen(platform, &id);
        }
    }

    /// `None` for a duplicate; else the actions `event` fires (often none).
    pub fn evaluate(&mut self, event: &ChatEvent) -> Option<Vec<Action>> {
        if !self.dedupe.first_seen(event.platform, &event.message_id) {
            return None;
        }
        let verdict = moderation::evaluate(event, &self.moderation, &mut self.moderation_state);
        if verdict.stop_triggers {
            return Some(verdict.actions);
        }
        let actions = triggers::evaluate(event, &self.registry, &mut self.state);
        if verdict.actions.is_empty() {
            return Some(actions);
        }
        let mut all = verdict.actions;
        all.extend(actions);
        Some(all)
    }

    /// The actions `tick` fires (often none). A tick that fires none changed nothing, so the caller
    /// need not record it (see [`triggers::evaluate_tick`]).
    pub fn tick(&mut self, tick: &Tick) -> Vec<Action> {
        // The tick rule, checked in every debug build (tests, the end-to-end runs): a state copy a
        // second is cheap there, and a tick handler that broke the rule would fail loudly.
        #[cfg(debug_assertions)]
        let before = self.state.clone();
        let actions = triggers::evaluate_tick(tick, &self.registry, &mut self.state);
        #[cfg(debug_assertions)]
        assert!(
            !actions.is_empty() || self.state == before,
            "the tick rule: tick {} fired no action but changed the trigger state",
            tick.id()
        );
        actions
    }

    /// New triggers; cooldowns and counts start fresh, the dedupe window and the links are kept
    /// (link codes are not).
    pub fn replace_triggers(&mut self, registry: Registry) {
        let people = std::mem::take(&mut self.state.people).without_codes();
        self.state = TriggerState::new(&registry);
        self.state.people = people;
        self.registry = registry;
    }

    /// New filters, as at an applied reload: permits and first messages start fresh; strikes and
    /// the dedupe window are kept.
    pub fn replace_moderation(&mut self, moderation: ModerationRegistry) {
        self.moderation = moderation;
        self.moderation_state.restart();
    }

    /// The same triggers with fresh cooldowns and counts, as after a run start or a reload (a
    /// replay crossing a recorded run mark); moderation's per-run state starts fresh too, while
    /// strikes, the dedupe window and the links are kept (link codes are not).
    pub fn restart(&mut self) {
        let people = std::mem::take(&mut self.state.people).without_codes();
        self.state = TriggerState::new(&self.registry);
        self.state.people = people;
        self.moderation_state.restart();
    }

    /// Takes up the state a shard snapshot carries for its creators (their strikes, recent message
    /// ids and links) beside what this core holds of other creators; the rest of their trigger
    /// state starts fresh, as at a restart.
    pub fn take_over(
        &mut self,
        strikes: impl IntoIterator<Item = StrikeRecord>,
        recent_keys: impl IntoIterator<Item = (Platform, String)>,
        links: impl IntoIterator<Item = LinkEntry>,
    ) {
        self.seed_strikes(strikes);
        self.remember(recent_keys);
        self.state.people.add_links(links);
    }

    /// The linked accounts as the store holds them (`ss run` at its start, `ss replay` at each run
    /// mark): who is one person across platforms. Pending link codes are forgotten.
    pub fn set_links(&mut self, links: impl IntoIterator<Item = LinkEntry>) {
        self.state.people = People::from_links(links);
    }
}
