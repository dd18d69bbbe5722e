//! The sparse offset index of one segment: relative offset → byte position.
//!
//! On disk it is a flat array of 8-byte big-endian `(relative_offset: u32,
//! position: u32)` entries, written once when the segment is sealed. The active
//! segment's index lives only in memory and is rebuilt by scanning on recovery,
//! so a torn index file can never point past valid data.

/// One index entry: the batch starting at `position` holds `relative_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetEntry {
    /// Offset of the batch's first record minus the segment's base offset.
    pub relative_offset: u32,
    /// Byte position of the batch in the segment's data file.
    pub position: u32,
}

const ENTRY_LEN: usize = 8;

/// A sparse, sorted offset index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OffsetIndex {
    entries: Vec<OffsetEntry>,
}

impl OffsetIndex {
    /// Appends an entry; entries must come in increasing offset and position order.
    pub fn push(&mut self, relative_offset: u32, position: u32) {
        if let Some(last) = self.entries.last()
            && (relative_offset <= last.relative_offset || position <= last.position)
        {
            return;
        }
        self.entries.push(OffsetEntry {
            relative_offset,
            position,
        });
    }

    /// The byte position to start scanning from to find `relative_offset`:
    /// the position of the last entry at or before it, or 0.
    pub fn lookup(&self, relative_offset: u32) -> u32 {
        let idx = self
            .entries
            .partition_point(|e| e.relative_offset <= relative_offset);
        if idx == 0 {
            0
        } else {
            self.entries[idx - 1].position
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The on-disk bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * ENTRY_LEN);
        for e in &self.entries {
            out.extend_from_slice(&e.relative_offset.to_be_bytes());
            out.extend_from_slice(&e.position.to_be_bytes());
        }
        out
    }

    /// Parses an index file, or `None` if it is torn or inconsistent with a data
    /// file of `segment_size` bytes (then the caller rebuilds it by scanning).
    pub fn decode(bytes: &[u8], segment_size: u64) -> Option<OffsetIndex> {
        if !bytes.len().is_multiple_of(ENTRY_LEN) {
            return None;
        }
        let mut index = OffsetIndex::default();
        for chunk in bytes.chunks_exact(ENTRY_LEN) {
            let relative_offset = u32::from_be_bytes(chunk[0..4].try_into().ok()?);
            let position = u32::from_be_bytes(chunk[4..8].try_into().ok()?);
            if u64::from(position) >= segment_size {
                return None;
            }
            if let Some(last) = index.entries.last()
                && (relative_offset <= last.relative_offset || position <= last.position)
            {
                return None;
            }
            index.entries.push(OffsetEntry {
                relative_offset,
                position,
            });
        }
        Some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_last_entry_at_or_before() {
        let mut index = OffsetIndex::default();
        index.push(0, 0);
        index.push(10, 4096);
        index.push(25, 8200);
        assert_eq!(index.lookup(0), 0);
        assert_eq!(index.lookup(9), 0);
        assert_eq!(index.lookup(10), 4096);
        assert_eq!(index.lookup(24), 4096);
        assert_eq!(index.lookup(1000), 8200);
        assert_eq!(OffsetIndex::default().lookup(5), 0);
    }

    #[test]
    fn push_ignores_non_increasing_entries() {
        let mut index = OffsetIndex::default();
        index.push(5, 100);
        index.push(5, 200);
        index.push(6, 100);
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn round_trips_and_rejects_torn_or_stale_files() {
        let mut index = OffsetIndex::default();
        index.push(0, 0);
        index.push(7, 5000);
        let bytes = index.encode();
        assert_eq!(OffsetIndex::decode(&bytes, 6000), Some(index));
        // torn: not a whole number of entries
        assert_eq!(OffsetIndex::decode(&bytes[..11], 6000), None);
        // stale: points past the end of the data file
        assert_eq!(OffsetIndex::decode(&bytes, 4000), None);
        // unsorted
        let mut bad = bytes[8..].to_vec();
        bad.extend_from_slice(&bytes[..8]);
        assert_eq!(OffsetIndex::decode(&bad, 6000), None);
    }
}
