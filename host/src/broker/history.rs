//! The server's recent throughput, kept in memory for the console and scripts: one
//! [`Sample`] per interval in a ring of bounded size (15 minutes of 5-second samples),
//! each derived from the difference of two [`Totals`] readings.
//!
//! Records in per second is the growth of every partition's high watermark; records
//! out per second is the growth of every consumer group's committed offsets (what
//! consumers acknowledge having read; a consumer that never commits is not seen).

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
    /// Sum of every group's committed offsets.
    pub committed: i64,
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
            // A deleted topic or a group reset backwards shrinks a sum: no negative rates.
            let per_sec = |a: i64, b: i64| ((a - b).max(0) as f64) / secs;
            let sample = Sample {
                time_ms: now.time_ms,
                records_in_per_sec: per_sec(now.high_watermarks, last.high_watermarks),
                records_out_per_sec: per_sec(now.committed, last.committed),
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
    /// Reads the [`Totals`] now: every partition's stats (in memory) and every
    /// group's committed offsets (from the metadata store).
    pub fn totals(&self) -> Result<Totals, BrokerError> {
        let mut totals = Totals {
            time_ms: now_ms(),
            topics: 0,
            partitions: 0,
            bytes_on_disk: 0,
            high_watermarks: 0,
            committed: 0,
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
                totals.committed += o.committed.offset;
                totals.lag += o.lag().unwrap_or(0);
            }
        }
        Ok(totals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(time_ms: i64, high_watermarks: i64, committed: i64) -> Totals {
        Totals {
            time_ms,
            topics: 1,
            partitions: 2,
            bytes_on_disk: 100,
            high_watermarks,
            committed,
            lag: high_watermarks - committed,
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
}
