//! Outgoing HTTP for notification senders and platform side calls (Discord, X, Twitch's Helix):
//! one client shape, one form encoder, one way to describe a transport error without its URL.

use crate::config::secrets::Secrets;
use std::time::Duration;

/// The HTTP client could not be built (its TLS settings or the environment's proxy settings).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot build the HTTP client: {0}")]
    Build(#[from] reqwest::Error),
    #[error("cannot build the HTTP client: {0}")]
    Tls(#[from] crate::tls::TlsError),
}

/// A client builder whose TLS is the runtime's shared rustls config over ring ([`crate::tls`]: the
/// same roots as every other TLS client, `tls_ca_file` included). reqwest is built without a
/// provider of its own; ring is also installed as the process default, once, so nothing can pick
/// another. Every HTTP client is built through this function.
pub fn builder() -> Result<reqwest::ClientBuilder, ClientError> {
    // Already installed (by an earlier call or by another part of the process) is fine.
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder().tls_backend_preconfigured(crate::tls::http_client_config()?))
}

/// The one HTTP client shape of every outgoing call (platform APIs, senders, Helix): rustls, the
/// runtime's user agent, a bounded time for a whole request and for connecting, no redirects (a
/// redirect could carry a token to another host).
pub fn client(
    request_timeout: Duration,
    connect_timeout: Duration,
) -> Result<reqwest::Client, ClientError> {
    Ok(builder()?
        .timeout(request_timeout)
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("streamsuites-ss/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// `application/x-www-form-urlencoded` text of `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    fn encode(s: &str, out: &mut String) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    out.push(char::from(b));
                }
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode(k, &mut out);
        out.push('=');
        encode(v, &mut out);
    }
    out
}

/// A transport error, described without its URL (a webhook URL is a secret) and with every
/// secret scrubbed.
pub fn describe(error: reqwest::Error, secrets: &Secrets) -> String {
    let error = error.without_url();
    let mut text = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "could not connect".to_string()
    } else {
        error.to_string()
    };
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    secrets.scrub(&text)
}
