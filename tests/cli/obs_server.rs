//! A loopback obs-websocket v5 server for tests, speaking the protocol as OBS does (its published
//! `protocol.md`): Hello (op 0) on connect with an authentication challenge when a password is set,
//! Identify (op 1) checked against `base64(sha256(base64(sha256(password + salt)) + challenge))`
//! (a wrong or missing one is closed with 4009 "Authentication failed.", anything before Identify
//! with 4007), Identified (op 2), then Request (op 6) answered with RequestResponse (op 7) and the
//! events OBS sends (op 5) for the groups the client subscribed to.
//!
//! It keeps a small OBS: scenes with their items (enabled or not), inputs (muted or not), the
//! program scene, the stream, the recording and the replay buffer (not enabled in settings, off,
//! or running; saving it answers at once and names `replay_file` in a `ReplayBufferSaved` event a
//! moment later, as OBS writes the file after answering). Requests it does not know are answered
//! with 204. Everything clients send is recorded; a test can drop every connection without a
//! close frame.

#![allow(dead_code)]

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

pub const SALT: &str = "lM1GncleQOaCu9lT1yeUZhFYnqhsLLP1G5lAGo3ixaI=";
pub const CHALLENGE: &str = "+IxH4CnCiqpX1rM9scsNynZzbOe4KhDeYcTNS3PDaeY=";

/// The replay buffer as OBS's settings and controls leave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayBuffer {
    /// Not enabled in Settings → Output: every replay request answers 604.
    NotEnabled,
    Stopped,
    Running,
}

/// What the loopback OBS holds at start.
#[derive(Debug, Clone)]
pub struct ObsOptions {
    pub password: Option<String>,
    /// Scenes in OBS's order (bottom first), each with its items (source name, enabled).
    pub scenes: Vec<(String, Vec<(String, bool)>)>,
    pub inputs: Vec<(String, bool)>,
    pub replay_buffer: ReplayBuffer,
    /// The file a saved replay names.
    pub replay_file: Option<PathBuf>,
}

impl Default for ObsOptions {
    fn default() -> ObsOptions {
        ObsOptions {
            password: Some("obs-test-password-7f3a".into()),
            scenes: vec![
                ("Starting".into(), vec![("Countdown".into(), true)]),
                (
                    "gameplay".into(),
                    vec![("Game Capture".into(), true), ("Webcam".into(), true)],
                ),
                ("Just Chatting".into(), vec![("Webcam".into(), true)]),
            ],
            inputs: vec![("Mic/Aux".into(), false), ("Desktop Audio".into(), false)],
            replay_buffer: ReplayBuffer::Running,
            replay_file: None,
        }
    }
}

/// The small OBS, and what clients did to it.
#[derive(Debug, Clone)]
pub struct ObsState {
    pub program: String,
    pub scenes: Vec<(String, Vec<(String, bool)>)>,
    pub inputs: BTreeMap<String, bool>,
    pub streaming: bool,
    pub recording: bool,
    pub replay_buffer: ReplayBuffer,
    pub replay_file: Option<PathBuf>,
    /// Every request, as (requestType, requestData).
    pub requests: Vec<(String, Value)>,
    /// Every Identify's `d`.
    pub identifies: Vec<Value>,
    /// Connections accepted, and those closed for a bad password.
    pub connections: usize,
    pub auth_failures: usize,
}

impl ObsState {
    pub fn requests_of(&self, kind: &str) -> Vec<Value> {
        self.requests
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, d)| d.clone())
            .collect()
    }

    pub fn item_enabled(&self, scene: &str, source: &str) -> Option<bool> {
        self.scenes
            .iter()
            .find(|(s, _)| s == scene)?
            .1
            .iter()
            .find(|(i, _)| i == source)
            .map(|(_, e)| *e)
    }
}

pub struct ObsServer {
    port: u16,
    state: Arc<Mutex<ObsState>>,
    clients: Arc<Mutex<Vec<mpsc::Sender<()>>>>,
    task: JoinHandle<()>,
}

impl Drop for ObsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The authentication string OBS expects for `password`.
pub fn auth_string(password: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let secret = b64.encode(Sha256::digest(format!("{password}{SALT}").as_bytes()));
    b64.encode(Sha256::digest(format!("{secret}{CHALLENGE}").as_bytes()))
}

