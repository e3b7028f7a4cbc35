//! Integration tests of the `ss` binary: one test binary, one module per subcommand.
//!
//! Each test gets its own temporary runtime root (a copy of the repository's demo runtime) through
//! [`harness::Test`], runs `ss` as a user would, and checks exit code, stdout and stderr.

mod architecture;
mod changelog;
mod chromium;
mod cli;
mod clips;
mod clips_checks;
mod clips_support;
mod control;
mod daily_bot;
mod discord_gateway;
mod discord_server;
mod eventsub_server;
mod export;
mod fairness;
mod full_disk;
mod hardening;
mod harness;
mod http;
mod init;
mod kick_server;
mod moderation;
mod nats_server;
mod obs;
mod obs_server;
mod pages;
mod pages_live;
mod polls;
mod publish_state;
mod recipes;
mod replay;
mod rumble_server;
mod run;
mod run_bus;
mod run_discord;
mod run_eventsub;
mod run_extensions;
mod run_kick;
mod run_notify;
mod run_rumble;
mod run_twitch;
mod run_webhooks;
mod run_youtube;
mod service;
mod status;
mod stream_events;
mod tls_roots;
mod twitch;
mod twitch_server;
mod update_version;
mod validate_config;
mod youtube_grpc;
mod youtube_server;
mod youtube_sim;
