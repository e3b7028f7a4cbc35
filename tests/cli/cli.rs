//! The top level: `--help`, `--version`, completions, no command, `run` callable twice.

use crate::harness::Test;

#[test]
fn version_comes_from_the_runtime_version_file() {
    let t = Test::new();
    t.write(
        "runtime/version.json",
        r#"{"version": "9.9.9-rc.1", "build": "2030.01.02+007"}"#,
    );
    let out = t.run(&["--version"]);
    out.status(0);
    assert_eq!(out.stdout, "ss 9.9.9-rc.1 (build 2030.01.02+007)\n");
}

#[test]
fn top_level_help_lists_commands() {
    let t = Test::new();
    let out = t.run(&["--help"]);
    out.status(0);
    insta::assert_snapshot!("top_help", out.stdout);
}

#[test]
fn no_command_is_a_usage_error() {
    let t = Test::new();
    let out = t.run(&[]);
    out.status(2);
    assert!(out.stderr.contains("no command given"));
}

#[test]
fn unknown_flag_is_a_usage_error() {
    Test::new().run(&["validate-config", "--bogus"]).status(2);
}

#[test]
fn completions_are_generated() {
    let out = Test::new().run(&["completions", "bash"]);
    out.status(0);
    assert!(out.stdout.contains("validate-config"));
}

#[test]
fn library_run_can_be_called_twice() {
    use clap::Parser;
    let t = Test::new();
    for _ in 0..2 {
        let cli = ss::cli::Cli::try_parse_from([
            "ss",
            "--root",
            t.path().to_str().unwrap(),
            "validate-config",
            "-q",
        ])
        .unwrap();
        assert_eq!(ss::run(cli).unwrap(), ss::cli::Outcome::Success);
    }
}
