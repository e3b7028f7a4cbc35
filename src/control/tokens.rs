//! The control API's tokens (system.json `tokens`): each a name, a role and the environment
//! variable holding its value. A presented token is compared with every configured one in time
//! that depends only on the lengths, so a timing probe learns nothing about which token, or which
//! prefix, was close.

use crate::config::model::{ApiToken, ControlRole};
use crate::config::secrets::{Secret, Secrets};

/// Who is calling: a token's name and role (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: ControlRole,
}

impl Caller {
    /// Whether the caller's role is at least `need`.
    pub fn may(&self, need: ControlRole) -> bool {
        self.role >= need
    }
}

/// A system.json token whose environment variable is not set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "system.json tokens: {name}'s token_env names {env}, which is not set\n  hint: export {env}=<a long random token> (or put it in the root's .env), or remove the token"
)]
pub struct MissingToken {
    pub name: String,
    pub env: String,
}

struct Entry {
    caller: Caller,
    secret: Secret,
    changes_per_minute: u32,
}

/// The configured tokens, resolved to their values.
#[derive(Default)]
pub struct Tokens {
    entries: Vec<Entry>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| &e.caller.name))
            .finish()
    }
}

impl Tokens {
    /// Resolves each token's value from `secrets`; a missing one is an error naming it.
    pub fn resolve(tokens: &[ApiToken], secrets: &Secrets) -> Result<Tokens, MissingToken> {
        let entries = tokens
            .iter()
            .map(|t| {
                let secret = secrets.get(&t.token_env).ok_or_else(|| MissingToken {
                    name: t.name.clone(),
                    env: t.token_env.clone(),
                })?;
                Ok(Entry {
                    caller: Caller {
                        name: t.name.clone(),
                        role: t.role,
                    },
                    secret,
                    changes_per_minute: t.changes_per_minute,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Tokens { entries })
    }

    /// Tokens for tests: `(name, role, value)`.
    pub fn from_values(values: &[(&str, ControlRole, &str)]) -> Tokens {
        Tokens {
            entries: values
                .iter()
                .map(|(name, role, value)| Entry {
                    caller: Caller {
                        name: (*name).to_owned(),
                        role: *role,
                    },
                    secret: Secret::new(*value),
                    changes_per_minute: ApiToken::DEFAULT_CHANGES_PER_MINUTE,
                })
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The caller holding `given`, if any. Every token is compared, whatever matched first.
    pub fn authenticate(&self, given: &str) -> Option<Caller> {
        let mut found = None;
        for entry in &self.entries {
            if constant_time_eq(given.as_bytes(), entry.secret.expose().as_bytes()) {
                found = Some(entry.caller.clone());
            }
        }
        found
    }

    /// The changes per minute `name` may make.
    pub fn changes_per_minute(&self, name: &str) -> u32 {
        self.entries
            .iter()
            .find(|e| e.caller.name == name)
            .map_or(ApiToken::DEFAULT_CHANGES_PER_MINUTE, |e| {
                e.changes_per_minute
            })
    }
}

/// Equal lengths and equal bytes, in time that depends only on the length.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_holder_and_a_near_miss_names_nobody() {
        let tokens = Tokens::from_values(&[
            ("ann", ControlRole::Owner, "owner-token-1"),
            ("mods", ControlRole::Moderator, "mod-token-22"),
        ]);
        assert_eq!(
            tokens.authenticate("mod-token-22"),
            Some(Caller {
                name: "mods".into(),
                role: ControlRole::Moderator
            })
        );
        assert_eq!(tokens.authenticate("mod-token-2"), None);
        assert_eq!(tokens.authenticate("mod-token-23"), None);
        assert_eq!(tokens.authenticate(""), None);
        assert!(
            tokens
                .authenticate("owner-token-1")
                .unwrap()
                .may(ControlRole::Moderator)
        );
        assert!(
            !tokens
                .authenticate("mod-token-22")
                .unwrap()
                .may(ControlRole::Owner)
        );
    }

    #[test]
    fn a_missing_variable_is_named_and_the_debug_form_has_no_values() {
        let config = [ApiToken {
            name: "mods".into(),
            role: ControlRole::Moderator,
            token_env: "SS_TEST_CONTROL_TOKEN_UNSET".into(),
            changes_per_minute: 5,
        }];
        let err = Tokens::resolve(&config, &Secrets::default()).unwrap_err();
        assert!(
            err.to_string().contains("SS_TEST_CONTROL_TOKEN_UNSET"),
            "{err}"
        );
        let tokens = Tokens::from_values(&[("mods", ControlRole::Moderator, "hidden-value")]);
        assert!(!format!("{tokens:?}").contains("hidden-value"));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
