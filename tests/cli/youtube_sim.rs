//! A simulated 8-hour YouTube stream in paused tokio time, on the default 10,000-unit day.
//!
//! The real source, quota planner and polling runner read the fake Data API in-process (sockets
//! and their timeouts cannot run in paused time). The chat gets a message every 3 s for 8 hours
//! (9,600 messages). With the planner, the source must never pass the budget (no quotaExceeded,
//! at most `hard_cap_units`), and every message must be delivered, exactly once. The same stream read
//! at the server's hint (what peer bots do) is run for comparison: it runs out of quota in about an
//! hour and delivers the rest only after the next reset. Both runs print their calls, units and
//! median delay per message (`cargo test youtube_sim -- --nocapture`).

use crate::youtube_server::{CHANNEL_ID, KNOWN_SECRETS, ModelTransport, VIDEO_ID, YoutubeModel};
use chrono::{DateTime, Utc};

use ss::config::secrets::Secrets;
use ss::lanes::{DataLane, Inbound};
use ss::sources::runner::polling;
use ss::sources::youtube::quota::QuotaProject;
use ss::sources::youtube::{Clock, YoutubeSource};
use ss::sources::youtube::{YoutubeQuota, YoutubeSettings};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const STREAM: Duration = Duration::from_secs(8 * 3600);
const EVERY: i64 = 3;

#[derive(Debug)]
struct Outcome {
    list_calls: usize,
    units: u64,
    quota_exceeded: u64,
    messages: usize,
    delivered_in_window: usize,
    delivered_total: usize,
    duplicates: usize,
    median_delay_s: f64,
    max_delay_s: f64,
}

/// Runs the stream from `start` (UTC) under `quota`; the simulation lasts `run_for`.
async fn simulate(start: DateTime<Utc>, quota: YoutubeQuota, run_for: Duration) -> Outcome {
    let clock = Clock::tokio_from(start);
    let model = YoutubeModel::new(KNOWN_SECRETS[0], KNOWN_SECRETS[1], start);
    let messages = (STREAM.as_secs() as i64 / EVERY) as usize;
    for i in 0..messages {
        let at = start + chrono::Duration::seconds(EVERY * i as i64 + 1);
        model.text(at, "Viewer", &format!("message {i}"));
    }
    let settings =
        serde_json::json!({"enabled": true, "video_id": VIDEO_ID, "api_key_env": "SIM_YT_KEY"});
    let project = Arc::new(QuotaProject::new("sim", quota, &[], None, start));
    let (runner, shutdown, lane, _root) = start_source(&model, settings, project, &clock);
    let DataLane { sink, receiver, .. } = lane;
    let mut receiver = receiver;
    drop(sink);
    // The pipeline's side: when each message arrived.
    let reader = {
        let clock = clock.clone();
        tokio::spawn(async move {
            let mut arrived: HashMap<String, (DateTime<Utc>, DateTime<Utc>)> = HashMap::new();
            let mut duplicates = 0;
            while let Some(item) = receiver.recv().await {
                let events = match item {
                    Inbound::Page(page) => page.events,
                    Inbound::Event(e) => vec![e],
                    Inbound::Tick(_) | Inbound::Shard(_) | Inbound::ShardState(_) => {
                        panic!("a source sends no ticks or shards")
                    }
                };
                for e in events {
                    if arrived
                        .insert(e.message_id.to_string(), (e.timestamp, clock.now()))
                        .is_some()
                    {
                        duplicates += 1;
                    }
                }
            }
            (arrived, duplicates)
        })
    };
    // Simulated time (the tests run on paused tokio time): the stream lasts `run_for`.
    tokio::time::sleep(run_for).await;
    shutdown.cancel();
    runner.await.unwrap();
    let (arrived, duplicates) = reader.await.unwrap();
    let end = start + chrono::Duration::from_std(STREAM).unwrap();
    let mut delays: Vec<f64> = arrived
        .values()
        .map(|(published, at)| (*at - *published).num_milliseconds() as f64 / 1000.0)
        .collect();
    delays.sort_by(f64::total_cmp);
    let units: u64 = model.with(|s| s.units.values().sum());
    Outcome {
        list_calls: model
            .requests_to("liveChat/messages")
            .iter()
            .filter(|r| r.status == 200)
            .count(),
        units,
        quota_exceeded: model.with(|s| s.quota_exceeded_answers),
        messages,
        delivered_in_window: arrived.values().filter(|(_, at)| *at <= end).count(),
        delivered_total: arrived.len(),
        duplicates,
        median_delay_s: delays.get(delays.len() / 2).copied().unwrap_or(f64::NAN),
        max_delay_s: delays.last().copied().unwrap_or(f64::NAN),
    }
}

