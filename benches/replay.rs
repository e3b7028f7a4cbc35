//! `ss replay` end to end, as a whole process, on each input format.
//!
//! Builds a temp runtime root with the demo config, fills its store with `REPLAY_EVENTS` synthetic
//! chat events (default 1,000,000; the same shape as `examples/fill_store.rs`), writes the same
//! events as a JSONL file and as a raw Twitch IRC log (full-tag PRIVMSG lines, like the fixture
//! generator's), then times the release `ss replay --out FILE` process on each and prints events/s.
//! The target: 1,000,000 stored events in under 5 s. Run: `cargo bench --bench replay`.

#[path = "support/chat.rs"]
mod chat;

use ss::event::ChatEvent;
use ss::store::{StoreWriter, WriteOp, db_path};
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("replay: bench");
        return;
    }
    let n: u64 = std::env::var("REPLAY_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let root = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = root.path().join("runtime/config");
    std::fs::create_dir_all(&config).unwrap();
    for entry in std::fs::read_dir(repo.join("runtime/config")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), config.join(entry.file_name())).unwrap();
    }

    let started = Instant::now();
    let writer = StoreWriter::spawn(&db_path(root.path()), 8192).unwrap();
    let jsonl_path = root.path().join("events.jsonl");
    let irc_path = root.path().join("chat.log");
    let mut jsonl = std::io::BufWriter::new(std::fs::File::create(&jsonl_path).unwrap());
    let mut irc = std::io::BufWriter::new(std::fs::File::create(&irc_path).unwrap());
    for i in 0..n {
        let mut event = chat::event(i);
        serde_json::to_writer(&mut jsonl, &event).unwrap();
        jsonl.write_all(b"\n").unwrap();
        event.platform = ss::event::Platform::named("twitch");
        writeln!(irc, "{}", irc_line(&event, i)).unwrap();
        writer
            .blocking_send(WriteOp::ChatEvent(Box::new(chat::event(i))))
            .unwrap();
    }
    jsonl.flush().unwrap();
    irc.flush().unwrap();
    let stats = writer.close().unwrap();
    assert_eq!(stats.events_recorded, n);
    println!(
        "replay: {n} events written to the store, a JSONL file and an IRC log in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let out = root.path().join("actions.jsonl");
    let root_arg = root.path().to_str().unwrap();
    let out_arg = out.to_str().unwrap();
    for (name, extra) in [
        ("store", vec![]),
        ("store --stats", vec!["--stats"]),
        ("jsonl", vec!["--input", jsonl_path.to_str().unwrap()]),
        (
            "irc",
            vec!["--input", irc_path.to_str().unwrap(), "--creator", "demo"],
        ),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ss"));
        cmd.args(["-q", "--root", root_arg, "replay"]).args(&extra);
        if !extra.contains(&"--stats") {
            cmd.args(["--out", out_arg]);
        }
        let started = Instant::now();
        let output = cmd.output().unwrap();
        let secs = started.elapsed().as_secs_f64();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let actions = if extra.contains(&"--stats") {
            0
        } else {
            std::fs::read(&out)
                .unwrap()
                .iter()
                .filter(|b| **b == b'\n')
                .count()
        };
        println!(
            "replay {name:<14} {n} events in {secs:.2}s: {:.0} events/s ({actions} actions written)",
            n as f64 / secs
        );
    }
}

/// A Twitch PRIVMSG line carrying `event`, with the full tag set the live server sends.
fn irc_line(event: &ChatEvent, i: u64) -> String {
    let a = &event.author;
    let sub = a.roles.subscriber;
    let moderator = a.roles.moderator;
    let badges = match (moderator, sub) {
        (true, true) => "moderator/1,subscriber/12",
        (true, false) => "moderator/1",
        (false, true) => "subscriber/12",
        (false, false) => "",
    };
    format!(
        "@badge-info={};badges={badges};client-nonce={:032x};color=#1E90FF;display-name={};emotes=;first-msg=0;flags=;id={};mod={};returning-chatter=0;room-id=11111111;subscriber={};tmi-sent-ts={};turbo=0;user-id={};user-type={} :{}!{}@{}.tmi.twitch.tv PRIVMSG #demo_channel :{}",
        if sub { "subscriber/14" } else { "" },
        u128::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835),
        a.display_name,
        event.message_id,
        u8::from(moderator),
        u8::from(sub),
        event.timestamp_ms(),
        a.id,
        if moderator { "mod" } else { "" },
        a.login,
        a.login,
        a.login,
        event.text
    )
}
