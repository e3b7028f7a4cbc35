//! Outbound chat: replies become rate-limited `PRIVMSG` lines of at most 500 characters.
//!
//! [`Outbox`] holds the lines waiting to be sent and the sliding-window limiter. It belongs to the
//! source, not to a connection, so neither queued lines nor the record of recent sends is lost when
//! the connection drops: a reconnect can never be used to send faster than the limit. The limit is
//! the normal one (20 / 30 s) until the server says the bot moderates or owns the channel, then the
//! privileged one (100 / 30 s).
//!
//! Text is cleaned before it is framed: CR, LF and NUL would end or corrupt the IRC line (and let
//! chat text inject commands), so they become spaces. Long text is split at word boundaries; a word
//! longer than a whole message is cut at a character boundary.

use super::irc::escape_tag_value;
use crate::config::model::SendLimit;
use crate::sources::OutboundMessage;
use crate::sources::ratelimit::SlidingWindow;
use std::collections::VecDeque;
use std::time::Instant;

/// Twitch's maximum message length, in characters (Unicode code points).
pub const MAX_MESSAGE_CHARS: usize = 500;

/// Lines waiting to be sent. When full, the source stops taking replies from its outbound queue,
/// so that bounded queue fills and the executor drops (and counts) new replies.
pub const OUTBOX_CAPACITY: usize = 64;

/// Splits `text` into chunks of at most `max_chars` characters, at spaces where possible.
pub fn split_message(text: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(1);
    let mut chunks = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let cut = match rest.char_indices().nth(max_chars) {
            None => rest.len(),
            Some((limit, ' ')) => limit,
            Some((limit, _)) => match rest[..limit].rfind(' ') {
                Some(space) if space > 0 => space,
                _ => limit,
            },
        };
        let (chunk, tail) = rest.split_at(cut);
        chunks.push(chunk.trim_end().to_owned());
        rest = tail.trim_start();
    }
    chunks
}

/// Replaces the characters that would break IRC framing with spaces.
pub fn sanitize(text: &str) -> String {
    text.replace(['\r', '\n', '\0'], " ")
}

/// The channel as IRC wants it: `#` plus the lowercase login.
pub fn irc_channel(channel: &str) -> String {
    format!("#{}", channel.trim_start_matches('#').to_ascii_lowercase())
}

/// One `PRIVMSG` line (without CRLF), tagged as a reply when `reply_to` is set.
pub fn privmsg_line(channel: &str, text: &str, reply_to: Option<&str>) -> String {
    let channel = irc_channel(channel);
    match reply_to.filter(|id| !id.is_empty()) {
        Some(id) => format!(
            "@reply-parent-msg-id={} PRIVMSG {channel} :{text}",
            escape_tag_value(&sanitize(id))
        ),
        None => format!("PRIVMSG {channel} :{text}"),
    }
}

/// Queued outbound lines plus the limiter that paces them.
#[derive(Debug)]
pub struct Outbox {
    pending: VecDeque<String>,
    limiter: SlidingWindow,
    normal_limit: u32,
    privileged_limit: u32,
}

