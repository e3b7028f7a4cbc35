//! OBS over obs-websocket v5: one connection per configured OBS (obs.json), and the requests
//! triggers, the control API and the clip jobs make of it.
//!
//! - [`protocol`]: the frames, the authentication string, what a close code means (pure).
//! - [`session`]: one connection, from the handshake to its end, and the [`session::Requester`]
//!   that matches answers to requests.
//! - [`status`]: the connection and OBS's state (scene, outputs) and the counted outcomes, for
//!   `runtime_snapshot.json` `obs` and `ss status`.
//!
//! Each configured OBS runs two tasks. The **connection** task runs sessions: on a close it
//! reconnects with a capped, jittered backoff; a refused password (close 4009), a session ended in
//! OBS (4011) or an unsupported version is reported once (log, telemetry, status `failed`) and not
//! tried again. The **worker** takes requests from the client's queue ([`REQUEST_QUEUE`]; policy
//! when full: the request is refused at once and counted as dropped, never waited for) one at a
//! time, in order, so a trigger's scene switch and its source toggle happen as written. Each
//! request waits for OBS's answer and records success, or OBS's status code and comment, with its
//! cause; with no connection it fails at once, saying why.

pub mod protocol;
pub mod session;
pub mod status;

use crate::backoff::Backoff;
use crate::config::model::{ObsCall, ObsConfig, ObsSettings, ReplayBufferOp, StartStop, Switch};
use crate::config::secrets::{Secret, Secrets};
use crate::telemetry::Telemetry;
use serde_json::{Value, json};
use session::{Requester, SessionEnd, SessionParts};
use status::{ObsOutcome, ObsStatus};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Requests waiting for one OBS. Policy when full: refuse the new one at once, counted as
/// dropped (a scene switch seconds late is worse than none, and callers must never stall).
pub const REQUEST_QUEUE: usize = 64;
/// Saved-replay paths buffered for waiting clip jobs.
const SAVED_REPLAYS: usize = 16;
/// How long a clip job waits for OBS to name the file it saved.
pub const REPLAY_SAVE_WAIT: Duration = Duration::from_secs(30);
/// Reconnect backoff: first step and cap.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// Why a request to OBS did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObsError {
    #[error(
        "creator {creator} has no OBS; add it to obs.json (url, password_env) and restart `ss run`"
    )]
    NotConfigured { creator: String },
    #[error("OBS is not connected ({reason})")]
    NotConnected { reason: String },
    #[error("OBS's request queue is full; the request was dropped")]
    QueueFull,
    #[error("OBS refused {request} (code {code}{})", comment.as_ref().map_or_else(String::new, |c| format!(": {c}")))]
    Refused {
        request: &'static str,
        code: u32,
        comment: Option<String>,
    },
    #[error("OBS did not answer {request} within {seconds} s")]
    Timeout { request: &'static str, seconds: u64 },
    #[error("the connection to OBS was lost before it answered {request}")]
    ConnectionLost { request: &'static str },
    #[error("OBS answered {request} with something unreadable: {problem}")]
    Unreadable {
        request: &'static str,
        problem: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error(
        "OBS's replay buffer is not running ({detail}); turn it on in OBS: Settings → Output → Replay Buffer → Enable Replay Buffer (keep at least as many seconds as your longest clip), then Start Replay Buffer in the Controls dock (or an obs action {{\"request\": \"replay_buffer\", \"op\": \"start\"}})"
    )]
    ReplayBufferOff { detail: String },
    #[error("OBS saved no replay file within {seconds} s")]
    NoReplaySaved { seconds: u64 },
}

impl ObsError {
    /// OBS's status code, when OBS answered.
    pub fn code(&self) -> Option<u32> {
        match self {
            ObsError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// What a request is.
#[derive(Debug, Clone)]
enum Work {
    Call(ObsCall),
    SaveReplay,
    Scenes,
}

impl Work {
    fn name(&self) -> &'static str {
        match self {
            Work::Call(call) => call.name(),
            Work::SaveReplay => "save_replay",
            Work::Scenes => "scene_list",
        }
    }
}

#[derive(Debug)]
enum Answer {
    Done,
    Saved(PathBuf),
    Scenes(Vec<String>),
}

struct Job {
    work: Work,
    cause: String,
    reply: Option<oneshot::Sender<Result<Answer, ObsError>>>,
}

/// The way to one creator's OBS. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ObsClient {
    queue: mpsc::Sender<Job>,
    status: ObsStatus,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("work", &self.work)
            .field("cause", &self.cause)
            .finish_non_exhaustive()
    }
}

impl ObsClient {
    /// Queues `call` without waiting for it (an action's effect); `false` when the queue was full
    /// (counted as dropped).
    pub fn submit(&self, call: ObsCall, cause: String) -> bool {
        let job = Job {
            work: Work::Call(call),
            cause,
            reply: None,
        };
        if self.queue.try_send(job).is_ok() {
            true
        } else {
            self.status.dropped();
            false
        }
    }

    /// Sends `call` and waits for OBS's answer.
    pub async fn call(&self, call: ObsCall, cause: String) -> Result<(), ObsError> {
        self.ask(Work::Call(call), cause).await.map(|_| ())
    }

    /// Saves OBS's replay buffer and returns the file OBS wrote; fails, saying how to turn it on,
    /// when the replay buffer is not running.
    pub async fn save_replay(&self, cause: String) -> Result<PathBuf, ObsError> {
        match self.ask(Work::SaveReplay, cause).await? {
            Answer::Saved(path) => Ok(path),
            other => Err(ObsError::Invalid(format!("unexpected answer {other:?}"))),
        }
    }

    /// The names of OBS's scenes, top first (as OBS's Scenes dock lists them).
    pub async fn scenes(&self, cause: String) -> Result<Vec<String>, ObsError> {
        match self.ask(Work::Scenes, cause).await? {
            Answer::Scenes(scenes) => Ok(scenes),
            other => Err(ObsError::Invalid(format!("unexpected answer {other:?}"))),
        }
    }

    pub fn status(&self) -> &ObsStatus {
        &self.status
    }

    async fn ask(&self, work: Work, cause: String) -> Result<Answer, ObsError> {
        let (tx, rx) = oneshot::channel();
        let job = Job {
            work,
            cause,
            reply: Some(tx),
        };
        if self.queue.try_send(job).is_err() {
            self.status.dropped();
            return Err(ObsError::QueueFull);
        }
        rx.await.unwrap_or_else(|_| {
            Err(ObsError::NotConnected {
                reason: "the runtime is stopping".into(),
            })
        })
    }
}

/// The run's OBS connections, by creator.
#[derive(Debug, Clone, Default)]
pub struct Obs {
    clients: BTreeMap<String, ObsClient>,
}

/// What [`Obs::start`] needs.
pub struct ObsParts<'a> {
    pub config: &'a ObsConfig,
    /// Only this creator's OBS (`ss run --creator`).
    pub creator: Option<&'a str>,
    pub secrets: &'a Secrets,
    pub telemetry: &'a Telemetry,
    pub shutdown: &'a CancellationToken,
    pub tasks: &'a TaskTracker,
}

