//! The runtime pipeline: lanes from sources, dedupe, record, triggers, actions, shutdown.

pub mod lanes;
