//! The supervisor and its fence against real child processes (small Python scripts).

use super::stats::Refusal;
use super::{CallError, Extension};
use crate::config::model::{ExtensionDef, ExtensionEffect};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The handshake and a loop calling `answer(request)` for each line; `answer` returns the line to
/// write (or None to stay silent).
const PRELUDE: &str = r#"
import json, sys, time
def main(answer):
    for line in sys.stdin:
        m = json.loads(line)
        if "hello" in m:
            out = {"ready": True}
        else:
            out = answer(m)
        if out is not None:
            sys.stdout.write(out if isinstance(out, str) else json.dumps(out))
            sys.stdout.write("\n")
            sys.stdout.flush()
"#;

/// An answer saying the request's epoch (`e1`, `e2`, ...), so a test sees which life answered.
const SAYS_EPOCH: &str = "{'id': m['id'], 'epoch': m['epoch'], 'effects': [{'type': 'say', 'text': 'e%d' % m['epoch']}]}";

struct Running {
    extension: Extension,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

fn start(body: &str, budget_ms: u64, effects: &[ExtensionEffect]) -> Running {
    start_limited(body, budget_ms, effects, None)
}

/// [`start`] with a CPU-time limit (RLIMIT_CPU, seconds).
fn start_limited(
    body: &str,
    budget_ms: u64,
    effects: &[ExtensionEffect],
    cpu_s: Option<u64>,
) -> Running {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ext.py"), format!("{PRELUDE}\n{body}\n")).unwrap();
    let def = ExtensionDef {
        name: "t".into(),
        enabled: true,
        command: vec!["python3".into(), "ext.py".into()],
        env: vec!["PATH".into()],
        cwd: None,
        budget_ms,
        memory_mb: None,
        cpu_s,
        max_in_flight: 2,
        effects: effects.to_vec(),
    };
    let shutdown = CancellationToken::new();
    let (extension, _task) = Extension::start(
        def,
        dir.path().to_path_buf(),
        Arc::new(AtomicU64::new(1)),
        shutdown.clone(),
    );
    Running {
        extension,
        shutdown,
        _dir: dir,
    }
}

impl Running {
    async fn call(
        &self,
        input: serde_json::Value,
    ) -> Result<Vec<super::protocol::Effect>, CallError> {
        let input = input.as_object().cloned().unwrap_or_default();
        self.extension
            .call(json!({"message_id": "m1"}), "trig", &input)
            .await
    }

    async fn ready(&self) {
        self.until("ready", |_| true).await
    }

    /// Waits until the child is ready again after one more restart than `before` saw, then checks
    /// that the restart raised the epoch by one and that the new child answers a call (a child
    /// started with [`SAYS_EPOCH`] as its answer).
    async fn answers_from_the_next_epoch(&self, before: &super::stats::ExtensionView) {
        self.until("restarted and ready", |now| now.restarts > before.restarts)
            .await;
        let stats = self.extension.stats.view("t");
        assert_eq!(
            (stats.restarts, stats.epoch),
            (before.restarts + 1, before.epoch + 1),
            "{stats:?}"
        );
        let effects = self.call(json!({})).await.unwrap();
        assert_eq!(
            effects,
            [super::protocol::Effect::Say {
                text: format!("e{}", stats.epoch)
            }]
        );
    }

