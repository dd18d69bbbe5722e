//! [`Session`]: where one connection stands with authentication, and the principal
//! its requests act for.
//!
//! A connection starts [`Session::Open`]: its requests go through as `User:ANONYMOUS`
//! only while the auth rule admits that (asked per request, so adding the first user
//! closes it at once). SaslHandshake moves it to [`Session::Exchanging`]; the last
//! SaslAuthenticate to [`Session::Authenticated`], for good (no re-authentication).
//! A connection whose TLS client certificate was verified starts
//! [`Session::Certified`]: served as the certificate's principal, and it may still run
//! SASL, whose principal then wins (as on Kafka's SASL_SSL listener, where the
//! certificate only vouches for the transport).

use std::net::IpAddr;

use crate::auth::sasl::SaslExchange;
use crate::auth::{AuthError, Authenticator, Principal};

/// A connection's authentication state.
#[derive(Debug)]
pub enum Session {
    /// No SASL yet.
    Open,
    /// No SASL yet, but a verified TLS client certificate named this principal.
    Certified(Principal),
    /// A SASL exchange is under way. `raw`: the handshake was v0, so the tokens come
    /// as bare size-prefixed frames, not SaslAuthenticate requests (Kafka before 1.0).
    Exchanging { exchange: SaslExchange, raw: bool },
    /// SASL succeeded.
    Authenticated(Principal),
    /// Only between a step's start and its outcome (the exchange is moved out).
    Busy,
}

impl Session {
    /// The principal a request other than ApiVersions and SASL acts for, or why it
    /// may not be served.
    pub fn principal(&self, auth: &Authenticator, peer: IpAddr) -> Result<Principal, AuthError> {
        match self {
            Session::Authenticated(p) | Session::Certified(p) => Ok(p.clone()),
            Session::Open => auth.anonymous(peer),
            Session::Exchanging { exchange, .. } => Err(AuthError::Sasl {
                mechanism: match exchange {
                    SaslExchange::Started(m) => m.name(),
                    SaslExchange::AwaitingProof(_) => "SCRAM",
                },
                reason: "a request other than SaslAuthenticate in the middle of the exchange",
            }),
            Session::Busy => Err(AuthError::Unauthenticated {
                reason: "authentication in progress",
            }),
        }
    }

    /// Whether the connection may send frames as large as authenticated ones.
    pub fn trusted(&self, auth: &Authenticator, peer: IpAddr) -> bool {
        match self {
            Session::Authenticated(_) | Session::Certified(_) => true,
            Session::Open => auth.anonymous(peer).is_ok(),
            Session::Exchanging { .. } | Session::Busy => false,
        }
    }

    /// Whether the next frame is a bare SASL token (after a v0 handshake).
    pub fn expects_raw_token(&self) -> bool {
        matches!(self, Session::Exchanging { raw: true, .. })
    }
}
