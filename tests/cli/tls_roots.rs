//! system.json's `tls_ca_file`: one private certificate authority trusted by every TLS client of the
//! runtime. Loopback servers speaking IRC, websocket and HTTP over TLS, with certificates signed by a
//! CA generated here, are refused while the CA is unknown and reached once it is trusted.
//!
//! The trust store is the process's own (as `ss run` sets it at start), so this is the one test of
//! the binary that changes it; every other TLS test trusts its own fresh certificate.

use crate::twitch::{
    PRIVMSG, Running, TOKEN, fast_timing, normal_limit, run_source, settings as twitch_settings,
};
use crate::twitch_server::{ServerOptions, TestTls, TwitchServer};
use futures_util::{SinkExt, StreamExt};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use ss::sources::twitch::{TwitchEndpoints, TwitchSource};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A private CA and a server certificate for 127.0.0.1 / localhost it signed.
struct PrivateCa {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    server: Arc<ServerConfig>,
}

impl PrivateCa {
    fn generate() -> PrivateCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "ss test private CA");
        let ca_key = KeyPair::generate().unwrap();
        let ca = params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let server = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
            .unwrap();
        PrivateCa {
            ca_pem: ca.pem(),
            ca_der: ca.der().clone(),
            server: Arc::new(server),
        }
    }
}

/// A websocket server over TLS that greets every client with one text message.
async fn websocket_server(tls: Arc<ServerConfig>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = TlsAcceptor::from(tls);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                let _ = ws.send(tungstenite::Message::text("welcome")).await;
                let _ = ws.close(None).await;
            });
        }
    });
    port
}

/// An HTTP/1.1 server over TLS that answers every request `200 ok`.
async fn https_server(tls: Arc<ServerConfig>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = TlsAcceptor::from(tls);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = stream.shutdown().await;
            });
        }
    });
    port
}

/// Connects as every websocket client of the runtime does: with the shared client config.
async fn websocket_greeting(port: u16) -> Result<String, String> {
    let tls = ss::tls::default_client_config().map_err(|e| e.to_string())?;
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async_tls_with_config(
            format!("wss://127.0.0.1:{port}/"),
            None,
            true,
            Some(tokio_tungstenite::Connector::Rustls(tls)),
        ),
    )
    .await
    .map_err(|_| "timed out".to_string())?
    .map_err(|e| e.to_string())?;
    match ws.next().await {
        Some(Ok(message)) => Ok(message.into_text().map_err(|e| e.to_string())?.to_string()),
        other => Err(format!("no greeting: {other:?}")),
    }
}

/// A GET through the runtime's one HTTP client constructor.
async fn https_get(port: u16) -> Result<String, String> {
    let client = ss::http_out::client(Duration::from_secs(10), Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    let answer = client
        .get(format!("https://127.0.0.1:{port}/"))
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    answer.text().await.map_err(|e| e.to_string())
}

fn irc_source(server: &TwitchServer) -> Running {
    let source = TwitchSource::new("demo", &twitch_settings(server.port(), true))
        .unwrap()
        .with_timing(fast_timing());
    run_source(
        source,
        Some(TOKEN),
        TwitchEndpoints::default(),
        normal_limit(),
    )
}

#[tokio::test]
async fn irc_websocket_and_https_trust_the_tls_ca_file_and_only_then() {
    let ca = PrivateCa::generate();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("private-ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let irc = TwitchServer::start(ServerOptions {
        tls: Some(TestTls {
            server_config: ca.server.clone(),
            root: ca.ca_der.clone(),
        }),
        ..ServerOptions::default()
    })
    .await;
    let ws_port = websocket_server(ca.server.clone()).await;
    let https_port = https_server(ca.server.clone()).await;

    // Without the CA file: every client refuses the certificate.
    ss::tls::trust_ca_file(None).unwrap();
    let source = irc_source(&irc);
    let status = source
        .wait_status("a TLS error", |s| s.last_error.is_some())
        .await;
    let error = status.last_error.clone().unwrap();
    assert!(error.contains("TLS with 127.0.0.1 failed"), "{error}");
    source.stop().await;
    assert_eq!(irc.with_state(|s| s.logins), 0);
    let refused = websocket_greeting(ws_port).await.unwrap_err();
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");
    let refused = https_get(https_port).await.unwrap_err();
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");

    // With it (as `ss run` reads system.json's tls_ca_file at start): all three connect.
    ss::tls::trust_ca_file(Some(&ca_file)).unwrap();
    let mut source = irc_source(&irc);
    irc.wait_for_joins(1).await;
    irc.send_to_joined(PRIVMSG).await;
    assert_eq!(source.next_chat_event().await.text, "hello Kappa");
    source.stop().await;
    assert_eq!(websocket_greeting(ws_port).await.unwrap(), "welcome");
    assert_eq!(https_get(https_port).await.unwrap(), "ok");
    ss::tls::trust_ca_file(None).unwrap();
}
