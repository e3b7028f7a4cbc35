//! One EventSub WebSocket session: connect, read the welcome, create the subscriptions within its
//! deadline, then serve until the session ends (Twitch's "Handling WebSocket events" guide).
//!
//! - **Welcome and subscriptions.** The welcome gives the session id and the keepalive window,
//!   which is also the deadline to subscribe. The subscriptions of the [`Plan`] are created while
//!   the socket is read (so pings are answered and early notifications are not held up); a 429
//!   backs off and tries again; a 409 means it exists already; anything else refuses that one
//!   subscription, reported once with why, and the others go on. The session is *connected* once
//!   they are done and at least one exists.
//! - **Keepalive.** Every notification or keepalive proves the socket alive. Silence longer than
//!   the window plus [`Timing::keepalive_grace`] means it is dead: the session ends, and the runner
//!   connects again to the base URL and subscribes again (Twitch does not replay what was missed).
//! - **`session_reconnect`.** A new socket is opened to the `reconnect_url` exactly as given,
//!   without subscribing (the subscriptions move with the session). The old socket is read until
//!   the new one's welcome arrives, then closed. Both may deliver the same event: deliveries are
//!   deduplicated on `metadata.message_id` across both ([`Deliveries`]), so it is recorded once.
//! - **Close codes** 4000–4007 (Twitch's EventSub WebSocket reference): every one ends the
//!   session, and the runner reconnects to the base URL with backoff and subscribes again.
//!   4004–4006 (reconnect grace expired, network timeout, network error) are Twitch's side and
//!   logged as such; 4000–4003 and 4007 are errors, 4001 and 4003 pointing at the client (it sent
//!   something, or subscribed too late), 4007 at a refused `reconnect_url`.
//! - **Revocation** stops that subscription for the rest of the run; it is reported once, naming
//!   the scope, and the others keep working.
//! - **Validation.** The token is validated again every hour; a token that stays refused after a
//!   refresh ends the session as a refused login.
//!
//! The client sends nothing on the socket but pongs and the closing handshake.

use super::events::{self, Decoded};
use super::frames::{self, Frame, Revocation, SessionInfo};
use super::plan::{self, Planned};
use crate::backoff::Backoff;
use crate::guards::Guard;
use crate::sources::runner::session::SessionEnd;
use crate::sources::twitch::auth::{AuthError, VALIDATE_EVERY};
use crate::sources::twitch::helix_api::{HelixApi, HelixError};
use crate::sources::{BoxFuture, Forwarded, SourceContext};
use futures_util::StreamExt;
use std::collections::{BTreeSet, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_rustls::rustls::ClientConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use tracing::{debug, info, trace, warn};

/// The largest frame accepted. EventSub frames are a few KiB.
const MAX_MESSAGE_BYTES: usize = 512 * 1024;
/// Twitch's limit on the summed cost of a client and user's enabled subscriptions, until an
/// answer says otherwise.
pub const DEFAULT_MAX_TOTAL_COST: u64 = 10;
/// How many delivery ids are remembered for dedupe.
pub const DELIVERY_WINDOW: usize = 4096;

/// The waits of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// TCP, TLS and the websocket handshake.
    pub connect_timeout: Duration,
    /// From connecting to the welcome.
    pub welcome_timeout: Duration,
    /// Added to the keepalive window before a silent socket counts as dead.
    pub keepalive_grace: Duration,
    /// Backoff of a subscription answered 429: first step and cap.
    pub subscribe_retry_base: Duration,
    pub subscribe_retry_cap: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            connect_timeout: Duration::from_secs(10),
            welcome_timeout: Duration::from_secs(10),
            keepalive_grace: Duration::from_secs(5),
            subscribe_retry_base: Duration::from_secs(1),
            subscribe_retry_cap: Duration::from_secs(30),
        }
    }
}

/// Why a session ended before shutdown.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("no welcome within {0:?} of connecting")]
    NoWelcome(Duration),
    #[error("no keepalive or notification for {0:?}; the connection is dead")]
    Silent(Duration),
    #[error("Twitch closed the connection{}", close_text(*code, reason))]
    Closed { code: Option<u16>, reason: String },
    #[error("websocket error: {0}")]
    Ws(String),
    #[error("moving to the reconnect_url failed: {0}")]
    Reconnect(String),
    #[error("no subscription could be created: {0}")]
    NothingSubscribed(String),
    #[error(transparent)]
    Helix(#[from] HelixError),
}

