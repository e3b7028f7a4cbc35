//! Store writer throughput: chat-event inserts per second through `StoreWriter` into a fresh
//! WAL database (one producer thread, the writer thread, batching, commit, close).
//!
//! The pipeline's target is well over 200,000 chat events/s on a 2-core machine.

#[path = "support/chat.rs"]
mod chat;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ss::store::{StoreWriter, WriteOp};

const EVENTS: u64 = 100_000;

fn insert_chat_events(c: &mut Criterion) {
    let events: Vec<_> = (0..EVENTS).map(chat::event).collect();
    let mut group = c.benchmark_group("store_writer");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS));
    group.bench_function("chat_events_100k", |b| {
        b.iter_batched(
            || (tempfile::tempdir().expect("temp dir"), events.clone()),
            |(dir, events)| {
                let writer =
                    StoreWriter::spawn(&dir.path().join("bench.db"), 8192).expect("spawn writer");
                for event in events {
                    writer
                        .blocking_send(WriteOp::ChatEvent(Box::new(event)))
                        .expect("send");
                }
                let stats = writer.close().expect("close");
                assert_eq!(stats.events_recorded, EVENTS);
                dir
            },
            criterion::BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, insert_chat_events);
criterion_main!(benches);
