//! `POST /hooks/{name}`: the route of every declared hook, merged into the local server outside its
//! token check (each request proves itself by its hook's check).
//!
//! The body is read up to the hook's `max_body_bytes` and no further: a larger one gets 413
//! without being read to the end. Then [`Hooks::receive`] decides: 200 accepted (also for a
//! delivery accepted before, which is not sent again), 401 not verified, 400 not the service's
//! format (only after verification), 404 no such hook, 503 while the pipeline cannot take events.

use super::{Hooks, Verdict};
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::sync::Arc;

/// The hooks' route (none when no hook is declared).
pub fn router(hooks: Arc<Hooks>) -> Option<Router> {
    if hooks.is_empty() {
        return None;
    }
    Some(
        Router::new()
            .route("/hooks/{name}", post(receive))
            // Each hook's own limit applies below.
            .layer(DefaultBodyLimit::disable())
            .with_state(hooks),
    )
}

async fn receive(
    State(hooks): State<Arc<Hooks>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(limit) = hooks.max_body_bytes(&name) else {
        return (StatusCode::NOT_FOUND, "no such hook\n").into_response();
    };
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        hooks.too_large(&name);
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than this hook's max_body_bytes ({limit})\n"),
        )
            .into_response();
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let verdict = hooks.receive(&name, header, &body).await;
    tracing::debug!(hook = %name, ?verdict, "Hook delivery.");
    match verdict {
        Verdict::Accepted => (StatusCode::OK, "accepted\n").into_response(),
        Verdict::Duplicate => (StatusCode::OK, "already accepted\n").into_response(),
        Verdict::NotFound => (StatusCode::NOT_FOUND, "no such hook\n").into_response(),
        Verdict::Unauthorized => (
            StatusCode::UNAUTHORIZED,
            "the delivery does not verify with this hook's secret\n",
        )
            .into_response(),
        Verdict::Malformed(why) => (
            StatusCode::BAD_REQUEST,
            format!("not a delivery this hook reads: {why}\n"),
        )
            .into_response(),
        Verdict::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the runtime cannot take events right now; retry later\n",
        )
            .into_response(),
    }
}
