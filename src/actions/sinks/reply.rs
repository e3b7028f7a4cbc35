//! Replies: queued on the outbound queue of the source the message came from.
//!
//! Queue: each source's outbound queue, [`crate::sources::OUTBOUND_CAPACITY`] replies. When full (or
//! when the source is not running) the reply is dropped and counted, never waited for: a reply
//! minutes late is worse than none, and waiting would stall the pipeline behind one slow chat.

use crate::actions::router::Routed;
use crate::actions::{Action, ActionKind};
use crate::event::Platform;
use crate::sources::OutboundMessage;
use crate::store::WriteOp;
use std::collections::HashMap;
use tokio::sync::mpsc;

/// Senders of every running source's outbound queue, by (creator, platform).
pub type Outbound = HashMap<(String, Platform), mpsc::Sender<OutboundMessage>>;

pub struct ReplySink {
    outbound: Outbound,
}

impl ReplySink {
    pub fn new(outbound: Outbound) -> ReplySink {
        ReplySink { outbound }
    }

    pub fn accept(&self, action: Action, ops: &mut Vec<WriteOp>) -> Routed {
        let ActionKind::Reply { channel, text } = &action.kind else {
            unreachable!("the router sends only replies here")
        };
        let message = OutboundMessage {
            channel: channel.clone(),
            text: text.clone(),
            // Threaded under the chat message that caused it; a reply to a stream event or a tick
            // (a poll closing at its deadline) threads under nothing.
            reply_to: action.thread.then(|| action.message_id.clone()),
        };
        let queued = self
            .outbound
            .get(&(action.creator.clone(), action.platform))
            .is_some_and(|tx| tx.try_send(message).is_ok());
        ops.push(WriteOp::action(action));
        if queued {
            Routed::Done
        } else {
            Routed::ReplyDropped
        }
    }
}
