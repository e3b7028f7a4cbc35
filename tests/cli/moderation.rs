//! Moderation end to end: `ss run` with moderation.json's filters against the loopback Twitch
//! (EventSub and Helix), Kick (Pusher and the Public API) and YouTube (Data API) servers.
//!
//! One chat on each platform: a viewer's dodged link (`spam-site(dot)com`) is deleted; a
//! moderator's `!permit` lets another viewer's link pass; a caps flood times its author out for the
//! filter's 120 s; the first viewer's third link reaches the third step of the strike ladder (a
//! 600 s timeout); a moderator's caps and link are exempt. Each platform gets exactly the requests
//! in its own protocol, each once, and the audit (the store, `admin/moderation.json`) records every
//! decision with what the platform answered. On Kick, a restart keeps the strikes (the fourth link
//! is a ban), and `"mode": "log"` records the same decisions and sends nothing.

use crate::harness::Test;
use crate::kick_server::{KickApi, PusherServer, wait_for};
use serde_json::{Value, json};

/// The filters of these tests: links (with `!permit`) and caps, the ladder delete, delete, 600 s
/// timeout, ban.
pub(crate) fn moderation_json(mode: &str) -> Value {
    json!({"moderation": {"demo": {
        "mode": mode,
        "exempt": ["moderator"],
        "permit": {"command": "!permit", "seconds": 120, "role": "moderator"},
        "strikes": {"ladder": ["delete", "delete", {"timeout": 600}, "ban"], "decay_s": 3600},
        "filters": [
            {"id": "links", "type": "links", "allow": ["example.org"], "action": "delete"},
            {"id": "caps", "type": "caps", "min_length": 10, "max_ratio": 0.7, "action": {"timeout": 120}}
        ]
    }}})
}

fn write_moderation(t: &Test, mode: &str) {
    t.write(
        "runtime/config/moderation.json",
        &serde_json::to_string_pretty(&moderation_json(mode)).unwrap(),
    );
}

/// One chat message of the scenario: who (a moderator or not) says what.
struct Line {
    user: &'static str,
    moderator: bool,
    text: &'static str,
}

/// The scenario, in order. Decisions: 0 link (strike 1: delete), 3 caps (timeout 120 s),
/// 5 link (strike 2: delete), 6 link (strike 3: timeout 600 s); 1 is a permit, 2 a permitted
/// link, 4 a moderator (exempt).
const SCENARIO: [Line; 7] = [
    Line {
        user: "viewera",
        moderator: false,
        text: "cheap stuff at spam-site(dot)com today",
    },
    Line {
        user: "modmia",
        moderator: true,
        text: "!permit viewerb",
    },
    Line {
        user: "viewerb",
        moderator: false,
        text: "my clip https://spam-site.com/clip/1",
    },
    Line {
        user: "viewerc",
        moderator: false,
        text: "THIS IS A CAPS FLOOD MESSAGE",
    },
    Line {
        user: "modmia",
        moderator: true,
        text: "RULES ARE AT https://spam-site.com/rules",
    },
    Line {
        user: "viewera",
        moderator: false,
        text: "again spam-site . com",
    },
    Line {
        user: "viewera",
        moderator: false,
        text: "and again www.spam-site.com",
    },
];

/// What a platform was asked to do, in common terms: (what, message or user, seconds).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Asked {
    Delete(String),
    Timeout(String, u64),
    Ban(String),
}

/// The requests the scenario must cause, given the message ids and the users' ids.
fn expected(ids: &[String], user: impl Fn(&str) -> String) -> Vec<Asked> {
    let mut asked = vec![
        Asked::Delete(ids[0].clone()),
        Asked::Delete(ids[3].clone()),
        Asked::Timeout(user("viewerc"), 120),
        Asked::Delete(ids[5].clone()),
        Asked::Delete(ids[6].clone()),
        Asked::Timeout(user("viewera"), 600),
    ];
    asked.sort();
    asked
}

