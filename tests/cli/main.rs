//! Integration tests of the `ss` binary: one test binary, one module per subcommand.
//!
//! Each test gets its own temporary runtime root (a copy of the repository's demo runtime) through
//! [`harness::Test`], runs `ss` as a user would, and checks exit code, stdout and stderr.

mod changelog;
mod chromium;
mod cli;
mod discord_server;
mod clips;
mod clips_support;
mod export;
mod full_disk;
mod hardening;
mod harness;
mod http;
mod pages;
mod pages_live;
mod polls;
mod kick_server;
mod publish_state;
mod replay;
mod rumble_server;
mod run;
mod run_rumble;
mod run_kick;
mod run_notify;
mod run_twitch;
mod run_youtube;
mod status;
mod twitch;
mod twitch_server;
mod update_version;
mod validate_config;
mod youtube_grpc;
mod youtube_server;
mod youtube_sim;
