//! systemd's service notification (`sd_notify`) for `ss run` under a `Type=notify` unit: `READY=1`
//! once the sources have started, `WATCHDOG=1` while the run loop is alive, `STOPPING=1` when
//! shutdown begins.
//!
//! The manager names a datagram socket in `$NOTIFY_SOCKET`: a path (`/run/...`), or an abstract
//! name (`@...`, a NUL byte in front on the wire). Without the variable nothing is sent and nothing
//! fails; a `vsock:` address (for VMs) is refused with a warning. Each message is one datagram of
//! newline-separated `KEY=VALUE` lines.
//!
//! The watchdog: with `$WATCHDOG_USEC` set (and `$WATCHDOG_PID` unset or ours), a ping goes out
//! every half of that time, but only while the run loop is alive: it took a batch from the data
//! lane since the last ping, or the lane is empty (a quiet chat is not a hang). A loop stuck with
//! work waiting gets no ping, so systemd restarts the unit (`Restart=on-failure`). Child processes
//! (FFmpeg) do not inherit these variables ([`CHILD_ENV`]).

use crate::lanes::LaneProbe;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The variables a child process must not inherit.
pub const CHILD_ENV: [&str; 3] = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

/// Where the notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Path(PathBuf),
    /// An abstract-namespace name, without its leading NUL.
    Abstract(Vec<u8>),
}

/// The service manager's notification socket, when there is one.
#[derive(Debug, Clone)]
pub struct ServiceNotifier {
    target: Target,
    watchdog: Option<Duration>,
}

impl ServiceNotifier {
    /// From the process environment; `None` when not started by a service manager.
    pub fn from_env() -> Option<ServiceNotifier> {
        let get = |name| std::env::var(name).ok();
        ServiceNotifier::from_values(
            get("NOTIFY_SOCKET").as_deref(),
            get("WATCHDOG_USEC").as_deref(),
            get("WATCHDOG_PID").as_deref(),
            std::process::id(),
        )
    }

    /// From the variables' values (`pid`: this process).
    fn from_values(
        socket: Option<&str>,
        watchdog_usec: Option<&str>,
        watchdog_pid: Option<&str>,
        pid: u32,
    ) -> Option<ServiceNotifier> {
        let socket = socket.filter(|s| !s.is_empty())?;
        let target = if let Some(name) = socket.strip_prefix('@') {
            Target::Abstract(name.as_bytes().to_vec())
        } else if socket.starts_with('/') {
            Target::Path(PathBuf::from(socket))
        } else {
            tracing::warn!(
                notify_socket = socket,
                "NOTIFY_SOCKET is not a path or an abstract socket name (vsock is not supported); systemd will not hear from ss."
            );
            return None;
        };
        let ours = watchdog_pid.is_none_or(|p| p.trim().parse::<u32>().ok() == Some(pid));
        let watchdog = watchdog_usec
            .and_then(|us| us.trim().parse::<u64>().ok())
            .filter(|&us| us > 0 && ours)
            .map(Duration::from_micros);
        Some(ServiceNotifier { target, watchdog })
    }

    /// How often to ping the watchdog (half its timeout), when it is on for this process.
    pub fn watchdog_every(&self) -> Option<Duration> {
        self.watchdog.map(|timeout| timeout / 2)
    }

    /// Sends one message (`READY=1\nSTATUS=...`). A failure is logged once by the caller's
    /// choice; the runtime never stops because the manager cannot hear it.
    pub fn notify(&self, message: &str) -> std::io::Result<()> {
        let socket = UnixDatagram::unbound()?;
        match &self.target {
            Target::Path(path) => socket.send_to(message.as_bytes(), path).map(drop),
            Target::Abstract(name) => send_abstract(&socket, name, message.as_bytes()),
        }
    }

    /// [`Self::notify`], logging a failure.
    pub fn tell(&self, message: &str) {
        if let Err(e) = self.notify(message) {
            tracing::warn!(error = %e, message, "Could not notify the service manager.");
        }
    }
}

