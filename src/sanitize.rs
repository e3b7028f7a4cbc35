//! Makes error and status messages safe to export: one line, bounded, secrets redacted.
//!
//! Telemetry and status exports are public. A message that reached them from an HTTP client or a
//! library may carry a stack trace (several lines), a token in a URL query (`?key=…`), an
//! `Authorization` value or `oauth:` token. [`message`] keeps the first line only, redacts those
//! patterns and caps the length, so a careless error string cannot leak a secret or a trace.
//! [`terminal`] makes text from chat safe to print to a terminal: control characters (escape
//! sequences, carriage returns, newlines) and bidirectional overrides are shown escaped, never
//! obeyed.

use regex::Regex;
use std::sync::OnceLock;

/// Longest exported message, in characters.
pub const MAX_CHARS: usize = 300;

fn patterns() -> &'static [(Regex, &'static str)] {
    static PATTERNS: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        [
            // user:password@ in URLs
            (r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@", "${1}[redacted]@"),
            // secrets in query strings and form bodies
            (
                r"(?i)([?&;]\s*(?:key|api_?key|token|access_token|refresh_token|auth|client_secret|secret|password|sig|signature|code)=)[^&\s]+",
                "${1}[redacted]",
            ),
            // Twitch IRC tokens
            (r"(?i)\boauth:\S+", "oauth:[redacted]"),
            // Authorization header values
            (r"(?i)\b(bearer|bot|basic)(\s+)[A-Za-z0-9._~+/=-]{6,}", "${1}${2}[redacted]"),
            // key = value / key: value pairs naming a secret
            (
                r#"(?i)\b((?:password|passwd|secret|client_secret|token|access_token|api[_-]?key|authorization)"?\s*[:=]\s*"?)[^\s",;&]+"#,
                "${1}[redacted]",
            ),
        ]
        .into_iter()
        // The patterns are constants covered by tests; a failure to compile is a build defect.
        .map(|(p, r)| (Regex::new(p).expect("sanitizer pattern compiles"), r))
        .collect()
    })
}

/// `raw` with its secrets redacted (credentials in URLs, secrets in query strings, tokens,
/// `Authorization` values), every line kept: for logs, which may be longer than an export.
pub fn redact(raw: &str) -> String {
    let mut text = raw.to_string();
    for (pattern, replacement) in patterns() {
        if pattern.is_match(&text) {
            text = pattern.replace_all(&text, *replacement).into_owned();
        }
    }
    text
}

/// The exportable form of `raw`: first line, secrets redacted, at most [`MAX_CHARS`] characters.
pub fn message(raw: &str) -> String {
    let first = raw
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut text = redact(first);
    if text.chars().count() > MAX_CHARS {
        text = text.chars().take(MAX_CHARS - 1).collect::<String>() + "…";
    }
    text
}

/// Whether `c` would act on a terminal rather than show: a control character (C0, DEL, C1) or a
/// bidirectional embedding, override or isolate.
fn acts_on_terminal(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` (chat-supplied: a name, a message, a clip title) for human output on a terminal: each
/// character that would act on the terminal is written as its Rust escape (`\u{1b}`, `\n`).
pub fn terminal(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(acts_on_terminal) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if acts_on_terminal(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn terminal_output_escapes_control_characters_and_keeps_the_rest() {
        assert_eq!(terminal("héllo wörld 🎉"), "héllo wörld 🎉");
        assert_eq!(
            terminal("\u{1b}[2J\u{1b}]0;pwned\u{7}evil\r\nname\u{202E}"),
            "\\u{1b}[2J\\u{1b}]0;pwned\\u{7}evil\\r\\nname\\u{202e}"
        );
        assert_eq!(terminal("\u{9b}31m"), "\\u{9b}31m");
    }

    #[test]
    fn keeps_plain_messages() {
        assert_eq!(
            message("connection reset by peer"),
            "connection reset by peer"
        );
    }

    #[test]
    fn drops_stack_traces() {
        let raw = "request failed: timeout\n   0: std::backtrace::Backtrace::create\n   1: ss::sources::youtube::poll\n             at src/sources/youtube.rs:88";
        assert_eq!(message(raw), "request failed: timeout");
    }

    #[test]
    fn redacts_known_secret_shapes() {
        let cases = [
            (
                "GET https://www.googleapis.com/youtube/v3/liveChat/messages?part=snippet&key=AIzaSyA-1234567890abcdef failed: 403",
                "AIzaSyA-1234567890abcdef",
            ),
            (
                "login failed with PASS oauth:abcd1234efgh5678",
                "abcd1234efgh5678",
            ),
            (
                "401 with Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x.y",
                "eyJhbGciOiJIUzI1NiJ9",
            ),
            (
                "rumble url https://user:hunter2@rumble.com/-livestream-api/get-data",
                "hunter2",
            ),
            ("config token=s3cr3tvalue rejected", "s3cr3tvalue"),
            (r#"{"client_secret":"zzz-top-secret"}"#, "zzz-top-secret"),
        ];
        for (raw, secret) in cases {
            let out = message(raw);
            assert!(!out.contains(secret), "{raw} -> {out}");
            assert!(out.contains("[redacted]"), "{raw} -> {out}");
        }
    }

    #[test]
    fn caps_length() {
        let out = message(&"x".repeat(5000));
        assert_eq!(out.chars().count(), MAX_CHARS);
    }

    proptest! {
        #[test]
        fn never_multiline_never_long(raw in ".{0,800}") {
            let out = message(&raw);
            prop_assert!(!out.contains('\n'));
            prop_assert!(out.chars().count() <= MAX_CHARS);
        }

        #[test]
        fn query_and_bearer_secrets_never_survive(
            secret in "[A-Za-z0-9_-]{12,40}",
            prefix in "[a-z ]{0,20}",
            which in 0usize..4,
        ) {
            let raw = match which {
                0 => format!("{prefix} https://api.example/v1?part=a&key={secret}&x=1"),
                1 => format!("{prefix} Authorization: Bearer {secret}"),
                2 => format!("{prefix} PASS oauth:{secret}"),
                _ => format!("{prefix} api_key={secret}"),
            };
            let out = message(&raw);
            prop_assert!(!out.contains(&secret), "{} -> {}", raw, out);
        }
    }
}
