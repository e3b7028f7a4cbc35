//! Webhooks in: `POST /hooks/{name}` on the local HTTP server, one per hook system.json declares
//! (`hooks`), each turning its service's deliveries into stream events that triggers and alerts
//! see like any other.
//!
//! A delivery passes, in order: the body-size limit (413), the hook's check ([`verify`]: an
//! HMAC header over the raw body, or a token field inside the delivery; a failure is 401, counted
//! per hook, and nothing of it is kept), the service's mapping (only `kofi` today, [`kofi`]; a body
//! that is not the service's format is 400), the delivery-id dedupe (a delivery id accepted before
//! is answered 200 again and not sent twice: ids are kept in the store's webhook deliveries for
//! [`KEEP`], read back once per run), and the wire checks of every source's events, into the data
//! lane (503 while the pipeline cannot take it, so the service retries). The event's message id
//! is `{hook}:{the service's delivery id}`, so the Core's dedupe by (platform, message id) also
//! holds across restarts. The routes sit outside the server's token check: a service cannot send
//! our token, and each request proves itself instead.
//!
//! Adding a service is a [`HookMap`] variant (config), its decoder beside [`kofi`] (the delivery's
//! JSON out of the body, its id, and the event), and one arm in [`Hook::decode`].

pub mod kofi;
mod route;
pub mod verify;

use crate::config::Config;
use crate::config::model::{HookMap, HookSettings};
use crate::config::secrets::Secrets;
use crate::event::{ChatEvent, Platform};
use crate::lanes::SendOutcome;
use crate::sources::registry::RunParts;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

pub use route::router;

/// How long accepted delivery ids are kept (a service's retries of one delivery come within it).
pub const KEEP: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// Where one delivery's event goes.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The hook's name (the message id's prefix).
    pub hook: &'a str,
    pub creator: &'a str,
    pub platform: Platform,
    /// The creator's channel on `platform` (the creator id when the block names none).
    pub channel: &'a str,
    pub received: chrono::DateTime<chrono::Utc>,
}

impl Target<'_> {
    /// The event's message id for the service's delivery `id`.
    pub fn delivery_id(&self, id: &str) -> String {
        format!("{}:{id}", self.hook)
    }
}

/// What became of a delivery; the route turns it into a status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    /// Accepted before: answered 200, not sent again.
    Duplicate,
    /// No hook of that name.
    NotFound,
    /// The check failed: 401, nothing kept.
    Unauthorized,
    /// Verified, but not the service's format: the reason.
    Malformed(String),
    /// The pipeline cannot take events now (starting, stopping, or the lane stayed full).
    Unavailable,
}

/// One hook's counters, for `runtime_snapshot.json` `hooks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HookCounters {
    pub accepted: u64,
    pub duplicates: u64,
    pub unauthorized: u64,
    pub too_large: u64,
    pub malformed: u64,
    pub unavailable: u64,
}

/// Every hook's counters, shared with the exporter.
#[derive(Debug, Clone, Default)]
pub struct HookStats(Arc<Mutex<BTreeMap<String, HookCounters>>>);

impl HookStats {
    fn update(&self, hook: &str, f: impl FnOnce(&mut HookCounters)) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(map.entry(hook.to_string()).or_default());
    }

    pub fn snapshot(&self) -> BTreeMap<String, HookCounters> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// One declared hook with its check's secret resolved.
#[derive(Debug)]
struct Hook {
    name: String,
    settings: HookSettings,
    check: verify::Check,
    channel: String,
}

/// A service's delivery, decoded: its id and its event.
struct Decoded {
    id: String,
    event: ChatEvent,
}

impl Hook {
    /// The delivery's JSON, checked (a `token_field` check needs it), then its id and event.
    fn decode(
        &self,
        body: &[u8],
        received: chrono::DateTime<chrono::Utc>,
    ) -> Result<Decoded, Verdict> {
        let target = Target {
            hook: &self.name,
            creator: &self.settings.creator,
            platform: self.settings.platform,
            channel: &self.channel,
            received,
        };
        // Before verification nothing about the body is told: an unverified request learns only 401.
        let unverified = |why: String| {
            if self.check.is_signature() {
                Verdict::Malformed(why)
            } else {
                Verdict::Unauthorized
            }
        };
        match self.settings.map {
            HookMap::Kofi => {
                let data = kofi::payload(body).map_err(unverified)?;
                if !self.check.token(&data) {
                    return Err(Verdict::Unauthorized);
                }
                let payment = kofi::decode(&data).map_err(Verdict::Malformed)?;
                let event = kofi::event(&payment, &target).map_err(Verdict::Malformed)?;
                Ok(Decoded {
                    id: payment.message_id,
                    event,
                })
            }
        }
    }
}

