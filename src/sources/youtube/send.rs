//! Commands on YouTube: what the source can do ([`COMMANDS`]), the longest timeout, the platform's
//! length limit (the
//! serving loop splits at it, less the `@DisplayName ` prefix a reply carries, since YouTube has no
//! threaded replies), and the bounded memory of who wrote which recent message, so a reply to a
//! message id can name its author.

use crate::command::{CommandName, CommandSet};
use std::collections::{HashMap, VecDeque};

/// What the YouTube source does: post and reply (`liveChatMessages.insert`), delete a message
/// (`liveChatMessages.delete`), time out and ban (`liveChatBans.insert`), and lift a ban it made
/// (`liveChatBans.delete` with the id the ban answered with, kept in [`Bans`]). There are no
/// announcements.
pub const COMMANDS: CommandSet = CommandSet::of(&[
    CommandName::Say,
    CommandName::Reply,
    CommandName::DeleteMessage,
    CommandName::Timeout,
    CommandName::Ban,
    CommandName::Unban,
]);

/// How many ban ids are kept (the oldest forgotten first).
const BANS: usize = 4096;

/// The ids YouTube answered bans and timeouts with, by the banned user's channel id: lifting a ban
/// needs its id (there is no unban by channel). Also reported in the command's receipt, so the
/// moderation audit keeps it.
#[derive(Debug, Default)]
pub struct Bans {
    order: VecDeque<String>,
    ids: HashMap<String, String>,
}

impl Bans {
    pub fn remember(&mut self, channel_id: &str, ban_id: &str) {
        if self
            .ids
            .insert(channel_id.to_owned(), ban_id.to_owned())
            .is_none()
        {
            self.order.push_back(channel_id.to_owned());
            if self.order.len() > BANS
                && let Some(old) = self.order.pop_front()
            {
                self.ids.remove(&old);
            }
        }
    }

    /// The id of the last ban of `channel_id`, taken (a ban is lifted once).
    pub fn take(&mut self, channel_id: &str) -> Option<String> {
        let id = self.ids.remove(channel_id)?;
        self.order.retain(|c| c != channel_id);
        Some(id)
    }
}

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
