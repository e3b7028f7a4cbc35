//! Semantic checks of extensions.json and of the triggers that call extensions: what a schema
//! cannot say (two extensions with one name, an environment variable name passed twice, a
//! trigger or timer calling an extension that is not declared or is disabled, an extension allowed no
//! effect at all).

use super::community_checks::Problem;
use super::files::ConfigKind;
use super::model::{ActionDef, ExtensionsConfig, TimerAction, TriggersConfig};
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

/// A trigger's or timer's `{"type": "extension", "name": ...}` must name an enabled extension.
pub fn triggers(triggers: &TriggersConfig, config: &ExtensionsConfig) -> Vec<Problem> {
    let calls = triggers.triggers.iter().flat_map(|(creator, defs)| {
        defs.iter()
            .enumerate()
            .filter_map(move |(i, def)| match &def.action {
                ActionDef::Extension { name, .. } => Some((
                    format!("/triggers/{}/{i}/action/name", escape_token(creator)),
                    name,
                )),
                _ => None,
            })
    });
    let timer_calls = triggers.timers.iter().flat_map(|(creator, timers)| {
        timers
            .iter()
            .enumerate()
            .filter_map(move |(i, timer)| match &timer.action {
                TimerAction::Extension { name, .. } => Some((
                    format!("/timers/{}/{i}/action/name", escape_token(creator)),
                    name,
                )),
                _ => None,
            })
    });
    calls
        .chain(timer_calls)
        .filter(|(_, name)| config.get(name).is_none())
        .map(|(pointer, name)| {
            let declared = config.extensions.iter().any(|e| &e.name == name);
            Problem {
                kind: ConfigKind::Triggers,
                pointer,
                message: if declared {
                    format!(
                        "extension {name:?} is disabled in extensions.json; enable it or remove this call"
                    )
                } else {
                    let known: Vec<&str> =
                        config.extensions.iter().map(|e| e.name.as_str()).collect();
                    format!(
                        "no extension {name:?} in extensions.json (declared: {known:?}); declare it there or fix the name"
                    )
                },
                warning: false,
            }
        })
        .collect()
}
