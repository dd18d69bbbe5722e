//! [`Transport`]: whether what a connection carries can be read on the way, which
//! decides if a password may travel in it (SASL PLAIN, HTTP basic).

/// How a connection reached weir.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain TCP: anyone on the path reads it.
    Plaintext,
    /// TLS (the `[tls]` section of weir.toml): a password in it stays between the ends.
    Tls,
}

/// The principal of a TLS client certificate verified on a connection (`User:<CN>`):
/// it authenticates the connection's requests without other credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedPrincipal(pub super::Principal);