/// The declared hooks of a run.
pub struct Hooks {
    hooks: BTreeMap<String, Hook>,
    pub stats: HookStats,
    /// Delivery ids accepted, per hook (loaded from the store once, before the first delivery).
    seen: Mutex<HashSet<(String, String)>>,
    loaded: tokio::sync::OnceCell<()>,
    /// The pipeline's parts while it takes events; `None` before it starts and after it stops.
    door: Mutex<Option<RunParts>>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("hooks", &self.hooks.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Hooks {
    /// The hooks system.json declares, their secrets resolved from `secrets`. A hook whose secret
    /// is not set, or whose creator is unknown, stops the run here with what to fix.
    pub fn from_config(config: &Config, secrets: &Secrets) -> anyhow::Result<Hooks> {
        let mut hooks = BTreeMap::new();
        for (name, settings) in &config.system.hooks {
            let env = settings.verify.secret_env();
            let secret = secrets.get(env).ok_or_else(|| {
                anyhow::anyhow!(
                    "system.json hooks.{name}.verify.secret_env names {env}, which is not set\n  hint: export {env}=<the secret or token the service was given> (or put it in the root's .env)"
                )
            })?;
            let creator = config.creators.get(&settings.creator).ok_or_else(|| {
                anyhow::anyhow!(
                    "system.json hooks.{name}.creator {:?} is not a creator of creators.json",
                    settings.creator
                )
            })?;
            let channel = creator
                .platforms
                .channel(settings.platform)
                .unwrap_or_else(|| creator.id.clone());
            hooks.insert(
                name.clone(),
                Hook {
                    name: name.clone(),
                    settings: settings.clone(),
                    check: verify::Check::new(settings.verify.clone(), secret),
                    channel,
                },
            );
        }
        Ok(Hooks::of(hooks))
    }

    /// No hooks: a role that runs no sources (`ss run --role evaluate|export`).
    pub fn none() -> Hooks {
        Hooks::of(BTreeMap::new())
    }

    fn of(hooks: BTreeMap<String, Hook>) -> Hooks {
        Hooks {
            hooks,
            stats: HookStats::default(),
            seen: Mutex::default(),
            loaded: tokio::sync::OnceCell::new(),
            door: Mutex::default(),
        }
    }

    /// Whether any hook is declared.
    pub fn is_empty(&self) -> bool {
        self.hooks.is_empty()
    }

    /// The largest body `hook` takes; `None` for no such hook.
    pub fn max_body_bytes(&self, hook: &str) -> Option<usize> {
        self.hooks.get(hook).map(|h| h.settings.max_body_bytes)
    }

    /// Counts a body over the limit (the route answers 413 before reading it all).
    pub fn too_large(&self, hook: &str) {
        self.stats.update(hook, |c| c.too_large += 1);
    }

    /// Starts handing events to the pipeline.
    pub fn open(&self, run: &RunParts) {
        *lock(&self.door) = Some(run.clone());
    }

    /// Stops handing events over (lets go of the lane's sink so the lane can close).
    pub fn close(&self) {
        lock(&self.door).take();
    }

    /// Reads the delivery ids earlier runs accepted within [`KEEP`], once.
    async fn load_kept(&self, door: &RunParts, now: chrono::DateTime<chrono::Utc>) {
        self.loaded
            .get_or_init(|| async {
                let since = (now - KEEP).timestamp_millis();
                for name in self.hooks.keys() {
                    let kept = door.deliveries.recent(&source(name), since).await;
                    let mut seen = lock(&self.seen);
                    for id in kept {
                        seen.insert((name.clone(), id));
                    }
                }
            })
            .await;
    }

    /// Verifies, decodes, dedupes and forwards one delivery to hook `name`.
    pub async fn receive(
        &self,
        name: &str,
        header: impl Fn(&str) -> Option<String>,
        body: &[u8],
    ) -> Verdict {
        let Some(hook) = self.hooks.get(name) else {
            return Verdict::NotFound;
        };
        let verdict = self.deliver(hook, header, body).await;
        self.stats.update(name, |c| match &verdict {
            Verdict::Accepted => c.accepted += 1,
            Verdict::Duplicate => c.duplicates += 1,
            Verdict::Unauthorized => c.unauthorized += 1,
            Verdict::Malformed(_) => c.malformed += 1,
            Verdict::Unavailable => c.unavailable += 1,
            Verdict::NotFound => {}
        });
        verdict
    }

    async fn deliver(
        &self,
        hook: &Hook,
        header: impl Fn(&str) -> Option<String>,
        body: &[u8],
    ) -> Verdict {
        if !hook.check.signature(header, body) {
            return Verdict::Unauthorized;
        }
        let received = chrono::Utc::now();
        let Decoded { id, mut event } = match hook.decode(body, received) {
            Ok(decoded) => decoded,
            Err(verdict) => return verdict,
        };
        let Some(door) = lock(&self.door).clone() else {
            return Verdict::Unavailable;
        };
        self.load_kept(&door, received).await;
        let key = (hook.name.clone(), id);
        if lock(&self.seen).contains(&key) {
            return Verdict::Duplicate;
        }
        crate::sources::check_wire(&door.guards, &door.wire, &mut event, received);
        match door.sink.send(event).await {
            SendOutcome::Accepted => {
                let at_ms = received.timestamp_millis();
                door.deliveries
                    .accepted(
                        &source(&hook.name),
                        key.1.clone(),
                        at_ms,
                        at_ms - KEEP.num_milliseconds(),
                    )
                    .await;
                lock(&self.seen).insert(key);
                Verdict::Accepted
            }
            SendOutcome::Shed | SendOutcome::Dropped | SendOutcome::Closed => Verdict::Unavailable,
        }
    }
}

/// The name a hook's delivery ids are kept under in the store.
fn source(hook: &str) -> String {
    format!("hook:{hook}")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain data behind the lock; a panic elsewhere leaves it usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