    /// Waits until the extension is ready and `holds` of its counters.
    async fn until(&self, what: &str, holds: impl Fn(&super::stats::ExtensionView) -> bool) {
        let stats = &self.extension.stats;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !(stats.ready.load(Relaxed) && holds(&stats.view("t"))) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the extension never got {what}: {:?}",
                stats.view("t")
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_leaving_three_calls_unanswered_is_restarted_with_a_new_epoch() {
    // A budget a loaded machine starts Python within (it bounds the handshake too).
    let r = start(
        &format!("main(lambda m: None if m['input'].get('mute') else {SAYS_EPOCH})"),
        1500,
        &[ExtensionEffect::Say],
    );
    r.ready().await;
    let before = r.extension.stats.view("t");
    for _ in 0..3 {
        assert_eq!(
            r.call(json!({"mute": true})).await,
            Err(CallError::Timeout(1500))
        );
    }
    r.answers_from_the_next_epoch(&before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_past_its_cpu_limit_is_killed_the_call_fails_and_the_restart_answers() {
    // One CPU second: a call that spins is killed by the kernel (SIGXCPU, then SIGKILL).
    let r = start_limited(
        &format!("main(lambda m: any(iter(int, 1)) if m['input'].get('spin') else {SAYS_EPOCH})"),
        10_000,
        &[ExtensionEffect::Say],
        Some(1),
    );
    r.ready().await;
    let before = r.extension.stats.view("t");
    let spun = r.call(json!({"spin": true})).await;
    assert!(matches!(spun, Err(CallError::Stopped(_))), "{spun:?}");
    r.answers_from_the_next_epoch(&before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_epoch_an_invalid_answer_and_an_unallowed_effect_are_refused_and_counted() {
    let r = start(
        r#"
def answer(m):
    what = m['input'].get('do')
    if what == 'old':
        return {'id': m['id'], 'epoch': m['epoch'] + 7, 'effects': [{'type': 'say', 'text': 'x'}]}
    if what == 'bad':
        return {'id': m['id'], 'effects': [{'type': 'say', 'txt': 'x'}]}
    return {'id': m['id'], 'effects': [{'type': 'say', 'text': 'ok'}, {'type': 'ban'}]}
main(answer)
"#,
        2000,
        &[ExtensionEffect::Say],
    );
    r.ready().await;
    let old = r.call(json!({"do": "old"})).await.unwrap_err();
    assert!(
        matches!(&old, CallError::Refused(why) if why.contains("epoch 8")),
        "{old}"
    );
    let bad = r.call(json!({"do": "bad"})).await.unwrap_err();
    assert!(
        matches!(&bad, CallError::Refused(why) if why.contains("\"/effects/0\"")),
        "{bad}"
    );
    let effects = r.call(json!({})).await.unwrap();
    assert_eq!(
        effects,
        [super::protocol::Effect::Say { text: "ok".into() }],
        "the ban left out"
    );
    let stats = &r.extension.stats;
    assert_eq!(stats.refused(Refusal::OldEpoch), 1);
    assert_eq!(stats.refused(Refusal::Invalid), 1);
    assert_eq!(stats.refused(Refusal::NotAllowed), 1);
    let view = stats.view("t");
    assert_eq!(
        (view.calls, view.answered, view.failed),
        (3, 1, 2),
        "{view:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_max_in_flight_is_refused_at_once() {
    let r = start(
        "main(lambda m: (time.sleep(0.5), {'id': m['id'], 'effects': []})[1])",
        2000,
        &[],
    );
    r.ready().await;
    let (a, b, c) = tokio::join!(r.call(json!({})), r.call(json!({})), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        r.call(json!({})).await
    });
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    assert_eq!(c, Err(CallError::Busy(2)));
    assert_eq!(r.extension.stats.refused(Refusal::Busy), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ready_within_the_budget_is_a_failed_start_and_calls_fail_meanwhile() {
    let r = start("time.sleep(30)", 200, &[]);
    let failed = r.call(json!({})).await.unwrap_err();
    assert!(
        matches!(failed, CallError::Stopped(_) | CallError::Timeout(_)),
        "{failed}"
    );
    let view = r.extension.stats.view("t");
    assert_eq!(view.state, "starting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cancels_the_calls_in_flight_at_once() {
    let r = start(
        "main(lambda m: (time.sleep(5), {'id': m['id'], 'effects': []})[1])",
        10_000,
        &[],
    );
    r.ready().await;
    let started = tokio::time::Instant::now();
    let (result, ()) = tokio::join!(r.call(json!({})), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        r.shutdown.cancel();
    });
    assert_eq!(result, Err(CallError::Cancelled));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn without_an_event_effects_about_its_author_are_set_apart_and_the_rest_kept() {
    use super::protocol::Effect;
    use crate::actions::{Action, ActionKind};
    let call = Action {
        trigger_id: "fact".into(),
        creator: "demo".into(),
        platform: crate::event::Platform::named("sim"),
        message_id: "tick:demo:1700000000000".into(),
        at: chrono::DateTime::from_timestamp_millis(1_700_000_000_000).unwrap(),
        kind: ActionKind::Extension {
            channel: "demo".into(),
            name: "facts".into(),
            input: Default::default(),
        },
        thread: false,
    };
    let (actions, authorless) = super::effects::actions(
        &call,
        None,
        vec![
            Effect::Say { text: "hi".into() },
            Effect::Tally {
                tally: "t".into(),
                amount: None,
            },
            Effect::Ban { reason: None },
        ],
    );
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].trigger_id, "fact/extension");
    assert_eq!(
        actions[0].kind,
        ActionKind::Say {
            channel: "demo".into(),
            text: "hi".into()
        }
    );
    assert_eq!(authorless.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_an_event_sends_null_and_is_answered() {
    let r = start(
        "main(lambda m: {'id': m['id'], 'effects': [{'type': 'say', 'text': 'event is %s' % m['event']}]})",
        2000,
        &[ExtensionEffect::Say],
    );
    r.ready().await;
    let effects = r
        .extension
        .call(serde_json::Value::Null, "fact", &Default::default())
        .await
        .unwrap();
    assert_eq!(
        effects,
        [super::protocol::Effect::Say {
            text: "event is None".into()
        }]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_example_counts_words_in_its_own_state_and_answers_words() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let def = ExtensionDef {
        name: "wordcount".into(),
        enabled: true,
        command: vec!["node".into(), "examples/extensions/wordcount.js".into()],
        env: vec!["PATH".into()],
        cwd: None,
        budget_ms: 5000,
        memory_mb: None,
        cpu_s: None,
        max_in_flight: 4,
        effects: vec![ExtensionEffect::Reply, ExtensionEffect::Tally],
    };
    let shutdown = CancellationToken::new();
    let (extension, _task) = Extension::start(
        def,
        repo.to_path_buf(),
        Arc::new(AtomicU64::new(1)),
        shutdown.clone(),
    );
    let event = |text: &str| {
        json!({"message_id": "m", "text": text,
               "author": {"id": "1", "login": "ann", "display_name": "Ann"}})
    };
    let first = extension
        .call(event("hello there chat"), "words", &Default::default())
        .await
        .unwrap();
    assert_eq!(
        first,
        [super::protocol::Effect::Tally {
            tally: "words".into(),
            amount: Some(3)
        }]
    );
    extension
        .call(event("two more"), "words", &Default::default())
        .await
        .unwrap();
    let asked = extension
        .call(event("!words"), "words", &Default::default())
        .await
        .unwrap();
    assert_eq!(
        asked,
        [super::protocol::Effect::Reply {
            text: "Ann: 5 words so far".into()
        }]
    );
    shutdown.cancel();
}
