//! `ss auth twitch` and `ss run` with `"transport": "eventsub"` against the loopback id server,
//! Helix and EventSub WebSocket server ([`crate::eventsub_server`]).
//!
//! The login runs the device code flow through two `authorization_pending` answers and one
//! `slow_down`, stores a 0600 file and lists it in `ss auth status` without its token. The run
//! subscribes to what the scopes allow, records chat, a resub, a community gift and its gifts, a
//! cheer, a raid, a follow and a redemption once each with their typed fields, thanks the raid
//! through Helix chat, times a banned word's author out through Helix moderation, counts a dropped
//! message as failed, moves sockets on `session_reconnect` with no event lost or doubled, reports
//! a revocation once, and `ss replay --diff` of the run is empty. A silent socket and closes 4003
//! and 4007 reconnect to the base URL and subscribe again.

use crate::eventsub_server::{BROADCASTER_ID, DeviceAnswer, TwitchCloud, wait_for};
use crate::harness::{Test, exit_code_within, signal};
use crate::run_kick::add_triggers;
use serde_json::{Value, json};
use std::time::Duration;

pub(crate) const CLIENT_ID: &str = "tw-client-id-5555";
pub(crate) const ACCESS: &str = "tw-access-secret-6666";
pub(crate) const REFRESH: &str = "tw-refresh-secret-7777";
pub(crate) const CLIENT_ENV: &str = "TWITCH_CLIENT_ID_DEMO";

/// Every scope `ss` asks for by default.
pub(crate) const SCOPES: &[&str] = &[
    "user:read:chat",
    "user:write:chat",
    "moderator:read:followers",
    "channel:read:subscriptions",
    "bits:read",
    "channel:read:redemptions",
    "moderator:manage:banned_users",
    "moderator:manage:chat_messages",
    "moderator:manage:announcements",
];

/// What a token with [`SCOPES`] subscribes to (the chat types cover subs, cheers and raids).
pub(crate) const ALL_CREATED: [&str; 8] = [
    "channel.chat.message",
    "channel.chat.notification",
    "channel.chat.message_delete",
    "channel.chat.clear_user_messages",
    "channel.follow",
    "channel.channel_points_custom_reward_redemption.add",
    "stream.online",
    "stream.offline",
];

/// The demo root with the sim source off and Twitch over EventSub on, pointed at `cloud`.
pub(crate) fn eventsub_root(cloud: &TwitchCloud) -> Test {
    let t = Test::fast_demo(None);
    let mut creators: Value =
        serde_json::from_str(&t.read("runtime/config/creators.json")).unwrap();
    let platforms = &mut creators["creators"][0]["platforms"];
    platforms["sim"]["enabled"] = false.into();
    platforms["twitch"] = json!({
        "enabled": true,
        "transport": "eventsub",
        "channel": "demo_channel",
        "client_id_env": CLIENT_ENV,
    });
    t.write(
        "runtime/config/creators.json",
        &serde_json::to_string_pretty(&creators).unwrap(),
    );
    let mut platforms: Value =
        serde_json::from_str(&t.read("runtime/config/platforms.json")).unwrap();
    platforms["platforms"]["twitch"] = json!({
        "mode": "active",
        "helix_url": cloud.helix_url(),
        "oauth_url": cloud.base(),
        "eventsub_url": cloud.ws_url(),
    });
    t.write(
        "runtime/config/platforms.json",
        &serde_json::to_string_pretty(&platforms).unwrap(),
    );
    t
}

/// `ss -vv auth …` in the root, off the async threads; (exit code, stdout, stderr).
async fn auth(t: &Test, args: &[&str]) -> (i32, String, String) {
    let mut cmd = t.std_cmd();
    cmd.arg("-vv")
        .arg("auth")
        .args(args)
        .env(CLIENT_ENV, CLIENT_ID);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running `ss -vv run`, its stderr read as it comes (a full pipe would hold the log back).
/// Dropped while the test panics, it kills the process and prints its log, so a failed wait leaves
/// no `ss` behind to load the tests after it, and says what the run was doing.
pub(crate) struct Running {
    child: Option<crate::harness::Spawned>,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if std::thread::panicking() {
            drop(self.child.take());
            if let Some(reader) = self.reader.take() {
                let _ = reader.join();
            }
            let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
            eprintln!("--- log of the `ss run` of the failed test ---\n{log}");
        }
    }
}

pub(crate) fn spawn_run(t: &Test) -> Running {
    spawn_run_with(t, &[])
}

/// `ss -vv run` with the client id and `env` set.
pub(crate) fn spawn_run_with(t: &Test, env: &[(&str, &str)]) -> Running {
    let mut cmd = t.std_cmd();
    cmd.args(["-vv", "run"])
        .env(CLIENT_ENV, CLIENT_ID)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let pipe = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = std::sync::Arc::clone(&log);
    let reader = std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(pipe)) {
            let Ok(line) = line else { break };
            let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
            log.push_str(&line);
            log.push('\n');
        }
    });
    Running {
        child: Some(child.into()),
        log,
        reader: Some(reader),
    }
}

