//! The Twitch source against the loopback Twitch server: login, join, chat normalization, replies,
//! PING, RECONNECT, abrupt disconnects and restarts, login failure, TLS, plain IRC servers, the send
//! rate seen by the server, and the token kept out of logs.
//!
//! Each test runs the real `TwitchSource` with a real `SourceContext` (data lane, status handle,
//! command queue, shutdown token) and observes it from both ends: events on the lane, lines on the
//! server.

use crate::twitch_server::{CapReply, ServerOptions, TestTls, TwitchServer, strip_tags};
use ss::command::{CommandKind, PlatformCommand};
use ss::config::model::SendLimit;
use ss::config::secrets::Secrets;
use ss::event::wire_checks::WireLimits;
use ss::event::{ChatEvent, EventKind};
use ss::guards::{Guard, Guards};
use ss::lanes::DataLane;
use ss::lanes::Inbound;
use ss::sources::runner::{Wiring, session};
use ss::sources::twitch::TwitchSettings;
use ss::sources::twitch::client::Timing;
use ss::sources::twitch::{TwitchEndpoints, TwitchSource};
use ss::sources::{ConnectionState, OUTBOUND_CAPACITY, SourceStatus, StatusHandle};
use ss::telemetry::Telemetry;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) const TOKEN: &str = "abcd1234tokenvalue";
const TOKEN_ENV: &str = "SS_TEST_TWITCH_TOKEN";
const WAIT: Duration = Duration::from_secs(10);

pub(crate) const PRIVMSG: &str = "@badge-info=subscriber/14;badges=moderator/1,subscriber/12;client-nonce=5f1c0e2a9b;color=#1E90FF;display-name=Viewer_One;emotes=25:6-10;first-msg=0;flags=;id=3b8c6f3a-1d2e-4f5a-9b7c-0a1b2c3d4e5f;mod=1;returning-chatter=0;room-id=11111111;subscriber=1;tmi-sent-ts=1700000000123;turbo=0;user-id=22222222;user-type=mod :viewer_one!viewer_one@viewer_one.tmi.twitch.tv PRIVMSG #somechannel :hello Kappa";
const RESUB: &str = r"@badge-info=subscriber/2;badges=subscriber/0;color=#0000FF;display-name=Gutrin2;emotes=;flags=;id=e0975c76-0000-4954-8cb0-91b8867ec1ca;login=gutrin2;mod=0;msg-id=resub;msg-param-cumulative-months=2;msg-param-months=0;msg-param-should-share-streak=1;msg-param-streak-months=2;msg-param-sub-plan-name=Channel\sSubscription\s(somechannel);msg-param-sub-plan=1000;room-id=11111111;subscriber=1;system-msg=Gutrin2\ssubscribed\sat\sTier\s1.;tmi-sent-ts=1700000001000;user-id=33333333;user-type= :tmi.twitch.tv USERNOTICE #somechannel :great stream";
const RAID: &str = r"@badge-info=;badges=;color=#FF69B4;display-name=Raider;emotes=;flags=;id=bb99dda7-0000-4583-9114-52aa11b23d17;login=raider;mod=0;msg-id=raid;msg-param-displayName=Raider;msg-param-login=raider;msg-param-profileImageURL=https://static-cdn.jtvnw.net/x.png;msg-param-viewerCount=430;room-id=11111111;subscriber=0;system-msg=430\sraiders\sfrom\sRaider\shave\sjoined!;tmi-sent-ts=1700000002000;user-id=44444444;user-type= :tmi.twitch.tv USERNOTICE #somechannel";
const MODERATION: [&str; 4] = [
    "@ban-duration=600;room-id=11111111;target-user-id=55555555;tmi-sent-ts=1700000003000 :tmi.twitch.tv CLEARCHAT #somechannel :baduser",
    "@room-id=11111111;target-user-id=55555555;tmi-sent-ts=1700000003001 :tmi.twitch.tv CLEARCHAT #somechannel :baduser",
    "@room-id=11111111;tmi-sent-ts=1700000003002 :tmi.twitch.tv CLEARCHAT #somechannel",
    "@login=baduser;room-id=;target-msg-id=3c92014f-0000-4dc3-a9c9-e5cf182f4a84;tmi-sent-ts=1700000003003 :tmi.twitch.tv CLEARMSG #somechannel :the deleted text",
];

