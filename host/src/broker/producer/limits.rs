//! How much idempotent producer state one partition keeps: producers silent
//! past `kafka.producer_id_expiration_ms` are forgotten, and at most
//! `kafka.max_producers_per_partition` are remembered, the least recently
//! appending forgotten first.
//!
//! Forgetting a producer only loses its duplicate detection: its next batch is
//! taken as from a producer the partition has no state for (any sequence is
//! accepted, as in Kafka after `producer.id.expiration.ms`), which is what a
//! client that appends once a day, or one of a flood of fresh ids, can expect.

use std::collections::HashMap;

use super::window::Window;

/// Kafka's `producer.id.expiration.ms` default: a day.
pub const PRODUCER_EXPIRATION_MS: i64 = 24 * 60 * 60 * 1000;

/// Expired producers are looked for only above this many (and then only once
/// the count has doubled since the last look), keeping appends free of scans.
const PRUNE_ABOVE: usize = 1024;

/// Per producer id: its window and when it last appended (ms).
pub type Windows = HashMap<i64, (Window, i64)>;

/// Bounds on one partition's producer state (`[kafka]` in weir.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerLimits {
    /// A producer silent this long on a partition is forgotten there, ms.
    pub expiration_ms: i64,
    /// Most producers one partition remembers.
    pub max_per_partition: usize,
}

impl Default for ProducerLimits {
    fn default() -> Self {
        ProducerLimits {
            expiration_ms: PRODUCER_EXPIRATION_MS,
            max_per_partition: 10_000,
        }
    }
}

/// One partition's producer windows, within [`ProducerLimits`].
#[derive(Debug)]
pub struct PartitionProducers {
    /// Per producer id: its window and when it last appended (ms).
    pub windows: Windows,
    /// Look for expired producers once there are this many.
    prune_above: usize,
}

impl PartitionProducers {
    /// The windows rebuilt from a log's tail.
    pub fn new(windows: Windows) -> PartitionProducers {
        PartitionProducers {
            windows,
            prune_above: PRUNE_ABOVE,
        }
    }

    /// Makes room for a producer not yet known: forgets expired ones once
    /// there are many, then the least recently appending beyond the cap. Over
    /// the cap a tenth is forgotten at once, so a flood of fresh ids costs one
    /// scan per tenth of the cap, not one per id.
    pub fn make_room(&mut self, now_ms: i64, limits: &ProducerLimits) {
        if self.windows.len() >= self.prune_above {
            self.windows
                .retain(|_, (_, last)| now_ms.saturating_sub(*last) < limits.expiration_ms);
            self.prune_above = (self.windows.len() * 2).max(PRUNE_ABOVE);
        }
        let cap = limits.max_per_partition.max(1);
        if self.windows.len() < cap {
            return;
        }
        let keep = cap - cap.div_ceil(10);
        let forget = self.windows.len() - keep;
        let mut lasts: Vec<i64> = self.windows.values().map(|(_, last)| *last).collect();
        let cutoff = *lasts.select_nth_unstable(forget - 1).1;
        let mut forgotten = 0;
        self.windows.retain(|_, (_, last)| {
            let go = *last <= cutoff && forgotten < forget;
            forgotten += usize::from(go);
            !go
        });
        tracing::debug!(
            forgotten,
            cap,
            "forgot the least recently appending producers of a partition"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_silent_producers_are_forgotten_recent_ones_kept() {
        let mut p = PartitionProducers::new(HashMap::new());
        let limits = ProducerLimits::default();
        let now = 10 * PRODUCER_EXPIRATION_MS;
        for id in 0..PRUNE_ABOVE as i64 {
            p.windows
                .insert(id, (Window::new(0), now - PRODUCER_EXPIRATION_MS - 1));
        }
        p.windows.insert(-7, (Window::new(0), now - 1));
        p.make_room(now, &limits);
        assert_eq!(p.windows.len(), 1);
        assert!(p.windows.contains_key(&-7));
        // Below the threshold nothing is scanned or dropped.
        p.windows.insert(1, (Window::new(0), 0));
        p.make_room(now, &limits);
        assert_eq!(p.windows.len(), 2);
    }

    #[test]
    fn past_the_cap_the_least_recently_appending_are_forgotten() {
        let limits = ProducerLimits {
            expiration_ms: PRODUCER_EXPIRATION_MS,
            max_per_partition: 20,
        };
        let mut p = PartitionProducers::new(HashMap::new());
        // 500 fresh ids, each appending once, one after the other.
        for id in 0..500i64 {
            p.make_room(id, &limits);
            p.windows.insert(id, (Window::new(0), id));
            assert!(p.windows.len() <= 20, "{} producers kept", p.windows.len());
        }
        // The most recent are the ones kept.
        assert!(p.windows.contains_key(&499));
        assert!(p.windows.contains_key(&490));
        assert!(!p.windows.contains_key(&400));
        // A cap of one keeps room for the newcomer alone.
        let one = ProducerLimits {
            max_per_partition: 1,
            ..limits
        };
        p.make_room(1000, &one);
        assert!(p.windows.is_empty());
    }
}
