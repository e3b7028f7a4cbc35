//! `ss run` with the demo creator's Twitch source pointed at the loopback Twitch server: it joins,
//! answers a viewer's `!ping` with a threaded `pong`, records the event, and reconnects and rejoins
//! when the server is stopped and started again, without a restart.

use crate::harness::Test;
use crate::twitch_server::{ServerOptions, TwitchServer};
use std::process::Stdio;
use std::time::Duration;

pub(crate) fn privmsg(id: &str, user: &str, user_id: &str, text: &str) -> String {
    let ts = chrono::Utc::now().timestamp_millis();
    format!(
        "@badge-info=;badges=;color=#1E90FF;display-name={user};emotes=;first-msg=0;flags=;id={id};mod=0;returning-chatter=0;room-id=11111111;subscriber=0;tmi-sent-ts={ts};turbo=0;user-id={user_id};user-type= :{user}!{user}@{user}.tmi.twitch.tv PRIVMSG #demo_channel :{text}"
    )
}

/// `line` with its `tmi-sent-ts` set to `ts`.
pub(crate) fn with_ts(line: &str, ts: i64) -> String {
    let (head, rest) = line.split_once("tmi-sent-ts=").expect("a tmi-sent-ts tag");
    let (_, tail) = rest.split_once(';').expect("more tags after tmi-sent-ts");
    format!("{head}tmi-sent-ts={ts};{tail}")
}

pub fn twitch_root(port: u16) -> Test {
    let t = Test::new();
    let creators = t
        .read("runtime/config/creators.json")
        .replacen(
            "\"enabled\": true,\n          \"rate_per_s\"",
            "\"enabled\": false,\n          \"rate_per_s\"",
            1,
        )
        .replacen(
            "\"enabled\": false,\n          \"channel\": \"demo_channel\"",
            "\"enabled\": true,\n          \"channel\": \"demo_channel\"",
            1,
        );
    assert!(creators.contains("\"enabled\": true,\n          \"channel\": \"demo_channel\""));
    t.write("runtime/config/creators.json", &creators);
    let platforms = t.read("runtime/config/platforms.json").replace(
        "\"twitch\": { \"mode\": \"active\" }",
        &format!("\"twitch\": {{ \"mode\": \"active\", \"host\": \"127.0.0.1\", \"port\": {port}, \"tls\": false }}"),
    );
    assert!(platforms.contains("127.0.0.1"));
    t.write("runtime/config/platforms.json", &platforms);
    let system = t
        .read("runtime/config/system.json")
        .replace("\"cadence_s\": 5", "\"cadence_s\": 0.5");
    t.write("runtime/config/system.json", &system);
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ss_run_replies_on_twitch_and_survives_a_server_restart() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let port = server.port();
    let t = twitch_root(port);
    t.run(&["validate-config"]).status(0);
    let mut child = t
        .std_cmd()
        .arg("run")
        .env("TWITCH_OAUTH_TOKEN_DEMO", "oauth:e2e-secret-token")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    server.wait_for_joins(1).await;
    server
        .send_to_joined(&privmsg("e2e-1", "viewer_one", "22222222", "!ping"))
        .await;
    server
        .wait_for_commands("PRIVMSG", 1, Duration::from_secs(10))
        .await;
    let reply = server.received_commands("PRIVMSG")[0].line.clone();
    assert!(reply.starts_with("@reply-parent-msg-id=e2e-1 "), "{reply}");
    assert!(reply.ends_with("PRIVMSG #demo_channel :pong"), "{reply}");

    // The server goes away and comes back on the same port: the runtime reconnects by itself.
    server.stop();
    // (start_on waits for the port to be free again.)
    let server = TwitchServer::start_on(port, ServerOptions::default()).await;
    server.wait_for_joins(1).await;
    // Past the trigger's 2 s creator cooldown: the clock is the event's own timestamp, so the
    // message is dated 3 s later.
    let later = chrono::Utc::now().timestamp_millis() + 3_000;
    server
        .send_to_joined(&with_ts(
            &privmsg("e2e-2", "viewer_two", "33333333", "!ping"),
            later,
        ))
        .await;
    server
        .wait_for_commands("PRIVMSG", 1, Duration::from_secs(10))
        .await;
    let reply = server.received_commands("PRIVMSG")[0].line.clone();
    assert!(reply.starts_with("@reply-parent-msg-id=e2e-2 "), "{reply}");

    // Stop the runtime as an operator would (the exports are written once more at shutdown).
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let output = tokio::task::spawn_blocking(move || {
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        (status, stderr)
    })
    .await
    .unwrap();
    assert_eq!(output.0.code(), Some(0), "{}", output.1);
    assert!(
        !output.1.contains("e2e-secret-token"),
        "the token leaked into the logs"
    );

    let store = ss::store::StoreReader::open(&ss::store::db_path(t.path())).unwrap();
    let ids: Vec<String> = store
        .recent_chat_events(100)
        .unwrap()
        .into_iter()
        .filter(|e| e.platform == ss::sources::twitch::TWITCH && e.text == "!ping")
        .map(|e| e.message_id.to_string())
        .collect();
    assert!(
        ids.contains(&"e2e-1".to_string()) && ids.contains(&"e2e-2".to_string()),
        "{ids:?}"
    );
    let chat = t.read("runtime/signals/chat_events.json");
    assert!(chat.contains("e2e-2"), "{chat}");
    let snapshot: serde_json::Value =
        serde_json::from_str(&t.read("runtime/exports/runtime_snapshot.json")).unwrap();
    let twitch = snapshot["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["platform"] == "twitch")
        .unwrap()
        .clone();
    assert!(twitch["reconnects"].as_u64().unwrap() >= 1, "{twitch}");
    assert_eq!(snapshot["counters"]["actions"]["reply"], 2, "{snapshot}");
    for dir in ["exports", "signals", "admin"] {
        for entry in std::fs::read_dir(t.path().join("runtime").join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(
                    !text.contains("e2e-secret-token"),
                    "token in {}",
                    path.display()
                );
            }
        }
    }
}

