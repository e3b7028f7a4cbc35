//! EventSub notifications → [`ChatEvent`]s: what each subscription type's `payload.event` means,
//! with the typed kinds every platform shares.
//!
//! | subscription | kind |
//! | --- | --- |
//! | `channel.chat.message` | `message`; `cheer` when it carries `cheer` (bits); `redemption` when sent with a channel points reward |
//! | `channel.chat.notification` | by `notice_type`: `subscription` (sub, resub, gifts, community gifts, upgrades), `raid`, `announcement`, `tip` (a charity donation), else `other` naming it |
//! | `channel.chat.message_delete` | `deletion` (the author is the user whose message went) |
//! | `channel.chat.clear_user_messages` | `other` (`clear_user_messages`; the author is the user whose messages went) |
//! | `channel.follow` v2 | `follow` |
//! | `channel.subscribe`, `channel.cheer`, `channel.raid` | `subscription`, `cheer`, `raid` (used only when the chat subscriptions are not there, see [`super::plan`]) |
//! | `channel.channel_points_custom_reward_redemption.add` | `redemption` (reward id, title, cost, what the viewer typed) |
//! | `stream.online`, `stream.offline` | `stream_online`, `stream_offline`, and the channel's live state |
//!
//! An unknown `notice_type` or subscription type is an `other` event naming it, never an error.
//!
//! **Ids are stable across redelivery**, so the pipeline's dedupe and `ss replay` hold: a chat
//! message or notification is its `message_id` (the same one IRC's `id` tag carries), a deletion
//! `clearmsg-{message_id}` (as IRC's CLEARMSG), a redemption `redemption-{id}`, a stream going
//! online `online-{stream id}`; everything else the delivery's `metadata.message_id`, which Twitch
//! keeps when it sends an event again. The time is the event's own (`followed_at`, `redeemed_at`,
//! `started_at`) when it has one, else the delivery's `message_timestamp`.
//!
//! A message or notice that Twitch's shared chat brings from another channel
//! (`source_broadcaster_user_id` set and not this channel) is marked with that channel
//! ([`ChatEvent::shared_from`]); triggers ignore it unless they ask for shared chat. Emote
//! positions come from the message's fragments, counted in Unicode code points like IRC's.

use super::frames::Notification;
use crate::event::{
    Author, ChatEvent, CompactString, Emote, Emotes, EventDetail, EventKind, Extras, LiveStream,
    Money, OtherEvent, Raid, Redemption, Roles, StreamChange, SubKind, SubTier, Subscription,
    UserRef,
};
use crate::sources::twitch::TWITCH;
use crate::wire::{self, Rfc3339, WireError};
use chrono::{DateTime, Utc};
use compact_str::format_compact;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The login Twitch gives an anonymous gifter (as IRC does).
pub const ANONYMOUS_GIFTER: &str = "ananonymousgifter";
/// The login an anonymous cheer is recorded under.
pub const ANONYMOUS_CHEERER: &str = "ananonymouscheerer";

/// One normalized notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub event: ChatEvent,
    /// The channel went live (`Some(Some(stream))`) or offline (`Some(None)`).
    pub live: Option<Option<LiveStream>>,
}

