//! YouTube Live chat over the Data API v3: the [`YoutubeSource`] and the layers under it.
//!
//! - [`wire`]: pure parsers of the JSON answers (chat pages, discovery, the error envelope).
//! - [`client`]: the HTTP transport: auth headers, error classification, redacted URLs.
//! - [`quota`]: the planner: units per Google project and Pacific day, and the poll interval.
//! - [`send`]: reply prefixes and splitting.
//! - [`stream`]: `liveChatMessages.streamList` over gRPC (`"transport": "stream"`), whose batches
//!   are read like `list` pages.
//!
//! The source is a [`Poller`], driven by the polling runner. It is a small state machine:
//! *discovering* (finding the live chat id from `live_chat_id`, `video_id` or `channel_id`, on a
//! budgeted schedule while the channel is offline) and *reading* (`liveChatMessages.list` with the
//! page token, or the next batch of an open `streamList`, reopened from the committed token when it
//! drops). Its cursor is `"{liveChatId}|{pageToken}"`: the runner commits it with the page's
//! events, and passes the committed one back after a restart, so reading resumes at that token on the
//! very first call. A chat that ends (liveChatEnded/NotFound/Disabled, `offlineAt`, a `chatEndedEvent`)
//! sends the source back to discovery. Every call is admitted by the project's quota planner first;
//! quotaExceeded stops all calls until the Pacific-midnight reset.
//!
//! Replies (the runner hands them over between polls) go out through `liveChatMessages.insert`
//! with the OAuth token only; with an API key alone the source says once that it is read-only.

pub mod client;
pub mod platform;
pub mod quota;
pub mod send;
pub mod stream;
pub mod wire;

pub use platform::YOUTUBE;

use crate::command::{CommandKind, CommandSupport, PlatformCommand};
use crate::config::model::PlatformOwn;
use crate::config::secrets::{Secret, Secrets};
use crate::guards::Guard;
use crate::sources::runner::RetryPolicy;
use crate::sources::runner::polling::{Pacer, Polled, Poller};
use crate::sources::runner::serve::{Delivery, DeliveryError, Part};
use crate::sources::{BoxFuture, LiveStream, SourceContext, SourceError};
use chrono::{DateTime, Utc};
use client::{Api, Auth, CallError};
pub use platform::{QuotaCosts, YoutubeQuota, YoutubeSettings, YoutubeTransport, quota_settings};
use quota::{Method, QuotaProject, Refused};
use send::RecentAuthors;
use serde_json::{Value, json};
use sha2::Digest;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wire::BanAnswer;
use wire::{ErrorClass, LiveChat};

/// Message ids remembered to drop the history a page repeats.
const SEEN_IDS: usize = 10_000;
/// Longest a poll waits for the next `streamList` batch before returning to the runner (which
/// sends queued replies between polls).
const STREAM_SLICE: Duration = Duration::from_secs(1);

/// What one wait on an open stream gave.
enum Batch {
    Page(Value),
    /// Nothing within [`STREAM_SLICE`]; the stream stays open.
    Idle,
    /// The server closed the stream cleanly.
    Ended,
}

/// YouTube's own settings in platforms.json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YoutubeEndpoints {
    /// The Data API root (`https://www.googleapis.com/youtube/v3`).
    pub base_url: String,
    /// The gRPC endpoint of `streamList` (`https://youtube.googleapis.com`).
    pub grpc_url: String,
}

impl Default for YoutubeEndpoints {
    fn default() -> YoutubeEndpoints {
        YoutubeEndpoints {
            base_url: client::DEFAULT_BASE_URL.into(),
            grpc_url: stream::DEFAULT_GRPC_URL.into(),
        }
    }
}

impl YoutubeEndpoints {
    pub fn from_platform(own: PlatformOwn<'_>) -> YoutubeEndpoints {
        let default = YoutubeEndpoints::default();
        YoutubeEndpoints {
            base_url: own.str("base_url").unwrap_or(default.base_url),
            grpc_url: own.str("grpc_url").unwrap_or(default.grpc_url),
        }
    }
}

