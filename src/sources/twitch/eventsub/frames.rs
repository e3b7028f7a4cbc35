//! EventSub WebSocket frames: the envelope every text frame carries (`metadata` + `payload`), read
//! into a [`Frame`] by its `metadata.message_type`.
//!
//! The server sends one JSON object per text frame (Twitch's EventSub WebSocket reference):
//! `session_welcome` and `session_reconnect` carry `payload.session`, `notification` carries
//! `payload.subscription` and `payload.event`, `revocation` carries `payload.subscription` only, and
//! `session_keepalive` an empty payload. Parsing is in two steps: the envelope with the payload kept
//! as raw JSON text, then the payload as the type its `message_type` names, so a notification's
//! event is read once, straight into the type [`super::events`] normalizes, and a frame whose event
//! does not fit still gives its `metadata.message_id` (dedupe) and its subscription type (the
//! report). A `message_type` this build does not know is [`Frame::Unknown`], not an error.
//!
//! Timestamps are RFC 3339 with nanoseconds (`2023-07-19T14:56:51.634234626Z`).

use crate::wire::{self, Rfc3339, WireError};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// What a frame says, by `metadata.message_type`.
#[derive(Debug)]
pub enum Frame<'a> {
    /// The first frame of a connection: its session id, its keepalive, and (on a socket opened
    /// through a `reconnect_url`) the session that carries the old one's subscriptions.
    Welcome(SessionInfo),
    /// Nothing happened within the keepalive window; the connection is alive.
    Keepalive,
    /// An event of a subscription.
    Notification(Notification<'a>),
    /// Move to `reconnect_url` within 30 s; the subscriptions move with the session.
    Reconnect(SessionInfo),
    /// Twitch ended a subscription (`authorization_revoked`, `user_removed`, `version_removed`).
    Revocation(Revocation),
    /// A `message_type` this build does not know: skipped, never an error.
    Unknown { message_type: String },
}

/// `payload.session` of a welcome or a reconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: String,
    /// Seconds; `None` in a reconnect frame.
    pub keepalive_timeout_seconds: Option<u64>,
    /// Where to reconnect (a reconnect frame); used exactly as given.
    pub reconnect_url: Option<String>,
}

/// A notification: who delivered it, when, of which subscription, and its event as raw JSON.
#[derive(Debug)]
pub struct Notification<'a> {
    /// The delivery's id: the same when Twitch sends the event again (on either socket during a
    /// reconnect), so it is the dedupe key of deliveries.
    pub message_id: Cow<'a, str>,
    pub timestamp: DateTime<Utc>,
    pub subscription_type: Cow<'a, str>,
    pub subscription_version: Cow<'a, str>,
    /// `payload.event`, read by [`super::events::normalize`] as `subscription_type` says.
    pub event: &'a RawValue,
}

/// A revocation: which subscription ended, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub message_id: String,
    pub subscription_id: String,
    pub subscription_type: String,
    /// `authorization_revoked`, `user_removed`, `version_removed`, ...
    pub status: String,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    metadata: Metadata<'a>,
    #[serde(borrow)]
    payload: &'a RawValue,
}

#[derive(Deserialize)]
struct Metadata<'a> {
    #[serde(borrow)]
    message_id: Cow<'a, str>,
    #[serde(borrow)]
    message_type: Cow<'a, str>,
    message_timestamp: Rfc3339,
    #[serde(borrow, default)]
    subscription_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    subscription_version: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct SessionPayload {
    session: Session,
}

#[derive(Deserialize)]
struct Session {
    id: String,
    #[serde(default)]
    keepalive_timeout_seconds: Option<u64>,
    #[serde(default)]
    reconnect_url: Option<String>,
}

#[derive(Deserialize)]
struct NotificationPayload<'a> {
    #[serde(borrow)]
    event: &'a RawValue,
}

#[derive(Deserialize)]
struct RevocationPayload {
    subscription: Subscription,
}

#[derive(Deserialize)]
struct Subscription {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    status: String,
}

/// What [`parse`] names in its errors.
const WHAT: &str = "an EventSub frame";

