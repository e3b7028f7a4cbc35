//! Exports: snapshot builders, the atomic writer, the manifest, and the publish mirror.

pub mod runtime_view;
