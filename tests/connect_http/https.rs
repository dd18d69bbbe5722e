//! `https://` origins of `weir.allow.http`, against an https stub on 127.0.0.1:0 whose
//! certificate is signed by a CA made in the test's temp dir: HttpSink trusting that CA
//! (`weir.http.ssl.ca.location`) delivers every record; without it, each request fails its
//! handshake with a certificate error in the connector's log and nothing arrives; an
//! `http://` grant of the same host and port does not admit the https URL.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, ServerConfig};

use super::*;
use crate::common::pki::{Pki, pki};

/// A TCP listener that answers only after a TLS handshake; a failed one is dropped.
pub struct TlsListener {
    pub tcp: tokio::net::TcpListener,
    pub acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// A TLS acceptor presenting the test CA's server certificate (localhost, 127.0.0.1).
fn acceptor(pki: &Pki) -> TlsAcceptor {
    let certs = CertificateDer::pem_file_iter(pki.path("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(pki.path("server.key")).unwrap();
    #[allow(deprecated)] // ring, as weir itself uses
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

#[test]
fn https_sinks_trust_their_ca_and_nothing_else_and_http_grants_do_not_admit_https() {
    const PER: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("pki"));
    let stub = Stub::start_tls(acceptor(&pki), |_, _| Answer::ok("ok"));
    let https = stub.origin();
    assert!(https.starts_with("https://"), "{https}");
    let s = start(&dir.path().join("data"));
    create_topic(&s, "in", 1);
    let records = (0..PER).map(|i| (0, format!("{{\"i\":{i}}}"))).collect();
    produce(&s, "in", records);
    let sink = |path: &str, grant: &str, ca: Option<String>| {
        let mut config = schemaless(json!({
            "connector.class": "HttpSink",
            "topics": "in",
            "http.url": format!("{https}{path}"),
            "http.request.mode": "batch",
            "retry.max": "1",
            "retry.backoff.ms": "10",
            "weir.allow.http": grant,
        }));
        if let Some(ca) = ca {
            config["weir.http.ssl.ca.location"] = json!(ca);
        }
        config
    };
    // Without the CA first: its requests are refused by their handshake, never answered.
    create(&s, "untrusted", sink("/untrusted", &https, None));
    let http_grant = format!("http://{}", stub.addr);
    create(&s, "plain-grant", sink("/plain", &http_grant, None));
    create(
        &s,
        "trusted",
        sink("/trusted", &https, Some(pki.path("ca.pem"))),
    );

    let delivered = || -> Vec<u64> {
        stub.seen()
            .iter()
            .filter(|r| r.path == "/trusted")
            .flat_map(|r| match serde_json::from_str::<Value>(&r.body).unwrap() {
                Value::Array(items) => items.iter().map(|v| v["i"].as_u64().unwrap()).collect(),
                v => vec![v["i"].as_u64().unwrap()],
            })
            .collect()
    };
    assert!(
        wait_until(Duration::from_secs(60), || delivered().len() >= PER),
        "trusted delivered {:?}; log {}",
        delivered(),
        log_lines(&s, "trusted")
    );
    assert_eq!(delivered(), (0..PER as u64).collect::<Vec<_>>());

    let st = wait_status(&s, "untrusted", "FAILED", |st| {
        st["tasks"][0]["state"] == "FAILED"
    });
    let log = log_lines(&s, "untrusted");
    assert!(
        log.contains("tls: the handshake with 127.0.0.1") && log.contains("certificate"),
        "untrusted log {log}; status {st}"
    );
    assert_eq!(st["denied"], 0, "a TLS failure is not a denial: {st}");

    let st = wait_status(&s, "plain-grant", "FAILED", |st| {
        st["tasks"][0]["state"] == "FAILED"
    });
    let want = format!("denied: {https} not in weir.allow.http");
    assert!(
        log_lines(&s, "plain-grant").contains(&want),
        "plain-grant log {}; status {st}",
        log_lines(&s, "plain-grant")
    );
    assert!(
        stub.seen().iter().all(|r| r.path == "/trusted"),
        "only the trusted sink reached the server: {:?}",
        stub.seen()
    );
}