/// The decisions the store holds: (message id, filter, decision, strike, dry run, outcome states).
fn decisions(t: &Test) -> Vec<(String, String, String, u32, bool, Vec<String>)> {
    let Ok(store) = ss::store::StoreReader::open(&ss::store::db_path(t.path())) else {
        return Vec::new();
    };
    let mut rows: Vec<_> = store
        .recent_decisions(100)
        .unwrap_or_default()
        .into_iter()
        .map(|d| {
            (
                d.message_id,
                d.filter,
                d.decision,
                d.strike,
                d.dry_run,
                d.outcomes.into_iter().map(|o| o.state).collect(),
            )
        })
        .collect();
    rows.reverse();
    rows
}

/// Checks the audit against the scenario: four decisions, every command sent.
fn assert_audit(t: &Test, ids: &[String], dry_run: bool) {
    let rows = decisions(t);
    let got: Vec<(&str, &str, &str, u32, bool)> = rows
        .iter()
        .map(|r| (r.0.as_str(), r.1.as_str(), r.2.as_str(), r.3, r.4))
        .collect();
    assert_eq!(
        got,
        [
            (ids[0].as_str(), "links", "delete", 1, dry_run),
            (ids[3].as_str(), "caps", "timeout", 1, dry_run),
            (ids[5].as_str(), "links", "delete", 2, dry_run),
            (ids[6].as_str(), "links", "timeout", 3, dry_run),
        ]
    );
    let states: Vec<Vec<String>> = rows.iter().map(|r| r.5.clone()).collect();
    if dry_run {
        assert!(states.iter().all(Vec::is_empty), "{states:?}");
    } else {
        let sent = |n: usize| vec!["sent".to_owned(); n];
        assert_eq!(states, [sent(1), sent(2), sent(1), sent(2)]);
    }
}

