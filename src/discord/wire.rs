//! The Discord Gateway v10 wire format the bot reads and writes: the frame envelope, the opcodes,
//! the dispatches it acts on (READY, RESUMED, GUILD_CREATE, GUILD_DELETE, INTERACTION_CREATE) and
//! the payloads it sends (Heartbeat, Identify, Resume), as Discord's gateway reference describes
//! them.
//!
//! Every frame is `{"op": int, "d": any, "s": int|null, "t": string|null}`; `s` and `t` are set on
//! dispatches (op 0) only. Frames are decoded with [`crate::wire`], so a frame that does not fit is
//! one [`WireError`] naming the path. Unknown dispatches and unknown fields are ignored: Discord
//! adds both without notice. What we send is built here only, so the token appears in exactly the
//! two payloads that must carry it (Identify, Resume), and their `Debug` never shows it.

use crate::wire::{self, WireError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Dispatch (receive): an event, with `t` and `s`.
pub const OP_DISPATCH: u8 = 0;
/// Heartbeat (send, and receive: the server asks for one now).
pub const OP_HEARTBEAT: u8 = 1;
/// Identify (send, once per new session).
pub const OP_IDENTIFY: u8 = 2;
/// Resume (send, to continue a session after a drop).
pub const OP_RESUME: u8 = 6;
/// Reconnect (receive): reconnect and resume.
pub const OP_RECONNECT: u8 = 7;
/// Invalid Session (receive): `d` says whether the session can be resumed.
pub const OP_INVALID_SESSION: u8 = 9;
/// Hello (receive, first frame): the heartbeat interval.
pub const OP_HELLO: u8 = 10;
/// Heartbeat ACK (receive).
pub const OP_HEARTBEAT_ACK: u8 = 11;

/// The intents the bot identifies with: GUILDS (`1 << 0`) only. Slash commands arrive as
/// INTERACTION_CREATE, which needs no intent, and the bot never reads chat, so it asks for no
/// privileged intent (no MESSAGE_CONTENT, no GUILD_MEMBERS).
pub const INTENTS: u64 = 1;

/// The largest payload the gateway accepts from a client; a larger one closes with 4002.
pub const MAX_SEND_BYTES: usize = 4096;

/// One received frame.
#[derive(Debug, Clone, Deserialize)]
pub struct Frame {
    pub op: u8,
    #[serde(default)]
    pub d: Value,
    #[serde(default)]
    pub s: Option<u64>,
    #[serde(default)]
    pub t: Option<String>,
}

impl Frame {
    pub fn parse(text: &str) -> Result<Frame, WireError> {
        wire::from_str("a Discord gateway frame", text)
    }
}

/// Hello's `d`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Hello {
    /// Milliseconds between heartbeats.
    pub heartbeat_interval: u64,
}

/// READY's `d`: the parts the bot keeps.
#[derive(Debug, Clone, Deserialize)]
pub struct Ready {
    pub session_id: String,
    pub resume_gateway_url: String,
    pub user: User,
    #[serde(default)]
    pub guilds: Vec<UnavailableGuild>,
    pub application: Application,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Application {
    pub id: String,
}

/// A guild as READY lists it (unavailable until its GUILD_CREATE).
#[derive(Debug, Clone, Deserialize)]
pub struct UnavailableGuild {
    pub id: String,
}

/// GUILD_CREATE's `d`: the parts the bot keeps (the rest of the guild object is ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct GuildCreate {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// GUILD_DELETE's `d`: the bot left the guild, or it went down in an outage (`unavailable`).
#[derive(Debug, Clone, Deserialize)]
pub struct GuildDelete {
    pub id: String,
    #[serde(default)]
    pub unavailable: bool,
}

/// A Discord user.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub global_name: Option<String>,
}

impl User {
    /// How the user is named to people: the display name, else the username.
    pub fn display(&self) -> &str {
        self.global_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.username)
    }
}

