//! The egress gate: a last word on each outbox row before its sender sends it.
//!
//! In the embedded run there is no gate: every due row is sent. An evaluator of the bus has one
//! (`crate::bus::gate`): a row is sent only while this process holds the lease of the row's
//! creator's shard at the shard's current epoch (a stale owner's rows are refused, counted
//! `fenced`), and only once across every owner the shard ever had (a row another owner already
//! claimed is marked sent without sending, counted `already_sent`).

use crate::store::OutboxRow;
use std::future::Future;
use std::pin::Pin;

/// What the gate says about one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Send it.
    Send,
    /// Never send it: its sender is not the current owner (the reason, for the row's error).
    Fenced(String),
    /// Another owner sent it: record it as delivered without sending.
    AlreadySent,
    /// Cannot tell now (the bus away): leave the row for a later pass.
    Hold,
}

/// A gate asked before each row is sent.
pub trait EgressGate: Send + Sync + 'static {
    fn admit<'a>(
        &'a self,
        row: &'a OutboxRow,
    ) -> Pin<Box<dyn Future<Output = Admission> + Send + 'a>>;
}
