//! One extension's supervisor: a task that owns the child, writes the handshake and the calls,
//! reads the answers and holds the fence.
//!
//! The child is started, greeted (`{"hello": ...}`) and must answer `{"ready": true}` within its
//! budget. Each call goes out with an id, the epoch and its deadline; the answer is matched by id.
//! The supervisor alone decides an answer's fate: after its deadline it is refused as late (the
//! caller has already been told the call failed), with an older epoch as old, when it fits no
//! schema as invalid. Three calls in a row without an answer in time mean the child hangs: it is
//! killed and restarted. A child that exits (past its memory or CPU limit, or a crash) is
//! restarted with backoff; every start raises the epoch. At shutdown every call in flight is
//! failed at once and the child is killed, so nothing it says afterwards is read.

use super::child;
use super::protocol::{self, Hello, HelloBody, Request};
use super::stats::{Refusal, Stats};
use crate::backoff::Backoff;
use crate::config::model::ExtensionDef;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Calls in a row without an answer in time after which the child counts as hung.
pub const HUNG_AFTER: u32 = 3;
/// Ids of calls that timed out, remembered so their late answers are told from unknown ones.
const EXPIRED_KEPT: usize = 256;
/// Lines read ahead of the supervisor. Policy when full: the reader waits (the pipe fills and the
/// child blocks writing), so a chatty child is slowed, never buffered without bound.
const LINES_AHEAD: usize = 16;

/// Why a call got no effects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("no extension {0:?} is running")]
    Unknown(String),
    #[error("{0} calls are already in flight")]
    Busy(u32),
    #[error("no answer within {0} ms")]
    Timeout(u64),
    #[error("the answer was refused: {0}")]
    Refused(String),
    #[error("the extension answered an error: {0}")]
    Answered(String),
    #[error("the extension stopped before answering: {0}")]
    Stopped(String),
    #[error("cancelled: shutdown began")]
    Cancelled,
}

/// A call waiting to be written.
struct Queued {
    id: u64,
    event: serde_json::Value,
    trigger: String,
    input: serde_json::Map<String, serde_json::Value>,
    deadline: Instant,
    reply: oneshot::Sender<Result<protocol::Answer, CallError>>,
}

struct Pending {
    deadline: Instant,
    reply: oneshot::Sender<Result<protocol::Answer, CallError>>,
}

/// A running extension: its declaration, counters and the way to call it.
#[derive(Clone)]
pub struct Extension {
    pub def: Arc<ExtensionDef>,
    pub stats: Arc<Stats>,
    calls: mpsc::Sender<Queued>,
    ids: Arc<std::sync::atomic::AtomicU64>,
    shutdown: CancellationToken,
}