/// Where the chat is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    LiveChat(String),
    Video(String),
    Channel(String),
}

impl Target {
    pub fn from_settings(settings: &YoutubeSettings) -> Result<Target, SourceError> {
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        if let Some(id) = given(&settings.live_chat_id) {
            Ok(Target::LiveChat(id.to_owned()))
        } else if let Some(id) = given(&settings.video_id) {
            Ok(Target::Video(id.to_owned()))
        } else if let Some(id) = given(&settings.channel_id) {
            Ok(Target::Channel(id.to_owned()))
        } else {
            Err(SourceError::InvalidSettings(
                "the youtube block needs one of live_chat_id, video_id or channel_id".into(),
            ))
        }
    }
}

/// The Google project a source spends from: `quota_project` when named, else one per API key
/// (a short hash: the key itself never leaves `Secrets`), else one per OAuth token variable.
pub fn project_id(settings: &YoutubeSettings, secrets: &Secrets) -> String {
    if let Some(name) = settings.quota_project.as_deref().filter(|n| !n.is_empty()) {
        return name.to_owned();
    }
    if let Some(env) = settings.api_key_env.as_deref() {
        return match secrets.get(env) {
            Some(key) => {
                let digest = sha2::Sha256::digest(key.expose().as_bytes());
                let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
                format!("key-{hex}")
            }
            None => format!("key-env-{env}"),
        };
    }
    match settings.oauth_token_env.as_deref() {
        Some(env) => format!("oauth-{env}"),
        None => "unauthenticated".into(),
    }
}

/// Where the time comes from: the system clock, or tokio's (paused in tests) from a given start.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    pub fn system() -> Clock {
        Clock(Arc::new(Utc::now))
    }

    /// `start`, advanced by tokio's clock from now on (which a test may pause and advance).
    pub fn tokio_from(start: DateTime<Utc>) -> Clock {
        let origin = tokio::time::Instant::now();
        Clock(Arc::new(move || {
            start + chrono::Duration::from_std(origin.elapsed()).unwrap_or_default()
        }))
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Discovering,
    Reading { chat: String },
}

/// The credentials, read on the first poll.
#[derive(Clone)]
struct Credentials {
    read: Auth,
    oauth: Option<Secret>,
}

/// Ids of messages already handed over (bounded).
#[derive(Debug, Default)]
struct Seen {
    order: VecDeque<String>,
    ids: HashSet<String>,
}

impl Seen {
    fn insert(&mut self, id: String) {
        if self.ids.contains(&id) {
            return;
        }
        if self.order.len() == SEEN_IDS
            && let Some(old) = self.order.pop_front()
        {
            self.ids.remove(&old);
        }
        self.order.push_back(id.clone());
        self.ids.insert(id);
    }
}

/// The pacer the runner asks: the planner's interval while polling a chat; nothing while discovering
/// or streaming (the server pushes; a connection is what costs).
struct YoutubePacer {
    project: Arc<QuotaProject>,
    reader: String,
    reading: Arc<Mutex<bool>>,
    streaming: bool,
    clock: Clock,
}

impl Pacer for YoutubePacer {
    fn interval(&self) -> Duration {
        if !self.streaming && *self.reading.lock().unwrap_or_else(|p| p.into_inner()) {
            self.project.poll_interval(&self.reader, self.clock.now())
        } else {
            Duration::ZERO
        }
    }
}

