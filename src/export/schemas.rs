//! The exports' JSON Schemas, embedded from `schemas/exports/` and compiled once per process.
//!
//! Every file in the catalogue names its schema id in `meta.schema`; [`validate`] checks a built
//! payload against it, so `ss export` never writes a file its own schema would reject.

use std::sync::OnceLock;

/// (schema id, schema text), one per distinct schema in the catalogue.
pub const SCHEMAS: [(&str, &str); 35] = [
    (
        "streamsuites.discord_runtime.v1",
        include_str!("../../schemas/exports/discord_runtime.schema.json"),
    ),
    (
        "streamsuites.meta.v1",
        include_str!("../../schemas/exports/meta.schema.json"),
    ),
    (
        "streamsuites.version.v1",
        include_str!("../../schemas/exports/version.schema.json"),
    ),
    (
        "streamsuites.about_public.v1",
        include_str!("../../schemas/exports/about_public.schema.json"),
    ),
    (
        "streamsuites.platforms.v1",
        include_str!("../../schemas/exports/platforms.schema.json"),
    ),
    (
        "streamsuites.runtime_snapshot.v1",
        include_str!("../../schemas/exports/runtime_snapshot.schema.json"),
    ),
    (
        "streamsuites.clips.v1",
        include_str!("../../schemas/exports/clips.schema.json"),
    ),
    (
        "streamsuites.polls.v1",
        include_str!("../../schemas/exports/polls.schema.json"),
    ),
    (
        "streamsuites.tallies.v1",
        include_str!("../../schemas/exports/tallies.schema.json"),
    ),
    (
        "streamsuites.scoreboards.v1",
        include_str!("../../schemas/exports/scoreboards.schema.json"),
    ),
    (
        "streamsuites.giveaways.v1",
        include_str!("../../schemas/exports/giveaways.schema.json"),
    ),
    (
        "streamsuites.quotes.v1",
        include_str!("../../schemas/exports/quotes.schema.json"),
    ),
    (
        "streamsuites.points.v1",
        include_str!("../../schemas/exports/points.schema.json"),
    ),
    (
        "streamsuites.chat_trends.v1",
        include_str!("../../schemas/exports/chat_trends.schema.json"),
    ),
    (
        "streamsuites.giveaways_admin.v1",
        include_str!("../../schemas/exports/giveaways_admin.schema.json"),
    ),
    (
        "streamsuites.people.v1",
        include_str!("../../schemas/exports/people.schema.json"),
    ),
    (
        "streamsuites.changelog.v1",
        include_str!("../../schemas/exports/changelog.schema.json"),
    ),
    (
        "streamsuites.roadmap.v1",
        include_str!("../../schemas/exports/roadmap.schema.json"),
    ),
    (
        "streamsuites.telemetry_events.v1",
        include_str!("../../schemas/exports/telemetry_events.schema.json"),
    ),
    (
        "streamsuites.telemetry_rates.v1",
        include_str!("../../schemas/exports/telemetry_rates.schema.json"),
    ),
    (
        "streamsuites.telemetry_errors.v1",
        include_str!("../../schemas/exports/telemetry_errors.schema.json"),
    ),
    (
        "streamsuites.chat_events.v1",
        include_str!("../../schemas/exports/chat_events.schema.json"),
    ),
    (
        "streamsuites.poll_votes.v1",
        include_str!("../../schemas/exports/poll_votes.schema.json"),
    ),
    (
        "streamsuites.tally_events.v1",
        include_str!("../../schemas/exports/tally_events.schema.json"),
    ),
    (
        "streamsuites.score_events.v1",
        include_str!("../../schemas/exports/score_events.schema.json"),
    ),
    (
        "streamsuites.creators.v1",
        include_str!("../../schemas/exports/creators.schema.json"),
    ),
    (
        "streamsuites.chat_triggers.v1",
        include_str!("../../schemas/exports/chat_triggers.schema.json"),
    ),
    (
        "streamsuites.jobs.v1",
        include_str!("../../schemas/exports/jobs.schema.json"),
    ),
    (
        "streamsuites.rate_limits.v1",
        include_str!("../../schemas/exports/rate_limits.schema.json"),
    ),
    (
        "streamsuites.quotas.v1",
        include_str!("../../schemas/exports/quotas.schema.json"),
    ),
    (
        "streamsuites.about_admin.v1",
        include_str!("../../schemas/exports/about_admin.schema.json"),
    ),
    (
        "streamsuites.integrations.v1",
        include_str!("../../schemas/exports/integrations.schema.json"),
    ),
    (
        "streamsuites.permissions.v1",
        include_str!("../../schemas/exports/permissions.schema.json"),
    ),
    (
        "streamsuites.audit.v1",
        include_str!("../../schemas/exports/audit.schema.json"),
    ),
    (
        "streamsuites.moderation.v1",
        include_str!("../../schemas/exports/moderation.schema.json"),
    ),
];

/// The compiled validator for schema id `schema`; `None` for an unknown id.
pub fn validator(schema: &str) -> Option<&'static jsonschema::Validator> {
    static CELLS: [OnceLock<jsonschema::Validator>; SCHEMAS.len()] =
        [const { OnceLock::new() }; SCHEMAS.len()];
    let slot = SCHEMAS.iter().position(|(id, _)| *id == schema)?;
    Some(CELLS[slot].get_or_init(|| {
        // The schemas are part of the binary and every one is compiled by a unit test, so a failure
        // here is a build defect, not an input error.
        let text = SCHEMAS[slot].1;
        let mut value: serde_json::Value =
            serde_json::from_str(text).expect("embedded export schema is valid JSON");
        // The platform names are the registered ones, not only those the file lists.
        crate::event::register_platforms_in_schema(&mut value);
        jsonschema::validator_for(&value).expect("embedded export schema compiles")
    }))
}

/// Every problem of `payload` against schema `schema`, as `/pointer: message` lines (empty = valid).
pub fn validate(schema: &str, payload: &serde_json::Value) -> Vec<String> {
    let Some(validator) = validator(schema) else {
        return vec![format!("/: unknown schema id {schema}")];
    };
    validator
        .iter_errors(payload)
        .map(|e| {
            let pointer = e.instance_path().to_string();
            let pointer = if pointer.is_empty() {
                "/".to_string()
            } else {
                pointer
            };
            format!("{pointer}: {e}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::catalogue::CATALOGUE;

    #[test]
    fn every_schema_compiles_and_every_catalogue_entry_has_one() {
        for (id, text) in SCHEMAS {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            assert!(jsonschema::validator_for(&value).is_ok(), "{id}");
            assert!(text.contains(id), "{id} schema pins meta.schema to its id");
        }
        for entry in CATALOGUE {
            assert!(validator(entry.schema).is_some(), "{}", entry.name);
        }
    }
}
