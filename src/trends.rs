//! Chat trends: what chat is doing right now, per creator, over the last 1, 5 and 15 minutes:
//! messages per minute, unique chatters, the top emotes and words (stop words left out), and
//! mentions of the creator.
//!
//! The run loop feeds every accepted chat message to a [`ChatTrends`] and, at most every
//! [`PUBLISH_EVERY`], takes a [`TrendsSnapshot`]: it goes to `/events` as a `trends` event and to
//! `signals/chat_trends.json`, so an overlay can show the hype without polling the store. Nothing
//! here is stored or replayed: it is a live view.
//!
//! Time is the messages' own: each creator keeps one bucket per minute of event time, the last
//! [`KEPT_MINUTES`]; a window ends at the newest minute seen. Memory is bounded: each minute counts
//! at most [`DISTINCT_PER_MINUTE`] distinct words and emotes (more are counted as `words_dropped`).

use crate::event::{ChatEvent, CompactString, EventKind, platform_id_hash};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

/// Every word of every message is hashed; the maps are capped per minute anyway.
type Fast = crate::event::FastHasher;

/// The windows, in minutes.
pub const WINDOWS_MIN: [i64; 3] = [1, 5, 15];
/// Minutes of buckets kept per creator (the longest window).
pub const KEPT_MINUTES: i64 = 15;
/// The shortest time between two published snapshots.
pub const PUBLISH_EVERY: Duration = Duration::from_secs(5);
/// Entries in each top list.
pub const TOP: usize = 10;
/// Distinct words (and emotes) counted per minute per creator.
pub const DISTINCT_PER_MINUTE: usize = 2_000;

/// Words too common to say anything (English; chat's own filler too).
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at",
    "be", "because", "been", "but", "by", "can", "could", "did", "do", "does", "don't", "dont",
    "for", "from", "get", "got", "had", "has", "have", "he", "her", "here", "him", "his", "how",
    "i", "i'm", "im", "if", "in", "into", "is", "it", "it's", "its", "just", "like", "me", "my",
    "no", "not", "now", "of", "oh", "ok", "on", "one", "or", "our", "out", "so", "that", "that's",
    "the", "their", "them", "then", "there", "they", "this", "to", "too", "up", "us", "was", "we",
    "well", "what", "when", "where", "which", "who", "why", "will", "with", "would", "yeah", "yes",
    "you", "your", "you're",
];

/// One minute of one creator's chat.
#[derive(Debug, Default)]
struct Minute {
    index: i64,
    messages: u64,
    chatters: HashSet<u64, Fast>,
    mentions: u64,
    words: HashMap<CompactString, u32, Fast>,
    emotes: HashMap<CompactString, u32, Fast>,
    words_dropped: u64,
}

/// The rolling counts, per creator.
#[derive(Debug, Default)]
pub struct ChatTrends {
    /// Creator ids come from the config, not from chat: hashed fast, as the words are.
    creators: HashMap<CompactString, VecDeque<Minute>, Fast>,
    /// Creator → the names that mention them (lowercase, without `@`); looked up for every message.
    names: HashMap<String, Vec<String>, Fast>,
    stop: HashSet<&'static str, Fast>,
}

impl ChatTrends {
    /// Trends over creators whose mentions are `names` (creator id → names, any case).
    pub fn new(names: HashMap<String, Vec<String>>) -> ChatTrends {
        ChatTrends {
            creators: HashMap::default(),
            names: names
                .into_iter()
                .map(|(creator, names)| {
                    let mut names: Vec<String> = names
                        .into_iter()
                        .map(|n| n.trim_start_matches('@').to_lowercase())
                        .filter(|n| !n.is_empty())
                        .collect();
                    names.sort();
                    names.dedup();
                    (creator, names)
                })
                .collect(),
            stop: STOP_WORDS.iter().copied().collect(),
        }
    }

