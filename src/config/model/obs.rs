//! `runtime/config/obs.json`: the OBS each creator's runtime controls over obs-websocket v5, and
//! [`ObsCall`], the shape of one thing asked of OBS (switch a scene, show a source, ...), written
//! the same way in a trigger's `"action": {"type": "obs", ...}` and in a control API body.
//!
//! OBS's websocket server is off by default and, once on, asks for a password: `password_env` names
//! the environment variable holding it (never the password itself).

use super::yes;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `runtime/config/obs.json`: one OBS per creator, keyed by creator id.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObsConfig {
    #[serde(default)]
    pub obs: BTreeMap<String, ObsSettings>,
}

impl ObsConfig {
    /// The creator's OBS, when one is configured and enabled.
    pub fn of(&self, creator: &str) -> Option<&ObsSettings> {
        self.obs.get(creator).filter(|s| s.enabled)
    }
}

/// One creator's OBS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObsSettings {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The obs-websocket server (default `ws://127.0.0.1:4455`, OBS's own default).
    #[serde(default = "ObsSettings::default_url")]
    pub url: String,
    /// Environment variable holding the server's password (OBS: Tools → WebSocket Server
    /// Settings); none when authentication is off.
    #[serde(default)]
    pub password_env: Option<String>,
    /// The event groups the runtime subscribes to (default scenes, inputs and outputs): scenes keep
    /// the current scene, outputs the streaming, recording and replay-buffer states and the saved
    /// replay a clip is cut from.
    #[serde(default = "ObsSettings::default_events")]
    pub events: Vec<ObsEvents>,
    /// Seconds a request may wait for OBS's answer before it counts as failed (default 10).
    #[serde(default = "ObsSettings::default_request_timeout_s")]
    pub request_timeout_s: u64,
}

impl ObsSettings {
    fn default_url() -> String {
        "ws://127.0.0.1:4455".into()
    }
    fn default_events() -> Vec<ObsEvents> {
        vec![ObsEvents::Scenes, ObsEvents::Inputs, ObsEvents::Outputs]
    }
    fn default_request_timeout_s() -> u64 {
        10
    }

    /// The `eventSubscriptions` bit mask of the Identify message.
    pub fn event_mask(&self) -> u32 {
        self.events.iter().fold(0, |mask, e| mask | e.bit())
    }
}

impl Default for ObsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            url: Self::default_url(),
            password_env: None,
            events: Self::default_events(),
            request_timeout_s: Self::default_request_timeout_s(),
        }
    }
}

/// An obs-websocket event group (`EventSubscription`), by the name the protocol gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObsEvents {
    General,
    Config,
    Scenes,
    Inputs,
    Transitions,
    Filters,
    Outputs,
    SceneItems,
    MediaInputs,
    Vendors,
    Ui,
}

impl ObsEvents {
    /// The group's bit in `eventSubscriptions`.
    pub fn bit(self) -> u32 {
        match self {
            ObsEvents::General => 1,
            ObsEvents::Config => 1 << 1,
            ObsEvents::Scenes => 1 << 2,
            ObsEvents::Inputs => 1 << 3,
            ObsEvents::Transitions => 1 << 4,
            ObsEvents::Filters => 1 << 5,
            ObsEvents::Outputs => 1 << 6,
            ObsEvents::SceneItems => 1 << 7,
            ObsEvents::MediaInputs => 1 << 8,
            ObsEvents::Vendors => 1 << 9,
            ObsEvents::Ui => 1 << 10,
        }
    }
}

/// Turn something on, off, or the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Switch {
    On,
    Off,
    Toggle,
}

/// What to do with OBS's replay buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayBufferOp {
    Start,
    Stop,
    /// Save the buffer to a file (OBS names it in its `ReplayBufferSaved` event).
    Save,
}

/// Start or stop an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartStop {
    Start,
    Stop,
}

