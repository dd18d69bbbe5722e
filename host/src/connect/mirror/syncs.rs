//! Offset syncs on both ends: when the source task writes one ([`PartitionState`], MM2's
//! rule), and how the checkpoint task translates with them ([`OffsetSyncStore`]).

use std::collections::BTreeMap;

use super::records::OffsetSync;

/// What the source task remembers of one partition to decide on offset syncs.
#[derive(Debug, Clone, Copy)]
pub struct PartitionState {
    previous_upstream: i64,
    previous_downstream: i64,
    last_sync_downstream: i64,
}

impl Default for PartitionState {
    fn default() -> Self {
        PartitionState {
            previous_upstream: -1,
            previous_downstream: -1,
            last_sync_downstream: -1,
        }
    }
}

impl PartitionState {
    /// Records that upstream offset `up` landed at `down`; answers whether to write a
    /// sync: the first this run, a translation that would lag `lag_max` or more, a gap
    /// upstream (compaction, transactions), or a target that went backwards.
    pub fn update(&mut self, up: i64, down: i64, lag_max: i64) -> bool {
        let first = self.last_sync_downstream == -1;
        let stale = down - (self.last_sync_downstream + 1) >= lag_max;
        let skipped = up - self.previous_upstream != 1;
        let truncated = down < self.previous_downstream;
        let sync = first || stale || skipped || truncated;
        if sync {
            self.last_sync_downstream = down;
        }
        self.previous_upstream = up;
        self.previous_downstream = down;
        sync
    }
}

/// How many syncs are kept per partition: older ones translate only offsets groups have
/// long passed.
pub const SYNCS_PER_PARTITION: usize = 4096;

/// The offset syncs read back, per source partition, upstream → downstream.
#[derive(Debug, Default)]
pub struct OffsetSyncStore {
    syncs: BTreeMap<(String, i32), BTreeMap<i64, i64>>,
}

impl OffsetSyncStore {
    /// Adds a sync (keeping the newest [`SYNCS_PER_PARTITION`]); a sync below a later one's
    /// downstream (the target was truncated or recreated) replaces what was known.
    pub fn add(&mut self, s: OffsetSync) {
        let m = self.syncs.entry((s.topic, s.partition)).or_default();
        if m.range(s.upstream..).next().is_some() {
            m.clear();
        }
        m.insert(s.upstream, s.downstream);
        while m.len() > SYNCS_PER_PARTITION {
            m.pop_first();
        }
    }

    /// The source partitions that have syncs.
    pub fn partitions(&self) -> Vec<(String, i32)> {
        self.syncs.keys().cloned().collect()
    }

    /// The downstream offset of upstream offset `up` (MM2's translation since KAFKA-14666):
    /// the newest sync at or below it, plus one if the group is past it, so a failover may
    /// re-read up to `offset.lag.max` records but never skips one. `None` before the first.
    pub fn translate(&self, topic: &str, partition: i32, up: i64) -> Option<i64> {
        let m = self.syncs.get(&(topic.to_string(), partition))?;
        let (&su, &sd) = m.range(..=up).next_back()?;
        Some(sd + i64::from(up > su))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_follow_mm2s_rule() {
        let mut s = PartitionState::default();
        assert!(s.update(0, 0, 3), "first");
        assert!(!s.update(1, 1, 3));
        assert!(!s.update(2, 2, 3));
        assert!(!s.update(3, 3, 3), "3 - (0 + 1) < 3");
        assert!(s.update(4, 4, 3), "4 - (0 + 1) >= 3");
        assert!(s.update(10, 5, 3), "gap upstream");
        assert!(s.update(11, 2, 3), "target went backwards");
    }

    #[test]
    fn translation_never_skips() {
        let mut st = OffsetSyncStore::default();
        let sync = |u, d| OffsetSync {
            topic: "t".into(),
            partition: 0,
            upstream: u,
            downstream: d,
        };
        st.add(sync(0, 100));
        st.add(sync(50, 150));
        assert_eq!(st.translate("t", 0, 0), Some(100));
        assert_eq!(st.translate("t", 0, 10), Some(101));
        assert_eq!(st.translate("t", 0, 50), Some(150));
        assert_eq!(st.translate("t", 0, 60), Some(151));
        assert_eq!(st.translate("t", 1, 60), None);
        st.add(sync(5, 7));
        assert_eq!(st.translate("t", 0, 60), Some(8), "older syncs dropped");
        assert_eq!(st.partitions(), [("t".to_string(), 0)]);
    }
}