/// Decrements the in-flight count when a call ends, however it ends.
struct InFlight(Arc<Stats>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

impl Extension {
    /// Starts `def`'s supervisor on the current runtime; it ends at `shutdown`.
    pub fn start(
        def: ExtensionDef,
        root: PathBuf,
        ids: Arc<std::sync::atomic::AtomicU64>,
        shutdown: CancellationToken,
    ) -> (Extension, tokio::task::JoinHandle<()>) {
        let def = Arc::new(def);
        let stats = Arc::new(Stats::default());
        let (calls, rx) = mpsc::channel(def.max_in_flight as usize);
        let task = tokio::spawn(supervise(
            def.clone(),
            root,
            stats.clone(),
            rx,
            shutdown.clone(),
        ));
        (
            Extension {
                def,
                stats,
                calls,
                ids,
                shutdown,
            },
            task,
        )
    }

    /// Calls the extension; the answer's effects, or why there are none. Effects outside the
    /// declaration's `effects` are left out of the answer here and counted as refused.
    pub async fn call(
        &self,
        event: serde_json::Value,
        trigger: &str,
        input: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Vec<protocol::Effect>, CallError> {
        let stats = &self.stats;
        stats.calls.fetch_add(1, Relaxed);
        let result = match self.call_inner(event, trigger, input).await {
            // The fence: nothing answered after shutdown began goes on.
            Ok(_) if self.shutdown.is_cancelled() => {
                stats.refuse(
                    &self.def.name,
                    Refusal::AfterShutdown,
                    "answered after shutdown began",
                );
                Err(CallError::Cancelled)
            }
            result => result,
        };
        match &result {
            Ok(_) => {
                stats.answered.fetch_add(1, Relaxed);
            }
            Err(CallError::Answered(_)) => {
                stats.errors.fetch_add(1, Relaxed);
            }
            Err(e) => {
                stats.failed.fetch_add(1, Relaxed);
                stats.set_error(e.to_string());
            }
        }
        let answer = result?;
        let (allowed, refused): (Vec<_>, Vec<_>) = answer
            .effects
            .unwrap_or_default()
            .into_iter()
            .partition(|e| self.def.effects.contains(&e.kind()));
        for effect in &refused {
            stats.refuse(
                &self.def.name,
                Refusal::NotAllowed,
                &format!(
                    "effect {:?} is not in its \"effects\" in extensions.json",
                    effect.kind().name()
                ),
            );
        }
        Ok(allowed)
    }

    async fn call_inner(
        &self,
        event: serde_json::Value,
        trigger: &str,
        input: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<protocol::Answer, CallError> {
        let stats = &self.stats;
        let max = self.def.max_in_flight;
        if stats.in_flight.fetch_add(1, Relaxed) >= max {
            stats.in_flight.fetch_sub(1, Relaxed);
            stats.refuse(
                &self.def.name,
                Refusal::Busy,
                &format!("{max} calls were already in flight (max_in_flight)"),
            );
            return Err(CallError::Busy(max));
        }
        let _in_flight = InFlight(stats.clone());
        let budget = Duration::from_millis(self.def.budget_ms);
        let deadline = Instant::now() + budget;
        let (reply, answer) = oneshot::channel();
        let queued = Queued {
            id: self.ids.fetch_add(1, Relaxed),
            event,
            trigger: trigger.to_string(),
            input: input.clone(),
            deadline,
            reply,
        };
        if self.calls.try_send(queued).is_err() {
            return Err(CallError::Stopped("its supervisor has stopped".into()));
        }
        // The supervisor answers every call by its deadline; this is only a backstop.
        match tokio::time::timeout_at(deadline + Duration::from_secs(1), answer).await {
            Ok(Ok(result)) => {
                let answer = result?;
                if let Some(error) = answer.error {
                    return Err(CallError::Answered(error));
                }
                Ok(answer)
            }
            Ok(Err(_)) => Err(CallError::Stopped("its supervisor has stopped".into())),
            Err(_) => Err(CallError::Timeout(self.def.budget_ms)),
        }
    }
}

/// How one child's life ended.
enum Ended {
    Shutdown,
    /// It must be restarted: why.
    Failed(String),
}

async fn supervise(
    def: Arc<ExtensionDef>,
    root: PathBuf,
    stats: Arc<Stats>,
    mut calls: mpsc::Receiver<Queued>,
    shutdown: CancellationToken,
) {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
    let mut epoch = 0u64;
    loop {
        epoch += 1;
        stats.epoch.store(epoch, Relaxed);
        if epoch > 1 {
            stats.restarts.fetch_add(1, Relaxed);
        }
        let started = Instant::now();
        let ended = life(&def, &root, epoch, &stats, &mut calls, &shutdown).await;
        stats.ready.store(false, Relaxed);
        let why = match ended {
            Ended::Shutdown => break,
            Ended::Failed(why) => why,
        };
        if started.elapsed() > Duration::from_secs(60) {
            backoff.reset();
        }
        let delay = backoff.next_delay();
        tracing::warn!(
            extension = %def.name,
            epoch,
            retry_in_ms = delay.as_millis() as u64,
            "Extension stopped: {why}; restarting it."
        );
        stats.set_error(why);
        // Calls made meanwhile wait in the queue; those whose deadline passes are failed.
        let wake = Instant::now() + delay;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep_until(wake) => break,
                Some(call) = calls.recv() => {
                    let _ = call.reply.send(Err(CallError::Stopped(format!("restarting after: {}", stats.view(&def.name).last_error.unwrap_or_default()))));
                }
            }
        }
        if shutdown.is_cancelled() {
            break;
        }
    }
    calls.close();
    while let Ok(call) = calls.try_recv() {
        let _ = call.reply.send(Err(CallError::Cancelled));
    }
}

/// Reads the child's stdout as lines of at most [`protocol::MAX_LINE_BYTES`]; an over-long line
/// ends the stream with an error.
async fn read_lines(
    stdout: tokio::process::ChildStdout,
    lines: mpsc::Sender<Result<String, String>>,
) {
    let mut reader = BufReader::new(stdout);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let limit = (protocol::MAX_LINE_BYTES + 1) as u64;
        let read = tokio::io::AsyncReadExt::take(&mut reader, limit)
            .read_until(b'\n', &mut buf)
            .await;
        let item = match read {
            Ok(0) | Err(_) => return,
            Ok(_) if buf.last() != Some(&b'\n') && buf.len() > protocol::MAX_LINE_BYTES => {
                Err(format!(
                    "wrote a line longer than {} bytes",
                    protocol::MAX_LINE_BYTES
                ))
            }
            Ok(_) => Ok(String::from_utf8_lossy(&buf).trim_end().to_string()),
        };
        let stop = item.is_err();
        if lines.send(item).await.is_err() || stop {
            return;
        }
    }
}

