//! Discord message bodies: what an outbox row looks like in a channel.
//!
//! A row becomes `content` (its text) and, for go-live and clip posts, one embed with the title,
//! link, thumbnail, the platform's colour and the time. Every part is cut to Discord's limits with an
//! ellipsis (Discord's API reference), so a long chat message or clip title never earns a 400.
//! `allowed_mentions` is always empty: text that came from chat cannot ping `@everyone` or a role.

use crate::event::Platform;
use serde_json::{Value, json};

/// Discord's limits on one message (Discord's API reference).
pub const CONTENT_MAX: usize = 2000;
pub const TITLE_MAX: usize = 256;
pub const DESCRIPTION_MAX: usize = 4096;
pub const AUTHOR_MAX: usize = 256;
pub const FOOTER_MAX: usize = 2048;
/// All text in a message's embeds together.
pub const EMBEDS_TOTAL_MAX: usize = 6000;
/// Discord refuses links longer than this in an embed.
const URL_MAX: usize = 2048;

/// `text` cut to at most `max` characters, ending in `…` when it was cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The platform's brand colour ([`crate::event::PlatformInfo::colour`]), as Discord's integer;
/// Discord's blurple for a platform without one.
pub fn colour(platform: Option<Platform>) -> u32 {
    platform
        .and_then(|p| p.info().colour)
        .unwrap_or(0x0058_65F2)
}

/// The parts of a notification, read from an outbox row's payload.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Post {
    /// The message text (`content`).
    pub text: Option<String>,
    pub title: Option<String>,
    pub url: Option<String>,
    pub description: Option<String>,
    pub thumbnail_url: Option<String>,
    pub author: Option<String>,
    pub platform: Option<Platform>,
    /// RFC 3339.
    pub timestamp: Option<String>,
}

impl Post {
    /// Reads the fields a payload may carry (`text`, `title`, `url`, `creator`, `platform`,
    /// `thumbnail_url`, `published_at` / `started_at`, `duration_s`); anything else is ignored.
    pub fn from_payload(kind: &str, payload: &Value) -> Post {
        let s = |key: &str| payload.get(key).and_then(Value::as_str).map(str::to_owned);
        let description = match (kind, payload.get("duration_s").and_then(Value::as_f64)) {
            ("clip_published", Some(d)) => Some(format!("{d:.0} s clip")),
            _ => None,
        };
        Post {
            text: s("text"),
            title: s("title"),
            url: s("url").filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            description,
            thumbnail_url: s("thumbnail_url").filter(|u| u.starts_with("https://")),
            author: s("creator"),
            platform: s("platform").as_deref().and_then(Platform::from_name),
            timestamp: s("published_at").or_else(|| s("started_at")),
        }
    }

    /// Whether this post has an embed (a title or a link).
    fn has_embed(&self) -> bool {
        self.title.is_some() || self.url.is_some()
    }

    /// The JSON body of Create Message / Execute Webhook, within Discord's limits.
    pub fn body(&self) -> Value {
        let mut body = serde_json::Map::new();
        let content = self.text.as_deref().map(|t| truncate(t, CONTENT_MAX));
        if let Some(content) = content.filter(|c| !c.is_empty()) {
            body.insert("content".into(), json!(content));
        }
        if self.has_embed() {
            body.insert("embeds".into(), json!([self.embed()]));
        }
        if body.is_empty() {
            // Discord needs at least content or an embed; a row with neither still says something.
            body.insert("content".into(), json!("(empty notification)"));
        }
        body.insert("allowed_mentions".into(), json!({"parse": []}));
        Value::Object(body)
    }

