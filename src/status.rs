//! Health of a runtime, judged from its exported `runtime_snapshot.json`: what `ss status` prints.
//!
//! `ss status` never talks to the daemon; it reads the snapshot the daemon writes on its cadence, the
//! way a dashboard does. A snapshot older than the stale threshold means the daemon stopped writing
//! (it died, or it stopped and nobody restarted it). A failed source or a degraded store is unhealthy
//! even in a fresh snapshot. [`Health::judge`] is pure (time is passed in), so it is tested on JSON.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// One source as the snapshot shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceHealth {
    pub creator: String,
    pub platform: String,
    pub state: String,
    /// Seconds since its last event, at the snapshot's time; `None` before the first event.
    pub last_event_age_s: Option<i64>,
    pub events: u64,
    pub reconnects: u64,
    pub last_error: Option<String>,
}

/// One OBS connection as the snapshot shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObsHealth {
    pub creator: String,
    pub state: String,
    pub current_scene: Option<String>,
    pub streaming: Option<bool>,
    pub recording: Option<bool>,
    pub replay_buffer: Option<bool>,
    pub requests_ok: u64,
    pub requests_failed: u64,
    pub last_error: Option<String>,
}

/// One clip capture (a creator's replay buffer) as the snapshot shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptureHealth {
    pub creator: String,
    pub state: String,
    pub restarts: u64,
    pub segments: u64,
    pub last_error: Option<String>,
}

impl CaptureHealth {
    /// What is wrong with it, if anything: failed for good, or restarting (FFmpeg exits or stalls,
    /// and the capture waits to start it again) instead of recording.
    fn problem(&self) -> Option<String> {
        let error = self.last_error.as_deref().unwrap_or("no error recorded");
        match self.state.as_str() {
            "failed" => Some(format!("clip capture of {} failed: {error}", self.creator)),
            "backoff" => Some(format!(
                "clip capture of {} is restarting ({} restarts so far, not recording): {error}",
                self.creator, self.restarts
            )),
            "starting" if self.restarts > 0 => Some(format!(
                "clip capture of {} is restarting ({} restarts so far, not recording): {error}",
                self.creator, self.restarts
            )),
            _ => None,
        }
    }
}

/// A creator whose events the data lane shed or dropped, as the snapshot's `lanes.data.creators`
/// shows it: `received` = taken + `shed` + `dropped`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaneLoss {
    pub creator: String,
    pub received: u64,
    pub shed: u64,
    pub dropped: u64,
}

/// One quota budget (a YouTube Google project) as `admin/quotas.json` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuotaHealth {
    pub project: String,
    pub units_used: u64,
    pub units_left: u64,
    pub reset_at: Option<String>,
    /// Set while the platform refuses calls until the reset.
    pub exhausted_until: Option<String>,
}

/// The verdict on one snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub healthy: bool,
    /// Why not, one line each; empty when healthy.
    pub problems: Vec<String>,
    pub generated_at: DateTime<Utc>,
    pub snapshot_age_s: i64,
    pub stale_after_s: u64,
    pub stale: bool,
    pub running: bool,
    pub uptime_s: Option<i64>,
    pub degraded: bool,
    pub degraded_reason: Option<String>,
    pub events_received: u64,
    pub events_recorded: u64,
    pub events_dropped: u64,
    /// Events shed because their creator held its share of the data lane (a flood).
    pub events_shed: u64,
    /// The creators whose events the data lane shed or dropped, by creator (informational: shedding
    /// a flood is the lane's policy, not a fault).
    pub lane_losses: Vec<LaneLoss>,
    pub sources: Vec<SourceHealth>,
    /// The OBS connections (obs.json).
    pub obs: Vec<ObsHealth>,
    /// The clip captures (system.json `clips.capture`).
    pub captures: Vec<CaptureHealth>,
    /// Quota budgets left today, from `admin/quotas.json` when it is there (informational).
    pub quotas: Vec<QuotaHealth>,
    /// The Discord bot, from `discord/runtime.json` when a bot ran in this root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discord: Option<BotHealth>,
    /// The bus, when the runtime is one of its roles (`ss run --role`); its shards' owners are
    /// shown by `ss bus status`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bus: Option<Value>,
}

