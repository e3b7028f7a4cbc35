//! The standings worker: answers the questions the store answers (`!top [name]`, `!rank [user]`,
//! `!points`, `!top points`, `!quote ...`) and tells the outcome of the daily bot's store changes
//! (`!give`, `!points add|remove`, `!quote add|del`).
//!
//! Scoreboards, tallies, points and quotes live in the store across runs, so the answer is read
//! from what the writer has committed. A question is read as it comes (a point scored in the same
//! instant may not be in it yet); a change's outcome is read once the change is committed (the
//! sink hands over the writer's acknowledgement, see [`crate::effects::sinks::standings`]), found
//! by its cause. One task takes the requests in turn and reads through the store's reader pool, on
//! the blocking pool, so the run loop never waits for SQLite; the answer is a reply command through
//! the same [`CommandQueues`] as any other (refused, dropped and counted like them). Rankings are
//! the store's: competition ranking (1, 2, 2, 4), ties ordered by name; linked accounts count as
//! one person.

use crate::actions::community::{PointsQuery, QuoteQuery};
use crate::actions::{ActionKind, StandingsQuery};
use crate::command::{CommandKind, PlatformCommand};
use crate::config::Config;
use crate::effects::sinks::CommandQueues;
use crate::effects::sinks::standings::{STANDINGS_QUEUE, StandingsRequest};
use crate::store::{
    QuoteRow, Readers, Scoreboard, StoreError, StoreReader, TallyRow, TransferOutcome, UserRank,
};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio_util::task::TaskTracker;

/// Entries a `!top` answer lists.
pub const TOP_ENTRIES: usize = 5;
/// Boards a `!rank` answer lists.
const RANK_BOARDS: usize = 3;
/// Quotes a search answer names.
const SEARCH_LISTED: usize = 5;

/// Starts the worker on `tasks`; it ends when the returned sender (the router's) is dropped.
pub fn spawn(
    readers: Readers,
    commands: CommandQueues,
    config: watch::Receiver<Arc<Config>>,
    tasks: &TaskTracker,
) -> mpsc::Sender<StandingsRequest> {
    let (tx, mut rx) = mpsc::channel::<StandingsRequest>(STANDINGS_QUEUE);
    tasks.spawn(async move {
        while let Some(mut request) = rx.recv().await {
            if let Some(committed) = request.committed.take() {
                // Committed, or dropped with a batch the writer gave up: read either way.
                let _ = committed.await;
            }
            let words = Words::of(&config.borrow(), &request.creator);
            let read = readers
                .read(move |store| {
                    let text = answer(store, &request, &words);
                    (text, request)
                })
                .await;
            let (text, request) = match read {
                Ok((Ok(text), request)) => (text, request),
                Ok((Err(e), _)) => {
                    tracing::warn!(error = %e, "Could not read the store for an answer; the question goes unanswered.");
                    commands.unanswered();
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Could not open the store for an answer; the question goes unanswered.");
                    commands.unanswered();
                    continue;
                }
            };
            commands.submit(PlatformCommand {
                creator: request.creator,
                platform: request.platform,
                channel: request.channel,
                cause: crate::event::cause_id(request.platform, &request.reply_to),
                kind: CommandKind::Reply {
                    text,
                    reply_to: request.reply_to,
                },
                receipt: false,
            });
        }
    });
    tx
}

/// What answers call things, from the creator's settings.
#[derive(Debug, Clone)]
pub struct Words {
    /// The points currency's name.
    pub currency: String,
    /// The quote command.
    pub quote_command: String,
}

impl Words {
    pub fn of(config: &Config, creator: &str) -> Words {
        let triggers = &config.triggers;
        Words {
            currency: triggers
                .points
                .get(creator)
                .map_or_else(|| "points".to_string(), |p| p.name.clone()),
            quote_command: triggers
                .quotes
                .get(creator)
                .map_or_else(|| "!quote".to_string(), |q| q.command.clone()),
        }
    }
}

