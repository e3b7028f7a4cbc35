//! Running `ss` as a service: under a `Type=notify` unit `ss run` tells a (fake) service manager
//! READY=1 once its sources started, pings WATCHDOG=1 at half the watchdog timeout while it runs,
//! and says STOPPING=1 at SIGTERM; and the recipes the README documents (the systemd unit, the
//! Dockerfile, the compose file, the pre-commit hook) exist and parse, with `systemd-analyze
//! verify` on the unit where it is installed.

use crate::harness::{Test, exit_code_within, repo, signal, wait_until_catching};
use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The datagrams received, with when.
type Received = Arc<Mutex<Vec<(Instant, String)>>>;

fn listen(socket: UnixDatagram) -> Received {
    let received: Received = Arc::default();
    let sink = received.clone();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Ends when the test drops the Arc's other half and the socket stays quiet.
        while Arc::strong_count(&sink) > 1 {
            if let Ok(n) = socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                sink.lock().unwrap().push((Instant::now(), text));
            }
        }
    });
    received
}

fn has(message: &str, key: &str) -> bool {
    message.lines().any(|l| l == key)
}

fn wait_for(received: &Received, what: &str, ok: impl Fn(&[(Instant, String)]) -> bool) {
    crate::harness::wait_until(what, Duration::from_secs(30), || {
        ok(&received.lock().unwrap())
    });
}

#[test]
fn under_a_notify_unit_ss_run_says_ready_pings_the_watchdog_and_says_stopping() {
    let t = Test::fast_demo(None);
    let path = t.path().join("notify.sock");
    let received = listen(UnixDatagram::bind(&path).unwrap());
    let watchdog = Duration::from_secs(4);
    let mut child = t
        .std_cmd()
        .args(["run"])
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", watchdog.as_micros().to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&received, "READY=1 and three watchdog pings", |r| {
        r.iter().filter(|(_, m)| has(m, "WATCHDOG=1")).count() >= 3
    });
    wait_until_catching(&child, 15);
    signal(&child, "TERM");
    assert_eq!(exit_code_within(&mut child, Duration::from_secs(30)), 0);
    wait_for(&received, "STOPPING=1", |r| {
        r.iter().any(|(_, m)| has(m, "STOPPING=1"))
    });

    let got = received.lock().unwrap().clone();
    let (_, first) = &got[0];
    assert!(has(first, "READY=1"), "READY=1 comes first: {got:?}");
    assert!(first.lines().any(|l| l.starts_with("STATUS=")), "{first}");
    assert_eq!(
        got.iter().filter(|(_, m)| has(m, "READY=1")).count(),
        1,
        "{got:?}"
    );
    // Pings at half the timeout: never as late as the timeout itself, which would fail the unit.
    let pings: Vec<Instant> = got
        .iter()
        .filter(|(_, m)| has(m, "WATCHDOG=1"))
        .map(|(at, _)| *at)
        .collect();
    for pair in pings.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap < watchdog,
            "a watchdog ping came {gap:?} after the last"
        );
    }
    let stopping = got.iter().position(|(_, m)| has(m, "STOPPING=1")).unwrap();
    assert!(stopping > 0);
}

/// `KEY=VALUE` lines of one `[Section]` of a unit file (a key set twice keeps both values).
fn unit_section(text: &str, section: &str) -> BTreeMap<String, Vec<String>> {
    let mut current = String::new();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_owned();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not KEY=VALUE in the unit: {line:?}"));
        if current == section {
            out.entry(key.trim().to_owned())
                .or_default()
                .push(value.trim().to_owned());
        }
    }
    out
}

#[test]
fn the_systemd_unit_is_a_hardened_notify_service_that_systemd_accepts() {
    let text = std::fs::read_to_string(repo().join("deploy/systemd/ss.service")).unwrap();
    let service = unit_section(&text, "Service");
    let one = |key: &str| {
        service
            .get(key)
            .and_then(|v| v.last())
            .unwrap_or_else(|| panic!("{key} missing"))
            .as_str()
    };
    assert_eq!(one("Type"), "notify");
    assert_eq!(one("Restart"), "on-failure");
    assert_eq!(one("ProtectSystem"), "strict");
    assert_eq!(one("NoNewPrivileges"), "true");
    assert_eq!(one("StandardError"), "journal");
    assert!(one("WatchdogSec").ends_with('s'));
    let root = one("ReadWritePaths");
    assert!(
        one("ExecStart").contains(&format!("--root {root} run")),
        "the writable path is the runtime root"
    );
    assert!(unit_section(&text, "Install").contains_key("WantedBy"));

    let Ok(analyze) = which("systemd-analyze") else {
        eprintln!(
            "SKIPPED systemd-analyze verify: systemd-analyze is not installed (apt-get install systemd)"
        );
        return;
    };
    // The unit as installed, pointing at this build and a root that exists here.
    let t = Test::empty();
    let local = text
        .replace("/usr/local/bin/ss", env!("CARGO_BIN_EXE_ss"))
        .replace(root, &t.path().display().to_string())
        .replace("User=streamsuites", "User=root")
        .replace("Group=streamsuites", "Group=root");
    let unit = t.path().join("ss.service");
    std::fs::write(&unit, local).unwrap();
    let out = std::process::Command::new(analyze)
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .ok_or(())
}

