//! system.json `bus`: the NATS JetStream bus that splits `ss run` into roles (ingest, evaluate,
//! export). Absent, `ss run` is the embedded single process.

use serde::{Deserialize, Serialize};

/// The bus settings. Every name on the server derives from `stream_prefix` (see `crate::bus::names`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusSettings {
    /// The only kind: `nats` (JetStream).
    pub kind: BusKind,
    /// Server URLs, comma-separated (`nats://127.0.0.1:4222`); a cluster's nodes all listed.
    pub url: String,
    /// The environment variable holding a bearer token for the server, if it asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_env: Option<String>,
    /// Prefix of every subject, stream and bucket name (default `ss`).
    #[serde(default = "BusSettings::default_prefix")]
    pub stream_prefix: String,
    /// Number of shards creators are spread over (default 8). Changing it reshuffles creators:
    /// drain every shard first.
    #[serde(default = "BusSettings::default_shards")]
    pub shards: u32,
    /// Streams' replicas: 1 on one server, 3 on a three-node cluster (default 1).
    #[serde(default = "BusSettings::default_replicas")]
    pub replicas: usize,
    /// A shard lease not renewed for this long expires and another evaluator may take it
    /// (seconds, default 10).
    #[serde(default = "BusSettings::default_lease_s")]
    pub lease_s: u64,
    /// How long the event stream keeps events (hours, default 168: a new owner folds its shards
    /// from the stream, so keep at least as long as a shard may go without an owner).
    #[serde(default = "BusSettings::default_keep_hours")]
    pub keep_hours: u64,
    /// How often an evaluator writes a snapshot of each shard it holds to the bus (seconds,
    /// default 60; 0: never): a new owner loads the latest and folds only the events after it.
    #[serde(default = "BusSettings::default_snapshot_s")]
    pub snapshot_s: u64,
    /// This root's name among several ingests (each runs its own creators' sources and reads every
    /// effect with a durable consumer of its own, `<prefix>-ingest-<name>`); absent, the one
    /// ingest's consumer `<prefix>-ingest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingest_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusKind {
    Nats,
}

impl BusSettings {
    pub const DEFAULT_PREFIX: &str = "ss";
    fn default_prefix() -> String {
        Self::DEFAULT_PREFIX.into()
    }
    fn default_shards() -> u32 {
        8
    }
    fn default_replicas() -> usize {
        1
    }
    fn default_lease_s() -> u64 {
        10
    }
    fn default_keep_hours() -> u64 {
        168
    }
    fn default_snapshot_s() -> u64 {
        60
    }
}
