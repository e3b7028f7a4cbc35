//! `ss bus`: the NATS JetStream bus of a split run (system.json `bus`).
//!
//! `ss bus init` creates the streams, the effects consumer and the lease bucket, or checks them,
//! and verifies the server kept what it was given (it refuses a server that silently dropped a
//! setting). `ss bus status` shows each shard's owner, lease epoch, last event folded, what the
//! stream still holds for it, and how long ago its owner renewed (or wrote) its lease; then each
//! ingest's effects consumer, with the effects it has not read yet.

use super::{Format, Outcome};
use crate::bus::Bus;
use crate::bus::lease::LeaseValue;
use crate::bus::names::lease_key;
use crate::config::Config;
use crate::config::secrets::Secrets;
use anyhow::Context;
use futures_util::TryStreamExt;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    ss bus init                 create or check the streams and buckets of system.json's bus\n  \
    ss bus status               each shard's owner, epoch, last event folded and lag; each ingest's effects\n  \
    ss bus status --format json the same for scripts\n\n\
    The bus is configured in runtime/config/system.json:\n  \
    \"bus\": {\"kind\": \"nats\", \"url\": \"nats://127.0.0.1:4222\", \"shards\": 8}\n\
    then run `ss run --role ingest`, one or more `ss run --role evaluate` and `ss run --role export`,\n\
    each in its own runtime root. Several ingests, each with its own creators, need \"ingest_name\".")]
pub struct Args {
    #[command(subcommand)]
    pub command: BusCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum BusCommand {
    /// Create or check the streams, the effects consumer and the lease bucket; refuse a server that did not keep them.
    Init {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show each shard's owner, lease epoch, last event folded, pending events and lease age; exit 1 when a shard has no owner.
    Status {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

pub fn run(root: &Path, args: Args) -> anyhow::Result<Outcome> {
    let config = Config::load(root)?;
    let Some(settings) = config.system.bus.clone() else {
        return Err(super::UsageError(
            "runtime/config/system.json has no \"bus\"; add {\"kind\": \"nats\", \"url\": \"nats://127.0.0.1:4222\"} under \"bus\" first".into(),
        )
        .into());
    };
    let secrets = Secrets::load(root);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let bus = Bus::connect(&settings, &secrets).await?;
        match args.command {
            BusCommand::Init { format } => init(&bus, format).await,
            BusCommand::Status { format } => status(&bus, format).await,
        }
    })
}

async fn init(bus: &Bus, format: Format) -> anyhow::Result<Outcome> {
    let prepared = crate::bus::init::prepare(bus, true).await?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&prepared)?)?,
        Format::Text => {
            writeln!(out, "bus {}: ready", bus.shown_url())?;
            for p in &prepared {
                writeln!(out, "  {} {} {}: {}", p.kind, p.name, p.outcome, p.detail)?;
            }
        }
    }
    Ok(Outcome::Success)
}

/// One shard as `ss bus status` shows it.
#[derive(Debug, Serialize)]
struct ShardRow {
    shard: u32,
    owner: Option<String>,
    epoch: Option<u64>,
    applied_seq: Option<u64>,
    pending: Option<u64>,
    lease_age_s: Option<f64>,
    /// The stream sequence of the shard's latest snapshot, and its age (none written yet: null).
    snapshot_seq: Option<u64>,
    snapshot_age_s: Option<f64>,
}

/// One ingest's effects consumer as `ss bus status` shows it.
#[derive(Debug, Serialize)]
struct IngestRow {
    consumer: String,
    /// Effects published that it has not read yet, and read but not yet acknowledged.
    pending: u64,
    unacknowledged: usize,
    /// Whether a running ingest is asking for effects now.
    reading: bool,
}

#[derive(Debug, Serialize)]
struct StatusReport {
    url: String,
    /// Chat and stream events in the stream, and the rounds of clock ticks beside them (one
    /// message per shard and second).
    events: u64,
    tick_rounds: u64,
    /// State changes of the clips ingest made, beside them.
    clip_updates: u64,
    last_seq: u64,
    shards: Vec<ShardRow>,
    ingests: Vec<IngestRow>,
}

