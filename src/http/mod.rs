//! The runtime's one local HTTP server (`system.http`): health, the snapshot, and the live feed.
//!
//! [`feed`] holds what `/events` streams; [`server`] is the router and the access rule; [`pages`]
//! serves the live chat pages (`/overlay`, `/chat`) and the control page (`/control`); [`api`] is
//! the control API (`/api/v1/`), a thin layer over [`crate::control`]. Platforms add routes of their own (Kick's
//! `POST /webhooks/kick`, authenticated by Kick's signature, not the token) through the platform
//! registry; `ss run` merges them and starts the server when `system.http.enabled`. [`conn`] bounds
//! the connections (a cap, header-read and idle timeouts); [`host`] refuses foreign Host names on
//! a loopback address (DNS rebinding).

pub mod api;
pub mod conn;
pub mod feed;
pub mod host;
pub mod pages;
pub mod server;

pub use feed::Feed;

/// The token of an `Authorization: Bearer TOKEN` header value; the scheme is case-insensitive
/// (RFC 9110: `bearer`, `BEARER`), the token is taken as it is, spaces around it trimmed.
pub fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in ["Bearer abc", "bearer abc", "BEARER  abc ", "bEaReR abc"] {
            assert_eq!(super::bearer(value), Some("abc"), "{value}");
        }
        for value in ["Basic abc", "Bearer", "Bearer ", "Bearerabc", ""] {
            assert_eq!(super::bearer(value), None, "{value}");
        }
    }
}
