//! [`Tls`]: the `[tls]` section of weir.toml ([`TlsConfig`], checked by its `build`)
//! loaded into rustls configurations for both listeners, and the handshake both run
//! under their admission timeout.
//!
//! - [`record`]: TLS records sealed and opened in place with ring, once rustls has
//!   done the handshake (the Kafka listener's traffic).
//! - [`handshake`]: the Kafka listener's handshake, rustls' unbuffered API shown one
//!   record at a time, handing the traffic secrets to [`stream`].
//! - [`stream`]: [`stream::TlsStream`], a Kafka connection under TLS after it:
//!   [`record`]'s records read straight into the caller's buffer and opened there,
//!   written in large writes, with a fatal alert before any close for a bad record.
//! - [`stream_error`]: [`stream_error::StreamError`], why the peer's records ended a
//!   stream, and the alert each reason sends.
//!
//! The HTTP listener stays on tokio-rustls (hyper wants its stream; its bodies are
//! small); the Kafka listener, where TLS costs throughput, has its own record path.
//!
//! The certificate, key and client CA bundle are read and checked once, when the
//! configuration is built: a file that is missing, holds no PEM item of the kind
//! expected, or a key that does not match the certificate stops `weir serve` before
//! anything binds, with the file named. The handshake runs on the connection's own
//! task, after admission (so it counts against the connection caps) and under the
//! listener's read timeout (so a client stalling mid-handshake is closed like one
//! stalling mid-request).
//!
//! The server's cipher-suite order wins over the client's (AES-128-GCM first, see
//! [`preference`]): OpenSSL-based Kafka clients ask for AES-256-GCM first, which
//! costs both ends more CPU per byte (`weir bench kafka --tls-scram`).
//!
//! A client certificate verified against `client_ca` names its principal by its
//! subject's CN (`User:<CN>`), not Kafka's default of the full DN: weir's users are
//! plain names, and a CN principal is the same `User:alice` whether alice signs in
//! with SCRAM or her certificate, so one ACL covers both.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, BufReader};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::unbuffered::EncodeError;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;

use crate::auth::Principal;

pub mod handshake;
pub mod record;
pub mod stream;
pub mod stream_error;

/// `[tls]` in weir.toml, as written (see host/weir.toml for each key).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain; "" = no TLS.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// PEM CA bundle client certificates are verified against; "" = none.
    pub client_ca: PathBuf,
    /// Whether clients must, may or may not present a certificate.
    pub client_auth: ClientAuth,
}

impl TlsConfig {
    /// Checks the section and loads its files, relative paths against `base_dir`
    /// (the config file's directory); `None` when no certificate is set.
    pub fn build(&self, base_dir: &Path) -> Result<Option<Tls>, TlsError> {
        let empty = |p: &Path| p.as_os_str().is_empty();
        let invalid = |reason| Err(TlsError::Invalid { reason });
        if empty(&self.cert) {
            if !empty(&self.key) || !empty(&self.client_ca) || self.client_auth != ClientAuth::None
            {
                return invalid("tls.key, tls.client_ca and tls.client_auth need tls.cert");
            }
            return Ok(None);
        }
        if empty(&self.key) {
            return invalid("tls.cert needs tls.key");
        }
        let client = match (empty(&self.client_ca), self.client_auth) {
            (true, ClientAuth::None) => None,
            (true, _) => {
                return invalid("tls.client_auth \"optional\" or \"required\" needs tls.client_ca");
            }
            (false, ClientAuth::None) => {
                return invalid("tls.client_ca is set but tls.client_auth = \"none\"");
            }
            // An absolute path stays as it is under join.
            (false, policy) => Some((base_dir.join(&self.client_ca), policy)),
        };
        Tls::load(&TlsSettings {
            cert: base_dir.join(&self.cert),
            key: base_dir.join(&self.key),
            client,
        })
        .map(Some)
    }
}

/// Whether clients must, may or may not present a certificate (`tls.client_auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// No client certificates are asked for.
    None,
    /// A client may present one (verified against `client_ca`), or authenticate otherwise.
    Optional,
    /// Every client must present one verified against `client_ca`.
    Required,
}

/// The validated `[tls]` section: file paths already resolved against the config
/// file's directory.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// PEM certificate chain, the server's first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// PEM bundle of CAs client certificates are verified against, with the policy.
    pub client: Option<(PathBuf, ClientAuth)>,
}

