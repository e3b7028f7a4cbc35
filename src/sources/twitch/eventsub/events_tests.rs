//! Notifications as Twitch's EventSub reference shows them (and the payloads twitch_api's tests
//! copy from it), normalized.

use super::*;
use crate::event::{MembershipKind, SubKind, SubTier};
use crate::sources::twitch::eventsub::frames::{self, Frame};
use proptest::prelude::*;

/// A notification frame of `kind` carrying `event`, delivered as `delivery` at `at`.
pub(crate) fn frame(kind: &str, version: &str, delivery: &str, at: &str, event: &str) -> String {
    format!(
        r#"{{"metadata":{{"message_id":"{delivery}","message_type":"notification","message_timestamp":"{at}","subscription_type":"{kind}","subscription_version":"{version}"}},"payload":{{"subscription":{{"id":"sub-1","status":"enabled","type":"{kind}","version":"{version}","cost":0,"condition":{{}},"transport":{{"method":"websocket","session_id":"AQoQ"}},"created_at":"2023-11-06T18:11:47.492253549Z"}},"event":{event}}}}}"#
    )
}

const AT: &str = "2023-11-06T18:11:47.492253549Z";

fn decode(kind: &str, event: &str) -> Decoded {
    let text = frame(kind, "1", "delivery-1", AT, event);
    let Frame::Notification(n) = frames::parse(&text).unwrap() else {
        panic!("not a notification");
    };
    normalize(&n, "demo").unwrap()
}

fn decode_err(kind: &str, event: &str) -> String {
    let text = frame(kind, "1", "delivery-1", AT, event);
    let Frame::Notification(n) = frames::parse(&text).unwrap() else {
        panic!("not a notification");
    };
    normalize(&n, "demo").unwrap_err().to_string()
}

/// The chat message of the EventSub reference, with a mention and a cheermote added.
pub(crate) const CHAT_MESSAGE: &str = r##"{"broadcaster_user_id":"11111111","broadcaster_user_login":"demo_channel","broadcaster_user_name":"Demo_Channel","chatter_user_id":"22222222","chatter_user_login":"viewer_one","chatter_user_name":"Viewer_One","message_id":"cc106a89-1814-919d-454c-f4f2f970aae7","message":{"text":"héllo Kappa @demo_channel Cheer100","fragments":[{"type":"text","text":"héllo ","cheermote":null,"emote":null,"mention":null},{"type":"emote","text":"Kappa","cheermote":null,"emote":{"id":"25","emote_set_id":"0","owner_id":"0","format":["static"]},"mention":null},{"type":"text","text":" ","cheermote":null,"emote":null,"mention":null},{"type":"mention","text":"@demo_channel","cheermote":null,"emote":null,"mention":{"user_id":"11111111","user_name":"Demo_Channel","user_login":"demo_channel"}},{"type":"text","text":" ","cheermote":null,"emote":null,"mention":null},{"type":"cheermote","text":"Cheer100","cheermote":{"prefix":"cheer","bits":100,"tier":100},"emote":null,"mention":null}]},"message_type":"text","badges":[{"set_id":"moderator","id":"1","info":""},{"set_id":"subscriber","id":"12","info":"16"}],"cheer":{"bits":100},"color":"#1E90FF","reply":null,"channel_points_custom_reward_id":null,"channel_points_animation_id":null,"source_broadcaster_user_id":null,"source_broadcaster_user_login":null,"source_broadcaster_user_name":null,"source_message_id":null,"source_badges":null,"is_source_only":null}"##;