/// What a close code means (Twitch's EventSub WebSocket reference).
pub fn close_meaning(code: u16) -> &'static str {
    match code {
        4000 => "internal server error",
        4001 => "the client sent inbound traffic, which Twitch forbids",
        4002 => "the client failed ping-pong",
        4003 => "connection unused: no subscription was created within the welcome's deadline",
        4004 => "reconnect grace time expired",
        4005 => "network timeout",
        4006 => "network error",
        4007 => "invalid reconnect: Twitch refused the reconnect_url",
        1000 => "normal closure",
        _ => "unknown code",
    }
}

fn close_text(code: Option<u16>, reason: &str) -> String {
    match code {
        Some(code) if reason.is_empty() => format!(" with {code} ({})", close_meaning(code)),
        Some(code) => format!(" with {code} ({}: {reason:?})", close_meaning(code)),
        None => " without a close frame".into(),
    }
}

impl SessionError {
    /// Twitch's own end of a connection (not an error of either side): reconnect quietly.
    pub fn is_twitch_side(&self) -> bool {
        matches!(
            self,
            SessionError::Closed {
                code: Some(4004..=4006),
                ..
            }
        )
    }
}

/// The delivery ids seen lately, so a notification delivered twice (at-least-once delivery, or on
/// both sockets of a reconnect) is handed on once.
#[derive(Debug, Default)]
pub struct Deliveries {
    seen: HashSet<String>,
    order: VecDeque<String>,
}

impl Deliveries {
    /// True the first time `id` is seen (within the last [`DELIVERY_WINDOW`] ids).
    pub fn first(&mut self, id: &str) -> bool {
        if self.seen.contains(id) {
            return false;
        }
        if self.order.len() == DELIVERY_WINDOW
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.seen.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        true
    }
}

/// What a session works with, from its source.
pub struct Setup<'a> {
    /// The base URL (with `keepalive_timeout_seconds` when configured).
    pub url: &'a str,
    pub tls: Arc<ClientConfig>,
    pub api: Arc<HelixApi>,
    /// The channel login events must be for.
    pub channel: &'a str,
    pub plan: Vec<Planned>,
    pub timing: Timing,
}

/// The source's memory across its sessions.
pub struct Memory<'a> {
    pub deliveries: &'a mut Deliveries,
    /// Subscription types Twitch revoked this run.
    pub revoked: &'a mut BTreeSet<String>,
    /// Subscription types whose refusal was reported this run.
    pub reported: &'a mut BTreeSet<String>,
}

/// What one session did.
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<SessionEnd, SessionError>,
    pub connected_for: Option<Duration>,
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Connecting = Pin<Box<dyn Future<Output = Result<Ws, SessionError>> + Send>>;

/// What creating the subscriptions came to.
#[derive(Debug, Default)]
struct Subscribed {
    created: Vec<&'static str>,
    /// Refused for good this session: (type, why).
    refused: Vec<(&'static str, String)>,
    /// An error that ends the session (a refused login, the network).
    fatal: Option<HelixError>,
}

/// Opens a websocket to `url`.
async fn connect(url: String, tls: Arc<ClientConfig>, limit: Duration) -> Result<Ws, SessionError> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let connect = tokio_tungstenite::connect_async_tls_with_config(
        url.as_str(),
        Some(config),
        true,
        Some(Connector::Rustls(tls)),
    );
    match timeout(limit, connect).await {
        Err(_) => Err(SessionError::Connect(format!("timed out after {limit:?}"))),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
            Err(SessionError::Connect(format!(
                "the server refused the websocket (HTTP {})",
                response.status()
            )))
        }
        Ok(Err(e)) => Err(SessionError::Connect(e.to_string())),
        Ok(Ok((ws, _))) => Ok(ws),
    }
}

