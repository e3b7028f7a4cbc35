//! A small builder over `assert_cmd`: a temp runtime root per test, then `ss` run inside it.

#![allow(dead_code)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The repository root (where Cargo.toml, runtime/ and fixtures/ live).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A test's runtime root: a temp dir seeded with the repository's demo `runtime/` (config and version).
pub struct Test {
    dir: tempfile::TempDir,
}

/// What one `ss` invocation produced.
#[derive(Debug)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Test {
    /// A root holding a copy of the demo `runtime/config` and `runtime/version.json`.
    pub fn new() -> Test {
        let test = Test::empty();
        copy_dir(
            &repo().join("runtime/config"),
            &test.path().join("runtime/config"),
        );
        std::fs::copy(
            repo().join("runtime/version.json"),
            test.path().join("runtime/version.json"),
        )
        .expect("copy version.json");
        test
    }

    /// An empty root.
    pub fn empty() -> Test {
        Test {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `rel` under the root, creating directories.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel))
            .unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    /// A command for `ss` with `--root` set to this test's root and the current dir inside it.
    pub fn cmd(&self) -> Command {
        let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("ss");
        cmd.current_dir(self.path())
            .env_remove("SS_ROOT")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .arg("--root")
            .arg(self.path());
        cmd
    }

    /// A plain `std::process::Command` for `ss` (for spawning and signalling a long-running process),
    /// set up like [`Test::cmd`].
    pub fn std_cmd(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ss"));
        cmd.current_dir(self.path())
            .env_remove("SS_ROOT")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .arg("--root")
            .arg(self.path());
        cmd
    }

    /// Runs `ss ARGS` and collects the output.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.cmd().args(args).output().expect("run ss");
        Output {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Output {
    /// stdout with the temp root replaced by `[ROOT]`, for snapshots.
    pub fn stdout_in(&self, test: &Test) -> String {
        self.stdout
            .replace(&test.path().display().to_string(), "[ROOT]")
    }

    pub fn stderr_in(&self, test: &Test) -> String {
        self.stderr
            .replace(&test.path().display().to_string(), "[ROOT]")
    }

    /// Asserts the exit code, printing both streams when it differs.
    #[track_caller]
    pub fn status(&self, want: i32) -> &Output {
        assert_eq!(
            self.status, want,
            "exit code {} (want {want})\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        );
        self
    }
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

impl Test {
    /// Starts `ss ARGS` in this root with piped stdout and stderr, without waiting for it. The
    /// process is killed if the test ends (or panics) while it still runs.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        Spawned(Some(
            self.std_cmd()
                .args(args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("starting ss"),
        ))
    }
}

/// `ss -vv run` whose stderr a thread drains: debug logs are long enough to fill a pipe and stall it.
pub struct VerboseRun {
    child: Spawned,
    stderr: std::thread::JoinHandle<String>,
}

impl Test {
    /// Starts `ss -vv run` in this root with exactly the given extra environment.
    pub fn spawn_verbose_run(&self, env: &[(&str, &str)]) -> VerboseRun {
        let mut child = self
            .std_cmd()
            .args(["-vv", "run"])
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starting ss run");
        let mut pipe = child.stderr.take().expect("stderr is piped");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
            text
        });
        VerboseRun {
            child: Spawned::from(child),
            stderr,
        }
    }
}

impl VerboseRun {
    /// Sends `signal_name` (`TERM`, `INT`, `KILL`) and waits: the exit code and all of stderr.
    pub async fn stop_with(self, signal_name: &str) -> (Option<i32>, String) {
        let mut child = self.child.into_inner();
        signal(&child, signal_name);
        let stderr = self.stderr;
        tokio::task::spawn_blocking(move || {
            let status = child.wait().expect("waiting for ss");
            (status.code(), stderr.join().expect("stderr reader"))
        })
        .await
        .expect("joining the wait")
    }
}

/// A running `ss` whose stderr a thread reads line by line (and keeps draining), so a test can wait
/// for a log line that marks a condition (the hot-reload watcher watching) instead of sleeping.
pub struct LoggedRun {
    pub child: Spawned,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Test {
    /// Starts `ss ARGS` with stdout discarded and stderr read by a thread.
    pub fn spawn_logged(&self, args: &[&str]) -> LoggedRun {
        let mut child = self
            .std_cmd()
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starting ss");
        let pipe = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(pipe)).map_while(Result::ok)
            {
                // Nobody listening any more: keep draining so the process never blocks on stderr.
                let _ = tx.send(line);
            }
        });
        LoggedRun {
            child: Spawned::from(child),
            lines,
        }
    }
}

impl LoggedRun {
    /// Waits for a stderr line containing `needle`; fails after `limit` with what was logged.
    pub fn wait_for_line(&self, needle: &str, limit: Duration) -> String {
        let deadline = std::time::Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!(
                    "no log line with {needle:?} within {limit:?}; stderr so far:\n{}",
                    seen.join("\n")
                ),
            }
        }
    }
}

/// How often the waits below look again.
const POLL: Duration = Duration::from_millis(20);

/// Polls `found` (from synchronous code) until it gives a value; after `limit`, fails with what
/// `explain` says (called only then, so it may dump state). Every synchronous wait of the suite is
/// this one.
pub fn wait_for_explained<T>(
    limit: Duration,
    found: impl FnMut() -> Option<T>,
    explain: impl FnOnce() -> String,
) -> T {
    sample_every(POLL, limit, found, explain)
}

