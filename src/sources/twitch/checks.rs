//! validate-config's Twitch checks beyond the schema: the transport's needs (config alone), and
//! whether the stored login's scopes cover what the creator's triggers ask of Twitch.
//!
//! | the creator's config | warning when the login lacks |
//! | --- | --- |
//! | a `timeout`, `ban` or `unban` trigger | `moderator:manage:banned_users` |
//! | a `delete` trigger | `moderator:manage:chat_messages` |
//! | an `announce` trigger | `moderator:manage:announcements` |
//! | a `reply` or `say` trigger, with the eventsub transport | `user:write:chat` |
//! | a trigger on `follow`, with the eventsub transport | `moderator:read:followers` |
//! | a trigger on `redemption`, with the eventsub transport | `channel:read:redemptions` (or `channel:manage:redemptions`) |
//!
//! A warning sits on the trigger in triggers.json and says how to fix it (`ss auth twitch`).
//! Moderation by moderation.json needs both moderation scopes ([`moderation_with_state`]); its
//! warning sits on moderation.json.
//! Without a stored login, the eventsub transport is warned about on the block (nothing to read
//! events with), and moderation triggers on the trigger (IRC cannot moderate, and a `token_env`
//! token's scopes are not known before the run).

use super::auth::{read_login, token_file};
use super::scopes;
use super::settings::{Transport, TwitchSettings};
use crate::config::model::{ActionDef, Creator, Matcher, TriggerDef};
use crate::config::platform::Check;
use crate::event::EventKind;
use std::collections::BTreeSet;
use std::path::Path;

/// Checks of the block alone.
pub fn check_block(settings: &TwitchSettings, check: &mut Check) {
    if settings.transport != Transport::EventSub {
        return;
    }
    if settings.client_id_env.is_none() {
        check.error(
            "transport",
            "the eventsub transport needs client_id_env, the Twitch application's client id: `ss auth twitch` logs in with it and every Helix call carries it",
        );
    }
    for (key, set) in [
        ("nick", settings.nick != TwitchSettings::default_nick()),
        ("host", settings.host.is_some()),
        ("port", settings.port.is_some()),
        ("tls", settings.tls.is_some()),
    ] {
        if set {
            check.warn(
                key,
                &format!(
                    "`{key}` is used only by the irc transport; this block reads over eventsub"
                ),
            );
        }
    }
}

/// The scope a trigger needs on Twitch with `transport` (any one of them), if any.
fn needs(
    def: &TriggerDef,
    transport: Transport,
) -> Option<(&'static str, &'static [&'static str])> {
    let eventsub = transport == Transport::EventSub;
    let action = match &def.action {
        ActionDef::Timeout { .. } | ActionDef::Ban { .. } | ActionDef::Unban => {
            Some(("action", &[scopes::BANS][..]))
        }
        ActionDef::Delete => Some(("action", &[scopes::DELETE_MESSAGES][..])),
        ActionDef::Announce { .. } => Some(("action", &[scopes::ANNOUNCEMENTS][..])),
        ActionDef::Reply { .. } | ActionDef::Say { .. } if eventsub => {
            Some(("action", &[scopes::WRITE_CHAT][..]))
        }
        _ => None,
    };
    if action.is_some() {
        return action;
    }
    match &def.matcher {
        Matcher::Event { on } if eventsub && on.event == EventKind::Follow => {
            Some(("on", &[scopes::FOLLOWERS][..]))
        }
        Matcher::Event { on } if eventsub && on.event == EventKind::Redemption => {
            Some(("on", &[scopes::REDEMPTIONS, scopes::MANAGE_REDEMPTIONS][..]))
        }
        _ => None,
    }
}

/// Checks against the stored login under `state_dir`.
pub fn check_with_state(
    creator: &Creator,
    settings: &TwitchSettings,
    triggers: &[TriggerDef],
    state_dir: &Path,
    check: &mut Check,
) {
    let file = token_file(state_dir, &creator.id);
    let login = match read_login(&file, &creator.id) {
        Ok(login) => login,
        Err(e) => {
            check.warn("", &e.to_string());
            return;
        }
    };
    let twitch = crate::sources::twitch::TWITCH;
    let on_twitch = |def: &&TriggerDef| {
        def.enabled && (def.platforms.is_empty() || def.platforms.contains(&twitch))
    };
    let granted: Option<BTreeSet<&str>> = login
        .as_ref()
        .map(|l| l.scopes.iter().map(String::as_str).collect());
    if login.is_none() && settings.transport == Transport::EventSub && settings.token_env.is_none()
    {
        check.warn(
            "transport",
            &format!(
                "no Twitch login is stored for creator {id:?} and no token_env is set, so the eventsub transport cannot start: run `ss auth twitch --creator {id}`",
                id = creator.id
            ),
        );
        return;
    }
    for (index, def) in triggers.iter().enumerate().filter(|(_, d)| on_twitch(d)) {
        let Some((key, wanted)) = needs(def, settings.transport) else {
            continue;
        };
        let message = match &granted {
            Some(granted) if wanted.iter().any(|s| granted.contains(s)) => continue,
            Some(_) => format!(
                "trigger {:?} needs the Twitch scope {}, which the login stored for creator {:?} lacks; run `ss auth twitch --creator {}` to log in with it",
                def.id,
                wanted.join(" or "),
                creator.id,
                creator.id
            ),
            // A token_env token's scopes are unknown until it is used: only moderation is
            // refused for sure (it needs a stored login), chat is offered.
            None if key == "action" && wanted[0] != scopes::WRITE_CHAT => format!(
                "trigger {:?} acts through Twitch's Helix API, which needs a stored login with the scope {} (no login is stored for creator {:?}); run `ss auth twitch --creator {}`",
                def.id,
                wanted.join(" or "),
                creator.id,
                creator.id
            ),
            None => continue,
        };
        check.trigger_warn(&creator.id, index, key, &message);
    }
}

/// Whether moderation.json's decisions can go out through Helix for `creator`: a stored login with
/// both moderation scopes (or, with the eventsub transport, a `token_env` token, whose scopes are
/// not known before the run). `Err` says what is missing and how to log in with it.
pub fn moderation_with_state(
    creator: &Creator,
    settings: &TwitchSettings,
    state_dir: &Path,
) -> Result<(), String> {
    let wanted = [scopes::DELETE_MESSAGES, scopes::BANS];
    let login = match read_login(&token_file(state_dir, &creator.id), &creator.id) {
        Ok(login) => login,
        // An unreadable login file is reported on the block already.
        Err(_) => return Ok(()),
    };
    let fix = format!("run `ss auth twitch --creator {}`", creator.id);
    match login {
        None if settings.transport == Transport::EventSub && settings.token_env.is_some() => Ok(()),
        None => Err(format!(
            "Twitch moderates through Helix, which needs a stored login with the scopes {} (no login is stored for creator {:?}); {fix}",
            wanted.join(" and "),
            creator.id
        )),
        Some(login) => {
            let missing: Vec<&str> = wanted
                .into_iter()
                .filter(|s| !login.scopes.iter().any(|g| g == s))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                let refused = match missing.as_slice() {
                    [scopes::DELETE_MESSAGES] => "deletes",
                    [scopes::BANS] => "timeouts and bans",
                    _ => "deletes, timeouts and bans",
                };
                Err(format!(
                    "the Twitch login stored for creator {:?} lacks the scope {}, so its {refused} would be refused; {fix} to log in with it",
                    creator.id,
                    missing.join(" and ")
                ))
            }
        }
    }
}
