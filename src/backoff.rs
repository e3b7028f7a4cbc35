//! Capped, jittered exponential backoff for reconnects and restarts.
//!
//! Full jitter (a random delay between half the step and the step) keeps many sources that lost the
//! same server from reconnecting in lockstep. The delay doubles per failure up to a cap and resets
//! after a connection that stayed up.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
    rng: fastrand::Rng,
}

impl Backoff {
    /// A backoff that starts at `base` and never exceeds `cap`.
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap,
            failures: 0,
            rng: fastrand::Rng::new(),
        }
    }

    /// The delay before the next attempt; each call counts one more failure.
    pub fn next_delay(&mut self) -> Duration {
        let exp = self.failures.min(16);
        self.failures = self.failures.saturating_add(1);
        let step = self.base.saturating_mul(1u32 << exp).min(self.cap);
        let half = step / 2;
        let jitter_ms = self.rng.u64(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter_ms)
    }

    /// Call after a connection that worked, so the next failure starts small again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Failures since the last reset.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut last_cap = Duration::ZERO;
        for i in 0..20 {
            let d = b.next_delay();
            let step = Duration::from_millis(100)
                .saturating_mul(1 << i.min(16))
                .min(Duration::from_secs(5));
            assert!(
                d >= step / 2 && d <= step,
                "attempt {i}: {d:?} outside {step:?}"
            );
            last_cap = step;
        }
        assert_eq!(last_cap, Duration::from_secs(5));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
