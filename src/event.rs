//! The `ChatEvent` contract: the one shape every source produces.
//!
//! Twitch IRC lines, YouTube poll pages, Kick Pusher frames, Rumble payloads and the sim source all
//! normalize into [`ChatEvent`]. Everything downstream (dedupe, the chat log, triggers, exports, replay
//! pages and overlays) reads only this type, so it is plain serde data with a JSON Schema of its own
//! (`schemas/chat_event.schema.json`). Keep it stable: it is the unified chat message contract.

pub mod detail;
mod extras;
mod live;
pub mod person;
mod platform;
pub mod tick;
pub mod wire_checks;

pub use compact_str::CompactString;
pub use detail::{
    EventDetail, Membership, MembershipKind, Money, OtherEvent, Raid, Redemption, StreamChange,
    SubKind, SubTier, Subscription, UserRef,
};
pub use extras::Extras;
pub use live::LiveStream;
pub use person::Account;
pub use platform::{
    EmoteImages, Platform, PlatformInfo, PlatformSet, RegisteredPlatform, UnknownPlatform,
    register_platforms_in_schema,
};
pub use tick::{Tick, cause_id, id_of_cause};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A 64-bit key for a (platform, id) pair: message ids in the dedupe window, user ids in cooldowns.
/// Stable within a process (one seed, drawn at the first use), so equal pairs always meet; never
/// stored, so another process's keys need not agree. foldhash's quality variant: a fraction of
/// SipHash's cost on short ids (SipHash was a tenth of the run loop's time at full speed), and
/// seeded at random, so chat cannot aim two ids at one key to have a message taken as a duplicate.
pub fn platform_id_hash(platform: Platform, id: &str) -> u64 {
    process_key((platform, id))
}

/// A 64-bit key for any value, on [`platform_id_hash`]'s terms: one random seed per process, so
/// equal values meet within the process and chat cannot aim two values at one key. For per-message
/// lookups whose keys are never stored (message ids, a creator's users).
pub fn process_key(value: impl std::hash::Hash) -> u64 {
    use std::hash::BuildHasher;
    static SEED: std::sync::LazyLock<foldhash::quality::RandomState> =
        std::sync::LazyLock::new(foldhash::quality::RandomState::default);
    SEED.hash_one(value)
}

/// The hasher of maps consulted for every chat message (per-person points, trend words): SipHash
/// costs several times more on short keys. Seeded per process, so chat cannot aim collisions.
pub type FastHasher = foldhash::fast::RandomState;

/// Roles a chat author holds, ordered from least to most privileged.
///
/// Trigger permissions compare against an author's highest role.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    Everyone,
    Subscriber,
    Vip,
    Moderator,
    Broadcaster,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Everyone,
        Role::Subscriber,
        Role::Vip,
        Role::Moderator,
        Role::Broadcaster,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Everyone => "everyone",
            Role::Subscriber => "subscriber",
            Role::Vip => "vip",
            Role::Moderator => "moderator",
            Role::Broadcaster => "broadcaster",
        }
    }
}

/// The roles an author holds in the channel the message was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Roles {
    #[serde(default)]
    pub broadcaster: bool,
    #[serde(default)]
    pub moderator: bool,
    #[serde(default)]
    pub vip: bool,
    #[serde(default)]
    pub subscriber: bool,
}

impl Roles {
    /// The most privileged role held; `Everyone` when none.
    pub fn highest(&self) -> Role {
        if self.broadcaster {
            Role::Broadcaster
        } else if self.moderator {
            Role::Moderator
        } else if self.vip {
            Role::Vip
        } else if self.subscriber {
            Role::Subscriber
        } else {
            Role::Everyone
        }
    }
}

/// Who sent a message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Author {
    /// The platform's stable user id (Twitch `user-id`, YouTube channel id, ...).
    pub id: CompactString,
    /// The login / handle, lowercase where the platform has one.
    pub login: CompactString,
    /// The name shown in chat.
    pub display_name: CompactString,
    #[serde(default)]
    pub roles: Roles,
}

