//! Rumble chat: the [`RumbleSource`] and the layers under it.
//!
//! - [`wire`]: pure parsers of the Live Stream API answer, with the ids derived for items that
//!   have none.
//! - [`cursor`]: the checkpoint of a window-of-recent-items API.
//! - [`sse`]: the chat's event stream: framing and events, normalized like the API's.
//! - [`client`]: the HTTP calls, whose errors never carry the secret URL.
//!
//! The source is a [`Poller`]. With `transport: "api"` (the default) each poll is one call of the
//! official Live Stream API every `poll_interval_s` (never under Rumble's 5 s), read from the URL in
//! `api_url_env`: the URL embeds the key, so it is a secret, registered with `Secrets` (the URL and
//! the key inside it) and never printed. The answer's chat, rants, followers, subscribers and gifted
//! subscriptions become events; `is_live` is the go-live state. With `transport: "sse"` the API is
//! still called on the same schedule (go-live, followers, subscriptions, and chat as a safety net),
//! and between those calls the source reads the chat's event stream for the messages as they come.
//! An HTTP 204 from the stream is its keepalive: asked again after [`KEEPALIVE_RETRY`], no backoff,
//! not a failure (a stream the server ends is reopened after the same pause). An answer that is not an event stream is counted (`not_event_streams`), and after
//! `sse_max_failures` failed openings in a row the source falls back to the API alone for the rest
//! of the run. Both paths give a message the same derived id, so nothing is counted twice.
//!
//! Rumble has no official chat-send API (the internal one needs a browser session cookie), so the
//! source is read-only ([`COMMANDS`] is empty): the command sink refuses every command for it before
//! queueing, counts it, and reports it once per creator and kind.

pub mod client;
pub mod cursor;
pub mod platform;
pub mod sse;
pub mod wire;

pub use platform::RUMBLE;

use crate::config::model::PlatformOwn;
use crate::config::secrets::Secret;
use crate::event::ChatEvent;
use crate::guards::Guard;
use crate::sources::runner::polling::{Polled, Poller};
use crate::sources::{BoxFuture, LiveStream, SourceContext, SourceError};
use client::{ChatStream, Http, Opened};
use cursor::Cursor;
pub use platform::{RumbleSettings, RumbleTransport};
use std::time::Duration;
use tokio::time::Instant;

/// What Rumble can do: nothing, its API is read-only.
pub const COMMANDS: crate::command::CommandSet = crate::command::CommandSet::NONE;

/// Rumble's own default chat stream host.
pub const DEFAULT_SSE_BASE_URL: &str = "https://web7.rumble.com";
/// How soon the stream is asked again after a 204 keepalive.
pub const KEEPALIVE_RETRY: Duration = Duration::from_secs(1);
/// Longest a poll waits on the open stream before returning to the runner (which then commits what
/// came and waits for nothing: the next poll reads on).
const STREAM_SLICE: Duration = Duration::from_secs(1);

/// Rumble's own settings in platforms.json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RumbleEndpoints {
    /// Where the chat's event stream is served (`https://web7.rumble.com`).
    pub sse_base_url: String,
}

impl Default for RumbleEndpoints {
    fn default() -> RumbleEndpoints {
        RumbleEndpoints {
            sse_base_url: DEFAULT_SSE_BASE_URL.into(),
        }
    }
}

impl RumbleEndpoints {
    pub fn from_platform(own: PlatformOwn<'_>) -> RumbleEndpoints {
        RumbleEndpoints {
            sse_base_url: own
                .str("sse_base_url")
                .unwrap_or_else(|| DEFAULT_SSE_BASE_URL.into()),
        }
    }
}

/// The open event stream and what is read from it.
struct OpenStream {
    stream: ChatStream,
    framer: sse::Framer,
    stream_id: String,
}

/// One creator's Rumble chat.
pub struct RumbleSource {
    creator: String,
    api_url_env: String,
    interval: Duration,
    stream_id: Option<String>,
    sse_max_failures: u32,
    endpoints: RumbleEndpoints,
    http: Option<Http>,
    url: Option<Secret>,
    /// Reading the event stream (`transport: "sse"` and not fallen back).
    sse_on: bool,
    stream: Option<OpenStream>,
    /// Failed stream openings in a row.
    sse_failures: u32,
    /// When the API is called next (in `sse` mode, where polls come more often).
    api_due: Option<Instant>,
    /// The base-36 id of the stream the API last said is live.
    live_id: Option<String>,
    /// The events' channel and the channel owner's name, from the last API answer.
    channel: String,
}

