//! Semantic checks of extensions.json and of the triggers that call extensions: what a schema
//! cannot say (two extensions with one name, an environment variable name passed twice, a
//! trigger calling an extension that is not declared or is disabled, an extension allowed no
//! effect at all).

use super::community_checks::Problem;
use super::files::ConfigKind;
use super::model::{ActionDef, ExtensionsConfig, TriggersConfig};
use super::spans::escape_token;
use std::collections::HashSet;

/// Checks extensions.json on its own.
pub fn extensions(config: &ExtensionsConfig) -> Vec<Problem> {
    let k = ConfigKind::Extensions;
    let mut out = Vec::new();
    let mut names = HashSet::new();
    for (i, def) in config.extensions.iter().enumerate() {
        if !names.insert(def.name.as_str()) {
            out.push(Problem {
                kind: k,
                pointer: format!("/extensions/{i}/name"),
                message: format!(
                    "extension {:?} is declared twice; give each extension its own name",
                    def.name
                ),
                warning: false,
            });
        }
        if def.effects.is_empty() {
            out.push(Problem {
                kind: k,
                pointer: format!("/extensions/{i}"),
                message: format!(
                    "warning: extension {:?} may ask for no effect, so every effect it answers is refused; list what it may do in \"effects\" (say, reply, tally, ...)",
                    def.name
                ),
                warning: true,
            });
        }
    }
    out
}

/// A trigger's `{"type": "extension", "name": ...}` must name an enabled extension.
pub fn triggers(triggers: &TriggersConfig, config: &ExtensionsConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    for (creator, defs) in &triggers.triggers {
        for (i, def) in defs.iter().enumerate() {
            let ActionDef::Extension { name, .. } = &def.action else {
                continue;
            };
            if config.get(name).is_none() {
                let declared = config.extensions.iter().any(|e| &e.name == name);
                out.push(Problem {
                    kind: ConfigKind::Triggers,
                    pointer: format!("/triggers/{}/{i}/action/name", escape_token(creator)),
                    message: if declared {
                        format!(
                            "extension {name:?} is disabled in extensions.json; enable it or remove this trigger"
                        )
                    } else {
                        let known: Vec<&str> =
                            config.extensions.iter().map(|e| e.name.as_str()).collect();
                        format!(
                            "no extension {name:?} in extensions.json (declared: {known:?}); declare it there or fix the name"
                        )
                    },
                    warning: false,
                });
            }
        }
    }
    out
}
