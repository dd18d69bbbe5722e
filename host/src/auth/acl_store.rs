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

    /// Stores `bindings`, durably, in one batch; one already stored is not stored
    /// twice. Refuses the lot if any is invalid or the cap would be passed.
    pub fn add(&self, bindings: &[AclBinding]) -> Result<(), AuthError> {
        let _guard = self.writing.lock();
        let (outcomes, fresh) = self.plan(bindings);
        outcomes.into_iter().collect::<Result<(), AuthError>>()?;
        self.write(&fresh)
    }

    /// Kafka's CreateAcls: each binding gets its own outcome (invalid, or past
    /// `auth.max_acls`), and those accepted are written in one atomic batch, as
    /// Kafka's controller commits a request's ACL records together; so no reader
    /// and no restart sees part of a request. The outer error is the write's: then
    /// nothing of the request is stored.
    pub fn create_each(
        &self,
        bindings: &[AclBinding],
    ) -> Result<Vec<Result<(), AuthError>>, AuthError> {
        let _guard = self.writing.lock();
        let (outcomes, fresh) = self.plan(bindings);
        self.write(&fresh)?;
        Ok(outcomes)
    }

    /// Each binding's outcome, and the accepted ones not stored yet (a duplicate
    /// in the request or of a stored binding is accepted and not stored again).
    /// Called under `writing`.
    fn plan<'a>(
        &self,
        bindings: &'a [AclBinding],
    ) -> (Vec<Result<(), AuthError>>, Vec<&'a AclBinding>) {
        let current = self.index();
        let mut count = current.all().len();
        let mut fresh: Vec<&AclBinding> = Vec::new();
        let outcomes = bindings
            .iter()
            .map(|b| {
                b.validate()?;
                if current.all().contains(b) || fresh.contains(&b) {
                    return Ok(());
                }
                if count >= self.max {
                    return Err(AuthError::LimitReached {
                        what: "ACL",
                        key: "max_acls",
                        max: self.max,
                    });
                }
                count += 1;
                fresh.push(b);
                Ok(())
            })
            .collect();
        (outcomes, fresh)
    }

    /// Writes `fresh` in one atomic batch and refreshes the index. Called under
    /// `writing`.
    fn write(&self, fresh: &[&AclBinding]) -> Result<(), AuthError> {
        if fresh.is_empty() {
            return Ok(());
        }
        let entries = fresh
            .iter()
            .map(|b| Ok((b.key(), rmp_serde::to_vec_named(b).map_err(corrupt)?)))
            .collect::<Result<Vec<_>, AuthError>>()?;
        let written = self.tree.insert_all(entries);
        // The checks follow what sled holds, even when the flush after an applied
        // batch failed (the batch is then in force but may not survive a crash).
        *self.cache.write() = Arc::new(AclIndex::new(Self::read(&self.tree)?));
        Ok(written?)
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
