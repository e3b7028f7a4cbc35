//! The runtime pipeline: lanes from sources, the creators' clock, dedupe, record, triggers, actions,
//! shutdown.

pub mod clock;
pub mod counters;
pub mod exporter;
pub mod people;
pub mod reload;
pub mod runner;
pub mod standings;
pub mod supervisor;