/// One life of the child: start, handshake, serve calls until it fails or shutdown.
async fn life(
    def: &ExtensionDef,
    root: &std::path::Path,
    epoch: u64,
    stats: &Stats,
    calls: &mut mpsc::Receiver<Queued>,
    shutdown: &CancellationToken,
) -> Ended {
    if shutdown.is_cancelled() {
        return Ended::Shutdown;
    }
    let child::Started {
        mut child,
        mut stdin,
        stdout,
    } = match child::spawn(def, root) {
        Ok(started) => started,
        Err(e) => {
            return Ended::Failed(format!(
                "could not start {:?}: {e}; check \"command\" and \"cwd\" in extensions.json",
                def.command.join(" ")
            ));
        }
    };
    let (lines_tx, mut lines) = mpsc::channel(LINES_AHEAD);
    tokio::spawn(read_lines(stdout, lines_tx));
    let budget = Duration::from_millis(def.budget_ms);

    // The handshake, within the budget.
    let hello = Hello {
        hello: HelloBody {
            protocol: protocol::PROTOCOL,
            name: &def.name,
            effects_allowed: &def.effects,
        },
    };
    let greeted = async {
        write_line(
            &mut stdin,
            &serde_json::to_string(&hello).unwrap_or_default(),
        )
        .await?;
        match lines.recv().await {
            Some(Ok(line)) => protocol::decode_ready(&line)
                .map_err(|e| format!("its first line was not {{\"ready\": true}}: {e}")),
            Some(Err(e)) => Err(e),
            None => Err("it closed its stdout before answering the hello".into()),
        }
    };
    tokio::select! {
        () = shutdown.cancelled() => return Ended::Shutdown,
        done = tokio::time::timeout(budget, greeted) => match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Ended::Failed(format!("handshake failed: {e}")),
            Err(_) => return Ended::Failed(format!("no {{\"ready\": true}} within {} ms of the hello", def.budget_ms)),
        }
    }
    stats.ready.store(true, Relaxed);
    tracing::info!(extension = %def.name, epoch, "Extension ready.");

    let mut pending: HashMap<u64, Pending> = HashMap::new();
    let mut expired: (VecDeque<u64>, HashSet<u64>) = Default::default();
    let mut unanswered = 0u32;
    let fail_all = |pending: &mut HashMap<u64, Pending>, error: CallError| {
        for (_, p) in pending.drain() {
            let _ = p.reply.send(Err(error.clone()));
        }
    };
    let ended = loop {
        let next_deadline = pending.values().map(|p| p.deadline).min();
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                fail_all(&mut pending, CallError::Cancelled);
                break Ended::Shutdown;
            }
            line = lines.recv() => match line {
                None => {
                    let status = match tokio::time::timeout(Duration::from_secs(1), child.wait()).await {
                        Ok(Ok(status)) => describe(status),
                        _ => "it closed its stdout".into(),
                    };
                    let why = format!("it exited ({status})");
                    fail_all(&mut pending, CallError::Stopped(why.clone()));
                    break Ended::Failed(why);
                }
                Some(Err(why)) => {
                    stats.refuse(&def.name, Refusal::Invalid, &why);
                    fail_all(&mut pending, CallError::Stopped(why.clone()));
                    break Ended::Failed(why);
                }
                Some(Ok(line)) => {
                    if line.is_empty() {
                        continue;
                    }
                    if take_answer(def, epoch, stats, &line, &mut pending, &expired.1) {
                        unanswered = 0;
                    }
                }
            },
            Some(call) = calls.recv() => {
                let now = Instant::now();
                if call.deadline <= now {
                    let _ = call.reply.send(Err(CallError::Timeout(def.budget_ms)));
                    continue;
                }
                let request = Request {
                    id: call.id,
                    epoch,
                    deadline_ms: (call.deadline - now).as_millis().max(1) as u64,
                    event: &call.event,
                    trigger: &call.trigger,
                    input: &call.input,
                };
                let line = serde_json::to_string(&request).unwrap_or_default();
                // A child that does not read its stdin cannot hold the supervisor past the call's
                // deadline.
                match tokio::time::timeout_at(call.deadline, write_line(&mut stdin, &line)).await {
                    Ok(Ok(())) => {
                        pending.insert(call.id, Pending { deadline: call.deadline, reply: call.reply });
                    }
                    Ok(Err(e)) => {
                        let why = format!("writing a call failed: {e}");
                        let _ = call.reply.send(Err(CallError::Stopped(why.clone())));
                        fail_all(&mut pending, CallError::Stopped(why.clone()));
                        break Ended::Failed(why);
                    }
                    Err(_) => {
                        let why = "it stopped reading its stdin".to_string();
                        let _ = call.reply.send(Err(CallError::Timeout(def.budget_ms)));
                        fail_all(&mut pending, CallError::Stopped(why.clone()));
                        break Ended::Failed(why);
                    }
                }
            }
            () = sleep_until(next_deadline), if next_deadline.is_some() => {
                let now = Instant::now();
                let due: Vec<u64> = pending.iter().filter(|(_, p)| p.deadline <= now).map(|(id, _)| *id).collect();
                unanswered += due.len() as u32;
                let hung = unanswered >= HUNG_AFTER;
                if hung {
                    // Not ready from before its callers hear of the timeout.
                    stats.ready.store(false, Relaxed);
                }
                for id in due {
                    if let Some(p) = pending.remove(&id) {
                        let _ = p.reply.send(Err(CallError::Timeout(def.budget_ms)));
                    }
                    if expired.0.len() == EXPIRED_KEPT && let Some(old) = expired.0.pop_front() {
                        expired.1.remove(&old);
                    }
                    expired.0.push_back(id);
                    expired.1.insert(id);
                }
                if hung {
                    let why = format!("it hangs: {unanswered} calls in a row got no answer within {} ms", def.budget_ms);
                    fail_all(&mut pending, CallError::Stopped(why.clone()));
                    break Ended::Failed(why);
                }
            }
        }
    };
    // Killed at once, so nothing it writes from now on is read; reaped in the background.
    let _ = child.start_kill();
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    ended
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn write_line(stdin: &mut tokio::process::ChildStdin, line: &str) -> Result<(), String> {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    stdin.write_all(&bytes).await.map_err(|e| e.to_string())?;
    stdin.flush().await.map_err(|e| e.to_string())
}

