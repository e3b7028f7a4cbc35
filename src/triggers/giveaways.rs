//! Giveaways in the engine: `!giveaway open <keyword> [duration] [--subs-only|--followers]`,
//! entries by keyword, `!giveaway draw [n]`, `!giveaway reroll [name]`, `!giveaway close`.
//!
//! A creator runs at most one giveaway. It lives in the trigger state like a chat poll: it starts
//! afresh where the trigger state does (the store closes one still running as `interrupted`), and
//! a replay of the recorded chat runs the same giveaway. Viewers enter by saying the keyword as the
//! first word of a message, from any of the creator's platforms, once per person: linked accounts
//! ([`super::people`]) are one entrant. An entry's tickets are the weight of the roles its account
//! holds (settings `weights`).
//!
//! Entries close at the duration's end (the first tick at or after it, or a message past it) or at
//! the first draw. A draw picks winners with the seed of [`super::draw`] (from the giveaway id and
//! the entry list), so the winners are the same in every replay and anyone can check them from
//! `admin/giveaways.json`. A reroll replaces a winner who did not answer (the named one, else the
//! last) with a fresh pick among those who have not won.
//!
//! `--followers`: no platform's chat says who follows a channel, so a follower here is a viewer the
//! runtime saw follow (a `follow` event) since the trigger state started, or anyone with a role
//! (subscriber and up).

use super::cause::{Cause, human_duration, split_word};
use super::draw;
use super::people::People;
use super::poll_command::parse_duration;
use crate::actions::community::{Draw, DrawKind, Eligibility, Entrant, winners_line};
use crate::actions::{Action, ActionKind};
use crate::config::model::GiveawaySettings;
use crate::event::{ChatEvent, CompactString, EventKind, Platform, Role, Tick};
use std::collections::{HashMap, HashSet};

/// The longest a giveaway's entries may stay open.
pub const MAX_DURATION_S: u32 = 24 * 3600;
/// Follow events remembered per creator for `--followers` (the oldest are forgotten past it).
const FOLLOWS_KEPT: usize = 100_000;

/// How the commands are used; part of every refusal.
const USAGE: &str =
    "open <keyword> [30s|5m|1h] [--subs-only|--followers] | draw [n] | reroll [name] | close";

/// Every creator's running giveaway, and the follows seen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GiveawayBook {
    running: HashMap<CompactString, Running>,
    follows: HashMap<CompactString, HashSet<(Platform, CompactString)>>,
}

#[derive(Debug, Clone, PartialEq)]
struct Running {
    id: String,
    /// Where it was opened: a tick that closes its entries replies there.
    platform: Platform,
    channel: String,
    keyword: String,
    eligibility: Eligibility,
    closes_at_ms: Option<i64>,
    entries_open: bool,
    entries: Vec<Entrant>,
    persons: HashSet<String>,
    /// Everyone who won (or was replaced): they cannot win again.
    drawn: HashSet<String>,
    /// Winners standing, in draw order.
    winners: Vec<Entrant>,
    draws: u32,
}

impl GiveawayBook {
    /// Whether `creator` has a giveaway running (for tests and status).
    pub fn is_running(&self, creator: &str) -> bool {
        self.running.contains_key(creator)
    }

    /// Remembers a follow, for `--followers`.
    fn followed(&mut self, event: &ChatEvent) {
        let follows = self.follows.entry(event.creator.clone()).or_default();
        if follows.len() >= FOLLOWS_KEPT {
            follows.clear();
        }
        follows.insert((event.platform, event.author.id.clone()));
    }
}

/// A stream event of a creator with giveaways: follows are remembered for `--followers`.
pub fn on_event(event: &ChatEvent, book: &mut GiveawayBook) {
    if event.kind == EventKind::Follow {
        book.followed(event);
    }
}

/// Closes the entries of the creator's giveaway when its deadline has come, at a tick.
pub fn on_tick(
    tick: &Tick,
    settings: &GiveawaySettings,
    book: &mut GiveawayBook,
    out: &mut Vec<Action>,
) {
    let Some(running) = book.running.get_mut(tick.creator.as_str()) else {
        return;
    };
    if running.entries_open && running.closes_at_ms.is_some_and(|at| at <= tick.at_ms()) {
        let channel = running.channel.clone();
        let cause = Cause::tick(tick, running.platform, &channel);
        close_entries(&cause, settings, running, out);
    }
}

