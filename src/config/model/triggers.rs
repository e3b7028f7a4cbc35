//! `runtime/config/triggers.json`: chat triggers per creator and what they do.
//!
//! A trigger matches chat messages (`"kind"`: a command, keywords, a regex, any text) or a stream
//! event (`"on": {"event": "raid", "min_viewers": 10}`): a kind of event with conditions on its
//! typed fields ([`EventMatch`]).

use super::yes;
use crate::event::{EventKind, MembershipKind, Platform, Role, SubKind, SubTier};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `runtime/config/triggers.json`: chat triggers, keyed by creator id.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggersConfig {
    #[serde(default)]
    pub triggers: BTreeMap<String, Vec<TriggerDef>>,
    /// Chat polls and standings commands, keyed by creator id; a creator not listed has none.
    #[serde(default)]
    pub polls: BTreeMap<String, PollSettings>,
    /// Timed messages, keyed by creator id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub timers: BTreeMap<String, Vec<super::TimerDef>>,
    /// Giveaways, keyed by creator id; a creator not listed has none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub giveaways: BTreeMap<String, super::GiveawaySettings>,
    /// Quotes, keyed by creator id; a creator not listed has none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub quotes: BTreeMap<String, super::QuoteSettings>,
    /// Points, keyed by creator id; a creator not listed has none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub points: BTreeMap<String, super::PointsSettings>,
    /// Account links (`!link`), keyed by creator id; a creator not listed has none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub links: BTreeMap<String, super::LinkSettings>,
}

impl TriggersConfig {
    /// Whether any trigger calls an extension.
    pub fn calls_extensions(&self) -> bool {
        self.triggers
            .values()
            .flatten()
            .any(|def| matches!(def.action, ActionDef::Extension { .. }))
    }

    /// Every creator any section names, each once, in order.
    pub fn creators(&self) -> std::collections::BTreeSet<&String> {
        self.triggers
            .keys()
            .chain(self.polls.keys())
            .chain(self.timers.keys())
            .chain(self.giveaways.keys())
            .chain(self.quotes.keys())
            .chain(self.points.keys())
            .chain(self.links.keys())
            .collect()
    }
}

/// A creator's chat polls (`!poll open ...`, `!vote ...`, `!poll close`) and standings replies
/// (`!top [board]`, `!rank [user]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollSettings {
    /// Opens, closes and shows polls (default `!poll`).
    #[serde(default = "default_poll_command")]
    pub poll_command: String,
    /// Votes in the open poll by number or option (default `!vote`).
    #[serde(default = "default_vote_command")]
    pub vote_command: String,
    /// The least privileged role allowed to open and close polls (default moderator).
    #[serde(default = "default_manage_role")]
    pub manage_role: Role,
    /// Seconds a poll stays open when `!poll open` names no duration; 0 (the default): until
    /// `!poll close`.
    #[serde(default)]
    pub default_duration_s: u32,
    /// Most options a poll may have (default 10).
    #[serde(default = "default_max_options")]
    pub max_options: usize,
    /// The Discord notification channel key the results are posted to (default `general`); `null`
    /// posts nothing.
    #[serde(default = "default_results_channel")]
    pub discord: Option<String>,
    /// Replies the top of a scoreboard or tally (default `!top`).
    #[serde(default = "default_top_command")]
    pub top_command: String,
    /// Replies a user's rank on a scoreboard (default `!rank`).
    #[serde(default = "default_rank_command")]
    pub rank_command: String,
}

impl Default for PollSettings {
    fn default() -> PollSettings {
        PollSettings {
            poll_command: default_poll_command(),
            vote_command: default_vote_command(),
            manage_role: default_manage_role(),
            default_duration_s: 0,
            max_options: default_max_options(),
            discord: default_results_channel(),
            top_command: default_top_command(),
            rank_command: default_rank_command(),
        }
    }
}

impl PollSettings {
    /// The chat commands these settings claim, for conflict checks.
    pub fn commands(&self) -> [&str; 4] {
        [
            &self.poll_command,
            &self.vote_command,
            &self.top_command,
            &self.rank_command,
        ]
    }
}

