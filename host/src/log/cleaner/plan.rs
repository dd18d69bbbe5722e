//! Choosing what a pass cleans, by Kafka's rules.
//!
//! The active segment is never cleaned. Of the sealed ones, a segment whose newest
//! record is younger than `min.compaction.lag.ms` is not cleanable, nor anything
//! after it. The cleanable segments from the checkpoint on are dirty; the log is
//! worth a pass when dirty bytes are at least `min.cleanable.dirty.ratio` of the
//! cleanable bytes, or when its oldest dirty record is older than
//! `max.compaction.lag.ms`. A pass rewrites every cleanable segment (older values in
//! the clean part may have been superseded by dirty ones), in groups that fit one
//! segment each.

use std::ops::Range;

use crate::log::config::Compaction;

/// A sealed segment as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    /// First offset of the segment.
    pub base: i64,
    /// Offset where the next segment starts (this one's end).
    pub end: i64,
    /// Bytes in its data file.
    pub size: u64,
    /// Newest record timestamp in it.
    pub max_timestamp: i64,
}

/// The segments a pass cleans, as indexes into the sealed segments (oldest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Segments `[0, cleanable)` are rewritten.
    pub cleanable: usize,
    /// Segments `[dirty, cleanable)` feed the offset map.
    pub dirty: usize,
}

/// Whether and what to clean. `first_dirty` is the checkpoint; `first_dirty_timestamp`
/// the timestamp of the first batch of the first dirty segment, when known.
pub fn choose(
    segments: &[SegmentInfo],
    first_dirty: i64,
    first_dirty_timestamp: Option<i64>,
    compaction: &Compaction,
    now: i64,
) -> Option<Plan> {
    let cleanable = cleanable_count(segments, compaction, now);
    let dirty = first_dirty_index(&segments[..cleanable], first_dirty);
    if dirty >= cleanable {
        return None;
    }
    let bytes = |r: Range<usize>| segments[r].iter().map(|s| s.size).sum::<u64>();
    let dirty_bytes = bytes(dirty..cleanable);
    let total = bytes(0..cleanable);
    let ratio = if total == 0 {
        0.0
    } else {
        dirty_bytes as f64 / total as f64
    };
    let overdue = first_dirty_timestamp
        .is_some_and(|t| now.saturating_sub(t) > compaction.max_compaction_lag_ms);
    (dirty_bytes > 0 && (ratio >= compaction.min_cleanable_dirty_ratio || overdue))
        .then_some(Plan { cleanable, dirty })
}

/// How many leading sealed segments `min.compaction.lag.ms` lets the cleaner touch.
pub fn cleanable_count(segments: &[SegmentInfo], compaction: &Compaction, now: i64) -> usize {
    let lag = compaction.min_compaction_lag_ms;
    if lag <= 0 {
        return segments.len();
    }
    segments
        .iter()
        .position(|s| s.max_timestamp > now.saturating_sub(lag))
        .unwrap_or(segments.len())
}

/// Index of the first segment holding an offset at or after the checkpoint.
pub fn first_dirty_index(segments: &[SegmentInfo], first_dirty: i64) -> usize {
    segments
        .iter()
        .position(|s| s.end > first_dirty)
        .unwrap_or(segments.len())
}

/// Splits `segments` into runs of consecutive segments to merge into one each:
/// together at most `max_bytes` (the topic's `segment.bytes`, and under 2 GiB so
/// index positions fit) and spanning fewer than 2^31 offsets.
pub fn groups(segments: &[SegmentInfo], max_bytes: u64) -> Vec<Range<usize>> {
    let max_bytes = max_bytes.min(i32::MAX as u64);
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (i, s) in segments.iter().enumerate() {
        let fits =
            bytes + s.size <= max_bytes && s.end - segments[start].base <= i64::from(i32::MAX);
        if i > start && !fits {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += s.size;
    }
    if start < segments.len() {
        out.push(start..segments.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(sizes: &[(u64, i64)]) -> Vec<SegmentInfo> {
        let mut base = 0;
        sizes
            .iter()
            .map(|&(size, max_timestamp)| {
                let s = SegmentInfo {
                    base,
                    end: base + 10,
                    size,
                    max_timestamp,
                };
                base += 10;
                s
            })
            .collect()
    }

    #[test]
    fn cleans_when_dirty_enough_or_overdue() {
        let c = Compaction::default();
        let s = segs(&[(100, 0), (100, 0), (100, 0)]);
        // Nothing cleaned yet: all dirty.
        assert_eq!(
            choose(&s, 0, None, &c, 1000),
            Some(Plan {
                cleanable: 3,
                dirty: 0
            })
        );
        // One of three dirty: under the 0.5 ratio.
        assert_eq!(choose(&s, 20, None, &c, 1000), None);
        // ... unless its oldest record is past max.compaction.lag.ms.
        let lagged = Compaction {
            max_compaction_lag_ms: 500,
            ..c
        };
        assert_eq!(
            choose(&s, 20, Some(0), &lagged, 1000),
            Some(Plan {
                cleanable: 3,
                dirty: 2
            })
        );
        assert_eq!(choose(&s, 20, Some(600), &lagged, 1000), None);
        // All clean.
        assert_eq!(choose(&s, 30, Some(0), &lagged, 1000), None);
    }

    #[test]
    fn min_compaction_lag_stops_at_the_first_young_segment() {
        let c = Compaction {
            min_compaction_lag_ms: 100,
            ..Compaction::default()
        };
        let s = segs(&[(10, 0), (10, 950), (10, 0)]);
        assert_eq!(cleanable_count(&s, &c, 1000), 1);
        assert_eq!(
            choose(&s, 0, None, &c, 1000),
            Some(Plan {
                cleanable: 1,
                dirty: 0
            })
        );
        assert_eq!(choose(&s, 10, None, &c, 1000), None);
    }

    #[test]
    fn groups_fit_the_segment_size() {
        let s = segs(&[(40, 0), (40, 0), (40, 0), (100, 0), (10, 0)]);
        assert_eq!(groups(&s, 100), vec![0..2, 2..3, 3..4, 4..5]);
        assert_eq!(groups(&s, 1000), vec![0..5]);
        assert_eq!(groups(&[], 1000), Vec::<Range<usize>>::new());
    }
}
