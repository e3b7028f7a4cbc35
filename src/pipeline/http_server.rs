//! The local HTTP server of a run (`system.http`): bound before anything else starts, so a refused
//! listen address stops the run with the reason; the platforms' routes (webhooks) merged outside
//! the token check, since they authenticate their requests themselves.

use crate::config::Config;
use crate::config::secrets::Secrets;
use crate::sources::registry::RunServices;
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Starts the local HTTP server when `system.http.enabled`, with the routes platforms add (merged
/// outside the token check: they authenticate their requests themselves); returns the feed the
/// pipeline publishes to.
pub(super) async fn start_http(
    root: &Path,
    config: &Config,
    secrets: &Secrets,
    services: &RunServices,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
) -> anyhow::Result<Option<crate::http::Feed>> {
    use crate::http::server;
    let settings = &config.system.http;
    if !settings.enabled {
        return Ok(None);
    }
    let token = match &settings.token_env {
        None => None,
        Some(name) => Some(Arc::new(secrets.get(name).ok_or_else(|| {
            anyhow::anyhow!(
                "system.json http.token_env names {name}, which is not set\n  hint: export {name}=<a long random token> (or put it in the root's .env)"
            )
        })?)),
    };
    let listener = server::bind(&settings.listen, token.as_deref()).await?;
    let feed = crate::http::Feed::new();
    let state = server::AppState {
        feed: feed.clone(),
        snapshot: root.join("runtime/exports/runtime_snapshot.json"),
        token,
    };
    let mut app = server::router(state);
    for routes in services.routes() {
        app = app.merge(routes);
    }
    tracing::info!(
        listen = %settings.listen,
        platform_routes = ?services.with_routes(),
        "HTTP server listening (/healthz, /api/snapshot, /events, and the platforms' routes)."
    );
    tasks.spawn(server::serve_router(listener, app, shutdown.clone()));
    Ok(Some(feed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(http: serde_json::Value) -> Config {
        let root = tempfile::tempdir().unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = root.path().join("runtime/config");
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(repo.join("runtime/config")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
        let mut config = Config::load(root.path()).unwrap();
        config.system.http = serde_json::from_value(http).unwrap();
        config
    }

    #[tokio::test]
    async fn no_server_when_off_and_a_missing_token_names_its_variable() {
        let tasks = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let services = RunServices::default();
        let root = tempfile::tempdir().unwrap();
        let off = config(serde_json::json!({"enabled": false}));
        let feed = start_http(
            root.path(),
            &off,
            &Secrets::default(),
            &services,
            &shutdown,
            &tasks,
        )
        .await
        .unwrap();
        assert!(feed.is_none());
        let guarded = config(serde_json::json!({
            "enabled": true, "listen": "127.0.0.1:0", "token_env": "SS_TEST_HTTP_TOKEN_UNSET"
        }));
        let err = start_http(
            root.path(),
            &guarded,
            &Secrets::default(),
            &services,
            &shutdown,
            &tasks,
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains("SS_TEST_HTTP_TOKEN_UNSET"),
            "{err}"
        );
        assert!(tasks.is_empty(), "nothing started");
    }

    #[tokio::test]
    async fn a_started_server_answers_health_and_stops_on_shutdown() {
        let tasks = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let root = tempfile::tempdir().unwrap();
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let on =
            config(serde_json::json!({"enabled": true, "listen": format!("127.0.0.1:{port}")}));
        let feed = start_http(
            root.path(),
            &on,
            &Secrets::default(),
            &RunServices::default(),
            &shutdown,
            &tasks,
        )
        .await
        .unwrap();
        assert!(feed.is_some());
        let answer = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .unwrap();
        assert!(answer.status().is_success());
        shutdown.cancel();
        tasks.close();
        tokio::time::timeout(std::time::Duration::from_secs(5), tasks.wait())
            .await
            .expect("the server stops on shutdown");
    }
}
