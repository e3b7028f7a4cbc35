//! Which EventSub subscriptions a session creates, from the token's scopes, and why the rest are
//! left out.
//!
//! | type | version | condition | scope | cost |
//! | --- | --- | --- | --- | --- |
//! | `channel.chat.message`, `.notification`, `.message_delete`, `.clear_user_messages` | 1 | broadcaster, user (the token's) | `user:read:chat` | 0 |
//! | `channel.follow` | 2 | broadcaster, moderator (the token's user) | `moderator:read:followers` | 0 |
//! | `channel.subscribe` | 1 | broadcaster | `channel:read:subscriptions` | 0 |
//! | `channel.cheer` | 1 | broadcaster | `bits:read` | 0 |
//! | `channel.raid` | 1 | to_broadcaster | none | 1 unless the token's user is the broadcaster |
//! | `channel.channel_points_custom_reward_redemption.add` | 1 | broadcaster | `channel:read:redemptions` or `channel:manage:redemptions` | 0 |
//! | `stream.online`, `stream.offline` | 1 | broadcaster | none | 1 unless the token's user is the broadcaster |
//!
//! **Each event is recorded once.** Twitch tells some events twice: a sub or a raid arrives as a
//! `channel.chat.notification` and as `channel.subscribe` / `channel.raid`, a cheer as a chat
//! message carrying `cheer` and as `channel.cheer`. The chat subscriptions carry more (a resub's
//! months, a community gift and its gifts, the cheer's text and emotes), so when they are created
//! the three others are left out as covered by them; without `user:read:chat` they are created
//! instead. A type revoked during the run is not created again.
//!
//! Subscriptions that cost (those needing no scope, for a channel the token's user does not own)
//! count against Twitch's `max_total_cost` of 10 per client and user; the session skips one that
//! would go over it ([`super::session`]).

use super::super::scopes;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// One subscription to create.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub kind: &'static str,
    pub version: &'static str,
    pub condition: Value,
    /// What creating it adds to the total cost.
    pub cost: u64,
}

/// A subscription not created, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    pub kind: &'static str,
    pub why: String,
}

/// What a session subscribes to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub create: Vec<Planned>,
    pub left_out: Vec<LeftOut>,
}

/// The scope a subscription type needs (any one of them), for reports; empty for none.
pub fn scopes_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "channel.chat.message"
        | "channel.chat.notification"
        | "channel.chat.message_delete"
        | "channel.chat.clear_user_messages" => &[scopes::READ_CHAT],
        "channel.follow" => &[scopes::FOLLOWERS],
        "channel.subscribe" => &[scopes::SUBSCRIPTIONS],
        "channel.cheer" => &[scopes::BITS],
        "channel.channel_points_custom_reward_redemption.add" => {
            &[scopes::REDEMPTIONS, scopes::MANAGE_REDEMPTIONS]
        }
        _ => &[],
    }
}

/// Every type the transport uses, in the order they are created.
pub const TYPES: [&str; 11] = [
    "channel.chat.message",
    "channel.chat.notification",
    "channel.chat.message_delete",
    "channel.chat.clear_user_messages",
    "channel.follow",
    "channel.channel_points_custom_reward_redemption.add",
    "stream.online",
    "stream.offline",
    "channel.subscribe",
    "channel.cheer",
    "channel.raid",
];