/// A Dockerfile's instructions: (keyword, arguments), continuation lines joined.
fn dockerfile(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if pending.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let (keyword, args) = pending
            .split_once(char::is_whitespace)
            .unwrap_or((&pending, ""));
        let keyword = keyword.to_ascii_uppercase();
        assert!(
            [
                "FROM",
                "RUN",
                "COPY",
                "USER",
                "WORKDIR",
                "VOLUME",
                "ENV",
                "EXPOSE",
                "STOPSIGNAL",
                "HEALTHCHECK",
                "ENTRYPOINT",
                "CMD",
                "ARG",
                "LABEL"
            ]
            .contains(&keyword.as_str()),
            "unknown Dockerfile instruction {keyword}"
        );
        out.push((keyword, args.trim().to_owned()));
        pending.clear();
    }
    assert!(
        pending.is_empty(),
        "a continuation line ends the Dockerfile"
    );
    out
}

#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_slim_as_a_non_root_user() {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let steps = dockerfile(&text);
    let stages: Vec<&str> = steps
        .iter()
        .filter(|(k, _)| k == "FROM")
        .map(|(_, args)| args.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(stages, ["build", "runtime"], "the stages, by name");
    let runtime_from = steps.iter().filter(|(k, _)| k == "FROM").nth(1).unwrap();
    assert!(runtime_from.1.contains("-slim"), "{runtime_from:?}");
    let runtime: Vec<&(String, String)> = steps
        .iter()
        .skip_while(|(k, a)| !(k == "FROM" && a.ends_with("runtime")))
        .collect();
    let arg = |key: &str| {
        runtime
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, a)| a.as_str())
            .unwrap_or_else(|| panic!("no {key} in the runtime stage"))
    };
    assert!(arg("RUN").contains("ffmpeg"));
    assert!(
        !["root", "0"].contains(&arg("USER")),
        "runs as a non-root user"
    );
    assert!(arg("VOLUME").contains("/data"));
    assert!(arg("HEALTHCHECK").contains("\"ss\", \"status\""));
    assert_eq!(arg("STOPSIGNAL"), "SIGTERM");
    assert!(arg("COPY").contains("--from=build"));

    // compose.yaml runs it with the root as a volume and the local server's port on loopback.
    let compose = std::fs::read_to_string(repo().join("compose.yaml")).unwrap();
    assert!(compose.contains("build: ."), "{compose}");
    assert!(compose.contains(":/data"), "{compose}");
    assert!(compose.contains("\"127.0.0.1:8765:8765\""), "{compose}");
}

#[test]
fn the_pre_commit_hook_runs_validate_config() {
    let text = std::fs::read_to_string(repo().join(".pre-commit-hooks.yaml")).unwrap();
    // One hook: a YAML list item with its keys at one indentation.
    let mut hook: BTreeMap<&str, &str> = BTreeMap::new();
    let mut items = 0;
    for line in text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
    {
        let entry = match line.strip_prefix("- ") {
            Some(rest) => {
                items += 1;
                rest
            }
            None => line
                .strip_prefix("  ")
                .unwrap_or_else(|| panic!("unexpected line {line:?}")),
        };
        let (key, value) = entry.split_once(": ").expect("key: value");
        hook.insert(key, value);
    }
    assert_eq!(items, 1);
    assert_eq!(hook["id"], "ss-validate-config");
    assert_eq!(hook["entry"], "ss validate-config");
    assert_eq!(hook["language"], "rust");
    assert_eq!(hook["pass_filenames"], "false");
    for key in ["name", "description", "files"] {
        assert!(hook.contains_key(key), "{key}");
    }
}
