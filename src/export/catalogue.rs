//! The export catalogue of DESIGN §4: every file's name, visibility and schema, in one table.
//!
//! Names are paths below the output tree (`runtime/` or `ss export --out DIR`): `exports/…` for public
//! files, `signals/…` and `admin/…` for operator views. The catalogue order is the order files are
//! built, written, listed in `exports/meta.json` and published.

use serde::Serialize;

/// Who may see a file. Ordered: each level includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Anyone: static dashboards, overlays.
    Public,
    /// The operator's dashboard.
    Dashboard,
    /// The operator's machine only.
    Internal,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Dashboard => "dashboard",
            Visibility::Internal => "internal",
        }
    }

    pub fn from_name(name: &str) -> Option<Visibility> {
        [
            Visibility::Public,
            Visibility::Dashboard,
            Visibility::Internal,
        ]
        .into_iter()
        .find(|v| v.as_str() == name)
    }
}

/// One catalogue entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Path below the output tree, e.g. `exports/clips.json`.
    pub name: &'static str,
    pub visibility: Visibility,
    /// The schema id carried in `meta.schema`, e.g. `streamsuites.clips.v1`.
    pub schema: &'static str,
    /// The short name, when the file name alone would be another file's.
    short: Option<&'static str>,
}

impl Entry {
    /// The short name `--only` accepts: the file name without directory and `.json`
    /// (`clips`, `about.public`, `events` for `exports/telemetry/events.json`), or the one the
    /// catalogue gives a file whose name another file has (`giveaways.admin`).
    pub fn short_name(&self) -> &'static str {
        if let Some(short) = self.short {
            return short;
        }
        let file = self.name.rsplit('/').next().unwrap_or(self.name);
        file.strip_suffix(".json").unwrap_or(file)
    }
}

/// An entry named by its path alone.
pub const fn entry(name: &'static str, visibility: Visibility, schema: &'static str) -> Entry {
    Entry {
        name,
        visibility,
        schema,
        short: None,
    }
}

/// The manifest: written last, listing every other file.
pub const MANIFEST: Entry = entry(
    "exports/meta.json",
    Visibility::Public,
    "streamsuites.meta.v1",
);

use Visibility::{Dashboard, Internal, Public};

