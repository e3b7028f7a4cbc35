//! Snapshot builders: one function per catalogue file, each returning the document body after `meta`.
//!
//! Grouped by what they read: [`overview`] (version, product, platforms, runtime state),
//! [`community`] (clips, polls, tallies, scoreboards and their signals), [`daily`] (giveaways,
//! quotes, points, linked people, chat trends), [`documents`] (changelog,
//! roadmap), [`telemetry`], and [`admin`] (operator views from config and store).

mod admin;
mod community;
mod daily;
mod documents;
mod overview;
mod telemetry;

pub use community::clip_entries;

use super::{Entry, ExportError, Inputs};
use crate::store::{StoreError, StoreReader};
use serde_json::{Map, Value};

/// A document body: the keys after `meta`.
pub(crate) type Body = Map<String, Value>;

/// Builds the body of `entry`.
pub(crate) fn build(entry: &Entry, inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let body = match entry.name {
        "exports/version.json" => overview::version(inputs),
        "exports/about.public.json" => overview::about_public(inputs),
        "exports/platforms.json" => overview::platforms(inputs)?,
        "exports/runtime_snapshot.json" => overview::runtime_snapshot(inputs)?,
        "exports/clips.json" => community::clips(inputs)?,
        "exports/polls.json" => community::polls(inputs)?,
        "exports/tallies.json" => community::tallies(inputs)?,
        "exports/scoreboards.json" => community::scoreboards(inputs)?,
        "exports/giveaways.json" => daily::giveaways(inputs)?,
        "exports/quotes.json" => daily::quotes(inputs)?,
        "exports/points.json" => daily::points(inputs)?,
        "signals/chat_trends.json" => daily::chat_trends(inputs),
        "admin/giveaways.json" => daily::giveaways_admin(inputs)?,
        "admin/people.json" => daily::people(inputs)?,
        "exports/changelog.runtime.json" | "exports/changelog.json" => {
            documents::changelog(inputs)?
        }
        "exports/roadmap.json" => documents::roadmap(inputs)?,
        "exports/telemetry/events.json" => telemetry::events(inputs),
        "exports/telemetry/rates.json" => telemetry::rates(inputs),
        "exports/telemetry/errors.json" => telemetry::errors(inputs),
        "signals/chat_events.json" => community::chat_events(inputs)?,
        "signals/poll_votes.json" => community::poll_votes(inputs)?,
        "signals/tally_events.json" => community::tally_events(inputs)?,
        "signals/score_events.json" => community::score_events(inputs)?,
        "admin/creators.json" => admin::creators(inputs),
        "admin/chat_triggers.json" => admin::chat_triggers(inputs)?,
        "admin/jobs.json" => admin::jobs(inputs)?,
        "admin/rate_limits.json" => admin::rate_limits(inputs),
        "admin/quotas.json" => admin::quotas(inputs)?,
        "admin/moderation.json" => admin::moderation(inputs)?,
        "admin/about.admin.json" => overview::about_admin(inputs)?,
        "admin/integrations.json" => admin::integrations(inputs),
        "admin/permissions.json" => admin::permissions(inputs),
        "admin/audit.json" => admin::audit(inputs)?,
        // The catalogue and this table are kept together; a unit test builds every entry.
        other => unreachable!("no builder for catalogue entry {other}"),
    };
    Ok(body)
}

/// Turns a `json!({...})` object into a body.
pub(crate) fn body(value: Value) -> Body {
    match value {
        Value::Object(map) => map,
        // Builders only ever pass object literals.
        other => unreachable!("a document body must be an object, got {other}"),
    }
}

/// Rows from the store, or none when there is no store yet.
pub(crate) fn rows<T>(
    store: Option<&StoreReader>,
    query: impl FnOnce(&StoreReader) -> Result<Vec<T>, StoreError>,
) -> Result<Vec<T>, StoreError> {
    store.map_or_else(|| Ok(Vec::new()), query)
}

/// Serializes rows (plain data with derived `Serialize`) into a JSON array.
pub(crate) fn array<T: serde::Serialize>(rows: &[T]) -> Value {
    // Row types are plain structs of strings, numbers and times: serializing them cannot fail.
    serde_json::to_value(rows).expect("export rows serialize")
}
