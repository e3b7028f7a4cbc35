//! Rumble's internal chat stream (as the Cocorum library documents it): Server-Sent Events framing and the events.
//!
//! [`Framer`] turns the bytes of the response body, in whatever chunks they arrive, into the `data`
//! of each event (lines `data: ...` up to a blank line; comments and other fields ignored). A line
//! longer than the wire limit is discarded up to its end and counted, like an over-long IRC line.
//! [`parse_event`] reads one event's JSON (serde types, decoded through [`crate::wire`]): `init` and
//! `messages` carry messages and the users who wrote them; the rest (deletions, pins) carry no new
//! chat and are ignored. A message that cannot be read is skipped and reported with its path. Messages are normalized
//! by the same [`ChatLine`] as the API's, with the same derived id (Rumble's own id is kept in
//! extras): a message read over the stream and again from the API after a fallback is one message.
//! Both functions are pure and never panic.

use super::wire::{ChatLine, parse_time};
use crate::event::ChatEvent;
use crate::wire::{self, Id, U64, WireError};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

/// Splits an event stream into the `data` of its events.
#[derive(Debug)]
pub struct Framer {
    line: Vec<u8>,
    data: String,
    /// Whether the current line passed the limit and is being discarded up to its end.
    discarding: bool,
    max_line: usize,
    /// Lines discarded for their length so far.
    pub too_long: u64,
}

impl Framer {
    pub fn new(max_line: usize) -> Framer {
        Framer {
            line: Vec::new(),
            data: String::new(),
            discarding: false,
            max_line,
            too_long: 0,
        }
    }

    /// Feeds bytes; returns the data of every event they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut events = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                if self.discarding {
                    self.discarding = false;
                } else {
                    let mut line = std::mem::take(&mut self.line);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    self.line_done(&line, &mut events);
                }
                self.line.clear();
            } else if !self.discarding {
                if self.line.len() >= self.max_line {
                    self.discarding = true;
                    self.too_long += 1;
                    self.line.clear();
                } else {
                    self.line.push(b);
                }
            }
        }
        events
    }

    fn line_done(&mut self, line: &[u8], events: &mut Vec<String>) {
        if line.is_empty() {
            if !self.data.is_empty() {
                events.push(std::mem::take(&mut self.data));
            }
            return;
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        if field == "data" {
            if !self.data.is_empty() {
                self.data.push('\n');
            }
            self.data.push_str(value);
        }
    }
}

/// What one event gave.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamEvent {
    pub events: Vec<ChatEvent>,
    /// Why each message (or the event itself) that could not be read was skipped: no known user,
    /// no readable time or text, or a shape that does not fit.
    pub skipped: Vec<WireError>,
}

const EVENT: &str = "a Rumble chat stream event";

/// One event's JSON: `{"type": ..., "data": {...}}` (§4.2). Messages and users are decoded one by
/// one, so one odd message does not cost the rest.
#[derive(Debug, Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    data: Option<Batch>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Batch {
    messages: Vec<Value>,
    users: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct Message<'a> {
    #[serde(default)]
    id: Option<Id>,
    #[serde(default, borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(default)]
    user_id: Option<Id>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    rant: Option<Rant<'a>>,
}

#[derive(Debug, Deserialize)]
struct Rant<'a> {
    #[serde(default)]
    price_cents: Option<U64>,
    #[serde(default, borrow)]
    expires_on: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
struct User<'a> {
    id: Id,
    #[serde(default, borrow)]
    username: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    badges: Option<Vec<Cow<'a, str>>>,
}