/// The guard counters belong to a run, not the process: two runs one after another in this process
/// each report the one foreign-channel line they saw, not the sum (issue 11, hardening B).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_in_one_process_each_count_their_own_guards() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let t = twitch_root(server.port());
    t.write(".env", "TWITCH_OAUTH_TOKEN_DEMO=oauth:in-process-token\n");
    for run in 1..=2 {
        let root = t.path().to_path_buf();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let running = tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                let config = ss::config::Config::load(&root).unwrap();
                let secrets = ss::config::secrets::Secrets::load(&root);
                ss::pipeline::runner::run(
                    &root,
                    config,
                    secrets,
                    ss::pipeline::runner::RunOptions::default(),
                    shutdown,
                )
                .await
            }
        });
        server.wait_for_joins(run).await;
        let foreign = privmsg(&format!("foreign-{run}"), "viewer_one", "22222222", "hi")
            .replace("#demo_channel", "#otherchannel");
        server.send_to_joined(&foreign).await;
        // Lines are handled in order: once `!ping` is answered, the foreign line was counted.
        server
            .send_to_joined(&privmsg(
                &format!("ping-{run}"),
                "viewer_one",
                "22222222",
                "!ping",
            ))
            .await;
        server
            .wait_for_commands("PRIVMSG", run, Duration::from_secs(10))
            .await;
        shutdown.cancel();
        let summary = running.await.unwrap().unwrap();
        assert_eq!(
            summary.counters.guards["foreign_channel_events"], 1,
            "run {run}: {:?}",
            summary.counters.guards
        );
    }
}

/// `limits.max_line_bytes` and `limits.max_clock_skew_s` from system.json reach the running source:
/// a 2 KiB line and a timestamp a minute old pass the defaults but not these tighter limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wire_limits_in_system_json_reach_the_sources() {
    let server = TwitchServer::start(ServerOptions::default()).await;
    let t = twitch_root(server.port());
    t.write(".env", "TWITCH_OAUTH_TOKEN_DEMO=oauth:in-process-token\n");
    let system = t.read("runtime/config/system.json").replace(
        "\"max_line_bytes\": 65536,\n    \"max_clock_skew_s\": 300",
        "\"max_line_bytes\": 1024,\n    \"max_clock_skew_s\": 5",
    );
    assert!(system.contains("\"max_clock_skew_s\": 5"));
    t.write("runtime/config/system.json", &system);
    let root = t.path().to_path_buf();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            let config = ss::config::Config::load(&root).unwrap();
            let secrets = ss::config::secrets::Secrets::load(&root);
            ss::pipeline::runner::run(
                &root,
                config,
                secrets,
                ss::pipeline::runner::RunOptions::default(),
                shutdown,
            )
            .await
        }
    });
    server.wait_for_joins(1).await;
    let a_minute_old = with_ts(
        &privmsg("old-1", "viewer_one", "22222222", "hi"),
        chrono::Utc::now().timestamp_millis() - 60_000,
    );
    let long = privmsg("long-1", "viewer_one", "22222222", &"x".repeat(2048));
    for line in [a_minute_old, long] {
        server.send_to_joined(&line).await;
    }
    server
        .send_to_joined(&privmsg("ping-1", "viewer_two", "33333333", "!ping"))
        .await;
    server
        .wait_for_commands("PRIVMSG", 1, Duration::from_secs(10))
        .await;
    shutdown.cancel();
    let summary = running.await.unwrap().unwrap();
    let guards = &summary.counters.guards;
    assert_eq!(guards["lines_too_long"], 1, "{guards:?}");
    assert_eq!(guards["timestamps_replaced"], 1, "{guards:?}");
}
