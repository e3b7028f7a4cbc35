//! Finding links in chat, also those written to dodge a filter: `example(dot)com`,
//! `example[.]com`, `example . com`, `example dot com`, a full-width `。`.
//!
//! The text is first rewritten into a canonical form (lowercase; the dodges turned back into a
//! plain `.`), then one regex finds host names: labels joined by dots and ending in a known
//! top-level domain, or anything after `http://`, `https://` or `www.`. A dot with spaces around it
//! counts only before a known top-level domain, so "I agree. Come on" is no link. Messages without a
//! dot, a `dot` or a scheme skip all of it.

use regex::Regex;
use std::sync::OnceLock;

/// Top-level domains a link must end in (unless it has a scheme or `www.`): the common generic
/// ones, those spam uses most, and the larger country codes.
const TLDS: &[&str] = &[
    "com", "net", "org", "io", "gg", "tv", "co", "me", "ly", "be", "xyz", "info", "biz", "app",
    "dev", "link", "live", "stream", "site", "online", "store", "shop", "club", "top", "fun",
    "win", "bet", "cc", "to", "fm", "gl", "ai", "ru", "de", "uk", "us", "ca", "nl", "fr", "es",
    "it", "pl", "br", "au", "in", "jp", "cn", "su", "tk", "ml", "ga", "cf", "gq", "ws", "la",
    "vip", "pro", "click", "icu", "buzz", "cam", "sex", "xxx", "porn", "gift", "money", "cash",
    "lol", "tk", "onion", "ee", "lt", "ua", "kz", "by", "mx", "ar", "cl", "se", "no", "fi", "dk",
    "ch", "at", "cz", "pt", "gr", "tr", "ir", "kr", "tw", "hk", "sg", "id", "ph", "vn", "th", "my",
    "nz", "za", "ng", "eu", "asia", "mobi", "name", "edu", "gov", "ms", "im", "is", "st", "sh",
    "ac", "ps", "vc", "tel", "page", "website", "space", "tech", "art", "blog", "news", "games",
];

/// The canonical form's host pattern.
fn host_regex() -> &'static Regex {
    static HOST: OnceLock<Regex> = OnceLock::new();
    HOST.get_or_init(|| {
        let tlds = TLDS.join("|");
        Regex::new(&format!(
            r"(?:https?://|www\.)([a-z0-9\-._~%]+)|\b((?:[a-z0-9](?:[a-z0-9\-]{{0,61}}[a-z0-9])?\.)+(?:{tlds}))\b"
        ))
        .expect("the link pattern compiles")
    })
}

/// Spelled-out dots and dots with spaces around them before a known top-level domain.
fn dodge_regex() -> &'static Regex {
    static DODGE: OnceLock<Regex> = OnceLock::new();
    DODGE.get_or_init(|| {
        let tlds = TLDS.join("|");
        Regex::new(&format!(
            r"\s*[(\[{{<]\s*(?:dot|\.)\s*[)\]}}>]\s*|\s+dot\s+(?:({tlds})\b)|\s+\.\s*(?:({tlds})\b)|\s*\.\s+(?:({tlds})\b)"
        ))
        .expect("the dodge pattern compiles")
    })
}

/// Whether `text` could hold a link at all: a dot (also full-width), `dot`, or `://`.
fn may_hold_link(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memchr(b'.', bytes).is_some()
        || memchr::memchr2_iter(b'd', b'D', bytes).any(|i| {
            bytes
                .get(i..i + 3)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"dot"))
        })
        || text.contains(['。', '．', '｡'])
}

