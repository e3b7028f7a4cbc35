//! Banned words and phrases, and banned regexes.
//!
//! The words of one filter compile into one Aho-Corasick automaton over their folded form
//! (lowercase, no accents: [`super::text::fold`]), ASCII case ignored by the automaton itself, so an
//! ASCII message is searched as it is and only other messages are folded first. A match counts
//! only as a whole word (or phrase): the characters around it are not letters or digits, so
//! `ass` does not catch `class`. Every occurrence is tried, overlapping ones included, so a
//! banned word inside a longer word does not hide the same word standing alone later.
//!
//! The regexes of one filter compile into one `RegexSet` (case-insensitive). Rust's regex crate
//! guarantees time linear in the message whatever the pattern (no backtracking), so a
//! pathological pattern such as `(a+)+$` cannot stall the pipeline; sizes are capped when
//! compiling, so a huge pattern is refused at config time instead.

use super::text::fold;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{RegexSet, RegexSetBuilder};

/// The most memory one filter's regexes may compile into.
const REGEX_SIZE_LIMIT: usize = 8 << 20;

/// One filter's banned words and regexes, compiled.
#[derive(Debug)]
pub struct BannedWords {
    words: Vec<String>,
    automaton: Option<AhoCorasick>,
    patterns: Vec<String>,
    regexes: Option<RegexSet>,
}

/// What matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Banned<'a> {
    Word(&'a str),
    Pattern(&'a str),
}

impl BannedWords {
    /// Compiles `words` and `patterns`; a pattern that does not compile is an error naming it.
    pub fn compile(words: &[String], patterns: &[String]) -> Result<BannedWords, String> {
        let words: Vec<String> = words
            .iter()
            .map(|w| fold(w.trim()).to_lowercase())
            .filter(|w| !w.is_empty())
            .collect();
        let automaton = if words.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(&words)
                    .map_err(|e| format!("the banned words do not compile: {e}"))?,
            )
        };
        let regexes = if patterns.is_empty() {
            None
        } else {
            Some(
                RegexSetBuilder::new(patterns)
                    .case_insensitive(true)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .dfa_size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| format!("a pattern does not compile: {e}"))?,
            )
        };
        Ok(BannedWords {
            words,
            automaton,
            patterns: patterns.to_vec(),
            regexes,
        })
    }

    /// The first banned word (as a whole word) or pattern in `text`.
    pub fn find(&self, text: &str) -> Option<Banned<'_>> {
        if let Some(automaton) = &self.automaton {
            let folded = fold(text);
            let hay = folded.as_ref();
            for m in automaton.find_overlapping_iter(hay) {
                if whole_word(hay, m.start(), m.end()) {
                    return Some(Banned::Word(&self.words[m.pattern().as_usize()]));
                }
            }
        }
        // Most messages match no pattern: the set's quick yes-or-no first, which pattern only
        // then.
        if let Some(regexes) = &self.regexes
            && regexes.is_match(text)
            && let Some(i) = regexes.matches(text).into_iter().next()
        {
            return Some(Banned::Pattern(&self.patterns[i]));
        }
        None
    }
}

/// Whether `hay[start..end]` stands alone: no letter or digit touches it.
fn whole_word(hay: &str, start: usize, end: usize) -> bool {
    let before = hay[..start].chars().next_back();
    let after = hay[end..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str], p: &[&str]) -> BannedWords {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        BannedWords::compile(&s(w), &s(p)).unwrap()
    }

    #[test]
    fn words_match_whole_in_any_case_and_accent() {
        let banned = words(&["ass", "bad phrase", "crème"], &[]);
        assert_eq!(banned.find("you ASS"), Some(Banned::Word("ass")));
        assert_eq!(banned.find("a class act"), None);
        assert_eq!(banned.find("classy, ass!"), Some(Banned::Word("ass")));
        assert_eq!(
            banned.find("that is a BAD Phrase."),
            Some(Banned::Word("bad phrase"))
        );
        assert_eq!(banned.find("CRÈME brûlée"), Some(Banned::Word("creme")));
        assert_eq!(banned.find("creme"), Some(Banned::Word("creme")));
        assert_eq!(banned.find("Ässholes"), None);
        assert_eq!(banned.find("Äss"), Some(Banned::Word("ass")));
    }

    #[test]
    fn patterns_are_case_insensitive_and_a_bad_one_is_named() {
        let banned = words(&[], &[r"free\s+v-?bucks"]);
        assert_eq!(
            banned.find("FREE  VBucks here"),
            Some(Banned::Pattern(r"free\s+v-?bucks"))
        );
        let err = BannedWords::compile(&[], &["(unclosed".to_owned()]).unwrap_err();
        assert!(err.contains("does not compile"), "{err}");
    }

    /// Rust's regex crate is linear: the classic catastrophic pattern against a long near-miss
    /// is answered at once (a backtracking engine would take longer than the universe has left,
    /// and this test would never end). `benches/moderation.rs` measures it.
    #[test]
    fn a_pathological_pattern_is_answered() {
        let banned = words(&[], &["(a+)+$", "(x+x+)+y"]);
        let text = format!("{}b", "a".repeat(50_000));
        assert_eq!(banned.find(&text), None);
        assert_eq!(
            banned.find(&"a".repeat(50_000)),
            Some(Banned::Pattern("(a+)+$"))
        );
    }
}
