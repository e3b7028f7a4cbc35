//! `ss replay --html`: the static replay window and overlay, loaded in headless Chromium for each
//! theme; what they show (messages in order, colours, badges, emotes, events, deletions and bans
//! applied) and that hostile chat stays text: no script runs, no request leaves the page.

use crate::chromium::{Browser, HEIGHT, Listener, WIDTH};
use crate::harness::Test;
use serde_json::{Value, json};
use std::path::Path;

pub const THEMES: [&str; 3] = ["default", "midnight", "slate"];

/// One chat event as `ss replay` reads it from JSONL, `second` seconds into the stream.
pub fn event(
    second: u32,
    id: &str,
    kind: &str,
    who: (&str, &str),
    text: &str,
    extras: Value,
) -> Value {
    json!({
        "platform": "twitch", "creator": "demo", "channel": "demo_channel", "message_id": id,
        "timestamp": format!("2026-11-30T21:00:{second:02}Z"), "kind": kind,
        "author": {"id": who.0, "login": who.0, "display_name": who.1,
                   "roles": {"moderator": who.0 == "viewer_one", "subscriber": who.0 == "viewer_one"}},
        "text": text, "extras": extras,
    })
}

/// A short stream: messages with and without colour and emotes, a sub, a deleted message, a
/// banned chatter, a raid and a cheer.
fn stream() -> Vec<Value> {
    let mut hello = event(
        0,
        "m1",
        "message",
        ("viewer_one", "Viewer_One"),
        "hello Kappa world",
        json!({"color": "#1E90FF", "badges": ["moderator/1", "subscriber/12", "premium/1"]}),
    );
    hello["emotes"] = json!([{"id": "25", "start": 6, "end": 10}]);
    vec![
        hello,
        event(
            1,
            "m2",
            "message",
            ("viewer_two", "Viewer_Two"),
            "this gets deleted",
            json!({}),
        ),
        event(
            2,
            "s1",
            "sub",
            ("subber", "Subber"),
            "",
            json!({"sub_plan": "1000"}),
        ),
        event(
            3,
            "clearmsg-m2",
            "deletion",
            ("viewer_two", "viewer_two"),
            "this gets deleted",
            json!({"target_msg_id": "m2"}),
        ),
        event(
            4,
            "t1",
            "message",
            ("troll", "Troll"),
            "spam one",
            json!({"color": "#00FF7F"}),
        ),
        event(
            5,
            "t2",
            "message",
            ("troll", "Troll"),
            "spam two",
            json!({}),
        ),
        event(6, "ban-troll", "ban", ("troll", "troll"), "", json!({})),
        event(
            7,
            "r1",
            "raid",
            ("raider", "Raider"),
            "",
            json!({"viewers": 430}),
        ),
        event(
            8,
            "c1",
            "donation",
            ("cheerer", "Cheerer"),
            "cheer500 great stream",
            json!({"bits": 500}),
        ),
        event(
            9,
            "m3",
            "message",
            ("viewer_one", "Viewer_One"),
            "last one",
            json!({"color": "#1E90FF"}),
        ),
    ]
}

pub fn write_jsonl(t: &Test, events: &[Value]) -> String {
    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
    t.write("chat.jsonl", &text).display().to_string()
}

/// The chat lines of the page as data: what a viewer sees in each.
pub const LINES: &str = r#"Array.from(document.querySelectorAll('#ss-chat .ss-line')).map(l => {
  const q = s => l.querySelector(s);
  return {
    kind: l.getAttribute('data-kind'),
    badges: Array.from(l.querySelectorAll('.ss-badge')).map(b => b.textContent),
    name: q('.ss-name') ? q('.ss-name').textContent : null,
    color: q('.ss-name') ? q('.ss-name').style.color : null,
    label: q('.ss-label') ? q('.ss-label').textContent : null,
    summary: q('.ss-summary') ? q('.ss-summary').textContent : null,
    text: q('.ss-text') ? q('.ss-text').textContent : null,
    emotes: Array.from(l.querySelectorAll('img')).map(i => [i.getAttribute('alt'), i.getAttribute('src')]),
    deleted: l.classList.contains('ss-deleted'),
  };
})"#;

fn file_url(path: &Path, query: &str) -> String {
    format!("file://{}?{query}", path.display())
}

/// Checks a theme's screenshot against the committed one (see [`crate::chromium::screenshot_matches`]).
pub fn screenshot_matches(name: &str, png: &[u8]) {
    crate::chromium::screenshot_matches(name, png, (WIDTH, HEIGHT));
}

