//! Chat sources: one contract that every platform implements.
//!
//! A source receives a [`SourceContext`] (creator, settings, shutdown signal, event sink, outbound
//! receiver, status handle) and runs until shutdown. It owns its own reconnect loop with capped,
//! jittered backoff ([`backoff::Backoff`]); when it returns an error anyway, the supervisor restarts it
//! after a backoff of its own. Transport and parsing are separate in every source, so parsers are pure
//! functions tested on raw wire samples.

pub mod backoff;
pub mod ratelimit;
pub mod sim;
pub mod status;
pub mod twitch;

use crate::config::model::{Endpoints, SendLimit};
use crate::config::secrets::Secrets;
use crate::event::Platform;
use crate::pipeline::lanes::EventSink;
use std::future::Future;
use std::pin::Pin;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use status::{ConnectionState, SourceStatus, StatusHandle};

/// Capacity of each source's outbound (reply) queue. When full, the executor drops the reply and
/// counts it: a reply minutes late is worse than none.
pub const OUTBOUND_CAPACITY: usize = 256;

/// A message the runtime wants a source to send into chat.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutboundMessage {
    /// The channel to send to (as the source names it).
    pub channel: String,
    pub text: String,
    /// The platform message id this replies to, when the platform supports threaded replies.
    pub reply_to: Option<String>,
}

/// Everything a running source needs from the runtime.
pub struct SourceContext {
    pub creator: String,
    pub platform: Platform,
    /// Cancelled on shutdown; every wait in a source selects on it.
    pub shutdown: CancellationToken,
    /// Where normalized events go (the data lane).
    pub events: EventSink,
    /// Replies the executor routes to this source. Kept across restarts of the source.
    pub outbound: mpsc::Receiver<OutboundMessage>,
    /// Connection state, last event time and errors, read by the exporter.
    pub status: StatusHandle,
    pub secrets: Secrets,
    /// Endpoint overrides from platforms.json (tests point these at loopback servers).
    pub endpoints: Endpoints,
    pub send_limit: SendLimit,
}

/// Why a source stopped before shutdown.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A required secret is not set; retrying cannot help until the operator sets it.
    #[error("missing credentials: environment variable {0} is not set")]
    MissingCredentials(String),
    /// The platform refused the login; retried only after a long backoff.
    #[error("login failed: {0}")]
    LoginFailed(String),
    /// The settings cannot work (bad channel name, bad URL, ...).
    #[error("invalid settings: {0}")]
    InvalidSettings(String),
    /// Anything else; the supervisor restarts the source after a backoff.
    #[error("{0}")]
    Other(String),
}

impl SourceError {
    /// Errors the supervisor should not retry.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            SourceError::MissingCredentials(_) | SourceError::InvalidSettings(_)
        )
    }
}

/// A boxed future, so sources of different platforms fit in one supervisor.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The contract every platform implements.
pub trait Source: Send {
    /// Runs until `ctx.shutdown` is cancelled (then returns `Ok`) or a failure it cannot recover from.
    fn run<'a>(&'a mut self, ctx: &'a mut SourceContext) -> BoxFuture<'a, Result<(), SourceError>>;
}
