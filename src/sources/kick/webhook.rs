//! Kick's official webhooks: signature verification and the way a delivery reaches the data lane.
//!
//! Kick signs `"{Kick-Event-Message-Id}.{Kick-Event-Message-Timestamp}.{raw body}"` with RSA
//! PKCS#1 v1.5 over SHA-256 and sends the signature in base64 (`Kick-Event-Signature`). The key is
//! Kick's published one unless platforms.json `kick.webhook_public_key_file` names another PEM.
//!
//! A [`WebhookReceiver`] checks the signature before anything else (a bad one is refused and
//! nothing is recorded), parses the body, finds the creator whose `kick` block names the
//! broadcaster, normalizes the event with the same code as the Pusher path ([`wire`]), passes it
//! through the same wire checks, and hands it to the same data lane, so the Core's dedupe by
//! (platform, message id) counts a chat message once whether Pusher, the webhook or both
//! delivered it. `Kick-Event-Message-Id` is the idempotency key of Kick's retries: a delivery id
//! already accepted is answered without sending the event again (and events without their own id
//! carry it, so even a retry after a restart dedupes in the Core).
//!
//! A delivery signed more than [`REPLAY_WINDOW`] ago (by `Kick-Event-Message-Timestamp`, which the
//! signature covers) is refused as a replay, and the ids of accepted deliveries are kept for that
//! window in the store (`RunParts::deliveries`), read back before the first delivery of a run, so a
//! captured delivery sent again after a restart is refused too.
//!
//! The receiver is open only while `ss run` runs its pipeline: its [`Door`] (a clone of the data
//! lane's sink) is dropped at shutdown so the lane can close.

use super::KICK;
use super::wire::{self, Delivery, Target};
use crate::event::wire_checks::WireLimits;
use crate::guards::{Guard, Guards};
use crate::lanes::{EventSink, SendOutcome};
use crate::sources::registry::DeliveryLog;
use base64::Engine;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use tokio_rustls::rustls::pki_types::SubjectPublicKeyInfoDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

/// Kick's published webhook signing key (docs.kick.com, "Webhook Security").
pub const PUBLISHED_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAq/+l1WnlRrGSolDMA+A8
6rAhMbQGmQ2SapVcGM3zq8ANXjnhDWocMqfWcTd95btDydITa10kDvHzw9WQOqp2
MZI7ZyrfzJuz5nhTPCiJwTwnEtWft7nV14BYRDHvlfqPUaZ+1KR4OCaO/wWIk/rQ
L/TjY0M70gse8rlBkbo2a8rKhu69RQTRsoaf4DVhDPEeSeI5jVrRDGAMGL3cGuyY
6CLKGdjVEM78g3JfYOvDU/RvfqD7L89TZ3iN94jrmWdGz34JNlEI5hqK8dd7C5EF
BEbZ5jgB8s8ReQV8H+MkuffjdAj3ajDDX3DOJMIut1lBrUVD1AaSrGCKHooWoL2e
twIDAQAB
-----END PUBLIC KEY-----
";

/// The largest body accepted (the route answers 413 above it).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How many delivery ids are remembered for idempotency (oldest forgotten first).
const RECENT_DELIVERIES: usize = 4096;

/// An RSA public key that verifies Kick's signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookKey {
    /// The PKCS#1 `RSAPublicKey` inside the PEM's SubjectPublicKeyInfo.
    rsa_public_key: Vec<u8>,
}

/// The content of one DER element at the start of `input`: (tag, content, rest).
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The DER of the rsaEncryption algorithm id (1.2.840.113549.1.1.1).
const RSA_ENCRYPTION_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

