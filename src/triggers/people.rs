//! One viewer across platforms, in the engine: who is linked to whom, and `!link` / `!unlink`.
//!
//! [`People`] holds each creator's links (account → person) and the link codes handed out. The
//! links are what the store holds: the run loop loads them at each run start (after syncing the
//! ones creators.json declares), `ss replay` loads the links of each run mark it passes, and between
//! those the engine changes them itself with the `link` / `unlink` actions it fires, which the store
//! records. So the engine asks nothing of the store mid-run and a replay sees the same people.
//! Codes are engine state only: they last `code_ttl_s` on the event clock and are forgotten when
//! the trigger state starts afresh (a restart or a reload), like a chat poll.
//!
//! `!link` gives the account a short code, derived from the message id (so a replay gives the same
//! one); `!link CODE` from an account on another platform links the two: into the person either one
//! is already in, or a new one. `!unlink` takes the account that asks out of its person (a person
//! left with one account dissolves). Links an operator declared are undone only in creators.json.
//! Everything keyed by a person (points, giveaway entries, scores) reads [`People::person_of`].

use super::cause::{Cause, human_duration, split_word};
use crate::actions::community::LinkedAccount;
use crate::actions::{Action, ActionKind};
use crate::config::model::LinkSettings;
use crate::event::person::{chat_person_id, person_key, stable_hash};
use crate::event::{ChatEvent, CompactString, Platform};
use std::collections::HashMap;

/// Letters of a link code: Crockford's base 32 (no I, L, O or U), so it reads back from any chat
/// font.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a link code.
const CODE_LEN: usize = 6;

type Key = (CompactString, Platform, CompactString);

/// Each creator's links and pending codes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct People {
    /// (creator, platform, user id) → person id.
    linked: HashMap<Key, String>,
    /// (creator, code) → the account that asked and when the code stops working (ms).
    codes: HashMap<(CompactString, String), (LinkedAccount, i64)>,
}

pub use crate::actions::community::LinkEntry;

impl People {
    /// The links `links` describe, and no codes.
    pub fn from_links(links: impl IntoIterator<Item = LinkEntry>) -> People {
        let mut people = People::default();
        for (creator, person, account) in links {
            people.linked.insert(
                (
                    creator.as_str().into(),
                    account.platform,
                    account.user_id.as_str().into(),
                ),
                person,
            );
        }
        people
    }

    /// Adds the links `links` describe (a shard's creators' taken over from a snapshot), keeping the
    /// rest and every pending code.
    pub fn add_links(&mut self, links: impl IntoIterator<Item = LinkEntry>) {
        self.linked.extend(People::from_links(links).linked);
    }

    /// The same links, with every pending code forgotten (a fresh trigger state).
    pub fn without_codes(mut self) -> People {
        self.codes.clear();
        self
    }

    /// The person the account (`platform`, `user_id`) of `creator` is: its link's person, else
    /// itself (see [`crate::event::person`]).
    pub fn person_of(&self, creator: &str, platform: Platform, user_id: &str) -> CompactString {
        let linked = self.linked(creator, platform, user_id);
        person_key(
            &crate::event::Account::new(platform, user_id),
            linked.map(String::as_str),
        )
    }

    fn linked(&self, creator: &str, platform: Platform, user_id: &str) -> Option<&String> {
        if self.linked.is_empty() {
            return None;
        }
        self.linked.get(&(creator.into(), platform, user_id.into()))
    }

    /// The accounts in `person`, in account order.
    fn accounts_in(&self, creator: &str, person: &str) -> Vec<(Platform, CompactString)> {
        let mut accounts: Vec<(Platform, CompactString)> = self
            .linked
            .iter()
            .filter(|((c, _, _), p)| c == creator && *p == person)
            .map(|((_, platform, user), _)| (*platform, user.clone()))
            .collect();
        accounts.sort();
        accounts
    }

