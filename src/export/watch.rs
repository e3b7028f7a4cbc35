//! The hot-reload mirror: republish whenever the export tree changes, until shutdown.
//!
//! A file-system watcher (`notify`) on the source's `exports/`, `signals/` and `admin/` directories
//! feeds a small bounded channel; bursts of changes (one `ss export` writes many files) are debounced
//! into one publish. `ss publish-state --watch` runs it until Ctrl-C; `ss run` can run it when
//! `system.hot_reload.enabled` is set.

use super::publish::{PublishError, PublishReport, PublishRequest, publish};
use notify::{RecursiveMode, Watcher};
use std::future::Future;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the tree must stay quiet before a publish.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// Capacity of the change-signal channel. When full, further signals are dropped: one pending signal
/// already guarantees a publish after the burst, so nothing is lost.
const SIGNALS: usize = 16;

/// Publishes once, then again after every debounced change, until `shutdown` completes. Each
/// result (the first one included) goes to `on_publish`. Errors of one publish (a refused symlink,
/// exports mid-rewrite) are reported and the watch goes on.
pub async fn watch(
    req: PublishRequest,
    debounce: Duration,
    shutdown: impl Future<Output = ()>,
    mut on_publish: impl FnMut(Result<PublishReport, PublishError>),
) -> Result<(), notify::Error> {
    let (tx, mut rx) = mpsc::channel::<()>(SIGNALS);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = tx.try_send(());
        }
    })?;
    for dir in ["exports", "signals", "admin"] {
        let path = req.source.join(dir);
        if path.is_dir() {
            watcher.watch(&path, RecursiveMode::Recursive)?;
        }
    }
    let run_once = |req: &PublishRequest| {
        let req = req.clone();
        tokio::task::spawn_blocking(move || publish(&req, &mut |_, _| {}))
    };
    tokio::pin!(shutdown);
    if let Ok(result) = run_once(&req).await {
        on_publish(result);
    }
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            signal = rx.recv() => {
                if signal.is_none() {
                    return Ok(());
                }
            }
        }
        // Debounce: wait until no change has arrived for `debounce`.
        loop {
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                () = tokio::time::sleep(debounce) => break,
                _ = rx.recv() => {}
            }
        }
        if let Ok(result) = run_once(&req).await {
            on_publish(result);
        }
    }
}