impl ObsServer {
    pub async fn start(options: ObsOptions) -> ObsServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(ObsState {
            program: options
                .scenes
                .first()
                .map(|s| s.0.clone())
                .unwrap_or_default(),
            scenes: options.scenes,
            inputs: options.inputs.into_iter().collect(),
            streaming: false,
            recording: false,
            replay_buffer: options.replay_buffer,
            replay_file: options.replay_file,
            requests: Vec::new(),
            identifies: Vec::new(),
            connections: 0,
            auth_failures: 0,
        }));
        let clients: Arc<Mutex<Vec<mpsc::Sender<()>>>> = Arc::default();
        let password = options.password;
        let task = {
            let state = state.clone();
            let clients = clients.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let (abort_tx, abort_rx) = mpsc::channel(1);
                    clients.lock().unwrap().push(abort_tx);
                    state.lock().unwrap().connections += 1;
                    tokio::spawn(serve(stream, state.clone(), password.clone(), abort_rx));
                }
            })
        };
        ObsServer {
            port,
            state,
            clients,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    pub fn state(&self) -> ObsState {
        self.state.lock().unwrap().clone()
    }

    /// Changes the small OBS (turn the replay buffer on, ...).
    pub fn change(&self, f: impl FnOnce(&mut ObsState)) {
        f(&mut self.state.lock().unwrap());
    }

    /// Drops every connection without a close frame (OBS crashing, a network cut).
    pub fn drop_connections(&self) {
        for client in self.clients.lock().unwrap().drain(..) {
            let _ = client.try_send(());
        }
    }

    /// Waits until `check` holds on the state; fails after 20 s naming `what`.
    pub async fn wait_for(&self, what: &str, check: impl Fn(&ObsState) -> bool) {
        crate::harness::until_found_explained(
            Duration::from_secs(20),
            || std::future::ready(check(&self.state.lock().unwrap()).then_some(())),
            || format!("waiting for {what}: {:?}", self.state()),
        )
        .await
    }
}

fn response(
    kind: &str,
    id: &Value,
    code: u32,
    comment: Option<&str>,
    data: Option<Value>,
) -> String {
    let mut status = json!({"result": code == 100, "code": code});
    if let Some(c) = comment {
        status["comment"] = c.into();
    }
    let mut d = json!({"requestType": kind, "requestId": id, "requestStatus": status});
    if let Some(data) = data {
        d["responseData"] = data;
    }
    json!({"op": 7, "d": d}).to_string()
}

fn event(kind: &str, intent: u32, data: Value) -> (u32, String) {
    (
        intent,
        json!({"op": 5, "d": {"eventType": kind, "eventIntent": intent, "eventData": data}})
            .to_string(),
    )
}

fn not_found(name: &str) -> String {
    format!("No source was found by the name of `{name}`.")
}