    /// Counts one accepted event (chat messages only).
    pub fn observe(&mut self, event: &ChatEvent) {
        if event.kind != EventKind::Message {
            return;
        }
        let index = event.timestamp_ms().div_euclid(60_000);
        let minutes = self.creators.entry(event.creator.clone()).or_default();
        if minutes.back().is_none_or(|m| m.index < index) {
            minutes.push_back(Minute {
                index,
                ..Minute::default()
            });
            while minutes
                .front()
                .is_some_and(|m| m.index <= index - KEPT_MINUTES)
            {
                minutes.pop_front();
            }
        }
        // A message older than the newest minute counts in its own minute if that is kept.
        let Some(minute) = minutes.iter_mut().rev().find(|m| m.index <= index) else {
            return;
        };
        if minute.index != index {
            return;
        }
        minute.messages += 1;
        minute
            .chatters
            .insert(platform_id_hash(event.platform, &event.author.id));
        let text = event.text.as_str();
        let emote_ranges = emote_byte_ranges(text, event);
        for (start, end) in &emote_ranges {
            count(
                &mut minute.emotes,
                &text[*start..*end],
                &mut minute.words_dropped,
            );
        }
        let names = self.names.get(event.creator.as_str());
        let mut mentioned = false;
        for (start, word) in words(text) {
            if emote_ranges.iter().any(|(s, e)| start >= *s && start < *e) {
                continue;
            }
            let lower = lowercase(word.trim_start_matches('@'));
            if names.is_some_and(|names| names.iter().any(|n| n.as_str() == lower.as_str())) {
                mentioned = true;
                continue;
            }
            let short = if lower.is_ascii() {
                lower.len() < 2
            } else {
                lower.chars().count() < 2
            };
            if short || self.stop.contains(lower.as_str()) {
                continue;
            }
            count_owned(&mut minute.words, lower, &mut minute.words_dropped);
        }
        if mentioned {
            minute.mentions += 1;
        }
    }

    /// The trends at `now`, every creator seen, by creator id.
    pub fn snapshot(&self, now: DateTime<Utc>) -> TrendsSnapshot {
        let mut creators: Vec<CreatorTrends> = self
            .creators
            .iter()
            .filter_map(|(creator, minutes)| {
                let newest = minutes.back()?.index;
                Some(CreatorTrends {
                    creator: creator.to_string(),
                    windows: WINDOWS_MIN
                        .iter()
                        .map(|&span| window(minutes, newest, span))
                        .collect(),
                })
            })
            .collect();
        creators.sort_by(|a, b| a.creator.cmp(&b.creator));
        TrendsSnapshot { at: now, creators }
    }
}

fn count(map: &mut HashMap<CompactString, u32, Fast>, key: &str, dropped: &mut u64) {
    if let Some(n) = map.get_mut(key) {
        *n += 1;
    } else if map.len() < DISTINCT_PER_MINUTE {
        map.insert(key.into(), 1);
    } else {
        *dropped += 1;
    }
}

/// [`count`] of a key already owned: one hash, whether it is new or not.
fn count_owned(map: &mut HashMap<CompactString, u32, Fast>, key: CompactString, dropped: &mut u64) {
    use std::collections::hash_map::Entry;
    let full = map.len() >= DISTINCT_PER_MINUTE;
    match map.entry(key) {
        Entry::Occupied(mut n) => *n.get_mut() += 1,
        Entry::Vacant(slot) if !full => {
            slot.insert(1);
        }
        Entry::Vacant(_) => *dropped += 1,
    }
}

/// `word` in lowercase, without a heap allocation for short ASCII words.
fn lowercase(word: &str) -> CompactString {
    if word.is_ascii() {
        let mut out = CompactString::from(word);
        out.make_ascii_lowercase();
        out
    } else {
        CompactString::from(word.to_lowercase())
    }
}

/// The words of `text` with their byte offsets: runs of letters, digits, `'`, `_` and `@`.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let start = at + word_run(&text[at..], false);
        if start == text.len() {
            return None;
        }
        at = start + word_run(&text[start..], true);
        Some((start, text[start..at].trim_matches('\'')))
    })
    .filter(|(_, w)| !w.is_empty())
}

/// The length in bytes of the run at the start of `text` of word characters (`word`) or of
/// others. ASCII is read a byte at a time; only other characters are decoded.
fn word_run(text: &str, word: bool) -> usize {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let (is_word, len) = if bytes[i].is_ascii() {
            let b = bytes[i];
            (
                b.is_ascii_alphanumeric() || matches!(b, b'\'' | b'_' | b'@'),
                1,
            )
        } else {
            let c = text[i..].chars().next().unwrap_or_default();
            (c.is_alphanumeric(), c.len_utf8())
        };
        if is_word != word {
            break;
        }
        i += len;
    }
    i
}

