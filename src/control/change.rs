//! The changes the control API (and a chat bot in front of the same operations) can ask for: plain
//! serde data, so a change is audited exactly as it was asked, and each states the least role that
//! may ask for it.

use crate::config::model::{ControlRole, ObsCall};
use crate::event::Platform;
use serde::{Deserialize, Serialize};

/// A user, as the platform knows them: the platform's user id and their login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRef {
    pub user_id: String,
    pub login: String,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// Post `text` in the creator's chat on `platform`, as the bot.
    Say {
        creator: String,
        platform: Platform,
        text: String,
    },
    /// Remove one chat message.
    DeleteMessage {
        creator: String,
        platform: Platform,
        message_id: String,
    },
    /// Keep a user from chatting for `seconds`.
    Timeout {
        creator: String,
        platform: Platform,
        #[serde(flatten)]
        user: UserRef,
        seconds: u32,
        #[serde(default)]
        reason: Option<String>,
    },
    /// Keep a user from chatting until unbanned.
    Ban {
        creator: String,
        platform: Platform,
        #[serde(flatten)]
        user: UserRef,
        #[serde(default)]
        reason: Option<String>,
    },
    /// Lift a ban or a timeout.
    Unban {
        creator: String,
        platform: Platform,
        #[serde(flatten)]
        user: UserRef,
    },
    /// Turn a trigger on or off: for this run only, or written to triggers.json (owner).
    SetTrigger {
        creator: String,
        trigger: String,
        enabled: bool,
        persist: bool,
    },
    /// Make a clip of the last `duration_s` seconds of the creator's stream.
    Clip {
        creator: String,
        duration_s: u32,
        #[serde(default)]
        title: Option<String>,
    },
    /// Open a chat poll, as the poll command would in chat (`platform`: where it is announced;
    /// default the creator's first running source).
    PollOpen {
        creator: String,
        #[serde(default)]
        platform: Option<Platform>,
        question: String,
        options: Vec<String>,
        #[serde(default)]
        duration_s: Option<u32>,
    },
    /// Close the creator's open chat poll, as `!poll close` would.
    PollClose {
        creator: String,
        #[serde(default)]
        platform: Option<Platform>,
    },
    /// Open, draw or close the creator's giveaway, as `!giveaway ...` would in chat (`platform`:
    /// where it is announced; default the creator's first running source).
    Giveaway {
        creator: String,
        #[serde(default)]
        platform: Option<Platform>,
        #[serde(flatten)]
        op: GiveawayOp,
    },
    /// Turn a timer on or off for this run.
    SetTimer {
        creator: String,
        timer: String,
        enabled: bool,
    },
    /// Run a command trigger by its id, as if its command (with `args`) were said in chat.
    RunTrigger {
        creator: String,
        trigger: String,
        #[serde(default)]
        platform: Option<Platform>,
        #[serde(default)]
        args: Option<String>,
    },
    /// Ask the creator's OBS for something (starting or stopping the stream: owner only).
    Obs {
        creator: String,
        #[serde(flatten)]
        call: ObsCall,
    },
}

/// What a giveaway change does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum GiveawayOp {
    /// Open entries: chatters enter by saying `keyword`, for `duration_s` (default: until closed).
    Open {
        keyword: String,
        #[serde(default)]
        duration_s: Option<u32>,
    },
    /// Draw `winners` (default 1) among the entries.
    Draw {
        #[serde(default)]
        winners: Option<u32>,
    },
    /// Close entries.
    Close,
}

impl GiveawayOp {
    /// What the giveaway command (`command`, e.g. `!giveaway`) says in chat for it.
    pub fn chat_text(&self, command: &str) -> String {
        match self {
            GiveawayOp::Open {
                keyword,
                duration_s: None,
            } => format!("{command} open {keyword}"),
            GiveawayOp::Open {
                keyword,
                duration_s: Some(s),
            } => format!("{command} open {keyword} {s}s"),
            GiveawayOp::Draw { winners: None } => format!("{command} draw"),
            GiveawayOp::Draw { winners: Some(n) } => format!("{command} draw {n}"),
            GiveawayOp::Close => format!("{command} close"),
        }
    }
}

impl Change {
    /// Its name in logs and the audit log.
    pub fn name(&self) -> &'static str {
        match self {
            Change::Say { .. } => "say",
            Change::DeleteMessage { .. } => "delete_message",
            Change::Timeout { .. } => "timeout",
            Change::Ban { .. } => "ban",
            Change::Unban { .. } => "unban",
            Change::SetTrigger { .. } => "set_trigger",
            Change::Clip { .. } => "clip",
            Change::Obs { .. } => "obs",
            Change::PollOpen { .. } => "poll_open",
            Change::PollClose { .. } => "poll_close",
            Change::RunTrigger { .. } => "run_trigger",
            Change::Giveaway { .. } => "giveaway",
            Change::SetTimer { .. } => "set_timer",
        }
    }

    /// The least role that may ask for it.
    pub fn min_role(&self) -> ControlRole {
        match self {
            Change::SetTrigger { persist: true, .. } => ControlRole::Owner,
            Change::Obs { call, .. } if call.owner_only() => ControlRole::Owner,
            _ => ControlRole::Moderator,
        }
    }

    /// The creator it is about.
    pub fn creator(&self) -> &str {
        match self {
            Change::Say { creator, .. }
            | Change::DeleteMessage { creator, .. }
            | Change::Timeout { creator, .. }
            | Change::Ban { creator, .. }
            | Change::Unban { creator, .. }
            | Change::SetTrigger { creator, .. }
            | Change::Clip { creator, .. }
            | Change::Obs { creator, .. }
            | Change::PollOpen { creator, .. }
            | Change::PollClose { creator, .. }
            | Change::RunTrigger { creator, .. }
            | Change::Giveaway { creator, .. }
            | Change::SetTimer { creator, .. } => creator,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::StartStop;

    #[test]
    fn persisting_and_stopping_the_stream_need_the_owner() {
        let toggle = |persist| Change::SetTrigger {
            creator: "demo".into(),
            trigger: "ping".into(),
            enabled: false,
            persist,
        };
        assert_eq!(toggle(false).min_role(), ControlRole::Moderator);
        assert_eq!(toggle(true).min_role(), ControlRole::Owner);
        let obs = |call| Change::Obs {
            creator: "demo".into(),
            call,
        };
        let scene = obs(ObsCall::SwitchScene {
            scene: "gameplay".into(),
        });
        assert_eq!(scene.min_role(), ControlRole::Moderator);
        let stop = obs(ObsCall::Stream {
            op: StartStop::Stop,
        });
        assert_eq!(stop.min_role(), ControlRole::Owner);
        // As audited: the change's own fields, flat.
        assert_eq!(
            serde_json::to_value(&scene).unwrap(),
            serde_json::json!({"change": "obs", "creator": "demo", "request": "switch_scene", "scene": "gameplay"})
        );
    }
}
