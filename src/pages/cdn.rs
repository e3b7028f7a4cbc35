//! Where emote images may come from: one fixed CDN URL per platform and the pattern an emote id
//! must match in full to be put into it.
//!
//! Chat data never supplies a URL: the pages take an emote's id, check it against its platform's
//! pattern and put it into that platform's URL template, so an id like `../x` or
//! `http://elsewhere/x` gives no image. The same table gives the `img-src` of the pages'
//! Content-Security-Policy, so the browser refuses any other image host even if a page had a bug.
//! Badges are drawn as text (Twitch's badge images are looked up by an API call, not built from
//! the `set/version` a message carries), so they need no image host.

use crate::event::{EmoteImages, Platform};
use serde_json::json;

/// The platforms whose emotes are shown as images, with where the images come from: each
/// platform's [`crate::event::PlatformInfo::emotes`], in export order.
pub fn emote_cdns() -> impl Iterator<Item = (Platform, EmoteImages)> {
    Platform::all()
        .iter()
        .filter_map(|p| Some((*p, p.info().emotes?)))
}

/// The `img-src` sources: each CDN host once, over https.
pub fn image_sources() -> Vec<String> {
    let mut hosts: Vec<&str> = Vec::new();
    for (_, cdn) in emote_cdns() {
        if !hosts.contains(&cdn.host) {
            hosts.push(cdn.host);
        }
    }
    hosts.iter().map(|h| format!("https://{h}")).collect()
}

/// The table as the pages read it: `{"twitch": {"url": ..., "id": ...}, ...}`.
pub fn table() -> serde_json::Map<String, serde_json::Value> {
    emote_cdns()
        .map(|(platform, cdn)| {
            (
                platform.as_str().to_owned(),
                json!({"url": cdn.url, "id": cdn.id}),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_is_https_on_its_host_and_every_pattern_refuses_paths_and_urls() {
        for (platform, cdn) in emote_cdns() {
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
                assert!(!id.is_match(hostile), "{platform} accepted {hostile:?}");
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
            let (_, cdn) = emote_cdns().find(|(p, _)| *p == platform).unwrap();
            regex::Regex::new(&format!("^(?:{})$", cdn.id))
                .unwrap()
                .is_match(id)
        };
        // Twitch and Kick document: numeric, emotesv2_…, and modifier-suffixed Twitch ids; Kick's [emote:ID:NAME].
        for id in [
            "25",
            "emotesv2_dcd06b30a5c24f6eb871e8f5edbd44f7",
            "300196486_TK",
        ] {
            assert!(accepts(Platform::named("twitch"), id), "{id}");
        }
        assert!(accepts(Platform::named("kick"), "3989851"));
        assert!(!accepts(Platform::named("kick"), "emotesv2_1"));
    }
}