    /// How many accounts are linked, over every creator.
    pub fn linked_accounts(&self) -> usize {
        self.linked.len()
    }

    fn apply_link(&mut self, creator: &str, person: &str, accounts: &[LinkedAccount]) {
        for account in accounts {
            self.linked.insert(
                (
                    creator.into(),
                    account.platform,
                    account.user_id.as_str().into(),
                ),
                person.to_string(),
            );
        }
    }

    fn apply_unlink(&mut self, creator: &str, person: &str, account: &LinkedAccount) {
        self.linked.remove(&(
            creator.into(),
            account.platform,
            account.user_id.as_str().into(),
        ));
        if let [(platform, user)] = self.accounts_in(creator, person).as_slice() {
            self.linked
                .remove(&(creator.into(), *platform, user.clone()));
        }
    }
}

/// The code `!link` gives for the message `message_id` on `platform`.
pub fn link_code(platform: Platform, message_id: &str) -> String {
    let mut h = stable_hash(&[platform.as_str(), message_id, "link"]);
    (0..CODE_LEN)
        .map(|_| {
            let c = CODE_ALPHABET[(h & 31) as usize] as char;
            h >>= 5;
            c
        })
        .collect()
}

/// Handles `!link [CODE]` and `!unlink` in one chat message; the actions go to `out`. Returns
/// whether the message was one of them.
pub fn on_message(
    event: &ChatEvent,
    settings: &LinkSettings,
    people: &mut People,
    out: &mut Vec<Action>,
) -> bool {
    let (word, args) = split_word(&event.text);
    if word.eq_ignore_ascii_case(&settings.command) {
        match args.split_whitespace().next() {
            None => give_code(event, settings, people, out),
            Some(code) => complete(event, settings, people, &code.to_ascii_uppercase(), out),
        }
        true
    } else if word.eq_ignore_ascii_case(&settings.unlink_command) {
        unlink(event, settings, people, out);
        true
    } else {
        false
    }
}

fn account_of(event: &ChatEvent) -> LinkedAccount {
    LinkedAccount {
        platform: event.platform,
        user_id: event.author.id.to_string(),
        user_name: event.author.display_name.to_string(),
    }
}

fn give_code(
    event: &ChatEvent,
    settings: &LinkSettings,
    people: &mut People,
    out: &mut Vec<Action>,
) {
    let cause = Cause::of(event);
    let now = event.timestamp_ms();
    // Expired codes go when a new one is handed out, so the map holds only live ones.
    people.codes.retain(|_, (_, until)| *until > now);
    let code = link_code(event.platform, &event.message_id);
    let until = now.saturating_add(i64::from(settings.code_ttl_s) * 1000);
    people.codes.insert(
        (event.creator.clone(), code.clone()),
        (account_of(event), until),
    );
    out.push(cause.reply(
        &settings.command,
        format!(
            "@{} your link code is {code}: type {} {code} from your account on another platform within {}.",
            event.author.display_name,
            settings.command,
            human_duration(settings.code_ttl_s)
        ),
    ));
}

