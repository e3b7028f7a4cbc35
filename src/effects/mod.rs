//! Effects: what actions do once they leave the pure engine.
//!
//! The engine only describes effects ([`crate::actions::Action`], plain data); the [`router`] hands
//! each to the sink of its kind ([`sinks`]), which records it (through the store writes it returns)
//! and performs or queues the effect. A new effect is one sink module and one arm of
//! [`router::Router::route`]. Kept apart from the descriptors so the store can record actions
//! without knowing the sinks that write to it.

pub mod router;
pub mod sinks;