/// Reads `notification`'s event as its subscription type says, for `creator`.
pub fn normalize(notification: &Notification<'_>, creator: &str) -> Result<Decoded, WireError> {
    let raw = notification.event.get();
    let at = notification.timestamp;
    let delivery = &notification.message_id;
    let what = "an EventSub event";
    let read = |e: WireError| e.within("payload.event");
    let mut live = None;
    let event = match &*notification.subscription_type {
        "channel.chat.message" => {
            chat_message(wire::from_str(what, raw).map_err(read)?, creator, at)
        }
        "channel.chat.notification" => {
            chat_notification(wire::from_str(what, raw).map_err(read)?, creator, at)?
        }
        "channel.chat.message_delete" => {
            let e: MessageDelete<'_> = wire::from_str(what, raw).map_err(read)?;
            let mut event = base(
                creator,
                &e.broadcaster_user_login,
                &format_compact!("clearmsg-{}", e.message_id),
                at,
            );
            event.kind = EventKind::Deletion;
            event.author =
                plain_author(&e.target_user_id, &e.target_user_login, &e.target_user_name);
            event.extras.insert_str("target_msg_id", &e.message_id);
            event
        }
        "channel.chat.clear_user_messages" => {
            let e: ClearUser<'_> = wire::from_str(what, raw).map_err(read)?;
            let mut event = base(creator, &e.broadcaster_user_login, delivery, at);
            event.author =
                plain_author(&e.target_user_id, &e.target_user_login, &e.target_user_name);
            other(event, "clear_user_messages")
        }
        "channel.follow" => {
            let e: Follow<'_> = wire::from_str(what, raw).map_err(read)?;
            let mut event = base(
                creator,
                &e.broadcaster_user_login,
                delivery,
                e.followed_at.0,
            );
            event.kind = EventKind::Follow;
            event.author = plain_author(&e.user_id, &e.user_login, &e.user_name);
            event
        }
        "channel.subscribe" => {
            let e: Subscribe<'_> = wire::from_str(what, raw).map_err(read)?;
            let mut event = base(creator, &e.broadcaster_user_login, delivery, at);
            event.author = plain_author(&e.user_id, &e.user_login, &e.user_name);
            let mut sub = Subscription::new(if e.is_gift {
                SubKind::Gift
            } else {
                SubKind::New
            });
            sub.tier = SubTier::from_twitch_plan(&e.tier);
            if e.is_gift {
                // channel.subscribe names the recipient only.
                sub.recipient = Some(user_ref(&e.user_id, &e.user_login, &e.user_name));
                sub.count = Some(1);
            }
            event.with_detail(EventKind::Subscription, EventDetail::Subscription(sub))
        }
        "channel.cheer" => {
            let e: Cheer<'_> = wire::from_str(what, raw).map_err(read)?;
            let mut event = base(creator, &e.broadcaster_user_login, delivery, at);
            event.author = match (&e.user_id, e.is_anonymous) {
                (Some(id), false) => plain_author(
                    id,
                    e.user_login.as_deref().unwrap_or_default(),
                    e.user_name.as_deref().unwrap_or_default(),
                ),
                _ => Author::viewer(ANONYMOUS_CHEERER),
            };
            event.text = e.message.as_deref().unwrap_or_default().into();
            if e.is_anonymous {
                event.extras.insert_bool("anonymous", true);
            }
            event.with_detail(EventKind::Cheer, bits(e.bits))
        }
        "channel.raid" => {
            let e: ChannelRaid<'_> = wire::from_str(what, raw).map_err(read)?;
            let mut event = base(creator, &e.to_broadcaster_user_login, delivery, at);
            event.author = plain_author(
                &e.from_broadcaster_user_id,
                &e.from_broadcaster_user_login,
                &e.from_broadcaster_user_name,
            );
            event.with_detail(
                EventKind::Raid,
                EventDetail::Raid(Raid { viewers: e.viewers }),
            )
        }
        "channel.channel_points_custom_reward_redemption.add" => {
            let e: RedemptionAdd<'_> = wire::from_str(what, raw).map_err(read)?;
            let mut event = base(
                creator,
                &e.broadcaster_user_login,
                &format_compact!("redemption-{}", e.id),
                e.redeemed_at.0,
            );
            event.author = plain_author(&e.user_id, &e.user_login, &e.user_name);
            let input = e.user_input.as_deref().filter(|i| !i.is_empty());
            event.text = input.unwrap_or_default().into();
            if let Some(status) = &e.status {
                event.extras.insert_str("status", status);
            }
            event.with_detail(
                EventKind::Redemption,
                EventDetail::Redemption(Redemption {
                    reward_id: e.reward.id.as_ref().into(),
                    title: Some(e.reward.title.as_ref().into()),
                    cost: e.reward.cost,
                    input: input.map(Into::into),
                }),
            )
        }
        "stream.online" => {
            let e: StreamOnline<'_> = wire::from_str(what, raw).map_err(read)?;
            let login = &e.broadcaster_user_login;
            let mut event = base(
                creator,
                login,
                &format_compact!("online-{}", e.id),
                e.started_at.0,
            );
            event.author = plain_author(&e.broadcaster_user_id, login, &e.broadcaster_user_name);
            live = Some(Some(LiveStream {
                id: e.id.to_string(),
                started_at: e.started_at.0,
                title: None,
                url: Some(format!("https://www.twitch.tv/{login}")),
            }));
            event.with_detail(
                EventKind::StreamOnline,
                EventDetail::Stream(StreamChange {
                    stream_id: Some(e.id.as_ref().into()),
                    title: None,
                }),
            )
        }
        "stream.offline" => {
            let e: StreamOffline<'_> = wire::from_str(what, raw).map_err(read)?;
            let mut event = base(creator, &e.broadcaster_user_login, delivery, at);
            event.author = plain_author(
                &e.broadcaster_user_id,
                &e.broadcaster_user_login,
                &e.broadcaster_user_name,
            );
            live = Some(None);
            event.with_detail(
                EventKind::StreamOffline,
                EventDetail::Stream(StreamChange::default()),
            )
        }
        other_type => {
            let event = base(creator, "", delivery, at);
            other(event, other_type)
        }
    };
    Ok(Decoded { event, live })
}

