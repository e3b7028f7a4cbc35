//! The control API under `/api/v1/`: a thin layer over [`crate::control`]. One table
//! ([`routes`]) declares every route with its method, its least role and its body's schema; the
//! router is built from it, and a test holds the OpenAPI document (`/api/v1/openapi.json`) to it,
//! so a route cannot exist without being documented.
//!
//! Each request: the token from `Authorization: Bearer` only (never a query: a URL is logged and
//! kept in histories), compared in constant time (401 when missing or unknown); the route's least
//! role (403); for a change, the body checked against its JSON Schema (400 with the failing
//! pointer), then [`Control::change`], which applies the per-token rate limit (429) and writes the
//! audit row. Errors are JSON: `{"error": {"code", "message", "pointer"?}}`.

use crate::config::model::ControlRole;
use crate::control::{Caller, Change, Control, ControlError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawPathParams, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::LazyLock;

/// The OpenAPI 3.1 document of this API (bodies' schemas are its `components.schemas`).
pub const OPENAPI: &str = include_str!("../../schemas/api/openapi.json");

static DOCUMENT: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(OPENAPI).expect("the OpenAPI document is JSON"));

/// The body validators, by component name.
static VALIDATORS: LazyLock<HashMap<String, jsonschema::Validator>> = LazyLock::new(|| {
    DOCUMENT["components"]["schemas"]
        .as_object()
        .expect("components.schemas")
        .iter()
        .map(|(name, schema)| {
            let validator = jsonschema::validator_for(schema)
                .unwrap_or_else(|e| panic!("body schema {name} does not compile: {e}"));
            (name.clone(), validator)
        })
        .collect()
});

/// A request, once its caller is known.
pub struct Call {
    pub caller: Caller,
    pub params: HashMap<String, String>,
    /// The body, checked against the route's schema (an empty object for a read).
    pub body: Value,
    pub route: &'static ApiRoute,
}

type Handler = fn(Control, Call) -> BoxFuture<'static, Result<Value, ControlError>>;

/// One route of the API.
pub struct ApiRoute {
    pub method: Method,
    /// As axum and OpenAPI write it (`{creator}`).
    pub path: &'static str,
    /// The least role; `None` for the public document itself.
    pub min_role: Option<ControlRole>,
    /// The `components.schemas` entry the body must match (changes only).
    pub body: Option<&'static str>,
    handler: Handler,
}

