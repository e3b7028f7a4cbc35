//! The control API and the control page against a running `ss run` reading Kick from the loopback
//! Pusher server and moderating through the loopback Kick API ([`crate::kick_server`]), and against
//! one reading Twitch over IRC and moderating through the loopback Helix
//! ([`crate::eventsub_server`]).
//!
//! With the API's tokens: a viewer reads but gets 403 on a send; a moderator times a user out on
//! Kick and on Twitch; an owner persists a trigger toggle to triggers.json, which still validates; a missing or
//! wrong token gets 401 and a bad body 400 with the pointer; each change is one row of
//! `admin/audit.json`; no token reaches the `-vv` log, the exports or the audit log. In headless
//! Chromium, `/control` with a moderator token shows the live chat, its Delete button deletes the
//! message on Kick, the owner-only buttons are absent, and hostile chat stays inert.

use crate::chromium::{Browser, Listener};
use crate::harness::{Test, until_found, until_within};
use crate::http::{free_port, with_http};
use crate::kick_server::{KickApi, PusherServer};
use crate::obs_server::{ObsOptions, ObsServer};
use crate::pages::hostile_texts;
use crate::run_kick::{
    ACCESS, CHAT_EVENT, CHATROOM, CHATROOM_CHANNEL, CLIENT_ID, CLIENT_SECRET, REFRESH,
    assert_exports_hold_no_secret, assert_no_secret, chat_message, kick_block, kick_root, stop,
};
use serde_json::{Value, json};
use std::time::Duration;

const OWNER: &str = "owner-token-4a7c1e90d2b3";
const MODERATOR: &str = "moderator-token-8e2f5b61c0a9";
const VIEWER: &str = "viewer-token-3d9a0c7f41e2";
const OBS_PASSWORD: &str = "obs-test-password-7f3a";

/// The Kick root with the HTTP server on `port`, the three tokens and the demo creator's OBS.
fn control_root(pusher: &PusherServer, api: &KickApi, obs: &ObsServer, port: u16) -> Test {
    let t = kick_root(pusher, api, kick_block());
    t.write(
        "runtime/config/obs.json",
        &serde_json::to_string_pretty(&json!({
            "obs": {"demo": {"url": obs.url(), "password_env": "OBS_PASSWORD_DEMO"}}
        }))
        .unwrap(),
    );
    with_api(&t, port);
    t
}

/// The HTTP server on `port` and the three tokens in `system.json`.
fn with_api(t: &Test, port: u16) {
    with_http(
        t,
        &format!("{{\"enabled\": true, \"listen\": \"127.0.0.1:{port}\"}}"),
    );
    let mut system: Value = serde_json::from_str(&t.read("runtime/config/system.json")).unwrap();
    system["tokens"] = json!([
        {"name": "ann", "role": "owner", "token_env": "SS_TOKEN_ANN"},
        {"name": "mods", "role": "moderator", "token_env": "SS_TOKEN_MODS"},
        {"name": "wall", "role": "viewer", "token_env": "SS_TOKEN_WALL"},
    ]);
    t.write(
        "runtime/config/system.json",
        &serde_json::to_string_pretty(&system).unwrap(),
    );
}

/// The variables that hold the three tokens.
const TOKEN_ENV: [(&str, &str); 3] = [
    ("SS_TOKEN_ANN", OWNER),
    ("SS_TOKEN_MODS", MODERATOR),
    ("SS_TOKEN_WALL", VIEWER),
];

fn spawn(t: &Test) -> std::process::Child {
    let mut cmd = t.std_cmd();
    cmd.args(["-vv", "run"])
        .env("KICK_OAUTH_TOKEN_DEMO", ACCESS)
        .env("KICK_REFRESH_TOKEN_DEMO", REFRESH)
        .env("KICK_CLIENT_ID_DEMO", CLIENT_ID)
        .env("KICK_CLIENT_SECRET_DEMO", CLIENT_SECRET)
        .envs(TOKEN_ENV)
        .env("OBS_PASSWORD_DEMO", OBS_PASSWORD)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    cmd.spawn().unwrap()
}

