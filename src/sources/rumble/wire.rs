//! Pure parsers of Rumble's official Live Stream API answer (PROTOCOLS.md §4.1).
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
//! Every function takes decoded JSON and never panics on any shape: a field of the wrong type reads
//! as absent. Entries Rumble sends to mean "nothing" (`latest_*` objects with an empty username) are
//! filtered; entries with a username but no readable time cannot be deduplicated safely and are
//! skipped and counted ([`ApiPage::skipped`]).

use crate::event::{Author, ChatEvent, EventKind, Extras, Roles};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::Digest;

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
    /// Every item, rants before chat messages, each id once.
    pub items: Vec<Item>,
    /// The first livestream with `is_live: true`; `None` when none is live.
    pub live: Option<Live>,
    /// Entries with a username but no valid time.
    pub skipped: usize,
}

/// Why an answer is not an answer at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected Rumble Live Stream API answer: {0}")]
pub struct WireError(pub String);

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?.as_str()
}

/// A non-negative integer field; Rumble sends numbers, strings are accepted too.
fn u64_at(v: &Value, key: &str) -> Option<u64> {
    match v.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An RFC 3339 time (`2023-09-18T17:51:08+00:00`).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The array at `key`, or nothing.
fn list_at<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
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

/// The user's name of an entry, when it names one (empty names are Rumble's "nothing").
fn username(v: &Value) -> Option<&str> {
    str_at(v, "username")
        .or_else(|| str_at(v, "user"))
        .or_else(|| str_at(v, "purchased_by"))
        .map(str::trim)
        .filter(|u| !u.is_empty())
}

/// Whole dollars and cents as text (`"1.00"`).
pub fn dollars(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Whom events belong to: the channel's name for channel keys, the user's for user keys.
pub fn channel_of(body: &Value) -> &str {
    str_at(body, "channel_name")
        .filter(|c| !c.is_empty())
        .or_else(|| str_at(body, "username"))
        .unwrap_or("")
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
    /// The event; `owner` is the channel owner's name (the broadcaster).
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
        let kind = if self.rant_cents.is_some() {
            EventKind::Tip
        } else {
            EventKind::Message
        };
        let mut e = event(creator, channel, id, self.at, kind, author, self.text);
        let mut extras = Extras::new();
        if let Some(cents) = self.rant_cents {
            extras.insert_str("event", "rant");
            extras.insert_u64("amount_cents", cents);
            extras.insert_str("amount", &dollars(cents));
            extras.insert_str("currency", "USD");
            if let Some(expires) = self.expires_on {
                extras.insert_str("expires_on", expires);
            }
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

/// A chat message or rant of the API (`rant` with `amount_cents`).
fn chat_line<'a>(v: &'a Value, livestream: Option<&'a str>, rant: bool) -> Option<ChatLine<'a>> {
    Some(ChatLine {
        username: username(v)?,
        badges: list_at(v, "badges")
            .iter()
            .filter_map(Value::as_str)
            .collect(),
        text: str_at(v, "text").unwrap_or(""),
        at: str_at(v, "created_on").and_then(parse_time)?,
        rant_cents: if rant {
            Some(u64_at(v, "amount_cents").unwrap_or(0))
        } else {
            None
        },
        expires_on: str_at(v, "expires_on"),
        livestream,
        rumble_id: None,
    })
}

/// Parses one answer of the Live Stream API for `creator`.
pub fn parse_api(body: &Value, creator: &str) -> Result<ApiPage, WireError> {
    if !body.is_object() {
        return Err(WireError("the answer is not a JSON object".into()));
    }
    let channel = channel_of(body);
    let owner = str_at(body, "channel_name")
        .filter(|c| !c.is_empty())
        .or_else(|| str_at(body, "username"))
        .unwrap_or("");
    let mut page = ApiPage::default();
    let mut seen = std::collections::HashSet::new();
    let mut push =
        |page: &mut ApiPage, list: List, event: Option<ChatEvent>, named: bool| match event {
            // The same item listed twice in one answer (a `latest_*` that is also recent) is one.
            Some(e) if seen.insert(e.message_id.clone()) => {
                page.items.push(Item { list, event: e })
            }
            Some(_) => {}
            None if named => page.skipped += 1,
            None => {}
        };

    for stream in list_at(body, "livestreams") {
        let id = str_at(stream, "id").filter(|id| !id.is_empty());
        if page.live.is_none()
            && stream.get("is_live").and_then(Value::as_bool) == Some(true)
            && let Some(id) = id
        {
            page.live = Some(Live {
                id: id.to_owned(),
                title: str_at(stream, "title").map(str::to_owned),
                started_at: str_at(stream, "created_on").and_then(parse_time),
            });
        }
        let null = Value::Null;
        let chat = stream.get("chat").unwrap_or(&null);
        // Rants first: a rant Rumble also lists among the messages stays a donation.
        for (key, latest, rant) in [
            ("recent_rants", "latest_rant", true),
            ("recent_messages", "latest_message", false),
        ] {
            let entries = list_at(chat, key).iter().chain(chat.get(latest));
            for v in entries {
                let named = username(v).is_some();
                let e = chat_line(v, id, rant).map(|l| l.event(creator, channel, owner));
                push(&mut page, List::Chat, e, named);
            }
        }
    }

    let null = Value::Null;
    let followers = body.get("followers").unwrap_or(&null);
    for v in list_at(followers, "recent_followers")
        .iter()
        .chain(followers.get("latest_follower"))
    {
        let named = username(v).is_some();
        let e = username(v)
            .zip(str_at(v, "followed_on").and_then(parse_time))
            .map(|(name, at)| {
                let mut e = event(
                    creator,
                    channel,
                    derived_id("follow", name, "", at),
                    at,
                    EventKind::Other,
                    Author::viewer(name),
                    "",
                );
                e.extras.insert_str("event", "follow");
                e
            });
        push(&mut page, List::Followers, e, named);
    }

    let subscribers = body.get("subscribers").unwrap_or(&null);
    for v in list_at(subscribers, "recent_subscribers")
        .iter()
        .chain(subscribers.get("latest_subscriber"))
    {
        let named = username(v).is_some();
        let e = username(v)
            .zip(str_at(v, "subscribed_on").and_then(parse_time))
            .map(|(name, at)| {
                let mut e = event(
                    creator,
                    channel,
                    derived_id("sub", name, "", at),
                    at,
                    EventKind::Subscription,
                    Author::viewer(name),
                    "",
                );
                e.extras.insert_str("event", "subscription");
                if let Some(cents) = u64_at(v, "amount_cents") {
                    e.extras.insert_u64("amount_cents", cents);
                    e.extras.insert_str("amount", &dollars(cents));
                    e.extras.insert_str("currency", "USD");
                }
                e
            });
        push(&mut page, List::Subscribers, e, named);
    }

    // Gifted subscriptions: the field names are Cocorum's (unverified), so the time and the count
    // are read from the names seen in the wild, and the entry is kept whole in extras.
    let gifted = body.get("gifted_subs").unwrap_or(&null);
    for v in list_at(gifted, "recent_gifted_subs")
        .iter()
        .chain(gifted.get("latest_gifted_sub"))
    {
        let named = username(v).is_some();
        let at = ["purchased_on", "gifted_on", "created_on"]
            .iter()
            .find_map(|k| str_at(v, k).and_then(parse_time));
        let e = username(v).zip(at).map(|(name, at)| {
            let count = u64_at(v, "total_gifts")
                .or_else(|| u64_at(v, "num_gifts"))
                .unwrap_or(1);
            let mut e = event(
                creator,
                channel,
                derived_id("gift", name, &count.to_string(), at),
                at,
                EventKind::Subscription,
                Author::viewer(name),
                "",
            );
            e.extras.insert_str("event", "gifted_subs");
            e.extras.insert_u64("count", count);
            e.extras.insert_value("gift", v);
            e
        });
        push(&mut page, List::GiftedSubs, e, named);
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
    use proptest::prelude::*;
    use serde_json::json;

    /// The example answer of PROTOCOLS.md §4.1, as published.
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

    #[test]
    fn the_published_example_gives_every_kind_once() {
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
                (List::Followers, EventKind::Other, "UserA", ""),
                (List::Subscribers, EventKind::Subscription, "UserD", ""),
            ],
            "the follower listed as latest and recent is one event; the empty gift list gives none"
        );
        assert_eq!(page.skipped, 0);
        assert_eq!(
            page.live,
            Some(Live {
                id: "6dq0x8".into(),
                title: Some("Title".into()),
                started_at: parse_time("2023-09-18T17:51:19+00:00"),
            })
        );
        let rant = &page.items[0].event;
        assert_eq!(
            rant.extras.as_json(),
            r#"{"event":"rant","amount_cents":100,"amount":"1.00","currency":"USD","expires_on":"2023-09-18T17:53:37+00:00","livestream_id":"6dq0x8"}"#
        );
        assert_eq!(rant.timestamp, parse_time("2023-09-18T17:51:37Z").unwrap());
        assert_eq!(rant.channel, "owner");
        assert_eq!(rant.platform, crate::sources::rumble::RUMBLE);
        let follow = &page.items[3].event;
        assert_eq!(
            follow.timestamp,
            parse_time("2023-09-18T00:43:56Z").unwrap(),
            "the follower's own time, in UTC"
        );
        assert_eq!(follow.extras.as_json(), r#"{"event":"follow"}"#);
        assert_eq!(
            page.items[4].event.extras.as_json(),
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
    fn empty_latest_objects_are_filtered_and_timeless_entries_counted() {
        let body = json!({"username": "owner",
            "followers": {"latest_follower": {"username": "", "followed_on": null}, "recent_followers": []},
            "subscribers": {"latest_subscriber": {"user": "", "username": "", "amount_cents": 0, "subscribed_on": ""}},
            "gifted_subs": {"latest_gifted_sub": {"purchased_by": "Gifter", "total_gifts": 3, "purchased_on": "2023-09-18T17:00:00+00:00"}},
            "livestreams": [{"id": "abc", "is_live": false, "chat": {
                "latest_message": {"username": "", "text": "", "created_on": ""},
                "recent_messages": [{"username": "NoTime", "text": "x"}],
                "latest_rant": {"username": "", "amount_cents": 0}}}]});
        let page = parse_api(&body, "demo").unwrap();
        assert_eq!(page.items.len(), 1, "{:?}", page.items);
        let gift = &page.items[0].event;
        assert_eq!(gift.kind, EventKind::Subscription);
        assert_eq!(gift.author.display_name, "Gifter");
        assert_eq!(gift.extras.get("count").unwrap(), 3);
        assert_eq!(page.skipped, 1, "the message without a time");
        assert_eq!(page.live, None, "nothing is live");
        assert!(parse_api(&json!([1, 2]), "demo").is_err());
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

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-zA-Z0-9:. -]{0,12}".prop_map(Value::String),
            prop_oneof![
                Just("2023-09-18T17:51:08+00:00"),
                Just("2023-09-17T20:43:56-04:00"),
                Just("UserA"),
                Just(""),
                Just("500"),
            ]
            .prop_map(|s| Value::String(s.into())),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            let keys = prop_oneof![
                Just("livestreams"),
                Just("chat"),
                Just("recent_messages"),
                Just("latest_message"),
                Just("recent_rants"),
                Just("latest_rant"),
                Just("followers"),
                Just("recent_followers"),
                Just("latest_follower"),
                Just("subscribers"),
                Just("recent_subscribers"),
                Just("latest_subscriber"),
                Just("gifted_subs"),
                Just("recent_gifted_subs"),
                Just("latest_gifted_sub"),
                Just("username"),
                Just("user"),
                Just("purchased_by"),
                Just("text"),
                Just("badges"),
                Just("created_on"),
                Just("followed_on"),
                Just("subscribed_on"),
                Just("purchased_on"),
                Just("amount_cents"),
                Just("total_gifts"),
                Just("is_live"),
                Just("id"),
                Just("channel_name"),
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((keys, inner), 0..6).prop_map(|kv| {
                    Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn the_parser_never_panics_on_arbitrary_json(v in arb_json()) {
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
    }
}
