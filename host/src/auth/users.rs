//! [`UserStore`]: users and their SCRAM credentials, durable in the broker's
//! metadata store (tree `auth-users`, MessagePack with named fields).

use serde::{Deserialize, Serialize};

use crate::broker::{Broker, MetaTree, now_ms};

use super::error::AuthError;
use super::scram::{Mechanism, ScramCredential};

/// Longest user name, bytes.
pub const MAX_NAME_BYTES: usize = 255;
/// Longest password, bytes (SCRAM hashes it; no need for more).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// One user as stored: a credential per SCRAM mechanism, never the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The user's name (`User:NAME` as a principal).
    pub name: String,
    /// One credential per mechanism, SCRAM-SHA-256 first.
    pub credentials: Vec<ScramCredential>,
    /// When the user was added, ms since the epoch.
    pub created_ms: i64,
}

impl UserRecord {
    /// The credential for `mechanism`.
    pub fn credential(&self, mechanism: Mechanism) -> Option<&ScramCredential> {
        self.credentials.iter().find(|c| c.mechanism == mechanism)
    }
}

/// The users, in sled.
#[derive(Debug, Clone)]
pub struct UserStore {
    tree: MetaTree,
}

/// Checks a new user's name: not empty, at most 255 bytes, no control characters,
/// no `:` (HTTP basic splits user and password at the first one).
pub fn check_name(name: &str) -> Result<(), AuthError> {
    let bad = |reason| AuthError::InvalidUserName {
        name: name.chars().take(64).collect(),
        reason,
    };
    if name.is_empty() {
        return Err(bad("empty"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(bad("longer than 255 bytes"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("contains a control character"));
    }
    if name.contains(':') {
        return Err(bad(
            "contains ':', which HTTP basic uses to end the user name",
        ));
    }
    Ok(())
}

/// Checks a new password: not empty, at most 1024 bytes.
pub fn check_password(password: &str) -> Result<(), AuthError> {
    if password.is_empty() {
        return Err(AuthError::InvalidPassword { reason: "empty" });
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AuthError::InvalidPassword {
            reason: "longer than 1024 bytes",
        });
    }
    Ok(())
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> AuthError {
    AuthError::Broker(crate::broker::BrokerError::Corrupt {
        what: what.to_string(),
        reason: e.to_string(),
    })
}

impl UserStore {
    /// The store in `broker`'s metadata.
    pub fn open(broker: &Broker) -> Result<UserStore, AuthError> {
        Ok(UserStore {
            tree: broker.meta_tree("auth-users")?,
        })
    }

    /// Whether no user exists (then anonymous access may be allowed).
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// How many users exist.
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// The user `name`.
    pub fn get(&self, name: &str) -> Result<Option<UserRecord>, AuthError> {
        match self.tree.get(name.as_bytes())? {
            None => Ok(None),
            Some(bytes) => rmp_serde::from_slice(&bytes)
                .map(Some)
                .map_err(|e| corrupt(&format!("user {name:?}"), e)),
        }
    }

    /// Adds a user, durably; refuses one that exists.
    pub fn add(
        &self,
        name: &str,
        password: &str,
        iterations: u32,
    ) -> Result<UserRecord, AuthError> {
        check_name(name)?;
        check_password(password)?;
        let record = UserRecord {
            name: name.to_string(),
            credentials: Mechanism::ALL
                .into_iter()
                .map(|m| ScramCredential::new(m, password, iterations))
                .collect(),
            created_ms: now_ms(),
        };
        let bytes = rmp_serde::to_vec_named(&record).map_err(|e| corrupt("user", e))?;
        if !self.tree.insert_new(name.as_bytes(), bytes)? {
            return Err(AuthError::UserExists {
                name: name.to_string(),
            });
        }
        Ok(record)
    }

    /// Removes a user, durably.
    pub fn delete(&self, name: &str) -> Result<(), AuthError> {
        if self.tree.remove_all(&[name.as_bytes().to_vec()])? == 0 {
            return Err(AuthError::UnknownUser {
                name: name.to_string(),
            });
        }
        Ok(())
    }

    /// Every user, by name.
    pub fn list(&self) -> Result<Vec<UserRecord>, AuthError> {
        self.tree
            .entries()?
            .into_iter()
            .map(|(k, v)| {
                rmp_serde::from_slice(&v)
                    .map_err(|e| corrupt(&format!("user {:?}", String::from_utf8_lossy(&k)), e))
            })
            .collect()
    }
}