/// Creates `plan`'s subscriptions on `session_id`, within Twitch's cost limit, backing off on 429.
async fn subscribe(
    api: Arc<HelixApi>,
    plan: Vec<Planned>,
    session_id: String,
    timing: Timing,
) -> Subscribed {
    let mut out = Subscribed::default();
    let mut total_cost = 0;
    let mut max_cost = DEFAULT_MAX_TOTAL_COST;
    for planned in plan {
        if planned.cost > 0 && total_cost + planned.cost > max_cost {
            out.refused.push((
                planned.kind,
                format!(
                    "it costs {} and the subscriptions that cost (those needing no scope, for a channel the token's user does not own) would pass Twitch's max_total_cost of {max_cost}; log in as the channel's owner to make them free",
                    planned.cost
                ),
            ));
            continue;
        }
        let mut backoff = Backoff::new(timing.subscribe_retry_base, timing.subscribe_retry_cap);
        let mut warned = false;
        loop {
            let result = api
                .create_subscription(
                    planned.kind,
                    planned.version,
                    &planned.condition,
                    &session_id,
                )
                .await;
            match result {
                Ok(created) => {
                    debug!(platform = "twitch", kind = planned.kind, id = %created.id, cost = created.cost, total_cost = created.total_cost, "Subscribed.");
                    total_cost = created.total_cost;
                    if created.max_total_cost > 0 {
                        max_cost = created.max_total_cost;
                    }
                    out.created.push(planned.kind);
                    break;
                }
                Err(HelixError::TooManyRequests { message, .. }) => {
                    let delay = backoff.next_delay();
                    if !warned {
                        warned = true;
                        warn!(
                            platform = "twitch",
                            kind = planned.kind,
                            retry_in_ms = delay.as_millis() as u64,
                            "Twitch refused a subscription for now (429: {message}); backing off."
                        );
                    }
                    tokio::time::sleep(delay).await;
                }
                Err(HelixError::Status { status: 409, .. }) => {
                    // It exists already (a subscription a moment ago on this session).
                    out.created.push(planned.kind);
                    break;
                }
                Err(HelixError::MissingScope(message)) => {
                    let scope = plan::scopes_of(planned.kind);
                    let needs = if scope.is_empty() {
                        "the token's user the right to see it".to_owned()
                    } else {
                        format!(
                            "the scope {} (and its user the right to use it)",
                            scope.join(" or ")
                        )
                    };
                    out.refused.push((
                        planned.kind,
                        format!("Twitch refused it (403: {message}); it needs {needs}"),
                    ));
                    break;
                }
                Err(HelixError::Status { status, message }) => {
                    out.refused.push((
                        planned.kind,
                        format!("Twitch refused it ({status}: {message})"),
                    ));
                    break;
                }
                Err(HelixError::Wire(e)) => {
                    out.refused.push((planned.kind, e.to_string()));
                    break;
                }
                Err(fatal) => {
                    out.fatal = Some(fatal);
                    return out;
                }
            }
        }
    }
    out
}

/// Reads the next message of an optional socket; never resolves without one.
async fn read(
    ws: &mut Option<Ws>,
) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
    match ws {
        Some(ws) => ws.next().await,
        None => std::future::pending().await,
    }
}

async fn poll_opt<T>(future: &mut Option<Pin<Box<dyn Future<Output = T> + Send>>>) -> T {
    match future {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

/// Which socket a frame came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Socket {
    Current,
    Next,
}

struct Session<'a, 'm> {
    setup: &'a Setup<'a>,
    memory: &'a mut Memory<'m>,
    current: Option<Ws>,
    /// The socket opened on a `reconnect_url`, until its welcome.
    next: Option<Ws>,
    connecting: Option<Connecting>,
    subscribing: Option<BoxFuture<'static, Subscribed>>,
    session_id: String,
    keepalive: Duration,
    /// When silence means the current socket is dead.
    silent_at: Instant,
    /// When the next socket must have said welcome.
    next_deadline: Option<Instant>,
    validate_at: Instant,
    connected_at: Option<Instant>,
}

/// Connects to the base URL and serves one session.
pub async fn run(setup: &Setup<'_>, memory: &mut Memory<'_>, ctx: &mut SourceContext) -> Outcome {
    let outcome = |result| Outcome {
        result,
        connected_for: None,
    };
    let shutdown = ctx.shutdown.clone();
    let mut ws = tokio::select! {
        () = shutdown.cancelled() => return outcome(Ok(SessionEnd::Shutdown)),
        ws = connect(setup.url.to_owned(), setup.tls.clone(), setup.timing.connect_timeout) => match ws {
            Ok(ws) => ws,
            Err(e) => return outcome(Err(e)),
        },
    };
    let welcome = tokio::select! {
        () = shutdown.cancelled() => return outcome(Ok(SessionEnd::Shutdown)),
        welcome = timeout(setup.timing.welcome_timeout, read_welcome(&mut ws, ctx)) => match welcome {
            Err(_) => Err(SessionError::NoWelcome(setup.timing.welcome_timeout)),
            Ok(welcome) => welcome,
        },
    };
    let info = match welcome {
        Ok(info) => info,
        Err(e) => return outcome(Err(e)),
    };
    let keepalive = Duration::from_secs(info.keepalive_timeout_seconds.unwrap_or(10).max(1));
    info!(
        platform = "twitch",
        creator = %ctx.creator,
        channel = %setup.channel,
        session = %info.id,
        keepalive_s = keepalive.as_secs(),
        subscriptions = setup.plan.len(),
        "EventSub session welcomed; subscribing."
    );
    let subscribing: BoxFuture<'static, Subscribed> = Box::pin(subscribe(
        setup.api.clone(),
        setup.plan.clone(),
        info.id.clone(),
        setup.timing,
    ));
    let mut session = Session {
        setup,
        memory,
        current: Some(ws),
        next: None,
        connecting: None,
        subscribing: Some(subscribing),
        session_id: info.id,
        keepalive,
        silent_at: Instant::now() + keepalive + setup.timing.keepalive_grace,
        next_deadline: None,
        validate_at: Instant::now() + VALIDATE_EVERY,
        connected_at: None,
    };
    let result = session.serve(ctx).await;
    if let Some(ws) = session.current.as_mut() {
        let _ = timeout(Duration::from_secs(1), ws.close(None)).await;
    }
    if let Some(ws) = session.next.as_mut() {
        let _ = timeout(Duration::from_secs(1), ws.close(None)).await;
    }
    Outcome {
        result,
        connected_for: session.connected_at.map(|at| at.elapsed()),
    }
}

