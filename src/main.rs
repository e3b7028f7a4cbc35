//! The `ss` binary: parse the command line, run it, map the outcome to an exit code.
//!
//! Everything else lives in the library (`ss::run`), so tests and other front ends share it.

use std::process::ExitCode;

fn main() -> ExitCode {
    ss::main_entry()
}
