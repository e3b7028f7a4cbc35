//! A loopback Twitch IRC server for tests, speaking Twitch's IRC chat reference.
//!
//! It binds `127.0.0.1` (a random port, or a given one so a test can stop it and start it again),
//! over plain TCP or TLS (a self-signed certificate from [`TestTls::generate`]). It answers the
//! login like Twitch (`CAP * ACK`, the 001–376 welcome, `GLOBALUSERSTATE`), checks the `PASS` when
//! told a password, refuses a bad one with `NOTICE * :Login authentication failed` and closes,
//! answers `JOIN` with the echo, NAMES, `USERSTATE` and `ROOMSTATE`, and answers `PING`. It can also
//! act as a plain IRC server that NAKs or ignores the Twitch capabilities (then it waits for
//! `CAP END` and `USER` like a standard server, and strips tags from what it sends).
//!
//! Tests drive it: [`TwitchServer::send_to_joined`] delivers chat lines to every joined client,
//! [`TwitchServer::disconnect_all`] drops connections abruptly, and every line clients send is
//! recorded with its arrival time ([`TwitchServer::received`]), so tests observe the client from the
//! server side (login order, PONGs, replies and their rate).

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Lines queued for one connection; a test sends a handful, so this never fills in practice.
const CONNECTION_QUEUE: usize = 1024;

/// How the server answers `CAP REQ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapReply {
    /// Like Twitch: acknowledge, send tags, register on NICK.
    Ack,
    /// A plain IRC server that refuses the capabilities: wait for `CAP END` and `USER`.
    Nak,
    /// A plain IRC server that does not know `CAP`: reply 421 and register on `NICK` + `USER`.
    Ignore,
}

/// A self-signed certificate for `127.0.0.1` / `localhost` and the server config using it.
#[derive(Clone)]
pub struct TestTls {
    pub server_config: Arc<ServerConfig>,
    /// The certificate the client must trust.
    pub root: CertificateDer<'static>,
}

impl TestTls {
    pub fn generate() -> TestTls {
        let certified =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
                .expect("generate a certificate");
        let root = certified.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let server_config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![root.clone()], key)
            .expect("server certificate");
        TestTls {
            server_config: Arc::new(server_config),
            root,
        }
    }
}

/// How the server behaves.
#[derive(Clone)]
pub struct ServerOptions {
    pub tls: Option<TestTls>,
    /// The `PASS` value required (e.g. `oauth:abc`); `None` accepts any login, anonymous included.
    pub password: Option<String>,
    pub caps: CapReply,
    pub answer_pings: bool,
    /// Whether `USERSTATE` after JOIN says the bot moderates the channel.
    pub bot_is_moderator: bool,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            tls: None,
            password: None,
            caps: CapReply::Ack,
            answer_pings: true,
            bot_is_moderator: false,
        }
    }
}

/// One line a client sent.
#[derive(Debug, Clone)]
pub struct Received {
    /// Which connection (1 for the first accepted, 2 for the next, ...).
    pub conn: usize,
    pub at: Instant,
    pub line: String,
}

/// What the server has seen so far.
#[derive(Debug, Default)]
pub struct ServerState {
    pub received: Vec<Received>,
    pub connections: usize,
    /// Logins that got the welcome.
    pub logins: usize,
    /// Logins refused with the authentication-failed notice.
    pub refused: usize,
    pub joins: usize,
    /// Joined connections and their outgoing queues.
    joined: HashMap<usize, mpsc::Sender<Command>>,
    live: HashMap<usize, mpsc::Sender<Command>>,
}

enum Command {
    Line(String),
    Drop,
}

struct Shared {
    state: Mutex<ServerState>,
    changed: watch::Sender<u64>,
    options: ServerOptions,
}

impl Shared {
    fn update<R>(&self, f: impl FnOnce(&mut ServerState) -> R) -> R {
        let result = f(&mut self.state.lock().unwrap());
        self.changed.send_modify(|v| *v += 1);
        result
    }
}

/// A running test server; dropping it stops it and closes every connection.
pub struct TwitchServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl Drop for TwitchServer {
    fn drop(&mut self) {
        self.accept.abort();
        self.disconnect_all();
    }
}

impl TwitchServer {
    /// Starts on a random loopback port.
    pub async fn start(options: ServerOptions) -> TwitchServer {
        TwitchServer::start_on(0, options).await
    }