fn complete(
    event: &ChatEvent,
    settings: &LinkSettings,
    people: &mut People,
    code: &str,
    out: &mut Vec<Action>,
) {
    let cause = Cause::of(event);
    let command = &settings.command;
    let name = &event.author.display_name;
    let key = (event.creator.clone(), code.to_string());
    let Some((asker, until)) = people.codes.get(&key).cloned() else {
        return cause.refuse(
            command,
            "unknown code",
            format!("@{name} that code is unknown or used; type {command} on your other account for a new one."),
            out,
        );
    };
    if until <= event.timestamp_ms() {
        people.codes.remove(&key);
        return cause.refuse(
            command,
            "code expired",
            format!(
                "@{name} that code has expired; type {command} on your other account for a new one."
            ),
            out,
        );
    }
    if asker.platform == event.platform {
        return cause.refuse(
            command,
            "same platform",
            format!("@{name} type the code from your account on another platform."),
            out,
        );
    }
    let creator = event.creator.as_str();
    let theirs = people
        .linked(creator, asker.platform, &asker.user_id)
        .cloned();
    let mine = people
        .linked(creator, event.platform, &event.author.id)
        .cloned();
    let me = account_of(event);
    let (person, accounts) = match (theirs, mine) {
        (Some(a), Some(b)) if a == b => {
            return cause.refuse(
                command,
                "already linked",
                format!("@{name} these accounts are already linked."),
                out,
            );
        }
        (Some(_), Some(_)) => {
            return cause.refuse(
                command,
                "linked elsewhere",
                format!(
                    "@{name} both accounts are linked to others already; type {} on one of them first.",
                    settings.unlink_command
                ),
                out,
            );
        }
        (Some(person), None) => (person, vec![me]),
        (None, Some(person)) => (person, vec![asker.clone()]),
        (None, None) => (
            chat_person_id(event.platform, &event.message_id),
            vec![asker.clone(), me],
        ),
    };
    people.codes.remove(&key);
    people.apply_link(creator, &person, &accounts);
    out.push(cause.action(command, ActionKind::Link { person, accounts }));
    out.push(cause.reply(
        command,
        format!(
            "Linked: {} ({}) and {name} ({}) are one viewer now; points, scores and giveaway entries are shared.",
            asker.user_name, asker.platform, event.platform
        ),
    ));
}

