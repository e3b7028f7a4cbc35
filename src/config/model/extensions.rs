//! `runtime/config/extensions.json`: the extensions `ss run` starts, each one long-lived child
//! process speaking JSON lines (see [`crate::config::model::ExtensionDef`] and the README's
//! "Extensions" section), with what it may see, how long and how much it may take, and which
//! effects it may ask for.
//!
//! Nothing of `ss`'s own environment reaches an extension unless `env` names it, so a secret in
//! the environment is never handed over by accident.

use serde::{Deserialize, Serialize};

/// `runtime/config/extensions.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionsConfig {
    #[serde(default)]
    pub extensions: Vec<ExtensionDef>,
}

impl ExtensionsConfig {
    /// The enabled extension called `name`.
    pub fn get(&self, name: &str) -> Option<&ExtensionDef> {
        self.extensions.iter().find(|e| e.name == name && e.enabled)
    }
}

/// One extension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionDef {
    /// What triggers call it by (`{"type": "extension", "name": ...}`).
    pub name: String,
    #[serde(default = "super::yes")]
    pub enabled: bool,
    /// The program and its arguments (no shell): `["python3", "extensions/8ball.py"]`.
    pub command: Vec<String>,
    /// The environment variables it may see, taken from `ss`'s environment by name; nothing else
    /// is passed (`PATH` included: name it when the command needs it).
    #[serde(default)]
    pub env: Vec<String>,
    /// Its working directory, relative to the runtime root (default: the root).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Milliseconds a call (and the start's handshake) may take (default 2000).
    #[serde(default = "ExtensionDef::default_budget_ms")]
    pub budget_ms: u64,
    /// Its address space in MiB (RLIMIT_AS); none: unlimited. Runtimes that reserve much virtual
    /// memory up front (Node, the JVM) need a generous value or none.
    #[serde(default)]
    pub memory_mb: Option<u64>,
    /// CPU seconds it may use in all (RLIMIT_CPU); past them the child is killed and restarted.
    #[serde(default)]
    pub cpu_s: Option<u64>,
    /// Calls sent and not yet answered, at most (default 4); a call beyond them is refused.
    #[serde(default = "ExtensionDef::default_max_in_flight")]
    pub max_in_flight: u32,
    /// The effects it may answer with; any other is refused and counted.
    #[serde(default)]
    pub effects: Vec<ExtensionEffect>,
}

impl ExtensionDef {
    fn default_budget_ms() -> u64 {
        2000
    }
    fn default_max_in_flight() -> u32 {
        4
    }
}

/// An effect an extension may ask for: each becomes the action of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtensionEffect {
    Say,
    Reply,
    Announce,
    Tally,
    Score,
    Timeout,
    Ban,
}

impl ExtensionEffect {
    pub const ALL: [ExtensionEffect; 7] = [
        ExtensionEffect::Say,
        ExtensionEffect::Reply,
        ExtensionEffect::Announce,
        ExtensionEffect::Tally,
        ExtensionEffect::Score,
        ExtensionEffect::Timeout,
        ExtensionEffect::Ban,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ExtensionEffect::Say => "say",
            ExtensionEffect::Reply => "reply",
            ExtensionEffect::Announce => "announce",
            ExtensionEffect::Tally => "tally",
            ExtensionEffect::Score => "score",
            ExtensionEffect::Timeout => "timeout",
            ExtensionEffect::Ban => "ban",
        }
    }
}
