//! Every name the bus uses on the server, derived from `stream_prefix`, and the shard of a creator.
//!
//! The publisher computes the shard (FNV-1a 32 of the creator id, mod the shard count), so the
//! server needs no subject mapping: the same numbers as the server's own `{{partition(N,k)}}`
//! would give, which the tests check against values the server produced.

use crate::event::Platform;

/// Names of the streams, subjects, consumers and bucket of one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    prefix: String,
}

impl Names {
    pub fn new(prefix: &str) -> Names {
        Names {
            prefix: prefix.to_owned(),
        }
    }

    /// The stream of accepted chat and stream events.
    pub fn events_stream(&self) -> String {
        format!("{}_EVENTS", self.prefix.to_uppercase())
    }

    /// The stream of effects the evaluators ask ingest to carry out (replies, moderation).
    pub fn effects_stream(&self) -> String {
        format!("{}_EFFECTS", self.prefix.to_uppercase())
    }

    /// The KV bucket of shard leases and evaluator members.
    pub fn leases_bucket(&self) -> String {
        format!("{}_leases", self.prefix)
    }

    /// The KV bucket of notifications claimed by an evaluator (sent once across owners).
    /// The object store bucket of shard snapshots.
    pub fn snapshots_bucket(&self) -> String {
        format!("{}_snapshots", self.prefix)
    }

    pub fn sent_bucket(&self) -> String {
        format!("{}_sent", self.prefix)
    }

    /// The durable consumer an ingest reads effects with: `<prefix>-ingest`, or
    /// `<prefix>-ingest-<name>` for a named one of several.
    pub fn ingest_consumer(&self, name: Option<&str>) -> String {
        match name {
            None => format!("{}-ingest", self.prefix),
            Some(name) => format!("{}-ingest-{name}", self.prefix),
        }
    }

    /// `<prefix>.ev.<shard>.<platform>.<creator>`
    pub fn event_subject(&self, shard: u32, platform: Platform, creator: &str) -> String {
        format!(
            "{}.ev.{shard}.{}.{}",
            self.prefix,
            platform.as_str(),
            subject_token(creator)
        )
    }

    /// `<prefix>.ev.<shard>.tick`: a round of the clock's ticks of the shard's creators, beside
    /// their events (no platform is called [`TICK_TOKEN`]).
    pub fn tick_subject(&self, shard: u32) -> String {
        format!("{}.ev.{shard}.{TICK_TOKEN}", self.prefix)
    }

    /// Every round of ticks of every shard.
    pub fn ticks_filter(&self) -> String {
        format!("{}.ev.*.{TICK_TOKEN}", self.prefix)
    }

    /// Whether a subject of the events stream carries a tick rather than an event.
    pub fn is_tick_subject(&self, subject: &str) -> bool {
        self.kind_token(subject) == Some(TICK_TOKEN)
    }

    /// `<prefix>.ev.<shard>.clip`: a state change of a clip ingest made for one of the shard's
    /// creators (no platform is called [`CLIP_TOKEN`]).
    pub fn clip_subject(&self, shard: u32) -> String {
        format!("{}.ev.{shard}.{CLIP_TOKEN}", self.prefix)
    }

    /// Every clip state change of every shard.
    pub fn clips_filter(&self) -> String {
        format!("{}.ev.*.{CLIP_TOKEN}", self.prefix)
    }

    /// Whether a subject of the events stream carries a clip's state change.
    pub fn is_clip_subject(&self, subject: &str) -> bool {
        self.kind_token(subject) == Some(CLIP_TOKEN)
    }

    /// The token after the shard in a subject of the events stream: a platform, or what else
    /// travels there.
    fn kind_token<'s>(&self, subject: &'s str) -> Option<&'s str> {
        subject
            .strip_prefix(&self.prefix)
            .and_then(|rest| rest.strip_prefix(".ev."))
            .and_then(|rest| rest.split('.').nth(1))
    }

    /// Every event of one shard.
    pub fn shard_filter(&self, shard: u32) -> String {
        format!("{}.ev.{shard}.>", self.prefix)
    }

    /// Every event.
    pub fn events_filter(&self) -> String {
        format!("{}.ev.>", self.prefix)
    }

    /// `<prefix>.fx.<shard>`
    pub fn effect_subject(&self, shard: u32) -> String {
        format!("{}.fx.{shard}", self.prefix)
    }

    /// Every effect.
    pub fn effects_filter(&self) -> String {
        format!("{}.fx.>", self.prefix)
    }
}

/// The token in place of the platform in a tick's subject.
pub const TICK_TOKEN: &str = "tick";

/// The token in place of the platform in a clip state change's subject.
pub const CLIP_TOKEN: &str = "clip";

/// The KV key of a shard's lease.
pub fn lease_key(shard: u32) -> String {
    format!("shard-{shard}")
}

/// The KV key an evaluator announces itself under.
pub fn member_key(owner: &str) -> String {
    let safe: String = owner
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("member-{safe}")
}

/// FNV-1a 32 of `text`: a short, stable digest for ids.
pub fn digest(text: &str) -> u32 {
    fnv1a32(text.as_bytes())
}

/// The shard of a creator: FNV-1a 32 of the id, mod `shards`.
pub fn shard_of(creator: &str, shards: u32) -> u32 {
    fnv1a32(creator.as_bytes()) % shards.max(1)
}

fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in bytes {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// A subject token: characters NATS gives a meaning to (`.`, `*`, `>`, spaces) become `_`. The
/// token is for people reading subjects; routing uses the shard number.
fn subject_token(text: &str) -> String {
    let token: String = text
        .chars()
        .map(|c| match c {
            '.' | '*' | '>' | ' ' | '\t' | '\r' | '\n' => '_',
            c => c,
        })
        .collect();
    if token.is_empty() { "_".into() } else { token }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_match_the_servers_own_partition_mapping() {
        // What nats-server's `{{partition(8,2)}}` mapped these creator tokens to (2.9.10 and 2.15.1).
        for (creator, shard) in [("123", 3), ("456", 4), ("789", 1), ("1000", 4), ("42", 3)] {
            assert_eq!(shard_of(creator, 8), shard, "creator {creator}");
        }
    }

    #[test]
    fn subjects_keep_one_token_per_part() {
        let names = Names::new("ss");
        assert_eq!(
            names.event_subject(3, crate::sources::twitch::platform::TWITCH, "a.b *c>"),
            "ss.ev.3.twitch.a_b__c_"
        );
        assert_eq!(names.tick_subject(3), "ss.ev.3.tick");
        assert!(names.is_tick_subject(&names.tick_subject(0)));
        assert!(!names.is_tick_subject("ss.ev.0.twitch.tick"));
        assert!(!names.is_tick_subject("other.ev.0.tick"));
        assert!(names.is_clip_subject(&names.clip_subject(3)));
        assert!(!names.is_clip_subject(&names.tick_subject(3)));
        assert!(!names.is_tick_subject(&names.clip_subject(3)));
        assert!(!names.is_clip_subject("ss.ev.3.twitch.clip"));
        assert_eq!(names.events_stream(), "SS_EVENTS");
        assert_eq!(names.shard_filter(5), "ss.ev.5.>");
        assert_eq!(member_key("host:1.2"), "member-host_1_2");
    }
}
