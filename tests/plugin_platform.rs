//! A platform that lives outside the crate plugs into `ss` with one registration line.
//!
//! "Plug" is a tiny chat platform defined only here: a line protocol over TCP (the client sends
//! `JOIN <room>`, the server sends `MSG <id> <user> <text>`, the client answers `SAY <room> <text>`),
//! a creators.json block with its own schema and check, a platforms.json key (`address`), a
//! credential, and a webhook route (`POST /webhooks/plug`) that feeds the data lane. Nothing under
//! `src/` knows it: it is registered by `ss::register_platform!` below, and the test proves what a
//! user would see: `validate-config` accepts its block and names a bad one by file, line and
//! pointer; `ss run` (the library's run loop, stopped by a token instead of a signal) records its
//! chat, answers `!ping` on its server, takes its webhook into the same lane; the exports list it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use ss::config::model::Creator;
use ss::config::platform::{
    Check, Credential, PlatformBlock, PlatformConfig, Settings, parse_settings,
};
use ss::config::secrets::Secrets;
use ss::config::{Config, ConfigKind};
use ss::event::{Author, ChatEvent, Platform, PlatformInfo};
use ss::lanes::SendOutcome;
use ss::pipeline::runner::{RunOptions, run};
use ss::sources::registry::{
    PlatformModule, PlatformServices, RunParts, ServiceStart, SourceBuild,
};
use ss::sources::runner::session::{SessionEnd, SessionReport, SessionSource};
use ss::sources::{BoxFuture, Forwarded, Source, SourceContext, SourceError};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

static PLUG_INFO: PlatformInfo = PlatformInfo {
    name: "plug",
    title: "Plug",
    rank: 1000,
    colour: None,
    emotes: None,
};

const PLUG: Platform = Platform::new(&PLUG_INFO);

/// The platform's module: config, source and webhook.
struct Plug;

ss::register_platform!(PLUG_INFO, Plug);

/// A creator's `plug` block.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlugSettings {
    #[serde(default)]
    enabled: bool,
    room: String,
    #[serde(default)]
    token_env: Option<String>,
}

impl PlatformConfig for Plug {
    fn platform(&self) -> Platform {
        PLUG
    }

    fn block_schema(&self) -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["room"],
            "properties": {
                "enabled": {"type": "boolean", "default": false},
                "room": {"type": "string", "pattern": "^[a-z0-9_]{1,32}$"},
                "token_env": {"$ref": "#/$defs/env"}
            }
        })
    }

    fn parse_block(&self, raw: &Value) -> Result<Settings, serde_json::Error> {
        parse_settings::<PlugSettings>(raw)
    }

    fn check_creator(&self, _creator: &Creator, block: Option<&PlatformBlock>, check: &mut Check) {
        let Some(plug) = block.and_then(PlatformBlock::settings::<PlugSettings>) else {
            return;
        };
        check.env_name("token_env", plug.token_env.as_ref());
        if plug.enabled && plug.room == "lobby" {
            check.error("room", "the lobby is read-only; pick a room of your own");
        }
    }

    fn platforms_json_schema(&self) -> Value {
        json!({
            "description": "Plug chat over its line protocol.",
            "properties": {"address": {"type": "string", "minLength": 1}}
        })
    }

    fn credentials(&self, block: &PlatformBlock) -> Vec<Credential> {
        block
            .settings::<PlugSettings>()
            .and_then(|p| Credential::named("chat", p.token_env.as_ref()))
            .into_iter()
            .collect()
    }

    fn channel(&self, block: &PlatformBlock) -> Option<String> {
        Some(block.settings::<PlugSettings>()?.room.clone())
    }
}

impl PlatformModule for Plug {
    fn build_source(&self, build: &SourceBuild<'_>) -> Result<Source, SourceError> {
        let settings = build.settings::<PlugSettings>()?;
        let address = build.own.str("address").ok_or_else(|| {
            SourceError::InvalidSettings("platforms.json plug.address is not set".into())
        })?;
        Ok(Source::Session(Box::new(PlugSource {
            creator: build.creator.to_owned(),
            room: settings.room.clone(),
            address,
            link: Link::default(),
        })))
    }

    fn start_services(
        &self,
        run: &ServiceStart<'_>,
    ) -> Result<Option<Arc<dyn PlatformServices>>, String> {
        let creator = run
            .config
            .creators
            .creators
            .iter()
            .find(|c| c.platforms.enabled(PLUG))
            .map(|c| c.id.clone());
        Ok(creator.map(|creator| {
            Arc::new(Webhook(Arc::new(WebhookState {
                creator,
                door: Mutex::default(),
            }))) as Arc<dyn PlatformServices>
        }))
    }
}

