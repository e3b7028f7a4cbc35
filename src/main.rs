//! The `ss` binary: parse the command line, run it, map the outcome to an exit code.
//!
//! Everything else lives in the library (`ss::run`), so tests and other front ends share it.

use std::process::ExitCode;

/// mimalloc: chat normalization and the pipeline allocate many small strings per event, and mimalloc
/// serves those markedly faster than the system allocator (see benches/twitch_parse.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    ss::main_entry()
}