impl ApiRoute {
    /// `POST /api/v1/...`, as audited.
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A change: the body with the path's parameters and the change's name, read as a [`Change`].
fn change_of(call: &Call, name: &str) -> Result<Change, ControlError> {
    let mut fields: Map<String, Value> = call.body.as_object().cloned().unwrap_or_default();
    for (key, value) in &call.params {
        fields.insert(key.clone(), Value::String(value.clone()));
    }
    fields.insert("change".into(), Value::String(name.into()));
    serde_json::from_value(Value::Object(fields)).map_err(|e| ControlError::BadBody {
        pointer: String::new(),
        message: e.to_string(),
    })
}

async fn change(control: Control, call: Call, name: &'static str) -> Result<Value, ControlError> {
    let change = change_of(&call, name)?;
    let done = control
        .change(&call.caller, &call.route.label(), change)
        .await?;
    Ok(json!({"status": done.status, "cause": done.cause, "detail": done.detail}))
}

macro_rules! route {
    ($method:ident, $path:literal, $role:expr, $body:expr, |$control:ident, $call:ident| $run:expr) => {
        ApiRoute {
            method: Method::$method,
            path: $path,
            min_role: $role,
            body: $body,
            handler: |$control, $call| Box::pin(async move { $run }),
        }
    };
}

const VIEWER: Option<ControlRole> = Some(ControlRole::Viewer);
const MODERATOR: Option<ControlRole> = Some(ControlRole::Moderator);
const OWNER: Option<ControlRole> = Some(ControlRole::Owner);
const _: Option<ControlRole> = OWNER;

static ROUTES: LazyLock<Vec<ApiRoute>> = LazyLock::new(|| {
    vec![
        route!(GET, "/api/v1/openapi.json", None, None, |_c, _call| Ok(
            DOCUMENT.clone()
        )),
        route!(GET, "/api/v1/whoami", VIEWER, None, |_c, call| Ok(json!({
            "name": call.caller.name, "role": call.caller.role.as_str()
        }))),
        route!(GET, "/api/v1/status", VIEWER, None, |c, _call| {
            let snapshot = c.snapshot().await.unwrap_or(Value::Null);
            Ok(json!({"snapshot": snapshot, "obs": c.obs()}))
        }),
        route!(GET, "/api/v1/sources", VIEWER, None, |c, _call| {
            let snapshot = c.snapshot().await?;
            Ok(json!({"sources": snapshot["sources"], "platforms": snapshot["platforms"]}))
        }),
        route!(GET, "/api/v1/triggers", VIEWER, None, |c, _call| Ok(
            c.triggers()
        )),
        route!(GET, "/api/v1/polls", VIEWER, None, |c, _call| {
            let recent = c.config().system.exports.recent_polls;
            Ok(json!({"polls": c.read(move |r| r.polls(recent)).await?}))
        }),
        route!(GET, "/api/v1/clips", VIEWER, None, |c, _call| Ok(
            json!({"clips": c.read(|r| r.clip_jobs(crate::control::READ_LIMIT)).await?})
        )),
        route!(GET, "/api/v1/actions", VIEWER, None, |c, _call| Ok(
            json!({"actions": c.read(|r| r.recent_actions(crate::control::READ_LIMIT)).await?})
        )),
        route!(GET, "/api/v1/chat", VIEWER, None, |c, _call| Ok(
            json!({"events": c.read(|r| r.recent_chat_events(crate::control::READ_LIMIT)).await?})
        )),
        route!(GET, "/api/v1/audit", VIEWER, None, |c, _call| Ok(
            json!({"entries": c.read(|r| r.audit(crate::control::READ_LIMIT)).await?})
        )),
        route!(
            GET,
            "/api/v1/obs/{creator}/scenes",
            VIEWER,
            None,
            |c, call| {
                let creator = call.params.get("creator").cloned().unwrap_or_default();
                Ok(json!({"scenes": c.scenes(&creator, &call.caller).await?}))
            }
        ),
        route!(
            POST,
            "/api/v1/chat/say",
            MODERATOR,
            Some("SayBody"),
            |c, call| change(c, call, "say").await
        ),
        route!(
            POST,
            "/api/v1/moderation/delete",
            MODERATOR,
            Some("DeleteBody"),
            |c, call| change(c, call, "delete_message").await
        ),
        route!(
            POST,
            "/api/v1/moderation/timeout",
            MODERATOR,
            Some("TimeoutBody"),
            |c, call| change(c, call, "timeout").await
        ),
        route!(
            POST,
            "/api/v1/moderation/ban",
            MODERATOR,
            Some("BanBody"),
            |c, call| change(c, call, "ban").await
        ),
        route!(
            POST,
            "/api/v1/moderation/unban",
            MODERATOR,
            Some("UnbanBody"),
            |c, call| change(c, call, "unban").await
        ),
        route!(
            POST,
            "/api/v1/triggers/{creator}/{trigger}/enabled",
            MODERATOR,
            Some("TriggerToggleBody"),
            |c, call| {
                let mut call = call;
                if let Some(body) = call.body.as_object_mut() {
                    body.entry("persist").or_insert(Value::Bool(false));
                }
                change(c, call, "set_trigger").await
            }
        ),
        route!(
            POST,
            "/api/v1/triggers/{creator}/{trigger}/run",
            MODERATOR,
            Some("RunTriggerBody"),
            |c, call| change(c, call, "run_trigger").await
        ),
        route!(
            POST,
            "/api/v1/polls/{creator}/open",
            MODERATOR,
            Some("PollOpenBody"),
            |c, call| change(c, call, "poll_open").await
        ),
        route!(
            POST,
            "/api/v1/polls/{creator}/close",
            MODERATOR,
            Some("PollCloseBody"),
            |c, call| change(c, call, "poll_close").await
        ),
        route!(
            POST,
            "/api/v1/giveaways/{creator}",
            MODERATOR,
            Some("GiveawayBody"),
            |c, call| change(c, call, "giveaway").await
        ),
        route!(
            POST,
            "/api/v1/timers/{creator}/{timer}/enabled",
            MODERATOR,
            Some("TimerToggleBody"),
            |c, call| change(c, call, "set_timer").await
        ),
        route!(
            POST,
            "/api/v1/clips/create",
            MODERATOR,
            Some("ClipBody"),
            |c, call| {
                let mut call = call;
                if let Some(body) = call.body.as_object_mut() {
                    body.entry("duration_s").or_insert(json!(30));
                }
                change(c, call, "clip").await
            }
        ),
        route!(
            POST,
            "/api/v1/obs/{creator}/request",
            MODERATOR,
            Some("ObsBody"),
            |c, call| change(c, call, "obs").await
        ),
    ]
});

/// Every route of the API.
pub fn routes() -> &'static [ApiRoute] {
    &ROUTES
}