    /// Starts on `port` (0 for a random one).
    pub async fn start_on(port: u16, options: ServerOptions) -> TwitchServer {
        // A port just released by a stopped server may take a moment to become free.
        let listener = crate::harness::until_found(
            &format!("port {port} to be free for the test server"),
            Duration::from_secs(2),
            || async move { TcpListener::bind(("127.0.0.1", port)).await.ok() },
        )
        .await;
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            state: Mutex::new(ServerState::default()),
            changed: watch::channel(0).0,
            options,
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        TwitchServer {
            addr,
            shared,
            accept,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Stops accepting and drops every connection, like a server process that exits.
    pub fn stop(self) {
        drop(self);
    }

    /// Sends a raw line (without CRLF) to every client that has joined a channel.
    pub async fn send_to_joined(&self, line: &str) {
        let clients: Vec<_> = self
            .shared
            .state
            .lock()
            .unwrap()
            .joined
            .values()
            .cloned()
            .collect();
        for client in clients {
            let _ = client.send(Command::Line(line.to_owned())).await;
        }
    }

    /// Closes every connection at once, without a goodbye.
    pub fn disconnect_all(&self) {
        let clients: Vec<_> = self.shared.update(|s| {
            s.joined.clear();
            s.live.drain().map(|(_, tx)| tx).collect()
        });
        for client in clients {
            let _ = client.try_send(Command::Drop);
        }
    }

    /// A copy of every line received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.state.lock().unwrap().received.clone()
    }

    /// The received lines starting with `prefix` (after any tags).
    pub fn received_commands(&self, command: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| strip_tags(&r.line).starts_with(command))
            .collect()
    }

    /// Reads the state under its lock.
    pub fn with_state<R>(&self, f: impl FnOnce(&ServerState) -> R) -> R {
        f(&self.shared.state.lock().unwrap())
    }

    /// Waits until `cond` holds, or panics naming `what` after `limit`.
    pub async fn wait_until(
        &self,
        what: &str,
        limit: Duration,
        cond: impl Fn(&ServerState) -> bool,
    ) {
        let mut changes = self.shared.changed.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.with_state(&cond) {
                return;
            }
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                let received: Vec<String> = self.received().into_iter().map(|r| r.line).collect();
                panic!(
                    "timed out after {limit:?} waiting for {what}; server received: {received:#?}"
                );
            }
        }
    }

    /// Waits until `n` joins in total have been answered.
    pub async fn wait_for_joins(&self, n: usize) {
        self.wait_until(&format!("{n} joins"), Duration::from_secs(10), |s| {
            s.joins >= n
        })
        .await;
    }

    /// Waits until `n` received lines start with `command` (after any tags).
    pub async fn wait_for_commands(&self, command: &str, n: usize, limit: Duration) {
        let command = command.to_owned();
        self.wait_until(&format!("{n} {command} lines"), limit, move |s| {
            s.received
                .iter()
                .filter(|r| strip_tags(&r.line).starts_with(&command))
                .count()
                >= n
        })
        .await;
    }
}

/// A line without its leading `@tags ` section.
pub fn strip_tags(line: &str) -> &str {
    match line.strip_prefix('@') {
        Some(rest) => rest.split_once(' ').map_or("", |(_, after)| after),
        None => line,
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let (tx, rx) = mpsc::channel(CONNECTION_QUEUE);
        let conn = shared.update(|s| {
            s.connections += 1;
            s.live.insert(s.connections, tx.clone());
            s.connections
        });
        let shared = shared.clone();
        tokio::spawn(async move {
            match shared.options.tls.clone() {
                Some(tls) => match TlsAcceptor::from(tls.server_config).accept(tcp).await {
                    Ok(stream) => serve(conn, stream, shared, tx, rx).await,
                    Err(_) => shared.update(|s| {
                        s.live.remove(&conn);
                    }),
                },
                None => serve(conn, tcp, shared, tx, rx).await,
            }
        });
    }
}

/// Where one client is in the login.
#[derive(Default)]
struct Login {
    pass: Option<String>,
    nick: Option<String>,
    user: bool,
    cap_pending: bool,
    caps_acked: bool,
    registered: bool,
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    conn: usize,
    stream: S,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Command>,
    mut rx: mpsc::Receiver<Command>,
) {
    let (reader, mut writer) = tokio::io::split(stream);
    let mut lines = BufReader::new(reader).lines();
    let mut login = Login::default();
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let Ok(Some(line)) = line else { break };
                shared.update(|s| s.received.push(Received { conn, at: Instant::now(), line: line.clone() }));
                let replies = respond(conn, &line, &mut login, &shared, &tx);
                let mut close = false;
                for reply in replies {
                    match reply {
                        Some(text) => {
                            if writer.write_all(format!("{text}\r\n").as_bytes()).await.is_err() {
                                close = true;
                            }
                        }
                        None => close = true,
                    }
                }
                if close {
                    break;
                }
            }
            command = rx.recv() => match command {
                Some(Command::Line(text)) => {
                    let text = if login.caps_acked { text.as_str() } else { strip_tags(&text) };
                    if writer.write_all(format!("{text}\r\n").as_bytes()).await.is_err() {
                        break;
                    }
                }
                Some(Command::Drop) | None => break,
            },
        }
    }
    shared.update(|s| {
        s.joined.remove(&conn);
        s.live.remove(&conn);
    });
}

