//! The server's recent throughput, kept in memory for the console and scripts: one
//! [`Sample`] per interval in a ring of bounded size (15 minutes of 5-second samples),
//! each derived from the difference of two [`Totals`] readings.
//!
//! Records in per second is the growth of every partition's high watermark; records
//! out per second is how far consumers committed their groups' offsets forward (what
//! they acknowledge having read; a consumer that never commits is not seen). That is
//! counted at each commit ([`Broker::consumed`]), not read off the sum of committed
//! offsets: a reset moves that sum without a record being read, and a reset backwards
//! would hide other groups' reading (or, undone by a reset forwards, count as reading).

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::Mutex;

use super::broker::{Broker, now_ms};
use super::error::BrokerError;

/// How often a sample is taken.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(5);

/// Samples kept: 15 minutes' worth.
pub const SAMPLES_KEPT: usize = 180;

/// What the broker holds at one instant, summed over topics and groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// When it was read, ms since the epoch.
    pub time_ms: i64,
    /// Topics.
    pub topics: u64,
    /// Partitions over all topics.
    pub partitions: u64,
    /// Bytes of every partition's segments.
    pub bytes_on_disk: u64,
    /// Sum of every partition's high watermark.
    pub high_watermarks: i64,
    /// Offsets consumers have committed forward since the broker opened.
    pub consumed: u64,
    /// Sum of every group's lag.
    pub lag: i64,
}

/// One point of the history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When it was taken, ms since the epoch.
    pub time_ms: i64,
    /// Records appended per second since the previous sample.
    pub records_in_per_sec: f64,
    /// Offsets committed forward per second since the previous sample.
    pub records_out_per_sec: f64,
    /// Bytes on disk at the time.
    pub bytes_on_disk: u64,
    /// Topics at the time.
    pub topics: u64,
    /// Partitions at the time.
    pub partitions: u64,
    /// Total consumer-group lag at the time.
    pub total_lag: i64,
}

/// The ring of samples and the last reading they are measured from.
#[derive(Debug)]
pub struct ThroughputHistory {
    capacity: usize,
    inner: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    samples: VecDeque<Sample>,
    last: Option<Totals>,
}

impl ThroughputHistory {
    /// An empty history keeping at most `capacity` samples (at least one).
    pub fn new(capacity: usize) -> ThroughputHistory {
        ThroughputHistory {
            capacity: capacity.max(1),
            inner: Mutex::new(Ring::default()),
        }
    }

    /// Adds the sample measured from the previous reading to `now`; the first
    /// reading only sets the baseline. The oldest sample goes when the ring is full.
    pub fn record(&self, now: Totals) {
        let mut ring = self.inner.lock();
        if let Some(last) = ring.last.replace(now) {
            let secs = (now.time_ms - last.time_ms) as f64 / 1000.0;
            if secs <= 0.0 {
                return;
            }
            // A deleted topic shrinks the sum of high watermarks: no negative rates.
            let per_sec = |a: i64, b: i64| ((a - b).max(0) as f64) / secs;
            let sample = Sample {
                time_ms: now.time_ms,
                records_in_per_sec: per_sec(now.high_watermarks, last.high_watermarks),
                records_out_per_sec: now.consumed.saturating_sub(last.consumed) as f64 / secs,
                bytes_on_disk: now.bytes_on_disk,
                topics: now.topics,
                partitions: now.partitions,
                total_lag: now.lag,
            };
            if ring.samples.len() == self.capacity {
                ring.samples.pop_front();
            }
            ring.samples.push_back(sample);
        }
    }