/// An event of `creator` in `channel` with id `id` at `at`; the rest empty.
fn base(creator: &str, channel: &str, id: &str, at: DateTime<Utc>) -> ChatEvent {
    let mut event = ChatEvent::message(TWITCH, creator, id, at, Author::default(), "");
    event.channel = channel.into();
    event
}

fn other(event: ChatEvent, name: &str) -> ChatEvent {
    event.with_detail(
        EventKind::Other,
        EventDetail::Other(OtherEvent { event: name.into() }),
    )
}

fn plain_author(id: &str, login: &str, name: &str) -> Author {
    Author {
        id: id.into(),
        login: login.into(),
        display_name: if name.is_empty() { login } else { name }.into(),
        roles: Roles::default(),
    }
}

fn user_ref(id: &str, login: &str, name: &str) -> UserRef {
    UserRef {
        id: id.into(),
        login: login.into(),
        display_name: if name.is_empty() { login } else { name }.into(),
    }
}

fn bits(bits: u64) -> EventDetail {
    EventDetail::Money(Money {
        amount: bits as f64,
        currency: "bits".into(),
        display: None,
        tier: None,
    })
}

/// A JSON `null` read as the type's default (Twitch sends `null` for empty lists in places).
fn null_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct Badge<'a> {
    #[serde(borrow)]
    set_id: Cow<'a, str>,
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, default)]
    info: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct Message<'a> {
    #[serde(borrow, default)]
    text: Cow<'a, str>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    fragments: Vec<Fragment<'a>>,
}

#[derive(Deserialize)]
struct Fragment<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Cow<'a, str>,
    #[serde(borrow, default)]
    emote: Option<FragmentEmote<'a>>,
    #[serde(borrow, default)]
    cheermote: Option<Cheermote<'a>>,
    #[serde(borrow, default)]
    mention: Option<Mention<'a>>,
}

#[derive(Deserialize)]
struct FragmentEmote<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Cheermote<'a> {
    #[serde(borrow)]
    prefix: Cow<'a, str>,
    bits: u64,
    #[serde(default)]
    tier: u64,
}

#[derive(Deserialize)]
struct Mention<'a> {
    #[serde(borrow)]
    user_id: Cow<'a, str>,
    #[serde(borrow)]
    user_name: Cow<'a, str>,
    #[serde(borrow)]
    user_login: Cow<'a, str>,
}

#[derive(Deserialize)]
struct CheerAmount {
    bits: u64,
}

#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(borrow)]
    parent_message_id: Cow<'a, str>,
    #[serde(borrow, default)]
    parent_message_body: Cow<'a, str>,
    #[serde(borrow, default)]
    parent_user_id: Cow<'a, str>,
    #[serde(borrow, default)]
    parent_user_name: Cow<'a, str>,
    #[serde(borrow, default)]
    parent_user_login: Cow<'a, str>,
}

