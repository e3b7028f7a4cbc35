//! The evaluator's egress gate for notifications (Discord, X, webhooks): the fence on the
//! outbox senders, and sending once across owners.
//!
//! Before a row is sent: this process must hold the lease of the row's creator's shard, and the
//! lease bucket must still name that lease's epoch (a process paused past its lease learns here,
//! before it sends, that another owner took over). Then the row is claimed in the `sent` bucket
//! under a key made of what identifies the notification across owners (destination, target, kind,
//! cause): the first owner to claim it sends it; an owner that finds another's claim marks its row
//! sent without sending. A claim is taken before sending, so a crash between claim and send loses
//! that one notification rather than sending it twice.

use super::Bus;
use super::lease::{Held, LeaseValue};
use super::names::{lease_key, shard_of};
use crate::notify::gate::{Admission, EgressGate};
use crate::store::OutboxRow;
use async_nats::jetstream::kv;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::pin::Pin;
use tokio::sync::OnceCell;

pub struct BusGate {
    bus: Bus,
    held: Held,
    owner: String,
    leases: OnceCell<kv::Store>,
    sent: OnceCell<kv::Store>,
}

impl BusGate {
    pub fn new(bus: Bus, held: Held, owner: String) -> BusGate {
        BusGate {
            bus,
            held,
            owner,
            leases: OnceCell::new(),
            sent: OnceCell::new(),
        }
    }

    async fn bucket<'a>(
        &self,
        cell: &'a OnceCell<kv::Store>,
        name: String,
    ) -> Option<&'a kv::Store> {
        cell.get_or_try_init(|| async { self.bus.js.get_key_value(name).await })
            .await
            .ok()
    }

    async fn decide(&self, row: &OutboxRow) -> Admission {
        let shard = shard_of(&row.creator, self.bus.settings.shards);
        let Some(epoch) = self.held.epoch(shard) else {
            return Admission::Fenced(format!(
                "this evaluator no longer holds shard {shard} of creator {}; its new owner sends it",
                row.creator
            ));
        };
        let Some(leases) = self
            .bucket(&self.leases, self.bus.names.leases_bucket())
            .await
        else {
            return Admission::Hold;
        };
        match leases.entry(lease_key(shard)).await {
            Ok(entry) => {
                let current = entry
                    .as_ref()
                    .and_then(LeaseValue::epoch_of)
                    .map(|(_, e)| e);
                if current != Some(epoch) {
                    return Admission::Fenced(format!(
                        "shard {shard} is at epoch {} now, this evaluator's lease was epoch {epoch}",
                        current.map_or("none".to_string(), |e| e.to_string())
                    ));
                }
            }
            Err(_) => return Admission::Hold,
        }
        let Some(sent) = self.bucket(&self.sent, self.bus.names.sent_bucket()).await else {
            return Admission::Hold;
        };
        let key = claim_key(row);
        match sent.create(&key, Bytes::from(self.owner.clone())).await {
            Ok(_) => Admission::Send,
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                match sent.get(&key).await {
                    // This owner's own claim: a retry of a row it has not sent yet.
                    Ok(Some(owner)) if owner.as_ref() == self.owner.as_bytes() => Admission::Send,
                    Ok(_) => Admission::AlreadySent,
                    Err(_) => Admission::Hold,
                }
            }
            Err(_) => Admission::Hold,
        }
    }
}

impl EgressGate for BusGate {
    fn admit<'a>(
        &'a self,
        row: &'a OutboxRow,
    ) -> Pin<Box<dyn Future<Output = Admission> + Send + 'a>> {
        Box::pin(self.decide(row))
    }
}

/// What identifies a notification across owners of its shard.
fn claim_key(row: &OutboxRow) -> String {
    let identity = format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}",
        row.destination,
        row.target,
        row.kind,
        row.cause.as_deref().unwrap_or_default()
    );
    let digest = Sha256::digest(identity.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}