/// Short timeouts and backoff so the tests take seconds; the login retry stays long on purpose.
pub(crate) fn fast_timing() -> Timing {
    Timing {
        connect_timeout: Duration::from_secs(2),
        login_timeout: Duration::from_secs(2),
        keepalive_interval: Duration::from_secs(5),
        pong_timeout: Duration::from_secs(2),
        reconnect_base: Duration::from_millis(20),
        reconnect_cap: Duration::from_millis(200),
        login_retry_base: Duration::from_secs(4),
        login_retry_cap: Duration::from_secs(8),
        stable_after: Duration::from_secs(1),
    }
}

/// The creator's `twitch` block, pointed at the test server.
pub(crate) fn settings(port: u16, tls: bool) -> TwitchSettings {
    TwitchSettings {
        enabled: true,
        channel: "SomeChannel".into(),
        nick: "mybot".into(),
        token_env: Some(TOKEN_ENV.into()),
        host: Some("127.0.0.1".into()),
        port: Some(port),
        tls: Some(tls),
        client_id_env: None,
        client_secret_env: None,
        transport: Default::default(),
        broadcaster_id: None,
    }
}

/// Twitch's own refinement of a send limit: more sends while the bot moderates the channel.
fn privileged(messages: u32) -> serde_json::Map<String, serde_json::Value> {
    serde_json::Map::from_iter([("privileged_messages".to_string(), messages.into())])
}

pub(crate) fn normal_limit() -> SendLimit {
    SendLimit::default_for(ss::sources::twitch::TWITCH)
}

/// A reply (or, without `reply_to`, a post) to `channel`, as the command sink queues it.
fn command(channel: &str, text: &str, reply_to: Option<&str>) -> PlatformCommand {
    PlatformCommand {
        creator: "demo".into(),
        platform: ss::sources::twitch::TWITCH,
        channel: channel.into(),
        cause: reply_to.unwrap_or("tick").into(),
        kind: match reply_to {
            Some(id) => CommandKind::Reply {
                text: text.into(),
                reply_to: id.into(),
            },
            None => CommandKind::Say { text: text.into() },
        },
        receipt: false,
    }
}

/// A source running in a real context.
pub(crate) struct Running {
    events: ss::lanes::LaneReceiver,
    outbound: mpsc::Sender<PlatformCommand>,
    status: StatusHandle,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
    telemetry: Telemetry,
    /// The guard counters this source alone counts into.
    guards: Arc<Guards>,
    _root: tempfile::TempDir,
}

/// The wire limits of most tests here: the default line length, and a clock skew wide enough for
/// the recorded wire samples, which carry their recorded (2023) times. The default skew has its own
/// test.
fn samples_wire() -> WireLimits {
    WireLimits {
        max_clock_skew: Duration::from_secs(100 * 365 * 86_400),
        ..WireLimits::default()
    }
}

/// Runs `source` with the token (if any) in the root's `.env`, as an operator would set it.
pub(crate) fn run_source(
    source: TwitchSource,
    token: Option<&str>,
    endpoints: TwitchEndpoints,
    send_limit: SendLimit,
) -> Running {
    run_source_with(source, token, endpoints, send_limit, samples_wire())
}

/// [`run_source`] with the given wire limits.
fn run_source_with(
    source: TwitchSource,
    token: Option<&str>,
    endpoints: TwitchEndpoints,
    send_limit: SendLimit,
    wire: WireLimits,
) -> Running {
    let root = tempfile::tempdir().unwrap();
    if let Some(token) = token {
        std::fs::write(root.path().join(".env"), format!("{TOKEN_ENV}={token}\n")).unwrap();
    }
    let lane = DataLane::new(256, Duration::from_millis(250));
    let (outbound, outbound_rx) = mpsc::channel(OUTBOUND_CAPACITY);
    let wiring = Wiring {
        secrets: Secrets::load(root.path()),
        send_limit,
        wire,
        ..Wiring::new(
            "demo",
            ss::sources::twitch::TWITCH,
            lane.sink.clone(),
            outbound_rx,
        )
    };
    let status = wiring.status.clone();
    let shutdown = wiring.shutdown.clone();
    let guards = wiring.guards.clone();
    let telemetry = wiring.telemetry.clone();
    let (ctx, track, serving) = wiring.build();
    let source = Box::new(source.with_endpoints(endpoints));
    let task = tokio::spawn(session::run(source, ctx, track, serving));
    Running {
        events: lane.receiver,
        outbound,
        status,
        shutdown,
        task,
        telemetry,
        guards,
        _root: root,
    }
}

