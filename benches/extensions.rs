//! Extension calls through `ss` against the Python `!8ball` example (`examples/extensions/`):
//!
//! - `direct_pipe`: the example driven over its pipes by hand (one request line, one answer line):
//!   the extension's own cost, the baseline.
//! - `one_call`: one call through `ss` (`Extensions::call`: request built from the event, written,
//!   answer matched by id, checked against the schema, effects turned into actions). The
//!   difference to `direct_pipe` is the latency `ss` adds per call.
//! - `four_in_flight`: four calls at once (the default `max_in_flight`); criterion's elem/s is
//!   calls per second.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ss::actions::{Action, ActionKind};
use ss::config::model::{ExtensionDef, ExtensionEffect, ExtensionsConfig};
use ss::event::{Author, ChatEvent, Platform};
use ss::extensions::Extensions;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn event(i: u64) -> ChatEvent {
    ChatEvent::message(
        Platform::named("sim"),
        "demo",
        &format!("bench-{i}"),
        Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        Author::viewer("ann"),
        "!8ball will the bench be fast?",
    )
}

fn call_of(event: &ChatEvent) -> Action {
    Action {
        trigger_id: "8ball".into(),
        creator: "demo".into(),
        platform: event.platform,
        message_id: event.message_id.to_string(),
        at: event.timestamp,
        kind: ActionKind::Extension {
            channel: "demo".into(),
            name: "8ball".into(),
            input: Default::default(),
        },
        thread: true,
    }
}

fn bench(c: &mut Criterion) {
    let script = repo().join("examples/extensions/eightball.py");
    let mut group = c.benchmark_group("extensions");
    group.measurement_time(Duration::from_secs(5));

    // The baseline: the same child, by hand.
    let mut child = std::process::Command::new("python3")
        .arg(&script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    writeln!(
        stdin,
        r#"{{"hello": {{"protocol": 1, "name": "8ball", "effects_allowed": ["reply"]}}}}"#
    )
    .unwrap();
    stdout.read_line(&mut line).unwrap();
    let event_json = serde_json::to_string(&event(0)).unwrap();
    let mut id = 0u64;
    group.throughput(Throughput::Elements(1));
    group.bench_function("direct_pipe", |b| {
        b.iter(|| {
            id += 1;
            writeln!(
                stdin,
                r#"{{"id": {id}, "epoch": 1, "deadline_ms": 2000, "event": {event_json}, "trigger": "8ball", "input": {{}}}}"#
            )
            .unwrap();
            line.clear();
            stdout.read_line(&mut line).unwrap();
            assert!(line.contains("effects"), "{line}");
        })
    });
    drop(stdin);
    let _ = child.wait();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = ExtensionsConfig {
        extensions: vec![ExtensionDef {
            name: "8ball".into(),
            enabled: true,
            command: vec!["python3".into(), script.display().to_string()],
            env: vec!["PATH".into()],
            cwd: None,
            budget_ms: 2000,
            memory_mb: Some(256),
            cpu_s: None,
            max_in_flight: 4,
            effects: vec![ExtensionEffect::Reply],
        }],
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let extensions = {
        let _inside = runtime.enter();
        Extensions::start(&repo(), &config, &shutdown).0
    };
    let events: Vec<ChatEvent> = (0..4).map(event).collect();
    let calls: Vec<Action> = events.iter().map(call_of).collect();
    // Wait for the handshake.
    runtime.block_on(async {
        for _ in 0..500 {
            if extensions.views()[0].state == "ready" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the example never got ready");
    });
    group.bench_function("one_call", |b| {
        b.iter(|| {
            let actions = runtime
                .block_on(extensions.call(&calls[0], Some(&events[0])))
                .unwrap();
            assert_eq!(actions.len(), 1);
        })
    });
    group.throughput(Throughput::Elements(4));
    group.bench_function("four_in_flight", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let (a, b, c, d) = tokio::join!(
                    extensions.call(&calls[0], Some(&events[0])),
                    extensions.call(&calls[1], Some(&events[1])),
                    extensions.call(&calls[2], Some(&events[2])),
                    extensions.call(&calls[3], Some(&events[3])),
                );
                for r in [a, b, c, d] {
                    assert_eq!(r.unwrap().len(), 1);
                }
            })
        })
    });
    group.finish();
    shutdown.cancel();
    let view = &extensions.views()[0];
    assert_eq!(view.failed, 0, "{view:?}");
}

criterion_group!(benches, bench);
criterion_main!(benches);