fn close_entries(
    cause: &Cause<'_>,
    settings: &GiveawaySettings,
    running: &mut Running,
    out: &mut Vec<Action>,
) {
    running.entries_open = false;
    let entries = running.entries.len() as u64;
    out.push(cause.action(
        &settings.command,
        ActionKind::GiveawayEntriesClosed {
            giveaway: running.id.clone(),
            entries,
        },
    ));
    out.push(cause.reply(
        &settings.command,
        format!(
            "Giveaway entries are closed: {entries} entr{}. A moderator draws with {} draw.",
            if entries == 1 { "y" } else { "ies" },
            settings.command
        ),
    ));
}

/// Handles one chat message of a creator with giveaways: the deadline first, then the command or
/// an entry. Returns whether the message was the command or an entry.
pub fn on_message(
    event: &ChatEvent,
    settings: &GiveawaySettings,
    book: &mut GiveawayBook,
    people: &People,
    out: &mut Vec<Action>,
) -> bool {
    let creator = event.creator.as_str();
    let cause = Cause::of(event);
    if let Some(running) = book.running.get_mut(creator)
        && running.entries_open
        && running
            .closes_at_ms
            .is_some_and(|at| at <= event.timestamp_ms())
    {
        close_entries(&cause, settings, running, out);
    }
    let (word, args) = split_word(&event.text);
    if word.eq_ignore_ascii_case(&settings.command) {
        command(event, &cause, settings, book, args, out);
        return true;
    }
    let Some(running) = book.running.get_mut(creator) else {
        return false;
    };
    if !running.entries_open || !word.eq_ignore_ascii_case(&running.keyword) {
        return false;
    }
    let roles = &event.author.roles;
    let eligible = match running.eligibility {
        Eligibility::Everyone => true,
        Eligibility::Subscribers => roles.highest() >= Role::Subscriber,
        Eligibility::Followers => {
            roles.highest() >= Role::Subscriber
                || book
                    .follows
                    .get(creator)
                    .is_some_and(|f| f.contains(&(event.platform, event.author.id.clone())))
        }
    };
    if !eligible {
        return true;
    }
    let person = people
        .person_of(creator, event.platform, &event.author.id)
        .to_string();
    if !running.persons.insert(person.clone()) {
        return true;
    }
    let entrant = Entrant {
        person,
        platform: event.platform,
        user_id: event.author.id.to_string(),
        user_name: event.author.display_name.to_string(),
        weight: settings.weight_of(roles),
        entry_id: event.message_id.to_string(),
    };
    running.entries.push(entrant.clone());
    out.push(cause.action(
        &settings.command,
        ActionKind::GiveawayEntry {
            giveaway: running.id.clone(),
            entrant,
        },
    ));
    true
}