/// The byte ranges of the event's emotes in `text` (emotes are placed by code point, inclusive).
fn emote_byte_ranges(text: &str, event: &ChatEvent) -> Vec<(usize, usize)> {
    if event.emotes.is_empty() {
        return Vec::new();
    }
    let offsets: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let mut ranges: Vec<(usize, usize)> = event
        .emotes
        .iter()
        .filter_map(|e| {
            let start = *offsets.get(e.start as usize)?;
            let end = *offsets.get(e.end as usize + 1)?;
            (start < end).then_some((start, end))
        })
        .collect();
    ranges.sort_unstable();
    ranges
}

/// The window of `span` minutes ending at minute `newest`.
fn window(minutes: &VecDeque<Minute>, newest: i64, span: i64) -> Window {
    let inside: Vec<&Minute> = minutes.iter().filter(|m| m.index > newest - span).collect();
    let messages: u64 = inside.iter().map(|m| m.messages).sum();
    let chatters: HashSet<u64> = inside
        .iter()
        .flat_map(|m| m.chatters.iter().copied())
        .collect();
    let top = |pick: fn(&Minute) -> &HashMap<CompactString, u32, Fast>| {
        let mut totals: HashMap<&str, u64> = HashMap::new();
        for m in &inside {
            for (k, n) in pick(m) {
                *totals.entry(k.as_str()).or_default() += u64::from(*n);
            }
        }
        let mut list: Vec<Count> = totals
            .into_iter()
            .map(|(text, count)| Count {
                text: text.to_string(),
                count,
            })
            .collect();
        list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.text.cmp(&b.text)));
        list.truncate(TOP);
        list
    };
    Window {
        minutes: span,
        messages,
        messages_per_minute: (messages as f64 / span as f64 * 10.0).round() / 10.0,
        unique_chatters: chatters.len() as u64,
        mentions: inside.iter().map(|m| m.mentions).sum(),
        top_emotes: top(|m| &m.emotes),
        top_words: top(|m| &m.words),
        words_dropped: inside.iter().map(|m| m.words_dropped).sum(),
    }
}

/// The last snapshot, shared between the run loop (which publishes) and the exporter (which
/// writes it).
pub type SharedTrends = std::sync::Arc<std::sync::Mutex<Option<TrendsSnapshot>>>;

/// Every creator's trends at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendsSnapshot {
    pub at: DateTime<Utc>,
    pub creators: Vec<CreatorTrends>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreatorTrends {
    pub creator: String,
    /// The 1, 5 and 15 minute windows, in that order.
    pub windows: Vec<Window>,
}

