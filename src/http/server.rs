//! The local HTTP server: a small router, read-only, loopback by default.
//!
//! Routes: `/healthz` (liveness), `/api/snapshot` (the runtime snapshot the exporter last wrote),
//! `/events` (the live [`Feed`] as Server-Sent Events, resumable with `Last-Event-ID`), `/overlay` and
//! `/chat` (the live chat pages, fed by `/events`), and, merged in by `ss run` outside the token
//! check, the routes platforms add through the registry (Kick's webhooks). A `listen`
//! address outside loopback is refused unless a token is configured; with a token every route needs
//! it as `Authorization: Bearer TOKEN` or `?key=TOKEN` (OBS browser sources can only pass a query),
//! compared in constant time and never logged. `/events` also takes a control API token as
//! `Authorization: Bearer` (the control page reads it so). The control API (`/api/v1/`, [`super::api`])
//! and the control page (`/control`, which holds no data) are outside this check: the API checks
//! its own tokens and roles. Every route, on a loopback address, answers only to loopback Host names
//! and the configured ones ([`super::host`]); connections are capped and timed out ([`super::conn`]).

use super::conn::Limits;
use super::feed::{Feed, FeedItem};
use super::host::AllowedHosts;
use crate::config::secrets::Secret;
use crate::control::tokens::constant_time_eq;
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream::{self, Stream, StreamExt};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// What the handlers read.
#[derive(Clone)]
pub struct AppState {
    pub feed: Feed,
    /// `runtime/exports/runtime_snapshot.json` of this root.
    pub snapshot: PathBuf,
    pub token: Option<Arc<Secret>>,
    /// The control API's tokens, also accepted on the other routes (as `Bearer` only).
    pub control_tokens: Arc<crate::control::Tokens>,
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "system.json http.listen {0:?} is not a host:port address\n  hint: write it as 127.0.0.1:8765 (or [::1]:8765)"
    )]
    BadListen(String),
    #[error(
        "system.json http.listen {0} is not a loopback address, and no token is set\n  hint: set http.token_env to an environment variable holding a token (every route then needs it), or listen on 127.0.0.1"
    )]
    NeedsToken(SocketAddr),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
}

/// The router, for the server and for tests that call it without a socket.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/api/snapshot", get(snapshot))
        .route("/events", get(events))
        .route("/overlay", get(super::pages::overlay))
        .route("/chat", get(super::pages::chat))
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .route("/control", get(super::pages::control))
        .with_state(state)
}

/// Checks `listen` against the token rule and binds it.
pub async fn bind(
    listen: &str,
    token: Option<&Secret>,
) -> Result<tokio::net::TcpListener, ServeError> {
    let address: SocketAddr = listen
        .parse()
        .map_err(|_| ServeError::BadListen(listen.to_owned()))?;
    if !address.ip().is_loopback() && token.is_none() {
        return Err(ServeError::NeedsToken(address));
    }
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| ServeError::Bind { address, source })
}

/// Serves until `shutdown`, with the default connection limits and, on loopback, only the loopback
/// Host names.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) {
    let options = ServeOptions {
        limits: Limits::with_max(256),
        allowed_hosts: Some(AllowedHosts::default()),
    };
    serve_router(listener, router(state), options, shutdown).await;
}

/// How the server treats its connections and their Host headers.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub limits: Limits,
    /// On a loopback listen address: the Host names answered besides the loopback ones (see
    /// [`super::host`]); `None` elsewhere (the token guards it).
    pub allowed_hosts: Option<AllowedHosts>,
}

impl ServeOptions {
    /// The options of system.json `http` for a server bound to `address`.
    pub fn of(settings: &crate::config::model::HttpSettings, address: SocketAddr) -> ServeOptions {
        ServeOptions {
            limits: Limits::with_max(settings.max_connections),
            allowed_hosts: address
                .ip()
                .is_loopback()
                .then(|| AllowedHosts::new(&settings.allowed_hosts)),
        }
    }
}

/// Serves `app` (the [`router`] merged with routes that authenticate otherwise, such as Kick's
/// webhooks) until `shutdown`, within `options` (the Host check covers every route).
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    mut app: Router,
    options: ServeOptions,
    shutdown: CancellationToken,
) {
    if let Some(allowed) = options.allowed_hosts {
        app = app.layer(middleware::from_fn_with_state(allowed, super::host::check));
    }
    super::conn::serve(listener, app, options.limits, shutdown).await;
}

async fn authorize(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.token else {
        return next.run(request).await;
    };
    let expected = token.expose().as_bytes();
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(super::bearer);
    let given = bearer.or(query.get("key").map(String::as_str));
    let control_token = bearer.is_some_and(|b| state.control_tokens.authenticate(b).is_some());
    if control_token || given.is_some_and(|g| constant_time_eq(g.as_bytes(), expected)) {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a token is required: Authorization: Bearer TOKEN, or ?key=TOKEN\n",
        )
            .into_response()
    }
}

async fn snapshot(State(state): State<AppState>) -> Response {
    match tokio::fs::read(&state.snapshot).await {
        Ok(bytes) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "no snapshot yet: the exporter writes one on its cadence\n",
        )
            .into_response(),
    }
}