fn read_json(t: &Test, rel: &str) -> Value {
    std::fs::read_to_string(t.path().join(rel))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

/// `admin/moderation.json` after the run: the counts and the offenders of the scenario (the
/// platform's login of viewer A: YouTube's is the channel id).
fn assert_admin_export(t: &Test, dry_run: bool, offender: &str) {
    let export = read_json(t, "runtime/admin/moderation.json");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            crate::harness::repo().join("schemas/exports/moderation.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let errors: Vec<String> = jsonschema::validator_for(&schema)
        .unwrap()
        .iter_errors(&export)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "admin/moderation.json: {errors:#?}");
    let (real, dry) = if dry_run { (0, 4) } else { (4, 0) };
    assert_eq!(export["decisions"], real, "{export:#}");
    assert_eq!(export["dry_run_decisions"], dry, "{export:#}");
    if !dry_run {
        assert_eq!(
            export["by_decision"],
            json!({"warn": 0, "delete": 2, "timeout": 2, "ban": 0})
        );
        assert_eq!(export["commands"], json!({"sent": 6}));
        assert_eq!(export["top_offenders"][0]["user_login"], offender);
        assert_eq!(export["top_offenders"][0]["strikes"], 3);
        assert!(
            export["recent"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["state"] == "sent"),
            "{export:#}"
        );
    }
    let filters: Vec<(String, u64, u64)> = export["by_filter"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["filter"].as_str().unwrap().to_owned(),
                f["decisions"].as_u64().unwrap(),
                f["dry_run_decisions"].as_u64().unwrap(),
            )
        })
        .collect();
    let (caps, links) = if dry_run {
        ((0, 1), (0, 3))
    } else {
        ((1, 0), (3, 0))
    };
    assert_eq!(
        filters,
        [
            ("caps".to_owned(), caps.0, caps.1),
            ("links".to_owned(), links.0, links.1)
        ]
    );
    // Never published: no public export names it.
    for public in crate::harness::files_under(&t.path().join("runtime/exports")) {
        let text = std::fs::read_to_string(&public).unwrap_or_default();
        assert!(
            !text.contains("spam-site"),
            "{} holds moderated text",
            public.display()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Kick

mod kick {
    use super::*;
    use crate::run_kick::{
        ACCESS, CHAT_EVENT, CHATROOM, CHATROOM_CHANNEL, CLIENT_ID, CLIENT_SECRET, REFRESH,
        kick_block, kick_root, spawn_run, stop,
    };

    fn user_id(user: &str) -> u64 {
        match user {
            "viewera" => 101,
            "viewerb" => 102,
            "viewerc" => 103,
            "modmia" => 900,
            other => panic!("no user {other}"),
        }
    }

    fn message(id: &str, line: &Line) -> Value {
        let badges = if line.moderator {
            json!([{"type": "moderator", "text": "Moderator"}])
        } else {
            json!([])
        };
        json!({
            "id": id, "chatroom_id": CHATROOM, "content": line.text, "type": "message",
            "created_at": chrono::Utc::now().to_rfc3339(),
            "sender": {"id": user_id(line.user), "username": line.user, "slug": line.user,
              "identity": {"color": "#FF9D00", "badges": badges}},
            "metadata": {"message_ref": "1752741896375"},
        })
    }

    /// What Kick was asked, in common terms.
    fn asked(api: &KickApi) -> Vec<Asked> {
        let mut asked: Vec<Asked> = api
            .moderation()
            .into_iter()
            .map(|c| match (c.method.as_str(), &c.body["duration"]) {
                ("DELETE", _) => Asked::Delete(
                    c.path
                        .strip_prefix("/public/v1/chat/")
                        .unwrap_or(&c.path)
                        .to_owned(),
                ),
                // Kick counts minutes.
                ("POST", Value::Number(minutes)) => Asked::Timeout(
                    c.body["user_id"].to_string(),
                    minutes.as_u64().unwrap() * 60,
                ),
                ("POST", _) => Asked::Ban(c.body["user_id"].to_string()),
                _ => panic!("unexpected call {c:?}"),
            })
            .collect();
        asked.sort();
        asked
    }

    async fn setup() -> (PusherServer, KickApi, Test) {
        let pusher = PusherServer::start(120).await;
        let api = KickApi::start(ACCESS, REFRESH, CLIENT_ID, CLIENT_SECRET, CHATROOM).await;
        let t = kick_root(&pusher, &api, kick_block());
        (pusher, api, t)
    }

    fn send_scenario(pusher: &PusherServer) -> Vec<String> {
        SCENARIO
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let id = format!("0b7d4c55-0000-4000-8000-00000000000{i}");
                pusher.send_event(CHATROOM_CHANNEL, CHAT_EVENT, &message(&id, line));
                id
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn filters_delete_time_out_and_escalate_once_each_and_a_restart_keeps_the_strikes() {
        let (pusher, api, t) = setup().await;
        write_moderation(&t, "enforce");
        t.run(&["validate-config"]).status(0);
        let child = spawn_run(&t, &[]);
        pusher.wait_for_subscriptions(CHATROOM_CHANNEL, 1).await;
        let ids = send_scenario(&pusher);
        let want = expected(&ids, |u| user_id(u).to_string());
        wait_for("the six moderation requests", || asked(&api).len() >= 6).await;
        wait_for("the permit's reply", || {
            api.chat()
                .iter()
                .any(|p| p.body["content"] == "viewerb may post links for 120 s.")
        })
        .await;
        wait_for("every receipt in the audit", || {
            decisions(&t).iter().map(|d| d.5.len()).sum::<usize>() == 6
        })
        .await;
        let (code, stderr) = stop(child).await;
        assert_eq!(code, 0, "{stderr}");
        // Once each, and nothing else.
        assert_eq!(asked(&api), want);
        assert!(
            api.moderation()
                .iter()
                .all(|c| c.status == 200 || c.status == 204),
            "{:?}",
            api.moderation()
        );
        assert_eq!(
            api.chat().len(),
            1,
            "only the permit's reply: {:?}",
            api.chat()
        );
        assert_audit(&t, &ids, false);
        assert_admin_export(&t, false, "viewera");

        // A restart does not forgive: viewer A's fourth link is the ladder's fourth step, a ban.
        let child = spawn_run(&t, &[]);
        pusher.wait_for_subscriptions(CHATROOM_CHANNEL, 2).await;
        let fourth = "0b7d4c55-0000-4000-8000-0000000000a4";
        pusher.send_event(
            CHATROOM_CHANNEL,
            CHAT_EVENT,
            &message(
                fourth,
                &Line {
                    user: "viewera",
                    moderator: false,
                    text: "last try spam-site.com",
                },
            ),
        );
        wait_for("the ban", || asked(&api).len() >= 8).await;
        let (code, stderr) = stop(child).await;
        assert_eq!(code, 0, "{stderr}");
        let after: Vec<Asked> = asked(&api)
            .into_iter()
            .filter(|a| !want.contains(a))
            .collect();
        assert_eq!(
            after,
            [Asked::Delete(fourth.into()), Asked::Ban("101".into())]
        );
        let ban = api
            .moderation()
            .into_iter()
            .find(|c| c.method == "POST" && c.body.get("duration").is_none())
            .unwrap();
        assert_eq!(
            ban.body,
            json!({"broadcaster_user_id": 4242, "user_id": 101, "reason": "links: link to spam-site.com"})
        );
        let last = decisions(&t).pop().unwrap();
        assert_eq!((last.2.as_str(), last.3), ("ban", 4));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn log_mode_sends_nothing_and_records_what_it_would_have_done() {
        let (pusher, api, t) = setup().await;
        write_moderation(&t, "log");
        t.run(&["validate-config"]).status(0);
        let child = spawn_run(&t, &[]);
        pusher.wait_for_subscriptions(CHATROOM_CHANNEL, 1).await;
        let ids = send_scenario(&pusher);
        // A command after the scenario's, on the same queue: once it is answered, any request
        // the scenario caused would have been made.
        pusher.send_event(
            CHATROOM_CHANNEL,
            CHAT_EVENT,
            &message(
                "0b7d4c55-0000-4000-8000-0000000000f0",
                &Line {
                    user: "viewerb",
                    moderator: false,
                    text: "!ping",
                },
            ),
        );
        wait_for("the reply to !ping", || {
            api.chat().iter().any(|p| p.body["content"] == "pong")
        })
        .await;
        wait_for("the four decisions", || decisions(&t).len() == 4).await;
        let (code, stderr) = stop(child).await;
        assert_eq!(code, 0, "{stderr}");
        assert!(api.moderation().is_empty(), "{:?}", api.moderation());
        assert_audit(&t, &ids, true);
        assert_admin_export(&t, true, "viewera");
    }
}

// ---------------------------------------------------------------------------------------------
// Twitch (EventSub in, Helix out)

mod twitch {
    use super::*;
    use crate::eventsub_server::{BROADCASTER_ID, TwitchCloud};
    use crate::run_eventsub::{
        ACCESS, ALL_CREATED, CLIENT_ID, REFRESH, SCOPES, chat, logged_in, spawn_run, stop,
    };

    fn user_id(user: &str) -> String {
        match user {
            "viewera" => "201",
            "viewerb" => "202",
            "viewerc" => "203",
            "modmia" => "990",
            other => panic!("no user {other}"),
        }
        .to_owned()
    }

    fn asked(cloud: &TwitchCloud) -> Vec<Asked> {
        let mut asked: Vec<Asked> = cloud
            .calls_to("DELETE", "/moderation/chat")
            .into_iter()
            .map(|c| Asked::Delete(c.query["message_id"].clone()))
            .chain(
                cloud
                    .calls_to("POST", "/moderation/bans")
                    .into_iter()
                    .map(|c| {
                        let data = &c.body["data"];
                        let user = data["user_id"].as_str().unwrap().to_owned();
                        match data["duration"].as_u64() {
                            Some(seconds) => Asked::Timeout(user, seconds),
                            None => Asked::Ban(user),
                        }
                    }),
            )
            .collect();
        asked.sort();
        asked
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn filters_delete_time_out_and_escalate_through_helix_once_each() {
        let cloud = TwitchCloud::start(CLIENT_ID, ACCESS, REFRESH, SCOPES).await;
        let t = logged_in(&cloud).await;
        write_moderation(&t, "enforce");
        t.run(&["validate-config"]).status(0);
        let running = spawn_run(&t);
        cloud.wait_subscribed(&ALL_CREATED).await;
        let ids: Vec<String> = SCENARIO
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let id = format!("tw-msg-{i}");
                let mut event = chat(&id, line.user, &user_id(line.user), line.text, None);
                event["badges"] = if line.moderator {
                    json!([{"set_id": "moderator", "id": "1", "info": ""}])
                } else {
                    json!([])
                };
                cloud.notify("channel.chat.message", event);
                id
            })
            .collect();
        let want = expected(&ids, user_id);
        wait_for("the six moderation requests", || asked(&cloud).len() >= 6).await;
        wait_for("the permit's reply", || {
            cloud
                .calls_to("POST", "/chat/messages")
                .iter()
                .any(|c| c.body["message"] == "viewerb may post links for 120 s.")
        })
        .await;
        wait_for("every receipt in the audit", || {
            decisions(&t).iter().map(|d| d.5.len()).sum::<usize>() == 6
        })
        .await;
        let (code, stderr) = stop(running).await;
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(asked(&cloud), want);
        for call in cloud
            .calls_to("DELETE", "/moderation/chat")
            .into_iter()
            .chain(cloud.calls_to("POST", "/moderation/bans"))
        {
            assert_eq!(call.query["broadcaster_id"], BROADCASTER_ID);
            assert_eq!(call.query["moderator_id"], BROADCASTER_ID);
            assert!(call.status < 300, "{call:?}");
        }
        let timeout = cloud
            .calls_to("POST", "/moderation/bans")
            .into_iter()
            .find(|c| c.body["data"]["user_id"] == "203")
            .unwrap();
        assert_eq!(
            timeout.body,
            json!({"data": {"user_id": "203", "duration": 120, "reason": "caps: caps 100% of 23 letters"}})
        );
        assert_eq!(cloud.calls_to("POST", "/chat/messages").len(), 1);
        assert_audit(&t, &ids, false);
        assert_admin_export(&t, false, "viewera");
    }
}

// ---------------------------------------------------------------------------------------------
// YouTube

mod youtube {
    use super::*;
    use crate::run_youtube::{API_KEY, TOKEN, spawn, stop, youtube_root};
    use crate::youtube_server::{CHAT_ID, YoutubeModel, YoutubeServer};

    fn asked(model: &YoutubeModel) -> Vec<Asked> {
        let (bans, deleted) = model.with(|s| (s.bans.clone(), s.deleted.clone()));
        let mut asked: Vec<Asked> = deleted
            .into_iter()
            .map(Asked::Delete)
            .chain(bans.into_iter().map(|b| {
                let user = b["bannedUserDetails"]["channelId"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                match b["banDurationSeconds"].as_str() {
                    Some(seconds) => Asked::Timeout(user, seconds.parse().unwrap()),
                    None => Asked::Ban(user),
                }
            }))
            .collect();
        asked.sort();
        asked
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn filters_delete_time_out_and_escalate_through_the_data_api_once_each() {
        let now = chrono::Utc::now();
        let model = YoutubeModel::new(API_KEY, TOKEN, now - chrono::Duration::minutes(5));
        model.with(|s| s.polling_interval_ms = 300);
        let server = YoutubeServer::start(model.clone()).await;
        let t = youtube_root(&server.base_url(), true);
        write_moderation(&t, "enforce");
        t.run(&["validate-config"]).status(0);
        let running = spawn(&t);
        crate::harness::until_within(std::time::Duration::from_secs(20), "the first list", || {
            !model.requests_to("liveChat/messages").is_empty()
        })
        .await;
        // The model names a moderator "Mod"; the others are viewers.
        let at = chrono::Utc::now();
        let ids: Vec<String> = SCENARIO
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let name = if line.moderator { "Mod" } else { line.user };
                model.text(
                    at + chrono::Duration::milliseconds(i as i64),
                    name,
                    line.text,
                )
            })
            .collect();
        let want = expected(&ids, |u| format!("UC{u}"));
        wait_for("the six moderation requests", || asked(&model).len() >= 6).await;
        wait_for("the permit's reply", || {
            model.with(|s| {
                s.inserted
                    .iter()
                    .any(|m| m.contains("viewerb may post links"))
            })
        })
        .await;
        wait_for("every receipt in the audit", || {
            decisions(&t).iter().map(|d| d.5.len()).sum::<usize>() == 6
        })
        .await;
        let (code, stderr) = stop(running).await;
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(asked(&model), want);
        let timeout = model.with(|s| {
            s.bans
                .iter()
                .find(|b| b["bannedUserDetails"]["channelId"] == "UCviewerc")
                .cloned()
                .unwrap()
        });
        assert_eq!(
            timeout,
            json!({"liveChatId": CHAT_ID, "type": "temporary", "banDurationSeconds": "120",
                "bannedUserDetails": {"channelId": "UCviewerc"}})
        );
        assert_eq!(model.with(|s| s.inserted.len()), 1);
        assert_audit(&t, &ids, false);
        assert_admin_export(&t, false, "UCviewera");
    }
}

// ---------------------------------------------------------------------------------------------
// Tuning against recorded chat

mod tuning {
    use crate::harness::{Test, repo};

    /// A root whose moderation.json is the committed fixture's.
    fn root() -> Test {
        let t = Test::new();
        t.write(
            "runtime/config/moderation.json",
            &std::fs::read_to_string(repo().join("fixtures/replay/moderation.json")).unwrap(),
        );
        t
    }

    fn fixture(name: &str) -> String {
        repo()
            .join("fixtures/replay")
            .join(name)
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// The README's CI check: the committed chat of regulars and spammers, replayed with the
    /// committed filters, gives the committed actions; a draft that stops sparing subscribers from
    /// the caps filter lists exactly the two regulars' messages it would now time out, and fails.
    #[test]
    fn a_draft_filter_lists_exactly_the_decisions_it_changes_and_fails_the_check() {
        let t = root();
        let (log, expected) = (
            fixture("moderation-chat.log"),
            fixture("moderation-expected.jsonl"),
        );
        let got = t.path().join("got.jsonl");
        let out = t.run(&[
            "replay",
            "--input",
            &log,
            "--diff",
            &expected,
            "--out",
            got.to_str().unwrap(),
        ]);
        out.status(0);
        assert!(out.stdout.starts_with("no differences"), "{}", out.stdout);
        assert_eq!(
            std::fs::read(&got).unwrap(),
            std::fs::read(&expected).unwrap(),
            "the committed actions are what a replay writes today"
        );

        let draft = t.write(
            "draft-moderation.json",
            &std::fs::read_to_string(repo().join("fixtures/replay/moderation.json"))
                .unwrap()
                .replace(
                    r#""exempt": ["subscriber", "moderator"]"#,
                    r#""exempt": ["moderator"]"#,
                ),
        );
        let out = t.run(&[
            "replay",
            "--input",
            &log,
            "--moderation",
            draft.to_str().unwrap(),
            "--diff",
            &expected,
        ]);
        out.status(1);
        insta::assert_snapshot!("moderation_draft_diff", out.stdout);
        let changed: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| l.starts_with(['+', '-', '~']))
            .collect();
        assert_eq!(changed.len(), 2, "{}", out.stdout);
        assert!(
            changed
                .iter()
                .all(|l| l.contains("moderate user_reg") && l.contains("timeout 60s by caps")),
            "{}",
            out.stdout
        );
    }

    #[test]
    fn stats_count_the_moderation_decisions() {
        let t = root();
        let out = t.run(&[
            "replay",
            "--input",
            &fixture("moderation-chat.log"),
            "--stats",
        ]);
        out.status(0);
        insta::assert_snapshot!("moderation_stats", out.stdout);
    }
}

// ---------------------------------------------------------------------------------------------
// validate-config

mod validate {
    use super::*;
    use crate::eventsub_server::TwitchCloud;
    use crate::run_eventsub::{ACCESS, CLIENT_ID, REFRESH, logged_in};

    /// A Twitch login without `moderator:manage:banned_users` is warned about on moderation.json,
    /// with the scope and the command that fixes it; the full login is not.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_login_without_the_moderation_scope_is_warned_about() {
        let cloud = TwitchCloud::start(
            CLIENT_ID,
            ACCESS,
            REFRESH,
            &[
                "user:read:chat",
                "user:write:chat",
                "moderator:manage:chat_messages",
            ],
        )
        .await;
        let t = logged_in(&cloud).await;
        write_moderation(&t, "enforce");
        let out = t.run(&["validate-config"]);
        out.status(0);
        let stdout = out.stdout_in(&t);
        let warnings: Vec<&str> = stdout
            .lines()
            .filter(|l| l.contains("moderation.json"))
            .collect();
        insta::assert_snapshot!("moderation_scope_warning", warnings.join("\n"));

        let cloud =
            TwitchCloud::start(CLIENT_ID, ACCESS, REFRESH, crate::run_eventsub::SCOPES).await;
        let t = logged_in(&cloud).await;
        write_moderation(&t, "enforce");
        let out = t.run(&["validate-config"]);
        out.status(0);
        assert!(!out.stdout.contains("moderation.json"), "{}", out.stdout);
    }
}