/// Answers one request: the response, and the events it causes (intent, frame).
fn answer(
    state: &mut ObsState,
    kind: &str,
    id: &Value,
    data: &Value,
) -> (String, Vec<(u32, String)>) {
    let s = |key: &str| data[key].as_str().unwrap_or_default().to_owned();
    let ok = |body: Option<Value>| response(kind, id, 100, None, body);
    let refuse = |code: u32, comment: &str| response(kind, id, code, Some(comment), None);
    let mut events = Vec::new();
    let frame = match kind {
        "GetVersion" => ok(Some(
            json!({"obsVersion": "30.2.2", "obsWebSocketVersion": "5.5.2", "rpcVersion": 1,
            "availableRequests": [], "supportedImageFormats": [], "platform": "linux", "platformDescription": "test"}),
        )),
        "GetCurrentProgramScene" => ok(Some(
            json!({"sceneName": state.program, "sceneUuid": "u", "currentProgramSceneName": state.program, "currentProgramSceneUuid": "u"}),
        )),
        "GetSceneList" => ok(Some(json!({
            "currentProgramSceneName": state.program, "currentPreviewSceneName": null,
            "scenes": state.scenes.iter().enumerate().map(|(i, (name, _))| json!({"sceneIndex": i, "sceneName": name, "sceneUuid": format!("u{i}")})).collect::<Vec<_>>(),
        }))),
        "SetCurrentProgramScene" => {
            let name = s("sceneName");
            if state.scenes.iter().any(|(n, _)| *n == name) {
                state.program = name.clone();
                events.push(event(
                    "CurrentProgramSceneChanged",
                    4,
                    json!({"sceneName": name, "sceneUuid": "u"}),
                ));
                ok(None)
            } else {
                refuse(600, &not_found(&name))
            }
        }
        "GetSceneItemId" => {
            let (scene, source) = (s("sceneName"), s("sourceName"));
            match state.scenes.iter().find(|(n, _)| *n == scene) {
                None => refuse(600, &not_found(&scene)),
                Some((_, items)) => match items.iter().position(|(i, _)| *i == source) {
                    Some(index) => ok(Some(json!({"sceneItemId": index + 1}))),
                    None => refuse(
                        600,
                        "No scene items were found in the specified scene by that name or offset.",
                    ),
                },
            }
        }
        "GetSceneItemEnabled" | "SetSceneItemEnabled" => {
            let scene = s("sceneName");
            let item = data["sceneItemId"].as_u64().unwrap_or(0) as usize;
            match state.scenes.iter_mut().find(|(n, _)| *n == scene) {
                None => refuse(600, &not_found(&scene)),
                Some((_, items)) if item == 0 || item > items.len() => refuse(
                    600,
                    "No scene items were found in scene `x` with the ID `0`.",
                ),
                Some((_, items)) if kind == "GetSceneItemEnabled" => {
                    ok(Some(json!({"sceneItemEnabled": items[item - 1].1})))
                }
                Some((_, items)) => match data["sceneItemEnabled"].as_bool() {
                    None => refuse(300, "Your request is missing the `sceneItemEnabled` field."),
                    Some(enabled) => {
                        items[item - 1].1 = enabled;
                        ok(None)
                    }
                },
            }
        }
        "GetInputMute" | "SetInputMute" | "ToggleInputMute" => {
            let name = s("inputName");
            match state.inputs.get_mut(&name) {
                None => refuse(600, &not_found(&name)),
                Some(muted) => {
                    match kind {
                        "SetInputMute" => *muted = data["inputMuted"].as_bool().unwrap_or(*muted),
                        "ToggleInputMute" => *muted = !*muted,
                        _ => {}
                    }
                    let now = *muted;
                    if kind != "GetInputMute" {
                        events.push(event(
                            "InputMuteStateChanged",
                            8,
                            json!({"inputName": name, "inputUuid": "u", "inputMuted": now}),
                        ));
                    }
                    ok((kind != "SetInputMute").then(|| json!({"inputMuted": now})))
                }
            }
        }
        "GetReplayBufferStatus"
        | "StartReplayBuffer"
        | "StopReplayBuffer"
        | "SaveReplayBuffer"
        | "GetLastReplayBufferReplay"
            if state.replay_buffer == ReplayBuffer::NotEnabled =>
        {
            refuse(604, "Replay buffer is not available.")
        }
        "GetReplayBufferStatus" => ok(Some(
            json!({"outputActive": state.replay_buffer == ReplayBuffer::Running}),
        )),
        "StartReplayBuffer" if state.replay_buffer == ReplayBuffer::Running => {
            refuse(500, "The replay buffer is already active.")
        }
        "StartReplayBuffer" => {
            state.replay_buffer = ReplayBuffer::Running;
            events.push(event(
                "ReplayBufferStateChanged",
                64,
                json!({"outputActive": true, "outputState": "OBS_WEBSOCKET_OUTPUT_STARTED"}),
            ));
            ok(None)
        }
        "StopReplayBuffer" | "SaveReplayBuffer" | "GetLastReplayBufferReplay"
            if state.replay_buffer != ReplayBuffer::Running =>
        {
            refuse(501, "Replay buffer is not active.")
        }
        "StopReplayBuffer" => {
            state.replay_buffer = ReplayBuffer::Stopped;
            events.push(event(
                "ReplayBufferStateChanged",
                64,
                json!({"outputActive": false, "outputState": "OBS_WEBSOCKET_OUTPUT_STOPPED"}),
            ));
            ok(None)
        }
        "SaveReplayBuffer" => {
            // OBS answers before the file is written; the event names it afterwards.
            if let Some(file) = &state.replay_file {
                events.push(event(
                    "ReplayBufferSaved",
                    64,
                    json!({"savedReplayPath": file.display().to_string()}),
                ));
            }
            ok(None)
        }
        "GetLastReplayBufferReplay" => ok(Some(
            json!({"savedReplayPath": state.replay_file.as_ref().map(|f| f.display().to_string())}),
        )),
        "GetStreamStatus" => ok(Some(
            json!({"outputActive": state.streaming, "outputReconnecting": false, "outputTimecode": "00:00:00.000",
            "outputDuration": 0, "outputCongestion": 0, "outputBytes": 0, "outputSkippedFrames": 0, "outputTotalFrames": 0}),
        )),
        "GetRecordStatus" => ok(Some(
            json!({"outputActive": state.recording, "outputPaused": false, "outputTimecode": "00:00:00.000", "outputDuration": 0, "outputBytes": 0}),
        )),
        "StartStream" if state.streaming => refuse(500, "The stream output is already active."),
        "StopStream" if !state.streaming => refuse(501, "The stream output is not active."),
        "StartStream" | "StopStream" => {
            state.streaming = kind == "StartStream";
            let (active, name) = if state.streaming {
                (true, "STARTED")
            } else {
                (false, "STOPPED")
            };
            events.push(event("StreamStateChanged", 64, json!({"outputActive": active, "outputState": format!("OBS_WEBSOCKET_OUTPUT_{name}")})));
            ok(None)
        }
        "CreateRecordChapter" if !state.recording => {
            refuse(501, "The record output is not active.")
        }
        "CreateRecordChapter" => ok(None),
        _ => refuse(204, "Your request type is not valid."),
    };
    (frame, events)
}