/// The most options any poll may have, whatever `max_options` says (a chat line must list them).
pub const POLL_OPTIONS_LIMIT: usize = 25;

fn default_poll_command() -> String {
    "!poll".into()
}

fn default_vote_command() -> String {
    "!vote".into()
}

fn default_top_command() -> String {
    "!top".into()
}

fn default_rank_command() -> String {
    "!rank".into()
}

fn default_manage_role() -> Role {
    Role::Moderator
}

fn default_max_options() -> usize {
    10
}

#[allow(
    clippy::unnecessary_wraps,
    reason = "serde default of an Option field whose default is Some"
)]
fn default_results_channel() -> Option<String> {
    Some("general".into())
}

/// One trigger: what matches, who may fire it, how often, and what it does.
// No `deny_unknown_fields` here: serde cannot combine it with `flatten`; the schema rejects unknown keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerDef {
    /// Unique within the creator.
    pub id: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(flatten)]
    pub matcher: Matcher,
    #[serde(default)]
    pub cooldowns: Cooldowns,
    /// The least privileged role allowed to fire it (default everyone).
    #[serde(default)]
    pub min_role: Role,
    /// Platforms it applies to; empty means all.
    #[serde(default)]
    pub platforms: Vec<Platform>,
    /// Also fire on events shared from another channel's chat (Twitch's shared chat); off by
    /// default, so a trigger answers its own channel's viewers only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared_chat: bool,
    pub action: ActionDef,
}

impl TriggerDef {
    /// Whether this trigger answers `command` (its command or an alias, any case).
    pub fn answers_command(&self, command: &str) -> bool {
        match &self.matcher {
            Matcher::Command {
                command: own,
                aliases,
            } => std::iter::once(own)
                .chain(aliases)
                .any(|c| c.eq_ignore_ascii_case(command)),
            _ => false,
        }
    }
}

/// How a trigger matches: a chat message by its text, or a stream event by its kind and fields.
///
/// Read from `"kind"` and its keys, or from `"on"` alone for a stream event (`"kind": "event"` may
/// be written too, and is how exports show it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "RawMatcher")]
pub enum Matcher {
    /// The first word equals the command or an alias (case-insensitive); the rest are arguments.
    Command {
        command: String,
        #[serde(default)]
        aliases: Vec<String>,
    },
    /// Any of the keywords appears as a whole word (case-insensitive).
    Keyword { keywords: Vec<String> },
    /// The regular expression matches somewhere in the text.
    Regex { pattern: String },
    /// Any message with non-blank text: the validation trigger.
    NonEmpty,
    /// A stream event of one kind whose fields meet every condition given.
    Event { on: EventMatch },
}

/// The keys a matcher may use, as written; [`Matcher`] is read through it so that a stream-event
/// trigger needs only `"on"`. The schema has already checked which keys go together.
#[derive(Deserialize)]
struct RawMatcher {
    kind: Option<String>,
    command: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    keywords: Option<Vec<String>>,
    pattern: Option<String>,
    on: Option<EventMatch>,
}

impl TryFrom<RawMatcher> for Matcher {
    type Error = String;

    fn try_from(raw: RawMatcher) -> Result<Matcher, String> {
        let missing = |key: &str, kind: &str| format!("a {kind} trigger needs `{key}`");
        match (raw.kind.as_deref(), raw.on) {
            (None | Some("event"), Some(on)) => Ok(Matcher::Event { on }),
            (Some("event"), None) => Err(missing("on", "stream-event")),
            (Some(kind), Some(_)) => Err(format!(
                "`on` is for stream-event triggers; a {kind} trigger matches chat messages"
            )),
            (Some("command"), None) => Ok(Matcher::Command {
                command: raw.command.ok_or_else(|| missing("command", "command"))?,
                aliases: raw.aliases,
            }),
            (Some("keyword"), None) => Ok(Matcher::Keyword {
                keywords: raw.keywords.ok_or_else(|| missing("keywords", "keyword"))?,
            }),
            (Some("regex"), None) => Ok(Matcher::Regex {
                pattern: raw.pattern.ok_or_else(|| missing("pattern", "regex"))?,
            }),
            (Some("non_empty"), None) => Ok(Matcher::NonEmpty),
            (Some(other), None) => Err(format!(
                "unknown trigger kind {other:?}; use command, keyword, regex or non_empty, or `on` for a stream event"
            )),
            (None, None) => Err(
                "a trigger needs `kind` (command, keyword, regex, non_empty) or `on` (a stream event)"
                    .into(),
            ),
        }
    }
}

