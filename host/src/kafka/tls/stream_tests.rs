//! [`super::TlsStream`] against a rustls client: every suite, key updates, forged
//! records, clients that are not TLS.

use super::*;
use tokio_rustls::rustls::{self, CipherSuite, RootCertStore};

/// A rustls client offering only `suite` over `version`, trusting `dir`'s c.pem.
fn client(
    dir: &std::path::Path,
    version: &'static rustls::SupportedProtocolVersion,
    suite: CipherSuite,
) -> tokio_rustls::TlsConnector {
    use rustls_pki_types::pem::PemObject;
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(dir.join("c.pem")).unwrap())
        .unwrap();
    #[allow(deprecated)]
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.retain(|s| s.suite() == suite);
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// xorshift64*: bytes that differ from record to record.
fn noise(state: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *state ^= *state >> 12;
            *state ^= *state << 25;
            *state ^= *state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

#[tokio::test]
async fn every_suite_echoes_through_key_updates_and_closes_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let tls = super::super::tests::localhost(dir.path());
    let cases = [
        (
            &rustls::version::TLS13,
            CipherSuite::TLS13_AES_128_GCM_SHA256,
        ),
        (
            &rustls::version::TLS13,
            CipherSuite::TLS13_AES_256_GCM_SHA384,
        ),
        (
            &rustls::version::TLS13,
            CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        ),
        (
            &rustls::version::TLS12,
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            &rustls::version::TLS12,
            CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
    ];
    for (version, suite) in cases {
        let (client_io, server_io) = tokio::io::duplex(64 << 10);
        let config = tls.kafka.clone();
        // The server echoes until the client's close_notify, then sends its own.
        let server = tokio::spawn(async move {
            let (mut s, leaf) = accept(config, server_io).await.unwrap();
            assert!(leaf.is_none());
            let mut buf = vec![0u8; 100_000];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                s.write_all(&buf[..n]).await.unwrap();
                s.flush().await.unwrap();
            }
            s.shutdown().await.unwrap();
            s.protocol_version()
        });
        let connector = client(dir.path(), version, suite);
        let name = "localhost".try_into().unwrap();
        let mut c = connector.connect(name, client_io).await.unwrap();
        assert_eq!(
            c.get_ref().1.negotiated_cipher_suite().unwrap().suite(),
            suite
        );
        let mut seed = 0x5eed_u64;
        for round in 0..40usize {
            if round % 10 == 5 && version.version == ProtocolVersion::TLSv1_3 {
                // A KeyUpdate asking the server to update too.
                c.get_mut().1.refresh_traffic_keys().unwrap();
            }
            let len = [1, 4, 16_383, 16_384, 16_385, 30_000][round % 6];
            let sent = noise(&mut seed, len);
            c.write_all(&sent).await.unwrap();
            c.flush().await.unwrap();
            let mut back = vec![0u8; len];
            c.read_exact(&mut back).await.unwrap();
            assert!(back == sent, "{suite:?}: round {round} came back changed");
        }
        c.shutdown().await.unwrap();
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        assert_eq!(server.await.unwrap(), version.version);
    }
}

#[tokio::test]
async fn key_update_requests_are_answered_once_and_a_flood_of_them_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tls = super::super::tests::localhost(dir.path());
    let connector = client(
        dir.path(),
        &rustls::version::TLS13,
        CipherSuite::TLS13_AES_128_GCM_SHA256,
    );
    // Ten requests in a row, then data: one KeyUpdate answers them all and the echo
    // comes back under the new key.
    let (client_io, server_io) = tokio::io::duplex(64 << 10);
    let config = tls.kafka.clone();
    let server = tokio::spawn(async move {
        let (mut s, _) = accept(config, server_io).await.unwrap();
        let mut buf = [0u8; 5];
        for _ in 0..2 {
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
            s.flush().await.unwrap();
        }
    });
    let mut c = connector
        .connect("localhost".try_into().unwrap(), client_io)
        .await
        .unwrap();
    c.write_all(b"hello").await.unwrap();
    c.flush().await.unwrap();
    let mut back = [0u8; 5];
    c.read_exact(&mut back).await.unwrap();
    for _ in 0..10 {
        c.get_mut().1.refresh_traffic_keys().unwrap();
        c.flush().await.unwrap();
    }
    c.write_all(b"again").await.unwrap();
    c.flush().await.unwrap();
    c.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"again");
    server.await.unwrap();
    // Requests with no data between them: each would cost the server a key
    // derivation and, answered one by one, a record queued; past the cap the
    // connection ends.
    let (client_io, server_io) = tokio::io::duplex(64 << 10);
    let config = tls.kafka.clone();
    let server = tokio::spawn(async move {
        let (mut s, _) = accept(config, server_io).await.unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).await.unwrap();
        s.write_all(&buf).await.unwrap();
        s.flush().await.unwrap();
        let err = s.read(&mut buf).await.unwrap_err();
        (err, s.outgoing.len())
    });
    let mut c = connector
        .connect("localhost".try_into().unwrap(), client_io)
        .await
        .unwrap();
    c.write_all(b"hello").await.unwrap();
    c.flush().await.unwrap();
    c.read_exact(&mut back).await.unwrap();
    for _ in 0..=MAX_IDLE_RECORDS {
        c.get_mut().1.refresh_traffic_keys().unwrap();
        if c.flush().await.is_err() {
            break;
        }
    }
    let (err, queued) = server.await.unwrap();
    assert!(err.to_string().contains("too many TLS KeyUpdates"), "{err}");
    assert_eq!(queued, 0, "nothing queued for a client that sends no data");
}

#[tokio::test]
async fn a_forged_record_ends_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let tls = super::super::tests::localhost(dir.path());
    let (client_io, server_io) = tokio::io::duplex(64 << 10);
    let config = tls.kafka.clone();
    let server = tokio::spawn(async move {
        let (mut s, _) = accept(config, server_io).await.unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).await.unwrap();
        s.write_all(&buf).await.unwrap();
        s.flush().await.unwrap();
        s.read(&mut buf).await
    });
    let connector = client(
        dir.path(),
        &rustls::version::TLS13,
        CipherSuite::TLS13_AES_128_GCM_SHA256,
    );
    let mut c = connector
        .connect("localhost".try_into().unwrap(), client_io)
        .await
        .unwrap();
    // One round trip: the server is past its handshake, on weir's record layer.
    c.write_all(b"hello").await.unwrap();
    c.flush().await.unwrap();
    let mut back = [0u8; 5];
    c.read_exact(&mut back).await.unwrap();
    // An application-data record the client never sealed, on the raw socket.
    let mut forged = vec![23, 3, 3, 0, 40];
    forged.extend([0x42; 40]);
    c.get_mut().0.write_all(&forged).await.unwrap();
    let err = server.await.unwrap().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("bad_record_mac"), "{err}");
}

#[tokio::test]
async fn a_client_that_is_not_tls_gets_an_alert_and_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let tls = super::super::tests::localhost(dir.path());
    let (mut client_io, server_io) = tokio::io::duplex(64 << 10);
    let config = tls.kafka.clone();
    let server = tokio::spawn(async move { accept(config, server_io).await.map(|_| ()) });
    // A Kafka ApiVersions request instead of a ClientHello.
    client_io
        .write_all(&[0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff])
        .await
        .unwrap();
    let err = server.await.unwrap().unwrap_err();
    assert!(matches!(err, HandshakeError::Tls(_)), "{err}");
    let mut alert = [0u8; 7];
    client_io.read_exact(&mut alert).await.unwrap();
    assert_eq!(alert[0], content::ALERT, "{alert:?}");
}
