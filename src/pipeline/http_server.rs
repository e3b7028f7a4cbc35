//! The local HTTP server of a run (`system.http`): bound before anything else starts, so a refused
//! listen address stops the run with the reason; the platforms' routes (webhooks) and the declared
//! hooks' `/hooks/{name}` merged outside the token check, since they authenticate their requests
//! themselves.

use crate::config::Config;
use crate::config::secrets::Secrets;
use crate::control::Tokens;
use crate::sources::registry::RunServices;
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The local HTTP server, bound and with its routes, not yet serving: the control API it serves
/// needs the run's parts, which start after it.
pub(super) struct BoundHttp {
    listener: tokio::net::TcpListener,
    app: axum::Router,
    feed: crate::http::Feed,
    tokens: Arc<Tokens>,
    options: crate::http::server::ServeOptions,
}

impl BoundHttp {
    /// The feed the pipeline publishes to.
    pub(super) fn feed(&self) -> crate::http::Feed {
        self.feed.clone()
    }

    /// The control API's tokens, resolved.
    pub(super) fn tokens(&self) -> Arc<Tokens> {
        self.tokens.clone()
    }

    /// Serves until `shutdown`, with the control API when given.
    pub(super) fn serve(
        self,
        control: Option<crate::control::Control>,
        shutdown: &CancellationToken,
        tasks: &TaskTracker,
    ) {
        let mut app = self.app;
        if let Some(control) = control {
            app = app.merge(crate::http::api::router(control));
        }
        tasks.spawn(crate::http::server::serve_router(
            self.listener,
            app,
            self.options,
            shutdown.clone(),
        ));
    }
}

/// Binds the local HTTP server when `system.http.enabled`, with the routes platforms add (merged
/// outside the token check: they authenticate their requests themselves). A refused address, a
/// missing `token_env` or a control token whose variable is not set stops the run here.
pub(super) async fn start_http(
    root: &Path,
    config: &Config,
    secrets: &Secrets,
    services: &RunServices,
    hooks: &Arc<crate::hooks::Hooks>,
) -> anyhow::Result<Option<BoundHttp>> {
    use crate::http::server;
    let settings = &config.system.http;
    if !settings.enabled {
        if !hooks.is_empty() {
            tracing::warn!(
                "system.json declares hooks but http.enabled is false, so no /hooks/ route is served; set http.enabled to true"
            );
        }
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
    let tokens = Arc::new(Tokens::resolve(&config.system.tokens, secrets)?);
    let listener = server::bind(&settings.listen, token.as_deref()).await?;
    let feed = crate::http::Feed::new();
    let state = server::AppState {
        feed: feed.clone(),
        snapshot: root.join("runtime/exports/runtime_snapshot.json"),
        token,
        control_tokens: tokens.clone(),
    };
    let mut app = server::router(state);
    for routes in services.routes() {
        app = app.merge(routes);
    }
    if let Some(routes) = crate::hooks::router(hooks.clone()) {
        app = app.merge(routes);
    }
    tracing::info!(
        listen = %settings.listen,
        platform_routes = ?services.with_routes(),
        hooks = ?config.system.hooks.keys().collect::<Vec<_>>(),
        control_tokens = config.system.tokens.len(),
        "HTTP server listening (/healthz, /api/snapshot, /events, /control, /api/v1/, and the platforms' routes)."
    );
    let address = listener.local_addr()?;
    Ok(Some(BoundHttp {
        listener,
        app,
        feed,
        tokens,
        options: server::ServeOptions::of(settings, address),
    }))
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

    fn no_hooks() -> Arc<crate::hooks::Hooks> {
        Arc::new(crate::hooks::Hooks::from_config(&Config::default(), &Secrets::default()).unwrap())
    }

    #[tokio::test]
    async fn no_server_when_off_and_a_missing_token_names_its_variable() {
        let services = RunServices::default();
        let root = tempfile::tempdir().unwrap();
        let off = config(serde_json::json!({"enabled": false}));
        let bound = start_http(
            root.path(),
            &off,
            &Secrets::default(),
            &services,
            &no_hooks(),
        )
        .await
        .unwrap();
        assert!(bound.is_none());
        let guarded = config(serde_json::json!({
            "enabled": true, "listen": "127.0.0.1:0", "token_env": "SS_TEST_HTTP_TOKEN_UNSET"
        }));
        let err = start_http(
            root.path(),
            &guarded,
            &Secrets::default(),
            &services,
            &no_hooks(),
        )
        .await
        .err()
        .unwrap();
        assert!(
            err.to_string().contains("SS_TEST_HTTP_TOKEN_UNSET"),
            "{err}"
        );
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
        let bound = start_http(
            root.path(),
            &on,
            &Secrets::default(),
            &RunServices::default(),
            &no_hooks(),
        )
        .await
        .unwrap()
        .expect("a server when enabled");
        bound.serve(None, &shutdown, &tasks);
        let answer = crate::http_out::builder()
            .unwrap()
            .build()
            .unwrap()
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
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