/// Stops `run` with SIGTERM; its exit code and stderr.
pub(crate) async fn stop(mut run: Running) -> (i32, String) {
    let mut child = run.child.take().expect("a running ss").into_inner();
    let reader = run.reader.take().expect("its log reader");
    let log = std::sync::Arc::clone(&run.log);
    signal(&child, "TERM");
    tokio::task::spawn_blocking(move || {
        let code = exit_code_within(&mut child, Duration::from_secs(30));
        reader.join().unwrap();
        let text = std::mem::take(&mut *log.lock().unwrap());
        (code, text)
    })
    .await
    .unwrap()
}

/// Asserts that no token (nor one a refresh handed out) is in `text`.
pub(crate) fn assert_no_secret(text: &str, what: &str, also: &[String]) {
    for secret in [ACCESS, REFRESH, CLIENT_ID]
        .iter()
        .map(|s| (*s).to_owned())
        .chain(also.iter().cloned())
    {
        assert!(!text.contains(&secret), "{secret:?} leaked into {what}");
    }
}

fn assert_exports_hold_no_secret(t: &Test, also: &[String]) {
    for dir in ["exports", "signals", "admin"] {
        let dir = t.path().join("runtime").join(dir);
        for entry in crate::harness::files_under(&dir) {
            let text = std::fs::read_to_string(&entry).unwrap_or_default();
            assert_no_secret(&text, &entry.display().to_string(), also);
        }
    }
}

