//! Twitch's side of platform commands over IRC: `say` and `reply` become `PRIVMSG` lines of at
//! most 500 characters written on the live connection. Moderation (delete, timeout, ban, unban,
//! announce) needs Helix and stays unsupported over IRC ([`COMMANDS`]).
//!
//! The shared serving loop paces and splits; this module frames and writes. The connection is a
//! [`LinkSlot`] the session fills once the channel is joined and empties when it ends, so the
//! delivery ([`TwitchDelivery`]) waits for a live connection and a line that could not be written
//! goes first on the next one. The send limit is the normal one (20 / 30 s) until the server says
//! the bot moderates or owns the channel, then the privileged one (100 / 30 s): the session switches
//! the run's pacing ([`SendLimits`]).
//!
//! Text is cleaned before it is framed: CR, LF and NUL would end or corrupt the IRC line (and let
//! chat text inject commands), so they become spaces.

use super::irc::escape_tag_value;
use super::transport::Transport;
use crate::command::{CommandKind, CommandName, CommandSet, PlatformCommand};
use crate::config::model::SendLimit;
use crate::guards::{Guard, Guards};
use crate::sources::runner::serve::{Delivery, DeliveryError, Part};
use crate::sources::{BoxFuture, SourceError};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWriteExt, WriteHalf};
use tokio::sync::{Mutex, watch};

/// What Twitch chat over IRC can do: post and reply. Moderation waits for Helix.
pub const COMMANDS: CommandSet = CommandSet::of(&[CommandName::Say, CommandName::Reply]);

/// Twitch's maximum message length, in characters (Unicode code points).
pub const MAX_MESSAGE_CHARS: usize = 500;

/// How long a write may take before the connection counts as dead.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

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

/// The two send limits of a Twitch bot: as a viewer, and while it moderates or owns the channel
/// (`privileged_messages` in ratelimits.json, else the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendLimits {
    pub normal: u32,
    pub privileged: u32,
}

impl SendLimits {
    pub fn from_send_limit(limit: &SendLimit) -> SendLimits {
        SendLimits {
            normal: limit.messages,
            privileged: limit
                .platform_specific
                .get("privileged_messages")
                .and_then(serde_json::Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(limit.messages),
        }
    }

    pub fn for_privilege(self, privileged: bool) -> u32 {
        if privileged {
            self.privileged
        } else {
            self.normal
        }
    }
}

/// The writing half of a connection, shared by the session (PONG, JOIN, PING) and the delivery.
pub type SharedWriter = Arc<Mutex<WriteHalf<Box<dyn Transport>>>>;

/// Writes one line plus CRLF, with a timeout so a stalled server cannot hang the caller.
pub async fn write_line(writer: &SharedWriter, line: &str) -> std::io::Result<()> {
    let mut framed = String::with_capacity(line.len() + 2);
    framed.push_str(line);
    framed.push_str("\r\n");
    let mut writer = writer.lock().await;
    match tokio::time::timeout(WRITE_TIMEOUT, writer.write_all(framed.as_bytes())).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("writing to the server took longer than {WRITE_TIMEOUT:?}"),
        )),
    }
}

/// A joined connection, as the delivery may use it.
#[derive(Clone)]
pub struct Link {
    pub writer: SharedWriter,
    /// Whether the server took the Twitch capabilities (and so accepts tagged lines).
    pub tags_enabled: bool,
}

/// Where the session puts its joined connection for the delivery, and takes it back.
#[derive(Clone)]
pub struct LinkSlot(Arc<watch::Sender<Option<Link>>>);

impl Default for LinkSlot {
    fn default() -> LinkSlot {
        LinkSlot(Arc::new(watch::Sender::new(None)))
    }
}

impl LinkSlot {
    /// The session joined: commands may be written on `link`.
    pub fn install(&self, link: Link) {
        self.0.send_replace(Some(link));
    }

    /// The connection ended (or failed under a write): commands wait for the next one.
    pub fn clear(&self) {
        self.0.send_replace(None);
    }

    /// Empties the slot only if it still holds `writer`'s connection.
    fn clear_if(&self, writer: &SharedWriter) {
        self.0.send_if_modified(|link| {
            let same = link
                .as_ref()
                .is_some_and(|l| Arc::ptr_eq(&l.writer, writer));
            if same {
                *link = None;
            }
            same
        });
    }

    fn current(&self) -> Option<Link> {
        self.0.borrow().clone()
    }
}