/// One creator's YouTube chat.
pub struct YoutubeSource {
    creator: String,
    target: Target,
    transport: YoutubeTransport,
    /// The open `streamList` connection (stream transport).
    stream: Option<stream::Stream>,
    api_key_env: Option<String>,
    oauth_token_env: Option<String>,
    endpoints: YoutubeEndpoints,
    discovery_interval: Duration,
    project: Arc<QuotaProject>,
    clock: Clock,
    api: Option<Api>,
    credentials: Option<Credentials>,
    phase: Phase,
    reading: Arc<Mutex<bool>>,
    /// Ids handed over in pages the runner has accepted.
    seen: Seen,
    /// The last page's ids and the cursor after it: seen once the runner moves to that cursor.
    pending: Option<(String, Vec<String>)>,
    /// Read the current chat from its start: the committed token was refused.
    drop_token: bool,
    authors: RecentAuthors,
    /// The ids of the bans this source made, for lifting them.
    bans: send::Bans,
    /// The platform's reference for the part just delivered (a ban id), for its receipt.
    answer: Option<String>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for YoutubeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YoutubeSource")
            .field("creator", &self.creator)
            .field("target", &self.target)
            .field("project", &self.project.id())
            .finish_non_exhaustive()
    }
}

impl YoutubeSource {
    pub fn new(
        creator: &str,
        settings: &YoutubeSettings,
        project: Arc<QuotaProject>,
    ) -> Result<YoutubeSource, SourceError> {
        if settings.api_key_env.is_none() && settings.oauth_token_env.is_none() {
            return Err(SourceError::InvalidSettings(
                "the youtube block needs api_key_env or oauth_token_env".into(),
            ));
        }
        Ok(YoutubeSource {
            creator: creator.to_owned(),
            target: Target::from_settings(settings)?,
            transport: settings.transport,
            stream: None,
            api_key_env: settings.api_key_env.clone(),
            oauth_token_env: settings.oauth_token_env.clone(),
            endpoints: YoutubeEndpoints::default(),
            discovery_interval: Duration::from_secs(settings.discovery_interval_s.max(1)),
            project,
            clock: Clock::system(),
            api: None,
            credentials: None,
            phase: Phase::Discovering,
            reading: Arc::default(),
            seen: Seen::default(),
            pending: None,
            drop_token: false,
            authors: RecentAuthors::default(),
            bans: send::Bans::default(),
            answer: None,
            retry: RetryPolicy::default(),
        })
    }

    pub fn with_endpoints(mut self, endpoints: YoutubeEndpoints) -> YoutubeSource {
        self.endpoints = endpoints;
        self
    }

