//! Twitch IRC → [`ChatEvent`]: what each Twitch command means, on top of the generic [`irc`] parser.
//!
//! | command | kind |
//! | --- | --- |
//! | `PRIVMSG` | `message`; `cheer` when it carries `bits` (amount in `bits`); `redemption` when it carries `custom-reward-id` (the reward id, the text as input) |
//! | `USERNOTICE` | by `msg-id` (see [`usernotice_detail`]): `subscription` (subs, gifts, community gifts, upgrades), `raid`, `announcement`, else `other` naming it |
//! | `CLEARCHAT` | `timeout` (with `ban-duration`), `ban`, or `chat_clear` (no user) |
//! | `CLEARMSG` | `deletion` (a deleted `/me` keeps its text without the `ACTION` framing) |
//! | `ROOMSTATE` | `room_state` |
//! | `NOTICE` to a channel | `notice` |
//!
//! The message id is the `id` tag. Events without one get a stable id derived from what identifies
//! them (`clearchat-{room}-{tmi-sent-ts}-{target}`, `clearmsg-{target-msg-id}`, ...), so a replayed
//! or re-delivered event dedupes. The timestamp is `tmi-sent-ts`, else the time the line arrived.
//! For moderation events the author is the user acted upon. The fields every platform's stream
//! events share (tier, months, gift recipient and count, bits, viewers, reward) are the event's
//! typed `detail`; platform details without a common field (color, badges as `set/version` strings,
//! replies, the USERNOTICE's `msg-id` as `event`, its `system-msg`, every `msg-param-*` as `params`,
//! `/me` as `"action": true`) go to `extras`.
//!
//! Decoding is on the hot path of every chat line, so tags are read in one pass into borrowed
//! slices, and only the values an event keeps are copied.
//!
//! [`irc`]: super::irc

use super::irc::{IrcMessage, TagValue};
use crate::event::{
    Author, ChatEvent, CompactString, Emote, Emotes, EventDetail, EventKind, Extras, Money,
    OtherEvent, Raid, Redemption, Roles, SubKind, SubTier, Subscription, UserRef,
};
use chrono::{DateTime, Utc};
use compact_str::format_compact;
use serde_json::{Map, Value};

/// Normalizes one Twitch line into a chat event; `None` for lines that are not chat events
/// (numerics, PING, JOIN, USERSTATE, notices not addressed to a channel, ...).
pub fn decode(
    msg: &IrcMessage<'_>,
    creator: &str,
    received_at: DateTime<Utc>,
) -> Option<ChatEvent> {
    let decoder: fn(&Line<'_>, &mut ChatEvent) = match msg.command() {
        "PRIVMSG" => privmsg,
        "USERNOTICE" => usernotice,
        "CLEARCHAT" => clearchat,
        "CLEARMSG" => clearmsg,
        "ROOMSTATE" => roomstate,
        "NOTICE" => notice,
        _ => return None,
    };
    let channel = msg.first_param()?.strip_prefix('#')?;
    let line = Line {
        msg,
        tags: KnownTags::read(msg),
    };
    let timestamp = line
        .tags
        .tmi_sent_ts
        .and_then(|ts| digits(ts.raw()))
        .and_then(|ms| i64::try_from(ms).ok())
        .and_then(DateTime::from_timestamp_millis)
        .unwrap_or(received_at);
    let mut event = ChatEvent {
        platform: crate::sources::twitch::TWITCH,
        creator: creator.into(),
        channel: channel.into(),
        message_id: CompactString::default(),
        timestamp,
        kind: EventKind::Message,
        author: Author::default(),
        text: CompactString::default(),
        emotes: Emotes::new(),
        detail: None,
        extras: Extras::new(),
        shared_from: None,
    };
    decoder(&line, &mut event);
    Some(event)
}

/// One line being decoded: the message and its known tags.
struct Line<'a> {
    msg: &'a IrcMessage<'a>,
    tags: KnownTags<'a>,
}

impl Line<'_> {
    /// The time part of derived ids: `tmi-sent-ts` as written (the platform's own time), else a hash
    /// of the whole line's content. Never the arrival time: a re-delivered line (ROOMSTATE on every
    /// JOIN, a repeated NOTICE, a tagless line replayed by a bouncer) must get the same id, so dedupe
    /// drops it.
    fn time_key(&self) -> CompactString {
        match self.tags.tmi_sent_ts {
            Some(ts) if !ts.is_empty() => ts.raw().into(),
            _ => {
                let msg = self.msg;
                let mut hash = fnv1a(msg.tags().raw());
                for part in [msg.prefix().unwrap_or_default(), msg.command()]
                    .into_iter()
                    .chain(msg.params())
                {
                    hash = fnv1a_continue(hash ^ 0xff, part);
                }
                format_compact!("h{hash:016x}")
            }
        }
    }
}

/// The tags decoding reads, gathered in one pass (the last duplicate wins, as IRCv3 says).
#[derive(Default)]
struct KnownTags<'a> {
    id: Option<TagValue<'a>>,
    user_id: Option<TagValue<'a>>,
    room_id: Option<TagValue<'a>>,
    login: Option<TagValue<'a>>,
    display_name: Option<TagValue<'a>>,
    color: Option<TagValue<'a>>,
    badges: Option<TagValue<'a>>,
    badge_info: Option<TagValue<'a>>,
    emotes: Option<TagValue<'a>>,
    bits: Option<TagValue<'a>>,
    moderator: Option<TagValue<'a>>,
    subscriber: Option<TagValue<'a>>,
    vip: Option<TagValue<'a>>,
    first_msg: Option<TagValue<'a>>,
    returning_chatter: Option<TagValue<'a>>,
    tmi_sent_ts: Option<TagValue<'a>>,
    msg_id: Option<TagValue<'a>>,
    system_msg: Option<TagValue<'a>>,
    ban_duration: Option<TagValue<'a>>,
    target_user_id: Option<TagValue<'a>>,
    target_msg_id: Option<TagValue<'a>>,
    reply_parent_msg_id: Option<TagValue<'a>>,
    reply_parent_user_id: Option<TagValue<'a>>,
    reply_parent_user_login: Option<TagValue<'a>>,
    reply_parent_display_name: Option<TagValue<'a>>,
    reply_parent_msg_body: Option<TagValue<'a>>,
    custom_reward_id: Option<TagValue<'a>>,
}

