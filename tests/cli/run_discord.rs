//! The Discord bot against the loopback Discord ([`crate::discord_gateway`]): on its own
//! (`ss discord`) it identifies once, heartbeats on Discord's schedule, resumes after a dropped
//! socket and after op 7 without identifying again, identifies anew after op 9 `false`, and stops
//! with the fix named after a close 4004; inside `ss run` it registers its commands, answers
//! `/status` within Discord's 3 seconds, queues a clip for a moderator and refuses one to a member
//! without the role, times a user out and posts through Kick's loopback API, and writes one audit
//! row per change; `/mod timeout` reaches the loopback Twitch Helix server once. A gateway that
//! keeps failing changes nothing the sources record. No token (the
//! bot's, an interaction's) reaches the `-vv` log, the exports or the bot's state file.

use crate::discord_gateway::{APPLICATION_ID, DiscordGateway, TOKEN, wait_until};
use crate::harness::{Test, exit_code_within, files_under, signal};
use crate::kick_server::{KickApi, PusherServer};
use crate::run_kick::{
    ACCESS, CHAT_EVENT, CHATROOM, CHATROOM_CHANNEL, CLIENT_ID, CLIENT_SECRET, REFRESH,
    chat_message, kick_block, kick_root,
};
use serde_json::{Value, json};
use std::time::Duration;

const GUILD: &str = "222000000000000222";
const MOD_ROLE: &str = "900000000000000001";
const MODERATOR: (&str, &str) = ("53908232506183680", "Mason");
const VIEWER: (&str, &str) = ("53908232506183681", "Vera");

/// discord.json for the loopback Discord: the demo creator's guild, moderators by `MOD_ROLE`,
/// everyone else a viewer; `bot_enabled` starts it with `ss run`.
fn discord_json(gw: &DiscordGateway, bot_enabled: bool, logging: Option<&str>) -> String {
    let mut guild = json!({
        "creator": "demo",
        "roles": {MOD_ROLE: "moderator", GUILD: "viewer"},
    });
    if let Some(channel) = logging {
        guild["logging"] = json!({"enabled": true, "channel_id": channel});
    }
    serde_json::to_string_pretty(&json!({"discord": {
        "token_env": "DISCORD_BOT_TOKEN",
        "api_base_url": gw.api_base(),
        "bot": {"enabled": bot_enabled},
        "guilds": {GUILD: guild},
    }}))
    .unwrap()
}

/// A running `ss` whose stderr a thread drains.
struct Running {
    child: crate::harness::Spawned,
    stderr: std::thread::JoinHandle<String>,
}

impl Running {
    fn start(t: &Test, args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut child = t
            .std_cmd()
            .arg("-vv")
            .args(args)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut pipe = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
            text
        });
        Running {
            child: child.into(),
            stderr,
        }
    }

    /// Sends SIGTERM (unless it already exited) and returns the exit code and stderr.
    async fn stop(self) -> (i32, String) {
        let mut child = self.child.into_inner();
        if child.try_wait().unwrap().is_none() {
            signal(&child, "TERM");
        }
        let stderr = self.stderr;
        tokio::task::spawn_blocking(move || {
            let code = exit_code_within(&mut child, Duration::from_secs(30));
            (code, stderr.join().unwrap())
        })
        .await
        .unwrap()
    }

    /// Waits for the process to exit by itself.
    async fn exited(self) -> (i32, String) {
        let mut child = self.child.into_inner();
        let stderr = self.stderr;
        tokio::task::spawn_blocking(move || {
            let code = exit_code_within(&mut child, Duration::from_secs(30));
            (code, stderr.join().unwrap())
        })
        .await
        .unwrap()
    }
}