fn start(server: &TwitchServer) -> Running {
    start_with_limit(server, normal_limit())
}

/// The source on the test server with the token and fast timing, sending under `limit`.
fn start_with_limit(server: &TwitchServer, limit: SendLimit) -> Running {
    let source = TwitchSource::new("demo", &settings(server.port(), false))
        .unwrap()
        .with_timing(fast_timing());
    run_source(source, Some(TOKEN), TwitchEndpoints::default(), limit)
}

impl Running {
    async fn next_event(&mut self) -> ChatEvent {
        let item = tokio::time::timeout(WAIT, self.events.recv())
            .await
            .expect("an event within the wait")
            .expect("lane open");
        match item {
            Inbound::Event(event) => event,
            Inbound::Page(_) => panic!("a connection source sends single events"),
            Inbound::Tick(_) | Inbound::Shard(_) | Inbound::ShardState(_) => {
                panic!("a source sends no ticks or shards")
            }
        }
    }

    /// The next event that is not the ROOMSTATE every JOIN brings.
    pub(crate) async fn next_chat_event(&mut self) -> ChatEvent {
        loop {
            let event = self.next_event().await;
            if event.kind != EventKind::RoomState {
                return event;
            }
        }
    }

    pub(crate) async fn wait_status(
        &self,
        what: &str,
        cond: impl Fn(&SourceStatus) -> bool,
    ) -> SourceStatus {
        crate::harness::until_found_explained(
            WAIT,
            || {
                let status = self.status.snapshot();
                std::future::ready(cond(&status).then_some(status))
            },
            || format!("waiting for {what}; status: {:#?}", self.status.snapshot()),
        )
        .await
    }

    async fn reply(&self, text: &str, reply_to: Option<&str>) {
        self.send(command("somechannel", text, reply_to)).await;
    }

    async fn send(&self, command: PlatformCommand) {
        self.outbound.send(command).await.unwrap();
    }

    /// Cancels the shutdown token and expects the source to stop cleanly.
    pub(crate) async fn stop(self) -> SourceStatus {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("source stops after shutdown")
            .expect("source task did not panic");
        let status = self.status.snapshot();
        assert_eq!(status.state, ConnectionState::Stopped);
        status
    }
}

fn privmsg(id: &str, text: &str) -> String {
    format!(
        "@badges=;color=;display-name=Viewer;emotes=;id={id};mod=0;room-id=11111111;subscriber=0;tmi-sent-ts=1700000000000;user-id=22222222 :viewer!viewer@viewer.tmi.twitch.tv PRIVMSG #somechannel :{text}"
    )
}

