//! Decoding JSON from the network: the one error type every platform's parser returns, and the
//! few value types the platforms' formats share.
//!
//! Every answer, frame and webhook body the runtime reads is described once, as serde types in the
//! module that reads it (`sources::youtube::wire`, `sources::kick::wire`, `sources::rumble::wire`,
//! the notification senders, the clip destinations), and decoded here with [`from_str`],
//! [`from_slice`] or [`from_value`]. A body that does not fit fails with a [`WireError`] saying what
//! was being read, *where* in it the problem is (the JSON path, `items[3].snippet.publishedAt`), and
//! serde's words for what was wrong there, instead of a field silently reading as absent.
//!
//! The decoders take serde's fast path first and only decode a second time, tracking the path, when
//! the first attempt failed: a good body costs what plain `serde_json` costs.
//!
//! The value types accept the variations platforms really send for one logical field, so the
//! shapes stay strict everywhere else: [`U64`] (Google sends uint64 fields as JSON strings, Kick and
//! Rumble send numbers), [`Id`] (ids as strings or integers) and [`Rfc3339`] (times with any offset,
//! read as UTC). [`parse_time`] is the one RFC 3339 reader for times found inside text.

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// What kind of problem a body had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireProblem {
    /// Not JSON at all, or cut short.
    Syntax,
    /// JSON, but not the shape expected: a field missing or of another type, a value out of range.
    Shape,
}

/// Why a body from the network could not be read: what was being read, where in it, and what was
/// wrong there. The message holds no secret: bodies carry none we send, and values are not quoted
/// beyond serde's short description of the offending one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {problem}{}", at(path))]
pub struct WireError {
    /// What was being read (`a YouTube chat page`, `the Kick ChatMessageEvent data`).
    pub what: String,
    /// The JSON path of the offending value (`items[3].snippet.publishedAt`); `.` for the whole
    /// body.
    pub path: String,
    /// What was wrong there.
    pub problem: String,
    pub kind: WireProblem,
}

fn at(path: &str) -> String {
    if path.is_empty() || path == "." {
        String::new()
    } else {
        format!(" (at {path})")
    }
}

impl WireError {
    /// A body of the right JSON shape whose content is still wrong (a check serde cannot make).
    pub fn shape(what: &str, path: &str, problem: impl Into<String>) -> WireError {
        WireError {
            what: what.to_owned(),
            path: path.to_owned(),
            problem: problem.into(),
            kind: WireProblem::Shape,
        }
    }

    /// This error, found inside the value at `prefix` of a larger body (an item of a list decoded
    /// on its own).
    pub fn within(mut self, prefix: &str) -> WireError {
        self.path = if self.path.is_empty() || self.path == "." {
            prefix.to_owned()
        } else if self.path.starts_with('[') {
            format!("{prefix}{}", self.path)
        } else {
            format!("{prefix}.{}", self.path)
        };
        self
    }

    fn from_serde(what: &str, path: String, error: &serde_json::Error) -> WireError {
        use serde_json::error::Category;
        let kind = match error.classify() {
            Category::Data => WireProblem::Shape,
            Category::Syntax | Category::Eof | Category::Io => WireProblem::Syntax,
        };
        let problem = match kind {
            WireProblem::Syntax => format!("not JSON ({error})"),
            // serde_json appends the line and column of the body; the path says more.
            WireProblem::Shape => strip_position(&error.to_string()),
        };
        WireError {
            what: what.to_owned(),
            path,
            problem,
            kind,
        }
    }
}

/// serde_json's message without its trailing ` at line L column C`.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_owned(),
        _ => message.to_owned(),
    }
}

/// Decodes `text` as a `T`; `what` names it in the error.
pub fn from_str<'de, T: Deserialize<'de>>(what: &str, text: &'de str) -> Result<T, WireError> {
    serde_json::from_str(text).map_err(|first| {
        let mut de = serde_json::Deserializer::from_str(text);
        located(
            what,
            &first,
            serde_path_to_error::deserialize::<_, T>(&mut de),
        )
    })
}

/// Decodes `bytes` as a `T`; `what` names it in the error.
pub fn from_slice<'de, T: Deserialize<'de>>(what: &str, bytes: &'de [u8]) -> Result<T, WireError> {
    serde_json::from_slice(bytes).map_err(|first| {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        located(
            what,
            &first,
            serde_path_to_error::deserialize::<_, T>(&mut de),
        )
    })
}

/// Decodes an already parsed `value` as a `T`, borrowing its strings; `what` names it in the error.
pub fn from_value<'de, T: Deserialize<'de>>(what: &str, value: &'de Value) -> Result<T, WireError> {
    T::deserialize(value).map_err(|first| {
        located(
            what,
            &first,
            serde_path_to_error::deserialize::<_, T>(value),
        )
    })
}

/// Decodes an owned `value` as a `T`.
pub fn from_owned_value<T: DeserializeOwned>(what: &str, value: Value) -> Result<T, WireError> {
    from_value(what, &value)
}

