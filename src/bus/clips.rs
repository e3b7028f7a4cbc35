//! Clips in a split run: made where the capture runs (ingest), followed everywhere else.
//!
//! An evaluator's clip request (a `!clip`) travels to ingest as an effect ([`super::effects`],
//! [`ClipRequest`]) under the clip id its cause gives (`store::clips::id_for_cause`). Ingest records
//! it and its clip worker makes the clip as in one process: cut from its replay buffer, published,
//! its notifications sent. Each state change then goes back on the events stream
//! ([`publish_clip_states`]), one message per change on `<prefix>.ev.<shard>.clip`, so the
//! evaluators and the export role, which recorded the same request under the same id when they
//! folded the `!clip`, follow the clip to `published` or `failed`: the export role's `clips.json`
//! shows it with its history. Ingest's place in its clip history is committed after the server's
//! acknowledgement (the store's bus cursors, under [`CLIP_STATES`]), and each change's
//! `Nats-Msg-Id` names the clip, the state and the moment, so nothing is published twice.

use super::Bus;
use super::names::shard_of;
use super::stats::{BusStats, bump};
use crate::event::Platform;
use crate::store::bus_cursors::BusCursor;
use crate::store::{ClipState, ClipStateChange, NewClip, Readers, StoreWriter, WriteOp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The name ingest's place in its clip history is kept under among the store's bus cursors.
pub const CLIP_STATES: &str = "clip states";
/// How often ingest looks for new clip state changes.
const EVERY: Duration = Duration::from_millis(500);
/// The most changes published per look.
const BATCH: usize = 256;

/// A clip request on the wire (an effect's `clip`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClipRequest {
    pub clip_id: String,
    pub creator: String,
    pub platform: Platform,
    pub channel: String,
    pub requested_by: String,
    pub duration_s: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// When it was asked for (Unix ms): the clip's window ends there.
    pub at_ms: i64,
}

impl ClipRequest {
    /// The request of `clip`; `None` for one without an id (only a trigger's request, which has
    /// the id of its cause, travels).
    pub fn of(clip: &NewClip) -> Option<ClipRequest> {
        Some(ClipRequest {
            clip_id: clip.clip_id.clone()?,
            creator: clip.creator.clone(),
            platform: clip.platform,
            channel: clip.channel.clone(),
            requested_by: clip.requested_by.clone(),
            duration_s: clip.duration_s,
            title: clip.title.clone(),
            at_ms: clip.at.timestamp_millis(),
        })
    }

    pub fn into_new_clip(self) -> NewClip {
        NewClip {
            clip_id: Some(self.clip_id),
            creator: self.creator,
            platform: self.platform,
            channel: self.channel,
            requested_by: self.requested_by,
            duration_s: self.duration_s,
            title: self.title,
            at: chrono::DateTime::from_timestamp_millis(self.at_ms).unwrap_or_default(),
        }
    }
}

/// A clip's state change on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClipUpdate {
    pub clip_id: String,
    pub creator: String,
    pub state: String,
    pub at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
}

impl ClipUpdate {
    /// The `Nats-Msg-Id` of this change: one clip reaches one state at one moment once.
    pub fn message_id(&self) -> String {
        format!("clip:{}:{}:{}", self.clip_id, self.state, self.at_ms)
    }

    /// The change to record; an unknown state is an error (a newer ingest's).
    pub fn into_change(self) -> Result<ClipStateChange, String> {
        let state = ClipState::from_name(&self.state)
            .ok_or_else(|| format!("unknown clip state {:?}", self.state))?;
        Ok(ClipStateChange {
            clip_id: self.clip_id,
            state,
            at: chrono::DateTime::from_timestamp_millis(self.at_ms).unwrap_or_default(),
            detail: self.detail,
            url: self.url,
            thumbnail_url: self.thumbnail_url,
            // Its notifications were ingest's to send.
            outbox: Vec::new(),
        })
    }
}

/// Ingest: publishes the clip state changes its store records, until shutdown.
pub async fn publish_clip_states(
    bus: Bus,
    readers: Readers,
    writer: StoreWriter,
    stats: Arc<BusStats>,
    shutdown: CancellationToken,
) {
    let mut after: Option<i64> = None;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
        match publish_new(&bus, &readers, &writer, &stats, &mut after, &shutdown).await {
            Ok(()) => {}
            Err(e) => {
                tracing::debug!(error = %format!("{e:#}"), "Publishing clip state changes failed; retrying.");
            }
        }
    }
}

async fn publish_new(
    bus: &Bus,
    readers: &Readers,
    writer: &StoreWriter,
    stats: &BusStats,
    after: &mut Option<i64>,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let from = match *after {
        Some(id) => id,
        None => {
            let committed = readers.read(|r| r.bus_cursor(CLIP_STATES, 0)).await??;
            i64::try_from(committed).unwrap_or(i64::MAX)
        }
    };
    let changes = readers
        .read(move |r| r.clip_changes_after(from, BATCH))
        .await??;
    let Some(last) = changes.last().map(|c| c.history_id) else {
        *after = Some(from);
        return Ok(());
    };
    for recorded in changes {
        let change = recorded.change;
        let update = ClipUpdate {
            clip_id: change.clip_id,
            creator: recorded.creator,
            state: change.state.as_str().to_owned(),
            at_ms: change.at.timestamp_millis(),
            detail: change.detail,
            url: change.url,
            thumbnail_url: change.thumbnail_url,
        };
        let subject = bus
            .names
            .clip_subject(shard_of(&update.creator, bus.settings.shards));
        let payload = bytes::Bytes::from(serde_json::to_vec(&update)?);
        let acked = bus
            .publish_until_acked(
                &subject,
                &update.message_id(),
                payload,
                &stats.publish_retries,
                || shutdown.is_cancelled(),
            )
            .await;
        if acked.is_none() {
            anyhow::bail!("shutting down with the bus away");
        }
        bump(&stats.clip_states_published);
    }
    writer
        .send(WriteOp::BusCursor(Box::new(BusCursor {
            stream: CLIP_STATES.into(),
            shard: 0,
            seq: u64::try_from(last).unwrap_or_default(),
            at_ms: chrono::Utc::now().timestamp_millis(),
        })))
        .await?;
    *after = Some(last);
    Ok(())
}
