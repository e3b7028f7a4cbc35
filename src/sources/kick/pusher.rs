//! One Pusher (protocol 7) websocket session to Kick's chat: connect, wait for
//! `pusher:connection_established`, subscribe, then serve until the session ends.
//!
//! The server's `activity_timeout` sets the ping interval (the smaller of it and ours): after that
//! much silence the client sends `pusher:ping`, and a session with no answer within the pong
//! timeout is dead. Any inbound frame proves the connection alive; a server `pusher:ping` is
//! answered with `pusher:pong`. `pusher:error` and close codes follow §7's three ranges
//! ([`wire::error_action`]). The session is *connected* once the chatroom subscription succeeds.
//!
//! Commands are not sent from here: they go over HTTP, from the runner's serving loop
//! ([`super::send`]), whatever the state of this connection.

use super::wire::{self, ErrorAction, Frame, LiveChange, Target};
use crate::guards::Guard;
use crate::sources::runner::session::SessionEnd;
use crate::sources::{Forwarded, SourceContext};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_rustls::rustls::ClientConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use tracing::{debug, info, trace, warn};

/// The largest websocket message accepted. Kick's events are a few KiB; a larger one is not chat.
const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// The waits of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// TCP, TLS and the websocket handshake.
    pub connect_timeout: Duration,
    /// From connecting to `connection_established` and from subscribing to its success.
    pub handshake_timeout: Duration,
    /// The longest silence before the client pings (the server's `activity_timeout` can shorten it).
    pub ping_interval: Duration,
    /// How long to wait for the pong.
    pub pong_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            connect_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(15),
            ping_interval: Duration::from_secs(120),
            pong_timeout: Duration::from_secs(30),
        }
    }
}

/// Why a session failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("{0} timed out")]
    Timeout(&'static str),
    #[error("no pong within {0:?} of a ping; the connection is dead")]
    PongTimeout(Duration),
    #[error("pusher:error {code}: {message}", code = code.map_or_else(|| "(no code)".to_owned(), |c| c.to_string()))]
    Pusher { code: Option<u16>, message: String },
    #[error("the server closed the connection{}", code.map(|c| format!(" with code {c}")).unwrap_or_default())]
    Closed { code: Option<u16>, reason: String },
    #[error("websocket error: {0}")]
    Ws(String),
}

impl SessionError {
    /// What the error's code asks for (§7); connection failures back off.
    pub fn action(&self) -> ErrorAction {
        match self {
            SessionError::Pusher { code, .. } | SessionError::Closed { code, .. } => {
                match wire::error_action(*code) {
                    ErrorAction::Other => ErrorAction::BackOff,
                    action => action,
                }
            }
            _ => ErrorAction::BackOff,
        }
    }
}

/// Where to read.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub url: String,
    pub tls: Arc<ClientConfig>,
    /// The chatroom channel (`chatrooms.{id}.v2`): subscribed first, its success means connected.
    pub chatroom: String,
    /// Other channels (the channel's stream events), when known.
    pub extra: Vec<String>,
    /// The channel slug events are stored under.
    pub slug: String,
}

/// What one session did.
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<SessionEnd, SessionError>,
    pub subscribed_for: Option<Duration>,
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects and serves one session.
pub async fn run(sub: &Subscription, timing: &Timing, ctx: &mut SourceContext) -> Outcome {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let connect = tokio_tungstenite::connect_async_tls_with_config(
        sub.url.as_str(),
        Some(config),
        true,
        Some(Connector::Rustls(sub.tls.clone())),
    );
    let ws = tokio::select! {
        () = ctx.shutdown.cancelled() => return Outcome { result: Ok(SessionEnd::Shutdown), subscribed_for: None },
        connected = timeout(timing.connect_timeout, connect) => match connected {
            Err(_) => return Outcome { result: Err(SessionError::Timeout("connecting")), subscribed_for: None },
            Ok(Err(e)) => return Outcome { result: Err(connect_error(e)), subscribed_for: None },
            Ok(Ok((ws, _))) => ws,
        },
    };
    let mut session = Session {
        sub,
        timing,
        ws,
        subscribed_at: None,
        deadline: Instant::now() + timing.handshake_timeout,
        ping_interval: timing.ping_interval,
        awaiting_pong: false,
        established: false,
    };
    let result = session.serve(ctx).await;
    Outcome {
        result,
        subscribed_for: session.subscribed_at.map(|at| at.elapsed()),
    }
}

/// A failed connect, with a Pusher close code when the handshake was refused with one.
fn connect_error(e: tokio_tungstenite::tungstenite::Error) -> SessionError {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Http(response) => SessionError::Connect(format!(
            "the server refused the websocket (HTTP {})",
            response.status()
        )),
        other => SessionError::Connect(other.to_string()),
    }
}

struct Session<'a> {
    sub: &'a Subscription,
    timing: &'a Timing,
    ws: Ws,
    subscribed_at: Option<Instant>,
    /// When the silence timer (handshake, ping or pong) fires.
    deadline: Instant,
    ping_interval: Duration,
    awaiting_pong: bool,
    established: bool,
}

