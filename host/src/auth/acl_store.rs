//! [`AclStore`]: the ACLs, durable in the broker's metadata store (tree `auth-acls`,
//! MessagePack with named fields, keyed by every field so an ACL is stored once),
//! and an [`AclIndex`] in memory that every request's check reads without touching
//! sled.

use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::broker::{Broker, BrokerError, MetaTree};

use super::acl_binding::{AclBinding, AclFilter};
use super::acl_index::AclIndex;
use super::error::AuthError;

/// The ACLs, in sled and in memory.
#[derive(Debug)]
pub struct AclStore {
    tree: MetaTree,
    /// Every binding, indexed, replaced whole after each change (readers hold an `Arc`).
    cache: RwLock<Arc<AclIndex>>,
    /// Serialises changes so the cache is rebuilt from what was written last.
    writing: Mutex<()>,
    /// Most bindings (`auth.max_acls`).
    max: usize,
}

fn corrupt(e: impl std::fmt::Display) -> AuthError {
    AuthError::Broker(BrokerError::Corrupt {
        what: "ACL".to_string(),
        reason: e.to_string(),
    })
}

impl AclStore {
    /// The store in `broker`'s metadata, holding at most `max` bindings.
    pub fn open(broker: &Broker, max: usize) -> Result<AclStore, AuthError> {
        let tree = broker.meta_tree("auth-acls")?;
        let all = Self::read(&tree)?;
        Ok(AclStore {
            tree,
            cache: RwLock::new(Arc::new(AclIndex::new(all))),
            writing: Mutex::new(()),
            max,
        })
    }

    fn read(tree: &MetaTree) -> Result<Vec<AclBinding>, AuthError> {
        tree.entries()?
            .into_iter()
            .map(|(_, v)| rmp_serde::from_slice(&v).map_err(corrupt))
            .collect()
    }

    /// Every binding, indexed (a snapshot).
    pub fn index(&self) -> Arc<AclIndex> {
        self.cache.read().clone()
    }

    /// Whether no ACL exists.
    pub fn is_empty(&self) -> bool {
        self.cache.read().all().is_empty()
    }

    /// Stores `bindings`, durably, each after validation; one already stored is
    /// not stored twice. Refuses the lot if any is invalid or the cap would be passed.
    pub fn add(&self, bindings: &[AclBinding]) -> Result<(), AuthError> {
        for b in bindings {
            b.validate()?;
        }
        let _guard = self.writing.lock();
        let current = self.index();
        let new = bindings
            .iter()
            .filter(|b| !current.all().contains(b))
            .count();
        if current.all().len() + new > self.max {
            return Err(AuthError::LimitReached {
                what: "ACL",
                key: "max_acls",
                max: self.max,
            });
        }
        for b in bindings {
            let bytes = rmp_serde::to_vec_named(b).map_err(corrupt)?;
            self.tree.insert(&b.key(), bytes)?;
        }
        *self.cache.write() = Arc::new(AclIndex::new(Self::read(&self.tree)?));
        Ok(())
    }

    /// Removes every binding `filter` selects, durably; returns them.
    pub fn remove(&self, filter: &AclFilter) -> Result<Vec<AclBinding>, AuthError> {
        let _guard = self.writing.lock();
        let gone: Vec<AclBinding> = self
            .index()
            .all()
            .iter()
            .filter(|b| filter.matches(b))
            .cloned()
            .collect();
        if !gone.is_empty() {
            let keys: Vec<Vec<u8>> = gone.iter().map(AclBinding::key).collect();
            self.tree.remove_all(&keys)?;
            *self.cache.write() = Arc::new(AclIndex::new(Self::read(&self.tree)?));
        }
        Ok(gone)
    }

    /// The bindings `filter` selects.
    pub fn list(&self, filter: &AclFilter) -> Vec<AclBinding> {
        self.index()
            .all()
            .iter()
            .filter(|b| filter.matches(b))
            .cloned()
            .collect()
    }
}