/// The source: one TCP connection per session; its delivery writes `SAY` lines on the live one.
struct PlugSource {
    creator: String,
    room: String,
    address: String,
    link: Link,
}

/// The write half of the live connection, installed by the session once it has joined.
type Link = Arc<tokio::sync::Mutex<Option<tokio::net::tcp::OwnedWriteHalf>>>;

/// Says and replies on the live connection.
struct PlugDelivery {
    room: String,
    link: Link,
}

impl ss::sources::runner::serve::Delivery for PlugDelivery {
    fn max_chars(&self, _command: &ss::command::PlatformCommand) -> usize {
        400
    }

    fn deliver<'a>(
        &'a mut self,
        part: &'a ss::sources::runner::serve::Part,
    ) -> BoxFuture<'a, Result<(), ss::sources::runner::serve::DeliveryError>> {
        use ss::sources::runner::serve::DeliveryError;
        Box::pin(async move {
            let Some(text) = part.text() else {
                return Err(DeliveryError::Failed(SourceError::InvalidSettings(
                    "plug chat only says".into(),
                )));
            };
            let mut link = self.link.lock().await;
            let Some(write) = link.as_mut() else {
                return Err(DeliveryError::Retry("not connected".into()));
            };
            write
                .write_all(format!("SAY {} {text}\n", self.room).as_bytes())
                .await
                .map_err(|e| DeliveryError::Retry(e.to_string()))
        })
    }
}

impl PlugSource {
    async fn serve(&self, ctx: &mut SourceContext) -> Result<SessionEnd, SourceError> {
        let stream = TcpStream::connect(&self.address)
            .await
            .map_err(|e| SourceError::Other(format!("cannot connect: {e}")))?;
        let (read, mut write) = stream.into_split();
        let io = |e: std::io::Error| SourceError::Other(e.to_string());
        write
            .write_all(format!("JOIN {}\n", self.room).as_bytes())
            .await
            .map_err(io)?;
        *self.link.lock().await = Some(write);
        ctx.report.connected();
        let mut lines = BufReader::new(read).lines();
        loop {
            tokio::select! {
                () = ctx.shutdown.cancelled() => return Ok(SessionEnd::Shutdown),
                line = lines.next_line() => {
                    let Some(line) = line.map_err(io)? else {
                        return Ok(SessionEnd::ReconnectRequested);
                    };
                    let mut parts = line.splitn(4, ' ');
                    let (Some("MSG"), Some(id), Some(user), Some(text)) =
                        (parts.next(), parts.next(), parts.next(), parts.next())
                    else {
                        ctx.report.warning(&format!("not a plug line: {line:?}"));
                        continue;
                    };
                    let mut event = ChatEvent::message(
                        PLUG,
                        &self.creator,
                        id,
                        chrono::Utc::now(),
                        Author::viewer(user),
                        text,
                    );
                    event.channel = self.room.as_str().into();
                    if ctx.forward(event).await == Forwarded::PipelineClosed {
                        return Ok(SessionEnd::PipelineClosed);
                    }
                }
            }
        }
    }
}

impl SessionSource for PlugSource {
    fn commands(&self) -> ss::command::CommandSupport {
        use ss::command::{CommandName, CommandSet, CommandSupport};
        CommandSupport::new(
            CommandSet::of(&[CommandName::Say, CommandName::Reply]),
            "plug chat only says",
        )
    }

    fn delivery(&mut self, _ctx: &SourceContext) -> Box<dyn ss::sources::runner::serve::Delivery> {
        Box::new(PlugDelivery {
            room: self.room.clone(),
            link: self.link.clone(),
        })
    }

    fn session<'a>(&'a mut self, ctx: &'a mut SourceContext) -> BoxFuture<'a, SessionReport> {
        Box::pin(async move {
            let started = std::time::Instant::now();
            let result = self.serve(ctx).await;
            SessionReport {
                connected_for: result.is_ok().then(|| started.elapsed()),
                result,
            }
        })
    }
}

/// The webhook: `POST /webhooks/plug` with `{"id", "user", "text"}`, into the data lane.
struct Webhook(Arc<WebhookState>);

struct WebhookState {
    creator: String,
    door: Mutex<Option<RunParts>>,
}

#[derive(Deserialize)]
struct Delivery {
    id: String,
    user: String,
    text: String,
}

