//! `ss bus init` and every role's start: create the streams, the effects consumer and the lease
//! bucket, or check them, and verify that the server kept the configuration it was given.
//!
//! A server may accept a field it does not know and silently drop it (nats-server 2.9 ignores
//! subject transforms and multiple filter subjects, for one). So after each create or update the
//! configuration the server reports is compared, field by field, with what was asked; a difference
//! is refused with the field, both values and how to fix it, and no role runs on it.

use super::Bus;
use anyhow::{Context, bail};
use async_nats::jetstream;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::stream::{self, DiscardPolicy, RetentionPolicy, StorageType};
use std::time::Duration;

/// How long the event and effect streams remember a `Nats-Msg-Id` to refuse a duplicate.
pub const DEDUPE_WINDOW: Duration = Duration::from_secs(600);
/// How long the effects stream keeps effects.
const EFFECTS_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// What `ss bus init` did to each thing on the server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Prepared {
    pub kind: &'static str,
    pub name: String,
    /// `created`, `kept` (already as configured) or `updated`.
    pub outcome: &'static str,
    pub detail: String,
}

/// Creates or checks everything the roles need; refuses a configuration the server did not keep.
/// `with_effects_consumer`: this root's ingest consumer too (`ss bus init`, the ingest role).
pub async fn prepare(bus: &Bus, with_effects_consumer: bool) -> anyhow::Result<Vec<Prepared>> {
    let settings = &bus.settings;
    let names = &bus.names;
    let mut done = Vec::new();
    let keep = Duration::from_secs(settings.keep_hours * 3600);
    let events = stream::Config {
        name: names.events_stream(),
        subjects: vec![names.events_filter()],
        retention: RetentionPolicy::Limits,
        storage: StorageType::File,
        discard: DiscardPolicy::Old,
        max_age: keep,
        duplicate_window: DEDUPE_WINDOW.min(keep),
        num_replicas: settings.replicas,
        ..Default::default()
    };
    done.push(ensure_stream(&bus.js, events, "events").await?);
    let effects = stream::Config {
        name: names.effects_stream(),
        subjects: vec![names.effects_filter()],
        retention: RetentionPolicy::Limits,
        storage: StorageType::File,
        discard: DiscardPolicy::Old,
        max_age: EFFECTS_KEEP,
        duplicate_window: DEDUPE_WINDOW,
        num_replicas: settings.replicas,
        ..Default::default()
    };
    done.push(ensure_stream(&bus.js, effects, "effects").await?);
    if with_effects_consumer {
        done.push(ensure_effects_consumer(bus).await?);
    }
    done.push(ensure_leases(bus).await?);
    done.push(ensure_sent(bus).await?);
    done.push(ensure_snapshots(bus).await?);
    Ok(done)
}

async fn ensure_stream(
    js: &jetstream::Context,
    wanted: stream::Config,
    what: &str,
) -> anyhow::Result<Prepared> {
    let name = wanted.name.clone();
    let (info, outcome) = match js.get_stream(&name).await {
        Ok(mut existing) => {
            let info = existing
                .info()
                .await
                .with_context(|| format!("reading stream {name}"))?
                .clone();
            if stream_differences(&wanted, &info.config).is_empty() {
                (info, "kept")
            } else {
                let info = js.update_stream(wanted.clone()).await.with_context(|| {
                    format!(
                        "updating stream {name} to the configured settings (a change the server refuses, such as replicas on a single server, needs the stream removed first: `nats stream rm {name}` loses its events)"
                    )
                })?;
                (info, "updated")
            }
        }
        Err(e)
            if matches!(e.kind(), jetstream::context::GetStreamErrorKind::JetStream(ref js)
                if js.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND) =>
        {
            let info = js
                .create_stream(wanted.clone())
                .await
                .with_context(|| format!("creating stream {name}"))?
                .info()
                .await
                .with_context(|| format!("reading stream {name}"))?
                .clone();
            (info, "created")
        }
        Err(e) => return Err(e).with_context(|| format!("looking up stream {name}")),
    };
    let differences = stream_differences(&wanted, &info.config);
    if !differences.is_empty() {
        bail!(
            "the server did not keep the configuration of stream {name}: {}. It may be too old for a setting (nats-server 2.10 or later is recommended); no role runs on a stream other than configured",
            differences.join("; ")
        );
    }
    Ok(Prepared {
        kind: "stream",
        name,
        outcome,
        detail: format!(
            "{what}: subjects {}, {}, duplicates refused for {}, replicas {}",
            info.config.subjects.join(","),
            if info.config.max_age.is_zero() {
                "kept until replaced".to_owned()
            } else {
                format!("kept {}", humantime::format_duration(info.config.max_age))
            },
            humantime::format_duration(info.config.duplicate_window),
            info.config.num_replicas
        ),
    })
}

/// The fields `ss` relies on, each as "field is X, configured Y".
fn stream_differences(wanted: &stream::Config, kept: &stream::Config) -> Vec<String> {
    let fields = [
        (
            "subjects",
            format!("{:?}", wanted.subjects),
            format!("{:?}", kept.subjects),
        ),
        (
            "retention",
            format!("{:?}", wanted.retention),
            format!("{:?}", kept.retention),
        ),
        (
            "storage",
            format!("{:?}", wanted.storage),
            format!("{:?}", kept.storage),
        ),
        (
            "max_age",
            format!("{:?}", wanted.max_age),
            format!("{:?}", kept.max_age),
        ),
        (
            "duplicate_window",
            format!("{:?}", wanted.duplicate_window),
            format!("{:?}", kept.duplicate_window),
        ),
        (
            "num_replicas",
            wanted.num_replicas.max(1).to_string(),
            kept.num_replicas.max(1).to_string(),
        ),
    ];
    fields
        .into_iter()
        .filter(|(_, want, got)| want != got)
        .map(|(field, want, got)| format!("{field} is {got}, configured {want}"))
        .collect()
}

