//! The gateway heartbeat, as a schedule with no I/O: after Hello, the first beat is due after
//! `heartbeat_interval × jitter` (jitter uniform in [0, 1), so bots that lost the same gateway do
//! not beat in step), then one every interval. A beat that comes due while the last one is still
//! unacknowledged means the connection is a zombie: the session closes it (with a code other than
//! 1000/1001, so the session stays resumable) and resumes on a new one.
//!
//! A Heartbeat the server asks for (op 1) is sent at once and does not move the schedule. The time
//! from a beat to its ACK is the gateway latency shown in `discord/runtime.json`.

use std::time::Duration;
use tokio::time::Instant;

/// The heartbeat state of one connection.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    interval: Duration,
    next: Instant,
    awaiting_ack: bool,
    sent_at: Option<Instant>,
    latency: Option<Duration>,
}

/// What to do when a beat comes due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// Send a Heartbeat now.
    Send,
    /// The last beat was never acknowledged: the connection is dead.
    Zombie,
}

impl Heartbeat {
    /// The schedule after a Hello received at `now`; `jitter` is in [0, 1).
    pub fn after_hello(interval: Duration, jitter: f64, now: Instant) -> Heartbeat {
        Heartbeat {
            interval,
            next: now + interval.mul_f64(jitter.clamp(0.0, 1.0)),
            awaiting_ack: false,
            sent_at: None,
            latency: None,
        }
    }

    /// When the next beat is due.
    pub fn next_at(&self) -> Instant {
        self.next
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The beat due at `now`: send one (and schedule the next), or report a zombie.
    pub fn due(&mut self, now: Instant) -> Beat {
        if self.awaiting_ack {
            return Beat::Zombie;
        }
        self.awaiting_ack = true;
        self.sent_at = Some(now);
        self.next = now + self.interval;
        Beat::Send
    }

    /// The server asked for a beat (op 1): one is sent now; the schedule stays.
    pub fn requested(&mut self, now: Instant) {
        self.awaiting_ack = true;
        self.sent_at = Some(now);
    }

    /// An ACK arrived at `now`.
    pub fn acked(&mut self, now: Instant) {
        if let Some(sent) = self.sent_at.take() {
            self.latency = Some(now.saturating_duration_since(sent));
        }
        self.awaiting_ack = false;
    }

    /// The time the last acknowledged beat took.
    pub fn latency(&self) -> Option<Duration> {
        self.latency
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn beats_follow_the_jittered_first_beat_then_every_interval() {
        let start = Instant::now();
        let interval = Duration::from_millis(45_000);
        let mut hb = Heartbeat::after_hello(interval, 0.25, start);
        assert_eq!(hb.next_at(), start + Duration::from_millis(11_250));
        let mut at = hb.next_at();
        for n in 0..5 {
            assert_eq!(hb.due(at), Beat::Send, "beat {n}");
            assert_eq!(hb.next_at(), at + interval);
            hb.acked(at + Duration::from_millis(40));
            assert_eq!(hb.latency(), Some(Duration::from_millis(40)));
            at = hb.next_at();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_beat_due_before_the_last_was_acknowledged_is_a_zombie() {
        let start = Instant::now();
        let mut hb = Heartbeat::after_hello(Duration::from_secs(10), 0.0, start);
        assert_eq!(hb.due(start), Beat::Send);
        assert_eq!(hb.due(hb.next_at()), Beat::Zombie);
    }

    #[tokio::test(start_paused = true)]
    async fn a_requested_beat_keeps_the_schedule() {
        let start = Instant::now();
        let mut hb = Heartbeat::after_hello(Duration::from_secs(10), 0.5, start);
        let next = hb.next_at();
        hb.requested(start + Duration::from_secs(1));
        assert_eq!(hb.next_at(), next);
        hb.acked(start + Duration::from_millis(1100));
        assert_eq!(hb.latency(), Some(Duration::from_millis(100)));
        assert_eq!(hb.due(next), Beat::Send);
    }
}
