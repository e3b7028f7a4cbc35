//! The Identify budget: how many new sessions the bot may still start, and when.
//!
//! Discord allows 1000 Identify calls per bot per 24 hours (`session_start_limit` of
//! `GET /gateway/bot`); reaching the cap ends every session *and resets the bot token*. It also
//! allows only `max_concurrency` Identify calls per 5 seconds. So the bot resumes whenever it can
//! (a Resume costs nothing), identifies only when it must, waits for the 5-second window, refuses
//! to identify with nothing left (it waits for the reset instead), and reports a budget near its
//! end before it runs out ([`IdentifyGate::near_end`]).

use super::wire::SessionStartLimit;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// The window `max_concurrency` applies to.
pub const CONCURRENCY_WINDOW: Duration = Duration::from_secs(5);

/// When the next Identify may go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Now.
    Now,
    /// After this instant (the 5-second window is full).
    After(Instant),
    /// The day's budget is spent; it resets at this instant.
    Exhausted(Instant),
}

/// The budget as last reported by Discord, with the Identify calls made since.
#[derive(Debug, Clone, Default)]
pub struct IdentifyGate {
    limit: Option<(SessionStartLimit, Instant)>,
    recent: VecDeque<Instant>,
}

impl IdentifyGate {
    /// Discord's latest numbers, read at `now`.
    pub fn update(&mut self, limit: SessionStartLimit, now: Instant) {
        self.limit = Some((limit, now));
    }

    /// The latest numbers (with the calls made since they were read).
    pub fn limit(&self) -> Option<SessionStartLimit> {
        self.limit.map(|(l, _)| l)
    }

    /// Whether an Identify may go out at `now`.
    pub fn admit(&self, now: Instant) -> Admit {
        let (max_concurrency, remaining, reset_at) = match self.limit {
            Some((l, read_at)) => (
                l.max_concurrency.max(1) as usize,
                l.remaining,
                read_at + Duration::from_millis(l.reset_after),
            ),
            None => (1, 1, now),
        };
        if remaining == 0 && reset_at > now {
            return Admit::Exhausted(reset_at);
        }
        let in_window = self
            .recent
            .iter()
            .filter(|t| now.saturating_duration_since(**t) < CONCURRENCY_WINDOW)
            .count();
        if in_window >= max_concurrency {
            // The oldest of the last `max_concurrency` Identify calls.
            let oldest = self
                .recent
                .iter()
                .rev()
                .nth(max_concurrency.saturating_sub(1))
                .or_else(|| self.recent.front())
                .copied()
                .unwrap_or(now);
            return Admit::After(oldest + CONCURRENCY_WINDOW);
        }
        Admit::Now
    }

    /// An Identify went out at `now`.
    pub fn identified(&mut self, now: Instant) {
        self.recent.push_back(now);
        while self.recent.len() > 64 {
            self.recent.pop_front();
        }
        if let Some((limit, _)) = &mut self.limit {
            limit.remaining = limit.remaining.saturating_sub(1);
        }
    }

    /// Whether the remaining budget is at or below `warn_below` (and how much is left).
    pub fn near_end(&self, warn_below: u32) -> Option<u32> {
        self.limit
            .map(|(l, _)| l.remaining)
            .filter(|remaining| *remaining <= warn_below)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(remaining: u32, max_concurrency: u32) -> SessionStartLimit {
        SessionStartLimit {
            total: 1000,
            remaining,
            reset_after: 60_000,
            max_concurrency,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn identify_waits_for_the_five_second_window() {
        let now = Instant::now();
        let mut gate = IdentifyGate::default();
        gate.update(limit(999, 1), now);
        assert_eq!(gate.admit(now), Admit::Now);
        gate.identified(now);
        assert_eq!(gate.admit(now), Admit::After(now + CONCURRENCY_WINDOW));
        assert_eq!(gate.admit(now + CONCURRENCY_WINDOW), Admit::Now);
        let mut gate = IdentifyGate::default();
        gate.update(limit(999, 2), now);
        gate.identified(now);
        assert_eq!(gate.admit(now), Admit::Now, "two per window");
        gate.identified(now + Duration::from_secs(1));
        assert_eq!(
            gate.admit(now + Duration::from_secs(2)),
            Admit::After(now + CONCURRENCY_WINDOW)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_spent_budget_waits_for_its_reset_and_a_low_one_is_reported() {
        let now = Instant::now();
        let mut gate = IdentifyGate::default();
        gate.update(limit(2, 1), now);
        assert_eq!(gate.near_end(1), None);
        assert_eq!(gate.near_end(2), Some(2));
        gate.identified(now);
        gate.identified(now + Duration::from_secs(6));
        assert_eq!(gate.near_end(0), Some(0));
        assert_eq!(
            gate.admit(now + Duration::from_secs(12)),
            Admit::Exhausted(now + Duration::from_secs(60))
        );
        assert_eq!(gate.admit(now + Duration::from_secs(61)), Admit::Now);
    }
}
