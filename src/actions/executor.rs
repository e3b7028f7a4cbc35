//! The executor: turns action descriptors into effects.
//!
//! Replies go to the source's rate-limited outbound queue (never waiting: a full queue drops the
//! reply and counts it, because a reply minutes late is worse than none); clip requests become queued
//! clip jobs; votes, tallies and scores go to the store through the single writer; notifications are
//! recorded for the Discord sender; `validation_passed` marks the platform's chat as seen. Every
//! executed action is also recorded in the store's `actions` table.

use super::{Action, ActionKind};
use crate::event::Platform;
use crate::sources::OutboundMessage;
use crate::store::StoreError;
use crate::store::writer::{StoreWriter, WriteOp};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, mpsc};

/// Shared map of `creator/platform` → when its chat last passed the validation trigger.
pub type Validated = Arc<Mutex<BTreeMap<String, DateTime<Utc>>>>;

/// What became of one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Executed {
    Done,
    /// A reply that could not be queued: its source is not running or its queue is full.
    ReplyDropped,
}

pub struct Executor {
    writer: StoreWriter,
    outbound: HashMap<(String, Platform), mpsc::Sender<OutboundMessage>>,
    validated: Validated,
    /// Woken when something important changed (a clip was queued): the exporter writes at once.
    export_now: Arc<Notify>,
    clip_seq: AtomicU64,
}

impl Executor {
    pub fn new(
        writer: StoreWriter,
        outbound: HashMap<(String, Platform), mpsc::Sender<OutboundMessage>>,
        validated: Validated,
        export_now: Arc<Notify>,
    ) -> Executor {
        Executor {
            writer,
            outbound,
            validated,
            export_now,
            clip_seq: AtomicU64::new(0),
        }
    }

    /// Executes one action. Errors only when the store writer has stopped.
    pub async fn execute(&self, action: Action) -> Result<Executed, StoreError> {
        let payload_json = serde_json::to_string(&action.kind).unwrap_or_default();
        self.writer
            .send(WriteOp::Action {
                creator: action.creator.clone(),
                platform: action.platform,
                trigger_id: action.trigger_id.clone(),
                action_type: action.kind.type_name().to_string(),
                payload_json,
                at: action.at,
                message_id: Some(action.message_id.clone()),
            })
            .await?;
        let Action {
            creator,
            platform,
            message_id,
            at,
            kind,
            ..
        } = action;
        match kind {
            ActionKind::Reply { channel, text } => {
                let message = OutboundMessage {
                    channel,
                    text,
                    reply_to: Some(message_id),
                };
                let sent = self
                    .outbound
                    .get(&(creator, platform))
                    .is_some_and(|tx| tx.try_send(message).is_ok());
                if !sent {
                    return Ok(Executed::ReplyDropped);
                }
            }
            ActionKind::Clip {
                channel,
                requested_by,
                duration_s,
                title,
            } => {
                let seq = self.clip_seq.fetch_add(1, Ordering::Relaxed);
                let clip_id = format!("clip-{}-{platform}-{seq}", at.timestamp_millis());
                self.writer
                    .send(WriteOp::ClipJob {
                        clip_id,
                        creator,
                        platform,
                        channel,
                        requested_by,
                        duration_s,
                        title,
                        at,
                    })
                    .await?;
                self.export_now.notify_one();
            }
            ActionKind::Tally {
                tally,
                amount,
                user_id,
            } => {
                self.writer
                    .send(WriteOp::TallyIncrement {
                        creator,
                        tally,
                        amount,
                        platform,
                        user_id,
                        at,
                    })
                    .await?;
            }
            ActionKind::PollVote {
                poll,
                option,
                user_id,
            } => {
                if !option.is_empty() {
                    self.writer
                        .send(WriteOp::PollVote {
                            creator,
                            poll,
                            option,
                            platform,
                            user_id,
                            at,
                        })
                        .await?;
                }
            }
            ActionKind::Score {
                board,
                points,
                user_id,
                user_name,
            } => {
                self.writer
                    .send(WriteOp::ScoreEvent {
                        creator,
                        board,
                        platform,
                        user_id,
                        user_name,
                        points,
                        at,
                    })
                    .await?;
            }
            ActionKind::Notify { channel, text } => {
                self.writer
                    .send(WriteOp::Notify {
                        creator,
                        channel,
                        text,
                        at,
                    })
                    .await?;
            }
            ActionKind::ValidationPassed => {
                self.validated
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(format!("{creator}/{platform}"), at);
            }
        }
        Ok(Executed::Done)
    }
}
