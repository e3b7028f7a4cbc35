//! Where emote images may come from: one fixed CDN URL per platform and the pattern an emote id
//! must match in full to be put into it.
//!
//! Chat data never supplies a URL: the pages take an emote's id, check it against its platform's
//! pattern and put it into that platform's URL template, so an id like `../x` or
//! `http://elsewhere/x` gives no image. The same table gives the `img-src` of the pages'
//! Content-Security-Policy, so the browser refuses any other image host even if a page had a bug.
//! Badges are drawn as text (Twitch's badge images are looked up by an API call, not built from
//! the `set/version` a message carries), so they need no image host.

use crate::event::Platform;
use serde::Serialize;

/// The emote images of one platform.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EmoteCdn {
    #[serde(skip)]
    pub platform: Platform,
    /// The host, for the Content-Security-Policy.
    #[serde(skip)]
    pub host: &'static str,
    /// The image URL with `{id}` where the emote id goes.
    pub url: &'static str,
    /// A regular expression (JavaScript and Rust syntax alike) an id must match in full.
    pub id: &'static str,
}

const TWITCH_URL: &str = "https://static-cdn.jtvnw.net/emoticons/v2/{id}/default/dark/1.0";
/// Twitch ids are numeric or `emotesv2_<hex>`, sometimes with a `_XX` modifier suffix.
const TWITCH_ID: &str = "[A-Za-z0-9_]{1,64}";

/// The platforms whose emotes are shown as images. The sim source uses Twitch's emote ids.
pub const EMOTE_CDNS: [EmoteCdn; 3] = [
    EmoteCdn {
        platform: Platform::Twitch,
        host: "static-cdn.jtvnw.net",
        url: TWITCH_URL,
        id: TWITCH_ID,
    },
    EmoteCdn {
        platform: Platform::Sim,
        host: "static-cdn.jtvnw.net",
        url: TWITCH_URL,
        id: TWITCH_ID,
    },
    EmoteCdn {
        platform: Platform::Kick,
        host: "files.kick.com",
        url: "https://files.kick.com/emotes/{id}/fullsize",
        id: "[0-9]{1,20}",
    },
];

/// The `img-src` sources: each CDN host once, over https.
pub fn image_sources() -> Vec<String> {
    let mut hosts: Vec<&str> = EMOTE_CDNS.iter().map(|c| c.host).collect();
    hosts.dedup();
    hosts.iter().map(|h| format!("https://{h}")).collect()
}

/// The table as the pages read it: `{"twitch": {"url": ..., "id": ...}, ...}`.
pub fn table() -> serde_json::Map<String, serde_json::Value> {
    EMOTE_CDNS
        .iter()
        .map(|c| {
            (
                c.platform.as_str().to_owned(),
                serde_json::to_value(c).expect("plain strings serialize"),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_is_https_on_its_host_and_every_pattern_refuses_paths_and_urls() {
        for cdn in EMOTE_CDNS {
            assert!(
                cdn.url.starts_with(&format!("https://{}/", cdn.host)),
                "{}",
                cdn.url
            );
            assert_eq!(cdn.url.matches("{id}").count(), 1);
            let id = regex::Regex::new(&format!("^(?:{})$", cdn.id)).unwrap();
            for hostile in [
                "",
                "../../x",
                "25/../../x",
                "http://127.0.0.1:9/x",
                "//evil.example/x",
                "25?x=1",
                "25#x",
                "25 onerror=x",
                "25\"",
                "25%2F..",
                "javascript:alert(1)",
            ] {
                assert!(
                    !id.is_match(hostile),
                    "{:?} accepted {hostile:?}",
                    cdn.platform
                );
            }
        }
        assert_eq!(
            image_sources(),
            ["https://static-cdn.jtvnw.net", "https://files.kick.com"]
        );
    }

    #[test]
    fn real_ids_of_each_platform_are_accepted() {
        let accepts = |platform: Platform, id: &str| {
            let cdn = EMOTE_CDNS.iter().find(|c| c.platform == platform).unwrap();
            regex::Regex::new(&format!("^(?:{})$", cdn.id))
                .unwrap()
                .is_match(id)
        };
        // PROTOCOLS.md: numeric, emotesv2_…, and modifier-suffixed Twitch ids; Kick's [emote:ID:NAME].
        for id in [
            "25",
            "emotesv2_dcd06b30a5c24f6eb871e8f5edbd44f7",
            "300196486_TK",
        ] {
            assert!(accepts(Platform::Twitch, id), "{id}");
        }
        assert!(accepts(Platform::Kick, "3989851"));
        assert!(!accepts(Platform::Kick, "emotesv2_1"));
    }
}
