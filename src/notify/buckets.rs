//! Discord rate limits: per-bucket state learned from `X-RateLimit-*` headers, the global limit
//! (50 requests/s per bot) and 429s (Discord's API reference).
//!
//! Pure bookkeeping over `Instant`s: the sender asks [`RateLimits::ready_at`] before each request
//! and waits until then; it feeds every response's headers to [`RateLimits::observe`] and every 429
//! to [`RateLimits::limited`]. A route (a channel's messages, a webhook) maps to the bucket Discord
//! named for it; an exhausted bucket holds its routes until its reset.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Discord's global limit per bot.
pub const GLOBAL_PER_SECOND: u32 = 50;

/// The rate-limit headers of one response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateHeaders {
    pub bucket: Option<String>,
    pub remaining: Option<u32>,
    pub reset_after: Option<Duration>,
    pub global: bool,
}

impl RateHeaders {
    /// Reads the headers (names case-insensitive); unparsable values are ignored.
    pub fn parse<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> RateHeaders {
        let mut out = RateHeaders::default();
        for (name, value) in headers {
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "x-ratelimit-bucket" if !value.is_empty() => out.bucket = Some(value.to_string()),
                "x-ratelimit-remaining" => out.remaining = value.parse().ok(),
                "x-ratelimit-reset-after" => out.reset_after = seconds(value),
                "x-ratelimit-global" => out.global = value.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        out
    }
}

/// A non-negative, finite number of seconds, capped at an hour.
pub fn seconds(text: &str) -> Option<Duration> {
    let s: f64 = text.trim().parse().ok()?;
    (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s.min(3600.0)))
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    remaining: u32,
    reset_at: Instant,
}

/// Rate-limit state of one bot (or one set of webhooks).
#[derive(Debug, Default)]
pub struct RateLimits {
    /// Route → the bucket Discord named for it.
    routes: HashMap<String, String>,
    /// (bucket, route) → its state; the route stands in for the major parameter (channel, webhook).
    buckets: HashMap<(String, String), Bucket>,
    /// No request before this (a global 429).
    global_until: Option<Instant>,
    /// Requests in the current one-second window, and when it started.
    window: Option<(Instant, u32)>,
}

impl RateLimits {
    /// When a request on `route` may go out (`now` when it may go now).
    pub fn ready_at(&self, route: &str, now: Instant) -> Instant {
        let mut at = now;
        if let Some(until) = self.global_until {
            at = at.max(until);
        }
        if let Some((start, n)) = self.window
            && n >= GLOBAL_PER_SECOND
        {
            at = at.max(start + Duration::from_secs(1));
        }
        if let Some(bucket) = self.routes.get(route)
            && let Some(state) = self.buckets.get(&(bucket.clone(), route.to_string()))
            && state.remaining == 0
        {
            at = at.max(state.reset_at);
        }
        at
    }

    /// Counts a request going out at `now` against the global limit.
    pub fn sending(&mut self, now: Instant) {
        self.window = match self.window {
            Some((start, n)) if now < start + Duration::from_secs(1) => Some((start, n + 1)),
            _ => Some((now, 1)),
        };
    }

    /// Learns from a response's headers.
    pub fn observe(&mut self, route: &str, headers: &RateHeaders, now: Instant) {
        let Some(bucket) = &headers.bucket else {
            return;
        };
        self.routes.insert(route.to_string(), bucket.clone());
        if let (Some(remaining), Some(after)) = (headers.remaining, headers.reset_after) {
            self.buckets.insert(
                (bucket.clone(), route.to_string()),
                Bucket {
                    remaining,
                    reset_at: now + after,
                },
            );
        }
    }

    /// A 429 on `route`: nothing more on it (or anywhere, when `global`) for `retry_after`.
    pub fn limited(&mut self, route: &str, retry_after: Duration, global: bool, now: Instant) {
        let until = now + retry_after;
        if global {
            self.global_until = Some(self.global_until.map_or(until, |g| g.max(until)));
            return;
        }
        let bucket = self
            .routes
            .entry(route.to_string())
            .or_insert_with(|| format!("route:{route}"))
            .clone();
        self.buckets.insert(
            (bucket, route.to_string()),
            Bucket {
                remaining: 0,
                reset_at: until,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ROUTE: &str = "channels/1/messages";

    #[test]
    fn an_exhausted_bucket_holds_its_route_until_reset_only() {
        let now = Instant::now();
        let mut limits = RateLimits::default();
        let headers = RateHeaders::parse([
            ("X-RateLimit-Bucket", "abcd1234"),
            ("X-RateLimit-Limit", "5"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "1470173023.123"),
            ("X-RateLimit-Reset-After", "1.5"),
        ]);
        limits.observe(ROUTE, &headers, now);
        assert_eq!(
            limits.ready_at(ROUTE, now),
            now + Duration::from_millis(1500)
        );
        assert_eq!(limits.ready_at("channels/2/messages", now), now);
    }

    #[test]
    fn a_429_waits_retry_after_and_a_global_one_holds_every_route() {
        let now = Instant::now();
        let mut limits = RateLimits::default();
        limits.limited(ROUTE, Duration::from_secs(2), false, now);
        assert_eq!(limits.ready_at(ROUTE, now), now + Duration::from_secs(2));
        assert_eq!(limits.ready_at("other", now), now);
        limits.limited(ROUTE, Duration::from_secs(5), true, now);
        assert_eq!(limits.ready_at("other", now), now + Duration::from_secs(5));
    }

    #[test]
    fn the_global_limit_is_fifty_a_second() {
        let now = Instant::now();
        let mut limits = RateLimits::default();
        for _ in 0..GLOBAL_PER_SECOND {
            assert_eq!(limits.ready_at(ROUTE, now), now);
            limits.sending(now);
        }
        assert_eq!(limits.ready_at(ROUTE, now), now + Duration::from_secs(1));
    }

    proptest! {
        #[test]
        fn header_parsing_never_panics(name in "\\PC{0,30}", value in "\\PC{0,30}") {
            let _ = RateHeaders::parse([(name.as_str(), value.as_str())]);
            let _ = seconds(&value);
        }
    }
}