/// The API's router (merged outside the server's own token check: it has its own).
pub fn router(control: Control) -> Router {
    let mut router = Router::new();
    for route in routes() {
        let method: MethodRouter<Control> = {
            let serve = move |State(control): State<Control>,
                              params: RawPathParams,
                              headers: HeaderMap,
                              body: Bytes| async move {
                serve(control, route, &params, &headers, &body)
                    .await
                    .unwrap_or_else(error_response)
            };
            if route.method == Method::POST {
                post(serve)
            } else {
                get(serve)
            }
        };
        router = router.route(route.path, method);
    }
    // Anything else under the prefix gets a JSON error too, naming the document that lists routes.
    router
        .route(
            "/api/v1/{*rest}",
            axum::routing::any(|| async {
                error_response(ControlError::NotFound(
                    "no such route; /api/v1/openapi.json lists them".into(),
                ))
            }),
        )
        .with_state(control)
}

async fn serve(
    control: Control,
    route: &'static ApiRoute,
    params: &RawPathParams,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ControlError> {
    let caller = match route.min_role {
        None => Caller {
            name: "public".into(),
            role: ControlRole::Viewer,
        },
        Some(need) => {
            let token = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(super::bearer)
                .ok_or(ControlError::Unauthorized)?;
            let caller = control.authenticate(token.trim())?;
            if let Err(refused) = Control::require(&caller, need) {
                if route.body.is_some() {
                    let arguments = serde_json::from_slice(body).unwrap_or(Value::Null);
                    control
                        .audit_refusal(&caller, &route.label(), &arguments, &refused)
                        .await;
                }
                return Err(refused);
            }
            caller
        }
    };
    let body = match route.body {
        None => json!({}),
        Some(schema) => checked_body(schema, body)?,
    };
    let params = params
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let value = (route.handler)(
        control,
        Call {
            caller,
            params,
            body,
            route,
        },
    )
    .await?;
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(value),
    )
        .into_response())
}

/// The body as JSON, valid against `schema`, or the first error with its pointer.
pub fn checked_body(schema: &str, body: &[u8]) -> Result<Value, ControlError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| ControlError::BadBody {
        pointer: String::new(),
        message: format!("not JSON: {e}"),
    })?;
    let validator = VALIDATORS
        .get(schema)
        .unwrap_or_else(|| panic!("no body schema {schema}"));
    if let Some(error) = validator.iter_errors(&value).next() {
        return Err(ControlError::BadBody {
            pointer: error.instance_path().to_string(),
            message: error.to_string(),
        });
    }
    Ok(value)
}