/// Why the TLS configuration is refused.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The keys of `[tls]` do not fit together.
    #[error("{reason}")]
    Invalid { reason: &'static str },
    /// A file could not be read.
    #[error("reading {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file holds no usable PEM item of the kind expected.
    #[error("{what} {path}: {source}")]
    Pem {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// A CA certificate of `client_ca` is not one webpki accepts.
    #[error("tls.client_ca {path}: {source}")]
    ClientCa {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    /// The client verifier could not be built (e.g. an empty CA bundle).
    #[error("tls.client_ca {path}: {source}")]
    Verifier {
        path: PathBuf,
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
    /// The crypto provider offers no protocol version rustls accepts (a build fault).
    #[error("TLS provider: {0}")]
    Provider(#[source] rustls::Error),
    /// The key does not match the certificate, or rustls refuses the pair.
    #[error("tls.key {key} does not go with tls.cert {cert}: {source}")]
    KeyPair {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
}

/// The loaded TLS configuration of both listeners (they differ only in ALPN and in
/// the Kafka one letting [`stream`] take the traffic keys).
#[derive(Clone)]
pub struct Tls {
    kafka: Arc<ServerConfig>,
    http: TlsAcceptor,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

/// Why a handshake did not complete.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The client did not finish within the listener's timeout.
    #[error("TLS handshake not done within {ms} ms")]
    Timeout { ms: u128 },
    /// The client sent something that is not TLS, or TLS rustls refused.
    #[error("TLS handshake: {0}")]
    Failed(#[source] io::Error),
    /// rustls refused the client's handshake.
    #[error("TLS handshake: {0}")]
    Tls(#[source] rustls::Error),
    /// A handshake message rustls produced could not be encoded (a fault here).
    #[error("TLS handshake: {0}")]
    Encode(#[source] EncodeError),
    /// The negotiated suite has no record layer here (a fault: the provider's suites
    /// are all covered).
    #[error("TLS handshake: {0}")]
    Record(#[source] record::RecordError),
    /// The client's handshake flight does not fit the connection's buffer.
    #[error("TLS handshake message larger than {max} bytes")]
    TooLarge { max: usize },
    /// rustls reached a state the handshake does not expect (early data, which is
    /// not enabled).
    #[error("TLS handshake reached an unexpected state")]
    UnexpectedState,
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = |source| TlsError::Pem {
        what,
        path: path.to_path_buf(),
        source,
    };
    let certs = CertificateDer::pem_slice_iter(&read(what, path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem)?;
    if certs.is_empty() {
        return Err(pem(rustls_pki_types::pem::Error::NoItemsFound));
    }
    Ok(certs)
}

impl Tls {
    /// Reads and checks the files `settings` names.
    pub fn load(settings: &TlsSettings) -> Result<Tls, TlsError> {
        // ring, not aws-lc-rs: it builds in seconds without cmake. rustls deprecated it
        // for lacking post-quantum key exchange; clients then agree on X25519, as
        // every Kafka client does today.
        #[allow(deprecated)]
        let mut provider = rustls::crypto::ring::default_provider();
        provider
            .cipher_suites
            .sort_by_key(|s| preference(s.suite()));
        let provider = Arc::new(provider);
        let certs = certificates("tls.cert", &settings.cert)?;
        let key =
            PrivateKeyDer::from_pem_slice(&read("tls.key", &settings.key)?).map_err(|source| {
                TlsError::Pem {
                    what: "tls.key",
                    path: settings.key.clone(),
                    source,
                }
            })?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Provider)?;
        let builder = match &settings.client {
            None | Some((_, ClientAuth::None)) => builder.with_no_client_auth(),
            Some((path, policy)) => {
                let mut roots = RootCertStore::empty();
                for ca in certificates("tls.client_ca", path)? {
                    roots.add(ca).map_err(|source| TlsError::ClientCa {
                        path: path.clone(),
                        source,
                    })?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                let verifier = match policy {
                    ClientAuth::Optional => verifier.allow_unauthenticated(),
                    _ => verifier,
                };
                let verifier = verifier.build().map_err(|source| TlsError::Verifier {
                    path: path.clone(),
                    source,
                })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        // Checks that the key signs for the certificate's public key.
        let config = builder
            .with_single_cert(certs, key)
            .map_err(|source| TlsError::KeyPair {
                cert: settings.cert.clone(),
                key: settings.key.clone(),
                source,
            })?;
        let mut config = config;
        // The server's order, not the client's: OpenSSL-based clients (librdkafka,
        // kcat, Python's) list AES-256-GCM first, which costs both sides ~30 % more
        // CPU per byte than AES-128-GCM for no protection a Kafka link needs.
        config.ignore_client_order = true;
        let mut http = config.clone();
        http.alpn_protocols = vec![b"http/1.1".to_vec()];
        // The Kafka stream seals and opens records itself once rustls has done the
        // handshake ([`stream`]); rustls keeps the key schedule.
        config.enable_secret_extraction = true;
        Ok(Tls {
            kafka: Arc::new(config),
            http: TlsAcceptor::from(Arc::new(http)),
        })
    }

    /// Runs the Kafka listener's handshake on `stream`, closing it after `timeout`.
    pub async fn accept_kafka<S>(
        &self,
        stream: S,
        timeout: Duration,
    ) -> Result<(stream::TlsStream<S>, Option<Principal>), HandshakeError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let (stream, leaf) =
            tokio::time::timeout(timeout, handshake::accept(self.kafka.clone(), stream))
                .await
                .map_err(|_| HandshakeError::Timeout {
                    ms: timeout.as_millis(),
                })??;
        // rustls only hands over certificates its verifier accepted.
        let principal = leaf
            .and_then(|leaf| common_name(&leaf))
            .map(Principal::User);
        Ok((stream, principal))
    }

    /// Runs the HTTP listener's handshake on `stream`, closing it after `timeout`.
    pub async fn accept_http<S>(
        &self,
        stream: S,
        timeout: Duration,
    ) -> Result<(TlsStream<BufReader<S>>, Option<Principal>), HandshakeError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        accept(&self.http, stream, timeout).await
    }
}

/// weir's preference among the suites both sides support, best first: AES-128-GCM
/// (fast with AES instructions, which every server CPU and most clients have), then
/// AES-256-GCM, then ChaCha20-Poly1305; TLS 1.3 suites before TLS 1.2 ones.
fn preference(suite: rustls::CipherSuite) -> u8 {
    use rustls::CipherSuite as S;
    match suite {
        S::TLS13_AES_128_GCM_SHA256 => 0,
        S::TLS13_AES_256_GCM_SHA384 => 1,
        S::TLS13_CHACHA20_POLY1305_SHA256 => 2,
        S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 3,
        S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 | S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => 4,
        _ => 5,
    }
}

/// Bytes read from the socket at once under TLS.
const READ_BUFFER: usize = 64 << 10;

/// The handshake, and the principal of the client certificate if one was verified.
async fn accept<S>(
    acceptor: &TlsAcceptor,
    stream: S,
    timeout: Duration,
) -> Result<(TlsStream<BufReader<S>>, Option<Principal>), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // rustls reads at most 4 KiB per read call: a buffer under it turns a 1 MiB
    // produce request's ~256 read syscalls into ~16 (measured by `weir bench kafka
    // --tls-scram`).
    let stream = BufReader::with_capacity(READ_BUFFER, stream);
    let stream = tokio::time::timeout(timeout, acceptor.accept(stream))
        .await
        .map_err(|_| HandshakeError::Timeout {
            ms: timeout.as_millis(),
        })?
        .map_err(HandshakeError::Failed)?;
    // rustls only hands over certificates its verifier accepted.
    let principal = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| common_name(leaf))
        .map(Principal::User);
    Ok((stream, principal))
}

/// The subject's (last) CN of a DER certificate, if it has one as a string.
pub fn common_name(cert: &CertificateDer<'_>) -> Option<String> {
    use x509_cert::der::Decode;
    use x509_cert::der::asn1::{Ia5StringRef, ObjectIdentifier, PrintableStringRef, Utf8StringRef};
    const CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
    let cert = x509_cert::Certificate::from_der(cert.as_ref()).ok()?;
    let mut found = None;
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter().filter(|atv| atv.oid == CN) {
            let value = &atv.value;
            let text = Utf8StringRef::try_from(value)
                .map(|s| s.as_str().to_string())
                .or_else(|_| PrintableStringRef::try_from(value).map(|s| s.as_str().to_string()))
                .or_else(|_| Ia5StringRef::try_from(value).map(|s| s.as_str().to_string()));
            if let Ok(text) = text {
                found = Some(text);
            }
        }
    }
    found.filter(|cn| !cn.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate with `subject`, made by the `openssl` CLI.
    fn certificate(dir: &Path, subject: &str) -> CertificateDer<'static> {
        let status = std::process::Command::new("openssl")
            .args(["req", "-x509", "-nodes", "-days", "1", "-newkey", "ec"])
            .args(["-pkeyopt", "ec_paramgen_curve:prime256v1"])
            .args(["-keyout", "k.pem", "-out", "c.pem", "-subj", subject])
            .current_dir(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl");
        assert!(status.success());
        CertificateDer::from_pem_file(dir.join("c.pem")).unwrap()
    }

    #[test]
    fn the_principal_is_the_subject_cn_not_the_dn() {
        let dir = tempfile::tempdir().unwrap();
        let cert = certificate(dir.path(), "/O=weir/CN=alice/OU=ops");
        assert_eq!(common_name(&cert).as_deref(), Some("alice"));
        let cert = certificate(dir.path(), "/O=weir only");
        assert_eq!(common_name(&cert), None, "no CN, no principal");
    }

    /// Moves every TLS byte `from` has to send into `to`.
    fn transfer(from: &mut rustls::Connection, to: &mut rustls::Connection) {
        let mut buf = Vec::new();
        while from.wants_write() {
            from.write_tls(&mut buf).unwrap();
        }
        let mut rest = &buf[..];
        while !rest.is_empty() {
            to.read_tls(&mut rest).unwrap();
            to.process_new_packets().unwrap();
        }
    }

    /// A leaf certificate for `localhost` in `dir` (c.pem, k.pem) and the TLS
    /// configuration serving it.
    pub(super) fn localhost(dir: &Path) -> Tls {
        let status = std::process::Command::new("openssl")
            .args(["req", "-x509", "-nodes", "-days", "1", "-newkey", "ec"])
            .args(["-pkeyopt", "ec_paramgen_curve:prime256v1"])
            .args([
                "-keyout",
                "k.pem",
                "-out",
                "c.pem",
                "-subj",
                "/CN=localhost",
            ])
            .args(["-addext", "subjectAltName=DNS:localhost"])
            // A leaf, not a CA: webpki refuses a CA certificate as the server's.
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .current_dir(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl");
        assert!(status.success());
        Tls::load(&TlsSettings {
            cert: dir.join("c.pem"),
            key: dir.join("k.pem"),
            client: None,
        })
        .unwrap()
    }

    #[test]
    fn the_server_chooses_aes_128_gcm_when_the_client_lists_aes_256_first() {
        let dir = tempfile::tempdir().unwrap();
        let tls = localhost(dir.path());
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(dir.path().join("c.pem")).unwrap())
            .unwrap();
        // An OpenSSL client's order: AES-256-GCM first.
        #[allow(deprecated)]
        let mut provider = rustls::crypto::ring::default_provider();
        let aes256 = rustls::CipherSuite::TLS13_AES_256_GCM_SHA384;
        provider.cipher_suites.sort_by_key(|s| s.suite() != aes256);
        assert_eq!(provider.cipher_suites[0].suite(), aes256);
        let client_config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = "localhost".try_into().unwrap();
        let client = rustls::ClientConnection::new(Arc::new(client_config), name).unwrap();
        let server = rustls::ServerConnection::new(tls.kafka.clone()).unwrap();
        let (mut client, mut server) = (client.into(), server.into());
        for _ in 0..8 {
            transfer(&mut client, &mut server);
            transfer(&mut server, &mut client);
        }
        let (client, server): (rustls::Connection, rustls::Connection) = (client, server);
        assert!(!client.is_handshaking() && !server.is_handshaking());
        assert_eq!(
            server.negotiated_cipher_suite().map(|s| s.suite()),
            Some(rustls::CipherSuite::TLS13_AES_128_GCM_SHA256)
        );
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_naming_both_files() {
        let dir = tempfile::tempdir().unwrap();
        certificate(dir.path(), "/CN=one");
        std::fs::rename(dir.path().join("k.pem"), dir.path().join("one.key")).unwrap();
        certificate(dir.path(), "/CN=two");
        let config = TlsConfig {
            cert: "c.pem".into(),
            key: "one.key".into(),
            client_ca: PathBuf::new(),
            client_auth: ClientAuth::None,
        };
        let err = config.build(dir.path()).unwrap_err();
        assert!(matches!(err, TlsError::KeyPair { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("one.key") && text.contains("c.pem"), "{text}");
        let config = TlsConfig {
            key: "k.pem".into(),
            ..config
        };
        assert!(config.build(dir.path()).unwrap().is_some());
    }
}
