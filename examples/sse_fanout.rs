//! Load probe for `/events`: N clients on loopback while the feed publishes at a steady rate.
//!
//! Starts the real HTTP server in-process on 127.0.0.1, connects `SSE_CLIENTS` (default 100) raw
//! TCP clients to `/events`, publishes realistic chat events at `SSE_RATE` per second (default 1,000)
//! for `SSE_SECONDS` (default 10), then reports what every client received, the process's CPU time
//! and its peak memory. Bounded in count and time; stops by itself.
//!
//! Run: `cargo run --release --example sse_fanout` (or with SSE_CLIENTS / SSE_RATE / SSE_SECONDS).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use ss::http::Feed;
use ss::http::server::{self, AppState};
use ss::sources::sim::SimChat;
use ss::sources::sim::SimSettings;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

#[path = "../benches/support/process.rs"]
mod process;
use process::{cpu_seconds, peak_rss_mib};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let clients = env("SSE_CLIENTS", 100);
    let rate = env("SSE_RATE", 1_000).max(1);
    let seconds = env("SSE_SECONDS", 10);
    let dir = tempfile::tempdir().expect("a temp dir");
    let feed = Feed::new();
    let state = AppState {
        feed: feed.clone(),
        snapshot: dir.path().join("runtime_snapshot.json"),
        token: None,
        control_tokens: Default::default(),
    };
    let listener = server::bind("127.0.0.1:0", None).await.expect("bind");
    let address = listener.local_addr().expect("address");
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(server::serve(listener, state, shutdown.clone()));

    let bytes = Arc::new(AtomicU64::new(0));
    let events = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for _ in 0..clients {
        let (bytes, events, stop) = (bytes.clone(), events.clone(), shutdown.clone());
        readers.push(tokio::spawn(async move {
            let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
            stream
                .write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .expect("request");
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    n = stream.read(&mut buf) => match n {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            bytes.fetch_add(n as u64, Ordering::Relaxed);
                            let ids = buf[..n].windows(4).filter(|w| w == b"\nid:" || w == b"\nid ").count();
                            events.fetch_add(ids as u64, Ordering::Relaxed);
                        }
                    },
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut chat = SimChat::new("demo", "demo", &SimSettings::default(), "load");
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let total = rate * seconds;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let per_tick = (rate / 100).max(1);
    let mut published = 0;
    while published < total {
        tick.tick().await;
        for _ in 0..per_tick.min(total - published) {
            feed.publish("chat", &chat.next_event(chrono::Utc::now()));
            published += 1;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    shutdown.cancel();
    for reader in readers {
        let _ = reader.await;
    }
    let _ = server.await;
    let delivered = events.load(Ordering::Relaxed);
    println!(
        "sse_fanout: {clients} clients, {published} events at {rate}/s over {elapsed:.1}s: {delivered} deliveries ({:.1}% of {}), {:.1} MiB sent, CPU {cpu:.2}s ({:.0}% of one core), peak RSS {} MiB",
        100.0 * delivered as f64 / (published * clients) as f64,
        published * clients,
        bytes.load(Ordering::Relaxed) as f64 / 1_048_576.0,
        100.0 * cpu / elapsed,
        peak_rss_mib()
    );
}