impl Obs {
    /// Starts a connection and a worker for every enabled OBS in obs.json.
    pub fn start(parts: &ObsParts<'_>) -> Obs {
        let mut clients = BTreeMap::new();
        for (creator, settings) in &parts.config.obs {
            if !settings.enabled || parts.creator.is_some_and(|only| only != creator) {
                continue;
            }
            let status = ObsStatus::new(creator, &settings.url);
            let (queue, jobs) = mpsc::channel(REQUEST_QUEUE);
            let (link_tx, link_rx) = watch::channel(None);
            let (saved, _) = broadcast::channel(SAVED_REPLAYS);
            let password = match &settings.password_env {
                None => Ok(None),
                Some(name) => parts.secrets.get(name).map(Some).ok_or_else(|| {
                    format!(
                        "obs.json password_env for creator {creator} names {name}, which is not set; export it (or put it in the root's .env) and restart"
                    )
                }),
            };
            parts.tasks.spawn(connection(Connection {
                creator: creator.clone(),
                settings: settings.clone(),
                password,
                status: status.clone(),
                link: link_tx,
                saved: saved.clone(),
                telemetry: parts.telemetry.clone(),
                shutdown: parts.shutdown.clone(),
            }));
            parts.tasks.spawn(worker(Worker {
                creator: creator.clone(),
                jobs,
                link: link_rx,
                saved,
                status: status.clone(),
                telemetry: parts.telemetry.clone(),
                shutdown: parts.shutdown.clone(),
            }));
            clients.insert(creator.clone(), ObsClient { queue, status });
        }
        Obs { clients }
    }