impl Author {
    /// A viewer without roles whose id, login and display name are all `login`.
    pub fn viewer(login: &str) -> Author {
        Author {
            id: login.into(),
            login: login.into(),
            display_name: login.into(),
            roles: Roles::default(),
        }
    }
}

/// What happened. Chat messages are by far the most common; the rest are stream events (with typed
/// fields in [`ChatEvent::detail`]) and moderation or room changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// An ordinary chat message (including `/me` actions, flagged in extras).
    #[default]
    Message,
    /// A subscription: new, renewed, gifted, a community gift, an upgrade ([`Subscription`]).
    /// Stores written before stream events had kinds of their own say `sub`, `resub` or
    /// `sub_gift`; they read back as this.
    #[serde(alias = "sub", alias = "resub", alias = "sub_gift")]
    Subscription,
    /// Bits cheered in a Twitch message ([`Money`]).
    Cheer,
    /// A YouTube Super Chat or Super Sticker ([`Money`]).
    SuperChat,
    /// Money or platform currency sent otherwise: a Kick tip, a Rumble rant ([`Money`]). Older
    /// stores say `donation`.
    #[serde(alias = "donation")]
    Tip,
    /// Another channel raided this one ([`Raid`]).
    Raid,
    /// Another channel hosts this one ([`Raid`]).
    Host,
    /// A new follower.
    Follow,
    /// A channel point (or platform reward) redemption ([`Redemption`]).
    Redemption,
    /// A YouTube channel membership event ([`Membership`]).
    Membership,
    /// The stream went live ([`StreamChange`]).
    StreamOnline,
    /// The stream ended ([`StreamChange`]).
    StreamOffline,
    /// A highlighted announcement.
    Announcement,
    /// A single message was deleted by a moderator.
    Deletion,
    /// A user was timed out (temporary ban).
    Timeout,
    /// A user was banned.
    Ban,
    /// The whole chat was cleared.
    ChatClear,
    /// Room settings changed (slow mode, followers-only, ...).
    RoomState,
    /// A server notice addressed to the channel or the bot.
    Notice,
    /// A platform event without a dedicated kind ([`OtherEvent`] names it).
    Other,
}

impl EventKind {
    pub const ALL: [EventKind; 20] = [
        EventKind::Message,
        EventKind::Subscription,
        EventKind::Cheer,
        EventKind::SuperChat,
        EventKind::Tip,
        EventKind::Raid,
        EventKind::Host,
        EventKind::Follow,
        EventKind::Redemption,
        EventKind::Membership,
        EventKind::StreamOnline,
        EventKind::StreamOffline,
        EventKind::Announcement,
        EventKind::Deletion,
        EventKind::Timeout,
        EventKind::Ban,
        EventKind::ChatClear,
        EventKind::RoomState,
        EventKind::Notice,
        EventKind::Other,
    ];

    /// Parses the snake_case name (and the names older stores used, see the variants); `None` for
    /// anything else.
    pub fn from_name(name: &str) -> Option<EventKind> {
        match name {
            "sub" | "resub" | "sub_gift" => Some(EventKind::Subscription),
            "donation" => Some(EventKind::Tip),
            _ => EventKind::ALL.into_iter().find(|k| k.as_str() == name),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Message => "message",
            EventKind::Subscription => "subscription",
            EventKind::Cheer => "cheer",
            EventKind::SuperChat => "super_chat",
            EventKind::Tip => "tip",
            EventKind::Raid => "raid",
            EventKind::Host => "host",
            EventKind::Follow => "follow",
            EventKind::Redemption => "redemption",
            EventKind::Membership => "membership",
            EventKind::StreamOnline => "stream_online",
            EventKind::StreamOffline => "stream_offline",
            EventKind::Announcement => "announcement",
            EventKind::Deletion => "deletion",
            EventKind::Timeout => "timeout",
            EventKind::Ban => "ban",
            EventKind::ChatClear => "chat_clear",
            EventKind::RoomState => "room_state",
            EventKind::Notice => "notice",
            EventKind::Other => "other",
        }
    }
}