    fn embed(&self) -> Value {
        let mut embed = serde_json::Map::new();
        // The budget of all embed text (6,000) is shared; the title and author come first.
        let mut budget = EMBEDS_TOTAL_MAX;
        let mut take = |text: &str, max: usize| {
            let cut = truncate(text, max.min(budget));
            budget -= cut.chars().count();
            cut
        };
        if let Some(title) = &self.title {
            embed.insert("title".into(), json!(take(title, TITLE_MAX)));
        }
        if let Some(author) = &self.author {
            embed.insert("author".into(), json!({"name": take(author, AUTHOR_MAX)}));
        }
        if let Some(description) = &self.description {
            embed.insert(
                "description".into(),
                json!(take(description, DESCRIPTION_MAX)),
            );
        }
        if let Some(platform) = self.platform {
            embed.insert(
                "footer".into(),
                json!({"text": take(platform.as_str(), FOOTER_MAX)}),
            );
        }
        if let Some(url) = self.url.as_deref().filter(|u| u.len() <= URL_MAX) {
            embed.insert("url".into(), json!(url));
        }
        if let Some(thumb) = self.thumbnail_url.as_deref().filter(|u| u.len() <= URL_MAX) {
            embed.insert("thumbnail".into(), json!({"url": thumb}));
        }
        embed.insert("color".into(), json!(colour(self.platform)));
        if let Some(at) = &self.timestamp
            && chrono::DateTime::parse_from_rfc3339(at).is_ok()
        {
            embed.insert("timestamp".into(), json!(at));
        }
        Value::Object(embed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn clip_payload(title: &str) -> Value {
        json!({"clip_id": "c1", "creator": "demo", "platform": "twitch", "title": title,
               "url": "https://clips.example/c1", "thumbnail_url": "https://clips.example/c1.jpg",
               "duration_s": 30.0, "published_at": "2026-01-01T00:00:00Z"})
    }

    #[test]
    fn a_clip_becomes_one_embed_with_the_platform_colour_and_no_mentions() {
        let body = Post::from_payload("clip_published", &clip_payload("GG @everyone")).body();
        insta::assert_json_snapshot!(body, @r#"
        {
          "embeds": [
            {
              "title": "GG @everyone",
              "author": {
                "name": "demo"
              },
              "description": "30 s clip",
              "footer": {
                "text": "twitch"
              },
              "url": "https://clips.example/c1",
              "thumbnail": {
                "url": "https://clips.example/c1.jpg"
              },
              "color": 9520895,
              "timestamp": "2026-01-01T00:00:00Z"
            }
          ],
          "allowed_mentions": {
            "parse": []
          }
        }
        "#);
    }

    #[test]
    fn long_parts_are_cut_with_an_ellipsis() {
        let long = "é".repeat(5000);
        let mut payload = clip_payload(&long);
        payload["text"] = json!(long);
        let body = Post::from_payload("clip_published", &payload).body();
        let content = body["content"].as_str().unwrap();
        assert_eq!(content.chars().count(), CONTENT_MAX);
        assert!(content.ends_with('…'));
        let title = body["embeds"][0]["title"].as_str().unwrap();
        assert_eq!(title.chars().count(), TITLE_MAX);
        assert!(title.ends_with('…'));
    }

    #[test]
    fn a_notify_is_plain_content() {
        let body = Post::from_payload("notify", &json!({"text": "hello"})).body();
        assert_eq!(
            body,
            json!({"content": "hello", "allowed_mentions": {"parse": []}})
        );
    }

    proptest! {
        #[test]
        fn any_payload_gives_a_body_within_limits(
            text in "\\PC{0,3000}", title in "\\PC{0,400}", author in "\\PC{0,400}",
        ) {
            let payload = json!({"text": text, "title": title, "creator": author, "platform": "kick",
                                 "url": "https://x.example", "published_at": title});
            let body = Post::from_payload("clip_published", &payload).body();
            let content = body.get("content").and_then(Value::as_str).unwrap_or_default();
            prop_assert!(content.chars().count() <= CONTENT_MAX);
            let embed = &body["embeds"][0];
            let total: usize = ["title", "description"].iter()
                .filter_map(|k| embed.get(*k).and_then(Value::as_str))
                .chain(embed.pointer("/author/name").and_then(Value::as_str))
                .chain(embed.pointer("/footer/text").and_then(Value::as_str))
                .map(|s| s.chars().count()).sum();
            prop_assert!(total <= EMBEDS_TOTAL_MAX);
            prop_assert!(embed.get("title").and_then(Value::as_str).unwrap_or_default().chars().count() <= TITLE_MAX);
            prop_assert_eq!(&body["allowed_mentions"], &json!({"parse": []}));
        }
    }
}