#[tokio::test]
async fn logs_in_joins_normalizes_chat_and_replies() {
    let server = TwitchServer::start(ServerOptions {
        password: Some(format!("oauth:{TOKEN}")),
        ..ServerOptions::default()
    })
    .await;
    let mut source = start(&server);
    server.wait_for_joins(1).await;
    let status = source
        .wait_status("connected", |s| s.state == ConnectionState::Connected)
        .await;
    assert_eq!(status.reconnects, 0);

    let login: Vec<String> = server.received().into_iter().map(|r| r.line).collect();
    assert_eq!(
        login[..6],
        [
            "CAP REQ :twitch.tv/tags twitch.tv/commands".to_string(),
            format!("PASS oauth:{TOKEN}"),
            "NICK mybot".into(),
            "USER mybot 8 * :mybot".into(),
            "CAP END".into(),
            "JOIN #somechannel".into(),
        ]
    );

    for line in [PRIVMSG, RESUB, RAID].into_iter().chain(MODERATION) {
        server.send_to_joined(line).await;
    }
    server
        .send_to_joined("@msg-id=msg_banned :tmi.twitch.tv NOTICE #somechannel :You are permanently banned from talking in somechannel.")
        .await;
    let mut events = vec![];
    for _ in 0..8 {
        events.push(source.next_chat_event().await);
    }
    insta::assert_json_snapshot!("twitch_protocol_samples_as_events", events, {
        "[7].message_id" => "[notice id: channel, msg-id, arrival ms]",
        "[7].timestamp" => "[arrival time]",
    });

    // `!ping` → `pong`: the executor's reply, threaded to the viewer's message.
    source
        .reply("pong", Some("3b8c6f3a-1d2e-4f5a-9b7c-0a1b2c3d4e5f"))
        .await;
    server.wait_for_commands("PRIVMSG", 1, WAIT).await;
    let sent = server.received_commands("PRIVMSG");
    assert_eq!(
        server
            .received()
            .iter()
            .find(|r| r.line.contains("PRIVMSG"))
            .unwrap()
            .line,
        "@reply-parent-msg-id=3b8c6f3a-1d2e-4f5a-9b7c-0a1b2c3d4e5f PRIVMSG #somechannel :pong"
    );
    assert_eq!(sent.len(), 1);

    let status = source.stop().await;
    assert!(status.events >= 8, "{status:?}");
    server.wait_for_commands("QUIT", 1, WAIT).await;
}

#[tokio::test]
async fn answers_server_ping_and_follows_reconnect() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let mut source = start(&server);
    server.wait_for_joins(1).await;

    server.send_to_joined("PING :tmi.twitch.tv").await;
    server
        .wait_for_commands("PONG :tmi.twitch.tv", 1, WAIT)
        .await;

    server.send_to_joined(":tmi.twitch.tv RECONNECT").await;
    server.wait_for_joins(2).await;
    assert_eq!(server.with_state(|s| (s.connections, s.logins)), (2, 2));
    server
        .send_to_joined(&privmsg("after-reconnect", "still here"))
        .await;
    assert_eq!(source.next_chat_event().await.message_id, "after-reconnect");
    let status = source
        .wait_status("connected again", |s| s.state == ConnectionState::Connected)
        .await;
    assert_eq!(status.reconnects, 1);
    source.stop().await;
}

#[tokio::test]
async fn reconnects_after_an_abrupt_disconnect_and_keeps_counting() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let mut source = start(&server);
    server.wait_for_joins(1).await;
    let mut ids = vec![];
    for i in 1..=5 {
        server
            .send_to_joined(&privmsg(&format!("m{i}"), "hi"))
            .await;
    }
    for _ in 1..=5 {
        ids.push(source.next_chat_event().await.message_id);
    }

    server.disconnect_all();
    server.wait_for_joins(2).await;
    for i in 6..=10 {
        server
            .send_to_joined(&privmsg(&format!("m{i}"), "hi"))
            .await;
    }
    for _ in 6..=10 {
        ids.push(source.next_chat_event().await.message_id);
    }
    let want: Vec<String> = (1..=10).map(|i| format!("m{i}")).collect();
    assert_eq!(ids, want);
    let status = source.stop().await;
    assert_eq!(status.reconnects, 1);
    // Two ROOMSTATEs (one per JOIN) and the ten messages.
    assert_eq!(status.events, 12);
    assert!(
        status.recent_errors[0]
            .message
            .contains("closed the connection"),
        "{:?}",
        status.recent_errors
    );
}

#[tokio::test]
async fn rejoins_when_the_server_stops_and_starts_again() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let port = server.port();
    let mut source = start(&server);
    server.wait_for_joins(1).await;
    server.stop();
    source
        .wait_status("backing off while the server is down", |s| {
            s.state != ConnectionState::Connected && s.reconnects >= 1
        })
        .await;

    let server = TwitchServer::start_on(port, ServerOptions::default()).await;
    server.wait_for_joins(1).await;
    server
        .send_to_joined(&privmsg("back", "welcome back"))
        .await;
    assert_eq!(source.next_chat_event().await.text, "welcome back");
    source
        .wait_status("connected", |s| s.state == ConnectionState::Connected)
        .await;
    source.stop().await;
}