/// The canonical form: lowercase, dodges written as a plain `.`.
fn canonical(text: &str) -> String {
    let lower: String = text
        .chars()
        .map(|c| match c {
            '。' | '．' | '｡' => '.',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect();
    // Most texts hold no dodge: the quick yes-or-no spares them the rewrite's capture groups.
    if !dodge_regex().is_match(&lower) {
        return lower;
    }
    dodge_regex()
        .replace_all(&lower, |caps: &regex::Captures<'_>| {
            let tld = caps
                .get(1)
                .or_else(|| caps.get(2))
                .or_else(|| caps.get(3))
                .map_or("", |m| m.as_str());
            format!(".{tld}")
        })
        .into_owned()
}

/// The hosts linked in `text` (lowercase, without scheme or path), in order.
pub fn hosts(text: &str) -> Vec<String> {
    if !may_hold_link(text) {
        return Vec::new();
    }
    let canonical = canonical(text);
    // A sentence's full stop is no link: the quick yes-or-no before the capture groups.
    if !host_regex().is_match(&canonical) {
        return Vec::new();
    }
    host_regex()
        .captures_iter(&canonical)
        .filter_map(|caps| {
            let host = caps.get(1).or_else(|| caps.get(2))?.as_str();
            let host = host.split(['/', '?', '#', ':']).next().unwrap_or(host);
            let host = host.trim_matches('.');
            (!host.is_empty()).then(|| host.to_owned())
        })
        .collect()
}

/// Whether `host` is `domain` or one of its subdomains (`*.` in front of an allowed domain means
/// the same).
pub fn allowed(host: &str, allow: &[String]) -> bool {
    let host = host.strip_prefix("www.").unwrap_or(host);
    allow.iter().any(|domain| {
        let domain = domain.trim_start_matches("*.");
        host == domain
            || host
                .strip_suffix(domain)
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_and_dodged_links_are_found() {
        for (text, host) in [
            ("check https://Example.com/path?x=1 now", "example.com"),
            ("go to www.spam.io", "spam.io"),
            ("visit example.com", "example.com"),
            ("visit sub.example.co.uk!", "sub.example.co.uk"),
            ("visit example(dot)com", "example.com"),
            ("visit example[dot]com", "example.com"),
            ("visit example (dot) com", "example.com"),
            ("visit example{.}com", "example.com"),
            ("visit example . com", "example.com"),
            ("visit example. com", "example.com"),
            ("visit example dot com", "example.com"),
            ("visit example。com", "example.com"),
            ("VISIT EXAMPLE DOT COM", "example.com"),
            ("bit.ly/abc", "bit.ly"),
            ("http://192.168.0.1:8080/x", "192.168.0.1"),
        ] {
            assert_eq!(hosts(text), [host], "{text}");
        }
    }

    #[test]
    fn ordinary_chat_holds_no_link() {
        for text in [
            "hello chat",
            "I agree. Come on",
            "that was 3.5 seconds",
            "e.g. this",
            "ok...",
            "dot dot dot",
            "file.txt",
            "version 1.2.3",
            "Mr. Smith",
        ] {
            assert!(hosts(text).is_empty(), "{text}: {:?}", hosts(text));
        }
    }

    #[test]
    fn every_link_of_a_message_is_found() {
        assert_eq!(
            hosts("youtube.com evil.com and https://x.io"),
            ["youtube.com", "evil.com", "x.io"]
        );
    }

    #[test]
    fn the_allowlist_covers_subdomains_only() {
        let allow = vec!["youtube.com".to_owned(), "*.twitch.tv".to_owned()];
        assert!(allowed("youtube.com", &allow));
        assert!(allowed("www.youtube.com", &allow));
        assert!(allowed("m.youtube.com", &allow));
        assert!(allowed("clips.twitch.tv", &allow));
        assert!(!allowed("notyoutube.com", &allow));
        assert!(!allowed("youtube.com.evil.io", &allow));
    }

    proptest! {
        #[test]
        fn a_host_written_any_way_is_found(label in "[a-z][a-z0-9]{2,12}", tld in prop::sample::select(vec!["com", "net", "io", "gg", "tv"]),
            dodge in prop::sample::select(vec![".", "(dot)", "[dot]", " . ", " dot ", "[.]", "。"]),
            before in "[a-ce-z ]{0,10}", after in "[a-ce-z ]{0,10}") {
            let text = format!("{before} {label}{dodge}{tld} {after}");
            let expected = format!("{label}.{tld}");
            prop_assert!(hosts(&text).contains(&expected), "{text:?} -> {:?}", hosts(&text));
        }

        #[test]
        fn text_without_dots_or_dot_never_links(text in "[a-ce-z ,!?']{0,80}") {
            prop_assert!(hosts(&text).is_empty());
        }
    }
}