#[test]
fn a_chat_message_with_emotes_mentions_a_cheermote_badges_and_a_cheer() {
    let decoded = decode("channel.chat.message", CHAT_MESSAGE);
    let e = decoded.event;
    assert_eq!(decoded.live, None);
    assert_eq!(e.message_id, "cc106a89-1814-919d-454c-f4f2f970aae7");
    assert_eq!(
        (e.channel.as_str(), e.creator.as_str()),
        ("demo_channel", "demo")
    );
    assert_eq!(e.timestamp, wire::parse_time(AT).unwrap());
    assert_eq!(e.text, "héllo Kappa @demo_channel Cheer100");
    assert_eq!(
        (
            e.author.id.as_str(),
            e.author.login.as_str(),
            e.author.display_name.as_str()
        ),
        ("22222222", "viewer_one", "Viewer_One")
    );
    assert!(e.author.roles.moderator && e.author.roles.subscriber && !e.author.roles.vip);
    // Code points, inclusive: "héllo " is 6, so Kappa is 6..=10.
    assert_eq!(
        e.emotes.as_slice(),
        [Emote {
            id: "25".into(),
            start: 6,
            end: 10
        }]
    );
    assert_eq!(e.kind, EventKind::Cheer);
    assert_eq!(
        e.detail
            .as_deref()
            .and_then(EventDetail::money)
            .map(|m| m.amount),
        Some(100.0)
    );
    let extras = e.extras.to_map();
    assert_eq!(extras["color"], "#1E90FF");
    assert_eq!(
        extras["badges"],
        serde_json::json!(["moderator/1", "subscriber/12"])
    );
    assert_eq!(extras["sub_months"], 16);
    assert_eq!(
        extras["mentions"],
        serde_json::json!([{"user_id": "11111111", "login": "demo_channel", "display_name": "Demo_Channel"}])
    );
    assert_eq!(
        extras["cheermotes"],
        serde_json::json!([{"prefix": "cheer", "bits": 100, "tier": 100}])
    );
    assert_eq!(e.shared_from, None);
}