/// The plan for the channel `broadcaster_id`, with the token of `user_id` holding `granted`,
/// leaving out the types in `revoked`.
pub fn plan(
    broadcaster_id: &str,
    user_id: &str,
    granted: &BTreeSet<String>,
    revoked: &BTreeSet<String>,
) -> Plan {
    let owner = broadcaster_id == user_id;
    let has = |kind: &str| {
        let needed = scopes_of(kind);
        needed.is_empty() || needed.iter().any(|s| granted.contains(*s))
    };
    let chat = has("channel.chat.message") && !revoked.contains("channel.chat.notification");
    let cheer_chat = has("channel.chat.message") && !revoked.contains("channel.chat.message");
    let mut out = Plan::default();
    for kind in TYPES {
        if revoked.contains(kind) {
            out.left_out.push(LeftOut {
                kind,
                why: "revoked by Twitch during this run".into(),
            });
            continue;
        }
        let covered_by = match kind {
            "channel.subscribe" | "channel.raid" if chat => Some("channel.chat.notification"),
            "channel.cheer" if cheer_chat => Some("channel.chat.message"),
            _ => None,
        };
        if let Some(by) = covered_by {
            out.left_out.push(LeftOut {
                kind,
                why: format!("covered by {by}, which carries more"),
            });
            continue;
        }
        if !has(kind) {
            out.left_out.push(LeftOut {
                kind,
                why: format!("needs the scope {}", scopes_of(kind).join(" or ")),
            });
            continue;
        }
        let (version, condition) = match kind {
            "channel.chat.message"
            | "channel.chat.notification"
            | "channel.chat.message_delete"
            | "channel.chat.clear_user_messages" => (
                "1",
                json!({"broadcaster_user_id": broadcaster_id, "user_id": user_id}),
            ),
            "channel.follow" => (
                "2",
                json!({"broadcaster_user_id": broadcaster_id, "moderator_user_id": user_id}),
            ),
            "channel.raid" => ("1", json!({"to_broadcaster_user_id": broadcaster_id})),
            _ => ("1", json!({"broadcaster_user_id": broadcaster_id})),
        };
        let cost = u64::from(scopes_of(kind).is_empty() && !owner);
        out.create.push(Planned {
            kind,
            version,
            condition,
            cost,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn kinds(plan: &Plan) -> Vec<&str> {
        plan.create.iter().map(|p| p.kind).collect()
    }

    #[test]
    fn a_broadcaster_token_with_every_scope_gets_the_chat_topics_and_the_rest_are_covered() {
        let plan = plan(
            "111",
            "111",
            &scopes(
                &crate::sources::twitch::scopes::default_scopes()
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            ),
            &BTreeSet::new(),
        );
        assert_eq!(
            kinds(&plan),
            [
                "channel.chat.message",
                "channel.chat.notification",
                "channel.chat.message_delete",
                "channel.chat.clear_user_messages",
                "channel.follow",
                "channel.channel_points_custom_reward_redemption.add",
                "stream.online",
                "stream.offline",
            ]
        );
        assert!(
            plan.create.iter().all(|p| p.cost == 0),
            "the owner's own channel costs nothing"
        );
        let follow = &plan.create[4];
        assert_eq!(follow.version, "2");
        assert_eq!(
            follow.condition,
            json!({"broadcaster_user_id": "111", "moderator_user_id": "111"})
        );
        let left: Vec<(&str, &str)> = plan
            .left_out
            .iter()
            .map(|l| (l.kind, l.why.as_str()))
            .collect();
        assert_eq!(
            left,
            [
                (
                    "channel.subscribe",
                    "covered by channel.chat.notification, which carries more"
                ),
                (
                    "channel.cheer",
                    "covered by channel.chat.message, which carries more"
                ),
                (
                    "channel.raid",
                    "covered by channel.chat.notification, which carries more"
                ),
            ]
        );
    }

    #[test]
    fn a_bot_without_chat_scopes_gets_the_fallbacks_and_pays_for_the_unscoped_ones() {
        let plan = plan(
            "111",
            "222",
            &scopes(&["bits:read", "channel:manage:redemptions"]),
            &BTreeSet::new(),
        );
        assert_eq!(
            kinds(&plan),
            [
                "channel.channel_points_custom_reward_redemption.add",
                "stream.online",
                "stream.offline",
                "channel.cheer",
                "channel.raid",
            ]
        );
        let costs: Vec<u64> = plan.create.iter().map(|p| p.cost).collect();
        assert_eq!(costs, [0, 1, 1, 0, 1]);
        assert_eq!(
            plan.create[4].condition,
            json!({"to_broadcaster_user_id": "111"})
        );
        assert!(
            plan.left_out
                .iter()
                .any(|l| l.kind == "channel.chat.message"
                    && l.why == "needs the scope user:read:chat")
        );
        assert!(plan.left_out.iter().any(|l| l.kind == "channel.subscribe"
            && l.why == "needs the scope channel:read:subscriptions"));
    }

    #[test]
    fn a_revoked_type_is_not_created_again() {
        let revoked: BTreeSet<String> = ["channel.follow".to_owned()].into();
        let plan = plan(
            "1",
            "1",
            &scopes(&["user:read:chat", "moderator:read:followers"]),
            &revoked,
        );
        assert!(!kinds(&plan).contains(&"channel.follow"));
        assert!(
            plan.left_out
                .iter()
                .any(|l| l.kind == "channel.follow" && l.why.contains("revoked"))
        );
    }
}
