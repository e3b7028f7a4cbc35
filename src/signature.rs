//! HMAC-SHA256 signatures of webhook bodies as hex, the one implementation both directions use:
//! the webhook sender signs what it POSTs (`X-SS-Signature: sha256=<hex>`), and an incoming hook
//! with an `hmac` check verifies what it receives. Verification is constant time (ring).

/// The lowercase hex HMAC-SHA256 of `body` under `secret`.
pub fn sign_hex(secret: &[u8], body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, body);
    let mut out = String::with_capacity(64);
    for b in tag.as_ref() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether `hex` (either case) is the HMAC-SHA256 of `body` under `secret`.
pub fn verify_hex(secret: &[u8], body: &[u8], hex: &str) -> bool {
    let Some(tag) = decode_hex(hex.trim()) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    ring::hmac::verify(&key, body, &tag).is_ok()
}

/// Bytes of an even-length hex string (either case); `None` for anything else.
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_4231_test_case_2() {
        let tag = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(sign_hex(b"Jefe", b"what do ya want for nothing?"), tag);
        assert!(verify_hex(b"Jefe", b"what do ya want for nothing?", tag));
        assert!(verify_hex(
            b"Jefe",
            b"what do ya want for nothing?",
            &tag.to_uppercase()
        ));
        assert!(!verify_hex(b"Jefe", b"what do ya want for something?", tag));
        assert!(!verify_hex(b"Joe", b"what do ya want for nothing?", tag));
        assert!(!verify_hex(
            b"Jefe",
            b"what do ya want for nothing?",
            &tag[..62]
        ));
        assert!(!verify_hex(b"Jefe", b"", "zz"));
    }

    proptest! {
        #[test]
        fn any_body_verifies_under_its_own_signature_only(
            secret in prop::collection::vec(any::<u8>(), 1..64),
            body in prop::collection::vec(any::<u8>(), 0..256),
            flip in any::<prop::sample::Index>(),
        ) {
            let sig = sign_hex(&secret, &body);
            prop_assert!(verify_hex(&secret, &body, &sig));
            if !body.is_empty() {
                let mut other = body.clone();
                other[flip.index(body.len())] ^= 1;
                prop_assert!(!verify_hex(&secret, &other, &sig));
            }
        }

        #[test]
        fn decode_hex_never_panics(text in "\\PC{0,40}") {
            let _ = decode_hex(&text);
        }
    }
}
