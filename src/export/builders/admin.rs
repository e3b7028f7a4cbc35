//! Operator views: creators, triggers with how often they fired, clip jobs, send limits, quotas,
//! and the internal-only integrations, permissions and audit log.
//!
//! Integrations name the environment variables that hold credentials and whether each is set; a
//! secret's value is never read into an export.

use super::{Body, array, body, rows};
use crate::config::platform::{Credential, config_of};
use crate::config::secrets::Secrets;
use crate::config::{Creator, CreatorPlatforms};
use crate::event::{Platform, Role};
use crate::export::{ExportError, Inputs, timestamp};
use crate::sources::registry::QuotaExport;
use crate::store::StoreReader;
use serde_json::{Value, json};

/// Most clip jobs in jobs.json (newest kept).
const JOBS_MAX: usize = 500;
/// Most outbox rows in jobs.json (newest kept).
const OUTBOX_MAX: usize = 200;
/// Most audit entries in audit.json (newest kept).
const AUDIT_MAX: usize = 500;
/// Days of quota usage per platform in quotas.json.
const QUOTA_DAYS: usize = 7;

/// The channel a creator's platform block names, when it names one.
fn channel(platforms: &CreatorPlatforms, platform: Platform) -> Option<String> {
    platforms.channel(platform)
}

pub(super) fn creators(inputs: &Inputs<'_>) -> Body {
    let creators: Vec<Value> = inputs
        .config
        .creators
        .creators
        .iter()
        .map(|c| {
            let platforms: Vec<Value> = Platform::all()
                .iter()
                .filter(|p| c.platforms.configured(**p))
                .map(|&p| {
                    json!({
                        "platform": p.as_str(),
                        "enabled": c.platforms.enabled(p),
                        "mode": inputs.config.platforms.mode(p).as_str(),
                        "channel": channel(&c.platforms, p),
                    })
                })
                .collect();
            json!({
                "id": c.id,
                "display_name": c.display_name,
                "enabled": c.enabled,
                "platforms": platforms,
            })
        })
        .collect();
    body(json!({"creators": creators}))
}

pub(super) fn chat_triggers(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let fires = rows(inputs.store, |s| s.trigger_fires())?;
    let mut triggers = Vec::new();
    for (creator, defs) in &inputs.config.triggers.triggers {
        for t in defs {
            let fired = fires
                .iter()
                .find(|f| &f.creator == creator && f.trigger_id == t.id);
            triggers.push(json!({
                "creator": creator,
                "id": t.id,
                "enabled": t.enabled,
                "matcher": serde_json::to_value(&t.matcher).unwrap_or(Value::Null),
                "min_role": t.min_role.as_str(),
                "platforms": t.platforms.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                "cooldowns": {"user_s": t.cooldowns.user_s, "creator_s": t.cooldowns.creator_s, "global_s": t.cooldowns.global_s},
                "action": serde_json::to_value(&t.action).unwrap_or(Value::Null),
                "fired": fired.map_or(0, |f| f.fired),
                "last_fired_at": fired.map(|f| timestamp(f.last_fired_at)),
            }));
        }
    }
    Ok(body(json!({"triggers": triggers})))
}

pub(super) fn jobs(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let jobs = rows(inputs.store, |s| s.clip_jobs(JOBS_MAX))?;
    let counts: serde_json::Map<String, Value> = rows(inputs.store, |s| s.clip_job_counts())?
        .into_iter()
        .map(|(state, n)| (state.as_str().to_owned(), json!(n)))
        .collect();
    let jobs: Vec<Value> = jobs
        .iter()
        .map(|j| {
            json!({
                "job_id": j.job_id,
                "clip_id": j.clip_id,
                "creator": j.creator,
                "platform": j.platform.as_str(),
                "state": j.state,
                "attempts": j.attempts,
                "last_error": j.last_error.as_deref().map(crate::sanitize::message),
                "created_at": timestamp(j.created_at),
                "updated_at": timestamp(j.updated_at),
            })
        })
        .collect();
    let (pending, sent, failed) = inputs
        .store
        .map(|s| s.outbox_counts())
        .transpose()?
        .unwrap_or_default();
    let outbox: Vec<Value> = rows(inputs.store, |s| s.outbox(OUTBOX_MAX))?
        .iter()
        .map(|o| {
            json!({
                "id": o.id,
                "creator": o.creator,
                "destination": o.destination,
                "target": o.target,
                "kind": o.kind,
                "cause": o.cause,
                "attempts": o.attempts,
                "next_attempt_at": o.next_attempt_at.map(timestamp),
                "sent_at": o.sent_at.map(timestamp),
                "failed": o.failed,
                "last_error": o.last_error.as_deref().map(crate::sanitize::message),
                "created_at": timestamp(o.created_at),
            })
        })
        .collect();
    Ok(body(json!({
        "counts": counts,
        "jobs": jobs,
        "outbox": {"pending": pending, "sent": sent, "failed": failed, "rows": outbox},
    })))
}

