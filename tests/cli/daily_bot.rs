//! The channel's daily bot end to end, on the loopback Twitch IRC server and the loopback Kick
//! servers at once: a viewer links their Twitch and Kick accounts with `!link` (19 more pairs are
//! declared in creators.json), so the two accounts share points and scores; a moderator adds quotes
//! and viewers ask for them; a giveaway gets 320 accounts typing its keyword, which are 300 people,
//! and gives one entry per person; its draw is re-checked from `admin/giveaways.json` with the
//! published recipe, and `ss replay` draws the same winners; `!give` moves points without creating
//! any; `!unlink` splits the person again. The exports agree, hold no link code, and
//! `ss replay --diff` of the whole run is empty. A second test kills `ss run` with SIGKILL and
//! finds every committed balance after the restart, with a redelivered message credited once.

use crate::harness::{Test, exit_code_within, signal};
use crate::kick_server::{KickApi, PusherServer};
use crate::polls::assert_replay_matches_the_live_run;
use crate::run_twitch::{privmsg, twitch_root, with_ts};
use crate::twitch_server::{ServerOptions, TwitchServer};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashSet};
use std::process::Stdio;
use std::time::Duration;

const TWITCH_TOKEN: &str = "oauth:daily-bot-secret-token";
const KICK_ACCESS: &str = "kick-daily-access-1111";
const KICK_REFRESH: &str = "kick-daily-refresh-2222";
const KICK_CLIENT_ID: &str = "kick-daily-client-3333";
const KICK_CLIENT_SECRET: &str = "kick-daily-secret-4444";
const CHATROOM: u64 = 55_555;
const CHATROOM_CHANNEL: &str = "chatrooms.55555.v2";
const CHAT_EVENT: &str = r"App\Events\ChatMessageEvent";

/// Accounts per platform typing the giveaway keyword (ann and ann_k included).
const PER_PLATFORM: usize = 160;
/// Pairs declared in creators.json (ann's pair is linked from chat).
const DECLARED_PAIRS: usize = 19;

/// The Twitch user id of `user` (the name's bytes as a number: distinct for distinct names).
fn twitch_id(user: &str) -> String {
    format!(
        "{}",
        user.bytes()
            .fold(7u64, |n, b| n.wrapping_mul(131) + u64::from(b))
    )
}

/// A Twitch chat line from `user` at `ts`; users whose name starts with `mod` are moderators.
fn twitch_line(id: &str, user: &str, ts: i64, text: &str) -> String {
    let line = with_ts(&privmsg(id, user, &twitch_id(user), text), ts);
    if user.starts_with("mod") {
        line.replace(";mod=0;", ";mod=1;")
            .replace("badges=;", "badges=moderator/1;")
    } else {
        line
    }
}

/// A Kick chat message (Pusher `ChatMessageEvent` data) from `user` at `ts`.
fn kick_message(id: &str, user: &str, user_id: u64, ts: i64, content: &str) -> Value {
    json!({
        "id": id, "chatroom_id": CHATROOM, "content": content, "type": "message",
        "created_at": chrono::DateTime::from_timestamp_millis(ts).unwrap().to_rfc3339(),
        "sender": {"id": user_id, "username": user, "slug": user.to_lowercase(),
          "identity": {"color": "#FF9D00", "badges": []}},
        "metadata": {"message_ref": "1752741896375"},
    })
}

/// The Kick user id of giveaway account `i` (ann_k is 7001).
fn kick_id(i: usize) -> u64 {
    100_000 + i as u64
}

