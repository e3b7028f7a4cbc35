//! Ko-fi's webhook (`"map": "kofi"`): an `application/x-www-form-urlencoded` POST whose field
//! `data` holds the payment as a JSON string (Ko-fi's webhook reference, ko-fi.com/manage/webhooks).
//!
//! [`payload`] takes the JSON out of the form (the `verification_token` a `token_field` check reads
//! is inside it); [`decode`] reads a payment: its `message_id` (the same on every retry of one
//! delivery: the delivery id), `timestamp`, `type` (`Donation`, `Subscription`, `Commission`,
//! `Shop Order`), `from_name`, `message`, `amount` (a decimal string, parsed as a decimal) and
//! `currency`. [`event`] makes it a `tip` stream event with [`Money`] (amount and currency), the
//! supporter as author and the message as text, unless `is_public` is false: then the message is
//! left out, as Ko-fi asks. The supporter's e-mail and shipping address are never read.

use super::Target;
use crate::event::{Author, ChatEvent, EventDetail, EventKind, Extras, Money};
use serde::Deserialize;
use serde_json::Value;

/// The hook's service name (in each event's `extras.service`).
pub const SERVICE: &str = "kofi";

/// One Ko-fi payment, as much of it as the event needs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Payment {
    pub message_id: String,
    pub timestamp: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default = "default_public")]
    pub is_public: bool,
    #[serde(default)]
    pub from_name: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    pub amount: String,
    pub currency: String,
    #[serde(default)]
    pub kofi_transaction_id: Option<String>,
    #[serde(default)]
    pub is_subscription_payment: bool,
    #[serde(default)]
    pub is_first_subscription_payment: bool,
    #[serde(default)]
    pub tier_name: Option<String>,
}

fn default_public() -> bool {
    // A payment that does not say it may be shown is not shown.
    false
}

/// The JSON object in the form field `data` of `body`.
pub fn payload(body: &[u8]) -> Result<Value, String> {
    let body = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8 text".to_string())?;
    let data = body
        .split('&')
        .find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            (form_decode(name).as_deref() == Some("data")).then(|| form_decode(value))
        })
        .ok_or("no form field \"data\" (Ko-fi posts data=<the payment as JSON>)")?
        .ok_or("the form field \"data\" is not valid URL encoding of UTF-8 text")?;
    let value: Value = serde_json::from_str(&data)
        .map_err(|e| format!("the form field \"data\" is not JSON: {e}"))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err("the form field \"data\" is not a JSON object".into())
    }
}

/// One `application/x-www-form-urlencoded` name or value: `+` is a space, `%XX` a byte.
fn form_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The payment in `data`, with what is wrong with it.
pub fn decode(data: &Value) -> Result<Payment, String> {
    let payment = Payment::deserialize(data).map_err(|e| format!("not a Ko-fi payment: {e}"))?;
    if payment.message_id.trim().is_empty() {
        return Err("not a Ko-fi payment: message_id is empty".into());
    }
    amount(&payment.amount)?;
    if payment.currency.trim().is_empty() {
        return Err("not a Ko-fi payment: currency is empty".into());
    }
    Ok(payment)
}

/// A decimal amount (`"3.00"`): digits, optionally a point and more digits.
pub fn amount(text: &str) -> Result<f64, String> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !digits(whole)
        || !digits(fraction)
        || (text.contains('.') && fraction.is_empty())
        || whole.len() > 15
    {
        return Err(format!(
            "not a Ko-fi payment: amount {text:?} is not a decimal like \"3.00\""
        ));
    }
    text.parse::<f64>()
        .map_err(|_| format!("not a Ko-fi payment: amount {text:?} is not a number"))
}

