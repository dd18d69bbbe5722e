//! [`HttpTls`]: how a connector's `https://` requests are trusted and wrapped in TLS.
//!
//! Trust is the machine's CA store (as curl uses it, read once per process) plus the
//! connector's own PEM bundle (`weir.http.ssl.ca.location`), in one rustls `ClientConfig`
//! built once per grant. [`super::http_send`] connects to the address it pinned and hands
//! the TCP stream here: the certificate is verified against the URI's host (a name, or an IP
//! address as an IP), and that host is the SNI.

use std::fmt;
use std::sync::{Arc, OnceLock};

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use wasmtime_wasi_http::Error;

use super::http_grant::AllowedHost;

/// The machine's trusted CA certificates, read once: every grant shares them, and reading
/// the store per connector would repeat the same file reads and parses.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        // Unreadable entries are skipped, as curl skips them: the rest still verify.
        rustls_native_certs::load_native_certs().certs
    })
}

/// The TLS side of a grant with `https://` origins: the client config every request of the
/// grant shares, and the connector's own CA certificates (what tells two grants apart).
#[derive(Clone)]
pub struct HttpTls {
    config: Arc<ClientConfig>,
    extra: Vec<CertificateDer<'static>>,
}

impl HttpTls {
    /// Trusts the system's roots plus `extra` (the connector's CA bundle, maybe empty).
    pub fn new(extra: Vec<CertificateDer<'static>>) -> Result<HttpTls, rustls::Error> {
        let mut roots = RootCertStore::empty();
        // A system certificate rustls cannot use is left out, as curl leaves it out.
        roots.add_parsable_certificates(system_roots().iter().cloned());
        for cert in &extra {
            roots.add(cert.clone())?;
        }
        // ring, as the listeners: one crypto library in the build (see the root Cargo.toml);
        // rustls deprecated it for lacking post-quantum key exchange, not for a flaw.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        // The exchange over the stream is HTTP/1.1 (hyper's http1 client).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(HttpTls {
            config: Arc::new(config),
            extra,
        })
    }

    /// Runs the handshake over `stream`, verifying the certificate against `host`.
    pub async fn connect(
        &self,
        host: &AllowedHost,
        stream: TcpStream,
    ) -> Result<TlsStream<TcpStream>, TlsFailure> {
        let name = match host {
            AllowedHost::Ip(ip) => ServerName::IpAddress((*ip).into()),
            AllowedHost::Name(name) => ServerName::try_from(name.clone())
                .map_err(|e| TlsFailure::new(Error::TlsProtocolError, e.to_string()))?,
        };
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        connector
            .connect(name, stream)
            .await
            .map_err(TlsFailure::from_io)
    }
}

impl PartialEq for HttpTls {
    fn eq(&self, other: &HttpTls) -> bool {
        self.extra == other.extra
    }
}

impl Eq for HttpTls {}

impl fmt::Debug for HttpTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTls")
            .field("extra_cas", &self.extra.len())
            .finish_non_exhaustive()
    }
}

/// A failed handshake: the wasi:http error code the guest gets, and why, for the log.
#[derive(Debug)]
pub struct TlsFailure {
    /// `TlsCertificateError`, `TlsAlertReceived` or `TlsProtocolError`.
    pub code: Error,
    /// rustls's (or the socket's) own account of it.
    pub why: String,
}

impl TlsFailure {
    fn new(code: Error, why: String) -> TlsFailure {
        TlsFailure { code, why }
    }

    /// tokio-rustls answers an `io::Error` wrapping the `rustls::Error` when there is one.
    fn from_io(e: std::io::Error) -> TlsFailure {
        let why = e.to_string();
        let code = match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented) => {
                Error::TlsCertificateError
            }
            Some(rustls::Error::AlertReceived(alert)) => Error::TlsAlertReceived {
                alert_id: Some(u8::from(*alert)),
                alert_message: Some(format!("{alert:?}")),
            },
            Some(_) => Error::TlsProtocolError,
            None => Error::Tls(e),
        };
        TlsFailure { code, why }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_with_the_same_cas_are_equal_and_the_config_is_shared_by_clones() {
        let a = HttpTls::new(Vec::new()).unwrap();
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.config, &b.config), "built once, not per use");
        assert_eq!(a, HttpTls::new(Vec::new()).unwrap());
        assert_eq!(a.config.alpn_protocols, [b"http/1.1".to_vec()]);
    }

    #[test]
    fn a_certificate_failure_is_a_certificate_error_for_the_guest() {
        let io = std::io::Error::other(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        let f = TlsFailure::from_io(io);
        assert!(matches!(f.code, Error::TlsCertificateError), "{f:?}");
        assert!(f.why.contains("UnknownIssuer"), "{}", f.why);
        let io = std::io::Error::other(rustls::Error::HandshakeNotComplete);
        assert!(matches!(
            TlsFailure::from_io(io).code,
            Error::TlsProtocolError
        ));
    }
}