#[derive(Deserialize)]
struct ChatMessage<'a> {
    #[serde(borrow)]
    broadcaster_user_id: Cow<'a, str>,
    #[serde(borrow)]
    broadcaster_user_login: Cow<'a, str>,
    #[serde(borrow)]
    chatter_user_id: Cow<'a, str>,
    #[serde(borrow)]
    chatter_user_login: Cow<'a, str>,
    #[serde(borrow)]
    chatter_user_name: Cow<'a, str>,
    #[serde(borrow)]
    message_id: Cow<'a, str>,
    #[serde(borrow)]
    message: Message<'a>,
    #[serde(borrow, default)]
    message_type: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    badges: Vec<Badge<'a>>,
    #[serde(default)]
    cheer: Option<CheerAmount>,
    #[serde(borrow, default)]
    color: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reply: Option<Reply<'a>>,
    #[serde(borrow, default)]
    channel_points_custom_reward_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    source_broadcaster_user_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    source_broadcaster_user_login: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    source_message_id: Option<Cow<'a, str>>,
}

/// The channel a shared-chat message came from, when it is not this one.
fn shared_from(
    broadcaster_id: &str,
    source_id: Option<&Cow<'_, str>>,
    source_login: Option<&Cow<'_, str>>,
) -> Option<CompactString> {
    let source = source_id.filter(|s| !s.is_empty())?;
    (source.as_ref() != broadcaster_id).then(|| {
        source_login
            .filter(|l| !l.is_empty())
            .unwrap_or(source)
            .as_ref()
            .into()
    })
}

/// Roles from EventSub badges (`set_id`), as IRC reads them from its `badges` tag.
fn roles(badges: &[Badge<'_>]) -> Roles {
    let mut roles = Roles::default();
    for badge in badges {
        match &*badge.set_id {
            "broadcaster" => roles.broadcaster = true,
            "moderator" | "lead_moderator" => roles.moderator = true,
            "vip" => roles.vip = true,
            "subscriber" | "founder" => roles.subscriber = true,
            _ => {}
        }
    }
    roles
}

/// The extras of a chatter: colour, badges as `set/id` strings (as IRC has them), months subscribed.
fn chatter_extras(color: Option<&Cow<'_, str>>, badges: &[Badge<'_>], extras: &mut Extras) {
    if let Some(color) = color.filter(|c| !c.is_empty()) {
        extras.insert_str("color", color);
    }
    if !badges.is_empty() {
        let pairs: Vec<String> = badges
            .iter()
            .map(|b| format!("{}/{}", b.set_id, b.id))
            .collect();
        extras.insert_str_list("badges", pairs.iter().map(String::as_str));
    }
    let months = badges
        .iter()
        .find(|b| matches!(&*b.set_id, "subscriber" | "founder"))
        .and_then(|b| b.info.as_deref())
        .and_then(|info| info.parse::<u64>().ok());
    if let Some(months) = months {
        extras.insert_u64("sub_months", months);
    }
}

/// Emotes located in code points from the fragments, and the cheermotes and mentions in extras.
fn fragments(message: &Message<'_>, event: &mut ChatEvent) {
    let mut emotes = Emotes::new();
    let mut cheermotes = Vec::new();
    let mut mentions = Vec::new();
    let mut at: u32 = 0;
    for fragment in &message.fragments {
        let len = u32::try_from(fragment.text.chars().count()).unwrap_or(u32::MAX);
        match (
            &*fragment.kind,
            &fragment.emote,
            &fragment.cheermote,
            &fragment.mention,
        ) {
            ("emote", Some(emote), _, _) if len > 0 => emotes.push(Emote {
                id: emote.id.as_ref().into(),
                start: at,
                end: at + len - 1,
            }),
            ("cheermote", _, Some(c), _) => cheermotes.push(serde_json::json!({
                "prefix": c.prefix, "bits": c.bits, "tier": c.tier,
            })),
            ("mention", _, _, Some(m)) => mentions.push(serde_json::json!({
                "user_id": m.user_id, "login": m.user_login, "display_name": m.user_name,
            })),
            _ => {}
        }
        at = at.saturating_add(len);
    }
    event.emotes = emotes;
    if !cheermotes.is_empty() {
        event
            .extras
            .insert_value("cheermotes", &Value::Array(cheermotes));
    }
    if !mentions.is_empty() {
        event
            .extras
            .insert_value("mentions", &Value::Array(mentions));
    }
}

