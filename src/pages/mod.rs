//! The chat pages viewers and operators see: the replay window, the OBS overlay and the live chat
//! window, built from one stylesheet and one script (`assets/pages/`, compiled into the binary).
//!
//! A page is one HTML document with its CSS and JS inline, so a static page needs no server and a
//! served page needs no second route (which would need the access token too). The inline style
//! and script are allowed by their SHA-256 hashes in a strict Content-Security-Policy: no other
//! script runs, images come only from the emote CDNs of [`cdn`], and a static page may connect
//! nowhere (a served one only to its own `/events`). The runtime writes the page's settings into
//! an attribute and recorded events into a JSON block that is never executed, escaped so that no
//! text in chat can close it ([`script_json`]). [`recorded`] collects `ss replay`'s events and
//! writes the static pages; `http::pages` serves the live ones.

pub mod cdn;
pub mod control;
pub mod recorded;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// The stylesheet shared by every page (themes default, midnight, slate).
pub const CSS: &str = include_str!("../../assets/pages/ss-pages.css");
/// The renderer shared by every page.
pub const JS: &str = include_str!("../../assets/pages/ss-pages.js");

/// The themes the pages offer (`?theme=` and the theme menu).
pub const THEMES: [&str; 3] = ["default", "midnight", "slate"];

/// Which page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// A window with the chat, a theme menu and (for recorded chat) the player controls.
    Chat,
    /// The transparent OBS browser source.
    Overlay,
}

/// Where a page's events come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed<'a> {
    /// The runtime's `/events` stream, on the server that serves the page.
    Live,
    /// Recorded events: a JSON array, as compact text.
    Recorded(&'a str),
}

/// How a page is built.
#[derive(Debug, Clone, Copy)]
pub struct PageOptions<'a> {
    pub page: Page,
    pub feed: Feed<'a>,
    /// Emote images from the CDNs (`--no-remote-images` turns them off).
    pub images: bool,
    /// The document title (escaped here).
    pub title: &'a str,
}

/// Lines kept on a page; older ones are removed, so a long stream does not grow the page.
pub const REPLAY_MAX_LINES: u32 = 500;
pub const CHAT_MAX_LINES: u32 = 300;
pub const OVERLAY_MAX_LINES: u32 = 50;

/// `'sha256-…'` of a text, as a CSP source.
pub(crate) fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

static HASHES: LazyLock<(String, String)> = LazyLock::new(|| (csp_hash(JS), csp_hash(CSS)));

/// The Content-Security-Policy of a page: only the inline script and style (by hash), images only
/// from the CDNs (none without images), connections only to the serving origin (none for a
/// static file).
pub fn content_security_policy(live: bool, images: bool) -> String {
    let (script, style) = &*HASHES;
    let img = if images {
        cdn::image_sources().join(" ")
    } else {
        "'none'".to_owned()
    };
    let connect = if live { "'self'" } else { "'none'" };
    format!(
        "default-src 'none'; script-src {script}; style-src {style}; img-src {img}; connect-src {connect}; base-uri 'none'; form-action 'none'"
    )
}

