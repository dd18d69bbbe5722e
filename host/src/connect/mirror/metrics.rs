//! A mirror connector's figures under MM2's metric names (`record-count`,
//! `replication-latency-ms`, `record-age-ms`, `checkpoint-latency-ms`), per connector rather
//! than per partition, for status answers and `/metrics`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::Mutex;

/// Count, sum, min and max of a latency in ms.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// How many samples.
    pub count: u64,
    /// Their sum.
    pub sum: i64,
    /// The smallest.
    pub min: i64,
    /// The largest.
    pub max: i64,
}

impl Stat {
    fn add(&mut self, v: i64) {
        let v = v.max(0);
        if self.count == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count += 1;
        self.sum = self.sum.saturating_add(v);
    }

    /// The average (0 with no samples).
    pub fn avg(&self) -> i64 {
        if self.count == 0 {
            0
        } else {
            self.sum / self.count as i64
        }
    }
}

/// One connector's figures.
#[derive(Debug, Default)]
pub struct MirrorMetrics {
    /// Records replicated (`record-count`).
    pub records: AtomicU64,
    /// Their bytes (`byte-count`).
    pub bytes: AtomicU64,
    /// Offset syncs written.
    pub offset_syncs: AtomicU64,
    /// Checkpoints written.
    pub checkpoints: AtomicU64,
    /// Group offsets committed on the target.
    pub group_syncs: AtomicU64,
    /// Heartbeats written.
    pub heartbeats: AtomicU64,
    /// Records on the source not replicated yet, summed over partitions (`-1`: not known
    /// yet).
    pub lag: AtomicI64,
    /// `replication-latency-ms`: delivered on the target minus the record's timestamp.
    pub latency: Mutex<Stat>,
    /// `record-age-ms`: read from the source minus the record's timestamp.
    pub age: Mutex<Stat>,
    /// `checkpoint-latency-ms`: from a checkpoint round's start to its records' delivery.
    pub checkpoint_latency: Mutex<Stat>,
}

impl MirrorMetrics {
    /// Records one record replicated.
    pub fn replicated(&self, bytes: usize, age_ms: i64, latency_ms: i64) {
        self.records.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.age.lock().add(age_ms);
        self.latency.lock().add(latency_ms);
    }

    /// Records a checkpoint round's latency.
    pub fn checkpointed(&self, n: u64, latency_ms: i64) {
        self.checkpoints.fetch_add(n, Ordering::Relaxed);
        self.checkpoint_latency.lock().add(latency_ms);
    }

    /// The figures as `(name, value)` pairs, MM2's names where it has one.
    pub fn figures(&self) -> Vec<(&'static str, i64)> {
        let l = *self.latency.lock();
        let a = *self.age.lock();
        let c = *self.checkpoint_latency.lock();
        let n = |v: &AtomicU64| v.load(Ordering::Relaxed) as i64;
        vec![
            ("record-count", n(&self.records)),
            ("byte-count", n(&self.bytes)),
            ("replication-latency-ms-avg", l.avg()),
            ("replication-latency-ms-min", l.min),
            ("replication-latency-ms-max", l.max),
            ("record-age-ms-avg", a.avg()),
            ("record-age-ms-min", a.min),
            ("record-age-ms-max", a.max),
            ("checkpoint-latency-ms-avg", c.avg()),
            ("checkpoint-latency-ms-max", c.max),
            ("offset-sync-count", n(&self.offset_syncs)),
            ("checkpoint-count", n(&self.checkpoints)),
            ("group-offset-sync-count", n(&self.group_syncs)),
            ("heartbeat-count", n(&self.heartbeats)),
            ("lag", self.lag.load(Ordering::Relaxed)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_keep_min_max_avg() {
        let m = MirrorMetrics::default();
        m.replicated(10, 5, 7);
        m.replicated(20, 1, 3);
        let f: std::collections::BTreeMap<_, _> = m.figures().into_iter().collect();
        assert_eq!(f["record-count"], 2);
        assert_eq!(f["byte-count"], 30);
        assert_eq!(f["replication-latency-ms-avg"], 5);
        assert_eq!(f["replication-latency-ms-min"], 3);
        assert_eq!(f["replication-latency-ms-max"], 7);
        assert_eq!(f["record-age-ms-max"], 5);
    }
}
