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
    crate::harness::wait_for_explained(
        Duration::from_secs(20),
        || TcpStream::connect(("127.0.0.1", port)).ok(),
        || {
            let error = TcpStream::connect(("127.0.0.1", port)).err();
            format!("the HTTP server never answered: {error:?}")
        },
    )
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
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    health.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("ok\n"), "{reply}");

    let mut events = connect(port);
    events
        .write_all(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
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

/// One request on a fresh connection with `host`: the status line and the body.
fn request(port: u16, path: &str, host: &str) -> String {
    let mut stream = connect(port);
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

/// On a loopback address the server answers only to loopback names and the configured ones: a
/// page on another name that DNS rebinding pointed at 127.0.0.1 reads nothing.
#[test]
fn a_foreign_host_header_is_refused_on_loopback() {
    let t = Test::fast_demo(None);
    let port = free_port();
    with_http(
        &t,
        &format!(
            "{{\"enabled\": true, \"listen\": \"127.0.0.1:{port}\", \"allowed_hosts\": [\"stream.example.com\"]}}"
        ),
    );
    let _child = t.spawn(&["run"]);
    for host in [
        "localhost",
        &format!("127.0.0.1:{port}"),
        &format!("[::1]:{port}"),
        "stream.example.com",
    ] {
        let reply = request(port, "/healthz", host);
        assert!(reply.starts_with("HTTP/1.1 200"), "{host}: {reply}");
    }
    for host in [
        "evil.example",
        &format!("evil.example:{port}"),
        "localhost.evil.example",
    ] {
        let reply = request(port, "/api/snapshot", host);
        assert!(reply.starts_with("HTTP/1.1 403"), "{host}: {reply}");
        assert!(reply.contains("DNS rebinding"), "{reply}");
        assert!(!reply.contains("\"running\""), "{reply}");
    }
}

/// `ulimit -n 1024` and 1,100 silent connections: the connection cap closes the most silent ones,
/// so `/healthz` answers within a second and the exporter keeps writing.
#[cfg(target_os = "linux")]
#[test]
fn silent_connections_beyond_the_file_limit_do_not_starve_health_or_exports() {
    // This test holds 1,100 sockets itself.
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    if limit.current.is_some_and(|c| c < 2048) {
        rustix::process::setrlimit(
            rustix::process::Resource::Nofile,
            rustix::process::Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            },
        )
        .expect("raising this test's open-file limit");
    }
    let t = Test::fast_demo(Some(200));
    let port = free_port();
    with_http(
        &t,
        &format!("{{\"enabled\": true, \"listen\": \"127.0.0.1:{port}\"}}"),
    );
    let ss = env!("CARGO_BIN_EXE_ss");
    let mut child: crate::harness::Spawned = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n 1024 && exec \"{ss}\" --root \"$1\" run"))
        .arg("sh")
        .arg(t.path())
        .env_remove("SS_ROOT")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
        .into();
    assert!(request(port, "/healthz", "localhost").starts_with("HTTP/1.1 200"));
    let mut silent = Vec::new();
    while silent.len() < 1100 {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => silent.push(stream),
            Err(e) => panic!("connection {} refused: {e}", silent.len()),
        }
    }
    let snapshot = t.path().join("runtime/exports/runtime_snapshot.json");
    let generated = || {
        std::fs::read_to_string(&snapshot)
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|v| v["meta"]["generated_at"].as_str().map(str::to_owned))
    };
    let before = generated();
    let asked = Instant::now();
    let reply = request(port, "/healthz", "localhost");
    let took = asked.elapsed();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(took < Duration::from_secs(1), "/healthz took {took:?}");
    // The exporter writes a newer snapshot (every 0.5 s; its time has whole seconds).
    crate::harness::wait_until(
        "the exports to keep updating",
        Duration::from_secs(10),
        || generated() != before,
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "ss run is still running"
    );
    drop(silent);
    signal(&child, "TERM");
    assert_eq!(
        crate::harness::exit_code_within(&mut child, Duration::from_secs(15)),
        0
    );
}