/// The error of the second, path-tracking decode (which fails where the first did); the first
/// error alone if the second somehow succeeded.
fn located<T>(
    what: &str,
    first: &serde_json::Error,
    second: Result<T, serde_path_to_error::Error<serde_json::Error>>,
) -> WireError {
    match second {
        Err(e) => WireError::from_serde(what, e.path().to_string(), e.inner()),
        Ok(_) => WireError::from_serde(what, ".".into(), first),
    }
}

/// An RFC 3339 time (`2023-05-25T20:08:08.479833+00:00`, `2025-01-14T16:08:06Z`) in UTC.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A non-negative integer sent as a JSON number or as a string of digits (Google's uint64 fields
/// are strings: `"amountMicros": "5000000"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct U64(pub u64);

impl<'de> Deserialize<'de> for U64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<U64, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = U64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer, as a number or a string of digits")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<U64, E> {
                Ok(U64(n))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<U64, E> {
                u64::try_from(n)
                    .map(U64)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(n), &self))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<U64, E> {
                s.trim()
                    .parse()
                    .map(U64)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(s), &self))
            }
        }
        d.deserialize_any(V)
    }
}

impl U64 {
    /// The value as a `u32`, saturated (counts and months never come near the limit).
    pub fn as_u32(self) -> u32 {
        u32::try_from(self.0).unwrap_or(u32::MAX)
    }
}

/// An id sent as a JSON string or an integer, kept as text (`3528468` and `"3528468"` are one id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct Id(pub CompactString);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an id, as a string or an integer")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Id, E> {
                Ok(Id(itoa::Buffer::new().format(n).into()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Id, E> {
                Ok(Id(itoa::Buffer::new().format(n).into()))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Id, E> {
                Ok(Id(s.into()))
            }
        }
        d.deserialize_any(V)
    }
}

impl Id {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id, unless it is empty (platforms send `""` to mean none).
    pub fn non_empty(&self) -> Option<&str> {
        Some(self.0.as_str()).filter(|s| !s.is_empty())
    }
}

/// An RFC 3339 time, read as UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Rfc3339(pub DateTime<Utc>);

impl<'de> Deserialize<'de> for Rfc3339 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rfc3339, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Rfc3339;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 time")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Rfc3339, E> {
                parse_time(s)
                    .map(Rfc3339)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(s), &self))
            }
        }
        d.deserialize_str(V)
    }
}

/// An OAuth 2 token answer (RFC 6749 §5.1), as Kick, X and Twitch send it. Its `Debug` shows no
/// token.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    /// `None` when absent or empty.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds the access token lives, when the server says.
    #[serde(default)]
    pub expires_in: Option<U64>,
}

impl fmt::Debug for TokenAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAnswer")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Reads a token answer (`what` names whose); an empty access token is no token.
pub fn parse_token(what: &str, body: &str) -> Result<TokenAnswer, WireError> {
    let mut token: TokenAnswer = from_str(what, body)?;
    if token.access_token.is_empty() {
        return Err(WireError::shape(what, "access_token", "the token is empty"));
    }
    token.refresh_token = token.refresh_token.filter(|t| !t.is_empty());
    Ok(token)
}

/// The JSON error body most HTTP APIs answer with: a `message` (Discord, Twitch Helix, Kick) with
/// an optional numeric `code` (Discord), or OAuth's `error` and `error_description` (RFC 6749
/// §5.2). Every field is optional: whatever an error page holds is read, nothing is required.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    pub message: Option<String>,
    pub code: Option<i64>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl ErrorBody {
    /// The body's error, when it is a JSON object; `None` for an empty body or an HTML page.
    pub fn parse(body: &str) -> Option<ErrorBody> {
        from_str("an error answer", body).ok()
    }

    /// The most telling text: the message, else OAuth's description or error code name.
    pub fn text(&self) -> Option<&str> {
        [&self.message, &self.error_description, &self.error]
            .into_iter()
            .find_map(|t| t.as_deref().filter(|t| !t.is_empty()))
    }
}

