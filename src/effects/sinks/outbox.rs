//! Notifications: routing decides where a `notify` action goes ([`crate::routing::rules::notify`]),
//! and the rows it hands back are recorded with the action, in the same write, each carrying the
//! action's cause. A durable outbox row comes first ([`crate::store::outbox`]), sent later by the
//! destination's sender, so a notification survives a crash or a restart and is sent once.
//!
//! Queue: the store writer's queue; when full the pipeline waits (backpressure).

use crate::actions::{Action, ActionKind};
use crate::effects::router::Routed;
use crate::routing::{Origin, rules};
use crate::store::WriteOp;

#[derive(Debug, Default)]
pub struct OutboxSink;

impl OutboxSink {
    pub fn accept(&self, action: Action, ops: &mut Vec<WriteOp>) -> Routed {
        let rows = match &action.kind {
            ActionKind::Notify { channel, text } => rules::notify(&origin(&action), channel, text),
            _ => Vec::new(),
        };
        ops.push(WriteOp::action_notifying(action, rows));
        Routed::Done
    }
}

/// Who an action's notifications are for and what caused them.
pub(crate) fn origin(action: &Action) -> Origin {
    Origin {
        creator: action.creator.clone(),
        cause: action.cause(),
        at: action.at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Platform;
    use crate::store::{StoreReader, StoreWriter, db_path};
    use chrono::{DateTime, Utc};

    #[test]
    fn a_notify_action_is_recorded_with_its_discord_row_and_cause_in_one_write() {
        let action = Action {
            thread: true,
            trigger_id: "announce".into(),
            creator: "demo".into(),
            platform: Platform::named("kick"),
            message_id: "k-7".into(),
            at: DateTime::from_timestamp_millis(5_000).unwrap(),
            kind: ActionKind::Notify {
                channel: "general".into(),
                text: "we are live".into(),
            },
        };
        let mut ops = Vec::new();
        assert_eq!(OutboxSink.accept(action, &mut ops), Routed::Done);
        assert_eq!(
            ops.len(),
            1,
            "one op: the action and its row commit together"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let writer = StoreWriter::spawn(&path, 8).unwrap();
        for op in ops {
            writer.blocking_send(op).unwrap();
        }
        writer.close().unwrap();
        let store = StoreReader::open(&path).unwrap();
        assert_eq!(store.recorded_actions().unwrap().len(), 1);
        let due = store.outbox_due("discord", Utc::now(), 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(
            (
                due[0].target.as_str(),
                due[0].kind.as_str(),
                due[0].cause.as_deref()
            ),
            ("general", "notify", Some("event:kick:k-7"))
        );
        assert_eq!(due[0].payload, serde_json::json!({"text": "we are live"}));
    }
}