impl std::fmt::Debug for RumbleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RumbleSource")
            .field("creator", &self.creator)
            .field("api_url_env", &self.api_url_env)
            .field("sse_on", &self.sse_on)
            .finish_non_exhaustive()
    }
}

/// The value of the `key` query parameter of `url`, if any.
fn key_in(url: &str) -> Option<&str> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case("key"))
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

impl RumbleSource {
    pub fn new(creator: &str, settings: &RumbleSettings) -> Result<RumbleSource, SourceError> {
        let api_url_env = settings
            .api_url_env
            .clone()
            .filter(|e| !e.is_empty())
            .ok_or_else(|| {
                SourceError::InvalidSettings(
                    "the rumble block needs api_url_env: the environment variable holding the Live Stream API URL from https://rumble.com/account/livestream-api".into(),
                )
            })?;
        let seconds = if settings.poll_interval_s.is_finite() {
            settings
                .poll_interval_s
                .max(RumbleSettings::MIN_POLL_INTERVAL_S)
        } else {
            RumbleSettings::MIN_POLL_INTERVAL_S
        };
        Ok(RumbleSource {
            creator: creator.to_owned(),
            api_url_env,
            interval: Duration::from_secs_f64(seconds),
            stream_id: settings
                .stream_id
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            sse_max_failures: settings.sse_max_failures.max(1),
            endpoints: RumbleEndpoints::default(),
            http: None,
            url: None,
            sse_on: settings.transport == RumbleTransport::Sse,
            stream: None,
            sse_failures: 0,
            api_due: None,
            live_id: None,
            channel: String::new(),
        })
    }

    pub fn with_endpoints(mut self, endpoints: RumbleEndpoints) -> RumbleSource {
        self.endpoints = endpoints;
        self
    }

    /// Reads the URL (a secret, with the key inside it registered too) and builds the client, once.
    fn ready(&mut self, ctx: &SourceContext) -> Result<(), SourceError> {
        if self.url.is_some() && self.http.is_some() {
            return Ok(());
        }
        let env = &self.api_url_env;
        let url = ctx
            .secrets
            .get(env)
            .ok_or_else(|| SourceError::MissingCredentials(env.clone()))?;
        if let Some(key) = key_in(url.expose()) {
            ctx.secrets.scrub_also(key);
        }
        let text = url.expose().trim();
        if !(text.starts_with("https://") || text.starts_with("http://")) {
            return Err(SourceError::InvalidSettings(format!(
                "{env} does not hold an http(s) URL; copy the whole Live Stream API URL from https://rumble.com/account/livestream-api"
            )));
        }
        self.http = Some(Http::new()?);
        self.url = Some(url);
        tracing::info!(
            creator = %self.creator,
            platform = "rumble",
            interval_s = self.interval.as_secs_f64(),
            sse = self.sse_on,
            "Reading Rumble chat (read-only: Rumble has no chat-send API; replies are counted as dropped)."
        );
        Ok(())
    }

    fn until_api_due(&self) -> Duration {
        self.api_due.map_or(Duration::ZERO, |due| {
            due.saturating_duration_since(Instant::now())
        })
    }

    /// One call of the Live Stream API: the new items (advancing `mark`), and the go-live state.
    async fn api_poll(
        &mut self,
        ctx: &SourceContext,
        mark: &mut Cursor,
    ) -> Result<Vec<ChatEvent>, SourceError> {
        let (Some(http), Some(url)) = (&self.http, &self.url) else {
            return Err(SourceError::Other("the Rumble client is not ready".into()));
        };
        self.api_due = Some(Instant::now() + self.interval);
        let body = http.get_api(url, &self.api_url_env).await?;
        let page =
            wire::parse_api(&body, &self.creator).map_err(|e| SourceError::Other(e.to_string()))?;
        self.channel = page.channel.clone();
        if let Some(first) = page.skipped.first() {
            ctx.guards
                .count(Guard::EventsUnreadable, page.skipped.len() as u64);
            tracing::warn!(creator = %self.creator, platform = "rumble", skipped = page.skipped.len(), "Skipped Rumble items that cannot be read; the first: {first}");
        }
        match page.live {
            Some(live) => {
                if self.live_id.as_deref() != Some(live.id.as_str()) {
                    tracing::info!(creator = %self.creator, platform = "rumble", livestream_id = %live.id, "The Rumble stream is live.");
                    // A new stream: an open chat stream belongs to the last one.
                    if self.stream_id.is_none() {
                        self.stream = None;
                    }
                }
                self.live_id = Some(live.id.clone());
                ctx.report.live(Some(LiveStream {
                    id: live.id,
                    started_at: live.started_at.unwrap_or_else(chrono::Utc::now),
                    title: live.title,
                    url: None,
                }));
            }
            None => {
                if self.live_id.take().is_some() {
                    tracing::info!(creator = %self.creator, platform = "rumble", "The Rumble stream is offline.");
                }
                ctx.report.live(None);
            }
        }
        let mut events: Vec<ChatEvent> = page
            .items
            .into_iter()
            .filter(|item| {
                let (at, id) = (item.event.timestamp, item.event.message_id.as_str());
                let new = mark.is_new(item.list, at, id);
                if new {
                    mark.advance(item.list, at, id);
                }
                new
            })
            .map(|item| item.event)
            .collect();
        events.sort_by_key(|e| e.timestamp);
        Ok(events)
    }

