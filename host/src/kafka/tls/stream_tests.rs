//! [`super::TlsStream`] against a rustls client: every suite, key updates, forged
//! records and the alerts they get, clients that are not TLS.

use super::*;
use crate::kafka::tls::HandshakeError;
use crate::kafka::tls::handshake::accept;
use rustls_pki_types::CertificateDer;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
        s.read(&mut buf).await.unwrap_err()
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
    let err = server.await.unwrap();
    assert!(err.to_string().contains("too many TLS KeyUpdates"), "{err}");
    // On the wire after the echo: one KeyUpdate (5 bytes, a type byte and a 16-byte
    // tag) answering all 33 requests, then the fatal alert (2 bytes), then the end.
    let mut wire = Vec::new();
    c.get_mut().0.read_to_end(&mut wire).await.unwrap();
    assert_eq!(wire.len(), (5 + 5 + 1 + 16) + (5 + 2 + 1 + 16), "{wire:?}");
    assert_eq!(&wire[3..5], &[0, 22], "{wire:?}");
}

#[tokio::test]
async fn empty_handshake_records_and_alerts_of_no_level_are_refused() {
    let (alert, err) = alert_for(&[(content::HANDSHAKE, &[])]).await;
    assert_eq!(alert, [2, 10], "fatal unexpected_message");
    assert!(err.to_string().contains("empty TLS handshake"), "{err}");
    // Level 3 is neither warning nor fatal: not a close_notify.
    let (alert, err) = alert_for(&[(content::ALERT, &[3, 0])]).await;
    assert_eq!(alert, [2, 47], "fatal illegal_parameter");
    assert!(err.to_string().contains("alert with level 3"), "{err}");
}

#[tokio::test]
async fn nothing_is_written_after_close_notify() {
    let dir = tempfile::tempdir().unwrap();
    let tls = super::super::tests::localhost(dir.path());
    let (client_io, server_io) = tokio::io::duplex(64 << 10);
    let config = tls.kafka.clone();
    let server = tokio::spawn(async move {
        let (mut s, _) = accept(config, server_io).await.unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).await.unwrap();
        s.shutdown().await.unwrap();
        s.write(b"late").await.unwrap_err()
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
    c.write_all(b"hello").await.unwrap();
    c.flush().await.unwrap();
    let err = server.await.unwrap();
    assert!(err.to_string().contains("close_notify"), "{err}");
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "{rest:?}");
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
    // The client is told why before the connection ends.
    assert_eq!(
        alert_received(&mut c).await,
        Some(rustls::AlertDescription::BadRecordMac)
    );
}

/// The alert the client's rustls reports on its next read, if the server sent one.
async fn alert_received<S: AsyncRead + AsyncWrite + Unpin>(
    c: &mut tokio_rustls::client::TlsStream<S>,
) -> Option<rustls::AlertDescription> {
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), c.read(&mut buf))
        .await
        .expect("the server neither answered nor closed");
    let err = read.err()?;
    match err.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::AlertReceived(alert) => Some(*alert),
        _ => None,
    }
}

/// A server that echoes one 5-byte message, then reads until its stream fails,
/// and a TLS 1.3 client past that echo.
async fn echoed_once(
    tls: &super::super::Tls,
    dir: &std::path::Path,
    extract: bool,
) -> (
    tokio_rustls::client::TlsStream<tokio::io::DuplexStream>,
    tokio::task::JoinHandle<io::Error>,
) {
    use rustls_pki_types::pem::PemObject;
    let (client_io, server_io) = tokio::io::duplex(64 << 10);
    let config = tls.kafka.clone();
    let server = tokio::spawn(async move {
        let (mut s, _) = accept(config, server_io).await.unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).await.unwrap();
        s.write_all(&buf).await.unwrap();
        s.flush().await.unwrap();
        let mut rest = vec![0u8; 1 << 16];
        loop {
            match s.read(&mut rest).await {
                Ok(0) => panic!("the stream ended without an error"),
                Ok(_) => {}
                Err(e) => return e,
            }
        }
    });
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(dir.join("c.pem")).unwrap())
        .unwrap();
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.enable_secret_extraction = extract;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut c = connector
        .connect("localhost".try_into().unwrap(), client_io)
        .await
        .unwrap();
    c.write_all(b"hello").await.unwrap();
    c.flush().await.unwrap();
    let mut back = [0u8; 5];
    c.read_exact(&mut back).await.unwrap();
    (c, server)
}

#[tokio::test]
async fn a_tls13_record_over_its_limit_gets_record_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let tls = super::super::tests::localhost(dir.path());
    let (mut c, server) = echoed_once(&tls, dir.path(), false).await;
    // 2^14 + 257 bytes: within TLS 1.2's limit, one over TLS 1.3's (RFC 8446 §5.2).
    let len = (1u16 << 14) + 257;
    let mut record = vec![23, 3, 3];
    record.extend(len.to_be_bytes());
    record.extend(vec![0x42; 100]);
    c.get_mut().0.write_all(&record).await.unwrap();
    assert_eq!(
        alert_received(&mut c).await,
        Some(rustls::AlertDescription::RecordOverflow)
    );
    let err = server.await.unwrap();
    assert!(
        err.to_string().contains("TLS record of 16641 bytes"),
        "{err}"
    );
}

