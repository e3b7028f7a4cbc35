//! Byte ranges of the values in a JSON document, by JSON pointer.
//!
//! Two users: config diagnostics turn a pointer from the schema validator into `file:line:column`
//! ([`crate::config::spans`]), and `ss update-version` changes a version string and nothing else (not
//! the key order, not the indentation, not the trailing newline): re-serializing a parsed document
//! cannot promise that, so the stamper locates the exact bytes of each value here and splices new text
//! in their place ([`crate::version::text_edit`]). The scan is strict: callers parse the text with `serde_json` first (which
//! reports syntax errors with line and column), so a scan failure means a defect, not user input.

use std::collections::HashMap;
use std::ops::Range;

/// What kind of JSON value a span holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Object,
    Array,
    String,
    /// A number, `true`, `false` or `null`.
    Scalar,
}

/// Where one value sits: its byte range in the text (quotes and brackets included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSpan {
    pub range: Range<usize>,
    pub kind: ValueKind,
}

/// Every value of one document, by JSON pointer (`""` is the whole document).
#[derive(Debug, Default)]
pub struct JsonSpans {
    values: HashMap<String, ValueSpan>,
}

/// The text is not well-formed JSON at this byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed JSON at byte {offset}")]
pub struct ScanError {
    pub offset: usize,
}

impl JsonSpans {
    /// Scans `text`, which must hold exactly one JSON value (surrounding whitespace allowed).
    pub fn scan(text: &str) -> Result<JsonSpans, ScanError> {
        let mut scanner = Scanner {
            text,
            bytes: text.as_bytes(),
            at: 0,
            values: HashMap::new(),
        };
        scanner.skip_ws();
        scanner.value(String::new())?;
        scanner.skip_ws();
        if scanner.at != scanner.bytes.len() {
            return Err(scanner.error());
        }
        Ok(JsonSpans {
            values: scanner.values,
        })
    }

    /// The span of the value at `pointer`, if there is one.
    pub fn get(&self, pointer: &str) -> Option<&ValueSpan> {
        self.values.get(pointer)
    }
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    values: HashMap<String, ValueSpan>,
}

impl Scanner<'_> {
    fn error(&self) -> ScanError {
        ScanError { offset: self.at }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, want: u8) -> Result<(), ScanError> {
        self.skip_ws();
        if self.peek() == Some(want) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn value(&mut self, pointer: String) -> Result<(), ScanError> {
        self.skip_ws();
        let start = self.at;
        let kind = match self.peek().ok_or_else(|| self.error())? {
            b'{' => {
                self.object(&pointer)?;
                ValueKind::Object
            }
            b'[' => {
                self.array(&pointer)?;
                ValueKind::Array
            }
            b'"' => {
                self.string()?;
                ValueKind::String
            }
            _ => {
                self.scalar()?;
                ValueKind::Scalar
            }
        };
        self.values.insert(
            pointer,
            ValueSpan {
                range: start..self.at,
                kind,
            },
        );
        Ok(())
    }

    fn object(&mut self, pointer: &str) -> Result<(), ScanError> {
        self.at += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            let key_range = self.string()?;
            // Keys are decoded by serde_json so escapes (`\u002f`, `\"`) resolve exactly as the parser's.
            let key: String = serde_json::from_str(&self.text[key_range])
                .map_err(|_| ScanError { offset: self.at })?;
            self.eat(b':')?;
            self.value(format!("{pointer}/{}", escape_token(&key)))?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(self.error()),
            }
        }
    }

    fn array(&mut self, pointer: &str) -> Result<(), ScanError> {
        self.at += 1;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(());
        }
        let mut index = 0usize;
        loop {
            self.value(format!("{pointer}/{index}"))?;
            index += 1;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(self.error()),
            }
        }
    }

    /// Skips a string literal and returns its byte range, quotes included. Multi-byte UTF-8 sequences
    /// never contain `"` or `\` bytes, so a byte scan finds the closing quote exactly.
    fn string(&mut self) -> Result<Range<usize>, ScanError> {
        let start = self.at;
        if self.peek() != Some(b'"') {
            return Err(self.error());
        }
        self.at += 1;
        loop {
            match self.peek().ok_or_else(|| self.error())? {
                b'"' => {
                    self.at += 1;
                    return Ok(start..self.at);
                }
                b'\\' => self.at += 2,
                _ => self.at += 1,
            }
        }
    }

    fn scalar(&mut self) -> Result<(), ScanError> {
        let start = self.at;
        while matches!(self.peek(), Some(b) if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
        {
            self.at += 1;
        }
        if self.at == start {
            Err(self.error())
        } else {
            Ok(())
        }
    }
}

