//! One IRC connection to Twitch (or any IRC server): connect, log in, join, then serve until it ends.
//!
//! A session connects over TCP (TLS through rustls unless turned off), sends
//! `CAP REQ :twitch.tv/tags twitch.tv/commands`, `PASS oauth:…` (not when anonymous), `NICK` and
//! `USER`, answers the capability reply with `CAP END`, joins the channel after `001`, and is
//! *connected* once the server echoes the JOIN. Sending `USER` and `CAP END` costs nothing on Twitch
//! and is what a plain IRC server needs to finish registration, so a server that NAKs or ignores the
//! Twitch capabilities still works (lines then arrive without tags).
//!
//! While connected it answers `PING` with `PONG`, pings the server itself when the line has been
//! quiet for a keepalive interval (and gives up when nothing comes back in time), and hands chat lines
//! to [`decode`] and the data lane. Once joined it installs its connection in the source's
//! [`LinkSlot`], where the shared serving loop's delivery writes commands, and switches the run's
//! pacing between the normal and privileged send limits as USERSTATE says. A session ends on
//! shutdown, on `RECONNECT`, or with a [`SessionError`] the caller acts on; reconnecting with backoff
//! is the runner's job.
//!
//! The token is written once, in the `PASS` line, and every line this module logs goes through
//! [`loggable`], which redacts it.

use super::decode::decode;
use super::irc::{self, IrcMessage};
use super::send::{Link, LinkGuard, LinkSlot, SendLimits, SharedWriter, irc_channel, write_line};
use super::transport::Transport;
use crate::config::secrets::Secret;
use crate::guards::Guard;
use crate::sources::runner::RetryPolicy;
use crate::sources::runner::session::SessionEnd;
use crate::sources::{Forwarded, SourceContext};
use std::borrow::Cow;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;
use tracing::{debug, info, trace, warn};

/// The capabilities that make Twitch send tags, USERNOTICE, CLEARCHAT, ROOMSTATE and RECONNECT.
const TWITCH_CAPS: &str = "twitch.tv/tags twitch.tv/commands";

/// Where to connect and as whom.
#[derive(Debug, Clone)]
pub struct ConnectSettings {
    pub host: String,
    pub port: u16,
    /// `Some` for TLS (the rustls client config to use), `None` for plain TCP.
    pub tls: Option<Arc<ClientConfig>>,
    /// The channel login, lowercase, without `#`.
    pub channel: String,
    pub nick: String,
    /// `None` logs in anonymously (read-only).
    pub token: Option<Secret>,
}

impl ConnectSettings {
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// The timeouts and intervals of a connection and of reconnecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// TCP connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// From sending the login to the JOIN echo.
    pub login_timeout: Duration,
    /// Quiet time after which the client pings the server.
    pub keepalive_interval: Duration,
    /// How long to wait for any reply to that ping.
    pub pong_timeout: Duration,
    /// Reconnect backoff after a lost connection: first step and cap (jittered).
    pub reconnect_base: Duration,
    pub reconnect_cap: Duration,
    /// Backoff after the server refused the login: retrying sooner cannot help and Twitch limits
    /// login attempts, so this starts long.
    pub login_retry_base: Duration,
    pub login_retry_cap: Duration,
    /// A connection that stayed joined this long resets the reconnect backoff.
    pub stable_after: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            connect_timeout: Duration::from_secs(10),
            login_timeout: Duration::from_secs(15),
            keepalive_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(5),
            reconnect_base: Duration::from_secs(1),
            reconnect_cap: Duration::from_secs(60),
            login_retry_base: Duration::from_secs(60),
            login_retry_cap: Duration::from_secs(15 * 60),
            stable_after: Duration::from_secs(30),
        }
    }
}

impl Timing {
    /// The waits between sessions, for the session runner.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            retry_base: self.reconnect_base,
            retry_cap: self.reconnect_cap,
            login_retry_base: self.login_retry_base,
            login_retry_cap: self.login_retry_cap,
            stable_after: self.stable_after,
        }
    }
}

/// Why a session failed; the caller decides how long to back off.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("could not connect to {address}: {source}")]
    Connect { address: String, source: io::Error },
    #[error("connecting to {address} timed out after {after:?}")]
    ConnectTimeout { address: String, after: Duration },
    #[error("TLS with {host} failed: {source}")]
    Tls { host: String, source: io::Error },
    #[error("{host} is not a valid TLS server name")]
    ServerName { host: String },
    /// The server refused the credentials (bad or expired token, bad password, nick in use).
    #[error("login refused by the server: {0}")]
    LoginFailed(String),
    #[error("no welcome and JOIN from the server within {0:?} of logging in")]
    LoginTimeout(Duration),
    #[error("no reply to a keepalive ping within {0:?}; the connection is dead")]
    PingTimeout(Duration),
    #[error("the server closed the connection")]
    Closed,
    #[error("the server ended the connection: {0}")]
    ServerError(String),
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
}