impl WebhookKey {
    /// Reads a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) holding an RSA key.
    pub fn from_pem(pem: &str) -> Result<WebhookKey, String> {
        let spki = SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| format!("no PEM PUBLIC KEY block ({e})"))?;
        let not_rsa =
            || "not an RSA public key (SubjectPublicKeyInfo with rsaEncryption)".to_owned();
        let (0x30, body, _) = der_element(spki.as_ref()).ok_or_else(not_rsa)? else {
            return Err(not_rsa());
        };
        let (0x30, algorithm, rest) = der_element(body).ok_or_else(not_rsa)? else {
            return Err(not_rsa());
        };
        let (0x06, oid, _) = der_element(algorithm).ok_or_else(not_rsa)? else {
            return Err(not_rsa());
        };
        if oid != RSA_ENCRYPTION_OID {
            return Err(not_rsa());
        }
        let (0x03, bits, _) = der_element(rest).ok_or_else(not_rsa)? else {
            return Err(not_rsa());
        };
        match bits.split_first() {
            Some((0, key)) if !key.is_empty() => Ok(WebhookKey {
                rsa_public_key: key.to_vec(),
            }),
            _ => Err(not_rsa()),
        }
    }

    /// Kick's published key.
    pub fn published() -> WebhookKey {
        WebhookKey::from_pem(PUBLISHED_KEY_PEM).expect("the published key is a valid RSA key")
    }

    /// Whether `signature_b64` signs `"{message_id}.{timestamp}.{body}"` with this key.
    pub fn verify(
        &self,
        message_id: &str,
        timestamp: &str,
        body: &[u8],
        signature_b64: &str,
    ) -> bool {
        let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(signature_b64.trim())
        else {
            return false;
        };
        let mut signed = Vec::with_capacity(message_id.len() + timestamp.len() + body.len() + 2);
        signed.extend_from_slice(message_id.as_bytes());
        signed.push(b'.');
        signed.extend_from_slice(timestamp.as_bytes());
        signed.push(b'.');
        signed.extend_from_slice(body);
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            &self.rsa_public_key,
        )
        .verify(&signed, &signature)
        .is_ok()
    }
}

/// A creator's Kick channel as the webhooks name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookChannel {
    pub creator: String,
    pub slug: String,
    pub broadcaster_user_id: Option<u64>,
}

/// Where accepted events go: the data lane, checked like every source's events; and where the
/// accepted delivery ids are kept across restarts.
#[derive(Clone)]
pub struct Door {
    pub sink: EventSink,
    pub guards: Arc<Guards>,
    pub wire: WireLimits,
    pub deliveries: Arc<dyn DeliveryLog>,
}

impl std::fmt::Debug for Door {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Door")
            .field("wire", &self.wire)
            .finish_non_exhaustive()
    }
}

/// How old a delivery may be, by its signed `Kick-Event-Message-Timestamp`: older ones are refused
/// (a captured delivery sent again), and the ids of accepted ones are kept this long.
pub const REPLAY_WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(10);
/// How far in the future a delivery's timestamp may be (clocks differ a little).
pub const FUTURE_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// The headers of one delivery (absent ones as `None`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Headers<'a> {
    pub message_id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub event_type: Option<&'a str>,
}

/// What became of a delivery; the route turns it into a status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Handed to the data lane.
    Accepted,
    /// A retry of a delivery already accepted: nothing sent again.
    Duplicate,
    /// For a broadcaster no creator names: acknowledged, not recorded.
    NotOurs,
    /// The signature is missing or does not verify.
    BadSignature,
    /// Signed, but its timestamp is outside the replay window (or not a time): the reason.
    Stale(String),
    /// Signed, but the headers or body are not what a delivery is; the message says what.
    Malformed(String),
    /// The pipeline is not running (starting or stopping), or the lane stayed full: try later.
    Unavailable,
}

/// Bounded memory of accepted delivery ids.
#[derive(Debug, Default)]
struct RecentIds {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl RecentIds {
    fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    fn insert(&mut self, id: &str) {
        if self.set.insert(id.to_owned()) {
            self.order.push_back(id.to_owned());
            if self.order.len() > RECENT_DELIVERIES
                && let Some(old) = self.order.pop_front()
            {
                self.set.remove(&old);
            }
        }
    }
}

/// Receives webhook deliveries for the run's Kick channels.
#[derive(Debug)]
pub struct WebhookReceiver {
    key: WebhookKey,
    channels: Vec<WebhookChannel>,
    seen: Mutex<RecentIds>,
    /// The ids kept in the store from earlier runs, read into `seen` before the first delivery.
    loaded: tokio::sync::OnceCell<()>,
    door: Mutex<Option<Door>>,
    /// Counted before the door opens too (signature failures are counted whenever they come).
    guards: Mutex<Option<Arc<Guards>>>,
}

impl WebhookReceiver {
    pub fn new(key: WebhookKey, channels: Vec<WebhookChannel>) -> WebhookReceiver {
        WebhookReceiver {
            key,
            channels,
            seen: Mutex::default(),
            loaded: tokio::sync::OnceCell::new(),
            door: Mutex::default(),
            guards: Mutex::default(),
        }
    }