/// A stream-event trigger's `"on"`: the kind of event, and conditions on its typed fields. Every
/// condition given must hold; an event without the field a condition reads does not match it.
/// Which condition fits which kind is [`EventMatch::CONDITIONS`] (`validate-config` refuses the
/// others).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMatch {
    /// The kind of event (`raid`, `subscription`, `cheer`, ...; not `message`).
    pub event: EventKind,
    /// Raids and hosts bringing at least this many viewers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_viewers: Option<u64>,
    /// Subscriptions or memberships of at least this many months.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_months: Option<u32>,
    /// Gifts of at least this many subscriptions or memberships at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_count: Option<u32>,
    /// Subscriptions of these tiers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<OneOrMany<SubTier>>,
    /// Subscriptions of these kinds (`new`, `resub`, `gift`, `community_gift`, `prime_upgrade`,
    /// `gift_upgrade`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_kind: Option<OneOrMany<SubKind>>,
    /// Gifts whose gifter stayed anonymous (`true`) or did not (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous: Option<bool>,
    /// Cheers, Super Chats and tips of at least this amount (in `currency` when it is given, in
    /// whatever currency otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_amount: Option<f64>,
    /// Cheers, Super Chats and tips in this currency (`USD`, `bits`, ...; any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Redemptions of the reward with this id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward_id: Option<String>,
    /// Redemptions of the reward with this title (any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward: Option<String>,
    /// Memberships of these kinds (`new`, `upgrade`, `milestone`, `gift`, `received`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership_kind: Option<OneOrMany<MembershipKind>>,
    /// `other` events the platform names so (Twitch `ritual`, a Kick event name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl EventMatch {
    /// Every condition key and the event kinds it fits.
    pub const CONDITIONS: [(&'static str, &'static [EventKind]); 12] = [
        ("min_viewers", &[EventKind::Raid, EventKind::Host]),
        (
            "min_months",
            &[EventKind::Subscription, EventKind::Membership],
        ),
        (
            "min_count",
            &[EventKind::Subscription, EventKind::Membership],
        ),
        ("tier", &[EventKind::Subscription]),
        ("sub_kind", &[EventKind::Subscription]),
        ("anonymous", &[EventKind::Subscription]),
        (
            "min_amount",
            &[EventKind::Cheer, EventKind::SuperChat, EventKind::Tip],
        ),
        (
            "currency",
            &[EventKind::Cheer, EventKind::SuperChat, EventKind::Tip],
        ),
        ("reward_id", &[EventKind::Redemption]),
        ("reward", &[EventKind::Redemption]),
        ("membership_kind", &[EventKind::Membership]),
        ("name", &[EventKind::Other]),
    ];

    /// The keys of the conditions this match sets, in [`EventMatch::CONDITIONS`] order.
    pub fn conditions_set(&self) -> impl Iterator<Item = &'static str> + '_ {
        let set = [
            self.min_viewers.is_some(),
            self.min_months.is_some(),
            self.min_count.is_some(),
            self.tier.is_some(),
            self.sub_kind.is_some(),
            self.anonymous.is_some(),
            self.min_amount.is_some(),
            self.currency.is_some(),
            self.reward_id.is_some(),
            self.reward.is_some(),
            self.membership_kind.is_some(),
            self.name.is_some(),
        ];
        Self::CONDITIONS
            .iter()
            .zip(set)
            .filter(|(_, set)| *set)
            .map(|((key, _), _)| *key)
    }

    /// The kinds condition `key` fits (empty for a key that is no condition).
    pub fn kinds_of(key: &str) -> &'static [EventKind] {
        Self::CONDITIONS
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(&[], |(_, kinds)| kinds)
    }
}