impl<'a> KnownTags<'a> {
    fn read(msg: &IrcMessage<'a>) -> KnownTags<'a> {
        let mut t = KnownTags::default();
        for (key, value) in msg.tags().iter() {
            // Dispatch on the length first: one jump, then at most three fixed-size compares,
            // instead of trying every name in turn for every tag (most tags are not read at all).
            let slot = match key.len() {
                2 if key == "id" => &mut t.id,
                3 => match key {
                    "mod" => &mut t.moderator,
                    "vip" => &mut t.vip,
                    _ => continue,
                },
                4 if key == "bits" => &mut t.bits,
                5 => match key {
                    "login" => &mut t.login,
                    "color" => &mut t.color,
                    _ => continue,
                },
                6 => match key {
                    "badges" => &mut t.badges,
                    "emotes" => &mut t.emotes,
                    "msg-id" => &mut t.msg_id,
                    _ => continue,
                },
                7 => match key {
                    "user-id" => &mut t.user_id,
                    "room-id" => &mut t.room_id,
                    _ => continue,
                },
                9 if key == "first-msg" => &mut t.first_msg,
                10 => match key {
                    "badge-info" => &mut t.badge_info,
                    "subscriber" => &mut t.subscriber,
                    "system-msg" => &mut t.system_msg,
                    _ => continue,
                },
                11 if key == "tmi-sent-ts" => &mut t.tmi_sent_ts,
                12 => match key {
                    "display-name" => &mut t.display_name,
                    "ban-duration" => &mut t.ban_duration,
                    _ => continue,
                },
                13 if key == "target-msg-id" => &mut t.target_msg_id,
                14 if key == "target-user-id" => &mut t.target_user_id,
                16 if key == "custom-reward-id" => &mut t.custom_reward_id,
                17 if key == "returning-chatter" => &mut t.returning_chatter,
                19 if key == "reply-parent-msg-id" => &mut t.reply_parent_msg_id,
                20 if key == "reply-parent-user-id" => &mut t.reply_parent_user_id,
                21 if key == "reply-parent-msg-body" => &mut t.reply_parent_msg_body,
                23 if key == "reply-parent-user-login" => &mut t.reply_parent_user_login,
                25 if key == "reply-parent-display-name" => &mut t.reply_parent_display_name,
                _ => continue,
            };
            *slot = Some(value);
        }
        t
    }
}

/// A `0`/`1` flag tag.
fn is_set(value: Option<TagValue<'_>>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v.raw() != "0")
}

fn number_of(value: Option<TagValue<'_>>) -> Option<u64> {
    value.and_then(|v| digits(v.raw()))
}

/// The author from `user-id`, a login and `display-name` (falling back to the login).
fn author(tags: &KnownTags<'_>, login: &str) -> Author {
    let display_name = match tags.display_name {
        Some(name) if !name.is_empty() => CompactString::from(name.unescape()),
        _ => login.into(),
    };
    let id = match tags.user_id {
        Some(id) if !id.is_empty() => id.raw().into(),
        // A plain IRC server has no user ids; the login is the next most stable key.
        _ => login.into(),
    };
    Author {
        id,
        login: login.into(),
        display_name,
        roles: roles(tags),
    }
}

/// Roles from the flag tags and the badges (`broadcaster/1`, `moderator/1`, `vip/1`, `subscriber/N`,
/// `founder/N`).
fn roles(tags: &KnownTags<'_>) -> Roles {
    let mut roles = Roles {
        broadcaster: false,
        moderator: is_set(tags.moderator),
        vip: is_set(tags.vip),
        subscriber: is_set(tags.subscriber),
    };
    for badge in badge_pairs(tags.badges) {
        match badge.0 {
            "broadcaster" => roles.broadcaster = true,
            "moderator" => roles.moderator = true,
            "vip" => roles.vip = true,
            "subscriber" | "founder" => roles.subscriber = true,
            _ => {}
        }
    }
    roles
}

/// `name/version` pairs of a `badges` or `badge-info` tag.
fn badge_pairs<'a>(value: Option<TagValue<'a>>) -> impl Iterator<Item = (&'a str, &'a str)> {
    split_ascii(value.map(|v| v.raw()).unwrap_or_default(), b',')
        .filter(|b| !b.is_empty())
        .map(|b| split_once_ascii(b, b'/').unwrap_or((b, "")))
}

/// Emotes from `id:start-end,start-end/id2:start-end`; text that is not a range is skipped. Ranges
/// are kept as the wire gives them: whether they fit the text (and are not reversed) is checked,
/// and a drop counted, for every platform alike where events enter the runtime
/// ([`crate::event::wire_checks`]).
fn emotes_of(value: Option<TagValue<'_>>) -> Emotes {
    let Some(raw) = value.map(|v| v.raw()).filter(|r| !r.is_empty()) else {
        return Emotes::new();
    };
    let mut emotes = Emotes::new();
    for group in split_ascii(raw, b'/') {
        let Some((id, ranges)) = split_once_ascii(group, b':') else {
            continue;
        };
        for range in split_ascii(ranges, b',') {
            let Some((start, end)) = split_once_ascii(range, b'-') else {
                continue;
            };
            let index = |s: &str| digits(s).and_then(|n| u32::try_from(n).ok());
            if let (Some(start), Some(end)) = (index(start), index(end)) {
                emotes.push(Emote {
                    id: id.into(),
                    start,
                    end,
                });
            }
        }
    }
    emotes.sort_by_key(|e| e.start);
    emotes
}

/// The extras every user-authored event shares: color, badges, subscription months.
fn author_extras(tags: &KnownTags<'_>, extras: &mut Extras) {
    if let Some(color) = tags.color.filter(|c| !c.is_empty()) {
        extras.insert_str("color", color.raw());
    }
    // `set/version` strings in Twitch's order (as EventSub lists them): cheaper than a nested
    // object on the hot path, and just as easy to read.
    if let Some(badges) = tags.badges.filter(|b| !b.is_empty()) {
        extras.insert_str_list(
            "badges",
            split_ascii(badges.raw(), b',').filter(|b| !b.is_empty()),
        );
    }
    let months = badge_pairs(tags.badge_info)
        .find(|(name, _)| matches!(*name, "subscriber" | "founder"))
        .and_then(|(_, n)| digits(n));
    if let Some(months) = months {
        extras.insert_u64("sub_months", months);
    }
}

/// The text of a `/me` message without its CTCP framing (`\x01ACTION text\x01`), and whether it
/// was one.
fn split_action(raw: &str) -> (&str, bool) {
    match raw
        .strip_prefix("\u{1}ACTION ")
        .map(|t| t.strip_suffix('\u{1}').unwrap_or(t))
    {
        Some(text) => (text, true),
        None => (raw, false),
    }
}