/// What happened in one session, for the reconnect policy.
#[derive(Debug)]
pub struct SessionReport {
    pub result: Result<SessionEnd, SessionError>,
    /// How long the channel stayed joined (`None` when it never was).
    pub joined_for: Option<Duration>,
}

/// A line as it may appear in logs: the `PASS` line never shows its token.
pub fn loggable(line: &str) -> Cow<'_, str> {
    if line
        .get(..5)
        .is_some_and(|head| head.eq_ignore_ascii_case("PASS "))
    {
        Cow::Borrowed("PASS [redacted]")
    } else {
        Cow::Borrowed(line)
    }
}

/// Whether a `NOTICE *` text reports refused credentials (Twitch sends these, then closes).
fn is_login_failure(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "authentication failed",
        "improperly formatted auth",
        "login unsuccessful",
        "invalid nick",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// Connects and, when configured, completes the TLS handshake.
pub async fn connect(
    settings: &ConnectSettings,
    timing: &Timing,
) -> Result<Box<dyn Transport>, SessionError> {
    let address = settings.address();
    let attempt = async {
        let tcp = TcpStream::connect((settings.host.as_str(), settings.port))
            .await
            .map_err(|source| SessionError::Connect {
                address: address.clone(),
                source,
            })?;
        // Chat lines are small and latency matters more than packet count.
        tcp.set_nodelay(true)?;
        let Some(config) = &settings.tls else {
            return Ok(Box::new(tcp) as Box<dyn Transport>);
        };
        let name =
            ServerName::try_from(settings.host.clone()).map_err(|_| SessionError::ServerName {
                host: settings.host.clone(),
            })?;
        let tls = TlsConnector::from(config.clone())
            .connect(name, tcp)
            .await
            .map_err(|source| SessionError::Tls {
                host: settings.host.clone(),
                source,
            })?;
        Ok(Box::new(tls) as Box<dyn Transport>)
    };
    timeout(timing.connect_timeout, attempt)
        .await
        .map_err(|_| SessionError::ConnectTimeout {
            address: address.clone(),
            after: timing.connect_timeout,
        })?
}

/// What [`LineReader::next_line`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadLine {
    /// A line without its terminator (invalid UTF-8 replaced).
    Line(String),
    /// A line longer than the limit: reported once, as soon as it is known to be too long (its
    /// line end may never come), and its bytes discarded through its line end.
    TooLong,
}

/// Reads CRLF- or LF-terminated lines of at most `max_line_bytes` (without the terminator).
///
/// An over-long line costs the line, not the connection: it is reported as [`ReadLine::TooLong`]
/// and discarded up to the next newline, and reading goes on with the line after it. Memory stays
/// bounded whether or not the line end ever arrives (about twice the limit at most). Cancel-safe:
/// bytes read stay buffered (and a discard in progress stays in progress) when a `select!` drops
/// the future, so no line is ever lost or split.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for a newline.
    scanned: usize,
    max_line_bytes: usize,
    /// Inside an over-long line: bytes are dropped until its newline.
    discarding: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(inner: R, max_line_bytes: usize) -> LineReader<R> {
        LineReader {
            inner,
            buf: Vec::with_capacity(8 * 1024),
            scanned: 0,
            max_line_bytes,
            discarding: false,
        }
    }

    /// The next line or over-long line; `None` at end of stream.
    pub async fn next_line(&mut self) -> io::Result<Option<ReadLine>> {
        loop {
            if let Some(offset) = memchr::memchr(b'\n', &self.buf[self.scanned..]) {
                let end = self.scanned + offset;
                let mut len = end;
                while len > 0 && self.buf[len - 1] == b'\r' {
                    len -= 1;
                }
                let found = if std::mem::take(&mut self.discarding) {
                    // The end of a line already reported too long.
                    None
                } else if len > self.max_line_bytes {
                    Some(ReadLine::TooLong)
                } else {
                    Some(ReadLine::Line(
                        String::from_utf8_lossy(&self.buf[..len]).into_owned(),
                    ))
                };
                self.buf.drain(..=end);
                self.scanned = 0;
                match found {
                    Some(found) => return Ok(Some(found)),
                    None => continue,
                }
            }
            if self.discarding {
                self.buf.clear();
                self.scanned = 0;
            } else if self.buf.len() > self.max_line_bytes + 1 {
                // Too long even if the last byte is the `\r` of a CRLF still on its way.
                self.buf.clear();
                self.scanned = 0;
                self.discarding = true;
                return Ok(Some(ReadLine::TooLong));
            } else {
                self.scanned = self.buf.len();
            }
            if self.inner.read_buf(&mut self.buf).await? == 0 {
                return Ok(None);
            }
        }
    }
}