async fn serve(
    stream: tokio::net::TcpStream,
    state: Arc<Mutex<ObsState>>,
    password: Option<String>,
    mut abort: mpsc::Receiver<()>,
) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let mut hello =
        json!({"obsStudioVersion": "30.2.2", "obsWebSocketVersion": "5.5.2", "rpcVersion": 1});
    if password.is_some() {
        hello["authentication"] = json!({"challenge": CHALLENGE, "salt": SALT});
    }
    if ws
        .send(Message::text(json!({"op": 0, "d": hello}).to_string()))
        .await
        .is_err()
    {
        return;
    }
    let close = |code: u16, reason: &str| {
        Message::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_owned().into(),
        }))
    };
    let mut mask = 0u32;
    let mut identified = false;
    let (event_tx, mut event_rx) = mpsc::channel::<String>(64);
    loop {
        tokio::select! {
            _ = abort.recv() => return,
            Some(frame) = event_rx.recv() => {
                if ws.send(Message::text(frame)).await.is_err() {
                    return;
                }
            }
            message = ws.next() => {
                let Some(Ok(message)) = message else { return };
                let Message::Text(text) = message else { continue };
                let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else {
                    let _ = ws.send(close(4002, "Unable to decode the message.")).await;
                    return;
                };
                let d = &frame["d"];
                match (frame["op"].as_u64(), identified) {
                    (Some(1), false) => {
                        state.lock().unwrap().identifies.push(d.clone());
                        if d["rpcVersion"] != 1 {
                            let _ = ws.send(close(4010, "Your requested RPC version is not supported.")).await;
                            return;
                        }
                        if let Some(password) = &password {
                            let given = d["authentication"].as_str();
                            if given != Some(auth_string(password).as_str()) {
                                state.lock().unwrap().auth_failures += 1;
                                let reason = if given.is_none() {
                                    "Your payload's data is missing an `authentication` string, however authentication is required."
                                } else {
                                    "Authentication failed."
                                };
                                let _ = ws.send(close(4009, reason)).await;
                                return;
                            }
                        }
                        mask = d["eventSubscriptions"].as_u64().map_or(2047, |m| m as u32);
                        identified = true;
                        let done = json!({"op": 2, "d": {"negotiatedRpcVersion": 1}}).to_string();
                        if ws.send(Message::text(done)).await.is_err() {
                            return;
                        }
                    }
                    (Some(1), true) => {
                        let _ = ws.send(close(4008, "You are already identified with the obs-websocket server.")).await;
                        return;
                    }
                    (_, false) => {
                        let _ = ws.send(close(4007, "The session is not identified.")).await;
                        return;
                    }
                    (Some(6), true) => {
                        let kind = d["requestType"].as_str().unwrap_or_default().to_owned();
                        let data = d.get("requestData").cloned().unwrap_or(Value::Null);
                        let (frame, events) = {
                            let mut state = state.lock().unwrap();
                            state.requests.push((kind.clone(), data.clone()));
                            answer(&mut state, &kind, &d["requestId"], &data)
                        };
                        if ws.send(Message::text(frame)).await.is_err() {
                            return;
                        }
                        // Events follow the answer (OBS emits them from its own thread), through
                        // the event queue this loop also serves.
                        for (intent, frame) in events {
                            if mask & intent != 0 {
                                let tx = event_tx.clone();
                                tokio::spawn(async move {
                                    let _ = tx.send(frame).await;
                                });
                            }
                        }
                    }
                    (_, true) => {
                        let _ = ws.send(close(4006, "Unknown OpCode.")).await;
                        return;
                    }
                }
            }
        }
    }
}
