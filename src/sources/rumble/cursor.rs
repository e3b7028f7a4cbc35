//! The Rumble checkpoint: what "committed up to here" means for an API that answers with a window
//! of recent items instead of pages after a token.
//!
//! Each answer repeats most of the last one, so the checkpoint remembers, per list ([`List`]), the
//! newest platform time handed over and the ids handed over in the [`GRACE`] before it. An item is
//! new when it is younger than that grace period and its id is not remembered: older items were in
//! an earlier answer (they were listed before the newest one was), and recent ones are told apart by
//! id, so an item Rumble lists a little late (a time just before the newest) is still taken. The
//! runner commits the checkpoint in the same transaction as the page's events and hands the committed
//! one back after a restart, so a restart re-reads the window without counting anything twice (the
//! pipeline's dedupe, seeded from the store, is the second line). The source keeps no copy: it
//! filters against the cursor the runner passes, so a page the lane dropped is simply taken again.
//!
//! Without a checkpoint (the first run on a store) every item of the window is new.

use super::wire::List;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How far before the newest item an item may still arrive and be taken.
pub const GRACE_S: i64 = 60;
/// Ids remembered per list at most; past it, the oldest are forgotten and the floor rises to them.
const IDS_PER_LIST: usize = 1000;

/// Where one list stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Mark {
    /// The newest platform time handed over (Unix seconds).
    newest: i64,
    /// Items at or before this time are old whatever their id (Unix seconds).
    floor: i64,
    /// `(time, id)` of the items handed over since `newest - GRACE_S`, oldest first.
    ids: Vec<(i64, String)>,
}

/// The checkpoint of one Rumble source. Its text form is compact JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    lists: BTreeMap<String, Mark>,
}

impl Cursor {
    /// The cursor a runner passed; `None`, or text this build cannot read, is a fresh start. The
    /// second value says the text was unreadable.
    pub fn parse(text: Option<&str>) -> (Cursor, bool) {
        match text {
            None => (Cursor::default(), false),
            Some(text) => match serde_json::from_str(text) {
                Ok(cursor) => (cursor, false),
                Err(_) => (Cursor::default(), true),
            },
        }
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// Whether an item of `list` at `at` with `id` has not been handed over yet.
    pub fn is_new(&self, list: List, at: DateTime<Utc>, id: &str) -> bool {
        let Some(mark) = self.lists.get(list.as_str()) else {
            return true;
        };
        let t = at.timestamp();
        t > mark.floor.max(mark.newest - GRACE_S) && !mark.ids.iter().any(|(_, i)| i == id)
    }

    /// Records an item as handed over.
    pub fn advance(&mut self, list: List, at: DateTime<Utc>, id: &str) {
        let mark = self.lists.entry(list.as_str().to_owned()).or_insert(Mark {
            newest: i64::MIN / 2,
            floor: i64::MIN / 2,
            ids: Vec::new(),
        });
        let t = at.timestamp();
        mark.newest = mark.newest.max(t);
        let pos = mark.ids.partition_point(|(it, _)| *it <= t);
        mark.ids.insert(pos, (t, id.to_owned()));
        let horizon = mark.newest - GRACE_S;
        mark.ids.retain(|(it, _)| *it > horizon);
        if mark.ids.len() > IDS_PER_LIST {
            let cut = mark.ids.len() - IDS_PER_LIST;
            mark.floor = mark.floor.max(mark.ids[cut - 1].0);
            mark.ids.drain(..cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn a_fresh_cursor_takes_everything_and_a_committed_one_survives_its_text() {
        let (fresh, garbled) = Cursor::parse(None);
        assert!(!garbled);
        assert!(fresh.is_new(List::Chat, t(0), "a"));
        let mut c = fresh;
        c.advance(List::Chat, t(10), "a");
        c.advance(List::Chat, t(12), "b");
        let (back, garbled) = Cursor::parse(Some(&c.to_text()));
        assert!(!garbled);
        assert_eq!(back, c);
        assert!(!back.is_new(List::Chat, t(10), "a"));
        assert!(!back.is_new(List::Chat, t(12), "b"));
        assert!(back.is_new(List::Chat, t(12), "c"), "same second, other id");
        assert!(
            back.is_new(List::Chat, t(11), "late"),
            "late within the grace"
        );
        assert!(
            !back.is_new(List::Chat, t(12 - GRACE_S), "old"),
            "older than the grace: from an earlier answer"
        );
        assert!(
            back.is_new(List::Followers, t(0), "a"),
            "each list has its own mark"
        );
        assert!(Cursor::parse(Some("p7")).1, "unreadable text");
    }

    #[test]
    fn ids_past_the_cap_raise_the_floor() {
        let mut c = Cursor::default();
        for i in 0..(IDS_PER_LIST + 5) {
            c.advance(List::Chat, t(0), &format!("id{i}"));
        }
        assert!(!c.is_new(List::Chat, t(0), "id0"));
        assert!(!c.is_new(List::Chat, t(0), "never seen"), "at the floor");
        assert!(c.is_new(List::Chat, t(1), "next second"));
    }

    proptest! {
        /// Whatever order items come in, once handed over an item is never new again, and the text
        /// form round-trips.
        #[test]
        fn handed_over_items_are_never_new_again(items in prop::collection::vec((0i64..200, 0u8..40), 0..80)) {
            let mut c = Cursor::default();
            let mut taken = Vec::new();
            for (s, id) in items {
                let id = format!("m{id}-{s}");
                if c.is_new(List::Chat, t(s), &id) {
                    c.advance(List::Chat, t(s), &id);
                    taken.push((s, id));
                }
                let (back, _) = Cursor::parse(Some(&c.to_text()));
                prop_assert_eq!(&back, &c);
            }
            for (s, id) in taken {
                prop_assert!(!c.is_new(List::Chat, t(s), &id));
            }
        }

        #[test]
        fn parsing_any_text_never_panics(s in ".{0,100}") {
            let _ = Cursor::parse(Some(&s));
        }
    }
}
