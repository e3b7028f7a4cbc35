//! Hot reload: watch the config directory and hand each changed config that validates to the runtime.
//!
//! A change is debounced (editors write in several steps), then the whole config is loaded through the
//! same checks as `ss validate-config`. A config that validates is published on a watch channel; one that
//! does not is rejected with an error in telemetry, and the runtime keeps the config it has. A config
//! file that existed at start and is now missing is rejected the same way ([`Config::reload`]).

use crate::config::{Config, ConfigError};
use crate::telemetry::Telemetry;
use notify::{RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Quiet time after the last file event before the config is reloaded.
const DEBOUNCE: Duration = Duration::from_millis(300);
/// File events buffered between the watcher thread and the reload task; extra events are dropped
/// (one pending event is enough to trigger a reload).
const EVENT_CAPACITY: usize = 64;

/// Starts watching `watch_dir`; each accepted config is sent on `configs`, which every reader of the
/// running config (the run loop, the exporter) watches. The task is tracked by `tasks`.
pub fn spawn(
    root: &Path,
    watch_dir: PathBuf,
    configs: watch::Sender<Arc<Config>>,
    telemetry: Telemetry,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
) -> anyhow::Result<()> {
    let (event_tx, mut event_rx) = mpsc::channel::<()>(EVENT_CAPACITY);
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res
            && !event.kind.is_access()
        {
            let _ = event_tx.try_send(());
        }
    })?;
    watcher
        .watch(&watch_dir, RecursiveMode::NonRecursive)
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot watch {} for hot reload: {e}\n  hint: fix system.json hot_reload.watch_dir (relative to the root) or set hot_reload.enabled to false",
                watch_dir.display()
            )
        })?;
    let root = root.to_path_buf();
    // The files the running config came from; each must still be there for a reload to apply.
    let required = Config::present_files(&root);
    // From here on every change is seen and judged against the files above: tests (and
    // operators) can wait for this line.
    tracing::info!(dir = %watch_dir.display(), "Watching the config directory for changes (hot reload).");
    tasks.spawn(async move {
        // The watcher lives as long as this task.
        let _watcher = watcher;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                got = event_rx.recv() => if got.is_none() { return },
            }
            // Debounce: wait until no event arrives for DEBOUNCE.
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(DEBOUNCE) => break,
                    _ = event_rx.recv() => {}
                }
            }
            let loaded = {
                let (root, required) = (root.clone(), required.clone());
                tokio::task::spawn_blocking(move || Config::reload(&root, &required)).await
            };
            match loaded {
                Ok(Ok(config)) => {
                    tracing::info!("Config changed and validated; applying it.");
                    telemetry.event("config_reloaded", "config", "configuration reloaded");
                    configs.send_replace(Arc::new(config));
                }
                Ok(Err(ConfigError::Invalid(report))) => {
                    let first = report
                        .errors
                        .first()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    tracing::warn!(errors = report.errors.len(), first = %first, "Changed config is invalid; keeping the running config.");
                    telemetry.error(
                        "config_rejected",
                        "config",
                        format!("{} error(s); first: {first}", report.errors.len()),
                    );
                }
                Ok(Err(e)) => telemetry.error("config_rejected", "config", e.to_string()),
                Err(e) => telemetry.error("config_rejected", "config", e.to_string()),
            }
        }
    });
    Ok(())
}
