//! The gateway connection: connect, Hello, heartbeat, Identify or Resume, dispatches, and what to
//! do when a connection ends, per Discord's gateway reference (v10, JSON, no compression).
//!
//! One [`Gateway`] lives as long as the bot. It keeps what outlives a connection: the cached
//! gateway URL, the session (id, resume URL, last sequence), and the Identify budget. Each
//! connection then goes:
//!
//! 1. Where: the session's `resume_gateway_url` when there is a session to resume, else the URL of
//!    `GET /gateway/bot` (fetched before each Identify, which also refreshes the budget; the cached
//!    URL serves when the call fails).
//! 2. Hello, then the heartbeat schedule ([`super::heartbeat`]); op 1 from the server is answered at
//!    once; a beat due before the last one's ACK means a zombie connection: closed with 4000 and
//!    resumed on a new one.
//! 3. Resume (op 6, with the last sequence) when there is a session; otherwise Identify (op 2,
//!    GUILDS only), admitted by the budget ([`super::identify`]): never twice in 5 seconds per
//!    `max_concurrency`, never with none left (the bot waits for the reset, reporting it).
//! 4. Dispatches: READY (session, application id: the commands are registered), RESUMED,
//!    GUILD_CREATE / GUILD_DELETE (the guild list), INTERACTION_CREATE (handed to the
//!    interaction handler, which answers on its own task, so a slow answer never delays a heartbeat).
//! 5. The end: op 7 → reconnect and resume; op 9 → resume if `d` is true, else a new session; a
//!    close code → [`super::close::action`]; a drop with no close frame → resume. A connection that
//!    reached READY or RESUMED is reconnected at once; one that failed before backs off (capped,
//!    jittered).
//!
//! The token goes out in Identify and Resume only; no frame's text is ever logged (an interaction
//! carries its own token), only its opcode and event name.

use super::close::{self, CloseAction, Fatal};
use super::heartbeat::{Beat, Heartbeat};
use super::identify::{Admit, IdentifyGate};
use super::rest::{Rest, RestError};
use super::state::{BotState, Connection, GuildState, IdentifyState};
use super::wire::{self, Frame};
use crate::backoff::Backoff;
use crate::config::secrets::Secret;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// TCP, TLS and the websocket handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// From connecting to Hello.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(20);
/// The largest frame accepted: a large guild's GUILD_CREATE runs to megabytes.
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// The close code of a connection the bot ends but means to resume (not 1000/1001, which would end
/// the session too).
const RESUMABLE_CLOSE: u16 = 4000;

/// What the gateway hands on: the interaction handler's side of the dispatches.
pub trait Dispatch: Send + Sync {
    /// READY arrived for `application_id`: register the commands.
    fn ready(&self, application_id: &str);
    /// A command was used.
    fn interaction(&self, interaction: wire::Interaction);
}

/// A session to resume.
#[derive(Debug, Clone)]
struct Session {
    id: String,
    resume_url: String,
}

/// How one connection ended.
#[derive(Debug)]
enum End {
    Shutdown,
    Resume { reason: String, was_up: bool },
    NewSession { reason: String, was_up: bool },
    Fatal(Fatal),
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The bot's side of the gateway, for as long as the bot runs.
pub struct Gateway<'a> {
    rest: &'a Rest,
    token: &'a Secret,
    state: &'a BotState,
    dispatch: &'a dyn Dispatch,
    identify_warn_below: u32,
    gateway_url: Option<String>,
    session: Option<Session>,
    seq: Option<u64>,
    gate: IdentifyGate,
    backoff: Backoff,
    warned_budget: Option<u32>,
}

/// Why the bot stopped for good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Fatal(#[from] Fatal),
    #[error("{0}")]
    Unauthorized(RestError),
}