#[test]
fn the_replay_window_and_the_overlay_show_the_chat_in_every_theme() {
    let t = Test::new();
    let input = write_jsonl(&t, &stream());
    let out = t.run(&["replay", "--input", &input, "--html", "pages"]);
    out.status(0);
    assert!(out.stdout.starts_with("10 events: "), "{}", out.stdout);
    let replay = t.path().join("pages/replay.html");
    let overlay = t.path().join("pages/overlay.html");

    let mut browser = Browser::launch();
    let mut shown = Vec::new();
    let mut backgrounds = Vec::new();
    let mut shots = Vec::new();
    for theme in THEMES {
        browser.goto(&file_url(&replay, &format!("theme={theme}&t=end")));
        browser.wait_until(
            "document.documentElement.dataset.ended === 'true'",
            "the replay at its end",
        );
        assert_eq!(
            browser.eval("document.documentElement.dataset.theme"),
            theme
        );
        assert_eq!(
            browser.eval("document.getElementById('ss-theme').value"),
            theme
        );
        backgrounds.push(browser.eval("getComputedStyle(document.body).backgroundColor"));
        shown.push(browser.eval(LINES));
        let png = browser.screenshot();
        screenshot_matches(&format!("replay-{theme}"), &png);
        shots.push(png);
    }
    // The same chat in every theme, on a different background in each.
    assert_eq!(shown[0], shown[1]);
    assert_eq!(shown[0], shown[2]);
    assert_ne!(backgrounds[0], backgrounds[1]);
    assert_ne!(backgrounds[1], backgrounds[2]);
    // Different themes are different pictures, beyond the comparison's tolerance.
    for pair in [[0, 1], [1, 2], [0, 2]] {
        let share = crate::chromium::changed_share(&shots[pair[0]], &shots[pair[1]]);
        assert!(share > 0.2, "themes {pair:?}: {share}");
    }
    insta::assert_json_snapshot!("replay_window_lines", shown[0]);

    // The overlay plays the same chat on its clock (here at 4×) and removes what moderators removed.
    for theme in THEMES {
        browser.goto(&file_url(&overlay, &format!("theme={theme}&speed=4")));
        browser.wait_until(
            "document.documentElement.dataset.ended === 'true'",
            "the overlay played to the end",
        );
        assert_eq!(
            browser.eval("getComputedStyle(document.body).backgroundColor"),
            "rgba(0, 0, 0, 0)",
            "transparent for OBS"
        );
        let lines = browser.eval(LINES);
        let texts: Vec<&str> = lines
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                l["text"]
                    .as_str()
                    .unwrap_or_else(|| l["summary"].as_str().unwrap())
            })
            .collect();
        assert_eq!(
            texts,
            [
                "hello  world",
                "Subber subscribed",
                "Raider raided with 430 viewers",
                "cheer500 great stream",
                "last one"
            ],
            "{theme}"
        );
        assert_eq!(
            browser.eval("document.querySelector('.ss-emote').getAttribute('src')"),
            "https://static-cdn.jtvnw.net/emoticons/v2/25/default/dark/1.0"
        );
    }

    // The theme menu changes the theme (the overlays above left slate remembered) and the next
    // page without ?theme= shows it.
    browser.goto(&file_url(&replay, "t=end"));
    browser.eval(
        "(() => { const m = document.getElementById('ss-theme'); m.value = 'midnight'; m.dispatchEvent(new Event('change')); })()",
    );
    assert_eq!(
        browser.eval("document.documentElement.dataset.theme"),
        "midnight"
    );
    browser.wait_for_local_storage("ss-theme", "midnight");
    browser.goto(&file_url(&overlay, "speed=4"));
    assert_eq!(
        browser.eval("document.documentElement.dataset.theme"),
        "midnight",
        "the next page (stored: {}, document: {})",
        browser.eval("localStorage.getItem('ss-theme')"),
        browser.eval("document.readyState + ' ' + location.href")
    );
}

#[test]
fn the_player_seeks_jumps_and_changes_speed() {
    let t = Test::new();
    let input = write_jsonl(&t, &stream());
    t.run(&["replay", "--input", &input, "--html", "pages"])
        .status(0);
    let mut browser = Browser::launch();
    browser.goto(&file_url(&t.path().join("pages/replay.html"), "paused"));
    let count = "document.querySelectorAll('#ss-chat .ss-line').length";
    assert_eq!(browser.eval(count), 1, "paused at the first message");
    assert_eq!(
        browser.eval("document.getElementById('ss-seek').max"),
        "9000"
    );
    // Jump to 0:05: six events up to then, the deleted message marked and the sub shown.
    browser.eval(
        "(() => { document.getElementById('ss-jump').value = '0:05'; document.getElementById('ss-jump-form').requestSubmit(); })()",
    );
    assert_eq!(browser.eval(count), 5);
    assert_eq!(
        browser.eval("document.querySelector('.ss-deleted .ss-text').textContent"),
        "<message deleted>"
    );
    // The seek bar back to the start.
    browser.eval(
        "(() => { const s = document.getElementById('ss-seek'); s.value = '0'; s.dispatchEvent(new Event('input')); })()",
    );
    assert_eq!(browser.eval(count), 1);
    // 4× and play: it reaches the end.
    browser.eval("document.querySelector('[data-speed=\"4\"]').click()");
    assert_eq!(
        browser.eval("document.querySelector('[data-speed=\"4\"]').getAttribute('aria-pressed')"),
        "true"
    );
    browser.eval("document.getElementById('ss-play').click()");
    browser.wait_until(
        "document.documentElement.dataset.ended === 'true'",
        "played to the end",
    );
    assert_eq!(browser.eval(count), 8);
}