/// The Discord bot as its state file shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BotHealth {
    /// connecting, connected, reconnecting or stopped.
    pub connection: String,
    pub latency_ms: Option<u64>,
    pub guilds: usize,
    pub commands: usize,
    pub identifies_left: Option<u64>,
    pub last_error: Option<String>,
}

/// Why a snapshot could not be judged.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SnapshotError(String);

fn time(value: &Value) -> Option<DateTime<Utc>> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn count(value: &Value) -> u64 {
    value.as_u64().unwrap_or(0)
}

impl Health {
    /// Reads the quota budgets of `quotas` (the parsed `admin/quotas.json`) into `self`.
    pub fn with_quotas(mut self, quotas: &Value) -> Health {
        self.quotas = quotas["projects"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|p| QuotaHealth {
                project: p["project"].as_str().unwrap_or("?").to_owned(),
                units_used: count(&p["units_used"]),
                units_left: count(&p["units_left"]),
                reset_at: p["reset_at"].as_str().map(str::to_owned),
                exhausted_until: p["exhausted_until"].as_str().map(str::to_owned),
            })
            .collect();
        self
    }

    /// Reads the Discord bot's state (the parsed `discord/runtime.json`) into `self`. A bot that
    /// stopped on an error (a refused token) makes the runtime unhealthy, naming it.
    pub fn with_discord(mut self, state: &Value) -> Health {
        let bot = BotHealth {
            connection: state["connection"].as_str().unwrap_or("?").to_owned(),
            latency_ms: state["latency_ms"].as_u64(),
            guilds: state["guilds"].as_object().map_or(0, serde_json::Map::len),
            commands: state["commands"].as_array().map_or(0, Vec::len),
            identifies_left: state["identify"]["remaining"].as_u64(),
            last_error: state["last_error"].as_str().map(str::to_owned),
        };
        if bot.connection == "stopped"
            && let Some(error) = &bot.last_error
        {
            self.problems
                .push(format!("the Discord bot stopped: {error}"));
            self.healthy = false;
        }
        self.discord = Some(bot);
        self
    }

