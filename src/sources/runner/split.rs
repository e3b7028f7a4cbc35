//! Splitting long text at a platform's message limit: at spaces where possible, a word longer than a
//! whole message cut at a character boundary. Counted in characters (Unicode code points), as the
//! platforms count them.

/// Splits `text` into chunks of at most `max_chars` characters, at spaces where possible. Blank text
/// gives no chunk.
pub fn split_message(text: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(1);
    let mut chunks = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let cut = match rest.char_indices().nth(max_chars) {
            None => rest.len(),
            Some((limit, ' ')) => limit,
            Some((limit, _)) => match rest[..limit].rfind(' ') {
                Some(space) if space > 0 => space,
                _ => limit,
            },
        };
        let (chunk, tail) = rest.split_at(cut);
        chunks.push(chunk.trim_end().to_owned());
        rest = tail.trim_start();
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_at_words_and_cuts_a_word_longer_than_a_message() {
        assert_eq!(split_message("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(split_message("abcdefg", 3), ["abc", "def", "g"]);
        assert!(split_message("   ", 3).is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn chunks_fit_and_keep_every_word(text in "[a-zé👉 ]{0,1200}", max in 1usize..40) {
            let chunks = split_message(&text, max);
            for chunk in &chunks {
                prop_assert!(chunk.chars().count() <= max, "{chunk:?} over {max}");
                prop_assert!(!chunk.is_empty());
            }
            let original: String = text.split_whitespace().collect();
            let kept: String = chunks.iter().flat_map(|c| c.split_whitespace()).collect();
            prop_assert_eq!(kept, original);
        }
    }
}