/// A placeholder of a trigger's template (`{user}`, `{viewers}`, ...), as `triggers::template`
/// renders it and `validate-config` checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    User,
    Args,
    Count,
    Platform,
    Event,
    Viewers,
    Months,
    Streak,
    Gifts,
    Tier,
    Amount,
    Currency,
    Recipient,
    Reward,
    RewardId,
    Input,
    Title,
}

impl Placeholder {
    /// Every placeholder with its name, as templates write it between braces.
    pub const ALL: [(&'static str, Placeholder); 17] = [
        ("user", Placeholder::User),
        ("args", Placeholder::Args),
        ("count", Placeholder::Count),
        ("platform", Placeholder::Platform),
        ("event", Placeholder::Event),
        ("viewers", Placeholder::Viewers),
        ("months", Placeholder::Months),
        ("streak", Placeholder::Streak),
        ("gifts", Placeholder::Gifts),
        ("tier", Placeholder::Tier),
        ("amount", Placeholder::Amount),
        ("currency", Placeholder::Currency),
        ("recipient", Placeholder::Recipient),
        ("reward", Placeholder::Reward),
        ("reward_id", Placeholder::RewardId),
        ("input", Placeholder::Input),
        ("title", Placeholder::Title),
    ];

    /// The longest name, so a lone `{` never makes the scan read far.
    pub const MAX_NAME: usize = 9;

    pub fn from_name(name: &str) -> Option<Placeholder> {
        Placeholder::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
    }

    pub fn name(self) -> &'static str {
        Placeholder::ALL
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("", |(n, _)| n)
    }

    /// The kinds of stream event that carry this placeholder's field; `None`: every trigger has it.
    pub fn kinds(self) -> Option<&'static [EventKind]> {
        use EventKind::{
            Cheer, Host, Membership, Raid, Redemption, StreamOffline, StreamOnline, Subscription,
            SuperChat, Tip,
        };
        Some(match self {
            Placeholder::User
            | Placeholder::Args
            | Placeholder::Count
            | Placeholder::Platform
            | Placeholder::Event => return None,
            Placeholder::Viewers => &[Raid, Host],
            Placeholder::Months | Placeholder::Gifts | Placeholder::Tier => {
                &[Subscription, Membership]
            }
            Placeholder::Streak | Placeholder::Recipient => &[Subscription],
            Placeholder::Amount | Placeholder::Currency => &[Cheer, SuperChat, Tip],
            Placeholder::Reward | Placeholder::RewardId | Placeholder::Input => &[Redemption],
            Placeholder::Title => &[StreamOnline, StreamOffline],
        })
    }

    /// Whether a trigger on `event` (`None`: a chat trigger) can fill this placeholder.
    pub fn fits(self, event: Option<EventKind>) -> bool {
        match (self.kinds(), event) {
            (None, _) => true,
            (Some(kinds), Some(kind)) => kinds.contains(&kind),
            (Some(_), None) => false,
        }
    }

    /// The placeholders of `template` in order, with the byte range each takes (braces included).
    /// Text between braces that names no placeholder is not one.
    pub fn scan(template: &str) -> impl Iterator<Item = (usize, usize, Placeholder)> + '_ {
        let bytes = template.as_bytes();
        let mut at = 0;
        std::iter::from_fn(move || {
            while let Some(open) = template[at..].find('{').map(|i| at + i) {
                at = open + 1;
                let window = &bytes[at..bytes.len().min(at + Placeholder::MAX_NAME + 1)];
                if let Some(close) = window.iter().position(|b| *b == b'}')
                    && let Some(p) = Placeholder::from_name(&template[at..at + close])
                {
                    at += close + 1;
                    return Some((open, at, p));
                }
            }
            None
        })
    }

    /// The placeholders `template` uses, in order.
    pub fn used_in(template: &str) -> impl Iterator<Item = Placeholder> + '_ {
        Placeholder::scan(template).map(|(_, _, p)| p)
    }
}