/// One thing asked of OBS. In a trigger its texts are templates (`"scene": "{args}"` switches to
/// the scene named after the command).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case", deny_unknown_fields)]
pub enum ObsCall {
    /// Make `scene` the program scene.
    SwitchScene { scene: String },
    /// Show, hide or toggle the source `source` in `scene` (a scene item, by its source's name).
    SourceVisibility {
        scene: String,
        source: String,
        visible: Switch,
    },
    /// Mute, unmute or toggle the audio input `input`.
    InputMute { input: String, muted: Switch },
    /// Start, stop or save the replay buffer.
    ReplayBuffer { op: ReplayBufferOp },
    /// Add a chapter marker to the recording (OBS 30.2+, Hybrid MP4 recordings).
    ChapterMarker {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Start or stop streaming: the control API's owner role only, and a trigger only with
    /// `min_role: broadcaster`.
    Stream { op: StartStop },
}

impl ObsCall {
    /// The call's name, as written in `"request"`.
    pub fn name(&self) -> &'static str {
        match self {
            ObsCall::SwitchScene { .. } => "switch_scene",
            ObsCall::SourceVisibility { .. } => "source_visibility",
            ObsCall::InputMute { .. } => "input_mute",
            ObsCall::ReplayBuffer { .. } => "replay_buffer",
            ObsCall::ChapterMarker { .. } => "chapter_marker",
            ObsCall::Stream { .. } => "stream",
        }
    }

    /// Whether only the channel's owner may ask for it (starting or stopping the stream).
    pub fn owner_only(&self) -> bool {
        matches!(self, ObsCall::Stream { .. })
    }

    /// The same call with every text passed through `fill` (a trigger's templates).
    #[must_use]
    pub fn map_text(&self, fill: impl Fn(&str) -> String) -> ObsCall {
        match self {
            ObsCall::SwitchScene { scene } => ObsCall::SwitchScene { scene: fill(scene) },
            ObsCall::SourceVisibility {
                scene,
                source,
                visible,
            } => ObsCall::SourceVisibility {
                scene: fill(scene),
                source: fill(source),
                visible: *visible,
            },
            ObsCall::InputMute { input, muted } => ObsCall::InputMute {
                input: fill(input),
                muted: *muted,
            },
            ObsCall::ChapterMarker { name } => ObsCall::ChapterMarker {
                name: name.as_deref().map(fill),
            },
            ObsCall::ReplayBuffer { .. } | ObsCall::Stream { .. } => self.clone(),
        }
    }

    /// Its texts with the key each is written under (for template checks).
    pub fn texts(&self) -> Vec<(&'static str, &str)> {
        match self {
            ObsCall::SwitchScene { scene } => vec![("scene", scene)],
            ObsCall::SourceVisibility { scene, source, .. } => {
                vec![("scene", scene), ("source", source)]
            }
            ObsCall::InputMute { input, .. } => vec![("input", input)],
            ObsCall::ChapterMarker { name: Some(name) } => vec![("name", name)],
            ObsCall::ChapterMarker { name: None }
            | ObsCall::ReplayBuffer { .. }
            | ObsCall::Stream { .. } => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_call_reads_and_writes_with_its_request_name() {
        let call: ObsCall = serde_json::from_value(
            json!({"request": "source_visibility", "scene": "Main", "source": "Cam", "visible": "toggle"}),
        )
        .unwrap();
        assert_eq!(
            call,
            ObsCall::SourceVisibility {
                scene: "Main".into(),
                source: "Cam".into(),
                visible: Switch::Toggle
            }
        );
        assert_eq!(call.name(), "source_visibility");
        assert_eq!(
            serde_json::to_value(&call).unwrap(),
            json!({"request": "source_visibility", "scene": "Main", "source": "Cam", "visible": "toggle"})
        );
        assert!(
            serde_json::from_value::<ObsCall>(
                json!({"request": "switch_scene", "scene": "x", "extra": 1})
            )
            .is_err()
        );
        assert!(
            ObsCall::Stream {
                op: StartStop::Stop
            }
            .owner_only()
        );
    }

    #[test]
    fn the_default_subscriptions_are_scenes_inputs_and_outputs() {
        assert_eq!(ObsSettings::default().event_mask(), 76);
        let all = [
            ObsEvents::General,
            ObsEvents::Config,
            ObsEvents::Scenes,
            ObsEvents::Inputs,
            ObsEvents::Transitions,
            ObsEvents::Filters,
            ObsEvents::Outputs,
            ObsEvents::SceneItems,
            ObsEvents::MediaInputs,
            ObsEvents::Vendors,
            ObsEvents::Ui,
        ];
        let mask = all.iter().fold(0, |m, e| m | e.bit());
        assert_eq!(mask, 2047, "All before 5.7");
    }
}
