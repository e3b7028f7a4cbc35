//! [`Extras`]: a chat event's platform-specific details, kept as the JSON object text they are
//! stored and exported as.
//!
//! Nothing in the runtime reads extras field by field; they go to the chat log and to consumers
//! as JSON. So instead of a map of owned keys and values (a dozen allocations and a hash per field,
//! on every chat line), a source writes each field straight into one string, in the exact compact
//! form `serde_json` prints. Readers that do want a field ([`Extras::get`], [`Extras::to_map`])
//! parse it; the store takes the text as it is ([`Extras::as_json`]).
//!
//! Keys written by the builder methods are the source's own names (`&'static str`), so a key is
//! never repeated by accident; details keyed by the wire's own names (Twitch `msg-param-*` tags,
//! room settings) are gathered in a `serde_json::Map` first and inserted as one value.

use crate::swar;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt::{self, Write as _};

/// A JSON object of platform details, built field by field without intermediate values.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Extras {
    /// The compact JSON text of the object, or empty when it has no fields. A new field replaces
    /// the closing brace and writes it again after itself.
    text: String,
}

impl Extras {
    /// No fields.
    pub fn new() -> Extras {
        Extras::default()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The object as compact JSON text (`{}` when empty), exactly what `serde_json` would print.
    pub fn as_json(&self) -> &str {
        if self.text.is_empty() {
            "{}"
        } else {
            &self.text
        }
    }

    /// The value of one field, parsed; `None` when absent.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.to_map().remove(key)
    }

    /// Every field, parsed.
    pub fn to_map(&self) -> Map<String, Value> {
        serde_json::from_str(self.as_json()).expect("extras are always a valid JSON object")
    }

    /// Extras holding the fields of `map`, in its order.
    pub fn from_map(map: &Map<String, Value>) -> Extras {
        let mut extras = Extras::new();
        for (key, value) in map {
            extras.field_escaped(key, value);
        }
        extras
    }

    /// Parses stored JSON text; it must be an object.
    pub fn parse(json: &str) -> Result<Extras, serde_json::Error> {
        let map: Map<String, Value> = serde_json::from_str(json)?;
        Ok(Extras::from_map(&map))
    }

    pub fn insert_str(&mut self, key: &'static str, value: &str) {
        self.field(key, |out| write_string(out, value));
    }

    pub fn insert_u64(&mut self, key: &'static str, value: u64) {
        self.field(key, |out| out.push_str(itoa::Buffer::new().format(value)));
    }

    pub fn insert_bool(&mut self, key: &'static str, value: bool) {
        self.field(key, |out| {
            out.push_str(if value { "true" } else { "false" })
        });
    }

    /// An array of strings.
    pub fn insert_str_list<'a>(
        &mut self,
        key: &'static str,
        items: impl IntoIterator<Item = &'a str>,
    ) {
        self.field(key, |out| write_array(out, items, write_string));
    }

    /// A nested object of string fields, in the order given.
    pub fn insert_str_object<'a>(
        &mut self,
        key: &'static str,
        fields: impl IntoIterator<Item = (&'static str, &'a str)>,
    ) {
        self.field(key, |out| write_object(out, fields, write_string));
    }

    /// Any JSON value.
    pub fn insert_value(&mut self, key: &'static str, value: &Value) {
        self.field(key, |out| write_value(out, value));
    }

    /// Appends `"key":value`, the value written by `write_value`, and closes the object again.
    /// Keys are the source's own names: plain ASCII that JSON never escapes.
    #[inline]
    fn field(&mut self, key: &'static str, write_value: impl FnOnce(&mut String)) {
        debug_assert!(!any_needs_escape(key.as_bytes()), "{key:?} needs escaping");
        self.open_field();
        self.text.push('"');
        self.text.push_str(key);
        self.text.push_str("\":");
        write_value(&mut self.text);
        self.text.push('}');
    }

    /// Appends a field whose key comes from elsewhere and may need escaping.
    fn field_escaped(&mut self, key: &str, value: &Value) {
        self.open_field();
        write_string(&mut self.text, key);
        self.text.push(':');
        write_value(&mut self.text, value);
        self.text.push('}');
    }

    /// Starts the next field: opens the object, or replaces its closing `}` with a comma.
    #[inline]
    fn open_field(&mut self) {
        if self.text.is_empty() {
            // Most events carry a colour, badges and a number or two.
            self.text = String::with_capacity(128);
            self.text.push('{');
        } else {
            // The closing `}` is one ASCII byte.
            self.text.truncate(self.text.len() - 1);
            self.text.push(',');
        }
    }
}

impl fmt::Debug for Extras {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_json())
    }
}

impl Serialize for Extras {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_map().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Extras {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Extras, D::Error> {
        Map::<String, Value>::deserialize(deserializer).map(|map| Extras::from_map(&map))
    }
}

/// Writes a value in `serde_json`'s compact form.
fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::String(s) => write_string(out, s),
        // Numbers, booleans and null print the same either way; only strings need our escaping.
        Value::Null | Value::Bool(_) | Value::Number(_) => {
            out.push_str(&serde_json::to_string(value).expect("scalars always serialize"))
        }
        Value::Array(items) => write_array(out, items, write_value),
        Value::Object(map) => write_object(out, map, write_value),
    }
}

