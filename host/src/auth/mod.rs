//! Authentication: users, their SCRAM credentials, HTTP tokens, and the rule for
//! requests without credentials. Used by both faces (the Kafka listener and the HTTP
//! API), which never decide this themselves; ACL checks will live here too.
//!
//! - [`authenticator`]: [`Authenticator`], the one place a face asks who a request
//!   acts for and whether it may go without credentials.
//! - [`principal`]: [`Principal`], `User:alice` or `User:ANONYMOUS`.
//! - [`sasl`]: the SASL mechanisms offered and one exchange's states.
//! - [`scram`]: SCRAM credentials (RFC 5802/7677), stored instead of passwords.
//! - [`scram_exchange`]: the server side of one SCRAM exchange.
//! - [`users`]: [`UserStore`], users durable in the broker's metadata store.
//! - [`tokens`]: [`TokenStore`], the HTTP API's bearer tokens, stored hashed.
//! - [`transport`]: [`Transport`], plaintext or TLS (passwords in clear need TLS).
//! - [`settings`]: [`AuthSettings`], from `[auth]` in weir.toml and `--allow-anonymous`.
//! - [`error`]: [`AuthError`], the layer's one error type.
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

pub use authenticator::Authenticator;
pub use error::AuthError;
pub use principal::Principal;
pub use settings::AuthSettings;
pub use tokens::{TokenRecord, TokenStore};
pub use transport::{CertifiedPrincipal, Transport};
pub use users::{UserRecord, UserStore};