/// Reads one text frame.
pub fn parse(text: &str) -> Result<Frame<'_>, WireError> {
    let envelope: Envelope<'_> = wire::from_str(WHAT, text)?;
    let metadata = envelope.metadata;
    let payload = envelope.payload.get();
    let within = |e: WireError| e.within("payload");
    Ok(match &*metadata.message_type {
        "session_welcome" | "session_reconnect" => {
            let session = wire::from_str::<SessionPayload>(WHAT, payload)
                .map_err(within)?
                .session;
            let info = SessionInfo {
                id: session.id,
                keepalive_timeout_seconds: session.keepalive_timeout_seconds,
                reconnect_url: session.reconnect_url.filter(|u| !u.is_empty()),
            };
            if metadata.message_type == "session_welcome" {
                Frame::Welcome(info)
            } else {
                if info.reconnect_url.is_none() {
                    return Err(WireError::shape(
                        WHAT,
                        "payload.session.reconnect_url",
                        "a session_reconnect without a reconnect_url",
                    ));
                }
                Frame::Reconnect(info)
            }
        }
        "session_keepalive" => Frame::Keepalive,
        "notification" => {
            let event = wire::from_str::<NotificationPayload<'_>>(WHAT, payload)
                .map_err(within)?
                .event;
            let subscription_type = metadata.subscription_type.ok_or_else(|| {
                WireError::shape(
                    WHAT,
                    "metadata.subscription_type",
                    "a notification without its subscription type",
                )
            })?;
            Frame::Notification(Notification {
                message_id: metadata.message_id,
                timestamp: metadata.message_timestamp.0,
                subscription_type,
                subscription_version: metadata.subscription_version.unwrap_or(Cow::Borrowed("1")),
                event,
            })
        }
        "revocation" => {
            let subscription = wire::from_str::<RevocationPayload>(WHAT, payload)
                .map_err(within)?
                .subscription;
            Frame::Revocation(Revocation {
                message_id: metadata.message_id.into_owned(),
                subscription_id: subscription.id,
                subscription_type: subscription.kind,
                status: subscription.status,
            })
        }
        other => Frame::Unknown {
            message_type: other.to_owned(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The welcome of Twitch's EventSub WebSocket reference (the session id and keepalive of its
    /// example, a nanosecond timestamp, `recovery_url` as twitch_api's fixture has it).
    pub(crate) const WELCOME: &str = r#"{"metadata":{"message_id":"96a3f3b5-5dec-4eed-908e-e11ee657416c","message_type":"session_welcome","message_timestamp":"2023-07-19T14:56:51.634234626Z"},"payload":{"session":{"id":"AQoQILE98gtqShGmLD7AM6yJThAB","status":"connected","connected_at":"2023-07-19T14:56:51.616329898Z","keepalive_timeout_seconds":10,"reconnect_url":null,"recovery_url":null}}}"#;

    #[test]
    fn a_welcome_a_keepalive_and_a_reconnect() {
        let Frame::Welcome(info) = parse(WELCOME).unwrap() else {
            panic!("not a welcome");
        };
        assert_eq!(info.id, "AQoQILE98gtqShGmLD7AM6yJThAB");
        assert_eq!(info.keepalive_timeout_seconds, Some(10));
        assert_eq!(info.reconnect_url, None);

        let keepalive = r#"{"metadata":{"message_id":"84c1e79a-2a4b-4c13-ba0b-4312293e9308","message_type":"session_keepalive","message_timestamp":"2023-07-19T10:11:12.634234626Z"},"payload":{}}"#;
        assert!(matches!(parse(keepalive).unwrap(), Frame::Keepalive));

        let reconnect = r#"{"metadata":{"message_id":"84c1e79a-2a4b-4c13-ba0b-4312293e9308","message_type":"session_reconnect","message_timestamp":"2022-11-18T09:10:11.634234626Z"},"payload":{"session":{"id":"AQoQexAWVYKSTIu4ec_2VAxyuhAB","status":"reconnecting","keepalive_timeout_seconds":null,"reconnect_url":"wss://eventsub.wss.twitch.tv?reconnect_id=AQoQexAWVYKSTIu4ec","connected_at":"2022-11-16T10:11:12.634234626Z"}}}"#;
        let Frame::Reconnect(info) = parse(reconnect).unwrap() else {
            panic!("not a reconnect");
        };
        assert_eq!(
            info.reconnect_url.as_deref(),
            Some("wss://eventsub.wss.twitch.tv?reconnect_id=AQoQexAWVYKSTIu4ec")
        );
        assert_eq!(info.keepalive_timeout_seconds, None);
        let no_url = reconnect.replace(
            r#""wss://eventsub.wss.twitch.tv?reconnect_id=AQoQexAWVYKSTIu4ec""#,
            "null",
        );
        assert_eq!(
            parse(&no_url).unwrap_err().to_string(),
            "an EventSub frame: a session_reconnect without a reconnect_url (at payload.session.reconnect_url)"
        );
    }

    #[test]
    fn a_notification_keeps_its_event_raw_and_a_revocation_names_its_subscription() {
        let follow = r#"{"metadata":{"message_id":"befa7b53-d79d-478f-86b9-120f112b044e","message_type":"notification","message_timestamp":"2022-11-16T10:11:12.464757833Z","subscription_type":"channel.follow","subscription_version":"2"},"payload":{"subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"enabled","type":"channel.follow","version":"2","cost":0,"condition":{"broadcaster_user_id":"1337","moderator_user_id":"1337"},"transport":{"method":"websocket","session_id":"AQoQexAWVYKSTIu4ec_2VAxyuhAB"},"created_at":"2019-11-16T10:11:12.634234626Z"},"event":{"user_id":"1234","user_login":"cool_user","user_name":"Cool_User","broadcaster_user_id":"1337","broadcaster_user_login":"cooler_user","broadcaster_user_name":"Cooler_User","followed_at":"2020-07-15T18:16:11.17106713Z"}}}"#;
        let Frame::Notification(n) = parse(follow).unwrap() else {
            panic!("not a notification");
        };
        assert_eq!(n.message_id, "befa7b53-d79d-478f-86b9-120f112b044e");
        assert_eq!(
            (&*n.subscription_type, &*n.subscription_version),
            ("channel.follow", "2")
        );
        assert_eq!(
            n.timestamp.timestamp_nanos_opt(),
            Some(1_668_593_472_464_757_833)
        );
        assert!(n.event.get().starts_with(r#"{"user_id":"1234""#));

        let revocation = r#"{"metadata":{"message_id":"84c1e79a-2a4b-4c13-ba0b-4312293e9308","message_type":"revocation","message_timestamp":"2022-11-16T10:11:12.464757833Z","subscription_type":"channel.follow","subscription_version":"2"},"payload":{"subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"authorization_revoked","type":"channel.follow","version":"2","cost":0,"condition":{"broadcaster_user_id":"1337","moderator_user_id":"1337"},"transport":{"method":"websocket","session_id":"AQoQexAWVYKSTIu4ec_2VAxyuhAB"},"created_at":"2019-11-16T10:11:12.634234626Z"}}}"#;
        let Frame::Revocation(r) = parse(revocation).unwrap() else {
            panic!("not a revocation");
        };
        assert_eq!(
            (r.subscription_type.as_str(), r.status.as_str()),
            ("channel.follow", "authorization_revoked")
        );
    }

    #[test]
    fn unknown_types_are_skipped_and_broken_frames_name_their_path() {
        let future = r#"{"metadata":{"message_id":"x","message_type":"session_hibernate","message_timestamp":"2024-01-01T00:00:00Z"},"payload":{}}"#;
        assert!(matches!(
            parse(future).unwrap(),
            Frame::Unknown { message_type } if message_type == "session_hibernate"
        ));
        let no_event = r#"{"metadata":{"message_id":"x","message_type":"notification","message_timestamp":"2024-01-01T00:00:00Z","subscription_type":"channel.follow","subscription_version":"2"},"payload":{"subscription":{}}}"#;
        assert_eq!(
            parse(no_event).unwrap_err().to_string(),
            "an EventSub frame: missing field `event` (at payload)"
        );
        assert!(parse("not json").is_err());
    }

    proptest! {
        /// Any text, and any JSON built from the envelope's names, parses or fails without a panic.
        #[test]
        fn parsing_never_panics(text in "\\PC{0,300}") {
            let _ = parse(&text);
        }

        #[test]
        fn envelopes_of_any_shape_never_panic(value in crate::wire::strategy::arb_json(
            &["metadata", "payload", "message_id", "message_type", "message_timestamp",
              "subscription_type", "subscription_version", "session", "id", "event",
              "subscription", "reconnect_url", "keepalive_timeout_seconds", "type", "status"],
            &["session_welcome", "session_reconnect", "notification", "revocation",
              "session_keepalive", "2023-07-19T14:56:51.634234626Z", "channel.follow"],
        )) {
            let text = value.to_string();
            let _ = parse(&text);
        }
    }
}