/// Chat written to attack the page; `trap` is a loopback port nothing may contact.
pub fn hostile_texts(trap: u16) -> Vec<String> {
    vec![
        format!("<img src=x onerror=\"window.canary=1;fetch('http://127.0.0.1:{trap}/onerror')\">"),
        "<script>window.canary=2</script>".to_owned(),
        "</script><script>window.canary=3</script><!--".to_owned(),
        "<a href=\"javascript:window.canary=4\">click me</a>".to_owned(),
        format!("Kappa <svg/onload=window.canary=5><img src=http://127.0.0.1:{trap}/text>"),
    ]
}

#[test]
fn hostile_chat_is_shown_as_text_and_runs_nothing() {
    let trap = Listener::start();
    let port = trap.port;
    let texts = hostile_texts(port);
    let mut events: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            event(
                i as u32,
                &format!("h{i}"),
                "message",
                ("viewer_one", "Viewer_One"),
                text,
                json!({}),
            )
        })
        .collect();
    let name =
        format!("<b onmouseover=window.canary=6>Mallory</b><img src=http://127.0.0.1:{port}/name>");
    events.push(event(
        10,
        "h10",
        "message",
        ("mallory", &name),
        "styled",
        json!({"color": format!("red;background:url(http://127.0.0.1:{port}/color)"),
               "badges": [format!("<img src=http://127.0.0.1:{port}/badge>/1")]}),
    ));
    // Emote ids pointing outside the CDN, on Twitch and on Kick, beside one real emote.
    let mut emotes = event(
        11,
        "h11",
        "message",
        ("mallory", "Mallory"),
        "Kappa Kappa Kappa Kappa",
        json!({}),
    );
    emotes["emotes"] = json!([
        {"id": format!("http://127.0.0.1:{port}/emote"), "start": 0, "end": 4},
        {"id": format!("../../../../127.0.0.1:{port}/x"), "start": 6, "end": 10},
        {"id": "25", "start": 12, "end": 16},
        {"id": format!("25/../../127.0.0.1:{port}"), "start": 18, "end": 22},
    ]);
    events.push(emotes);
    let mut kick = event(
        12,
        "h12",
        "message",
        ("mallory", "Mallory"),
        "PogU",
        json!({}),
    );
    kick["platform"] = json!("kick");
    kick["emotes"] = json!([{"id": format!("1/../../127.0.0.1:{port}"), "start": 0, "end": 3}]);
    events.push(kick);

    let t = Test::new();
    let input = write_jsonl(&t, &events);
    t.run(&["replay", "--input", &input, "--html", "pages"])
        .status(0);
    let page = std::fs::read_to_string(t.path().join("pages/replay.html")).unwrap();
    assert_eq!(
        page.matches("</script>").count(),
        2,
        "only the data block and the script close"
    );
    assert!(!page.contains("<!--"));

    let mut browser = Browser::launch();
    for (file, query) in [("replay.html", "t=end"), ("overlay.html", "speed=4")] {
        browser.goto(&file_url(&t.path().join("pages").join(file), query));
        browser.wait_until("document.documentElement.dataset.ended === 'true'", file);
        let lines = browser.eval(LINES);
        let lines = lines.as_array().unwrap();
        assert_eq!(lines.len(), 8, "{file}");
        for (line, text) in lines.iter().zip(&texts) {
            assert_eq!(line["text"], text.as_str(), "{file}: shown literally");
        }
        let mallory = &lines[5];
        assert_eq!(mallory["name"], name.as_str(), "{file}: the name is text");
        let color = mallory["color"].as_str().unwrap();
        assert!(
            color.starts_with("rgb("),
            "{file}: a palette colour, not {color}"
        );
        assert_eq!(
            mallory["badges"],
            json!([]),
            "{file}: a badge name that is not a name"
        );
        assert_eq!(
            lines[6]["text"], "Kappa Kappa  Kappa",
            "{file}: emotes with bad ids stay their text, the real one is an image"
        );
        assert_eq!(
            lines[6]["emotes"],
            json!([[
                "Kappa",
                "https://static-cdn.jtvnw.net/emoticons/v2/25/default/dark/1.0"
            ]]),
            "{file}: only the real emote is an image, from the CDN"
        );
        assert_eq!(
            lines[7]["emotes"],
            json!([]),
            "{file}: no Kick image from a bad id"
        );
        assert_eq!(browser.eval("typeof window.canary"), "undefined", "{file}");
        assert_eq!(browser.eval("document.scripts.length"), 2, "{file}");
        assert_eq!(
            browser.eval("document.querySelectorAll('a, svg, b, iframe').length"),
            0
        );
    }
    assert_eq!(trap.connections(), 0, "requests: {:?}", trap.requests());
    // The trap does catch what reaches it: the browser can contact it when told to.
    // (Chromium may also ask that host for /favicon.ico on its own.)
    browser.goto(&format!("http://127.0.0.1:{port}/control"));
    let requests = trap.requests();
    assert_eq!(
        requests.first().map(String::as_str),
        Some("GET /control HTTP/1.1"),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .all(|r| r == "GET /control HTTP/1.1" || r == "GET /favicon.ico HTTP/1.1"),
        "{requests:?}"
    );
}

