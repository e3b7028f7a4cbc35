//! `runtime/config/moderation.json`: chat filters per creator, the strike ladder, `!permit`, and
//! whether decisions are carried out (`enforce`) or only recorded (`log`, a dry run).
//!
//! A creator's filters are checked in config order against every chat message, before the triggers;
//! the first that catches a message decides. Its penalty is the more severe of the filter's own
//! `action` and the step of the strike ladder the offence reaches ([`Penalty::max`]).

use super::yes;
use crate::event::{Platform, Role};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// `runtime/config/moderation.json`: moderation settings keyed by creator id.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModerationConfig {
    #[serde(default)]
    pub moderation: BTreeMap<String, CreatorModeration>,
}

/// Whether decisions are carried out or only recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModerationMode {
    /// Decisions become platform commands (delete, timeout, ban, the warning in chat).
    #[default]
    Enforce,
    /// A dry run: decisions are recorded (audit, exports, strikes) and nothing is sent.
    Log,
}

impl ModerationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ModerationMode::Enforce => "enforce",
            ModerationMode::Log => "log",
        }
    }
}

/// One creator's moderation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatorModeration {
    /// `enforce` (default) or `log`; a filter may override it.
    #[serde(default)]
    pub mode: ModerationMode,
    /// Platforms moderated; empty or missing: all.
    #[serde(default)]
    pub platforms: Vec<Platform>,
    /// Roles no filter acts on unless the filter names its own (default: moderator; the
    /// broadcaster is never moderated).
    #[serde(default = "default_exempt")]
    pub exempt: Vec<Role>,
    #[serde(default)]
    pub permit: PermitSettings,
    #[serde(default)]
    pub strikes: StrikeSettings,
    #[serde(default)]
    pub filters: Vec<FilterDef>,
}

fn default_exempt() -> Vec<Role> {
    vec![Role::Moderator]
}

/// `!permit user [seconds]`: lets a viewer post links for a while.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermitSettings {
    /// The chat command (default `!permit`); `null` turns permits off.
    #[serde(default = "default_permit_command")]
    pub command: Option<String>,
    /// How long a permit lasts when the command names no time (default 60 s).
    #[serde(default = "default_permit_seconds")]
    pub seconds: u32,
    /// The least privileged role allowed to permit (default moderator).
    #[serde(default = "default_permit_role")]
    pub role: Role,
    /// The reply; `{user}` is the permitted viewer, `{seconds}` the time.
    #[serde(default = "default_permit_reply")]
    pub reply: String,
}

impl Default for PermitSettings {
    fn default() -> PermitSettings {
        PermitSettings {
            command: default_permit_command(),
            seconds: default_permit_seconds(),
            role: default_permit_role(),
            reply: default_permit_reply(),
        }
    }
}

#[allow(
    clippy::unnecessary_wraps,
    reason = "serde default of an Option field whose default is Some"
)]
fn default_permit_command() -> Option<String> {
    Some("!permit".into())
}

fn default_permit_seconds() -> u32 {
    60
}

fn default_permit_role() -> Role {
    Role::Moderator
}

fn default_permit_reply() -> String {
    "{user} may post links for {seconds} s.".into()
}

/// The longest a permit may last (an hour).
pub const MAX_PERMIT_SECONDS: u32 = 3600;

/// How repeat offences escalate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrikeSettings {
    /// The penalty of each strike, from the first; offences past the end take the last. Empty:
    /// no escalation (every filter keeps its own action).
    #[serde(default = "default_ladder")]
    pub ladder: Vec<Penalty>,
    /// A user's strikes are forgotten this long after their last offence (default an hour).
    #[serde(default = "default_decay_s")]
    pub decay_s: u64,
}

impl Default for StrikeSettings {
    fn default() -> StrikeSettings {
        StrikeSettings {
            ladder: default_ladder(),
            decay_s: default_decay_s(),
        }
    }
}

fn default_ladder() -> Vec<Penalty> {
    vec![
        Penalty::Warn,
        Penalty::Delete,
        Penalty::Timeout(60),
        Penalty::Timeout(600),
        Penalty::Ban,
    ]
}

fn default_decay_s() -> u64 {
    3600
}

/// What a decision does, from the mildest: a warning in chat; the message deleted; the author
/// timed out for some seconds (and the message deleted); the author banned (and the message deleted).
///
/// Written as `"warn"`, `"delete"`, `"ban"` or `{"timeout": SECONDS}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Penalty {
    Warn,
    Delete,
    Timeout(u32),
    Ban,
}

