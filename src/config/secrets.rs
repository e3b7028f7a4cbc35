//! Secrets: named in config by environment variable, read from the process environment or `.env`.
//!
//! Config files never hold a secret's value; a field such as `"token_env": "TWITCH_OAUTH_TOKEN_DEMO"`
//! names where to find it. [`Secrets::load`] reads the root's `.env` file (if present) without touching
//! the process environment, and the process environment wins over `.env`. A [`Secret`] never prints its
//! value: its `Debug` and `Display` show `[redacted]`, so a stray `{:?}` cannot leak it to a log.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Values shorter than this are not scrubbed: replacing every "ab" in a message would garble it,
/// and no real token is that short.
const SCRUB_MIN_LEN: usize = 4;

/// A secret value. Read it with [`Secret::expose`] only where it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that sends it over the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where secrets are looked up: the process environment, then the root's `.env`.
///
/// It also remembers every value it hands out, so [`Secrets::scrub`] can remove them from any message
/// before it is logged, recorded in a status or exported: the one place secrets are scrubbed.
#[derive(Clone, Default)]
pub struct Secrets {
    dotenv: HashMap<String, String>,
    handed_out: Arc<Mutex<Vec<String>>>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("dotenv_names", &self.dotenv.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Secrets {
    /// Reads `<root>/.env` when it exists. Malformed lines are skipped with a warning naming the line
    /// number only (never its content, which may be a secret).
    pub fn load(root: &Path) -> Secrets {
        let mut dotenv = HashMap::new();
        let path = root.join(".env");
        if let Ok(iter) = dotenvy::from_path_iter(&path) {
            for (index, item) in iter.enumerate() {
                match item {
                    Ok((k, v)) => {
                        dotenv.insert(k, v);
                    }
                    Err(_) => tracing::warn!(
                        file = %path.display(),
                        entry = index + 1,
                        "Skipped a malformed .env entry."
                    ),
                }
            }
        }
        Secrets {
            dotenv,
            handed_out: Arc::default(),
        }
    }

    /// The secret named by environment variable `name`; empty values count as missing.
    pub fn get(&self, name: &str) -> Option<Secret> {
        let value = std::env::var(name)
            .ok()
            .or_else(|| self.dotenv.get(name).cloned())
            .filter(|v| !v.trim().is_empty())?;
        let mut handed_out = self
            .handed_out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !handed_out.contains(&value) {
            handed_out.push(value.clone());
        }
        Some(Secret(value))
    }

    /// Registers a part of a handed-out secret that can be printed on its own (the `key` inside a
    /// URL that is itself the secret), so [`Secrets::scrub`] removes it wherever it appears.
    pub fn scrub_also(&self, part: &str) {
        self.remember(part);
    }

    /// A secret the runtime obtained itself (a refreshed OAuth token), remembered like the ones
    /// [`Secrets::get`] hands out so [`Secrets::scrub`] removes it from every message.
    pub fn adopt(&self, value: &str) -> Secret {
        self.remember(value);
        Secret(value.to_owned())
    }

    fn remember(&self, value: &str) {
        let mut handed_out = self
            .handed_out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !handed_out.iter().any(|v| v == value) {
            handed_out.push(value.to_owned());
        }
    }

    /// `text` with every secret handed out so far replaced by `[redacted]`, also in the forms a
    /// protocol may echo (a token without its `oauth:` prefix).
    pub fn scrub(&self, text: &str) -> String {
        let handed_out = self
            .handed_out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = text.to_owned();
        for value in handed_out.iter() {
            for form in [value.as_str(), value.trim_start_matches("oauth:")] {
                if form.len() >= SCRUB_MIN_LEN && out.contains(form) {
                    out = out.replace(form, "[redacted]");
                }
            }
        }
        out
    }
}

/// Whether `name` is a well-formed environment variable name: `A-Z`, `0-9`, `_`, not starting with a digit.
pub fn is_valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints_its_value() {
        let s = Secret::new("oauth:hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
        assert_eq!(s.expose(), "oauth:hunter2");
    }

    #[test]
    fn scrub_removes_every_handed_out_secret_in_both_forms() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "SCRUB_TEST_TOKEN=oauth:s3cr3t\n").unwrap();
        let secrets = Secrets::load(dir.path());
        let clone = secrets.clone();
        assert_eq!(secrets.scrub("s3cr3t"), "s3cr3t", "nothing handed out yet");
        assert!(clone.get("SCRUB_TEST_TOKEN").is_some());
        assert_eq!(
            secrets.scrub("bad PASS oauth:s3cr3t and s3cr3t"),
            "bad PASS [redacted] and [redacted]"
        );
    }

    #[test]
    fn a_registered_part_of_a_secret_is_scrubbed_on_its_own() {
        let secrets = Secrets::default();
        secrets.scrub_also("k3yPart");
        assert_eq!(
            secrets.scrub("GET /get-data?key=k3yPart failed"),
            "GET /get-data?key=[redacted] failed"
        );
    }

    #[test]
    fn env_names() {
        assert!(is_valid_env_name("TWITCH_OAUTH_TOKEN_DEMO"));
        assert!(is_valid_env_name("_X1"));
        assert!(!is_valid_env_name("1ABC"));
        assert!(!is_valid_env_name("twitch_token"));
        assert!(!is_valid_env_name("A-B"));
        assert!(!is_valid_env_name(""));
    }

    #[test]
    fn dotenv_is_read_and_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "SS_TEST_ONLY_IN_DOTENV=abc\nSS_TEST_EMPTY=\n",
        )
        .unwrap();
        let secrets = Secrets::load(dir.path());
        assert_eq!(
            secrets.get("SS_TEST_ONLY_IN_DOTENV").unwrap().expose(),
            "abc"
        );
        assert!(secrets.get("SS_TEST_EMPTY").is_none());
        assert!(secrets.get("SS_TEST_NOT_SET_ANYWHERE").is_none());
    }
}
