//! [`ReadBatch`]: what a sink task's last read held, kept for dead-letter reports.

use crate::record::Record;

/// The records of the last read as they were in the log, kept so that a record the plugin
/// reports goes to the dead-letter queue as it was read: each record held once (moved here
/// from the read, never copied), and for each entry of the batch being put the index of the
/// record it came from (the chain may have dropped or failed records between them).
#[derive(Default)]
pub(super) struct ReadBatch {
    /// The partitions the records came from, each once.
    pub(super) partitions: Vec<(String, u32)>,
    /// Each record read and converted: its partition's index in `partitions`, its offset,
    /// the record.
    pub(super) records: Vec<(usize, i64, Record)>,
    /// For entry `i` of the batch being put, the index in `records` of its input.
    pub(super) origin: Vec<usize>,
}

impl ReadBatch {
    pub(super) fn clear(&mut self) {
        self.partitions.clear();
        self.records.clear();
        self.origin.clear();
    }

    /// The topic, partition and record as read of entry `i` of the batch being put.
    pub(super) fn input(&self, i: usize) -> Option<(&str, u32, &Record)> {
        let (p, _, r) = self.records.get(*self.origin.get(i)?)?;
        let (topic, partition) = self.partitions.get(*p)?;
        Some((topic, *partition, r))
    }
}