/// The answer to one request, as a chat line.
pub fn answer(
    store: &StoreReader,
    request: &StandingsRequest,
    words: &Words,
) -> Result<String, StoreError> {
    let creator = request.creator.as_str();
    match &request.kind {
        ActionKind::Standings { query, .. } => standings(store, creator, request.platform, query),
        ActionKind::Quote { query, .. } => quote(store, creator, query, words),
        ActionKind::QuoteAdd { .. } => Ok(match store.quote_added_by(&request.cause)? {
            Some(number) => format!("Quote #{number} added."),
            None => "The quote could not be recorded.".to_string(),
        }),
        ActionKind::QuoteDelete { number, .. } => Ok(if store.quote_deleted_by(&request.cause)? {
            format!("Quote #{number} deleted.")
        } else {
            format!("No quote #{number}.")
        }),
        ActionKind::Points { query, .. } => points(store, creator, request.platform, query, words),
        ActionKind::PointsGive { user_name, .. } => {
            Ok(match store.points_transfer(&request.cause)? {
                None => "That gift could not be recorded.".to_string(),
                Some(t) => match t.outcome {
                    TransferOutcome::Done => {
                        format!(
                            "{user_name} gave {} {} to {}.",
                            t.moved, words.currency, t.to_name
                        )
                    }
                    TransferOutcome::NotEnough => format!(
                        "@{user_name} you do not have {} {} to give.",
                        t.amount, words.currency
                    ),
                    TransferOutcome::UnknownUser => {
                        format!("Nobody called {} has {} here.", t.to_name, words.currency)
                    }
                    TransferOutcome::ToSelf => {
                        format!(
                            "@{user_name} you cannot give {} to yourself.",
                            words.currency
                        )
                    }
                },
            })
        }
        ActionKind::PointsAdjust { .. } => Ok(match store.points_transfer(&request.cause)? {
            None => "That change could not be recorded.".to_string(),
            Some(t) if t.outcome == TransferOutcome::UnknownUser => {
                format!("Nobody called {} has {} here.", t.to_name, words.currency)
            }
            Some(t) if t.moved >= 0 => {
                format!("Added {} {} to {}.", t.moved, words.currency, t.to_name)
            }
            Some(t) => format!(
                "Removed {} {} from {}.",
                -t.moved, words.currency, t.to_name
            ),
        }),
        other => unreachable!("not a store question: {}", other.type_name()),
    }
}

fn quote_line(q: &QuoteRow) -> String {
    let mut line = format!("#{}: \"{}\"", q.number, q.text);
    if let Some(said_by) = &q.said_by {
        line.push_str(&format!(" ({said_by})"));
    }
    if let Some(game) = &q.game {
        line.push_str(&format!(" [{game}]"));
    }
    line.push_str(&format!(" {}", q.added_at.format("%Y-%m-%d")));
    line
}

fn quote(
    store: &StoreReader,
    creator: &str,
    query: &QuoteQuery,
    words: &Words,
) -> Result<String, StoreError> {
    Ok(match query {
        QuoteQuery::Number { number } => match store.quote(creator, *number)? {
            Some(q) => quote_line(&q),
            None => format!("No quote #{number}."),
        },
        QuoteQuery::Random { seed } => match store.quote_at(creator, *seed)? {
            Some(q) => quote_line(&q),
            None => format!(
                "No quotes yet. Moderators add one with {} add <text>.",
                words.quote_command
            ),
        },
        QuoteQuery::Search { words: wanted } => {
            let found = store.search_quotes(creator, wanted)?;
            match found.as_slice() {
                [] => format!("No quote mentions {wanted}."),
                [one] => quote_line(one),
                many => {
                    let numbers: Vec<String> = many
                        .iter()
                        .take(SEARCH_LISTED)
                        .map(|q| format!("#{}", q.number))
                        .collect();
                    format!(
                        "{} quotes match: {}{}. First: {}",
                        many.len(),
                        numbers.join(", "),
                        if many.len() > SEARCH_LISTED {
                            ", ..."
                        } else {
                            ""
                        },
                        quote_line(&many[0])
                    )
                }
            }
        }
    })
}