/// Where the session is in the login sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Login sent; waiting for `001`.
    Registering,
    /// `JOIN` sent; waiting for its echo.
    Joining,
    Joined,
}

/// One live connection.
struct Session<'a> {
    settings: &'a ConnectSettings,
    timing: &'a Timing,
    writer: SharedWriter,
    link: &'a LinkSlot,
    limits: SendLimits,
    phase: Phase,
    cap_negotiated: bool,
    /// Whether the server acknowledged the Twitch capabilities (and so accepts tagged lines).
    tags_enabled: bool,
    joined_at: Option<Instant>,
    /// When the quiet-line timer (login, keepalive or pong) fires.
    deadline: Instant,
    awaiting_pong: bool,
}

/// Runs one session on an established transport until it ends. Updates `ctx.status` as it goes.
pub async fn run_session(
    transport: Box<dyn Transport>,
    settings: &ConnectSettings,
    timing: &Timing,
    ctx: &mut SourceContext,
    link: &LinkSlot,
    limits: SendLimits,
) -> SessionReport {
    let (reader, writer) = tokio::io::split(transport);
    let mut reader = LineReader::new(reader, ctx.wire.max_line_bytes);
    // Whatever ends the session takes its connection back from the delivery.
    let _installed = LinkGuard(link.clone());
    let mut session = Session {
        settings,
        timing,
        writer: Arc::new(tokio::sync::Mutex::new(writer)),
        link,
        limits,
        phase: Phase::Registering,
        cap_negotiated: false,
        tags_enabled: false,
        joined_at: None,
        deadline: Instant::now() + timing.login_timeout,
        awaiting_pong: false,
    };
    // Owning the channel means the privileged limit from the start; USERSTATE refines it.
    ctx.pacing
        .set_limit(limits.for_privilege(settings.nick.eq_ignore_ascii_case(&settings.channel)));
    let result = session.serve(&mut reader, ctx).await;
    SessionReport {
        result,
        joined_for: session.joined_at.map(|at| at.elapsed()),
    }
}

