//! Pure parsers of Rumble's official Live Stream API answer.
//!
//! One answer lists, for the key's user or channel, the recent followers, subscribers and gifted
//! subscriptions, and per livestream its live state and its recent chat messages and rants (each list
//! up to `max_num_results` long). Nothing in it has an id, so every item gets one derived from what
//! identifies it ([`derived_id`]: the user, the text and the platform's own time), and the event's
//! time is that same platform time: a message seen again in the next, overlapping answer (or after a
//! restart, or over the SSE stream) has the same id and time, which is what the pipeline's dedupe and
//! the store's unique key compare. The accepted limit: two identical messages from one user within
//! the same second are one message.
//!
//! The answer and each kind of entry are serde types, decoded through [`crate::wire`]. Entries are
//! decoded one at a time: Rumble keeps an item in its window for minutes, so an entry that does not
//! fit its shape is skipped and reported ([`ApiPage::skipped`], with its path) rather than failing
//! every answer until it scrolls away. Entries Rumble sends to mean "nothing" (`latest_*` objects
//! with an empty username) are filtered; entries with a username but no readable time cannot be
//! deduplicated safely and are skipped the same way.
//!
//! Rants are `tip` events with their [`Money`] (USD), followers `follow` events, subscribers and
//! gifted subscriptions `subscription` events with their [`Subscription`].

use crate::event::{
    Author, ChatEvent, EventDetail, EventKind, Extras, Money, Roles, SubKind, Subscription,
};
use crate::wire::{self, U64, WireError};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use sha2::Digest;
use std::borrow::Cow;

pub use crate::wire::parse_time;

/// The lists of one answer, each with its own place in the checkpoint. Chat messages and rants share
/// one: Rumble may list a rant among the messages too, and both copies must meet the same record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum List {
    Chat,
    Followers,
    Subscribers,
    GiftedSubs,
}

impl List {
    pub const ALL: [List; 4] = [
        List::Chat,
        List::Followers,
        List::Subscribers,
        List::GiftedSubs,
    ];

    /// The name in the checkpoint.
    pub fn as_str(self) -> &'static str {
        match self {
            List::Chat => "chat",
            List::Followers => "followers",
            List::Subscribers => "subscribers",
            List::GiftedSubs => "gifted_subs",
        }
    }
}

/// One event and the list it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub list: List,
    pub event: ChatEvent,
}

/// The livestream that is live, as the answer describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    /// Rumble's id of the livestream (base 36, e.g. `6dq0x8`).
    pub id: String,
    pub title: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
}

/// One parsed answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApiPage {
    /// Whom the events belong to: the channel's name for channel keys, the user's for user keys.
    pub channel: String,
    /// Every item, rants before chat messages, each id once.
    pub items: Vec<Item>,
    /// The first livestream with `is_live: true`; `None` when none is live.
    pub live: Option<Live>,
    /// Why each entry that names a user could not be read (a wrong shape, no readable time).
    pub skipped: Vec<WireError>,
}

const ANSWER: &str = "the Rumble Live Stream API answer";

