//! The Host check of a loopback server, against DNS rebinding.
//!
//! A web page on `evil.example` whose name a rebinding DNS server points at 127.0.0.1 can make the
//! browser send requests to the local server, with `Host: evil.example`. On a loopback listen
//! address only the loopback names (`localhost` and its subdomains, `127.0.0.0/8`, `[::1]`, any port)
//! and the names system.json `http.allowed_hosts` lists (a tunnel's or a proxy's) are served; any
//! other Host is refused with 403 before a route runs. A request without a Host header (HTTP/1.0
//! tools) is served: browsers always send one. A non-loopback listen address needs the token, which
//! a rebinding page does not have, so it is not checked.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;
use std::sync::Arc;

/// The names a loopback server answers to besides the loopback ones, lowercased.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts(Arc<Vec<String>>);

impl AllowedHosts {
    pub fn new(names: &[String]) -> AllowedHosts {
        AllowedHosts(Arc::new(
            names
                .iter()
                .map(|n| n.trim().to_ascii_lowercase())
                .collect(),
        ))
    }

    /// Whether a request with this `Host` value is served.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let name = host_name(&host);
        if name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()) {
            return true;
        }
        self.0
            .iter()
            .any(|allowed| *allowed == host || *allowed == name)
    }
}

/// The name part of a Host value (without its port): `[::1]:8765` → `[::1]`, `a.b:80` → `a.b`.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// The middleware: 403 for a Host the server does not answer to.
pub async fn check(State(allowed): State<AllowedHosts>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .map(|v| v.to_str().unwrap_or("\u{fffd}").to_string());
    match host {
        Some(host) if !allowed.allows(&host) => (
            StatusCode::FORBIDDEN,
            "this server listens on loopback and answers only to localhost, 127.0.0.1, [::1] and the names in system.json http.allowed_hosts (a page on another name could be DNS rebinding)\n  hint: add the name you use to http.allowed_hosts\n",
        )
            .into_response(),
        _ => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_the_allowed_ones_pass_others_do_not() {
        let allowed = AllowedHosts::new(&["Stream.Example.com".into(), "tunnel.test:8443".into()]);
        for ok in [
            "localhost",
            "localhost:8765",
            "LOCALHOST:1",
            "obs.localhost:8765",
            "127.0.0.1",
            "127.0.0.1:8765",
            "127.1.2.3:80",
            "[::1]:8765",
            "[::1]",
            "stream.example.com",
            "stream.example.com:8765",
            "tunnel.test:8443",
        ] {
            assert!(allowed.allows(ok), "{ok}");
        }
        for refused in [
            "evil.example",
            "evil.example:8765",
            "localhost.evil.example",
            "127.0.0.1.evil.example",
            "10.0.0.1:8765",
            "[::2]:8765",
            "tunnel.test",
            "",
        ] {
            assert!(!allowed.allows(refused), "{refused}");
        }
    }
}
