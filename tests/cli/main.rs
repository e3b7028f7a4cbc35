//! Integration tests of the `ss` binary: one test binary, one module per subcommand.
//!
//! Each test gets its own temporary runtime root (a copy of the repository's demo runtime) through
//! [`harness::Test`], runs `ss` as a user would, and checks exit code, stdout and stderr.

mod harness;
mod twitch;
mod twitch_server;
mod validate_config;