/// One API call: status and JSON body.
async fn api_call(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let client = ss::http_out::builder().unwrap().build().unwrap();
    let url = format!("http://127.0.0.1:{port}{path}");
    let mut request = if method == "POST" {
        client.post(&url)
    } else {
        client.get(&url)
    };
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn wait_for_api(port: u16) {
    let client = ss::http_out::builder().unwrap().build().unwrap();
    let url = format!("http://127.0.0.1:{port}/api/v1/openapi.json");
    until_found("the control API to answer", Duration::from_secs(20), || {
        let request = client.get(&url).send();
        async move {
            request
                .await
                .is_ok_and(|r| r.status().is_success())
                .then_some(())
        }
    })
    .await;
}

/// The control API rows of `admin/audit.json`, newest first.
fn audit_rows(t: &Test) -> Vec<Value> {
    std::fs::read_to_string(t.path().join("runtime/admin/audit.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .map(|a| {
            a["entries"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["action"] == "control_api")
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_roles_time_out_on_kick_persist_a_toggle_and_audit_each_change() {
    let pusher = PusherServer::start(120).await;
    let api = KickApi::start(ACCESS, REFRESH, CLIENT_ID, CLIENT_SECRET, CHATROOM).await;
    let obs = ObsServer::start(ObsOptions::default()).await;
    let port = free_port();
    let t = control_root(&pusher, &api, &obs, port);
    t.run(&["validate-config"]).status(0);
    let child = spawn(&t);
    pusher.wait_for_subscriptions(CHATROOM_CHANNEL, 1).await;
    wait_for_api(port).await;
    pusher.send_event(
        CHATROOM_CHANNEL,
        CHAT_EVENT,
        &chat_message("m-1", "Spammer", 777, "buy followers now"),
    );

    // A missing or wrong token: 401, never audited.
    assert_eq!(
        api_call(port, "GET", "/api/v1/status", None, None).await.0,
        401
    );
    let (status, body) = api_call(
        port,
        "GET",
        "/api/v1/status",
        Some("moderator-token-8e2f5b61c0aX"),
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    // A viewer reads, and may not send.
    let (status, triggers) = api_call(port, "GET", "/api/v1/triggers", Some(VIEWER), None).await;
    assert_eq!(status, 200);
    assert!(
        triggers["triggers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == "ping")
    );
    let say = json!({"creator": "demo", "platform": "kick", "text": "hello"});
    let (status, body) = api_call(port, "POST", "/api/v1/chat/say", Some(VIEWER), Some(say)).await;
    assert_eq!(status, 403, "{body}");
    assert!(api.chat().is_empty(), "nothing was posted");
    // A bad body: 400 with the pointer.
    let (status, body) = api_call(
        port,
        "POST",
        "/api/v1/moderation/timeout",
        Some(MODERATOR),
        Some(json!({"creator": "demo", "platform": "kick", "user_id": "777", "login": "spammer", "seconds": -5})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["pointer"], "/seconds", "{body}");
    // A moderator times the spammer out on Kick.
    let (status, body) = api_call(
        port,
        "POST",
        "/api/v1/moderation/timeout",
        Some(MODERATOR),
        Some(
            json!({"creator": "demo", "platform": "kick", "user_id": "777", "login": "spammer",
                    "seconds": 600, "reason": "spam"}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "queued");
    api.wait_for_moderation(1).await;
    let ban = &api.moderation()[0];
    assert_eq!(ban.method, "POST");
    assert_eq!(ban.path, "/public/v1/moderation/bans");
    assert_eq!(
        ban.body,
        json!({"broadcaster_user_id": 4242, "user_id": 777, "duration": 10, "reason": "spam"})
    );
    // A moderator runs the ping trigger by its id: the bot answers in Kick's chat, said, not
    // threaded (the platform never saw the operator's command).
    let (status, body) = api_call(
        port,
        "POST",
        "/api/v1/triggers/demo/ping/run",
        Some(MODERATOR),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    crate::kick_server::wait_for("the bot's answer on Kick", || {
        api.chat().iter().any(|p| p.status == 200)
    })
    .await;
    let sent = api.chat().into_iter().find(|p| p.status == 200).unwrap();
    let post = &sent.body;
    assert_eq!(post["content"], "pong", "{post}");
    assert!(
        post.get("reply_to_message_id").is_none_or(Value::is_null),
        "{post}"
    );

    // An owner persists a trigger toggle; the file still validates.
    let (status, body) = api_call(
        port,
        "POST",
        "/api/v1/triggers/demo/ping/enabled",
        Some(OWNER),
        Some(json!({"enabled": false, "persist": true})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let saved: Value = serde_json::from_str(&t.read("runtime/config/triggers.json")).unwrap();
    let ping = saved["triggers"]["demo"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "ping")
        .unwrap();
    assert_eq!(ping["enabled"], false);
    t.run(&["validate-config"]).status(0);
    let (_, triggers) = api_call(port, "GET", "/api/v1/triggers", Some(VIEWER), None).await;
    let ping = triggers["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "ping")
        .unwrap()
        .clone();
    assert_eq!(ping["enabled"], false, "the running config has it too");

    // OBS: a moderator switches the scene (answered once OBS did); starting the stream is the owner's.
    obs.wait_for("an Identify", |s| !s.identifies.is_empty())
        .await;
    let (status, scenes) =
        api_call(port, "GET", "/api/v1/obs/demo/scenes", Some(VIEWER), None).await;
    assert_eq!(status, 200, "{scenes}");
    assert_eq!(
        scenes["scenes"],
        json!(["Just Chatting", "gameplay", "Starting"])
    );
    let (status, body) = api_call(
        port,
        "POST",
        "/api/v1/obs/demo/request",
        Some(MODERATOR),
        Some(json!({"request": "switch_scene", "scene": "Just Chatting"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "done");
    assert_eq!(obs.state().program, "Just Chatting");
    let start = json!({"request": "stream", "op": "start"});
    let (status, _) = api_call(
        port,
        "POST",
        "/api/v1/obs/demo/request",
        Some(MODERATOR),
        Some(start.clone()),
    )
    .await;
    assert_eq!(status, 403);
    assert!(!obs.state().streaming);
    let (status, body) = api_call(
        port,
        "POST",
        "/api/v1/obs/demo/request",
        Some(OWNER),
        Some(start),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(obs.state().streaming);

    // Each change asked by a known token is one row, newest first: the viewer's refused send, the
    // timeout, the trigger run, the toggle, the scene switch, the moderator's refused stream
    // start, the owner's.
    until_within(
        Duration::from_secs(20),
        "seven control rows in admin/audit.json",
        || audit_rows(&t).len() == 7,
    )
    .await;
    let rows = audit_rows(&t);
    let seen: Vec<(&str, &str, &str, bool)> = rows
        .iter()
        .rev()
        .map(|r| {
            (
                r["actor"].as_str().unwrap(),
                r["role"].as_str().unwrap(),
                r["route"].as_str().unwrap(),
                r["result"].as_str().unwrap().starts_with("ok"),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("wall", "viewer", "POST /api/v1/chat/say", false),
            ("mods", "moderator", "POST /api/v1/moderation/timeout", true),
            (
                "mods",
                "moderator",
                "POST /api/v1/triggers/{creator}/{trigger}/run",
                true
            ),
            (
                "ann",
                "owner",
                "POST /api/v1/triggers/{creator}/{trigger}/enabled",
                true
            ),
            (
                "mods",
                "moderator",
                "POST /api/v1/obs/{creator}/request",
                true
            ),
            (
                "mods",
                "moderator",
                "POST /api/v1/obs/{creator}/request",
                false
            ),
            ("ann", "owner", "POST /api/v1/obs/{creator}/request", true),
        ]
    );
    assert!(
        rows[6]["result"]
            .as_str()
            .unwrap()
            .starts_with("error forbidden"),
        "{}",
        rows[6]
    );
    assert_eq!(rows[5]["arguments"]["user_id"], "777");
    assert_eq!(rows[4]["arguments"]["trigger"], "ping");
    assert_eq!(rows[3]["arguments"]["persist"], true);
    assert_eq!(rows[2]["arguments"]["scene"], "Just Chatting");
    assert_eq!(rows[0]["arguments"]["op"], "start");

    let (code, stderr) = stop(child).await;
    assert_eq!(code, 0, "{stderr}");
    let tokens = [OWNER, MODERATOR, VIEWER, OBS_PASSWORD].map(str::to_owned);
    assert_no_secret(&stderr, "the -vv log", &tokens);
    assert_exports_hold_no_secret(&t, &tokens);
}

/// A moderator token times a user out on Twitch: chat over the loopback IRC server, moderation
/// through the loopback Helix with the login `ss auth twitch` stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderator_token_times_out_on_twitch_through_helix() {
    use crate::eventsub_server::{BROADCASTER_ID, TwitchCloud};
    use crate::run_eventsub as tw;
    use crate::twitch_server::{ServerOptions, TwitchServer};
    let irc = TwitchServer::start(ServerOptions::default()).await;
    let cloud = TwitchCloud::start(tw::CLIENT_ID, tw::ACCESS, tw::REFRESH, tw::SCOPES).await;
    let t = tw::irc_root_logged_in(&irc, &cloud).await;
    let port = free_port();
    with_api(&t, port);
    t.run(&["validate-config"]).status(0);
    let mut env = TOKEN_ENV.to_vec();
    env.push((tw::IRC_TOKEN_ENV, tw::IRC_TOKEN));
    let running = tw::spawn_run_with(&t, &env);
    irc.wait_for_joins(1).await;
    wait_for_api(port).await;

    let (status, body) = api_call(
        port,
        "POST",
        "/api/v1/moderation/timeout",
        Some(MODERATOR),
        Some(
            json!({"creator": "demo", "platform": "twitch", "user_id": "7777", "login": "spammer",
                    "seconds": 600, "reason": "spam"}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "queued", "{body}");
    crate::eventsub_server::wait_for("the ban on Helix", || {
        !cloud.calls_to("POST", "/moderation/bans").is_empty()
    })
    .await;
    until_within(
        Duration::from_secs(20),
        "the timeout's row in admin/audit.json",
        || !audit_rows(&t).is_empty(),
    )
    .await;

    let (code, stderr) = tw::stop(running).await;
    assert_eq!(code, 0, "{stderr}");
    let bans = cloud.calls_to("POST", "/moderation/bans");
    assert_eq!(bans.len(), 1, "{bans:#?}");
    assert_eq!(bans[0].status, 200, "{bans:#?}");
    assert_eq!(
        bans[0].body,
        json!({"data": {"user_id": "7777", "duration": 600, "reason": "spam"}})
    );
    assert_eq!(bans[0].query["broadcaster_id"], BROADCASTER_ID);
    assert_eq!(bans[0].query["moderator_id"], BROADCASTER_ID);
    let rows = audit_rows(&t);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(
        (&rows[0]["actor"], &rows[0]["role"], &rows[0]["route"]),
        (
            &json!("mods"),
            &json!("moderator"),
            &json!("POST /api/v1/moderation/timeout")
        )
    );
    assert!(
        rows[0]["result"].as_str().unwrap().starts_with("ok"),
        "{}",
        rows[0]
    );
    assert_eq!(rows[0]["arguments"]["user_id"], "7777");
    let tokens = [OWNER, MODERATOR, VIEWER, tw::IRC_TOKEN].map(str::to_owned);
    tw::assert_no_secret(&rows[0].to_string(), "the audit row", &tokens);
    tw::assert_no_secret(&stderr, "the -vv log", &tokens);
}

/// The page's chat lines: text, and the buttons each has.
const LINES: &str = "Array.from(document.querySelectorAll('#chat li.msg')).map(l => ({
  id: l.dataset.id, text: l.querySelector('.msg-text').textContent, gone: l.classList.contains('gone'),
  buttons: Array.from(l.querySelectorAll('button')).map(b => b.textContent)}))";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_page_shows_live_chat_and_deletes_a_message_with_a_moderator_token() {
    let pusher = PusherServer::start(120).await;
    let api = KickApi::start(ACCESS, REFRESH, CLIENT_ID, CLIENT_SECRET, CHATROOM).await;
    let obs = ObsServer::start(ObsOptions::default()).await;
    let port = free_port();
    let t = control_root(&pusher, &api, &obs, port);
    let child = spawn(&t);
    pusher.wait_for_subscriptions(CHATROOM_CHANNEL, 1).await;
    wait_for_api(port).await;

    let trap = Listener::start();
    let mut browser = Browser::launch();
    browser.goto(&format!("http://127.0.0.1:{port}/control"));
    browser.wait_until(
        "!document.getElementById('login').hidden",
        "the page asks for a token",
    );
    browser.eval(&format!(
        "document.getElementById('token').value = '{MODERATOR}'; document.getElementById('login').requestSubmit(); true"
    ));
    browser.wait_until(
        "document.getElementById('live').textContent === 'live'",
        "the page reads /events",
    );
    assert_eq!(
        browser.eval("document.getElementById('who').textContent"),
        "mods (moderator)"
    );

    pusher.send_event(
        CHATROOM_CHANNEL,
        CHAT_EVENT,
        &chat_message("c-1", "ViewerOne", 11, "hello mods"),
    );
    pusher.send_event(
        CHATROOM_CHANNEL,
        CHAT_EVENT,
        &chat_message("c-2", "Spammer", 777, "this gets deleted"),
    );
    let hostile = hostile_texts(trap.port);
    for (i, text) in hostile.iter().enumerate() {
        pusher.send_event(
            CHATROOM_CHANNEL,
            CHAT_EVENT,
            &chat_message(&format!("h-{i}"), "Mallory", 666, text),
        );
    }
    browser.wait_until(
        &format!(
            "document.querySelectorAll('#chat li.msg').length >= {}",
            2 + hostile.len()
        ),
        "the live chat on the page",
    );
    let lines = browser.eval(LINES);
    let lines = lines.as_array().unwrap();
    let texts: Vec<&str> = lines.iter().map(|l| l["text"].as_str().unwrap()).collect();
    let mut expected = vec!["hello mods", "this gets deleted"];
    expected.extend(hostile.iter().map(String::as_str));
    assert_eq!(texts, expected, "chat is shown as text, in order");
    assert_eq!(lines[0]["buttons"], json!(["Delete", "Time out", "Ban"]));
    // Hostile chat stays inert: nothing ran, nothing was fetched, no markup was made of it.
    assert_eq!(browser.eval("typeof window.canary"), "undefined");
    assert_eq!(
        browser.eval(
            "document.querySelectorAll('#chat a, #chat svg, #chat img, #chat script').length"
        ),
        0
    );
    // The owner-only buttons are absent for a moderator.
    browser.wait_until(
        "document.querySelectorAll('#triggers li').length > 0",
        "the triggers",
    );
    let buttons =
        browser.eval("Array.from(document.querySelectorAll('button')).map(b => b.textContent)");
    let buttons: Vec<&str> = buttons
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    assert!(buttons.contains(&"On"), "{buttons:?}");
    for owner_only in [
        "Disable and save",
        "Enable and save",
        "Start stream",
        "Stop stream",
    ] {
        assert!(
            !buttons.contains(&owner_only),
            "{owner_only} shown to a moderator: {buttons:?}"
        );
    }
    assert_eq!(
        browser.eval("document.querySelectorAll('[data-min-role=owner]').length"),
        0
    );
    // The token is in session storage, never in the URL.
    let href = browser.eval("location.href");
    assert!(!href.as_str().unwrap().contains(MODERATOR), "{href}");
    assert_eq!(
        browser.eval("sessionStorage.getItem('ss-control-token')"),
        MODERATOR
    );

    // Delete the spammer's message: Kick's API gets the DELETE, the page marks it.
    browser.eval(
        "Array.from(document.querySelectorAll('#chat li.msg')).find(l => l.dataset.id === 'c-2')
           .querySelector('button').click(); true",
    );
    api.wait_for_moderation(1).await;
    let delete = &api.moderation()[0];
    assert_eq!(
        (delete.method.as_str(), delete.path.as_str()),
        ("DELETE", "/public/v1/chat/c-2")
    );
    browser.wait_until(
        "document.querySelector('#chat li.msg[data-id=\"c-2\"]').classList.contains('gone')",
        "the deleted message is marked",
    );
    browser.wait_until("document.querySelectorAll('#audit li').length > 0 && document.getElementById('audit').textContent.includes('moderation/delete')", "the audit log on the page");
    // OBS's scenes, as buttons; one click switches the program scene.
    browser.wait_until(
        "Array.from(document.querySelectorAll('#obs button')).some(b => b.textContent === 'Just Chatting')",
        "OBS's scenes on the page",
    );
    browser.eval(
        "Array.from(document.querySelectorAll('#obs button')).find(b => b.textContent === 'Just Chatting').click(); true",
    );
    obs.wait_for("the scene the page switched to", |s| {
        s.program == "Just Chatting"
    })
    .await;
    browser.wait_until(
        "document.getElementById('obs').textContent.includes('connected · Just Chatting')",
        "the new scene on the page",
    );

    for (width, height) in [(390, 844), (1280, 800)] {
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500}),
        );
        let width_now = browser.eval("document.documentElement.clientWidth");
        assert_eq!(width_now, width);
        assert!(
            browser.eval(
                "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
            ) == Value::Bool(true),
            "nothing wider than the screen at {width}"
        );
        crate::chromium::screenshot_matches(
            &format!("control-{width}x{height}"),
            &browser.screenshot(),
            (width, height),
        );
    }
    assert_eq!(trap.connections(), 0, "requests: {:?}", trap.requests());
    let (code, stderr) = stop(child).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains(MODERATOR), "the token in the -vv log");
}
