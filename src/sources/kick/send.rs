//! Outbound Kick chat: replies split at Kick's message limit and paced by the creator's send
//! limit (`ratelimits.json` `kick`).
//!
//! [`Outbox`] belongs to the source, not to a websocket session: sending goes over HTTP, so a
//! reconnect of the chat reader neither loses queued replies nor resets the limiter. Only the
//! first piece of a split reply is threaded (`reply_to_message_id`); the rest follow it.

use crate::config::model::SendLimit;
use crate::sources::OutboundMessage;
use crate::sources::ratelimit::SlidingWindow;
use crate::sources::twitch::send::split_message;
use std::collections::VecDeque;
use std::time::Instant;

/// Kick's limit for one chat message, in characters (PROTOCOLS.md §3.2, unverified).
pub const MAX_MESSAGE_CHARS: usize = 500;

/// Pieces waiting to be sent. When full, the source stops taking replies from its outbound
/// queue, so that bounded queue fills and the reply sink drops (and counts) new replies.
pub const OUTBOX_CAPACITY: usize = 64;

/// One message to post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub text: String,
    pub reply_to: Option<String>,
}

/// Queued pieces and the limiter that paces them.
#[derive(Debug)]
pub struct Outbox {
    pending: VecDeque<Piece>,
    limiter: SlidingWindow,
}

impl Outbox {
    pub fn new(limit: &SendLimit) -> Outbox {
        Outbox {
            pending: VecDeque::with_capacity(OUTBOX_CAPACITY),
            limiter: SlidingWindow::for_send_limit(limit),
        }
    }

    pub fn has_room(&self) -> bool {
        self.pending.len() < OUTBOX_CAPACITY
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Queues a reply as one or more pieces; returns how many were queued.
    pub fn push(&mut self, message: &OutboundMessage) -> usize {
        let mut queued = 0;
        for (i, text) in split_message(&message.text, MAX_MESSAGE_CHARS)
            .into_iter()
            .enumerate()
        {
            if !self.has_room() {
                break;
            }
            let reply_to = if i == 0 {
                message.reply_to.clone().filter(|id| !id.is_empty())
            } else {
                None
            };
            self.pending.push_back(Piece { text, reply_to });
            queued += 1;
        }
        queued
    }

    /// When the next piece may be sent: `None` when nothing is queued (or the limit is 0).
    pub fn next_send_at(&self, now: Instant) -> Option<Instant> {
        if self.pending.is_empty() {
            return None;
        }
        self.limiter.ready_at(now)
    }

    /// The next piece, if one is queued and the limit allows it now; the send is counted.
    pub fn take_ready(&mut self, now: Instant) -> Option<Piece> {
        if self.pending.is_empty() || self.limiter.try_acquire(now).is_err() {
            return None;
        }
        self.pending.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn long_replies_are_split_and_only_the_first_piece_is_threaded() {
        let mut outbox = Outbox::new(&SendLimit {
            messages: 2,
            per_s: 30.0,
            platform_specific: Default::default(),
        });
        let text = format!("{} {}", "a".repeat(400), "b".repeat(400));
        let queued = outbox.push(&OutboundMessage {
            channel: String::new(),
            text,
            reply_to: Some("m1".into()),
        });
        assert_eq!(queued, 2);
        let t0 = Instant::now();
        let first = outbox.take_ready(t0).unwrap();
        assert_eq!(first.reply_to.as_deref(), Some("m1"));
        assert!(first.text.chars().count() <= MAX_MESSAGE_CHARS);
        let second = outbox.take_ready(t0).unwrap();
        assert_eq!(second.reply_to, None);
        outbox.push(&OutboundMessage {
            channel: String::new(),
            text: "third".into(),
            reply_to: None,
        });
        // Two sends in the window: the third waits for the first to leave it (30 s + 2%).
        assert!(outbox.take_ready(t0).is_none());
        assert_eq!(
            outbox.next_send_at(t0),
            Some(t0 + Duration::from_millis(30_600))
        );
    }
}