fn privmsg<'a>(line: &Line<'a>, event: &mut ChatEvent) {
    let tags = &line.tags;
    let login = line.msg.nick().unwrap_or_default();
    let raw_text = line
        .msg
        .trailing()
        .or_else(|| line.msg.param(1))
        .unwrap_or_default();
    let (text, action) = split_action(raw_text);
    event.message_id = match tags.id {
        Some(id) if !id.is_empty() => id.raw().into(),
        _ => format_compact!(
            "privmsg-{}-{login}-{}-{:016x}",
            event.channel,
            line.time_key(),
            fnv1a(text)
        ),
    };
    event.author = author(tags, login);
    event.text = text.into();
    event.emotes = emotes_of(tags.emotes);
    let extras = &mut event.extras;
    author_extras(tags, extras);
    if let Some(bits) = number_of(tags.bits).filter(|&b| b > 0) {
        event.kind = EventKind::Cheer;
        event.detail = Some(Box::new(EventDetail::Money(Money {
            amount: bits as f64,
            currency: "bits".into(),
            display: None,
            tier: None,
        })));
    } else if let Some(reward) = tags.custom_reward_id.filter(|r| !r.is_empty()) {
        // A message sent with a channel points reward: the redemption, with what the viewer typed.
        event.kind = EventKind::Redemption;
        event.detail = Some(Box::new(EventDetail::Redemption(Redemption {
            reward_id: reward.raw().into(),
            title: None,
            cost: None,
            input: (!text.is_empty()).then(|| text.into()),
        })));
    }
    if action {
        extras.insert_bool("action", true);
    }
    if is_set(tags.first_msg) {
        extras.insert_bool("first_msg", true);
    }
    if is_set(tags.returning_chatter) {
        extras.insert_bool("returning_chatter", true);
    }
    if let Some(parent) = tags.reply_parent_msg_id.filter(|p| !p.is_empty()) {
        let text_of = |value: Option<TagValue<'a>>| value.map(|v| v.unescape()).unwrap_or_default();
        extras.insert_str_object(
            "reply_parent",
            [
                ("msg_id", parent.unescape()),
                ("user_id", text_of(tags.reply_parent_user_id)),
                ("login", text_of(tags.reply_parent_user_login)),
                ("display_name", text_of(tags.reply_parent_display_name)),
                ("body", text_of(tags.reply_parent_msg_body)),
            ]
            .iter()
            .map(|(name, value)| (*name, value.as_ref())),
        );
    }
}

/// The `msg-param-*` values of one USERNOTICE, unescaped, by name without the prefix. Names come
/// from the wire (and may repeat: the last wins).
struct Params(Map<String, Value>);

impl Params {
    fn read(msg: &IrcMessage<'_>) -> Params {
        let mut params = Map::new();
        for (key, value) in msg.tags().iter() {
            if let Some(name) = key.strip_prefix("msg-param-") {
                params.insert(name.to_owned(), value.unescape().into_owned().into());
            }
        }
        Params(params)
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    }

    fn number(&self, name: &str) -> Option<u64> {
        self.text(name).and_then(digits)
    }

    /// A positive count or month number (`0` means Twitch did not say).
    fn positive(&self, name: &str) -> Option<u32> {
        self.number(name)
            .filter(|&n| n > 0)
            .and_then(|n| u32::try_from(n).ok())
    }
}

/// The login Twitch gives an anonymous gifter (newer anonymous gifts arrive as plain `subgift`s
/// from it, older ones as `anonsubgift`).
const ANONYMOUS_GIFTER: &str = "ananonymousgifter";

/// What a USERNOTICE `msg-id` is, with its typed fields. Twitch adds new ids without notice, so
/// anything unknown is an `other` that names it.
///
/// | `msg-id` | kind | detail |
/// | --- | --- | --- |
/// | `sub`, `resub` | `subscription` | `new` / `resub`: tier, months, streak (when shared) |
/// | `subgift`, `anonsubgift` | `subscription` | `gift`: recipient, gift months, tier, the community gift id of a burst, `anonymous` |
/// | `submysterygift`, `anonsubmysterygift` | `subscription` | `community_gift`: count, tier, its community gift id, `anonymous` |
/// | `primepaidupgrade` | `subscription` | `prime_upgrade`: the new tier |
/// | `giftpaidupgrade`, `anongiftpaidupgrade` | `subscription` | `gift_upgrade` (`anonymous` when the gift was) |
/// | `raid` | `raid` | viewers |
/// | `announcement` | `announcement` | none (its colour stays in `params`) |
/// | anything else (`unraid`, `ritual`, `bitsbadgetier`, `rewardgift`, pay-forwards, ...) | `other` | the `msg-id` |
///
/// Pay-forwards (`communitypayforward`, `standardpayforward`) only announce gifts that arrive as
/// their own `subgift`s, so they are `other`: a subscription trigger fires once per gift.
fn usernotice_detail(msg_id: &str, params: &Params, login: &str) -> (EventKind, EventDetail) {
    let anonymous = msg_id.starts_with("anon") || login == ANONYMOUS_GIFTER;
    let sub = |kind| {
        let mut sub = Subscription::new(kind);
        sub.tier = params.text("sub-plan").and_then(SubTier::from_twitch_plan);
        sub.anonymous = anonymous
            && matches!(
                kind,
                SubKind::Gift | SubKind::CommunityGift | SubKind::GiftUpgrade
            );
        sub
    };
    let subscription = match msg_id {
        "sub" | "resub" => {
            let mut sub = sub(if msg_id == "sub" {
                SubKind::New
            } else {
                SubKind::Resub
            });
            sub.months = params
                .positive("cumulative-months")
                .or_else(|| params.positive("months"));
            if params.text("should-share-streak") == Some("1") {
                sub.streak_months = params.positive("streak-months");
            }
            Some(sub)
        }
        "subgift" | "anonsubgift" => {
            let mut sub = sub(SubKind::Gift);
            sub.gift_months = params.positive("gift-months");
            sub.months = params.positive("months");
            sub.count = Some(1);
            sub.recipient = params.text("recipient-user-name").map(|login| UserRef {
                id: params.text("recipient-id").unwrap_or_default().into(),
                login: login.into(),
                display_name: params
                    .text("recipient-display-name")
                    .unwrap_or(login)
                    .into(),
            });
            sub.community_gift_id = params.text("community-gift-id").map(Into::into);
            Some(sub)
        }
        "submysterygift" | "anonsubmysterygift" => {
            let mut sub = sub(SubKind::CommunityGift);
            sub.count = params.positive("mass-gift-count");
            sub.community_gift_id = params.text("community-gift-id").map(Into::into);
            Some(sub)
        }
        "primepaidupgrade" => Some(sub(SubKind::PrimeUpgrade)),
        "giftpaidupgrade" | "anongiftpaidupgrade" => Some(sub(SubKind::GiftUpgrade)),
        _ => None,
    };
    if let Some(sub) = subscription {
        return (EventKind::Subscription, EventDetail::Subscription(sub));
    }
    match msg_id {
        "raid" => (
            EventKind::Raid,
            EventDetail::Raid(Raid {
                viewers: params.number("viewerCount").unwrap_or(0),
            }),
        ),
        _ => (
            EventKind::Other,
            EventDetail::Other(OtherEvent {
                event: msg_id.into(),
            }),
        ),
    }
}

