//! Twitch EventSub over WebSocket.

pub mod events;
pub mod frames;