/// Seals `records` (type, plaintext) with the client's own extracted keys, sends
/// them and returns the alert the server answers with.
async fn alert_for(records: &[(u8, &[u8])]) -> ([u8; 2], io::Error) {
    let dir = tempfile::tempdir().unwrap();
    let tls = super::super::tests::localhost(dir.path());
    let (c, server) = echoed_once(&tls, dir.path(), true).await;
    let (mut io, conn) = c.into_inner();
    let secrets = conn.dangerous_extract_secrets().unwrap();
    let v = ProtocolVersion::TLSv1_3;
    let mut sealer = Sealer::new(v, secrets.tx.0, &secrets.tx.1).unwrap();
    let mut opener = Opener::new(v, secrets.rx.0, &secrets.rx.1).unwrap();
    let mut wire = Vec::new();
    for (typ, plaintext) in records {
        sealer.seal(*typ, plaintext, &mut wire).unwrap();
    }
    io.write_all(&wire).await.unwrap();
    let mut buf = Vec::new();
    let mut at = 0;
    let alert = loop {
        if let Some(opened) = opener.open_within(&mut buf, at, at).unwrap() {
            at += opened.wire_len;
            if opened.typ == content::ALERT {
                break buf[opened.plaintext].try_into().unwrap();
            }
            continue;
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), io.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the server closed without an alert");
        buf.extend_from_slice(&chunk[..n]);
    };
    (alert, server.await.unwrap())
}

#[tokio::test]
async fn a_malformed_alert_or_key_update_gets_decode_error() {
    let (alert, err) = alert_for(&[(content::ALERT, &[2])]).await;
    assert_eq!(alert, [2, 50], "fatal decode_error");
    assert!(err.to_string().contains("malformed TLS alert"), "{err}");
    let (alert, err) = alert_for(&[(content::HANDSHAKE, &[KEY_UPDATE, 0, 0, 2, 0, 0])]).await;
    assert_eq!(alert, [2, 50], "fatal decode_error");
    assert!(err.to_string().contains("KeyUpdate of 2 bytes"), "{err}");
}

#[tokio::test]
async fn a_message_that_cannot_come_now_gets_unexpected_message() {
    // A NewSessionTicket is the server's to send.
    let (alert, err) = alert_for(&[(content::HANDSHAKE, &[4, 0, 0, 0])]).await;
    assert_eq!(alert, [2, 10], "fatal unexpected_message");
    assert!(err.to_string().contains("of type 4"), "{err}");
    // Half a KeyUpdate, then data before its other half.
    let (alert, _) = alert_for(&[
        (content::HANDSHAKE, &[KEY_UPDATE, 0]),
        (content::APPLICATION_DATA, b"data"),
    ])
    .await;
    assert_eq!(alert, [2, 10], "fatal unexpected_message");
}

#[tokio::test]
async fn a_finished_and_a_key_update_in_one_write_keep_the_connection() {
    use rustls_pki_types::pem::PemObject;
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let tls = super::super::tests::localhost(dir.path());
    let (mut io, server_io) = tokio::io::duplex(64 << 10);
    let config = tls.kafka.clone();
    let server = tokio::spawn(async move {
        let (mut s, _) = accept(config, server_io).await.unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).await.unwrap();
        s.write_all(&buf).await.unwrap();
        s.flush().await.unwrap();
    });
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(dir.path().join("c.pem")).unwrap())
        .unwrap();
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = "localhost".try_into().unwrap();
    let mut client = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut buf = vec![0u8; 64 << 10];
    let mut wire = Vec::new();
    loop {
        while client.wants_write() {
            client.write_tls(&mut wire).unwrap();
        }
        if !client.is_handshaking() {
            break;
        }
        io.write_all(&wire).await.unwrap();
        wire.clear();
        let n = io.read(&mut buf).await.unwrap();
        assert!(n > 0, "the server closed during the handshake");
        client.read_tls(&mut &buf[..n]).unwrap();
        client.process_new_packets().unwrap();
    }
    // `wire` holds the client's Finished: a KeyUpdate asking the server for one too,
    // and a request, go in the same write.
    client.refresh_traffic_keys().unwrap();
    client.writer().write_all(b"hello").unwrap();
    while client.wants_write() {
        client.write_tls(&mut wire).unwrap();
    }
    io.write_all(&wire).await.unwrap();
    let mut echo = Vec::new();
    while echo.len() < 5 {
        let n = io.read(&mut buf).await.unwrap();
        assert!(n > 0, "the server closed the connection");
        client.read_tls(&mut &buf[..n]).unwrap();
        client.process_new_packets().unwrap();
        let mut plain = [0u8; 16];
        match std::io::Read::read(&mut client.reader(), &mut plain) {
            Ok(k) => echo.extend_from_slice(&plain[..k]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(echo, b"hello");
    server.await.unwrap();
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
