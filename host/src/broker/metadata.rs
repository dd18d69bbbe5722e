//! Durable broker metadata in sled: topics and committed consumer offsets.
//!
//! Every change is flushed before the call returns, so an acknowledged topic
//! creation or offset commit survives a crash. Values are MessagePack with named
//! fields, so later versions can add fields.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sled::Transactional;

use super::error::BrokerError;
use super::synced_db::SyncedDb;

/// A topic as stored: its partition count and the config entries the user set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicRecord {
    /// Topic name.
    pub name: String,
    /// Number of partitions.
    pub partitions: u32,
    /// Config overrides by Kafka name (defaults are not stored).
    pub config: BTreeMap<String, String>,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
}

/// A committed consumer offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffset {
    /// The next offset the group will read.
    pub offset: i64,
    /// Free-form client metadata.
    pub metadata: Option<String>,
    /// When it was committed, ms since the epoch.
    pub commit_ms: i64,
}

/// The sled database holding broker metadata.
#[derive(Debug, Clone)]
pub struct MetaStore {
    db: SyncedDb,
    topics: sled::Tree,
    offsets: sled::Tree,
    /// Transactional id → its coordinator state (`txn::TxnRecord`).
    transactions: sled::Tree,
}

/// Key of the idempotent producer id counter in the default tree.
const PRODUCER_ID_KEY: &[u8] = b"producer-id-counter";

fn encode<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>, BrokerError> {
    rmp_serde::to_vec_named(value).map_err(|e| BrokerError::Corrupt {
        what: what.to_string(),
        reason: e.to_string(),
    })
}

fn decode<T: for<'a> Deserialize<'a>>(bytes: &[u8], what: &str) -> Result<T, BrokerError> {
    rmp_serde::from_slice(bytes).map_err(|e| BrokerError::Corrupt {
        what: what.to_string(),
        reason: e.to_string(),
    })
}

/// Key of one committed offset: length-prefixed group and topic, then the partition,
/// so that a group's offsets form one contiguous prefix.
fn offset_key(group: &str, topic: &str, partition: u32) -> Vec<u8> {
    let mut key = group_prefix(group);
    key.extend_from_slice(&(topic.len() as u32).to_be_bytes());
    key.extend_from_slice(topic.as_bytes());
    key.extend_from_slice(&partition.to_be_bytes());
    key
}

fn group_prefix(group: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(4 + group.len());
    key.extend_from_slice(&(group.len() as u32).to_be_bytes());
    key.extend_from_slice(group.as_bytes());
    key
}

fn split_offset_key(key: &[u8]) -> Option<(String, String, u32)> {
    let take = |pos: &mut usize, n: usize| -> Option<&[u8]> {
        let s = key.get(*pos..*pos + n)?;
        *pos += n;
        Some(s)
    };
    let mut pos = 0;
    let glen = u32::from_be_bytes(take(&mut pos, 4)?.try_into().ok()?) as usize;
    let group = String::from_utf8(take(&mut pos, glen)?.to_vec()).ok()?;
    let tlen = u32::from_be_bytes(take(&mut pos, 4)?.try_into().ok()?) as usize;
    let topic = String::from_utf8(take(&mut pos, tlen)?.to_vec()).ok()?;
    let partition = u32::from_be_bytes(take(&mut pos, 4)?.try_into().ok()?);
    Some((group, topic, partition))
}

impl MetaStore {
    /// Opens (or creates) the store at `path`, its flushes fsynced.
    pub fn open(path: &Path) -> Result<MetaStore, BrokerError> {
        MetaStore::open_with(path, true)
    }

    /// Opens (or creates) the store at `path`; `fsync`: whether flushes fsync (the
    /// `every-batch` flush policy) or stay sled's own (see [`SyncedDb`]).
    pub fn open_with(path: &Path, fsync: bool) -> Result<MetaStore, BrokerError> {
        let db = SyncedDb::open(sled::Config::new(), path, fsync)?;
        Ok(MetaStore {
            topics: db.open_tree("topics")?,
            offsets: db.open_tree("offsets")?,
            transactions: db.open_tree("transactions")?,
            db,
        })
    }