impl<'a> Gateway<'a> {
    pub fn new(
        rest: &'a Rest,
        token: &'a Secret,
        state: &'a BotState,
        dispatch: &'a dyn Dispatch,
        identify_warn_below: u32,
    ) -> Gateway<'a> {
        Gateway {
            rest,
            token,
            state,
            dispatch,
            identify_warn_below,
            gateway_url: None,
            session: None,
            seq: None,
            gate: IdentifyGate::default(),
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(60)),
            warned_budget: None,
        }
    }

    /// Runs until `shutdown`, or until Discord says to stop for good.
    pub async fn run(&mut self, shutdown: &CancellationToken) -> Result<(), GatewayError> {
        loop {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            self.state.set_connection(Connection::Connecting);
            let url = match &self.session {
                Some(session) => session.resume_url.clone(),
                None => match self.before_identify(shutdown).await? {
                    Some(url) => url,
                    None => continue,
                },
            };
            // The connection watches `shutdown` itself, so a stop sends its close frame.
            let (reason, was_up) = match self.connection(&url, shutdown).await {
                End::Shutdown => return Ok(()),
                End::Fatal(fatal) => return Err(fatal.into()),
                End::Resume { reason, was_up } => (reason, was_up),
                End::NewSession { reason, was_up } => {
                    self.session = None;
                    self.seq = None;
                    (reason, was_up)
                }
            };
            let resuming = self.session.is_some();
            tracing::info!(
                reason = %reason,
                resume = resuming,
                "Discord gateway connection ended; reconnecting."
            );
            self.state.update(|s| {
                s.session.reconnects += 1;
                s.session.resumable = resuming;
                s.last_error = Some(crate::sanitize::message(&reason));
            });
            self.state.set_connection(Connection::Reconnecting);
            if was_up {
                self.backoff.reset();
            } else {
                let delay = self.backoff.next_delay();
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shutdown.cancelled() => return Ok(()),
                }
            }
        }
    }

    /// Before an Identify: the URL and budget from `GET /gateway/bot`, then the budget's
    /// admission. `None` means try again (the wait is over).
    async fn before_identify(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Result<Option<String>, GatewayError> {
        match self.rest.gateway_bot().await {
            Ok(answer) => {
                self.gateway_url = Some(answer.url);
                let limit = answer.session_start_limit;
                self.gate.update(limit, Instant::now());
                self.state.update(|s| {
                    s.identify = Some(IdentifyState::new(
                        limit,
                        chrono::Utc::now(),
                        self.identify_warn_below,
                    ));
                });
            }
            Err(e @ RestError::Unauthorized { .. }) => return Err(GatewayError::Unauthorized(e)),
            Err(e) if self.gateway_url.is_some() => {
                tracing::warn!(error = %e, "GET /gateway/bot failed; using the cached gateway URL.");
            }
            Err(e) => {
                tracing::warn!(error = %e, "GET /gateway/bot failed; trying again.");
                self.state
                    .update(|s| s.last_error = Some(crate::sanitize::message(&e.to_string())));
                let delay = self.backoff.next_delay();
                tokio::select! {
                    () = tokio::time::sleep(delay) => return Ok(None),
                    () = shutdown.cancelled() => return Ok(None),
                }
            }
        }
        if let Some(remaining) = self.gate.near_end(self.identify_warn_below)
            && self.warned_budget.is_none_or(|w| remaining < w)
        {
            self.warned_budget = Some(remaining);
            tracing::warn!(
                remaining,
                "Discord's Identify budget is near its end: {remaining} new sessions left until it resets; at none Discord ends every session and resets the bot token. Look for what keeps the bot reconnecting with new sessions."
            );
        }
        match self.gate.admit(Instant::now()) {
            Admit::Now => {}
            Admit::After(at) => {
                tokio::select! {
                    () = sleep_until(at) => {}
                    () = shutdown.cancelled() => return Ok(None),
                }
            }
            Admit::Exhausted(at) => {
                let wait = at.saturating_duration_since(Instant::now());
                tracing::error!(
                    wait_s = wait.as_secs(),
                    "Discord's Identify budget is spent; the bot waits for its reset before starting a new session."
                );
                self.state.set_connection(Connection::WaitingForIdentify);
                tokio::select! {
                    () = sleep_until(at) => return Ok(None),
                    () = shutdown.cancelled() => return Ok(None),
                }
            }
        }
        Ok(self.gateway_url.clone())
    }

    /// One connection, from connecting to its end.
    async fn connection(&mut self, url: &str, shutdown: &CancellationToken) -> End {
        let connected = tokio::select! {
            connected = connect(url) => connected,
            () = shutdown.cancelled() => return End::Shutdown,
        };
        let mut ws = match connected {
            Ok(ws) => ws,
            Err(reason) => {
                return End::Resume {
                    reason,
                    was_up: false,
                };
            }
        };
        let first = tokio::select! {
            first = timeout(HELLO_TIMEOUT, first_frame(&mut ws)) => first,
            () = shutdown.cancelled() => {
                close_with(&mut ws, CloseCode::Normal).await;
                return End::Shutdown;
            }
        };
        let hello = match first {
            Err(_) => return self.resumable("no Hello from the gateway", false),
            Ok(Err(end)) => return end,
            Ok(Ok(frame)) if frame.op == wire::OP_RECONNECT => {
                return self.resumable("the gateway asked to reconnect (op 7)", false);
            }
            Ok(Ok(frame)) if frame.op == wire::OP_HELLO => {
                match crate::wire::from_value::<wire::Hello>("Hello", &frame.d) {
                    Ok(hello) => hello,
                    Err(e) => return self.resumable(&e.to_string(), false),
                }
            }
            Ok(Ok(frame)) => {
                return self.resumable(
                    &format!("the first frame was op {}, not Hello", frame.op),
                    false,
                );
            }
        };
        let mut heartbeat = Heartbeat::after_hello(
            Duration::from_millis(hello.heartbeat_interval.max(1)),
            fastrand::f64(),
            Instant::now(),
        );
        let opening = match &self.session {
            Some(session) => {
                tracing::debug!("Resuming the Discord session.");
                wire::resume(self.token.expose(), &session.id, self.seq)
            }
            None => {
                tracing::debug!("Identifying with Discord (a new session).");
                self.gate.identified(Instant::now());
                self.state.update(|s| {
                    s.session.identifies += 1;
                    if let Some(identify) = &mut s.identify {
                        identify.remaining = identify.remaining.saturating_sub(1);
                        identify.near_end = identify.remaining <= self.identify_warn_below;
                    }
                });
                wire::identify(self.token.expose())
            }
        };
        if let Err(reason) = send(&mut ws, opening).await {
            return self.resumable(&reason, false);
        }
        let mut up = false;
        loop {
            let frame = tokio::select! {
                () = shutdown.cancelled() => {
                    // Going away for good: 1000 ends the session, so the bot shows offline at once.
                    close_with(&mut ws, CloseCode::Normal).await;
                    return End::Shutdown;
                }
                () = sleep_until(heartbeat.next_at()) => {
                    match heartbeat.due(Instant::now()) {
                        Beat::Send => {
                            if let Err(reason) = send(&mut ws, wire::heartbeat(self.seq)).await {
                                return self.resumable(&reason, up);
                            }
                            continue;
                        }
                        Beat::Zombie => {
                            close_with(&mut ws, CloseCode::from(RESUMABLE_CLOSE)).await;
                            return self.resumable("no heartbeat ACK since the last beat (a zombie connection)", up);
                        }
                    }
                }
                message = ws.next() => message,
            };
            let text = match frame {
                None => return self.resumable("the connection dropped", up),
                Some(Err(e)) => return self.resumable(&format!("websocket error: {e}"), up),
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.as_ref().map(|f| u16::from(f.code));
                    let reason = format!(
                        "the gateway closed the connection{}",
                        code.map(|c| format!(" with code {c}")).unwrap_or_default()
                    );
                    return match close::action(code) {
                        CloseAction::Resume => self.resumable(&reason, up),
                        CloseAction::NewSession => End::NewSession { reason, was_up: up },
                        CloseAction::Stop(fatal) => End::Fatal(fatal),
                    };
                }
                Some(Ok(Message::Binary(_))) => {
                    // Binary frames mean compression, which the bot never asks for.
                    tracing::debug!("Ignored a binary gateway frame.");
                    continue;
                }
                Some(Ok(_)) => continue,
            };
            let frame = match Frame::parse(&text) {
                Ok(frame) => frame,
                Err(e) => {
                    tracing::warn!(error = %e, "Ignored a gateway frame that does not fit.");
                    continue;
                }
            };
            tracing::trace!(
                op = frame.op,
                event = frame.t.as_deref().unwrap_or(""),
                seq = frame.s,
                "Gateway frame."
            );
            match frame.op {
                wire::OP_DISPATCH => {
                    if let Some(s) = frame.s {
                        self.seq = Some(s);
                        self.state.update(|st| st.session.sequence = Some(s));
                    }
                    if self.dispatch(frame) {
                        if !up {
                            self.backoff.reset();
                        }
                        up = true;
                    }
                }
                wire::OP_HEARTBEAT => {
                    heartbeat.requested(Instant::now());
                    if let Err(reason) = send(&mut ws, wire::heartbeat(self.seq)).await {
                        return self.resumable(&reason, up);
                    }
                }
                wire::OP_HEARTBEAT_ACK => {
                    heartbeat.acked(Instant::now());
                    if let Some(latency) = heartbeat.latency() {
                        self.state.update(|s| {
                            s.latency_ms =
                                Some(u64::try_from(latency.as_millis()).unwrap_or(u64::MAX));
                        });
                    }
                }
                wire::OP_RECONNECT => {
                    close_with(&mut ws, CloseCode::from(RESUMABLE_CLOSE)).await;
                    return self.resumable("the gateway asked to reconnect (op 7)", up);
                }
                wire::OP_INVALID_SESSION => {
                    close_with(&mut ws, CloseCode::from(RESUMABLE_CLOSE)).await;
                    let reason = "the gateway invalidated the session (op 9)".to_owned();
                    return if frame.d == serde_json::Value::Bool(true) {
                        self.resumable(&reason, up)
                    } else {
                        End::NewSession { reason, was_up: up }
                    };
                }
                op => tracing::debug!(op, "Ignored a gateway opcode the bot does not use."),
            }
        }
    }

    /// A reconnect that resumes when there is a session, else starts a new one.
    fn resumable(&self, reason: &str, was_up: bool) -> End {
        End::Resume {
            reason: reason.to_owned(),
            was_up,
        }
    }

    /// Handles one dispatch; true once the session is ready (READY or RESUMED).
    fn dispatch(&mut self, frame: Frame) -> bool {
        let Some(event) = frame.t.as_deref() else {
            return false;
        };
        match event {
            "READY" => match crate::wire::from_value::<wire::Ready>("READY", &frame.d) {
                Ok(ready) => {
                    self.session = Some(Session {
                        id: ready.session_id.clone(),
                        resume_url: ready.resume_gateway_url.clone(),
                    });
                    tracing::info!(
                        user = %ready.user.username,
                        guilds = ready.guilds.len(),
                        "Discord bot connected (new session)."
                    );
                    self.state.update(|s| {
                        s.user = Some(ready.user.username.clone());
                        s.application_id = Some(ready.application.id.clone());
                        s.session.resumable = true;
                        s.last_error = None;
                        for guild in &ready.guilds {
                            s.guilds.entry(guild.id.clone()).or_default();
                        }
                    });
                    self.state.set_connection(Connection::Connected);
                    self.dispatch.ready(&ready.application.id);
                    true
                }
                Err(e) => {
                    tracing::warn!(error = %e, "READY did not fit; the session stays unready.");
                    false
                }
            },
            "RESUMED" => {
                tracing::info!("Discord session resumed.");
                self.state.update(|s| {
                    s.session.resumes += 1;
                    s.last_error = None;
                });
                self.state.set_connection(Connection::Connected);
                true
            }
            "GUILD_CREATE" => {
                if let Ok(guild) =
                    crate::wire::from_value::<wire::GuildCreate>("GUILD_CREATE", &frame.d)
                {
                    self.state.update(|s| {
                        let entry = s.guilds.entry(guild.id).or_insert_with(GuildState::default);
                        entry.name = guild.name;
                        entry.available = true;
                    });
                }
                false
            }
            "GUILD_DELETE" => {
                if let Ok(guild) =
                    crate::wire::from_value::<wire::GuildDelete>("GUILD_DELETE", &frame.d)
                {
                    self.state.update(|s| {
                        if let Some(entry) = s.guilds.get_mut(&guild.id) {
                            entry.available = false;
                        }
                    });
                    tracing::info!(guild = %guild.id, outage = guild.unavailable, "A guild went away.");
                }
                false
            }
            "INTERACTION_CREATE" => {
                match crate::wire::from_value::<wire::Interaction>("INTERACTION_CREATE", &frame.d) {
                    Ok(interaction) => self.dispatch.interaction(interaction),
                    Err(e) => {
                        tracing::warn!(error = %e, "Ignored an interaction that does not fit.")
                    }
                }
                false
            }
            _ => false,
        }
    }
}

