//! Where a JSON pointer sits in the source text, as 1-based line and column.
//!
//! `serde_json` and the schema validator speak in JSON pointers (`/creators/0/id`); operators fix files
//! in an editor, which wants `file:line:column`. [`SpanIndex::build`] locates every value once through
//! [`crate::json_spans`] and keeps the line starts, so each diagnostic looks its pointer up. It is built
//! only for text that `serde_json` already parsed; malformed files are reported by the parser's own
//! error, so an index that cannot be built is simply empty (every lookup answers 1:1).

use crate::json_spans::JsonSpans;

pub use crate::json_spans::escape_token;

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Positions of every value in one JSON document, by JSON pointer.
///
/// The index is built on the first lookup, not up front: a valid file never needs a position, and
/// indexing every value of a large file costs many times its size in memory.
#[derive(Debug, Default)]
pub struct SpanIndex {
    text: String,
    /// The spans and the byte offset where each line starts, once a position is asked for.
    index: std::sync::OnceLock<(JsonSpans, Vec<usize>)>,
}

impl SpanIndex {
    /// Indexes `text` (lazily). Never fails: text that does not scan gives an empty index.
    pub fn build(text: &str) -> SpanIndex {
        SpanIndex::new(text.to_string())
    }

    /// Like [`SpanIndex::build`], taking the text without copying it.
    pub fn new(text: String) -> SpanIndex {
        SpanIndex {
            text,
            index: std::sync::OnceLock::new(),
        }
    }

    /// The indexed text.
    pub fn text(&self) -> &str {
        &self.text
    }

    fn index(&self) -> &(JsonSpans, Vec<usize>) {
        self.index.get_or_init(|| {
            let line_starts = std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect();
            (JsonSpans::scan(&self.text).unwrap_or_default(), line_starts)
        })
    }

    /// The position of the value at `pointer`, else of its nearest indexed ancestor, else 1:1.
    pub fn position(&self, pointer: &str) -> Position {
        let mut p = pointer;
        loop {
            if let Some(span) = self.index().0.get(p) {
                return self.at_byte(span.range.start);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Position { line: 1, column: 1 },
            }
        }
    }

    fn at_byte(&self, offset: usize) -> Position {
        let line_starts = &self.index().1;
        let line = line_starts.partition_point(|&start| start <= offset);
        let start = line_starts[line - 1];
        let column = self.text[start..offset].chars().count() + 1;
        Position { line, column }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_values_by_pointer() {
        let text = "{\n  \"a\": [1,\n    {\"b/c\": true}],\n  \"d\": \"é\", \"e\": 2\n}\n";
        let index = SpanIndex::build(text);
        assert_eq!(index.position(""), Position { line: 1, column: 1 });
        assert_eq!(index.position("/a"), Position { line: 2, column: 8 });
        assert_eq!(
            index.position("/a/1/b~1c"),
            Position {
                line: 3,
                column: 13
            }
        );
        assert_eq!(index.position("/d"), Position { line: 4, column: 8 });
        // Columns count characters: the é before "e" is one column.
        assert_eq!(
            index.position("/e"),
            Position {
                line: 4,
                column: 18
            }
        );
    }

    #[test]
    fn unknown_pointer_falls_back_to_nearest_ancestor() {
        let index = SpanIndex::build("{\"a\": {\"b\": 1}}");
        assert_eq!(index.position("/a/zzz"), index.position("/a"));
    }

    #[test]
    fn malformed_text_never_panics() {
        for text in ["", "{", "{\"a\"", "[1,", "{\"a\": [}", "\"\\u12"] {
            assert_eq!(
                SpanIndex::build(text).position("/a/0"),
                Position { line: 1, column: 1 }
            );
        }
    }
}
