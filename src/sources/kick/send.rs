//! Kick's side of platform commands, over the official Public API (docs.kick.com): `say`
//! and `reply` (`POST /chat`, threaded with `reply_to_message_id`), `delete_message`
//! (`DELETE /chat/{id}`), `timeout` and `ban` (`POST /moderation/bans`, a timeout in whole minutes,
//! 1–10080, rounded up), `unban` (`DELETE /moderation/bans`). Kick has no public announcement call.
//!
//! Delivery goes over HTTP, so it does not depend on the chat connection: it waits only until the
//! channel is known (its broadcaster id, from the creator's block or the one lookup per run). An
//! expired token is refreshed once and the call made again; a refused refresh stops every later
//! call of the run (each would fail the same way). Tokens travel only in headers.

use super::api::{ApiError, BanBody, ChatPost, KickApi, Moderation, UnbanBody};
use super::auth::{KickAuth, RefreshError};
use crate::command::{CommandKind, CommandName, CommandSet, PlatformCommand, TargetUser};
use crate::config::secrets::Secrets;
use crate::sources::runner::serve::{Delivery, DeliveryError, Part};
use crate::sources::{BoxFuture, SourceError};
use tokio::sync::watch;

/// What Kick's Public API lets a bot do.
pub const COMMANDS: CommandSet = CommandSet::of(&[
    CommandName::Say,
    CommandName::Reply,
    CommandName::DeleteMessage,
    CommandName::Timeout,
    CommandName::Ban,
    CommandName::Unban,
]);

/// Kick's limit for one chat message, in characters (Kick's Public API (docs.kick.com), unverified).
pub const MAX_MESSAGE_CHARS: usize = 500;
/// The longest timeout Kick takes, in minutes (7 days).
pub const MAX_TIMEOUT_MINUTES: u32 = 10_080;
/// The longest ban reason Kick takes, in characters.
pub const MAX_REASON_CHARS: usize = 100;

/// A timeout of `seconds` as Kick's whole minutes: rounded up (a timeout is never shorter than
/// asked), at least 1, at most [`MAX_TIMEOUT_MINUTES`].
pub fn timeout_minutes(seconds: u32) -> u32 {
    seconds.div_ceil(60).clamp(1, MAX_TIMEOUT_MINUTES)
}

/// A reason Kick accepts: trimmed, at most [`MAX_REASON_CHARS`] characters, none when blank.
fn reason(reason: Option<&String>) -> Option<String> {
    let reason = reason?.trim();
    (!reason.is_empty()).then(|| reason.chars().take(MAX_REASON_CHARS).collect())
}

/// The channel a delivery posts to and moderates, once known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownChannel {
    /// `None`: post as the token's bot in its own channel; moderation is then impossible.
    pub broadcaster_user_id: Option<u64>,
}

/// What the Kick delivery needs: the API, the tokens, and the channel once the session knows it.
pub struct KickDelivery {
    pub api: KickApi,
    pub auth: KickAuth,
    pub secrets: Secrets,
    pub channel: watch::Receiver<Option<KnownChannel>>,
    /// Kick refused the refresh (why, with the fix): no more calls this run.
    pub refused: Option<String>,
}

