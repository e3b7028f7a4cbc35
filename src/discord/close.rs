//! What the bot does when the gateway ends a connection: the close codes of Discord's gateway
//! reference, split into "reconnect and resume", "reconnect with a new session" and "stop".
//!
//! Stopping is for what reconnecting cannot fix, and each such code names the fix: a wrong bot
//! token (4004), a sharding or version problem (4010–4012), or intents the application may not use
//! (4013, 4014). Every other code, and a connection that dropped with no close frame at all, is
//! reconnected, resuming the session where Discord allows it: only 4007 (invalid sequence) and
//! 4009 (session timed out) need a new session.

/// What to do after a close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseAction {
    /// Reconnect to the resume URL and Resume.
    Resume,
    /// Reconnect and Identify: the session cannot be resumed.
    NewSession,
    /// Do not reconnect: this is the reason, with its fix.
    Stop(Fatal),
}

/// A close that reconnecting cannot fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fatal {
    #[error(
        "Discord refused the bot token (gateway close 4004 Authentication failed)\n  hint: the variable named by discord.json token_env must hold the bot token from the Developer Portal (Bot > Reset Token); a token Discord reset after too many Identify calls must be replaced too"
    )]
    BadToken,
    #[error(
        "Discord refused the shard settings (gateway close {code}: {meaning})\n  hint: the bot runs as one shard; if Discord requires sharding for this many guilds, run one bot per shard"
    )]
    Sharding { code: u16, meaning: &'static str },
    #[error(
        "Discord refused the gateway version (close 4012 Invalid API version)\n  hint: this ss speaks gateway v10; update ss"
    )]
    Version,
    #[error(
        "Discord refused the bot's intents (gateway close {code}: {meaning})\n  hint: the bot asks only for GUILDS; if this persists, check the application's Privileged Gateway Intents in the Developer Portal (Bot page)"
    )]
    Intents { code: u16, meaning: &'static str },
}

/// The action for close `code`; `None` means the connection dropped without a close code.
pub fn action(code: Option<u16>) -> CloseAction {
    match code {
        Some(4004) => CloseAction::Stop(Fatal::BadToken),
        Some(4010) => CloseAction::Stop(Fatal::Sharding {
            code: 4010,
            meaning: "Invalid shard",
        }),
        Some(4011) => CloseAction::Stop(Fatal::Sharding {
            code: 4011,
            meaning: "Sharding required",
        }),
        Some(4012) => CloseAction::Stop(Fatal::Version),
        Some(4013) => CloseAction::Stop(Fatal::Intents {
            code: 4013,
            meaning: "Invalid intent(s)",
        }),
        Some(4014) => CloseAction::Stop(Fatal::Intents {
            code: 4014,
            meaning: "Disallowed intent(s)",
        }),
        Some(4007 | 4009) => CloseAction::NewSession,
        // 1000 and 1001 from the server end the session as well as the connection.
        Some(1000 | 1001) => CloseAction::NewSession,
        _ => CloseAction::Resume,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_split_into_resume_new_session_and_stop() {
        for code in [4000, 4001, 4002, 4003, 4005, 4008, 1006, 1011] {
            assert_eq!(action(Some(code)), CloseAction::Resume, "{code}");
        }
        assert_eq!(action(None), CloseAction::Resume);
        for code in [4007, 4009] {
            assert_eq!(action(Some(code)), CloseAction::NewSession, "{code}");
        }
        for code in [4004, 4010, 4011, 4012, 4013, 4014] {
            assert!(matches!(action(Some(code)), CloseAction::Stop(_)), "{code}");
        }
        let CloseAction::Stop(fatal) = action(Some(4004)) else {
            unreachable!()
        };
        assert!(fatal.to_string().contains("bot token"), "{fatal}");
        let CloseAction::Stop(fatal) = action(Some(4014)) else {
            unreachable!()
        };
        assert!(
            fatal.to_string().contains("Privileged Gateway Intents"),
            "{fatal}"
        );
    }
}