    /// The samples, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        self.inner.lock().samples.iter().copied().collect()
    }

    /// The most samples kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl Broker {
    /// Reads the [`Totals`] now: every partition's stats (in memory), the records
    /// consumed, and every group's lag (from the metadata store).
    pub fn totals(&self) -> Result<Totals, BrokerError> {
        let mut totals = Totals {
            time_ms: now_ms(),
            topics: 0,
            partitions: 0,
            bytes_on_disk: 0,
            high_watermarks: 0,
            consumed: self.consumed(),
            lag: 0,
        };
        for topic in self.topics() {
            totals.topics += 1;
            for log in topic.partitions() {
                let stats = log.stats();
                totals.partitions += 1;
                totals.bytes_on_disk += stats.size_bytes;
                totals.high_watermarks += stats.high_watermark;
            }
        }
        for group in self.groups()? {
            // A group deleted between the listing and the read is simply not counted.
            let Ok(offsets) = self.group_offsets(&group) else {
                continue;
            };
            for o in offsets {
                totals.lag += o.lag().unwrap_or(0);
            }
        }
        Ok(totals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(time_ms: i64, high_watermarks: i64, consumed: u64) -> Totals {
        Totals {
            time_ms,
            topics: 1,
            partitions: 2,
            bytes_on_disk: 100,
            high_watermarks,
            consumed,
            lag: high_watermarks - consumed as i64,
        }
    }

    #[test]
    fn rates_are_differences_per_second_and_never_negative() {
        let h = ThroughputHistory::new(10);
        h.record(at(0, 0, 0));
        assert!(h.samples().is_empty(), "the first reading is the baseline");
        h.record(at(5_000, 500, 100));
        h.record(at(10_000, 400, 50));
        let s = h.samples();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].records_in_per_sec, 100.0);
        assert_eq!(s[0].records_out_per_sec, 20.0);
        assert_eq!(s[0].total_lag, 400);
        assert_eq!(s[1].records_in_per_sec, 0.0);
        assert_eq!(s[1].records_out_per_sec, 0.0);
    }

    #[test]
    fn the_ring_keeps_its_capacity() {
        let h = ThroughputHistory::new(3);
        for i in 0..10 {
            h.record(at(i * 1000, i * 10, 0));
        }
        let s = h.samples();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].time_ms, 7_000);
        assert_eq!(s[2].time_ms, 9_000);
        assert!(s.iter().all(|x| x.records_in_per_sec == 10.0));
    }

    /// Records out are what consumers commit forward: a reset backwards neither hides
    /// another group's reading nor, undone by a reset forwards, counts as reading; a
    /// group reading again after a reset does count.
    #[test]
    fn offset_resets_are_not_records_consumed() {
        use crate::broker::offset_reset::{OffsetReset, ResetScope};
        use crate::broker::{BrokerConfig, OffsetCommit, ProduceRecord};

        let dir = tempfile::tempdir().unwrap();
        let broker = Broker::open(BrokerConfig {
            data_dir: dir.path().to_path_buf(),
            flush: crate::log::FlushPolicy::EveryBatch,
            index_interval_bytes: 4096,
            topic_defaults: Default::default(),
            limits: Default::default(),
        })
        .unwrap();
        broker
            .create_topic("t", 1, std::collections::BTreeMap::new())
            .unwrap();
        broker
            .produce("t", vec![ProduceRecord::default(); 100])
            .unwrap();
        let commit = |group: &str, offset: i64| {
            let c = OffsetCommit {
                topic: "t".into(),
                partition: 0,
                offset,
                metadata: None,
            };
            broker.commit_offsets(group, vec![c]).unwrap();
        };
        let reset = |to: OffsetReset| {
            broker
                .reset_offsets("a", ResetScope::Topic("t".into()), to)
                .unwrap();
        };
        let h = ThroughputHistory::new(10);
        let sample_at = |time_ms: i64| {
            let mut totals = broker.totals().unwrap();
            totals.time_ms = time_ms;
            h.record(totals);
        };
        // Where each group began reading.
        commit("a", 10);
        commit("b", 10);
        sample_at(0);
        // a reads 50, then is reset to the start; b reads 30 meanwhile.
        commit("a", 60);
        reset(OffsetReset::Earliest);
        commit("b", 40);
        sample_at(1_000);
        // a is reset to the end: nothing read.
        reset(OffsetReset::Latest);
        sample_at(2_000);
        // a is reset back and reads 20 again: that is reading.
        reset(OffsetReset::Offset(0));
        commit("a", 20);
        sample_at(3_000);
        let out: Vec<f64> = h.samples().iter().map(|s| s.records_out_per_sec).collect();
        assert_eq!(out, [80.0, 0.0, 20.0]);
    }
}