fn command(
    event: &ChatEvent,
    cause: &Cause<'_>,
    settings: &GiveawaySettings,
    book: &mut GiveawayBook,
    args: &str,
    out: &mut Vec<Action>,
) {
    let name = &settings.command;
    let (sub, rest) = split_word(args);
    let sub = sub.to_ascii_lowercase();
    let creator = event.creator.as_str();
    if sub.is_empty() || sub == "status" {
        let text = match book.running.get(creator) {
            Some(r) if r.entries_open => format!(
                "Giveaway on: type {} to enter ({} entr{} so far).",
                r.keyword,
                r.entries.len(),
                if r.entries.len() == 1 { "y" } else { "ies" }
            ),
            Some(r) => format!(
                "Giveaway entries are closed ({} entries). {}",
                r.entries.len(),
                standing(r)
            ),
            None => "No giveaway is running.".to_string(),
        };
        out.push(cause.reply(name, text));
        return;
    }
    if event.author.roles.highest() < settings.manage_role {
        return cause.refuse(
            name,
            "not allowed",
            format!(
                "@{} only {}s can run giveaways.",
                event.author.display_name,
                settings.manage_role.as_str()
            ),
            out,
        );
    }
    match sub.as_str() {
        "open" => open(event, cause, settings, book, rest, out),
        "draw" | "reroll" => {
            let Some(running) = book.running.get_mut(creator) else {
                return cause.refuse(name, "no giveaway", "No giveaway is running.".into(), out);
            };
            if sub == "draw" {
                let n = match rest.split_whitespace().next() {
                    None => 1,
                    Some(n) => match n.parse::<u32>() {
                        Ok(n) if (1..=settings.max_winners).contains(&n) => n,
                        _ => {
                            return cause.refuse(
                                name,
                                "bad count",
                                format!(
                                    "Draw 1 to {} winners: {name} draw [n].",
                                    settings.max_winners
                                ),
                                out,
                            );
                        }
                    },
                };
                draw_winners(cause, settings, running, DrawKind::Draw, n, None, out);
            } else {
                let who = rest
                    .split_whitespace()
                    .next()
                    .map(|w| w.trim_start_matches('@').to_lowercase());
                let replaced = match &who {
                    Some(who) => running
                        .winners
                        .iter()
                        .position(|w| w.user_name.to_lowercase() == *who),
                    None => running.winners.len().checked_sub(1),
                };
                let Some(index) = replaced else {
                    return cause.refuse(
                        name,
                        "no such winner",
                        format!("Nobody to reroll. {}", standing(running)),
                        out,
                    );
                };
                let replaced = running.winners.remove(index);
                draw_winners(
                    cause,
                    settings,
                    running,
                    DrawKind::Reroll,
                    1,
                    Some(replaced),
                    out,
                );
            }
        }
        "close" | "end" => {
            let Some(running) = book.running.remove(creator) else {
                return cause.refuse(name, "no giveaway", "No giveaway is running.".into(), out);
            };
            out.push(cause.action(
                name,
                ActionKind::GiveawayClose {
                    giveaway: running.id.clone(),
                },
            ));
            out.push(cause.reply(name, format!("Giveaway closed. {}", standing(&running))));
        }
        _ => cause.refuse(
            name,
            "unknown subcommand",
            format!("Usage: {name} {USAGE}"),
            out,
        ),
    }
}

/// The winners standing, for replies.
fn standing(running: &Running) -> String {
    if running.winners.is_empty() {
        "No winners drawn.".to_string()
    } else {
        format!("{}.", winners_line(&running.winners))
    }
}

fn open(
    event: &ChatEvent,
    cause: &Cause<'_>,
    settings: &GiveawaySettings,
    book: &mut GiveawayBook,
    rest: &str,
    out: &mut Vec<Action>,
) {
    let name = &settings.command;
    let creator = event.creator.as_str();
    if let Some(running) = book.running.get(creator) {
        return cause.refuse(
            name,
            "already running",
            format!(
                "A giveaway is running (keyword {}); {name} close it first.",
                running.keyword
            ),
            out,
        );
    }
    let mut keyword = None;
    let mut duration_s = None;
    let mut eligibility = Eligibility::Everyone;
    for word in rest.split_whitespace() {
        match word.to_ascii_lowercase().as_str() {
            "--subs-only" | "--subs" | "--subscribers" => eligibility = Eligibility::Subscribers,
            "--followers" => eligibility = Eligibility::Followers,
            flag if flag.starts_with("--") => {
                return cause.refuse(
                    name,
                    "unknown option",
                    format!("Unknown option {word}. Usage: {name} {USAGE}"),
                    out,
                );
            }
            _ if keyword.is_none() => keyword = Some(word.to_string()),
            _ => match parse_duration(word) {
                Some(s) if s <= MAX_DURATION_S && duration_s.is_none() => duration_s = Some(s),
                _ => {
                    return cause.refuse(
                        name,
                        "bad duration",
                        format!(
                            "{word} is not a duration (30s, 5m, 1h; at most 24h). Usage: {name} {USAGE}"
                        ),
                        out,
                    );
                }
            },
        }
    }
    let Some(keyword) = keyword.filter(|k| k.chars().count() <= 64) else {
        return cause.refuse(
            name,
            "no keyword",
            format!("Name the word viewers enter with. Usage: {name} {USAGE}"),
            out,
        );
    };
    let closes_at_ms = duration_s.map(|s| event.timestamp_ms().saturating_add(i64::from(s) * 1000));
    let running = Running {
        id: format!("{}-{}", event.platform, event.message_id),
        platform: event.platform,
        channel: event.channel.to_string(),
        keyword: keyword.clone(),
        eligibility,
        closes_at_ms,
        entries_open: true,
        entries: Vec::new(),
        persons: HashSet::new(),
        drawn: HashSet::new(),
        winners: Vec::new(),
        draws: 0,
    };
    out.push(cause.action(
        name,
        ActionKind::GiveawayOpen {
            giveaway: running.id.clone(),
            keyword: keyword.clone(),
            eligibility,
            closes_at: closes_at_ms.and_then(chrono::DateTime::from_timestamp_millis),
        },
    ));
    let who = match eligibility {
        Eligibility::Everyone => "",
        Eligibility::Subscribers => " (subscribers only)",
        Eligibility::Followers => " (followers only)",
    };
    let closes = duration_s.map_or(String::new(), |s| {
        format!(" Entries close in {}.", human_duration(s))
    });
    out.push(cause.reply(
        name,
        format!(
            "Giveaway open{who}! Type {keyword} to enter, once each, from any platform.{closes}"
        ),
    ));
    book.running.insert(event.creator.clone(), running);
}

