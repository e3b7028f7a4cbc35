//! `POST /webhooks/kick`: Kick's webhook deliveries, verified and handed to the data lane by the
//! [`WebhookReceiver`].
//!
//! This route authenticates by Kick's RSA signature, not by the server's bearer token: Kick cannot
//! send our token, and the signature proves more (who sent it, and that the body is unchanged). So
//! the route sits outside the token check of the other routes; an unsigned or badly signed request
//! gets 401 and nothing is recorded. Bodies over 64 KiB get 413; a signed body that is not the JSON
//! object a delivery is gets 400 saying what is wrong; a retry of an accepted delivery gets 200
//! again without being recorded twice (across restarts too, for the replay window); a delivery
//! signed more than 10 minutes ago gets 400 (a replay); 503 while the pipeline cannot take events (Kick retries).

use super::webhook::{Headers, MAX_BODY_BYTES, Verdict, WebhookReceiver};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::sync::Arc;

/// The webhook route, merged into the local server's router outside its token check (Kick's
/// per-run service offers it through the registry).
pub fn router(receiver: Arc<WebhookReceiver>) -> Router {
    Router::new()
        .route("/webhooks/kick", post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(receiver)
}

async fn receive(
    State(receiver): State<Arc<WebhookReceiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let fields = Headers {
        message_id: header("kick-event-message-id"),
        timestamp: header("kick-event-message-timestamp"),
        signature: header("kick-event-signature"),
        event_type: header("kick-event-type"),
    };
    let verdict = receiver.receive(fields, &body).await;
    tracing::debug!(
        platform = "kick",
        ?verdict,
        event_type = fields.event_type.unwrap_or(""),
        "Webhook delivery."
    );
    match verdict {
        Verdict::Accepted => (StatusCode::OK, "accepted\n").into_response(),
        Verdict::Duplicate => (StatusCode::OK, "already accepted\n").into_response(),
        Verdict::NotOurs => (
            StatusCode::OK,
            "not a channel this runtime reads; ignored\n",
        )
            .into_response(),
        Verdict::BadSignature => (
            StatusCode::UNAUTHORIZED,
            "the Kick-Event-Signature does not verify (or a Kick-Event-* header is missing)\n",
        )
            .into_response(),
        Verdict::Stale(why) => (
            StatusCode::BAD_REQUEST,
            format!("delivery refused: {why}\n"),
        )
            .into_response(),
        Verdict::Malformed(why) => (
            StatusCode::BAD_REQUEST,
            format!("not a Kick webhook delivery: {why}\n"),
        )
            .into_response(),
        Verdict::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the runtime cannot take events right now; retry later\n",
        )
            .into_response(),
    }
}
