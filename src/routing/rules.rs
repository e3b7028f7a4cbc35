//! The routing rules: what a notification becomes (destination, target, payload, once-only key,
//! cause), from posting.json and discord.json. Pure functions over the config, so what gets posted
//! where is tested without a network or a store.
//!
//! - A `notify` action and a poll's results name a Discord notification channel in triggers.json:
//!   one Discord row each.
//! - A published clip: a Discord row (`target: "clips"`, each guild's `{platform}_clips` channel
//!   else `general`) when a guild belongs to the creator, and an X row when an X rule covers the
//!   creator's `clip_published`. Both are decided here, in the clip job's `published` write, so X
//!   never waits for Discord (or needs it).
//! - A stream going live: the creator's guilds' `general` channels and X, per the rules.
//! - A runtime event: the logging channel of every guild that logs.
//! - Webhooks (posting.json `webhooks`): a published clip, a go-live and a giveaway draw go to
//!   every webhook whose `events` and `creators` cover them, one row each (target: the webhook's
//!   name, payload: what the body's `data` holds); a `notify` action whose channel is
//!   `webhook:NAME` goes to that webhook alone.
//!
//! Keys make each post once-only per destination: `go_live:{platform}:{stream_id}:{destination}`
//! (a reconnect or a restart sees the same stream id, and the store ignores a second row with the
//! same key), `clip_published:{clip_id}` on Discord and `clip_published:{clip_id}:x` on X,
//! `poll_results:{creator}:{poll}`; a webhook's row adds `:webhook:{name}` to its notification's
//! key.

use super::Destination;
use super::discord::{CLIPS_TARGET, LOGGING_TARGET};
use crate::config::post_template::{self, Values};
use crate::config::{Config, PostEvent};
use crate::event::LiveStream;
use crate::event::Platform;
use crate::store::{ClipRow, NewOutbox};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// The X target (X has one timeline per token).
pub const X_TARGET: &str = "timeline";
/// Creator of runtime log rows, which belong to no creator.
pub const RUNTIME_CREATOR: &str = "runtime";
/// The Discord channel key of go-live posts.
const GO_LIVE_CHANNEL: &str = "general";
pub use crate::config::model::WEBHOOK_CHANNEL_PREFIX;

/// The cause of a clip's notifications.
pub fn clip_cause(clip_id: &str) -> String {
    format!("clip:{clip_id}")
}

/// The cause of a stream's go-live posts.
pub fn stream_cause(platform: Platform, stream_id: &str) -> String {
    format!("stream:{platform}:{stream_id}")
}

/// Who a notification is for and what caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub creator: String,
    /// The id of the event, tick, clip or stream that caused it (see `NewOutbox::cause`).
    pub cause: String,
    pub at: DateTime<Utc>,
}

impl Origin {
    fn row(&self, destination: Destination, target: &str, kind: &str) -> NewOutbox {
        NewOutbox {
            creator: self.creator.clone(),
            destination: destination.as_str().to_string(),
            target: target.to_string(),
            kind: kind.to_string(),
            payload: Value::Null,
            dedupe_key: None,
            cause: self.cause.clone(),
            at: self.at,
        }
    }
}

/// The creator's display name (the id when unknown).
fn display_name<'a>(config: &'a Config, creator: &'a str) -> &'a str {
    config
        .creators
        .get(creator)
        .map_or(creator, |c| c.display_name.as_str())
}

/// Whether a Discord guild belongs to `creator`.
fn has_guild(config: &Config, creator: &str) -> bool {
    config
        .discord
        .discord
        .guilds
        .values()
        .any(|g| g.creator.as_deref() == Some(creator))
}

/// One row per webhook of posting.json covering `origin.creator`'s `event`: `data` is the body's
/// data, `key` the notification's once-only key (each row's is `{key}:webhook:{name}`).
fn webhooks(
    config: &Config,
    origin: &Origin,
    event: PostEvent,
    data: &Value,
    key: &str,
) -> Vec<NewOutbox> {
    config
        .posting
        .webhooks_for(&origin.creator, event)
        .map(|name| NewOutbox {
            payload: data.clone(),
            dedupe_key: Some(format!("{key}:webhook:{name}")),
            ..origin.row(Destination::Webhook, name, event.as_str())
        })
        .collect()
}