/// One value or a list of them (`"tier": "tier3"` or `"tier": ["tier2", "tier3"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: PartialEq> OneOrMany<T> {
    pub fn contains(&self, value: &T) -> bool {
        match self {
            OneOrMany::One(one) => one == value,
            OneOrMany::Many(many) => many.contains(value),
        }
    }
}

/// Seconds before the trigger may fire again; 0 means no cooldown.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cooldowns {
    /// Per user (on one platform).
    #[serde(default)]
    pub user_s: f64,
    /// Per creator: anyone, on any of the creator's platforms.
    #[serde(default)]
    pub creator_s: f64,
    /// Per trigger id across every creator that defines it.
    #[serde(default)]
    pub global_s: f64,
}

/// What a trigger does when it fires. Its templates fill placeholders (`{user}`, `{viewers}`, ...:
/// [`crate::triggers::template`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionDef {
    /// Reply in chat, with the template's placeholders filled in.
    Reply { template: String },
    /// Post in chat, not threaded under the message; a template like `reply`'s.
    Say { template: String },
    /// Post a highlighted announcement; a template like `reply`'s.
    Announce { template: String },
    /// Delete the message that fired the trigger.
    Delete,
    /// Time the message's author out for `seconds`; `reason` is a template.
    Timeout {
        seconds: u32,
        #[serde(default)]
        reason: Option<String>,
    },
    /// Ban the message's author; `reason` is a template.
    Ban {
        #[serde(default)]
        reason: Option<String>,
    },
    /// Lift a ban or timeout of the message's author.
    Unban,
    /// Request a clip of the last `duration_s` seconds (default 30).
    Clip {
        #[serde(default)]
        duration_s: Option<u32>,
        #[serde(default)]
        title: Option<String>,
    },
    /// Add `amount` (default 1) to a named tally.
    Tally {
        tally: String,
        #[serde(default)]
        amount: Option<i64>,
    },
    /// Vote in a poll; the option is the first argument (or `option` when set). Without `poll`, the
    /// vote goes to the creator's open chat poll (by number or option); with it, to a standing poll
    /// of that name whose options are whatever chat votes for.
    PollVote {
        #[serde(default)]
        poll: Option<String>,
        #[serde(default)]
        option: Option<String>,
    },
    /// Give the author `points` (default 1) on a scoreboard.
    Score {
        board: String,
        #[serde(default)]
        points: Option<i64>,
    },
    /// Send a Discord notification to one of the guild's notification channels.
    Notify { channel: String, template: String },
    /// Mark the platform's chat as validated (a message made it through end to end).
    ValidationPassed,
    /// Give the author `amount` of the creator's points (a bonus for a sub, a cheer, a raid);
    /// once per event, however often it is delivered.
    Points { amount: u32 },
    /// Ask the creator's OBS (obs.json) for something: `"request": "switch_scene"` with
    /// `"scene": "{args}"`, ... ([`super::ObsCall`]); its texts are templates.
    Obs(super::ObsCall),
    /// Call an extension of extensions.json with `input`; the effects it answers (within its
    /// `effects`) become actions of their own, caused by the same event.
    Extension {
        name: String,
        #[serde(default)]
        input: serde_json::Map<String, serde_json::Value>,
    },
}

