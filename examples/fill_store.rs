//! Fills a store with synthetic chat through the store writer, for timing `ss export` on a large store.
//!
//! `cargo run --release --example fill_store -- ROOT [EVENTS]` writes EVENTS (default 1,000,000) chat
//! events into `ROOT/runtime/state/streamsuites.db` and prints the insert rate and writer counters.

#[path = "../benches/support/chat.rs"]
mod chat;

use ss::store::{StoreWriter, WriteOp, db_path};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(args.next().ok_or("usage: fill_store ROOT [EVENTS]")?);
    let events: u64 = args.next().map_or(Ok(1_000_000), |n| n.parse())?;
    let writer = StoreWriter::spawn(&db_path(&root), 8192)?;
    let started = Instant::now();
    for i in 0..events {
        writer.blocking_send(WriteOp::ChatEvent(Box::new(chat::event(i))))?;
    }
    let stats = writer.close()?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} events in {secs:.2} s: {:.0} events/s; {} recorded, {} duplicate, {} batches",
        events,
        events as f64 / secs,
        stats.events_recorded,
        stats.events_duplicate,
        stats.batches_committed
    );
    Ok(())
}
