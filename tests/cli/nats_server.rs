//! A real `nats-server` with JetStream on loopback ports, for the bus tests: one node, or a
//! three-node cluster. Each node keeps its store in the test's temp dir and is killed when the
//! handle drops. A missing `nats-server` fails the test naming the package (`scripts/test`
//! installs it); it is never skipped.

use crate::harness::wait_for_explained;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Fails the test, naming the package, when nats-server is missing.
pub fn require_nats_server() -> PathBuf {
    let path = std::env::var_os("SS_NATS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("nats-server"));
    match Command::new(&path).arg("--version").output() {
        Ok(out) if out.status.success() => path,
        _ => panic!(
            "nats-server is required by the bus tests: install the `nats-server` package (Debian/Ubuntu: apt-get install nats-server; scripts/test does it), or set SS_NATS_SERVER to its path"
        ),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One nats-server process.
pub struct NatsNode {
    child: Option<Child>,
    args: Vec<String>,
    pub port: u16,
    pub monitor: u16,
    log: PathBuf,
}

impl NatsNode {
    fn spawn(&mut self) {
        let log = std::fs::File::create(&self.log).unwrap();
        self.child = Some(
            Command::new(require_nats_server())
                .args(&self.args)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("starting nats-server"),
        );
    }

    /// Kills the node at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the node again with the same ports and store.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Whether the node answers its health check with JetStream ready.
    pub fn healthy(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.monitor)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for NatsNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One node or a cluster of three.
pub struct Nats {
    pub nodes: Vec<NatsNode>,
}

impl Nats {
    /// One node with JetStream, its store under `dir`.
    pub fn single(dir: &Path) -> Nats {
        Nats::start(dir, 1)
    }

    /// A three-node JetStream cluster on loopback ports, stores under `dir`.
    pub fn cluster(dir: &Path) -> Nats {
        Nats::start(dir, 3)
    }

    fn start(dir: &Path, count: usize) -> Nats {
        require_nats_server();
        let cluster_ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
        let routes = cluster_ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut nodes = Vec::new();
        for (i, cluster_port) in cluster_ports.iter().enumerate() {
            let (port, monitor) = (free_port(), free_port());
            let store = dir.join(format!("nats-{i}"));
            std::fs::create_dir_all(&store).unwrap();
            let mut args = vec![
                "-js".to_string(),
                "-a".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
                "-m".into(),
                monitor.to_string(),
                "-sd".into(),
                store.display().to_string(),
                "--server_name".into(),
                format!("n{i}"),
            ];
            if count > 1 {
                args.extend([
                    "--cluster_name".into(),
                    "ss-test".into(),
                    "--cluster".into(),
                    format!("nats://127.0.0.1:{cluster_port}"),
                    "--routes".into(),
                    routes.clone(),
                ]);
            }
            let mut node = NatsNode {
                child: None,
                args,
                port,
                monitor,
                log: dir.join(format!("nats-{i}.log")),
            };
            node.spawn();
            nodes.push(node);
        }
        let nats = Nats { nodes };
        nats.wait_ready();
        nats
    }

    /// Waits until every running node reports JetStream ready.
    pub fn wait_ready(&self) {
        wait_for_explained(
            Duration::from_secs(30),
            || {
                self.nodes
                    .iter()
                    .filter(|n| n.child.is_some())
                    .all(NatsNode::healthy)
                    .then_some(())
            },
            || {
                let logs: Vec<String> = self.nodes.iter().map(NatsNode::log).collect();
                format!(
                    "nats-server was not ready with JetStream:\n{}",
                    logs.join("\n---\n")
                )
            },
        );
    }

    /// Every node's client URL, comma-separated (the bus's `url`).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(NatsNode::url)
            .collect::<Vec<_>>()
            .join(",")
    }
}
