//! StreamSuites `ss`: a headless livestream-automation runtime.
//!
//! One binary connects to live chat (Twitch, YouTube, Kick, Rumble, and a built-in sim source),
//! normalizes every message into a [`event::ChatEvent`], records it in SQLite, runs it through a
//! creator-scoped trigger engine, executes the resulting actions, and publishes read-only JSON
//! exports for dashboards and overlays.
//!
//! # Layout
//!
//! - [`cli`]: clap types, one module per subcommand, the one place errors become exit codes.
//! - [`config`]: typed config files, embedded schemas, semantic checks, secrets.
//! - [`command`]: `PlatformCommand`, what effects ask a platform to do (say, reply, delete, timeout,
//!   ban, unban, announce), the kinds each platform declares, and the run's command counters.
//! - [`event`]: `ChatEvent`, the contract every source produces, its typed stream-event fields
//!   (`EventDetail`) and `Extras` (platform details kept as JSON text); `Tick`, a moment of a
//!   creator's clock; and `Platform`, an open identity registered by each platform's folder.
//! - [`sources`]: the source contracts, their runners (the one writer of a source's status), TLS,
//!   and the platform registry ([`sources::registry`]): one folder per platform, registered with
//!   one line, which shared code iterates.
//! - [`triggers`]: the pure trigger engine: registry, stream-event conditions, cooldowns, polls and
//!   their deadlines on the ticks, templates, and the channel's daily bot (timers, giveaways,
//!   quotes, points, linked accounts).
//! - [`trends`]: chat trends (messages per minute, chatters, top emotes and words, mentions) over
//!   1, 5 and 15 minutes, a live view the run loop publishes.
//! - [`actions`]: action descriptors (plain data, with their cause).
//! - [`effects`]: the router and one sink per kind of effect.
//! - [`engine`]: the Core: dedupe, then triggers, for events and ticks; what `ss run` and `ss replay`
//!   both evaluate through.
//! - [`clips`]: the replay buffer (FFmpeg capture), clip jobs, and their destinations.
//! - [`pipeline`]: `ss run`'s parts (the HTTP server, the store, the supervisor, the creators'
//!   clock, the per-item work, the standings worker, the exporter task, hot reload, the summary)
//!   and the wiring that starts and stops them in order.
//! - [`lanes`]: the bounded data lane from sources to the pipeline, with per-creator admission and
//!   its policy when full.
//! - [`telemetry`]: a run's recent runtime events and errors and rolling rates.
//! - [`replay`]: recorded chat (store, JSONL, IRC log) through the same core again, with no
//!   effects; the diff against what the live run did, and counts.
//! - [`store`]: the SQLite store: the single batching writer (the only one that migrates), the
//!   read-only handle and reader pool everyone else uses, one module per domain (chat, actions,
//!   community, clips, outbox, checkpoints, quotas, audit, runs, ticks, people, points, quotes,
//!   giveaways).
//! - [`routing`]: where a notification goes (Discord guild channels, X, posting.json's webhooks),
//!   from posting.json and discord.json; hands the outbox rows to whatever caused them, to be
//!   written with it.
//! - [`notify`]: the outbox's senders (Discord, X, webhooks) and their rate limits, and the go-live
//!   watcher that turns a source going live into once-per-stream posts.
//! - [`hooks`]: webhooks in (`POST /hooks/{name}`, declared in system.json): verified, mapped
//!   (Ko-fi) into stream events on the data lane, deduped by the service's delivery id.
//! - [`signature`]: HMAC-SHA256 signatures of webhook bodies as hex (signed out, verified in).
//! - [`discord`]: the Discord control plane: a gateway bot answering slash commands through
//!   [`control`] (inside `ss run`, or `ss discord` alone), with its state in `discord/runtime.json`.
//! - [`init`]: a new runtime root (`ss init`): config files explained in `_comment` fields,
//!   `.env.example`, `.gitignore`, the folders.
//! - [`imports`]: what other bots export (quotes: Firebot's CSV export and database, CSV, JSON),
//!   read into the runtime's types for `ss quotes import`.
//! - [`extensions`]: extensions in any language: one supervised child process per declaration,
//!   JSON lines, budgets and resource limits, and the fence that refuses late, old or unallowed
//!   answers.
//! - [`obs`]: OBS over obs-websocket v5: one connection per configured OBS, its requests (scenes,
//!   sources, inputs, replay buffer, chapters, stream) and its health.
//! - [`http_out`]: outgoing HTTP of senders and platform side calls (client, form, errors).
//! - [`control`]: what moderators may do to a running runtime: tokens and roles, the rate limit,
//!   the changes (chat, moderation, trigger toggles, clips, OBS) and their audit rows.
//! - [`http`]: the local HTTP server (`system.http`): health, snapshot, the live feed as SSE, the
//!   control API (`/api/v1/`) and the control page (`/control`).
//! - [`pages`]: the chat pages (replay window, OBS overlay, live chat): one script and stylesheet,
//!   hostile chat kept inert, a strict Content-Security-Policy.
//! - [`systemd`]: `sd_notify` for a `Type=notify` unit: ready, the run loop's watchdog, stopping.
//! - [`status`]: the health of a runtime judged from its snapshot (`ss status`).
//! - [`backoff`]: capped, jittered exponential backoff (sources, the store writer).
//! - [`export`]: snapshot builders, manifest, publish mirror.
//! - [`atomic`]: atomic file writes (exports, pages, the release stamp).
//! - [`sanitize`]: messages made safe to export (one line, bounded, secrets redacted).
//! - `swar`: eight-bytes-at-a-time byte checks shared by the parser and the extras writer.
//! - [`guards`]: counters of what was refused rather than taken on trust (foreign channels, ...).
//! - [`log_sink`]: stderr for log lines, through a bounded queue: drops (counted), never panics or blocks.
//! - [`json_spans`]: byte ranges of JSON values by pointer (config diagnostics, byte-exact stamping).
//! - [`version`]: the release stamp in `runtime/version.json` and the runtime changelog.
//! - [`wire`]: decoding network JSON: the one [`wire::WireError`] (what, where, why) and the value
//!   types platforms share (numbers as strings, ids as numbers, RFC 3339 times).

pub mod actions;
pub mod atomic;
pub mod backoff;
pub mod bus;
pub mod cli;
pub mod clips;
pub mod command;
pub mod config;
pub mod control;
pub mod discord;
pub mod effects;
pub mod engine;
pub mod event;
pub mod export;
pub mod extensions;
pub mod guards;
pub mod hooks;
pub mod http;
pub mod http_out;
pub mod imports;
pub mod init;
pub mod json_spans;
pub mod lanes;
pub mod log_sink;
pub mod notify;
pub mod obs;
pub mod pages;
pub mod pipeline;
pub mod replay;
pub mod routing;
pub mod sanitize;
pub mod signature;
pub mod sources;
pub mod status;
pub mod store;
mod swar;
pub mod systemd;
pub mod telemetry;
pub mod tls;
pub mod trends;
pub mod triggers;
pub mod version;
pub mod wire;

pub use cli::{main_entry, run};

/// For `register_platform!` in other crates (a platform defined outside this crate).
#[doc(hidden)]
pub use inventory;
