//! Store writer throughput: sustained chat-event inserts per second through `StoreWriter` into a
//! WAL database (one producer thread, the writer thread batching and committing).
//!
//! The writer is spawned once; each iteration sends 100,000 new events (unique ids, so the store
//! grows as it would in a long run) and waits for the `Flush` acknowledgement, so every measured
//! event is committed. The pipeline's target is well over 200,000 chat events/s on a 2-core machine.

#[path = "support/chat.rs"]
mod chat;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ss::store::{StoreWriter, WriteOp};
use std::time::{Duration, Instant};

const EVENTS: u64 = 100_000;

fn insert_chat_events(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let writer = StoreWriter::spawn(&dir.path().join("bench.db"), 8192).expect("spawn writer");
    let mut next_id = 0u64;
    let mut group = c.benchmark_group("store_writer");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS));
    group.bench_function("chat_events_100k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let events: Vec<_> = (next_id..next_id + EVENTS).map(chat::event).collect();
                next_id += EVENTS;
                let started = Instant::now();
                for event in events {
                    writer
                        .blocking_send(WriteOp::ChatEvent(Box::new(event)))
                        .expect("send");
                }
                let (ack, done) = tokio::sync::oneshot::channel();
                writer.blocking_send(WriteOp::Flush(ack)).expect("flush");
                done.blocking_recv().expect("flush acknowledged");
                total += started.elapsed();
            }
            total
        });
    });
    group.finish();
    let stats = writer.close().expect("close");
    assert_eq!(stats.events_recorded, next_id);
    assert_eq!(stats.ops_rejected, 0);
}

criterion_group!(benches, insert_chat_events);
criterion_main!(benches);
