//! The runtime's one local HTTP server (`system.http`): health, the snapshot, and the live feed.
//!
//! [`feed`] holds what `/events` streams; [`server`] is the router and the access rule; [`pages`]
//! serves the live chat pages (`/overlay`, `/chat`); [`kick_webhook`] is `POST /webhooks/kick`
//! (authenticated by Kick's signature, not the token). `ss run` starts it when
//! `system.http.enabled`.

pub mod feed;
pub mod kick_webhook;
pub mod pages;
pub mod server;

pub use feed::Feed;
