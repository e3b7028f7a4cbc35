//! The stop signals of the long-running commands (`ss run`, `ss discord`): the first SIGINT or
//! SIGTERM asks for an orderly stop, a second one for an exit at once.

use anyhow::Context;
use tokio_util::sync::CancellationToken;

/// The process's stop signals, registered as soon as the runtime exists.
pub(super) struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    pub(super) fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            terminate: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            interrupt: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        })
    }

    #[cfg(not(unix))]
    pub(super) fn install() -> anyhow::Result<Signals> {
        Ok(Signals {})
    }

    #[cfg(unix)]
    async fn next(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
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