/// The longest timeout a penalty may name (14 days, Twitch's limit; platforms with a lower one
/// cap it).
pub const MAX_TIMEOUT_SECONDS: u32 = 1_209_600;

impl Penalty {
    /// How severe: warn < delete < timeout (longer is more) < ban.
    fn rank(self) -> (u8, u32) {
        match self {
            Penalty::Warn => (0, 0),
            Penalty::Delete => (1, 0),
            Penalty::Timeout(s) => (2, s),
            Penalty::Ban => (3, 0),
        }
    }

    /// The more severe of the two.
    #[must_use]
    pub fn max(self, other: Penalty) -> Penalty {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Penalty::Warn => "warn",
            Penalty::Delete => "delete",
            Penalty::Timeout(_) => "timeout",
            Penalty::Ban => "ban",
        }
    }

    /// The timeout's length, for a timeout.
    pub fn seconds(self) -> Option<u32> {
        match self {
            Penalty::Timeout(s) => Some(s),
            _ => None,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum PenaltyForm {
    Name(String),
    Timeout { timeout: u32 },
}

impl Serialize for Penalty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Penalty::Timeout(seconds) => PenaltyForm::Timeout { timeout: *seconds },
            other => PenaltyForm::Name(other.name().to_owned()),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Penalty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Penalty, D::Error> {
        match PenaltyForm::deserialize(d)? {
            PenaltyForm::Timeout { timeout } => Ok(Penalty::Timeout(timeout)),
            PenaltyForm::Name(name) => match name.as_str() {
                "warn" => Ok(Penalty::Warn),
                "delete" => Ok(Penalty::Delete),
                "ban" => Ok(Penalty::Ban),
                other => Err(serde::de::Error::custom(format!(
                    "unknown penalty {other:?}; use \"warn\", \"delete\", \"ban\" or {{\"timeout\": SECONDS}}"
                ))),
            },
        }
    }
}

/// One filter: what it catches, whom it spares, and what it does.
// No `deny_unknown_fields`: serde cannot combine it with `flatten`; the schema rejects unknown keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterDef {
    /// Unique within the creator; names the filter in the audit, the exports and the diff.
    pub id: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(flatten)]
    pub rule: FilterRule,
    /// What a catch does at least; the strike ladder may make it more severe.
    pub action: Penalty,
    /// Said in chat with the decision; placeholders `{user}`, `{filter}`, `{rule}`, `{action}`,
    /// `{seconds}`, `{strike}`. A warning without one says a default line.
    #[serde(default)]
    pub message: Option<String>,
    /// Roles this filter spares, instead of the creator's `exempt`.
    #[serde(default)]
    pub exempt: Option<Vec<Role>>,
    /// Spares a viewer known to have followed at least this long ago (seconds). The runtime knows
    /// a follow from the platform's follow events it received.
    #[serde(default)]
    pub exempt_followers_s: Option<u64>,
    /// Whether a catch counts as a strike (default true).
    #[serde(default = "yes")]
    pub strikes: bool,
    /// `enforce` or `log` for this filter alone (default: the creator's mode).
    #[serde(default)]
    pub mode: Option<ModerationMode>,
    /// Platforms it applies to; empty or missing: every moderated platform.
    #[serde(default)]
    pub platforms: Vec<Platform>,
}

/// What a filter catches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FilterRule {
    /// Links, also written to dodge filters (`example(dot)com`, `example . com`).
    Links {
        /// Domains allowed (their subdomains too): `youtube.com` allows `www.youtube.com`.
        #[serde(default)]
        allow: Vec<String>,
        /// Stricter for a chatter's first message and for new followers.
        #[serde(default)]
        first_message: Option<FirstMessageRule>,
    },
    /// Too many capitals.
    Caps {
        /// Letters a message needs before the ratio counts (default 12).
        #[serde(default = "default_min_letters")]
        min_length: u32,
        /// The largest share of capitals among the letters (default 0.7).
        #[serde(default = "default_caps_ratio")]
        max_ratio: f64,
    },
    /// Too many symbols (neither letters, digits nor spaces).
    Symbols {
        /// Characters (without spaces) a message needs before the ratio counts (default 12).
        #[serde(default = "default_min_letters")]
        min_length: u32,
        /// The largest share of symbols (default 0.5).
        #[serde(default = "default_symbols_ratio")]
        max_ratio: f64,
    },
    /// One character repeated in a row, or one word repeated.
    Repetition {
        /// The longest run of one character allowed (default 10).
        #[serde(default = "default_max_run")]
        max_char_run: u32,
        /// The most times one word may appear (default 6).
        #[serde(default = "default_max_word_repeats")]
        max_word_repeats: u32,
    },
    /// Too many emotes (counted from the platform's emote positions).
    Emotes {
        /// The most emotes allowed (default 10).
        #[serde(default = "default_max_emotes")]
        max: u32,
    },
    /// Too long.
    Length {
        /// The most characters allowed (default 400).
        #[serde(default = "default_max_chars")]
        max_chars: u32,
    },
    /// Banned words and phrases (whole words, any case, any accents) and regexes.
    Words {
        #[serde(default)]
        words: Vec<String>,
        /// Regexes (Rust syntax, case-insensitive; linear time whatever the pattern).
        #[serde(default)]
        patterns: Vec<String>,
    },
}