    /// The creator's OBS, when configured.
    pub fn client(&self, creator: &str) -> Option<&ObsClient> {
        self.clients.get(creator)
    }

    /// The client of `creator`, or the error saying how to configure one.
    pub fn require(&self, creator: &str) -> Result<&ObsClient, ObsError> {
        self.client(creator).ok_or_else(|| ObsError::NotConfigured {
            creator: creator.to_owned(),
        })
    }

    /// Every OBS's status, by creator.
    pub fn statuses(&self) -> Vec<ObsStatus> {
        self.clients.values().map(|c| c.status.clone()).collect()
    }
}

struct Connection {
    creator: String,
    settings: ObsSettings,
    password: Result<Option<Secret>, String>,
    status: ObsStatus,
    link: watch::Sender<Option<Requester>>,
    saved: broadcast::Sender<String>,
    telemetry: Telemetry,
    shutdown: CancellationToken,
}

/// Runs sessions until shutdown, reconnecting with backoff; a fatal end is reported once.
async fn connection(c: Connection) {
    let password = match c.password {
        Ok(password) => password,
        Err(reason) => {
            fatal(&c.creator, &c.status, &c.telemetry, &reason);
            return;
        }
    };
    let mut backoff = Backoff::new(BACKOFF_BASE, BACKOFF_CAP);
    let parts = SessionParts {
        creator: &c.creator,
        url: &c.settings.url,
        password: password.as_ref(),
        event_mask: c.settings.event_mask(),
        request_timeout: Duration::from_secs(c.settings.request_timeout_s.max(1)),
        status: &c.status,
        link: &c.link,
        saved: &c.saved,
        shutdown: &c.shutdown,
    };
    loop {
        let (end, identified) = session::run(&parts).await;
        match end {
            SessionEnd::Shutdown => break,
            SessionEnd::Fatal(reason) => {
                fatal(&c.creator, &c.status, &c.telemetry, &reason);
                return;
            }
            SessionEnd::Retry(reason) => {
                if identified {
                    backoff.reset();
                    c.telemetry.error(
                        "obs_disconnected",
                        "obs",
                        format!("{}: {reason}", c.creator),
                    );
                }
                let delay = backoff.next_delay();
                tracing::warn!(creator = %c.creator, retry_in_ms = delay.as_millis() as u64, "OBS connection lost: {reason}");
                c.status.lost(&reason);
                tokio::select! {
                    () = c.shutdown.cancelled() => break,
                    () = tokio::time::sleep(delay) => c.status.connecting(),
                }
            }
        }
    }
    c.status.stopped();
}

/// Reports a connection that will not be tried again, once, and leaves it failed.
fn fatal(creator: &str, status: &ObsStatus, telemetry: &Telemetry, reason: &str) {
    tracing::error!(creator, "OBS connection stopped, not retried: {reason}");
    telemetry.error("obs_failed", "obs", format!("{creator}: {reason}"));
    status.failed(reason);
}

