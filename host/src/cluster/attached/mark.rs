//! [`CacheMark`]: how far a task's state cache is exact in each of its changelog
//! partitions, kept in the task's tree at [`CHECKPOINT_KEY`] and written in the same sled
//! batch as the state it covers, only after the transaction that wrote those changelog
//! records committed. A restore that finds a mark it can trust reads only the changelog's
//! tail past it (what other nodes wrote meanwhile) instead of the whole partition.
//!
//! Trusting it takes more than an offset: a changelog deleted and created again restarts
//! at offset 0 and may soon pass the mark again. What proves it is the same log is the
//! record the mark names ([`Proof`]): its offset, its timestamp (the wall clock of the
//! round that sent it) and a digest of its key and value, read back from the cluster. A new
//! incarnation of the topic would need the same bytes at the same offset stamped in the
//! same millisecond. Topic ids would say it directly, but a weir broker does not keep them
//! and librdkafka shows them only through DescribeTopics; when the record is gone
//! (compacted away by a newer value of its key, or deleted) nothing is proven and the
//! restore is full, which is always correct.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cluster::{Delivered, Fetched, OutRecord};
use crate::pipeline::state::{CHECKPOINT_KEY, WINDOWS_SPACE, Writes, step_prefix};

use super::error::AttachedError;

/// A changelog record the cache has applied, as read back to prove the log is the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    /// Its offset.
    pub offset: i64,
    /// Its timestamp (ms).
    pub timestamp: Option<i64>,
    /// SHA-256 of its key and value, hex, the first 16 bytes.
    pub digest: String,
}

impl Proof {
    /// The proof a record read from the changelog gives.
    pub fn of_fetched(r: &Fetched) -> Proof {
        Proof {
            offset: r.offset,
            timestamp: r.timestamp,
            digest: digest(r.key.as_deref(), r.value.as_deref()),
        }
    }

    /// The proof a record this node sent gives, once `at` says where it landed.
    pub fn of_sent(r: &OutRecord, at: &Delivered) -> Proof {
        Proof {
            offset: at.offset,
            timestamp: r.timestamp,
            digest: digest(r.key.as_deref(), r.value.as_deref()),
        }
    }

    /// Whether `r`, read at this proof's offset, is the record it names.
    pub fn matches(&self, r: &Fetched) -> bool {
        *self == Proof::of_fetched(r)
    }
}

/// Which key space of a task's tree a changelog fills: each has its own changelog topic,
/// and a mark names it so that a tail is applied where the full restore would put it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Store {
    /// A state slot's plain state (`[0, slot_hi, slot_lo] ++ key`): processors' key-value
    /// store, aggregates, table rows, join state, a table source's rows.
    Plain(usize),
    /// A processor's window and session stores and stream clock (`[2, step_hi, step_lo]
    /// ++ key`).
    Windows(usize),
}

impl Store {
    /// The prefix of this store's keys in a task tree.
    pub fn prefix(self) -> [u8; 3] {
        match self {
            Store::Plain(slot) => step_prefix(slot),
            Store::Windows(step) => {
                let mut p = step_prefix(step);
                p[0] = WINDOWS_SPACE;
                p
            }
        }
    }
}

/// Where the cache is exact in one changelog partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// The key space the changelog holds (a mark from before stores were named has
    /// `step` instead, decodes as no mark, and so gives a full restore).
    pub store: Store,
    /// The changelog topic.
    pub topic: String,
    /// Its partition (the task's).
    pub partition: i32,
    /// The cache holds every committed record below this offset.
    pub next: i64,
    /// The last record applied (`None`: none yet, so nothing proves the log).
    pub proof: Option<Proof>,
}

/// Every changelog mark of one task's cache.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheMark {
    /// One per changelog the task restores from (plain slots, then windows), in the
    /// runner's order.
    pub changelogs: Vec<Mark>,
}

impl CacheMark {
    /// The mark in `tree`, if there is one that decodes (one that does not is no mark: the
    /// restore is full).
    pub fn read(tree: &sled::Tree) -> Result<Option<CacheMark>, AttachedError> {
        read_json(tree)
    }