impl Session<'_> {
    async fn serve<R: AsyncRead + Unpin>(
        &mut self,
        reader: &mut LineReader<R>,
        ctx: &mut SourceContext,
    ) -> Result<SessionEnd, SessionError> {
        self.log_in().await?;
        let shutdown = ctx.shutdown.clone();
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    // A polite goodbye; the connection closes either way.
                    let _ = timeout(Duration::from_secs(1), self.write("QUIT :shutting down")).await;
                    return Ok(SessionEnd::Shutdown);
                }
                line = reader.next_line() => match line? {
                    None => return Err(SessionError::Closed),
                    Some(ReadLine::Line(line)) => {
                        if let Some(end) = self.on_line(&line, ctx).await? {
                            return Ok(end);
                        }
                    }
                    Some(ReadLine::TooLong) => {
                        // The line is lost, the connection is not: the reader skips to the next one.
                        ctx.guards.count(Guard::LineTooLong, 1);
                        warn!(
                            platform = "twitch",
                            creator = %ctx.creator,
                            max_line_bytes = ctx.wire.max_line_bytes,
                            "Dropped a line from the server longer than limits.max_line_bytes."
                        );
                    }
                },
                () = sleep_until(self.deadline) => self.on_deadline().await?,
            }
        }
    }

    /// Sends the login: capabilities, password, nick and user.
    async fn log_in(&mut self) -> Result<(), SessionError> {
        self.write(&format!("CAP REQ :{TWITCH_CAPS}")).await?;
        if let Some(token) = &self.settings.token {
            let token = token.expose();
            let pass = if token.starts_with("oauth:") {
                format!("PASS {token}")
            } else {
                format!("PASS oauth:{token}")
            };
            self.write(&pass).await?;
        }
        let nick = &self.settings.nick;
        self.write(&format!("NICK {nick}")).await?;
        self.write(&format!("USER {nick} 8 * :{nick}")).await
    }

    /// Handles one line from the server; `Some` ends the session.
    async fn on_line(
        &mut self,
        line: &str,
        ctx: &mut SourceContext,
    ) -> Result<Option<SessionEnd>, SessionError> {
        trace!(platform = "twitch", line, "Received a line.");
        let msg = match irc::parse(line) {
            Ok(msg) => msg,
            Err(e) => {
                debug!(platform = "twitch", error = %e, "Skipped a line that is not IRC.");
                return Ok(None);
            }
        };
        if self.phase == Phase::Joined {
            // Any line proves the connection alive.
            self.awaiting_pong = false;
            self.deadline = Instant::now() + self.timing.keepalive_interval;
        }
        match msg.command() {
            "PING" => {
                let token = msg.last_param().unwrap_or("tmi.twitch.tv");
                self.write(&format!("PONG :{token}")).await?;
            }
            "PONG" => {}
            "CAP" => self.on_cap(&msg).await?,
            "001" => {
                self.phase = Phase::Joining;
                self.deadline = Instant::now() + self.timing.login_timeout;
                self.write(&format!("JOIN {}", irc_channel(&self.settings.channel)))
                    .await?;
            }
            "JOIN" => self.on_join(&msg, ctx),
            "USERSTATE" => {
                if msg.param(0) == Some(&*irc_channel(&self.settings.channel)) {
                    let privileged = self
                        .settings
                        .nick
                        .eq_ignore_ascii_case(&self.settings.channel)
                        || msg.tags().get("mod").is_some_and(|v| v.raw() == "1")
                        || msg.tags().get("badges").is_some_and(|v| {
                            v.raw().split(',').any(|b| {
                                b.starts_with("broadcaster/") || b.starts_with("moderator/")
                            })
                        });
                    ctx.pacing.set_limit(self.limits.for_privilege(privileged));
                }
            }
            "RECONNECT" => {
                info!(platform = "twitch", channel = %self.settings.channel, "Server asked to reconnect.");
                return Ok(Some(SessionEnd::ReconnectRequested));
            }
            "NOTICE" if msg.param(0) == Some("*") => {
                let text = msg.last_param().unwrap_or_default();
                if self.phase != Phase::Joined && is_login_failure(text) {
                    return Err(SessionError::LoginFailed(text.to_owned()));
                }
                debug!(platform = "twitch", notice = text, "Server notice.");
            }
            // ERR_PASSWDMISMATCH, ERR_YOUREBANNEDCREEP, ERR_NICKNAMEINUSE, ERR_ERRONEUSNICKNAME.
            "464" | "465" | "433" | "432" if self.phase == Phase::Registering => {
                let text = msg.last_param().unwrap_or_default();
                return Err(SessionError::LoginFailed(format!(
                    "{} {text}",
                    msg.command()
                )));
            }
            "ERROR" => {
                let text = msg.last_param().unwrap_or_default().to_owned();
                return Err(SessionError::ServerError(text));
            }
            _ => return Ok(self.forward_event(&msg, ctx).await),
        }
        Ok(None)
    }

    /// `CAP * ACK|NAK`: either way, end negotiation so registration completes.
    async fn on_cap(&mut self, msg: &IrcMessage<'_>) -> Result<(), SessionError> {
        let subcommand = msg.param(1).unwrap_or_default();
        if self.cap_negotiated || !matches!(subcommand, "ACK" | "NAK") {
            return Ok(());
        }
        self.cap_negotiated = true;
        self.tags_enabled = subcommand == "ACK";
        if subcommand == "NAK" {
            info!(
                platform = "twitch",
                "Server refused the Twitch capabilities; continuing as plain IRC."
            );
        }
        self.write("CAP END").await
    }

    fn on_join(&mut self, msg: &IrcMessage<'_>, ctx: &SourceContext) {
        let ours = msg
            .nick()
            .is_some_and(|n| n.eq_ignore_ascii_case(&self.settings.nick));
        let channel = msg.last_param().unwrap_or_default();
        if !ours || !channel.eq_ignore_ascii_case(&irc_channel(&self.settings.channel)) {
            return;
        }
        if self.phase != Phase::Joined {
            self.phase = Phase::Joined;
            self.joined_at = Some(Instant::now());
            self.link.install(Link {
                writer: self.writer.clone(),
                tags_enabled: self.tags_enabled,
            });
            self.deadline = Instant::now() + self.timing.keepalive_interval;
            ctx.report.connected();
            info!(
                platform = "twitch",
                creator = %ctx.creator,
                channel = %self.settings.channel,
                server = %self.settings.address(),
                "Joined the channel."
            );
        }
    }

    /// Decodes a chat line and hands it to the data lane.
    async fn forward_event(
        &mut self,
        msg: &IrcMessage<'_>,
        ctx: &SourceContext,
    ) -> Option<SessionEnd> {
        let event = decode(msg, &ctx.creator, chrono::Utc::now())?;
        // Only the joined channel is ours: a line for any other (a server bug, a shared connection)
        // is never stored under this creator nor answered.
        if !event.channel.eq_ignore_ascii_case(&self.settings.channel) {
            ctx.guards.count(Guard::ForeignChannelEvent, 1);
            debug!(platform = "twitch", channel = %event.channel, "Dropped chat for a channel not joined.");
            return None;
        }
        match ctx.forward(event).await {
            Forwarded::Continue => None,
            Forwarded::PipelineClosed => Some(SessionEnd::PipelineClosed),
        }
    }

    /// The quiet-line timer fired: login too slow, time to ping, or the ping went unanswered.
    async fn on_deadline(&mut self) -> Result<(), SessionError> {
        match self.phase {
            Phase::Registering | Phase::Joining => {
                Err(SessionError::LoginTimeout(self.timing.login_timeout))
            }
            Phase::Joined if self.awaiting_pong => {
                Err(SessionError::PingTimeout(self.timing.pong_timeout))
            }
            Phase::Joined => {
                self.write("PING :tmi.twitch.tv").await?;
                self.awaiting_pong = true;
                self.deadline = Instant::now() + self.timing.pong_timeout;
                Ok(())
            }
        }
    }

    /// Writes one line plus CRLF, with a timeout so a stalled server cannot hang the session.
    async fn write(&mut self, line: &str) -> Result<(), SessionError> {
        debug!(platform = "twitch", line = %loggable(line), "Sending a line.");
        Ok(write_line(&self.writer, line).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn pass_lines_never_reach_logs() {
        assert_eq!(loggable("PASS oauth:abcd1234"), "PASS [redacted]");
        assert_eq!(loggable("pass oauth:abcd1234"), "PASS [redacted]");
        assert_eq!(loggable("NICK bot"), "NICK bot");
        assert_eq!(loggable("PAS"), "PAS");
        assert_eq!(loggable("PASé x"), "PASé x");
    }

    #[test]
    fn login_failure_notices_are_recognized() {
        assert!(is_login_failure("Login authentication failed"));
        assert!(is_login_failure("Improperly formatted auth"));
        assert!(!is_login_failure("*** Looking up your hostname..."));
    }

    async fn lines(reader: &mut LineReader<tokio::io::DuplexStream>) -> Vec<ReadLine> {
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().await.unwrap() {
            out.push(line);
        }
        out
    }

    fn line(text: &str) -> ReadLine {
        ReadLine::Line(text.into())
    }

    #[tokio::test]
    async fn line_reader_handles_crlf_lf_and_split_reads() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut reader = LineReader::new(server, 64);
        tokio::spawn(async move {
            client.write_all(b"PING :a\r\nPI").await.unwrap();
            client.write_all(b"NG :b\n\r\n").await.unwrap();
        });
        assert_eq!(
            lines(&mut reader).await,
            [line("PING :a"), line("PING :b"), line("")]
        );
    }

    #[tokio::test]
    async fn an_over_long_line_is_dropped_and_the_next_line_still_arrives() {
        const MAX: usize = 4096;
        let (mut client, server) = tokio::io::duplex(256);
        let mut reader = LineReader::new(server, MAX);
        tokio::spawn(async move {
            // Exactly at the limit (with CRLF), over it in one piece, far over it across many
            // reads, and one whose line end never comes.
            let at_limit = "a".repeat(MAX);
            client
                .write_all(format!("{at_limit}\r\n").as_bytes())
                .await
                .unwrap();
            client
                .write_all(format!("b{at_limit}\nnext\n").as_bytes())
                .await
                .unwrap();
            client.write_all(&vec![b'c'; 100 * MAX]).await.unwrap();
            client.write_all(b"\r\nafter\r\n").await.unwrap();
            client.write_all(&vec![b'd'; 10 * MAX]).await.unwrap();
        });
        let got = lines(&mut reader).await;
        assert_eq!(
            got,
            [
                line(&"a".repeat(MAX)),
                ReadLine::TooLong,
                line("next"),
                ReadLine::TooLong,
                line("after"),
                ReadLine::TooLong,
            ]
        );
        assert!(
            reader.buf.capacity() <= 4 * MAX,
            "the buffer stayed bounded: {} bytes",
            reader.buf.capacity()
        );
    }
}