/// A `notify` action's message: to Discord notification channel `channel` (a key or an id), or to
/// the webhook a `webhook:NAME` channel names (whether it exists is the sender's to say).
pub fn notify(origin: &Origin, channel: &str, text: &str) -> Vec<NewOutbox> {
    let (destination, target) = match channel.strip_prefix(WEBHOOK_CHANNEL_PREFIX) {
        Some(name) => (Destination::Webhook, name),
        None => (Destination::Discord, channel),
    };
    vec![NewOutbox {
        payload: json!({ "text": text }),
        ..origin.row(destination, target, "notify")
    }]
}

/// A closed poll's results, once per poll, to the Discord channel its poll settings name (none:
/// nowhere). `payload` is what the sender posts (`text` and the counts).
pub fn poll_results(
    origin: &Origin,
    poll: &str,
    channel: Option<&str>,
    payload: Value,
) -> Vec<NewOutbox> {
    let Some(channel) = channel else {
        return Vec::new();
    };
    vec![NewOutbox {
        payload,
        dedupe_key: Some(format!("poll_results:{}:{poll}", origin.creator)),
        ..origin.row(Destination::Discord, channel, "poll_results")
    }]
}

/// A giveaway draw's winners, as routing needs them.
#[derive(Debug, Clone, Copy)]
pub struct GiveawayPost<'a> {
    pub giveaway: &'a str,
    /// The draw's number within its giveaway (each draw and reroll posts once).
    pub draw: u32,
    /// The winners line (`Giveaway winners: Ann (twitch), ...`).
    pub text: &'a str,
    /// The Discord notification channel key (or id) the giveaway settings name; `None`: not on
    /// Discord.
    pub discord: Option<&'a str>,
}

/// A giveaway draw's posts: to the Discord channel the giveaway settings name, and to X when a
/// posting.json rule covers the creator's `giveaway_winners` (needs `config`). Once per draw by key.
pub fn giveaway_winners(
    config: Option<&Config>,
    origin: &Origin,
    platform: Platform,
    post: &GiveawayPost<'_>,
) -> Vec<NewOutbox> {
    let key = format!(
        "giveaway_winners:{}:{}:{}",
        origin.creator, post.giveaway, post.draw
    );
    let mut rows = Vec::new();
    if let Some(channel) = post.discord {
        rows.push(NewOutbox {
            payload: json!({ "text": post.text, "giveaway": post.giveaway, "draw": post.draw }),
            dedupe_key: Some(key.clone()),
            ..origin.row(Destination::Discord, channel, "giveaway_winners")
        });
    }
    if let Some(config) = config
        && let Some(rule) = config
            .posting
            .x
            .rule(&origin.creator, PostEvent::GiveawayWinners)
    {
        let text = match &rule.template {
            Some(template) => post_template::render(
                template,
                &Values {
                    creator: display_name(config, &origin.creator),
                    platform: platform.as_str(),
                    title: Some(post.text),
                    url: None,
                },
            ),
            None => post.text.to_string(),
        };
        rows.push(NewOutbox {
            payload: json!({ "text": text }),
            dedupe_key: Some(format!("{key}:x")),
            ..origin.row(Destination::X, X_TARGET, "giveaway_winners")
        });
    }
    if let Some(config) = config {
        let data = json!({
            "creator": origin.creator, "platform": platform.as_str(), "giveaway": post.giveaway,
            "draw": post.draw, "text": post.text,
        });
        rows.extend(webhooks(
            config,
            origin,
            PostEvent::GiveawayWinners,
            &data,
            &key,
        ));
    }
    rows
}

/// A clip just published (its row as read before publishing, and where it now is).
#[derive(Debug, Clone, Copy)]
pub struct PublishedClip<'a> {
    pub clip: &'a ClipRow,
    pub url: &'a str,
    pub thumbnail_url: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// A published clip's posts: Discord when a guild belongs to its creator, X when a rule covers it.
pub fn clip_published(config: &Config, published: &PublishedClip<'_>) -> Vec<NewOutbox> {
    let PublishedClip {
        clip,
        url,
        thumbnail_url,
        at,
    } = *published;
    let origin = Origin {
        creator: clip.creator.clone(),
        cause: clip_cause(&clip.clip_id),
        at,
    };
    let mut rows = Vec::new();
    let data = json!({
        "clip_id": clip.clip_id,
        "creator": clip.creator,
        "platform": clip.platform.as_str(),
        "title": clip.title,
        "url": url,
        "thumbnail_url": thumbnail_url,
        "duration_s": clip.duration_s,
        "published_at": at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    });
    let key = format!("clip_published:{}", clip.clip_id);
    if has_guild(config, &clip.creator) {
        rows.push(NewOutbox {
            payload: data.clone(),
            dedupe_key: Some(key.clone()),
            ..origin.row(Destination::Discord, CLIPS_TARGET, "clip_published")
        });
    }
    if let Some(rule) = config
        .posting
        .x
        .rule(&clip.creator, PostEvent::ClipPublished)
    {
        let values = Values {
            creator: display_name(config, &clip.creator),
            platform: clip.platform.as_str(),
            title: clip.title.as_deref(),
            url: Some(url),
        };
        let template = rule.template.as_deref().unwrap_or("{title} {url}");
        rows.push(NewOutbox {
            payload: json!({ "text": post_template::render(template, &values) }),
            dedupe_key: Some(format!("clip_published:{}:x", clip.clip_id)),
            ..origin.row(Destination::X, X_TARGET, "clip_published")
        });
    }
    rows.extend(webhooks(
        config,
        &origin,
        PostEvent::ClipPublished,
        &data,
        &key,
    ));
    rows
}