impl Session<'_> {
    async fn serve(&mut self, ctx: &mut SourceContext) -> Result<SessionEnd, SessionError> {
        let shutdown = ctx.shutdown.clone();
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    let _ = timeout(Duration::from_secs(1), self.ws.close(None)).await;
                    return Ok(SessionEnd::Shutdown);
                }
                message = self.ws.next() => {
                    let message = match message {
                        None => return Err(SessionError::Closed { code: None, reason: String::new() }),
                        Some(Err(e)) => return Err(SessionError::Ws(e.to_string())),
                        Some(Ok(message)) => message,
                    };
                    if let Some(end) = self.on_message(message, ctx).await? {
                        return Ok(end);
                    }
                }
                () = sleep_until(self.deadline) => self.on_deadline().await?,
            }
        }
    }

    async fn write(&mut self, text: &str) -> Result<(), SessionError> {
        trace!(platform = "kick", frame = text, "Sending a frame.");
        match timeout(
            Duration::from_secs(10),
            self.ws.send(Message::text(text.to_owned())),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(SessionError::Ws(e.to_string())),
            Err(_) => Err(SessionError::Timeout("writing a frame")),
        }
    }

    /// Handles one websocket message; `Some` ends the session.
    async fn on_message(
        &mut self,
        message: Message,
        ctx: &SourceContext,
    ) -> Result<Option<SessionEnd>, SessionError> {
        let text = match message {
            Message::Text(text) => text,
            Message::Close(frame) => {
                let (code, reason) = frame
                    .map(|f| (Some(u16::from(f.code)), f.reason.to_string()))
                    .unwrap_or((None, String::new()));
                return Err(SessionError::Closed { code, reason });
            }
            // Websocket-level pings are answered by the library; binary frames are not Pusher.
            _ => return Ok(None),
        };
        trace!(platform = "kick", frame = %text.as_str(), "Received a frame.");
        if self.established {
            // Any frame proves the connection alive.
            self.awaiting_pong = false;
            if self.subscribed_at.is_some() {
                self.deadline = Instant::now() + self.ping_interval;
            }
        }
        let frame = match wire::parse_frame(text.as_str()) {
            Ok(frame) => frame,
            Err(e) => {
                ctx.guards.count(Guard::EventsUnreadable, 1);
                debug!(platform = "kick", error = %e, "Skipped a frame that is not Pusher.");
                return Ok(None);
            }
        };
        match frame {
            Frame::Established {
                socket_id,
                activity_timeout,
            } => {
                self.established = true;
                if let Some(secs) = activity_timeout.filter(|s| *s > 0) {
                    self.ping_interval = self.timing.ping_interval.min(Duration::from_secs(secs));
                }
                debug!(
                    platform = "kick",
                    socket_id,
                    ping_interval_ms = self.ping_interval.as_millis() as u64,
                    "Pusher connection established."
                );
                let chatroom = wire::subscribe_frame(&self.sub.chatroom);
                self.write(&chatroom).await?;
                for channel in &self.sub.extra {
                    self.write(&wire::subscribe_frame(channel)).await?;
                }
                self.deadline = Instant::now() + self.timing.handshake_timeout;
            }
            Frame::Subscribed { channel } => {
                if channel == self.sub.chatroom && self.subscribed_at.is_none() {
                    self.subscribed_at = Some(Instant::now());
                    self.deadline = Instant::now() + self.ping_interval;
                    ctx.report.connected();
                    info!(platform = "kick", creator = %ctx.creator, channel = %self.sub.slug, chatroom = %channel, "Subscribed to the chatroom.");
                }
            }
            Frame::Ping => self.write(wire::PONG_FRAME).await?,
            Frame::Pong => {}
            Frame::Error { code, message } => match wire::error_action(code) {
                ErrorAction::Other => {
                    warn!(
                        platform = "kick",
                        code, message, "Pusher reported an error; continuing."
                    );
                }
                ErrorAction::ReconnectNow => {
                    info!(
                        platform = "kick",
                        code, message, "Pusher asked to reconnect."
                    );
                    return Ok(Some(SessionEnd::ReconnectAtOnce));
                }
                _ => return Err(SessionError::Pusher { code, message }),
            },
            Frame::App {
                event,
                channel,
                data,
            } => {
                return Ok(self
                    .on_app_event(&event, channel.as_deref(), &data, ctx)
                    .await);
            }
        }
        Ok(None)
    }

    /// Decodes an app event and hands it to the data lane.
    async fn on_app_event(
        &mut self,
        event: &str,
        channel: Option<&str>,
        data: &str,
        ctx: &SourceContext,
    ) -> Option<SessionEnd> {
        let ours = channel
            .is_some_and(|c| c == self.sub.chatroom || self.sub.extra.iter().any(|e| e == c));
        if !ours {
            // Only subscribed channels are ours: anything else is never stored or answered.
            ctx.guards.count(Guard::ForeignChannelEvent, 1);
            debug!(
                platform = "kick",
                channel, event, "Dropped an event for a channel not subscribed."
            );
            return None;
        }
        let target = Target {
            creator: &ctx.creator,
            channel: &self.sub.slug,
            received: chrono::Utc::now(),
        };
        let decoded = match wire::decode_app_event(event, data, target) {
            Ok(decoded) => decoded,
            Err(e) => {
                ctx.guards.count(Guard::EventsUnreadable, 1);
                warn!(platform = "kick", error = %e, "Skipped an event that cannot be read.");
                return None;
            }
        };
        match decoded.live {
            Some(LiveChange::Started(stream)) => ctx.report.live(Some(stream)),
            Some(LiveChange::Ended) => ctx.report.live(None),
            None => {}
        }
        match ctx.forward(decoded.event).await {
            Forwarded::Continue => None,
            Forwarded::PipelineClosed => Some(SessionEnd::PipelineClosed),
        }
    }

    /// The silence timer fired: handshake too slow, time to ping, or the ping went unanswered.
    async fn on_deadline(&mut self) -> Result<(), SessionError> {
        if !self.established {
            return Err(SessionError::Timeout(
                "waiting for pusher:connection_established",
            ));
        }
        if self.subscribed_at.is_none() {
            return Err(SessionError::Timeout("subscribing to the chatroom"));
        }
        if self.awaiting_pong {
            return Err(SessionError::PongTimeout(self.timing.pong_timeout));
        }
        self.write(wire::PING_FRAME).await?;
        self.awaiting_pong = true;
        self.deadline = Instant::now() + self.timing.pong_timeout;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::lanes::DataLane;
    use crate::sources::runner::Wiring;

    /// A server that sends `established`, confirms the subscription, then each of `after`, and
    /// never answers a ping.
    async fn server(after: Vec<String>) -> (String, tokio::task::JoinHandle<Vec<String>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/app/key?protocol=7", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
            let established = r#"{"event":"pusher:connection_established","data":"{\"socket_id\":\"1.2\",\"activity_timeout\":120}"}"#;
            ws.send(Message::text(established)).await.unwrap();
            let mut seen = Vec::new();
            while let Some(Ok(Message::Text(text))) = ws.next().await {
                seen.push(text.to_string());
                if text.contains("pusher:subscribe") {
                    let ok = r#"{"event":"pusher_internal:subscription_succeeded","channel":"chatrooms.1.v2","data":"{}"}"#;
                    ws.send(Message::text(ok)).await.unwrap();
                    for frame in &after {
                        ws.send(Message::text(frame.clone())).await.unwrap();
                    }
                }
            }
            seen
        });
        (url, task)
    }

    async fn session(url: String, timing: Timing) -> Outcome {
        let lane = DataLane::new(16, Duration::from_millis(10));
        let (_tx, rx) = tokio::sync::mpsc::channel(4);
        let (mut ctx, _track, _serving) =
            Wiring::new("demo", crate::sources::kick::KICK, lane.sink.clone(), rx).build();
        let sub = Subscription {
            url,
            tls: crate::tls::default_client_config().unwrap(),
            chatroom: "chatrooms.1.v2".into(),
            extra: Vec::new(),
            slug: "demo".into(),
        };
        run(&sub, &timing, &mut ctx).await
    }

    #[tokio::test]
    async fn an_unanswered_ping_ends_the_session_as_dead() {
        let (url, _server) = server(Vec::new()).await;
        let timing = Timing {
            ping_interval: Duration::from_millis(50),
            pong_timeout: Duration::from_millis(100),
            ..Timing::default()
        };
        let outcome = session(url, timing).await;
        assert!(outcome.subscribed_for.is_some());
        match outcome.result {
            Err(e @ SessionError::PongTimeout(_)) => assert_eq!(e.action(), ErrorAction::BackOff),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn error_codes_end_the_session_by_their_range() {
        for (code, want) in [
            (4001, Some(ErrorAction::Permanent)),
            (4100, Some(ErrorAction::BackOff)),
            (4200, None),
        ] {
            let error =
                format!(r#"{{"event":"pusher:error","data":{{"code":{code},"message":"m"}}}}"#);
            let (url, _server) = server(vec![error]).await;
            let outcome = session(url, Timing::default()).await;
            match (outcome.result, want) {
                (Err(e), Some(action)) => assert_eq!(e.action(), action, "{code}: {e}"),
                (Ok(SessionEnd::ReconnectAtOnce), None) => {}
                (other, _) => panic!("{code}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_close_code_is_classified_like_an_error_code() {
        let e = SessionError::Closed {
            code: Some(4009),
            reason: "unauthorized".into(),
        };
        assert_eq!(e.action(), ErrorAction::Permanent);
        let e = SessionError::Closed {
            code: None,
            reason: String::new(),
        };
        assert_eq!(e.action(), ErrorAction::BackOff);
    }
}
