//! Commands on YouTube: what the source can do ([`COMMANDS`]), the longest timeout, the platform's
//! length limit (the
//! serving loop splits at it, less the `@DisplayName ` prefix a reply carries, since YouTube has no
//! threaded replies), and the bounded memory of who wrote which recent message, so a reply to a
//! message id can name its author.

use crate::command::{CommandName, CommandSet};
use std::collections::{HashMap, VecDeque};

/// What the YouTube source does: post and reply (`liveChatMessages.insert`), delete a message
/// (`liveChatMessages.delete`), time out and ban (`liveChatBans.insert`). An
/// unban needs the id the ban answered with, which is not kept, and there are no announcements.
pub const COMMANDS: CommandSet = CommandSet::of(&[
    CommandName::Say,
    CommandName::Reply,
    CommandName::DeleteMessage,
    CommandName::Timeout,
    CommandName::Ban,
]);

/// The longest timeout YouTube takes (`banDurationSeconds`), in seconds: a day.
pub const MAX_TIMEOUT_SECONDS: u32 = 86_400;

/// YouTube's limit for one chat message, in characters (the liveChatMessages.insert reference; unverified, so kept low).
pub const MAX_MESSAGE_CHARS: usize = 200;
/// How many recent message authors are remembered for reply prefixes.
const AUTHORS: usize = 4096;

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
