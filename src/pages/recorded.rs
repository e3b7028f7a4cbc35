//! Recorded chat as static pages: `ss replay --html DIR`.
//!
//! [`RecordedChat`] is a replay observer: it keeps every selected event (the ones `ss replay`
//! reports, duplicates already dropped by the core) as compact JSON in one array, in input order.
//! [`write_pages`] then writes `replay.html` (the player window) and `overlay.html` (the same chat
//! in real time for OBS) into a directory, each self-contained, each replaced atomically.

use super::{Feed, Page, PageOptions, render};
use crate::actions::Action;
use crate::event::ChatEvent;
use crate::replay::Observer;
use std::path::{Path, PathBuf};

/// The selected events of a replay, as a JSON array being built.
#[derive(Debug)]
pub struct RecordedChat {
    json: String,
    events: u64,
}

impl Default for RecordedChat {
    fn default() -> RecordedChat {
        RecordedChat {
            json: String::from("["),
            events: 0,
        }
    }
}

impl Observer for RecordedChat {
    fn event(&mut self, event: &ChatEvent, _actions: &[Action]) -> anyhow::Result<()> {
        if self.events > 0 {
            self.json.push(',');
        }
        self.json.push_str(&serde_json::to_string(event)?);
        self.events += 1;
        Ok(())
    }

    /// Pages show chat; what a tick fired is not chat.
    fn tick(&mut self, _tick: &crate::event::Tick, _actions: &[Action]) -> anyhow::Result<()> {
        Ok(())
    }
}

impl RecordedChat {
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The events as a JSON array.
    pub fn into_json(mut self) -> String {
        self.json.push(']');
        self.json
    }
}

/// Writes `replay.html` and `overlay.html` for the events into `dir` (created if missing) and
/// returns their paths.
pub fn write_pages(
    dir: &Path,
    events_json: &str,
    images: bool,
    title: &str,
) -> std::io::Result<[PathBuf; 2]> {
    let pages = [
        ("replay.html", Page::Chat, format!("Chat replay: {title}")),
        (
            "overlay.html",
            Page::Overlay,
            format!("Chat overlay: {title}"),
        ),
    ];
    let mut written = Vec::with_capacity(2);
    for (file, page, title) in pages {
        let html = render(&PageOptions {
            page,
            feed: Feed::Recorded(events_json),
            images,
            title: &title,
        });
        let path = dir.join(file);
        crate::atomic::write(&path, html.as_bytes())?;
        written.push(path);
    }
    Ok(written.try_into().expect("two pages"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Author, Platform};

    #[test]
    fn the_collected_events_are_one_json_array_in_order() {
        let mut chat = RecordedChat::default();
        assert_eq!(RecordedChat::default().into_json(), "[]");
        for (i, text) in ["first", "</script>"].iter().enumerate() {
            let event = ChatEvent::message(
                Platform::named("twitch"),
                "demo",
                &format!("m{i}"),
                chrono::DateTime::from_timestamp(1_700_000_000 + i as i64, 0).unwrap(),
                Author::viewer("viewer"),
                text,
            );
            chat.event(&event, &[]).unwrap();
        }
        assert_eq!(chat.events(), 2);
        let back: Vec<ChatEvent> = serde_json::from_str(&chat.into_json()).unwrap();
        assert_eq!(back[0].text, "first");
        assert_eq!(back[1].text, "</script>");
    }
}