fn chat_message(m: ChatMessage<'_>, creator: &str, at: DateTime<Utc>) -> ChatEvent {
    let mut event = base(creator, &m.broadcaster_user_login, &m.message_id, at);
    event.author = plain_author(
        &m.chatter_user_id,
        &m.chatter_user_login,
        &m.chatter_user_name,
    );
    event.author.roles = roles(&m.badges);
    event.text = m.message.text.as_ref().into();
    fragments(&m.message, &mut event);
    chatter_extras(m.color.as_ref(), &m.badges, &mut event.extras);
    if let Some(kind) = m.message_type.as_deref().filter(|t| *t != "text") {
        event.extras.insert_str("message_type", kind);
    }
    if let Some(reply) = &m.reply {
        event.extras.insert_str_object(
            "reply_parent",
            [
                ("msg_id", reply.parent_message_id.as_ref()),
                ("user_id", reply.parent_user_id.as_ref()),
                ("login", reply.parent_user_login.as_ref()),
                ("display_name", reply.parent_user_name.as_ref()),
                ("body", reply.parent_message_body.as_ref()),
            ],
        );
    }
    event.shared_from = shared_from(
        &m.broadcaster_user_id,
        m.source_broadcaster_user_id.as_ref(),
        m.source_broadcaster_user_login.as_ref(),
    );
    if event.shared_from.is_some()
        && let Some(source_id) = m.source_message_id.as_deref()
    {
        event.extras.insert_str("source_message_id", source_id);
    }
    if let Some(cheer) = m.cheer.filter(|c| c.bits > 0) {
        event.kind = EventKind::Cheer;
        event.detail = Some(Box::new(bits(cheer.bits)));
    } else if let Some(reward) = m
        .channel_points_custom_reward_id
        .as_deref()
        .filter(|r| !r.is_empty())
    {
        // A message sent with a channel points reward: the redemption, with what the viewer typed.
        let text = m.message.text.as_ref();
        event.kind = EventKind::Redemption;
        event.detail = Some(Box::new(EventDetail::Redemption(Redemption {
            reward_id: reward.into(),
            title: None,
            cost: None,
            input: (!text.is_empty()).then(|| text.into()),
        })));
    }
    event
}

/// `channel.chat.notification`: the common fields, the user's attached message, and one object
/// per notice type (all `null` but the one `notice_type` names).
#[derive(Deserialize)]
struct ChatNotification<'a> {
    #[serde(borrow)]
    broadcaster_user_id: Cow<'a, str>,
    #[serde(borrow)]
    broadcaster_user_login: Cow<'a, str>,
    #[serde(borrow, default)]
    chatter_user_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    chatter_user_login: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    chatter_user_name: Option<Cow<'a, str>>,
    #[serde(default)]
    chatter_is_anonymous: bool,
    #[serde(borrow, default)]
    color: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    badges: Vec<Badge<'a>>,
    #[serde(borrow, default)]
    system_message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message_id: Cow<'a, str>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    message: Message<'a>,
    #[serde(borrow)]
    notice_type: Cow<'a, str>,
    #[serde(borrow, default)]
    source_broadcaster_user_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    source_broadcaster_user_login: Option<Cow<'a, str>>,
    /// The per-notice objects (and anything newer), by key.
    #[serde(flatten)]
    objects: Map<String, Value>,
}

#[derive(Deserialize)]
struct NoticeSub {
    sub_tier: String,
    #[serde(default)]
    is_prime: bool,
}