    /// Adds the mark's write to `batch`.
    pub fn put(&self, batch: &mut sled::Batch) {
        put_json(self, batch);
    }

    /// Whether this mark is for exactly `changelogs` at `partition`, each with a proof or
    /// still at offset 0 (nothing applied: reading it from 0 is reading it all): a step
    /// or table source added, renamed or moved since, or a windows changelog the mark
    /// does not name, leaves some state unaccounted for.
    pub fn covers(&self, changelogs: &[(Store, String)], partition: i32) -> bool {
        self.changelogs.len() == changelogs.len()
            && self
                .changelogs
                .iter()
                .zip(changelogs)
                .all(|(m, (store, topic))| {
                    m.store == *store
                        && m.topic == *topic
                        && m.partition == partition
                        && (m.proof.is_some() || m.next == 0)
                })
    }

    /// Moves each changelog's mark past the last of `sent` that landed in it (`delivered`:
    /// where each of `sent` landed, in order).
    fn advance(&mut self, sent: &[OutRecord], delivered: &[Delivered]) {
        for m in &mut self.changelogs {
            let last = sent.iter().zip(delivered).rev().find(|(r, d)| {
                r.topic == m.topic && d.partition == m.partition && r.partition == Some(d.partition)
            });
            if let Some((r, d)) = last {
                m.next = d.offset + 1;
                m.proof = Some(Proof::of_sent(r, d));
            }
        }
    }
}

/// Applies a committed round's state `writes` to a task's cache together, in one sled
/// batch, with its mark moved past the changelog records the round sent (`sent`, landed
/// at `delivered`). Without a mark, or when the places do not match the records sent, the
/// mark is removed instead: the cache then holds state no mark accounts for, and the next
/// restore is full.
pub fn commit(
    tree: &sled::Tree,
    writes: &Writes,
    sent: &[OutRecord],
    delivered: &[Delivered],
) -> Result<(), AttachedError> {
    let mut batch = sled::Batch::default();
    for (k, v) in writes {
        match v {
            Some(v) => batch.insert(k.as_slice(), v.as_slice()),
            None => batch.remove(k.as_slice()),
        }
    }
    match CacheMark::read(tree)? {
        Some(mut mark) if sent.len() == delivered.len() => {
            mark.advance(sent, delivered);
            mark.put(&mut batch);
        }
        Some(_) => batch.remove(CHECKPOINT_KEY),
        None => {}
    }
    tree.apply_batch(batch)?;
    Ok(())
}