/// The answer (§4.1). Lists stay raw here and are decoded entry by entry.
#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    channel_name: Option<String>,
    #[serde(default)]
    followers: Option<Followers>,
    #[serde(default)]
    subscribers: Option<Subscribers>,
    #[serde(default)]
    gifted_subs: Option<GiftedSubs>,
    #[serde(default)]
    livestreams: Vec<Livestream>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Followers {
    recent_followers: Vec<Value>,
    latest_follower: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Subscribers {
    recent_subscribers: Vec<Value>,
    latest_subscriber: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GiftedSubs {
    recent_gifted_subs: Vec<Value>,
    latest_gifted_sub: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Livestream {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    created_on: Option<String>,
    #[serde(default)]
    is_live: Option<bool>,
    #[serde(default)]
    chat: Option<StreamChat>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StreamChat {
    recent_messages: Vec<Value>,
    latest_message: Option<Value>,
    recent_rants: Vec<Value>,
    latest_rant: Option<Value>,
}

/// A chat message or a rant of the API (a rant has `amount_cents`).
#[derive(Debug, Deserialize)]
struct ChatEntry<'a> {
    #[serde(default, borrow)]
    username: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    badges: Option<Vec<Cow<'a, str>>>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    created_on: Option<Cow<'a, str>>,
    #[serde(default)]
    amount_cents: Option<U64>,
    #[serde(default, borrow)]
    expires_on: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
struct FollowerEntry<'a> {
    #[serde(default, borrow)]
    username: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    followed_on: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
struct SubscriberEntry<'a> {
    #[serde(default, borrow)]
    username: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    user: Option<Cow<'a, str>>,
    #[serde(default)]
    amount_cents: Option<U64>,
    #[serde(default, borrow)]
    subscribed_on: Option<Cow<'a, str>>,
}

/// A gifted subscription. The field names are Cocorum's (UNVERIFIED), so the gifter, the time and
/// the count are read from the names seen in the wild, and the entry is kept whole in extras.
#[derive(Debug, Deserialize)]
struct GiftEntry<'a> {
    #[serde(default, borrow)]
    purchased_by: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    username: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    purchased_on: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    gifted_on: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    created_on: Option<Cow<'a, str>>,
    #[serde(default)]
    total_gifts: Option<U64>,
    #[serde(default)]
    num_gifts: Option<U64>,
}

/// The id of an item without one: a hash of what tells it apart, the platform's time in whole
/// seconds (so `Z` and `+00:00`, or the API and the SSE stream, agree). `kind` separates the lists
/// that could repeat a name and a time (a follow and a subscription in the same second).
pub fn derived_id(kind: &str, username: &str, text: &str, at: DateTime<Utc>) -> String {
    let mut hash = sha2::Sha256::new();
    for part in [kind, username, text] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.update(at.timestamp().to_be_bytes());
    let digest = hash.finalize();
    let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("rumble-{kind}-{hex}")
}

/// The roles a chat badge list grants. Only badges whose meaning is clear grant a role; all of them
/// are kept in extras.
pub fn roles(badges: &[&str], is_owner: bool) -> Roles {
    Roles {
        broadcaster: is_owner,
        moderator: badges.contains(&"moderator"),
        vip: false,
        subscriber: badges
            .iter()
            .any(|b| matches!(*b, "recurring_subscription" | "locals_supporter" | "locals")),
    }
}

/// A user's name, unless it is Rumble's empty "nothing".
fn name<'s>(value: &'s Option<Cow<'_, str>>) -> Option<&'s str> {
    value.as_deref().map(str::trim).filter(|u| !u.is_empty())
}

/// Whole dollars and cents as text (`"1.00"`).
pub fn dollars(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// A chat event built from the shared fields of every list.
fn event(
    creator: &str,
    channel: &str,
    id: String,
    at: DateTime<Utc>,
    kind: EventKind,
    author: Author,
    text: &str,
) -> ChatEvent {
    ChatEvent {
        kind,
        channel: channel.into(),
        ..ChatEvent::message(
            crate::sources::rumble::RUMBLE,
            creator,
            &id,
            at,
            author,
            text,
        )
    }
}

/// A chat message or a rant from the API or the SSE stream: the one place both are normalized, so
/// their ids agree.
pub struct ChatLine<'a> {
    pub username: &'a str,
    pub badges: Vec<&'a str>,
    pub text: &'a str,
    pub at: DateTime<Utc>,
    /// The rant's price, for a rant.
    pub rant_cents: Option<u64>,
    pub expires_on: Option<&'a str>,
    pub livestream: Option<&'a str>,
    /// Rumble's own message id (the SSE stream has one; the API does not).
    pub rumble_id: Option<&'a str>,
}

impl ChatLine<'_> {
    /// The event; `owner` is the channel owner's name (the broadcaster). A rant is a `tip` with its
    /// amount in US dollars (Rumble prices rants in cents of a dollar).
    pub fn event(&self, creator: &str, channel: &str, owner: &str) -> ChatEvent {
        let author = Author {
            id: self.username.into(),
            login: self.username.to_lowercase().into(),
            display_name: self.username.into(),
            roles: roles(
                &self.badges,
                !owner.is_empty() && self.username.eq_ignore_ascii_case(owner),
            ),
        };
        let id = derived_id("chat", self.username, self.text, self.at);
        let mut e = event(
            creator,
            channel,
            id,
            self.at,
            EventKind::Message,
            author,
            self.text,
        );
        let mut extras = Extras::new();
        if let Some(cents) = self.rant_cents {
            extras.insert_str("event", "rant");
            // Cents are exact; the typed amount is in dollars.
            extras.insert_u64("amount_cents", cents);
            if let Some(expires) = self.expires_on {
                extras.insert_str("expires_on", expires);
            }
            e = e.with_detail(
                EventKind::Tip,
                EventDetail::Money(Money {
                    amount: cents as f64 / 100.0,
                    currency: "USD".into(),
                    display: None,
                    tier: None,
                }),
            );
        }
        if !self.badges.is_empty() {
            extras.insert_str_list("badges", self.badges.iter().copied());
        }
        if let Some(stream) = self.livestream {
            extras.insert_str("livestream_id", stream);
        }
        if let Some(id) = self.rumble_id {
            extras.insert_str("rumble_id", id);
        }
        e.extras = extras;
        e
    }
}

/// What one entry gave: an event, nothing (Rumble's empty "nothing"), or why it was skipped.
enum Entry {
    Event(Box<ChatEvent>),
    Nothing,
    Skipped(WireError),
}

/// Decodes `value` (at `path` in the answer) as `T` and turns it into an entry with `f`, which
/// answers `None` for an entry without a user and `Some(None)` for one with a user but no time.
fn entry<'v, T: Deserialize<'v>>(
    value: &'v Value,
    path: &str,
    f: impl FnOnce(T) -> Option<Option<ChatEvent>>,
) -> Entry {
    match wire::from_value::<T>(ANSWER, value) {
        Err(e) => Entry::Skipped(e.within(path)),
        Ok(t) => match f(t) {
            None => Entry::Nothing,
            Some(Some(event)) => Entry::Event(Box::new(event)),
            Some(None) => Entry::Skipped(WireError::shape(ANSWER, path, "no readable time")),
        },
    }
}

/// The entries of a section: the recent list, then the latest one (often the same item).
fn entries<'v>(
    recent: &'v [Value],
    latest: Option<&'v Value>,
    at: &str,
    latest_key: &str,
) -> impl Iterator<Item = (&'v Value, String)> {
    let recent = recent
        .iter()
        .enumerate()
        .map(move |(i, v)| (v, format!("{at}[{i}]")));
    let latest_path = latest_key.to_owned();
    recent.chain(latest.filter(|v| !v.is_null()).map(|v| (v, latest_path)))
}

