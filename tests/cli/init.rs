//! `ss init`: a new root for the chosen platforms passes validate-config and runs the sim demo as
//! it is; a second init refuses and changes nothing; `--force` writes again. The comments it
//! writes are `_comment` keys that validate-config ignores, and only those.

use crate::harness::Test;
use std::path::Path;

fn run_in(dir: &Path, args: &[&str]) -> crate::harness::Output {
    let out = assert_cmd::cargo::cargo_bin_cmd!("ss")
        .current_dir(dir)
        .env_remove("SS_ROOT")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    crate::harness::Output {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_new_root_validates_runs_the_demo_and_is_never_overwritten_by_accident() {
    let t = Test::empty();
    let root = t.path().join("x");
    let root_arg = root.to_str().unwrap();
    let out = run_in(t.path(), &["init", "x", "--platforms", "twitch,kick"]);
    out.status(0);
    // Relative to where it ran, so the snapshot is stable.
    insta::assert_snapshot!("init_next_steps", out.stdout);

    // Only the chosen platforms (and the sim demo) are configured, each key explained.
    let creators: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("runtime/config/creators.json")).unwrap(),
    )
    .unwrap();
    let platforms = creators["creators"][0]["platforms"].as_object().unwrap();
    let mut names: Vec<&str> = platforms
        .keys()
        .map(String::as_str)
        .filter(|k| !k.starts_with('_'))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["kick", "sim", "twitch"]);
    assert!(platforms["twitch"]["_comment_token_env"].is_string());
    let env = std::fs::read_to_string(root.join(".env.example")).unwrap();
    assert!(
        env.contains("\nTWITCH_OAUTH_TOKEN_DEMO=\n") && env.contains("\nKICK_OAUTH_TOKEN_DEMO=\n"),
        "{env}"
    );
    assert!(!env.contains("YOUTUBE"), "{env}");
    let gitignore = std::fs::read_to_string(root.join(".gitignore")).unwrap();
    assert!(
        gitignore.lines().any(|l| l == ".env") && gitignore.lines().any(|l| l == "runtime/state/"),
        "{gitignore}"
    );
    for folder in [
        "changelog",
        "runtime/exports",
        "runtime/signals",
        "runtime/admin",
        "runtime/state",
    ] {
        assert!(root.join(folder).is_dir(), "{folder}");
    }

    run_in(t.path(), &["--root", root_arg, "validate-config"]).status(0);
    let run = run_in(t.path(), &["--root", root_arg, "run", "--duration", "5s"]);
    run.status(0);
    let snapshot: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("runtime/exports/runtime_snapshot.json")).unwrap(),
    )
    .unwrap();
    assert!(
        snapshot["counters"]["events_recorded"].as_u64().unwrap() > 0,
        "the sim demo recorded chat: {}",
        run.stderr
    );

    // A second init refuses, names what exists, and writes nothing.
    std::fs::write(
        root.join("runtime/config/triggers.json"),
        "{\"triggers\": {}}\n",
    )
    .unwrap();
    let again = run_in(t.path(), &["init", "x", "--platforms", "twitch,kick"]);
    again.status(1);
    assert!(
        again.stderr.contains("already holds a runtime root"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    assert_eq!(
        std::fs::read_to_string(root.join("runtime/config/triggers.json")).unwrap(),
        "{\"triggers\": {}}\n",
        "nothing overwritten"
    );
    // --force writes the files again.
    run_in(
        t.path(),
        &["init", "x", "--platforms", "twitch,kick", "--force"],
    )
    .status(0);
    assert!(
        std::fs::read_to_string(root.join("runtime/config/triggers.json"))
            .unwrap()
            .contains("!ping")
    );

    // Usage errors name the fix.
    let bad = run_in(t.path(), &["init", "y", "--platforms", "twitch,myspace"]);
    bad.status(2);
    assert!(
        bad.stderr
            .contains("choose from twitch, youtube, kick, rumble"),
        "{}",
        bad.stderr
    );
    assert!(
        !t.path().join("y").exists(),
        "nothing created on a usage error"
    );
}

#[test]
fn comment_keys_are_ignored_by_validate_config_and_only_they_are() {
    let t = Test::new();
    let creators = t.read("runtime/config/creators.json").replacen(
        "\"id\": \"demo\",",
        "\"id\": \"demo\", \"_comment\": \"the demo creator\", \"_comment_id\": \"lowercase\",",
        1,
    );
    t.write("runtime/config/creators.json", &creators);
    t.run(&["validate-config"]).status(0);
    // A key that only looks like a comment is still an unknown key, reported where it is.
    let typo = creators.replacen("\"_comment\":", "\"comment\":", 1);
    t.write("runtime/config/creators.json", &typo);
    let out = t.run(&["validate-config"]);
    out.status(1);
    assert!(
        out.stdout.contains("creators.json:") && out.stdout.contains("comment"),
        "{}",
        out.stdout
    );
}

#[test]
fn init_and_discord_help_teach_their_use() {
    let t = Test::empty();
    let init = t.run(&["init", "--help"]);
    init.status(0);
    insta::assert_snapshot!("init_help", init.stdout);
    let discord = t.run(&["discord", "--help"]);
    discord.status(0);
    insta::assert_snapshot!("discord_help", discord.stdout);
}
