//! The sparse time index of one segment: timestamp → relative offset.
//!
//! Entries are 12-byte big-endian `(timestamp: i64, relative_offset: u32)`, added
//! only when the segment's max timestamp grows, so timestamps strictly increase.
//! When a segment is sealed its final max timestamp is appended, which is how a
//! sealed segment's age for `retention.ms` is known after a restart.

/// One time index entry: records at or after `relative_offset` may have timestamps ≥ `timestamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeEntry {
    /// The segment's max timestamp so far when the entry was written.
    pub timestamp: i64,
    /// Relative offset of the batch that raised the max timestamp.
    pub relative_offset: u32,
}

const ENTRY_LEN: usize = 12;

/// A sparse time index with strictly increasing timestamps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeIndex {
    entries: Vec<TimeEntry>,
}

impl TimeIndex {
    /// Appends an entry if it raises the max timestamp.
    pub fn push(&mut self, timestamp: i64, relative_offset: u32) {
        if let Some(last) = self.entries.last()
            && (timestamp <= last.timestamp || relative_offset < last.relative_offset)
        {
            return;
        }
        self.entries.push(TimeEntry {
            timestamp,
            relative_offset,
        });
    }

    /// Records the segment's final state at seal time: its max timestamp at its
    /// last offset. Recovery checks this entry to know the index is complete.
    pub fn seal(&mut self, max_timestamp: i64, last_relative_offset: u32) {
        match self.entries.last() {
            Some(last) if last.relative_offset >= last_relative_offset => {}
            last => {
                let timestamp = last.map_or(max_timestamp, |l| l.timestamp.max(max_timestamp));
                self.entries.push(TimeEntry {
                    timestamp,
                    relative_offset: last_relative_offset,
                });
            }
        }
    }

    /// The relative offset of the last entry (a sealed segment's last offset).
    pub fn last_relative_offset(&self) -> Option<u32> {
        self.entries.last().map(|e| e.relative_offset)
    }

    /// The largest timestamp recorded, if any.
    pub fn max_timestamp(&self) -> Option<i64> {
        self.entries.last().map(|e| e.timestamp)
    }

    /// The relative offset to start scanning from for the first record with a
    /// timestamp ≥ `timestamp`: the offset of the last entry whose timestamp is
    /// below the target (every record before it is older), or 0.
    pub fn lookup(&self, timestamp: i64) -> u32 {
        let idx = self.entries.partition_point(|e| e.timestamp < timestamp);
        if idx == 0 {
            0
        } else {
            self.entries[idx - 1].relative_offset
        }
    }

    /// The on-disk bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * ENTRY_LEN);
        for e in &self.entries {
            out.extend_from_slice(&e.timestamp.to_be_bytes());
            out.extend_from_slice(&e.relative_offset.to_be_bytes());
        }
        out
    }

    /// Parses a time index file, or `None` if it is torn or unsorted (timestamps
    /// never decrease, offsets strictly increase).
    pub fn decode(bytes: &[u8]) -> Option<TimeIndex> {
        if !bytes.len().is_multiple_of(ENTRY_LEN) {
            return None;
        }
        let mut index = TimeIndex::default();
        for chunk in bytes.chunks_exact(ENTRY_LEN) {
            let timestamp = i64::from_be_bytes(chunk[0..8].try_into().ok()?);
            let relative_offset = u32::from_be_bytes(chunk[8..12].try_into().ok()?);
            if let Some(last) = index.entries.last()
                && (timestamp < last.timestamp || relative_offset <= last.relative_offset)
            {
                return None;
            }
            index.entries.push(TimeEntry {
                timestamp,
                relative_offset,
            });
        }
        Some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_increasing_timestamps_and_looks_up() {
        let mut index = TimeIndex::default();
        index.push(100, 0);
        index.push(90, 3);
        index.push(200, 5);
        index.push(300, 9);
        assert_eq!(index.max_timestamp(), Some(300));
        assert_eq!(index.lookup(50), 0);
        assert_eq!(index.lookup(100), 0);
        assert_eq!(index.lookup(150), 0);
        assert_eq!(index.lookup(250), 5);
        assert_eq!(index.lookup(1000), 9);
    }

    #[test]
    fn seal_entry_marks_the_last_offset_even_without_a_newer_timestamp() {
        let mut index = TimeIndex::default();
        index.push(100, 0);
        index.seal(100, 7);
        assert_eq!(index.last_relative_offset(), Some(7));
        assert_eq!(index.max_timestamp(), Some(100));
        assert_eq!(TimeIndex::decode(&index.encode()), Some(index.clone()));
        index.seal(100, 7);
        assert_eq!(index.encode().len(), 24, "sealing twice adds nothing");
    }

    #[test]
    fn round_trips_and_rejects_torn_files() {
        let mut index = TimeIndex::default();
        index.push(1, 0);
        index.push(2, 1);
        let bytes = index.encode();
        assert_eq!(TimeIndex::decode(&bytes), Some(index));
        assert_eq!(TimeIndex::decode(&bytes[..13]), None);
    }
}
