//! Whole-pipeline throughput with the chat log on: the real `ss run` loop (sim source at full speed →
//! data lane → dedupe → record in SQLite → triggers → executor → exports), in a temp runtime root.
//!
//! Prints events/s (accepted by the pipeline and recorded), drops, and the process's peak memory.
//! `BENCH_SECONDS` sets the run length (default 5). Run: `cargo bench --bench pipeline`.

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
                creator: None,
            },
            CancellationToken::new(),
        ))
        .unwrap();
    let c = &summary.counters;
    let secs = summary.elapsed.as_secs_f64();
    println!(
        "pipeline: {:.0} events/s recorded ({} recorded, {} received, {} dropped, {} triggers matched) in {:.2}s; peak RSS {} MiB",
        c.events_recorded as f64 / secs,
        c.events_recorded,
        c.events_received,
        c.events_dropped,
        c.triggers_matched,
        secs,
        peak_rss_mib()
    );
}
