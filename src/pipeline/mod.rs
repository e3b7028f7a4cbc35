//! The runtime pipeline: lanes from sources, the creators' clock, dedupe, record, triggers, actions,
//! shutdown.

pub mod clock;
pub mod counters;
pub mod exporter;
pub mod extensions;
pub mod http_server;
pub mod people;
pub mod process;
pub mod receipts;
pub mod reload;
mod roles;
pub mod runner;
pub mod standings;
pub mod startup;
pub mod summary;
pub mod supervisor;