/// The demo root with the sim off, Twitch and Kick on against the loopback servers, the daily bot
/// configured for `demo`, and 19 declared Twitch/Kick pairs.
fn root(twitch: &TwitchServer, pusher: &PusherServer, api: &KickApi) -> Test {
    let t = twitch_root(twitch.port());
    let mut creators: Value =
        serde_json::from_str(&t.read("runtime/config/creators.json")).unwrap();
    let creator = &mut creators["creators"][0];
    creator["platforms"]["kick"] = json!({
        "enabled": true,
        "channel": "demo-channel",
        "token_env": "KICK_OAUTH_TOKEN_DEMO",
        "refresh_token_env": "KICK_REFRESH_TOKEN_DEMO",
        "client_id_env": "KICK_CLIENT_ID_DEMO",
        "client_secret_env": "KICK_CLIENT_SECRET_DEMO",
    });
    creator["links"] = (0..DECLARED_PAIRS)
        .map(|i| {
            json!({"name": format!("pair{i}"), "accounts": {
                "twitch": twitch_id(&format!("tv{i}")),
                "kick": kick_id(i).to_string(),
            }})
        })
        .collect();
    t.write(
        "runtime/config/creators.json",
        &serde_json::to_string_pretty(&creators).unwrap(),
    );
    let mut platforms: Value =
        serde_json::from_str(&t.read("runtime/config/platforms.json")).unwrap();
    platforms["platforms"]["kick"] = json!({
        "mode": "active",
        "ws_url": pusher.url(),
        "base_url": format!("{}/public/v1", api.base()),
        "oauth_url": api.base(),
        "channel_api_url": format!("{}/api/v2", api.base()),
    });
    t.write(
        "runtime/config/platforms.json",
        &serde_json::to_string_pretty(&platforms).unwrap(),
    );
    let mut triggers: Value =
        serde_json::from_str(&t.read("runtime/config/triggers.json")).unwrap();
    triggers["quotes"] = json!({"demo": {}});
    // No watch-time points here: a tick's award depends on when the run started, and these
    // assertions count exactly (the engine's tests cover watch time).
    triggers["points"] = json!({"demo": {"name": "gems", "per_message": 10, "per_minute": 0}});
    triggers["giveaways"] = json!({"demo": {"weights": {"subscriber": 2}}});
    triggers["links"] = json!({"demo": {}});
    t.write(
        "runtime/config/triggers.json",
        &serde_json::to_string_pretty(&triggers).unwrap(),
    );
    t
}

