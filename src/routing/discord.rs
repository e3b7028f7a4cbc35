//! Discord's routing rule: which channels of which guilds a Discord outbox row becomes, decided
//! when the row is sent (so a row queued before a discord.json reload goes where the file says now).
//!
//! - A clip (`target: "clips"`) from platform P goes to the `P_clips` channel of every guild whose
//!   `creator` is the clip's creator; a guild without one uses its `general`; a guild with neither
//!   gets nothing.
//! - A notification key (`general`, `twitch_clips`, ...) is looked up in the creator's guilds.
//! - An explicit channel id (a snowflake) is used as written.
//! - `logging` goes to the logging channel of every guild that enables logging.
//!
//! A guild whose `webhook_url_env` is set posts through that webhook (which names its own channel)
//! rather than the bot. A malformed channel id is skipped here (validate-config reports it), so one
//! bad guild entry never stops the others.

use crate::config::{DiscordConfig, GuildNotifications, GuildSettings};

/// The target of clip-published rows: each guild's `{platform}_clips` channel, else `general`.
pub const CLIPS_TARGET: &str = "clips";
/// The target of runtime log rows: each logging guild's logging channel.
pub const LOGGING_TARGET: &str = "logging";

/// Why a row has nowhere to go (the sender records it as failed, counted as unrouted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotRouted {
    #[error(
        "unknown channel {target:?}; use a notification key ({}) or a channel id",
        GuildNotifications::NAMES.join(", ")
    )]
    UnknownChannel { target: String },
    #[error(
        "not routed: no guild of creator {creator:?} sets {} with a valid channel id",
        keys.join(" or ")
    )]
    NoGuildChannel { creator: String, keys: Vec<String> },
    #[error("no guild enables logging with a valid channel_id")]
    NoLoggingGuild,
}

/// How one delivery reaches Discord.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// Create Message with the bot token.
    Bot { channel_id: String },
    /// Execute Webhook with the URL in this environment variable.
    Webhook { env: String },
}

/// One message to post for a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Stable name of this delivery within its row (recorded once it is sent).
    pub key: String,
    pub via: Via,
}

/// Whether `id` looks like a Discord snowflake.
pub fn is_snowflake(id: &str) -> bool {
    (15..=21).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

/// Where a row goes: its deliveries, or why it goes nowhere.
pub fn route(
    config: &DiscordConfig,
    creator: &str,
    target: &str,
    platform: Option<&str>,
) -> Result<Vec<Delivery>, NotRouted> {
    let guilds = &config.discord.guilds;
    if is_snowflake(target) {
        return Ok(vec![Delivery {
            key: target.to_string(),
            via: Via::Bot {
                channel_id: target.to_string(),
            },
        }]);
    }
    let mut deliveries = Vec::new();
    if target == LOGGING_TARGET {
        for (guild_id, guild) in guilds.iter().filter(|(_, g)| g.logging.enabled) {
            if let Some(channel) = guild.logging.channel_id.as_deref() {
                push(&mut deliveries, guild_id, guild, channel);
            }
        }
        return non_empty(deliveries, || NotRouted::NoLoggingGuild);
    }
    let keys: Vec<String> = if target == CLIPS_TARGET {
        let platform = platform.unwrap_or("unknown");
        vec![format!("{platform}_clips"), "general".to_string()]
    } else if GuildNotifications::NAMES.contains(&target) {
        vec![target.to_string()]
    } else {
        return Err(NotRouted::UnknownChannel {
            target: target.to_string(),
        });
    };
    for (guild_id, guild) in guilds
        .iter()
        .filter(|(_, g)| g.creator.as_deref() == Some(creator))
    {
        let chosen = keys
            .iter()
            .find_map(|k| guild.notifications.channel(k).filter(|c| is_snowflake(c)));
        if let Some(channel) = chosen {
            push(&mut deliveries, guild_id, guild, channel);
        }
    }
    non_empty(deliveries, || NotRouted::NoGuildChannel {
        creator: creator.to_string(),
        keys,
    })
}

fn push(out: &mut Vec<Delivery>, guild_id: &str, guild: &GuildSettings, channel: &str) {
    if !is_snowflake(channel) {
        tracing::warn!(
            guild = guild_id,
            channel,
            "Discord channel id is malformed; skipped."
        );
        return;
    }
    let delivery = match &guild.webhook_url_env {
        Some(env) => Delivery {
            key: format!("webhook:{guild_id}"),
            via: Via::Webhook { env: env.clone() },
        },
        None => Delivery {
            key: channel.to_string(),
            via: Via::Bot {
                channel_id: channel.to_string(),
            },
        },
    };
    if !out.contains(&delivery) {
        out.push(delivery);
    }
}

fn non_empty(
    deliveries: Vec<Delivery>,
    why: impl FnOnce() -> NotRouted,
) -> Result<Vec<Delivery>, NotRouted> {
    if deliveries.is_empty() {
        Err(why())
    } else {
        Ok(deliveries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> DiscordConfig {
        serde_json::from_value(serde_json::json!({"discord": {"guilds": {
            "100000000000000001": {"creator": "demo",
                "notifications": {"general": "100000000000000002", "twitch_clips": "100000000000000003"}},
            "100000000000000011": {"creator": "demo",
                "notifications": {"general": "100000000000000012"}},
            "100000000000000021": {"creator": "other", "webhook_url_env": "HOOK",
                "logging": {"enabled": true, "channel_id": "100000000000000022"},
                "notifications": {"kick_clips": "100000000000000023"}},
            "100000000000000031": {"creator": "other",
                "notifications": {"kick_clips": "not-a-snowflake"}}
        }}}))
        .unwrap()
    }

    fn channels(r: Result<Vec<Delivery>, NotRouted>) -> Vec<String> {
        r.unwrap().into_iter().map(|d| d.key).collect()
    }

    #[test]
    fn a_clip_goes_to_each_guilds_platform_channel_else_general() {
        assert_eq!(
            channels(route(&config(), "demo", "clips", Some("twitch"))),
            ["100000000000000003", "100000000000000012"]
        );
        assert_eq!(
            channels(route(&config(), "demo", "clips", Some("youtube"))),
            ["100000000000000002", "100000000000000012"]
        );
    }

    #[test]
    fn a_clip_with_no_channel_goes_nowhere_and_says_why() {
        let err = route(&config(), "nobody", "clips", Some("twitch")).unwrap_err();
        assert!(matches!(err, NotRouted::NoGuildChannel { .. }), "{err:?}");
        assert!(err.to_string().starts_with("not routed"), "{err}");
    }

    #[test]
    fn webhook_guilds_post_through_their_webhook_and_bad_ids_are_skipped() {
        let r = route(&config(), "other", "kick_clips", None).unwrap();
        assert_eq!(
            r,
            [Delivery {
                key: "webhook:100000000000000021".into(),
                via: Via::Webhook { env: "HOOK".into() }
            }]
        );
    }

    #[test]
    fn explicit_ids_and_logging() {
        assert_eq!(
            channels(route(&config(), "x", "123456789012345678", None)),
            ["123456789012345678"]
        );
        assert_eq!(
            channels(route(&config(), "", "logging", None)),
            ["webhook:100000000000000021"]
        );
        assert!(matches!(
            route(&config(), "demo", "nonsense", None),
            Err(NotRouted::UnknownChannel { .. })
        ));
    }
}
