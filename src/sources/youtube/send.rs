//! Replies on YouTube: `@DisplayName` prefixes (YouTube has no threaded replies), split at the
//! platform's length limit, and the bounded memory of who wrote which recent message, so a reply to
//! a message id can name its author.

use std::collections::{HashMap, VecDeque};

/// YouTube's limit for one chat message, in characters (PROTOCOLS.md §2.5, unverified: kept low).
pub const MAX_MESSAGE_CHARS: usize = 200;
/// How many recent message authors are remembered for reply prefixes.
const AUTHORS: usize = 4096;

/// The texts to send for `text` as a reply to `name`: each at most `max` characters, each prefixed
/// `@name `, split at whitespace when a word boundary is close enough.
pub fn chunks(name: Option<&str>, text: &str, max: usize) -> Vec<String> {
    let prefix = name.map(|n| format!("@{n} ")).unwrap_or_default();
    let room = max.saturating_sub(prefix.chars().count()).max(1);
    let mut out = Vec::new();
    let mut rest: Vec<char> = text.trim().chars().collect();
    while !rest.is_empty() {
        let mut cut = rest.len().min(room);
        if cut < rest.len() {
            // Prefer the last space in the second half of the piece.
            if let Some(space) = rest[room / 2..cut].iter().rposition(|c| c.is_whitespace()) {
                cut = room / 2 + space;
            }
        }
        let piece: String = rest[..cut].iter().collect();
        let piece = piece.trim();
        if !piece.is_empty() {
            out.push(format!("{prefix}{piece}"));
        }
        rest.drain(..cut);
        while rest.first().is_some_and(|c| c.is_whitespace()) {
            rest.remove(0);
        }
    }
    out
}

/// Display names of the authors of recent messages, by message id (bounded, oldest forgotten).
#[derive(Debug, Default)]
pub struct RecentAuthors {
    order: VecDeque<String>,
    names: HashMap<String, String>,
}

impl RecentAuthors {
    pub fn remember(&mut self, message_id: &str, name: &str) {
        if self.names.contains_key(message_id) {
            return;
        }
        if self.order.len() == AUTHORS
            && let Some(old) = self.order.pop_front()
        {
            self.names.remove(&old);
        }
        self.order.push_back(message_id.to_owned());
        self.names.insert(message_id.to_owned(), name.to_owned());
    }

    pub fn get(&self, message_id: &str) -> Option<&str> {
        self.names.get(message_id).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_prefixed_and_split_at_the_limit() {
        assert_eq!(chunks(Some("Viewer"), "pong", 200), vec!["@Viewer pong"]);
        assert_eq!(chunks(None, "pong", 200), vec!["pong"]);
        let long = "word ".repeat(100);
        let parts = chunks(Some("Viewer"), &long, 200);
        assert!(parts.len() >= 3, "{parts:?}");
        for p in &parts {
            assert!(p.chars().count() <= 200, "{p}");
            assert!(p.starts_with("@Viewer word"), "{p}");
        }
        let joined: Vec<&str> = parts.iter().flat_map(|p| p[8..].split(' ')).collect();
        assert_eq!(joined.len(), 100);
        // No whitespace to split at, and multibyte text: cut by characters.
        let parts = chunks(None, &"é".repeat(450), 200);
        assert_eq!(
            parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(),
            vec![200, 200, 50]
        );
        assert!(chunks(Some("x"), "   ", 200).is_empty());
    }

    #[test]
    fn recent_authors_are_bounded() {
        let mut a = RecentAuthors::default();
        for i in 0..AUTHORS + 10 {
            a.remember(&format!("m{i}"), "n");
        }
        assert_eq!(a.get("m0"), None);
        assert_eq!(a.get(&format!("m{}", AUTHORS + 9)), Some("n"));
        assert_eq!(a.order.len(), AUTHORS);
    }
}