fn sse_event(feed: &Feed, item: &FeedItem) -> Event {
    Event::default()
        .id(feed.event_id(item))
        .event(item.kind)
        .data(&item.json)
}

/// A gap marker: `missed` items were not delivered to this client.
fn gap(missed: u64) -> Event {
    Event::default()
        .event("gap")
        .data(format!("{{\"missed\":{missed}}}"))
}

/// A gap marker for a `Last-Event-ID` this run never gave (another run's, or malformed): how many
/// items the client missed is unknown; it continues with the live items.
fn unknown_gap() -> Event {
    Event::default()
        .event("gap")
        .data("{\"missed\":null,\"reason\":\"unknown Last-Event-ID\"}")
}

async fn events(State(state): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    let asked = headers
        .get("last-event-id")
        .map(|v| v.to_str().ok().and_then(|v| state.feed.resume_point(v)));
    let (resume, live) = state.feed.subscribe(asked.flatten());
    let mut first: Vec<Result<Event, Infallible>> = Vec::new();
    if asked.is_some_and(|known| known.is_none()) {
        first.push(Ok(unknown_gap()));
    }
    if resume.missed > 0 {
        first.push(Ok(gap(resume.missed)));
    }
    let resumed_up_to = resume.items.last().map(|i| i.id);
    first.extend(resume.items.iter().map(|i| Ok(sse_event(&state.feed, i))));
    let live = live_stream(state.feed.clone(), live, resumed_up_to);
    Sse::new(stream::iter(first).chain(live))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// The live part: every new item (skipping any the resume already sent), a gap marker when this
/// client's buffer overflowed.
fn live_stream(
    feed: Feed,
    rx: broadcast::Receiver<Arc<FeedItem>>,
    resumed_up_to: Option<u64>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(rx, move |mut rx| {
        let feed = feed.clone();
        async move {
            loop {
                match rx.recv().await {
                    Ok(item) if resumed_up_to.is_some_and(|up| item.id <= up) => continue,
                    Ok(item) => return Some((Ok(sse_event(&feed, &item)), rx)),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        return Some((Ok(gap(missed)), rx));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request as HttpRequest;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tower::ServiceExt;

    fn state(token: Option<&str>, snapshot: PathBuf) -> AppState {
        AppState {
            feed: Feed::new(),
            snapshot,
            token: token.map(|t| Arc::new(Secret::new(t))),
            control_tokens: Arc::new(crate::control::Tokens::from_values(&[(
                "mods",
                crate::config::model::ControlRole::Moderator,
                "control-token",
            )])),
        }
    }

    async fn status_of(app: &Router, uri: &str, bearer: Option<&str>) -> StatusCode {
        let mut request = HttpRequest::builder().uri(uri);
        if let Some(token) = bearer {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        app.clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
            .status()
    }

    #[tokio::test]
    async fn with_a_token_every_route_needs_it_as_bearer_or_key() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = dir.path().join("runtime_snapshot.json");
        std::fs::write(&snapshot, "{\"running\": true}").unwrap();
        let app = router(state(Some("s3cr3t-token"), snapshot));
        for route in ["/healthz", "/api/snapshot", "/overlay", "/chat"] {
            assert_eq!(
                status_of(&app, route, None).await,
                StatusCode::UNAUTHORIZED,
                "{route}"
            );
            assert_eq!(
                status_of(&app, route, Some("wrong")).await,
                StatusCode::UNAUTHORIZED
            );
            assert_eq!(
                status_of(&app, route, Some("s3cr3t-token")).await,
                StatusCode::OK
            );
            let with_key = format!("{route}?key=s3cr3t-token");
            assert_eq!(status_of(&app, &with_key, None).await, StatusCode::OK);
            let wrong_key = format!("{route}?key=s3cr3t-tokeX");
            assert_eq!(
                status_of(&app, &wrong_key, None).await,
                StatusCode::UNAUTHORIZED
            );
        }
        assert_eq!(
            status_of(&app, "/events", None).await,
            StatusCode::UNAUTHORIZED
        );
        // A control token opens the other routes as a bearer, never as ?key=.
        assert_eq!(
            status_of(&app, "/api/snapshot", Some("control-token")).await,
            StatusCode::OK
        );
        assert_eq!(
            status_of(&app, "/api/snapshot?key=control-token", None).await,
            StatusCode::UNAUTHORIZED
        );
        // The control page holds no data: it asks for its token itself.
        assert_eq!(status_of(&app, "/control", None).await, StatusCode::OK);
        // The scheme is case-insensitive (RFC 9110).
        for scheme in ["bearer", "BEARER"] {
            let request = HttpRequest::builder()
                .uri("/api/snapshot")
                .header(header::AUTHORIZATION, format!("{scheme} s3cr3t-token"))
                .body(Body::empty())
                .unwrap();
            let status = app.clone().oneshot(request).await.unwrap().status();
            assert_eq!(status, StatusCode::OK, "{scheme}");
        }
    }

    #[tokio::test]
    async fn without_a_token_loopback_routes_are_open_and_a_missing_snapshot_is_503() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(state(None, dir.path().join("absent.json")));
        assert_eq!(status_of(&app, "/healthz", None).await, StatusCode::OK);
        assert_eq!(
            status_of(&app, "/api/snapshot", None).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[tokio::test]
    async fn a_non_loopback_listen_without_a_token_is_refused() {
        let err = bind("0.0.0.0:0", None).await.unwrap_err();
        assert!(matches!(err, ServeError::NeedsToken(_)), "{err}");
        assert!(err.to_string().contains("http.token_env"), "{err}");
        assert!(bind("0.0.0.0:0", Some(&Secret::new("t"))).await.is_ok());
        assert!(matches!(
            bind("localhost", None).await,
            Err(ServeError::BadListen(_))
        ));
    }

    /// Connects to `/events` and returns the first `n` SSE events as (event, id, data).
    async fn read_events(
        address: SocketAddr,
        last_id: Option<String>,
        n: usize,
    ) -> Vec<(String, Option<String>, String)> {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let resume = last_id.map_or_else(String::new, |id| format!("Last-Event-ID: {id}\r\n"));
        stream
            .write_all(
                format!("GET /events HTTP/1.1\r\nHost: localhost\r\n{resume}\r\n").as_bytes(),
            )
            .await
            .unwrap();
        let mut lines = BufReader::new(stream).lines();
        let mut events = Vec::new();
        let (mut kind, mut id, mut data) = (String::new(), None, String::new());
        while events.len() < n {
            let line = tokio::time::timeout(Duration::from_secs(5), lines.next_line())
                .await
                .expect("an event in time")
                .unwrap()
                .expect("the stream stays open");
            if let Some(v) = line.strip_prefix("event: ") {
                kind = v.to_owned();
            } else if let Some(v) = line.strip_prefix("id: ") {
                id = Some(v.to_owned());
            } else if let Some(v) = line.strip_prefix("data: ") {
                data = v.to_owned();
            } else if line.is_empty() && !kind.is_empty() {
                events.push((
                    std::mem::take(&mut kind),
                    id.take(),
                    std::mem::take(&mut data),
                ));
            }
        }
        events
    }

    #[tokio::test]
    async fn the_event_stream_delivers_resumes_and_marks_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let app_state = state(None, dir.path().join("s.json"));
        let feed = app_state.feed.clone();
        let listener = bind("127.0.0.1:0", None).await.unwrap();
        let address = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(serve(listener, app_state, shutdown.clone()));
        for i in 1..=3 {
            feed.publish("chat", &serde_json::json!({"n": i}));
        }
        // Resuming after item 1: items 2 and 3 from the ring, then live ones.
        let id = |n: u64| {
            feed.event_id(&FeedItem {
                id: n,
                kind: "chat",
                json: String::new(),
            })
        };
        let reader = tokio::spawn(read_events(address, Some(id(1)), 3));
        tokio::time::sleep(Duration::from_millis(200)).await;
        feed.publish("action", &serde_json::json!({"n": 4}));
        let got = reader.await.unwrap();
        let ids: Vec<_> = got.iter().map(|e| e.1.clone().unwrap()).collect();
        assert_eq!(ids, [id(2), id(3), id(4)]);
        assert_eq!(got[2].0, "action");
        assert_eq!(got[0].2, "{\"n\":2}");
        // A client that was away longer than the ring keeps: a gap marker first, with the count.
        for i in 5..=(super::super::feed::RING_CAPACITY as u64 + 10) {
            feed.publish("chat", &serde_json::json!({"n": i}));
        }
        let got = read_events(address, Some(id(2)), 2).await;
        assert_eq!(got[0].0, "gap");
        // Ids 1..=RING+10 were published; the ring keeps 11..=RING+10, so 3..=10 are gone.
        assert_eq!(got[0].2, "{\"missed\":8}");
        assert_eq!(got[1].1.as_deref(), Some(id(11).as_str()));
        // An id of an earlier run (numbers restart at 1 every run) is unknown: a gap marker, then
        // the live items, never a resume at the wrong place.
        let earlier = Feed::new();
        earlier.publish("chat", &serde_json::json!({"n": 1}));
        let (old, _) = earlier.subscribe(Some(0));
        let old_id = earlier.event_id(&old.items[0]);
        let mut reader = tokio::spawn(read_events(address, Some(old_id), 2));
        // Live items until the reader has its two events (it subscribes at some point meanwhile).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let got = loop {
            feed.publish("chat", &serde_json::json!({"n": "live"}));
            if let Ok(got) = tokio::time::timeout(Duration::from_millis(50), &mut reader).await {
                break got.unwrap();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no live item after the gap"
            );
        };
        assert_eq!(got[0].0, "gap");
        assert_eq!(
            got[0].2,
            "{\"missed\":null,\"reason\":\"unknown Last-Event-ID\"}"
        );
        assert_eq!(got[1].2, "{\"n\":\"live\"}");
        shutdown.cancel();
        server.await.unwrap();
    }
}
