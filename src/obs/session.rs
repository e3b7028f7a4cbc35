//! One connection to OBS: connect, Hello, Identify (with the authentication string when OBS asks
//! for a password), Identified; then requests out and their answers and events in, until the
//! connection ends.
//!
//! While identified, the session offers a [`Requester`] (through a `watch`): a request is written
//! with a fresh `requestId` and its answer is matched back by that id, so several can be in flight.
//! Events keep the [`ObsStatus`] current (the program scene, the outputs) and hand the path of
//! every saved replay to whoever waits for one. When the session ends, every request still waiting
//! fails at once as lost with the connection.

use super::ObsError;
use super::protocol::{self, CloseKind, Incoming, OutputState, ProgramScene, SavedReplay};
use super::status::ObsStatus;
use crate::config::secrets::Secret;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;

/// How long connecting, and each step of the handshake, may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Frames waiting to be written. Policy when full: the request waits for room (requests come one
/// at a time from the worker and the state refresh, so this never fills in practice).
const OUTGOING_CAPACITY: usize = 32;
/// The largest frame accepted from OBS (a scene list of a very large collection fits easily).
const MAX_FRAME_BYTES: usize = 4 << 20;

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<protocol::Response>>>>;

/// Sends requests on the current session and waits for their answers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Requester {
    out: mpsc::Sender<String>,
    pending: Pending,
    next_id: Arc<AtomicU64>,
    timeout: Duration,
}

impl Requester {
    /// Sends `request_type` with `data` and waits for the answer: its `responseData` when OBS
    /// reports success, else the status code and comment.
    pub async fn send(
        &self,
        request_type: &'static str,
        data: Option<Value>,
    ) -> Result<Option<Value>, ObsError> {
        let id = format!("ss-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), tx);
        let frame = protocol::request(request_type, &id, data.as_ref());
        if self.out.send(frame).await.is_err() {
            self.forget(&id);
            return Err(ObsError::ConnectionLost {
                request: request_type,
            });
        }
        match timeout(self.timeout, rx).await {
            Err(_) => {
                self.forget(&id);
                Err(ObsError::Timeout {
                    request: request_type,
                    seconds: self.timeout.as_secs(),
                })
            }
            Ok(Err(_)) => Err(ObsError::ConnectionLost {
                request: request_type,
            }),
            Ok(Ok(response)) if response.request_status.result => Ok(response.response_data),
            Ok(Ok(response)) => Err(ObsError::Refused {
                request: request_type,
                code: response.request_status.code,
                comment: response.request_status.comment,
            }),
        }
    }

    fn forget(&self, id: &str) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    Shutdown,
    /// Lost; worth trying again after a backoff.
    Retry(String),
    /// Trying again cannot help (wrong password, session ended in OBS, unsupported version).
    Fatal(String),
}

/// What a session needs.
pub struct SessionParts<'a> {
    pub creator: &'a str,
    pub url: &'a str,
    pub password: Option<&'a Secret>,
    pub event_mask: u32,
    pub request_timeout: Duration,
    pub status: &'a ObsStatus,
    /// The current session's requester (`None` between sessions).
    pub link: &'a watch::Sender<Option<Requester>>,
    /// Paths of saved replays, for whoever waits for one.
    pub saved: &'a broadcast::Sender<String>,
    pub shutdown: &'a CancellationToken,
}