#[test]
fn a_reply_a_reward_message_and_a_shared_chat_message() {
    let reply = CHAT_MESSAGE
        .replace(
            r#""reply":null"#,
            r#""reply":{"parent_message_id":"p-1","parent_message_body":"first!","parent_user_id":"33","parent_user_name":"Ann","parent_user_login":"ann","thread_message_id":"p-1","thread_user_id":"33","thread_user_name":"Ann","thread_user_login":"ann"}"#,
        )
        .replace(r#""cheer":{"bits":100}"#, r#""cheer":null"#);
    let e = decode("channel.chat.message", &reply).event;
    assert_eq!(e.kind, EventKind::Message);
    assert_eq!(
        e.extras.get("reply_parent").unwrap(),
        serde_json::json!({"msg_id": "p-1", "user_id": "33", "login": "ann", "display_name": "Ann", "body": "first!"})
    );

    let reward = reply.replace(
        r#""channel_points_custom_reward_id":null"#,
        r#""channel_points_custom_reward_id":"r-9""#,
    );
    let e = decode("channel.chat.message", &reward).event;
    assert_eq!(e.kind, EventKind::Redemption);
    let redemption = e
        .detail
        .as_deref()
        .and_then(EventDetail::redemption)
        .unwrap();
    assert_eq!(redemption.reward_id, "r-9");
    assert_eq!(redemption.input.as_deref(), Some(e.text.as_str()));

    // Shared chat: a message sent in another channel of the session.
    let shared = CHAT_MESSAGE
        .replace(
            r#""source_broadcaster_user_id":null"#,
            r#""source_broadcaster_user_id":"99999999""#,
        )
        .replace(
            r#""source_broadcaster_user_login":null"#,
            r#""source_broadcaster_user_login":"other_channel""#,
        )
        .replace(
            r#""source_message_id":null"#,
            r#""source_message_id":"src-1""#,
        );
    let e = decode("channel.chat.message", &shared).event;
    assert_eq!(e.shared_from.as_deref(), Some("other_channel"));
    assert_eq!(e.extras.get("source_message_id").unwrap(), "src-1");
    // The channel's own message while shared chat is on is not shared from elsewhere.
    let own = shared.replace(
        r#""source_broadcaster_user_id":"99999999""#,
        r#""source_broadcaster_user_id":"11111111""#,
    );
    assert_eq!(decode("channel.chat.message", &own).event.shared_from, None);
}

/// A `channel.chat.notification` of `notice_type` with its object, by `chatter`.
fn notice(notice_type: &str, object: &str, chatter: &str, text: &str) -> String {
    let all = [
        "sub",
        "resub",
        "sub_gift",
        "community_sub_gift",
        "gift_paid_upgrade",
        "prime_paid_upgrade",
        "raid",
        "unraid",
        "pay_it_forward",
        "announcement",
        "bits_badge_tier",
        "charity_donation",
        "shared_chat_sub",
        "shared_chat_resub",
        "shared_chat_sub_gift",
        "shared_chat_community_sub_gift",
        "shared_chat_gift_paid_upgrade",
        "shared_chat_prime_paid_upgrade",
        "shared_chat_raid",
        "shared_chat_pay_it_forward",
        "shared_chat_announcement",
    ];
    let objects: Vec<String> = all
        .iter()
        .map(|k| {
            if *k == notice_type {
                format!(r#""{k}":{object}"#)
            } else {
                format!(r#""{k}":null"#)
            }
        })
        .collect();
    format!(
        r##"{{"broadcaster_user_id":"11111111","broadcaster_user_login":"demo_channel","broadcaster_user_name":"Demo_Channel",{chatter},"color":"#0000FF","badges":[{{"set_id":"subscriber","id":"0","info":"2"}}],"system_message":"A system message.","message_id":"n-{notice_type}","message":{{"text":"{text}","fragments":[{{"type":"text","text":"{text}","cheermote":null,"emote":null,"mention":null}}]}},"notice_type":"{notice_type}",{},"source_broadcaster_user_id":null,"source_broadcaster_user_login":null,"source_broadcaster_user_name":null,"source_message_id":null,"source_badges":null}}"##,
        objects.join(",")
    )
}

const GUTRIN: &str = r#""chatter_user_id":"33333333","chatter_user_login":"gutrin2","chatter_user_name":"Gutrin2","chatter_is_anonymous":false"#;
const ANONYMOUS: &str = r#""chatter_user_id":null,"chatter_user_login":null,"chatter_user_name":null,"chatter_is_anonymous":true"#;

fn subscription(e: &ChatEvent) -> &Subscription {
    assert_eq!(e.kind, EventKind::Subscription, "{e:?}");
    e.detail
        .as_deref()
        .and_then(EventDetail::subscription)
        .unwrap()
}

#[test]
fn a_resub_with_its_months_and_streak() {
    let e = decode(
        "channel.chat.notification",
        &notice(
            "resub",
            r#"{"cumulative_months":10,"duration_months":0,"streak_months":3,"sub_tier":"2000","is_prime":false,"is_gift":false,"gifter_is_anonymous":null,"gifter_user_id":null,"gifter_user_name":null,"gifter_user_login":null}"#,
            GUTRIN,
            "great stream",
        ),
    )
    .event;
    let sub = subscription(&e);
    assert_eq!(sub.kind, SubKind::Resub);
    assert_eq!(
        (sub.months, sub.streak_months, sub.tier),
        (Some(10), Some(3), Some(SubTier::Tier2))
    );
    assert_eq!(e.text, "great stream");
    assert_eq!(e.author.login, "gutrin2");
    assert_eq!(e.message_id, "n-resub");
    let extras = e.extras.to_map();
    assert_eq!(extras["event"], "resub");
    assert_eq!(extras["system_msg"], "A system message.");
    assert_eq!(extras["notice"]["cumulative_months"], 10);
    assert_eq!(extras["sub_months"], 2);
}

#[test]
fn a_community_gift_and_its_single_gifts_share_one_id_and_anonymity_is_said() {
    let bomb = decode(
        "channel.chat.notification",
        &notice(
            "community_sub_gift",
            r#"{"id":"12111455614691086753","total":5,"sub_tier":"1000","cumulative_total":null}"#,
            ANONYMOUS,
            "",
        ),
    )
    .event;
    let sub = subscription(&bomb);
    assert_eq!(sub.kind, SubKind::CommunityGift);
    assert_eq!(sub.count, Some(5));
    assert!(sub.anonymous);
    assert_eq!(
        sub.community_gift_id.as_deref(),
        Some("12111455614691086753")
    );
    assert_eq!(bomb.author.login, ANONYMOUS_GIFTER);

    let gift = decode(
        "channel.chat.notification",
        &notice(
            "sub_gift",
            r#"{"duration_months":1,"cumulative_total":null,"recipient_user_id":"444","recipient_user_name":"Lucky","recipient_user_login":"lucky","sub_tier":"1000","community_gift_id":"12111455614691086753"}"#,
            GUTRIN,
            "",
        ),
    )
    .event;
    let sub = subscription(&gift);
    assert_eq!(sub.kind, SubKind::Gift);
    assert_eq!(
        sub.community_gift_id.as_deref(),
        Some("12111455614691086753")
    );
    assert_eq!(
        sub.recipient.as_ref().map(|r| r.login.as_str()),
        Some("lucky")
    );
    assert_eq!(
        (sub.count, sub.gift_months, sub.anonymous),
        (Some(1), Some(1), false)
    );
}

#[test]
fn subs_upgrades_raids_announcements_donations_and_unknown_notices() {
    let sub = decode(
        "channel.chat.notification",
        &notice(
            "sub",
            r#"{"sub_tier":"1000","is_prime":true,"duration_months":1}"#,
            GUTRIN,
            "",
        ),
    )
    .event;
    assert_eq!(subscription(&sub).kind, SubKind::New);
    assert_eq!(subscription(&sub).tier, Some(SubTier::Prime));

    let upgrade = decode(
        "channel.chat.notification",
        &notice("gift_paid_upgrade", r#"{"gifter_is_anonymous":true,"gifter_user_id":null,"gifter_user_name":null,"gifter_user_login":null}"#, GUTRIN, ""),
    )
    .event;
    assert_eq!(subscription(&upgrade).kind, SubKind::GiftUpgrade);
    assert!(subscription(&upgrade).anonymous);
    let prime = decode(
        "channel.chat.notification",
        &notice("prime_paid_upgrade", r#"{"sub_tier":"3000"}"#, GUTRIN, ""),
    )
    .event;
    assert_eq!(subscription(&prime).tier, Some(SubTier::Tier3));

    let raid = decode(
        "channel.chat.notification",
        &notice("raid", r#"{"user_id":"555","user_name":"Raider","user_login":"raider","viewer_count":42,"profile_image_url":"https://static-cdn.jtvnw.net/x.png"}"#, GUTRIN, ""),
    )
    .event;
    assert_eq!(raid.kind, EventKind::Raid);
    assert_eq!(
        raid.detail.as_deref().and_then(EventDetail::viewers),
        Some(42)
    );
    assert_eq!(raid.author.login, "raider");

    let announcement = decode(
        "channel.chat.notification",
        &notice(
            "announcement",
            r#"{"color":"PRIMARY"}"#,
            GUTRIN,
            "hello all",
        ),
    )
    .event;
    assert_eq!(announcement.kind, EventKind::Announcement);
    assert_eq!(announcement.detail, None);
    assert_eq!(
        announcement.extras.get("notice").unwrap()["color"],
        "PRIMARY"
    );

    let charity = decode(
        "channel.chat.notification",
        &notice(
            "charity_donation",
            r#"{"charity_name":"Good","amount":{"value":500,"decimal_places":2,"currency":"USD"}}"#,
            GUTRIN,
            "",
        ),
    )
    .event;
    assert_eq!(charity.kind, EventKind::Tip);
    let money = charity
        .detail
        .as_deref()
        .and_then(EventDetail::money)
        .unwrap();
    assert_eq!((money.amount, money.currency.as_str()), (5.0, "USD"));

    // Twitch adds notice types without notice: kept as an opaque `other`, never an error.
    let streak = notice("unraid", "{}", GUTRIN, "").replace(
        r#""notice_type":"unraid""#,
        r#""notice_type":"watch_streak","watch_streak":{"streak":7}"#,
    );
    let e = decode("channel.chat.notification", &streak).event;
    assert_eq!(e.kind, EventKind::Other);
    assert_eq!(
        e.detail.as_deref().and_then(EventDetail::other_name),
        Some("watch_streak")
    );
    assert_eq!(e.extras.get("notice").unwrap()["streak"], 7);
    assert_eq!(e.extras.get("event").unwrap(), "watch_streak");
    let forward = decode(
        "channel.chat.notification",
        &notice("pay_it_forward", r#"{"gifter_is_anonymous":false,"gifter_user_id":"1","gifter_user_name":"A","gifter_user_login":"a"}"#, GUTRIN, ""),
    )
    .event;
    assert_eq!(
        forward.detail.as_deref().and_then(EventDetail::other_name),
        Some("pay_it_forward")
    );
}

#[test]
fn shared_chat_notices_mean_the_same_and_are_marked() {
    let shared = notice(
        "shared_chat_resub",
        r#"{"cumulative_months":4,"duration_months":0,"streak_months":null,"sub_tier":"1000","is_prime":false,"is_gift":false,"gifter_is_anonymous":null,"gifter_user_id":null,"gifter_user_name":null,"gifter_user_login":null}"#,
        GUTRIN,
        "",
    )
    .replace(r#""source_broadcaster_user_id":null"#, r#""source_broadcaster_user_id":"99999999""#)
    .replace(r#""source_broadcaster_user_login":null"#, r#""source_broadcaster_user_login":"other_channel""#);
    let e = decode("channel.chat.notification", &shared).event;
    assert_eq!(subscription(&e).months, Some(4));
    assert_eq!(e.shared_from.as_deref(), Some("other_channel"));
    assert_eq!(e.extras.get("event").unwrap(), "shared_chat_resub");
}

#[test]
fn a_notice_missing_its_object_names_the_path() {
    assert_eq!(
        decode_err(
            "channel.chat.notification",
            &notice("resub", "null", GUTRIN, "")
        ),
        "an EventSub chat notification: a resub notice without its resub object (at payload.event.resub)"
    );
    assert_eq!(
        decode_err(
            "channel.chat.notification",
            &notice("raid", r#"{"user_id":"1"}"#, GUTRIN, "")
        ),
        "an EventSub chat notification: missing field `user_login` (at payload.event.raid)"
    );
}

#[test]
fn follows_redemptions_and_the_stream_going_online_and_offline() {
    let follow = decode(
        "channel.follow",
        r#"{"user_id":"1234","user_login":"cool_user","user_name":"Cool_User","broadcaster_user_id":"1337","broadcaster_user_login":"cooler_user","broadcaster_user_name":"Cooler_User","followed_at":"2020-07-15T18:16:11.17106713Z"}"#,
    )
    .event;
    assert_eq!(follow.kind, EventKind::Follow);
    assert_eq!(follow.author.login, "cool_user");
    assert_eq!(follow.message_id, "delivery-1");
    assert_eq!(
        follow.timestamp,
        wire::parse_time("2020-07-15T18:16:11.17106713Z").unwrap()
    );

    let redemption = decode(
        "channel.channel_points_custom_reward_redemption.add",
        r#"{"id":"1234","broadcaster_user_id":"1337","broadcaster_user_login":"cool_user","broadcaster_user_name":"Cool_User","user_id":"9001","user_login":"cooler_user","user_name":"Cooler_User","user_input":"pogchamp","status":"unfulfilled","reward":{"id":"9001","title":"title","cost":100,"prompt":"reward prompt"},"redeemed_at":"2020-07-15T17:16:03.17106713Z"}"#,
    )
    .event;
    assert_eq!(redemption.kind, EventKind::Redemption);
    assert_eq!(redemption.message_id, "redemption-1234");
    assert_eq!(redemption.text, "pogchamp");
    let r = redemption
        .detail
        .as_deref()
        .and_then(EventDetail::redemption)
        .unwrap();
    assert_eq!(
        (
            r.reward_id.as_str(),
            r.title.as_deref(),
            r.cost,
            r.input.as_deref()
        ),
        ("9001", Some("title"), Some(100), Some("pogchamp"))
    );

    let online = decode(
        "stream.online",
        r#"{"id":"9001","broadcaster_user_id":"1337","broadcaster_user_login":"cool_user","broadcaster_user_name":"Cool_User","type":"live","started_at":"2020-10-11T10:11:12.123Z"}"#,
    );
    assert_eq!(online.event.kind, EventKind::StreamOnline);
    assert_eq!(online.event.message_id, "online-9001");
    let stream = online.live.clone().flatten().unwrap();
    assert_eq!(stream.id, "9001");
    assert_eq!(
        stream.url.as_deref(),
        Some("https://www.twitch.tv/cool_user")
    );
    assert_eq!(
        stream.started_at,
        wire::parse_time("2020-10-11T10:11:12.123Z").unwrap()
    );

    let offline = decode(
        "stream.offline",
        r#"{"broadcaster_user_id":"1337","broadcaster_user_login":"cool_user","broadcaster_user_name":"Cool_User"}"#,
    );
    assert_eq!(offline.event.kind, EventKind::StreamOffline);
    assert_eq!(offline.live, Some(None));
}

#[test]
fn deletions_and_cleared_users_and_the_fallback_subs_cheers_and_raids() {
    let deleted = decode(
        "channel.chat.message_delete",
        r#"{"broadcaster_user_id":"1971641","broadcaster_user_login":"streamer","broadcaster_user_name":"streamer","target_user_id":"7734","target_user_login":"uname","target_user_name":"uname","message_id":"ab24e0b0-2260-4bac-94e4-05eedd4ecd0e"}"#,
    )
    .event;
    assert_eq!(deleted.kind, EventKind::Deletion);
    assert_eq!(
        deleted.message_id,
        "clearmsg-ab24e0b0-2260-4bac-94e4-05eedd4ecd0e"
    );
    assert_eq!(deleted.author.login, "uname");
    assert_eq!(
        deleted.extras.get("target_msg_id").unwrap(),
        "ab24e0b0-2260-4bac-94e4-05eedd4ecd0e"
    );

    let cleared = decode(
        "channel.chat.clear_user_messages",
        r#"{"broadcaster_user_id":"1971641","broadcaster_user_login":"streamer","broadcaster_user_name":"streamer","target_user_id":"7734","target_user_login":"uname","target_user_name":"uname"}"#,
    )
    .event;
    assert_eq!(
        cleared.detail.as_deref().and_then(EventDetail::other_name),
        Some("clear_user_messages")
    );
    assert_eq!(cleared.author.id, "7734");

    let sub = decode(
        "channel.subscribe",
        r#"{"user_id":"1234","user_login":"cool_user","user_name":"Cool_User","broadcaster_user_id":"1337","broadcaster_user_login":"cooler_user","broadcaster_user_name":"Cooler_User","tier":"1000","is_gift":false}"#,
    )
    .event;
    assert_eq!(subscription(&sub).kind, SubKind::New);
    assert_eq!(subscription(&sub).tier, Some(SubTier::Tier1));

    let cheer = decode(
        "channel.cheer",
        r#"{"is_anonymous":true,"user_id":null,"user_login":null,"user_name":null,"broadcaster_user_id":"1337","broadcaster_user_login":"cooler_user","broadcaster_user_name":"Cooler_User","message":"pogchamp","bits":1000}"#,
    )
    .event;
    assert_eq!(cheer.kind, EventKind::Cheer);
    assert_eq!(cheer.author.login, ANONYMOUS_CHEERER);
    assert_eq!(cheer.text, "pogchamp");
    assert_eq!(
        cheer
            .detail
            .as_deref()
            .and_then(EventDetail::money)
            .map(|m| m.amount),
        Some(1000.0)
    );

    let raid = decode(
        "channel.raid",
        r#"{"from_broadcaster_user_id":"1234","from_broadcaster_user_login":"cool_user","from_broadcaster_user_name":"Cool_User","to_broadcaster_user_id":"1337","to_broadcaster_user_login":"cooler_user","to_broadcaster_user_name":"Cooler_User","viewers":9001}"#,
    )
    .event;
    assert_eq!(raid.kind, EventKind::Raid);
    assert_eq!(raid.channel, "cooler_user");
    assert_eq!(raid.author.login, "cool_user");
    assert_eq!(
        raid.detail.as_deref().and_then(EventDetail::viewers),
        Some(9001)
    );
}

#[test]
fn an_unknown_subscription_type_is_an_other_event() {
    let e = decode("channel.shoutout.create", r#"{"anything":1}"#).event;
    assert_eq!(e.kind, EventKind::Other);
    assert_eq!(
        e.detail.as_deref().and_then(EventDetail::other_name),
        Some("channel.shoutout.create")
    );
    // Membership kinds are YouTube's; nothing here makes one.
    let _ = MembershipKind::New;
}

#[test]
fn every_example_matches_the_published_event_schema() {
    let schema: serde_json::Value = serde_json::from_str(crate::event::CHAT_EVENT_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let shared = CHAT_MESSAGE
        .replace(
            r#""source_broadcaster_user_id":null"#,
            r#""source_broadcaster_user_id":"9""#,
        )
        .replace(
            r#""source_broadcaster_user_login":null"#,
            r#""source_broadcaster_user_login":"o""#,
        );
    for (kind, event) in [
        ("channel.chat.message", CHAT_MESSAGE.to_owned()),
        ("channel.chat.message", shared),
        (
            "channel.chat.notification",
            notice(
                "raid",
                r#"{"user_id":"5","user_name":"R","user_login":"r","viewer_count":42,"profile_image_url":""}"#,
                GUTRIN,
                "",
            ),
        ),
    ] {
        let json = serde_json::to_value(decode(kind, &event).event).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{json}: {errors:?}");
    }
}

proptest! {
    /// Any chat text split into fragments at any points, some of them emotes: the text is kept,
    /// every emote range lies inside it and covers exactly its fragment's characters.
    #[test]
    fn emote_ranges_cover_their_fragments(
        pieces in prop::collection::vec(("[a-zé😀 ]{1,6}", any::<bool>()), 1..8)
    ) {
        let text: String = pieces.iter().map(|(p, _)| p.as_str()).collect();
        let fragments: Vec<serde_json::Value> = pieces.iter().enumerate().map(|(i, (p, emote))| {
            if *emote {
                serde_json::json!({"type": "emote", "text": p, "cheermote": null, "mention": null,
                    "emote": {"id": format!("e{i}"), "emote_set_id": "0", "owner_id": "0", "format": ["static"]}})
            } else {
                serde_json::json!({"type": "text", "text": p, "cheermote": null, "emote": null, "mention": null})
            }
        }).collect();
        let mut message: serde_json::Value = serde_json::from_str(CHAT_MESSAGE).unwrap();
        message["message"] = serde_json::json!({"text": text, "fragments": fragments});
        let e = decode("channel.chat.message", &message.to_string()).event;
        prop_assert_eq!(e.text.as_str(), text.as_str());
        let chars: Vec<char> = text.chars().collect();
        let emotes: Vec<&(String, bool)> = pieces.iter().filter(|(_, emote)| *emote).collect();
        prop_assert_eq!(e.emotes.len(), emotes.len());
        for (emote, (piece, _)) in e.emotes.iter().zip(emotes) {
            let covered: String = chars[emote.start as usize..=emote.end as usize].iter().collect();
            prop_assert_eq!(&covered, piece);
        }
    }

    /// Events of any shape under every subscription type normalize or fail with a path, never
    /// a panic.
    #[test]
    fn any_event_never_panics(
        kind in prop::sample::select(&[
            "channel.chat.message", "channel.chat.notification", "channel.chat.message_delete",
            "channel.chat.clear_user_messages", "channel.follow", "channel.subscribe", "channel.cheer",
            "channel.raid", "channel.channel_points_custom_reward_redemption.add", "stream.online",
            "stream.offline",
        ][..]),
        event in crate::wire::strategy::arb_json(
            &["broadcaster_user_id", "broadcaster_user_login", "chatter_user_id", "chatter_user_login",
              "chatter_user_name", "message_id", "message", "text", "fragments", "type", "emote", "id",
              "notice_type", "resub", "raid", "sub_tier", "viewer_count", "user_id", "user_login",
              "followed_at", "reward", "redeemed_at", "started_at", "bits", "cheer", "badges", "set_id"],
            &["resub", "raid", "emote", "2020-07-15T18:16:11.17106713Z", "1000", "announcement"],
        ),
    ) {
        let text = frame(kind, "1", "d", AT, &event.to_string());
        if let Ok(Frame::Notification(n)) = frames::parse(&text) {
            let _ = normalize(&n, "demo");
        }
    }
}
