//! Kick's entry in the platform registry: its identity, its creators.json block and checks, its
//! platforms.json keys, how its source is built, and its per-run service: the webhook receiver,
//! whose route `POST /webhooks/kick` ([`super::webhook_route`]) the local server merges outside its
//! token check and which feeds the data lane while the pipeline runs.

use super::webhook::{self, Door, WebhookReceiver};
use super::{KickEndpoints, KickSource};
use crate::config::model::Creator;
use crate::config::platform::{
    Check, Credential, PlatformBlock, PlatformConfig, Settings, parse_settings, schema_part,
};
use crate::event::{EmoteImages, Platform, PlatformInfo};
use crate::sources::registry::{
    PlatformModule, PlatformServices, RunParts, ServiceStart, SourceBuild,
};
use crate::sources::{Source, SourceError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// Kick's identity.
pub static KICK_INFO: PlatformInfo = PlatformInfo {
    name: "kick",
    title: "Kick",
    rank: 20,
    colour: Some(0x0053_FC18),
    emotes: Some(EmoteImages {
        host: "files.kick.com",
        url: "https://files.kick.com/emotes/{id}/fullsize",
        id: "[0-9]{1,20}",
    }),
};

/// Kick.
pub const KICK: Platform = Platform::new(&KICK_INFO);

/// Kick's module in the registry.
pub struct Kick;

crate::register_platform!(KICK_INFO, Kick);

/// A creator's `kick` block: Kick chat over Pusher, sending through the public API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KickSettings {
    #[serde(default)]
    pub enabled: bool,
    /// The channel slug.
    pub channel: String,
    /// The chatroom id used for the Pusher subscription; looked up from the slug when absent.
    #[serde(default)]
    pub chatroom_id: Option<u64>,
    /// The broadcaster's user id (sending as `user`, routing webhooks); looked up when absent.
    #[serde(default)]
    pub broadcaster_user_id: Option<u64>,
    /// Environment variable with an OAuth access token (sending).
    #[serde(default)]
    pub token_env: Option<String>,
    /// Environment variable with the OAuth refresh token (refreshing an expired access token).
    #[serde(default)]
    pub refresh_token_env: Option<String>,
    /// Environment variable with the app's client id (refreshing).
    #[serde(default)]
    pub client_id_env: Option<String>,
    /// Environment variable with the app's client secret (refreshing).
    #[serde(default)]
    pub client_secret_env: Option<String>,
}

impl PlatformConfig for Kick {
    fn platform(&self) -> Platform {
        KICK
    }

    fn block_schema(&self) -> Value {
        schema_part(include_str!("creators_block.schema.json"))
    }

    fn parse_block(&self, raw: &Value) -> Result<Settings, serde_json::Error> {
        parse_settings::<KickSettings>(raw)
    }

    fn check_creator(&self, _creator: &Creator, block: Option<&PlatformBlock>, check: &mut Check) {
        let Some(kick) = block.and_then(PlatformBlock::settings::<KickSettings>) else {
            return;
        };
        for (key, value) in [
            ("token_env", &kick.token_env),
            ("refresh_token_env", &kick.refresh_token_env),
            ("client_id_env", &kick.client_id_env),
            ("client_secret_env", &kick.client_secret_env),
        ] {
            check.env_name(key, value.as_ref());
        }
        let refreshing = [
            &kick.refresh_token_env,
            &kick.client_id_env,
            &kick.client_secret_env,
        ];
        if refreshing.iter().any(|v| v.is_some()) && !refreshing.iter().all(|v| v.is_some()) {
            check.error(
                "",
                "refreshing the Kick token needs all three of `refresh_token_env`, `client_id_env` and `client_secret_env`",
            );
        }
    }

    fn platforms_json_schema(&self) -> Value {
        schema_part(include_str!("platforms_block.schema.json"))
    }

    fn credentials(&self, block: &PlatformBlock) -> Vec<Credential> {
        let Some(k) = block.settings::<KickSettings>() else {
            return Vec::new();
        };
        [
            Credential::named("send", k.token_env.as_ref()),
            Credential::named("refresh", k.refresh_token_env.as_ref()),
            Credential::named("refresh", k.client_id_env.as_ref()),
            Credential::named("refresh", k.client_secret_env.as_ref()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    fn moderation(&self, block: &PlatformBlock) -> Result<(), String> {
        match block.settings::<KickSettings>() {
            Some(k) if k.token_env.is_some() => Ok(()),
            _ => Err(
                "Kick moderates only with a user token: set token_env in the creator's kick block (scopes moderation:ban and moderation:chat_message:manage, with chat:write for warnings)"
                    .into(),
            ),
        }
    }

    fn channel(&self, block: &PlatformBlock) -> Option<String> {
        block.settings::<KickSettings>().map(|k| k.channel.clone())
    }
}

impl PlatformModule for Kick {
    fn build_source(&self, build: &SourceBuild<'_>) -> Result<Source, SourceError> {
        let kick = build.settings::<KickSettings>()?;
        let endpoints = KickEndpoints::from_platform(build.own);
        Ok(Source::Session(Box::new(KickSource::new(
            build.creator,
            kick,
            endpoints,
            build.state_dir.to_path_buf(),
        )?)))
    }

    /// The webhook receiver, when the local server runs and a creator reads Kick.
    fn start_services(
        &self,
        run: &ServiceStart<'_>,
    ) -> Result<Option<Arc<dyn PlatformServices>>, String> {
        if !run.config.system.http.enabled {
            return Ok(None);
        }
        let Some(receiver) = webhook::receiver_for(run.config, run.root)? else {
            return Ok(None);
        };
        Ok(Some(Arc::new(Webhooks(Arc::new(receiver)))))
    }
}

/// Kick's per-run service: the webhook receiver.
struct Webhooks(Arc<WebhookReceiver>);

impl PlatformServices for Webhooks {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn routes(&self) -> Vec<axum::Router> {
        vec![super::webhook_route::router(self.0.clone())]
    }

    /// Webhooks enter the data lane until shutdown, when the receiver lets go of its sink.
    fn open(&self, run: &RunParts) {
        self.0.open(Door {
            sink: run.sink.clone(),
            guards: run.guards.clone(),
            wire: run.wire,
            deliveries: run.deliveries.clone(),
        });
    }

    fn close(&self) {
        self.0.close();
    }
}