fn usernotice(line: &Line<'_>, event: &mut ChatEvent) {
    let tags = &line.tags;
    let msg_id = tags.msg_id.map(|v| v.raw()).unwrap_or_default();
    event.message_id = match tags.id {
        Some(id) if !id.is_empty() => id.raw().into(),
        _ => format_compact!(
            "usernotice-{}-{msg_id}-{}-{}",
            tags.room_id.map(|r| r.raw()).unwrap_or_default(),
            tags.user_id.map(|r| r.raw()).unwrap_or_default(),
            line.time_key()
        ),
    };
    let login = tags.login.map(|l| l.raw()).unwrap_or_default();
    event.author = author(tags, login);
    event.text = line.msg.trailing().unwrap_or_default().into();
    event.emotes = emotes_of(tags.emotes);
    let params = Params::read(line.msg);
    if msg_id == "announcement" {
        event.kind = EventKind::Announcement;
    } else {
        let (kind, detail) = usernotice_detail(msg_id, &params, login);
        event.kind = kind;
        event.detail = Some(Box::new(detail));
    }
    let extras = &mut event.extras;
    extras.insert_str("event", msg_id);
    author_extras(tags, extras);
    if let Some(system) = tags.system_msg.filter(|s| !s.is_empty()) {
        extras.insert_str("system_msg", &system.unescape());
    }
    if !params.0.is_empty() {
        extras.insert_value("params", &Value::Object(params.0));
    }
}

fn clearchat(line: &Line<'_>, event: &mut ChatEvent) {
    let tags = &line.tags;
    let target_login = line.msg.trailing().unwrap_or_default();
    let target_id = tags.target_user_id.map(|v| v.raw()).unwrap_or_default();
    event.message_id = format_compact!(
        "clearchat-{}-{}-{}",
        tags.room_id.map(|v| v.raw()).unwrap_or_default(),
        line.time_key(),
        if target_id.is_empty() {
            "all"
        } else {
            target_id
        }
    );
    if target_login.is_empty() {
        event.kind = EventKind::ChatClear;
        return;
    }
    event.author = Author {
        id: if target_id.is_empty() {
            target_login
        } else {
            target_id
        }
        .into(),
        login: target_login.into(),
        display_name: target_login.into(),
        roles: Roles::default(),
    };
    match number_of(tags.ban_duration) {
        Some(seconds) => {
            event.kind = EventKind::Timeout;
            event.extras.insert_u64("duration_s", seconds);
        }
        None => event.kind = EventKind::Ban,
    }
}

fn clearmsg(line: &Line<'_>, event: &mut ChatEvent) {
    let tags = &line.tags;
    let target = tags.target_msg_id.map(|v| v.raw()).unwrap_or_default();
    event.kind = EventKind::Deletion;
    event.message_id = if target.is_empty() {
        format_compact!("clearmsg-{}-{}", event.channel, line.time_key())
    } else {
        format_compact!("clearmsg-{target}")
    };
    let login = tags.login.map(|v| v.raw()).unwrap_or_default();
    event.author = Author {
        id: login.into(),
        login: login.into(),
        display_name: login.into(),
        roles: Roles::default(),
    };
    // A deleted `/me` message is sent back with its framing: the text is kept without it.
    let (text, action) = split_action(line.msg.trailing().unwrap_or_default());
    event.text = text.into();
    event.extras.insert_str("target_msg_id", target);
    if action {
        event.extras.insert_bool("action", true);
    }
}

fn roomstate(line: &Line<'_>, event: &mut ChatEvent) {
    let room = line.tags.room_id.map(|v| v.raw()).unwrap_or_default();
    event.kind = EventKind::RoomState;
    event.message_id = format_compact!("roomstate-{room}-{}", line.time_key());
    // Setting names come from the wire (and may repeat: the last wins), so they are gathered in a
    // map first.
    let mut settings = Map::new();
    for (key, value) in line.msg.tags().iter() {
        if key == "room-id" {
            continue;
        }
        let value = match value.raw().parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::String(value.unescape().into_owned()),
        };
        settings.insert(key.to_owned(), value);
    }
    event.extras.insert_str("room_id", room);
    event
        .extras
        .insert_value("settings", &Value::Object(settings));
}

fn notice(line: &Line<'_>, event: &mut ChatEvent) {
    let notice_id = line.tags.msg_id.map(|v| v.raw()).unwrap_or_default();
    event.kind = EventKind::Notice;
    event.message_id = format_compact!(
        "notice-{}-{}-{}",
        event.channel,
        if notice_id.is_empty() {
            "none"
        } else {
            notice_id
        },
        line.time_key()
    );
    event.text = line.msg.trailing().unwrap_or_default().into();
    if !notice_id.is_empty() {
        event.extras.insert_str("notice_id", notice_id);
    }
}