pub(super) fn rate_limits(inputs: &Inputs<'_>) -> Body {
    let limits = &inputs.config.ratelimits;
    let platforms: Vec<Value> = Platform::all()
        .iter()
        .map(|&p| {
            let limit = limits.send_limit(p);
            json!({
                "platform": p.as_str(),
                "messages": limit.messages,
                "per_s": limit.per_s,
                "privileged_messages": limit.platform_specific.get("privileged_messages"),
                "configured": limits.platforms.contains_key(&p),
            })
        })
        .collect();
    body(json!({"platforms": platforms}))
}

/// Quota usage per platform and day, and each platform's own part (YouTube: its budget settings
/// and its Google projects).
pub(super) fn quotas(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let usage = rows(inputs.store, |s| s.quota_usage(QUOTA_DAYS))?;
    let ledger = ledger_around(inputs.store, inputs.now)?;
    let mut out = serde_json::Map::new();
    for module in crate::sources::registry::modules() {
        let platform = module.platform();
        out.extend(module.quota_export(&QuotaExport {
            config: inputs.config,
            ledger: &ledger,
            now: inputs.now,
            live: inputs.runtime.platforms.get(platform.as_str()),
        }));
    }
    out.insert("usage".into(), array(&usage));
    Ok(body(Value::Object(out)))
}

/// The budget spends the store holds for yesterday to tomorrow (UTC), for the platforms' parts.
fn ledger_around(
    store: Option<&StoreReader>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<crate::sources::registry::LedgerRow>, ExportError> {
    let today = now.date_naive();
    let mut out = Vec::new();
    for day in [today.pred_opt(), Some(today), today.succ_opt()]
        .into_iter()
        .flatten()
    {
        for row in rows(store, |s| s.project_quota_usage(day))? {
            out.push(crate::sources::registry::LedgerRow {
                budget: row.project,
                day,
                method: row.method,
                calls: row.calls,
                units: row.units,
            });
        }
    }
    Ok(out)
}

/// Every credential a creator's config names: (platform, purpose, env var), as each platform lists
/// its block's.
fn credentials(creator: &Creator) -> Vec<(Platform, Credential)> {
    creator
        .platforms
        .iter()
        .flat_map(|(platform, block)| {
            config_of(platform)
                .map(|c| c.credentials(block))
                .unwrap_or_default()
                .into_iter()
                .map(move |credential| (platform, credential))
        })
        .collect()
}

pub(super) fn integrations(inputs: &Inputs<'_>) -> Body {
    let secrets = Secrets::load(inputs.root);
    let is_set = |env: &str| secrets.get(env).is_some();
    let mut creds = Vec::new();
    for creator in &inputs.config.creators.creators {
        for (platform, Credential { purpose, env }) in credentials(creator) {
            let set = is_set(&env);
            creds.push(json!({
                "creator": creator.id,
                "platform": platform.as_str(),
                "purpose": purpose,
                "env": env,
                "set": set,
            }));
        }
    }
    let discord = &inputs.config.discord.discord;
    let guilds: Vec<Value> = discord
        .guilds
        .iter()
        .map(|(id, g)| {
            json!({
                "guild_id": id,
                "creator": g.creator,
                "logging": {"enabled": g.logging.enabled, "channel_id": g.logging.channel_id},
                "notifications": serde_json::to_value(&g.notifications).unwrap_or(Value::Null),
            })
        })
        .collect();
    let mut out = json!({
        "credentials": creds,
        "discord": {
            "token_env": discord.token_env,
            "token_set": discord.token_env.as_deref().is_some_and(is_set),
            "guilds": guilds,
        },
    });
    // Webhooks out and in, by name: their secret variables, never their URLs (a URL may hold a
    // token of its own).
    let webhooks = &inputs.config.posting.webhooks;
    if !webhooks.is_empty() {
        out["webhooks"] = webhooks
            .iter()
            .map(|(name, w)| {
                json!({
                    "name": name,
                    "events": w.events.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
                    "secret_env": w.secret_env,
                    "secret_set": is_set(&w.secret_env),
                })
            })
            .collect();
    }
    let hooks = &inputs.config.system.hooks;
    if !hooks.is_empty() {
        out["hooks"] = hooks
            .iter()
            .map(|(name, h)| {
                json!({
                    "name": name,
                    "creator": h.creator,
                    "platform": h.platform.as_str(),
                    "secret_env": h.verify.secret_env(),
                    "secret_set": is_set(h.verify.secret_env()),
                })
            })
            .collect();
    }
    body(out)
}

pub(super) fn permissions(inputs: &Inputs<'_>) -> Body {
    let mut triggers = Vec::new();
    for (creator, defs) in &inputs.config.triggers.triggers {
        for t in defs {
            triggers.push(json!({
                "creator": creator,
                "trigger": t.id,
                "min_role": t.min_role.as_str(),
                "platforms": t.platforms.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            }));
        }
    }
    body(json!({
        "roles": Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "triggers": triggers,
    }))
}

pub(super) fn audit(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let entries = rows(inputs.store, |s| s.audit(AUDIT_MAX))?;
    Ok(body(json!({"entries": array(&entries)})))
}

/// Decisions listed in `admin/moderation.json`, newest first.
const MODERATION_RECENT: usize = 100;
/// Offenders listed in `admin/moderation.json`.
const MODERATION_OFFENDERS: usize = 10;

/// The commands a recorded decision became, in order (as the moderation sink sends them).
fn expected_commands(row: &crate::store::DecisionRow) -> Vec<&'static str> {
    let mut commands = Vec::new();
    if row.decision != "warn" {
        commands.push("delete_message");
    }
    match row.decision.as_str() {
        "timeout" => commands.push("timeout"),
        "ban" => commands.push("ban"),
        _ => {}
    }
    if row.message.is_some() {
        commands.push("say");
    }
    commands
}

