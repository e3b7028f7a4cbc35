//! Reply templates: placeholders filled in from one firing; everything else verbatim.
//!
//! | placeholder | value |
//! | --- | --- |
//! | `{user}` | the author's display name: who chatted, subscribed, gifted, cheered, raided, redeemed |
//! | `{args}` | for a command, the text after the command word; otherwise the whole trimmed text (for a stream event, its message: a resub's, a redemption's input) |
//! | `{count}` | how many times this trigger has fired since the trigger state started (the run start or the last applied reload), this firing included. The same for chat and stream-event triggers; what a gift counts is `{gifts}` |
//! | `{platform}` | `twitch`, `youtube`, ... |
//! | `{event}` | the event's kind (`raid`, `subscription`, `message`), or the platform's own name of an `other` event |
//! | `{viewers}` | raid, host: the viewers brought |
//! | `{months}` | subscription, membership: months subscribed |
//! | `{streak}` | subscription: consecutive months, when shared |
//! | `{gifts}` | subscription, membership: how many were gifted at once |
//! | `{tier}` | subscription: `prime`, `1`, `2`, `3`; membership: its level's name |
//! | `{amount}` | cheer, Super Chat, tip: `100`, `4.99` |
//! | `{currency}` | cheer, Super Chat, tip: `bits`, `USD`, ... |
//! | `{recipient}` | subscription: who received a gift |
//! | `{reward}` | redemption: the reward's title (its id when the platform sends no title) |
//! | `{reward_id}` | redemption: the reward's id |
//! | `{input}` | redemption: what the viewer typed |
//! | `{title}` | stream_online, stream_offline: the stream's title, when the platform sends it (a go-live post in chat) |
//!
//! Unknown placeholders stay as written, so a typo shows up in chat instead of vanishing silently.
//! A known placeholder whose field this event does not carry is empty; `validate-config` refuses a
//! placeholder that the trigger's kind of event never carries ([`Placeholder::fits`]). The table of
//! placeholders lives with the config model ([`Placeholder`]), which checks them; this module fills
//! them.

pub use crate::config::model::Placeholder;
use crate::event::{ChatEvent, EventDetail};
use std::fmt::Write as _;

/// What one firing fills a template with.
pub struct Firing<'a> {
    /// The chat message or stream event that fired the trigger.
    pub event: &'a ChatEvent,
    pub args: &'a str,
    /// The trigger's fire count, this firing included.
    pub count: u64,
}

/// Writes what `placeholder` stands for in this firing.
fn write(placeholder: Placeholder, firing: &Firing<'_>, out: &mut String) {
    let event = firing.event;
    let detail = event.detail.as_deref();
    let number = |out: &mut String, n: Option<u64>| {
        if let Some(n) = n {
            out.push_str(itoa::Buffer::new().format(n));
        }
    };
    match placeholder {
        Placeholder::User => out.push_str(&event.author.display_name),
        Placeholder::Args => out.push_str(firing.args),
        Placeholder::Count => number(out, Some(firing.count)),
        Placeholder::Platform => out.push_str(event.platform.as_str()),
        Placeholder::Event => out.push_str(
            detail
                .and_then(EventDetail::other_name)
                .unwrap_or(event.kind.as_str()),
        ),
        Placeholder::Viewers => number(out, detail.and_then(EventDetail::viewers)),
        Placeholder::Months => {
            number(out, detail.and_then(EventDetail::months).map(u64::from));
        }
        Placeholder::Streak => {
            number(
                out,
                detail.and_then(EventDetail::streak_months).map(u64::from),
            );
        }
        Placeholder::Gifts => {
            number(out, detail.and_then(EventDetail::gift_count).map(u64::from));
        }
        Placeholder::Tier => match detail {
            Some(EventDetail::Subscription(sub)) => {
                out.push_str(sub.tier.map_or("", |t| t.as_str()));
            }
            Some(EventDetail::Membership(member)) => {
                out.push_str(member.level.as_deref().unwrap_or_default());
            }
            _ => {}
        },
        Placeholder::Amount => {
            if let Some(money) = detail.and_then(EventDetail::money) {
                write_amount(out, money.amount);
            }
        }
        Placeholder::Currency => {
            out.push_str(
                detail
                    .and_then(EventDetail::money)
                    .map_or("", |m| &m.currency),
            );
        }
        Placeholder::Recipient => out.push_str(
            detail
                .and_then(EventDetail::subscription)
                .and_then(|s| s.recipient.as_ref())
                .map_or("", |r| &r.display_name),
        ),
        Placeholder::Reward => {
            if let Some(r) = detail.and_then(EventDetail::redemption) {
                out.push_str(r.title.as_deref().unwrap_or(&r.reward_id));
            }
        }
        Placeholder::RewardId => out.push_str(
            detail
                .and_then(EventDetail::redemption)
                .map_or("", |r| &r.reward_id),
        ),
        Placeholder::Input => out.push_str(
            detail
                .and_then(EventDetail::redemption)
                .and_then(|r| r.input.as_deref())
                .unwrap_or_default(),
        ),
        Placeholder::Title => out.push_str(
            detail
                .and_then(EventDetail::stream_title)
                .unwrap_or_default(),
        ),
    }
}

/// A whole amount without decimals (`100` bits), any other with two (`4.50`).
fn write_amount(out: &mut String, amount: f64) {
    if amount.fract() == 0.0 && amount.abs() < 1e15 {
        let _ = write!(out, "{amount:.0}");
    } else {
        let _ = write!(out, "{amount:.2}");
    }
}

