//! How a hook's request proves it comes from its service (system.json `hooks.{name}.verify`):
//! an HMAC-SHA256 of the raw body in a header, or a shared token in a field of the delivery's JSON
//! (Ko-fi's `verification_token`). Both compare in constant time; neither says why a request
//! failed beyond "not verified", and the secret never leaves this module.

use crate::config::model::HookVerify;
use crate::config::secrets::Secret;
use serde_json::Value;

/// A hook's check with its secret resolved.
#[derive(Debug, Clone)]
pub struct Check {
    rule: HookVerify,
    secret: Secret,
}

impl Check {
    pub fn new(rule: HookVerify, secret: Secret) -> Check {
        Check { rule, secret }
    }

    /// Whether the check reads the raw body and headers (before decoding), not the JSON.
    pub fn is_signature(&self) -> bool {
        matches!(self.rule, HookVerify::Hmac { .. })
    }

    /// An `hmac` check over the raw body; `header` reads a request header. A `token_field` check
    /// passes here and is made by [`Check::token`].
    pub fn signature(&self, header: impl Fn(&str) -> Option<String>, body: &[u8]) -> bool {
        let HookVerify::Hmac {
            header: name,
            prefix,
            ..
        } = &self.rule
        else {
            return true;
        };
        let Some(value) = header(name) else {
            return false;
        };
        let value = value.trim();
        let hex = match prefix.as_deref() {
            Some(prefix) => match value.strip_prefix(prefix) {
                Some(rest) => rest,
                None => return false,
            },
            None => value,
        };
        crate::signature::verify_hex(self.secret.expose().as_bytes(), body, hex)
    }

    /// A `token_field` check over the delivery's JSON; an `hmac` check passes here.
    pub fn token(&self, data: &Value) -> bool {
        let HookVerify::TokenField { field, .. } = &self.rule else {
            return true;
        };
        data.get(field)
            .and_then(Value::as_str)
            .is_some_and(|token| equal(token.as_bytes(), self.secret.expose().as_bytes()))
    }
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths.
fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hmac(prefix: Option<&str>) -> Check {
        Check::new(
            HookVerify::Hmac {
                header: "X-Signature".into(),
                secret_env: "S".into(),
                prefix: prefix.map(str::to_string),
            },
            Secret::new("Jefe"),
        )
    }

    #[test]
    fn an_hmac_header_verifies_its_body_only() {
        // RFC 4231 test case 2.
        let tag = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let body = b"what do ya want for nothing?";
        let with = |v: &'static str| move |_: &str| Some(v.to_string());
        assert!(hmac(None).signature(with(tag), body));
        assert!(hmac(None).signature(with(&*tag.to_uppercase().leak()), body));
        assert!(!hmac(None).signature(with(tag), b"what do ya want for something?"));
        assert!(!hmac(None).signature(|_: &str| None, body));
        assert!(!hmac(None).signature(with("zz"), body));
        let prefixed = hmac(Some("sha256="));
        assert!(prefixed.signature(with(&*format!("sha256={tag}").leak()), body));
        assert!(!prefixed.signature(with(tag), body));
        assert!(
            hmac(None).token(&json!({})),
            "an hmac check has no token part"
        );
    }

    #[test]
    fn a_token_field_must_match_exactly() {
        let check = Check::new(
            HookVerify::TokenField {
                field: "verification_token".into(),
                secret_env: "S".into(),
            },
            Secret::new("8cfeb5b0-3f94-4deb-8705-a5e13e10f4a1"),
        );
        assert!(
            check.token(&json!({"verification_token": "8cfeb5b0-3f94-4deb-8705-a5e13e10f4a1"}))
        );
        assert!(
            !check.token(&json!({"verification_token": "8cfeb5b0-3f94-4deb-8705-a5e13e10f4a2"}))
        );
        assert!(!check.token(&json!({"verification_token": "8cfeb5b0"})));
        assert!(!check.token(&json!({"verification_token": 1})));
        assert!(!check.token(&json!({})));
        assert!(
            check.signature(|_: &str| None, b""),
            "a token check has no signature part"
        );
    }
}