fn points(
    store: &StoreReader,
    creator: &str,
    platform: crate::event::Platform,
    query: &PointsQuery,
    words: &Words,
) -> Result<String, StoreError> {
    let currency = &words.currency;
    Ok(match query {
        PointsQuery::Balance { user_id, user_name } => {
            match store.points_of(creator, platform, user_id)? {
                (Some(p), people) => format!(
                    "{} has {} {currency} (#{} of {people}).",
                    user_name, p.balance, p.rank
                ),
                (None, _) => format!("{user_name} has no {currency} yet."),
            }
        }
        PointsQuery::Top => {
            let leaders = store.points_leaders(creator, TOP_ENTRIES)?;
            if leaders.is_empty() {
                format!("Nobody has {currency} yet.")
            } else {
                let list: Vec<String> = leaders
                    .iter()
                    .map(|p| format!("{}. {} {}", p.rank, p.name, p.balance))
                    .collect();
                format!("Top {currency}: {}", list.join(", "))
            }
        }
    })
}

/// The answer to `!top` / `!rank`.
fn standings(
    store: &StoreReader,
    creator: &str,
    platform: crate::event::Platform,
    query: &StandingsQuery,
) -> Result<String, StoreError> {
    match query {
        StandingsQuery::Top { name: Some(name) } => {
            if let Some(board) = store.scoreboard(creator, name, TOP_ENTRIES)? {
                return Ok(top_text(&board));
            }
            let tallies = creator_tallies(store, creator)?;
            Ok(
                match tallies.iter().find(|t| t.tally.eq_ignore_ascii_case(name)) {
                    Some(t) => format!(
                        "Tally {}: {} ({} event{}).",
                        t.tally,
                        t.total,
                        t.events,
                        if t.events == 1 { "" } else { "s" }
                    ),
                    None => format!("No scoreboard or tally named {name} yet."),
                },
            )
        }
        StandingsQuery::Top { name: None } => {
            if let Some(latest) = store.latest_scoreboard(creator)?
                && let Some(board) = store.scoreboard(creator, &latest, TOP_ENTRIES)?
            {
                return Ok(top_text(&board));
            }
            let tallies = creator_tallies(store, creator)?;
            Ok(if tallies.is_empty() {
                "Nothing to rank yet.".to_string()
            } else {
                tallies_text(&tallies)
            })
        }
        StandingsQuery::Rank {
            name,
            user_id,
            user_name,
        } => {
            let ranks = store.ranks_of(creator, name.as_deref(), platform, user_id)?;
            let who = name.as_deref().unwrap_or(user_name);
            Ok(rank_text(who, &ranks))
        }
    }
}

fn creator_tallies(store: &StoreReader, creator: &str) -> Result<Vec<TallyRow>, StoreError> {
    let mut tallies: Vec<TallyRow> = store
        .tallies()?
        .into_iter()
        .filter(|t| t.creator == creator)
        .collect();
    // Largest first; equal totals by name.
    tallies.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.tally.cmp(&b.tally)));
    Ok(tallies)
}

fn top_text(board: &Scoreboard) -> String {
    let entries: Vec<String> = board
        .entries
        .iter()
        .map(|e| format!("{}. {} {}", e.rank, e.user_name, e.points))
        .collect();
    format!(
        "Top {} ({} player{}): {}",
        board.board,
        board.players,
        if board.players == 1 { "" } else { "s" },
        entries.join(", ")
    )
}

fn tallies_text(tallies: &[TallyRow]) -> String {
    let list: Vec<String> = tallies
        .iter()
        .take(TOP_ENTRIES)
        .map(|t| format!("{} {}", t.tally, t.total))
        .collect();
    format!("Tallies: {}", list.join(", "))
}