/// The guild member who used a command: the user and the ids of their roles.
#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    pub user: User,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Interaction type 2: a slash command.
pub const INTERACTION_APPLICATION_COMMAND: u8 = 2;
/// Interaction type 1: Discord checking the endpoint (HTTP interactions only; answered with PONG).
pub const INTERACTION_PING: u8 = 1;

/// INTERACTION_CREATE's `d`.
#[derive(Debug, Clone, Deserialize)]
pub struct Interaction {
    pub id: String,
    pub application_id: String,
    #[serde(rename = "type")]
    pub kind: u8,
    /// The credential of this interaction's callback and follow-ups (valid 15 minutes).
    pub token: InteractionToken,
    #[serde(default)]
    pub guild_id: Option<String>,
    #[serde(default)]
    pub channel_id: Option<String>,
    /// Present in guilds.
    #[serde(default)]
    pub member: Option<Member>,
    /// Present in direct messages.
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub data: Option<CommandData>,
}

impl Interaction {
    /// Who used the command: the member's user in a guild, the user in a DM.
    pub fn invoker(&self) -> Option<&User> {
        self.member.as_ref().map(|m| &m.user).or(self.user.as_ref())
    }
}

/// An interaction's token: a credential, never printed.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct InteractionToken(String);

impl InteractionToken {
    pub fn new(token: impl Into<String>) -> InteractionToken {
        InteractionToken(token.into())
    }

    /// The value, for the one place it goes into a request path.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for InteractionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InteractionToken([redacted])")
    }
}

/// The command used: its name and options.
#[derive(Debug, Clone, Deserialize)]
pub struct CommandData {
    pub name: String,
    #[serde(default)]
    pub options: Vec<CommandOption>,
}

/// One option as sent: a value, or a subcommand with options of its own.
#[derive(Debug, Clone, Deserialize)]
pub struct CommandOption {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub options: Vec<CommandOption>,
}

/// `GET /gateway/bot`: where to connect and how many new sessions may start.
#[derive(Debug, Clone, Deserialize)]
pub struct GatewayBot {
    pub url: String,
    #[serde(default)]
    pub shards: Option<u32>,
    pub session_start_limit: SessionStartLimit,
}

/// The Identify budget: `total` per day, `remaining` now, reset in `reset_after` ms, and
/// `max_concurrency` Identify calls per 5 seconds.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub struct SessionStartLimit {
    pub total: u32,
    pub remaining: u32,
    pub reset_after: u64,
    pub max_concurrency: u32,
}

/// The gateway URL to open: `base` with the version and encoding (and no compression).
pub fn connect_url(base: &str) -> String {
    if base.contains('?') {
        format!("{base}&v=10&encoding=json")
    } else {
        format!("{}/?v=10&encoding=json", base.trim_end_matches('/'))
    }
}

/// A Heartbeat: the last sequence number received, or null before the first dispatch.
pub fn heartbeat(seq: Option<u64>) -> String {
    json!({"op": OP_HEARTBEAT, "d": seq}).to_string()
}

/// An Identify with [`INTENTS`] and no compression. Holds the token: sent, never logged.
pub fn identify(token: &str) -> String {
    json!({"op": OP_IDENTIFY, "d": {
        "token": token,
        "intents": INTENTS,
        "properties": {"os": std::env::consts::OS, "browser": "ss", "device": "ss"},
    }})
    .to_string()
}