fn start(t: &Test) -> std::process::Child {
    t.std_cmd()
        .arg("run")
        .env("TWITCH_OAUTH_TOKEN_DEMO", TWITCH_TOKEN)
        .env("KICK_OAUTH_TOKEN_DEMO", KICK_ACCESS)
        .env("KICK_REFRESH_TOKEN_DEMO", KICK_REFRESH)
        .env("KICK_CLIENT_ID_DEMO", KICK_CLIENT_ID)
        .env("KICK_CLIENT_SECRET_DEMO", KICK_CLIENT_SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Stops `ss run` with SIGTERM; it must exit 0 with no secret in its logs.
async fn stop(child: std::process::Child) {
    signal(&child, "TERM");
    tokio::task::spawn_blocking(move || {
        let mut child = child;
        let code = exit_code_within(&mut child, Duration::from_secs(30));
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        assert_eq!(code, 0, "{stderr}");
        for secret in [TWITCH_TOKEN, KICK_ACCESS, KICK_REFRESH, KICK_CLIENT_SECRET] {
            assert!(!stderr.contains(secret), "a secret leaked into the log");
        }
    })
    .await
    .unwrap();
}

/// What the bot said in Twitch chat, in order.
fn twitch_said(server: &TwitchServer) -> Vec<String> {
    server
        .received_commands("PRIVMSG")
        .iter()
        .filter_map(|r| {
            r.line
                .split_once("PRIVMSG #demo_channel :")
                .map(|(_, text)| text.to_string())
        })
        .collect()
}

/// What the bot said in Kick chat (accepted sends), in order.
fn kick_said(api: &KickApi) -> Vec<String> {
    api.chat()
        .iter()
        .filter(|p| p.status == 200)
        .map(|p| p.body["content"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The first line `said` returns that `matches`, waiting up to 20 s for it.
async fn said_line(
    what: &str,
    said: impl Fn() -> Vec<String>,
    matches: impl Fn(&str) -> bool,
) -> String {
    crate::harness::until_found_explained(
        Duration::from_secs(20),
        || std::future::ready(said().into_iter().find(|l| matches(l))),
        || format!("never said: {what}; said: {:#?}", said()),
    )
    .await
}

async fn twitch_reply(server: &TwitchServer, what: &str, matches: impl Fn(&str) -> bool) -> String {
    said_line(what, || twitch_said(server), matches).await
}

async fn kick_reply(api: &KickApi, what: &str, matches: impl Fn(&str) -> bool) -> String {
    said_line(what, || kick_said(api), matches).await
}

/// The export `rel` once `cond` holds for it (the exporter writes every 0.5 s).
async fn export_when(t: &Test, rel: &str, cond: impl Fn(&Value) -> bool) -> Value {
    let path = t.path().join(rel);
    let read = || {
        std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .unwrap_or(Value::Null)
    };
    crate::harness::until_found_explained(
        Duration::from_secs(20),
        || {
            let doc = read();
            std::future::ready(cond(&doc).then_some(doc))
        },
        || format!("{rel} never matched; last: {:#}", read()),
    )
    .await
}

fn export(t: &Test, rel: &str) -> Value {
    serde_json::from_str(&t.read(rel)).unwrap()
}

/// Every error of `doc` against the schema `schemas/exports/{name}.schema.json`.
fn schema_errors(doc: &Value, name: &str) -> Vec<String> {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            crate::harness::repo().join(format!("schemas/exports/{name}.schema.json")),
        )
        .unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&schema)
        .unwrap()
        .iter_errors(doc)
        .map(|e| e.to_string())
        .collect()
}

/// The demo creator's leaders in points.json: name → (balance, earned, platforms).
fn leaders(points: &Value) -> Vec<(String, i64, i64, Vec<String>)> {
    points["creators"][0]["leaders"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            (
                l["name"].as_str().unwrap().to_string(),
                l["balance"].as_i64().unwrap(),
                l["earned"].as_i64().unwrap(),
                l["platforms"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

fn balance_of(points: &Value, name: &str) -> Option<i64> {
    leaders(points)
        .into_iter()
        .find(|(n, ..)| n == name)
        .map(|(_, balance, ..)| balance)
}

/// The balance of ann's linked person (listed under whichever of her accounts changed last).
fn ann_balance(points: &Value) -> Option<i64> {
    leaders(points)
        .into_iter()
        .find(|(name, _, _, platforms)| name.starts_with("ann") && platforms.len() == 2)
        .map(|(_, balance, ..)| balance)
}

/// The good-games score of the entry named `name` in scoreboards.json.
fn score_of(scoreboards: &Value, name: &str) -> Option<i64> {
    scoreboards["scoreboards"]
        .as_array()?
        .iter()
        .filter(|b| b["board"] == "good-games")
        .flat_map(|b| b["entries"].as_array().cloned().unwrap_or_default())
        .find(|e| e["user_name"] == name)
        .and_then(|e| e["points"].as_i64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_bot_across_twitch_and_kick_links_quotes_gives_and_draws_replay_exact() {
    let twitch = TwitchServer::start(ServerOptions::default()).await;
    let pusher = PusherServer::start(120).await;
    let api = KickApi::start(
        KICK_ACCESS,
        KICK_REFRESH,
        KICK_CLIENT_ID,
        KICK_CLIENT_SECRET,
        CHATROOM,
    )
    .await;
    let t = root(&twitch, &pusher, &api);
    t.run(&["validate-config"]).status(0);
    let child = start(&t);
    twitch.wait_for_joins(1).await;
    pusher.wait_for_subscriptions(CHATROOM_CHANNEL, 1).await;

    // Event times a minute back, so every message is inside the trends' windows at the end.
    let t0 = chrono::Utc::now().timestamp_millis() - 60_000;
    let tw = |id: &str, user: &str, at: i64, text: &str| twitch_line(id, user, t0 + at, text);
    let kick = |id: &str, user: &str, uid: u64, at: i64, text: &str| {
        pusher.send_event(
            CHATROOM_CHANNEL,
            CHAT_EVENT,
            &kick_message(id, user, uid, t0 + at, text),
        );
    };

    // Ann links her Twitch and Kick accounts from chat; each says gg once (one point each).
    twitch.send_to_joined(&tw("l1", "ann", 0, "!link")).await;
    let offer = twitch_reply(&twitch, "a link code", |l| l.contains("link code is")).await;
    let code = offer
        .split("link code is ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .expect("a code in the reply")
        .to_string();
    kick("l2", "ann_k", 7001, 1_000, &format!("!link {code}"));
    let linked = kick_reply(&api, "the link confirmation", |l| l.starts_with("Linked:")).await;
    assert!(
        linked.contains("ann") && linked.contains("ann_k"),
        "{linked}"
    );
    twitch.send_to_joined(&tw("g1", "ann", 2_000, "gg")).await;
    kick("g2", "ann_k", 7001, 2_500, "gg");

    // Quotes: three added, number 3 asked for, then a random one (questions cool down 5 s).
    for (i, text) in [
        "Never split the party",
        "Roll for initiative",
        "The dice are cold today",
    ]
    .iter()
    .enumerate()
    {
        let at = 3_000 + i as i64 * 100;
        twitch
            .send_to_joined(&tw(
                &format!("qa{i}"),
                "mod_max",
                at,
                &format!("!quote add {text}"),
            ))
            .await;
    }
    twitch
        .send_to_joined(&tw("q3", "ann", 4_000, "!quote 3"))
        .await;
    let third = twitch_reply(&twitch, "quote 3", |l| l.starts_with("#3:")).await;
    assert!(third.contains("\"The dice are cold today\""), "{third}");
    kick("qr", "ann_k", 7001, 10_000, "!quote");
    let random = kick_reply(&api, "a random quote", |l| l.starts_with('#')).await;
    assert!(
        [
            "Never split the party",
            "Roll for initiative",
            "The dice are cold today"
        ]
        .iter()
        .any(|q| random.contains(q)),
        "{random}"
    );

    // The linked person's points are one balance: 10 gems for each account's `!link` line (each
    // was its own viewer then), then one credit for the person's two gg lines within the minute.
    let points = export_when(&t, "runtime/exports/points.json", |p| {
        leaders(p)
            .iter()
            .any(|(_, balance, _, platforms)| platforms.len() == 2 && *balance >= 30)
    })
    .await;
    let ann = leaders(&points)
        .into_iter()
        .find(|(_, _, _, platforms)| platforms.len() == 2)
        .unwrap();
    assert_eq!(ann.1, 30, "{points:#}");
    assert_eq!(
        ann.3.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from(["kick", "twitch"])
    );

    // A giveaway: 160 Twitch and 160 Kick accounts type the keyword; 20 pairs are one person each.
    twitch
        .send_to_joined(&tw("go", "mod_max", 11_000, "!giveaway open raffle"))
        .await;
    twitch_reply(&twitch, "the giveaway opening", |l| {
        l.starts_with("Giveaway open")
    })
    .await;
    twitch
        .send_to_joined(&tw("e-ann", "ann", 11_100, "raffle Kappa"))
        .await;
    kick("e-ann-k", "ann_k", 7001, 11_100, "raffle");
    for i in 0..PER_PLATFORM - 1 {
        let at = 11_200 + i as i64;
        let line = tw(&format!("e-t{i}"), &format!("tv{i}"), at, "raffle Kappa").replacen(
            "emotes=;",
            "emotes=25:7-11;",
            1,
        );
        twitch.send_to_joined(&line).await;
        kick(
            &format!("e-k{i}"),
            &format!("kv{i}"),
            kick_id(i),
            at,
            "raffle",
        );
    }
    let people = 2 * PER_PLATFORM - (DECLARED_PAIRS + 1);
    assert_eq!(people, 300);
    export_when(&t, "runtime/exports/giveaways.json", |g| {
        g["giveaways"][0]["entries"] == people
    })
    .await;
    twitch
        .send_to_joined(&tw("d1", "mod_max", 20_000, "!giveaway draw 3"))
        .await;
    let drawn = twitch_reply(&twitch, "the draw", |l| l.contains("Congratulations")).await;
    twitch
        .send_to_joined(&tw("d2", "mod_max", 21_000, "!giveaway reroll"))
        .await;
    twitch_reply(&twitch, "the reroll", |l| l.contains("did not answer")).await;
    twitch
        .send_to_joined(&tw("d3", "mod_max", 22_000, "!giveaway close"))
        .await;
    twitch_reply(&twitch, "the close", |l| l.starts_with("Giveaway closed")).await;

    // !give moves gems between people: none made, none lost.
    let before = export(&t, "runtime/exports/points.json");
    let ann_before = ann_balance(&before).expect("ann leads");
    twitch
        .send_to_joined(&tw("gv", "ann", 23_000, "!give tv150 4"))
        .await;
    twitch_reply(&twitch, "the gift", |l| {
        l.starts_with("ann gave 4 gems to tv150")
    })
    .await;
    let after = export_when(&t, "runtime/exports/points.json", |p| {
        balance_of(p, "tv150").is_some()
    })
    .await;
    assert_eq!(ann_balance(&after), Some(ann_before - 4));
    assert_eq!(balance_of(&after, "tv150"), Some(14), "{after:#}");
    assert_eq!(
        before["creators"][0]["total"],
        after["creators"][0]["total"]
    );
    assert_eq!(
        before["creators"][0]["people"],
        after["creators"][0]["people"]
    );

    // Ann unlinks from Kick: her accounts are two viewers again, each with its own gems and score.
    let linked_entry = |doc: &Value| -> Option<Value> {
        doc["scoreboards"]
            .as_array()?
            .iter()
            .filter(|b| b["board"] == "good-games")
            .flat_map(|b| b["entries"].as_array().cloned().unwrap_or_default())
            .find(|e| e["platforms"].as_array().is_some_and(|p| p.len() == 2))
    };
    let scores_linked = export_when(&t, "runtime/exports/scoreboards.json", |doc| {
        linked_entry(doc).is_some()
    })
    .await;
    kick("u1", "ann_k", 7001, 24_000, "!unlink");
    kick_reply(&api, "the unlink", |l| l.contains("unlinked")).await;
    export_when(&t, "runtime/exports/points.json", |p| {
        p["creators"][0]["people"] == people + 2
    })
    .await;
    // Each account asks for its balance: together they hold what the person held.
    twitch
        .send_to_joined(&tw("p1", "ann", 25_000, "!points"))
        .await;
    kick("p2", "ann_k", 7001, 25_000, "!points");
    let balance_in = |line: &str| -> i64 {
        line.split(" has ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no balance in {line:?}"))
    };
    let on_twitch = twitch_reply(&twitch, "ann's balance", |l| l.starts_with("ann has ")).await;
    let on_kick = kick_reply(&api, "ann_k's balance", |l| l.starts_with("ann_k has ")).await;
    assert_eq!(
        balance_in(&on_twitch) + balance_in(&on_kick),
        ann_before - 4,
        "{on_twitch} / {on_kick}"
    );
    assert!(
        on_kick.ends_with(&format!("of {}).", people + 2)),
        "{on_kick}"
    );
    stop(child).await;

    // Scores: summed for the linked person (2), then one each.
    assert_eq!(
        linked_entry(&scores_linked).map(|e| e["points"].clone()),
        Some(json!(2)),
        "the linked person's score is both accounts': {scores_linked:#}"
    );
    let scores = export(&t, "runtime/exports/scoreboards.json");
    assert_eq!(score_of(&scores, "ann"), Some(1), "{scores:#}");
    assert_eq!(score_of(&scores, "ann_k"), Some(1), "{scores:#}");
    // Quotes: three, numbered in order, with who added them and where.
    let quotes = export(&t, "runtime/exports/quotes.json");
    let numbers: Vec<i64> = quotes["quotes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(quotes["quotes"][2]["text"], "The dice are cold today");
    assert_eq!(quotes["quotes"][2]["platform"], "twitch");

    // The giveaway: 300 entries (one per person), the winners of the chat's reply, re-checkable.
    let public = export(&t, "runtime/exports/giveaways.json");
    let giveaway = &public["giveaways"][0];
    assert_eq!(giveaway["state"], "closed");
    assert_eq!(giveaway["entries"], people);
    assert_eq!(giveaway["winners"].as_array().unwrap().len(), 3);
    let admin = export(&t, "runtime/admin/giveaways.json");
    let g = &admin["giveaways"][0];
    let entries: Vec<ss::actions::community::Entrant> =
        serde_json::from_value(g["entries"].clone()).unwrap();
    assert_eq!(entries.len(), people);
    let persons: HashSet<&str> = entries.iter().map(|e| e.person.as_str()).collect();
    assert_eq!(persons.len(), people, "one entry per person");
    let platforms: BTreeSet<&str> = entries.iter().map(|e| e.platform.as_str()).collect();
    assert_eq!(platforms, BTreeSet::from(["kick", "twitch"]));
    let first = &g["draws"][0];
    let hash = ss::triggers::draw::entries_hash(&entries);
    assert_eq!(first["entries_hash"], hash.as_str());
    let seed = ss::triggers::draw::seed(g["giveaway"].as_str().unwrap(), &hash, 1);
    assert_eq!(first["seed"], seed.as_str());
    let picked: Vec<&str> = ss::triggers::draw::pick(&seed, &entries, &HashSet::new(), 3)
        .into_iter()
        .map(|i| entries[i].entry_id.as_str())
        .collect();
    let winners: Vec<&str> = first["winners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["entry_id"].as_str().unwrap())
        .collect();
    assert_eq!(picked, winners, "the seed reproduces the draw");
    for w in first["winners"].as_array().unwrap() {
        assert!(drawn.contains(w["user_name"].as_str().unwrap()), "{drawn}");
    }

    // The exports follow their schemas and name people, never a link code.
    for (rel, schema) in [
        ("runtime/exports/giveaways.json", "giveaways"),
        ("runtime/admin/giveaways.json", "giveaways_admin"),
        ("runtime/exports/quotes.json", "quotes"),
        ("runtime/exports/points.json", "points"),
        ("runtime/admin/people.json", "people"),
        ("runtime/signals/chat_trends.json", "chat_trends"),
    ] {
        let doc = export(&t, rel);
        let errors = schema_errors(&doc, schema);
        assert!(errors.is_empty(), "{rel}: {errors:?}");
        assert!(!t.read(rel).contains(&code), "{rel} holds the link code");
    }
    let people_doc = export(&t, "runtime/admin/people.json");
    assert_eq!(
        people_doc["people"].as_array().unwrap().len(),
        DECLARED_PAIRS,
        "the declared pairs; ann's link was undone: {people_doc:#}"
    );

    // Trends: the fixture's emote on top, the keyword among the words.
    let trends = export(&t, "runtime/signals/chat_trends.json");
    let demo = trends["creators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["creator"] == "demo")
        .unwrap_or_else(|| panic!("{trends:#}"));
    let window = demo["windows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["minutes"] == 5)
        .unwrap_or_else(|| panic!("{demo:#}"));
    assert_eq!(window["top_emotes"][0]["text"], "Kappa", "{window:#}");
    assert_eq!(window["top_words"][0]["text"], "raffle", "{window:#}");

    // A replay draws the same winners, and finds nothing different from the live run.
    let replayed = t.run(&["replay"]);
    let draws: Vec<Value> = replayed
        .status(0)
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|a| a["type"] == "giveaway_draw")
        .collect();
    assert_eq!(draws.len(), 2, "the draw and the reroll");
    assert_eq!(draws[0]["draw"]["seed"], first["seed"]);
    let replayed_winners: Vec<&str> = draws[0]["draw"]["winners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["entry_id"].as_str().unwrap())
        .collect();
    assert_eq!(replayed_winners, winners);
    assert_replay_matches_the_live_run(&t);
}

/// Firebot's "Export quotes" CSV (its quote manager's export), with gaps in its numbers.
const FIREBOT_QUOTES: &str = "ID,Text,Originator,Creator,Category,Created\n\
    3,\"I never lose, I learn\",DemoStreamer,mod_max,Chess,2021-03-04T05:06:07.890Z\n\
    7,\"He said \"\"gg\"\" and left\",DemoStreamer,ann,Just Chatting,2022-11-30T21:04:05.000Z\n\
    12,Back in five,DemoStreamer,bob,,2023-01-02T03:04:05.000Z\n";

/// Points of `user` in points.json, once the file lists them at `balance`.
async fn wait_for_balance(t: &Test, user: &str, balance: i64) -> Value {
    export_when(t, "runtime/exports/points.json", |p| {
        balance_of(p, user) == Some(balance)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_quotes_keep_their_numbers_and_balances_survive_kill_9_crediting_a_redelivery_once()
 {
    let twitch = TwitchServer::start(ServerOptions::default()).await;
    let t = twitch_root(twitch.port());
    let mut triggers: Value =
        serde_json::from_str(&t.read("runtime/config/triggers.json")).unwrap();
    triggers["quotes"] = json!({"demo": {}});
    triggers["points"] =
        json!({"demo": {"per_message": 10, "message_interval_s": 0, "per_minute": 0}});
    t.write(
        "runtime/config/triggers.json",
        &serde_json::to_string_pretty(&triggers).unwrap(),
    );
    t.run(&["validate-config"]).status(0);

    // A Firebot export imports with its numbers; importing it again is refused whole.
    t.write("firebot-quotes.csv", FIREBOT_QUOTES);
    let imported = t.run(&["quotes", "import", "firebot-quotes.csv"]);
    assert!(
        imported
            .status(0)
            .stdout
            .contains("imported 3 quotes for demo (numbers 3 to 12)"),
        "{}",
        imported.stdout
    );
    let again = t.run(&["quotes", "import", "firebot-quotes.csv"]);
    again.status(1);
    assert!(
        again.stderr.contains("firebot-quotes.csv"),
        "{}",
        again.stderr
    );

    let t0 = chrono::Utc::now().timestamp_millis() - 30_000;
    let tw = |id: &str, user: &str, at: i64, text: &str| twitch_line(id, user, t0 + at, text);
    let child = start(&t);
    twitch.wait_for_joins(1).await;
    twitch.send_to_joined(&tw("q7", "bob", 0, "!quote 7")).await;
    let seventh = twitch_reply(&twitch, "quote 7", |l| l.starts_with("#7:")).await;
    assert!(
        seventh.contains("\"He said \"gg\" and left\" (DemoStreamer) [Just Chatting] 2022-11-30"),
        "{seventh}"
    );
    twitch
        .send_to_joined(&tw(
            "qa",
            "mod_max",
            100,
            "!quote add Numbers go on from the import",
        ))
        .await;
    twitch_reply(&twitch, "the next number", |l| l == "Quote #13 added.").await;
    for i in 1..=5 {
        twitch
            .send_to_joined(&tw(&format!("m{i}"), "ann", 1_000 + i, "hello"))
            .await;
    }
    wait_for_balance(&t, "ann", 50).await;

    // SIGKILL: no clean stop. What was committed (and exported) is all there after the restart.
    signal(&child, "KILL");
    tokio::task::spawn_blocking(move || {
        let mut child = child;
        child.wait().unwrap();
    })
    .await
    .unwrap();
    let child = start(&t);
    twitch.wait_for_joins(2).await;
    wait_for_balance(&t, "ann", 50).await;
    // The platform redelivers m3 after the reconnect, then a new message comes.
    twitch
        .send_to_joined(&tw("m3", "ann", 1_003, "hello"))
        .await;
    twitch
        .send_to_joined(&tw("m6", "ann", 1_006, "hello"))
        .await;
    let points = wait_for_balance(&t, "ann", 60).await;
    assert_eq!(points["creators"][0]["leaders"][0]["earned"], 60);
    stop(child).await;
    let points = export(&t, "runtime/exports/points.json");
    assert_eq!(balance_of(&points, "ann"), Some(60), "m3 credited once");
    let quotes = export(&t, "runtime/exports/quotes.json");
    let numbers: Vec<i64> = quotes["quotes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 7, 12, 13]);
    assert_replay_matches_the_live_run(&t);
}
