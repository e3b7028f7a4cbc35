//! The outbox rows of go-live and clip posts, built from config: pure functions, so what gets
//! posted where is tested without a network.
//!
//! Keys make each post once-only: `go_live:{platform}:{stream_id}:{destination}` (a reconnect or a
//! restart sees the same stream id, and the store ignores a second row with the same key) and
//! `clip_published:{clip_id}:x` for the X post of a clip.

use super::routing::{CLIPS_TARGET, LOGGING_TARGET};
use super::template::{self, Values};
use crate::config::{Config, PostEvent};
use crate::event::Platform;
use crate::sources::LiveStream;
use crate::store::{Destination, NewOutbox, OutboxRow};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// The X target (X has one timeline per token).
pub const X_TARGET: &str = "timeline";
/// Creator of runtime log rows, which belong to no creator.
pub const RUNTIME_CREATOR: &str = "runtime";

/// The creator's display name (the id when unknown).
fn display_name<'a>(config: &'a Config, creator: &'a str) -> &'a str {
    config
        .creators
        .get(creator)
        .map_or(creator, |c| c.display_name.as_str())
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
    let text = template::render(&posting.go_live.template, &values);
    let key = |d: Destination| format!("go_live:{platform}:{}:{}", stream.id, d.as_str());
    let mut rows = Vec::new();
    let has_guild = config
        .discord
        .discord
        .guilds
        .values()
        .any(|g| g.creator.as_deref() == Some(creator));
    if has_guild {
        rows.push(NewOutbox {
            creator: creator.to_string(),
            destination: Destination::Discord,
            target: "general".into(),
            kind: "go_live".into(),
            payload: json!({
                "text": text, "creator": values.creator, "platform": platform.as_str(),
                "title": stream.title.clone().unwrap_or_else(|| format!("{} is live", values.creator)),
                "url": stream.url, "stream_id": stream.id,
                "started_at": stream.started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }),
            dedupe_key: Some(key(Destination::Discord)),
            at,
        });
    }
    if let Some(rule) = posting.x.rule(creator, PostEvent::GoLive) {
        let text = match &rule.template {
            Some(t) => template::render(t, &values),
            None => text,
        };
        rows.push(NewOutbox {
            creator: creator.to_string(),
            destination: Destination::X,
            target: X_TARGET.into(),
            kind: "go_live".into(),
            payload: json!({ "text": text }),
            dedupe_key: Some(key(Destination::X)),
            at,
        });
    }
    rows
}

/// The X post of a published clip (a Discord `clip_published` row), when a rule covers it.
pub fn clip_on_x(config: &Config, row: &OutboxRow, at: DateTime<Utc>) -> Option<NewOutbox> {
    if row.kind != "clip_published" || row.target != CLIPS_TARGET {
        return None;
    }
    let rule = config
        .posting
        .x
        .rule(&row.creator, PostEvent::ClipPublished)?;
    let s = |k: &str| row.payload.get(k).and_then(Value::as_str);
    let clip_id = s("clip_id")?;
    let values = Values {
        creator: display_name(config, &row.creator),
        platform: s("platform").unwrap_or_default(),
        title: s("title"),
        url: s("url"),
    };
    let template = rule.template.as_deref().unwrap_or("{title} {url}");
    Some(NewOutbox {
        creator: row.creator.clone(),
        destination: Destination::X,
        target: X_TARGET.into(),
        kind: "clip_published".into(),
        payload: json!({ "text": template::render(template, &values) }),
        dedupe_key: Some(format!("clip_published:{clip_id}:x")),
        at,
    })
}

/// A runtime event for the guilds that log (start, stop, a source failed or recovered, degraded).
pub fn runtime_log(config: &Config, text: &str, at: DateTime<Utc>) -> Option<NewOutbox> {
    let logging = config
        .discord
        .discord
        .guilds
        .values()
        .any(|g| g.logging.enabled && g.logging.channel_id.is_some());
    logging.then(|| NewOutbox {
        creator: RUNTIME_CREATOR.into(),
        destination: Destination::Discord,
        target: LOGGING_TARGET.into(),
        kind: "runtime_log".into(),
        payload: json!({ "text": text }),
        dedupe_key: None,
        at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_go_live_is_one_discord_and_one_x_row_keyed_by_stream() {
        let rows = go_live(
            &config(),
            "demo",
            Platform::named("twitch"),
            &stream(),
            Utc::now(),
        );
        let keys: Vec<_> = rows.iter().map(|r| r.dedupe_key.clone().unwrap()).collect();
        assert_eq!(
            keys,
            [
                "go_live:twitch:40952121085:discord",
                "go_live:twitch:40952121085:x"
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
}