    /// A failed stream opening or a broken stream: an error for the runner, or, at the limit, the
    /// fall back to the API (polled at once).
    async fn stream_failed(
        &mut self,
        ctx: &SourceContext,
        mut mark: Cursor,
        why: String,
    ) -> Result<Polled, SourceError> {
        self.stream = None;
        self.sse_failures += 1;
        if self.sse_failures < self.sse_max_failures {
            return Err(SourceError::Other(format!(
                "Rumble chat stream ({} of {} failures before falling back to the API): {why}",
                self.sse_failures, self.sse_max_failures
            )));
        }
        self.sse_on = false;
        ctx.report.warning(&format!(
            "{}/rumble: the chat stream failed {} times in a row (last: {why}); reading the Live Stream API every {}s from now on",
            self.creator,
            self.sse_failures,
            self.interval.as_secs_f64()
        ));
        let events = self.api_poll(ctx, &mut mark).await?;
        Ok(Polled {
            events,
            cursor: Some(mark.to_text()),
            interval_hint: Some(self.interval),
        })
    }

    /// What the event stream gives within one slice.
    async fn stream_poll(
        &mut self,
        ctx: &SourceContext,
        mut mark: Cursor,
    ) -> Result<Polled, SourceError> {
        let quiet = |wait: Duration| Polled {
            events: Vec::new(),
            cursor: None,
            interval_hint: Some(wait),
        };
        let stream_id = self
            .stream_id
            .clone()
            .or_else(|| self.live_id.as_deref().and_then(wire::base36_to_base10));
        let Some(stream_id) = stream_id else {
            // Nothing live to stream: the next API call says when there is.
            return Ok(quiet(self.until_api_due()));
        };
        if self.stream.is_none() {
            let Some(http) = &self.http else {
                return Err(SourceError::Other("the Rumble client is not ready".into()));
            };
            let url = format!(
                "{}/chat/api/chat/{stream_id}/stream",
                self.endpoints.sse_base_url.trim_end_matches('/')
            );
            match http.open_stream(&url).await {
                Ok(Opened::Stream(stream)) => {
                    tracing::debug!(creator = %self.creator, platform = "rumble", stream_id = %stream_id, "Chat stream open.");
                    self.sse_failures = 0;
                    self.stream = Some(OpenStream {
                        stream,
                        framer: sse::Framer::new(ctx.wire.max_line_bytes),
                        stream_id,
                    });
                }
                Ok(Opened::Keepalive) => {
                    tracing::debug!(creator = %self.creator, platform = "rumble", "Chat stream keepalive (HTTP 204); asking again.");
                    self.sse_failures = 0;
                    return Ok(quiet(KEEPALIVE_RETRY.min(self.until_api_due())));
                }
                Ok(Opened::NotEventStream(content_type)) => {
                    ctx.guards.count(Guard::NotEventStream, 1);
                    let why = format!("the answer is {content_type}, not an event stream");
                    return self.stream_failed(ctx, mark, why).await;
                }
                Err(why) => return self.stream_failed(ctx, mark, why).await,
            }
        }
        let wait = STREAM_SLICE.min(self.until_api_due());
        let Some(open) = self.stream.as_mut() else {
            return Err(SourceError::Other("the chat stream is not open".into()));
        };
        // `chunk` takes nothing from the body until it returns, so abandoning a wait loses nothing.
        let chunk = match tokio::time::timeout(wait, open.stream.chunk()).await {
            Err(_) => return Ok(quiet(Duration::ZERO)),
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) => {
                // Reopened after the keepalive pause, so a server that ends every stream at once
                // is not asked again in a tight loop.
                tracing::debug!(creator = %self.creator, platform = "rumble", "The chat stream ended; reopening.");
                self.stream = None;
                return Ok(quiet(KEEPALIVE_RETRY.min(self.until_api_due())));
            }
            Ok(Err(why)) => return self.stream_failed(ctx, mark, why).await,
        };
        let too_long = open.framer.too_long;
        let datas = open.framer.push(&chunk);
        ctx.guards
            .count(Guard::LineTooLong, open.framer.too_long - too_long);
        let mut events = Vec::new();
        for data in datas {
            let got = sse::parse_event(
                &data,
                &self.creator,
                &self.channel,
                &self.channel,
                &open.stream_id,
            );
            if let Some(first) = got.skipped.first() {
                ctx.guards
                    .count(Guard::EventsUnreadable, got.skipped.len() as u64);
                tracing::debug!(creator = %self.creator, platform = "rumble", skipped = got.skipped.len(), "Skipped chat stream messages that cannot be read; the first: {first}");
            }
            for event in got.events {
                let (at, id) = (event.timestamp, event.message_id.clone());
                if mark.is_new(wire::List::Chat, at, &id) {
                    mark.advance(wire::List::Chat, at, &id);
                    events.push(event);
                }
            }
        }
        if events.is_empty() {
            return Ok(quiet(Duration::ZERO));
        }
        Ok(Polled {
            events,
            cursor: Some(mark.to_text()),
            interval_hint: Some(Duration::ZERO),
        })
    }

    async fn poll_once(
        &mut self,
        ctx: &SourceContext,
        cursor: Option<&str>,
    ) -> Result<Polled, SourceError> {
        self.ready(ctx)?;
        let (mut mark, unreadable) = Cursor::parse(cursor);
        if unreadable {
            tracing::warn!(creator = %self.creator, platform = "rumble", "The committed Rumble checkpoint is unreadable; taking the current window as new.");
        }
        if self.sse_on && self.api_due.is_some() && self.until_api_due() > Duration::ZERO {
            return self.stream_poll(ctx, mark).await;
        }
        let events = self.api_poll(ctx, &mut mark).await?;
        Ok(Polled {
            events,
            cursor: Some(mark.to_text()),
            interval_hint: Some(if self.sse_on {
                Duration::ZERO
            } else {
                self.interval
            }),
        })
    }
}