async fn status(bus: &Bus, format: Format) -> anyhow::Result<Outcome> {
    let mut stream = bus
        .js
        .get_stream(bus.names.events_stream())
        .await
        .context("opening the events stream (run `ss bus init` first)")?;
    let state = stream.info().await?.state.clone();
    let mut counted = [0u64; 2];
    for (filter, count) in [bus.names.ticks_filter(), bus.names.clips_filter()]
        .into_iter()
        .zip(&mut counted)
    {
        let mut per_subject = stream.info_with_subjects(filter).await?;
        while let Some((_, n)) = per_subject.try_next().await? {
            *count += n as u64;
        }
    }
    let [ticks, clip_updates] = counted;
    let kv = bus
        .js
        .get_key_value(bus.names.leases_bucket())
        .await
        .context("opening the lease bucket (run `ss bus init` first)")?;
    let snapshots = crate::bus::snapshots::bucket(bus).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let mut shards = Vec::new();
    for shard in 0..bus.settings.shards {
        let entry = kv.entry(lease_key(shard)).await?;
        let lease = entry.as_ref().and_then(LeaseValue::epoch_of);
        let snapshot = crate::bus::snapshots::latest(&snapshots, shard).await?;
        let mut row = match lease {
            Some((value, epoch)) => ShardRow {
                shard,
                owner: Some(value.owner),
                epoch: Some(epoch),
                applied_seq: Some(value.applied),
                pending: Some(value.pending),
                lease_age_s: Some((now - value.at_ms).max(0) as f64 / 1000.0),
                snapshot_seq: None,
                snapshot_age_s: None,
            },
            None => ShardRow {
                shard,
                owner: None,
                epoch: None,
                applied_seq: None,
                pending: None,
                lease_age_s: None,
                snapshot_seq: None,
                snapshot_age_s: None,
            },
        };
        if let Some(meta) = snapshot {
            row.snapshot_seq = Some(meta.seq);
            row.snapshot_age_s = Some((now - meta.at_ms).max(0) as f64 / 1000.0);
        }
        shards.push(row);
    }
    let mut ingests = Vec::new();
    let effects = bus
        .js
        .get_stream(bus.names.effects_stream())
        .await
        .context("opening the effects stream (run `ss bus init` first)")?;
    let mut consumers = effects.consumers();
    while let Some(info) = consumers.try_next().await? {
        ingests.push(IngestRow {
            consumer: info.name,
            pending: info.num_pending,
            unacknowledged: info.num_ack_pending,
            reading: info.num_waiting > 0,
        });
    }
    ingests.sort_by(|a, b| a.consumer.cmp(&b.consumer));
    let unowned = shards.iter().filter(|s| s.owner.is_none()).count();
    let report = StatusReport {
        url: bus.shown_url(),
        events: state.messages.saturating_sub(ticks + clip_updates),
        tick_rounds: ticks,
        clip_updates,
        last_seq: state.last_sequence,
        shards,
        ingests,
    };
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        Format::Text => {
            writeln!(
                out,
                "bus {}: {} events, {} rounds of clock ticks and {} clip state changes in {} (last sequence {})",
                report.url,
                report.events,
                report.tick_rounds,
                report.clip_updates,
                bus.names.events_stream(),
                report.last_seq
            )?;
            writeln!(
                out,
                "  shard  owner                 epoch   folded to  pending  lease age  snapshot"
            )?;
            for s in &report.shards {
                let snapshot = match (s.snapshot_seq, s.snapshot_age_s) {
                    (Some(seq), Some(age)) => format!("to {seq}, {age:.0}s old"),
                    _ => "none".into(),
                };
                match &s.owner {
                    Some(owner) => writeln!(
                        out,
                        "  {:>5}  {:<20}  {:>5}  {:>9}  {:>7}  {:>8.1}s  {snapshot}",
                        s.shard,
                        crate::sanitize::terminal(owner),
                        s.epoch.unwrap_or(0),
                        s.applied_seq.unwrap_or(0),
                        s.pending.unwrap_or(0),
                        s.lease_age_s.unwrap_or(0.0)
                    )?,
                    None => writeln!(
                        out,
                        "  {:>5}  (no owner: no evaluator holds it)  snapshot {snapshot}",
                        s.shard
                    )?,
                }
            }
            if report.ingests.is_empty() {
                writeln!(
                    out,
                    "  no ingest has read effects yet (`ss bus init` in an ingest's root creates its consumer)"
                )?;
            }
            for i in &report.ingests {
                writeln!(
                    out,
                    "  ingest {}: {} effects not read, {} not acknowledged, {}",
                    crate::sanitize::terminal(&i.consumer),
                    i.pending,
                    i.unacknowledged,
                    if i.reading {
                        "reading"
                    } else {
                        "not reading now"
                    }
                )?;
            }
        }
    }
    Ok(if unowned > 0 {
        Outcome::CheckFailed
    } else {
        Outcome::Success
    })
}
