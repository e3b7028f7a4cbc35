//! obs-websocket v5, the wire: the envelope `{"op": N, "d": {...}}`, the handshake messages, the
//! authentication string, requests and their answers, events, and what a close code means.
//!
//! Pure: every frame OBS sends is a serde type read through [`crate::wire`], every frame the
//! runtime sends is built here, so the session ([`super::session`]) only moves them. The formats
//! follow obs-websocket's published protocol (`docs/generated/protocol.md` in
//! obsproject/obs-websocket): OBS sends Hello (op 0) on connect, the client answers Identify (op 1)
//! with the authentication string when Hello carried a challenge, OBS confirms with Identified
//! (op 2); then Request (op 6) / RequestResponse (op 7), and Event (op 5).

use crate::wire::{self, WireError};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The RPC version this client speaks.
pub const RPC_VERSION: u32 = 1;

/// One frame from OBS, by its op code.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Hello(Hello),
    Identified(Identified),
    Event(Event),
    Response(Response),
    /// An op this client never asked for (batch responses): read and ignored.
    Other(u8),
}

#[derive(Deserialize)]
struct Envelope {
    op: u8,
    d: Value,
}

/// Hello (op 0): what OBS is, and the challenge when it asks for a password.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hello {
    #[serde(default)]
    pub obs_studio_version: Option<String>,
    pub obs_web_socket_version: String,
    pub rpc_version: u32,
    #[serde(default)]
    pub authentication: Option<Challenge>,
}

/// The salt and challenge of Hello's `authentication`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Challenge {
    pub challenge: String,
    pub salt: String,
}

/// Identified (op 2).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identified {
    pub negotiated_rpc_version: u32,
}

/// Event (op 5).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub event_type: String,
    #[serde(default)]
    pub event_intent: Option<u32>,
    #[serde(default)]
    pub event_data: Option<Value>,
}

/// RequestResponse (op 7).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub request_type: String,
    pub request_id: String,
    pub request_status: RequestStatus,
    #[serde(default)]
    pub response_data: Option<Value>,
}

/// Whether a request succeeded: `code` 100 is success; the rest are obs-websocket's
/// `RequestStatus` codes (600 resource not found, 501 output not running, ...).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RequestStatus {
    pub result: bool,
    pub code: u32,
    #[serde(default)]
    pub comment: Option<String>,
}

/// RequestStatus: the requested resource (scene, source, input) does not exist.
pub const RESOURCE_NOT_FOUND: u32 = 600;
/// RequestStatus: the output is not running (the replay buffer, the recording).
pub const OUTPUT_NOT_RUNNING: u32 = 501;
/// RequestStatus: the resource is in a state that does not allow this (the replay buffer is not
/// enabled in OBS's settings).
pub const INVALID_RESOURCE_STATE: u32 = 604;

/// Reads one text frame from OBS.
pub fn read(text: &str) -> Result<Incoming, WireError> {
    let envelope: Envelope = wire::from_str("an obs-websocket frame", text)?;
    let d = &envelope.d;
    Ok(match envelope.op {
        0 => {
            Incoming::Hello(wire::from_value("obs-websocket Hello", d).map_err(|e| e.within("d"))?)
        }
        2 => Incoming::Identified(
            wire::from_value("obs-websocket Identified", d).map_err(|e| e.within("d"))?,
        ),
        5 => Incoming::Event(
            wire::from_value("an obs-websocket Event", d).map_err(|e| e.within("d"))?,
        ),
        7 => Incoming::Response(
            wire::from_value("an obs-websocket RequestResponse", d).map_err(|e| e.within("d"))?,
        ),
        op => Incoming::Other(op),
    })
}

/// The authentication string for `password`: `base64(sha256(base64(sha256(password + salt)) +
/// challenge))`, concatenating the base64 strings as UTF-8.
pub fn auth_string(password: &str, challenge: &Challenge) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let secret = b64.encode(Sha256::digest(
        format!("{password}{}", challenge.salt).as_bytes(),
    ));
    b64.encode(Sha256::digest(
        format!("{secret}{}", challenge.challenge).as_bytes(),
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IdentifyData<'a> {
    rpc_version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    authentication: Option<&'a str>,
    event_subscriptions: u32,
}

/// Identify (op 1): the RPC version, the authentication string when OBS asked for one, and the
/// event groups to receive.
pub fn identify(authentication: Option<&str>, event_subscriptions: u32) -> String {
    serde_json::json!({
        "op": 1,
        "d": IdentifyData {
            rpc_version: RPC_VERSION,
            authentication,
            event_subscriptions,
        },
    })
    .to_string()
}

/// Request (op 6).
pub fn request(request_type: &str, request_id: &str, data: Option<&Value>) -> String {
    let mut d = serde_json::json!({"requestType": request_type, "requestId": request_id});
    if let Some(data) = data {
        d["requestData"] = data.clone();
    }
    serde_json::json!({"op": 6, "d": d}).to_string()
}

/// What a close from OBS means for the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    /// 4009: the password is wrong (or missing). Retrying with the same one cannot help.
    AuthenticationFailed,
    /// 4011: someone ended the session in OBS's UI; OBS asks clients not to reconnect on their own.
    SessionInvalidated,
    /// 4010: OBS does not speak this RPC version.
    UnsupportedRpcVersion,
    /// Anything else (OBS quitting, a protocol slip): reconnect with backoff.
    Retry,
}

