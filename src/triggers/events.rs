//! Stream-event triggers: whether an event meets a trigger's `"on"` conditions.
//!
//! A stream event (a subscription, a cheer, a raid, a redemption, ...) is matched by its kind first:
//! the registry keeps each creator's event triggers per kind, so an event looks only at the
//! triggers on its own kind (and a chat message at none of them). Then every condition the trigger
//! sets must hold on the event's typed fields ([`crate::event::EventDetail`]); a condition whose
//! field the event does not carry (a platform that sends a raid without its viewers) does not hold,
//! so a trigger never fires on a guess.

use crate::config::model::EventMatch;
use crate::event::{ChatEvent, EventDetail};

/// Whether `event` meets every condition of `on` (its kind is already known to be `on.event`).
pub fn matches(on: &EventMatch, event: &ChatEvent) -> bool {
    let detail = event.detail.as_deref();
    let sub = detail.and_then(EventDetail::subscription);
    let money = detail.and_then(EventDetail::money);
    let redemption = detail.and_then(EventDetail::redemption);
    let at_least = |min: Option<u64>, value: Option<u64>| {
        min.is_none_or(|min| value.is_some_and(|v| v >= min))
    };
    at_least(on.min_viewers, detail.and_then(EventDetail::viewers))
        && at_least(
            on.min_months.map(u64::from),
            detail.and_then(EventDetail::months).map(u64::from),
        )
        && at_least(
            on.min_count.map(u64::from),
            detail.and_then(EventDetail::gift_count).map(u64::from),
        )
        && on
            .tier
            .as_ref()
            .is_none_or(|tiers| sub.and_then(|s| s.tier).is_some_and(|t| tiers.contains(&t)))
        && on
            .sub_kind
            .as_ref()
            .is_none_or(|kinds| sub.is_some_and(|s| kinds.contains(&s.kind)))
        && on
            .anonymous
            .is_none_or(|anonymous| sub.is_some_and(|s| s.anonymous == anonymous))
        && on
            .min_amount
            .is_none_or(|min| money.is_some_and(|m| m.amount >= min))
        && on
            .currency
            .as_deref()
            .is_none_or(|c| money.is_some_and(|m| m.currency.eq_ignore_ascii_case(c)))
        && on
            .reward_id
            .as_deref()
            .is_none_or(|id| redemption.is_some_and(|r| r.reward_id == id))
        && on.reward.as_deref().is_none_or(|title| {
            redemption
                .and_then(|r| r.title.as_deref())
                .is_some_and(|t| t.to_lowercase() == title.to_lowercase())
        })
        && on.membership_kind.as_ref().is_none_or(|kinds| {
            detail
                .and_then(EventDetail::membership)
                .is_some_and(|m| kinds.contains(&m.kind))
        })
        && on
            .name
            .as_deref()
            .is_none_or(|name| detail.and_then(EventDetail::other_name) == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{
        Author, EventKind, Membership, MembershipKind, Money, OtherEvent, Platform, Raid,
        Redemption, SubKind, SubTier, Subscription,
    };
    use proptest::prelude::*;

    fn on(json: &str) -> EventMatch {
        serde_json::from_str(json).unwrap()
    }

    fn event(kind: EventKind, detail: Option<EventDetail>) -> ChatEvent {
        let base = ChatEvent::message(
            Platform::named("twitch"),
            "demo",
            "e1",
            chrono::Utc::now(),
            Author::viewer("ann"),
            "",
        );
        match detail {
            Some(detail) => base.with_detail(kind, detail),
            None => ChatEvent { kind, ..base },
        }
    }

    fn raid(viewers: u64) -> ChatEvent {
        event(EventKind::Raid, Some(EventDetail::Raid(Raid { viewers })))
    }

    fn sub(kind: SubKind, f: impl FnOnce(&mut Subscription)) -> ChatEvent {
        let mut sub = Subscription::new(kind);
        f(&mut sub);
        event(
            EventKind::Subscription,
            Some(EventDetail::Subscription(sub)),
        )
    }

    fn money(amount: f64, currency: &str) -> ChatEvent {
        event(
            EventKind::Tip,
            Some(EventDetail::Money(Money {
                amount,
                currency: currency.into(),
                display: None,
                tier: None,
            })),
        )
    }

    #[test]
    fn viewers_months_and_counts_are_minimums_and_a_missing_field_never_matches() {
        let big = on(r#"{"event": "raid", "min_viewers": 10}"#);
        assert!(matches(&big, &raid(10)) && matches(&big, &raid(430)));
        assert!(!matches(&big, &raid(9)));
        assert!(
            !matches(&big, &event(EventKind::Raid, None)),
            "no viewers told"
        );
        assert!(matches(
            &on(r#"{"event": "raid"}"#),
            &event(EventKind::Raid, None)
        ));

        let long = on(r#"{"event": "subscription", "min_months": 12}"#);
        assert!(matches(
            &long,
            &sub(SubKind::Resub, |s| s.months = Some(12))
        ));
        assert!(!matches(
            &long,
            &sub(SubKind::Resub, |s| s.months = Some(11))
        ));
        assert!(!matches(&long, &sub(SubKind::New, |_| {})));
        let member = event(
            EventKind::Membership,
            Some(EventDetail::Membership(Membership {
                kind: MembershipKind::Milestone,
                level: None,
                months: Some(24),
                count: None,
            })),
        );
        assert!(matches(
            &on(
                r#"{"event": "membership", "min_months": 12, "membership_kind": ["milestone", "new"]}"#
            ),
            &member
        ));
        assert!(!matches(
            &on(r#"{"event": "membership", "membership_kind": "gift"}"#),
            &member
        ));

        let bomb = on(r#"{"event": "subscription", "min_count": 5, "sub_kind": "community_gift"}"#);
        assert!(matches(
            &bomb,
            &sub(SubKind::CommunityGift, |s| s.count = Some(5))
        ));
        assert!(!matches(&bomb, &sub(SubKind::Gift, |s| s.count = Some(1))));
    }

    #[test]
    fn tiers_kinds_and_anonymity_of_subscriptions() {
        let high = on(r#"{"event": "subscription", "tier": ["tier2", "tier3"]}"#);
        assert!(matches(
            &high,
            &sub(SubKind::New, |s| s.tier = Some(SubTier::Tier3))
        ));
        assert!(!matches(
            &high,
            &sub(SubKind::New, |s| s.tier = Some(SubTier::Prime))
        ));
        assert!(!matches(&high, &sub(SubKind::New, |_| {})));
        let anon = on(r#"{"event": "subscription", "anonymous": true}"#);
        assert!(matches(&anon, &sub(SubKind::Gift, |s| s.anonymous = true)));
        assert!(!matches(&anon, &sub(SubKind::Gift, |_| {})));
        let resubs = on(r#"{"event": "subscription", "sub_kind": ["resub", "new"]}"#);
        assert!(matches(&resubs, &sub(SubKind::Resub, |_| {})));
        assert!(!matches(&resubs, &sub(SubKind::GiftUpgrade, |_| {})));
    }

    #[test]
    fn amounts_with_or_without_a_currency() {
        let five = on(r#"{"event": "tip", "min_amount": 5}"#);
        assert!(matches(&five, &money(5.0, "USD")) && matches(&five, &money(500.0, "kicks")));
        assert!(!matches(&five, &money(4.99, "USD")));
        let five_dollars = on(r#"{"event": "tip", "min_amount": 5, "currency": "usd"}"#);
        assert!(matches(&five_dollars, &money(5.0, "USD")));
        assert!(
            !matches(&five_dollars, &money(500.0, "kicks")),
            "another currency"
        );
        assert!(!matches(&five_dollars, &event(EventKind::Tip, None)));
    }

    #[test]
    fn rewards_by_id_or_title_and_others_by_name() {
        let redeem = |title: Option<&str>| {
            event(
                EventKind::Redemption,
                Some(EventDetail::Redemption(Redemption {
                    reward_id: "r-1".into(),
                    title: title.map(Into::into),
                    cost: None,
                    input: None,
                })),
            )
        };
        assert!(matches(
            &on(r#"{"event": "redemption", "reward_id": "r-1"}"#),
            &redeem(None)
        ));
        assert!(!matches(
            &on(r#"{"event": "redemption", "reward_id": "r-2"}"#),
            &redeem(None)
        ));
        let hydrate = on(r#"{"event": "redemption", "reward": "hydrate!"}"#);
        assert!(matches(&hydrate, &redeem(Some("Hydrate!"))));
        assert!(
            !matches(&hydrate, &redeem(None)),
            "Twitch IRC sends no title"
        );
        let ritual = event(
            EventKind::Other,
            Some(EventDetail::Other(OtherEvent {
                event: "ritual".into(),
            })),
        );
        assert!(matches(
            &on(r#"{"event": "other", "name": "ritual"}"#),
            &ritual
        ));
        assert!(!matches(
            &on(r#"{"event": "other", "name": "unraid"}"#),
            &ritual
        ));
    }

    proptest! {
        /// `min_viewers` is exactly "at least": the trigger fires for every raid at or above it
        /// and for none below.
        #[test]
        fn min_viewers_is_a_threshold(min in 0u64..10_000, viewers in 0u64..10_000) {
            let on = EventMatch { event: EventKind::Raid, min_viewers: Some(min), ..EventMatch::default() };
            prop_assert_eq!(matches(&on, &raid(viewers)), viewers >= min);
        }

        /// With a currency, an amount counts only in that currency; without one, in any.
        #[test]
        fn min_amount_with_and_without_currency(min in 0.0f64..1000.0, amount in 0.0f64..1000.0, usd in any::<bool>()) {
            let currency = if usd { "USD" } else { "EUR" };
            let any = EventMatch { event: EventKind::Tip, min_amount: Some(min), ..EventMatch::default() };
            let dollars = EventMatch { currency: Some("USD".into()), ..any.clone() };
            prop_assert_eq!(matches(&any, &money(amount, currency)), amount >= min);
            prop_assert_eq!(matches(&dollars, &money(amount, currency)), amount >= min && usd);
        }
    }
}
