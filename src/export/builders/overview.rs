//! Product, version, platforms and runtime state: what a status page shows first.

use super::{Body, body, rows};
use crate::config::PlatformMode;
use crate::event::Platform;
use crate::export::runtime_view::SourceView;
use crate::export::{ExportError, Inputs, timestamp};
use crate::sanitize;
use serde_json::{Value, json};

const DESCRIPTION: &str = "StreamSuites is a headless livestream-automation runtime: live chat from Twitch, YouTube, Kick and Rumble, chat triggers and actions, clips, polls, tallies and scoreboards, published as read-only JSON.";

pub(super) fn version(inputs: &Inputs<'_>) -> Body {
    body(json!({"version": inputs.stamp.version, "build": inputs.stamp.build}))
}

fn modes(inputs: &Inputs<'_>) -> Value {
    Value::Array(
        Platform::all()
            .iter()
            .map(|p| json!({"platform": p.as_str(), "mode": inputs.config.platforms.mode(*p).as_str()}))
            .collect(),
    )
}

pub(super) fn about_public(inputs: &Inputs<'_>) -> Body {
    body(json!({
        "product": "StreamSuites",
        "description": DESCRIPTION,
        "version": inputs.stamp.version,
        "build": inputs.stamp.build,
        "platforms": modes(inputs),
        "creators": inputs.config.creators.creators.iter().filter(|c| c.enabled).count(),
    }))
}

