//! `ss validate-config`: the shipped config, every invalid fixture, JSON output, usage errors.

use crate::harness::{Test, repo};

#[test]
fn shipped_demo_config_is_valid() {
    let t = Test::new();
    let out = t.run(&["validate-config"]);
    out.status(0);
    assert_eq!(out.stdout, "ok: 8 config files valid\n");
}

#[test]
fn valid_fixtures_are_valid() {
    let t = Test::new();
    let dir = repo().join("fixtures/config/valid");
    let mut args = vec!["validate-config".to_string()];
    for entry in std::fs::read_dir(&dir).unwrap() {
        args.push(entry.unwrap().path().display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    t.run(&args).status(0);
}

/// Every invalid fixture fails alone with exit 1, naming file:line:column and a pointer.
#[test]
fn every_invalid_fixture_is_reported_with_its_location() {
    let t = Test::new();
    let dir = repo().join("fixtures/config/invalid");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 15, "fixtures missing: {names:?}");
    let mut transcript = String::new();
    for name in &names {
        let rel = format!("fixtures/config/invalid/{name}");
        let out = t
            .cmd()
            .current_dir(repo())
            .args(["validate-config", &rel])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{name}: {stdout}");
        let first = stdout.lines().next().unwrap_or_default();
        let prefix = format!("{rel}:");
        assert!(first.starts_with(&prefix), "{name}: {first}");
        let mut parts = first[prefix.len()..].splitn(3, ':');
        let line: usize = parts.next().unwrap().parse().unwrap();
        let column: usize = parts.next().unwrap().parse().unwrap();
        assert!(line >= 1 && column >= 1);
        assert!(
            parts.next().unwrap().trim_start().starts_with('/'),
            "{first}"
        );
        transcript.push_str(&format!("$ ss validate-config {rel}\n{stdout}\n"));
    }
    insta::assert_snapshot!("invalid_fixtures", transcript);
}

#[test]
fn malformed_json_names_the_syntax_error_position() {
    let t = Test::new();
    t.write(
        "runtime/config/system.json",
        "{\n  \"exports\": {\n    \"cadence_s\": 5,,\n  }\n}\n",
    );
    let out = t.run(&["validate-config"]);
    out.status(1);
    assert!(
        out.stdout
            .contains("runtime/config/system.json:3:20: /: malformed JSON"),
        "{}",
        out.stdout
    );
}

#[test]
fn reports_every_error_not_only_the_first() {
    let t = Test::new();
    t.write(
        "runtime/config/triggers.json",
        r#"{"triggers": {"demo": [
  {"id": "a", "kind": "regex", "pattern": "(", "action": {"type": "reply", "template": "x"}},
  {"id": "a", "kind": "command", "command": "!a", "action": {"type": "reply", "template": "x"}},
  {"id": "b", "kind": "keyword", "keywords": ["x"], "platforms": ["kick", "rumble"], "action": {"type": "tally", "tally": "t"}}
]}}"#,
    );
    let out = t.run(&["validate-config", "--format", "json"]);
    out.status(1);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["valid"], false);
    let errors = doc["errors"].as_array().unwrap();
    let pointers: Vec<&str> = errors
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(
        pointers,
        [
            "/triggers/demo/0/pattern",
            "/triggers/demo/1/id",
            "/triggers/demo/2/platforms/1"
        ]
    );
    for e in errors {
        for key in ["file", "line", "column", "pointer", "message"] {
            assert!(e.get(key).is_some(), "missing {key} in {e}");
        }
    }
}

#[test]
fn json_format_snapshot() {
    let t = Test::new();
    t.write(
        "runtime/config/creators.json",
        r#"{"creators": [{"id": "demo", "display_name": "Demo", "platforms": {"sim": {"enabled": true, "rate": 5}}}]}"#,
    );
    let out = t.run(&["validate-config", "--format", "json"]);
    out.status(1);
    insta::assert_snapshot!("json_report", out.stdout_in(&t));
    t.write(
        "runtime/config/creators.json",
        r#"{"creators": [{"id": "demo", "display_name": "Demo"}]}"#,
    );
    let out = t.run(&["validate-config", "--format", "json"]);
    out.status(0);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["errors"], serde_json::json!([]));
}

