//! Twitch's side of platform commands over Helix, with the creator's user token: chat
//! (`say`, `reply`: `POST /chat/messages`), moderation (`delete_message`, `timeout`, `ban`,
//! `unban`: `/moderation/chat` and `/moderation/bans`) and `announce` (`/chat/announcements`).
//!
//! The EventSub transport sends everything here; the IRC transport says and replies on its
//! connection and hands the rest here when the creator has a stored login with the scopes
//! ([`helix_support`]). The sender and moderator id is the token's user; the broadcaster id is the
//! token's user when it owns the channel, else the creator block's `broadcaster_id`, else looked up
//! once (`GET /users?login=`) ([`ChannelIds`]).
//!
//! **A dropped message is a failed send.** Helix answers 200 for a message it then dropped
//! (`is_sent: false` with a `drop_reason`): that is counted as failed, by its code
//! (`runtime_snapshot.json` `commands.failed_by_reason`), never as sent. `msg_ratelimit` and
//! `msg_duplicate` are tried once more after [`DROP_RETRY_PAUSE`]. A 429 waits for Helix's reset and
//! tries again (at most [`TOO_MANY_TRIES`] times). A 403 is a missing scope: the first is reported
//! with the scope's name, later ones are counted without repeating it. A 5xx, no answer or a 429
//! that outlasted its tries is a passing failure: the serving loop tries a moderation command again.

use super::auth::Identity;
use super::helix_api::{HelixApi, HelixError};
use super::scopes;
use crate::command::{CommandKind, CommandName, CommandSet, CommandSupport, PlatformCommand};
use crate::guards::{Guard, Guards};
use crate::sources::runner::serve::{Delivery, DeliveryError, Part};
use crate::sources::{BoxFuture, SourceError};
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Twitch's maximum chat message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 500;
/// The longest timeout Helix takes (14 days), in seconds.
pub const MAX_TIMEOUT_S: u32 = 1_209_600;
/// The longest ban reason Helix takes, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// The pause before a message dropped for `msg_ratelimit` or `msg_duplicate` is tried again.
pub const DROP_RETRY_PAUSE: Duration = Duration::from_secs(2);
/// How many times a call that met a 429 is made in all.
pub const TOO_MANY_TRIES: u32 = 3;

/// Which commands need which scope.
fn scope_of(name: CommandName) -> &'static str {
    match name {
        CommandName::Say | CommandName::Reply => scopes::WRITE_CHAT,
        CommandName::DeleteMessage => scopes::DELETE_MESSAGES,
        CommandName::Timeout | CommandName::Ban | CommandName::Unban => scopes::BANS,
        CommandName::Announce => scopes::ANNOUNCEMENTS,
    }
}

/// What Helix lets a token with `granted` scopes do, of `wanted`, and why not the rest.
/// `creator` names who should log in again to get a missing scope.
pub fn helix_support(
    wanted: CommandSet,
    granted: &BTreeSet<String>,
    creator: &str,
) -> (CommandSet, Vec<String>) {
    let mut allowed = Vec::new();
    let mut missing = Vec::new();
    for name in wanted.names() {
        let scope = scope_of(name);
        if granted.contains(scope) {
            allowed.push(name);
        } else {
            missing.push(format!("{name} needs the scope {scope}"));
        }
    }
    if !missing.is_empty() {
        missing.push(format!(
            "log in with `ss auth twitch --creator {creator}` (it asks for every scope ss uses)"
        ));
    }
    (CommandSet::of(&allowed), missing)
}

/// Support of a source: what it can do, with the reasons for the rest joined.
pub fn support(set: CommandSet, reasons: &[String]) -> CommandSupport {
    CommandSupport::new(set, reasons.join("; "))
}

/// Who is who in the channel: the broadcaster's user id and the token's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    pub broadcaster_id: String,
    pub user: Identity,
}

/// Resolves [`Ids`] for one channel, once, for the session and the delivery.
pub struct ChannelIds {
    api: Arc<HelixApi>,
    /// The channel login.
    channel: String,
    /// The creator block's `broadcaster_id`, when set.
    configured: Option<String>,
    broadcaster: tokio::sync::Mutex<Option<String>>,
}

impl ChannelIds {
    pub fn new(api: Arc<HelixApi>, channel: &str, configured: Option<String>) -> ChannelIds {
        ChannelIds {
            api,
            channel: channel.to_ascii_lowercase(),
            configured,
            broadcaster: tokio::sync::Mutex::new(None),
        }
    }

    pub fn api(&self) -> &Arc<HelixApi> {
        &self.api
    }

    /// The ids, validating the token when it is due (hourly) and looking the channel up once.
    pub async fn resolve(&self) -> Result<Ids, HelixError> {
        let user = self.api.auth().identity().await?;
        let mut broadcaster = self.broadcaster.lock().await;
        if broadcaster.is_none() {
            let id = if user.login == self.channel {
                user.user_id.clone()
            } else if let Some(id) = &self.configured {
                id.clone()
            } else {
                self.api.user_id(&self.channel).await?.ok_or_else(|| {
                    HelixError::Status {
                        status: 404,
                        message: format!(
                            "Twitch has no user {:?}; check `channel` in the creator's twitch block",
                            self.channel
                        ),
                    }
                })?
            };
            *broadcaster = Some(id);
        }
        Ok(Ids {
            broadcaster_id: broadcaster.clone().unwrap_or_default(),
            user,
        })
    }
}