/// The rows a stream going live becomes: the creator's guilds' `general` channels (when any guild
/// belongs to the creator) and X (when a rule covers the creator's go-live).
pub fn go_live(
    config: &Config,
    creator: &str,
    platform: Platform,
    stream: &LiveStream,
    at: DateTime<Utc>,
) -> Vec<NewOutbox> {
    let posting = &config.posting;
    if !posting.go_live.covers(platform) {
        return Vec::new();
    }
    let values = Values {
        creator: display_name(config, creator),
        platform: platform.as_str(),
        title: stream.title.as_deref(),
        url: stream.url.as_deref(),
    };
    let text = post_template::render(&posting.go_live.template, &values);
    let key = |d: Destination| format!("go_live:{platform}:{}:{}", stream.id, d.as_str());
    let origin = Origin {
        creator: creator.to_string(),
        cause: stream_cause(platform, &stream.id),
        at,
    };
    let mut rows = Vec::new();
    if has_guild(config, creator) {
        rows.push(NewOutbox {
            payload: json!({
                "text": text, "creator": values.creator, "platform": platform.as_str(),
                "title": stream.title.clone().unwrap_or_else(|| format!("{} is live", values.creator)),
                "url": stream.url, "stream_id": stream.id,
                "started_at": stream.started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }),
            dedupe_key: Some(key(Destination::Discord)),
            ..origin.row(Destination::Discord, GO_LIVE_CHANNEL, "go_live")
        });
    }
    if let Some(rule) = posting.x.rule(creator, PostEvent::GoLive) {
        let text = match &rule.template {
            Some(t) => post_template::render(t, &values),
            None => text.clone(),
        };
        rows.push(NewOutbox {
            payload: json!({ "text": text }),
            dedupe_key: Some(key(Destination::X)),
            ..origin.row(Destination::X, X_TARGET, "go_live")
        });
    }
    let data = json!({
        "creator": creator, "platform": platform.as_str(), "stream_id": stream.id,
        "title": stream.title, "url": stream.url, "text": text,
        "started_at": stream.started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    rows.extend(webhooks(
        config,
        &origin,
        PostEvent::GoLive,
        &data,
        &format!("go_live:{platform}:{}", stream.id),
    ));
    rows
}

/// A runtime event for the guilds that log (start, stop, a source failed or recovered, degraded);
/// `cause` names it (`runtime:started`, `source:{creator}/{platform}`, `store:degraded`, ...).
pub fn runtime_log(config: &Config, text: &str, cause: &str, at: DateTime<Utc>) -> Vec<NewOutbox> {
    let logging = config
        .discord
        .discord
        .guilds
        .values()
        .any(|g| g.logging.enabled && g.logging.channel_id.is_some());
    if !logging {
        return Vec::new();
    }
    let origin = Origin {
        creator: RUNTIME_CREATOR.into(),
        cause: cause.to_string(),
        at,
    };
    vec![NewOutbox {
        payload: json!({ "text": text }),
        ..origin.row(Destination::Discord, LOGGING_TARGET, "runtime_log")
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ClipState;

    fn config() -> Config {
        Config {
            discord: serde_json::from_value(json!({"discord": {"guilds": {
                "100000000000000001": {"creator": "demo", "notifications": {"general": "100000000000000002"}}
            }}}))
            .unwrap(),
            posting: serde_json::from_value(json!({
                "go_live": {"template": "{creator} is live: {title} {url}"},
                "x": {"token_env": "X_TOKEN", "rules": [{"creator": "demo", "events": ["go_live", "clip_published"]}]}
            }))
            .unwrap(),
            ..Config::default()
        }
    }

    fn stream() -> LiveStream {
        LiveStream {
            id: "40952121085".into(),
            started_at: "2026-01-01T00:00:00Z".parse().unwrap(),
            title: Some("Chess".into()),
            url: Some("https://twitch.tv/demo".into()),
        }
    }

    fn clip(creator: &str) -> ClipRow {
        let at = "2026-01-01T00:00:00Z".parse().unwrap();
        ClipRow {
            clip_id: "AbC123".into(),
            creator: creator.into(),
            platform: Platform::named("twitch"),
            channel: creator.into(),
            requested_by: "viewer".into(),
            duration_s: 30,
            title: Some("Checkmate".into()),
            state: ClipState::Uploading,
            url: None,
            created_at: at,
            updated_at: at,
            published_at: None,
            thumbnail_url: None,
            error: None,
        }
    }

    fn published<'a>(clip: &'a ClipRow) -> PublishedClip<'a> {
        PublishedClip {
            clip,
            url: "https://clips.example/AbC123.mp4",
            thumbnail_url: Some("https://clips.example/AbC123.jpg"),
            at: "2026-01-01T00:01:00Z".parse().unwrap(),
        }
    }

    fn summary(rows: &[NewOutbox]) -> Vec<(&str, &str, &str, Option<&str>)> {
        rows.iter()
            .map(|r| {
                (
                    r.destination.as_str(),
                    r.target.as_str(),
                    r.cause.as_str(),
                    r.dedupe_key.as_deref(),
                )
            })
            .collect()
    }

    #[test]
    fn a_go_live_is_one_discord_and_one_x_row_keyed_by_stream() {
        let rows = go_live(
            &config(),
            "demo",
            Platform::named("twitch"),
            &stream(),
            Utc::now(),
        );
        assert_eq!(
            summary(&rows),
            [
                (
                    "discord",
                    "general",
                    "stream:twitch:40952121085",
                    Some("go_live:twitch:40952121085:discord")
                ),
                (
                    "x",
                    "timeline",
                    "stream:twitch:40952121085",
                    Some("go_live:twitch:40952121085:x")
                )
            ]
        );
        assert_eq!(
            rows[1].payload["text"],
            "demo is live: Chess https://twitch.tv/demo"
        );
    }

    #[test]
    fn platforms_and_rules_limit_go_live_posts() {
        let mut youtube_only = config();
        youtube_only.posting.go_live.platforms = vec![Platform::named("youtube")];
        assert!(
            go_live(
                &youtube_only,
                "demo",
                Platform::named("twitch"),
                &stream(),
                Utc::now()
            )
            .is_empty()
        );
        let rows = go_live(
            &config(),
            "other",
            Platform::named("twitch"),
            &stream(),
            Utc::now(),
        );
        assert!(rows.is_empty(), "no guild and no rule for this creator");
    }

    #[test]
    fn a_published_clip_goes_to_discord_and_to_x_each_once_with_the_clip_as_cause() {
        let clip = clip("demo");
        let rows = clip_published(&config(), &published(&clip));
        assert_eq!(
            summary(&rows),
            [
                (
                    "discord",
                    "clips",
                    "clip:AbC123",
                    Some("clip_published:AbC123")
                ),
                (
                    "x",
                    "timeline",
                    "clip:AbC123",
                    Some("clip_published:AbC123:x")
                )
            ]
        );
        assert_eq!(rows[0].payload["url"], "https://clips.example/AbC123.mp4");
        assert_eq!(
            rows[0].payload["thumbnail_url"],
            "https://clips.example/AbC123.jpg"
        );
        assert_eq!(rows[0].payload["published_at"], "2026-01-01T00:01:00Z");
        assert_eq!(
            rows[1].payload["text"],
            "Checkmate https://clips.example/AbC123.mp4"
        );
    }

    #[test]
    fn a_clip_goes_to_x_without_discord() {
        let mut no_discord = config();
        no_discord.discord = crate::config::DiscordConfig::default();
        let clip = clip("demo");
        let rows = clip_published(&no_discord, &published(&clip));
        assert_eq!(
            summary(&rows),
            [(
                "x",
                "timeline",
                "clip:AbC123",
                Some("clip_published:AbC123:x")
            )]
        );
        assert!(clip_published(&no_discord, &published(&self::clip("other"))).is_empty());
    }

    #[test]
    fn action_notifications_carry_the_action_as_cause_and_poll_results_are_once_per_poll() {
        let origin = Origin {
            creator: "demo".into(),
            cause: "event:twitch:m1".into(),
            at: Utc::now(),
        };
        let rows = notify(&origin, "general", "hi");
        assert_eq!(
            summary(&rows),
            [("discord", "general", "event:twitch:m1", None)]
        );
        assert_eq!(rows[0].payload, json!({"text": "hi"}));
        let rows = poll_results(&origin, "p1", Some("general"), json!({"text": "done"}));
        assert_eq!(
            summary(&rows),
            [(
                "discord",
                "general",
                "event:twitch:m1",
                Some("poll_results:demo:p1")
            )]
        );
        assert!(poll_results(&origin, "p1", None, json!({})).is_empty());
    }

    fn with_webhooks(mut config: Config) -> Config {
        config.posting.webhooks = serde_json::from_value(json!({
            "home": {"url": "http://127.0.0.1:9/ss", "secret_env": "SS_HOME",
                     "events": ["clip_published", "go_live", "giveaway_winners"]},
            "others": {"url": "http://127.0.0.1:9/o", "secret_env": "SS_O",
                       "events": ["clip_published"], "creators": ["other"]}
        }))
        .unwrap();
        config
    }

    #[test]
    fn each_covering_webhook_gets_its_own_once_only_row_with_the_notification_as_data() {
        let config = with_webhooks(config());
        let clip = clip("demo");
        let rows = clip_published(&config, &published(&clip));
        assert_eq!(
            summary(&rows)[2..],
            [(
                "webhook",
                "home",
                "clip:AbC123",
                Some("clip_published:AbC123:webhook:home")
            )]
        );
        assert_eq!(rows[2].kind, "clip_published");
        assert_eq!(
            rows[2].payload, rows[0].payload,
            "the same data as Discord's"
        );
        // `others` covers only creator `other`.
        let other = self::clip("other");
        assert_eq!(
            summary(&clip_published(&config, &published(&other))),
            [
                (
                    "webhook",
                    "home",
                    "clip:AbC123",
                    Some("clip_published:AbC123:webhook:home")
                ),
                (
                    "webhook",
                    "others",
                    "clip:AbC123",
                    Some("clip_published:AbC123:webhook:others")
                )
            ]
        );
        let live = go_live(
            &config,
            "demo",
            Platform::named("twitch"),
            &stream(),
            Utc::now(),
        );
        let webhook = live.iter().find(|r| r.destination == "webhook").unwrap();
        assert_eq!(
            webhook.dedupe_key.as_deref(),
            Some("go_live:twitch:40952121085:webhook:home")
        );
        assert_eq!(webhook.payload["stream_id"], "40952121085");
        assert_eq!(
            webhook.payload["text"],
            "demo is live: Chess https://twitch.tv/demo"
        );
        let origin = Origin {
            creator: "demo".into(),
            cause: "event:twitch:m1".into(),
            at: Utc::now(),
        };
        let post = GiveawayPost {
            giveaway: "g1",
            draw: 2,
            text: "Giveaway winners: Ann (twitch)",
            discord: None,
        };
        let draw = giveaway_winners(Some(&config), &origin, Platform::named("twitch"), &post);
        assert_eq!(
            summary(&draw),
            [(
                "webhook",
                "home",
                "event:twitch:m1",
                Some("giveaway_winners:demo:g1:2:webhook:home")
            )]
        );
        assert_eq!(draw[0].payload["draw"], 2);
    }

    #[test]
    fn a_notify_action_naming_a_webhook_goes_to_that_webhook_only() {
        let origin = Origin {
            creator: "demo".into(),
            cause: "event:twitch:m1".into(),
            at: Utc::now(),
        };
        let rows = notify(&origin, "webhook:home", "lights on");
        assert_eq!(
            summary(&rows),
            [("webhook", "home", "event:twitch:m1", None)]
        );
        assert_eq!(rows[0].payload, json!({"text": "lights on"}));
        assert_eq!(rows[0].kind, "notify");
    }

    #[test]
    fn runtime_logs_go_only_to_guilds_that_log() {
        assert!(
            runtime_log(&config(), "Runtime started.", "runtime:started", Utc::now()).is_empty()
        );
        let mut logging = config();
        logging.discord = serde_json::from_value(json!({"discord": {"guilds": {
            "100000000000000001": {"logging": {"enabled": true, "channel_id": "100000000000000009"}}
        }}}))
        .unwrap();
        let rows = runtime_log(&logging, "Runtime started.", "runtime:started", Utc::now());
        assert_eq!(
            summary(&rows),
            [("discord", "logging", "runtime:started", None)]
        );
        assert_eq!(rows[0].creator, RUNTIME_CREATOR);
    }
}