/// Splits on an ASCII separator with a plain byte loop: Twitch's list tags are a few dozen bytes,
/// where this beats `str::split`, which starts a vectorized search for every piece.
fn split_ascii(s: &str, separator: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let current = rest?;
        // The separator is ASCII, so both slices are on char boundaries.
        match current.bytes().position(|b| b == separator) {
            Some(i) => {
                rest = Some(&current[i + 1..]);
                Some(&current[..i])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// `split_once` on an ASCII separator, by the same plain byte loop.
fn split_once_ascii(s: &str, separator: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == separator)?;
    Some((&s[..i], &s[i + 1..]))
}

/// A decimal number of 1 to 19 ASCII digits, without sign: every number Twitch puts in a tag.
/// A byte loop, since `str::parse` spends more on signs and radix checks than on these few digits.
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    s.bytes().try_fold(0u64, |n, byte| {
        let digit = byte.wrapping_sub(b'0');
        (digit < 10).then(|| n * 10 + u64::from(digit))
    })
}

/// FNV-1a: a tiny stable hash for derived ids (not for security).
fn fnv1a(text: &str) -> u64 {
    fnv1a_continue(0xcbf2_9ce4_8422_2325, text)
}

/// FNV-1a over `text`, starting from `hash`.
fn fnv1a_continue(hash: u64, text: &str) -> u64 {
    text.bytes().fold(hash, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::twitch::irc::parse;
    use serde_json::json;

    fn received() -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_700_000_099_000).unwrap()
    }

    fn decode_line(line: &str) -> ChatEvent {
        let msg = parse(line).unwrap();
        decode(&msg, "demo", received()).unwrap_or_else(|| panic!("no event from {line}"))
    }

    #[test]
    fn digits_reads_unsigned_decimals_only() {
        assert_eq!(digits("0"), Some(0));
        assert_eq!(digits("1700000000123"), Some(1_700_000_000_123));
        assert_eq!(
            digits("9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        for bad in ["", "+5", "-5", "1a", " 1", "12345678901234567890", "٣"] {
            assert_eq!(digits(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn privmsg_sample_from_the_protocol_notes() {
        let ev = decode_line(
            "@badge-info=subscriber/14;badges=moderator/1,subscriber/12;client-nonce=5f1c0e2a9b;color=#1E90FF;display-name=Viewer_One;emotes=25:6-10;first-msg=0;flags=;id=3b8c6f3a-1d2e-4f5a-9b7c-0a1b2c3d4e5f;mod=1;returning-chatter=0;room-id=11111111;subscriber=1;tmi-sent-ts=1700000000123;turbo=0;user-id=22222222;user-type=mod :viewer_one!viewer_one@viewer_one.tmi.twitch.tv PRIVMSG #somechannel :hello Kappa",
        );
        assert_eq!(ev.kind, EventKind::Message);
        assert_eq!(ev.channel, "somechannel");
        assert_eq!(ev.message_id, "3b8c6f3a-1d2e-4f5a-9b7c-0a1b2c3d4e5f");
        assert_eq!(ev.timestamp_ms(), 1_700_000_000_123);
        assert_eq!(ev.author.id, "22222222");
        assert_eq!(ev.author.login, "viewer_one");
        assert_eq!(ev.author.display_name, "Viewer_One");
        assert!(ev.author.roles.moderator && ev.author.roles.subscriber);
        assert!(!ev.author.roles.broadcaster && !ev.author.roles.vip);
        assert_eq!(ev.text, "hello Kappa");
        assert_eq!(
            ev.emotes.as_slice(),
            [Emote {
                id: "25".into(),
                start: 6,
                end: 10
            }]
        );
        assert_eq!(
            Value::Object(ev.extras.to_map()),
            json!({"color": "#1E90FF", "badges": ["moderator/1", "subscriber/12"], "sub_months": 14})
        );
    }

    #[test]
    fn emote_ranges_count_code_points_inclusively() {
        let ev = decode_line(
            "@emotes=483:2-3,7-8,12-13;id=x1;tmi-sent-ts=1 :a!a@a PRIVMSG #c :👉 <3 👉 <3 👉 <3",
        );
        let chars: Vec<char> = ev.text.chars().collect();
        assert_eq!(ev.emotes.len(), 3);
        for e in &ev.emotes {
            let s: String = chars[e.start as usize..=e.end as usize].iter().collect();
            assert_eq!(s, "<3");
        }
        let ev = decode_line(
            "@emotes=emotesv2_abc:6-9/25:0-4,11-15;id=x2 :a!a@a PRIVMSG #c :Kappa LULW Kappa",
        );
        let ids: Vec<_> = ev.emotes.iter().map(|e| (e.id.as_str(), e.start)).collect();
        assert_eq!(ids, [("25", 0), ("emotesv2_abc", 6), ("25", 11)]);
        // Not ranges: skipped. A reversed range is a range: the wire checks drop and count it.
        let ev = decode_line("@emotes=25:9-3,x-y,4;id=x3 :a!a@a PRIVMSG #c :bad ranges");
        let ranges: Vec<_> = ev.emotes.iter().map(|e| (e.start, e.end)).collect();
        assert_eq!(ranges, [(9, 3)]);
    }

    #[test]
    fn bits_make_a_cheer_and_replies_me_and_roles_are_kept() {
        let ev = decode_line(
            r"@badges=broadcaster/1,vip/1;bits=100;display-name=Riot\sGames;first-msg=1;id=b1;reply-parent-display-name=Par;reply-parent-msg-body=a\sparent\smessage\:\swith\sstuff;reply-parent-msg-id=p-1;reply-parent-user-id=9;reply-parent-user-login=par;tmi-sent-ts=5;user-id=7 :riotgames!riotgames@riotgames.tmi.twitch.tv PRIVMSG #c :\u{1}ACTION cheer100 hype\u{1}".replace(r"\u{1}", "\u{1}").as_str(),
        );
        assert_eq!(ev.kind, EventKind::Cheer);
        assert_eq!(ev.text, "cheer100 hype");
        assert_eq!(ev.author.display_name, "Riot Games");
        assert!(ev.author.roles.broadcaster && ev.author.roles.vip);
        assert_eq!(
            ev.detail.as_deref(),
            Some(&EventDetail::Money(Money {
                amount: 100.0,
                currency: "bits".into(),
                display: None,
                tier: None
            }))
        );
        assert_eq!(
            ev.extras.get("bits"),
            None,
            "the amount is typed, not an extra"
        );
        assert_eq!(ev.extras.to_map()["action"], json!(true));
        assert_eq!(ev.extras.to_map()["first_msg"], json!(true));
        assert_eq!(
            ev.extras.to_map()["reply_parent"],
            json!({"msg_id": "p-1", "user_id": "9", "login": "par", "display_name": "Par", "body": "a parent message; with stuff"})
        );
    }

    /// The USERNOTICE samples of the protocol notes (§1.6).
    const RESUB: &str = r"@badge-info=subscriber/2;badges=subscriber/0;color=#0000FF;display-name=Gutrin2;emotes=;flags=;id=e0975c76-0000-4954-8cb0-91b8867ec1ca;login=gutrin2;mod=0;msg-id=resub;msg-param-cumulative-months=2;msg-param-months=0;msg-param-should-share-streak=1;msg-param-streak-months=2;msg-param-sub-plan-name=Channel\sSubscription\s(somechannel);msg-param-sub-plan=1000;room-id=11111111;subscriber=1;system-msg=Gutrin2\ssubscribed\sat\sTier\s1.;tmi-sent-ts=1700000001000;user-id=33333333;user-type= :tmi.twitch.tv USERNOTICE #somechannel :great stream";
    const RAID: &str = r"@badge-info=;badges=;color=#FF69B4;display-name=Raider;emotes=;flags=;id=bb99dda7-0000-4583-9114-52aa11b23d17;login=raider;mod=0;msg-id=raid;msg-param-displayName=Raider;msg-param-login=raider;msg-param-profileImageURL=https://static-cdn.jtvnw.net/x.png;msg-param-viewerCount=430;room-id=11111111;subscriber=0;system-msg=430\sraiders\sfrom\sRaider\shave\sjoined!;tmi-sent-ts=1700000002000;user-id=44444444;user-type= :tmi.twitch.tv USERNOTICE #somechannel";

    fn subscription(ev: &ChatEvent) -> &Subscription {
        assert_eq!(ev.kind, EventKind::Subscription);
        match ev.detail.as_deref() {
            Some(EventDetail::Subscription(sub)) => sub,
            other => panic!("a subscription detail, not {other:?}"),
        }
    }

    /// A USERNOTICE of `msg_id` with `params` (`name=value;...`, escaped) from `login`.
    fn notice_line(msg_id: &str, login: &str, params: &str) -> String {
        format!(
            "@display-name={login};id=u-{msg_id};login={login};{params};msg-id={msg_id};room-id=1;tmi-sent-ts=1;user-id=9 :tmi.twitch.tv USERNOTICE #c"
        )
    }

    #[test]
    fn a_resub_and_a_raid_from_the_protocol_notes_carry_their_typed_fields() {
        let ev = decode_line(RESUB);
        assert_eq!(ev.message_id, "e0975c76-0000-4954-8cb0-91b8867ec1ca");
        assert_eq!(
            (ev.author.login.as_str(), ev.author.id.as_str()),
            ("gutrin2", "33333333")
        );
        assert_eq!(ev.text, "great stream");
        let mut want = Subscription::new(SubKind::Resub);
        want.tier = Some(SubTier::Tier1);
        want.months = Some(2);
        want.streak_months = Some(2);
        assert_eq!(subscription(&ev), &want);
        assert_eq!(ev.extras.to_map()["event"], json!("resub"));
        assert_eq!(
            ev.extras.to_map()["system_msg"],
            json!("Gutrin2 subscribed at Tier 1.")
        );
        assert_eq!(
            ev.extras.to_map()["params"]["sub-plan-name"],
            json!("Channel Subscription (somechannel)")
        );

        let ev = decode_line(RAID);
        assert_eq!(ev.kind, EventKind::Raid);
        assert_eq!(ev.text, "");
        assert_eq!(ev.author.display_name, "Raider");
        assert_eq!(
            ev.detail.as_deref(),
            Some(&EventDetail::Raid(Raid { viewers: 430 }))
        );
    }

    #[test]
    fn a_streak_not_shared_is_not_told_and_a_prime_sub_says_prime() {
        let ev = decode_line(&notice_line(
            "sub",
            "ann",
            "msg-param-cumulative-months=1;msg-param-should-share-streak=0;msg-param-streak-months=1;msg-param-sub-plan=Prime",
        ));
        let sub = subscription(&ev);
        assert_eq!(
            (sub.kind, sub.tier, sub.months, sub.streak_months),
            (SubKind::New, Some(SubTier::Prime), Some(1), None)
        );
        assert!(!sub.anonymous);
    }

    #[test]
    fn gifts_name_their_recipient_and_an_anonymous_gifter_is_said_to_be_one() {
        let gift = "msg-param-gift-months=3;msg-param-months=5;msg-param-recipient-display-name=Qatar\\sKing;msg-param-recipient-id=236653628;msg-param-recipient-user-name=qatarking24xd;msg-param-sub-plan=2000";
        let ev = decode_line(&notice_line("subgift", "adam", gift));
        let sub = subscription(&ev);
        assert_eq!(sub.kind, SubKind::Gift);
        assert_eq!(sub.tier, Some(SubTier::Tier2));
        assert_eq!(
            (sub.gift_months, sub.months, sub.count),
            (Some(3), Some(5), Some(1))
        );
        assert_eq!(
            sub.recipient,
            Some(UserRef {
                id: "236653628".into(),
                login: "qatarking24xd".into(),
                display_name: "Qatar King".into(),
            })
        );
        assert!(!sub.anonymous && sub.community_gift_id.is_none());
        assert_eq!(ev.author.login, "adam", "the gifter is the author");

        // The older anonymous form, and the newer one: a plain subgift from Twitch's anonymous user.
        for (msg_id, login) in [
            ("anonsubgift", "ananonymousgifter"),
            ("subgift", "ananonymousgifter"),
        ] {
            let ev = decode_line(&notice_line(msg_id, login, gift));
            let sub = subscription(&ev);
            assert_eq!(sub.kind, SubKind::Gift, "{msg_id}");
            assert!(sub.anonymous, "{msg_id} from {login} is anonymous");
        }
    }

    #[test]
    fn a_community_gift_and_its_single_gifts_share_one_id() {
        let bomb = decode_line(&notice_line(
            "submysterygift",
            "adam",
            "msg-param-community-gift-id=3407440396593398416;msg-param-mass-gift-count=20;msg-param-origin-id=1f\\sbe;msg-param-sender-count=100;msg-param-sub-plan=1000",
        ));
        let sub = subscription(&bomb);
        assert_eq!(
            (sub.kind, sub.count, sub.tier, sub.anonymous),
            (
                SubKind::CommunityGift,
                Some(20),
                Some(SubTier::Tier1),
                false
            )
        );
        assert_eq!(
            sub.community_gift_id.as_deref(),
            Some("3407440396593398416")
        );
        let single = decode_line(&notice_line(
            "subgift",
            "adam",
            "msg-param-community-gift-id=3407440396593398416;msg-param-gift-months=1;msg-param-recipient-id=5;msg-param-recipient-user-name=bob;msg-param-sub-plan=1000",
        ));
        assert_eq!(
            subscription(&single).community_gift_id,
            sub.community_gift_id,
            "one burst, thanked once"
        );
        assert_eq!(
            subscription(&single)
                .recipient
                .as_ref()
                .map(|r| r.display_name.as_str()),
            Some("bob"),
            "the login stands in for a missing display name"
        );
        let anonymous = decode_line(&notice_line(
            "anonsubmysterygift",
            "ananonymousgifter",
            "msg-param-mass-gift-count=5;msg-param-sub-plan=1000",
        ));
        let sub = subscription(&anonymous);
        assert_eq!(
            (sub.kind, sub.count, sub.anonymous),
            (SubKind::CommunityGift, Some(5), true)
        );
    }

    #[test]
    fn upgrades_are_upgrades_not_gifts() {
        for (msg_id, login, params, kind, anonymous) in [
            (
                "primepaidupgrade",
                "ann",
                "msg-param-sub-plan=1000",
                SubKind::PrimeUpgrade,
                false,
            ),
            (
                "giftpaidupgrade",
                "ann",
                "msg-param-sender-login=adam;msg-param-sender-name=Adam",
                SubKind::GiftUpgrade,
                false,
            ),
            (
                "anongiftpaidupgrade",
                "ann",
                "msg-param-promo-gift-total=0",
                SubKind::GiftUpgrade,
                true,
            ),
        ] {
            let ev = decode_line(&notice_line(msg_id, login, params));
            let sub = subscription(&ev);
            assert_eq!((sub.kind, sub.anonymous), (kind, anonymous), "{msg_id}");
            assert!(
                sub.recipient.is_none() && sub.count.is_none(),
                "{msg_id}: no gift"
            );
            assert_eq!(
                ev.author.login, "ann",
                "{msg_id}: the subscriber is the author"
            );
        }
        let prime = decode_line(&notice_line(
            "primepaidupgrade",
            "ann",
            "msg-param-sub-plan=1000",
        ));
        assert_eq!(subscription(&prime).tier, Some(SubTier::Tier1));
    }

    #[test]
    fn other_notices_are_typed_others_and_an_announcement_is_an_announcement() {
        for msg_id in [
            "unraid",
            "ritual",
            "bitsbadgetier",
            "rewardgift",
            "communitypayforward",
            "standardpayforward",
            "brand-new-thing",
        ] {
            let ev = decode_line(&format!(
                "@id=u-{msg_id};login=x;msg-id={msg_id};tmi-sent-ts=1 :tmi.twitch.tv USERNOTICE #c :hi"
            ));
            assert_eq!(ev.kind, EventKind::Other, "{msg_id}");
            assert_eq!(
                ev.detail.as_deref(),
                Some(&EventDetail::Other(OtherEvent {
                    event: msg_id.into()
                }))
            );
            assert_eq!(ev.extras.to_map()["event"], json!(msg_id));
        }
        let ev = decode_line(
            "@id=a1;login=mod_max;msg-id=announcement;msg-param-color=PRIMARY;tmi-sent-ts=1 :tmi.twitch.tv USERNOTICE #c :Be nice",
        );
        assert_eq!(
            (ev.kind, ev.detail.is_none()),
            (EventKind::Announcement, true)
        );
        assert_eq!(ev.text, "Be nice");
        assert_eq!(ev.extras.to_map()["params"]["color"], json!("PRIMARY"));
    }

    #[test]
    fn a_message_sent_with_channel_points_keeps_its_reward_id() {
        let ev = decode_line(
            "@badges=;custom-reward-id=27c8e486-a386-40cc-9a4b-dbb5cf01e439;display-name=Ann;id=r1;tmi-sent-ts=1700000004000;user-id=7 :ann!ann@ann.tmi.twitch.tv PRIVMSG #c :play the song again",
        );
        assert_eq!(ev.kind, EventKind::Redemption);
        assert_eq!(ev.text, "play the song again");
        assert_eq!(
            ev.detail.as_deref(),
            Some(&EventDetail::Redemption(Redemption {
                reward_id: "27c8e486-a386-40cc-9a4b-dbb5cf01e439".into(),
                title: None,
                cost: None,
                input: Some("play the song again".into()),
            }))
        );
    }

    #[test]
    fn a_deleted_me_message_keeps_its_text_without_the_action_framing() {
        let ev = decode_line(
            "@login=ann;room-id=1;target-msg-id=m-9;tmi-sent-ts=1700000003004 :tmi.twitch.tv CLEARMSG #c :\u{1}ACTION waves\u{1}",
        );
        assert_eq!(ev.kind, EventKind::Deletion);
        assert_eq!(ev.text, "waves");
        assert_eq!(ev.extras.to_map()["action"], json!(true));
        let plain = decode_line(
            "@login=ann;target-msg-id=m-10;tmi-sent-ts=1 :tmi.twitch.tv CLEARMSG #c :just text",
        );
        assert_eq!(plain.text, "just text");
        assert_eq!(plain.extras.get("action"), None);
    }

    proptest::proptest! {
        /// Whatever the `msg-id` and params, a USERNOTICE decodes, its kind and detail agree, and
        /// the numbers that are there are the numbers the event carries.
        #[test]
        fn any_usernotice_maps_to_a_kind_whose_detail_fits(
            msg_id in proptest::sample::select(vec![
                "sub", "resub", "subgift", "anonsubgift", "submysterygift", "anonsubmysterygift",
                "primepaidupgrade", "giftpaidupgrade", "anongiftpaidupgrade", "raid", "announcement",
                "ritual", "x-new",
            ]),
            months in proptest::option::of(0u32..200),
            count in proptest::option::of(0u32..1000),
            viewers in proptest::option::of(0u64..100_000),
            plan in proptest::option::of(proptest::sample::select(vec!["Prime", "1000", "2000", "3000", "9999", ""])),
            anonymous_login in proptest::bool::ANY,
        ) {
            let mut params = Vec::new();
            if let Some(m) = months { params.push(format!("msg-param-cumulative-months={m}")); }
            if let Some(c) = count { params.push(format!("msg-param-mass-gift-count={c}")); }
            if let Some(v) = viewers { params.push(format!("msg-param-viewerCount={v}")); }
            if let Some(p) = plan { params.push(format!("msg-param-sub-plan={p}")); }
            params.push("msg-param-recipient-user-name=bob".into());
            let login = if anonymous_login { ANONYMOUS_GIFTER } else { "ann" };
            let ev = decode_line(&notice_line(msg_id, login, &params.join(";")));
            match (ev.kind, ev.detail.as_deref()) {
                (EventKind::Subscription, Some(EventDetail::Subscription(sub))) => {
                    proptest::prop_assert_eq!(sub.tier, plan.and_then(SubTier::from_twitch_plan));
                    match sub.kind {
                        SubKind::New | SubKind::Resub => {
                            proptest::prop_assert_eq!(sub.months, months.filter(|&m| m > 0));
                        }
                        SubKind::CommunityGift => {
                            proptest::prop_assert_eq!(sub.count, count.filter(|&c| c > 0));
                        }
                        SubKind::Gift => {
                            proptest::prop_assert_eq!(sub.count, Some(1));
                            proptest::prop_assert!(sub.recipient.is_some());
                        }
                        SubKind::PrimeUpgrade | SubKind::GiftUpgrade => {
                            proptest::prop_assert!(sub.recipient.is_none());
                        }
                    }
                    let gift = matches!(sub.kind, SubKind::Gift | SubKind::CommunityGift | SubKind::GiftUpgrade);
                    proptest::prop_assert_eq!(
                        sub.anonymous,
                        gift && (msg_id.starts_with("anon") || anonymous_login)
                    );
                }
                (EventKind::Raid, Some(EventDetail::Raid(raid))) => {
                    proptest::prop_assert_eq!(raid.viewers, viewers.unwrap_or(0));
                }
                (EventKind::Announcement, None) => proptest::prop_assert_eq!(msg_id, "announcement"),
                (EventKind::Other, Some(EventDetail::Other(other))) => {
                    proptest::prop_assert_eq!(other.event.as_str(), msg_id);
                }
                (kind, detail) => proptest::prop_assert!(false, "{msg_id}: {kind:?} with {detail:?}"),
            }
            // The event survives the store's JSON as it is.
            let json = serde_json::to_string(&ev).unwrap();
            proptest::prop_assert_eq!(serde_json::from_str::<ChatEvent>(&json).unwrap(), ev);
        }
    }

    #[test]
    fn moderation_and_room_state() {
        let timeout = decode_line(
            "@ban-duration=600;room-id=11111111;target-user-id=55555555;tmi-sent-ts=1700000003000 :tmi.twitch.tv CLEARCHAT #somechannel :baduser",
        );
        assert_eq!(timeout.kind, EventKind::Timeout);
        assert_eq!(timeout.author.login, "baduser");
        assert_eq!(timeout.author.id, "55555555");
        assert_eq!(timeout.extras.to_map()["duration_s"], json!(600));
        assert_eq!(
            timeout.message_id,
            "clearchat-11111111-1700000003000-55555555"
        );

        let ban = decode_line(
            "@room-id=11111111;target-user-id=55555555;tmi-sent-ts=1700000003001 :tmi.twitch.tv CLEARCHAT #somechannel :baduser",
        );
        assert_eq!(ban.kind, EventKind::Ban);
        let clear = decode_line(
            "@room-id=11111111;tmi-sent-ts=1700000003002 :tmi.twitch.tv CLEARCHAT #somechannel",
        );
        assert_eq!(clear.kind, EventKind::ChatClear);
        assert_eq!(clear.message_id, "clearchat-11111111-1700000003002-all");
        assert_eq!(clear.author, Author::default());

        let deletion = decode_line(
            "@login=baduser;room-id=;target-msg-id=3c92014f-0000-4dc3-a9c9-e5cf182f4a84;tmi-sent-ts=1700000003003 :tmi.twitch.tv CLEARMSG #somechannel :the deleted text",
        );
        assert_eq!(deletion.kind, EventKind::Deletion);
        assert_eq!(
            deletion.message_id,
            "clearmsg-3c92014f-0000-4dc3-a9c9-e5cf182f4a84"
        );
        assert_eq!(deletion.text, "the deleted text");
        assert_eq!(deletion.author.login, "baduser");

        let room = decode_line("@room-id=11111111;slow=5 :tmi.twitch.tv ROOMSTATE #somechannel");
        assert_eq!(room.kind, EventKind::RoomState);
        assert_eq!(room.timestamp, received());
        // No tmi-sent-ts: the id comes from the content, never the arrival time.
        assert!(
            room.message_id.starts_with("roomstate-11111111-h"),
            "{}",
            room.message_id
        );
        assert_eq!(room.extras.to_map()["settings"], json!({"slow": 5}));

        let notice = decode_line(
            "@msg-id=msg_banned :tmi.twitch.tv NOTICE #somechannel :You are permanently banned from talking in somechannel.",
        );
        assert_eq!(notice.kind, EventKind::Notice);
        assert_eq!(notice.extras.to_map()["notice_id"], json!("msg_banned"));
        assert!(notice.text.starts_with("You are permanently banned"));
    }

    #[test]
    fn a_redelivered_roomstate_or_notice_gets_the_same_id_at_any_arrival_time() {
        let later = received() + chrono::Duration::seconds(90);
        for line in [
            "@emote-only=0;followers-only=-1;r9k=0;room-id=11111111;slow=0;subs-only=0 :tmi.twitch.tv ROOMSTATE #somechannel",
            "@msg-id=slow_on :tmi.twitch.tv NOTICE #somechannel :This room is now in slow mode.",
            ":plain!plain@host PRIVMSG #c :no tags at all",
        ] {
            let msg = parse(line).unwrap();
            let first = decode(&msg, "demo", received()).unwrap();
            let again = decode(&msg, "demo", later).unwrap();
            assert_eq!(first.message_id, again.message_id, "{line}");
            // So the pipeline's dedupe drops the re-delivery.
            let mut dedupe = crate::engine::dedupe::Dedupe::new(16);
            assert!(dedupe.first_seen(first.platform, &first.message_id));
            assert!(!dedupe.first_seen(again.platform, &again.message_id));
        }
        // Different content is a different event.
        let slow = parse("@msg-id=slow_off :tmi.twitch.tv NOTICE #somechannel :This room is no longer in slow mode.").unwrap();
        let on = parse(
            "@msg-id=slow_on :tmi.twitch.tv NOTICE #somechannel :This room is now in slow mode.",
        )
        .unwrap();
        assert_ne!(
            decode(&slow, "demo", received()).unwrap().message_id,
            decode(&on, "demo", received()).unwrap().message_id
        );
    }

    #[test]
    fn derived_ids_are_stable_across_deliveries() {
        for line in [
            "@room-id=1;target-user-id=2;tmi-sent-ts=3 :tmi.twitch.tv CLEARCHAT #c :u",
            "@login=u;target-msg-id=m :tmi.twitch.tv CLEARMSG #c :t",
            ":plain!plain@host PRIVMSG #c :no tags at all",
        ] {
            let msg = parse(line).unwrap();
            let a = decode(&msg, "demo", received()).unwrap();
            let b = decode(&msg, "demo", received()).unwrap();
            assert_eq!(a.message_id, b.message_id, "{line}");
            assert!(!a.message_id.is_empty());
        }
        let plain = decode_line(":plain!plain@host PRIVMSG #c :no tags at all");
        assert_eq!(plain.author.id, "plain");
        assert_eq!(plain.timestamp, received());
    }

    #[test]
    fn non_chat_lines_are_not_events() {
        for line in [
            "PING :tmi.twitch.tv",
            ":tmi.twitch.tv 001 bot :Welcome, GLHF!",
            ":tmi.twitch.tv NOTICE * :Login authentication failed",
            ":bot!bot@bot.tmi.twitch.tv JOIN #c",
            "@badges=;mod=0 :tmi.twitch.tv USERSTATE #c",
            ":tmi.twitch.tv RECONNECT",
            ":a!a@a PRIVMSG notachannel :x",
        ] {
            assert_eq!(
                decode(&parse(line).unwrap(), "demo", received()),
                None,
                "{line}"
            );
        }
    }

    /// Every line of the committed fixture (generated by the realistic line generator) parses, and
    /// every chat line decodes.
    #[test]
    fn realistic_fixture_lines_all_decode() {
        let fixture = include_str!("../../../fixtures/twitch/lines.txt");
        let mut events = 0;
        for line in fixture.lines() {
            let msg = parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            match decode(&msg, "demo", received()) {
                Some(ev) => {
                    assert!(!ev.message_id.is_empty());
                    events += 1;
                }
                None => assert_eq!(msg.command(), "PING", "{line}"),
            }
        }
        assert!(events >= 390, "{events} events");
    }
}