#[cfg(target_os = "linux")]
fn send_abstract(socket: &UnixDatagram, name: &[u8], message: &[u8]) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    socket.send_to_addr(message, &addr).map(drop)
}

#[cfg(not(target_os = "linux"))]
fn send_abstract(_: &UnixDatagram, _: &[u8], _: &[u8]) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// Counts the run loop's turns (batches taken from the data lane): what the watchdog watches.
#[derive(Debug, Clone, Default)]
pub struct LoopTurns(Arc<AtomicU64>);

impl LoopTurns {
    pub fn turned(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Pings the watchdog every `notifier.watchdog_every()` while the run loop is alive, until
/// `shutdown`.
pub fn spawn_watchdog(
    notifier: ServiceNotifier,
    turns: LoopTurns,
    lane: LaneProbe,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
) {
    let Some(every) = notifier.watchdog_every() else {
        return;
    };
    tasks.spawn(async move {
        let mut seen = turns.get();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut withheld = false;
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let now = turns.get();
            let waiting = lane.depth();
            if alive(seen, now, waiting) {
                if withheld {
                    tracing::info!("The run loop is taking work again; watchdog pings resume.");
                    withheld = false;
                }
                notifier.tell("WATCHDOG=1");
            } else if !withheld {
                tracing::error!(
                    waiting,
                    "The run loop has taken nothing from the data lane since the last watchdog ping while work waits; withholding the ping so the service manager restarts ss."
                );
                withheld = true;
            }
            seen = now;
        }
    });
}

/// The run loop is alive when it turned since the last look, or has nothing to do.
fn alive(seen: u64, now: u64, waiting: usize) -> bool {
    now != seen || waiting == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_is_read_as_systemd_writes_it() {
        assert!(ServiceNotifier::from_values(None, Some("1000"), None, 7).is_none());
        assert!(ServiceNotifier::from_values(Some(""), None, None, 7).is_none());
        assert!(ServiceNotifier::from_values(Some("vsock:2:1234"), None, None, 7).is_none());
        let path =
            ServiceNotifier::from_values(Some("/run/notify"), Some("30000000"), None, 7).unwrap();
        assert_eq!(path.target, Target::Path("/run/notify".into()));
        assert_eq!(path.watchdog_every(), Some(Duration::from_secs(15)));
        let abstract_name =
            ServiceNotifier::from_values(Some("@sd-notify"), None, None, 7).unwrap();
        assert_eq!(
            abstract_name.target,
            Target::Abstract(b"sd-notify".to_vec())
        );
        assert_eq!(abstract_name.watchdog_every(), None);
        // The watchdog is for the process WATCHDOG_PID names only.
        let other = ServiceNotifier::from_values(Some("/n"), Some("1000"), Some("8"), 7).unwrap();
        assert_eq!(other.watchdog_every(), None);
        let ours = ServiceNotifier::from_values(Some("/n"), Some("1000"), Some("7"), 7).unwrap();
        assert_eq!(ours.watchdog_every(), Some(Duration::from_micros(500)));
    }

    #[test]
    fn a_loop_is_alive_when_it_turned_or_has_nothing_to_do() {
        assert!(alive(3, 4, 100));
        assert!(alive(3, 3, 0));
        assert!(!alive(3, 3, 1));
    }

    #[test]
    fn messages_arrive_as_one_datagram_each_on_a_path_and_an_abstract_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        let notifier =
            ServiceNotifier::from_values(path.to_str(), None, None, std::process::id()).unwrap();
        notifier.notify("READY=1\nSTATUS=Running").unwrap();
        let mut buf = [0u8; 4096];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=Running");

        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            let name = format!("ss-test-{}", std::process::id());
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
            let server = UnixDatagram::bind_addr(&addr).unwrap();
            let notifier =
                ServiceNotifier::from_values(Some(&format!("@{name}")), None, None, 1).unwrap();
            notifier.notify("STOPPING=1").unwrap();
            let n = server.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"STOPPING=1");
        }
    }
}