#[cfg(test)]
pub(crate) mod strategy {
    //! The one proptest strategy of JSON trees the wire parsers are fuzzed with.

    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// JSON trees whose object keys come from `keys` (the names a parser looks for, so the fuzzing
    /// reaches past the first missing field) and whose strings are random or from `strings`
    /// (values a parser branches on: event types, times, numbers as text).
    pub fn arb_json(
        keys: &'static [&'static str],
        strings: &'static [&'static str],
    ) -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-zA-Z0-9:. \\[\\]-]{0,12}".prop_map(Value::String),
            prop::sample::select(strings).prop_map(|s| Value::String(s.into())),
        ];
        leaf.prop_recursive(4, 64, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((prop::sample::select(keys), inner), 0..6).prop_map(|kv| {
                    Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                }),
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Page {
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Item {
        #[allow(dead_code)]
        id: Id,
        amount_micros: U64,
        published_at: Rfc3339,
    }

    #[test]
    fn a_good_body_decodes_and_platform_variants_read_alike() {
        let page: Page = from_str(
            "a page",
            r#"{"items":[{"id":7,"amountMicros":"5000000","publishedAt":"2023-05-25T20:08:08.479833+00:00"},
                {"id":"x","amountMicros":12,"publishedAt":"2023-05-25T22:08:08+02:00"}]}"#,
        )
        .unwrap();
        assert_eq!(page.items[0].id, Id("7".into()));
        assert_eq!(page.items[0].amount_micros, U64(5_000_000));
        assert_eq!(page.items[1].amount_micros, U64(12));
        assert_eq!(
            page.items[1].published_at.0,
            parse_time("2023-05-25T20:08:08Z").unwrap()
        );
    }

    #[test]
    fn an_error_says_what_where_and_why() {
        let e = from_str::<Page>(
            "a YouTube chat page",
            r#"{"items":[{"id":1,"amountMicros":"1","publishedAt":"2023-05-25T20:08:08Z"},{"id":2,"amountMicros":"lots","publishedAt":"x"}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, WireProblem::Shape);
        assert_eq!(e.path, "items[1].amountMicros");
        assert_eq!(
            e.to_string(),
            r#"a YouTube chat page: invalid value: string "lots", expected a non-negative integer, as a number or a string of digits (at items[1].amountMicros)"#
        );
        let e = from_slice::<Page>("a page", br#"{"items":[{"id":1}]}"#).unwrap_err();
        assert_eq!(e.path, "items[0]");
        assert!(e.problem.contains("missing field `amountMicros`"), "{e}");
        let e = from_str::<Page>("a page", "<html>").unwrap_err();
        assert_eq!(e.kind, WireProblem::Syntax);
        assert!(e.to_string().starts_with("a page: not JSON ("), "{e}");
        let value = serde_json::json!({"items": [{"id": 1, "amountMicros": -1, "publishedAt": "2023-05-25T20:08:08Z"}]});
        let e = from_value::<Page>("a page", &value).unwrap_err();
        assert_eq!(e.path, "items[0].amountMicros");
        assert_eq!(
            e.clone().within("pages[2]").path,
            "pages[2].items[0].amountMicros"
        );
        let e = WireError::shape("a page", ".", "no items").within("pages[0]");
        assert_eq!(e.to_string(), "a page: no items (at pages[0])");
    }

    #[test]
    fn token_and_error_bodies_read_what_servers_send() {
        let token = parse_token(
            "the token answer",
            r#"{"access_token":"a1","token_type":"Bearer","refresh_token":"","expires_in":"7200","scope":"chat:write"}"#,
        )
        .unwrap();
        assert_eq!(token.access_token, "a1");
        assert_eq!(
            (token.refresh_token, token.expires_in),
            (None, Some(U64(7200)))
        );
        let debug = format!(
            "{:?}",
            parse_token(
                "t",
                r#"{"access_token":"SECRETA","refresh_token":"SECRETR"}"#
            )
            .unwrap()
        );
        assert!(!debug.contains("SECRET"), "{debug}");
        assert_eq!(
            parse_token("the token answer", r#"{"access_token":""}"#)
                .unwrap_err()
                .to_string(),
            "the token answer: the token is empty (at access_token)"
        );
        assert!(parse_token("t", "{}").is_err());
        let discord =
            ErrorBody::parse(r#"{"code":50013,"message":"Missing Permissions"}"#).unwrap();
        assert_eq!(
            (discord.text(), discord.code),
            (Some("Missing Permissions"), Some(50013))
        );
        let oauth =
            ErrorBody::parse(r#"{"error":"invalid_grant","error_description":"expired"}"#).unwrap();
        assert_eq!(oauth.text(), Some("expired"));
        assert_eq!(ErrorBody::parse("<html>"), None);
        assert_eq!(ErrorBody::parse("{}").unwrap().text(), None);
    }

    proptest! {
        #[test]
        fn numbers_and_ids_round_trip_in_either_form(n in any::<u64>(), as_text in any::<bool>()) {
            let json = if as_text { format!("\"{n}\"") } else { n.to_string() };
            prop_assert_eq!(from_str::<U64>("n", &json).unwrap(), U64(n));
            prop_assert_eq!(from_str::<Id>("id", &json).unwrap().0, n.to_string());
        }

        #[test]
        fn times_round_trip_through_any_offset(secs in 0i64..4_000_000_000, offset_min in -720i32..=840) {
            let at = DateTime::from_timestamp(secs, 0).unwrap();
            let offset = chrono::FixedOffset::east_opt(offset_min * 60).unwrap();
            let text = at.with_timezone(&offset).to_rfc3339();
            prop_assert_eq!(from_str::<Rfc3339>("t", &format!("\"{text}\"")).unwrap().0, at);
        }
    }
}