    /// Starts handing events to the data lane.
    pub fn open(&self, door: Door) {
        *lock(&self.guards) = Some(door.guards.clone());
        *lock(&self.door) = Some(door);
    }

    /// Stops handing events over (drops the lane's sink so the lane can close).
    pub fn close(&self) {
        lock(&self.door).take();
    }

    fn count(&self, guard: Guard) {
        if let Some(guards) = lock(&self.guards).as_ref() {
            guards.count(guard, 1);
        }
    }

    fn channel_for(&self, body: &wire::WebhookBody) -> Option<&WebhookChannel> {
        self.channels.iter().find(
            |c| match (c.broadcaster_user_id, body.broadcaster_user_id) {
                (Some(ours), Some(theirs)) => ours == theirs,
                _ => body
                    .broadcaster_slug
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(&c.slug)),
            },
        )
    }

    /// Reads the delivery ids earlier runs accepted inside the window into `seen`, once.
    async fn load_kept(&self, door: &Door, now: chrono::DateTime<chrono::Utc>) {
        self.loaded
            .get_or_init(|| async {
                let since = (now - REPLAY_WINDOW).timestamp_millis();
                let kept = door.deliveries.recent(KICK.as_str(), since).await;
                let mut seen = lock(&self.seen);
                for id in &kept {
                    seen.insert(id);
                }
            })
            .await;
    }

    /// Verifies, normalizes and forwards one delivery.
    pub async fn receive(&self, headers: Headers<'_>, body: &[u8]) -> Verdict {
        let (Some(message_id), Some(timestamp), Some(signature)) =
            (headers.message_id, headers.timestamp, headers.signature)
        else {
            self.count(Guard::WebhookBadSignature);
            return Verdict::BadSignature;
        };
        if !self.key.verify(message_id, timestamp, body, signature) {
            self.count(Guard::WebhookBadSignature);
            return Verdict::BadSignature;
        }
        let malformed = |why: String| {
            self.count(Guard::WebhookMalformed);
            Verdict::Malformed(why)
        };
        let Some(event_type) = headers.event_type.filter(|t| !t.is_empty()) else {
            return malformed("the Kick-Event-Type header is missing".into());
        };
        let now = chrono::Utc::now();
        if let Err(why) = within_window(timestamp, now) {
            self.count(Guard::WebhookStale);
            return Verdict::Stale(why);
        }
        let door = lock(&self.door).clone();
        if let Some(door) = &door {
            self.load_kept(door, now).await;
        }
        if lock(&self.seen).contains(message_id) {
            return Verdict::Duplicate;
        }
        let parsed = match wire::parse_webhook_body(body) {
            Ok(parsed) => parsed,
            Err(e) => return malformed(e.to_string()),
        };
        let Some(channel) = self.channel_for(&parsed) else {
            self.count(Guard::ForeignChannelEvent);
            tracing::debug!(
                platform = "kick",
                event_type,
                "Ignored a webhook for a broadcaster no creator names."
            );
            return Verdict::NotOurs;
        };
        let received = chrono::Utc::now();
        let target = Target {
            creator: &channel.creator,
            channel: &channel.slug,
            received,
        };
        let delivery = Delivery {
            message_id,
            event_type,
        };
        let mut event = match wire::decode_webhook(delivery, &parsed, target) {
            Ok(event) => event,
            Err(e) => return malformed(e.to_string()),
        };
        let Some(door) = door else {
            return Verdict::Unavailable;
        };
        crate::sources::check_wire(&door.guards, &door.wire, &mut event, received);
        match door.sink.send(event).await {
            SendOutcome::Accepted => {
                lock(&self.seen).insert(message_id);
                let at_ms = received.timestamp_millis();
                door.deliveries
                    .accepted(
                        KICK.as_str(),
                        message_id.to_owned(),
                        at_ms,
                        at_ms - REPLAY_WINDOW.num_milliseconds(),
                    )
                    .await;
                Verdict::Accepted
            }
            // The lane counted what it shed or dropped; Kick retries the delivery.
            SendOutcome::Shed | SendOutcome::Dropped | SendOutcome::Closed => Verdict::Unavailable,
        }
    }
}