fn draw_winners(
    cause: &Cause<'_>,
    settings: &GiveawaySettings,
    running: &mut Running,
    kind: DrawKind,
    n: u32,
    replaced: Option<Entrant>,
    out: &mut Vec<Action>,
) {
    let name = &settings.command;
    let number = running.draws + 1;
    let entries_hash = draw::entries_hash(&running.entries);
    let seed = draw::seed(&running.id, &entries_hash, number);
    let mut excluded = running.drawn.clone();
    if let Some(r) = &replaced {
        excluded.insert(r.person.clone());
    }
    let total_weight = draw::open_tickets(&running.entries, &excluded);
    let picks = draw::pick(&seed, &running.entries, &excluded, n);
    if picks.is_empty() {
        if let Some(r) = replaced {
            // Nobody to replace them with: they stay a winner.
            running.winners.push(r);
        }
        return cause.refuse(
            name,
            "no entries",
            format!("No entries left to draw from. {}", standing(running)),
            out,
        );
    }
    running.entries_open = false;
    running.draws = number;
    let winners: Vec<Entrant> = picks.iter().map(|i| running.entries[*i].clone()).collect();
    for w in &winners {
        running.drawn.insert(w.person.clone());
    }
    if let Some(r) = &replaced {
        running.drawn.insert(r.person.clone());
    }
    running.winners.extend(winners.iter().cloned());
    let text = match &replaced {
        Some(r) => format!(
            "{} did not answer; the new winner is {} ({})!",
            r.user_name, winners[0].user_name, winners[0].platform
        ),
        None => format!("{}! Congratulations!", winners_line(&winners)),
    };
    out.push(cause.action(
        name,
        ActionKind::GiveawayDraw {
            giveaway: running.id.clone(),
            draw: Draw {
                number,
                kind,
                seed,
                entries_hash,
                entries: running.entries.len() as u64,
                total_weight,
                winners,
                replaced,
            },
            discord: settings.discord.clone(),
        },
    ));
    out.push(cause.reply(name, text));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::community::LinkedAccount;
    use crate::event::{Author, Roles};
    use chrono::DateTime;

    fn say(platform: &str, user: &str, id: &str, ms: i64, text: &str, roles: Roles) -> ChatEvent {
        ChatEvent::message(
            Platform::named(platform),
            "demo",
            id,
            DateTime::from_timestamp_millis(ms).unwrap(),
            Author {
                roles,
                ..Author::viewer(user)
            },
            text,
        )
    }

    fn moderator() -> Roles {
        Roles {
            moderator: true,
            ..Roles::default()
        }
    }

    fn settings() -> GiveawaySettings {
        serde_json::from_str(r#"{"weights": {"subscriber": 2}}"#).unwrap()
    }

    fn feed(book: &mut GiveawayBook, people: &People, event: &ChatEvent) -> Vec<Action> {
        let mut out = Vec::new();
        on_message(event, &settings(), book, people, &mut out);
        out
    }

    fn draws(actions: &[Action]) -> Vec<Draw> {
        actions
            .iter()
            .filter_map(|a| match &a.kind {
                ActionKind::GiveawayDraw { draw, .. } => Some(draw.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn one_entry_per_person_across_platforms_weighted_by_role_and_a_reproducible_draw() {
        let people = People::from_links([
            (
                "demo".to_string(),
                "p-ann".to_string(),
                LinkedAccount {
                    platform: Platform::named("twitch"),
                    user_id: "ann".into(),
                    user_name: "ann".into(),
                },
            ),
            (
                "demo".to_string(),
                "p-ann".to_string(),
                LinkedAccount {
                    platform: Platform::named("kick"),
                    user_id: "ann_k".into(),
                    user_name: "ann_k".into(),
                },
            ),
        ]);
        let mut book = GiveawayBook::default();
        let opened = feed(
            &mut book,
            &people,
            &say(
                "twitch",
                "mod",
                "o1",
                0,
                "!giveaway open !join 5m",
                moderator(),
            ),
        );
        assert!(
            matches!(&opened[0].kind, ActionKind::GiveawayOpen { keyword, .. } if keyword == "!join")
        );
        let sub = Roles {
            subscriber: true,
            ..Roles::default()
        };
        let mut all = Vec::new();
        for (platform, user, id, roles) in [
            ("twitch", "ann", "e1", Roles::default()),
            ("kick", "ann_k", "e2", Roles::default()),
            ("twitch", "ann", "e3", Roles::default()),
            ("kick", "bob", "e4", sub),
            ("twitch", "cat", "e5", Roles::default()),
        ] {
            all.extend(feed(
                &mut book,
                &people,
                &say(platform, user, id, 1_000, "!JOIN me", roles),
            ));
        }
        let entries: Vec<Entrant> = all
            .iter()
            .filter_map(|a| match &a.kind {
                ActionKind::GiveawayEntry { entrant, .. } => Some(entrant.clone()),
                _ => None,
            })
            .collect();
        let names: Vec<(&str, u32)> = entries
            .iter()
            .map(|e| (e.user_name.as_str(), e.weight))
            .collect();
        assert_eq!(
            names,
            [("ann", 1), ("bob", 2), ("cat", 1)],
            "ann's Kick account is the same person"
        );

        let drawn = feed(
            &mut book,
            &people,
            &say(
                "twitch",
                "mod",
                "d1",
                2_000,
                "!giveaway draw 2",
                moderator(),
            ),
        );
        let first = &draws(&drawn)[0];
        assert_eq!(first.winners.len(), 2);
        assert_eq!(first.entries_hash, draw::entries_hash(&entries));
        assert_eq!(first.seed, draw::seed("twitch-o1", &first.entries_hash, 1));
        let check: Vec<String> = draw::pick(&first.seed, &entries, &HashSet::new(), 2)
            .into_iter()
            .map(|i| entries[i].person.clone())
            .collect();
        let won: Vec<String> = first.winners.iter().map(|w| w.person.clone()).collect();
        assert_eq!(won, check, "the recorded seed reproduces the winners");
        // A late entry is not taken: a draw closed the entries.
        assert!(
            feed(
                &mut book,
                &people,
                &say("twitch", "dan", "e6", 3_000, "!join", Roles::default())
            )
            .is_empty()
        );
        // Rerolling the first winner gives the one entrant who has not won.
        let rerolled = feed(
            &mut book,
            &people,
            &say(
                "twitch",
                "mod",
                "r1",
                4_000,
                &format!("!giveaway reroll @{}", first.winners[0].user_name),
                moderator(),
            ),
        );
        let reroll = &draws(&rerolled)[0];
        assert_eq!(reroll.kind, DrawKind::Reroll);
        assert_eq!(
            reroll.replaced.as_ref().unwrap().person,
            first.winners[0].person
        );
        let everyone: HashSet<&str> = ["p-ann", "kick:bob", "twitch:cat"].into_iter().collect();
        let left: Vec<&str> = everyone
            .iter()
            .copied()
            .filter(|p| !won.iter().any(|w| w == p))
            .collect();
        assert_eq!(reroll.winners[0].person, left[0]);
        // Nobody is left to draw.
        let none = feed(
            &mut book,
            &people,
            &say(
                "twitch",
                "mod",
                "r2",
                5_000,
                "!giveaway reroll",
                moderator(),
            ),
        );
        assert!(
            matches!(&none[0].kind, ActionKind::Refused { reason, .. } if reason == "no entries")
        );
        let closed = feed(
            &mut book,
            &people,
            &say("twitch", "mod", "c1", 6_000, "!giveaway close", moderator()),
        );
        assert!(
            matches!(&closed[0].kind, ActionKind::GiveawayClose { giveaway } if giveaway == "twitch-o1")
        );
        assert!(!book.is_running("demo"));
    }

    #[test]
    fn viewers_cannot_run_it_and_entries_close_at_the_deadline_on_a_tick() {
        let people = People::default();
        let mut book = GiveawayBook::default();
        let refused = feed(
            &mut book,
            &people,
            &say(
                "twitch",
                "ann",
                "o0",
                0,
                "!giveaway open win",
                Roles::default(),
            ),
        );
        assert!(
            matches!(&refused[0].kind, ActionKind::Refused { reason, .. } if reason == "not allowed")
        );
        feed(
            &mut book,
            &people,
            &say(
                "twitch",
                "mod",
                "o1",
                0,
                "!giveaway open win 30s --subs-only",
                moderator(),
            ),
        );
        assert!(
            feed(
                &mut book,
                &people,
                &say("twitch", "ann", "e1", 1_000, "win", Roles::default())
            )
            .is_empty()
        );
        let sub = Roles {
            subscriber: true,
            ..Roles::default()
        };
        assert_eq!(
            feed(
                &mut book,
                &people,
                &say("twitch", "bob", "e2", 2_000, "win", sub)
            )
            .len(),
            1
        );
        let before = book.clone();
        let mut out = Vec::new();
        let tick = |ms| Tick::new("demo", DateTime::from_timestamp_millis(ms).unwrap());
        on_tick(&tick(29_999), &settings(), &mut book, &mut out);
        assert!(out.is_empty() && book == before, "the tick rule");
        on_tick(&tick(30_000), &settings(), &mut book, &mut out);
        assert!(matches!(
            &out[0].kind,
            ActionKind::GiveawayEntriesClosed { entries: 1, .. }
        ));
        assert!(!out[1].thread);
        assert!(
            feed(
                &mut book,
                &people,
                &say("twitch", "cat", "e3", 31_000, "win", sub)
            )
            .is_empty()
        );
    }

    #[test]
    fn followers_only_takes_viewers_seen_following_and_anyone_with_a_role() {
        let people = People::default();
        let mut book = GiveawayBook::default();
        feed(
            &mut book,
            &people,
            &say(
                "kick",
                "mod",
                "o1",
                0,
                "!giveaway open go --followers",
                moderator(),
            ),
        );
        let mut follow = say("kick", "fan", "f1", 500, "", Roles::default());
        follow.kind = EventKind::Follow;
        on_event(&follow, &mut book);
        assert_eq!(
            feed(
                &mut book,
                &people,
                &say("kick", "fan", "e1", 1_000, "go", Roles::default())
            )
            .len(),
            1
        );
        assert!(
            feed(
                &mut book,
                &people,
                &say("kick", "lurker", "e2", 1_000, "go", Roles::default())
            )
            .is_empty()
        );
        let vip = Roles {
            vip: true,
            ..Roles::default()
        };
        assert_eq!(
            feed(
                &mut book,
                &people,
                &say("kick", "vee", "e3", 1_000, "go", vip)
            )
            .len(),
            1
        );
    }
}