/// The `tip` event of `payment` for `target`.
pub fn event(payment: &Payment, target: &Target<'_>) -> Result<ChatEvent, String> {
    let amount = amount(&payment.amount)?;
    let timestamp = payment
        .timestamp
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t.trim()).ok())
        .map_or(target.received, |t| t.with_timezone(&chrono::Utc));
    let name = payment
        .from_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("Someone");
    let text = if payment.is_public {
        payment.message.as_deref().unwrap_or("").trim()
    } else {
        ""
    };
    let currency = payment.currency.trim().to_ascii_uppercase();
    let mut event = ChatEvent::message(
        target.platform,
        target.creator,
        &target.delivery_id(&payment.message_id),
        timestamp,
        Author {
            id: format!("{SERVICE}:{name}").into(),
            login: name.to_lowercase().into(),
            display_name: name.into(),
            roles: Default::default(),
        },
        text,
    );
    event.channel = target.channel.into();
    event.kind = EventKind::Tip;
    event.detail = Some(Box::new(EventDetail::Money(Money {
        amount,
        currency: currency.as_str().into(),
        display: Some(format!("{} {currency}", payment.amount.trim()).into()),
        tier: None,
    })));
    let mut extras = Extras::new();
    extras.insert_str("service", SERVICE);
    extras.insert_str("hook", target.hook);
    extras.insert_str("service_type", &payment.kind);
    if let Some(id) = &payment.kofi_transaction_id {
        extras.insert_str("transaction_id", id);
    }
    if payment.is_subscription_payment {
        extras.insert_bool("subscription", true);
    }
    if payment.is_first_subscription_payment {
        extras.insert_bool("first_subscription", true);
    }
    if let Some(tier) = &payment.tier_name {
        extras.insert_str("tier_name", tier);
    }
    if !payment.is_public {
        extras.insert_bool("private", true);
    }
    event.extras = extras;
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Platform;
    use proptest::prelude::*;

    /// Ko-fi's published single-donation example (the token faked), as it arrives: `data=` and
    /// the URL-encoded JSON.
    pub(crate) const DONATION: &str = include_str!("../../tests/fixtures/kofi/donation.form");
    const SUBSCRIPTION: &str = include_str!("../../tests/fixtures/kofi/subscription.json");
    const SHOP_ORDER: &str = include_str!("../../tests/fixtures/kofi/shop_order.json");

    fn target() -> Target<'static> {
        Target {
            hook: "kofi",
            creator: "demo",
            platform: Platform::named("twitch"),
            channel: "demo_channel",
            received: "2022-08-21T13:04:31Z".parse().unwrap(),
        }
    }

    #[test]
    fn the_published_donation_becomes_a_tip_with_its_amount_currency_name_and_message() {
        let data = payload(DONATION.trim().as_bytes()).unwrap();
        assert_eq!(
            data["verification_token"],
            "8cfeb5b0-3f94-4deb-8705-a5e13e10f4a1"
        );
        let payment = decode(&data).unwrap();
        let event = event(&payment, &target()).unwrap();
        assert_eq!(event.kind, EventKind::Tip);
        assert_eq!(
            event.message_id,
            "kofi:3a1fac0c-f960-4506-a60e-824979a74e74"
        );
        assert_eq!(event.author.display_name, "Ko-fi Team");
        assert_eq!(event.text, "Good luck with the integration!");
        assert_eq!(event.channel, "demo_channel");
        assert_eq!(
            event.timestamp,
            "2022-08-21T13:04:30Z"
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
        );
        let Some(EventDetail::Money(money)) = event.detail.as_deref() else {
            panic!("money detail");
        };
        assert_eq!(money.amount, 3.0);
        assert_eq!(money.currency, "USD");
        assert_eq!(money.display.as_deref(), Some("3.00 USD"));
        let extras = event.extras.to_map();
        assert_eq!(extras["service_type"], "Donation");
        assert!(!event.extras.as_json().contains("someone@example.com"));
    }

    #[test]
    fn subscriptions_and_shop_orders_are_tips_too_and_a_private_message_is_not_shown() {
        let sub: Value = serde_json::from_str(SUBSCRIPTION).unwrap();
        let event = event(&decode(&sub).unwrap(), &target()).unwrap();
        assert_eq!(event.kind, EventKind::Tip);
        let extras = event.extras.to_map();
        assert_eq!(extras["tier_name"], "Bronze");
        assert_eq!(extras["first_subscription"], true);
        let mut shop: Value = serde_json::from_str(SHOP_ORDER).unwrap();
        let order = super::event(&decode(&shop).unwrap(), &target()).unwrap();
        let Some(EventDetail::Money(money)) = order.detail.as_deref() else {
            panic!("money detail");
        };
        assert_eq!((money.amount, money.currency.as_str()), (27.95, "EUR"));
        assert_eq!(order.extras.to_map()["service_type"], "Shop Order");
        shop["is_public"] = Value::Bool(false);
        shop["message"] = Value::from("my address is 1 Main St");
        let private = super::event(&decode(&shop).unwrap(), &target()).unwrap();
        assert_eq!(private.text, "");
        assert_eq!(private.extras.to_map()["private"], true);
    }

    #[test]
    fn what_is_not_a_payment_says_why() {
        assert!(
            payload(b"nothing=here")
                .unwrap_err()
                .contains("no form field")
        );
        assert!(payload(b"data=%7Bnot").unwrap_err().contains("not JSON"));
        assert!(payload(b"data=%ZZ").unwrap_err().contains("URL encoding"));
        assert!(
            payload(b"data=%5B%5D")
                .unwrap_err()
                .contains("not a JSON object")
        );
        let data = payload(DONATION.trim().as_bytes()).unwrap();
        for (field, value, why) in [
            ("amount", Value::from("3,00"), "not a decimal"),
            ("amount", Value::from(3.0), "invalid type"),
            ("message_id", Value::from(""), "message_id is empty"),
        ] {
            let mut bad = data.clone();
            bad[field] = value;
            let err = decode(&bad).unwrap_err();
            assert!(err.contains(why), "{field}: {err}");
        }
        for bad in ["", ".5", "5.", "-1", "1e3", "1.2.3"] {
            assert!(amount(bad).is_err(), "{bad:?}");
        }
    }

    /// Form-encodes `text` the way browsers and Ko-fi do (`application/x-www-form-urlencoded`).
    fn form_encode(text: &str) -> String {
        let mut out = String::new();
        for b in text.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                    out.push(char::from(b));
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    }

    proptest! {
        #[test]
        fn decoded_fields_are_the_fields_sent(
            whole in 0u32..100_000,
            cents in 0u32..100,
            currency in "[A-Z]{3}",
            name in "[^\\p{C}]{1,40}",
            message in "[^\\p{C}]{0,200}",
            public in any::<bool>(),
            id in "[a-f0-9-]{8,36}",
        ) {
            prop_assume!(!name.trim().is_empty());
            let amount_text = format!("{whole}.{cents:02}");
            let data = serde_json::json!({
                "verification_token": "t", "message_id": id, "timestamp": "2022-08-21T13:04:30Z",
                "type": "Donation", "is_public": public, "from_name": name, "message": message,
                "amount": amount_text, "url": "https://ko-fi.com/", "email": "someone@example.com",
                "currency": currency, "is_subscription_payment": false,
                "is_first_subscription_payment": false, "kofi_transaction_id": "x",
                "shop_items": null, "tier_name": null, "shipping": null,
            });
            let body = format!("data={}", form_encode(&data.to_string()));
            let decoded = payload(body.as_bytes()).unwrap();
            prop_assert_eq!(&decoded, &data);
            let event = event(&decode(&decoded).unwrap(), &target()).unwrap();
            let Some(EventDetail::Money(money)) = event.detail.as_deref() else {
                panic!("money detail");
            };
            let expected = f64::from(whole) + f64::from(cents) / 100.0;
            prop_assert!((money.amount - expected).abs() < 1e-9);
            prop_assert_eq!(money.currency.as_str(), currency.as_str());
            prop_assert_eq!(event.author.display_name.as_str(), name.trim());
            prop_assert_eq!(event.text.as_str(), if public { message.trim() } else { "" });
            prop_assert_eq!(event.message_id.to_string(), format!("kofi:{id}"));
        }

        #[test]
        fn payload_never_panics(body in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = payload(&body);
        }
    }
}
