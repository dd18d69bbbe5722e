//! [`Dial`]: how the benchmarks' native client ([`super::wire`]) reaches a broker:
//! plain TCP, or SASL_SSL, i.e. TLS (rustls, blocking) then SASL SCRAM-SHA-256 as a
//! Kafka client logs in (SaslHandshake v1, two SaslAuthenticate v1 rounds). With it
//! `weir bench kafka --tls-scram` measures TLS with a client whose own TLS cost is
//! that of a good client (large writes, large TLS records, AES-GCM in ring), so the
//! ratio shows the broker's cost rather than kcat's.

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::wire::{i16_at, i32_at, put_str, round_trip};
use crate::auth::scram::Mechanism;

/// A broker's address and how to log in to it.
#[derive(Clone)]
pub enum Dial {
    /// Plain TCP, no authentication.
    Plain(SocketAddr),
    /// TLS to `addr` trusting `config`'s roots, then SCRAM-SHA-256 as `user`.
    SaslSsl {
        /// The listener.
        addr: SocketAddr,
        /// rustls' client side (roots, cipher suites).
        config: Arc<ClientConfig>,
        /// The SCRAM user.
        user: String,
        /// Its password.
        password: String,
    },
}

/// One open connection, plain or TLS.
pub enum Conn {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<StreamOwned<ClientConnection, Buffered>>),
}

/// A socket read through a 64 KiB buffer and written directly: rustls reads at most
/// 4 KiB per call, so without it a client pays a read syscall per 4 KiB (the broker
/// reads 64 KiB at a time too, into its own record layer: kafka/tls/stream.rs).
pub struct Buffered(BufReader<TcpStream>);

impl Read for Buffered {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Buffered {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.get_mut().write(buf)
    }

    fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
        self.0.get_mut().write_vectored(bufs)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.get_mut().flush()
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

impl Dial {
    /// A TLS client configuration trusting the PEM certificate at `ca`, with ring's
    /// default suites in its default order (a client like any rustls one).
    pub fn tls_config(ca: &std::path::Path) -> anyhow::Result<Arc<ClientConfig>> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).context("reading the bench CA")? {
            roots.add(cert?)?;
        }
        #[allow(deprecated)] // ring: see kafka/tls/mod.rs
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }

    /// Connects and, for SASL_SSL, completes the TLS handshake and the SCRAM login.
    pub fn connect(&self) -> anyhow::Result<Conn> {
        match self {
            Dial::Plain(addr) => {
                let s = TcpStream::connect(addr)?;
                s.set_nodelay(true)?;
                Ok(Conn::Plain(s))
            }
            Dial::SaslSsl {
                addr,
                config,
                user,
                password,
            } => {
                let s = TcpStream::connect(addr)?;
                s.set_nodelay(true)?;
                let name = ServerName::IpAddress(addr.ip().into());
                let mut tls = ClientConnection::new(config.clone(), name)?;
                // rustls seals at most 64 KiB of a write before writing it out by
                // default: a 1 MB request took 16 writev calls. Unbounded, it takes
                // one, as plaintext's write does; each write is sent before the
                // next is taken, so this holds one request at most.
                tls.set_buffer_limit(None);
                let s = Buffered(BufReader::with_capacity(64 << 10, s));
                let mut conn = Conn::Tls(Box::new(StreamOwned::new(tls, s)));
                scram_login(&mut conn, user, password)?;
                Ok(conn)
            }
        }
    }
}

/// SaslHandshake v1 for SCRAM-SHA-256, then the client side of RFC 5802 in two
/// SaslAuthenticate v1 requests, checking the server's signature.
fn scram_login(conn: &mut Conn, user: &str, password: &str) -> anyhow::Result<()> {
    let mechanism = Mechanism::ScramSha256;
    let mut body = Vec::new();
    put_str(&mut body, mechanism.name());
    let r = round_trip(conn, 17, 1, &body)?;
    if i16_at(&r, 4)? != 0 {
        bail!("SaslHandshake refused {}", mechanism.name());
    }
    let nonce = B64.encode(rand::random::<[u8; 18]>());
    let client_first_bare = format!("n={user},r={nonce}");
    let server_first = authenticate(conn, format!("n,,{client_first_bare}").as_bytes())?;
    let server_first = String::from_utf8(server_first).context("server-first is not UTF-8")?;
    let field = |key: &str| {
        server_first
            .split(',')
            .find_map(|f| f.strip_prefix(key))
            .with_context(|| format!("server-first {server_first:?} has no {key}"))
    };
    let (full_nonce, salt, iterations) = (field("r=")?, field("s=")?, field("i=")?);
    if !full_nonce.starts_with(&nonce) {
        bail!("the server's nonce does not extend ours");
    }
    let salted =
        mechanism.salted_password(password.as_bytes(), &B64.decode(salt)?, iterations.parse()?);
    let client_key = mechanism.hmac(&salted, b"Client Key");
    let stored_key = mechanism.hash(&client_key);
    let without_proof = format!("c=biws,r={full_nonce}");
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = mechanism.hmac(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(k, s)| k ^ s)
        .collect();
    let client_final = format!("{without_proof},p={}", B64.encode(proof));
    let server_final = authenticate(conn, client_final.as_bytes())?;
    let server_key = mechanism.hmac(&salted, b"Server Key");
    let expected = B64.encode(mechanism.hmac(&server_key, auth_message.as_bytes()));
    if server_final != format!("v={expected}").as_bytes() {
        bail!("the server's SCRAM signature is wrong");
    }
    Ok(())
}

/// One SaslAuthenticate v1 round: sends `bytes`, returns the server's.
fn authenticate(conn: &mut Conn, bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut body = (bytes.len() as i32).to_be_bytes().to_vec();
    body.extend_from_slice(bytes);
    let r = round_trip(conn, 36, 1, &body)?;
    // corr, error code, error message (nullable string), auth bytes.
    if i16_at(&r, 4)? != 0 {
        bail!("SaslAuthenticate refused: error {}", i16_at(&r, 4)?);
    }
    let message = i16_at(&r, 6)?.max(0) as usize;
    let at = 8 + message;
    let len = i32_at(&r, at)?.max(0) as usize;
    Ok(r.get(at + 4..at + 4 + len)
        .context("short SaslAuthenticate response")?
        .to_vec())
}
