//! Authentication: users, their SCRAM credentials, HTTP tokens, and the rule for
//! requests without credentials. Used by both faces (the Kafka listener and the HTTP
//! API), which never decide this themselves, and the ACLs both enforce.
//!
//! - [`authenticator`]: [`Authenticator`], the one place a face asks who a request
//!   acts for and whether it may go without credentials.
//! - [`acl_binding`]: [`AclBinding`] and [`AclFilter`], ACLs in Kafka's model.
//! - [`acl_authorizer`]: [`Authorizer`], whether a principal may do an operation on
//!   a resource (DENY wins, implied DESCRIBE, super users).
//! - [`acl_store`]: [`AclStore`], ACLs durable in the broker's metadata store.
//! - [`acl_index`]: [`acl_index::AclIndex`], the ACLs in memory, indexed by resource.
//! - [`principal`]: [`Principal`], `User:alice` or `User:ANONYMOUS`.
//! - [`sasl`]: the SASL mechanisms offered and one exchange's states.
//! - [`scram`]: SCRAM credentials (RFC 5802/7677), stored instead of passwords.
//! - [`scram_exchange`]: the server side of one SCRAM exchange.
//! - [`users`]: [`UserStore`], users durable in the broker's metadata store.
//! - [`tokens`]: [`TokenStore`], the HTTP API's bearer tokens, stored hashed.
//! - [`transport`]: [`Transport`], plaintext or TLS (passwords in clear need TLS).
//! - [`settings`]: [`AuthSettings`], from `[auth]` in weir.toml and `--allow-anonymous`.
//! - [`error`]: [`AuthError`], the layer's one error type.
pub mod acl_authorizer;
pub mod acl_binding;
pub mod acl_index;
pub mod acl_store;
pub mod authenticator;
pub mod error;
pub mod principal;
pub mod sasl;
pub mod scram;
pub mod scram_exchange;
pub mod settings;
pub mod tokens;
pub mod transport;
pub mod users;

pub use acl_authorizer::Authorizer;
pub use acl_binding::{
    AclBinding, AclFilter, Operation, PatternType, Permission, Resource, ResourceType,
};
pub use acl_store::AclStore;
pub use authenticator::Authenticator;
pub use error::AuthError;
pub use principal::Principal;
pub use settings::AuthSettings;
pub use tokens::{TokenRecord, TokenStore};
pub use transport::{CertifiedPrincipal, Transport};
pub use users::{UserRecord, UserStore};