pub(crate) fn snapshot(t: &Test) -> Value {
    std::fs::read_to_string(t.path().join("runtime/exports/runtime_snapshot.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

fn twitch_status(snapshot: &Value) -> Value {
    snapshot["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["platform"] == "twitch")
        .cloned()
        .unwrap_or(Value::Null)
}

fn recorded(t: &Test) -> Vec<ss::event::ChatEvent> {
    let Ok(store) = ss::store::StoreReader::open(&ss::store::db_path(t.path())) else {
        return Vec::new();
    };
    store
        .recent_chat_events(1000)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.platform == ss::event::Platform::named("twitch"))
        .collect()
}

/// The root logged in with `ss auth twitch` (the id server approves at once).
pub(crate) async fn logged_in(cloud: &TwitchCloud) -> Test {
    let t = eventsub_root(cloud);
    let (code, stdout, stderr) = auth(&t, &["twitch", "--creator", "demo"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    t
}

fn chatter(login: &str, id: &str) -> Value {
    json!({"chatter_user_id": id, "chatter_user_login": login, "chatter_user_name": login})
}

fn broadcaster() -> Value {
    json!({"broadcaster_user_id": BROADCASTER_ID, "broadcaster_user_login": "demo_channel", "broadcaster_user_name": "Demo_Channel"})
}

fn merge(mut a: Value, b: Value) -> Value {
    for (k, v) in b.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

/// A `channel.chat.message` event (every fragment with its four keys).
pub(crate) fn chat(id: &str, login: &str, user_id: &str, text: &str, cheer: Option<u64>) -> Value {
    let mut fragments = vec![
        json!({"type": "text", "text": text, "cheermote": null, "emote": null, "mention": null}),
    ];
    if let Some(bits) = cheer {
        fragments = vec![
            json!({"type": "cheermote", "text": format!("Cheer{bits}"), "cheermote": {"prefix": "cheer", "bits": bits, "tier": 100}, "emote": null, "mention": null}),
            json!({"type": "text", "text": format!(" {text}"), "cheermote": null, "emote": null, "mention": null}),
        ];
    }
    let full = match cheer {
        Some(bits) => format!("Cheer{bits} {text}"),
        None => text.to_owned(),
    };
    merge(
        merge(broadcaster(), chatter(login, user_id)),
        json!({"message_id": id, "message": {"text": full, "fragments": fragments}, "message_type": "text",
            "badges": [{"set_id": "subscriber", "id": "12", "info": "16"}],
            "cheer": cheer.map(|bits| json!({"bits": bits})), "color": "#1E90FF", "reply": null,
            "channel_points_custom_reward_id": null, "channel_points_animation_id": null,
            "source_broadcaster_user_id": null, "source_broadcaster_user_login": null,
            "source_broadcaster_user_name": null, "source_message_id": null, "source_badges": null,
            "is_source_only": null}),
    )
}

const NOTICE_TYPES: [&str; 21] = [
    "sub",
    "resub",
    "sub_gift",
    "community_sub_gift",
    "gift_paid_upgrade",
    "prime_paid_upgrade",
    "raid",
    "unraid",
    "pay_it_forward",
    "announcement",
    "bits_badge_tier",
    "charity_donation",
    "shared_chat_sub",
    "shared_chat_resub",
    "shared_chat_sub_gift",
    "shared_chat_community_sub_gift",
    "shared_chat_gift_paid_upgrade",
    "shared_chat_prime_paid_upgrade",
    "shared_chat_raid",
    "shared_chat_pay_it_forward",
    "shared_chat_announcement",
];

/// A `channel.chat.notification` event of `notice_type` with its object (every other one null).
fn notice(
    id: &str,
    login: &str,
    user_id: &str,
    notice_type: &str,
    object: Value,
    text: &str,
) -> Value {
    let mut event = merge(
        merge(broadcaster(), chatter(login, user_id)),
        json!({"chatter_is_anonymous": false, "color": "", "badges": [], "system_message": "A system message.",
            "message_id": id, "message": {"text": text, "fragments": if text.is_empty() { json!([]) } else {
                json!([{"type": "text", "text": text, "cheermote": null, "emote": null, "mention": null}]) }},
            "notice_type": notice_type, "source_broadcaster_user_id": null, "source_broadcaster_user_login": null,
            "source_broadcaster_user_name": null, "source_message_id": null, "source_badges": null}),
    );
    for kind in NOTICE_TYPES {
        event[kind] = if kind == notice_type {
            object.clone()
        } else {
            Value::Null
        };
    }
    event
}

fn raid(id: &str, viewers: u64) -> Value {
    notice(
        id,
        "raider_one",
        "4242",
        "raid",
        json!({"user_id": "4242", "user_name": "Raider_One", "user_login": "raider_one", "viewer_count": viewers, "profile_image_url": ""}),
        "",
    )
}

fn by_id<'a>(events: &'a [ss::event::ChatEvent], id: &str) -> &'a ss::event::ChatEvent {
    events
        .iter()
        .find(|e| e.message_id == id)
        .unwrap_or_else(|| panic!("{id} not recorded: {events:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ss_auth_twitch_logs_in_through_the_device_code_flow_and_stores_a_private_file() {
    let cloud = TwitchCloud::start(CLIENT_ID, ACCESS, REFRESH, SCOPES).await;
    cloud.script_device(&[
        DeviceAnswer::Pending,
        DeviceAnswer::Pending,
        DeviceAnswer::SlowDown,
    ]);
    let t = eventsub_root(&cloud);
    let (code, stdout, stderr) = auth(&t, &["twitch", "--creator", "demo"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("https://www.twitch.tv/activate?public=true&device-code=ABCDEFGH")
            && stdout.contains("ABCDEFGH"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Logged in as demo_channel (user id 1971641"),
        "{stdout}"
    );
    // Four polls: every interval (1 s), and 5 s more after the slow_down.
    let polls = cloud.device_polls();
    assert_eq!(polls.len(), 4, "{polls:?}");
    let gaps: Vec<Duration> = polls.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps[0] >= Duration::from_millis(900) && gaps[1] >= Duration::from_millis(900),
        "{gaps:?}"
    );
    assert!(
        gaps[2] >= Duration::from_millis(5900),
        "slow_down adds 5 s: {gaps:?}"
    );

    let file = t.path().join("runtime/state/twitch/demo.token.json");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    assert!(std::fs::read_to_string(&file).unwrap().contains(ACCESS));

    let (code, listed, status_err) = auth(&t, &["status"]).await;
    assert_eq!(code, 0, "{status_err}");
    assert!(
        listed.contains("twitch demo: user demo_channel (1971641)")
            && listed.contains("moderator:manage:banned_users"),
        "{listed}"
    );
    let (code, json_listed, _) = auth(&t, &["status", "--format", "json"]).await;
    assert_eq!(code, 0);
    let json_listed: Value = serde_json::from_str(&json_listed).unwrap();
    assert_eq!(json_listed[0]["platform"], "twitch");
    assert_eq!(json_listed[0]["creator"], "demo");
    for text in [&stdout, &stderr, &listed, &status_err] {
        assert_no_secret(text, "ss auth's output at -vv", &[]);
    }
    assert!(!json_listed.to_string().contains(ACCESS));

    // An unknown creator is a usage error naming the known ones.
    let (code, _, stderr) = auth(&t, &["twitch", "--creator", "nobody"]).await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no creator \"nobody\"") && stderr.contains("demo"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ss_run_over_eventsub_records_each_event_once_answers_through_helix_and_survives_a_reconnect()
 {
    let cloud = TwitchCloud::start(CLIENT_ID, ACCESS, REFRESH, SCOPES).await;
    let t = logged_in(&cloud).await;
    add_triggers(
        &t,
        json!([
            {"id": "thank-raiders", "on": {"event": "raid", "min_viewers": 10},
             "action": {"type": "reply", "template": "Welcome {user} and all {viewers} raiders!"}},
            {"id": "no-badword", "kind": "keyword", "keywords": ["badword"],
             "action": {"type": "timeout", "seconds": 600, "reason": "banned word from {user}"}},
        ]),
    );
    let out = t.run(&["validate-config"]);
    out.status(0);
    // Twitch refuses the first two subscriptions for now (429): they are retried after a backoff.
    cloud.refuse_subscriptions(2);
    let child = spawn_run(&t);
    cloud.wait_subscribed(&ALL_CREATED).await;
    // The types the chat subscriptions cover are not created (each event recorded once).
    let kinds: Vec<String> = cloud.subs().iter().map(|s| s.kind.clone()).collect();
    for covered in ["channel.subscribe", "channel.cheer", "channel.raid"] {
        assert!(!kinds.iter().any(|k| k == covered), "{kinds:?}");
    }
    let follow_sub = cloud
        .subs()
        .into_iter()
        .find(|s| s.kind == "channel.follow")
        .unwrap();
    assert_eq!(follow_sub.version, "2");
    assert_eq!(
        follow_sub.condition,
        json!({"broadcaster_user_id": BROADCASTER_ID, "moderator_user_id": BROADCASTER_ID})
    );

    cloud.notify(
        "channel.chat.message",
        chat(
            "msg-hello",
            "viewer_one",
            "2001",
            "hello from eventsub",
            None,
        ),
    );
    cloud.notify(
        "channel.chat.notification",
        notice("n-resub", "gutrin2", "3001", "resub",
            json!({"cumulative_months": 10, "duration_months": 1, "streak_months": 3, "sub_tier": "1000",
                "is_prime": false, "is_gift": false, "gifter_is_anonymous": null, "gifter_user_id": null,
                "gifter_user_name": null, "gifter_user_login": null}),
            "great stream"),
    );
    cloud.notify(
        "channel.chat.notification",
        notice("n-bomb", "gifter", "3002", "community_sub_gift",
            json!({"id": "12111455614691086753", "total": 5, "sub_tier": "1000", "cumulative_total": null}), ""),
    );
    for i in 0..5 {
        cloud.notify(
            "channel.chat.notification",
            notice(&format!("n-gift-{i}"), "gifter", "3002", "sub_gift",
                json!({"duration_months": 1, "cumulative_total": null, "recipient_user_id": format!("50{i}"),
                    "recipient_user_name": format!("Lucky{i}"), "recipient_user_login": format!("lucky{i}"),
                    "sub_tier": "1000", "community_gift_id": "12111455614691086753"}), ""),
        );
    }
    cloud.notify(
        "channel.chat.message",
        chat("msg-cheer", "cheerer", "2002", "take my bits", Some(100)),
    );
    // The raid's thanks is dropped twice (msg_duplicate, tried once more): a failed send.
    cloud.drop_next_chat("msg_duplicate");
    cloud.drop_next_chat("msg_duplicate");
    cloud.notify("channel.chat.notification", raid("n-raid-small", 12));
    wait_for("the dropped thanks and its retry", || {
        cloud.calls_to("POST", "/chat/messages").len() >= 2
    })
    .await;
    cloud.notify("channel.chat.notification", raid("n-raid", 42));
    cloud.notify(
        "channel.follow",
        merge(
            broadcaster(),
            json!({"user_id": "6001", "user_login": "new_fan", "user_name": "New_Fan",
            "followed_at": "2023-07-15T18:16:11.17106713Z"}),
        ),
    );
    cloud.notify(
        "channel.channel_points_custom_reward_redemption.add",
        merge(broadcaster(), json!({"id": "red-1", "user_id": "7001", "user_login": "redeemer", "user_name": "Redeemer",
            "user_input": "play the song", "status": "unfulfilled",
            "reward": {"id": "9001", "title": "Song request", "cost": 100, "prompt": "Name a song"},
            "redeemed_at": "2020-07-15T17:16:03.17106713Z"})),
    );
    // The access token expires: the timeout's first call gets 401, the token is refreshed once
    // and the call made again with the new one.
    wait_for("the thanks for the raid of 42", || {
        cloud.calls_to("POST", "/chat/messages").len() >= 3
    })
    .await;
    cloud.expire_access_token();
    cloud.notify(
        "channel.chat.message",
        chat(
            "msg-bad",
            "spammer",
            "7777",
            "buy followers badword now",
            None,
        ),
    );

    // The raid of 42 is thanked through Helix chat, the banned word times its author out.
    wait_for("the thanks and the timeout", || {
        cloud.calls_to("POST", "/chat/messages").len() >= 3
            && cloud
                .calls_to("POST", "/moderation/bans")
                .iter()
                .any(|c| c.status == 200)
    })
    .await;

    // session_reconnect: the overlap's events come on the old socket, then again on the new one.
    let before = cloud.sessions_started();
    cloud.reconnect(&[
        (
            "channel.chat.message",
            chat(
                "msg-overlap-1",
                "viewer_one",
                "2001",
                "said during the move",
                None,
            ),
        ),
        (
            "channel.chat.message",
            chat(
                "msg-overlap-2",
                "viewer_two",
                "2003",
                "also during the move",
                None,
            ),
        ),
    ]);
    wait_for("the move to the new socket", || {
        cloud.sessions_started() == before + 1 && cloud.open_sessions().len() == 1
    })
    .await;
    cloud.notify(
        "channel.chat.message",
        chat("msg-after", "viewer_one", "2001", "after the move", None),
    );

    // Going live comes from stream.online: the source's status, and a go-live post queued.
    cloud.notify(
        "stream.online",
        merge(
            broadcaster(),
            json!({"id": "9001", "type": "live", "started_at": "2020-10-11T10:11:12.123Z"}),
        ),
    );
    wait_for("live in the status", || {
        twitch_status(&snapshot(&t))["live"]["stream"]["id"] == "9001"
    })
    .await;
    // The go-live watcher reads the status once a second and queues the post in the store.
    wait_for("the go-live post queued", || {
        ss::store::StoreReader::open(&ss::store::db_path(t.path()))
            .and_then(|store| store.outbox(50))
            .is_ok_and(|rows| rows.iter().any(|r| r.kind == "go_live"))
    })
    .await;

    // A revocation is reported once; the other subscriptions keep working.
    cloud.revoke("channel.follow", "authorization_revoked");
    cloud.notify(
        "channel.chat.message",
        chat("msg-after-revoke", "viewer_two", "2003", "still here", None),
    );
    wait_for("every event recorded", || {
        let events = recorded(&t);
        events.iter().any(|e| e.message_id == "msg-after-revoke")
            && events.iter().any(|e| e.message_id == "msg-after")
    })
    .await;
    wait_for("the revocation in the status", || {
        twitch_status(&snapshot(&t))
            .to_string()
            .contains("revoked the EventSub subscription channel.follow")
    })
    .await;
    wait_for("the commands counted", || {
        let s = snapshot(&t);
        s["commands"]["sent"] == 2 && s["commands"]["failed"] == 1
    })
    .await;
    let status_out = t.run(&["status"]);
    let (code, stderr) = stop(child).await;
    assert_eq!(code, 0, "{stderr}");

    // Each event is stored once, with its typed fields.
    let events = recorded(&t);
    let mut ids: Vec<&str> = events.iter().map(|e| e.message_id.as_str()).collect();
    ids.sort_unstable();
    let before_dedupe = ids.len();
    ids.dedup();
    assert_eq!(
        ids.len(),
        before_dedupe,
        "an event was recorded twice: {ids:?}"
    );
    let use_kind = |id: &str| serde_json::to_value(by_id(&events, id)).unwrap();
    let hello = use_kind("msg-hello");
    assert_eq!(
        (hello["kind"].as_str(), hello["text"].as_str()),
        (Some("message"), Some("hello from eventsub"))
    );
    let resub = use_kind("n-resub");
    assert_eq!(resub["kind"], "subscription");
    assert_eq!(resub["detail"]["kind"], "resub");
    assert_eq!(resub["detail"]["months"], 10);
    assert_eq!(resub["text"], "great stream");
    let bomb = use_kind("n-bomb");
    assert_eq!(bomb["detail"]["kind"], "community_gift");
    assert_eq!(bomb["detail"]["count"], 5);
    let gifts: Vec<&ss::event::ChatEvent> = events
        .iter()
        .filter(|e| e.message_id.starts_with("n-gift-"))
        .collect();
    assert_eq!(gifts.len(), 5);
    for gift in gifts {
        let gift = serde_json::to_value(gift).unwrap();
        assert_eq!(gift["detail"]["kind"], "gift", "{gift}");
        assert_eq!(
            gift["detail"]["community_gift_id"], "12111455614691086753",
            "{gift}"
        );
    }
    let cheer = use_kind("msg-cheer");
    assert_eq!(cheer["kind"], "cheer");
    assert_eq!(cheer["detail"]["amount"], 100.0, "{cheer}");
    let raid42 = use_kind("n-raid");
    assert_eq!(
        (
            raid42["kind"].as_str(),
            raid42["detail"]["viewers"].as_u64()
        ),
        (Some("raid"), Some(42))
    );
    let follow = events
        .iter()
        .find(|e| e.author.login == "new_fan")
        .expect("the follow");
    assert_eq!(follow.kind, ss::event::EventKind::Follow);
    let redemption = use_kind("redemption-red-1");
    assert_eq!(redemption["kind"], "redemption");
    assert_eq!(redemption["text"], "play the song");
    assert_eq!(redemption["detail"]["reward_id"], "9001");
    for id in ["msg-overlap-1", "msg-overlap-2", "msg-after"] {
        by_id(&events, id);
    }

    // Helix: the thanks as the token's user, the timeout with the configured duration.
    let chats = cloud.calls_to("POST", "/chat/messages");
    assert_eq!(chats.len(), 3, "{chats:#?}");
    assert_eq!(
        chats[2].body,
        json!({"broadcaster_id": BROADCASTER_ID, "sender_id": BROADCASTER_ID, "message": "Welcome Raider_One and all 42 raiders!"})
    );
    assert_eq!(chats[2].bearer, ACCESS);
    let bans = cloud.calls_to("POST", "/moderation/bans");
    assert_eq!(bans.len(), 2, "{bans:#?}");
    assert_eq!((bans[0].status, bans[0].bearer.as_str()), (401, ACCESS));
    assert_eq!(cloud.refreshes(), 1);
    assert_eq!(bans[1].status, 200);
    assert_eq!(bans[1].bearer, cloud.access_token());
    // The refreshed pair was stored (refresh tokens are single-use).
    let stored = t.read("runtime/state/twitch/demo.token.json");
    assert!(
        stored.contains(&cloud.refresh_token()),
        "the new refresh token is stored"
    );
    assert_eq!(bans[1].query["broadcaster_id"], BROADCASTER_ID);
    assert_eq!(bans[1].query["moderator_id"], BROADCASTER_ID);
    assert_eq!(
        bans[1].body,
        json!({"data": {"user_id": "7777", "duration": 600, "reason": "banned word from spammer"}})
    );

    // The dropped send is failed by its code, never sent; the duplicate deliveries are counted.
    let snap = snapshot(&t);
    assert_eq!(snap["commands"]["sent"], 2, "{}", snap["commands"]);
    assert_eq!(snap["commands"]["failed"], 1, "{}", snap["commands"]);
    assert_eq!(
        snap["commands"]["failed_by_reason"]["msg_duplicate"], 1,
        "{}",
        snap["commands"]
    );
    // Both overlap events came on both sockets; the copies were dropped.
    assert_eq!(
        snap["counters"]["guards"]["redeliveries"], 2,
        "{}",
        snap["counters"]
    );
    // The new socket was reached through the reconnect_url and nothing was subscribed again.
    let paths = cloud.ws_paths();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(paths[1].contains("reconnect_id="), "{paths:?}");
    assert!(
        cloud.inbound().is_empty(),
        "the client sent frames: {:?}",
        cloud.inbound()
    );
    assert_eq!(
        cloud.calls_to("POST", "/eventsub/subscriptions").len(),
        8 + 2,
        "one creation per type (two retried after a 429), none after the reconnect"
    );
    // The revocation is reported once, naming the scope.
    let revoked = stderr
        .matches("revoked the EventSub subscription channel.follow")
        .count();
    assert_eq!(revoked, 1, "{stderr}");
    assert!(stderr.contains("moderator:read:followers"), "{stderr}");
    assert!(
        status_out
            .stdout
            .contains("revoked the EventSub subscription channel.follow"),
        "{}",
        status_out.stdout
    );

    // The 429s were retried; what the chat subscriptions cover is said once.
    assert!(
        stderr.contains("Twitch refused a subscription for now (429"),
        "{stderr}"
    );
    assert_eq!(
        stderr
            .matches("EventSub channel.cheer not subscribed: covered by channel.chat.message")
            .count(),
        1
    );
    let jobs: Value = serde_json::from_str(&t.read("runtime/admin/jobs.json")).unwrap();
    let go_live: Vec<&Value> = jobs["outbox"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "go_live")
        .collect();
    assert!(!go_live.is_empty(), "{jobs}");
    assert!(
        go_live.iter().all(|r| r["cause"] == "stream:twitch:9001"),
        "{go_live:?}"
    );

    // The exports show the events; no token anywhere.
    let exported = t.read("runtime/signals/chat_events.json");
    for id in ["n-resub", "n-raid", "redemption-red-1", "msg-cheer"] {
        assert!(exported.contains(id), "{id} not exported");
    }
    let refreshed = [cloud.access_token(), cloud.refresh_token()];
    assert_no_secret(&stderr, "the -vv log", &refreshed);
    assert_exports_hold_no_secret(&t, &refreshed);

    // Replaying the recorded run finds what the live run did.
    let diff = t.run(&["replay", "--diff"]);
    assert_eq!(diff.status, 0, "{}\n{}", diff.stdout, diff.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_socket_and_closes_4003_and_4007_reconnect_and_subscribe_again() {
    let cloud = TwitchCloud::start(CLIENT_ID, ACCESS, REFRESH, SCOPES).await;
    cloud.set_default_keepalive(2);
    let t = logged_in(&cloud).await;
    let child = spawn_run(&t);
    cloud.wait_subscribed(&ALL_CREATED).await;
    let subscribe_calls = || cloud.calls_to("POST", "/eventsub/subscriptions").len();
    let per_session = ALL_CREATED.len();
    assert_eq!(subscribe_calls(), per_session);

    // Close 4003 (unused): a new session on the base URL, subscribed again.
    cloud.close_all(4003, "connection unused");
    wait_for("a second session subscribed", || {
        subscribe_calls() >= 2 * per_session
    })
    .await;
    cloud.wait_subscribed(&ALL_CREATED).await;

    // Close 4007 (invalid reconnect): the same.
    cloud.close_all(4007, "invalid reconnect attempt");
    wait_for("a third session subscribed", || {
        subscribe_calls() >= 3 * per_session
    })
    .await;
    cloud.wait_subscribed(&ALL_CREATED).await;

    // Silence (no keepalive for the window plus the grace): the socket counts as dead.
    let sessions = cloud.sessions_started();
    cloud.silence_all();
    wait_for("a session after the silence", || {
        cloud.sessions_started() > sessions
    })
    .await;
    wait_for("subscribed after the silence", || {
        subscribe_calls() >= 4 * per_session
    })
    .await;
    cloud.wait_subscribed(&ALL_CREATED).await;
    assert!(
        cloud.ws_paths().iter().all(|p| !p.contains("reconnect_id")),
        "every reconnect goes to the base URL: {:?}",
        cloud.ws_paths()
    );
    cloud.notify(
        "channel.chat.message",
        chat("msg-back", "viewer_one", "2001", "back again", None),
    );
    wait_for("the message after the reconnects", || {
        recorded(&t).iter().any(|e| e.message_id == "msg-back")
    })
    .await;
    let (code, stderr) = stop(child).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("4003"), "{stderr}");
    assert!(stderr.contains("4007"), "{stderr}");
    assert!(stderr.contains("no keepalive or notification"), "{stderr}");
    assert_no_secret(&stderr, "the -vv log", &[]);
}

/// validate-config checks the transport and warns, at the trigger, when the stored login's scopes
/// cannot cover what a trigger asks of Twitch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_config_warns_when_the_login_cannot_cover_a_trigger() {
    let cloud = TwitchCloud::start(
        CLIENT_ID,
        ACCESS,
        REFRESH,
        &["user:read:chat", "user:write:chat"],
    )
    .await;
    let t = eventsub_root(&cloud);
    add_triggers(
        &t,
        json!([{"id": "no-badword", "kind": "keyword", "keywords": ["badword"],
            "action": {"type": "timeout", "seconds": 600, "reason": "banned word"}}]),
    );
    // Before any login: the transport cannot start.
    let out = t.run(&["validate-config"]);
    let before = out.stdout.clone();
    assert!(before.contains("ss auth twitch --creator demo"), "{before}");

    let (code, stdout, stderr) = auth(&t, &["twitch", "--creator", "demo"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let out = t.run(&["validate-config"]);
    out.status(0);
    assert!(
        out.stdout.lines().any(|l| l.contains("triggers.json")
            && l.contains("no-badword")
            && l.contains("moderator:manage:banned_users")),
        "{}",
        out.stdout
    );

    // The eventsub transport without client_id_env is an error on the block.
    let mut creators: Value =
        serde_json::from_str(&t.read("runtime/config/creators.json")).unwrap();
    creators["creators"][0]["platforms"]["twitch"]
        .as_object_mut()
        .unwrap()
        .remove("client_id_env");
    t.write(
        "runtime/config/creators.json",
        &serde_json::to_string_pretty(&creators).unwrap(),
    );
    let out = t.run(&["validate-config"]);
    out.status(1);
    assert!(
        out.stdout.lines().any(|l| l.contains("creators.json")
            && l.contains("/creators/0/platforms/twitch/transport")
            && l.contains("client_id_env")),
        "{}",
        out.stdout
    );
}

/// The IRC transport's token, and the variable that holds it.
pub(crate) const IRC_TOKEN: &str = "oauth:irc-secret-token";
pub(crate) const IRC_TOKEN_ENV: &str = "TWITCH_OAUTH_TOKEN_DEMO";

/// The demo root with Twitch chat over IRC from `irc`, logged in with `ss auth twitch` so that
/// moderation goes through `cloud`'s Helix.
pub(crate) async fn irc_root_logged_in(
    irc: &crate::twitch_server::TwitchServer,
    cloud: &TwitchCloud,
) -> Test {
    let t = eventsub_root(cloud);
    let mut creators: Value =
        serde_json::from_str(&t.read("runtime/config/creators.json")).unwrap();
    creators["creators"][0]["platforms"]["twitch"] = json!({
        "enabled": true, "channel": "demo_channel", "nick": "demo_bot",
        "token_env": IRC_TOKEN_ENV, "client_id_env": CLIENT_ENV,
    });
    t.write(
        "runtime/config/creators.json",
        &serde_json::to_string_pretty(&creators).unwrap(),
    );
    let mut platforms: Value =
        serde_json::from_str(&t.read("runtime/config/platforms.json")).unwrap();
    let twitch = &mut platforms["platforms"]["twitch"];
    twitch["host"] = "127.0.0.1".into();
    twitch["port"] = irc.port().into();
    twitch["tls"] = false.into();
    t.write(
        "runtime/config/platforms.json",
        &serde_json::to_string_pretty(&platforms).unwrap(),
    );
    let (code, stdout, stderr) = auth(&t, &["twitch", "--creator", "demo"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    t
}

/// The IRC transport with a login stored by `ss auth twitch` moderates through Helix: a banned word
/// times its author out with the configured duration, while chat stays on IRC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_irc_transport_moderates_through_helix_with_a_stored_login() {
    use crate::twitch_server::{ServerOptions, TwitchServer};
    let irc = TwitchServer::start(ServerOptions::default()).await;
    let cloud = TwitchCloud::start(CLIENT_ID, ACCESS, REFRESH, SCOPES).await;
    let t = irc_root_logged_in(&irc, &cloud).await;
    add_triggers(&t, crate::run_kick::banned_word_triggers());
    t.run(&["validate-config"]).status(0);
    let running = spawn_run_with(&t, &[(IRC_TOKEN_ENV, IRC_TOKEN)]);
    irc.wait_for_joins(1).await;
    irc.send_to_joined(&crate::run_twitch::privmsg(
        "8f2c1a9e-0b7d-4c55-9e31-5d2f7a6b1c40",
        "spammer",
        "7777",
        "buy followers badword now",
    ))
    .await;
    wait_for("the timeout and the deletion through Helix", || {
        !cloud.calls_to("POST", "/moderation/bans").is_empty()
            && !cloud.calls_to("DELETE", "/moderation/chat").is_empty()
    })
    .await;
    wait_for("both commands counted as sent", || {
        snapshot(&t)["commands"]["sent"] == 2
    })
    .await;
    let (code, stderr) = stop(running).await;
    assert_eq!(code, 0, "{stderr}");
    let bans = cloud.calls_to("POST", "/moderation/bans");
    assert_eq!(bans.len(), 1, "{bans:#?}");
    assert_eq!(
        bans[0].body,
        json!({"data": {"user_id": "7777", "duration": 600, "reason": "banned word from spammer"}})
    );
    assert_eq!(bans[0].query["moderator_id"], BROADCASTER_ID);
    let deletes = cloud.calls_to("DELETE", "/moderation/chat");
    assert_eq!(
        deletes[0].query["message_id"],
        "8f2c1a9e-0b7d-4c55-9e31-5d2f7a6b1c40"
    );
    // Nothing went out as an IRC command for them.
    assert!(irc.received_commands("PRIVMSG").is_empty());
    assert_no_secret(&stderr, "the -vv log", &[IRC_TOKEN.to_owned()]);
}

#[test]
fn auth_help_teaches_the_login_and_the_listing() {
    let t = Test::new();
    let out = t.run(&["auth", "--help"]);
    out.status(0);
    insta::assert_snapshot!("auth_help", out.stdout);
    // Neither a platform nor status: a usage error that says what to give.
    let out = t.run(&["auth"]);
    out.status(2);
    assert!(
        out.stderr.contains("ss auth twitch --creator ID"),
        "{}",
        out.stderr
    );
    let out = t.run(&["auth", "twitch"]);
    out.status(2);
    assert!(
        out.stderr.contains("--creator is required"),
        "{}",
        out.stderr
    );
    let out = t.run(&["auth", "nowhere", "--creator", "demo"]);
    out.status(2);
    assert!(
        out.stderr.contains("unknown platform \"nowhere\""),
        "{}",
        out.stderr
    );
    // Nothing stored yet.
    let out = t.run(&["auth", "status"]);
    out.status(0);
    assert!(out.stdout.contains("no stored logins"), "{}", out.stdout);
}

/// Helix says its bucket is empty until a reset two seconds away: the next call waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helix_calls_wait_for_the_rate_limit_reset_when_the_bucket_is_empty() {
    let cloud = TwitchCloud::start(CLIENT_ID, ACCESS, REFRESH, SCOPES).await;
    let t = logged_in(&cloud).await;
    add_triggers(
        &t,
        json!([{"id": "greet", "kind": "keyword", "keywords": ["hiya"],
            "action": {"type": "reply", "template": "hello {user}"}}]),
    );
    let child = spawn_run(&t);
    cloud.wait_subscribed(&ALL_CREATED).await;
    cloud.exhaust_rate_limit(2);
    cloud.notify(
        "channel.chat.message",
        chat("ping-1", "viewer_one", "2001", "hiya", None),
    );
    wait_for("the first pong", || {
        cloud.calls_to("POST", "/chat/messages").len() == 1
    })
    .await;
    cloud.notify(
        "channel.chat.message",
        chat("ping-2", "viewer_two", "2003", "hiya", None),
    );
    wait_for("the second pong", || {
        cloud.calls_to("POST", "/chat/messages").len() == 2
    })
    .await;
    let (code, stderr) = stop(child).await;
    assert_eq!(code, 0, "{stderr}");
    let pongs = cloud.calls_to("POST", "/chat/messages");
    assert_eq!(pongs[1].body["reply_parent_message_id"], "ping-2");
    // The reset is in whole Unix seconds two seconds on: at least one second away.
    let waited = pongs[1].at - pongs[0].at;
    assert!(
        waited >= Duration::from_millis(900),
        "the second call came {waited:?} after the first"
    );
    assert!(pongs.iter().all(|p| p.status == 200));
}

/// A 403 from Helix is a missing scope: the command fails, and the scope is reported once however
/// many commands it fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_moderation_call_is_a_missing_scope_reported_once() {
    let cloud = TwitchCloud::start(CLIENT_ID, ACCESS, REFRESH, SCOPES).await;
    cloud.forbid("/moderation/bans");
    let t = logged_in(&cloud).await;
    add_triggers(
        &t,
        json!([{"id": "no-badword", "kind": "keyword", "keywords": ["badword"],
            "action": {"type": "timeout", "seconds": 600, "reason": "banned word"}}]),
    );
    let child = spawn_run(&t);
    cloud.wait_subscribed(&ALL_CREATED).await;
    cloud.notify(
        "channel.chat.message",
        chat("bad-1", "spammer", "7777", "badword", None),
    );
    cloud.notify(
        "channel.chat.message",
        chat("bad-2", "spammer2", "7778", "badword again", None),
    );
    wait_for("both timeouts failed", || {
        snapshot(&t)["commands"]["failed"] == 2
    })
    .await;
    let (code, stderr) = stop(child).await;
    assert_eq!(code, 0, "{stderr}");
    let bans = cloud.calls_to("POST", "/moderation/bans");
    assert_eq!(bans.len(), 2, "one call each, no retry of a 403: {bans:#?}");
    let said = stderr
        .lines()
        .filter(|l| l.contains("the token needs the scope moderator:manage:banned_users"))
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .count();
    assert_eq!(said, 1, "{stderr}");
    assert_eq!(snapshot(&t)["commands"]["sent"], 0);
}
