//! `ss export` cost: building every snapshot and writing the tree (unchanged files are skipped),
//! on the demo config with an empty store and with a store of 1,000,000 chat events.
//!
//! The large store is generated once per run through the real store writer (a few seconds).

#[path = "support/chat.rs"]
mod chat;

use criterion::{Criterion, criterion_group, criterion_main};
use ss::config::Config;
use ss::export::runtime_view::RuntimeView;
use ss::export::{build_all, writer};
use ss::store::{StoreReader, StoreWriter, WriteOp, db_path};
use std::path::Path;

const LARGE_STORE_EVENTS: u64 = 1_000_000;

fn demo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn export_once(config: &Config, store: Option<&StoreReader>, out: &Path) {
    let files = build_all(
        demo_root(),
        config,
        store,
        &RuntimeView::idle(),
        chrono::Utc::now(),
    )
    .expect("build exports");
    writer::write_all(out, &files).expect("write exports");
}

fn export(c: &mut Criterion) {
    let config = Config::load(demo_root()).expect("demo config");
    let mut group = c.benchmark_group("export");
    group.sample_size(20);

    let out = tempfile::tempdir().expect("temp dir");
    group.bench_function("demo_config_empty_store", |b| {
        b.iter(|| export_once(&config, None, out.path()));
    });

    let root = tempfile::tempdir().expect("temp dir");
    let writer = StoreWriter::spawn(&db_path(root.path()), 8192).expect("writer");
    for i in 0..LARGE_STORE_EVENTS {
        writer
            .blocking_send(WriteOp::ChatEvent(Box::new(chat::event(i))))
            .expect("send");
    }
    writer.close().expect("close");
    let store = StoreReader::open(&db_path(root.path())).expect("open store");
    let out = tempfile::tempdir().expect("temp dir");
    group.bench_function("store_1m_chat_events", |b| {
        b.iter(|| export_once(&config, Some(&store), out.path()));
    });
    group.finish();
}

criterion_group!(benches, export);
criterion_main!(benches);