/// Escapes one reference token for a JSON pointer (RFC 6901).
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text_at<'a>(text: &'a str, spans: &JsonSpans, pointer: &str) -> &'a str {
        &text[spans.get(pointer).expect(pointer).range.clone()]
    }

    #[test]
    fn finds_nested_values_with_exact_byte_ranges() {
        let text = "{\n  \"meta\": {\"runtime\": {\"version\": \"0.3.0-alpha\", \"build\": \"2026.11.22+001\"}},\n  \"a/b\": [1, true, null, \"é\\\"x\"]\n}\n";
        let spans = JsonSpans::scan(text).unwrap();
        assert_eq!(
            text_at(text, &spans, "/meta/runtime/version"),
            "\"0.3.0-alpha\""
        );
        assert_eq!(
            text_at(text, &spans, "/meta/runtime/build"),
            "\"2026.11.22+001\""
        );
        assert_eq!(text_at(text, &spans, "/a~1b/1"), "true");
        assert_eq!(text_at(text, &spans, "/a~1b/3"), "\"é\\\"x\"");
        assert_eq!(
            text_at(text, &spans, "/a~1b"),
            "[1, true, null, \"é\\\"x\"]"
        );
        assert_eq!(spans.get("/meta").unwrap().kind, ValueKind::Object);
        assert_eq!(spans.get("").unwrap().range, 0..text.len() - 1);
    }

    #[test]
    fn escaped_keys_resolve_like_the_parser() {
        let text = r#"{"ver\u0073ion": "1.0.0"}"#;
        let spans = JsonSpans::scan(text).unwrap();
        assert_eq!(text_at(text, &spans, "/version"), "\"1.0.0\"");
    }

    #[test]
    fn malformed_text_is_an_error_not_a_panic() {
        for text in [
            "",
            "{",
            "{\"a\"",
            "[1,",
            "{\"a\": [}",
            "\"\\u12",
            "{} x",
            "{\"a\" 1}",
        ] {
            assert!(JsonSpans::scan(text).is_err(), "{text:?}");
        }
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            ".*".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::btree_map(".*", inner, 0..6)
                    .prop_map(|m| { serde_json::Value::Object(m.into_iter().collect()) }),
            ]
        })
    }

    /// Every pointer of a value, paired with the value there.
    fn pointers(value: &serde_json::Value, at: String, out: &mut Vec<(String, serde_json::Value)>) {
        out.push((at.clone(), value.clone()));
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    pointers(v, format!("{at}/{}", escape_token(k)), out);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    pointers(v, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    proptest! {
        /// Whatever the document and its layout, each span parses back to the value at its pointer.
        #[test]
        fn every_span_holds_the_value_at_its_pointer(value in json_value(), pretty in any::<bool>()) {
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            let spans = JsonSpans::scan(&text).unwrap();
            let mut all = Vec::new();
            pointers(&value, String::new(), &mut all);
            for (pointer, expected) in all {
                let span = spans.get(&pointer).unwrap();
                let parsed: serde_json::Value = serde_json::from_str(&text[span.range.clone()]).unwrap();
                prop_assert_eq!(parsed, expected);
            }
        }

        #[test]
        fn never_panics_on_arbitrary_text(text in ".*") {
            let _ = JsonSpans::scan(&text);
        }
    }
}
