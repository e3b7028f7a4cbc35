//! Where a JSON pointer sits in the source text, as 1-based line and column.
//!
//! `serde_json` and the schema validator speak in JSON pointers (`/creators/0/id`); operators fix files
//! in an editor, which wants `file:line:column`. [`SpanIndex::build`] walks the text once and records the
//! position of every value (and of every object key), so each diagnostic looks its pointer up.
//! The walk is tolerant: on malformed input it stops and keeps what it found, because malformed files
//! are reported by the parser's own error, not through this index.

use std::collections::HashMap;

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Positions of every value in one JSON document, by JSON pointer.
#[derive(Debug, Default)]
pub struct SpanIndex {
    values: HashMap<String, Position>,
}

impl SpanIndex {
    /// Indexes `text`. Never fails: a malformed tail is simply not indexed.
    pub fn build(text: &str) -> SpanIndex {
        let mut walker = Walker {
            chars: text.chars().peekable(),
            line: 1,
            column: 1,
            values: HashMap::new(),
        };
        walker.skip_ws();
        let _ = walker.value(String::new());
        SpanIndex {
            values: walker.values,
        }
    }

    /// The position of the value at `pointer`, else of its nearest indexed ancestor, else 1:1.
    pub fn position(&self, pointer: &str) -> Position {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.values.get(p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Position { line: 1, column: 1 },
            }
        }
    }
}

/// Escapes one reference token for a JSON pointer (RFC 6901).
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

struct Walker<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    column: usize,
    values: HashMap<String, Position>,
}

impl Walker<'_> {
    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn here(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.chars.peek(), Some(c) if c.is_whitespace()) {
            self.bump();
        }
    }

    fn expect(&mut self, want: char) -> Option<()> {
        self.skip_ws();
        (self.bump()? == want).then_some(())
    }

    fn value(&mut self, pointer: String) -> Option<()> {
        self.skip_ws();
        self.values.insert(pointer.clone(), self.here());
        match *self.chars.peek()? {
            '{' => self.object(&pointer),
            '[' => self.array(&pointer),
            '"' => self.string().map(|_| ()),
            _ => {
                while matches!(self.chars.peek(), Some(c) if !matches!(c, ',' | '}' | ']') && !c.is_whitespace())
                {
                    self.bump();
                }
                Some(())
            }
        }
    }

    fn object(&mut self, pointer: &str) -> Option<()> {
        self.bump();
        self.skip_ws();
        if self.chars.peek() == Some(&'}') {
            self.bump();
            return Some(());
        }
        loop {
            self.skip_ws();
            let key = self.string()?;
            self.expect(':')?;
            self.value(format!("{pointer}/{}", escape_token(&key)))?;
            self.skip_ws();
            match self.bump()? {
                ',' => continue,
                '}' => return Some(()),
                _ => return None,
            }
        }
    }

    fn array(&mut self, pointer: &str) -> Option<()> {
        self.bump();
        self.skip_ws();
        if self.chars.peek() == Some(&']') {
            self.bump();
            return Some(());
        }
        let mut index = 0usize;
        loop {
            self.value(format!("{pointer}/{index}"))?;
            index += 1;
            self.skip_ws();
            match self.bump()? {
                ',' => continue,
                ']' => return Some(()),
                _ => return None,
            }
        }
    }

    /// Reads a string literal and returns its decoded text (escapes decoded well enough for keys).
    fn string(&mut self) -> Option<String> {
        if self.bump()? != '"' {
            return None;
        }
        let mut out = String::new();
        loop {
            match self.bump()? {
                '"' => return Some(out),
                '\\' => match self.bump()? {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let hex: String = (0..4).filter_map(|_| self.bump()).collect();
                        out.push(
                            u32::from_str_radix(&hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .unwrap_or('\u{fffd}'),
                        );
                    }
                    other => out.push(other),
                },
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_values_by_pointer() {
        let text = "{\n  \"a\": [1,\n    {\"b/c\": true}],\n  \"d\": \"x\"\n}\n";
        let index = SpanIndex::build(text);
        assert_eq!(index.position(""), Position { line: 1, column: 1 });
        assert_eq!(index.position("/a"), Position { line: 2, column: 8 });
        assert_eq!(index.position("/a/1/b~1c"), Position { line: 3, column: 13 });
        assert_eq!(index.position("/d"), Position { line: 4, column: 8 });
    }

    #[test]
    fn unknown_pointer_falls_back_to_nearest_ancestor() {
        let index = SpanIndex::build("{\"a\": {\"b\": 1}}");
        assert_eq!(index.position("/a/zzz"), index.position("/a"));
    }

    #[test]
    fn malformed_text_never_panics() {
        for text in ["", "{", "{\"a\"", "[1,", "{\"a\": [}", "\"\\u12"] {
            let _ = SpanIndex::build(text).position("/a/0");
        }
    }
}