#[derive(Deserialize)]
struct NoticeResub {
    #[serde(default)]
    cumulative_months: Option<u32>,
    #[serde(default)]
    streak_months: Option<u32>,
    sub_tier: String,
    #[serde(default)]
    is_prime: bool,
}

#[derive(Deserialize)]
struct NoticeSubGift {
    #[serde(default)]
    duration_months: Option<u32>,
    recipient_user_id: String,
    #[serde(default)]
    recipient_user_name: String,
    recipient_user_login: String,
    sub_tier: String,
    #[serde(default)]
    community_gift_id: Option<String>,
}

#[derive(Deserialize)]
struct NoticeCommunityGift {
    id: String,
    total: u32,
    sub_tier: String,
}

#[derive(Deserialize)]
struct NoticeGiftUpgrade {
    #[serde(default)]
    gifter_is_anonymous: bool,
}

#[derive(Deserialize)]
struct NoticePrimeUpgrade {
    sub_tier: String,
}

#[derive(Deserialize)]
struct NoticeRaid {
    user_id: String,
    #[serde(default)]
    user_name: String,
    user_login: String,
    viewer_count: u64,
}

#[derive(Deserialize)]
struct NoticeCharity {
    amount: CharityAmount,
}

#[derive(Deserialize)]
struct CharityAmount {
    value: i64,
    decimal_places: u32,
    currency: String,
}

fn tier(plan: &str, prime: bool) -> Option<SubTier> {
    if prime {
        Some(SubTier::Prime)
    } else {
        SubTier::from_twitch_plan(plan)
    }
}

/// What a notice is, with its typed fields (`notice_type` without its `shared_chat_` prefix).
///
/// | `notice_type` | kind | detail |
/// | --- | --- | --- |
/// | `sub` | `subscription` | `new`: tier |
/// | `resub` | `subscription` | `resub`: tier, months, streak |
/// | `sub_gift` | `subscription` | `gift`: recipient, gift months, tier, the community gift id of a burst, `anonymous` |
/// | `community_sub_gift` | `subscription` | `community_gift`: count, tier, its id, `anonymous` |
/// | `gift_paid_upgrade` | `subscription` | `gift_upgrade` |
/// | `prime_paid_upgrade` | `subscription` | `prime_upgrade`: the new tier |
/// | `raid` | `raid` | viewers (the raider is the author) |
/// | `announcement` | `announcement` | none (its colour stays in `notice`) |
/// | `charity_donation` | `tip` | the amount in its currency |
/// | anything else (`unraid`, `pay_it_forward`, `bits_badge_tier`, newer ones) | `other` | the `notice_type` |
fn notice_detail(
    notice: &str,
    object: Option<&Value>,
    anonymous: bool,
    event: &mut ChatEvent,
) -> Result<Option<(EventKind, EventDetail)>, WireError> {
    const WHAT: &str = "an EventSub chat notification";
    let read = |e: WireError| e.within(&format!("payload.event.{notice}"));
    let object = || {
        object.ok_or_else(|| {
            WireError::shape(
                WHAT,
                &format!("payload.event.{notice}"),
                format!("a {notice} notice without its {notice} object"),
            )
        })
    };
    let sub = |kind, tier| {
        let mut sub = Subscription::new(kind);
        sub.tier = tier;
        sub
    };
    let subscription = match notice {
        "sub" => {
            let o: NoticeSub = wire::from_value(WHAT, object()?).map_err(read)?;
            sub(SubKind::New, tier(&o.sub_tier, o.is_prime))
        }
        "resub" => {
            let o: NoticeResub = wire::from_value(WHAT, object()?).map_err(read)?;
            let mut s = sub(SubKind::Resub, tier(&o.sub_tier, o.is_prime));
            s.months = o.cumulative_months.filter(|&m| m > 0);
            s.streak_months = o.streak_months.filter(|&m| m > 0);
            s
        }
        "sub_gift" => {
            let o: NoticeSubGift = wire::from_value(WHAT, object()?).map_err(read)?;
            let mut s = sub(SubKind::Gift, tier(&o.sub_tier, false));
            s.gift_months = o.duration_months.filter(|&m| m > 0);
            s.count = Some(1);
            s.recipient = Some(user_ref(
                &o.recipient_user_id,
                &o.recipient_user_login,
                &o.recipient_user_name,
            ));
            s.anonymous = anonymous;
            s.community_gift_id = o
                .community_gift_id
                .filter(|id| !id.is_empty())
                .map(Into::into);
            s
        }
        "community_sub_gift" => {
            let o: NoticeCommunityGift = wire::from_value(WHAT, object()?).map_err(read)?;
            let mut s = sub(SubKind::CommunityGift, tier(&o.sub_tier, false));
            s.count = Some(o.total);
            s.community_gift_id = Some(o.id.into());
            s.anonymous = anonymous;
            s
        }
        "gift_paid_upgrade" => {
            let o: NoticeGiftUpgrade = wire::from_value(WHAT, object()?).map_err(read)?;
            let mut s = sub(SubKind::GiftUpgrade, None);
            s.anonymous = o.gifter_is_anonymous;
            s
        }
        "prime_paid_upgrade" => {
            let o: NoticePrimeUpgrade = wire::from_value(WHAT, object()?).map_err(read)?;
            sub(SubKind::PrimeUpgrade, tier(&o.sub_tier, false))
        }
        "raid" => {
            let o: NoticeRaid = wire::from_value(WHAT, object()?).map_err(read)?;
            event.author = plain_author(&o.user_id, &o.user_login, &o.user_name);
            return Ok(Some((
                EventKind::Raid,
                EventDetail::Raid(Raid {
                    viewers: o.viewer_count,
                }),
            )));
        }
        "announcement" => {
            event.kind = EventKind::Announcement;
            return Ok(None);
        }
        "charity_donation" => {
            let o: NoticeCharity = wire::from_value(WHAT, object()?).map_err(read)?;
            let scale = 10f64.powi(i32::try_from(o.amount.decimal_places).unwrap_or(0));
            return Ok(Some((
                EventKind::Tip,
                EventDetail::Money(Money {
                    amount: o.amount.value as f64 / scale,
                    currency: o.amount.currency.into(),
                    display: None,
                    tier: None,
                }),
            )));
        }
        other_notice => {
            return Ok(Some((
                EventKind::Other,
                EventDetail::Other(OtherEvent {
                    event: other_notice.into(),
                }),
            )));
        }
    };
    Ok(Some((
        EventKind::Subscription,
        EventDetail::Subscription(subscription),
    )))
}

