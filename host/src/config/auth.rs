//! `[auth]`: authentication on both listeners.

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use crate::auth::AuthSettings;
use crate::auth::scram::MIN_ITERATIONS;

/// `[auth]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// PBKDF2 iterations of new SCRAM credentials (≥ 4096).
    pub scram_iterations: u32,
    /// Kafka's `connection.failed.authentication.delay.ms`, ms.
    pub failed_authentication_delay_ms: u64,
    /// Kafka's `sasl.server.max.receive.size`: largest frame before SASL, bytes.
    pub max_unauthenticated_frame_bytes: usize,
    /// Accept passwords in clear (SASL PLAIN, HTTP basic) from non-loopback peers.
    pub plain_without_tls: bool,
    /// Most users.
    pub max_users: usize,
    /// Most HTTP tokens.
    pub max_tokens: usize,
    /// Users allowed everything whatever the ACLs say, as `User:NAME`.
    pub super_users: Vec<String>,
    /// Most ACLs.
    pub max_acls: usize,
}

impl AuthSection {
    /// The authenticator's settings (`allow_anonymous` comes from `weir serve`), or
    /// which key is unusable.
    pub(super) fn build(&self) -> Result<AuthSettings, ConfigError> {
        if self.scram_iterations < MIN_ITERATIONS {
            return Err(ConfigError::Invalid(format!(
                "auth.scram_iterations = {} is below RFC 7677's minimum of {MIN_ITERATIONS}",
                self.scram_iterations
            )));
        }
        if self.max_unauthenticated_frame_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "auth.max_unauthenticated_frame_bytes must be ≥ 1024".into(),
            ));
        }
        if self.max_users == 0 {
            return Err(ConfigError::Invalid("auth.max_users must be ≥ 1".into()));
        }
        if self.max_acls == 0 {
            return Err(ConfigError::Invalid("auth.max_acls must be ≥ 1".into()));
        }
        if let Some(bad) = self
            .super_users
            .iter()
            .find(|u| u.strip_prefix("User:").is_none_or(str::is_empty))
        {
            return Err(ConfigError::Invalid(format!(
                "auth.super_users: {bad:?} is not a principal (write User:NAME)"
            )));
        }
        Ok(AuthSettings {
            scram_iterations: self.scram_iterations,
            failure_delay: Duration::from_millis(self.failed_authentication_delay_ms),
            max_unauthenticated_frame_bytes: self.max_unauthenticated_frame_bytes,
            plain_without_tls: self.plain_without_tls,
            max_users: self.max_users,
            max_tokens: self.max_tokens,
            super_users: self.super_users.clone(),
            max_acls: self.max_acls,
            allow_anonymous: false,
        })
    }
}