/// Parses one answer of the Live Stream API for `creator`.
pub fn parse_api(body: &Value, creator: &str) -> Result<ApiPage, WireError> {
    if !body.is_object() {
        return Err(WireError::shape(
            ANSWER,
            ".",
            "the answer is not a JSON object",
        ));
    }
    let answer: Answer = wire::from_value(ANSWER, body)?;
    let owner = answer
        .channel_name
        .as_deref()
        .filter(|c| !c.is_empty())
        .or(answer.username.as_deref())
        .unwrap_or("")
        .to_owned();
    let channel = owner.as_str();
    let mut page = ApiPage {
        channel: owner.clone(),
        ..ApiPage::default()
    };
    let mut seen = std::collections::HashSet::new();
    let mut push = |page: &mut ApiPage, list: List, entry: Entry| match entry {
        // The same item listed twice in one answer (a `latest_*` that is also recent) is one.
        Entry::Event(e) if seen.insert(e.message_id.clone()) => {
            page.items.push(Item { list, event: *e })
        }
        Entry::Event(_) | Entry::Nothing => {}
        Entry::Skipped(why) => page.skipped.push(why),
    };

    for (s, stream) in answer.livestreams.iter().enumerate() {
        let id = stream.id.as_deref().filter(|id| !id.is_empty());
        if page.live.is_none()
            && stream.is_live == Some(true)
            && let Some(id) = id
        {
            page.live = Some(Live {
                id: id.to_owned(),
                title: stream.title.clone(),
                started_at: stream.created_on.as_deref().and_then(parse_time),
            });
        }
        let chat = stream.chat.as_ref();
        // Rants first: a rant Rumble also lists among the messages stays a tip.
        let lists = [
            (
                chat.map_or(&[][..], |c| &c.recent_rants),
                chat.and_then(|c| c.latest_rant.as_ref()),
                "recent_rants",
                "latest_rant",
                true,
            ),
            (
                chat.map_or(&[][..], |c| &c.recent_messages),
                chat.and_then(|c| c.latest_message.as_ref()),
                "recent_messages",
                "latest_message",
                false,
            ),
        ];
        for (recent, latest, recent_key, latest_key, rant) in lists {
            let at = format!("livestreams[{s}].chat.{recent_key}");
            let latest_at = format!("livestreams[{s}].chat.{latest_key}");
            for (v, path) in entries(recent, latest, &at, &latest_at) {
                let e = entry(v, &path, |c: ChatEntry<'_>| {
                    let username = name(&c.username)?;
                    let at = c.created_on.as_deref().and_then(parse_time);
                    let badges: Vec<&str> = c.badges.iter().flatten().map(AsRef::as_ref).collect();
                    Some(at.map(|at| {
                        ChatLine {
                            username,
                            badges,
                            text: c.text.as_deref().unwrap_or(""),
                            at,
                            rant_cents: rant.then(|| c.amount_cents.map_or(0, |c| c.0)),
                            expires_on: c.expires_on.as_deref(),
                            livestream: id,
                            rumble_id: None,
                        }
                        .event(creator, channel, &owner)
                    }))
                });
                push(&mut page, List::Chat, e);
            }
        }
    }

    let followers = answer.followers.unwrap_or_default();
    for (v, path) in entries(
        &followers.recent_followers,
        followers.latest_follower.as_ref(),
        "followers.recent_followers",
        "followers.latest_follower",
    ) {
        let e = entry(v, &path, |f: FollowerEntry<'_>| {
            let who = name(&f.username)?;
            Some(f.followed_on.as_deref().and_then(parse_time).map(|at| {
                let mut e = event(
                    creator,
                    channel,
                    derived_id("follow", who, "", at),
                    at,
                    EventKind::Follow,
                    Author::viewer(who),
                    "",
                );
                e.extras.insert_str("event", "follow");
                e
            }))
        });
        push(&mut page, List::Followers, e);
    }

    let subscribers = answer.subscribers.unwrap_or_default();
    for (v, path) in entries(
        &subscribers.recent_subscribers,
        subscribers.latest_subscriber.as_ref(),
        "subscribers.recent_subscribers",
        "subscribers.latest_subscriber",
    ) {
        let e = entry(v, &path, |s: SubscriberEntry<'_>| {
            let who = name(&s.username).or(name(&s.user))?;
            Some(s.subscribed_on.as_deref().and_then(parse_time).map(|at| {
                let mut e = event(
                    creator,
                    channel,
                    derived_id("sub", who, "", at),
                    at,
                    EventKind::Subscription,
                    Author::viewer(who),
                    "",
                );
                e.extras.insert_str("event", "subscription");
                // A subscription's price has no typed field: it stays in extras.
                if let Some(cents) = s.amount_cents {
                    e.extras.insert_u64("amount_cents", cents.0);
                    e.extras.insert_str("amount", &dollars(cents.0));
                    e.extras.insert_str("currency", "USD");
                }
                // Rumble lists subscribers without saying whether one renewed.
                e.with_detail(
                    EventKind::Subscription,
                    EventDetail::Subscription(Subscription::new(SubKind::New)),
                )
            }))
        });
        push(&mut page, List::Subscribers, e);
    }

    let gifted = answer.gifted_subs.unwrap_or_default();
    for (v, path) in entries(
        &gifted.recent_gifted_subs,
        gifted.latest_gifted_sub.as_ref(),
        "gifted_subs.recent_gifted_subs",
        "gifted_subs.latest_gifted_sub",
    ) {
        let e = entry(v, &path, |g: GiftEntry<'_>| {
            let who = name(&g.purchased_by).or(name(&g.username))?;
            let at = [&g.purchased_on, &g.gifted_on, &g.created_on]
                .into_iter()
                .find_map(|t| t.as_deref().and_then(parse_time));
            Some(at.map(|at| {
                let count = g.total_gifts.or(g.num_gifts).map_or(1, U64::as_u32);
                let mut e = event(
                    creator,
                    channel,
                    derived_id("gift", who, &count.to_string(), at),
                    at,
                    EventKind::Subscription,
                    Author::viewer(who),
                    "",
                );
                e.extras.insert_str("event", "gifted_subs");
                e.extras.insert_value("gift", v);
                // The recipients are not listed: one gift is a gift to someone unnamed.
                let mut sub = Subscription::new(if count == 1 {
                    SubKind::Gift
                } else {
                    SubKind::CommunityGift
                });
                sub.count = Some(count);
                e.with_detail(EventKind::Subscription, EventDetail::Subscription(sub))
            }))
        });
        push(&mut page, List::GiftedSubs, e);
    }
    Ok(page)
}