/// Runs one session to its end; `true` with it when OBS had identified the client.
pub async fn run(parts: &SessionParts<'_>) -> (SessionEnd, bool) {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES));
    let tls = match crate::tls::default_client_config() {
        Ok(tls) => tls,
        Err(e) => return (SessionEnd::Retry(e.to_string()), false),
    };
    let connect = tokio_tungstenite::connect_async_tls_with_config(
        parts.url,
        Some(config),
        true,
        Some(tokio_tungstenite::Connector::Rustls(tls)),
    );
    let mut ws = tokio::select! {
        () = parts.shutdown.cancelled() => return (SessionEnd::Shutdown, false),
        connected = timeout(HANDSHAKE_TIMEOUT, connect) => match connected {
            Err(_) => return (SessionEnd::Retry("connecting timed out".into()), false),
            Ok(Err(e)) => return (SessionEnd::Retry(format!("cannot connect: {}", connect_error(&e))), false),
            Ok(Ok((ws, _))) => ws,
        },
    };
    // Hello, then Identify, then Identified (or a close saying why not).
    let hello = match next_frame(&mut ws, parts.shutdown).await {
        Ok(Incoming::Hello(hello)) => hello,
        Ok(other) => {
            return (
                SessionEnd::Retry(format!("expected Hello first, got {other:?}")),
                false,
            );
        }
        Err(end) => return (end, false),
    };
    let authentication = match (&hello.authentication, parts.password) {
        (Some(challenge), Some(password)) => {
            Some(protocol::auth_string(password.expose(), challenge))
        }
        (Some(_), None) => {
            let _ = ws.close(None).await;
            return (
                SessionEnd::Fatal(format!(
                    "OBS asks for a password and obs.json sets no password_env for creator {}; add \"password_env\" naming the variable that holds it (OBS: Tools → WebSocket Server Settings)",
                    parts.creator
                )),
                false,
            );
        }
        (None, _) => None,
    };
    let identify = protocol::identify(authentication.as_deref(), parts.event_mask);
    if let Err(e) = ws.send(Message::text(identify)).await {
        return (SessionEnd::Retry(format!("sending Identify: {e}")), false);
    }
    match next_frame(&mut ws, parts.shutdown).await {
        Ok(Incoming::Identified(_)) => {}
        Ok(other) => {
            return (
                SessionEnd::Retry(format!("expected Identified, got {other:?}")),
                false,
            );
        }
        Err(end) => return (end, false),
    }
    parts.status.connected(
        hello.obs_studio_version.clone(),
        hello.obs_web_socket_version.clone(),
    );
    tracing::info!(creator = parts.creator, url = %super::status::without_userinfo(parts.url), obs_websocket = %hello.obs_web_socket_version, "Connected to OBS.");
    let (out_tx, mut out_rx) = mpsc::channel::<String>(OUTGOING_CAPACITY);
    let pending: Pending = Arc::default();
    let requester = Requester {
        out: out_tx,
        pending: pending.clone(),
        next_id: Arc::new(AtomicU64::new(1)),
        timeout: parts.request_timeout,
    };
    parts.link.send_replace(Some(requester.clone()));
    let refresh = tokio::spawn(refresh_state(requester, parts.status.clone()));
    let end = loop {
        tokio::select! {
            biased;
            () = parts.shutdown.cancelled() => {
                let _ = timeout(Duration::from_secs(1), ws.close(None)).await;
                break SessionEnd::Shutdown;
            }
            Some(frame) = out_rx.recv() => {
                if let Err(e) = ws.send(Message::text(frame)).await {
                    break SessionEnd::Retry(format!("writing to OBS: {e}"));
                }
            }
            message = ws.next() => match message {
                None => break SessionEnd::Retry("OBS closed the connection".into()),
                Some(Err(e)) => break SessionEnd::Retry(format!("reading from OBS: {e}")),
                Some(Ok(Message::Text(text))) => match protocol::read(text.as_str()) {
                    Ok(Incoming::Response(response)) => {
                        let waiting = pending
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(&response.request_id);
                        if let Some(waiting) = waiting {
                            let _ = waiting.send(response);
                        }
                    }
                    Ok(Incoming::Event(event)) => on_event(&event, parts.status, parts.saved),
                    Ok(_) => {}
                    Err(e) => tracing::debug!(creator = parts.creator, error = %e, "Unreadable OBS frame skipped."),
                },
                Some(Ok(Message::Close(frame))) => break closed(frame.as_ref().map(|f| (u16::from(f.code), f.reason.as_str()))),
                Some(Ok(_)) => {}
            },
        }
    };
    parts.link.send_replace(None);
    refresh.abort();
    // Requests still waiting fail now, as lost with the connection.
    pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    (end, true)
}

