//! Splices: replace exact byte ranges of a text and keep every other byte as it was.

use std::ops::Range;

/// Replace `range` of the original text with `replacement` (an empty range inserts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    pub range: Range<usize>,
    pub replacement: String,
}

/// Two splices touch the same bytes, which would make the result depend on their order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("overlapping edits at bytes {first:?} and {second:?}")]
pub struct OverlapError {
    pub first: Range<usize>,
    pub second: Range<usize>,
}

/// Applies `splices` (in any order) to `text`. Ranges must lie on character boundaries inside the
/// text, which holds for spans found by [`crate::json_spans`] and [`super::toml_spans`].
pub fn apply(text: &str, splices: &[Splice]) -> Result<String, OverlapError> {
    let mut ordered: Vec<&Splice> = splices.iter().collect();
    ordered.sort_by_key(|s| (s.range.start, s.range.end));
    for pair in ordered.windows(2) {
        if pair[1].range.start < pair[0].range.end {
            return Err(OverlapError {
                first: pair[0].range.clone(),
                second: pair[1].range.clone(),
            });
        }
    }
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    for splice in ordered {
        out.push_str(&text[at..splice.range.start]);
        out.push_str(&splice.replacement);
        at = splice.range.end;
    }
    out.push_str(&text[at..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splice(range: Range<usize>, replacement: &str) -> Splice {
        Splice {
            range,
            replacement: replacement.to_string(),
        }
    }

    #[test]
    fn applies_in_any_order_and_keeps_the_rest() {
        let text = "a=\"1\" b=\"2\"\n";
        let out = apply(text, &[splice(8..11, "\"22\""), splice(2..5, "\"11\"")]).unwrap();
        assert_eq!(out, "a=\"11\" b=\"22\"\n");
    }

    #[test]
    fn empty_range_inserts() {
        assert_eq!(apply("[1]", &[splice(2..2, ", 2")]).unwrap(), "[1, 2]");
    }

    #[test]
    fn overlapping_edits_are_refused() {
        assert!(apply("abcdef", &[splice(0..3, "x"), splice(2..4, "y")]).is_err());
    }
}
