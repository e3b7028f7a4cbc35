//! The pacing of one source's commands: its platform's send limit as a [`SlidingWindow`], behind a
//! handle shared by the serving loop (which takes a slot before each delivery) and the session
//! (which may change the limit at runtime: Twitch raises it while the bot moderates the channel).
//!
//! The window belongs to the source's run, not to a connection, so a reconnect can never be used to
//! send faster than the limit. A change of limit wakes a serving loop waiting for a slot.

use crate::config::model::SendLimit;
use crate::sources::ratelimit::SlidingWindow;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Notify;

/// A cheap, cloneable handle on one source's send window.
#[derive(Debug, Clone)]
pub struct Pacing {
    window: Arc<Mutex<SlidingWindow>>,
    changed: Arc<Notify>,
}

impl Pacing {
    /// The window of a platform's send limit ([`SlidingWindow::for_send_limit`]).
    pub fn for_send_limit(limit: &SendLimit) -> Pacing {
        Pacing::new(SlidingWindow::for_send_limit(limit))
    }

    pub fn new(window: SlidingWindow) -> Pacing {
        Pacing {
            window: Arc::new(Mutex::new(window)),
            changed: Arc::new(Notify::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlidingWindow> {
        self.window.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets how many sends the window allows (sends already made still count).
    pub fn set_limit(&self, limit: u32) {
        let changed = {
            let mut window = self.lock();
            let changed = window.limit() != limit;
            window.set_limit(limit);
            changed
        };
        if changed {
            self.changed.notify_waiters();
        }
    }

    pub fn limit(&self) -> u32 {
        self.lock().limit()
    }

    /// Takes a slot at `now`, or says when one frees up (`None`: the limit is 0, never).
    pub fn try_acquire(&self, now: Instant) -> Result<(), Option<Instant>> {
        self.lock().try_acquire(now)
    }

    /// Sends inside the window ending at `now`.
    pub fn in_window(&self, now: Instant) -> usize {
        self.lock().in_window(now)
    }

    /// Resolves at the next change of limit.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}
