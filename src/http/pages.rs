//! `/overlay` (the OBS browser source) and `/chat` (a window): the chat pages, fed live by
//! `/events` on the same server.
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
    let policy =
        HeaderValue::from_str(&content_security_policy(true, true)).expect("the policy is ASCII");
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