    /// Calls go through `transport` instead of HTTP to `base_url`.
    pub fn with_transport(mut self, transport: Arc<dyn client::Transport>) -> YoutubeSource {
        self.api = Some(Api::with_transport(transport));
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> YoutubeSource {
        self.clock = clock;
        self
    }

    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> YoutubeSource {
        self.retry = retry;
        self
    }

    fn quota(&self) -> &YoutubeQuota {
        self.project.quota()
    }

    /// Reads the credentials and builds the client, once.
    fn ready(&mut self, ctx: &SourceContext) -> Result<(), SourceError> {
        if self.credentials.is_some() && self.api.is_some() {
            return Ok(());
        }
        let read_env = |env: &str| {
            ctx.secrets
                .get(env)
                .ok_or_else(|| SourceError::MissingCredentials(env.to_owned()))
        };
        let oauth = match &self.oauth_token_env {
            Some(env) => match ctx.secrets.get(env) {
                Some(token) => Some(token),
                None if self.api_key_env.is_some() => None,
                None => return Err(SourceError::MissingCredentials(env.clone())),
            },
            None => None,
        };
        let read = match &self.api_key_env {
            Some(env) => Auth::ApiKey(read_env(env)?),
            None => Auth::Bearer(oauth.clone().ok_or_else(|| {
                SourceError::InvalidSettings(
                    "the youtube block needs api_key_env or oauth_token_env".into(),
                )
            })?),
        };
        if oauth.is_none() {
            let why = match &self.oauth_token_env {
                Some(env) => format!("{env} is not set"),
                None => "the youtube block has no oauth_token_env".to_owned(),
            };
            ctx.report.warning(&format!(
                "{}/youtube is read-only: replies need an OAuth token and {why}; an API key cannot post.",
                self.creator
            ));
        }
        if self.api.is_none() {
            self.api = Some(
                Api::new(&self.endpoints.base_url)
                    .map_err(|e| SourceError::InvalidSettings(e.to_string()))?,
            );
        }
        self.credentials = Some(Credentials { read, oauth });
        Ok(())
    }

    fn set_reading(&mut self, ctx: &SourceContext, chat: Option<(String, DateTime<Utc>)>) {
        let now = self.clock.now();
        match chat {
            Some((chat, started)) => {
                tracing::info!(creator = %self.creator, platform = "youtube", live_chat_id = %chat, started_at = %started, "Live chat found; reading.");
                self.project.set_reader(&self.creator, Some(started), now);
                ctx.report.live(Some(LiveStream {
                    id: chat.clone(),
                    started_at: started,
                    title: None,
                    url: None,
                }));
                self.phase = Phase::Reading { chat };
                *self.reading.lock().unwrap_or_else(|p| p.into_inner()) = true;
            }
            None => {
                self.project.set_reader(&self.creator, None, now);
                ctx.report.live(None);
                self.phase = Phase::Discovering;
                self.pending = None;
                self.stream = None;
                *self.reading.lock().unwrap_or_else(|p| p.into_inner()) = false;
            }
        }
    }

    /// Admits one call of `method`, or the error that makes the runner wait until the planner allows.
    async fn spend(&self, method: Method) -> Result<(), SourceError> {
        let now = self.clock.now();
        self.project.spend(method, now).await.map_err(|refused| {
            let wait = (refused.until() - now).to_std().unwrap_or_default();
            match refused {
                Refused::Exhausted { until } => SourceError::Throttled {
                    kind: "quota_exceeded",
                    message: format!(
                        "YouTube quota of project {} is exhausted (quotaExceeded); no calls until the reset at {until}",
                        self.project.id()
                    ),
                    retry_after: wait,
                },
                Refused::OverBudget { until } => SourceError::Throttled {
                    kind: "quota_budget",
                    message: format!(
                        "the day's budget for {} of project {} is spent (hard_cap_units {}, reserve_units {}); waiting for the reset at {until}",
                        method.as_str(),
                        self.project.id(),
                        self.quota().hard_cap_units,
                        self.quota().reserve_units
                    ),
                    retry_after: wait,
                },
            }
        })
    }

    /// What the runner does about a failed call.
    fn call_error(&self, what: &str, error: CallError) -> SourceError {
        match error {
            CallError::Transport(message) => SourceError::Other(message),
            CallError::Api(api) => match api.class() {
                ErrorClass::QuotaExceeded => {
                    let until = self.project.exhausted(self.clock.now());
                    SourceError::Throttled {
                        kind: "quota_exceeded",
                        message: format!(
                            "YouTube {what}: {api}; project {} makes no calls until the reset at {until}",
                            self.project.id()
                        ),
                        retry_after: (until - self.clock.now()).to_std().unwrap_or_default(),
                    }
                }
                ErrorClass::Credentials => SourceError::LoginFailed(format!(
                    "YouTube {what}: {api}; check the API key / OAuth token and that the YouTube Data API is enabled for its project"
                )),
                _ => SourceError::Other(format!("YouTube {what}: {api}")),
            },
        }
    }

    fn api(&self) -> Result<(&Api, &Credentials), SourceError> {
        match (&self.api, &self.credentials) {
            (Some(api), Some(c)) => Ok((api, c)),
            _ => Err(SourceError::Other("the YouTube client is not ready".into())),
        }
    }

    /// One discovery attempt: the live chat, or `None` while offline.
    async fn discover(&mut self) -> Result<(Option<LiveChat>, Method), SourceError> {
        let target = self.target.clone();
        match target {
            Target::LiveChat(id) => Ok((
                Some(LiveChat {
                    live_chat_id: id,
                    started_at: None,
                }),
                Method::VideosList,
            )),
            Target::Video(video) => Ok((self.video(&video).await?, Method::VideosList)),
            Target::Channel(channel) => {
                let oauth = self.api()?.1.oauth.clone();
                if let Some(token) = oauth {
                    self.spend(Method::LiveBroadcastsList).await?;
                    let (api, _) = self.api()?;
                    let body = api
                        .get(
                            "liveBroadcasts",
                            &[
                                ("part", "snippet"),
                                ("broadcastStatus", "active"),
                                ("broadcastType", "all"),
                            ],
                            &Auth::Bearer(token),
                        )
                        .await
                        .map_err(|e| self.call_error("liveBroadcasts.list", e))?;
                    let found = wire::parse_broadcasts(&body).map_err(wire_error)?;
                    return Ok((found, Method::LiveBroadcastsList));
                }
                self.spend(Method::SearchList).await?;
                let (api, creds) = self.api()?;
                let body = api
                    .get(
                        "search",
                        &[
                            ("part", "id"),
                            ("channelId", &channel),
                            ("eventType", "live"),
                            ("type", "video"),
                        ],
                        &creds.read,
                    )
                    .await
                    .map_err(|e| self.call_error("search.list", e))?;
                match wire::parse_search(&body).map_err(wire_error)?.first() {
                    Some(video) => Ok((self.video(video).await?, Method::SearchList)),
                    None => Ok((None, Method::SearchList)),
                }
            }
        }
    }

    async fn video(&self, video: &str) -> Result<Option<LiveChat>, SourceError> {
        self.spend(Method::VideosList).await?;
        let (api, creds) = self.api()?;
        let body = api
            .get(
                "videos",
                &[("part", "liveStreamingDetails"), ("id", video)],
                &creds.read,
            )
            .await
            .map_err(|e| self.call_error("videos.list", e))?;
        wire::parse_video(&body).map_err(wire_error)
    }

    async fn poll_once(
        &mut self,
        ctx: &SourceContext,
        cursor: Option<&str>,
    ) -> Result<Polled, SourceError> {
        self.ready(ctx)?;
        if self.phase == Phase::Discovering {
            let (found, method) = self.discover().await?;
            match found {
                Some(chat) => {
                    let started = chat.started_at.unwrap_or_else(|| self.clock.now());
                    self.set_reading(ctx, Some((chat.live_chat_id, started)));
                }
                None => {
                    ctx.report.live(None);
                    let wait = self.project.discovery_interval(
                        method,
                        self.discovery_interval,
                        self.clock.now(),
                    );
                    tracing::info!(creator = %self.creator, platform = "youtube", retry_in_s = wait.as_secs(), "Not live; looking again later.");
                    return Ok(Polled {
                        events: Vec::new(),
                        cursor: None,
                        interval_hint: Some(wait),
                    });
                }
            }
        }
        let Phase::Reading { chat } = self.phase.clone() else {
            return Err(SourceError::Other("not reading a chat".into()));
        };
        // The runner moved past the last page: its ids are handed over. If it did not (the lane
        // dropped the page), the page comes again and must not be filtered; an open stream has moved
        // past it, so it is reopened from the runner's cursor.
        if let Some((after, ids)) = self.pending.take() {
            if cursor == Some(after.as_str()) {
                ids.into_iter().for_each(|id| self.seen.insert(id));
            } else {
                self.stream = None;
            }
        }
        let token = match cursor.and_then(|c| c.split_once('|')) {
            Some((c, token)) if c == chat && !token.is_empty() && !self.drop_token => {
                Some(token.to_owned())
            }
            _ => None,
        };
        let (body, hint) = match self.transport {
            YoutubeTransport::List => match self.list(&chat, token.as_deref()).await? {
                Ok(body) => (body, None),
                Err(e) => return self.read_error(ctx, &chat, e),
            },
            YoutubeTransport::Stream => match self.streamed(&chat, token.as_deref()).await? {
                Ok(Batch::Page(body)) => (body, Some(Duration::ZERO)),
                Ok(Batch::Idle) => {
                    // Nothing pushed for a while: hand control back so replies go out.
                    return Ok(Polled {
                        events: Vec::new(),
                        cursor: None,
                        interval_hint: Some(Duration::ZERO),
                    });
                }
                Ok(Batch::Ended) => {
                    // The server closed the stream: reopen it from the committed cursor.
                    self.stream = None;
                    tracing::debug!(creator = %self.creator, platform = "youtube", "streamList ended; reconnecting.");
                    return Ok(Polled {
                        events: Vec::new(),
                        cursor: None,
                        interval_hint: Some(Duration::ZERO),
                    });
                }
                Err(e) => {
                    self.stream = None;
                    return self.read_error(ctx, &chat, e);
                }
            },
        };
        self.page(ctx, &chat, token, &body, hint)
    }

    /// One `liveChatMessages.list` call; the outer error when no call may be made.
    async fn list(
        &mut self,
        chat: &str,
        token: Option<&str>,
    ) -> Result<Result<Value, CallError>, SourceError> {
        self.spend(Method::List).await?;
        let (api, creds) = self.api()?;
        let mut query = vec![
            ("liveChatId", chat),
            ("part", "snippet,authorDetails"),
            ("maxResults", "2000"),
        ];
        if let Some(token) = token {
            query.push(("pageToken", token));
        }
        Ok(api.get("liveChat/messages", &query, &creds.read).await)
    }

    /// The next `streamList` batch, opening the stream from `token` first when none is open (each
    /// connection is counted like one `list` call).
    async fn streamed(
        &mut self,
        chat: &str,
        token: Option<&str>,
    ) -> Result<Result<Batch, CallError>, SourceError> {
        if self.stream.is_none() {
            self.spend(Method::List).await?;
            let auth = self.api()?.1.read.clone();
            match stream::Stream::open(&self.endpoints.grpc_url, chat, token, &auth).await {
                Ok(open) => self.stream = Some(open),
                Err(e) => return Ok(Err(e)),
            }
        }
        let Some(open) = self.stream.as_mut() else {
            return Err(SourceError::Other("the stream is not open".into()));
        };
        // Bounded, so a quiet chat still returns to the runner, which sends replies between polls.
        // `Streaming::message` keeps its state in the stream, so abandoning a wait loses nothing.
        match tokio::time::timeout(STREAM_SLICE, open.next()).await {
            Err(_) => Ok(Ok(Batch::Idle)),
            Ok(batch) => Ok(batch.map(|b| match b {
                Some(response) => Batch::Page(stream::response_json(&response)),
                None => Batch::Ended,
            })),
        }
    }

    /// What a failed read does: back to discovery when the chat is gone, else the runner's error.
    fn read_error(
        &mut self,
        ctx: &SourceContext,
        chat: &str,
        error: CallError,
    ) -> Result<Polled, SourceError> {
        match error {
            CallError::Api(e) if e.class() == ErrorClass::ChatGone => {
                tracing::info!(creator = %self.creator, platform = "youtube", live_chat_id = %chat, "The live chat is gone ({e}); back to discovery.");
                self.set_reading(ctx, None);
                Ok(Polled {
                    events: Vec::new(),
                    cursor: None,
                    interval_hint: Some(self.discovery_interval),
                })
            }
            CallError::Api(e) if e.class() == ErrorClass::BadPageToken => {
                self.drop_token = true;
                Err(SourceError::Other(format!(
                    "YouTube liveChatMessages.list: {e}; reading the chat again from its start"
                )))
            }
            e => Err(self.call_error("liveChatMessages.list", e)),
        }
    }

    /// A page of chat (either transport) as the runner's [`Polled`].
    fn page(
        &mut self,
        ctx: &SourceContext,
        chat: &str,
        token: Option<String>,
        body: &Value,
        hint: Option<Duration>,
    ) -> Result<Polled, SourceError> {
        self.drop_token = false;
        let page = wire::parse_list(body, &self.creator, chat).map_err(wire_error)?;
        if let Some(first) = page.skipped.first() {
            ctx.guards
                .count(Guard::EventsUnreadable, page.skipped.len() as u64);
            tracing::warn!(creator = %self.creator, platform = "youtube", skipped = page.skipped.len(), "Skipped chat items that cannot be read; the first: {first}");
        }
        let next = page.next_page_token.clone().or(token).unwrap_or_default();
        let next_cursor = format!("{chat}|{next}");
        let events: Vec<_> = page
            .events
            .into_iter()
            .filter(|e| !self.seen.ids.contains(e.message_id.as_str()))
            .collect();
        for e in &events {
            self.authors.remember(&e.message_id, &e.author.display_name);
        }
        self.pending = Some((
            next_cursor.clone(),
            events.iter().map(|e| e.message_id.to_string()).collect(),
        ));
        let ended = page.chat_ended || page.offline_at.is_some();
        let hint = if ended {
            tracing::info!(creator = %self.creator, platform = "youtube", live_chat_id = %chat, "The chat ended; back to discovery.");
            self.set_reading(ctx, None);
            Some(self.discovery_interval)
        } else {
            hint.or(page.polling_interval)
        };
        Ok(Polled {
            events,
            cursor: Some(next_cursor),
            interval_hint: hint,
        })
    }

    /// The `@Name ` a reply is prefixed with (YouTube has no threaded replies), when the author of
    /// the message it answers is remembered.
    fn reply_prefix(&self, command: &PlatformCommand) -> Option<String> {
        match &command.kind {
            CommandKind::Reply { reply_to, .. } => {
                self.authors.get(reply_to).map(|name| format!("@{name} "))
            }
            _ => None,
        }
    }

    /// Carries out one part, each call admitted by the quota planner first: a post with
    /// `liveChatMessages.insert`, a delete with `liveChatMessages.delete`, a timeout or ban with
    /// `liveChatBans.insert` (the user is their channel id, the author id YouTube events carry).
    async fn deliver_part(&mut self, part: &Part) -> Result<(), DeliveryError> {
        let Some(token) = self.credentials.as_ref().and_then(|c| c.oauth.clone()) else {
            return Err(DeliveryError::Failed(SourceError::MissingCredentials(
                self.oauth_token_env
                    .clone()
                    .unwrap_or_else(|| "oauth_token_env".into()),
            )));
        };
        let Phase::Reading { chat } = self.phase.clone() else {
            return Err(DeliveryError::Failed(SourceError::Other(
                "no live chat to act in (the channel is not live)".into(),
            )));
        };
        let auth = Auth::Bearer(token);
        let ban = |kind: &str, user: &crate::command::TargetUser, seconds: Option<u32>| {
            let mut snippet = json!({"liveChatId": chat, "type": kind,
                "bannedUserDetails": {"channelId": user.id}});
            if let Some(seconds) = seconds {
                // uint64, written as a JSON string.
                snippet["banDurationSeconds"] =
                    json!(seconds.clamp(1, send::MAX_TIMEOUT_SECONDS).to_string());
            }
            json!({ "snippet": snippet })
        };
        self.answer = None;
        let (method, result) = match &part.command.kind {
            CommandKind::Say { text } | CommandKind::Reply { text, .. } => {
                let text = format!(
                    "{}{text}",
                    self.reply_prefix(&part.command).unwrap_or_default()
                );
                self.spend(Method::Insert).await?;
                let (api, _) = self.api()?;
                let body = json!({"snippet": {"liveChatId": chat, "type": "textMessageEvent",
                    "textMessageDetails": {"messageText": text}}});
                let sent = api
                    .post("liveChat/messages", &[("part", "snippet")], &body, &auth)
                    .await;
                (Method::Insert, sent)
            }
            CommandKind::DeleteMessage { message_id } => {
                self.spend(Method::MessagesDelete).await?;
                let (api, _) = self.api()?;
                let sent = api
                    .delete("liveChat/messages", &[("id", message_id)], &auth)
                    .await;
                (Method::MessagesDelete, sent)
            }
            CommandKind::Timeout { user, .. } | CommandKind::Ban { user, .. } => {
                let body = match &part.command.kind {
                    CommandKind::Timeout { seconds, .. } => ban("temporary", user, Some(*seconds)),
                    _ => ban("permanent", user, None),
                };
                self.spend(Method::BansInsert).await?;
                let (api, _) = self.api()?;
                let sent = api
                    .post("liveChat/bans", &[("part", "snippet")], &body, &auth)
                    .await;
                if let Ok(answer) = &sent {
                    // The ban's id: lifting it needs it, and the audit keeps it.
                    match crate::wire::from_value::<BanAnswer>(
                        "the YouTube liveChatBans.insert answer",
                        answer,
                    ) {
                        Ok(BanAnswer { id }) => {
                            self.bans.remember(&user.id, &id);
                            self.answer = Some(id);
                        }
                        Err(e) => {
                            tracing::warn!(creator = %self.creator, platform = "youtube", cause = %part.command.cause, "The ban was made, but its answer has no id, so it cannot be lifted through the API: {e}")
                        }
                    }
                }
                (Method::BansInsert, sent)
            }
            CommandKind::Unban { user } => {
                let Some(id) = self.bans.take(&user.id) else {
                    return Err(DeliveryError::Failed(SourceError::InvalidSettings(
                        format!(
                            "no ban of {} made by this run is known, and YouTube lifts a ban only by its id; lift it in YouTube Studio",
                            user.login
                        ),
                    )));
                };
                self.spend(Method::BansDelete).await?;
                let (api, _) = self.api()?;
                let sent = api.delete("liveChat/bans", &[("id", &id)], &auth).await;
                (Method::BansDelete, sent)
            }
            other => {
                return Err(DeliveryError::Failed(SourceError::InvalidSettings(
                    format!("youtube cannot {}", other.name()),
                )));
            }
        };
        result.map(|_: Value| ()).map_err(|e| {
            let passing = match &e {
                CallError::Transport(_) => true,
                CallError::Api(api) => {
                    api.status >= 500 || api.status == 429 || api.class() == ErrorClass::RateLimited
                }
            };
            let error = self.call_error(method.as_str(), e);
            if passing {
                DeliveryError::Transient(error)
            } else {
                DeliveryError::Failed(error)
            }
        })
    }
}

impl Delivery for YoutubeSource {
    fn max_chars(&self, command: &PlatformCommand) -> usize {
        let prefix = self.reply_prefix(command).map_or(0, |p| p.chars().count());
        send::MAX_MESSAGE_CHARS.saturating_sub(prefix).max(1)
    }

