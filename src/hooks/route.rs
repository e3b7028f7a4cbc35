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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::config::secrets::Secrets;
    use axum::http::Request;
    use tower::ServiceExt;

    const DONATION: &str = include_str!("../../tests/fixtures/kofi/donation.form");

    /// The repository's demo config with a Ko-fi hook, its token in the root's `.env`.
    fn hooks() -> Arc<Hooks> {
        hooks_verified_by(serde_json::json!(
            {"kind": "token_field", "field": "verification_token", "secret_env": "KOFI_TOKEN_TEST"}
        ))
    }

    /// The demo config with a Ko-fi hook checked by `verify`.
    fn hooks_verified_by(verify: serde_json::Value) -> Arc<Hooks> {
        let root = tempfile::tempdir().unwrap();
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = root.path().join("runtime/config");
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(repo.join("runtime/config")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
        std::fs::write(
            root.path().join(".env"),
            "KOFI_TOKEN_TEST=8cfeb5b0-3f94-4deb-8705-a5e13e10f4a1\n",
        )
        .unwrap();
        let mut config = Config::load(root.path()).unwrap();
        config.system.hooks = serde_json::from_value(serde_json::json!({"kofi": {
            "verify": verify, "map": "kofi", "creator": "demo", "platform": "twitch",
            "max_body_bytes": 2048}}))
        .unwrap();
        Arc::new(Hooks::from_config(&config, &Secrets::load(root.path())).unwrap())
    }

    async fn post(hooks: &Arc<Hooks>, path: &str, body: String) -> StatusCode {
        post_signed(hooks, path, body, "").await
    }

    async fn post_signed(
        hooks: &Arc<Hooks>,
        path: &str,
        body: String,
        signature: &str,
    ) -> StatusCode {
        let request = Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-hub-signature-256", signature)
            .body(Body::from(body))
            .unwrap();
        router(hooks.clone())
            .unwrap()
            .oneshot(request)
            .await
            .unwrap()
            .status()
    }

    #[tokio::test]
    async fn each_refusal_has_its_status_and_counter_and_nothing_is_taken_before_the_pipeline_opens()
     {
        let hooks = hooks();
        let donation = DONATION.trim().to_string();
        let forged = donation.replace("8cfeb5b0", "00000000");
        assert_eq!(
            post(&hooks, "/hooks/other", donation.clone()).await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            post(&hooks, "/hooks/kofi", "x".repeat(3000)).await,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            post(&hooks, "/hooks/kofi", forged).await,
            StatusCode::UNAUTHORIZED
        );
        let verified_but_not_a_payment = donation.replace("%22amount%22", "%22amount_%22");
        assert_eq!(
            post(&hooks, "/hooks/kofi", verified_but_not_a_payment).await,
            StatusCode::BAD_REQUEST
        );
        // Verified, but the pipeline is not running: Ko-fi is asked to retry.
        assert_eq!(
            post(&hooks, "/hooks/kofi", donation).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        let counters = hooks.stats.snapshot()["kofi"].clone();
        assert_eq!(
            counters,
            super::super::HookCounters {
                accepted: 0,
                duplicates: 0,
                unauthorized: 1,
                too_large: 1,
                malformed: 1,
                unavailable: 1,
            }
        );
        let none = Hooks::from_config(&Config::default(), &Secrets::default()).unwrap();
        assert!(router(Arc::new(none)).is_none(), "no route without hooks");
    }

    #[tokio::test]
    async fn an_hmac_hook_checks_the_signature_before_reading_the_body() {
        let hooks = hooks_verified_by(serde_json::json!({"kind": "hmac",
            "header": "X-Hub-Signature-256", "prefix": "sha256=", "secret_env": "KOFI_TOKEN_TEST"}));
        let secret = b"8cfeb5b0-3f94-4deb-8705-a5e13e10f4a1";
        let sign = |body: &str| {
            format!(
                "sha256={}",
                crate::signature::sign_hex(secret, body.as_bytes())
            )
        };
        let donation = DONATION.trim().to_string();
        // Signed: verified (the token inside is not checked by an hmac hook), the pipeline is not
        // running, so 503.
        assert_eq!(
            post_signed(&hooks, "/hooks/kofi", donation.clone(), &sign(&donation)).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        // Signed by someone else, or not signed: 401 whatever the body.
        let other = format!(
            "sha256={}",
            crate::signature::sign_hex(b"another", donation.as_bytes())
        );
        assert_eq!(
            post_signed(&hooks, "/hooks/kofi", donation.clone(), &other).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            post_signed(&hooks, "/hooks/kofi", "{}".into(), "").await,
            StatusCode::UNAUTHORIZED
        );
        // Signed but not Ko-fi's form: now the reason can be told.
        assert_eq!(
            post_signed(&hooks, "/hooks/kofi", "{}".into(), &sign("{}")).await,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn a_hook_whose_secret_is_not_set_stops_the_run_naming_the_variable() {
        let mut config = Config::default();
        config.system.hooks = serde_json::from_value(serde_json::json!({"kofi": {
            "verify": {"kind": "token_field", "field": "verification_token", "secret_env": "SS_TEST_KOFI_UNSET"},
            "map": "kofi", "creator": "demo", "platform": "twitch"}}))
        .unwrap();
        let err = Hooks::from_config(&config, &Secrets::default()).unwrap_err();
        assert!(err.to_string().contains("SS_TEST_KOFI_UNSET"), "{err}");
    }
}
