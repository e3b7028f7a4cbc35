//! The control API's rate limit: each token may make at most its `changes_per_minute` changes in
//! any 60 seconds (a sliding window of the times of its accepted changes). Reads are not limited.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// The changes each token made in the last minute.
#[derive(Debug, Default)]
pub struct ChangeLimiter {
    recent: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl ChangeLimiter {
    /// Takes one change for `name` at `now`, or says how many seconds until one is free.
    pub fn take(&self, name: &str, per_minute: u32, now: Instant) -> Result<(), u64> {
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let times = recent.entry(name.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            times.pop_front();
        }
        if times.len() >= per_minute as usize {
            let oldest = times.front().copied().unwrap_or(now);
            let wait = WINDOW.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs().max(1));
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_gets_its_changes_per_minute_and_then_waits_for_the_oldest_to_age_out() {
        let limiter = ChangeLimiter::default();
        let start = Instant::now();
        for i in 0..3 {
            assert_eq!(
                limiter.take("mods", 3, start + Duration::from_secs(i)),
                Ok(())
            );
        }
        assert_eq!(
            limiter.take("mods", 3, start + Duration::from_secs(10)),
            Err(50)
        );
        // Another token has its own budget.
        assert_eq!(
            limiter.take("owner", 3, start + Duration::from_secs(10)),
            Ok(())
        );
        // The first change ages out after 60 s.
        assert_eq!(
            limiter.take("mods", 3, start + Duration::from_secs(60)),
            Ok(())
        );
        assert!(
            limiter
                .take("mods", 3, start + Duration::from_secs(60))
                .is_err()
        );
    }
}
