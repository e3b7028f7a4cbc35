//! The runtime's one local HTTP server (`system.http`): health, the snapshot, and the live feed.
//!
//! [`feed`] holds what `/events` streams; [`server`] is the router and the access rule; [`pages`]
//! serves the live chat pages (`/overlay`, `/chat`). `ss run`
//! starts it when `system.http.enabled`; later routes (Kick webhooks, the overlay and chat pages) are
//! added to the same router.

pub mod feed;
pub mod pages;
pub mod server;

pub use feed::Feed;