impl CloseKind {
    pub fn of(code: u16) -> CloseKind {
        match code {
            4009 => CloseKind::AuthenticationFailed,
            4011 => CloseKind::SessionInvalidated,
            4010 => CloseKind::UnsupportedRpcVersion,
            _ => CloseKind::Retry,
        }
    }

    /// Whether the connection is tried again.
    pub fn retries(self) -> bool {
        self == CloseKind::Retry
    }
}

/// `savedReplayPath` of a `ReplayBufferSaved` event (or of `GetLastReplayBufferReplay`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedReplay {
    pub saved_replay_path: String,
}

/// An output's state event (`StreamStateChanged`, `RecordStateChanged`,
/// `ReplayBufferStateChanged`), and the `outputActive` of the matching `Get...Status` answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputState {
    pub output_active: bool,
    #[serde(default)]
    pub output_state: Option<String>,
}

/// `CurrentProgramSceneChanged` and `GetCurrentProgramScene`: 5.0–5.3 answer only the deprecated
/// `currentProgramSceneName`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgramScene {
    #[serde(default)]
    pub scene_name: Option<String>,
    #[serde(default)]
    pub current_program_scene_name: Option<String>,
}

impl ProgramScene {
    pub fn name(self) -> Option<String> {
        self.scene_name.or(self.current_program_scene_name)
    }
}

/// `GetSceneList`'s answer (scenes are listed bottom first, as OBS keeps them).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SceneList {
    pub scenes: Vec<SceneEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SceneEntry {
    pub scene_name: String,
    #[serde(default)]
    pub scene_index: Option<i64>,
}

/// `GetSceneItemId`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SceneItemId {
    pub scene_item_id: u64,
}

/// `GetSceneItemEnabled`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SceneItemEnabled {
    pub scene_item_enabled: bool,
}