/// Every export file, the manifest first.
pub const CATALOGUE: [Entry; 35] = [
    MANIFEST,
    entry("exports/version.json", Public, "streamsuites.version.v1"),
    entry(
        "exports/about.public.json",
        Public,
        "streamsuites.about_public.v1",
    ),
    entry(
        "exports/platforms.json",
        Public,
        "streamsuites.platforms.v1",
    ),
    entry(
        "exports/runtime_snapshot.json",
        Public,
        "streamsuites.runtime_snapshot.v1",
    ),
    entry("exports/clips.json", Public, "streamsuites.clips.v1"),
    entry("exports/polls.json", Public, "streamsuites.polls.v1"),
    entry("exports/tallies.json", Public, "streamsuites.tallies.v1"),
    entry(
        "exports/scoreboards.json",
        Public,
        "streamsuites.scoreboards.v1",
    ),
    entry(
        "exports/giveaways.json",
        Public,
        "streamsuites.giveaways.v1",
    ),
    entry("exports/quotes.json", Public, "streamsuites.quotes.v1"),
    entry("exports/points.json", Public, "streamsuites.points.v1"),
    entry(
        "exports/changelog.runtime.json",
        Public,
        "streamsuites.changelog.v1",
    ),
    entry(
        "exports/changelog.json",
        Public,
        "streamsuites.changelog.v1",
    ),
    entry("exports/roadmap.json", Public, "streamsuites.roadmap.v1"),
    entry(
        "exports/telemetry/events.json",
        Public,
        "streamsuites.telemetry_events.v1",
    ),
    entry(
        "exports/telemetry/rates.json",
        Public,
        "streamsuites.telemetry_rates.v1",
    ),
    entry(
        "exports/telemetry/errors.json",
        Public,
        "streamsuites.telemetry_errors.v1",
    ),
    entry(
        "signals/chat_events.json",
        Dashboard,
        "streamsuites.chat_events.v1",
    ),
    entry(
        "signals/poll_votes.json",
        Dashboard,
        "streamsuites.poll_votes.v1",
    ),
    entry(
        "signals/tally_events.json",
        Dashboard,
        "streamsuites.tally_events.v1",
    ),
    entry(
        "signals/score_events.json",
        Dashboard,
        "streamsuites.score_events.v1",
    ),
    entry(
        "signals/chat_trends.json",
        Dashboard,
        "streamsuites.chat_trends.v1",
    ),
    entry("admin/creators.json", Dashboard, "streamsuites.creators.v1"),
    entry(
        "admin/chat_triggers.json",
        Dashboard,
        "streamsuites.chat_triggers.v1",
    ),
    entry("admin/jobs.json", Dashboard, "streamsuites.jobs.v1"),
    Entry {
        short: Some("giveaways.admin"),
        ..entry(
            "admin/giveaways.json",
            Dashboard,
            "streamsuites.giveaways_admin.v1",
        )
    },
    entry("admin/people.json", Dashboard, "streamsuites.people.v1"),
    entry(
        "admin/rate_limits.json",
        Dashboard,
        "streamsuites.rate_limits.v1",
    ),
    entry("admin/quotas.json", Dashboard, "streamsuites.quotas.v1"),
    entry(
        "admin/moderation.json",
        Dashboard,
        "streamsuites.moderation.v1",
    ),
    entry(
        "admin/about.admin.json",
        Dashboard,
        "streamsuites.about_admin.v1",
    ),
    entry(
        "admin/integrations.json",
        Internal,
        "streamsuites.integrations.v1",
    ),
    entry(
        "admin/permissions.json",
        Internal,
        "streamsuites.permissions.v1",
    ),
    entry("admin/audit.json", Internal, "streamsuites.audit.v1"),
];

/// The files built from a running process's own state (its sources' connections, counters,
/// telemetry, chat trends, live quota planners): only the running `ss run` writes them into its
/// runtime tree; `ss export` beside it leaves them to it, since a second writer knows none of that.
pub const LIVE: [&str; 7] = [
    "exports/platforms.json",
    "exports/runtime_snapshot.json",
    "exports/telemetry/events.json",
    "exports/telemetry/rates.json",
    "exports/telemetry/errors.json",
    "signals/chat_trends.json",
    "admin/quotas.json",
];

impl Entry {
    /// Whether the file is built from a running process's own state (see [`LIVE`]).
    pub fn is_live(&self) -> bool {
        LIVE.contains(&self.name)
    }
}

/// The entry named `name`: its full name (`exports/clips.json`) or its short name (`clips`).
pub fn lookup(name: &str) -> Option<Entry> {
    CATALOGUE
        .iter()
        .find(|e| e.name == name || e.short_name() == name)
        .copied()
}

/// The entry with full name `name`.
pub fn by_name(name: &str) -> Option<Entry> {
    CATALOGUE.iter().find(|e| e.name == name).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_short_names_are_unique() {
        for (i, a) in CATALOGUE.iter().enumerate() {
            for b in &CATALOGUE[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.short_name(), b.short_name(), "{} / {}", a.name, b.name);
            }
        }
        assert_eq!(
            lookup("events").unwrap().name,
            "exports/telemetry/events.json"
        );
        assert_eq!(lookup("admin/audit.json").unwrap().visibility, Internal);
        assert_eq!(lookup("giveaways").unwrap().name, "exports/giveaways.json");
        assert_eq!(
            lookup("giveaways.admin").unwrap().name,
            "admin/giveaways.json"
        );
        assert!(lookup("nope").is_none());
    }

    #[test]
    fn every_live_file_is_in_the_catalogue() {
        for name in LIVE {
            assert!(by_name(name).is_some_and(|e| e.is_live()), "{name}");
        }
    }

    #[test]
    fn visibility_levels_are_ordered() {
        assert!(Public < Dashboard && Dashboard < Internal);
        assert_eq!(Visibility::from_name("dashboard"), Some(Dashboard));
    }
}