#[tokio::test]
async fn refused_login_is_reported_and_not_retried_in_a_tight_loop() {
    let server = TwitchServer::start(ServerOptions {
        password: Some("oauth:the-right-token".into()),
        ..ServerOptions::default()
    })
    .await;
    let source = start(&server);
    let status = source
        .wait_status("a login error", |s| s.last_error.is_some())
        .await;
    let error = status.last_error.unwrap();
    assert!(error.contains("Login authentication failed"), "{error}");
    assert!(
        error.contains(TOKEN_ENV),
        "names where the token comes from: {error}"
    );
    assert!(!error.contains(TOKEN), "{error}");
    assert_eq!(status.state, ConnectionState::Backoff);

    // The login retry waits at least half its 4 s base: no second attempt within a second (of
    // paused time, so a slow machine cannot stretch it).
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(1)).await;
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert_eq!(server.with_state(|s| (s.connections, s.refused)), (1, 1));
    tokio::time::resume();
    source.stop().await;
}

#[tokio::test]
async fn missing_token_stops_the_source_with_a_clear_error() {
    let source = TwitchSource::new("demo", &settings(1, false)).unwrap();
    let running = run_source(source, None, TwitchEndpoints::default(), normal_limit());
    tokio::time::timeout(WAIT, running.task)
        .await
        .expect("a permanent error ends the source")
        .unwrap();
    let status = running.status.snapshot();
    assert_eq!(status.state, ConnectionState::Failed);
    let expected =
        format!("demo/twitch: missing credentials: environment variable {TOKEN_ENV} is not set");
    // Recorded once, by the runner: in the status and in telemetry.
    assert_eq!(status.last_error.as_deref(), Some(expected.as_str()));
    assert_eq!(status.recent_errors.len(), 1, "{:?}", status.recent_errors);
    let errors = running.telemetry.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].error_type, "missing_credentials");
}

/// Arrival times of the PRIVMSGs the server received.
fn privmsg_arrivals(server: &TwitchServer) -> Vec<std::time::Instant> {
    server
        .received()
        .into_iter()
        .filter(|r| strip_tags(&r.line).starts_with("PRIVMSG"))
        .map(|r| r.at)
        .collect()
}

/// Scheduling noise allowed when comparing arrival gaps with the window (the client adds a 2%
/// margin, 20 ms of a 1 s window, for exactly this).
const JITTER: Duration = Duration::from_millis(15);

#[tokio::test]
async fn the_server_never_sees_more_than_the_limit_in_a_window() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let limit = SendLimit {
        messages: 5,
        per_s: 1.0,
        platform_specific: privileged(50),
    };
    let source = start_with_limit(&server, limit);
    server.wait_for_joins(1).await;
    for i in 0..12 {
        source.reply(&format!("reply {i}"), None).await;
    }
    server.wait_for_commands("PRIVMSG", 12, WAIT).await;
    let at = privmsg_arrivals(&server);
    for i in 0..at.len() - 5 {
        let gap = at[i + 5] - at[i];
        assert!(
            gap + JITTER >= Duration::from_secs(1),
            "messages {i} and {} arrived {gap:?} apart: 6 inside one window",
            i + 5
        );
    }
    let texts: Vec<String> = server
        .received_commands("PRIVMSG")
        .into_iter()
        .map(|r| r.line)
        .collect();
    assert_eq!(texts[11], "PRIVMSG #somechannel :reply 11", "order kept");
    source.stop().await;
}