fn chat_notification(
    n: ChatNotification<'_>,
    creator: &str,
    at: DateTime<Utc>,
) -> Result<ChatEvent, WireError> {
    let mut event = base(creator, &n.broadcaster_user_login, &n.message_id, at);
    let anonymous = n.chatter_is_anonymous || n.chatter_user_id.is_none();
    event.author = match (&n.chatter_user_id, anonymous) {
        (Some(id), false) => plain_author(
            id,
            n.chatter_user_login.as_deref().unwrap_or_default(),
            n.chatter_user_name.as_deref().unwrap_or_default(),
        ),
        _ => Author {
            id: CompactString::default(),
            login: ANONYMOUS_GIFTER.into(),
            display_name: "An Anonymous Gifter".into(),
            roles: Roles::default(),
        },
    };
    event.author.roles = roles(&n.badges);
    event.text = n.message.text.as_ref().into();
    fragments(&n.message, &mut event);
    // A shared-chat notice names its object `shared_chat_{type}`; it means the same.
    let notice = n
        .notice_type
        .strip_prefix("shared_chat_")
        .unwrap_or(&n.notice_type);
    let object = n
        .objects
        .get(n.notice_type.as_ref())
        .or_else(|| n.objects.get(notice))
        .filter(|o| !o.is_null());
    if let Some((kind, detail)) = notice_detail(notice, object, anonymous, &mut event)? {
        event = event.with_detail(kind, detail);
    }
    let extras = &mut event.extras;
    extras.insert_str("event", &n.notice_type);
    chatter_extras(n.color.as_ref(), &n.badges, extras);
    if let Some(system) = n.system_message.as_deref().filter(|s| !s.is_empty()) {
        extras.insert_str("system_msg", system);
    }
    if let Some(object) = object {
        extras.insert_value("notice", object);
    }
    event.shared_from = shared_from(
        &n.broadcaster_user_id,
        n.source_broadcaster_user_id.as_ref(),
        n.source_broadcaster_user_login.as_ref(),
    );
    Ok(event)
}

