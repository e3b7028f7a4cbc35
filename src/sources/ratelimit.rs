//! A sliding-window send rate limiter: at most `limit` sends in any window of `window`.
//!
//! Platforms count messages over a rolling window (Twitch: 20 per 30 s, 100 when the bot moderates
//! the channel), and a bot that exceeds it is muted for a long time, so the limiter remembers the
//! instant of every send still inside the window rather than refilling a token bucket: a burst can
//! never exceed the platform's own count. The limiter is pure (callers pass `now`), so it is tested
//! with exact instants, and it lives as long as the source, so reconnects do not reset it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Added to a platform's window (in percent of it) by [`SlidingWindow::for_send_limit`].
pub const WINDOW_MARGIN_PERCENT: u32 = 2;

/// Remembers recent sends and says when the next one is allowed.
#[derive(Debug, Clone)]
pub struct SlidingWindow {
    limit: u32,
    window: Duration,
    /// Instants of sends inside the window, oldest first. Never longer than the largest limit set,
    /// because a send is only recorded when fewer than `limit` sends are inside the window.
    sent: VecDeque<Instant>,
}

impl SlidingWindow {
    /// The limiter for a platform's send limit (`messages` per `per_s`), its window widened by
    /// [`WINDOW_MARGIN_PERCENT`]: the platform counts messages when they arrive, so the margin
    /// keeps network jitter from letting one message too many land inside its window.
    pub fn for_send_limit(limit: &crate::config::model::SendLimit) -> SlidingWindow {
        let per = Duration::try_from_secs_f64(limit.per_s)
            .ok()
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_secs(30));
        SlidingWindow::new(limit.messages, per + per * WINDOW_MARGIN_PERCENT / 100)
    }

    /// At most `limit` sends per `window`. A limit of 0 allows nothing.
    pub fn new(limit: u32, window: Duration) -> SlidingWindow {
        SlidingWindow {
            limit,
            window,
            sent: VecDeque::new(),
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Changes the limit (e.g. when the bot gains or loses moderator status). Sends already made
    /// still count: lowering the limit below the sends in the window waits until enough expire.
    pub fn set_limit(&mut self, limit: u32) {
        self.limit = limit;
    }

    /// The earliest instant at which a send is allowed: `now` or earlier when one is allowed right
    /// away, `None` when the limit is 0.
    pub fn ready_at(&self, now: Instant) -> Option<Instant> {
        let limit = usize::try_from(self.limit).ok().filter(|&l| l > 0)?;
        let in_window = self
            .sent
            .iter()
            .rev()
            .take_while(|&&at| now.saturating_duration_since(at) < self.window)
            .count();
        if in_window < limit {
            return Some(now);
        }
        // The `limit`-th most recent send must leave the window first.
        let blocking = self.sent[self.sent.len() - limit];
        Some(blocking + self.window)
    }

    /// Records a send at `now` when one is allowed; otherwise returns when to try again.
    pub fn try_acquire(&mut self, now: Instant) -> Result<(), Option<Instant>> {
        self.forget_before(now);
        match self.ready_at(now) {
            Some(at) if at <= now => {
                self.sent.push_back(now);
                Ok(())
            }
            later => Err(later),
        }
    }

    /// Sends inside the window ending at `now`.
    pub fn in_window(&self, now: Instant) -> usize {
        self.sent
            .iter()
            .filter(|&&at| now.saturating_duration_since(at) < self.window)
            .count()
    }

    fn forget_before(&mut self, now: Instant) {
        while let Some(&oldest) = self.sent.front() {
            if now.saturating_duration_since(oldest) >= self.window {
                self.sent.pop_front();
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(30);

    #[test]
    fn allows_the_limit_then_waits_for_the_oldest_to_leave_the_window() {
        let t0 = Instant::now();
        let mut limiter = SlidingWindow::new(20, W);
        for i in 0..20 {
            let now = t0 + Duration::from_millis(i * 100);
            assert_eq!(limiter.try_acquire(now), Ok(()), "send {i}");
        }
        let now = t0 + Duration::from_secs(5);
        assert_eq!(limiter.try_acquire(now), Err(Some(t0 + W)));
        assert_eq!(
            limiter.try_acquire(t0 + W - Duration::from_nanos(1)),
            Err(Some(t0 + W))
        );
        assert_eq!(limiter.try_acquire(t0 + W), Ok(()));
        // The second send of the burst is next to expire.
        assert_eq!(
            limiter.ready_at(t0 + W),
            Some(t0 + Duration::from_millis(100) + W)
        );
    }

    #[test]
    fn no_window_ever_holds_more_than_the_limit() {
        // Greedy sending at every 7 ms tick for just under 3 windows, then count every window.
        let t0 = Instant::now();
        let window = Duration::from_secs(1);
        let mut limiter = SlidingWindow::new(5, window);
        let mut sends = vec![];
        for tick in 0..428u64 {
            let now = t0 + Duration::from_millis(tick * 7);
            if limiter.try_acquire(now).is_ok() {
                sends.push(now);
            }
        }
        assert_eq!(sends.len(), 15, "5 per window over 3 windows");
        for (i, &start) in sends.iter().enumerate() {
            let inside = sends[i..].iter().filter(|&&s| s - start < window).count();
            assert!(inside <= 5, "window from send {i} holds {inside}");
        }
    }

    #[test]
    fn lowering_the_limit_counts_sends_already_made() {
        let t0 = Instant::now();
        let mut limiter = SlidingWindow::new(100, W);
        for i in 0..30 {
            limiter
                .try_acquire(t0 + Duration::from_millis(i))
                .expect("under the privileged limit");
        }
        limiter.set_limit(20);
        let now = t0 + Duration::from_secs(1);
        assert_eq!(limiter.in_window(now), 30);
        // 30 sends inside; the 20th most recent (send #10 at t0+10ms) must expire first.
        assert_eq!(
            limiter.try_acquire(now),
            Err(Some(t0 + Duration::from_millis(10) + W))
        );
    }

    #[test]
    fn zero_limit_never_allows() {
        let mut limiter = SlidingWindow::new(0, W);
        assert_eq!(limiter.try_acquire(Instant::now()), Err(None));
    }
}