/// `admin/moderation.json`: the latest decisions with what each command became (the platform's
/// answer or why not), counts per filter and per decision, what the commands became in all, and
/// the users with the most strikes. Never public: it names users and what they wrote.
pub(super) fn moderation(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let recent = rows(inputs.store, |s| s.recent_decisions(MODERATION_RECENT))?;
    let counts = rows(inputs.store, crate::store::StoreReader::decision_counts)?;
    let outcomes = rows(inputs.store, crate::store::StoreReader::outcome_counts)?;
    let offenders = rows(inputs.store, |s| s.top_offenders(MODERATION_OFFENDERS))?;
    let recent: Vec<Value> = recent
        .iter()
        .map(|row| {
            let mut commands: Vec<Value> = expected_commands(row)
                .into_iter()
                .filter(|_| !row.dry_run)
                .map(
                    |name| match row.outcomes.iter().find(|o| o.command == name) {
                        Some(o) => json!({"command": name, "state": o.state, "answer": o.answer}),
                        None => json!({"command": name, "state": "queued", "answer": null}),
                    },
                )
                .collect();
            for o in &row.outcomes {
                if !expected_commands(row).contains(&o.command.as_str()) {
                    commands
                        .push(json!({"command": o.command, "state": o.state, "answer": o.answer}));
                }
            }
            let state = if row.dry_run {
                "logged"
            } else {
                ["failed", "refused", "dropped", "abandoned", "queued"]
                    .into_iter()
                    .find(|state| commands.iter().any(|c| c["state"] == *state))
                    .unwrap_or("sent")
            };
            json!({
                "at": row.at, "creator": row.creator, "platform": row.platform,
                "message_id": row.message_id, "user_id": row.user_id, "user_login": row.user_login,
                "filter": row.filter, "rule": row.rule, "decision": row.decision,
                "seconds": row.seconds, "strike": row.strike, "dry_run": row.dry_run,
                "state": state, "commands": commands,
            })
        })
        .collect();
    let mut by_decision = serde_json::Map::new();
    for decision in crate::actions::moderation::Decision::ALL {
        let n: u64 = counts
            .iter()
            .filter(|c| !c.dry_run && c.decision == decision.as_str())
            .map(|c| c.count)
            .sum();
        by_decision.insert(decision.as_str().into(), json!(n));
    }
    let mut by_filter: Vec<Value> = Vec::new();
    let mut keys: Vec<(&str, &str)> = counts
        .iter()
        .map(|c| (c.creator.as_str(), c.filter.as_str()))
        .collect();
    keys.dedup();
    for (creator, filter) in keys {
        let of = |dry: bool| -> u64 {
            counts
                .iter()
                .filter(|c| c.creator == creator && c.filter == filter && c.dry_run == dry)
                .map(|c| c.count)
                .sum()
        };
        by_filter.push(json!({"creator": creator, "filter": filter, "decisions": of(false), "dry_run_decisions": of(true)}));
    }
    let commands: serde_json::Map<String, Value> = outcomes
        .into_iter()
        .map(|(state, n)| (state, json!(n)))
        .collect();
    Ok(body(json!({
        "decisions": counts.iter().filter(|c| !c.dry_run).map(|c| c.count).sum::<u64>(),
        "dry_run_decisions": counts.iter().filter(|c| c.dry_run).map(|c| c.count).sum::<u64>(),
        "by_decision": by_decision,
        "by_filter": by_filter,
        "commands": commands,
        "recent": recent,
        "top_offenders": array(&offenders),
    })))
}