/// Reads up to the welcome (a server may ping first).
async fn read_welcome(ws: &mut Ws, ctx: &SourceContext) -> Result<SessionInfo, SessionError> {
    loop {
        match ws.next().await {
            None => {
                return Err(SessionError::Closed {
                    code: None,
                    reason: String::new(),
                });
            }
            Some(Err(e)) => return Err(SessionError::Ws(e.to_string())),
            Some(Ok(Message::Close(frame))) => return Err(closed(frame)),
            Some(Ok(Message::Text(text))) => match frames::parse(text.as_str()) {
                Ok(Frame::Welcome(info)) => return Ok(info),
                Ok(other) => debug!(
                    platform = "twitch",
                    ?other,
                    "A frame before the welcome; skipped."
                ),
                Err(e) => {
                    ctx.guards.count(Guard::EventsUnreadable, 1);
                    warn!(platform = "twitch", error = %e, "Skipped a frame that cannot be read.");
                }
            },
            Some(Ok(_)) => {}
        }
    }
}

fn closed(frame: Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> SessionError {
    let (code, reason) = frame
        .map(|f| (Some(u16::from(f.code)), f.reason.to_string()))
        .unwrap_or((None, String::new()));
    SessionError::Closed { code, reason }
}

impl Session<'_, '_> {
    async fn serve(&mut self, ctx: &mut SourceContext) -> Result<SessionEnd, SessionError> {
        let shutdown = ctx.shutdown.clone();
        loop {
            let next_deadline = self.next_deadline;
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return Ok(SessionEnd::Shutdown),
                message = read(&mut self.current) => {
                    if let Some(end) = self.on_message(message, Socket::Current, ctx).await? {
                        return Ok(end);
                    }
                }
                message = read(&mut self.next) => {
                    if let Some(end) = self.on_message(message, Socket::Next, ctx).await? {
                        return Ok(end);
                    }
                }
                connected = poll_opt(&mut self.connecting) => {
                    self.connecting = None;
                    let ws = connected.map_err(|e| SessionError::Reconnect(e.to_string()))?;
                    self.next = Some(ws);
                    self.next_deadline = Some(Instant::now() + self.setup.timing.welcome_timeout);
                }
                subscribed = poll_opt(&mut self.subscribing) => {
                    self.subscribing = None;
                    self.on_subscribed(subscribed, ctx)?;
                }
                () = sleep_until(self.silent_at) => {
                    return Err(SessionError::Silent(self.keepalive + self.setup.timing.keepalive_grace));
                }
                () = sleep_until(next_deadline.unwrap_or(self.silent_at)), if next_deadline.is_some() => {
                    return Err(SessionError::Reconnect(format!(
                        "no welcome on the new connection within {:?}",
                        self.setup.timing.welcome_timeout
                    )));
                }
                () = sleep_until(self.validate_at) => self.revalidate(ctx).await?,
            }
        }
    }

    /// The hourly validation of the token.
    async fn revalidate(&mut self, ctx: &SourceContext) -> Result<(), SessionError> {
        match self.setup.api.auth().validate().await {
            Ok(_) => {
                self.validate_at = Instant::now() + VALIDATE_EVERY;
                Ok(())
            }
            Err(AuthError::Unavailable(why)) => {
                warn!(platform = "twitch", creator = %ctx.creator, "{why}; trying again in a minute.");
                self.validate_at = Instant::now() + Duration::from_secs(60);
                Ok(())
            }
            Err(e) => Err(HelixError::Auth(e).into()),
        }
    }

    fn on_subscribed(
        &mut self,
        subscribed: Subscribed,
        ctx: &SourceContext,
    ) -> Result<(), SessionError> {
        for (kind, why) in &subscribed.refused {
            if self.memory.reported.insert((*kind).to_owned()) {
                ctx.report.warning(&format!(
                    "{}/twitch: the EventSub subscription {kind} was not created: {why}",
                    ctx.creator
                ));
            }
        }
        if let Some(fatal) = subscribed.fatal {
            return Err(fatal.into());
        }
        if subscribed.created.is_empty() {
            let why: Vec<String> = subscribed
                .refused
                .iter()
                .map(|(kind, why)| format!("{kind}: {why}"))
                .collect();
            return Err(SessionError::NothingSubscribed(why.join("; ")));
        }
        self.connected_at = Some(Instant::now());
        ctx.report.connected();
        info!(
            platform = "twitch",
            creator = %ctx.creator,
            channel = %self.setup.channel,
            session = %self.session_id,
            subscriptions = %subscribed.created.join(", "),
            "Subscribed to EventSub."
        );
        Ok(())
    }

    /// Handles one websocket message of either socket; `Some` ends the session.
    async fn on_message(
        &mut self,
        message: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
        socket: Socket,
        ctx: &SourceContext,
    ) -> Result<Option<SessionEnd>, SessionError> {
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                let error = closed(frame);
                return Err(match socket {
                    Socket::Current => error,
                    Socket::Next => SessionError::Reconnect(error.to_string()),
                });
            }
            // Pings are answered by the library; EventSub sends no binary frames.
            Some(Ok(_)) => return Ok(None),
            Some(Err(e)) => {
                return Err(match socket {
                    Socket::Current => SessionError::Ws(e.to_string()),
                    Socket::Next => SessionError::Reconnect(e.to_string()),
                });
            }
            None => {
                let error = SessionError::Closed {
                    code: None,
                    reason: String::new(),
                };
                return Err(match socket {
                    Socket::Current => error,
                    Socket::Next => SessionError::Reconnect(error.to_string()),
                });
            }
        };
        trace!(platform = "twitch", frame = %text.as_str(), "Received a frame.");
        let frame = match frames::parse(text.as_str()) {
            Ok(frame) => frame,
            Err(e) => {
                ctx.guards.count(Guard::EventsUnreadable, 1);
                warn!(platform = "twitch", creator = %ctx.creator, error = %e, "Skipped an EventSub frame that cannot be read.");
                return Ok(None);
            }
        };
        if socket == Socket::Current && !matches!(frame, Frame::Unknown { .. }) {
            self.silent_at = Instant::now() + self.keepalive + self.setup.timing.keepalive_grace;
        }
        match frame {
            Frame::Welcome(info) => match socket {
                Socket::Next => self.switch(info, ctx).await,
                Socket::Current => debug!(
                    platform = "twitch",
                    "A second welcome on the same connection; skipped."
                ),
            },
            Frame::Keepalive => {}
            Frame::Reconnect(info) => self.on_reconnect(info, ctx),
            Frame::Notification(notification) => {
                if !self.memory.deliveries.first(&notification.message_id) {
                    ctx.guards.count(Guard::Redelivered, 1);
                    debug!(platform = "twitch", delivery = %notification.message_id, "Dropped a notification delivered again.");
                    return Ok(None);
                }
                match events::normalize(&notification, &ctx.creator) {
                    Ok(decoded) => return Ok(self.forward(decoded, ctx).await),
                    Err(e) => {
                        ctx.guards.count(Guard::EventsUnreadable, 1);
                        warn!(platform = "twitch", creator = %ctx.creator, kind = %notification.subscription_type, error = %e, "Skipped an EventSub event that cannot be read.");
                    }
                }
            }
            Frame::Revocation(revocation) => self.on_revocation(revocation, ctx),
            Frame::Unknown { message_type } => {
                debug!(
                    platform = "twitch",
                    message_type, "Skipped an EventSub frame of an unknown type."
                );
            }
        }
        Ok(None)
    }

    /// `session_reconnect`: opens the new socket on the URL exactly as given.
    fn on_reconnect(&mut self, info: SessionInfo, ctx: &SourceContext) {
        if self.connecting.is_some() || self.next.is_some() {
            return;
        }
        let Some(url) = info.reconnect_url else {
            return;
        };
        info!(platform = "twitch", creator = %ctx.creator, "Twitch asked to move to a new connection; keeping this one until it is welcomed.");
        self.connecting = Some(Box::pin(connect(
            url,
            self.setup.tls.clone(),
            self.setup.timing.connect_timeout,
        )));
    }

    /// The new socket's welcome: it becomes the current one (with the same subscriptions), the
    /// old one is closed.
    async fn switch(&mut self, info: SessionInfo, ctx: &SourceContext) {
        let Some(next) = self.next.take() else {
            return;
        };
        if let Some(mut old) = self.current.replace(next) {
            let _ = timeout(Duration::from_secs(1), old.close(None)).await;
        }
        self.next_deadline = None;
        if let Some(seconds) = info.keepalive_timeout_seconds {
            self.keepalive = Duration::from_secs(seconds.max(1));
        }
        self.silent_at = Instant::now() + self.keepalive + self.setup.timing.keepalive_grace;
        info!(platform = "twitch", creator = %ctx.creator, old_session = %self.session_id, session = %info.id, "Moved to the new EventSub connection.");
        self.session_id = info.id;
    }

    fn on_revocation(&mut self, revocation: Revocation, ctx: &SourceContext) {
        let kind = revocation.subscription_type;
        if !self.memory.revoked.insert(kind.clone()) {
            return;
        }
        let scope = plan::scopes_of(&kind);
        let needs = if scope.is_empty() {
            String::new()
        } else {
            format!("; it needs the scope {}", scope.join(" or "))
        };
        ctx.report.warning(&format!(
            "{}/twitch: Twitch revoked the EventSub subscription {kind} ({}){needs}; the other subscriptions keep working; log in again with `ss auth twitch --creator {}` to get it back",
            ctx.creator, revocation.status, ctx.creator
        ));
    }

    /// Hands a decoded event to the data lane (and a live change to the status).
    async fn forward(&mut self, decoded: Decoded, ctx: &SourceContext) -> Option<SessionEnd> {
        let Decoded { event, live } = decoded;
        if !event.channel.eq_ignore_ascii_case(self.setup.channel) {
            // Only the configured channel is ours: anything else is never stored or answered.
            ctx.guards.count(Guard::ForeignChannelEvent, 1);
            debug!(platform = "twitch", channel = %event.channel, "Dropped an event for another channel.");
            return None;
        }
        if let Some(live) = live {
            ctx.report.live(live);
        }
        match ctx.forward(event).await {
            Forwarded::Continue => None,
            Forwarded::PipelineClosed => Some(SessionEnd::PipelineClosed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_are_handed_on_once_within_the_window() {
        let mut seen = Deliveries::default();
        assert!(seen.first("a"));
        assert!(!seen.first("a"));
        for i in 0..DELIVERY_WINDOW {
            assert!(seen.first(&format!("x{i}")));
        }
        assert!(seen.first("a"), "forgotten once out of the window");
        assert_eq!(seen.order.len(), DELIVERY_WINDOW);
        assert_eq!(seen.seen.len(), DELIVERY_WINDOW);
    }

    #[test]
    fn close_codes_say_what_they_mean() {
        let e = SessionError::Closed {
            code: Some(4003),
            reason: "connection unused".into(),
        };
        assert_eq!(
            e.to_string(),
            "Twitch closed the connection with 4003 (connection unused: no subscription was created within the welcome's deadline: \"connection unused\")"
        );
        assert!(!e.is_twitch_side());
        for code in 4004..=4006 {
            assert!(
                SessionError::Closed {
                    code: Some(code),
                    reason: String::new()
                }
                .is_twitch_side()
            );
        }
        assert_eq!(
            close_meaning(4007),
            "invalid reconnect: Twitch refused the reconnect_url"
        );
    }
}