fn bot_state(t: &Test) -> Value {
    std::fs::read_to_string(t.path().join("runtime/discord/runtime.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

/// The control calls in the audit log, oldest first.
fn audit_rows(t: &Test) -> Vec<ss::store::AuditRow> {
    let store = ss::store::StoreReader::open(&ss::store::db_path(t.path())).unwrap();
    let mut rows: Vec<ss::store::AuditRow> = store
        .audit(100)
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "control_api")
        .collect();
    rows.reverse();
    rows
}

/// The audit actor of a guild member.
fn actor((id, name): (&str, &str)) -> String {
    format!("discord:{name}({id})@{GUILD}")
}

/// `/clip seconds`'s interaction data.
fn clip_command(seconds: u32) -> Value {
    json!({"name": "clip", "type": 1, "options": [{"type": 4, "name": "seconds", "value": seconds}]})
}

/// `/say platform text`'s interaction data.
fn say_command(platform: &str, text: &str) -> Value {
    json!({"name": "say", "type": 1, "options": [
        {"type": 3, "name": "platform", "value": platform},
        {"type": 3, "name": "text", "value": text}]})
}

/// A moderator's `/mod timeout`, answered as queued on the demo creator's `platform`.
async fn moderator_times_out(
    gw: &DiscordGateway,
    platform: &str,
    user: &str,
    seconds: u32,
    reason: &str,
) {
    let id = gw.command(
        GUILD,
        MODERATOR,
        &[MOD_ROLE],
        json!({"name": "mod", "type": 1, "options": [{"type": 1, "name": "timeout", "options": [
            {"type": 3, "name": "platform", "value": platform},
            {"type": 3, "name": "user", "value": user},
            {"type": 4, "name": "seconds", "value": seconds},
            {"type": 3, "name": "reason", "value": reason}]}]}),
    );
    let answer = gw.answer(&id).await;
    assert!(
        answer
            .text()
            .contains(&format!("Timeout queued on demo/{platform}")),
        "{}",
        answer.text()
    );
}

/// `ss run` on Kick (with its tokens) and the bot, once both are up.
async fn run_with_kick_and_the_bot(
    t: &Test,
    pusher: &PusherServer,
    gw: &DiscordGateway,
) -> Running {
    let run = Running::start(
        t,
        &["run"],
        &[
            ("DISCORD_BOT_TOKEN", TOKEN),
            ("KICK_OAUTH_TOKEN_DEMO", ACCESS),
            ("KICK_REFRESH_TOKEN_DEMO", REFRESH),
            ("KICK_CLIENT_ID_DEMO", CLIENT_ID),
            ("KICK_CLIENT_SECRET_DEMO", CLIENT_SECRET),
        ],
    );
    pusher.wait_for_subscriptions(CHATROOM_CHANNEL, 1).await;
    wait_until(Duration::from_secs(20), "the bot's session", || gw.ready()).await;
    run
}

/// Every command the bot registers, in order.
const COMMANDS: [&str; 7] = ["status", "clip", "poll", "giveaway", "timer", "say", "mod"];

/// Every token of these tests must stay out of `text`.
fn assert_no_token(text: &str, what: &str, gw: &DiscordGateway) {
    assert!(!text.contains(TOKEN), "the bot token leaked into {what}");
    for sent in &gw.lock().interactions {
        assert!(
            !text.contains(&sent.token),
            "an interaction token leaked into {what}"
        );
    }
    for secret in [ACCESS, REFRESH, CLIENT_ID, CLIENT_SECRET] {
        assert!(!text.contains(secret), "{secret:?} leaked into {what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_identifies_once_heartbeats_on_schedule_and_resumes_until_told_to_identify() {
    // Two seconds: long enough that a machine loaded by other tests neither misses a beat nor
    // starves the ACK, short enough for four beats in a test.
    let interval = Duration::from_millis(2000);
    let gw = DiscordGateway::start(2000).await;
    let t = Test::new();
    t.write(
        "runtime/config/discord.json",
        &discord_json(&gw, false, None),
    );
    t.run(&["validate-config"]).status(0);
    let bot = Running::start(&t, &["discord"], &[("DISCORD_BOT_TOKEN", TOKEN)]);
    let limit = Duration::from_secs(20);
    wait_until(limit, "the first session", || gw.ready()).await;

    // Identify: GUILDS only, no compression, the path with the version and encoding.
    {
        let m = gw.lock();
        assert_eq!(m.identifies.len(), 1);
        assert_eq!(m.identifies[0].intents, 1, "GUILDS only");
        assert!(m.identifies[0].body.get("compress").is_none());
        assert!(
            m.connections[0].path.contains("v=10&encoding=json"),
            "{}",
            m.connections[0].path
        );
    }
    // The heartbeat: the first within one interval of Hello (the jitter), then one per interval.
    wait_until(limit, "four heartbeats", || {
        gw.lock().connections[0].heartbeats.len() >= 4
    })
    .await;
    {
        let m = gw.lock();
        let c = &m.connections[0];
        let first = c.heartbeats[0].0.duration_since(c.hello_at);
        assert!(
            first <= interval + Duration::from_millis(1000),
            "first beat after {first:?}"
        );
        for pair in c.heartbeats.windows(2) {
            let gap = pair[1].0.duration_since(pair[0].0);
            assert!(
                gap >= interval - Duration::from_millis(50),
                "a beat {gap:?} after the last: early"
            );
            // A missed beat is a gap of two intervals; up to 1.5 s late is the machine's load.
            assert!(
                gap < interval * 2 - Duration::from_millis(500),
                "a beat {gap:?} after the last: one was missed"
            );
        }
        // Each beat carries the last sequence number (READY 1, GUILD_CREATE 2).
        assert_eq!(c.heartbeats.last().unwrap().1, json!(2));
    }
    // Commands are registered in the configured guild once the application is known.
    wait_until(limit, "the command registration", || {
        !gw.lock().registrations.is_empty()
    })
    .await;
    {
        let m = gw.lock();
        let (guild, body) = &m.registrations[0];
        assert_eq!(guild, GUILD);
        let names: Vec<&str> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, COMMANDS);
    }

    // Alone, a moderator's /clip is recorded beside the store (with its audit row); /say needs
    // the platform connections of `ss run` and says so.
    let id = gw.command(GUILD, MODERATOR, &[MOD_ROLE], clip_command(15));
    let clip = gw.answer(&id).await;
    assert!(clip.ephemeral());
    assert!(
        clip.text().contains("of the last 15 s of demo is queued"),
        "{}",
        clip.text()
    );
    let id = gw.command(GUILD, MODERATOR, &[MOD_ROLE], say_command("kick", "hi"));
    let say = gw.answer(&id).await;
    assert!(
        say.text()
            .contains("needs the platform connections of `ss run`"),
        "{}",
        say.text()
    );
    let rows = audit_rows(&t);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].actor.as_deref(), Some(actor(MODERATOR).as_str()));
    assert_eq!(rows[0].route.as_deref(), Some("discord /clip"));
    assert!(
        rows[0].result.as_deref().unwrap().starts_with("ok queued"),
        "{rows:?}"
    );
    assert!(
        rows[1]
            .result
            .as_deref()
            .unwrap()
            .starts_with("error unavailable"),
        "{rows:?}"
    );
    let store = ss::store::StoreReader::open(&ss::store::db_path(t.path())).unwrap();
    let clips = store.clips(None).unwrap();
    assert_eq!(clips.len(), 1, "{clips:?}");
    assert_eq!(clips[0].duration_s, 15);
    assert!(
        rows[0]
            .result
            .as_deref()
            .unwrap()
            .contains(&clips[0].clip_id)
    );

    // A dropped socket: resumed on the resume URL with the last sequence, no second Identify.
    gw.drop_connections();
    wait_until(limit, "a resume after the drop", || {
        gw.resumes() == 1 && gw.ready()
    })
    .await;
    {
        let m = gw.lock();
        assert_eq!(m.identifies.len(), 1, "no second Identify after a drop");
        assert_eq!(m.resumes[0].session_id, "session-1");
        // READY, GUILD_CREATE and the two commands were dispatches 1 to 4.
        assert_eq!(m.resumes[0].seq, Some(4));
        assert!(
            m.resumes[0].path.starts_with("/resume"),
            "{}",
            m.resumes[0].path
        );
    }
    // Op 7: reconnect and resume.
    gw.reconnect();
    wait_until(limit, "a resume after op 7", || {
        gw.resumes() == 2 && gw.ready()
    })
    .await;
    assert_eq!(gw.identifies(), 1, "no second Identify after op 7");
    // Op 9 with d: false: a new session (after the 5-second Identify window).
    gw.invalidate(false);
    wait_until(limit, "a new Identify after op 9 false", || {
        gw.identifies() == 2 && gw.ready()
    })
    .await;
    assert_eq!(gw.resumes(), 2, "op 9 false is not resumed");

    wait_until(limit, "the state file to show the new session", || {
        let s = bot_state(&t);
        s["connection"] == "connected" && s["session"]["identifies"] == 2
    })
    .await;
    let state = bot_state(&t);
    assert_eq!(state["meta"]["schema"], "streamsuites.discord_runtime.v1");
    assert_eq!(state["session"]["resumes"], 2, "{state}");
    assert_eq!(state["application_id"], APPLICATION_ID);
    assert_eq!(state["guilds"][GUILD]["commands_registered"], 7, "{state}");
    assert_eq!(state["guilds"][GUILD]["name"], "Demo server", "{state}");
    assert!(state["latency_ms"].is_u64(), "{state}");
    assert_eq!(state["identify"]["remaining"], 996, "{state}");

    let (code, stderr) = bot.stop().await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(bot_state(&t)["connection"], "stopped");
    // A stop ends the session with 1000 (read by the server as the frame arrives).
    wait_until(limit, "the close frame of the stop", || {
        gw.lock().connections.last().unwrap().closed_by_client == Some(1000)
    })
    .await;
    assert_no_token(&stderr, "the -vv log", &gw);
    assert_no_token(&t.read("runtime/discord/runtime.json"), "runtime.json", &gw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_4004_stops_the_bot_with_a_message_naming_the_bot_token() {
    let gw = DiscordGateway::start(45_000).await;
    gw.lock().reject_identify = true;
    let t = Test::new();
    t.write(
        "runtime/config/discord.json",
        &discord_json(&gw, false, None),
    );
    let bot = Running::start(&t, &["discord"], &[("DISCORD_BOT_TOKEN", TOKEN)]);
    let (code, stderr) = bot.exited().await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("gateway close 4004"), "{stderr}");
    assert!(stderr.contains("bot token"), "{stderr}");
    assert!(stderr.contains("token_env"), "the fix is named: {stderr}");
    assert_eq!(gw.identifies(), 1, "a refused token is not tried again");
    let state = bot_state(&t);
    assert_eq!(state["connection"], "stopped");
    assert!(
        state["last_error"].as_str().unwrap().contains("4004"),
        "{state}"
    );
    assert_no_token(&stderr, "the -vv log", &gw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_ss_run_commands_are_answered_in_time_acted_on_and_audited() {
    let gw = DiscordGateway::start(45_000).await;
    let pusher = PusherServer::start(120).await;
    let api = KickApi::start(ACCESS, REFRESH, CLIENT_ID, CLIENT_SECRET, CHATROOM).await;
    let t = kick_root(&pusher, &api, kick_block());
    t.write(
        "runtime/config/discord.json",
        &discord_json(&gw, true, Some("100000000000000009")),
    );
    let mut triggers: Value =
        serde_json::from_str(&t.read("runtime/config/triggers.json")).unwrap();
    triggers["giveaways"] = json!({"demo": {}});
    t.write("runtime/config/triggers.json", &triggers.to_string());
    t.run(&["validate-config"]).status(0);
    let run = run_with_kick_and_the_bot(&t, &pusher, &gw).await;
    let limit = Duration::from_secs(20);
    wait_until(limit, "the command registration", || {
        !gw.lock().registrations.is_empty()
    })
    .await;
    // A viewer the moderator will time out, seen in chat first.
    pusher.send_event(
        CHATROOM_CHANNEL,
        CHAT_EVENT,
        &chat_message("m-1", "Spammer", 777, "buy followers"),
    );
    wait_until(limit, "the chat message recorded", || {
        std::fs::read_to_string(t.path().join("runtime/signals/chat_events.json"))
            .is_ok_and(|s| s.contains("buy followers"))
    })
    .await;

    // /status: public, within 3 s, the sources and the health.
    let id = gw.command(GUILD, VIEWER, &[], json!({"name": "status", "type": 1}));
    let status = gw.answer(&id).await;
    assert_eq!(
        status.callback.as_ref().unwrap().2,
        204,
        "answered within 3 s"
    );
    assert!(status.answered_in().unwrap() < Duration::from_secs(3));
    assert!(!status.ephemeral(), "/status is public");
    assert!(status.text().contains("demo/kick"), "{}", status.text());
    // `ss status` shows the bot beside the sources.
    wait_until(limit, "ss status to show the connected bot", || {
        let out = t.run(&["status"]);
        out.stdout.lines().any(|l| {
            l.contains("discord bot") && l.contains("connected") && l.contains("7 commands")
        })
    })
    .await;

    // /clip 20 by a moderator: queued, one audit row; by a viewer: refused, nothing queued.
    let id = gw.command(GUILD, MODERATOR, &[MOD_ROLE], clip_command(20));
    let clip = gw.answer(&id).await;
    assert!(clip.ephemeral());
    assert!(
        clip.text().contains("of the last 20 s of demo is queued"),
        "{}",
        clip.text()
    );
    let id = gw.command(GUILD, VIEWER, &[], clip_command(20));
    let refused = gw.answer(&id).await;
    assert!(refused.ephemeral());
    assert!(
        refused.text().contains("needs the moderator role"),
        "{}",
        refused.text()
    );

    // /mod timeout by name (from the chat) and /say: through Kick's API.
    moderator_times_out(&gw, "kick", "spammer", 300, "spam").await;
    api.wait_for_moderation(1).await;
    let ban = &api.moderation()[0];
    assert_eq!(ban.path, "/public/v1/moderation/bans");
    assert_eq!(
        ban.body,
        json!({"broadcaster_user_id": 4242, "user_id": 777, "duration": 5, "reason": "spam"})
    );
    let say_id = gw.command(
        GUILD,
        MODERATOR,
        &[MOD_ROLE],
        say_command("kick", "Back in five!"),
    );
    gw.answer(&say_id).await;
    wait_until(limit, "the message posted on Kick", || {
        api.chat()
            .iter()
            .any(|p| p.body["content"] == "Back in five!")
    })
    .await;
    // /giveaway open: the operator's `!giveaway open pizza`, announced in the Kick chat.
    let id = gw.command(
        GUILD,
        MODERATOR,
        &[MOD_ROLE],
        json!({"name": "giveaway", "type": 1, "options": [{"type": 1, "name": "open", "options": [
            {"type": 3, "name": "keyword", "value": "pizza"},
            {"type": 3, "name": "platform", "value": "kick"}]}]}),
    );
    let giveaway = gw.answer(&id).await;
    assert!(
        giveaway
            .text()
            .contains("handed to demo's triggers on kick"),
        "{}",
        giveaway.text()
    );
    wait_until(limit, "the giveaway announced on Kick", || {
        api.chat().iter().any(|p| {
            p.body["content"]
                .as_str()
                .is_some_and(|c| c.contains("pizza"))
        })
    })
    .await;
    // The log channel hears of each change.
    wait_until(limit, "five log lines", || gw.lock().messages.len() >= 5).await;

    let (code, stderr) = run.stop().await;
    assert_eq!(code, 0, "{stderr}");

    // One audit row per change, as the control API writes them: who (the Discord user and
    // guild), with what role, the command, the change as asked, and the result.
    let rows = audit_rows(&t);
    let seen: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            let result = r.result.as_deref().unwrap();
            (
                r.route.as_deref().unwrap(),
                &result[..result.find(':').unwrap()],
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("discord /clip", "ok queued"),
            ("discord /clip", "error forbidden"),
            ("discord /mod", "ok queued"),
            ("discord /say", "ok queued"),
            ("discord /giveaway", "ok queued")
        ]
    );
    assert_eq!(rows[0].actor.as_deref(), Some(actor(MODERATOR).as_str()));
    assert_eq!(rows[0].role.as_deref(), Some("moderator"));
    assert_eq!(rows[0].arguments.as_ref().unwrap()["duration_s"], 20);
    assert_eq!(rows[1].actor.as_deref(), Some(actor(VIEWER).as_str()));
    assert_eq!(rows[1].role.as_deref(), Some("viewer"));
    let timeout_args = rows[2].arguments.as_ref().unwrap();
    assert_eq!(timeout_args["change"], "timeout");
    assert_eq!(
        timeout_args["user_id"], "777",
        "the user named in Discord, found in chat"
    );
    assert_eq!(timeout_args["seconds"], 300);
    // The clip job is in the store, requested for 20 s; the refused one never was.
    let store = ss::store::StoreReader::open(&ss::store::db_path(t.path())).unwrap();
    let clips = store.clips(None).unwrap();
    assert_eq!(clips.len(), 1, "{clips:?}");
    assert_eq!(clips[0].duration_s, 20);
    assert!(
        rows[0]
            .result
            .as_deref()
            .unwrap()
            .contains(&clips[0].clip_id)
    );
    // The command sent to Kick names its cause: the Discord user's control call.
    let cause = format!("control:{}", actor(MODERATOR));
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("Command sent") && l.contains(&cause)),
        "no log line for the /say with its cause"
    );
    assert_no_token(&stderr, "the -vv log", &gw);
    for dir in ["exports", "signals", "admin", "discord"] {
        for file in files_under(&t.path().join("runtime").join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            assert_no_token(&text, &file.display().to_string(), &gw);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_outage_changes_nothing_the_sources_record() {
    let gw = DiscordGateway::start(45_000).await;
    let pusher = PusherServer::start(120).await;
    let api = KickApi::start(ACCESS, REFRESH, CLIENT_ID, CLIENT_SECRET, CHATROOM).await;
    let t = kick_root(&pusher, &api, kick_block());
    t.write(
        "runtime/config/discord.json",
        &discord_json(&gw, true, None),
    );
    let run = run_with_kick_and_the_bot(&t, &pusher, &gw).await;
    let limit = Duration::from_secs(20);
    let send = |from: usize, to: usize| {
        for i in from..to {
            pusher.send_event(
                CHATROOM_CHANNEL,
                CHAT_EVENT,
                &chat_message(
                    &format!("out-{i}"),
                    "Viewer",
                    100 + i as u64,
                    &format!("message {i}"),
                ),
            );
        }
    };
    send(0, 20);
    // The gateway fails over and over (dropped sockets, server errors), then refuses the token.
    for _ in 0..3 {
        let resumed = gw.resumes();
        assert_eq!(gw.drop_connections(), 1);
        send(20, 25);
        wait_until(limit, "the bot back", || {
            gw.resumes() > resumed && gw.ready()
        })
        .await;
    }
    // Then the token is reset: the next new session is refused for good.
    gw.lock().reject_identify = true;
    assert_eq!(gw.invalidate(false), 1);
    wait_until(limit, "the bot stopped", || {
        bot_state(&t)["connection"] == "stopped"
    })
    .await;
    send(25, 40);
    let recorded = |t: &Test| {
        std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .and_then(|s| s["counters"]["events_recorded"].as_u64())
            .unwrap_or(0)
    };
    wait_until(limit, "every message recorded", || recorded(&t) >= 40).await;
    // The bot that stopped for good is named by `ss status`; the sources are fine.
    let status = t.run(&["status"]);
    assert_eq!(status.status, 1, "{}", status.stdout);
    assert!(
        status.stdout.contains("the Discord bot stopped"),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("4004"), "{}", status.stdout);
    let (code, stderr) = run.stop().await;
    assert_eq!(code, 0, "the run ends cleanly: {stderr}");
    let store = ss::store::StoreReader::open(&ss::store::db_path(t.path())).unwrap();
    let ids: std::collections::BTreeSet<String> = store
        .recent_chat_events(1000)
        .unwrap()
        .into_iter()
        .map(|e| e.message_id.to_string())
        .filter(|id| id.starts_with("out-"))
        .collect();
    // 20, then 5 per outage (the same ids again: recorded once), then 15 after the bot stopped.
    assert_eq!(ids.len(), 40, "{ids:?}");
    assert!(stderr.contains("The Discord bot stopped"), "{stderr}");
    assert!(stderr.contains("The sources keep running"), "{stderr}");
    assert_no_token(&stderr, "the -vv log", &gw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_mod_timeout_times_the_user_out_on_twitch_through_helix() {
    use crate::eventsub_server::{BROADCASTER_ID, TwitchCloud};
    use crate::run_eventsub::{
        ACCESS, ALL_CREATED, CLIENT_ID, REFRESH, SCOPES, chat, logged_in, spawn_run_with, stop,
    };
    let gw = DiscordGateway::start(45_000).await;
    let cloud = TwitchCloud::start(CLIENT_ID, ACCESS, REFRESH, SCOPES).await;
    let t = logged_in(&cloud).await;
    t.write(
        "runtime/config/discord.json",
        &discord_json(&gw, true, None),
    );
    t.run(&["validate-config"]).status(0);
    let running = spawn_run_with(&t, &[("DISCORD_BOT_TOKEN", TOKEN)]);
    cloud.wait_subscribed(&ALL_CREATED).await;
    let limit = Duration::from_secs(20);
    wait_until(limit, "the command registration", || {
        !gw.lock().registrations.is_empty()
    })
    .await;
    // The spammer chats first: the moderator names them as seen in chat.
    cloud.notify(
        "channel.chat.message",
        chat("tw-1", "spammer42", "4242", "follow my channel", None),
    );
    wait_until(limit, "the chat message recorded", || {
        std::fs::read_to_string(t.path().join("runtime/signals/chat_events.json"))
            .is_ok_and(|s| s.contains("follow my channel"))
    })
    .await;
    moderator_times_out(&gw, "twitch", "Spammer42", 600, "self-promotion").await;
    wait_until(limit, "the timeout at Helix", || {
        !cloud.calls_to("POST", "/moderation/bans").is_empty()
    })
    .await;
    let (code, stderr) = stop(running).await;
    assert_eq!(code, 0, "{stderr}");
    let bans = cloud.calls_to("POST", "/moderation/bans");
    assert_eq!(bans.len(), 1, "one timeout, sent once: {bans:?}");
    assert_eq!(bans[0].query["broadcaster_id"], BROADCASTER_ID);
    assert_eq!(
        bans[0].body,
        json!({"data": {"user_id": "4242", "duration": 600, "reason": "self-promotion"}})
    );
    assert!(bans[0].status < 300, "{:?}", bans[0]);
    let rows = audit_rows(&t);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].route.as_deref(), Some("discord /mod"));
    assert_eq!(rows[0].actor.as_deref(), Some(actor(MODERATOR).as_str()));
    assert!(rows[0].result.as_deref().unwrap().starts_with("ok queued"));
    assert_no_token(&stderr, "the -vv log", &gw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_slower_than_discord_allows_is_deferred_then_edited() {
    let gw = DiscordGateway::start(45_000).await;
    let t = Test::new();
    t.write(
        "runtime/config/discord.json",
        &discord_json(&gw, false, None),
    );
    // A store to record into, made by a short run.
    t.run(&["run", "--duration", "1s"]).status(0);
    let bot = Running::start(&t, &["discord"], &[("DISCORD_BOT_TOKEN", TOKEN)]);
    let limit = Duration::from_secs(20);
    wait_until(limit, "the command registration", || {
        !gw.lock().registrations.is_empty()
    })
    .await;
    // Another writer holds the store, so recording the clip waits (within the store's busy
    // timeout) longer than the bot may keep Discord waiting.
    let store = rusqlite::Connection::open(ss::store::db_path(t.path())).unwrap();
    store.execute_batch("BEGIN IMMEDIATE").unwrap();
    let id = gw.command(GUILD, MODERATOR, &[MOD_ROLE], clip_command(10));
    wait_until(limit, "the deferred callback", || {
        gw.lock().interactions.iter().any(|s| {
            s.id == id
                && s.callback
                    .as_ref()
                    .is_some_and(|(_, body, _)| body["type"] == 5)
        })
    })
    .await;
    store.execute_batch("ROLLBACK").unwrap();
    let sent = gw.answer(&id).await;
    let (at, body, status) = sent.callback.clone().unwrap();
    assert_eq!(status, 204);
    assert!(
        at - sent.dispatched_at.unwrap() < Duration::from_secs(3),
        "deferred within Discord's 3 s"
    );
    assert_eq!(body["data"]["flags"], 64, "deferred as ephemeral: {body}");
    assert_eq!(sent.edits.len(), 1, "{:?}", sent.edits);
    assert!(
        sent.text().contains("of the last 10 s of demo is queued"),
        "{}",
        sent.text()
    );
    let (code, stderr) = bot.stop().await;
    assert_eq!(code, 0, "{stderr}");
    let clips = ss::store::StoreReader::open(&ss::store::db_path(t.path()))
        .unwrap()
        .clips(None)
        .unwrap();
    assert_eq!(clips.len(), 1, "recorded once the store was free");
}
