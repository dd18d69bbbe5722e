//! SCRAM credentials (RFC 5802, RFC 7677): what is stored for a user instead of the
//! password, and the primitives of the exchange.
//!
//! A credential is `salt`, `iterations`, `StoredKey = H(HMAC(SaltedPassword, "Client
//! Key"))` and `ServerKey = HMAC(SaltedPassword, "Server Key")`, with `SaltedPassword
//! = Hi(password, salt, iterations)` (PBKDF2). The server can check a proof and prove
//! itself with these, but cannot recover the password, as in Kafka.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// RFC 7677's minimum iteration count, and Kafka's.
pub const MIN_ITERATIONS: u32 = 4096;

/// A SCRAM mechanism weir speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Mechanism {
    /// SCRAM-SHA-256.
    ScramSha256,
    /// SCRAM-SHA-512.
    ScramSha512,
}

impl Mechanism {
    /// Both, in the order they are offered.
    pub const ALL: [Mechanism; 2] = [Mechanism::ScramSha256, Mechanism::ScramSha512];

    /// The SASL name.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism with SASL name `name`.
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.name() == name)
    }

    /// `H(data)`.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::ScramSha256 => Sha256::digest(data).to_vec(),
            Mechanism::ScramSha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// `HMAC(key, data)`.
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length: new_from_slice cannot fail.
        match self {
            Mechanism::ScramSha256 => {
                let mut mac = <Hmac<Sha256>>::new_from_slice(key).expect("any key length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            Mechanism::ScramSha512 => {
                let mut mac = <Hmac<Sha512>>::new_from_slice(key).expect("any key length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    /// `Hi(password, salt, iterations)`: PBKDF2 with this HMAC, one hash long.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Mechanism::ScramSha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            Mechanism::ScramSha512 => {
                let mut out = vec![0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }
}

/// What is stored for one user and one mechanism: never the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    /// The mechanism these keys are for.
    pub mechanism: Mechanism,
    /// Random salt.
    pub salt: Vec<u8>,
    /// PBKDF2 iterations (≥ [`MIN_ITERATIONS`]).
    pub iterations: u32,
    /// `H(ClientKey)`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
}

impl ScramCredential {
    /// The credential for `password` with `salt` and `iterations`.
    pub fn derive(
        mechanism: Mechanism,
        password: &str,
        salt: Vec<u8>,
        iterations: u32,
    ) -> ScramCredential {
        let salted = mechanism.salted_password(password.as_bytes(), &salt, iterations);
        let client_key = mechanism.hmac(&salted, b"Client Key");
        ScramCredential {
            mechanism,
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(&salted, b"Server Key"),
            salt,
            iterations,
        }
    }

    /// A new credential for `password` with a fresh random 32-byte salt.
    pub fn new(mechanism: Mechanism, password: &str, iterations: u32) -> ScramCredential {
        let salt: [u8; 32] = rand::random();
        ScramCredential::derive(mechanism, password, salt.to_vec(), iterations)
    }

    /// Whether `password` is this credential's (PLAIN and HTTP basic): derives it
    /// again with the stored salt and compares in constant time.
    pub fn matches_password(&self, password: &str) -> bool {
        let again =
            ScramCredential::derive(self.mechanism, password, self.salt.clone(), self.iterations);
        again.stored_key.ct_eq(&self.stored_key).into()
    }

    /// Whether a client's proof for `auth_message` is right: `ClientKey = proof XOR
    /// HMAC(StoredKey, AuthMessage)` must hash to `StoredKey`.
    pub fn verify_proof(&self, auth_message: &[u8], proof: &[u8]) -> bool {
        let signature = self.mechanism.hmac(&self.stored_key, auth_message);
        if proof.len() != signature.len() {
            return false;
        }
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
        self.mechanism
            .hash(&client_key)
            .ct_eq(&self.stored_key)
            .into()
    }

    /// `ServerSignature = HMAC(ServerKey, AuthMessage)`, proving the server knows the
    /// credential.
    pub fn server_signature(&self, auth_message: &[u8]) -> Vec<u8> {
        self.mechanism.hmac(&self.server_key, auth_message)
    }
}