/// Opens the websocket to `base` (with the version and encoding).
async fn connect(base: &str) -> Result<Ws, String> {
    let url = wire::connect_url(base);
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let tls = crate::tls::default_client_config().map_err(|e| e.to_string())?;
    let connect = tokio_tungstenite::connect_async_tls_with_config(
        url.as_str(),
        Some(config),
        false,
        Some(Connector::Rustls(tls)),
    );
    match timeout(CONNECT_TIMEOUT, connect).await {
        Err(_) => Err("connecting to the gateway timed out".into()),
        Ok(Err(e)) => Err(format!("could not connect to the gateway: {e}")),
        Ok(Ok((ws, _))) => Ok(ws),
    }
}

/// The first text frame (Hello, or op 7).
async fn first_frame(ws: &mut Ws) -> Result<Frame, End> {
    loop {
        match ws.next().await {
            None => {
                return Err(End::Resume {
                    reason: "the connection dropped before Hello".into(),
                    was_up: false,
                });
            }
            Some(Err(e)) => {
                return Err(End::Resume {
                    reason: format!("websocket error: {e}"),
                    was_up: false,
                });
            }
            Some(Ok(Message::Text(text))) => {
                return Frame::parse(&text).map_err(|e| End::Resume {
                    reason: e.to_string(),
                    was_up: false,
                });
            }
            Some(Ok(Message::Close(frame))) => {
                let code = frame.as_ref().map(|f| u16::from(f.code));
                let reason = format!(
                    "the gateway closed the connection{}",
                    code.map(|c| format!(" with code {c}")).unwrap_or_default()
                );
                return Err(match close::action(code) {
                    CloseAction::Resume => End::Resume {
                        reason,
                        was_up: false,
                    },
                    CloseAction::NewSession => End::NewSession {
                        reason,
                        was_up: false,
                    },
                    CloseAction::Stop(fatal) => End::Fatal(fatal),
                });
            }
            Some(Ok(_)) => {}
        }
    }
}

/// Sends one payload (never logged: Identify and Resume carry the token).
async fn send(ws: &mut Ws, text: String) -> Result<(), String> {
    if text.len() > wire::MAX_SEND_BYTES {
        return Err(format!(
            "a payload of {} bytes is over the gateway's {} (not sent)",
            text.len(),
            wire::MAX_SEND_BYTES
        ));
    }
    ws.send(Message::text(text))
        .await
        .map_err(|e| format!("could not send to the gateway: {e}"))
}

/// Closes with `code`, best effort (the connection may be gone already).
async fn close_with(ws: &mut Ws, code: CloseCode) {
    let frame = CloseFrame {
        code,
        reason: "".into(),
    };
    let _ = timeout(Duration::from_secs(2), ws.close(Some(frame))).await;
}
