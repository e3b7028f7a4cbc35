//! Quotes in the engine: `!quote [n]`, `!quote add <text>`, `!quote search <words>`, `!quote del <n>`.
//!
//! Quotes live in the store across runs, so the engine only describes what was asked: an add or a
//! delete (the store numbers and records it; the reply, built after the commit, names the number),
//! or a question the standings worker answers from the store. A random `!quote` carries a seed
//! from the message id, so a replay asks for the same quote. The stream's title, when a go-live
//! event said it, goes with an added quote as its game. Questions answer at most once per
//! [`QUESTION_COOLDOWN_MS`] per creator, on the event clock.

use super::cause::{Cause, split_word};
use crate::actions::community::QuoteQuery;
use crate::actions::{Action, ActionKind};
use crate::config::model::QuoteSettings;
use crate::event::person::stable_hash;
use crate::event::{ChatEvent, CompactString, EventKind};
use std::collections::HashMap;

/// The shortest time between two answers to quote questions of a creator.
pub const QUESTION_COOLDOWN_MS: i64 = 5_000;
/// The longest quote, in characters.
pub const MAX_QUOTE_CHARS: usize = 400;

/// Per creator: the stream's title (from the last go-live event) and when questions may answer
/// again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuoteBook {
    titles: HashMap<CompactString, String>,
    ready_at: HashMap<CompactString, i64>,
}

/// A stream event of a creator with quotes: a go-live's title is kept, an offline forgets it.
pub fn on_event(event: &ChatEvent, book: &mut QuoteBook) {
    match event.kind {
        EventKind::StreamOnline => {
            if let Some(title) = event
                .detail
                .as_deref()
                .and_then(crate::event::EventDetail::stream_title)
            {
                book.titles.insert(event.creator.clone(), title.to_string());
            }
        }
        EventKind::StreamOffline => {
            book.titles.remove(&event.creator);
        }
        _ => {}
    }
}

/// Handles the quote command in one chat message; returns whether it was one.
pub fn on_message(
    event: &ChatEvent,
    settings: &QuoteSettings,
    book: &mut QuoteBook,
    out: &mut Vec<Action>,
) -> bool {
    let (word, args) = split_word(&event.text);
    if !word.eq_ignore_ascii_case(&settings.command) {
        return false;
    }
    let cause = Cause::of(event);
    let name = &settings.command;
    let channel = event.channel.to_string();
    let (sub, rest) = split_word(args);
    let role = event.author.roles.highest();
    let who = &event.author.display_name;
    match sub.to_ascii_lowercase().as_str() {
        "add" => {
            if role < settings.add_role {
                return refuse_role(&cause, name, who, settings.add_role, "add", out);
            }
            let text = rest.trim();
            if text.is_empty() || text.chars().count() > MAX_QUOTE_CHARS {
                cause.refuse(
                    name,
                    "bad text",
                    format!("Usage: {name} add <the quote, up to {MAX_QUOTE_CHARS} characters>"),
                    out,
                );
                return true;
            }
            out.push(cause.action(
                name,
                ActionKind::QuoteAdd {
                    channel,
                    text: text.to_string(),
                    added_by: who.to_string(),
                    game: book.titles.get(&event.creator).cloned(),
                },
            ));
        }
        "del" | "delete" | "remove" => {
            if role < settings.delete_role {
                return refuse_role(&cause, name, who, settings.delete_role, "delete", out);
            }
            match number(rest) {
                Some(number) => {
                    out.push(cause.action(name, ActionKind::QuoteDelete { channel, number }))
                }
                None => cause.refuse(
                    name,
                    "bad number",
                    format!("Usage: {name} del <number>"),
                    out,
                ),
            }
        }
        "search" | "find" => {
            if rest.trim().is_empty() {
                cause.refuse(
                    name,
                    "no words",
                    format!("Usage: {name} search <words>"),
                    out,
                );
            } else if ready(book, event) {
                out.push(cause.action(
                    name,
                    ActionKind::Quote {
                        channel,
                        query: QuoteQuery::Search {
                            words: rest.chars().take(100).collect(),
                        },
                    },
                ));
            }
        }
        "" => {
            if ready(book, event) {
                let seed = stable_hash(&[event.platform.as_str(), &event.message_id, "quote"]);
                out.push(cause.action(
                    name,
                    ActionKind::Quote {
                        channel,
                        query: QuoteQuery::Random { seed },
                    },
                ));
            }
        }
        other => match number(other) {
            Some(number) => {
                if ready(book, event) {
                    out.push(cause.action(
                        name,
                        ActionKind::Quote {
                            channel,
                            query: QuoteQuery::Number { number },
                        },
                    ));
                }
            }
            None => cause.refuse(
                name,
                "unknown subcommand",
                format!("Usage: {name} [number] | add <text> | search <words> | del <number>"),
                out,
            ),
        },
    }
    true
}