/// Empties the slot when the session ends, however it ends.
pub struct LinkGuard(pub LinkSlot);

impl Drop for LinkGuard {
    fn drop(&mut self) {
        self.0.clear();
    }
}

/// Delivers `say` and `reply` as `PRIVMSG` lines on the session's live connection.
pub struct TwitchDelivery {
    slot: LinkSlot,
    link: watch::Receiver<Option<Link>>,
    /// The joined channel's login; commands for any other channel are refused.
    channel: String,
    guards: Arc<Guards>,
    /// Logged in anonymously: nothing can be sent (the command sink refuses before queueing; this
    /// keeps a command that got here anyway off the wire).
    anonymous: bool,
}

/// Why an anonymous Twitch source refuses every command.
pub const ANONYMOUS: &str =
    "logged in anonymously (read-only): set token_env and nick in the creator's twitch block";

impl TwitchDelivery {
    pub fn new(slot: LinkSlot, channel: &str, guards: Arc<Guards>, anonymous: bool) -> Self {
        TwitchDelivery {
            link: slot.0.subscribe(),
            slot,
            channel: channel.to_owned(),
            guards,
            anonymous,
        }
    }

    /// The line for one part: tagged as a reply when the server takes tags.
    fn line(&self, part: &Part, link: &Link) -> Result<String, DeliveryError> {
        let command = &part.command;
        if self.anonymous {
            return Err(DeliveryError::Failed(SourceError::InvalidSettings(
                ANONYMOUS.into(),
            )));
        }
        let addressed = command.channel.trim_start_matches('#');
        if !addressed.is_empty() && !addressed.eq_ignore_ascii_case(&self.channel) {
            // Never send where the creator's config does not say to.
            self.guards.count(Guard::ForeignChannelReply, 1);
            return Err(DeliveryError::Failed(SourceError::InvalidSettings(
                format!(
                    "addressed to channel {addressed:?}, which the creator's twitch block does not name"
                ),
            )));
        }
        match &command.kind {
            CommandKind::Say { text } | CommandKind::Reply { text, .. } => {
                let reply_to = part.reply_to().filter(|_| link.tags_enabled);
                Ok(privmsg_line(&self.channel, &sanitize(text), reply_to))
            }
            other => Err(DeliveryError::Failed(SourceError::InvalidSettings(
                format!("twitch chat over IRC cannot {}", other.name()),
            ))),
        }
    }
}

impl Delivery for TwitchDelivery {
    fn ready(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // The sender lives in the slot this delivery also holds, so this ends only with a link.
            let _ = self.link.wait_for(Option::is_some).await;
        })
    }

    fn max_chars(&self, _command: &PlatformCommand) -> usize {
        MAX_MESSAGE_CHARS
    }

    fn deliver<'a>(&'a mut self, part: &'a Part) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async move {
            let Some(link) = self.slot.current() else {
                return Err(DeliveryError::Retry("not connected".into()));
            };
            let line = self.line(part, &link)?;
            tracing::debug!(platform = "twitch", cause = %part.command.cause, line, "Sending a line.");
            match write_line(&link.writer, &line).await {
                Ok(()) => Ok(()),
                Err(e) => {
                    // The connection is gone; the session will see it too. The line goes first on
                    // the next one.
                    self.slot.clear_if(&link.writer);
                    Err(DeliveryError::Retry(format!("the write failed: {e}")))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_framed_tagged_and_sanitized() {
        assert_eq!(
            privmsg_line("SomeChannel", "pong", Some("3b8c6f3a-1d2e")),
            "@reply-parent-msg-id=3b8c6f3a-1d2e PRIVMSG #somechannel :pong"
        );
        assert_eq!(privmsg_line("#c", "hi", None), "PRIVMSG #c :hi");
        assert_eq!(
            privmsg_line("c", &sanitize("a\r\nQUIT :bye"), None),
            "PRIVMSG #c :a  QUIT :bye"
        );
    }

    #[test]
    fn the_privileged_limit_comes_from_ratelimits_json() {
        let limit = SendLimit {
            messages: 20,
            per_s: 30.0,
            platform_specific: serde_json::json!({"privileged_messages": 100})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
        let limits = SendLimits::from_send_limit(&limit);
        assert_eq!(
            (limits.for_privilege(false), limits.for_privilege(true)),
            (20, 100)
        );
        let plain =
            SendLimits::from_send_limit(&SendLimit::default_for(crate::sources::twitch::TWITCH));
        assert_eq!(plain.privileged, plain.normal);
    }
}