/// Reads one event's `data`: the chat messages of `init` and `messages` events, nothing for the
/// rest. `owner` is the channel owner's name (the broadcaster role), `channel` the events' channel.
pub fn parse_event(
    data: &str,
    creator: &str,
    channel: &str,
    owner: &str,
    stream_id: &str,
) -> StreamEvent {
    let mut out = StreamEvent::default();
    if data.trim().is_empty() {
        return out;
    }
    let event: Event<'_> = match wire::from_str(EVENT, data) {
        Ok(event) => event,
        Err(e) => {
            out.skipped.push(e);
            return out;
        }
    };
    if !matches!(event.kind.as_ref(), "init" | "messages") {
        return out;
    }
    let batch = event.data.unwrap_or_default();
    // A user that does not decode is as good as absent: their messages are skipped, named.
    let users: HashMap<Id, User<'_>> = batch
        .users
        .iter()
        .filter_map(|u| wire::from_value::<User<'_>>(EVENT, u).ok())
        .map(|u| (u.id.clone(), u))
        .collect();
    for (i, m) in batch.messages.iter().enumerate() {
        let path = format!("data.messages[{i}]");
        let m: Message<'_> = match wire::from_value(EVENT, m) {
            Ok(m) => m,
            Err(e) => {
                out.skipped.push(e.within(&path));
                continue;
            }
        };
        let user = m.user_id.as_ref().and_then(|id| users.get(id));
        let username = user
            .and_then(|u| u.username.as_deref())
            .filter(|u| !u.trim().is_empty());
        let at = m.time.as_deref().and_then(parse_time);
        let (Some(username), Some(at), Some(text)) = (username, at, m.text.as_deref()) else {
            out.skipped.push(WireError::shape(
                EVENT,
                &path,
                "no known user, readable time or text",
            ));
            continue;
        };
        let line = ChatLine {
            username,
            badges: user
                .and_then(|u| u.badges.as_ref())
                .map(|b| b.iter().map(AsRef::as_ref).collect())
                .unwrap_or_default(),
            text,
            at,
            rant_cents: m.rant.as_ref().map(|r| r.price_cents.map_or(0, |c| c.0)),
            expires_on: m.rant.as_ref().and_then(|r| r.expires_on.as_deref()),
            livestream: None,
            rumble_id: m.id.as_ref().map(Id::as_str),
        };
        let mut event = line.event(creator, channel, owner);
        event.extras.insert_str("stream_id", stream_id);
        out.events.push(event);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::sources::rumble::wire::derived_id;
    use proptest::prelude::*;

    /// The example event of Rumble's chat stream, as Cocorum documents it.
    const SAMPLE: &str = r#"data: {"type":"messages","data":{"messages":[{"id":"1","time":"2024-01-01T00:00:01+00:00","user_id":"7","text":"hello"}],"users":[{"id":"7","username":"fan","badges":[],"color":"00ff00","is_follower":false}],"channels":[]}}"#;

    #[test]
    fn the_published_example_is_one_message_with_the_apis_id() {
        let mut framer = Framer::new(1024);
        let mut datas = framer.push(SAMPLE.as_bytes());
        assert!(datas.is_empty(), "no blank line yet");
        datas.extend(framer.push(b"\n\n"));
        assert_eq!(datas.len(), 1);
        let got = parse_event(&datas[0], "demo", "owner", "owner", "388898852");
        assert!(got.skipped.is_empty());
        let e = &got.events[0];
        assert_eq!(e.kind, EventKind::Message);
        assert_eq!(e.author.display_name, "fan");
        assert_eq!(e.text, "hello");
        let at = parse_time("2024-01-01T00:00:01Z").unwrap();
        assert_eq!(e.timestamp, at);
        assert_eq!(
            e.message_id,
            derived_id("chat", "fan", "hello", at),
            "the API would give this message the same id"
        );
        assert_eq!(
            e.extras.as_json(),
            r#"{"rumble_id":"1","stream_id":"388898852"}"#
        );
    }

    #[test]
    fn rants_init_and_other_types() {
        let init = r#"{"type":"init","data":{"messages":[
            {"id":"5","time":"2024-01-01T00:00:02+00:00","user_id":88,"text":"take my money","rant":{"price_cents":500,"duration":120,"expires_on":"2024-01-01T00:02:02+00:00"}},
            {"id":"6","time":"2024-01-01T00:00:03+00:00","user_id":"99","text":"who am I"}],
            "users":[{"id":"88","username":"Whale","badges":["premium","moderator"]}],"channels":[],
            "config":{"rants":{"enable":true},"message_length_max":200}}}"#;
        let got = parse_event(init, "demo", "owner", "owner", "1");
        assert_eq!(got.events.len(), 1);
        assert_eq!(
            got.skipped[0].to_string(),
            "a Rumble chat stream event: no known user, readable time or text (at data.messages[1])",
            "a message from an unknown user"
        );
        let rant = &got.events[0];
        assert_eq!(rant.kind, EventKind::Tip);
        assert!(rant.author.roles.moderator);
        assert_eq!(
            rant.detail.as_deref(),
            Some(&crate::event::EventDetail::Money(crate::event::Money {
                amount: 5.0,
                currency: "USD".into(),
                display: None,
                tier: None
            }))
        );
        assert_eq!(rant.extras.get("amount_cents").unwrap(), 500);
        let deleted = r#"{"type":"delete_messages","data":{"message_ids":["5"]}}"#;
        assert_eq!(
            parse_event(deleted, "demo", "o", "o", "1"),
            StreamEvent::default()
        );
        assert!(parse_event("", "demo", "o", "o", "1").skipped.is_empty());
        assert_eq!(
            parse_event("<html>", "demo", "o", "o", "1").skipped[0].kind,
            crate::wire::WireProblem::Syntax
        );
    }

    #[test]
    fn framing_across_chunks_comments_crlf_and_long_lines() {
        let mut framer = Framer::new(16);
        let mut got = Vec::new();
        for chunk in [
            &b": keepalive\r\n\r\nda"[..],
            b"ta: one\r\ndata: two\r\n",
            b"\r\nevent: x\ndata: 0123456789abcdefXYZ\n\ndata: ok\n\n",
        ] {
            got.extend(framer.push(chunk));
        }
        assert_eq!(got, vec!["one\ntwo".to_string(), "ok".to_string()]);
        assert_eq!(framer.too_long, 1);
    }

    proptest! {
        #[test]
        fn framing_and_parsing_never_panic(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8)) {
            let mut framer = Framer::new(32);
            for chunk in &chunks {
                for data in framer.push(chunk) {
                    let _ = parse_event(&data, "demo", "o", "o", "1");
                }
            }
        }

        #[test]
        fn parsing_shaped_json_never_panics(
            kind in prop_oneof![Just("init"), Just("messages"), Just("x")],
            uid in prop_oneof![Just(serde_json::json!("7")), Just(serde_json::json!(7)), Just(serde_json::json!(null)), Just(serde_json::json!([1]))],
            time in prop_oneof![Just("2024-01-01T00:00:01+00:00"), Just(""), Just("x")],
            rant in prop_oneof![Just(serde_json::json!(null)), Just(serde_json::json!({"price_cents": -1})), Just(serde_json::json!({"price_cents": 100})), Just(serde_json::json!("r"))],
            text in ".{0,20}",
        ) {
            let data = serde_json::json!({"type": kind, "data": {"messages": [{"id": 1, "time": time, "user_id": uid, "text": text, "rant": rant}],
                "users": [{"id": uid, "username": text, "badges": [text]}]}});
            let _ = parse_event(&data.to_string(), "demo", "o", "o", "1");
        }
    }
}
