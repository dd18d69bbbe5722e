//! [`TokenStore`]: the HTTP API's bearer tokens, stored as SHA-256 hashes (tree
//! `auth-tokens`): a stolen copy of the metadata holds no usable token.
//!
//! A token is `weir_` and 32 random bytes in URL-safe base64: 256 bits, so an unsalted
//! fast hash suffices (nothing to guess). Its id, the first 8 bytes of the hash in hex,
//! names it for listing and revoking without being a credential.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::broker::{Broker, MetaTree, now_ms};

use super::error::AuthError;

const PREFIX: &str = "weir_";

/// A token as stored: whose it is, never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Names the token (listing, revoking).
    pub id: String,
    /// The user it authenticates as.
    pub user: String,
    /// When it was created, ms since the epoch.
    pub created_ms: i64,
}

/// The tokens, in sled.
#[derive(Debug, Clone)]
pub struct TokenStore {
    tree: MetaTree,
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn id_of(hash: &[u8; 32]) -> String {
    hash[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn decode(bytes: &[u8]) -> Result<TokenRecord, AuthError> {
    rmp_serde::from_slice(bytes).map_err(|e| {
        AuthError::Broker(crate::broker::BrokerError::Corrupt {
            what: "token".into(),
            reason: e.to_string(),
        })
    })
}

impl TokenStore {
    /// The store in `broker`'s metadata.
    pub fn open(broker: &Broker) -> Result<TokenStore, AuthError> {
        Ok(TokenStore {
            tree: broker.meta_tree("auth-tokens")?,
        })
    }

    /// Creates a token for `user`, durably; returns it (shown once) and its record.
    pub fn create(&self, user: &str, max: usize) -> Result<(String, TokenRecord), AuthError> {
        if self.tree.len() >= max {
            return Err(AuthError::LimitReached {
                what: "token",
                key: "max_tokens",
                max,
            });
        }
        let secret: [u8; 32] = rand::random();
        let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
        let hash = hash(&token);
        let record = TokenRecord {
            id: id_of(&hash),
            user: user.to_string(),
            created_ms: now_ms(),
        };
        let bytes = rmp_serde::to_vec_named(&record).map_err(|e| {
            AuthError::Broker(crate::broker::BrokerError::Corrupt {
                what: "token".into(),
                reason: e.to_string(),
            })
        })?;
        self.tree.insert(&hash, bytes)?;
        Ok((token, record))
    }

    /// The record of `token`, if it is one.
    pub fn find(&self, token: &str) -> Result<Option<TokenRecord>, AuthError> {
        if !token.starts_with(PREFIX) {
            return Ok(None);
        }
        // A lookup by hash: the comparison is sled's key search over hashes, which
        // leaks nothing about the token itself.
        self.tree.get(&hash(token))?.map(|v| decode(&v)).transpose()
    }

    /// Every token's record (and its key), oldest first.
    fn entries(&self) -> Result<Vec<(Vec<u8>, TokenRecord)>, AuthError> {
        let mut all = self
            .tree
            .entries()?
            .into_iter()
            .map(|(k, v)| Ok((k, decode(&v)?)))
            .collect::<Result<Vec<_>, AuthError>>()?;
        all.sort_by_key(|(_, r)| r.created_ms);
        Ok(all)
    }

    /// Every token's record, oldest first.
    pub fn list(&self) -> Result<Vec<TokenRecord>, AuthError> {
        Ok(self.entries()?.into_iter().map(|(_, r)| r).collect())
    }

    /// Revokes the token `id`, durably.
    pub fn revoke(&self, id: &str) -> Result<(), AuthError> {
        let keys: Vec<Vec<u8>> = self
            .entries()?
            .into_iter()
            .filter(|(_, r)| r.id == id)
            .map(|(k, _)| k)
            .collect();
        if keys.is_empty() || self.tree.remove_all(&keys)? == 0 {
            return Err(AuthError::UnknownToken { id: id.to_string() });
        }
        Ok(())
    }

    /// Revokes every token of `user` (the user was deleted); returns how many.
    pub fn revoke_user(&self, user: &str) -> Result<usize, AuthError> {
        let keys: Vec<Vec<u8>> = self
            .entries()?
            .into_iter()
            .filter(|(_, r)| r.user == user)
            .map(|(k, _)| k)
            .collect();
        if keys.is_empty() {
            return Ok(0);
        }
        Ok(self.tree.remove_all(&keys)?)
    }
}