/// [`wait_for_explained`] looking every `period`: for a measurement that samples at its own pace.
pub fn sample_every<T>(
    period: Duration,
    limit: Duration,
    mut found: impl FnMut() -> Option<T>,
    explain: impl FnOnce() -> String,
) -> T {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(value) = found() {
            return value;
        }
        if std::time::Instant::now() >= deadline {
            panic!("timed out after {limit:?}: {}", explain());
        }
        std::thread::sleep(period);
    }
}

/// Polls `found` (from synchronous code) until it gives a value; fails naming `what` after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, found: impl FnMut() -> Option<T>) -> T {
    wait_for_explained(limit, found, || format!("waiting for {what}"))
}

/// Polls `ok` (from synchronous code) until it holds; fails naming `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    wait_for(what, limit, || ok().then_some(()))
}

/// Rows of `sql` (a `SELECT count(*)`) in the store below `root`, read-only; 0 while there is no
/// store yet or it is busy.
pub fn store_count(root: &Path, sql: &str) -> i64 {
    let path = root.join("runtime/state/streamsuites.db");
    rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|conn| conn.query_row(sql, [], |r| r.get(0)))
        .unwrap_or(0)
}

/// The log line `ss run` writes once the hot-reload watcher sees every change.
pub const WATCHING: &str = "Watching the config directory for changes";

/// Polls the future `found` makes until it gives a value; after `limit`, fails with what `explain`
/// says (called only then). Every asynchronous wait of the suite is this one (paused tokio time
/// included).
pub async fn until_found_explained<T, F>(
    limit: Duration,
    mut found: impl FnMut() -> F,
    explain: impl FnOnce() -> String,
) -> T
where
    F: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = found().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {limit:?}: {}", explain());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Polls the future `found` makes until it gives a value; fails naming `what` after `limit`.
pub async fn until_found<T, F>(what: &str, limit: Duration, found: impl FnMut() -> F) -> T
where
    F: std::future::Future<Output = Option<T>>,
{
    until_found_explained(limit, found, || format!("waiting for {what}")).await
}

/// Polls `found` until it gives a value; fails naming `what` after `limit`.
pub async fn until_some<T>(what: &str, limit: Duration, mut found: impl FnMut() -> Option<T>) -> T {
    until_found(what, limit, || std::future::ready(found())).await
}

/// Polls `ok` until it holds; fails the test naming `what` after `limit`.
pub async fn until_within(limit: Duration, what: &str, mut ok: impl FnMut() -> bool) {
    until_some(what, limit, || ok().then_some(())).await
}

/// A running `ss` that a failing test cannot leave behind.
pub struct Spawned(Option<std::process::Child>);

impl From<std::process::Child> for Spawned {
    fn from(child: std::process::Child) -> Spawned {
        Spawned(Some(child))
    }
}

impl Spawned {
    /// The process, no longer killed on drop (the caller waits for it).
    pub fn into_inner(mut self) -> std::process::Child {
        self.0.take().expect("a spawned process")
    }
}

impl std::ops::Deref for Spawned {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        self.0.as_ref().expect("a spawned process")
    }
}

impl std::ops::DerefMut for Spawned {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("a spawned process")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0
            && child.try_wait().ok().flatten().is_none()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends signal `name` (`INT`, `TERM`, ...) to a running `ss`.
pub fn signal(child: &std::process::Child, name: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("running kill")
        .success();
    assert!(ok, "kill -{name} failed");
}

/// Waits (up to 30 s) until `child` has installed its own handler for signal number `signo`
/// (Linux: its bit in `SigCgt` of `/proc/PID/status`). A signal sent before that point meets the
/// default action, which no program can change before its code runs; tests of "a signal at any
/// moment" count their moments from here.
pub fn wait_until_catching(child: &std::process::Child, signo: u32) {
    let status = format!("/proc/{}/status", child.id());
    wait_until(
        &format!(
            "process {} to install a handler for signal {signo}",
            child.id()
        ),
        Duration::from_secs(30),
        || {
            std::fs::read_to_string(&status)
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("SigCgt:"))
                        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
                })
                .is_some_and(|mask| mask & (1 << (signo - 1)) != 0)
        },
    );
}

impl Test {
    /// The demo root with exports every 0.5 s (so tests see them quickly) and, when given, the sim
    /// source at `rate` events/s instead of the demo's 20.
    pub fn fast_demo(rate: Option<u32>) -> Test {
        let t = Test::new();
        if let Some(rate) = rate {
            let creators = t
                .read("runtime/config/creators.json")
                .replace("\"rate_per_s\": 20", &format!("\"rate_per_s\": {rate}"));
            t.write("runtime/config/creators.json", &creators);
        }
        let system = t
            .read("runtime/config/system.json")
            .replace("\"cadence_s\": 5", "\"cadence_s\": 0.5");
        t.write("runtime/config/system.json", &system);
        t
    }
}

/// Waits for `child` to exit and returns its status; kills it and fails after `limit`.
pub fn exit_within(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    wait_for("ss to exit", limit, || {
        let status = child.try_wait().expect("waiting for ss");
        if status.is_none() && std::time::Instant::now() + POLL >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ss did not exit within {limit:?}");
        }
        status
    })
}

/// Waits for `child` to exit and returns its exit code; kills it and fails after `limit`.
pub fn exit_code_within(child: &mut std::process::Child, limit: Duration) -> i32 {
    exit_within(child, limit).code().unwrap_or(-1)
}

/// Every file below `dir` (none when it does not exist), for checks over whole export trees.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}