#[test]
fn schema_flag_overrides_the_file_name() {
    let t = Test::new();
    let path = t.write(
        "drafts/my-draft.json",
        r#"{"platforms": {"twitch": {"mode": "paused"}}}"#,
    );
    let path = path.display().to_string();
    let out = t.run(&["validate-config", &path]);
    out.status(2);
    assert!(
        out.stderr.contains("cannot tell which schema applies"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--schema"), "{}", out.stderr);
    t.run(&["validate-config", &path, "--schema", "platforms"])
        .status(0);
    t.run(&["validate-config", &path, "--schema", "creators"])
        .status(1);
}

#[test]
fn missing_file_and_missing_config_dir_are_usage_errors() {
    let t = Test::new();
    let out = t.run(&["validate-config", "nope/creators.json"]);
    out.status(2);
    assert!(out.stderr.contains("no such file"), "{}", out.stderr);
    let empty = Test::empty();
    let out = empty.run(&["validate-config"]);
    out.status(2);
    assert!(out.stderr.contains("no config directory"), "{}", out.stderr);
}

#[test]
fn help_is_stable() {
    let t = Test::new();
    let out = t.run(&["validate-config", "--help"]);
    out.status(0);
    insta::assert_snapshot!("help", out.stdout);
}

/// Platform command actions validate; a moderation trigger only moderators can fire would act on
/// moderators, so it is warned about (at its `min_role`), and a timeout needs its seconds.
#[test]
fn platform_command_actions_are_checked() {
    let t = Test::new();
    t.write(
        "runtime/config/triggers.json",
        r#"{"triggers": {"demo": [
  {"id": "a", "kind": "keyword", "keywords": ["badword"], "action": {"type": "timeout", "seconds": 600, "reason": "{user}: banned word"}},
  {"id": "b", "kind": "keyword", "keywords": ["badword"], "action": {"type": "delete"}},
  {"id": "c", "kind": "command", "command": "!rules", "action": {"type": "say", "template": "be kind"}},
  {"id": "d", "kind": "command", "command": "!news", "action": {"type": "announce", "template": "{args}"}},
  {"id": "e", "kind": "keyword", "keywords": ["worseword"], "min_role": "moderator", "action": {"type": "ban"}},
  {"id": "f", "kind": "command", "command": "!sorry", "action": {"type": "unban"}}
]}}"#,
    );
    let out = t.run(&["validate-config", "--format", "json"]);
    out.status(0);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let warnings = doc["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["pointer"], "/triggers/demo/4/min_role");
    assert!(
        warnings[0]["message"]
            .as_str()
            .unwrap()
            .contains("moderates the author"),
        "{warnings:?}"
    );

    t.write(
        "runtime/config/triggers.json",
        r#"{"triggers": {"demo": [
  {"id": "a", "kind": "keyword", "keywords": ["badword"], "action": {"type": "timeout", "reason": "x"}}
]}}"#,
    );
    let out = t.run(&["validate-config"]);
    out.status(1);
    assert!(
        out.stdout.contains("/triggers/demo/0/action"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("seconds"), "{}", out.stdout);
}

#[test]
fn tls_ca_file_must_name_a_pem_file_with_a_certificate() {
    let t = Test::new();
    let system = t.read("runtime/config/system.json");
    let with = |file: &str| system.replacen('{', &format!("{{\n  \"tls_ca_file\": \"{file}\","), 1);
    t.write("runtime/config/system.json", &with("certs/missing.pem"));
    let out = t.run(&["validate-config"]);
    out.status(1);
    assert!(out.stdout.contains("/tls_ca_file"), "{}", out.stdout);
    assert!(out.stdout.contains("certs/missing.pem"), "{}", out.stdout);
    t.write("certs/not-a-cert.pem", "hello\n");
    t.write("runtime/config/system.json", &with("certs/not-a-cert.pem"));
    let out = t.run(&["validate-config"]);
    out.status(1);
    assert!(
        out.stdout.contains("no certificate found"),
        "{}",
        out.stdout
    );
    let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    t.write("certs/ca.pem", &ca.cert.pem());
    t.write("runtime/config/system.json", &with("certs/ca.pem"));
    t.run(&["validate-config"]).status(0);
}

#[test]
fn a_trigger_calling_an_undeclared_or_disabled_extension_is_an_error_with_its_place() {
    let t = Test::new();
    t.write(
        "runtime/config/extensions.json",
        r#"{"extensions": [{"name": "dice", "command": ["python3", "dice.py"], "enabled": false, "effects": ["say"]}]}"#,
    );
    let triggers = t.read("runtime/config/triggers.json").replacen(
        "\"triggers\": {\n    \"demo\": [",
        "\"triggers\": {\n    \"demo\": [\n      {\"id\": \"roll\", \"kind\": \"command\", \"command\": \"!roll\", \"action\": {\"type\": \"extension\", \"name\": \"dice\"}},\n      {\"id\": \"ask\", \"kind\": \"command\", \"command\": \"!ask\", \"action\": {\"type\": \"extension\", \"name\": \"oracle\"}},",
        1,
    ).replacen(
        "\"triggers\": {",
        "\"timers\": {\"demo\": [{\"id\": \"hourly\", \"every_s\": 3600, \"action\": {\"type\": \"extension\", \"name\": \"clock\"}}]},\n  \"triggers\": {",
        1,
    );
    t.write("runtime/config/triggers.json", &triggers);
    let out = t.run(&["validate-config"]);
    out.status(1);
    let stdout = out.stdout_in(&t);
    assert!(
        stdout.contains("triggers.json:5:")
            && stdout.contains(
                "/triggers/demo/0/action/name: extension \"dice\" is disabled in extensions.json; enable it or remove this call"
            ),
        "{stdout}"
    );
    assert!(
        stdout.contains("/triggers/demo/1/action/name: no extension \"oracle\" in extensions.json (declared: [\"dice\"])"),
        "{stdout}"
    );
    assert!(
        stdout.contains("/timers/demo/0/action/name: no extension \"clock\" in extensions.json"),
        "{stdout}"
    );
}