fn rank_text(who: &str, ranks: &[UserRank]) -> String {
    if ranks.is_empty() {
        return format!("{who} has no points yet.");
    }
    let name = &ranks[0].user_name;
    let places: Vec<String> = ranks
        .iter()
        .take(RANK_BOARDS)
        .map(|r| {
            format!(
                "#{} of {} on {} ({} point{})",
                r.rank,
                r.players,
                r.board,
                r.points,
                if r.points == 1 { "" } else { "s" }
            )
        })
        .collect();
    format!("{name}: {}", places.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::{Action, ActionKind};
    use crate::event::Platform;
    use crate::store::{StoreWriter, WriteOp, db_path};
    use chrono::DateTime;

    fn score(ms: i64, board: &str, user: &str, points: i64) -> WriteOp {
        WriteOp::action(Action {
            trigger_id: "gg".into(),
            creator: "demo".into(),
            platform: Platform::named("twitch"),
            message_id: format!("m{ms}"),
            at: DateTime::from_timestamp_millis(ms).unwrap(),
            kind: ActionKind::Score {
                board: board.into(),
                points,
                user_id: format!("id-{user}"),
                user_name: user.into(),
            },
            thread: false,
        })
    }

    fn tally(ms: i64, name: &str, amount: i64) -> WriteOp {
        WriteOp::action(Action {
            trigger_id: "hype".into(),
            creator: "demo".into(),
            platform: Platform::named("twitch"),
            message_id: format!("t{ms}"),
            at: DateTime::from_timestamp_millis(ms).unwrap(),
            kind: ActionKind::Tally {
                tally: name.into(),
                amount,
                user_id: "x".into(),
            },
            thread: false,
        })
    }

    #[test]
    fn answers_rank_ties_by_competition_ranking_and_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let writer = StoreWriter::spawn(&path, 64).unwrap();
        writer.blocking_send(tally(1, "hype", 3)).unwrap();
        writer.blocking_send(tally(2, "deaths", 7)).unwrap();
        writer.close().unwrap();
        let only_tallies = standings(
            &StoreReader::open(&path).unwrap(),
            "demo",
            Platform::named("twitch"),
            &StandingsQuery::Top { name: None },
        )
        .unwrap();
        // Dan reaches 9 first, then Bob and cat: ties are ordered by name, not by who got there
        // first. Trivia changed last, so a bare `!top` shows it.
        let writer = StoreWriter::spawn(&path, 64).unwrap();
        for op in [
            score(10, "trivia", "Eve", 4),
            score(20, "good-games", "Dan", 9),
            score(30, "good-games", "Bob", 9),
            score(40, "good-games", "cat", 9),
            score(50, "good-games", "Ann", 12),
            score(60, "good-games", "Fay", 1),
            score(61, "good-games", "Gus", 1),
            score(62, "good-games", "Hal", 1),
            score(70, "trivia", "Bob", 2),
        ] {
            writer.blocking_send(op).unwrap();
        }
        writer.close().unwrap();
        let store = StoreReader::open(&path).unwrap();
        let ask = |query: StandingsQuery| {
            standings(&store, "demo", Platform::named("twitch"), &query).unwrap()
        };
        let rank = |name: Option<&str>, user: &str| StandingsQuery::Rank {
            name: name.map(Into::into),
            user_id: format!("id-{user}"),
            user_name: user.into(),
        };
        insta::assert_snapshot!(
            [
                only_tallies,
                ask(StandingsQuery::Top { name: None }),
                ask(StandingsQuery::Top { name: Some("good-games".into()) }),
                ask(StandingsQuery::Top { name: Some("HYPE".into()) }),
                ask(StandingsQuery::Top { name: Some("nope".into()) }),
                ask(rank(None, "Bob")),
                ask(rank(Some("CAT"), "Ann")),
                ask(rank(None, "Zed")),
            ]
            .join("\n"),
            @r"
        Tallies: deaths 7, hype 3
        Top trivia (2 players): 1. Eve 4, 2. Bob 2
        Top good-games (7 players): 1. Ann 12, 2. Bob 9, 2. cat 9, 2. Dan 9, 5. Fay 1
        Tally hype: 3 (1 event).
        No scoreboard or tally named nope yet.
        Bob: #2 of 7 on good-games (9 points), #2 of 2 on trivia (2 points)
        cat: #2 of 7 on good-games (9 points)
        Zed has no points yet.
        "
        );
    }
}