fn unlink(event: &ChatEvent, settings: &LinkSettings, people: &mut People, out: &mut Vec<Action>) {
    let cause = Cause::of(event);
    let command = &settings.unlink_command;
    let name = &event.author.display_name;
    let creator = event.creator.as_str();
    let Some(person) = people
        .linked(creator, event.platform, &event.author.id)
        .cloned()
    else {
        return cause.refuse(
            command,
            "not linked",
            format!("@{name} this account is not linked."),
            out,
        );
    };
    if person.starts_with("cfg-") {
        return cause.refuse(
            command,
            "declared link",
            format!("@{name} this link was set by the channel; ask a moderator to change it."),
            out,
        );
    }
    let account = account_of(event);
    people.apply_unlink(creator, &person, &account);
    out.push(cause.action(command, ActionKind::Unlink { person, account }));
    out.push(cause.reply(
        command,
        format!("@{name} unlinked: this account's points and scores are its own again."),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Author;
    use chrono::DateTime;

    fn say(platform: &str, user: &str, id: &str, ms: i64, text: &str) -> ChatEvent {
        ChatEvent::message(
            Platform::named(platform),
            "demo",
            id,
            DateTime::from_timestamp_millis(ms).unwrap(),
            Author::viewer(user),
            text,
        )
    }

    fn run(people: &mut People, event: &ChatEvent) -> Vec<Action> {
        let mut out = Vec::new();
        assert!(on_message(
            event,
            &LinkSettings::default(),
            people,
            &mut out
        ));
        out
    }

    fn text(actions: &[Action]) -> String {
        actions
            .iter()
            .filter_map(|a| match &a.kind {
                ActionKind::Reply { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_code_from_one_platform_links_an_account_on_another_and_unlink_splits_them() {
        let mut people = People::default();
        let code = link_code(Platform::named("twitch"), "t1");
        assert_eq!(code.len(), CODE_LEN);
        let said = run(&mut people, &say("twitch", "ann", "t1", 1_000, "!link"));
        assert!(text(&said).contains(&code), "{}", text(&said));
        // The code is typed on Twitch again: refused, still good for Kick.
        let same = run(
            &mut people,
            &say("twitch", "ann", "t2", 2_000, &format!("!link {code}")),
        );
        assert!(
            matches!(&same[0].kind, ActionKind::Refused { reason, .. } if reason == "same platform")
        );
        let linked = run(
            &mut people,
            &say(
                "kick",
                "ann_k",
                "k1",
                3_000,
                &format!("!link {}", code.to_lowercase()),
            ),
        );
        let ActionKind::Link { person, accounts } = &linked[0].kind else {
            panic!("{linked:?}")
        };
        assert_eq!(person, &chat_person_id(Platform::named("kick"), "k1"));
        assert_eq!(accounts.len(), 2);
        assert_eq!(
            people.person_of("demo", Platform::named("twitch"), "ann"),
            people.person_of("demo", Platform::named("kick"), "ann_k")
        );
        assert_eq!(
            people.person_of("other", Platform::named("kick"), "ann_k"),
            "kick:ann_k",
            "links belong to one creator"
        );
        // Used: the code does not work twice.
        let again = run(
            &mut people,
            &say("youtube", "ann_y", "y1", 4_000, &format!("!link {code}")),
        );
        assert!(
            matches!(&again[0].kind, ActionKind::Refused { reason, .. } if reason == "unknown code")
        );
        // A third account joins the person through a code from the Kick account.
        run(&mut people, &say("kick", "ann_k", "k2", 5_000, "!link"));
        let code2 = link_code(Platform::named("kick"), "k2");
        let third = run(
            &mut people,
            &say("youtube", "ann_y", "y2", 6_000, &format!("!link {code2}")),
        );
        assert!(
            matches!(&third[0].kind, ActionKind::Link { person: p, accounts } if p == person && accounts.len() == 1)
        );
        // Unlinking one of three keeps two; then one more dissolves the person.
        run(&mut people, &say("twitch", "ann", "t3", 7_000, "!unlink"));
        assert_eq!(
            people.person_of("demo", Platform::named("twitch"), "ann"),
            "twitch:ann"
        );
        assert_eq!(
            people.person_of("demo", Platform::named("kick"), "ann_k"),
            *person
        );
        run(&mut people, &say("kick", "ann_k", "k3", 8_000, "!unlink"));
        assert_eq!(people.linked_accounts(), 0);
        let not = run(&mut people, &say("kick", "ann_k", "k4", 9_000, "!unlink"));
        assert!(
            matches!(&not[0].kind, ActionKind::Refused { reason, .. } if reason == "not linked")
        );
    }

    #[test]
    fn a_code_expires_on_the_event_clock_and_with_a_fresh_state() {
        let mut people = People::default();
        run(&mut people, &say("twitch", "ann", "t1", 0, "!link"));
        let code = link_code(Platform::named("twitch"), "t1");
        let late = run(
            &mut people,
            &say("kick", "k", "k1", 600_000, &format!("!link {code}")),
        );
        assert!(
            matches!(&late[0].kind, ActionKind::Refused { reason, .. } if reason == "code expired")
        );
        run(&mut people, &say("twitch", "ann", "t2", 0, "!link"));
        let mut fresh = people.without_codes();
        let after = run(
            &mut fresh,
            &say(
                "kick",
                "k",
                "k2",
                1_000,
                &format!("!link {}", link_code(Platform::named("twitch"), "t2")),
            ),
        );
        assert!(
            matches!(&after[0].kind, ActionKind::Refused { reason, .. } if reason == "unknown code")
        );
    }

    #[test]
    fn declared_links_are_not_undone_from_chat() {
        let mut people = People::from_links([(
            "demo".to_string(),
            "cfg-ann".to_string(),
            LinkedAccount {
                platform: Platform::named("twitch"),
                user_id: "ann".into(),
                user_name: "Ann".into(),
            },
        )]);
        let refused = run(&mut people, &say("twitch", "ann", "t1", 0, "!unlink"));
        assert!(
            matches!(&refused[0].kind, ActionKind::Refused { reason, .. } if reason == "declared link")
        );
        assert_eq!(
            people.person_of("demo", Platform::named("twitch"), "ann"),
            "cfg-ann"
        );
    }
}
