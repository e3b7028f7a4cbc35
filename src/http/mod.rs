//! The runtime's one local HTTP server (`system.http`): health, the snapshot, and the live feed.
//!
//! [`feed`] holds what `/events` streams; [`server`] is the router and the access rule; [`pages`]
//! serves the live chat pages (`/overlay`, `/chat`) and the control page (`/control`); [`api`] is
//! the control API (`/api/v1/`), a thin layer over [`crate::control`]. Platforms add routes of their own (Kick's
//! `POST /webhooks/kick`, authenticated by Kick's signature, not the token) through the platform
//! registry; `ss run` merges them and starts the server when `system.http.enabled`.

pub mod api;
pub mod feed;
pub mod pages;
pub mod server;

pub use feed::Feed;
