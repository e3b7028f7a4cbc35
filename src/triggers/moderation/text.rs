//! What the filters measure in a message: case- and accent-folded text, the share of capitals
//! and of symbols, runs of one character, repeated words. Emote names (`KEKW`, `:)`) are left out
//! of the capitals and symbols counts: they are not shouting.

use crate::event::ChatEvent;
use std::borrow::Cow;
use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// `text` lowercased and without accents (`Émile` → `emile`): what banned words are matched
/// against. ASCII text is returned as it is (the word automaton ignores ASCII case itself), so
/// the common case allocates nothing.
pub fn fold(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        for lower in c.to_lowercase() {
            decompose_canonical(lower, |d| {
                if !is_combining_mark(d) {
                    out.push(d);
                }
            });
        }
    }
    Cow::Owned(out)
}

/// Whether the code point at `index` lies in one of the message's emotes.
fn in_emote(event: &ChatEvent, index: u32) -> bool {
    event
        .emotes
        .iter()
        .any(|e| (e.start..=e.end).contains(&index))
}

/// The characters of the message outside its emotes.
fn outside_emotes(event: &ChatEvent) -> impl Iterator<Item = char> + '_ {
    let emotes = !event.emotes.is_empty();
    event
        .text
        .chars()
        .enumerate()
        .filter(move |(i, _)| !emotes || !in_emote(event, *i as u32))
        .map(|(_, c)| c)
}

/// (capitals, letters) outside emotes.
pub fn caps(event: &ChatEvent) -> (u32, u32) {
    // The common case, ASCII without emotes, byte by byte.
    if event.emotes.is_empty() && event.text.is_ascii() {
        let (mut upper, mut letters) = (0, 0);
        for b in event.text.bytes() {
            letters += u32::from(b.is_ascii_alphabetic());
            upper += u32::from(b.is_ascii_uppercase());
        }
        return (upper, letters);
    }
    let (mut upper, mut letters) = (0, 0);
    for c in outside_emotes(event) {
        if c.is_alphabetic() {
            letters += 1;
            if c.is_uppercase() {
                upper += 1;
            }
        }
    }
    (upper, letters)
}

/// (symbols, characters without spaces) outside emotes: a symbol is neither a letter, a digit nor
/// a space.
pub fn symbols(event: &ChatEvent) -> (u32, u32) {
    if event.emotes.is_empty() && event.text.is_ascii() {
        let (mut symbols, mut visible) = (0, 0);
        for b in event.text.bytes() {
            // Whitespace as `char::is_whitespace` has it in ASCII: with the vertical tab.
            if b.is_ascii_whitespace() || b == 0x0B {
                continue;
            }
            visible += 1;
            symbols += u32::from(!b.is_ascii_alphanumeric());
        }
        return (symbols, visible);
    }
    let (mut symbols, mut visible) = (0, 0);
    for c in outside_emotes(event) {
        if c.is_whitespace() {
            continue;
        }
        visible += 1;
        if !c.is_alphanumeric() {
            symbols += 1;
        }
    }
    (symbols, visible)
}

/// The longest run of one character (any case) and that character.
pub fn longest_run(text: &str) -> (u32, char) {
    if text.is_ascii() {
        let mut best = (0, ' ');
        let mut current = (0, 0u8);
        for b in text.bytes().map(|b| b.to_ascii_lowercase()) {
            if b == current.1 {
                current.0 += 1;
            } else {
                current = (1, b);
            }
            if current.0 > best.0 && !(b as char).is_whitespace() {
                best = (current.0, b as char);
            }
        }
        return best;
    }
    let mut best = (0, ' ');
    let mut current = (0, '\0');
    for c in text.chars().flat_map(char::to_lowercase) {
        if c == current.1 {
            current.0 += 1;
        } else {
            current = (1, c);
        }
        if current.0 > best.0 && !c.is_whitespace() {
            best = current;
        }
    }
    best
}

/// The word repeated most (any case) and how often, once a message has at least `threshold`
/// words (fewer cannot repeat one that often, and are not counted).
pub fn most_repeated_word(text: &str, threshold: u32) -> Option<(u32, String)> {
    text.split_whitespace()
        .nth((threshold as usize).saturating_sub(1))?;
    let mut counts: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word.to_lowercase()).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(word, n)| (n, word))
        .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(&a.1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Author, Emote, Platform};

    fn message(text: &str) -> ChatEvent {
        ChatEvent::message(
            Platform::named("sim"),
            "demo",
            "m",
            chrono::Utc::now(),
            Author::viewer("v"),
            text,
        )
    }

    #[test]
    fn folding_removes_case_and_accents_and_keeps_ascii_borrowed() {
        assert!(matches!(fold("Hello"), Cow::Borrowed("Hello")));
        assert_eq!(fold("Ünïcödé ÉMILE ça"), "unicode emile ca");
        assert_eq!(fold("Straße"), "straße");
    }

    #[test]
    fn emote_names_do_not_count_as_capitals() {
        let mut event = message("KEKW KEKW KEKW hello there friends");
        assert_eq!(caps(&event), (12, 29));
        event.emotes.push(Emote {
            id: "1".into(),
            start: 0,
            end: 3,
        });
        event.emotes.push(Emote {
            id: "1".into(),
            start: 5,
            end: 8,
        });
        event.emotes.push(Emote {
            id: "1".into(),
            start: 10,
            end: 13,
        });
        assert_eq!(caps(&event), (0, 17));
    }

    proptest::proptest! {
        /// The byte-by-byte path of ASCII text agrees with the general one (an emote range past
        /// the text's end takes the general path and leaves every character in).
        #[test]
        fn the_ascii_path_agrees_with_the_general_one(text in "[ -~\t\n\x0b\x0c\r\x1c-\x1f]{0,80}") {
            let fast = message(&text);
            let mut general = message(&text);
            general.emotes.push(Emote { id: "1".into(), start: 10_000, end: 10_001 });
            proptest::prop_assert_eq!(caps(&fast), caps(&general));
            proptest::prop_assert_eq!(symbols(&fast), symbols(&general));
            let mut best = (0, ' ');
            let mut current = (0, '\0');
            for c in text.chars().flat_map(char::to_lowercase) {
                if c == current.1 { current.0 += 1 } else { current = (1, c) }
                if current.0 > best.0 && !c.is_whitespace() { best = current }
            }
            proptest::prop_assert_eq!(longest_run(&text), best);
        }
    }

    #[test]
    fn symbols_runs_and_repeats_are_measured() {
        assert_eq!(symbols(&message("a!b? ##")), (4, 6));
        assert_eq!(longest_run("heyyyyyy YO"), (6, 'y'));
        assert_eq!(longest_run("aAaA b"), (4, 'a'));
        assert_eq!(
            most_repeated_word("spam Spam SPAM eggs spam", 3),
            Some((4, "spam".to_owned()))
        );
        assert_eq!(most_repeated_word("one two", 3), None);
    }
}
