//! The webhook sender: outbox rows for `Destination::Webhook` POSTed as JSON to the URL of the
//! posting.json webhook the row's target names, signed so the receiver can tell the body is ours.
//!
//! The body is `{"id", "event", "creator", "cause", "created_at", "data"}` (`data` is what routing
//! put in the row), built from the row alone, so every attempt sends the same bytes. Headers:
//! `X-SS-Signature: sha256=<hex HMAC-SHA256 of the exact body>` with the secret in `secret_env`,
//! `Idempotency-Key: <id>` (the row's nonce: the same on every retry, across restarts, so a
//! receiver that saw it already can answer 2xx and do nothing), `X-SS-Event: <event>`, and the
//! webhook's own `headers`. 2xx is sent; 408, 425, 429, 5xx and transport errors are retried
//! through the outbox with backoff; 401/403 is a configuration problem (reported once) and the
//! row fails; any other answer fails the row. A row naming no configured webhook is unrouted; a
//! secret not set holds the rows until it is. Neither the secret nor the URL (which may hold a
//! token of its own) reaches logs or errors.

use super::drain::{DrainCtx, Outcome, Sender, describe};
use crate::config::model::WebhookSettings;
use crate::routing::Destination;
use crate::store::OutboxRow;
use serde_json::json;
use std::time::Duration;

pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The signature header: `sha256=` and the hex HMAC-SHA256 of the body.
pub const SIGNATURE_HEADER: &str = "X-SS-Signature";
/// The header every attempt of one notification carries with the same value.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// The header naming the notification (`clip_published`, `go_live`, `notify`, ...).
pub const EVENT_HEADER: &str = "X-SS-Event";
/// Headers a webhook's `headers` may not set (the sender sets them).
pub use crate::config::model::WEBHOOK_RESERVED_HEADERS as RESERVED_HEADERS;

/// Sends webhook rows.
pub struct WebhookSender {
    http: reqwest::Client,
}

impl WebhookSender {
    pub fn new() -> Result<WebhookSender, crate::http_out::ClientError> {
        Ok(WebhookSender {
            http: super::http_client(REQUEST_TIMEOUT, REQUEST_TIMEOUT)?,
        })
    }
}

/// The idempotency key of `row`: stable for the row's life.
pub fn idempotency_key(row: &OutboxRow) -> String {
    format!("ss-{}", row.nonce)
}

/// The exact body POSTed for `row`.
pub fn body(row: &OutboxRow) -> Vec<u8> {
    let body = json!({
        "id": idempotency_key(row),
        "event": row.kind,
        "creator": row.creator,
        "cause": row.cause,
        "created_at": row.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": row.payload,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// `sha256=<hex HMAC-SHA256 of body under secret>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", crate::signature::sign_hex(secret, body))
}

impl Sender for WebhookSender {
    fn destination(&self) -> Destination {
        Destination::Webhook
    }

    async fn deliver<'a>(
        &'a mut self,
        row: &'a OutboxRow,
        _done: &'a [String],
        ctx: &'a DrainCtx,
    ) -> Outcome {
        let name = row.target.as_str();
        let Some(settings) = ctx.config.borrow().posting.webhooks.get(name).cloned() else {
            return Outcome::Unrouted {
                error: format!(
                    "posting.json has no webhook named {name:?}; add it under \"webhooks\" or fix the name"
                ),
            };
        };
        let Some(secret) = ctx.secrets.get(&settings.secret_env) else {
            let why = format!(
                "{} is not set; webhook {name:?} posts wait until the signing secret is there",
                settings.secret_env
            );
            if ctx
                .stats
                .set_state("webhook", "not_configured", Some(why.clone()))
            {
                tracing::warn!(destination = "webhook", "Webhook posts wait: {why}");
            }
            return Outcome::Hold;
        };
        let body = body(row);
        let request = match self.request(name, &settings, row, &body, secret.expose()) {
            Ok(request) => request,
            Err(error) => {
                ctx.config_problem(Destination::Webhook, &error);
                return Outcome::Failed { error };
            }
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                return Outcome::Retry {
                    error: format!("webhook {name:?}: {}", describe(e, &ctx.secrets)),
                };
            }
        };
        let status = response.status().as_u16();
        // The answer's body is not read into errors: a receiver may echo what it was sent.
        drop(response);
        match status {
            200..=299 => {
                ctx.stats.set_state("webhook", "ready", None);
                Outcome::Sent
            }
            429 => {
                ctx.stats.update("webhook", |s| s.rate_limited += 1);
                Outcome::Retry {
                    error: format!("webhook {name:?} answered 429 (rate limited)"),
                }
            }
            408 | 425 | 500..=599 => Outcome::Retry {
                error: format!("webhook {name:?} answered {status}"),
            },
            401 | 403 => {
                let error = format!(
                    "webhook {name:?} answered {status}: the receiver refused the request; check that it verifies X-SS-Signature with the value of {}",
                    settings.secret_env
                );
                ctx.config_problem(Destination::Webhook, &error);
                Outcome::Failed { error }
            }
            _ => Outcome::Failed {
                error: format!("webhook {name:?} answered {status}; not retried"),
            },
        }
    }
}