/// Delivers commands over Helix.
pub struct HelixDelivery {
    ids: Arc<ChannelIds>,
    /// The channel login commands must be addressed to (or to no channel).
    channel: String,
    guards: Arc<Guards>,
    /// What this delivery carries.
    carries: CommandSet,
    /// Scopes whose 403 was reported already.
    reported: HashSet<&'static str>,
    drop_pause: Duration,
}

impl HelixDelivery {
    pub fn new(
        ids: Arc<ChannelIds>,
        channel: &str,
        guards: Arc<Guards>,
        carries: CommandSet,
    ) -> HelixDelivery {
        HelixDelivery {
            ids,
            channel: channel.to_ascii_lowercase(),
            guards,
            carries,
            reported: HashSet::new(),
            drop_pause: DROP_RETRY_PAUSE,
        }
    }

    /// Replaces the pause before a dropped message is tried again (tests use a short one).
    pub fn with_drop_pause(mut self, pause: Duration) -> HelixDelivery {
        self.drop_pause = pause;
        self
    }

    /// Whether this delivery carries `name` (the IRC transport keeps chat for itself).
    pub fn carries(&self, name: CommandName) -> bool {
        self.carries.contains(name)
    }

    /// Makes a call again after Helix's reset while it answers 429, at most [`TOO_MANY_TRIES`]
    /// times.
    async fn patiently<T, F, Fut>(&self, mut call: F) -> Result<T, HelixError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, HelixError>>,
    {
        let mut tries = 1;
        loop {
            match call().await {
                Err(HelixError::TooManyRequests { reset_in, .. }) if tries < TOO_MANY_TRIES => {
                    tries += 1;
                    let wait = reset_in
                        .unwrap_or(Duration::from_secs(1))
                        .max(Duration::from_millis(100));
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    fn failure(&mut self, name: CommandName, error: HelixError) -> DeliveryError {
        match error {
            HelixError::MissingScope(message) => {
                let scope = scope_of(name);
                let error = SourceError::InvalidSettings(format!(
                    "Twitch refused {name} (403: {message}); the token needs the scope {scope} (and its user the right to use it): log in again with `ss auth twitch`"
                ));
                if self.reported.insert(scope) {
                    DeliveryError::Failed(error)
                } else {
                    DeliveryError::Repeated(error)
                }
            }
            HelixError::Auth(super::auth::AuthError::Unavailable(why)) => DeliveryError::Retry(why),
            HelixError::Auth(e) => DeliveryError::Failed(SourceError::LoginFailed(e.to_string())),
            // May pass: a moderation command is tried again (`serve`), anything else failed.
            passing @ (HelixError::Status { status: 500.., .. }
            | HelixError::Transport(_)
            | HelixError::TooManyRequests { .. }) => {
                DeliveryError::Transient(SourceError::Other(format!("twitch {name}: {passing}")))
            }
            other => DeliveryError::Failed(SourceError::Other(format!("twitch {name}: {other}"))),
        }
    }

    async fn chat(
        &mut self,
        ids: &Ids,
        text: &str,
        reply_to: Option<&str>,
    ) -> Result<(), DeliveryError> {
        let mut tried_again = false;
        loop {
            let api = self.ids.api().clone();
            let sent = self
                .patiently(|| api.send_chat(&ids.broadcaster_id, &ids.user.user_id, text, reply_to))
                .await
                .map_err(|e| self.failure(CommandName::Say, e))?;
            if sent.is_sent {
                tracing::debug!(platform = "twitch", message_id = %sent.message_id, "Twitch took the message.");
                return Ok(());
            }
            let reason = sent.drop_reason.unwrap_or(super::helix_api::DropReason {
                code: "unknown".into(),
                message: String::new(),
            });
            if !tried_again && matches!(reason.code.as_str(), "msg_ratelimit" | "msg_duplicate") {
                tried_again = true;
                tracing::debug!(platform = "twitch", code = %reason.code, "Twitch dropped the message; trying once more after a pause.");
                tokio::time::sleep(self.drop_pause).await;
                continue;
            }
            return Err(DeliveryError::Dropped {
                error: SourceError::Other(format!(
                    "Twitch dropped the message ({}: {})",
                    reason.code, reason.message
                )),
                code: reason.code,
            });
        }
    }

    async fn deliver_part(&mut self, part: &Part) -> Result<(), DeliveryError> {
        let command = &part.command;
        let name = command.kind.name();
        if !self.carries(name) {
            return Err(DeliveryError::Failed(SourceError::InvalidSettings(
                format!("twitch cannot {name} here"),
            )));
        }
        let addressed = command.channel.trim_start_matches('#');
        if !addressed.is_empty() && !addressed.eq_ignore_ascii_case(&self.channel) {
            // Never act where the creator's config does not say to.
            self.guards.count(Guard::ForeignChannelReply, 1);
            return Err(DeliveryError::Failed(SourceError::InvalidSettings(
                format!(
                    "addressed to channel {addressed:?}, which the creator's twitch block does not name"
                ),
            )));
        }
        let ids = self
            .ids
            .resolve()
            .await
            .map_err(|e| self.failure(name, e))?;
        let api = self.ids.api().clone();
        let (broadcaster, moderator) = (ids.broadcaster_id.as_str(), ids.user.user_id.as_str());
        let result = match &command.kind {
            CommandKind::Say { text } | CommandKind::Reply { text, .. } => {
                let text = super::send::sanitize(text);
                return self.chat(&ids, &text, part.reply_to()).await;
            }
            CommandKind::DeleteMessage { message_id } => {
                self.patiently(|| api.delete_message(broadcaster, moderator, message_id))
                    .await
            }
            CommandKind::Timeout {
                user,
                seconds,
                reason,
            } => {
                let reason = trimmed(reason.as_ref());
                let seconds = (*seconds).clamp(1, MAX_TIMEOUT_S);
                self.patiently(|| {
                    api.ban(
                        broadcaster,
                        moderator,
                        &user.id,
                        Some(seconds),
                        reason.as_deref(),
                    )
                })
                .await
            }
            CommandKind::Ban { user, reason } => {
                let reason = trimmed(reason.as_ref());
                self.patiently(|| {
                    api.ban(broadcaster, moderator, &user.id, None, reason.as_deref())
                })
                .await
            }
            CommandKind::Unban { user } => {
                self.patiently(|| api.unban(broadcaster, moderator, &user.id))
                    .await
            }
            CommandKind::Announce { text } => {
                let text = super::send::sanitize(text);
                self.patiently(|| api.announce(broadcaster, moderator, &text))
                    .await
            }
        };
        result.map_err(|e| self.failure(name, e))
    }
}

/// A reason Helix takes: trimmed, at most [`MAX_REASON_CHARS`] characters, none when blank.
fn trimmed(reason: Option<&String>) -> Option<String> {
    let reason = reason?.trim();
    (!reason.is_empty()).then(|| reason.chars().take(MAX_REASON_CHARS).collect())
}

impl Delivery for HelixDelivery {
    fn max_chars(&self, _command: &PlatformCommand) -> usize {
        MAX_MESSAGE_CHARS
    }

    fn deliver<'a>(&'a mut self, part: &'a Part) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(self.deliver_part(part))
    }
}

/// The IRC transport's delivery with Helix beside it: chat on the IRC connection, the kinds the
/// stored login allows (moderation, announcements) over Helix.
pub struct ChatAndHelix {
    pub chat: Box<dyn Delivery>,
    pub helix: HelixDelivery,
}

impl Delivery for ChatAndHelix {
    fn ready(&mut self) -> BoxFuture<'_, ()> {
        // The serving loop asks before the part at the front of the queue, whatever its kind:
        // waiting for the chat connection keeps the order of commands.
        self.chat.ready()
    }

    fn max_chars(&self, command: &PlatformCommand) -> usize {
        if self.helix.carries(command.kind.name()) {
            self.helix.max_chars(command)
        } else {
            self.chat.max_chars(command)
        }
    }

    fn deliver<'a>(&'a mut self, part: &'a Part) -> BoxFuture<'a, Result<(), DeliveryError>> {
        if self.helix.carries(part.command.kind.name()) {
            self.helix.deliver(part)
        } else {
            self.chat.deliver(part)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_follow_the_scopes_and_say_which_is_missing() {
        let granted: BTreeSet<String> = [scopes::WRITE_CHAT, scopes::BANS]
            .into_iter()
            .map(String::from)
            .collect();
        let (set, missing) = helix_support(CommandSet::ALL, &granted, "demo");
        assert_eq!(
            set.names().collect::<Vec<_>>(),
            [
                CommandName::Say,
                CommandName::Reply,
                CommandName::Timeout,
                CommandName::Ban,
                CommandName::Unban
            ]
        );
        assert_eq!(
            missing,
            [
                "delete_message needs the scope moderator:manage:chat_messages",
                "announce needs the scope moderator:manage:announcements",
                "log in with `ss auth twitch --creator demo` (it asks for every scope ss uses)"
            ]
        );
        let (_, none_missing) = helix_support(CommandSet::of(&[CommandName::Ban]), &granted, "d");
        assert!(none_missing.is_empty());
    }

    #[test]
    fn reasons_are_trimmed_to_helix_limit() {
        assert_eq!(trimmed(Some(&"  ".to_owned())), None);
        assert_eq!(trimmed(Some(&" spam ".to_owned())).as_deref(), Some("spam"));
        assert_eq!(
            trimmed(Some(&"é".repeat(600))).map(|r| r.chars().count()),
            Some(MAX_REASON_CHARS)
        );
    }
}
