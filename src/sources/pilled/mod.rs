//! Pilled: planned, ingest only. There is no source yet: the platform is registered so that its
//! creators.json block is accepted (with a warning) and exports list it as planned.

pub mod platform;

pub use platform::{PILLED, PilledSettings};