/// JSON text made safe inside `<script type="application/json">`: `<`, `>`, `&` and the two
/// JavaScript line separators become `\u` escapes, which JSON reads back as the same characters,
/// so neither `</script>` nor `<!--` can appear in the block.
pub fn script_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Text made safe in HTML content and in double- or single-quoted attributes.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The name the script and the stylesheet know the page by.
fn page_name(options: &PageOptions<'_>) -> &'static str {
    match (options.page, options.feed) {
        (Page::Overlay, _) => "overlay",
        (Page::Chat, Feed::Live) => "chat",
        (Page::Chat, Feed::Recorded(_)) => "replay",
    }
}

/// The player and theme controls of a window; none on the overlay (OBS passes `?theme=`).
fn controls(name: &str) -> String {
    let themes: String = THEMES
        .iter()
        .map(|t| {
            let mut label = t.to_string();
            label[..1].make_ascii_uppercase();
            format!("<option value=\"{t}\">{label}</option>")
        })
        .collect();
    let theme_menu =
        format!("<select id=\"ss-theme\" aria-label=\"Theme\" title=\"Theme\">{themes}</select>");
    match name {
        "replay" => format!(
            "<form class=\"ss-bar\" id=\"ss-jump-form\">\
<button type=\"button\" id=\"ss-play\" aria-pressed=\"false\">Play</button>\
<button type=\"button\" data-speed=\"1\">1×</button>\
<button type=\"button\" data-speed=\"2\">2×</button>\
<button type=\"button\" data-speed=\"4\">4×</button>\
<input type=\"range\" id=\"ss-seek\" class=\"ss-seek\" min=\"0\" max=\"0\" step=\"any\" value=\"0\" aria-label=\"Position in the stream\">\
<span id=\"ss-clock\" class=\"ss-clock\"></span>\
<input id=\"ss-jump\" class=\"ss-jump\" placeholder=\"1:02:03\" aria-label=\"Jump to time (offset or UTC time)\">\
<button type=\"submit\">Go</button>{theme_menu}</form>\n"
        ),
        "chat" => format!(
            "<div class=\"ss-bar\"><span id=\"ss-status\" class=\"ss-status\">connecting…</span>{theme_menu}</div>\n"
        ),
        _ => String::new(),
    }
}

/// The whole page.
pub fn render(options: &PageOptions<'_>) -> String {
    let name = page_name(options);
    let live = options.feed == Feed::Live;
    let settings = serde_json::json!({
        "page": name,
        "live": live,
        "images": options.images,
        "max_lines": match name {
            "overlay" => OVERLAY_MAX_LINES,
            "chat" => CHAT_MAX_LINES,
            _ => REPLAY_MAX_LINES,
        },
        "emotes": if options.images { cdn::table() } else { serde_json::Map::new() },
    });
    // A served page gets its policy as a header; a file carries it in a meta element.
    let csp_meta = if live {
        String::new()
    } else {
        format!(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n",
            html_escape(&content_security_policy(false, options.images))
        )
    };
    let events = match options.feed {
        Feed::Live => String::new(),
        Feed::Recorded(json) => format!(
            "<script type=\"application/json\" id=\"ss-events\">{}</script>\n",
            script_json(json)
        ),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\" data-theme=\"default\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"referrer\" content=\"no-referrer\">\n{csp_meta}<title>{title}</title>\n<style>{CSS}</style>\n</head>\n\
<body class=\"ss-{name}\" data-ss=\"{settings}\">\n{controls}<div id=\"ss-chat\" class=\"ss-chat\" aria-live=\"polite\"></div>\n\
{events}<script>{JS}</script>\n</body>\n</html>\n",
        title = html_escape(options.title),
        settings = html_escape(&settings.to_string()),
        controls = controls(name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_json_cannot_close_its_block_and_reads_back_the_same() {
        let hostile = serde_json::json!({"text": "</script><script>alert(1)</script><!-- & \u{2028}\u{2029} -->"});
        let json = hostile.to_string();
        let safe = script_json(&json);
        for bad in ["</script", "<!--", "<", ">", "&", "\u{2028}", "\u{2029}"] {
            assert!(!safe.contains(bad), "{bad:?} in {safe}");
        }
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, hostile);
    }

    #[test]
    fn a_static_page_holds_its_events_once_and_its_policy_allows_only_its_own_script() {
        let events = r#"[{"text":"</script><img src=x onerror=alert(1)>"}]"#;
        let html = render(&PageOptions {
            page: Page::Chat,
            feed: Feed::Recorded(events),
            images: true,
            title: "Chat <replay>",
        });
        assert_eq!(
            html.matches("</script>").count(),
            2,
            "the data block and the script"
        );
        assert!(!html.contains("<img"), "chat text stays data");
        assert!(html.contains("<title>Chat &lt;replay&gt;</title>"));
        let policy = content_security_policy(false, true);
        assert!(html.contains(&html_escape(&policy)));
        assert!(policy.contains(&csp_hash(JS)) && policy.contains(&csp_hash(CSS)));
        assert!(policy.contains("img-src https://static-cdn.jtvnw.net https://files.kick.com;"));
        assert!(policy.contains("connect-src 'none'"));
        assert!(!policy.contains("unsafe"));
        // The hashed texts are exactly what sits between the tags.
        assert!(html.contains(&format!("<script>{JS}</script>")));
        assert!(html.contains(&format!("<style>{CSS}</style>")));
    }

    #[test]
    fn without_remote_images_no_image_host_is_allowed_or_listed() {
        let html = render(&PageOptions {
            page: Page::Overlay,
            feed: Feed::Recorded("[]"),
            images: false,
            title: "Overlay",
        });
        assert!(html.contains("img-src &#39;none&#39;"));
        assert!(!html.contains("jtvnw"), "no CDN in the page at all");
        assert!(html.contains("class=\"ss-overlay\""));
        assert!(!html.contains("id=\"ss-theme\""), "the overlay has no menu");
    }

    #[test]
    fn the_script_never_parses_html() {
        // The renderer builds the DOM from text and attributes only.
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!JS.contains(banned), "{banned} in ss-pages.js");
        }
    }
}