/// The emotes of one message. Most messages carry none, one or two, which live inside the event.
pub type Emotes = smallvec::SmallVec<[Emote; 2]>;

/// An emote inside the message text, located by inclusive Unicode code-point indices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Emote {
    pub id: CompactString,
    pub start: u32,
    pub end: u32,
}

/// One normalized chat event.
///
/// Strings are [`CompactString`]s: ids, logins, names and short messages (up to 24 bytes) live inside
/// the event instead of in a heap allocation each, which is most of what building an event costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatEvent {
    pub platform: Platform,
    /// The StreamSuites creator id whose source received it.
    pub creator: CompactString,
    /// The platform channel (Twitch channel login, YouTube live chat id, Kick slug, ...).
    pub channel: CompactString,
    /// The platform's message id; unique per platform, the dedupe key.
    pub message_id: CompactString,
    /// When the platform says the event happened (UTC). Triggers use it as their clock.
    pub timestamp: DateTime<Utc>,
    pub kind: EventKind,
    pub author: Author,
    /// The message text, unescaped. Empty for events without user text.
    #[serde(default)]
    pub text: CompactString,
    #[serde(default, skip_serializing_if = "Emotes::is_empty")]
    pub emotes: Emotes,
    /// The typed fields of a stream event (months, amount, viewers, reward, ...); `None` for chat
    /// messages and for events whose platform sends nothing more than the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Box<EventDetail>>,
    /// Platform-specific details that have no common field (badge info, room settings, ...).
    #[serde(default, skip_serializing_if = "Extras::is_empty")]
    pub extras: Extras,
    /// Set when the event reached this channel's chat from another channel (Twitch's shared chat):
    /// that channel's login. Triggers ignore such events unless they ask for them
    /// (`"shared_chat": true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_from: Option<CompactString>,
}

/// The id prefix of an operator's command ([`ChatEvent::operator`]).
pub const OPERATOR_ID_PREFIX: &str = "control-";

/// The JSON Schema of [`ChatEvent`] (`schemas/chat_event.schema.json`), for consumers and tests.
pub const CHAT_EVENT_SCHEMA: &str = include_str!("../schemas/chat_event.schema.json");

impl ChatEvent {
    /// A plain chat message from `author`: the one starting point for events built by hand (tests,
    /// benchmarks, examples); change the fields that matter from there.
    pub fn message(
        platform: Platform,
        creator: &str,
        message_id: &str,
        timestamp: DateTime<Utc>,
        author: Author,
        text: &str,
    ) -> ChatEvent {
        ChatEvent {
            platform,
            creator: creator.into(),
            channel: creator.into(),
            message_id: message_id.into(),
            timestamp,
            kind: EventKind::Message,
            author,
            text: text.into(),
            emotes: Emotes::new(),
            detail: None,
            extras: Extras::new(),
            shared_from: None,
        }
    }

    /// This event with its kind and typed detail set: the one way stream events are built.
    pub fn with_detail(mut self, kind: EventKind, detail: EventDetail) -> ChatEvent {
        self.kind = kind;
        self.detail = Some(Box::new(detail));
        self
    }

    /// A command an operator gave through the control API, as if said in the creator's chat on
    /// `platform` by `author` (a moderator, or the broadcaster for an owner): it goes through the
    /// data lane and the triggers like chat, and is recorded, so `ss replay` sees it too. Its id
    /// starts with [`OPERATOR_ID_PREFIX`]; its channel is empty (the creator's own).
    pub fn operator(
        platform: Platform,
        creator: &str,
        message_id: &str,
        timestamp: DateTime<Utc>,
        author: Author,
        text: &str,
    ) -> ChatEvent {
        debug_assert!(message_id.starts_with(OPERATOR_ID_PREFIX));
        let mut event = ChatEvent::message(platform, creator, message_id, timestamp, author, text);
        event.channel = CompactString::default();
        event
    }

    /// Whether an operator gave it through the control API (not a platform).
    pub fn is_operator(&self) -> bool {
        self.message_id.starts_with(OPERATOR_ID_PREFIX)
    }