    fn deliver<'a>(&'a mut self, part: &'a Part) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(self.deliver_part(part))
    }

    fn answer(&mut self) -> Option<String> {
        self.answer.take()
    }
}

/// An answer that is not what the API documents: the runner's error, with where and why.
fn wire_error(e: crate::wire::WireError) -> SourceError {
    SourceError::Other(e.to_string())
}

impl Poller for YoutubeSource {
    fn poll<'a>(
        &'a mut self,
        ctx: &'a SourceContext,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Polled, SourceError>> {
        Box::pin(self.poll_once(ctx, cursor))
    }

    fn min_interval(&self) -> Duration {
        Duration::from_millis(self.quota().min_interval_ms)
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    fn pacer(&self) -> Option<Arc<dyn Pacer>> {
        Some(Arc::new(YoutubePacer {
            project: self.project.clone(),
            reader: self.creator.clone(),
            reading: self.reading.clone(),
            streaming: self.transport == YoutubeTransport::Stream,
            clock: self.clock.clone(),
        }))
    }

    fn commands(&self) -> CommandSupport {
        if self.oauth_token_env.is_none() {
            return CommandSupport::none(
                "read-only: posting needs an OAuth token; set oauth_token_env in the creator's youtube block",
            );
        }
        CommandSupport::new(send::COMMANDS, "YouTube has no announcements")
    }

    fn delivery(&mut self) -> Option<&mut dyn Delivery> {
        Some(self)
    }
}
