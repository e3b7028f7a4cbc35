//! TLS client settings, built once: rustls with the Mozilla roots, plus extra roots where a
//! self-hosted or test server has its own certificate authority.
//!
//! Every TLS client of the runtime (Twitch IRC today; websockets and HTTPS clients as they come) takes
//! its config from here, so the protocol versions and root set are decided in one place.

use std::sync::{Arc, OnceLock};
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto::ring};

/// Why a TLS client config could not be built.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TlsError {
    /// An extra root certificate (a private CA) is not a usable certificate.
    #[error("extra TLS root certificate rejected: {0}")]
    ExtraRoot(tokio_rustls::rustls::Error),
    /// The crypto provider refused the protocol versions.
    #[error("TLS setup failed: {0}")]
    Setup(tokio_rustls::rustls::Error),
}

/// The shared config with the Mozilla roots only.
pub fn default_client_config() -> Result<Arc<ClientConfig>, TlsError> {
    static DEFAULT: OnceLock<Result<Arc<ClientConfig>, TlsError>> = OnceLock::new();
    DEFAULT.get_or_init(|| build(&[])).clone()
}

/// A config trusting `extra_roots` too; the shared default when there are none.
pub fn client_config(
    extra_roots: &[CertificateDer<'static>],
) -> Result<Arc<ClientConfig>, TlsError> {
    if extra_roots.is_empty() {
        default_client_config()
    } else {
        build(extra_roots)
    }
}

fn build(extra_roots: &[CertificateDer<'static>]) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for cert in extra_roots {
        roots.add(cert.clone()).map_err(TlsError::ExtraRoot)?;
    }
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_is_built_once_and_shared() {
        let a = default_client_config().unwrap();
        let b = client_config(&[]).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }
}