/// The connection state a dashboard shows for (creator, platform).
fn connection_state<'a>(
    inputs: &Inputs<'a>,
    creator: &str,
    platform: Platform,
) -> (String, Option<&'a SourceView>) {
    let source = inputs
        .runtime
        .sources
        .iter()
        .find(|s| s.creator == creator && s.platform == platform);
    if let Some(source) = source {
        let state = serde_json::to_value(source.status.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        return (state, Some(source));
    }
    let enabled = inputs
        .config
        .creators
        .get(creator)
        .is_some_and(|c| c.enabled && c.platforms.enabled(platform));
    let state = if inputs.config.platforms.mode(platform) != PlatformMode::Active {
        "inactive"
    } else if !enabled {
        "disabled"
    } else {
        "not_running"
    };
    (state.to_string(), None)
}

pub(super) fn platforms(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let totals = rows(inputs.store, |s| s.chat_totals())?;
    let list: Vec<Value> = Platform::all()
        .iter()
        .map(|&platform| {
            let mut creators: Vec<&str> = inputs
                .config
                .creators
                .creators
                .iter()
                .filter(|c| c.platforms.configured(platform))
                .map(|c| c.id.as_str())
                .collect();
            for source in inputs.runtime.sources.iter().filter(|s| s.platform == platform) {
                if !creators.contains(&source.creator.as_str()) {
                    creators.push(&source.creator);
                }
            }
            creators.sort_unstable();
            let creators: Vec<Value> = creators
                .into_iter()
                .map(|creator| {
                    let (state, source) = connection_state(inputs, creator, platform);
                    let total = totals
                        .iter()
                        .find(|t| t.creator == creator && t.platform == platform);
                    let last_event_at = source
                        .and_then(|s| s.status.last_event_at)
                        .or(total.map(|t| t.last_event_at));
                    json!({
                        "creator": creator,
                        "enabled": inputs.config.creators.get(creator).is_some_and(|c| c.enabled && c.platforms.enabled(platform)),
                        "state": state,
                        "since": source.map(|s| timestamp(s.status.since)),
                        "last_event_at": last_event_at.map(timestamp),
                        "events_recorded": total.map_or(0, |t| t.events),
                    })
                })
                .collect();
            json!({
                "platform": platform.as_str(),
                "mode": inputs.config.platforms.mode(platform).as_str(),
                "creators": creators,
            })
        })
        .collect();
    Ok(body(json!({"platforms": list})))
}

pub(super) fn runtime_snapshot(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let rt = inputs.runtime;
    let chat_events = inputs.store.map(|s| s.chat_event_count()).transpose()?;
    let mut sources: Vec<&SourceView> = rt.sources.iter().collect();
    sources.sort_by(|a, b| (&a.creator, a.platform).cmp(&(&b.creator, b.platform)));
    let sources: Vec<Value> = sources
        .into_iter()
        .map(|s| {
            json!({
                "creator": s.creator,
                "platform": s.platform.as_str(),
                "state": serde_json::to_value(s.status.state).unwrap_or(Value::Null),
                "since": timestamp(s.status.since),
                "heartbeat_at": s.status.last_event_at.map(timestamp),
                "events": s.status.events,
                "reconnects": s.status.reconnects,
                "last_error": s.status.last_error.as_deref().map(sanitize::message),
                "live": s.status.live.as_ref().map(|l| json!({
                    "live": l.live,
                    "since": timestamp(l.since),
                    "stream": l.stream.as_ref().map(|st| json!({"id": st.id, "title": st.title, "url": st.url})),
                })),
            })
        })
        .collect();
    let platforms: Vec<Value> = Platform::all()
        .iter()
        .map(|&p| {
            let of_platform = rt.sources.iter().filter(|s| s.platform == p);
            json!({
                "platform": p.as_str(),
                "mode": inputs.config.platforms.mode(p).as_str(),
                "sources": of_platform.clone().count(),
                "connected": of_platform.filter(|s| s.status.state == crate::sources::ConnectionState::Connected).count(),
            })
        })
        .collect();
    let lanes: serde_json::Map<String, Value> = rt
        .lanes
        .iter()
        .map(|(name, lane)| {
            (
                name.clone(),
                json!({
                    "capacity": lane.capacity,
                    "bytes_capacity": lane.bytes_capacity,
                    "depth": lane.depth,
                    "bytes": lane.bytes,
                    "share": lane.share,
                    "sent": lane.sent,
                    "shed": lane.shed,
                    "dropped": lane.dropped,
                    "ticks_sent": lane.ticks_sent,
                    "ticks_dropped": lane.ticks_dropped,
                    "creators": lane.creators,
                }),
            )
        })
        .collect();
    let c = &rt.counters;
    let w = &rt.writer;
    Ok(body(json!({
        "running": rt.running(),
        "degraded": w.degraded.is_some(),
        "degraded_reason": w.degraded.as_ref().map(|d| sanitize::message(&d.reason)),
        "degraded_since": w.degraded.as_ref().map(|d| timestamp(d.since)),
        "started_at": rt.started_at.map(timestamp),
        "uptime_s": rt.started_at.map(|s| (inputs.now - s).num_seconds().max(0)),
        "platforms": platforms,
        "sources": sources,
        "counters": {
            "events_received": c.events_received,
            "events_recorded": c.events_recorded,
            "events_dropped": c.events_dropped,
            "events_shed": c.events_shed,
            "duplicates_skipped": c.duplicates_skipped,
            "triggers_matched": c.triggers_matched,
            "actions": c.actions,
            "guards": c.guards,
        },
        "commands": {
            "queued": c.commands.queued,
            "sent": c.commands.sent,
            "failed": c.commands.failed,
            "abandoned": c.commands.abandoned,
            "pending": c.commands.pending,
            "dropped": c.commands.dropped,
            "refused": c.commands.refused,
            "refused_by_kind": c.commands.refused_by_kind,
            "failed_by_reason": c.commands.failed_by_reason,
            "receipts_lost": c.commands.receipts_lost,
            "refusals": c.commands.refusals.iter().map(|r| json!({
                "creator": r.creator,
                "platform": r.platform,
                "command": r.command,
                "count": r.count,
                "reason": sanitize::message(&r.reason),
                "first_cause": r.first_cause,
            })).collect::<Vec<_>>(),
        },
        "lanes": lanes,
        "notify": rt.notify.iter().map(|(d, s)| (d.clone(), json!({
            "state": s.state,
            "detail": s.detail.as_deref().map(sanitize::message),
            "sent": s.sent,
            "failed": s.failed,
            "retried": s.retried,
            "rate_limited": s.rate_limited,
            "unrouted": s.unrouted,
            "fenced": s.fenced,
            "already_sent": s.already_sent,
        }))).collect::<serde_json::Map<_, _>>(),
        "hooks": rt.hooks.iter().map(|(name, c)| (name.clone(), json!({
            "accepted": c.accepted,
            "duplicates": c.duplicates,
            "unauthorized": c.unauthorized,
            "too_large": c.too_large,
            "malformed": c.malformed,
            "unavailable": c.unavailable,
        }))).collect::<serde_json::Map<_, _>>(),
        "captures": rt.captures.iter().map(|c| json!({
            "creator": c.creator,
            "state": serde_json::to_value(c.state).unwrap_or(Value::Null),
            "since": timestamp(c.since),
            "restarts": c.restarts,
            "segments": c.segments,
            "buffer_from": c.buffer_from.map(timestamp),
            "recorded_until": c.recorded_until.map(timestamp),
            "last_error": c.last_error.as_deref().map(sanitize::message),
        })).collect::<Vec<_>>(),
        "obs": rt.obs.iter().map(|o| json!({
            "creator": o.creator,
            "url": o.url,
            "state": o.state,
            "connected_since": o.connected_since.map(timestamp),
            "reconnects": o.reconnects,
            "last_error": o.last_error.as_deref().map(sanitize::message),
            "obs_version": o.obs_version,
            "websocket_version": o.websocket_version,
            "current_scene": o.current_scene,
            "streaming": o.streaming,
            "recording": o.recording,
            "replay_buffer": o.replay_buffer,
            "requests": o.requests,
            "recent": o.recent.iter().map(|r| json!({
                "at": timestamp(r.at),
                "cause": r.cause,
                "request": r.request,
                "ok": r.ok,
                "code": r.code,
                "comment": r.comment.as_deref().map(sanitize::message),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "extensions": rt.extensions.iter().map(|e| json!({
            "name": e.name,
            "state": e.state,
            "calls": e.calls,
            "answered": e.answered,
            "errors": e.errors,
            "failed": e.failed,
            "late": e.late,
            "refused": e.refused,
            "restarts": e.restarts,
            "epoch": e.epoch,
            "in_flight": e.in_flight,
            "last_error": e.last_error.as_deref().map(sanitize::message),
        })).collect::<Vec<_>>(),
        "bus": rt.bus.as_ref().map(|b| serde_json::to_value(b).unwrap_or(Value::Null)),
        "validated": rt.validated.iter().map(|(k, v)| (k.clone(), Value::String(timestamp(*v)))).collect::<serde_json::Map<_, _>>(),
        "store": {
            "present": inputs.store.is_some(),
            "chat_events": chat_events.unwrap_or(0),
            "writer": {
                "events_recorded": w.events_recorded,
                "events_duplicate": w.events_duplicate,
                "votes_ignored": w.votes_ignored,
                "ops_written": w.ops_written,
                "ops_rejected": w.ops_rejected,
                "batches_committed": w.batches_committed,
                "commit_failures": w.commit_failures,
                "ops_abandoned": w.ops_abandoned,
                "events_abandoned": w.events_abandoned,
            },
        },
    })))
}

pub(super) fn about_admin(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let schema_version = inputs.store.map(|s| s.schema_version()).transpose()?;
    let chat_events = inputs.store.map(|s| s.chat_event_count()).transpose()?;
    let config = inputs.config;
    Ok(body(json!({
        "version": inputs.stamp.version,
        "build": inputs.stamp.build,
        "binary_version": env!("CARGO_PKG_VERSION"),
        "store": {
            "present": inputs.store.is_some(),
            "schema_version": schema_version,
            "supported_schema_version": crate::store::schema::SCHEMA_VERSION,
            "chat_events": chat_events.unwrap_or(0),
        },
        "config": {
            "creators": config.creators.creators.len(),
            "triggers": config.triggers.triggers.values().map(Vec::len).sum::<usize>(),
            "discord_guilds": config.discord.discord.guilds.len(),
        },
        "system": serde_json::to_value(&config.system).unwrap_or(Value::Null),
    })))
}
