//! `/overlay` (the OBS browser source) and `/chat` (a window): the chat pages, fed live by
//! `/events` on the same server; `/control`, the moderators' page ([`crate::pages::control`]).
//!
//! Each answer carries the page's Content-Security-Policy as a header (inline script and style by
//! hash, images only from the emote CDNs, connections only back to this server) and no-referrer,
//! so the `?key=` an OBS source passes is never sent to an image host. The page carries the key on
//! to `/events` itself.

use crate::pages::{Feed, Page, PageOptions, content_security_policy, render};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};

fn page(page: Page, title: &str) -> Response {
    let html = render(&PageOptions {
        page,
        feed: Feed::Live,
        images: true,
        title,
    });
    served(html, &content_security_policy(true, true))
}

/// A page with its policy and the headers every page gets.
fn served(html: String, policy: &str) -> Response {
    let policy = HeaderValue::from_str(policy).expect("the policy is ASCII");
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, policy),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                HeaderName::from_static("cross-origin-resource-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ],
        html,
    )
        .into_response()
}

pub async fn overlay() -> Response {
    page(Page::Overlay, "Chat overlay")
}

pub async fn chat() -> Response {
    page(Page::Chat, "Live chat")
}

/// `/control`: the moderators' page (it asks for its token itself).
pub async fn control() -> Response {
    served(
        crate::pages::control::render(),
        crate::pages::control::content_security_policy(),
    )
}

#[cfg(test)]
mod tests {
    use crate::http::Feed;
    use crate::http::server::{AppState, router};
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt;

    #[tokio::test]
    async fn the_pages_are_served_with_a_strict_policy_and_no_referrer() {
        let app = router(AppState {
            feed: Feed::new(),
            snapshot: "absent.json".into(),
            token: None,
            control_tokens: Default::default(),
        });
        for (route, class) in [("/overlay", "ss-overlay"), ("/chat", "ss-chat")] {
            let response = app
                .clone()
                .oneshot(Request::get(route).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let headers = response.headers();
            let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
            assert!(
                policy.starts_with("default-src 'none'; script-src 'sha256-"),
                "{policy}"
            );
            assert!(policy.contains("connect-src 'self'"), "{policy}");
            assert!(
                policy.contains("img-src https://static-cdn.jtvnw.net https://files.kick.com;"),
                "{policy}"
            );
            assert!(!policy.contains("unsafe"), "{policy}");
            assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            let html = String::from_utf8(body.to_vec()).unwrap();
            assert!(
                html.contains(&format!("<body class=\"{class}\"")),
                "{route}"
            );
            assert!(html.contains("&quot;live&quot;:true"), "{route}");
            assert!(
                !html.contains("<script type=\"application/json\""),
                "a live page embeds no events"
            );
        }
    }
}
