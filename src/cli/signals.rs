//! The stop signals of the long-running commands (`ss run`, `ss discord`): the first SIGINT,
//! SIGTERM or SIGHUP (the terminal or the SSH session that started it went away) asks for an
//! orderly stop, a second one for an exit at once. A SIGHUP the process was started ignoring
//! (`nohup ss run`) stays ignored.

use anyhow::Context;
use tokio_util::sync::CancellationToken;

/// The process's stop signals, registered as soon as the runtime exists.
pub(super) struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
}

/// Whether this process was started with SIGHUP ignored (`nohup`): Linux says so in
/// `/proc/self/status` (`SigIgn`, bit 0 for signal 1). Elsewhere: not known, so not ignored.
#[cfg(unix)]
fn hangup_ignored() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .is_some_and(|mask| mask & 1 != 0)
}

impl Signals {
    #[cfg(unix)]
    pub(super) fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            terminate: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            interrupt: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            hangup: if hangup_ignored() {
                None
            } else {
                Some(signal(SignalKind::hangup()).context("installing the SIGHUP handler")?)
            },
        })
    }

    #[cfg(not(unix))]
    pub(super) fn install() -> anyhow::Result<Signals> {
        Ok(Signals {})
    }

    #[cfg(unix)]
    async fn next(&mut self) {
        let hangup = &mut self.hangup;
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
            _ = async {
                match hangup {
                    Some(hangup) => hangup.recv().await,
                    None => std::future::pending().await,
                }
            } => {}
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) {
        if tokio::signal::ctrl_c().await.is_err() {
            // Without Ctrl-C support the process still stops on --duration; never busy-loop here.
            std::future::pending::<()>().await;
        }
    }
}

/// First signal: cancel `shutdown`. Second: tell `run` to leave at once (exit 130).
pub(super) async fn watch_signals(
    mut signals: Signals,
    shutdown: CancellationToken,
    forced: tokio::sync::oneshot::Sender<()>,
) {
    signals.next().await;
    tracing::info!("Shutdown requested; finishing (press Ctrl-C again to exit at once).");
    shutdown.cancel();
    signals.next().await;
    tracing::warn!("Second signal: exiting without a clean shutdown.");
    let _ = forced.send(());
}