/// The durable consumer ingest reads effects with: every effect subject, explicit acks.
pub fn effects_consumer_config(bus: &Bus) -> pull::Config {
    pull::Config {
        durable_name: Some(ingest_consumer(bus)),
        filter_subject: bus.names.effects_filter(),
        ack_policy: AckPolicy::Explicit,
        ack_wait: Duration::from_secs(30),
        max_deliver: -1,
        max_ack_pending: 256,
        // A new ingest (a first start, or one more of several) starts at the effects published
        // from then on: it never carries out what was published before it existed.
        deliver_policy: DeliverPolicy::New,
        ..Default::default()
    }
}

/// This root's effects consumer: its ingest's own when it has a name among several.
pub fn ingest_consumer(bus: &Bus) -> String {
    bus.names
        .ingest_consumer(bus.settings.ingest_name.as_deref())
}

async fn ensure_effects_consumer(bus: &Bus) -> anyhow::Result<Prepared> {
    let wanted = effects_consumer_config(bus);
    let name = ingest_consumer(bus);
    let stream = bus
        .js
        .get_stream(bus.names.effects_stream())
        .await
        .context("opening the effects stream")?;
    let existed = stream.consumer_info(&name).await.is_ok();
    let mut consumer: jetstream::consumer::Consumer<pull::Config> = stream
        .get_or_create_consumer(&name, wanted.clone())
        .await
        .with_context(|| format!("creating consumer {name}"))?;
    let kept = consumer
        .info()
        .await
        .with_context(|| format!("reading consumer {name}"))?
        .config
        .clone();
    let mut differences = Vec::new();
    if kept.filter_subject != wanted.filter_subject {
        differences.push(format!(
            "filter_subject is {:?}, configured {:?}",
            kept.filter_subject, wanted.filter_subject
        ));
    }
    if kept.ack_policy != wanted.ack_policy {
        differences.push(format!(
            "ack_policy is {:?}, configured {:?}",
            kept.ack_policy, wanted.ack_policy
        ));
    }
    if !differences.is_empty() {
        bail!(
            "the server did not keep the configuration of consumer {name}: {}; remove it (`nats consumer rm {} {name}`) and run `ss bus init` again",
            differences.join("; "),
            bus.names.effects_stream()
        );
    }
    Ok(Prepared {
        kind: "consumer",
        name,
        outcome: if existed { "kept" } else { "created" },
        detail: format!(
            "ingest reads effects: filter {}, explicit acks",
            kept.filter_subject
        ),
    })
}

/// A bucket created as the stream a KV bucket is (`KV_<bucket>`, one value per key, entries
/// expiring after `keep`), so its configuration is verified like the other streams.
async fn ensure_bucket(
    bus: &Bus,
    bucket: String,
    keep: Duration,
    what: &str,
) -> anyhow::Result<Prepared> {
    let wanted = stream::Config {
        name: format!("KV_{bucket}"),
        description: Some(format!("{what} of ss")),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age: keep,
        duplicate_window: keep.min(Duration::from_secs(120)),
        storage: StorageType::File,
        num_replicas: bus.settings.replicas,
        allow_rollup: true,
        deny_delete: true,
        deny_purge: false,
        allow_direct: true,
        discard: DiscardPolicy::New,
        ..Default::default()
    };
    let mut prepared = ensure_stream(&bus.js, wanted, what).await?;
    bus.js
        .get_key_value(&bucket)
        .await
        .with_context(|| format!("opening the bucket {bucket}"))?;
    prepared.kind = "bucket";
    prepared.name = bucket;
    Ok(prepared)
}

/// The notifications an evaluator claimed: kept as long as the effects stream keeps effects.
async fn ensure_sent(bus: &Bus) -> anyhow::Result<Prepared> {
    ensure_bucket(
        bus,
        bus.names.sent_bucket(),
        EFFECTS_KEEP,
        "notifications sent",
    )
    .await
}

/// The shard snapshots' object store bucket, created as the stream an object store is
/// (`OBJ_<bucket>`) so its configuration is verified like the other streams. Nothing expires: each
/// shard has one snapshot, replaced by the next, and it must outlive a shard without an owner.
async fn ensure_snapshots(bus: &Bus) -> anyhow::Result<Prepared> {
    let bucket = bus.names.snapshots_bucket();
    let wanted = stream::Config {
        name: format!("OBJ_{bucket}"),
        description: Some("shard snapshots of ss".into()),
        subjects: vec![format!("$O.{bucket}.C.>"), format!("$O.{bucket}.M.>")],
        duplicate_window: Duration::from_secs(120),
        storage: StorageType::File,
        num_replicas: bus.settings.replicas,
        discard: DiscardPolicy::New,
        allow_rollup: true,
        allow_direct: true,
        ..Default::default()
    };
    let mut prepared = ensure_stream(&bus.js, wanted, "shard snapshots").await?;
    bus.js
        .get_object_store(&bucket)
        .await
        .with_context(|| format!("opening the bucket {bucket}"))?;
    prepared.kind = "bucket";
    prepared.name = bucket;
    Ok(prepared)
}

/// The lease bucket, created as the stream a KV bucket is (`KV_<bucket>`, one value per key,
/// entries expiring after `lease_s`) so its configuration is verified like the other streams.
async fn ensure_leases(bus: &Bus) -> anyhow::Result<Prepared> {
    let lease = Duration::from_secs(bus.settings.lease_s);
    ensure_bucket(bus, bus.names.leases_bucket(), lease, "shard leases").await
}