/// The receiver for a run: every enabled creator's Kick channel, and the key platforms.json names
/// (a path relative to `root`) or Kick's published one. `None` when no creator reads Kick.
pub fn receiver_for(
    config: &crate::config::Config,
    root: &std::path::Path,
) -> Result<Option<WebhookReceiver>, String> {
    use super::KickSettings;
    use crate::config::model::PlatformMode;
    if config.platforms.mode(KICK) != PlatformMode::Active {
        return Ok(None);
    }
    let channels: Vec<WebhookChannel> = config
        .creators
        .creators
        .iter()
        .filter(|c| c.enabled)
        .filter_map(|c| {
            let kick = c
                .platforms
                .settings::<KickSettings>(KICK)
                .filter(|k| k.enabled)?;
            Some(WebhookChannel {
                creator: c.id.clone(),
                slug: kick.channel.trim().to_ascii_lowercase(),
                broadcaster_user_id: kick.broadcaster_user_id,
            })
        })
        .collect();
    if channels.is_empty() {
        return Ok(None);
    }
    let endpoints = super::KickEndpoints::from_platform(config.platforms.settings(KICK));
    let key = match &endpoints.webhook_public_key_file {
        None => WebhookKey::published(),
        Some(file) => {
            let path = root.join(file);
            let pem = std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "platforms.json kick.webhook_public_key_file {}: {e}\n  hint: give a PEM file with a PUBLIC KEY block, or remove the setting to use Kick's published key",
                    path.display()
                )
            })?;
            WebhookKey::from_pem(&pem).map_err(|e| {
                format!(
                    "platforms.json kick.webhook_public_key_file {}: {e}\n  hint: Kick's key is at GET https://api.kick.com/public/v1/public-key",
                    path.display()
                )
            })?
        }
    };
    Ok(Some(WebhookReceiver::new(key, channels)))
}

/// Whether a delivery signed at `timestamp` (RFC 3339) is inside the replay window at `now`.
fn within_window(timestamp: &str, now: chrono::DateTime<chrono::Utc>) -> Result<(), String> {
    let at = chrono::DateTime::parse_from_rfc3339(timestamp.trim())
        .map_err(|_| format!("Kick-Event-Message-Timestamp {timestamp:?} is not an RFC 3339 time"))?
        .with_timezone(&chrono::Utc);
    if at < now - REPLAY_WINDOW {
        return Err(format!(
            "signed at {timestamp}, more than {} minutes ago; a delivery that old is refused as a replay",
            REPLAY_WINDOW.num_minutes()
        ));
    }
    if at > now + FUTURE_SKEW {
        return Err(format!(
            "signed at {timestamp}, more than {} minute ahead of this machine's clock",
            FUTURE_SKEW.num_minutes()
        ));
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain data behind the lock; a panic elsewhere leaves it usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_published_key_parses_and_refuses_what_it_did_not_sign() {
        let key = WebhookKey::published();
        assert!(key.rsa_public_key.len() > 256);
        assert!(!key.verify("id", "2025-01-14T16:08:06Z", b"{}", "AAAA"));
        assert!(!key.verify("id", "t", b"{}", "not base64!"));
        assert!(
            WebhookKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .is_err()
        );
        assert!(WebhookKey::from_pem("hello").is_err());
    }

    #[test]
    fn deliveries_outside_the_window_are_refused() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(within_window("2026-12-06T09:55:00Z", now), Ok(()));
        assert_eq!(within_window("2026-12-06T10:00:30+00:00", now), Ok(()));
        let old = within_window("2026-12-06T09:49:59Z", now).unwrap_err();
        assert!(old.contains("more than 10 minutes ago"), "{old}");
        let ahead = within_window("2026-12-06T10:05:00Z", now).unwrap_err();
        assert!(ahead.contains("ahead of this machine's clock"), "{ahead}");
        assert!(within_window("yesterday", now).is_err());
    }

    proptest! {
        #[test]
        fn der_and_signature_checks_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64), sig in ".{0,64}") {
            let _ = der_element(&bytes);
            let _ = WebhookKey::published().verify("a", "b", &bytes, &sig);
        }
    }
}
