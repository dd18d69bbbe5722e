//! [`AuthSettings`]: the auth layer's runtime settings, built from `[auth]` in
//! `weir.toml` and `weir serve --allow-anonymous`.

use std::time::Duration;

/// Validated settings of authentication on both listeners.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// PBKDF2 iterations for new SCRAM credentials (≥ 4096).
    pub scram_iterations: u32,
    /// How long a failed authentication waits before it is answered (Kafka's
    /// `connection.failed.authentication.delay.ms`): slows password guessing.
    pub failure_delay: Duration,
    /// Largest Kafka request frame before a connection has authenticated (Kafka's
    /// `sasl.server.max.receive.size`).
    pub max_unauthenticated_frame_bytes: usize,
    /// Accept SASL PLAIN and HTTP basic from non-loopback peers on plaintext
    /// connections too, though the password then crosses the network in clear (over
    /// TLS they are always accepted).
    pub plain_without_tls: bool,
    /// Most users.
    pub max_users: usize,
    /// Most HTTP tokens, all users together.
    pub max_tokens: usize,
    /// Principals (`User:NAME`) allowed everything whatever the ACLs say.
    pub super_users: Vec<String>,
    /// Most ACLs.
    pub max_acls: usize,
    /// With no users, serve anyone without credentials, not just loopback peers.
    pub allow_anonymous: bool,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            scram_iterations: super::scram::MIN_ITERATIONS,
            failure_delay: Duration::from_millis(100),
            max_unauthenticated_frame_bytes: 524_288,
            plain_without_tls: false,
            max_users: 10_000,
            max_tokens: 10_000,
            super_users: Vec::new(),
            max_acls: 10_000,
            allow_anonymous: false,
        }
    }
}
