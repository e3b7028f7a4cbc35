//! `ss run` with `system.http` on: the local server answers, streams live chat, and refuses an
//! exposed address without a token.

use crate::harness::{Test, signal};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A free loopback port (bound and released; the run binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn with_http(t: &Test, http: &str) {
    let system =
        t.read("runtime/config/system.json")
            .replacen("{", &format!("{{\n  \"http\": {http},"), 1);
    t.write("runtime/config/system.json", &system);
}

fn connect(port: u16) -> TcpStream {
    let start = Instant::now();
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => return stream,
            Err(_) if start.elapsed() < Duration::from_secs(20) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("the HTTP server never answered: {e}"),
        }
    }
}

#[test]
fn a_running_runtime_serves_health_and_streams_live_chat() {
    let t = Test::fast_demo(Some(50));
    let port = free_port();
    with_http(
        &t,
        &format!("{{\"enabled\": true, \"listen\": \"127.0.0.1:{port}\"}}"),
    );
    let mut child = t.spawn(&["run"]);

    let mut health = connect(port);
    health
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    health.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("ok\n"), "{reply}");

    let mut events = connect(port);
    events
        .write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    events
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut lines = BufReader::new(events).lines();
    let data = lines
        .by_ref()
        .map(Result::unwrap)
        .find_map(|l| l.strip_prefix("data: ").map(str::to_owned))
        .expect("a chat event");
    let event: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(event["platform"], "sim", "{event}");
    assert_eq!(event["creator"], "demo");

    signal(&child, "INT");
    assert!(child.wait().unwrap().success());
}

#[test]
fn an_exposed_address_without_a_token_refuses_to_start() {
    let t = Test::fast_demo(None);
    with_http(&t, "{\"enabled\": true, \"listen\": \"0.0.0.0:0\"}");
    let out = t.run(&["run", "--duration", "2s"]);
    out.status(2);
    assert!(
        out.stderr
            .contains("not a loopback address, and no token is set"),
        "{}",
        out.stderr
    );
}
