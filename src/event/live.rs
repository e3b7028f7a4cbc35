//! [`LiveStream`]: one live stream as a source observed it, the fact go-live posts are made of.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One live stream, as a source observed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveStream {
    /// The platform's own id of this stream (a broadcast, livestream or live chat id): stable across
    /// reconnects and restarts, new for the next stream.
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub title: Option<String>,
    pub url: Option<String>,
}
