//! The local server's connections: a cap, a header-read timeout and an idle timeout.
//!
//! [`serve`] accepts connections itself (instead of `axum::serve`, which bounds none of this) and
//! serves each with hyper's HTTP/1 connection. At most [`Limits::max_connections`] are open at once;
//! when one more arrives, the connection that has been silent the longest (no byte read or written;
//! idle sockets and clients that never sent a request first) is closed for it, so a flood of silent
//! sockets can neither use up the process's file handles nor lock out `/healthz`. A request's
//! headers must arrive within [`Limits::header_read_timeout`]; a connection with no traffic for
//! [`Limits::idle_timeout`] is closed (a Server-Sent Events stream is never idle: it sends a
//! keep-alive comment every 15 s). An accept that fails (no file handle left) closes the most silent
//! connection and tries again shortly. At shutdown every connection is asked to finish and given
//! [`SHUTDOWN_GRACE`].

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
// Tokio's clock, which tests pause.
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long open connections get to finish at shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// The wait after a failed accept before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The bounds of the server's connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
}

impl Limits {
    /// The limits with `max_connections` (system.json `http.max_connections`).
    pub fn with_max(max_connections: usize) -> Limits {
        Limits {
            max_connections: max_connections.max(1),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// One open connection: when it last moved a byte (ms since the server started), and how to close it.
struct Open {
    last: Arc<AtomicU64>,
    close: CancellationToken,
}

/// The open connections.
#[derive(Default)]
struct Table {
    next: u64,
    open: HashMap<u64, Open>,
}

impl Table {
    /// Closes the connection silent the longest; false when none is open.
    fn close_most_silent(&mut self) -> bool {
        let Some((&id, _)) = self
            .open
            .iter()
            .min_by_key(|(_, o)| o.last.load(Ordering::Relaxed))
        else {
            return false;
        };
        if let Some(open) = self.open.remove(&id) {
            open.close.cancel();
        }
        true
    }
}

/// Locks the table (a panic elsewhere cannot leave it unusable).
fn lock(table: &Mutex<Table>) -> std::sync::MutexGuard<'_, Table> {
    table
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Serves `app` on `listener` within `limits` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let epoch = Instant::now();
    let table = Arc::new(Mutex::new(Table::default()));
    let tasks = TaskTracker::new();
    loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file handles (or another passing error): free one and try again.
                    tracing::warn!(error = %e, "The HTTP server could not accept a connection; closing the most silent one.");
                    lock(&table).close_most_silent();
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            }
        };
        let (id, last, close) = {
            let mut table = lock(&table);
            while table.open.len() >= limits.max_connections && table.close_most_silent() {}
            table.next += 1;
            let id = table.next;
            let last = Arc::new(AtomicU64::new(millis_since(epoch)));
            let close = CancellationToken::new();
            table.open.insert(
                id,
                Open {
                    last: last.clone(),
                    close: close.clone(),
                },
            );
            (id, last, close)
        };
        let connection = Connection {
            app: app.clone(),
            limits,
            epoch,
            last,
            close,
            shutdown: shutdown.clone(),
        };
        let table = table.clone();
        tasks.spawn(async move {
            connection.run(stream).await;
            lock(&table).open.remove(&id);
        });
    }
    drop(listener);
    tasks.close();
    // Each connection finishes within the grace on its own; this bound is only a backstop.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE * 2, tasks.wait()).await;
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// One connection being served.
struct Connection {
    app: Router,
    limits: Limits,
    epoch: Instant,
    last: Arc<AtomicU64>,
    close: CancellationToken,
    shutdown: CancellationToken,
}

impl Connection {
    async fn run(self, stream: tokio::net::TcpStream) {
        let io = TokioIo::new(Tracked {
            inner: stream,
            last: self.last.clone(),
            epoch: self.epoch,
        });
        let service = TowerToHyperService::new(self.app.clone());
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout);
        let conn = builder.serve_connection(io, service);
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => return,
            () = self.close.cancelled() => return,
            () = idle(&self.last, self.epoch, self.limits.idle_timeout) => return,
            () = self.shutdown.cancelled() => {}
        }
        conn.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn.as_mut()).await;
    }
}

/// Returns once `last` is `timeout` in the past.
async fn idle(last: &AtomicU64, epoch: Instant, timeout: Duration) {
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    loop {
        let silent = millis_since(epoch).saturating_sub(last.load(Ordering::Relaxed));
        if silent >= timeout_ms {
            return;
        }
        tokio::time::sleep(Duration::from_millis(timeout_ms - silent)).await;
    }
}

/// A stream that notes when it last moved a byte.
struct Tracked {
    inner: tokio::net::TcpStream,
    last: Arc<AtomicU64>,
    epoch: Instant,
}

impl Tracked {
    fn moved(&self) {
        self.last.store(millis_since(self.epoch), Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.moved();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.moved();
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn start(limits: Limits) -> (std::net::SocketAddr, CancellationToken) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = Router::new().route("/healthz", axum::routing::get(|| async { "ok\n" }));
        let shutdown = CancellationToken::new();
        tokio::spawn(serve(listener, app, limits, shutdown.clone()));
        (address, shutdown)
    }

    async fn healthz(address: std::net::SocketAddr) -> String {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    /// Reads until the peer closes the connection (0 bytes) or errs.
    async fn closed(stream: &mut tokio::net::TcpStream) -> bool {
        let mut buf = [0u8; 64];
        matches!(stream.read(&mut buf).await, Ok(0) | Err(_))
    }

    #[tokio::test]
    async fn silent_connections_beyond_the_cap_make_room_and_healthz_answers() {
        let (address, shutdown) = start(Limits::with_max(8)).await;
        let mut silent = Vec::new();
        for _ in 0..20 {
            silent.push(tokio::net::TcpStream::connect(address).await.unwrap());
        }
        let answer = tokio::time::timeout(Duration::from_secs(1), healthz(address))
            .await
            .expect("/healthz answers within 1 s");
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok\n"),
            "{answer}"
        );
        // The oldest silent sockets were closed to make room.
        assert!(
            tokio::time::timeout(Duration::from_secs(5), closed(&mut silent[0]))
                .await
                .unwrap()
        );
        shutdown.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sends_no_headers_is_closed_after_the_header_timeout() {
        let limits = Limits {
            max_connections: 8,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        };
        let (address, shutdown) = start(limits).await;
        let mut half = tokio::net::TcpStream::connect(address).await.unwrap();
        half.write_all(b"GET /healthz HTTP/1.1\r\nHost: local")
            .await
            .unwrap();
        let started = tokio::time::Instant::now();
        assert!(closed(&mut half).await);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(9) && waited <= Duration::from_secs(12),
            "{waited:?}"
        );
        shutdown.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
        let limits = Limits {
            max_connections: 8,
            header_read_timeout: Duration::from_secs(600),
            idle_timeout: Duration::from_secs(60),
        };
        let (address, shutdown) = start(limits).await;
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        let started = tokio::time::Instant::now();
        assert!(closed(&mut stream).await);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(59) && waited <= Duration::from_secs(62),
            "{waited:?}"
        );
        shutdown.cancel();
    }
}