/// The first 16 bytes of SHA-256 over a record's key and value, hex; lengths and presence
/// are hashed too, so no two different records share the input.
fn digest(key: Option<&[u8]>, value: Option<&[u8]>) -> String {
    let mut h = Sha256::new();
    for part in [key, value] {
        match part {
            Some(b) => {
                h.update([1]);
                h.update((b.len() as u64).to_be_bytes());
                h.update(b);
            }
            None => h.update([0]),
        }
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A mark stored as JSON under the tree's checkpoint key, if one is there that decodes
/// (one that does not is no mark: the reader starts over in full).
pub(super) fn read_json<T: serde::de::DeserializeOwned>(
    tree: &sled::Tree,
) -> Result<Option<T>, AttachedError> {
    Ok(tree
        .get(CHECKPOINT_KEY)?
        .and_then(|v| serde_json::from_slice(&v).ok()))
}

/// Adds the write of `mark` as JSON under the checkpoint key to `batch`.
pub(super) fn put_json<T: Serialize>(mark: &T, batch: &mut sled::Batch) {
    // Serialising plain strings and numbers cannot fail.
    if let Ok(v) = serde_json::to_vec(mark) {
        batch.insert(CHECKPOINT_KEY, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(topic: &str, key: &str, value: Option<&str>, ts: i64) -> OutRecord {
        OutRecord {
            topic: topic.into(),
            partition: Some(2),
            timestamp: Some(ts),
            key: Some(key.into()),
            value: value.map(Into::into),
            headers: Vec::new(),
        }
    }

    #[test]
    fn a_commit_moves_each_changelogs_mark_past_its_last_record_with_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        let mark = |next, proof| CacheMark {
            changelogs: vec![
                Mark {
                    store: Store::Plain(0),
                    topic: "p-a-changelog".into(),
                    partition: 2,
                    next,
                    proof,
                },
                Mark {
                    store: Store::Windows(1),
                    topic: "p-b-windows-changelog".into(),
                    partition: 2,
                    next: 7,
                    proof: None,
                },
            ],
        };
        let mut batch = sled::Batch::default();
        mark(3, None).put(&mut batch);
        tree.apply_batch(batch).unwrap();
        let records = vec![
            sent("out", "k", Some("1"), 5),
            sent("p-a-changelog", "k", Some("1"), 5),
            sent("p-a-changelog", "j", None, 5),
        ];
        let places =
            [(0, 40), (2, 3), (2, 4)].map(|(partition, offset)| Delivered { partition, offset });
        let writes = Writes::from([(b"\0\0\0k".to_vec(), Some(b"1".to_vec()))]);
        commit(&tree, &writes, &records, &places).unwrap();
        let got = CacheMark::read(&tree).unwrap().unwrap();
        assert_eq!(
            got,
            mark(5, Some(Proof::of_sent(&records[2], &places[2]))),
            "a past its tombstone at 4; b, which got nothing, unchanged"
        );
        assert_eq!(tree.get(b"\0\0\0k").unwrap().unwrap(), b"1".as_slice());
        // Places that do not match what was sent: the mark goes, the state still lands.
        commit(&tree, &Writes::new(), &records, &places[..1]).unwrap();
        assert_eq!(CacheMark::read(&tree).unwrap(), None);
    }

    #[test]
    fn a_proof_tells_another_record_at_the_same_offset() {
        let r = Fetched {
            topic: "c".into(),
            partition: 0,
            offset: 9,
            timestamp: Some(100),
            key: Some(b"a".to_vec()),
            value: Some(b"1".to_vec()),
            headers: Vec::new(),
        };
        let p = Proof::of_fetched(&r);
        assert!(p.matches(&r));
        for other in [
            Fetched {
                timestamp: Some(101),
                ..r.clone()
            },
            Fetched {
                value: None,
                ..r.clone()
            },
            Fetched {
                key: Some(b"a1".to_vec()),
                value: Some(Vec::new()),
                ..r.clone()
            },
        ] {
            assert!(!p.matches(&other), "{other:?}");
        }
    }

    #[test]
    fn a_mark_covers_only_the_same_steps_topics_and_partition_with_proofs() {
        let proof = Some(Proof {
            offset: 0,
            timestamp: None,
            digest: String::new(),
        });
        let m = CacheMark {
            changelogs: vec![Mark {
                store: Store::Plain(1),
                topic: "p-1-changelog".into(),
                partition: 0,
                next: 1,
                proof: proof.clone(),
            }],
        };
        let want = [(Store::Plain(1), "p-1-changelog".to_string())];
        assert!(m.covers(&want, 0));
        assert!(!m.covers(&want, 1));
        assert!(!m.covers(&[(Store::Plain(2), "p-1-changelog".to_string())], 0));
        assert!(!m.covers(&[(Store::Plain(1), "q-1-changelog".to_string())], 0));
        assert!(
            !m.covers(&[(Store::Windows(1), "p-1-changelog".to_string())], 0),
            "the same step's window space is another store"
        );
        assert!(!m.covers(&[], 0));
        assert!(
            !m.covers(
                &[
                    want[0].clone(),
                    (Store::Windows(1), "p-1-windows-changelog".to_string())
                ],
                0
            ),
            "a windows changelog the mark does not name: full"
        );
        let mut unproven = m.clone();
        unproven.changelogs[0].proof = None;
        assert!(!unproven.covers(&want, 0));
        unproven.changelogs[0].next = 0;
        assert!(
            unproven.covers(&want, 0),
            "nothing applied yet: read from 0"
        );
    }
}