/// The JSON error answer.
pub fn error_response(e: ControlError) -> Response {
    let status = match &e {
        ControlError::Unauthorized => StatusCode::UNAUTHORIZED,
        ControlError::Forbidden { .. } => StatusCode::FORBIDDEN,
        ControlError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        ControlError::BadBody { .. } => StatusCode::BAD_REQUEST,
        ControlError::NotFound(_) => StatusCode::NOT_FOUND,
        ControlError::Refused(_) | ControlError::InvalidConfig(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ControlError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ControlError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut error = json!({"code": e.code(), "message": e.to_string()});
    if let ControlError::BadBody { pointer, .. } = &e {
        error["pointer"] = Value::String(pointer.clone());
    }
    let mut response = (status, axum::Json(json!({ "error": error }))).into_response();
    let headers = response.headers_mut();
    match &e {
        ControlError::Unauthorized => {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        ControlError::RateLimited { retry_after_s, .. } => {
            if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
        }
        _ => {}
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::stats::CommandStats;
    use crate::command::{CommandKind, CommandSet, CommandSupport, PlatformCommand};
    use crate::config::Config;
    use crate::control::{ControlParts, Tokens};
    use crate::effects::sinks::CommandQueues;
    use crate::effects::sinks::command::CommandRoute;
    use crate::event::Platform;
    use crate::store::{Readers, StoreWriter, db_path};
    use crate::telemetry::Telemetry;
    use axum::body::Body;
    use axum::http::Request;
    use std::path::Path;
    use std::sync::Arc;
    use tokio::sync::{Notify, mpsc, watch};
    use tower::ServiceExt;

    const OWNER_TOKEN: &str = "owner-token-0123456789";
    const MOD_TOKEN: &str = "mod-token-0123456789";
    const VIEWER_TOKEN: &str = "viewer-token-0123456789";

    struct Fixture {
        app: Router,
        commands: mpsc::Receiver<PlatformCommand>,
        operator: mpsc::Receiver<crate::event::ChatEvent>,
        readers: Readers,
        root: tempfile::TempDir,
        _writer: StoreWriter,
    }

    /// The API over the repository's demo config, a fresh store and a sim source's command queue.
    fn fixture() -> Fixture {
        let root = tempfile::tempdir().unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = root.path().join("runtime/config");
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(repo.join("runtime/config")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
        let config = Config::load(root.path()).unwrap();
        let writer = StoreWriter::spawn(&db_path(root.path()), 64).unwrap();
        let readers = Readers::new(&db_path(root.path()));
        let (tx, commands) = mpsc::channel(64);
        let (operator, operator_rx) = mpsc::channel(4);
        let mut routes = std::collections::HashMap::new();
        routes.insert(
            ("demo".to_owned(), Platform::named("sim")),
            CommandRoute {
                queue: tx,
                support: CommandSupport::new(CommandSet::ALL, "everything"),
            },
        );
        let (configs, _) = watch::channel(Arc::new(config));
        let control = Control::new(ControlParts {
            tokens: Arc::new(Tokens::from_values(&[
                ("ann", ControlRole::Owner, OWNER_TOKEN),
                ("mods", ControlRole::Moderator, MOD_TOKEN),
                ("wall", ControlRole::Viewer, VIEWER_TOKEN),
            ])),
            commands: CommandQueues::new(
                routes,
                Arc::new(CommandStats::default()),
                Telemetry::default(),
            ),
            obs: crate::obs::Obs::default(),
            writer: writer.clone(),
            readers: readers.clone(),
            configs,
            root: root.path().to_path_buf(),
            clip_worker: Arc::new(Notify::new()),
            export_now: Arc::new(Notify::new()),
            operator,
        });
        Fixture {
            app: router(control),
            commands,
            operator: operator_rx,
            readers,
            root,
            _writer: writer,
        }
    }

    async fn call(
        app: &Router,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = if method == "GET" {
            Body::empty()
        } else {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        };
        let response = app
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    fn say() -> Value {
        json!({"creator": "demo", "platform": "sim", "text": "hello from the mods"})
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tokens_roles_bodies_and_the_audit() {
        let mut f = fixture();
        // No token, a wrong one, a token in the query: 401 with a JSON error.
        for (uri, token) in [
            ("/api/v1/whoami", None),
            ("/api/v1/whoami", Some("mod-token-012345678X")),
            ("/api/v1/whoami?key=mod-token-0123456789", None),
        ] {
            let (status, body) = call(&f.app, "GET", uri, token, Value::Null).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
            assert_eq!(body["error"]["code"], "unauthorized");
        }
        // A viewer reads, and gets 403 on a change.
        let (status, me) = call(
            &f.app,
            "GET",
            "/api/v1/whoami",
            Some(VIEWER_TOKEN),
            Value::Null,
        )
        .await;
        assert_eq!(
            (status, me),
            (StatusCode::OK, json!({"name": "wall", "role": "viewer"}))
        );
        let (status, triggers) = call(
            &f.app,
            "GET",
            "/api/v1/triggers",
            Some(VIEWER_TOKEN),
            Value::Null,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            triggers["triggers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["id"] == "ping")
        );
        let (status, body) = call(
            &f.app,
            "POST",
            "/api/v1/chat/say",
            Some(VIEWER_TOKEN),
            say(),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "forbidden");
        assert!(f.commands.try_recv().is_err(), "nothing sent");
        // A moderator's message is queued on the source, caused by the control call.
        let (status, done) = call(&f.app, "POST", "/api/v1/chat/say", Some(MOD_TOKEN), say()).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(done["status"], "queued");
        let command = f.commands.try_recv().unwrap();
        assert_eq!(
            command.kind,
            CommandKind::Say {
                text: "hello from the mods".into()
            }
        );
        assert!(
            command.cause.starts_with("control:mods:"),
            "{}",
            command.cause
        );
        assert_eq!(command.cause, done["cause"]);
        // A bad body: 400 with the pointer of what is wrong.
        let (status, body) = call(
            &f.app,
            "POST",
            "/api/v1/moderation/timeout",
            Some(MOD_TOKEN),
            json!({"creator": "demo", "platform": "sim", "user_id": "1", "login": "x", "seconds": "ten"}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["code"], "bad_body");
        assert_eq!(body["error"]["pointer"], "/seconds");
        let (status, body) = call(
            &f.app,
            "POST",
            "/api/v1/chat/say",
            Some(MOD_TOKEN),
            json!({"creator": "demo", "platform": "sim", "text": "hi", "as": "owner"}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        // Persisting a toggle is the owner's: 403 for a moderator, done for the owner.
        let toggle = json!({"enabled": false, "persist": true});
        let path = "/api/v1/triggers/demo/ping/enabled";
        let (status, _) = call(&f.app, "POST", path, Some(MOD_TOKEN), toggle.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, body) = call(&f.app, "POST", path, Some(OWNER_TOKEN), toggle).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let saved = Config::load(f.root.path()).unwrap();
        assert!(
            !saved.triggers.triggers["demo"]
                .iter()
                .find(|d| d.id == "ping")
                .unwrap()
                .enabled
        );
        let (_, triggers) = call(
            &f.app,
            "GET",
            "/api/v1/triggers",
            Some(VIEWER_TOKEN),
            Value::Null,
        )
        .await;
        let ping = triggers["triggers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == "ping")
            .unwrap()
            .clone();
        assert_eq!(ping["enabled"], false, "applied to the running config too");
        let (status, body) = call(
            &f.app,
            "GET",
            "/api/v1/nothing/here",
            Some(MOD_TOKEN),
            Value::Null,
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
        let (status, body) = call(
            &f.app,
            "POST",
            "/api/v1/triggers/demo/nope/enabled",
            Some(MOD_TOKEN),
            json!({"enabled": true}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        // Every change asked by a known token is one audit row: who, role, route, arguments, result.
        let audit = f.readers.read(|r| r.audit(50)).await.unwrap().unwrap();
        let calls: Vec<_> = audit.iter().filter(|a| a.action == "control_api").collect();
        assert_eq!(calls.len(), 5, "{calls:#?}");
        let say_row = calls
            .iter()
            .find(|a| {
                a.result.as_deref().unwrap().starts_with("ok")
                    && a.route.as_deref() == Some("POST /api/v1/chat/say")
            })
            .unwrap();
        assert_eq!(say_row.actor.as_deref(), Some("mods"));
        assert_eq!(say_row.role.as_deref(), Some("moderator"));
        assert_eq!(
            say_row.arguments.as_ref().unwrap()["text"],
            "hello from the mods"
        );
        let refused = calls
            .iter()
            .find(|a| a.actor.as_deref() == Some("wall"))
            .unwrap();
        assert!(
            refused
                .result
                .as_deref()
                .unwrap()
                .starts_with("error forbidden"),
            "{refused:?}"
        );
        for row in &audit {
            let text = serde_json::to_string(row).unwrap();
            for token in [OWNER_TOKEN, MOD_TOKEN, VIEWER_TOKEN] {
                assert!(!text.contains(token), "a token in the audit log: {text}");
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn giveaways_and_timers_name_what_is_missing() {
        let f = fixture();
        // The demo has no giveaways section and no timers: both say what to add, nothing is said.
        let (status, body) = call(
            &f.app,
            "POST",
            "/api/v1/giveaways/demo",
            Some(MOD_TOKEN),
            json!({"op": "open", "keyword": "pizza"}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("\"giveaways\": {\"demo\": {}}"),
            "{body}"
        );
        let (status, body) = call(
            &f.app,
            "POST",
            "/api/v1/timers/demo/socials/enabled",
            Some(MOD_TOKEN),
            json!({"enabled": false}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no timer \"socials\""),
            "{body}"
        );
        // A body that is not a giveaway operation is refused with the pointer.
        let (status, body) = call(
            &f.app,
            "POST",
            "/api/v1/giveaways/demo",
            Some(MOD_TOKEN),
            json!({"op": "raffle"}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, _) = call(
            &f.app,
            "POST",
            "/api/v1/timers/demo/socials/enabled",
            Some(VIEWER_TOKEN),
            json!({"enabled": true}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn polls_and_trigger_runs_reach_the_run_loop_as_the_operators_chat() {
        let mut f = fixture();
        let (status, done) = call(
            &f.app,
            "POST",
            "/api/v1/triggers/demo/ping/run",
            Some(MOD_TOKEN),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{done}");
        let event = f.operator.try_recv().unwrap();
        assert_eq!(event.text, "!ping");
        assert_eq!(
            event.platform,
            Platform::named("sim"),
            "the creator's running source"
        );
        assert!(event.is_operator() && !event.can_be_replied_to());
        assert_eq!(event.channel, "", "the creator's own channel");
        assert!(event.author.roles.moderator && !event.author.roles.broadcaster);
        assert_eq!(event.author.login, "mods");
        assert_eq!(done["cause"], format!("event:sim:{}", event.message_id));
        let (status, _) = call(&f.app, "POST", "/api/v1/polls/demo/open", Some(OWNER_TOKEN),
            json!({"question": "Next game? | really", "options": ["Celeste", "Hades"], "duration_s": 90})).await;
        assert_eq!(status, StatusCode::OK);
        let event = f.operator.try_recv().unwrap();
        assert_eq!(
            event.text,
            "!poll open Next game? \\| really | Celeste | Hades 90s"
        );
        assert!(
            event.author.roles.broadcaster,
            "an owner speaks as the broadcaster"
        );
        let (status, _) = call(
            &f.app,
            "POST",
            "/api/v1/polls/demo/close",
            Some(MOD_TOKEN),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(f.operator.try_recv().unwrap().text, "!poll close");
        // Only command triggers run by id; a platform without a running source is refused.
        let (status, body) = call(
            &f.app,
            "POST",
            "/api/v1/triggers/demo/hype-tally/run",
            Some(MOD_TOKEN),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (status, body) = call(
            &f.app,
            "POST",
            "/api/v1/polls/demo/close",
            Some(MOD_TOKEN),
            json!({"platform": "kick"}),
        )
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            f.operator.try_recv().is_err(),
            "nothing else was handed over"
        );
        let (status, _) = call(
            &f.app,
            "POST",
            "/api/v1/polls/demo/close",
            Some(VIEWER_TOKEN),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_are_rate_limited_per_token() {
        let f = fixture();
        let mut limited = None;
        for i in 0..=crate::config::model::ApiToken::DEFAULT_CHANGES_PER_MINUTE {
            let (status, body) =
                call(&f.app, "POST", "/api/v1/chat/say", Some(MOD_TOKEN), say()).await;
            if status == StatusCode::TOO_MANY_REQUESTS {
                limited = Some((i, body));
                break;
            }
        }
        let (at, body) = limited.expect("a 429 once the minute's changes are used");
        assert_eq!(
            at,
            crate::config::model::ApiToken::DEFAULT_CHANGES_PER_MINUTE
        );
        assert_eq!(body["error"]["code"], "rate_limited");
        // Reads are not limited, and another token has its own budget.
        let (status, _) = call(
            &f.app,
            "GET",
            "/api/v1/whoami",
            Some(MOD_TOKEN),
            Value::Null,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = call(&f.app, "POST", "/api/v1/chat/say", Some(OWNER_TOKEN), say()).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[test]
    fn the_openapi_document_lists_every_route_with_its_role_and_body() {
        let document: Value = serde_json::from_str(OPENAPI).unwrap();
        assert_eq!(document["openapi"], "3.1.0");
        let paths = document["paths"].as_object().unwrap();
        let mut documented: Vec<String> = paths
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .unwrap()
                    .keys()
                    .map(move |m| format!("{} {path}", m.to_uppercase()))
            })
            .collect();
        let mut served: Vec<String> = routes().iter().map(ApiRoute::label).collect();
        documented.sort();
        served.sort();
        assert_eq!(
            served, documented,
            "every route is in openapi.json, and only those"
        );
        for route in routes() {
            let op = &paths[route.path][route.method.as_str().to_lowercase()];
            assert_eq!(
                op["x-min-role"].as_str(),
                route.min_role.map(ControlRole::as_str),
                "{}",
                route.label()
            );
            let body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str();
            assert_eq!(
                body.map(|r| r.trim_start_matches("#/components/schemas/")),
                route.body,
                "{}",
                route.label()
            );
            if let Some(schema) = route.body {
                assert!(VALIDATORS.contains_key(schema), "{schema}");
            }
        }
    }

    #[test]
    fn the_readme_lists_every_route_with_its_role() {
        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
                .unwrap();
        for route in routes() {
            let role = route.min_role.map_or("public", ControlRole::as_str);
            let row = format!("| `{}` | {role} |", route.label());
            assert!(readme.contains(&row), "README.md lacks the row {row}");
        }
    }
}