/// Starts the YouTube source with `settings` on the model, through the polling runner.
fn start_source(
    model: &YoutubeModel,
    settings: serde_json::Value,
    project: Arc<QuotaProject>,
    clock: &Clock,
) -> (
    tokio::task::JoinHandle<()>,
    CancellationToken,
    DataLane,
    tempfile::TempDir,
) {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join(".env"),
        format!(
            "SIM_YT_KEY={}\nSIM_YT_TOKEN={}\n",
            KNOWN_SECRETS[0], KNOWN_SECRETS[1]
        ),
    )
    .unwrap();
    let secrets = Secrets::load(root.path());
    let settings: YoutubeSettings = serde_json::from_value(settings).unwrap();
    let source = YoutubeSource::new("demo", &settings, project)
        .unwrap()
        .with_clock(clock.clone())
        .with_transport(Arc::new(ModelTransport {
            model: model.clone(),
            clock: clock.clone(),
        }));
    let lane = DataLane::new(64, Duration::from_secs(1));
    let wiring = crate::youtube_server::wiring_on_sim_clock(&secrets, &lane);
    let shutdown = wiring.shutdown.clone();
    let (ctx, track, serving) = wiring.build();
    let runner = tokio::spawn(polling::run(
        Box::new(source),
        ctx,
        None,
        None,
        track,
        serving,
    ));
    (runner, shutdown, lane, root)
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[tokio::test(start_paused = true)]
async fn an_8_hour_stream_on_the_default_day_never_passes_the_budget_and_loses_nothing() {
    // 09:00 PST: the 8 hours and the catch-up fit in one quota day.
    let start = at("2026-01-15T17:00:00Z");
    let planned = simulate(
        start,
        YoutubeQuota::default(),
        STREAM + Duration::from_secs(600),
    )
    .await;
    println!("planned (default 10,000-unit day): {planned:?}");
    assert_eq!(planned.quota_exceeded, 0, "never a quotaExceeded");
    assert!(planned.units <= 9_500, "{planned:?}");
    assert_eq!(planned.delivered_total, planned.messages, "every message");
    assert_eq!(planned.duplicates, 0, "none twice");
    assert!(
        planned.delivered_in_window >= planned.messages - 10,
        "{planned:?}"
    );
    assert!(planned.median_delay_s < 20.0, "{planned:?}");
    assert!(planned.max_delay_s < 30.0, "{planned:?}");
    assert!(planned.list_calls <= 1_700, "{planned:?}");

    // The same stream polled at the server's 2 s hint, as if there were no planner (a budget the
    // planner never reaches), against Google's real 10,000 units.
    let unplanned = YoutubeQuota {
        daily_units: 10_000_000,
        hard_cap_units: 9_000_000,
        reserve_units: 1_000,
        ..YoutubeQuota::default()
    };
    // Run past the Pacific-midnight reset (08:00 UTC), when the rest is finally read.
    let hint = simulate(start, unplanned, Duration::from_secs(16 * 3600)).await;
    println!("at the hint (no planner):          {hint:?}");
    assert!(hint.quota_exceeded > 0, "{hint:?}");
    assert!(hint.list_calls > planned.list_calls, "{hint:?}");
    assert!(
        hint.delivered_in_window < planned.delivered_in_window / 2,
        "{hint:?}"
    );
    assert!(hint.median_delay_s > planned.median_delay_s, "{hint:?}");
}

/// The chat found from `channel_id`, and the calls it took.
async fn discover_channel(oauth: bool, live: bool) -> (YoutubeModel, usize) {
    let start = at("2026-01-15T17:00:00Z");
    let clock = Clock::tokio_from(start);
    let model = YoutubeModel::new(KNOWN_SECRETS[0], KNOWN_SECRETS[1], start);
    model.with(|s| s.live = live);
    model.text(start, "Viewer", "hello");
    let mut settings =
        serde_json::json!({"enabled": true, "channel_id": CHANNEL_ID, "api_key_env": "SIM_YT_KEY"});
    if oauth {
        settings["oauth_token_env"] = serde_json::json!("SIM_YT_TOKEN");
    }
    let project = Arc::new(QuotaProject::new(
        "sim",
        YoutubeQuota::default(),
        &[],
        None,
        start,
    ));
    let (runner, shutdown, lane, _root) = start_source(&model, settings, project, &clock);
    let DataLane { sink, receiver, .. } = lane;
    let mut receiver = receiver;
    drop(sink);
    let reader = tokio::spawn(async move {
        let mut events = 0;
        while let Some(item) = receiver.recv().await {
            events += item.events() as usize;
        }
        events
    });
    // Ten simulated minutes (paused tokio time) of discovery.
    tokio::time::sleep(Duration::from_secs(10 * 60)).await;
    shutdown.cancel();
    runner.await.unwrap();
    (model, reader.await.unwrap())
}

#[tokio::test(start_paused = true)]
async fn a_channel_is_found_with_live_broadcasts_when_there_is_an_oauth_token() {
    let (model, events) = discover_channel(true, true).await;
    let broadcasts = model.requests_to("liveBroadcasts");
    assert_eq!(broadcasts.len(), 1);
    assert_eq!(broadcasts[0].auth, "bearer");
    assert_eq!(broadcasts[0].query["broadcastStatus"], "active");
    assert!(model.requests_to("search").is_empty());
    assert_eq!(events, 1);
}

#[tokio::test(start_paused = true)]
async fn a_channel_is_found_with_search_and_videos_with_an_api_key_alone() {
    let (model, events) = discover_channel(false, true).await;
    let search = model.requests_to("search");
    assert_eq!(search.len(), 1);
    assert_eq!(search[0].query["channelId"], CHANNEL_ID);
    assert_eq!(search[0].query["eventType"], "live");
    assert_eq!(search[0].query["type"], "video");
    assert_eq!(model.requests_to("videos")[0].query["id"], VIDEO_ID);
    assert_eq!(events, 1);
}

#[tokio::test(start_paused = true)]
async fn an_offline_channel_is_searched_on_a_budgeted_schedule() {
    let (model, events) = discover_channel(false, false).await;
    // 100 units a search: stretched from 300 s to about 30 min, so one search in 10 minutes.
    assert_eq!(model.requests_to("search").len(), 1);
    assert!(model.requests_to("liveChat/messages").is_empty());
    assert_eq!(events, 0);
}