/// `3` or `#3`.
fn number(text: &str) -> Option<u32> {
    text.split_whitespace()
        .next()?
        .trim_start_matches('#')
        .parse()
        .ok()
        .filter(|n| *n > 0)
}

fn ready(book: &mut QuoteBook, event: &ChatEvent) -> bool {
    let now = event.timestamp_ms();
    let ready_at = book
        .ready_at
        .entry(event.creator.clone())
        .or_insert(i64::MIN);
    if now < *ready_at {
        return false;
    }
    *ready_at = now.saturating_add(QUESTION_COOLDOWN_MS);
    true
}

fn refuse_role(
    cause: &Cause<'_>,
    name: &str,
    who: &str,
    role: crate::event::Role,
    what: &str,
    out: &mut Vec<Action>,
) -> bool {
    cause.refuse(
        name,
        "not allowed",
        format!("@{who} only {}s can {what} quotes.", role.as_str()),
        out,
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Author, EventDetail, Platform, Roles, StreamChange};
    use chrono::DateTime;

    fn say(user: &str, id: &str, ms: i64, text: &str, moderator: bool) -> ChatEvent {
        ChatEvent::message(
            Platform::named("twitch"),
            "demo",
            id,
            DateTime::from_timestamp_millis(ms).unwrap(),
            Author {
                roles: Roles {
                    moderator,
                    ..Roles::default()
                },
                ..Author::viewer(user)
            },
            text,
        )
    }

    fn run(book: &mut QuoteBook, event: &ChatEvent) -> Vec<ActionKind> {
        let mut out = Vec::new();
        on_message(event, &QuoteSettings::default(), book, &mut out);
        out.into_iter().map(|a| a.kind).collect()
    }

    #[test]
    fn adds_take_the_title_questions_cool_down_and_viewers_cannot_add() {
        let mut book = QuoteBook::default();
        let online = say("demo", "s1", 0, "", false).with_detail(
            EventKind::StreamOnline,
            EventDetail::Stream(StreamChange {
                stream_id: None,
                title: Some("Chess night".into()),
            }),
        );
        on_event(&online, &mut book);
        let added = run(
            &mut book,
            &say("mod", "a1", 1_000, "!quote add I never lose", true),
        );
        assert!(
            matches!(&added[0], ActionKind::QuoteAdd { text, game: Some(g), added_by, .. }
            if text == "I never lose" && g == "Chess night" && added_by == "mod")
        );
        let refused = run(
            &mut book,
            &say("ann", "a2", 1_000, "!quote add me too", false),
        );
        assert!(
            matches!(&refused[0], ActionKind::Refused { reason, .. } if reason == "not allowed")
        );
        assert!(matches!(
            &run(&mut book, &say("ann", "q1", 2_000, "!quote #3", false))[0],
            ActionKind::Quote {
                query: QuoteQuery::Number { number: 3 },
                ..
            }
        ));
        assert!(
            run(&mut book, &say("bob", "q2", 3_000, "!quote", false)).is_empty(),
            "cooling down"
        );
        let random = run(&mut book, &say("bob", "q3", 7_000, "!QUOTE", false));
        let ActionKind::Quote {
            query: QuoteQuery::Random { seed },
            ..
        } = &random[0]
        else {
            panic!("{random:?}")
        };
        assert_eq!(
            *seed,
            stable_hash(&["twitch", "q3", "quote"]),
            "seeded from the message id"
        );
        assert!(matches!(
            &run(&mut book, &say("mod", "d1", 8_000, "!quote del 2", true))[0],
            ActionKind::QuoteDelete { number: 2, .. }
        ));
    }
}