#[tokio::test]
async fn the_limit_holds_across_reconnects() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let limit = SendLimit {
        messages: 5,
        per_s: 1.0,
        platform_specific: Default::default(),
    };
    let source = start_with_limit(&server, limit);
    server.wait_for_joins(1).await;
    for i in 0..5 {
        source.reply(&format!("first {i}"), None).await;
    }
    server.wait_for_commands("PRIVMSG", 5, WAIT).await;
    server.disconnect_all();
    server.wait_for_joins(2).await;
    for i in 0..5 {
        source.reply(&format!("second {i}"), None).await;
    }
    server.wait_for_commands("PRIVMSG", 10, WAIT).await;
    let at = privmsg_arrivals(&server);
    let gap = at[5] - at[0];
    assert!(
        gap + JITTER >= Duration::from_secs(1),
        "the reconnect let message 6 out {gap:?} after message 1"
    );
    source.stop().await;
}

#[tokio::test]
async fn a_moderator_bot_gets_the_privileged_limit() {
    let server = TwitchServer::start(ServerOptions {
        bot_is_moderator: true,
        ..ServerOptions::default()
    })
    .await;
    // 2 per 30 s normally: six replies would take a minute and a half without the privilege.
    let limit = SendLimit {
        messages: 2,
        per_s: 30.0,
        platform_specific: privileged(6),
    };
    let source = start_with_limit(&server, limit);
    server.wait_for_joins(1).await;
    source
        .wait_status("connected", |s| s.state == ConnectionState::Connected)
        .await;
    for i in 0..7 {
        source.reply(&format!("mod reply {i}"), None).await;
    }
    server.wait_for_commands("PRIVMSG", 6, WAIT).await;
    // The connection keeps serving (a PING after the sixth is answered) while the 7th waits for
    // the window: the PONG comes after what was sendable, so no 7th message before it means none.
    server.send_to_joined("PING :after-the-sixth").await;
    server
        .wait_for_commands("PONG :after-the-sixth", 1, WAIT)
        .await;
    assert_eq!(
        server.received_commands("PRIVMSG").len(),
        6,
        "the 7th waits"
    );
    source.stop().await;
}

#[tokio::test]
async fn tls_with_a_trusted_test_root() {
    let tls = TestTls::generate();
    let server = TwitchServer::start(ServerOptions {
        tls: Some(tls.clone()),
        ..ServerOptions::default()
    })
    .await;
    let source = TwitchSource::new("demo", &settings(server.port(), true))
        .unwrap()
        .with_timing(fast_timing())
        .with_root_certificates(vec![tls.root.clone()]);
    let mut source = run_source(
        source,
        Some(TOKEN),
        TwitchEndpoints::default(),
        normal_limit(),
    );
    server.wait_for_joins(1).await;
    server.send_to_joined(PRIVMSG).await;
    assert_eq!(source.next_chat_event().await.text, "hello Kappa");
    source.stop().await;
}

#[tokio::test]
async fn tls_refuses_an_untrusted_certificate() {
    let server = TwitchServer::start(ServerOptions {
        tls: Some(TestTls::generate()),
        ..ServerOptions::default()
    })
    .await;
    let source = TwitchSource::new("demo", &settings(server.port(), true))
        .unwrap()
        .with_timing(fast_timing());
    let source = run_source(
        source,
        Some(TOKEN),
        TwitchEndpoints::default(),
        normal_limit(),
    );
    let status = source
        .wait_status("a TLS error", |s| s.last_error.is_some())
        .await;
    let error = status.last_error.unwrap();
    assert!(error.contains("TLS with 127.0.0.1 failed"), "{error}");
    assert_eq!(server.with_state(|s| s.logins), 0);
    source.stop().await;
}

