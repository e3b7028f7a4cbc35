//! Typed configuration: one module per file in `runtime/config/`, with documented defaults.
//!
//! These types are what the runtime reads after a file has passed its JSON Schema and the semantic
//! checks. Every field that may be left out has a default here that matches the schema's `default`,
//! so an operator only writes what differs. Secrets never appear as values: a field ending in `_env`
//! names an environment variable (see [`crate::config::secrets`]).

mod bus;
mod community;
mod creators;
mod discord;
mod extensions;
mod moderation;
mod obs;
mod platforms;
mod posting;
mod ratelimits;
mod system;
mod triggers;

pub use bus::*;
pub use community::*;
pub use creators::*;
pub use discord::*;
pub use extensions::*;
pub use moderation::*;
pub use obs::*;
pub use platforms::*;
pub use posting::*;
pub use ratelimits::*;
pub use system::*;
pub use triggers::*;

/// serde's `default = "yes"` for flags that are on unless turned off.
fn yes() -> bool {
    true
}
