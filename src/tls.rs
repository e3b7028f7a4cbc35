//! The runtime's one trust store and TLS client settings: rustls over ring with the Mozilla roots,
//! plus the private certificate authority of system.json's `tls_ca_file` when one is set. Every TLS
//! client (Twitch IRC, the websockets of Kick, EventSub and OBS, every HTTPS client through
//! [`crate::http_out`], YouTube's gRPC stream) takes its roots from here, so the protocol versions
//! and the root set are decided in one place. The CA file is read once at start
//! ([`trust_ca_file`]); a changed `tls_ca_file` takes effect at the next start.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
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
    /// The `tls_ca_file` cannot be read or holds no certificate.
    #[error(
        "TLS CA file {}: {why}; give a PEM file with one or more CERTIFICATE blocks (system.json `tls_ca_file`)",
        path.display()
    )]
    CaFile { path: PathBuf, why: String },
}

/// The process's trust store: the private CA's certificates (DER, and the PEM text for gRPC) and the
/// client config built from them.
struct Trust {
    extra: Vec<CertificateDer<'static>>,
    pem: Vec<u8>,
    config: Arc<ClientConfig>,
}

static TRUST: RwLock<Option<Arc<Trust>>> = RwLock::new(None);

fn current() -> Result<Arc<Trust>, TlsError> {
    if let Some(trust) = TRUST.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return Ok(trust.clone());
    }
    let mut slot = TRUST.write().unwrap_or_else(|e| e.into_inner());
    if let Some(trust) = slot.as_ref() {
        return Ok(trust.clone());
    }
    let trust = Arc::new(Trust {
        extra: Vec::new(),
        pem: Vec::new(),
        config: build(&[])?,
    });
    *slot = Some(trust.clone());
    Ok(trust)
}

/// The certificates of a PEM file (a private CA).
pub fn read_ca_file(path: &Path) -> Result<(Vec<CertificateDer<'static>>, Vec<u8>), TlsError> {
    let invalid = |why: String| TlsError::CaFile {
        path: path.to_path_buf(),
        why,
    };
    let pem = std::fs::read(path).map_err(|e| invalid(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(e.to_string()))?;
    if certs.is_empty() {
        return Err(invalid("no certificate found".into()));
    }
    Ok((certs, pem))
}

/// Makes the process trust the CA certificates of `path` (system.json's `tls_ca_file`) beside the
/// Mozilla roots, in every TLS client built from now on; `None` trusts the Mozilla roots only.
pub fn trust_ca_file(path: Option<&Path>) -> Result<(), TlsError> {
    let (extra, pem) = match path {
        Some(path) => read_ca_file(path)?,
        None => (Vec::new(), Vec::new()),
    };
    let config = build(&extra)?;
    *TRUST.write().unwrap_or_else(|e| e.into_inner()) =
        Some(Arc::new(Trust { extra, pem, config }));
    Ok(())
}

/// The shared client config: the Mozilla roots and the trusted private CA, if any.
pub fn default_client_config() -> Result<Arc<ClientConfig>, TlsError> {
    Ok(current()?.config.clone())
}

/// A config trusting `extra_roots` beside the shared roots; the shared config when there are none.
pub fn client_config(
    extra_roots: &[CertificateDer<'static>],
) -> Result<Arc<ClientConfig>, TlsError> {
    let trust = current()?;
    if extra_roots.is_empty() {
        Ok(trust.config.clone())
    } else {
        let all: Vec<_> = trust.extra.iter().chain(extra_roots).cloned().collect();
        build(&all)
    }
}

/// The shared config for HTTP clients: the same roots, offering HTTP/2 and HTTP/1.1 by ALPN.
pub fn http_client_config() -> Result<ClientConfig, TlsError> {
    let mut config = (*current()?.config).clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The gRPC client's TLS settings: the Mozilla roots and the trusted private CA, if any.
pub fn grpc_client_config() -> Result<tonic::transport::ClientTlsConfig, TlsError> {
    let trust = current()?;
    let config = tonic::transport::ClientTlsConfig::new().with_webpki_roots();
    Ok(if trust.pem.is_empty() {
        config
    } else {
        config.ca_certificate(tonic::transport::Certificate::from_pem(&trust.pem))
    })
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

    #[test]
    fn a_ca_file_without_a_certificate_is_refused_with_the_setting_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let error = read_ca_file(&path).unwrap_err().to_string();
        assert!(error.contains("no certificate found"), "{error}");
        assert!(error.contains("tls_ca_file"), "{error}");
        let missing = read_ca_file(&dir.path().join("missing.pem"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("missing.pem"), "{missing}");
    }
}