/// How a child ended, in words (the signal that killed it, when one did).
fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!(
            "killed by signal {signal}{}",
            match signal {
                9 => " (SIGKILL: past its CPU limit, or killed)",
                24 => " (SIGXCPU: past its CPU limit)",
                11 => " (SIGSEGV)",
                _ => "",
            }
        ),
        _ => "ended".into(),
    }
}

/// Handles one line from the child; whether it answered a call in time.
fn take_answer(
    def: &ExtensionDef,
    epoch: u64,
    stats: &Stats,
    line: &str,
    pending: &mut HashMap<u64, Pending>,
    expired: &HashSet<u64>,
) -> bool {
    let answer = match protocol::decode_answer(line) {
        Ok(answer) => answer,
        Err(bad) => {
            stats.refuse(&def.name, Refusal::Invalid, &bad.to_string());
            if let Some(p) = bad.id.and_then(|id| pending.remove(&id)) {
                let _ = p.reply.send(Err(CallError::Refused(bad.to_string())));
            }
            return false;
        }
    };
    if let Some(old) = answer.epoch.filter(|e| *e != epoch) {
        let why = format!("it carries epoch {old}, the running child's is {epoch}");
        stats.refuse(&def.name, Refusal::OldEpoch, &why);
        if let Some(p) = pending.remove(&answer.id) {
            let _ = p.reply.send(Err(CallError::Refused(why)));
        }
        return false;
    }
    match pending.remove(&answer.id) {
        Some(p) if Instant::now() > p.deadline => {
            let why = format!("call {} answered after its deadline", answer.id);
            stats.refuse(&def.name, Refusal::Late, &why);
            let _ = p.reply.send(Err(CallError::Refused(why)));
            false
        }
        Some(p) => {
            stats.taken();
            let _ = p.reply.send(Ok(answer));
            true
        }
        None if expired.contains(&answer.id) => {
            stats.refuse(
                &def.name,
                Refusal::Late,
                &format!("call {} answered after its deadline", answer.id),
            );
            false
        }
        None => {
            stats.refuse(
                &def.name,
                Refusal::UnknownId,
                &format!("no call {} is waiting", answer.id),
            );
            false
        }
    }
}