struct Worker {
    creator: String,
    jobs: mpsc::Receiver<Job>,
    link: watch::Receiver<Option<Requester>>,
    saved: broadcast::Sender<String>,
    status: ObsStatus,
    telemetry: Telemetry,
    shutdown: CancellationToken,
}

/// Takes requests one at a time, in order, and records each outcome with its cause.
async fn worker(mut w: Worker) {
    loop {
        let job = tokio::select! {
            () = w.shutdown.cancelled() => break,
            job = w.jobs.recv() => match job {
                Some(job) => job,
                None => break,
            },
        };
        let requester = w.link.borrow().clone();
        let result = match requester {
            None => Err(ObsError::NotConnected {
                reason: w
                    .status
                    .snapshot()
                    .last_error
                    .unwrap_or_else(|| "connecting".into()),
            }),
            Some(requester) => execute(&requester, &job.work, &w.saved).await,
        };
        let request = job.work.name();
        match &result {
            Ok(_) => {
                tracing::info!(creator = %w.creator, cause = %job.cause, request, "OBS request done.");
            }
            Err(e) => {
                tracing::warn!(creator = %w.creator, cause = %job.cause, request, "OBS request failed: {e}");
                w.telemetry.error(
                    "obs_request_failed",
                    "obs",
                    format!("{}: {request} ({}): {e}", w.creator, job.cause),
                );
            }
        }
        w.status.outcome(ObsOutcome {
            at: chrono::Utc::now(),
            cause: job.cause.clone(),
            request: request.to_owned(),
            ok: result.is_ok(),
            code: result.as_ref().err().and_then(ObsError::code),
            comment: result.as_ref().err().map(ToString::to_string),
        });
        if let Some(reply) = job.reply {
            let _ = reply.send(result);
        }
    }
    // Anything still queued is answered: the runtime is stopping.
    w.jobs.close();
    while let Ok(job) = w.jobs.try_recv() {
        if let Some(reply) = job.reply {
            let _ = reply.send(Err(ObsError::NotConnected {
                reason: "the runtime is stopping".into(),
            }));
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    request: &'static str,
    answer: Option<Value>,
) -> Result<T, ObsError> {
    crate::wire::from_owned_value(request, answer.unwrap_or(Value::Null)).map_err(|e| {
        ObsError::Unreadable {
            request,
            problem: e.to_string(),
        }
    })
}

fn not_blank<'a>(what: &str, text: &'a str) -> Result<&'a str, ObsError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        Err(ObsError::Invalid(format!(
            "no {what} was named (an empty name cannot match anything in OBS)"
        )))
    } else {
        Ok(trimmed)
    }
}

async fn execute(
    r: &Requester,
    work: &Work,
    saved: &broadcast::Sender<String>,
) -> Result<Answer, ObsError> {
    match work {
        Work::Call(call) => call_obs(r, call).await.map(|()| Answer::Done),
        Work::SaveReplay => save_replay(r, saved).await.map(Answer::Saved),
        Work::Scenes => {
            let list: protocol::SceneList =
                decode("GetSceneList", r.send("GetSceneList", None).await?)?;
            let mut scenes = list.scenes;
            // OBS lists the bottom scene first; its dock shows the top first.
            scenes.sort_by_key(|s| std::cmp::Reverse(s.scene_index.unwrap_or(0)));
            Ok(Answer::Scenes(
                scenes.into_iter().map(|s| s.scene_name).collect(),
            ))
        }
    }
}