async fn receive(
    State(state): State<Arc<WebhookState>>,
    Json(delivery): Json<Delivery>,
) -> StatusCode {
    let Some(door) = state.door.lock().unwrap().clone() else {
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    let now = chrono::Utc::now();
    let mut event = ChatEvent::message(
        PLUG,
        &state.creator,
        &delivery.id,
        now,
        Author::viewer(&delivery.user),
        &delivery.text,
    );
    ss::sources::check_wire(&door.guards, &door.wire, &mut event, now);
    match door.sink.send(event).await {
        SendOutcome::Accepted => StatusCode::ACCEPTED,
        SendOutcome::Shed | SendOutcome::Dropped | SendOutcome::Closed => {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

impl PlatformServices for Webhook {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn routes(&self) -> Vec<axum::Router> {
        vec![
            axum::Router::new()
                .route("/webhooks/plug", axum::routing::post(receive))
                .with_state(self.0.clone()),
        ]
    }

    fn open(&self, run: &RunParts) {
        *self.0.door.lock().unwrap() = Some(run.clone());
    }

    fn close(&self) {
        self.0.door.lock().unwrap().take();
    }
}

/// The loopback Plug server: sends `messages` after a client joins, and passes on every line the
/// client sends after its `JOIN`.
async fn plug_server(listener: TcpListener, messages: Vec<String>, said: mpsc::Sender<String>) {
    let Ok((stream, _)) = listener.accept().await else {
        return;
    };
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let Ok(Some(join)) = lines.next_line().await else {
        return;
    };
    let _ = said.send(join).await;
    for message in messages {
        if write.write_all(message.as_bytes()).await.is_err() {
            return;
        }
    }
    while let Ok(Some(line)) = lines.next_line().await {
        let _ = said.send(line).await;
    }
}

/// The next line the client sent the Plug server, waited for at most 30 s.
async fn next_line(said: &mut mpsc::Receiver<String>, what: &str) -> String {
    tokio::time::timeout(Duration::from_secs(30), said.recv())
        .await
        .unwrap_or_else(|_| panic!("no {what} within 30 s"))
        .unwrap_or_else(|| panic!("the Plug server stopped before the {what}"))
}

fn write(root: &Path, file: &str, value: &Value) {
    let path = root.join("runtime/config").join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

fn read(root: &Path, file: &str) -> Value {
    let text = std::fs::read_to_string(root.join(file)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A loopback port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn creators(plug: Value) -> Value {
    json!({"creators": [{"id": "demo", "display_name": "Demo", "platforms": {"plug": plug}}]})
}

/// `ss validate-config`, in process: its outcome and report.
fn validate(root: &Path) -> (ss::cli::Outcome, ss::config::Report) {
    use clap::Parser;
    let cli = ss::cli::Cli::try_parse_from([
        "ss",
        "--root",
        root.to_str().unwrap(),
        "validate-config",
        "--format",
        "json",
    ])
    .unwrap();
    let outcome = ss::run(cli).unwrap();
    let dir = root.join("runtime/config");
    let (report, _) = ss::config::validate::check(
        &[(dir.join("creators.json"), ConfigKind::Creators)],
        Some(&dir),
    );
    (outcome, report)
}

#[test]
fn validate_config_accepts_the_plug_block_and_names_a_bad_one_by_file_line_and_pointer() {
    let root = tempfile::tempdir().unwrap();
    write(
        root.path(),
        "platforms.json",
        &json!({"platforms": {"plug": {"mode": "active", "address": "127.0.0.1:1"}}}),
    );
    write(
        root.path(),
        "creators.json",
        &creators(json!({"enabled": true, "room": "studio", "token_env": "PLUG_TOKEN"})),
    );
    let (outcome, report) = validate(root.path());
    assert_eq!(outcome, ss::cli::Outcome::Success, "{report:?}");
    assert!(report.errors.is_empty(), "{report:?}");

    // The block's own schema: a bad room and an unknown key, each at its line and pointer.
    write(
        root.path(),
        "creators.json",
        &creators(json!({"enabled": true, "room": "Studio 1", "colour": "red"})),
    );
    let (outcome, report) = validate(root.path());
    assert_eq!(outcome, ss::cli::Outcome::CheckFailed);
    let errors: Vec<String> = report
        .errors
        .iter()
        .map(|d| format!("{}:{}: {}", d.line, d.pointer, d.message))
        .collect();
    assert!(
        report
            .errors
            .iter()
            .all(|d| d.file.ends_with("creators.json")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("10:/creators/0/platforms/plug/colour: unknown key \"colour\"")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("9:/creators/0/platforms/plug/room: ")
                && e.contains("does not match")),
        "{errors:?}"
    );

    // Its semantic check, and the generic ones that now know the platform.
    write(
        root.path(),
        "creators.json",
        &creators(json!({"enabled": true, "room": "lobby", "token_env": "plug token"})),
    );
    let (outcome, report) = validate(root.path());
    assert_eq!(outcome, ss::cli::Outcome::CheckFailed);
    let errors: Vec<String> = report
        .errors
        .iter()
        .map(|d| format!("{}: {}", d.pointer, d.message))
        .collect();
    assert_eq!(
        errors,
        [
            "/creators/0/platforms/plug/room: the lobby is read-only; pick a room of your own",
            "/creators/0/platforms/plug/token_env: \"plug token\" is not a valid environment variable name; use capitals, digits and `_`, e.g. \"TWITCH_OAUTH_TOKEN_DEMO\"",
        ]
    );

    // A platform nobody registered is named with the ones that are.
    write(
        root.path(),
        "platforms.json",
        &json!({"platforms": {"myspace": {"mode": "active"}}}),
    );
    let dir = root.path().join("runtime/config");
    let (report, _) =
        ss::config::validate::check(&[(dir.join("platforms.json"), ConfigKind::Platforms)], None);
    let message = &report.errors[0].message;
    assert!(message.contains("\"plug\""), "{message}");
    assert!(message.contains("\"twitch\""), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plug_platform_chats_answers_takes_webhooks_and_is_exported() {
    let root = tempfile::tempdir().unwrap();
    let chat = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let chat_address = chat.local_addr().unwrap().to_string();
    let http_port = free_port();
    write(
        root.path(),
        "system.json",
        &json!({
            "http": {"enabled": true, "listen": format!("127.0.0.1:{http_port}")},
            "chat_log": {"enabled": true}
        }),
    );
    write(
        root.path(),
        "platforms.json",
        &json!({"platforms": {"plug": {"mode": "active", "address": chat_address}}}),
    );
    write(
        root.path(),
        "creators.json",
        &creators(json!({"enabled": true, "room": "studio", "token_env": "PLUG_TOKEN"})),
    );
    write(
        root.path(),
        "triggers.json",
        &json!({"triggers": {"demo": [{"id": "ping", "kind": "command", "command": "!ping",
            "action": {"type": "reply", "template": "pong"}}]}}),
    );
    let (said_tx, mut said) = mpsc::channel(16);
    tokio::spawn(plug_server(
        chat,
        vec![
            "MSG m1 alice hello from plug\n".into(),
            "MSG m2 bob !ping\n".into(),
        ],
        said_tx,
    ));

    let config = Config::load(root.path()).unwrap();
    let secrets = Secrets::load(root.path());
    let shutdown = CancellationToken::new();
    let running = {
        let root = root.path().to_path_buf();
        let shutdown = shutdown.clone();
        tokio::spawn(
            async move { run(&root, config, secrets, RunOptions::default(), shutdown).await },
        )
    };

    // The source joined its room, and the trigger's reply reached the Plug server.
    assert_eq!(next_line(&mut said, "JOIN").await, "JOIN studio");
    assert_eq!(next_line(&mut said, "reply").await, "SAY studio pong");

    // Its webhook feeds the same lane.
    let answer = ss::http_out::builder()
        .unwrap()
        .build()
        .unwrap()
        .post(format!("http://127.0.0.1:{http_port}/webhooks/plug"))
        .json(&json!({"id": "w1", "user": "carol", "text": "from the webhook"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);

    shutdown.cancel();
    let summary = running.await.unwrap().unwrap();
    assert!(summary.not_written.is_empty(), "{:?}", summary.not_written);
    assert_eq!(summary.counters.events_recorded, 3);

    // The exports: its chat with the webhook's message, its mode and totals, its credential.
    let events = read(root.path(), "runtime/signals/chat_events.json");
    let mut texts: Vec<(&str, &str)> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["platform"].as_str().unwrap(), e["text"].as_str().unwrap()))
        .collect();
    texts.sort_unstable();
    assert_eq!(
        texts,
        [
            ("plug", "!ping"),
            ("plug", "from the webhook"),
            ("plug", "hello from plug")
        ]
    );
    let platforms = read(root.path(), "runtime/exports/platforms.json");
    let plug = platforms["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["platform"] == "plug")
        .unwrap_or_else(|| panic!("plug is not listed: {platforms}"));
    assert_eq!(plug["mode"], "active", "{plug}");
    let integrations = read(root.path(), "runtime/admin/integrations.json");
    assert_eq!(
        integrations["credentials"],
        json!([{"creator": "demo", "platform": "plug", "purpose": "chat", "env": "PLUG_TOKEN", "set": false}])
    );
}