impl Poller for RumbleSource {
    fn poll<'a>(
        &'a mut self,
        ctx: &'a SourceContext,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Polled, SourceError>> {
        Box::pin(self.poll_once(ctx, cursor))
    }

    fn min_interval(&self) -> Duration {
        if self.sse_on {
            Duration::ZERO
        } else {
            self.interval
        }
    }

    fn commands(&self) -> crate::command::CommandSupport {
        crate::command::CommandSupport::new(
            COMMANDS,
            "Rumble's Live Stream API is read-only: it cannot post or moderate",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_inside_the_url_is_found() {
        assert_eq!(
            key_in("https://rumble.com/-livestream-api/get-data?key=AbC123"),
            Some("AbC123")
        );
        assert_eq!(key_in("https://x/y?a=1&KEY=z"), Some("z"));
        assert_eq!(key_in("https://x/y?key="), None);
        assert_eq!(key_in("https://x/y"), None);
    }

    #[test]
    fn the_interval_is_never_under_five_seconds() {
        let settings = |s: f64| RumbleSettings {
            enabled: true,
            api_url_env: Some("RUMBLE_API_URL".into()),
            poll_interval_s: s,
            transport: RumbleTransport::Api,
            stream_id: None,
            sse_max_failures: 3,
        };
        let source = RumbleSource::new("demo", &settings(1.0)).unwrap();
        assert_eq!(source.min_interval(), Duration::from_secs(5));
        let source = RumbleSource::new("demo", &settings(12.5)).unwrap();
        assert_eq!(source.min_interval(), Duration::from_secs_f64(12.5));
        let source = RumbleSource::new("demo", &settings(f64::NAN)).unwrap();
        assert_eq!(source.min_interval(), Duration::from_secs(5));
        let missing = RumbleSettings {
            api_url_env: None,
            ..settings(10.0)
        };
        assert!(
            RumbleSource::new("demo", &missing)
                .unwrap_err()
                .is_permanent()
        );
    }
}