impl FilterRule {
    /// The `type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            FilterRule::Links { .. } => "links",
            FilterRule::Caps { .. } => "caps",
            FilterRule::Symbols { .. } => "symbols",
            FilterRule::Repetition { .. } => "repetition",
            FilterRule::Emotes { .. } => "emotes",
            FilterRule::Length { .. } => "length",
            FilterRule::Words { .. } => "words",
        }
    }
}

/// Stricter link rules for a chatter's first message (Twitch marks it; elsewhere, their first
/// message since the run started) and for viewers who followed a short while ago: the allowlist does
/// not apply and the penalty is `action`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstMessageRule {
    /// The penalty for a link then (default: the filter's action).
    #[serde(default)]
    pub action: Option<Penalty>,
    /// A viewer who followed less than this many seconds ago counts as new (default 0: only first
    /// messages).
    #[serde(default)]
    pub followed_within_s: u64,
}

fn default_min_letters() -> u32 {
    12
}

fn default_caps_ratio() -> f64 {
    0.7
}

fn default_symbols_ratio() -> f64 {
    0.5
}

fn default_max_run() -> u32 {
    10
}

fn default_max_word_repeats() -> u32 {
    6
}

fn default_max_emotes() -> u32 {
    10
}

fn default_max_chars() -> u32 {
    400
}

/// The placeholders a moderation message may use.
pub const MODERATION_PLACEHOLDERS: [&str; 6] =
    ["user", "filter", "rule", "action", "seconds", "strike"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalties_read_and_write_as_documented_and_order_by_severity() {
        let ladder: Vec<Penalty> =
            serde_json::from_str(r#"["warn", "delete", {"timeout": 60}, {"timeout": 600}, "ban"]"#)
                .unwrap();
        assert_eq!(ladder, default_ladder());
        assert_eq!(
            serde_json::to_string(&ladder).unwrap(),
            r#"["warn","delete",{"timeout":60},{"timeout":600},"ban"]"#
        );
        assert_eq!(
            Penalty::Timeout(30).max(Penalty::Timeout(60)),
            Penalty::Timeout(60)
        );
        assert_eq!(
            Penalty::Timeout(30).max(Penalty::Warn),
            Penalty::Timeout(30)
        );
        assert_eq!(Penalty::Delete.max(Penalty::Ban), Penalty::Ban);
        let err = serde_json::from_str::<Penalty>(r#""kick""#).unwrap_err();
        assert!(err.to_string().contains("unknown penalty"), "{err}");
    }

    #[test]
    fn a_filter_reads_with_its_defaults() {
        let config: ModerationConfig = serde_json::from_str(
            r#"{"moderation": {"demo": {"filters": [
                {"id": "caps", "type": "caps", "action": {"timeout": 30}},
                {"id": "links", "type": "links", "allow": ["youtube.com"], "action": "delete",
                 "first_message": {"action": "ban"}}
            ]}}}"#,
        )
        .unwrap();
        let demo = &config.moderation["demo"];
        assert_eq!(demo.mode, ModerationMode::Enforce);
        assert_eq!(demo.exempt, [Role::Moderator]);
        assert_eq!(demo.permit.command.as_deref(), Some("!permit"));
        assert_eq!(
            demo.filters[0].rule,
            FilterRule::Caps {
                min_length: 12,
                max_ratio: 0.7
            }
        );
        assert!(demo.filters[0].strikes);
        assert_eq!(demo.filters[0].action, Penalty::Timeout(30));
    }
}