#[derive(Deserialize)]
struct MessageDelete<'a> {
    #[serde(borrow)]
    broadcaster_user_login: Cow<'a, str>,
    #[serde(borrow)]
    target_user_id: Cow<'a, str>,
    #[serde(borrow, default)]
    target_user_name: Cow<'a, str>,
    #[serde(borrow)]
    target_user_login: Cow<'a, str>,
    #[serde(borrow)]
    message_id: Cow<'a, str>,
}

#[derive(Deserialize)]
struct ClearUser<'a> {
    #[serde(borrow)]
    broadcaster_user_login: Cow<'a, str>,
    #[serde(borrow)]
    target_user_id: Cow<'a, str>,
    #[serde(borrow, default)]
    target_user_name: Cow<'a, str>,
    #[serde(borrow)]
    target_user_login: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Follow<'a> {
    #[serde(borrow)]
    user_id: Cow<'a, str>,
    #[serde(borrow)]
    user_login: Cow<'a, str>,
    #[serde(borrow, default)]
    user_name: Cow<'a, str>,
    #[serde(borrow)]
    broadcaster_user_login: Cow<'a, str>,
    followed_at: Rfc3339,
}

#[derive(Deserialize)]
struct Subscribe<'a> {
    #[serde(borrow)]
    user_id: Cow<'a, str>,
    #[serde(borrow)]
    user_login: Cow<'a, str>,
    #[serde(borrow, default)]
    user_name: Cow<'a, str>,
    #[serde(borrow)]
    broadcaster_user_login: Cow<'a, str>,
    #[serde(borrow)]
    tier: Cow<'a, str>,
    #[serde(default)]
    is_gift: bool,
}

#[derive(Deserialize)]
struct Cheer<'a> {
    #[serde(default)]
    is_anonymous: bool,
    #[serde(borrow, default)]
    user_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user_login: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    broadcaster_user_login: Cow<'a, str>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
    bits: u64,
}

#[derive(Deserialize)]
struct ChannelRaid<'a> {
    #[serde(borrow)]
    from_broadcaster_user_id: Cow<'a, str>,
    #[serde(borrow)]
    from_broadcaster_user_login: Cow<'a, str>,
    #[serde(borrow, default)]
    from_broadcaster_user_name: Cow<'a, str>,
    #[serde(borrow)]
    to_broadcaster_user_login: Cow<'a, str>,
    viewers: u64,
}

#[derive(Deserialize)]
struct Reward<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, default)]
    title: Cow<'a, str>,
    #[serde(default)]
    cost: Option<u64>,
}

#[derive(Deserialize)]
struct RedemptionAdd<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    broadcaster_user_login: Cow<'a, str>,
    #[serde(borrow)]
    user_id: Cow<'a, str>,
    #[serde(borrow)]
    user_login: Cow<'a, str>,
    #[serde(borrow, default)]
    user_name: Cow<'a, str>,
    #[serde(borrow, default)]
    user_input: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    reward: Reward<'a>,
    redeemed_at: Rfc3339,
}

#[derive(Deserialize)]
struct StreamOnline<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    broadcaster_user_id: Cow<'a, str>,
    #[serde(borrow)]
    broadcaster_user_login: Cow<'a, str>,
    #[serde(borrow, default)]
    broadcaster_user_name: Cow<'a, str>,
    started_at: Rfc3339,
}

#[derive(Deserialize)]
struct StreamOffline<'a> {
    #[serde(borrow)]
    broadcaster_user_id: Cow<'a, str>,
    #[serde(borrow)]
    broadcaster_user_login: Cow<'a, str>,
    #[serde(borrow, default)]
    broadcaster_user_name: Cow<'a, str>,
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