/// One call as the Public API takes it.
enum Call<'a> {
    Chat(ChatPost<'a>),
    Moderate(Moderation<'a>),
}

fn failed(error: SourceError) -> DeliveryError {
    DeliveryError::Failed(error)
}

fn user_id(user: &TargetUser) -> Result<u64, DeliveryError> {
    user.id.parse().map_err(|_| {
        failed(SourceError::InvalidSettings(format!(
            "user {:?} has the id {:?}, not a Kick user id",
            user.login, user.id
        )))
    })
}

impl KickDelivery {
    fn call<'a>(&self, part: &'a Part, channel: KnownChannel) -> Result<Call<'a>, DeliveryError> {
        let broadcaster = || {
            channel.broadcaster_user_id.ok_or_else(|| {
                failed(SourceError::InvalidSettings(
                    "moderation needs the channel's broadcaster id: set broadcaster_user_id in the creator's kick block".into(),
                ))
            })
        };
        Ok(match &part.command.kind {
            CommandKind::Say { text } | CommandKind::Reply { text, .. } => Call::Chat(ChatPost {
                broadcaster_user_id: channel.broadcaster_user_id,
                content: text,
                as_bot: channel.broadcaster_user_id.is_none(),
                reply_to: part.reply_to(),
            }),
            CommandKind::DeleteMessage { message_id } => {
                Call::Moderate(Moderation::DeleteMessage(message_id))
            }
            CommandKind::Timeout {
                user,
                seconds,
                reason: why,
            } => Call::Moderate(Moderation::Ban(BanBody {
                broadcaster_user_id: broadcaster()?,
                user_id: user_id(user)?,
                duration: Some(timeout_minutes(*seconds)),
                reason: reason(why.as_ref()),
            })),
            CommandKind::Ban { user, reason: why } => Call::Moderate(Moderation::Ban(BanBody {
                broadcaster_user_id: broadcaster()?,
                user_id: user_id(user)?,
                duration: None,
                reason: reason(why.as_ref()),
            })),
            CommandKind::Unban { user } => Call::Moderate(Moderation::Unban(UnbanBody {
                broadcaster_user_id: broadcaster()?,
                user_id: user_id(user)?,
            })),
            CommandKind::Announce { .. } => {
                return Err(failed(SourceError::InvalidSettings(
                    "Kick's Public API has no announcements".into(),
                )));
            }
        })
    }

    async fn deliver_part(&mut self, part: &Part) -> Result<(), DeliveryError> {
        if let Some(why) = &self.refused {
            return Err(failed(SourceError::LoginFailed(why.clone())));
        }
        let channel = (*self.channel.borrow())
            .ok_or_else(|| DeliveryError::Retry("the channel is not known yet".into()))?;
        let call = self.call(part, channel)?;
        let what = part.command.kind.name();
        let mut refreshed = false;
        loop {
            let Some(token) = self.auth.access().cloned() else {
                return Err(failed(SourceError::MissingCredentials(
                    self.auth.access_env().to_owned(),
                )));
            };
            let result = match &call {
                Call::Chat(post) => self.api.send_chat(&token, post).await.map(|id| {
                    tracing::debug!(platform = "kick", cause = %part.command.cause, message_id = id.as_deref().unwrap_or(""), "Kick took the message.");
                }),
                Call::Moderate(call) => self.api.moderate(&token, call).await,
            };
            match result {
                Ok(()) => return Ok(()),
                Err(ApiError::Unauthorized) if !refreshed => {
                    refreshed = true;
                    if let Err(e) = self.auth.refresh(&self.api, &self.secrets).await {
                        let why = format!("the access token expired and {e}");
                        if matches!(e, RefreshError::Refused { .. } | RefreshError::Missing(_)) {
                            self.refused = Some(why.clone());
                        }
                        return Err(failed(SourceError::LoginFailed(why)));
                    }
                }
                Err(ApiError::Unauthorized) => {
                    let why = format!(
                        "Kick refused the freshly refreshed token (401) for {what}; check the app's scopes (chat:write, moderation:ban, moderation:chat_message:manage)"
                    );
                    self.refused = Some(why.clone());
                    return Err(failed(SourceError::LoginFailed(why)));
                }
                Err(e) => {
                    let passing = match &e {
                        ApiError::Transport(_) => true,
                        ApiError::Status { status, .. } => *status >= 500 || *status == 429,
                        _ => false,
                    };
                    let error = SourceError::Other(format!("kick {what}: {e}"));
                    return Err(if passing {
                        DeliveryError::Transient(error)
                    } else {
                        failed(error)
                    });
                }
            }
        }
    }
}

impl Delivery for KickDelivery {
    fn ready(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self.channel.wait_for(Option::is_some).await;
        })
    }

    fn max_chars(&self, _command: &PlatformCommand) -> usize {
        MAX_MESSAGE_CHARS
    }

    fn deliver<'a>(&'a mut self, part: &'a Part) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(self.deliver_part(part))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_whole_minutes_never_shorter_than_asked_and_within_kicks_range() {
        assert_eq!(timeout_minutes(0), 1);
        assert_eq!(timeout_minutes(1), 1);
        assert_eq!(timeout_minutes(60), 1);
        assert_eq!(timeout_minutes(61), 2);
        assert_eq!(timeout_minutes(600), 10);
        assert_eq!(timeout_minutes(u32::MAX), MAX_TIMEOUT_MINUTES);
    }

    #[test]
    fn reasons_are_trimmed_to_kicks_limit() {
        assert_eq!(reason(Some(&"  ".to_owned())), None);
        assert_eq!(reason(Some(&" spam ".to_owned())).as_deref(), Some("spam"));
        assert_eq!(
            reason(Some(&"é".repeat(150))).map(|r| r.chars().count()),
            Some(MAX_REASON_CHARS)
        );
    }
}
