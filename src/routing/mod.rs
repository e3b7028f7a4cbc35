//! Routing: where a notification goes. The store stores, routing decides.
//!
//! Whatever causes a notification (a trigger's `notify` action, a poll closing, a clip published,
//! a stream going live, a runtime event) asks routing what it becomes, and writes the outbox rows
//! routing hands back in the same store write as its cause: the actions' sinks in the action's op,
//! the clip job in the clip's `published` state change, the go-live watcher in one atomic group.
//! The store keeps each row's destination as data and knows none by name; each destination's
//! sender (`crate::notify`) drains its own rows.
//!
//! - [`rules`]: what a notification becomes, per destination (target, payload, once-only key,
//!   cause), from posting.json and discord.json.
//! - [`discord`]: which guild channels a Discord row reaches, decided when it is sent.
//!
//! Destinations: Discord (guild channels), X (one timeline), and posting.json's webhooks (a row per
//! webhook, its target the webhook's name).
//!
//! A new destination is a [`Destination`] variant, its rule in [`rules`] and its sender
//! (`crate::notify::drain::Sender`).

pub mod discord;
pub mod rules;

pub use rules::{Origin, PublishedClip};

use crate::config::Config;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::watch;

/// Where a notification goes: a destination with its own settings and sender, not a chat platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Destination {
    Discord,
    X,
    /// A posting.json webhook; the row's target names which.
    Webhook,
}

impl Destination {
    /// The name the store keeps in each row's `destination`.
    pub fn as_str(self) -> &'static str {
        match self {
            Destination::Discord => "discord",
            Destination::X => "x",
            Destination::Webhook => "webhook",
        }
    }
}

/// The rules as the running config has them now: a hot reload of posting.json or discord.json
/// applies to the next notification.
#[derive(Debug, Clone)]
pub struct Routing {
    config: watch::Receiver<Arc<Config>>,
}

impl Routing {
    /// Routing that follows the run's config.
    pub fn new(config: watch::Receiver<Arc<Config>>) -> Routing {
        Routing { config }
    }

    /// Routing by one fixed config (`ss clip --now`, tests).
    pub fn fixed(config: Arc<Config>) -> Routing {
        // A receiver keeps the last value after its sender is gone.
        let (_sender, config) = watch::channel(config);
        Routing { config }
    }

    /// A giveaway draw's rows ([`rules::giveaway_winners`]).
    pub fn giveaway_winners(
        &self,
        origin: &Origin,
        platform: crate::event::Platform,
        post: &rules::GiveawayPost<'_>,
    ) -> Vec<crate::store::NewOutbox> {
        rules::giveaway_winners(Some(&self.config.borrow()), origin, platform, post)
    }

    /// A published clip's rows ([`rules::clip_published`]).
    pub fn clip_published(&self, published: &PublishedClip<'_>) -> Vec<crate::store::NewOutbox> {
        rules::clip_published(&self.config.borrow(), published)
    }
}