    /// All stored topics.
    pub fn topics(&self) -> Result<Vec<TopicRecord>, BrokerError> {
        self.topics
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                decode(&v, &format!("topic {}", String::from_utf8_lossy(&k)))
            })
            .collect()
    }

    /// Creates or replaces a topic record, durably.
    pub fn put_topic(&self, topic: &TopicRecord) -> Result<(), BrokerError> {
        self.topics
            .insert(topic.name.as_bytes(), encode(topic, &topic.name)?)?;
        self.db.flush()?;
        Ok(())
    }

    /// Removes a topic and every offset committed for it, atomically and durably.
    pub fn delete_topic(&self, name: &str) -> Result<(), BrokerError> {
        let mut doomed = Vec::new();
        for kv in self.offsets.iter() {
            let (k, _) = kv?;
            if split_offset_key(&k).is_some_and(|(_, t, _)| t == name) {
                doomed.push(k);
            }
        }
        (&self.topics, &self.offsets)
            .transaction(|(topics, offsets)| {
                topics.remove(name.as_bytes())?;
                for k in &doomed {
                    offsets.remove(k.clone())?;
                }
                Ok(())
            })
            .map_err(|e: sled::transaction::TransactionError<()>| match e {
                sled::transaction::TransactionError::Storage(e) => BrokerError::Store(e),
                sled::transaction::TransactionError::Abort(()) => {
                    BrokerError::Store(sled::Error::Unsupported("transaction aborted".into()))
                }
            })?;
        self.db.flush()?;
        Ok(())
    }

    /// Commits offsets for a group atomically and durably. Answers how far they moved
    /// forward in all: the sum, over the partitions the group had committed before, of
    /// new − old where that is positive (a first commit moves nothing: where the group
    /// began reading is not known).
    pub fn commit(
        &self,
        group: &str,
        offsets: &[(String, u32, CommittedOffset)],
    ) -> Result<u64, BrokerError> {
        let mut batch = sled::Batch::default();
        let mut forward = 0u64;
        for (topic, partition, committed) in offsets {
            let key = offset_key(group, topic, *partition);
            if let Some(old) = self.offsets.get(&key)? {
                let old: CommittedOffset = decode(&old, "committed offset")?;
                forward += u64::try_from(committed.offset - old.offset).unwrap_or(0);
            }
            batch.insert(key, encode(committed, "committed offset")?);
        }
        self.offsets.apply_batch(batch)?;
        self.db.flush()?;
        Ok(forward)
    }

    /// A group's committed offsets, sorted by topic and partition.
    pub fn group_offsets(
        &self,
        group: &str,
    ) -> Result<Vec<(String, u32, CommittedOffset)>, BrokerError> {
        let mut out = Vec::new();
        for kv in self.offsets.scan_prefix(group_prefix(group)) {
            let (k, v) = kv?;
            if let Some((g, topic, partition)) = split_offset_key(&k)
                && g == group
            {
                out.push((topic, partition, decode(&v, "committed offset")?));
            }
        }
        Ok(out)
    }

    /// Removes a group's committed offsets — all of them, or only those of
    /// `partitions` — in one batch, durably. Returns how many were removed.
    pub fn delete_offsets(
        &self,
        group: &str,
        partitions: Option<&[(String, u32)]>,
    ) -> Result<usize, BrokerError> {
        let mut batch = sled::Batch::default();
        let mut removed = 0;
        for kv in self.offsets.scan_prefix(group_prefix(group)) {
            let (k, _) = kv?;
            let Some((g, topic, partition)) = split_offset_key(&k) else {
                continue;
            };
            let wanted =
                partitions.is_none_or(|ps| ps.iter().any(|(t, p)| *t == topic && *p == partition));
            if g == group && wanted {
                batch.remove(k);
                removed += 1;
            }
        }
        if removed > 0 {
            self.offsets.apply_batch(batch)?;
            self.db.flush()?;
        }
        Ok(removed)
    }

    /// Every group with at least one committed offset.
    pub fn groups(&self) -> Result<Vec<String>, BrokerError> {
        let mut groups: Vec<String> = Vec::new();
        for kv in self.offsets.iter() {
            let (k, _) = kv?;
            if let Some((g, _, _)) = split_offset_key(&k)
                && groups.last() != Some(&g)
            {
                groups.push(g);
            }
        }
        groups.sort();
        groups.dedup();
        Ok(groups)
    }

    /// Allocates the next idempotent producer id, durably: ids are never handed
    /// out twice, even across restarts (a reused id would inherit old sequences).
    pub fn next_producer_id(&self) -> Result<i64, BrokerError> {
        // A counter of the wrong size is left as found and reported: restarting
        // at 0 would hand out ids live producers still use.
        let next = self
            .db
            .update_and_fetch(PRODUCER_ID_KEY, |old| match old {
                None => Some(1i64.to_be_bytes().to_vec()),
                Some(b) => match <[u8; 8]>::try_from(b) {
                    Ok(n) => Some(
                        i64::from_be_bytes(n)
                            .saturating_add(1)
                            .to_be_bytes()
                            .to_vec(),
                    ),
                    Err(_) => Some(b.to_vec()),
                },
            })?
            .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
            .map(i64::from_be_bytes)
            .ok_or_else(|| BrokerError::Corrupt {
                what: "producer id counter".into(),
                reason: "not 8 bytes".into(),
            })?;
        self.db.flush()?;
        // The counter holds the last id handed out; ids start at 0.
        Ok(next - 1)
    }

    /// Stores a transactional id's state; `durable` flushes before returning
    /// (a state recovery must see), otherwise sled flushes it soon.
    pub fn put_transaction<T: Serialize>(
        &self,
        id: &str,
        state: &T,
        durable: bool,
    ) -> Result<(), BrokerError> {
        let value = encode(state, &format!("transactional id {id:?}"))?;
        self.transactions.insert(id.as_bytes(), value)?;
        if durable {
            self.transactions.flush()?;
        }
        Ok(())
    }

    /// Forgets a transactional id (expired), flushed soon by sled.
    pub fn delete_transaction(&self, id: &str) -> Result<(), BrokerError> {
        self.transactions.remove(id.as_bytes())?;
        Ok(())
    }

    /// Every stored transactional id's state.
    pub fn transactions<T: for<'a> Deserialize<'a>>(
        &self,
    ) -> Result<Vec<(String, T)>, BrokerError> {
        self.transactions
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                let id = String::from_utf8_lossy(&k).into_owned();
                let state = decode(&v, &format!("transactional id {id:?}"))?;
                Ok((id, state))
            })
            .collect()
    }

    /// The tree `name`, for a layer above that keeps its own records (auth's users);
    /// `name` must not be one of the broker's own trees.
    pub fn tree(&self, name: &str) -> Result<super::meta_tree::MetaTree, BrokerError> {
        debug_assert!(!["topics", "offsets", "transactions"].contains(&name));
        Ok(super::meta_tree::MetaTree::new(
            self.db.clone(),
            self.db.open_tree(name)?,
        ))
    }

    /// Flushes everything to disk (shutdown).
    pub fn flush(&self) -> Result<(), BrokerError> {
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::reopen;

    #[test]
    fn topics_and_offsets_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta");
        {
            let store = MetaStore::open(&path).unwrap();
            store
                .put_topic(&TopicRecord {
                    name: "t".into(),
                    partitions: 3,
                    config: BTreeMap::from([("retention.ms".into(), "5".into())]),
                    created_ms: 1,
                })
                .unwrap();
            let c = |o| CommittedOffset {
                offset: o,
                metadata: None,
                commit_ms: 2,
            };
            store
                .commit("g", &[("t".into(), 0, c(5)), ("t".into(), 2, c(7))])
                .unwrap();
            store.commit("g2", &[("t".into(), 1, c(1))]).unwrap();
        }
        let store = reopen(|| MetaStore::open(&path));
        assert_eq!(store.topics().unwrap()[0].partitions, 3);
        let offs = store.group_offsets("g").unwrap();
        assert_eq!(
            offs.iter().map(|o| (o.1, o.2.offset)).collect::<Vec<_>>(),
            vec![(0, 5), (2, 7)]
        );
        assert_eq!(store.groups().unwrap(), vec!["g", "g2"]);
        store.delete_topic("t").unwrap();
        assert!(store.topics().unwrap().is_empty());
        assert!(store.group_offsets("g").unwrap().is_empty());
    }

    #[test]
    fn deleted_offsets_stay_deleted_after_reopen_and_spare_other_groups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        let c = |offset| CommittedOffset {
            offset,
            metadata: None,
            commit_ms: 0,
        };
        {
            let store = MetaStore::open(&path).unwrap();
            let rows = [
                ("t".into(), 0, c(1)),
                ("t".into(), 1, c(2)),
                ("u".into(), 0, c(3)),
            ];
            store.commit("g", &rows).unwrap();
            store.commit("gg", &rows).unwrap();
            let one = [("t".to_string(), 1)];
            assert_eq!(store.delete_offsets("g", Some(&one)).unwrap(), 1);
            assert_eq!(store.delete_offsets("g", Some(&one)).unwrap(), 0);
        }
        let store = reopen(|| MetaStore::open(&path));
        let left: Vec<_> = store
            .group_offsets("g")
            .unwrap()
            .into_iter()
            .map(|(t, p, _)| (t, p))
            .collect();
        assert_eq!(left, vec![("t".to_string(), 0), ("u".to_string(), 0)]);
        assert_eq!(store.delete_offsets("g", None).unwrap(), 2);
        drop(store);
        let store = reopen(|| MetaStore::open(&path));
        assert!(store.group_offsets("g").unwrap().is_empty());
        assert_eq!(store.group_offsets("gg").unwrap().len(), 3);
        assert_eq!(store.groups().unwrap(), vec!["gg"]);
    }

    #[test]
    fn group_prefix_does_not_match_longer_group_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetaStore::open(&dir.path().join("m")).unwrap();
        let c = CommittedOffset {
            offset: 1,
            metadata: None,
            commit_ms: 0,
        };
        store.commit("ab", &[("t".into(), 0, c)]).unwrap();
        assert!(store.group_offsets("a").unwrap().is_empty());
    }

    #[test]
    fn a_producer_id_counter_of_the_wrong_size_is_corrupt_not_reset() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetaStore::open(&dir.path().join("meta")).unwrap();
        assert_eq!(store.next_producer_id().unwrap(), 0);
        assert_eq!(store.next_producer_id().unwrap(), 1);
        store.db.insert(PRODUCER_ID_KEY, &[0u8, 0, 7][..]).unwrap();
        assert!(matches!(
            store.next_producer_id(),
            Err(BrokerError::Corrupt { .. })
        ));
        assert_eq!(
            store.db.get(PRODUCER_ID_KEY).unwrap().unwrap().as_ref(),
            &[0u8, 0, 7],
            "left as found"
        );
    }
}