#[tokio::test]
async fn anonymous_reading_from_a_plain_irc_server_that_naks_the_caps() {
    let server = TwitchServer::start(ServerOptions {
        caps: CapReply::Nak,
        ..ServerOptions::default()
    })
    .await;
    // The creator's block points elsewhere; platforms.json's endpoints win.
    let mut block = settings(1, true);
    block.token_env = None;
    block.host = Some("irc.invalid".into());
    let endpoints = TwitchEndpoints {
        host: Some("127.0.0.1".into()),
        port: Some(server.port()),
        tls: Some(false),
    };
    let source = TwitchSource::new("demo", &block)
        .unwrap()
        .with_timing(fast_timing());
    let nick = source.nick().to_owned();
    assert!(nick.starts_with("justinfan"), "{nick}");
    // Read-only: the command sink refuses every command before queueing, saying why.
    let support = ss::sources::runner::session::SessionSource::commands(&source);
    assert!(support.supported.is_empty());
    assert!(support.otherwise.contains("anonymously"), "{support:?}");
    let mut source = run_source(source, None, endpoints, normal_limit());
    server.wait_for_joins(1).await;
    let lines: Vec<String> = server.received().into_iter().map(|r| r.line).collect();
    assert!(!lines.iter().any(|l| l.starts_with("PASS")), "{lines:?}");
    assert!(lines.contains(&format!("NICK {nick}")));
    assert!(lines.contains(&"CAP END".to_string()));

    // The server strips the tags: a plain IRC line still becomes an event.
    server.send_to_joined(PRIVMSG).await;
    let event = source.next_chat_event().await;
    assert_eq!(event.author.login, "viewer_one");
    assert_eq!(event.text, "hello Kappa");
    assert!(
        event
            .message_id
            .starts_with("privmsg-somechannel-viewer_one-")
    );

    // A reply that reaches the source anyway fails on the status, never sent.
    source.reply("pong", None).await;
    let status = source
        .wait_status("the read-only error", |s| s.last_error.is_some())
        .await;
    assert!(status.last_error.unwrap().contains("anonymously"));
    assert!(server.received_commands("PRIVMSG").is_empty());
    source.stop().await;
}

#[tokio::test]
async fn registers_with_a_server_that_ignores_cap() {
    let server = TwitchServer::start(ServerOptions {
        caps: CapReply::Ignore,
        password: Some(format!("oauth:{TOKEN}")),
        ..ServerOptions::default()
    })
    .await;
    let source = start(&server);
    server.wait_for_joins(1).await;
    source
        .wait_status("connected", |s| s.state == ConnectionState::Connected)
        .await;
    // No message tags on a server that never agreed to them.
    source.reply("pong", Some("some-id")).await;
    server.wait_for_commands("PRIVMSG", 1, WAIT).await;
    let sent = server.received_commands("PRIVMSG");
    assert_eq!(sent[0].line, "PRIVMSG #somechannel :pong");
    source.stop().await;
}

#[tokio::test]
async fn keepalive_detects_a_server_that_stopped_answering() {
    let server = TwitchServer::start(ServerOptions {
        answer_pings: false,
        ..ServerOptions::default()
    })
    .await;
    let source = TwitchSource::new("demo", &settings(server.port(), false))
        .unwrap()
        .with_timing(Timing {
            keepalive_interval: Duration::from_millis(200),
            pong_timeout: Duration::from_millis(200),
            ..fast_timing()
        });
    let source = run_source(
        source,
        Some(TOKEN),
        TwitchEndpoints::default(),
        normal_limit(),
    );
    server.wait_for_joins(2).await;
    assert!(!server.received_commands("PING").is_empty());
    let status = source.status.snapshot();
    assert!(
        status.recent_errors[0].message.contains("keepalive ping"),
        "{:?}",
        status.recent_errors
    );
    source.stop().await;
}

/// A `Write` that appends to a shared buffer, for capturing log output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Trace-level logs of a login, a refused login and a reply never show the token.
#[tokio::test]
async fn the_token_never_reaches_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // This test's runtime is single-threaded, so every task logs through this thread's default.
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = TwitchServer::start(ServerOptions::default()).await;
    let source = start(&server);
    server.wait_for_joins(1).await;
    source.reply("pong", Some("id-1")).await;
    server.wait_for_commands("PRIVMSG", 1, WAIT).await;
    source.stop().await;

    let refusing = TwitchServer::start(ServerOptions {
        password: Some("oauth:other".into()),
        ..ServerOptions::default()
    })
    .await;
    let source = start(&refusing);
    source
        .wait_status("a login error", |s| s.last_error.is_some())
        .await;
    source.stop().await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("PASS [redacted]"), "{logs}");
    assert!(logs.contains("Login authentication failed"), "{logs}");
    assert!(
        !logs.contains(TOKEN),
        "the token leaked into the logs:\n{logs}"
    );
}