/// One call as the requests obs-websocket knows.
async fn call_obs(r: &Requester, call: &ObsCall) -> Result<(), ObsError> {
    match call {
        ObsCall::SwitchScene { scene } => {
            let scene = not_blank("scene", scene)?;
            r.send("SetCurrentProgramScene", Some(json!({"sceneName": scene})))
                .await?;
        }
        ObsCall::SourceVisibility {
            scene,
            source,
            visible,
        } => {
            let scene = not_blank("scene", scene)?;
            let source = not_blank("source", source)?;
            let item: protocol::SceneItemId = decode(
                "GetSceneItemId",
                r.send(
                    "GetSceneItemId",
                    Some(json!({"sceneName": scene, "sourceName": source})),
                )
                .await?,
            )?;
            let enabled = match visible {
                Switch::On => true,
                Switch::Off => false,
                Switch::Toggle => {
                    let now: protocol::SceneItemEnabled = decode(
                        "GetSceneItemEnabled",
                        r.send(
                            "GetSceneItemEnabled",
                            Some(json!({"sceneName": scene, "sceneItemId": item.scene_item_id})),
                        )
                        .await?,
                    )?;
                    !now.scene_item_enabled
                }
            };
            r.send(
                "SetSceneItemEnabled",
                Some(json!({"sceneName": scene, "sceneItemId": item.scene_item_id, "sceneItemEnabled": enabled})),
            )
            .await?;
        }
        ObsCall::InputMute { input, muted } => {
            let input = not_blank("input", input)?;
            match muted {
                Switch::Toggle => {
                    r.send("ToggleInputMute", Some(json!({"inputName": input})))
                        .await?;
                }
                on_off => {
                    r.send(
                        "SetInputMute",
                        Some(json!({"inputName": input, "inputMuted": *on_off == Switch::On})),
                    )
                    .await?;
                }
            }
        }
        ObsCall::ReplayBuffer { op } => {
            let request = match op {
                ReplayBufferOp::Start => "StartReplayBuffer",
                ReplayBufferOp::Stop => "StopReplayBuffer",
                ReplayBufferOp::Save => "SaveReplayBuffer",
            };
            r.send(request, None).await?;
        }
        ObsCall::ChapterMarker { name } => {
            let data = name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| json!({"chapterName": n}));
            r.send("CreateRecordChapter", data).await?;
        }
        ObsCall::Stream { op } => {
            let request = match op {
                StartStop::Start => "StartStream",
                StartStop::Stop => "StopStream",
            };
            r.send(request, None).await?;
        }
    }
    Ok(())
}

/// `GetReplayBufferStatus` → `SaveReplayBuffer` → the path of `ReplayBufferSaved` (or, when the
/// event does not come, `GetLastReplayBufferReplay`).
async fn save_replay(
    r: &Requester,
    saved: &broadcast::Sender<String>,
) -> Result<PathBuf, ObsError> {
    let off = |e: ObsError| match e {
        ObsError::Refused { code, comment, .. }
            if code == protocol::INVALID_RESOURCE_STATE || code == protocol::OUTPUT_NOT_RUNNING =>
        {
            ObsError::ReplayBufferOff {
                detail: comment.unwrap_or_else(|| format!("code {code}")),
            }
        }
        other => other,
    };
    let state: protocol::OutputState = decode(
        "GetReplayBufferStatus",
        r.send("GetReplayBufferStatus", None).await.map_err(off)?,
    )?;
    if !state.output_active {
        return Err(ObsError::ReplayBufferOff {
            detail: "OBS says it is stopped".into(),
        });
    }
    // Subscribed before asking, so the event cannot slip by.
    let mut paths = saved.subscribe();
    r.send("SaveReplayBuffer", None).await.map_err(off)?;
    match tokio::time::timeout(REPLAY_SAVE_WAIT, paths.recv()).await {
        Ok(Ok(path)) => Ok(PathBuf::from(path)),
        _ => {
            let last: protocol::SavedReplay = decode(
                "GetLastReplayBufferReplay",
                r.send("GetLastReplayBufferReplay", None)
                    .await
                    .map_err(|e| {
                        if matches!(e, ObsError::Refused { .. }) {
                            ObsError::NoReplaySaved {
                                seconds: REPLAY_SAVE_WAIT.as_secs(),
                            }
                        } else {
                            e
                        }
                    })?,
            )?;
            Ok(PathBuf::from(last.saved_replay_path))
        }
    }
}