impl ActionDef {
    /// Whether the action moderates the author of the message (time out, ban, unban, delete).
    pub fn moderates_author(&self) -> bool {
        matches!(
            self,
            ActionDef::Delete
                | ActionDef::Timeout { .. }
                | ActionDef::Ban { .. }
                | ActionDef::Unban
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn schema_defs() -> Value {
        let text = crate::config::files::ConfigKind::Triggers.schema_text();
        serde_json::from_str::<Value>(text).unwrap()["$defs"].clone()
    }

    fn names<T: Serialize>(values: &[T]) -> Vec<Value> {
        values
            .iter()
            .map(|v| serde_json::to_value(v).unwrap())
            .collect()
    }

    /// The schema and the model name the same event kinds, conditions and values, so neither can
    /// gain one the other refuses.
    #[test]
    fn the_schema_lists_exactly_the_event_kinds_and_conditions_of_the_model() {
        let defs = schema_defs();
        let on = &defs["event_match"]["properties"];
        let kinds: Vec<EventKind> = EventKind::ALL
            .into_iter()
            .filter(|k| *k != EventKind::Message)
            .collect();
        assert_eq!(on["event"]["enum"].as_array().unwrap(), &names(&kinds));
        let mut keys: Vec<&str> = on.as_object().unwrap().keys().map(String::as_str).collect();
        keys.retain(|k| *k != "event");
        let conditions: Vec<&str> = EventMatch::CONDITIONS.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, conditions);
        assert_eq!(
            defs["one_tier"]["enum"].as_array().unwrap(),
            &names(&[
                SubTier::Prime,
                SubTier::Tier1,
                SubTier::Tier2,
                SubTier::Tier3
            ])
        );
        assert_eq!(
            defs["one_sub_kind"]["enum"].as_array().unwrap(),
            &names(&[
                SubKind::New,
                SubKind::Resub,
                SubKind::Gift,
                SubKind::CommunityGift,
                SubKind::PrimeUpgrade,
                SubKind::GiftUpgrade
            ])
        );
        assert_eq!(
            defs["one_membership_kind"]["enum"].as_array().unwrap(),
            &names(&[
                MembershipKind::New,
                MembershipKind::Upgrade,
                MembershipKind::Milestone,
                MembershipKind::Gift,
                MembershipKind::Received
            ])
        );
    }

    #[test]
    fn a_stream_event_trigger_reads_from_on_alone_and_exports_with_kind_event() {
        let def: TriggerDef = serde_json::from_value(json!({
            "id": "raid", "on": {"event": "raid", "min_viewers": 10},
            "action": {"type": "reply", "template": "hi {user}"}
        }))
        .unwrap();
        let Matcher::Event { on } = &def.matcher else {
            panic!("{:?}", def.matcher)
        };
        assert_eq!((on.event, on.min_viewers), (EventKind::Raid, Some(10)));
        assert_eq!(
            serde_json::to_value(&def.matcher).unwrap(),
            json!({"kind": "event", "on": {"event": "raid", "min_viewers": 10}})
        );
        let again: TriggerDef =
            serde_json::from_value(serde_json::to_value(&def).unwrap()).unwrap();
        assert_eq!(again, def, "round trip with kind event");
        let chat: TriggerDef = serde_json::from_value(json!({
            "id": "ping", "kind": "command", "command": "!ping",
            "action": {"type": "reply", "template": "pong"}
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&chat.matcher).unwrap(),
            json!({"kind": "command", "command": "!ping", "aliases": []}),
            "chat matchers export as before"
        );
        let err = serde_json::from_value::<TriggerDef>(json!({
            "id": "x", "action": {"type": "validation_passed"}
        }))
        .unwrap_err();
        assert!(err.to_string().contains("`kind`"), "{err}");
    }

    #[test]
    fn an_obs_action_reads_its_request_and_the_schemas_agree_on_its_shape() {
        let def: TriggerDef = serde_json::from_value(json!({
            "id": "scene", "kind": "command", "command": "!scene",
            "action": {"type": "obs", "request": "switch_scene", "scene": "{args}"}
        }))
        .unwrap();
        assert_eq!(
            def.action,
            ActionDef::Obs(super::super::ObsCall::SwitchScene {
                scene: "{args}".into()
            })
        );
        assert_eq!(
            serde_json::to_value(&def.action).unwrap(),
            json!({"type": "obs", "request": "switch_scene", "scene": "{args}"})
        );
        let obs: Value =
            serde_json::from_str(crate::config::files::ConfigKind::Obs.schema_text()).unwrap();
        let defs = schema_defs();
        assert_eq!(defs["obs_call"], obs["$defs"]["obs_call"]);
        assert_eq!(defs["switch"], obs["$defs"]["switch"]);
    }
}
