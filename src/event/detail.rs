//! [`EventDetail`]: the typed fields of a stream event (a subscription, a cheer, a raid, a
//! redemption, ...), the part of a [`super::ChatEvent`] that triggers read by name.
//!
//! A chat message has no detail. A stream event carries the fields every platform's version of it
//! shares, typed (months as a number, an amount with its currency), so a trigger condition
//! (`"min_viewers": 10`) and a template (`{viewers}`) mean the same thing on Twitch, YouTube, Kick
//! and Rumble. What a platform sends beyond these stays in the event's `extras`, as before.
//!
//! Details are stored as JSON beside the event (the `detail` column) and exported with it, so a
//! recorded event replays with exactly the fields it had live.

use super::CompactString;
use serde::{Deserialize, Serialize};

/// The typed fields of one stream event. The variant names the shape, not the event kind: a
/// Twitch cheer, a YouTube Super Chat and a Kick tip all carry [`Money`]; a raid and a host both
/// carry [`Raid`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventDetail {
    /// A subscription: new, renewed, gifted, a community gift, or an upgrade.
    Subscription(Subscription),
    /// Money or platform currency: bits, a Super Chat or Super Sticker, a Kick tip, a Rumble rant.
    Money(Money),
    /// Viewers brought by another channel (a raid or a host).
    Raid(Raid),
    /// A channel point (or platform reward) redemption.
    Redemption(Redemption),
    /// A YouTube channel membership: new, upgraded, a milestone, gifted or received.
    Membership(Membership),
    /// The stream went online or offline.
    Stream(StreamChange),
    /// A platform event without a dedicated kind, named as the platform names it.
    Other(OtherEvent),
}

/// Field accessors: what a trigger condition or a template reads, whatever the shape that holds it
/// (`None` when this event's shape has no such field, or the platform did not send it).
impl EventDetail {
    /// Viewers a raid or host brought.
    pub fn viewers(&self) -> Option<u64> {
        match self {
            EventDetail::Raid(raid) => Some(raid.viewers),
            _ => None,
        }
    }

    /// Months subscribed, or a member.
    pub fn months(&self) -> Option<u32> {
        match self {
            EventDetail::Subscription(sub) => sub.months,
            EventDetail::Membership(member) => member.months,
            _ => None,
        }
    }

    /// Consecutive months a subscriber shared.
    pub fn streak_months(&self) -> Option<u32> {
        match self {
            EventDetail::Subscription(sub) => sub.streak_months,
            _ => None,
        }
    }

    /// Subscriptions or memberships gifted at once.
    pub fn gift_count(&self) -> Option<u32> {
        match self {
            EventDetail::Subscription(sub) => sub.count,
            EventDetail::Membership(member) => member.count,
            _ => None,
        }
    }

    pub fn subscription(&self) -> Option<&Subscription> {
        match self {
            EventDetail::Subscription(sub) => Some(sub),
            _ => None,
        }
    }

    pub fn money(&self) -> Option<&Money> {
        match self {
            EventDetail::Money(money) => Some(money),
            _ => None,
        }
    }

    pub fn redemption(&self) -> Option<&Redemption> {
        match self {
            EventDetail::Redemption(redemption) => Some(redemption),
            _ => None,
        }
    }

    pub fn membership(&self) -> Option<&Membership> {
        match self {
            EventDetail::Membership(member) => Some(member),
            _ => None,
        }
    }

    /// The title of a stream that went online or offline, when the platform sends it.
    pub fn stream_title(&self) -> Option<&str> {
        match self {
            EventDetail::Stream(change) => change.title.as_deref(),
            _ => None,
        }
    }

    /// The platform's own name of an `other` event.
    pub fn other_name(&self) -> Option<&str> {
        match self {
            EventDetail::Other(other) => Some(&other.event),
            _ => None,
        }
    }
}

/// A platform user named by an event (a gift's recipient, a raider), as the platform identifies
/// them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRef {
    /// The platform's stable user id (may be empty when the platform names only a login).
    pub id: CompactString,
    pub login: CompactString,
    pub display_name: CompactString,
}

