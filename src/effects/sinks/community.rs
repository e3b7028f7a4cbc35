//! Community state: votes, tallies and scores ([`crate::store::community`]), giveaways, points
//! credits and linked accounts (the daily bot's store domains). A closed poll's results and a
//! giveaway draw's winners go where routing says ([`crate::routing::rules::poll_results`],
//! [`crate::routing::rules::giveaway_winners`]), recorded with the action in the same write.
//!
//! Queue: the store writer's queue; when full the pipeline waits (backpressure).

use super::outbox::origin;
use crate::actions::poll::{self, OptionCount};
use crate::actions::{Action, ActionKind};
use crate::effects::router::Routed;
use crate::routing::{Routing, rules};
use crate::store::WriteOp;

#[derive(Debug, Default)]
pub struct CommunitySink {
    /// The running config's routing, for posts that depend on posting.json (a draw's winners on
    /// X); without it only the Discord channel named in the action is posted to.
    routing: Option<Routing>,
}

impl CommunitySink {
    pub fn new(routing: Routing) -> CommunitySink {
        CommunitySink {
            routing: Some(routing),
        }
    }

    pub fn accept(&self, action: Action, ops: &mut Vec<WriteOp>) -> Routed {
        let rows = match &action.kind {
            ActionKind::PollClose {
                poll,
                question,
                results,
                discord,
                ..
            } => rules::poll_results(
                &origin(&action),
                poll,
                discord.as_deref(),
                results_payload(question, results),
            ),
            ActionKind::GiveawayDraw {
                giveaway,
                draw,
                discord,
            } => {
                let winners = crate::actions::community::winners_line(&draw.winners);
                let post = rules::GiveawayPost {
                    giveaway,
                    draw: draw.number,
                    text: &winners,
                    discord: discord.as_deref(),
                };
                match &self.routing {
                    Some(routing) => {
                        routing.giveaway_winners(&origin(&action), action.platform, &post)
                    }
                    None => rules::giveaway_winners(None, &origin(&action), action.platform, &post),
                }
            }
            _ => Vec::new(),
        };
        ops.push(WriteOp::action_notifying(action, rows));
        Routed::Done
    }
}

/// What a closed poll's notification says: the chat line as `text`, and the counts (never voters).
fn results_payload(question: &str, results: &[OptionCount]) -> serde_json::Value {
    let total = poll::total(results);
    serde_json::json!({
        "text": poll::results_text(question, results),
        "question": question,
        "total_votes": total,
        "options": results.iter().map(|r| serde_json::json!({
            "option": r.option,
            "votes": r.votes,
            "percent": poll::percent(r.votes, total),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::poll::CloseReason;
    use crate::event::Platform;
    use crate::store::{StoreReader, StoreWriter, db_path};
    use chrono::{DateTime, Utc};

    fn close(ms: i64, discord: Option<&str>) -> Action {
        let results = [("chips", 0), ("nuts", 2), ("fruit", 0)]
            .into_iter()
            .map(|(option, votes)| OptionCount {
                option: option.into(),
                votes,
            })
            .collect();
        Action {
            thread: true,
            trigger_id: "!poll".into(),
            creator: "demo".into(),
            platform: Platform::named("twitch"),
            message_id: format!("m{ms}"),
            at: DateTime::from_timestamp_millis(ms).unwrap(),
            kind: ActionKind::PollClose {
                poll: "p1".into(),
                question: "Snack?".into(),
                reason: CloseReason::Command,
                results,
                discord: discord.map(Into::into),
            },
        }
    }

    #[test]
    fn poll_results_are_posted_once_with_counts_and_no_voters() {
        let mut ops = Vec::new();
        for action in [
            close(5_000, Some("general")),
            // Closing twice (a re-delivered action) posts once.
            close(5_000, Some("general")),
            // A poll without a results channel posts nothing.
            close(6_000, None),
        ] {
            CommunitySink::default().accept(action, &mut ops);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let writer = StoreWriter::spawn(&path, 8).unwrap();
        for op in ops {
            writer.blocking_send(op).unwrap();
        }
        assert_eq!(writer.close().unwrap().ops_rejected, 0);
        let store = StoreReader::open(&path).unwrap();
        let due = store.outbox_due("discord", Utc::now(), 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(
            (
                due[0].kind.as_str(),
                due[0].target.as_str(),
                due[0].cause.as_deref()
            ),
            ("poll_results", "general", Some("event:twitch:m5000"))
        );
        assert_eq!(
            due[0].payload["text"],
            "Poll closed: Snack? | chips 0 (0%), nuts 2 (100%), fruit 0 (0%) | 2 votes | winner: nuts"
        );
        assert_eq!(due[0].payload["options"][1]["percent"], 100.0);
        assert_eq!(store.outbox_counts().unwrap(), (1, 0, 0));
    }
}