impl WebhookSender {
    /// The signed request for `row`, or what is wrong with the webhook's settings.
    fn request(
        &self,
        name: &str,
        settings: &WebhookSettings,
        row: &OutboxRow,
        body: &[u8],
        secret: &str,
    ) -> Result<reqwest::RequestBuilder, String> {
        let mut request = self
            .http
            .post(&settings.url)
            .header("Content-Type", "application/json")
            .header(SIGNATURE_HEADER, signature(secret.as_bytes(), body))
            .header(IDEMPOTENCY_HEADER, idempotency_key(row))
            .header(EVENT_HEADER, row.kind.as_str());
        for (header, value) in &settings.headers {
            if RESERVED_HEADERS
                .iter()
                .any(|r| r.eq_ignore_ascii_case(header))
            {
                continue;
            }
            let valid = reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_ok()
                && reqwest::header::HeaderValue::from_str(value).is_ok();
            if !valid {
                return Err(format!(
                    "posting.json webhooks.{name}.headers: {header:?} is not a valid header name and value"
                ));
            }
            request = request.header(header.as_str(), value.as_str());
        }
        Ok(request.body(body.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> OutboxRow {
        OutboxRow {
            id: 7,
            creator: "demo".into(),
            destination: "webhook".into(),
            target: "home".into(),
            kind: "clip_published".into(),
            payload: json!({"clip_id": "AbC123", "url": "https://clips.example/AbC123"}),
            nonce: "00ff00ff00ff00ff".into(),
            attempts: 0,
            next_attempt_at: None,
            sent_at: None,
            failed: false,
            last_error: None,
            created_at: "2026-01-01T00:01:00Z".parse().unwrap(),
            cause: Some("clip:AbC123".into()),
        }
    }

    #[test]
    fn the_body_is_the_same_on_every_attempt_and_names_the_notification() {
        let mut retried = row();
        retried.attempts = 3;
        retried.last_error = Some("webhook \"home\" answered 503".into());
        assert_eq!(body(&row()), body(&retried));
        let value: serde_json::Value = serde_json::from_slice(&body(&row())).unwrap();
        assert_eq!(
            value,
            json!({"id": "ss-00ff00ff00ff00ff", "event": "clip_published", "creator": "demo",
                "cause": "clip:AbC123", "created_at": "2026-01-01T00:01:00.000Z",
                "data": {"clip_id": "AbC123", "url": "https://clips.example/AbC123"}})
        );
    }

    #[test]
    fn the_signature_header_is_sha256_and_the_hex_hmac_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        for header in [SIGNATURE_HEADER, IDEMPOTENCY_HEADER, EVENT_HEADER] {
            assert!(RESERVED_HEADERS.contains(&header), "{header} is reserved");
        }
    }
}