/// `[item,item,...]`.
fn write_array<T>(out: &mut String, items: impl IntoIterator<Item = T>, write: fn(&mut String, T)) {
    out.push('[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(out, item);
    }
    out.push(']');
}

/// `{"name":value,...}`.
fn write_object<K: AsRef<str>, T>(
    out: &mut String,
    fields: impl IntoIterator<Item = (K, T)>,
    write: fn(&mut String, T),
) {
    out.push('{');
    for (i, (name, value)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, name.as_ref());
        out.push(':');
        write(out, value);
    }
    out.push('}');
}

/// Writes a JSON string literal escaped exactly as `serde_json` does: `"` and `\`, the short forms
/// `\b \f \n \r \t`, every other control character as `\u00XX`; everything else as it is.
fn write_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    // Almost every key and value (colours, badges, ids, names) needs no escaping: a quick pass
    // tells, and the whole string is copied at once.
    if !any_needs_escape(bytes) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // Every byte matched above is ASCII, so `i` is on a char boundary.
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Whether any byte needs escaping (below 0x20, `"` or `\\`), eight bytes per step.
fn any_needs_escape(bytes: &[u8]) -> bool {
    let needs_escape = |word: [u8; 8]| {
        let word = swar::word(word);
        let control = swar::bytes_below(word, 0x20);
        let quote = swar::zero_bytes(word ^ swar::splat(b'"'));
        let backslash = swar::zero_bytes(word ^ swar::splat(b'\\'));
        control | quote | backslash != 0
    };
    let Some(last) = bytes.last_chunk::<8>() else {
        return bytes
            .iter()
            .any(|&byte| byte < 0x20 || byte == b'"' || byte == b'\\');
    };
    let (words, _) = bytes.as_chunks::<8>();
    // Whole words, then the last eight bytes (overlapping the last word when the length is not a
    // multiple of eight).
    words.iter().any(|word| needs_escape(*word)) || needs_escape(*last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn builds_the_text_serde_json_prints() {
        let mut extras = Extras::new();
        assert!(extras.is_empty());
        assert_eq!(extras.as_json(), "{}");
        extras.insert_str("color", "#1E90FF");
        extras.insert_str_list("badges", ["moderator/1", "subscriber/12"]);
        extras.insert_u64("bits", 100);
        extras.insert_bool("action", true);
        extras.insert_str_object("reply_parent", [("msg_id", "x"), ("body", "a \"b\"")]);
        extras.insert_value(
            "settings",
            &json!({"slow": 5, "r9k": null, "list": [1, "two"]}),
        );
        let expected = json!({
            "color": "#1E90FF",
            "badges": ["moderator/1", "subscriber/12"],
            "bits": 100,
            "action": true,
            "reply_parent": {"msg_id": "x", "body": "a \"b\""},
            "settings": {"slow": 5, "r9k": null, "list": [1, "two"]},
        });
        assert_eq!(extras.as_json(), expected.to_string());
        assert_eq!(Value::Object(extras.to_map()), expected);
        assert_eq!(extras.get("bits"), Some(json!(100)));
        assert_eq!(extras.get("missing"), None);
    }

    #[test]
    fn round_trips_through_serde_and_stored_text() {
        let mut extras = Extras::new();
        extras.insert_str("notice_id", "msg_banned");
        extras.insert_u64("duration_s", 600);
        let json = serde_json::to_string(&extras).unwrap();
        assert_eq!(json, extras.as_json());
        let back: Extras = serde_json::from_str(&json).unwrap();
        assert_eq!(back, extras);
        assert_eq!(Extras::parse(extras.as_json()).unwrap(), extras);
        assert!(Extras::parse("[1]").is_err());
        assert_eq!(Extras::parse("{}").unwrap(), Extras::new());
    }

    proptest! {
        #[test]
        fn strings_are_escaped_exactly_like_serde_json(
            s in prop_oneof![any::<String>(), "[a-z\"\\\\\\x00-\\x1f\\x7f é]{0,40}"],
            key in prop_oneof!["[a-z_]{1,12}", "[a\"\\\\\\x00-\\x1f]{1,5}"],
        ) {
            let mut out = String::new();
            write_string(&mut out, &s);
            prop_assert_eq!(&out, &serde_json::to_string(&s).unwrap());

            let mut map = Map::new();
            map.insert(key.clone(), Value::String(s.clone()));
            map.insert("n".into(), json!([s.clone(), -1.5, {"k": s}]));
            let extras = Extras::from_map(&map);
            prop_assert_eq!(extras.as_json(), serde_json::to_string(&map).unwrap());
            prop_assert_eq!(extras.to_map(), map);
        }
    }
}
