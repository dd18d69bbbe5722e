//! SASL on a connection, mechanism by mechanism: which are offered to a peer, and one
//! exchange's states ([`SaslExchange`]) from the mechanism's choice to a principal.
//! Protocol-free: the Kafka face carries the tokens (SaslHandshake/SaslAuthenticate).

use std::net::IpAddr;

use super::authenticator::Authenticator;
use super::error::AuthError;
use super::principal::Principal;
use super::scram::{Mechanism, ScramCredential};
use super::scram_exchange::{ClientFirst, ServerFirstSent};
use super::transport::Transport;

/// A SASL mechanism weir offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    /// PLAIN (RFC 4616): the password in clear, checked against the SCRAM credential.
    Plain,
    /// SCRAM-SHA-256 or SCRAM-SHA-512.
    Scram(Mechanism),
}

impl SaslMechanism {
    /// The SASL name.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::Scram(m) => m.name(),
        }
    }
}

/// Where one exchange stands. Finishing consumes it: a connection authenticates once.
#[derive(Debug)]
pub enum SaslExchange {
    /// The mechanism is chosen; the client's first token is next.
    Started(SaslMechanism),
    /// SCRAM: the server-first went out; the client's proof is next.
    AwaitingProof(Box<ServerFirstSent>),
}

/// What one client token led to.
#[derive(Debug)]
pub enum SaslStep {
    /// Send this challenge; the exchange goes on.
    Challenge(SaslExchange, Vec<u8>),
    /// Authenticated as this principal; send these final bytes (may be empty).
    Done(Principal, Vec<u8>),
}

/// PLAIN's `[authzid] NUL authcid NUL passwd`; an authzid other than the user is refused.
fn parse_plain(token: &[u8]) -> Result<(String, String), AuthError> {
    let bad = |reason| AuthError::Sasl {
        mechanism: "PLAIN",
        reason,
    };
    let text = std::str::from_utf8(token).map_err(|_| bad("message is not UTF-8"))?;
    let mut parts = text.split('\0');
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("expected authzid NUL user NUL password"));
    };
    if !authzid.is_empty() && authzid != user {
        return Err(bad(
            "an authorization id other than the user is not supported",
        ));
    }
    Ok((user.to_string(), password.to_string()))
}

impl Authenticator {
    /// The mechanisms offered to `peer`: SCRAM always, PLAIN only over TLS, on
    /// loopback, or when `auth.plain_without_tls` is set.
    pub fn mechanisms(&self, peer: IpAddr, transport: Transport) -> Vec<SaslMechanism> {
        let mut all: Vec<SaslMechanism> = Mechanism::ALL
            .into_iter()
            .map(SaslMechanism::Scram)
            .collect();
        if self.cleartext_allowed(peer, transport) {
            all.push(SaslMechanism::Plain);
        }
        all
    }

    /// Starts an exchange with the mechanism a client named.
    pub fn sasl_start(
        &self,
        name: &str,
        peer: IpAddr,
        transport: Transport,
    ) -> Result<SaslExchange, AuthError> {
        let offered = self.mechanisms(peer, transport);
        match offered.iter().find(|m| m.name() == name) {
            Some(m) => Ok(SaslExchange::Started(*m)),
            None => Err(AuthError::UnsupportedMechanism {
                mechanism: name.chars().take(64).collect(),
                enabled: offered
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Takes one client token. Blocking: PLAIN runs PBKDF2 and both read sled.
    pub fn sasl_step(
        &self,
        exchange: SaslExchange,
        token: &[u8],
        peer: IpAddr,
        transport: Transport,
    ) -> Result<SaslStep, AuthError> {
        match exchange {
            SaslExchange::Started(SaslMechanism::Plain) => {
                let (user, password) = parse_plain(token)?;
                let principal = self.password(&user, &password, peer, transport)?;
                Ok(SaslStep::Done(principal, Vec::new()))
            }
            SaslExchange::Started(SaslMechanism::Scram(mechanism)) => {
                let first = ClientFirst::parse(mechanism, token)?;
                let (credential, known) = match self.users().get(&first.user)? {
                    Some(user) => match user.credential(mechanism) {
                        Some(c) => (c.clone(), true),
                        None => (self.made_up_credential(mechanism, &first.user), false),
                    },
                    None => (self.made_up_credential(mechanism, &first.user), false),
                };
                // Letters and digits only, as Kafka's own nonces: librdkafka 2.0 mangles a
                // nonce with base64's '+' or '/' in it.
                let nonce: String = rand::random::<[u8; 24]>()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                let (state, server_first) =
                    ServerFirstSent::answer(first, credential, known, &nonce);
                Ok(SaslStep::Challenge(
                    SaslExchange::AwaitingProof(Box::new(state)),
                    server_first,
                ))
            }
            SaslExchange::AwaitingProof(state) => {
                let (user, server_final) = state.finish(token)?;
                Ok(SaslStep::Done(Principal::User(user), server_final))
            }
        }
    }

    /// A credential for a user that does not exist: the same salt for the same name
    /// every time (derived from a per-process secret), and a key no password matches.
    fn made_up_credential(&self, mechanism: Mechanism, user: &str) -> ScramCredential {
        let salt = mechanism.hmac(self.secret(), user.as_bytes());
        ScramCredential {
            mechanism,
            salt: salt[..32].to_vec(),
            iterations: self.settings().scram_iterations,
            stored_key: rand::random::<[u8; 32]>().to_vec(),
            server_key: rand::random::<[u8; 32]>().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_messages() {
        assert_eq!(
            parse_plain(b"\0alice\0pw").unwrap(),
            ("alice".into(), "pw".into())
        );
        assert_eq!(
            parse_plain(b"alice\0alice\0pw").unwrap(),
            ("alice".into(), "pw".into())
        );
        assert!(parse_plain(b"bob\0alice\0pw").is_err());
        assert!(parse_plain(b"alice\0pw").is_err());
        assert!(parse_plain(b"\0a\0b\0c").is_err());
    }
}