/// One window of one creator's chat.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    pub minutes: i64,
    pub messages: u64,
    pub messages_per_minute: f64,
    pub unique_chatters: u64,
    /// Messages naming the creator (their id, display name or channel).
    pub mentions: u64,
    pub top_emotes: Vec<Count>,
    /// Words, lowercased, stop words and emotes left out.
    pub top_words: Vec<Count>,
    /// Words and emotes not counted because a minute already counted [`DISTINCT_PER_MINUTE`].
    pub words_dropped: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub text: String,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Author, Emote, Platform};

    fn message(user: &str, ms: i64, text: &str, emotes: &[(u32, u32)]) -> ChatEvent {
        let mut event = ChatEvent::message(
            Platform::named("twitch"),
            "demo",
            &format!("{user}-{ms}"),
            DateTime::from_timestamp_millis(ms).unwrap(),
            Author::viewer(user),
            text,
        );
        event.emotes = emotes
            .iter()
            .map(|(start, end)| Emote {
                id: "25".into(),
                start: *start,
                end: *end,
            })
            .collect();
        event
    }

    fn trends() -> ChatTrends {
        ChatTrends::new(HashMap::from([(
            "demo".to_string(),
            vec!["demo".to_string(), "Demo_Channel".to_string()],
        )]))
    }

    #[test]
    fn counts_messages_chatters_emotes_words_and_mentions_per_window() {
        let mut t = trends();
        let base = 1_700_000_000_000 - 1_700_000_000_000 % 60_000;
        t.observe(&message(
            "ann",
            base,
            "Kappa the boss fight is hype Kappa",
            &[(0, 4), (29, 33)],
        ));
        t.observe(&message(
            "bob",
            base + 1_000,
            "hype hype! @demo_channel gg",
            &[],
        ));
        t.observe(&message("ann", base + 2_000, "élan ÉLAN", &[]));
        // Six minutes later: only the 15 minute window still has the first minute.
        t.observe(&message("cat", base + 6 * 60_000, "boss", &[]));
        let snap = t.snapshot(Utc::now());
        let demo = &snap.creators[0];
        let [one, five, fifteen] = &demo.windows[..] else {
            panic!("{demo:?}")
        };
        assert_eq!((one.messages, one.unique_chatters), (1, 1));
        assert_eq!(five.messages, 1);
        assert_eq!(
            (fifteen.messages, fifteen.unique_chatters, fifteen.mentions),
            (4, 3, 1)
        );
        assert_eq!(fifteen.messages_per_minute, 0.3);
        assert_eq!(
            fifteen.top_emotes,
            [Count {
                text: "Kappa".into(),
                count: 2
            }]
        );
        let words: Vec<(&str, u64)> = fifteen
            .top_words
            .iter()
            .map(|c| (c.text.as_str(), c.count))
            .collect();
        assert_eq!(
            words,
            [
                ("hype", 3),
                ("boss", 2),
                ("élan", 2),
                ("fight", 1),
                ("gg", 1)
            ],
            "stop words, emotes and the mention are left out; case folds"
        );
    }

    #[test]
    fn memory_is_bounded_per_minute() {
        let mut t = trends();
        for i in 0..(DISTINCT_PER_MINUTE + 50) {
            t.observe(&message("ann", 0, &format!("word{i}"), &[]));
        }
        let snap = t.snapshot(Utc::now());
        assert_eq!(snap.creators[0].windows[0].words_dropped, 50);
        assert_eq!(snap.creators[0].windows[0].top_words.len(), TOP);
    }

    /// The tokenizer over `char`s, as first written: the model [`words`] must agree with.
    fn words_by_chars(text: &str) -> Vec<(usize, &str)> {
        let is_word = |c: char| c.is_alphanumeric() || c == '\'' || c == '_' || c == '@';
        let mut rest = text.char_indices().peekable();
        std::iter::from_fn(move || {
            while rest.next_if(|(_, c)| !is_word(*c)).is_some() {}
            let (start, _) = *rest.peek()?;
            let mut end = start;
            while let Some((i, c)) = rest.next_if(|(_, c)| is_word(*c)) {
                end = i + c.len_utf8();
            }
            Some((start, text[start..end].trim_matches('\'')))
        })
        .filter(|(_, w)| !w.is_empty())
        .collect()
    }

    #[test]
    fn words_are_runs_of_letters_digits_apostrophes_underscores_and_at() {
        assert_eq!(
            words("  @Ann's  'quoted' x_y, héllo—wörld 42!!").collect::<Vec<_>>(),
            [
                (2, "@Ann's"),
                (10, "quoted"),
                (19, "x_y"),
                (24, "héllo"),
                (33, "wörld"),
                (40, "42")
            ]
        );
        assert_eq!(words("'' !!").count(), 0);
    }

    proptest::proptest! {
        /// The byte-wise tokenizer finds exactly the words (and offsets) of the char-wise one.
        #[test]
        fn words_agree_with_the_char_model(text in "[a-zA-Z0-9é😀 @'_!,.\\-—\u{300}]{0,60}") {
            proptest::prop_assert_eq!(words(&text).collect::<Vec<_>>(), words_by_chars(&text));
        }

        /// Any text with any emote ranges counts without panicking.
        #[test]
        fn any_text_and_emotes_count(text in "[a-zé😀 @'!]{0,40}", start in 0u32..50, len in 0u32..10) {
            let mut t = trends();
            t.observe(&message("ann", 0, &text, &[(start, start + len)]));
            proptest::prop_assert_eq!(t.snapshot(Utc::now()).creators[0].windows[0].messages, 1);
        }
    }
}
