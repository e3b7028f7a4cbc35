//! Where a finished clip goes, and the link it is published with.
//!
//! `local` keeps the file in the output directory (linked under `public_url_base` when set), `http`
//! uploads it ([`http`]), `twitch` asks Twitch to make a platform clip instead ([`twitch`]; no FFmpeg).
//! The destination is the creator's `clips.destination`, else system.json's
//! `clips.default_destination`. Rumble offers no public upload API, so there is no Rumble destination.

pub mod http;
pub mod local;
pub mod twitch;

/// The kinds of destination, by their config names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationKind {
    Local,
    Http,
    Twitch,
}

impl DestinationKind {
    pub const NAMES: [&'static str; 3] = ["local", "http", "twitch"];

    pub fn from_name(name: &str) -> Option<DestinationKind> {
        match name {
            "local" => Some(DestinationKind::Local),
            "http" => Some(DestinationKind::Http),
            "twitch" => Some(DestinationKind::Twitch),
            _ => None,
        }
    }

    /// Whether the clip is cut from the replay buffer by FFmpeg first.
    pub fn needs_file(self) -> bool {
        self != DestinationKind::Twitch
    }
}

/// The links a published clip carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub url: String,
    pub thumbnail_url: Option<String>,
}