/// Renders `template` for one firing.
pub fn render(template: &str, firing: &Firing<'_>) -> String {
    if !template.contains('{') {
        return template.to_string();
    }
    let mut out = String::with_capacity(template.len() + 16);
    let mut done = 0;
    for (start, end, placeholder) in Placeholder::scan(template) {
        out.push_str(&template[done..start]);
        write(placeholder, firing, &mut out);
        done = end;
    }
    out.push_str(&template[done..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{
        Author, EventKind, Money, Platform, Raid, Redemption, SubKind, SubTier, Subscription,
        UserRef,
    };
    use chrono::Utc;

    fn chat(text: &str) -> ChatEvent {
        ChatEvent::message(
            Platform::named("twitch"),
            "demo",
            "m1",
            Utc::now(),
            Author::viewer("Ann"),
            text,
        )
    }

    fn fill(template: &str, event: &ChatEvent, args: &str, count: u64) -> String {
        render(template, &Firing { event, args, count })
    }

    #[test]
    fn fills_known_placeholders_and_keeps_the_rest() {
        let ev = chat("hi there");
        assert_eq!(
            fill(
                "{user} said {args} ({count}x on {platform}) {nope} { {{user}",
                &ev,
                "hi there",
                3
            ),
            "Ann said hi there (3x on twitch) {nope} { {Ann"
        );
        assert_eq!(fill("pong", &ev, "", 1), "pong");
        assert_eq!(
            fill("{event}: {viewers}{months}", &ev, "", 1),
            "message: ",
            "no field, no text"
        );
        assert_eq!(fill("{user", &ev, "", 1), "{user");
    }

    #[test]
    fn stream_event_fields_fill_their_placeholders() {
        let raid = chat("").with_detail(EventKind::Raid, EventDetail::Raid(Raid { viewers: 430 }));
        assert_eq!(
            fill("{user} raided with {viewers} ({event})", &raid, "", 2),
            "Ann raided with 430 (raid)"
        );

        let mut sub = Subscription::new(SubKind::Gift);
        sub.tier = Some(SubTier::Tier2);
        sub.months = Some(7);
        sub.count = Some(1);
        sub.recipient = Some(UserRef {
            id: "5".into(),
            login: "bob".into(),
            display_name: "Bob".into(),
        });
        let gift = chat("").with_detail(EventKind::Subscription, EventDetail::Subscription(sub));
        assert_eq!(
            fill(
                "{user} gifted tier {tier} to {recipient} ({months} months, {gifts} gift, fire {count})",
                &gift,
                "",
                9
            ),
            "Ann gifted tier 2 to Bob (7 months, 1 gift, fire 9)"
        );

        for (amount, currency, want) in [
            (100.0, "bits", "100 bits"),
            (4.5, "USD", "4.50 USD"),
            (4.99, "EUR", "4.99 EUR"),
        ] {
            let cheer = chat("").with_detail(
                EventKind::Cheer,
                EventDetail::Money(Money {
                    amount,
                    currency: currency.into(),
                    display: None,
                    tier: None,
                }),
            );
            assert_eq!(fill("{amount} {currency}", &cheer, "", 1), want);
        }

        let redeem = chat("play it again").with_detail(
            EventKind::Redemption,
            EventDetail::Redemption(Redemption {
                reward_id: "r-1".into(),
                title: None,
                cost: None,
                input: Some("play it again".into()),
            }),
        );
        assert_eq!(
            fill(
                "{reward} ({reward_id}): {input}",
                &redeem,
                "play it again",
                1
            ),
            "r-1 (r-1): play it again"
        );
    }

    #[test]
    fn each_placeholder_fits_the_triggers_that_can_fill_it() {
        assert!(Placeholder::User.fits(None) && Placeholder::User.fits(Some(EventKind::Raid)));
        assert!(Placeholder::Viewers.fits(Some(EventKind::Raid)));
        assert!(!Placeholder::Viewers.fits(Some(EventKind::Subscription)));
        assert!(
            !Placeholder::Viewers.fits(None),
            "a chat message has no viewers"
        );
        let used: Vec<&str> = Placeholder::used_in("{user} {nope} {amount}{currency} {")
            .map(Placeholder::name)
            .collect();
        assert_eq!(used, ["user", "amount", "currency"]);
        for (name, p) in Placeholder::ALL {
            assert_eq!(Placeholder::from_name(name), Some(p));
            assert_eq!(p.name(), name);
            assert!(name.len() <= Placeholder::MAX_NAME);
        }
    }

    proptest::proptest! {
        /// Any template renders without panicking (multi-byte text around braces included), and
        /// the text between placeholders comes out as written.
        #[test]
        fn any_template_renders_its_text_verbatim(text in "[a-zé{}😀 ]{0,40}") {
            let ev = chat("x");
            let rendered = fill(&text, &ev, "", 1);
            let kept: String = {
                let mut out = String::new();
                let mut done = 0;
                for (start, end, _) in Placeholder::scan(&text) {
                    out.push_str(&text[done..start]);
                    done = end;
                }
                out.push_str(&text[done..]);
                out
            };
            if Placeholder::scan(&text).next().is_none() {
                proptest::prop_assert_eq!(&rendered, &text);
            }
            proptest::prop_assert!(rendered.len() >= kept.len());
        }
    }
}