/// A Resume of `session_id` after sequence `seq`. Holds the token: sent, never logged.
pub fn resume(token: &str, session_id: &str, seq: Option<u64>) -> String {
    json!({"op": OP_RESUME, "d": {"token": token, "session_id": session_id, "seq": seq}})
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_from_the_reference_are_read() {
        let hello = Frame::parse(r#"{"op":10,"d":{"heartbeat_interval":45000}}"#).unwrap();
        assert_eq!(hello.op, OP_HELLO);
        let d: Hello = wire::from_value("Hello", &hello.d).unwrap();
        assert_eq!(d.heartbeat_interval, 45000);
        // ACKs come bare or with the nulls spelled out.
        for text in [r#"{"op":11}"#, r#"{"op":11,"d":null,"s":null,"t":null}"#] {
            let ack = Frame::parse(text).unwrap();
            assert_eq!((ack.op, ack.s, ack.t), (OP_HEARTBEAT_ACK, None, None));
        }
        let ready = Frame::parse(
            r#"{"op":0,"s":1,"t":"READY","d":{"v":10,"user":{"id":"111","username":"ssbot","discriminator":"0","bot":true,"avatar":null},
 "guilds":[{"id":"222","unavailable":true}],"session_id":"abc123","resume_gateway_url":"wss://gateway-us-east1-b.discord.gg",
 "shard":[0,1],"application":{"id":"333","flags":0}}}"#,
        )
        .unwrap();
        assert_eq!((ready.s, ready.t.as_deref()), (Some(1), Some("READY")));
        let d: Ready = wire::from_value("READY", &ready.d).unwrap();
        assert_eq!(d.session_id, "abc123");
        assert_eq!(d.resume_gateway_url, "wss://gateway-us-east1-b.discord.gg");
        assert_eq!(d.application.id, "333");
        assert_eq!(d.guilds[0].id, "222");
        let invalid = Frame::parse(r#"{"op":9,"d":false}"#).unwrap();
        assert_eq!(invalid.d, Value::Bool(false));
    }

    #[test]
    fn an_interaction_from_the_reference_is_read_and_its_token_stays_hidden() {
        let text = r#"{"id":"786008729715212338","application_id":"333","type":2,"token":"A_UNIQUE_TOKEN","version":1,"guild_id":"290926798626357999","channel_id":"645027906669510667",
 "member":{"user":{"id":"53908232506183680","username":"Mason"},"roles":[],"permissions":"2147483647"},"app_permissions":"442368","locale":"en-US",
 "data":{"id":"771825006014889984","name":"clip","type":1,"options":[{"type":3,"name":"title","value":"nice"}]}}"#;
        let i: Interaction = wire::from_str("INTERACTION_CREATE", text).unwrap();
        assert_eq!(i.kind, INTERACTION_APPLICATION_COMMAND);
        assert_eq!(i.invoker().unwrap().display(), "Mason");
        assert_eq!(i.token.expose(), "A_UNIQUE_TOKEN");
        assert!(!format!("{i:?}").contains("A_UNIQUE_TOKEN"));
        let data = i.data.unwrap();
        assert_eq!(data.name, "clip");
        assert_eq!(data.options[0].value, Some(Value::String("nice".into())));
    }

    #[test]
    fn a_frame_that_does_not_fit_names_the_path() {
        let err = Frame::parse(r#"{"op":"ten"}"#).unwrap_err();
        assert_eq!(err.path, "op", "{err}");
    }

    #[test]
    fn payloads_we_send_follow_the_reference() {
        let identify: Value = serde_json::from_str(&identify("tok")).unwrap();
        assert_eq!(identify["op"], 2);
        assert_eq!(identify["d"]["intents"], 1);
        assert!(identify["d"].get("compress").is_none());
        assert_eq!(identify["d"]["properties"]["browser"], "ss");
        let resume: Value = serde_json::from_str(&resume("tok", "abc", Some(1337))).unwrap();
        assert_eq!(
            resume,
            json!({"op": 6, "d": {"token": "tok", "session_id": "abc", "seq": 1337}})
        );
        let beat: Value = serde_json::from_str(&heartbeat(None)).unwrap();
        assert_eq!(beat, json!({"op": 1, "d": null}));
        let beat: Value = serde_json::from_str(&heartbeat(Some(42))).unwrap();
        assert_eq!(beat, json!({"op": 1, "d": 42}));
        assert_eq!(
            connect_url("wss://gateway.discord.gg"),
            "wss://gateway.discord.gg/?v=10&encoding=json"
        );
        assert_eq!(
            connect_url("wss://gateway.discord.gg/"),
            "wss://gateway.discord.gg/?v=10&encoding=json"
        );
    }
}
