//! Platform identity: what a [`Platform`] is, open to platforms this crate does not know.
//!
//! A platform is a pointer to its [`PlatformInfo`], plain data registered at link time (with the
//! `inventory` crate) by the platform's own folder through `ss::register_platform!`. Nothing here
//! lists platforms: [`Platform::all`] is whatever was linked in, ordered the way exports list them
//! (by [`PlatformInfo::rank`], then name). Two platforms are equal when their names are; the name is
//! also what serde, the store and the config files use, and an unknown name is an error that lists
//! the known ones.
//!
//! Behaviour (config blocks, sources, webhooks, services) is not here: the event contract only
//! identifies a platform. The registry of behaviour is `sources::registry`, keyed by this identity.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

/// Where a platform's emote images come from: a fixed CDN URL and the pattern an emote id must
/// match in full to be put into it (see `pages::cdn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmoteImages {
    /// The host, for the pages' Content-Security-Policy.
    pub host: &'static str,
    /// The image URL with `{id}` where the emote id goes.
    pub url: &'static str,
    /// A regular expression (JavaScript and Rust syntax alike) an id must match in full.
    pub id: &'static str,
}

/// What identifies a platform and how it is shown: plain data, one `static` per platform in its
/// own folder.
#[derive(Debug)]
pub struct PlatformInfo {
    /// The lowercase name used in config files, exports and the store (`[a-z][a-z0-9_]*`).
    pub name: &'static str,
    /// The name people read ("Twitch").
    pub title: &'static str,
    /// Where exports list it: lower first. Built-in platforms use 0..100; others go after.
    pub rank: u32,
    /// The colour of its Discord embeds, `0xRRGGBB`; `None` for the default.
    pub colour: Option<u32>,
    /// Its emote images, when the pages show them as images.
    pub emotes: Option<EmoteImages>,
}

/// A chat platform, or the built-in `sim` source. Notification destinations (Discord, X) are not
/// platforms: they have their own settings and are reached through the outbox.
///
/// `Copy`, one pointer wide; equality, hashing and order by name (rank first for order).
#[derive(Clone, Copy)]
pub struct Platform(&'static PlatformInfo);

/// One platform's identity as registered at link time (see `ss::register_platform!`).
pub struct RegisteredPlatform(pub &'static PlatformInfo);

inventory::collect!(RegisteredPlatform);

impl Platform {
    /// The platform `info` describes. Built-in platforms name theirs as a constant in their own
    /// folder (`sources::twitch::TWITCH`).
    pub const fn new(info: &'static PlatformInfo) -> Platform {
        Platform(info)
    }

    /// Every registered platform, in the order exports list them. A name registered twice counts
    /// once (the first registration wins; a unit test keeps built-in names unique).
    pub fn all() -> &'static [Platform] {
        static ALL: OnceLock<Vec<Platform>> = OnceLock::new();
        ALL.get_or_init(|| {
            let mut all: Vec<Platform> = Vec::new();
            for registered in inventory::iter::<RegisteredPlatform> {
                let platform = Platform(registered.0);
                if !all.contains(&platform) {
                    all.push(platform);
                }
            }
            all.sort();
            all
        })
    }

    /// The lowercase name used in config files, exports and the store.
    pub fn as_str(self) -> &'static str {
        self.0.name
    }

    /// The name people read.
    pub fn title(self) -> &'static str {
        self.0.title
    }

    /// Its plain data.
    pub fn info(self) -> &'static PlatformInfo {
        self.0
    }

    /// The registered platform named `name`; `None` for anything else.
    pub fn from_name(name: &str) -> Option<Platform> {
        Platform::all().iter().copied().find(|p| p.as_str() == name)
    }

    /// The registered platform named `name`, for tests and benchmarks that pick a platform by name.
    ///
    /// # Panics
    /// When no registered platform has that name.
    pub fn named(name: &str) -> Platform {
        Platform::parse(name).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The registered names, in export order, for messages ("twitch, youtube, ...").
    pub fn known_names() -> String {
        Platform::all()
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The registered platform named `name`, or an error naming the known ones.
    pub fn parse(name: &str) -> Result<Platform, UnknownPlatform> {
        Platform::from_name(name).ok_or_else(|| UnknownPlatform(name.to_owned()))
    }
}

/// A platform name no registered platform has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown platform {0:?}; known platforms: {known}", known = Platform::known_names())]
pub struct UnknownPlatform(pub String);

impl PartialEq for Platform {
    fn eq(&self, other: &Platform) -> bool {
        std::ptr::eq(self.0, other.0) || self.0.name == other.0.name
    }
}

impl Eq for Platform {}

impl Hash for Platform {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.name.hash(state);
    }
}

impl Ord for Platform {
    fn cmp(&self, other: &Platform) -> std::cmp::Ordering {
        (self.0.rank, self.0.name).cmp(&(other.0.rank, other.0.name))
    }
}

impl PartialOrd for Platform {
    fn partial_cmp(&self, other: &Platform) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl Serialize for Platform {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.name)
    }
}

impl<'de> Deserialize<'de> for Platform {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Platform, D::Error> {
        struct Name;
        impl serde::de::Visitor<'_> for Name {
            type Value = Platform;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a platform name")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Platform, E> {
                Platform::parse(name).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Name)
    }
}

/// A set of platforms (a trigger's `platforms`). "Every platform" is the common case and costs one
/// branch; a listed set is a short list compared by pointer first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlatformSet {
    /// `None`: every platform, whatever is registered.
    only: Option<smallvec::SmallVec<[Platform; 4]>>,
}

impl PlatformSet {
    /// Every platform.
    pub const ALL: PlatformSet = PlatformSet { only: None };

    /// No platform (insert some).
    pub fn none() -> PlatformSet {
        PlatformSet {
            only: Some(smallvec::SmallVec::new()),
        }
    }

    pub fn insert(&mut self, platform: Platform) {
        if let Some(only) = &mut self.only
            && !only.contains(&platform)
        {
            only.push(platform);
        }
    }

    pub fn contains(&self, platform: Platform) -> bool {
        match &self.only {
            None => true,
            Some(only) => only.contains(&platform),
        }
    }
}

impl FromIterator<Platform> for PlatformSet {
    fn from_iter<I: IntoIterator<Item = Platform>>(iter: I) -> PlatformSet {
        let mut set = PlatformSet::none();
        for p in iter {
            set.insert(p);
        }
        set
    }
}

/// Sets the platform list of a JSON Schema to the registered platforms: the schema's
/// `$defs/platform` (which the files in `schemas/` write with the built-in names, for readers of
/// the file) becomes an `enum` of [`Platform::all`]. A schema without it is left as it is.
pub fn register_platforms_in_schema(schema: &mut serde_json::Value) {
    if let Some(def) = schema.pointer_mut("/$defs/platform")
        && let Some(def) = def.as_object_mut()
    {
        let names = Platform::all()
            .iter()
            .map(|p| serde_json::Value::from(p.as_str()))
            .collect();
        def.insert("enum".into(), serde_json::Value::Array(names));
    }
}
