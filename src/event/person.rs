//! Who a chatter is: an [`Account`] (one user on one platform) and the key of the person it belongs
//! to ([`person_key`]), the one rule every part that merges accounts goes by.
//!
//! A viewer may link their accounts on several platforms (`!link`, or an operator's declaration in
//! creators.json); linked accounts are one person, per creator. An account that is linked belongs to
//! its link's person id (`p-…` for a link made in chat, `cfg-…` for a declared one); one that is not
//! is a person of its own, keyed `{platform}:{user_id}`. Person ids never contain a `:` after a
//! platform name (platform names have no `-`), so the two forms never meet. The engine keeps the
//! links in memory (`triggers::people`), the store in its `links` table, and both read the key
//! through this module (the store's SQL form is [`PERSON_KEY_SQL`], tested to agree).

use super::{CompactString, Platform};
use serde::{Deserialize, Serialize};

/// One user on one platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Account {
    pub platform: Platform,
    /// The platform's stable user id.
    pub user_id: CompactString,
}

impl Account {
    pub fn new(platform: Platform, user_id: &str) -> Account {
        Account {
            platform,
            user_id: user_id.into(),
        }
    }

    /// The key of this account as a person of its own (`twitch:1234`).
    pub fn own_key(&self) -> CompactString {
        let platform = self.platform.as_str();
        let mut key = CompactString::with_capacity(platform.len() + 1 + self.user_id.len());
        key.push_str(platform);
        key.push(':');
        key.push_str(&self.user_id);
        key
    }
}

/// The person `account` belongs to: `linked` (its link's person id) when it is linked, else the
/// account itself.
/// A key is a short string kept inline (no allocation): it is taken for every chat message.
pub fn person_key(account: &Account, linked: Option<&str>) -> CompactString {
    match linked {
        Some(person) => person.into(),
        None => account.own_key(),
    }
}

/// [`person_key`] in SQL, over a `links` row aliased `l` (NULL when the account is not linked) and
/// the account's `platform` and `user_id` columns of the table aliased `a`.
pub const PERSON_KEY_SQL: &str = "coalesce(l.person, a.platform || ':' || a.user_id)";

/// The person id of a link made in chat: from the platform and id of the message that completed
/// it, so a replay of the same chat makes the same person.
pub fn chat_person_id(platform: Platform, message_id: &str) -> String {
    format!("p-{:016x}", stable_hash(&[platform.as_str(), message_id]))
}

/// The person id of a link declared in creators.json under `name`.
pub fn declared_person_id(name: &str) -> String {
    format!("cfg-{name}")
}

/// A hash that is the same in every process and build (FNV-1a over the parts, each followed by a
/// 0 byte): link codes and person ids are derived from it, and must come out the same in a replay.
pub fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unlinked_account_is_its_own_person_and_a_linked_one_its_links() {
        let ann = Account::new(Platform::named("twitch"), "1234");
        assert_eq!(person_key(&ann, None), "twitch:1234");
        assert_eq!(person_key(&ann, Some("p-00ff")), "p-00ff");
        let person = chat_person_id(Platform::named("kick"), "m-9");
        assert!(person.starts_with("p-") && person.len() == 18, "{person}");
        assert_eq!(person, chat_person_id(Platform::named("kick"), "m-9"));
        assert_ne!(person, chat_person_id(Platform::named("kick"), "m-8"));
        assert_eq!(declared_person_id("ann"), "cfg-ann");
    }

    #[test]
    fn the_sql_form_agrees_with_the_rust_form() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let sql = format!(
            "SELECT {PERSON_KEY_SQL} FROM (SELECT ?1 AS platform, ?2 AS user_id) a
             LEFT JOIN (SELECT ?3 AS person) l ON l.person IS NOT NULL"
        );
        for linked in [None, Some("p-0000000000000abc")] {
            let ann = Account::new(Platform::named("youtube"), "UC-x");
            let key: String = conn
                .query_row(&sql, rusqlite::params!["youtube", "UC-x", linked], |r| {
                    r.get(0)
                })
                .unwrap();
            assert_eq!(key, person_key(&ann, linked));
        }
    }

    #[test]
    fn the_stable_hash_does_not_change_between_builds() {
        // Link codes made by one build must be accepted by the next: the value is fixed.
        assert_eq!(stable_hash(&["twitch", "abc"]), 0x7d9a_db94_ebc4_c84e);
        assert_ne!(stable_hash(&["ab", "c"]), stable_hash(&["a", "bc"]));
    }
}