    /// Judges `snapshot` (the parsed runtime_snapshot.json) at `now`.
    pub fn judge(
        snapshot: &Value,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> Result<Health, SnapshotError> {
        let generated_at = time(&snapshot["meta"]["generated_at"]).ok_or_else(|| {
            SnapshotError(
                "the snapshot has no meta.generated_at time; is it a runtime_snapshot.json?".into(),
            )
        })?;
        let snapshot_age_s = (now - generated_at).num_seconds().max(0);
        let stale_after_s = stale_after.as_secs().max(1);
        let stale = snapshot_age_s as u64 > stale_after_s;
        let running = snapshot["running"].as_bool().unwrap_or(false);
        let degraded = snapshot["degraded"].as_bool().unwrap_or(false);
        let degraded_reason = snapshot["degraded_reason"].as_str().map(str::to_owned);
        let sources: Vec<SourceHealth> = snapshot["sources"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|s| SourceHealth {
                creator: s["creator"].as_str().unwrap_or("?").to_owned(),
                platform: s["platform"].as_str().unwrap_or("?").to_owned(),
                state: s["state"].as_str().unwrap_or("?").to_owned(),
                last_event_age_s: time(&s["heartbeat_at"])
                    .map(|t| (generated_at - t).num_seconds().max(0)),
                events: count(&s["events"]),
                reconnects: count(&s["reconnects"]),
                last_error: s["last_error"].as_str().map(str::to_owned),
            })
            .collect();
        let obs: Vec<ObsHealth> = snapshot["obs"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|o| ObsHealth {
                creator: o["creator"].as_str().unwrap_or("?").to_owned(),
                state: o["state"].as_str().unwrap_or("?").to_owned(),
                current_scene: o["current_scene"].as_str().map(str::to_owned),
                streaming: o["streaming"].as_bool(),
                recording: o["recording"].as_bool(),
                replay_buffer: o["replay_buffer"].as_bool(),
                requests_ok: count(&o["requests"]["ok"]),
                requests_failed: count(&o["requests"]["failed"]),
                last_error: o["last_error"].as_str().map(str::to_owned),
            })
            .collect();
        let captures: Vec<CaptureHealth> = snapshot["captures"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|c| CaptureHealth {
                creator: c["creator"].as_str().unwrap_or("?").to_owned(),
                state: c["state"].as_str().unwrap_or("?").to_owned(),
                restarts: count(&c["restarts"]),
                segments: count(&c["segments"]),
                last_error: c["last_error"].as_str().map(str::to_owned),
            })
            .collect();
        let mut problems = Vec::new();
        if stale {
            problems.push(format!(
                "the snapshot is {snapshot_age_s}s old (stale after {stale_after_s}s): the runtime is not writing exports{}",
                if running { "" } else { " and its last snapshot says it stopped" }
            ));
        }
        if degraded {
            problems.push(format!(
                "the store is degraded: {}",
                degraded_reason.as_deref().unwrap_or("commits are failing")
            ));
        }
        for s in sources.iter().filter(|s| s.state == "failed") {
            problems.push(format!(
                "{}/{} failed: {}",
                s.creator,
                s.platform,
                s.last_error.as_deref().unwrap_or("no error recorded")
            ));
        }
        for o in obs.iter().filter(|o| o.state == "failed") {
            problems.push(format!(
                "OBS of {} failed: {}",
                o.creator,
                o.last_error.as_deref().unwrap_or("no error recorded")
            ));
        }
        problems.extend(captures.iter().filter_map(CaptureHealth::problem));
        let bus = snapshot.get("bus").filter(|b| b.is_object()).cloned();
        if let Some(bus) = &bus
            && running
            && bus["connected"] == false
        {
            problems.push(format!(
                "the bus ({}) is not connected: ingest holds its sources, evaluators hold their shards until it returns (last outage: {})",
                bus["url"].as_str().unwrap_or("?"),
                bus["last_outage"].as_str().unwrap_or("unknown")
            ));
        }
        let counters = &snapshot["counters"];
        let lane_losses = snapshot["lanes"]["data"]["creators"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(creator, c)| LaneLoss {
                creator: creator.clone(),
                received: count(&c["received"]),
                shed: count(&c["shed"]),
                dropped: count(&c["dropped"]),
            })
            .filter(|l| l.shed + l.dropped > 0)
            .collect();
        Ok(Health {
            healthy: problems.is_empty(),
            problems,
            generated_at,
            snapshot_age_s,
            stale_after_s,
            stale,
            running,
            uptime_s: snapshot["uptime_s"].as_i64(),
            degraded,
            degraded_reason,
            events_received: count(&counters["events_received"]),
            events_recorded: count(&counters["events_recorded"]),
            events_dropped: count(&counters["events_dropped"]),
            events_shed: count(&counters["events_shed"]),
            lane_losses,
            sources,
            obs,
            captures,
            quotas: Vec::new(),
            discord: None,
            bus,
        })
    }

    /// The human report: a verdict line, the runtime, the store, then one line per source.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let verdict = if self.healthy { "healthy" } else { "UNHEALTHY" };
        out.push_str(&format!(
            "{verdict}: runtime {}, snapshot {}s old ({}, stale after {}s)\n",
            match (self.running, self.uptime_s) {
                (true, Some(up)) => format!("running for {up}s"),
                (true, None) => "running".to_owned(),
                (false, _) => "stopped".to_owned(),
            },
            self.snapshot_age_s,
            if self.stale { "STALE" } else { "fresh" },
            self.stale_after_s,
        ));
        // Ingest records no chat: its events go to the bus (the bus line counts them).
        let ingest = self.bus.as_ref().is_some_and(|bus| bus["role"] == "ingest");
        out.push_str(&format!(
            "store: {}; {}{} dropped{}\n",
            if self.degraded {
                format!(
                    "DEGRADED ({})",
                    self.degraded_reason.as_deref().unwrap_or("commits failing")
                )
            } else {
                "ok".to_owned()
            },
            if ingest {
                "checkpoints and effects carried out only (chat goes to the bus); events "
                    .to_owned()
            } else {
                format!(
                    "events {} received, {} recorded, ",
                    self.events_received, self.events_recorded
                )
            },
            self.events_dropped,
            if self.events_shed > 0 {
                format!(", {} shed", self.events_shed)
            } else {
                String::new()
            }
        ));
        if self.sources.is_empty() {
            out.push_str("sources: none running\n");
        }
        for s in &self.sources {
            let last = s.last_event_age_s.map_or_else(
                || "no events yet".to_owned(),
                |a| format!("last event {a}s ago"),
            );
            out.push_str(&format!(
                "  {:<24} {:<10} {last}, {} events, {} reconnects{}\n",
                format!("{}/{}", s.creator, s.platform),
                s.state,
                s.events,
                s.reconnects,
                s.last_error
                    .as_deref()
                    .map(|e| format!(", last error: {}", crate::sanitize::terminal(e)))
                    .unwrap_or_default()
            ));
        }
        for l in &self.lane_losses {
            out.push_str(&format!(
                "  {:<24} {:<10} {} of {} events shed past its share of the data lane, {} dropped by a full lane\n",
                format!("{}/lane", crate::sanitize::terminal(&l.creator)),
                "shedding",
                l.shed,
                l.received,
                l.dropped
            ));
        }
        let on_off = |v: Option<bool>, on: &str| match v {
            Some(true) => on.to_owned(),
            Some(false) => "off".to_owned(),
            None => "unknown".to_owned(),
        };
        for o in &self.obs {
            out.push_str(&format!(
                "  {:<24} {:<10} scene {}, stream {}, recording {}, replay buffer {}, requests {} ok / {} failed{}\n",
                format!("{}/obs", o.creator),
                o.state,
                o.current_scene
                    .as_deref()
                    .map_or_else(|| "unknown".to_owned(), |s| format!("{s:?}")),
                on_off(o.streaming, "LIVE"),
                on_off(o.recording, "on"),
                on_off(o.replay_buffer, "on"),
                o.requests_ok,
                o.requests_failed,
                o.last_error
                    .as_deref()
                    .map(|e| format!(", last error: {}", crate::sanitize::terminal(e)))
                    .unwrap_or_default()
            ));
        }
        for c in &self.captures {
            out.push_str(&format!(
                "  {:<24} {:<10} {} segments, {} restarts{}\n",
                format!("{}/capture", c.creator),
                c.state,
                c.segments,
                c.restarts,
                c.last_error
                    .as_deref()
                    .map(|e| format!(", last error: {}", crate::sanitize::terminal(e)))
                    .unwrap_or_default()
            ));
        }
        if let Some(bot) = &self.discord {
            out.push_str(&format!(
                "  {:<24} {:<10} latency {}, {} guilds, {} commands registered, Identify calls left {}{}\n",
                "discord bot",
                bot.connection,
                bot.latency_ms
                    .map_or_else(|| "unknown".to_owned(), |ms| format!("{ms} ms")),
                bot.guilds,
                bot.commands,
                bot.identifies_left
                    .map_or_else(|| "unknown".to_owned(), |n| n.to_string()),
                bot.last_error
                    .as_deref()
                    .map(|e| format!(", last error: {e}"))
                    .unwrap_or_default()
            ));
        }
        if let Some(bus) = &self.bus {
            let shards: Vec<String> = bus["shards"]
                .as_object()
                .map(|s| {
                    s.iter()
                        .map(|(n, v)| {
                            let n = if n == &u32::MAX.to_string() { "all" } else { n };
                            // The age of its last snapshot now: at the runtime's snapshot, plus since.
                            let snapshot = time(&v["snapshot_at"])
                                .map(|at| {
                                    let age = (self.generated_at - at).num_seconds().max(0)
                                        + self.snapshot_age_s;
                                    format!(", snapshot {age}s old")
                                })
                                .unwrap_or_default();
                            format!(
                                "{n} (epoch {}, lag {}{snapshot})",
                                count(&v["epoch"]),
                                count(&v["pending"])
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let effects = &bus["effects"];
            // What the role did: ingest publishes and carries out, the others read.
            let work = match bus["role"].as_str() {
                Some("ingest") => format!(
                    "{} events and {} ticks published; effects {} carried out, {} refused as stale, {} left to other ingests",
                    count(&bus["published"]),
                    count(&bus["ticks_published"]),
                    count(&effects["applied"]),
                    count(&effects["fenced"]),
                    count(&effects["elsewhere"]),
                ),
                Some("evaluate") => format!(
                    "{} events and {} ticks read; effects {} published ({} already published by an earlier owner), {} not published (lease gone); shard snapshots: {} written, {} loaded{}",
                    count(&bus["folded"]),
                    count(&bus["ticks_folded"]),
                    count(&effects["published"]),
                    count(&effects["already_published"]),
                    count(&effects["not_owner"]),
                    count(&bus["snapshots"]["written"]),
                    count(&bus["snapshots"]["loaded"]),
                    match count(&bus["snapshots"]["failed"]) {
                        0 => String::new(),
                        n => format!(", {n} failed"),
                    },
                ),
                _ => format!(
                    "{} events and {} ticks read from every shard",
                    count(&bus["folded"]),
                    count(&bus["ticks_folded"]),
                ),
            };
            out.push_str(&format!(
                "bus: {} as {}, {}; {} outages{}; {work}{}\n",
                bus["url"].as_str().unwrap_or("?"),
                bus["role"].as_str().unwrap_or("?"),
                if bus["connected"] == true {
                    "connected"
                } else {
                    "NOT CONNECTED"
                },
                count(&bus["outages"]),
                bus["last_outage"]
                    .as_str()
                    .map(|o| format!(" (last: {})", crate::sanitize::terminal(o)))
                    .unwrap_or_default(),
                if shards.is_empty() {
                    String::new()
                } else {
                    format!("; shards held: {}", shards.join(", "))
                }
            ));
        }
        for q in &self.quotas {
            out.push_str(&format!(
                "quota {}: {} units left today ({} used){}{}\n",
                q.project,
                q.units_left,
                q.units_used,
                q.reset_at
                    .as_deref()
                    .map(|r| format!(", resets {r}"))
                    .unwrap_or_default(),
                q.exhausted_until
                    .as_deref()
                    .map(|u| format!(", EXHAUSTED until {u}"))
                    .unwrap_or_default()
            ));
        }
        for problem in &self.problems {
            out.push_str(&format!(
                "problem: {}\n",
                crate::sanitize::terminal(problem)
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snapshot(generated_at: &str, running: bool, degraded: bool, state: &str) -> Value {
        json!({
            "meta": {"generated_at": generated_at},
            "running": running,
            "uptime_s": 42,
            "degraded": degraded,
            "degraded_reason": if degraded { json!("store commit failed: database or disk is full") } else { json!(null) },
            "counters": {"events_received": 10, "events_recorded": 9, "events_dropped": 0},
            "sources": [{"creator": "demo", "platform": "sim", "state": state,
                          "heartbeat_at": "2026-12-01T10:00:00Z", "events": 10, "reconnects": 0,
                          "last_error": if state == "failed" { json!("missing credentials") } else { json!(null) }}],
        })
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_fresh_snapshot_of_a_running_runtime_is_healthy() {
        let h = Health::judge(
            &snapshot("2026-12-01T10:00:05Z", true, false, "connected"),
            at("2026-12-01T10:00:09Z"),
            Duration::from_secs(15),
        )
        .unwrap();
        assert!(h.healthy, "{:?}", h.problems);
        assert_eq!(
            (h.snapshot_age_s, h.sources[0].last_event_age_s),
            (4, Some(5))
        );
    }

    #[test]
    fn stale_failed_and_degraded_are_each_unhealthy() {
        let now = at("2026-12-01T10:01:00Z");
        let stale = Health::judge(
            &snapshot("2026-12-01T10:00:00Z", false, false, "stopped"),
            now,
            Duration::from_secs(15),
        )
        .unwrap();
        assert!(!stale.healthy && stale.stale);
        assert!(
            stale.problems[0].contains("60s old"),
            "{:?}",
            stale.problems
        );
        let fresh = at("2026-12-01T10:00:01Z");
        let failed = Health::judge(
            &snapshot("2026-12-01T10:00:00Z", true, false, "failed"),
            fresh,
            Duration::from_secs(15),
        )
        .unwrap();
        assert_eq!(failed.problems, ["demo/sim failed: missing credentials"]);
        let degraded = Health::judge(
            &snapshot("2026-12-01T10:00:00Z", true, true, "connected"),
            fresh,
            Duration::from_secs(15),
        )
        .unwrap();
        assert!(
            degraded.problems[0].contains("disk is full"),
            "{:?}",
            degraded.problems
        );
    }

    #[test]
    fn a_failed_or_restarting_clip_capture_is_unhealthy_and_named() {
        let fresh = at("2026-12-01T10:00:01Z");
        let judge = |state: &str, restarts: u64| {
            let mut snap = snapshot("2026-12-01T10:00:00Z", true, false, "connected");
            snap["captures"] = json!([{"creator": "demo", "state": state, "restarts": restarts,
                "segments": 0, "last_error": "ffmpeg exited with status 1: No such file or directory"}]);
            Health::judge(&snap, fresh, Duration::from_secs(15)).unwrap()
        };
        assert!(judge("recording", 2).healthy);
        assert!(judge("starting", 0).healthy);
        assert_eq!(
            judge("failed", 0).problems,
            ["clip capture of demo failed: ffmpeg exited with status 1: No such file or directory"]
        );
        for (state, restarts) in [("backoff", 3), ("starting", 4)] {
            let h = judge(state, restarts);
            assert!(!h.healthy);
            assert_eq!(
                h.problems,
                [format!(
                    "clip capture of demo is restarting ({restarts} restarts so far, not recording): ffmpeg exited with status 1: No such file or directory"
                )]
            );
            assert!(h.render().contains("demo/capture"), "{}", h.render());
        }
    }

    #[test]
    fn quota_budgets_are_shown_with_what_is_left() {
        let h = Health::judge(
            &snapshot("2026-12-01T10:00:05Z", true, false, "connected"),
            at("2026-12-01T10:00:09Z"),
            Duration::from_secs(15),
        )
        .unwrap()
        .with_quotas(
            &json!({"projects": [{"project": "key-1a2b", "units_used": 1200, "units_left": 7300,
            "reset_at": "2026-12-02T08:00:00Z", "exhausted_until": null}]}),
        );
        assert!(h.healthy);
        let text = h.render();
        assert!(
            text.contains(
                "quota key-1a2b: 7300 units left today (1200 used), resets 2026-12-02T08:00:00Z"
            ),
            "{text}"
        );
    }

    #[test]
    fn obs_is_shown_and_a_failed_obs_is_unhealthy() {
        let mut snap = snapshot("2026-12-01T10:00:05Z", true, false, "connected");
        snap["obs"] = json!([{"creator": "demo", "state": "connected", "current_scene": "Gameplay",
            "streaming": true, "recording": false, "replay_buffer": null,
            "requests": {"ok": 3, "failed": 1, "dropped": 0}, "last_error": null}]);
        let h = Health::judge(&snap, at("2026-12-01T10:00:09Z"), Duration::from_secs(15)).unwrap();
        assert!(h.healthy, "{:?}", h.problems);
        let text = h.render();
        assert!(
            text.contains("demo/obs                 connected  scene \"Gameplay\", stream LIVE, recording off, replay buffer unknown, requests 3 ok / 1 failed"),
            "{text}"
        );
        snap["obs"][0]["state"] = json!("failed");
        snap["obs"][0]["last_error"] = json!("OBS refused the password (close 4009)");
        let h = Health::judge(&snap, at("2026-12-01T10:00:09Z"), Duration::from_secs(15)).unwrap();
        assert_eq!(
            h.problems,
            ["OBS of demo failed: OBS refused the password (close 4009)"]
        );
    }

    #[test]
    fn what_the_data_lane_shed_is_shown_per_creator_and_is_not_a_fault() {
        let mut snap = snapshot("2026-12-01T10:00:05Z", true, false, "connected");
        snap["counters"]["events_shed"] = json!(700);
        snap["lanes"] = json!({"data": {"creators": {
            "flood": {"received": 1000, "sent": 300, "shed": 700, "dropped": 0},
            "quiet": {"received": 12, "sent": 12, "shed": 0, "dropped": 0}}}});
        let h = Health::judge(&snap, at("2026-12-01T10:00:09Z"), Duration::from_secs(15)).unwrap();
        assert!(h.healthy, "{:?}", h.problems);
        assert_eq!(h.events_shed, 700);
        assert_eq!(
            h.lane_losses,
            [LaneLoss {
                creator: "flood".into(),
                received: 1000,
                shed: 700,
                dropped: 0
            }]
        );
        insta::assert_snapshot!(h.render(), @r"
        healthy: runtime running for 42s, snapshot 4s old (fresh, stale after 15s)
        store: ok; events 10 received, 9 recorded, 0 dropped, 700 shed
          demo/sim                 connected  last event 5s ago, 10 events, 0 reconnects
          flood/lane               shedding   700 of 1000 events shed past its share of the data lane, 0 dropped by a full lane
        ");
    }

    #[test]
    fn a_file_that_is_not_a_snapshot_is_an_error_not_a_verdict() {
        let err =
            Health::judge(&json!({"hello": 1}), Utc::now(), Duration::from_secs(15)).unwrap_err();
        assert!(err.to_string().contains("meta.generated_at"), "{err}");
    }
}
