//! The one error type of the auth layer.

use crate::broker::BrokerError;

/// Why an authentication or a user/token change is refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credentials where they are needed.
    #[error("authentication required: {reason}")]
    Unauthenticated { reason: &'static str },
    /// Credentials that do not match a user (which part is not said, on purpose).
    #[error("authentication failed: invalid credentials")]
    BadCredentials,
    /// A SASL message out of order or not in its mechanism's grammar.
    #[error("SASL {mechanism}: {reason}")]
    Sasl {
        mechanism: &'static str,
        reason: &'static str,
    },
    /// A mechanism this listener does not offer (to this peer).
    #[error("SASL mechanism {mechanism:?} is not enabled (enabled: {enabled})")]
    UnsupportedMechanism { mechanism: String, enabled: String },
    /// An action that only a user added from loopback may take while none exist.
    #[error("{reason}")]
    Forbidden { reason: &'static str },
    /// A user name outside the rules.
    #[error("invalid user name {name:?}: {reason}")]
    InvalidUserName { name: String, reason: &'static str },
    /// A password outside the rules.
    #[error("invalid password: {reason}")]
    InvalidPassword { reason: &'static str },
    /// The user exists already.
    #[error("user {name:?} exists already")]
    UserExists { name: String },
    /// No such user.
    #[error("no user {name:?}")]
    UnknownUser { name: String },
    /// No such token.
    #[error("no token {id:?}")]
    UnknownToken { id: String },
    /// A configured cap (`[auth]` in weir.toml) is reached.
    #[error("{what} limit reached: at most {max} (auth.{key} in weir.toml)")]
    LimitReached {
        what: &'static str,
        key: &'static str,
        max: usize,
    },
    /// Binding a non-loopback address while nobody could authenticate.
    #[error(
        "refusing to start: {listener} binds {addr}, which is reachable from other machines, \
         and no users exist, so anyone could use it without credentials. Bind a loopback \
         address and add a user first (`weir user add NAME`), or pass --allow-anonymous to \
         serve without authentication on purpose"
    )]
    AnonymousOnNetwork {
        listener: &'static str,
        addr: std::net::SocketAddr,
    },
    /// An ACL or ACL filter outside the rules.
    #[error("invalid ACL: {reason}")]
    InvalidAcl { reason: String },
    /// The principal is authenticated but no ACL allows the operation (or one denies it).
    #[error("{principal} may not {operation} {resource_type} {resource:?} (no ACL allows it)")]
    Denied {
        principal: String,
        operation: super::acl_binding::Operation,
        resource_type: super::acl_binding::ResourceType,
        resource: String,
    },
    /// A stored record that does not decode, or the store failed.
    #[error(transparent)]
    Broker(#[from] BrokerError),
}
