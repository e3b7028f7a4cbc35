//! Logging through `tracing` to stderr, as text or JSON lines, at a level set by -v / -q or RUST_LOG.
//!
//! Lines go through [`crate::log_sink`]: a broken, full or stalled stderr drops log lines (counted),
//! never panics and never blocks the runtime.

use crate::log_sink;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Libraries whose trace output dumps every frame they send and receive, payload included: held at
/// debug even at `-vv`, because frames carry credentials (OBS's authentication string). `RUST_LOG`
/// can still ask for them.
const FRAME_DUMPERS: [&str; 2] = ["tungstenite", "tokio_tungstenite"];

/// Installs the global subscriber once; later calls (tests running `run` twice) are no-ops.
pub fn init(verbose: u8, quiet: u8, format: LogFormat) {
    let level = match (verbose, quiet) {
        (0, 0) => "info",
        (1, _) => "debug",
        (v, _) if v >= 2 => "trace",
        (_, 1) => "warn",
        _ => "error",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let mut filter = EnvFilter::new(level);
        // The NATS client reports every connect and reconnect at info; the bus's own lines say
        // what matters (an outage, the recovery), so the client's show from -v on.
        if level == "info"
            && let Ok(directive) = "async_nats=warn".parse()
        {
            filter = filter.add_directive(directive);
        }
        if level == "trace" {
            for target in FRAME_DUMPERS {
                if let Ok(directive) = format!("{target}=debug").parse() {
                    filter = filter.add_directive(directive);
                }
            }
        }
        filter
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(log_sink::install())
        // The fmt layer's own report of a failed write is an `eprintln!`, which panics on a broken
        // stderr; our writer never fails, and the sink counts what stderr refused.
        .log_internal_errors(false)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