impl Outbox {
    pub fn new(limit: &SendLimit) -> Outbox {
        Outbox {
            pending: VecDeque::with_capacity(OUTBOX_CAPACITY),
            limiter: SlidingWindow::for_send_limit(limit),
            normal_limit: limit.messages,
            privileged_limit: limit
                .platform_specific
                .get("privileged_messages")
                .and_then(serde_json::Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(limit.messages),
        }
    }

    /// Whether another reply can be queued.
    pub fn has_room(&self) -> bool {
        self.pending.len() < OUTBOX_CAPACITY
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Queues a reply as one or more lines; `default_channel` when the reply names none. Returns
    /// how many lines were queued (0 for empty text, or for chunks beyond the capacity).
    pub fn push(&mut self, message: &OutboundMessage, default_channel: &str) -> usize {
        let channel = match message.channel.trim_start_matches('#') {
            "" => default_channel,
            named => named,
        };
        let mut queued = 0;
        let text = sanitize(&message.text);
        for (i, chunk) in split_message(&text, MAX_MESSAGE_CHARS)
            .into_iter()
            .enumerate()
        {
            if !self.has_room() {
                break;
            }
            // Only the first chunk is threaded as a reply; the rest follow it.
            let reply_to = if i == 0 {
                message.reply_to.as_deref()
            } else {
                None
            };
            self.pending
                .push_back(privmsg_line(channel, &chunk, reply_to));
            queued += 1;
        }
        queued
    }

    /// Uses the privileged limit while the bot moderates or owns the channel.
    pub fn set_privileged(&mut self, privileged: bool) {
        self.limiter.set_limit(if privileged {
            self.privileged_limit
        } else {
            self.normal_limit
        });
    }

    pub fn limit(&self) -> u32 {
        self.limiter.limit()
    }

    /// When the next queued line may be sent: `None` when nothing is queued (or the limit is 0).
    pub fn next_send_at(&self, now: Instant) -> Option<Instant> {
        if self.pending.is_empty() {
            return None;
        }
        self.limiter.ready_at(now)
    }

    /// The next line, if one is queued and the limit allows it now; the send is counted.
    pub fn take_ready(&mut self, now: Instant) -> Option<String> {
        if self.pending.is_empty() || self.limiter.try_acquire(now).is_err() {
            return None;
        }
        self.pending.pop_front()
    }

    /// Puts back a line that could not be written (the connection dropped); it goes first next time.
    pub fn requeue_front(&mut self, line: String) {
        self.pending.push_front(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    fn reply(text: &str, reply_to: Option<&str>) -> OutboundMessage {
        OutboundMessage {
            channel: "#SomeChannel".into(),
            text: text.into(),
            reply_to: reply_to.map(str::to_string),
        }
    }

    #[test]
    fn lines_are_framed_tagged_and_sanitized() {
        assert_eq!(
            privmsg_line("SomeChannel", "pong", Some("3b8c6f3a-1d2e")),
            "@reply-parent-msg-id=3b8c6f3a-1d2e PRIVMSG #somechannel :pong"
        );
        assert_eq!(privmsg_line("#c", "hi", None), "PRIVMSG #c :hi");
        let mut outbox = Outbox::new(&SendLimit::default_for(crate::sources::twitch::TWITCH));
        outbox.push(&reply("a\r\nQUIT :bye", None), "fallback");
        let now = Instant::now();
        assert_eq!(
            outbox.take_ready(now).as_deref(),
            Some("PRIVMSG #somechannel :a  QUIT :bye")
        );
        outbox.push(
            &OutboundMessage {
                channel: String::new(),
                text: "   ".into(),
                reply_to: None,
            },
            "fallback",
        );
        assert_eq!(outbox.pending(), 0, "blank text sends nothing");
    }

    #[test]
    fn long_replies_split_at_words_and_only_the_first_is_threaded() {
        let words: Vec<String> = (0..300).map(|i| format!("w{i}")).collect();
        let text = words.join(" ");
        let mut outbox = Outbox::new(&SendLimit::default_for(crate::sources::twitch::TWITCH));
        assert_eq!(outbox.push(&reply(&text, Some("parent")), "c"), 3);
        let now = Instant::now();
        let lines: Vec<String> = std::iter::from_fn(|| outbox.take_ready(now)).collect();
        assert!(lines[0].starts_with("@reply-parent-msg-id=parent PRIVMSG #somechannel :w0 w1"));
        assert!(lines[1].starts_with("PRIVMSG #somechannel :w"));
        let rejoined: Vec<&str> = lines
            .iter()
            .map(|l| l.split_once(" :").unwrap().1)
            .collect();
        assert_eq!(rejoined.join(" "), text);
    }

    #[test]
    fn sends_follow_the_limit_and_privilege() {
        let limit = SendLimit {
            messages: 2,
            per_s: 10.0,
            platform_specific: serde_json::json!({"privileged_messages": 4})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
        let mut outbox = Outbox::new(&limit);
        for i in 0..6 {
            outbox.push(&reply(&format!("m{i}"), None), "c");
        }
        let t0 = Instant::now();
        assert!(outbox.take_ready(t0).is_some());
        assert!(outbox.take_ready(t0).is_some());
        assert_eq!(outbox.take_ready(t0), None);
        // The window is 10 s plus the 2% margin.
        assert_eq!(
            outbox.next_send_at(t0),
            Some(t0 + Duration::from_millis(10_200))
        );
        outbox.set_privileged(true);
        assert_eq!(outbox.limit(), 4);
        assert!(outbox.take_ready(t0).is_some());
        assert!(outbox.take_ready(t0).is_some());
        assert_eq!(outbox.take_ready(t0), None);
        assert_eq!(outbox.pending(), 2);
    }

    #[test]
    fn outbox_is_bounded() {
        let mut outbox = Outbox::new(&SendLimit::default_for(crate::sources::twitch::TWITCH));
        for _ in 0..OUTBOX_CAPACITY {
            assert_eq!(outbox.push(&reply("x", None), "c"), 1);
        }
        assert!(!outbox.has_room());
        assert_eq!(outbox.push(&reply("y", None), "c"), 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn chunks_fit_and_keep_every_word(text in "[a-zé👉 ]{0,1200}", max in 1usize..40) {
            let chunks = split_message(&text, max);
            for chunk in &chunks {
                prop_assert!(chunk.chars().count() <= max, "{chunk:?} over {max}");
                prop_assert!(!chunk.is_empty());
            }
            let original: String = text.split_whitespace().collect();
            let kept: String = chunks.iter().flat_map(|c| c.split_whitespace()).collect();
            prop_assert_eq!(kept, original);
        }
    }
}