/// Chat for a channel the source never joined is dropped (not stored under the creator), and a reply
/// addressed to any channel but the configured one is never sent (issue 11, item 3).
#[tokio::test]
async fn chat_and_replies_for_channels_not_joined_are_dropped() {
    let server = TwitchServer::start(ServerOptions {
        password: Some(format!("oauth:{TOKEN}")),
        ..ServerOptions::default()
    })
    .await;
    let mut source = start(&server);
    server.wait_for_joins(1).await;
    server
        .send_to_joined(&privmsg("foreign-1", "hello").replace("#somechannel", "#otherchannel"))
        .await;
    server.send_to_joined(&privmsg("ours-1", "hello")).await;
    let event = source.next_chat_event().await;
    assert_eq!(event.message_id, "ours-1", "the foreign line was forwarded");
    assert_eq!(event.channel, "somechannel");

    source.send(command("otherchannel", "not here", None)).await;
    source.reply("here", None).await;
    server.wait_for_commands("PRIVMSG", 1, WAIT).await;
    let sent: Vec<String> = server
        .received()
        .into_iter()
        .map(|r| r.line)
        .filter(|l| l.contains("PRIVMSG"))
        .collect();
    assert_eq!(sent, ["PRIVMSG #somechannel :here"]);
    assert_eq!(source.guards.get(Guard::ForeignChannelEvent), 1);
    assert_eq!(source.guards.get(Guard::ForeignChannelReply), 1);
    source.stop().await;
}

/// A 100 KiB line costs that line, not the connection: the PRIVMSG after it arrives on the same
/// connection, and the drop is counted (issue 11, item 4).
#[tokio::test]
async fn an_over_long_line_is_dropped_and_the_connection_kept() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let mut source = start(&server);
    server.wait_for_joins(1).await;
    let huge = format!(
        "@id=huge :viewer!viewer@viewer.tmi.twitch.tv PRIVMSG #somechannel :{}",
        "x".repeat(100 * 1024)
    );
    server.send_to_joined(&huge).await;
    server
        .send_to_joined(&privmsg("after-huge", "still here"))
        .await;
    let event = source.next_chat_event().await;
    assert_eq!(event.message_id, "after-huge");
    assert_eq!(
        server.with_state(|s| (s.connections, s.logins)),
        (1, 1),
        "the source reconnected instead of skipping the line"
    );
    assert_eq!(source.guards.get(Guard::LineTooLong), 1);
    assert_eq!(source.status.snapshot().reconnects, 0);
    source.stop().await;
}

/// With the default limits, `tmi-sent-ts=1` becomes the receive time and an emote range past the
/// text is dropped; both are counted (issue 11, item 4).
#[tokio::test]
async fn an_implausible_timestamp_and_emote_ranges_outside_the_text_are_corrected() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let source = TwitchSource::new("demo", &settings(server.port(), false))
        .unwrap()
        .with_timing(fast_timing());
    let mut source = run_source_with(
        source,
        Some(TOKEN),
        TwitchEndpoints::default(),
        normal_limit(),
        WireLimits::default(),
    );
    server.wait_for_joins(1).await;
    let before = chrono::Utc::now();
    server
        .send_to_joined(
            &privmsg("hostile-1", "hi Kappa")
                .replace("tmi-sent-ts=1700000000000", "tmi-sent-ts=1")
                .replace("emotes=;", "emotes=25:3-7,3-200/26:7-3;"),
        )
        .await;
    let event = source.next_chat_event().await;
    assert_eq!(event.message_id, "hostile-1");
    assert!(
        event.timestamp >= before && event.timestamp <= chrono::Utc::now(),
        "the receive time replaced tmi-sent-ts=1: {}",
        event.timestamp
    );
    let ranges: Vec<_> = event.emotes.iter().map(|e| (e.start, e.end)).collect();
    assert_eq!(ranges, [(3, 7)], "only the range inside the text is kept");
    // 3-200 ends past the text, 7-3 is reversed: both dropped and counted.
    assert_eq!(source.guards.get(Guard::EmoteDropped), 2);
    assert_eq!(source.guards.get(Guard::TimestampReplaced), 1);
    source.stop().await;
}
