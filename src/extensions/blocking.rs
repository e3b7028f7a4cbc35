//! The extensions for synchronous code (`ss replay --extensions live`): a small runtime of their
//! own, on which they are started and called one call at a time. Dropping it stops them and kills
//! their children.

use super::{CallError, Extensions};
use crate::actions::Action;
use crate::config::model::ExtensionsConfig;
use crate::event::ChatEvent;
use std::path::Path;
use tokio_util::sync::CancellationToken;

pub struct Blocking {
    extensions: Extensions,
    shutdown: CancellationToken,
    // Dropped last: the supervisors' tasks and the children die with it.
    runtime: tokio::runtime::Runtime,
}

impl Blocking {
    /// Starts every enabled extension of `config` under `root`.
    pub fn start(root: &Path, config: &ExtensionsConfig) -> std::io::Result<Blocking> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("ss-extensions")
            .enable_all()
            .build()?;
        let shutdown = CancellationToken::new();
        let extensions = {
            let _inside = runtime.enter();
            Extensions::start(root, config, &shutdown).0
        };
        Ok(Blocking {
            extensions,
            shutdown,
            runtime,
        })
    }

    /// Calls the extension the action `call` names and waits for its answer.
    pub fn call(&self, call: &Action, event: Option<&ChatEvent>) -> Result<Vec<Action>, CallError> {
        self.runtime.block_on(self.extensions.call(call, event))
    }
}

impl Drop for Blocking {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