#[test]
fn without_remote_images_the_pages_show_emotes_as_text() {
    let t = Test::new();
    let input = write_jsonl(&t, &stream());
    t.run(&[
        "replay",
        "--input",
        &input,
        "--html",
        "pages",
        "--no-remote-images",
    ])
    .status(0);
    let mut browser = Browser::launch();
    browser.goto(&file_url(&t.path().join("pages/replay.html"), "t=end"));
    browser.wait_until(
        "document.documentElement.dataset.ended === 'true'",
        "the end",
    );
    assert_eq!(browser.eval("document.querySelectorAll('img').length"), 0);
    assert_eq!(
        browser.eval("document.querySelector('.ss-emote-text').textContent"),
        "Kappa"
    );
    let out = t.run(&["replay", "--no-remote-images"]);
    out.status(2);
    assert!(out.stderr.contains("--html"), "{}", out.stderr);
}

/// Elements in the page, and the entries the renderer keeps to apply deletions and bans.
pub const FOOTPRINT: &str =
    "[document.getElementsByTagName('*').length, window.ssChat.lines(), window.ssChat.tracked()]";

#[test]
fn the_overlay_keeps_a_bounded_page_however_long_the_stream() {
    // Ten minutes of busy chat (10 messages a second), with a deletion every 50 messages.
    let mut events = Vec::new();
    for i in 0..6_000u32 {
        let who = format!("viewer{}", i % 700);
        let mut e = event(
            0,
            &format!("m{i}"),
            "message",
            (&who, &who),
            "busy chat Kappa",
            json!({"color": "#1E90FF"}),
        );
        e["emotes"] = json!([{"id": "25", "start": 10, "end": 14}]);
        e["timestamp"] = e_time(i);
        events.push(e);
        if i % 50 == 49 {
            let mut d = event(
                0,
                &format!("d{i}"),
                "deletion",
                (&who, &who),
                "",
                json!({"target_msg_id": format!("m{}", i - 1)}),
            );
            d["timestamp"] = e_time(i);
            events.push(d);
        }
    }
    let t = Test::new();
    let input = write_jsonl(&t, &events);
    t.run(&["replay", "--input", &input, "--html", "pages"])
        .status(0);
    let mut browser = Browser::launch();
    let overlay = t.path().join("pages/overlay.html");
    browser.goto(&file_url(&overlay, "t=0:31&paused"));
    let early = browser.eval(FOOTPRINT);
    browser.goto(&file_url(&overlay, "t=end"));
    browser.wait_until(
        "document.documentElement.dataset.ended === 'true'",
        "the end",
    );
    let late = browser.eval(FOOTPRINT);
    // 31 s in and 10 minutes in: at most the cap of lines (the last event deleted one), no more
    // elements, and the index holds only what is on the page.
    assert_eq!(early[1], 50, "{early}");
    assert_eq!(late[1], 49, "{late}");
    assert!(
        late[0].as_u64() <= early[0].as_u64(),
        "elements: {early} then {late}"
    );
    assert!(late[2].as_u64().unwrap() <= 100, "{late}");
}

fn e_time(i: u32) -> Value {
    json!(format!(
        "2026-11-30T21:{:02}:{:02}.{}Z",
        i / 600,
        (i / 10) % 60,
        i % 10
    ))
}