/// What kind of subscription event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubKind {
    /// A first subscription.
    New,
    /// A renewed subscription (the author shares their months).
    Resub,
    /// One gifted subscription, to `recipient`.
    Gift,
    /// A community gift: `count` subscriptions gifted at once to the channel's viewers (each
    /// recipient then arrives as its own `gift` carrying the same `community_gift_id`).
    CommunityGift,
    /// A Prime subscription converted to a paid one (Twitch `primepaidupgrade`).
    PrimeUpgrade,
    /// A gifted subscription the recipient continues paying for (Twitch `giftpaidupgrade`).
    GiftUpgrade,
}

/// A subscription tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubTier {
    Prime,
    Tier1,
    Tier2,
    Tier3,
}

impl SubTier {
    /// The tier of a Twitch `sub-plan` value (`Prime`, `1000`, `2000`, `3000`).
    pub fn from_twitch_plan(plan: &str) -> Option<SubTier> {
        match plan {
            "Prime" | "prime" => Some(SubTier::Prime),
            "1000" => Some(SubTier::Tier1),
            "2000" => Some(SubTier::Tier2),
            "3000" => Some(SubTier::Tier3),
            _ => None,
        }
    }

    /// The tier's number as templates show it (`prime`, `1`, `2`, `3`).
    pub fn as_str(self) -> &'static str {
        match self {
            SubTier::Prime => "prime",
            SubTier::Tier1 => "1",
            SubTier::Tier2 => "2",
            SubTier::Tier3 => "3",
        }
    }
}

/// The fields of a subscription event. The subscriber (or the gifter) is the event's author; an
/// anonymous gifter is said so by `anonymous`, never by an empty author alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    pub kind: SubKind,
    /// `None` when the platform does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<SubTier>,
    /// Cumulative months subscribed, when the platform says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<u32>,
    /// Consecutive months, when the subscriber shares them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streak_months: Option<u32>,
    /// Months paid in advance by a gift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gift_months: Option<u32>,
    /// How many subscriptions a community gift gives (1 for a single gift).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Who received a gift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<UserRef>,
    /// The gifter chose to stay anonymous.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
    /// Ties the single gifts of one community gift to it (Twitch `community-gift-id`), so one
    /// burst of gifts can be thanked once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community_gift_id: Option<CompactString>,
}

impl Subscription {
    /// A subscription event of `kind` with every optional field empty; set the ones the wire has.
    pub fn new(kind: SubKind) -> Subscription {
        Subscription {
            kind,
            tier: None,
            months: None,
            streak_months: None,
            gift_months: None,
            count: None,
            recipient: None,
            anonymous: false,
            community_gift_id: None,
        }
    }
}

/// An amount of money or platform currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// The amount in units of `currency` (5.0 for $5.00, 100.0 for 100 bits).
    pub amount: f64,
    /// An ISO 4217 code (`USD`), or the platform currency's name (`bits`, `kicks`).
    pub currency: CompactString,
    /// The amount as the platform shows it (`$5.00`), when it sends one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<CompactString>,
    /// The platform's tier of a paid message (YouTube Super Chat tiers), when it sends one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<u32>,
}

/// Viewers brought by another channel; the raiding channel is the event's author.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raid {
    pub viewers: u64,
}

/// A reward redeemed by the event's author.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redemption {
    pub reward_id: CompactString,
    /// The reward's title, when the platform sends it (Twitch IRC sends only the id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<CompactString>,
    /// Its cost in channel points, when the platform sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<u64>,
    /// What the viewer typed, for rewards that ask (also the event's text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<CompactString>,
}

/// What kind of membership event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MembershipKind {
    New,
    Upgrade,
    Milestone,
    /// The author gifted `count` memberships.
    Gift,
    /// The author received a gifted membership.
    Received,
}

/// A YouTube channel membership event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Membership {
    pub kind: MembershipKind,
    /// The membership level's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<CompactString>,
    /// Months a member, for a milestone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<u32>,
    /// Memberships gifted at once, for a gift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

/// The stream went online or offline.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamChange {
    /// The platform's id of the stream, when it sends one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<CompactString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<CompactString>,
}

/// A platform event with no kind of its own (Twitch `ritual`, `bitsbadgetier`, a new Kick event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtherEvent {
    /// The platform's own name for it (Twitch `msg-id`, Kick's event name, YouTube's type).
    pub event: CompactString,
}