/// The server's answers to one client line; `None` closes the connection after the lines before it.
fn respond(
    conn: usize,
    line: &str,
    login: &mut Login,
    shared: &Shared,
    tx: &mpsc::Sender<Command>,
) -> Vec<Option<String>> {
    let options = &shared.options;
    let line = strip_tags(line);
    let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
    let mut out = Vec::new();
    match command {
        "CAP" if rest.starts_with("REQ") => {
            let caps = rest.split_once(':').map_or("", |(_, c)| c);
            match options.caps {
                CapReply::Ack => {
                    login.caps_acked = true;
                    out.push(Some(format!(":tmi.twitch.tv CAP * ACK :{caps}")));
                }
                CapReply::Nak => {
                    login.cap_pending = true;
                    out.push(Some(format!(":irc.example.test CAP * NAK :{caps}")));
                }
                CapReply::Ignore => {
                    out.push(Some(":irc.example.test 421 * CAP :Unknown command".into()));
                }
            }
        }
        "CAP" if rest.starts_with("END") => {
            login.cap_pending = false;
            out.extend(try_register(login, shared));
        }
        "PASS" => login.pass = Some(rest.to_owned()),
        "NICK" => {
            login.nick = Some(rest.to_owned());
            out.extend(try_register(login, shared));
        }
        "USER" => {
            login.user = true;
            out.extend(try_register(login, shared));
        }
        "JOIN" if login.registered => {
            let nick = login.nick.clone().unwrap_or_default();
            let channel = rest.trim_start_matches(':').to_owned();
            out.push(Some(format!(
                ":{nick}!{nick}@{nick}.tmi.twitch.tv JOIN {channel}"
            )));
            out.push(Some(format!(
                ":{nick}.tmi.twitch.tv 353 {nick} = {channel} :{nick}"
            )));
            out.push(Some(format!(
                ":{nick}.tmi.twitch.tv 366 {nick} {channel} :End of /NAMES list"
            )));
            if login.caps_acked {
                let (badges, moderator) = if options.bot_is_moderator {
                    ("moderator/1", "1")
                } else {
                    ("", "0")
                };
                out.push(Some(format!(
                    "@badge-info=;badges={badges};color=#8A2BE2;display-name={nick};emote-sets=0;mod={moderator};subscriber=0;user-type= :tmi.twitch.tv USERSTATE {channel}"
                )));
                out.push(Some(format!(
                    "@emote-only=0;followers-only=-1;r9k=0;room-id=11111111;slow=0;subs-only=0 :tmi.twitch.tv ROOMSTATE {channel}"
                )));
            }
            shared.update(|s| {
                s.joins += 1;
                s.joined.insert(conn, tx.clone());
            });
        }
        "PING" if options.answer_pings => {
            let token = rest.trim_start_matches(':');
            out.push(Some(format!(":tmi.twitch.tv PONG tmi.twitch.tv :{token}")));
        }
        "QUIT" => out.push(None),
        _ => {}
    }
    out
}

/// Sends the welcome once the login is complete, or refuses it.
fn try_register(login: &mut Login, shared: &Shared) -> Vec<Option<String>> {
    let options = &shared.options;
    let Some(nick) = login.nick.clone() else {
        return vec![];
    };
    let plain = options.caps != CapReply::Ack;
    if login.registered || login.cap_pending || (plain && !login.user) {
        return vec![];
    }
    if let Some(password) = &options.password
        && login.pass.as_deref() != Some(password.as_str())
    {
        shared.update(|s| s.refused += 1);
        return vec![
            Some(":tmi.twitch.tv NOTICE * :Login authentication failed".into()),
            None,
        ];
    }
    login.registered = true;
    shared.update(|s| s.logins += 1);
    let mut out: Vec<Option<String>> = [
        format!(":tmi.twitch.tv 001 {nick} :Welcome, GLHF!"),
        format!(":tmi.twitch.tv 002 {nick} :Your host is tmi.twitch.tv"),
        format!(":tmi.twitch.tv 003 {nick} :This server is rather new"),
        format!(":tmi.twitch.tv 004 {nick} :-"),
        format!(":tmi.twitch.tv 375 {nick} :-"),
        format!(":tmi.twitch.tv 372 {nick} :You are in a maze of twisty passages, all alike."),
        format!(":tmi.twitch.tv 376 {nick} :>"),
    ]
    .into_iter()
    .map(Some)
    .collect();
    if login.caps_acked {
        out.push(Some(format!(
            "@badge-info=;badges=;color=#19E6E6;display-name={nick};emote-sets=0;user-id=40286300;user-type= :tmi.twitch.tv GLOBALUSERSTATE"
        )));
    }
    out
}