/// The next frame of the handshake, or how the session ended instead.
async fn next_frame<S>(ws: &mut S, shutdown: &CancellationToken) -> Result<Incoming, SessionEnd>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let message = tokio::select! {
            () = shutdown.cancelled() => return Err(SessionEnd::Shutdown),
            message = timeout(HANDSHAKE_TIMEOUT, ws.next()) => message,
        };
        match message {
            Err(_) => {
                return Err(SessionEnd::Retry(
                    "OBS did not answer the handshake in time".into(),
                ));
            }
            Ok(None) => {
                return Err(SessionEnd::Retry(
                    "OBS closed the connection during the handshake".into(),
                ));
            }
            Ok(Some(Err(e))) => return Err(SessionEnd::Retry(format!("reading from OBS: {e}"))),
            Ok(Some(Ok(Message::Text(text)))) => {
                return protocol::read(text.as_str())
                    .map_err(|e| SessionEnd::Retry(format!("an unreadable handshake frame: {e}")));
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Err(closed(
                    frame
                        .as_ref()
                        .map(|f| (u16::from(f.code), f.reason.as_str())),
                ));
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// What a close frame from OBS means.
fn closed(frame: Option<(u16, &str)>) -> SessionEnd {
    let Some((code, reason)) = frame else {
        return SessionEnd::Retry("OBS closed the connection".into());
    };
    let said = if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    };
    match CloseKind::of(code) {
        CloseKind::AuthenticationFailed => SessionEnd::Fatal(format!(
            "OBS refused the password (close {code}{said}); check the variable obs.json password_env names against OBS's Tools → WebSocket Server Settings, then restart"
        )),
        CloseKind::SessionInvalidated => SessionEnd::Fatal(format!(
            "the session was ended in OBS (close {code}{said}); OBS asks clients not to reconnect on their own: restart `ss run` to connect again"
        )),
        CloseKind::UnsupportedRpcVersion => SessionEnd::Fatal(format!(
            "OBS does not speak obs-websocket RPC version {} (close {code}{said}); use OBS 28 or later",
            protocol::RPC_VERSION
        )),
        CloseKind::Retry => {
            SessionEnd::Retry(format!("OBS closed the connection (close {code}{said})"))
        }
    }
}

fn connect_error(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Http(response) => format!(
            "the server refused the websocket (HTTP {})",
            response.status()
        ),
        other => other.to_string(),
    }
}

/// Applies one event to the status; hands a saved replay's path on.
fn on_event(event: &protocol::Event, status: &ObsStatus, saved: &broadcast::Sender<String>) {
    let data = event.event_data.as_ref().unwrap_or(&Value::Null);
    let what = "an OBS event's data";
    match event.event_type.as_str() {
        "CurrentProgramSceneChanged" => {
            if let Ok(scene) = crate::wire::from_value::<ProgramScene>(what, data) {
                status.scene(scene.name());
            }
        }
        "StreamStateChanged" => {
            if let Ok(state) = crate::wire::from_value::<OutputState>(what, data) {
                status.streaming(Some(state.output_active));
            }
        }
        "RecordStateChanged" => {
            if let Ok(state) = crate::wire::from_value::<OutputState>(what, data) {
                status.recording(Some(state.output_active));
            }
        }
        "ReplayBufferStateChanged" => {
            if let Ok(state) = crate::wire::from_value::<OutputState>(what, data) {
                status.replay_buffer(Some(state.output_active));
            }
        }
        "ReplayBufferSaved" => {
            if let Ok(replay) = crate::wire::from_value::<SavedReplay>(what, data) {
                // Nobody waiting is fine: a replay saved from OBS itself.
                let _ = saved.send(replay.saved_replay_path);
            }
        }
        _ => {}
    }
}

/// Reads what OBS is doing right after connecting; events keep it current afterwards.
async fn refresh_state(requester: Requester, status: ObsStatus) {
    let what = "an OBS status answer";
    let data = |answer: Result<Option<Value>, ObsError>| answer.ok().flatten();
    if let Some(scene) = data(requester.send("GetCurrentProgramScene", None).await)
        .and_then(|v| crate::wire::from_owned_value::<ProgramScene>(what, v).ok())
    {
        status.scene(scene.name());
    }
    let output = |answer: Option<Value>| {
        answer
            .and_then(|v| crate::wire::from_owned_value::<OutputState>(what, v).ok())
            .map(|s| s.output_active)
    };
    status.streaming(output(data(requester.send("GetStreamStatus", None).await)));
    status.recording(output(data(requester.send("GetRecordStatus", None).await)));
    // 604 when the replay buffer is not enabled in OBS: unknown, not off.
    status.replay_buffer(output(data(
        requester.send("GetReplayBufferStatus", None).await,
    )));
}
