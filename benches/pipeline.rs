//! Whole-pipeline throughput with the chat log on: the real `ss run` loop (sim source at full speed →
//! data lane → dedupe → record in SQLite → triggers → executor → exports), in a temp runtime root.
//!
//! Prints events/s (accepted by the pipeline and recorded), drops, and the process's peak memory,
//! for the plain pipeline and again with the channel's daily bot configured (timers, giveaways,
//! quotes, points with their defaults, links, chat trends), and the difference.
//! `BENCH_SECONDS` sets the run length (default 5); `BENCH_MODE=plain|daily` runs only one of the
//! two. Run: `cargo bench --bench pipeline`.

/// The allocator the `ss` binary uses, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use ss::config::Config;
use ss::config::secrets::Secrets;
use ss::pipeline::runner::{RunOptions, run};
use std::time::Duration;

#[path = "support/process.rs"]
mod process;
use process::peak_rss_mib;
use tokio_util::sync::CancellationToken;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("pipeline: bench");
        return;
    }
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    // The same run twice: the plain pipeline, then with the channel's daily bot configured (timers,
    // giveaways, quotes, points, links, chat trends), so the cost of the daily bot is the difference.
    // `BENCH_MODE=plain` or `daily` runs one of the two (to count a mode's instructions alone).
    if let Ok(mode @ ("plain" | "daily")) = std::env::var("BENCH_MODE").as_deref() {
        run_once(seconds, mode == "daily");
        return;
    }
    let plain = run_once(seconds, false);
    let daily = run_once(seconds, true);
    println!(
        "pipeline: daily bot costs {:+.1}% events/s ({:.0} without, {:.0} with)",
        (daily / plain - 1.0) * 100.0,
        plain,
        daily
    );
}

/// One run of `seconds`; prints its figures and returns its events/s.
fn run_once(seconds: u64, daily_bot: bool) -> f64 {
    let root = tempfile::tempdir().unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config_dir = root.path().join("runtime/config");
    std::fs::create_dir_all(&config_dir).unwrap();
    for name in ["system", "platforms", "triggers", "discord", "ratelimits"] {
        std::fs::copy(
            repo.join(format!("runtime/config/{name}.json")),
            config_dir.join(format!("{name}.json")),
        )
        .unwrap();
    }
    std::fs::write(
        config_dir.join("creators.json"),
        r#"{"creators": [{"id": "demo", "display_name": "Demo", "platforms": {"sim": {"enabled": true, "rate_per_s": 0, "seed": 7, "users": 5000}}}]}"#,
    )
    .unwrap();
    let edit = |name: &str, change: &dyn Fn(&mut serde_json::Value)| {
        let path = config_dir.join(format!("{name}.json"));
        let mut doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        change(&mut doc);
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    };
    edit("system", &|doc| {
        doc["trends"] = serde_json::json!({"enabled": daily_bot})
    });
    if daily_bot {
        edit("triggers", &|doc| {
            doc["timers"] = serde_json::json!({"demo": [
                {"id": "plug", "every_s": 60, "min_messages": 5,
                 "action": {"type": "say", "template": "Follow for more ({count})"}},
                {"id": "rules", "every_s": 120, "offset_s": 30,
                 "action": {"type": "say", "template": "Be kind in chat"}}
            ]});
            doc["giveaways"] = serde_json::json!({"demo": {"weights": {"subscriber": 2}}});
            doc["quotes"] = serde_json::json!({"demo": {}});
            doc["points"] = serde_json::json!({"demo": {"per_message": 5}});
            doc["links"] = serde_json::json!({"demo": {}});
        });
    }
    let config = Config::load(root.path()).unwrap();
    assert!(config.system.chat_log.enabled, "the chat log must be on");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let summary = runtime
        .block_on(run(
            root.path(),
            config,
            Secrets::default(),
            RunOptions {
                duration: Some(Duration::from_secs(seconds)),
                ..RunOptions::default()
            },
            CancellationToken::new(),
        ))
        .unwrap();
    let c = &summary.counters;
    let secs = summary.elapsed.as_secs_f64();
    let rate = c.events_recorded as f64 / secs;
    println!(
        "pipeline{}: {:.0} events/s recorded ({} recorded, {} received, {} dropped, {} triggers matched) in {:.2}s; peak RSS {} MiB",
        if daily_bot { " with the daily bot" } else { "" },
        rate,
        c.events_recorded,
        c.events_received,
        c.events_dropped,
        c.triggers_matched,
        secs,
        peak_rss_mib()
    );
    rate
}