    /// Whether a reply can be threaded under it on its platform: a chat message the platform
    /// delivered, never a stream event, a tick or an operator's command (the platform never saw it).
    pub fn can_be_replied_to(&self) -> bool {
        self.kind == EventKind::Message && !self.is_operator()
    }

    /// The event time as Unix milliseconds.
    pub fn timestamp_ms(&self) -> i64 {
        self.timestamp.timestamp_millis()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_role_prefers_the_most_privileged() {
        let roles = Roles {
            subscriber: true,
            moderator: true,
            ..Roles::default()
        };
        assert_eq!(roles.highest(), Role::Moderator);
        assert_eq!(Roles::default().highest(), Role::Everyone);
    }

    #[test]
    fn sim_events_of_every_kind_match_the_published_schema() {
        use crate::sources::sim::SimChat;
        use crate::sources::sim::SimSettings;
        let schema: serde_json::Value = serde_json::from_str(CHAT_EVENT_SCHEMA).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let mut chat = SimChat::new("demo", "demo", &SimSettings::default(), "t");
        let mut kinds = std::collections::HashSet::new();
        for _ in 0..5000 {
            let event = chat.next_event(chrono::Utc::now());
            kinds.insert(event.kind);
            let json = serde_json::to_value(&event).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&json)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{json}: {errors:?}");
            let back: ChatEvent = serde_json::from_value(json).unwrap();
            assert_eq!(back, event);
        }
        assert!(kinds.len() >= 4, "{kinds:?}");
        let bad = serde_json::json!({"platform": "myspace"});
        assert!(validator.iter_errors(&bad).next().is_some());
    }

    #[test]
    fn platform_names_round_trip() {
        for &p in Platform::all() {
            assert_eq!(Platform::from_name(p.as_str()), Some(p));
        }
        assert_eq!(Platform::from_name("myspace"), None);
        for k in EventKind::ALL {
            assert_eq!(EventKind::from_name(k.as_str()), Some(k));
            let json = serde_json::to_value(k).unwrap();
            assert_eq!(json, k.as_str(), "serde and as_str agree");
        }
    }

    #[test]
    fn platform_sets_hold_exactly_what_was_put_in() {
        let named = |n: &str| Platform::from_name(n).unwrap();
        let set: PlatformSet = [named("kick"), named("sim")].into_iter().collect();
        for &p in Platform::all() {
            assert_eq!(set.contains(p), ["kick", "sim"].contains(&p.as_str()));
            assert!(PlatformSet::ALL.contains(p));
        }
        assert!(!PlatformSet::none().contains(named("kick")));
    }

    #[test]
    fn platforms_are_listed_in_export_order_with_unique_names_and_serde_as_their_name() {
        let names: Vec<&str> = Platform::all().iter().map(|p| p.as_str()).collect();
        assert_eq!(
            names,
            ["twitch", "youtube", "kick", "rumble", "pilled", "sim"],
            "the built-in platforms, in the order exports list them"
        );
        for &p in Platform::all() {
            assert!(
                p.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{p}"
            );
            let json = serde_json::to_value(p).unwrap();
            assert_eq!(json, p.as_str());
            assert_eq!(serde_json::from_value::<Platform>(json).unwrap(), p);
        }
        let err = serde_json::from_value::<Platform>(serde_json::json!("myspace")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown platform \"myspace\"; known platforms: twitch, youtube, kick, rumble, pilled, sim"
        );
    }

    #[test]
    fn equal_names_are_equal_platforms_whatever_the_pointer() {
        static COPY: PlatformInfo = PlatformInfo {
            name: "kick",
            title: "Kick",
            rank: 20,
            colour: None,
            emotes: None,
        };
        let kick = Platform::from_name("kick").unwrap();
        let copy = Platform::new(&COPY);
        assert_eq!(copy, kick);
        assert_eq!(platform_id_hash(copy, "m"), platform_id_hash(kick, "m"));
        assert!(Platform::from_name("twitch").unwrap() < kick);
    }
}