/// A base-36 livestream id (`6dq0x8`) as the base-10 number the chat stream's URL takes.
pub fn base36_to_base10(id: &str) -> Option<String> {
    u64::from_str_radix(id.trim(), 36)
        .ok()
        .map(|n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::strategy::arb_json;
    use proptest::prelude::*;
    use serde_json::json;

    /// The example answer of Rumble's Live Stream API, as published.
    pub(crate) const SAMPLE: &str = r#"{"now":1695059500,"type":"user","user_id":"XXXXX","username":"owner","channel_id":null,"channel_name":null,"since":null,"max_num_results":50,
 "followers":{"num_followers":165,"num_followers_total":362,
   "latest_follower":{"username":"UserA","followed_on":"2023-09-17T20:43:56-04:00"},
   "recent_followers":[{"username":"UserA","followed_on":"2023-09-17T20:43:56-04:00"}]},
 "subscribers":{"num_subscribers":5,"num_subscribers_total":7,
   "latest_subscriber":{"user":"UserD","username":"UserD","amount_cents":500,"amount_dollars":5,"subscribed_on":"2023-09-15T21:03:05+00:00"},
   "recent_subscribers":[]},
 "gifted_subs":{"num_gifted_subs":0,"latest_gifted_sub":null,"recent_gifted_subs":[]},
 "livestreams":[{"id":"6dq0x8","title":"Title","created_on":"2023-09-18T17:51:19+00:00","is_live":true,"visibility":"public",
   "categories":{"primary":{"slug":"gaming","title":"Gaming"},"secondary":{"slug":"simulators","title":"Simulators"}},
   "stream_key":"XXXX","likes":3,"dislikes":1,"watching_now":19,
   "chat":{"latest_message":{"username":"UserH","badges":["admin","premium","whale-blue"],"text":"test chat","created_on":"2023-09-18T17:51:08+00:00"},
     "recent_messages":[{"username":"UserA","badges":["premium"],"text":"hi","created_on":"2023-09-18T17:51:08+00:00"}],
     "latest_rant":{"username":"UserB","badges":[],"text":"Rant!","created_on":"2023-09-18T17:51:37+00:00","expires_on":"2023-09-18T17:53:37+00:00","amount_cents":100,"amount_dollars":1},
     "recent_rants":[]}}]}"#;

    fn sample() -> ApiPage {
        parse_api(&serde_json::from_str(SAMPLE).unwrap(), "demo").unwrap()
    }

    fn usd(amount: f64) -> Option<EventDetail> {
        Some(EventDetail::Money(Money {
            amount,
            currency: "USD".into(),
            display: None,
            tier: None,
        }))
    }

    #[test]
    fn the_published_example_gives_every_kind_once_with_typed_fields() {
        let page = sample();
        let summary: Vec<(List, EventKind, &str, &str)> = page
            .items
            .iter()
            .map(|i| {
                (
                    i.list,
                    i.event.kind,
                    i.event.author.display_name.as_str(),
                    i.event.text.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (List::Chat, EventKind::Tip, "UserB", "Rant!"),
                (List::Chat, EventKind::Message, "UserA", "hi"),
                (List::Chat, EventKind::Message, "UserH", "test chat"),
                (List::Followers, EventKind::Follow, "UserA", ""),
                (List::Subscribers, EventKind::Subscription, "UserD", ""),
            ],
            "the follower listed as latest and recent is one event; the empty gift list gives none"
        );
        assert!(page.skipped.is_empty(), "{:?}", page.skipped);
        assert_eq!(page.channel, "owner");
        assert_eq!(
            page.live,
            Some(Live {
                id: "6dq0x8".into(),
                title: Some("Title".into()),
                started_at: parse_time("2023-09-18T17:51:19+00:00"),
            })
        );
        let rant = &page.items[0].event;
        assert_eq!(rant.detail.as_deref().cloned(), usd(1.0));
        assert_eq!(
            rant.extras.as_json(),
            r#"{"event":"rant","amount_cents":100,"expires_on":"2023-09-18T17:53:37+00:00","livestream_id":"6dq0x8"}"#
        );
        assert_eq!(rant.timestamp, parse_time("2023-09-18T17:51:37Z").unwrap());
        assert_eq!(rant.channel, "owner");
        assert_eq!(rant.platform, crate::sources::rumble::RUMBLE);
        assert_eq!(page.items[1].event.detail, None);
        let follow = &page.items[3].event;
        assert_eq!(
            follow.timestamp,
            parse_time("2023-09-18T00:43:56Z").unwrap(),
            "the follower's own time, in UTC"
        );
        assert_eq!(follow.extras.as_json(), r#"{"event":"follow"}"#);
        let sub = &page.items[4].event;
        assert_eq!(
            sub.detail.as_deref(),
            Some(&EventDetail::Subscription(Subscription::new(SubKind::New)))
        );
        assert_eq!(
            sub.extras.as_json(),
            r#"{"event":"subscription","amount_cents":500,"amount":"5.00","currency":"USD"}"#
        );
    }

    #[test]
    fn ids_depend_on_user_text_and_second_only() {
        let at = parse_time("2023-09-18T17:51:08+00:00").unwrap();
        let same = parse_time("2023-09-18T17:51:08Z").unwrap();
        assert_eq!(
            derived_id("chat", "UserA", "hi", at),
            derived_id("chat", "UserA", "hi", same)
        );
        assert_ne!(
            derived_id("chat", "UserA", "hi", at),
            derived_id("chat", "UserA", "hi!", at)
        );
        assert_ne!(
            derived_id("chat", "UserA", "hi", at),
            derived_id("chat", "UserB", "hi", at)
        );
        assert_ne!(
            derived_id("chat", "UserA", "hi", at),
            derived_id("chat", "UserA", "hi", at + chrono::Duration::seconds(1))
        );
        // The documented limit: the same line from the same user in the same second is one id.
        assert_eq!(
            derived_id("chat", "UserA", "hi", at),
            derived_id(
                "chat",
                "UserA",
                "hi",
                at + chrono::Duration::milliseconds(400)
            )
        );
    }

    #[test]
    fn overlapping_answers_give_the_same_ids() {
        let first = sample();
        let mut body: Value = serde_json::from_str(SAMPLE).unwrap();
        body["livestreams"][0]["chat"]["recent_messages"]
            .as_array_mut()
            .unwrap()
            .push(json!({"username": "UserC", "badges": [], "text": "new", "created_on": "2023-09-18T17:52:00+00:00"}));
        let second = parse_api(&body, "demo").unwrap();
        let ids = |p: &ApiPage| -> Vec<String> {
            p.items
                .iter()
                .map(|i| i.event.message_id.to_string())
                .collect()
        };
        let (a, b) = (ids(&first), ids(&second));
        assert!(a.iter().all(|id| b.contains(id)), "{a:?} ⊂ {b:?}");
        assert_eq!(b.len(), a.len() + 1);
    }

    #[test]
    fn empty_latest_objects_are_filtered_and_unreadable_entries_reported() {
        let body = json!({"username": "owner",
            "followers": {"latest_follower": {"username": "", "followed_on": null}, "recent_followers": []},
            "subscribers": {"latest_subscriber": {"user": "", "username": "", "amount_cents": 0, "subscribed_on": ""}},
            "gifted_subs": {"latest_gifted_sub": {"purchased_by": "Gifter", "total_gifts": 3, "purchased_on": "2023-09-18T17:00:00+00:00"}},
            "livestreams": [{"id": "abc", "is_live": false, "chat": {
                "latest_message": {"username": "", "text": "", "created_on": ""},
                "recent_messages": [{"username": "NoTime", "text": "x"},
                    {"username": "Odd", "text": "y", "created_on": "2023-09-18T17:00:00+00:00", "badges": "vip"},
                    {"username": "Fine", "text": "z", "created_on": "2023-09-18T17:00:00+00:00"}],
                "latest_rant": {"username": "", "amount_cents": 0}}}]});
        let page = parse_api(&body, "demo").unwrap();
        assert_eq!(page.items.len(), 2, "{:?}", page.items);
        assert_eq!(page.items[0].event.author.display_name, "Fine");
        let gift = &page.items[1].event;
        assert_eq!(gift.kind, EventKind::Subscription);
        assert_eq!(gift.author.display_name, "Gifter");
        let mut want = Subscription::new(SubKind::CommunityGift);
        want.count = Some(3);
        assert_eq!(
            gift.detail.as_deref(),
            Some(&EventDetail::Subscription(want))
        );
        assert_eq!(gift.extras.get("gift").unwrap()["total_gifts"], 3);
        let skipped: Vec<String> = page.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            skipped,
            [
                "the Rumble Live Stream API answer: no readable time (at livestreams[0].chat.recent_messages[0])",
                r#"the Rumble Live Stream API answer: invalid type: string "vip", expected a sequence (at livestreams[0].chat.recent_messages[1].badges)"#,
            ]
        );
        assert_eq!(page.live, None, "nothing is live");
        assert!(parse_api(&json!([1, 2]), "demo").is_err());
        assert_eq!(
            parse_api(&json!({"livestreams": {}}), "demo")
                .unwrap_err()
                .path,
            "livestreams"
        );
    }

    #[test]
    fn badges_grant_only_the_roles_they_clearly_mean() {
        let r = roles(&["moderator", "premium"], false);
        assert!(r.moderator && !r.subscriber && !r.broadcaster);
        assert!(roles(&["recurring_subscription"], false).subscriber);
        assert!(roles(&[], true).broadcaster);
        assert_eq!(
            roles(&["admin", "whale-blue"], false).highest(),
            crate::event::Role::Everyone
        );
        let page = sample();
        let from_owner = parse_api(
            &json!({"username": "owner", "livestreams": [{"id": "a", "chat": {"recent_messages": [
                {"username": "Owner", "text": "hey", "created_on": "2023-09-18T17:51:08+00:00"}]}}]}),
            "demo",
        )
        .unwrap();
        assert!(from_owner.items[0].event.author.roles.broadcaster);
        assert_eq!(
            page.items[2].event.extras.get("badges").unwrap(),
            json!(["admin", "premium", "whale-blue"])
        );
    }

    #[test]
    fn base36_ids_convert_to_the_stream_number() {
        assert_eq!(base36_to_base10("6dq0x8").as_deref(), Some("385846316"));
        assert_eq!(base36_to_base10("z").as_deref(), Some("35"));
        assert_eq!(base36_to_base10("not an id"), None);
    }

    const KEYS: &[&str] = &[
        "livestreams",
        "chat",
        "recent_messages",
        "latest_message",
        "recent_rants",
        "latest_rant",
        "followers",
        "recent_followers",
        "latest_follower",
        "subscribers",
        "recent_subscribers",
        "latest_subscriber",
        "gifted_subs",
        "recent_gifted_subs",
        "latest_gifted_sub",
        "username",
        "user",
        "purchased_by",
        "text",
        "badges",
        "created_on",
        "followed_on",
        "subscribed_on",
        "purchased_on",
        "amount_cents",
        "total_gifts",
        "is_live",
        "id",
        "channel_name",
    ];
    const STRINGS: &[&str] = &[
        "2023-09-18T17:51:08+00:00",
        "2023-09-17T20:43:56-04:00",
        "UserA",
        "",
        "500",
    ];

    proptest! {
        #[test]
        fn the_parser_never_panics_on_arbitrary_json(v in arb_json(KEYS, STRINGS)) {
            if let Ok(page) = parse_api(&v, "demo") {
                for item in page.items {
                    prop_assert!(item.event.message_id.starts_with("rumble-"));
                }
            }
        }

        #[test]
        fn the_parser_never_panics_on_arbitrary_text(s in ".{0,200}") {
            if let Ok(v) = serde_json::from_str::<Value>(&s) {
                let _ = parse_api(&v, "demo");
            }
            let _ = base36_to_base10(&s);
            let _ = parse_time(&s);
        }

        #[test]
        fn rants_and_follows_decode_to_exactly_what_was_sent(
            cents in 0u64..100_000_000,
            username in "[A-Za-z0-9_]{1,20}",
            text in "\\PC{0,60}",
            secs in 1_600_000_000i64..2_000_000_000,
            as_latest in any::<bool>(),
        ) {
            let at = DateTime::from_timestamp(secs, 0).unwrap();
            let rant = json!({"username": username, "badges": ["premium"], "text": text,
                "created_on": at.to_rfc3339(), "amount_cents": cents});
            let follow = json!({"username": username, "followed_on": at.to_rfc3339()});
            let chat = if as_latest {
                json!({"latest_rant": rant})
            } else {
                json!({"recent_rants": [rant]})
            };
            let body = json!({"username": "owner", "followers": {"recent_followers": [follow]},
                "livestreams": [{"id": "x", "is_live": true, "chat": chat}]});
            let page = parse_api(&body, "demo").unwrap();
            prop_assert!(page.skipped.is_empty());
            let rant = &page.items[0].event;
            prop_assert_eq!(rant.kind, EventKind::Tip);
            prop_assert_eq!(rant.detail.as_deref().cloned(), usd(cents as f64 / 100.0));
            prop_assert_eq!(rant.extras.get("amount_cents"), Some(json!(cents)));
            prop_assert_eq!(rant.author.display_name.as_str(), username.as_str());
            prop_assert_eq!(rant.text.as_str(), text.as_str());
            prop_assert_eq!(rant.timestamp, at);
            let follow = &page.items[1].event;
            prop_assert_eq!((follow.kind, follow.timestamp), (EventKind::Follow, at));
            prop_assert_eq!(follow.author.display_name.as_str(), username.as_str());
        }
    }
}