/// `GetVersion`'s answer (the part kept).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub obs_version: String,
    pub obs_web_socket_version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The protocol's own derivation, checked against values computed independently.
    #[test]
    fn the_authentication_string_matches_the_test_vector() {
        let challenge = Challenge {
            salt: "lM1GncleQOaCu9lT1yeUZhFYnqhsLLP1G5lAGo3ixaI=".into(),
            challenge: "+IxH4CnCiqpX1rM9scsNynZzbOe4KhDeYcTNS3PDaeY=".into(),
        };
        assert_eq!(
            auth_string("supersecretpassword", &challenge),
            "1Ct943GAT+6YQUUX47Ia/ncufilbe6+oD6lY+5kaCu4="
        );
    }

    #[test]
    fn the_protocol_samples_read_as_their_frames() {
        let hello = read(r#"{"op":0,"d":{"obsStudioVersion":"30.2.2","obsWebSocketVersion":"5.5.2","rpcVersion":1,"authentication":{"challenge":"+IxH4CnCiqpX1rM9scsNynZzbOe4KhDeYcTNS3PDaeY=","salt":"lM1GncleQOaCu9lT1yeUZhFYnqhsLLP1G5lAGo3ixaI="}}}"#).unwrap();
        let Incoming::Hello(hello) = hello else {
            panic!("{hello:?}")
        };
        assert_eq!(hello.obs_web_socket_version, "5.5.2");
        assert!(hello.authentication.is_some());
        let open = read(r#"{"op":0,"d":{"obsWebSocketVersion":"5.0.1","rpcVersion":1}}"#).unwrap();
        assert!(matches!(
            open,
            Incoming::Hello(Hello {
                authentication: None,
                ..
            })
        ));
        assert_eq!(
            read(r#"{"op":2,"d":{"negotiatedRpcVersion":1}}"#).unwrap(),
            Incoming::Identified(Identified {
                negotiated_rpc_version: 1
            })
        );
        let saved = read(r#"{"op":5,"d":{"eventType":"ReplayBufferSaved","eventIntent":64,"eventData":{"savedReplayPath":"/home/u/Videos/Replay.mkv"}}}"#).unwrap();
        let Incoming::Event(event) = saved else {
            panic!()
        };
        assert_eq!(event.event_type, "ReplayBufferSaved");
        let path: SavedReplay = wire::from_value("x", event.event_data.as_ref().unwrap()).unwrap();
        assert_eq!(path.saved_replay_path, "/home/u/Videos/Replay.mkv");
        let refused = read(r#"{"op":7,"d":{"requestType":"SetCurrentProgramScene","requestId":"r-18","requestStatus":{"result":false,"code":600,"comment":"No source was found by the name of `Nope`."}}}"#).unwrap();
        let Incoming::Response(response) = refused else {
            panic!()
        };
        assert_eq!(response.request_id, "r-18");
        assert_eq!(
            response.request_status,
            RequestStatus {
                result: false,
                code: RESOURCE_NOT_FOUND,
                comment: Some("No source was found by the name of `Nope`.".into())
            }
        );
        assert_eq!(
            read(r#"{"op":9,"d":{"requestId":"b","results":[]}}"#).unwrap(),
            Incoming::Other(9)
        );
    }

    #[test]
    fn a_frame_that_does_not_fit_names_where() {
        let err = read(r#"{"op":7,"d":{"requestType":"X","requestId":"1","requestStatus":{"result":"yes","code":100}}}"#).unwrap_err();
        assert!(err.path.contains("requestStatus.result"), "{err}");
        assert!(read("not json").is_err());
    }

    #[test]
    fn older_servers_name_the_program_scene_the_old_way() {
        let old: ProgramScene =
            serde_json::from_str(r#"{"currentProgramSceneName":"Main"}"#).unwrap();
        assert_eq!(old.name().as_deref(), Some("Main"));
        let new: ProgramScene = serde_json::from_str(
            r#"{"sceneName":"Game","sceneUuid":"u","currentProgramSceneName":"Game","currentProgramSceneUuid":"u"}"#,
        )
        .unwrap();
        assert_eq!(new.name().as_deref(), Some("Game"));
    }

    #[test]
    fn identify_and_request_frames_have_the_protocol_shape() {
        let identify: Value = serde_json::from_str(&identify(Some("abc"), 76)).unwrap();
        assert_eq!(
            identify,
            serde_json::json!({"op": 1, "d": {"rpcVersion": 1, "authentication": "abc", "eventSubscriptions": 76}})
        );
        let open: Value = serde_json::from_str(&super::identify(None, 76)).unwrap();
        assert!(open["d"].get("authentication").is_none());
        let request: Value = serde_json::from_str(&request(
            "SetCurrentProgramScene",
            "ss-1",
            Some(&serde_json::json!({"sceneName": "Game"})),
        ))
        .unwrap();
        assert_eq!(
            request,
            serde_json::json!({"op": 6, "d": {"requestType": "SetCurrentProgramScene", "requestId": "ss-1", "requestData": {"sceneName": "Game"}}})
        );
    }

    #[test]
    fn close_codes_say_whether_to_reconnect() {
        assert_eq!(CloseKind::of(4009), CloseKind::AuthenticationFailed);
        assert!(!CloseKind::of(4009).retries());
        assert!(!CloseKind::of(4011).retries());
        assert!(!CloseKind::of(4010).retries());
        assert!(CloseKind::of(1001).retries());
        assert!(CloseKind::of(4000).retries());
    }

    proptest::proptest! {
        /// Any text from the network reads as a frame or an error, never a panic.
        #[test]
        fn any_text_reads_or_fails_cleanly(text in ".{0,200}") {
            let _ = read(&text);
        }

        /// Any frame of the right shape reads back with its fields.
        #[test]
        fn responses_read_back(id in "[a-z0-9-]{1,20}", code in 100u32..800, ok: bool, comment in proptest::option::of("[ -~]{0,40}")) {
            let mut status = serde_json::json!({"result": ok, "code": code});
            if let Some(c) = &comment {
                status["comment"] = c.clone().into();
            }
            let text = serde_json::json!({"op": 7, "d": {"requestType": "T", "requestId": id, "requestStatus": status}}).to_string();
            let Incoming::Response(r) = read(&text).unwrap() else { panic!() };
            proptest::prop_assert_eq!(r.request_id, id);
            proptest::prop_assert_eq!(r.request_status, RequestStatus { result: ok, code, comment });
        }
    }
}
