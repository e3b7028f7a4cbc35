//! Why a control operation was not done: one enum, each variant with a stable code, so the HTTP
//! layer (and a chat bot) can answer with the code and the message.

use crate::config::model::ControlRole;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error(
        "a control token is required: send it as Authorization: Bearer TOKEN (tokens are declared in system.json tokens)"
    )]
    Unauthorized,
    #[error("this needs the {need} role; {name} has the {have} role")]
    Forbidden {
        name: String,
        need: &'static str,
        have: &'static str,
    },
    #[error(
        "too many changes: token {name} may make {per_minute} a minute; retry in {retry_after_s} s"
    )]
    RateLimited {
        name: String,
        per_minute: u32,
        retry_after_s: u64,
    },
    #[error("the request body is not valid at {}: {message}", if pointer.is_empty() { "its top level" } else { pointer.as_str() })]
    BadBody { pointer: String, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    /// The platform or OBS cannot do this (a Twitch IRC source cannot time out, OBS refused).
    Refused(String),
    #[error("{0}")]
    /// Nothing can carry it out now (no source running, a queue full, OBS not connected).
    Unavailable(String),
    #[error("the change would make the config invalid, so nothing was written:\n{0}")]
    InvalidConfig(String),
    #[error("{0}")]
    Internal(String),
}

impl ControlError {
    /// The stable code (JSON errors' `code`).
    pub fn code(&self) -> &'static str {
        match self {
            ControlError::Unauthorized => "unauthorized",
            ControlError::Forbidden { .. } => "forbidden",
            ControlError::RateLimited { .. } => "rate_limited",
            ControlError::BadBody { .. } => "bad_body",
            ControlError::NotFound(_) => "not_found",
            ControlError::Refused(_) => "refused",
            ControlError::Unavailable(_) => "unavailable",
            ControlError::InvalidConfig(_) => "invalid_config",
            ControlError::Internal(_) => "internal",
        }
    }

    /// A caller with too little role.
    pub fn forbidden(name: &str, need: ControlRole, have: ControlRole) -> ControlError {
        ControlError::Forbidden {
            name: name.to_owned(),
            need: need.as_str(),
            have: have.as_str(),
        }
    }
}

impl From<crate::store::StoreError> for ControlError {
    fn from(e: crate::store::StoreError) -> Self {
        ControlError::Internal(format!("the store: {e}"))
    }
}
