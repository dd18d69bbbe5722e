//! A task's output on its way to the log: records grouped per (topic, partition) and
//! numbered, the outbox form they are committed in, batch-sized chunks, dead letters, and
//! the sequence arithmetic that tells a replay what the log already holds.

use std::sync::Arc;

use bytes::Bytes;

use crate::broker::Topic;
use crate::log::batch::Record;

use super::chain::{Emitted, Failed};
use super::store::{OutboxGroup, OutboxHeader, OutboxRecord};

/// Sequences are i32 and wrap to 0 after i32::MAX, as Kafka's do.
pub const SEQ_MODULUS: u64 = 1 << 31;

/// Output records for one (topic, partition), numbered from `first_seq`.
pub struct Group {
    /// Topic name.
    pub name: String,
    /// The topic.
    pub topic: Arc<Topic>,
    /// Partition.
    pub partition: u32,
    /// Sequence number of the first record.
    pub first_seq: u64,
    /// The records, in order.
    pub records: Vec<Record>,
}

/// A group in the form the checkpoint's outbox keeps.
pub fn to_outbox(g: &Group) -> OutboxGroup {
    OutboxGroup {
        topic: g.name.clone(),
        partition: g.partition,
        first_seq: g.first_seq,
        records: g
            .records
            .iter()
            .map(|r| OutboxRecord {
                key: r.key.clone(),
                value: r.value.clone(),
                headers: r
                    .headers
                    .iter()
                    .map(|(k, v)| OutboxHeader(k.clone(), v.clone()))
                    .collect(),
                timestamp: r.timestamp,
            })
            .collect(),
    }
}

/// An outbox record back as a record to append.
pub fn from_outbox(r: &OutboxRecord) -> Record {
    Record {
        key: r.key.clone(),
        value: r.value.clone(),
        headers: r
            .headers
            .iter()
            .map(|OutboxHeader(k, v)| (k.clone(), v.clone()))
            .collect(),
        timestamp: r.timestamp,
    }
}

/// How many of the records numbered from `next` (the committed sequence) are already in
/// the log when the producer's last appended sequence is `last` (both modulo 2^31).
pub fn already_appended(next: u64, last: i32) -> usize {
    let base = (next % SEQ_MODULUS) as i64;
    let diff = (i64::from(last) - base).rem_euclid(SEQ_MODULUS as i64);
    // `last` before `next` (the usual case: everything appended was committed) shows as a
    // difference in the upper half.
    if diff >= (SEQ_MODULUS / 2) as i64 {
        0
    } else {
        diff as usize + 1
    }
}

/// Splits records into runs of roughly at most `max_bytes` encoded.
pub fn chunks(records: &[Record], max_bytes: usize) -> Vec<&[Record]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (i, r) in records.iter().enumerate() {
        let len = 32
            + r.key.as_ref().map_or(0, Bytes::len)
            + r.value.as_ref().map_or(0, Bytes::len)
            + r.headers
                .iter()
                .map(|(k, v)| k.len() + v.as_ref().map_or(0, Bytes::len) + 8)
                .sum::<usize>();
        if i > start && size + len > max_bytes {
            out.push(&records[start..i]);
            start = i;
            size = 0;
        }
        size += len;
    }
    if start < records.len() {
        out.push(&records[start..]);
    }
    out
}

/// Most dead letters one listing returns (`GET /v1/pipelines/{name}/dead-letters`).
pub const MAX_DEAD_LETTERS_LISTED: usize = 100;
/// Bytes (keys, values, headers) of dead letters one listing reads, across partitions:
/// past it the listing holds fewer records rather than more memory.
pub const MAX_DEAD_LETTER_BYTES: usize = 8 << 20;

/// The newest records of a pipeline's dead-letter topic, newest first.
#[derive(Debug, Default)]
pub struct DeadLetters {
    /// The pipeline's `dead_letter_topic` (`None`: it has none, so nothing is listed).
    pub topic: Option<String>,
    /// `(partition, record)`, newest first (by timestamp, then offset).
    pub records: Vec<(u32, crate::log::batch::StoredRecord)>,
}

/// The original record, routed to the dead-letter topic with headers naming the failure.
pub fn dead_letter(
    dlq: &str,
    pipeline: &str,
    topic: &str,
    partition: u32,
    offset: i64,
    record: &Record,
    failure: &Failed,
) -> Emitted {
    let mut record = record.clone();
    let h = |v: String| Some(Bytes::from(v));
    record.headers.extend([
        ("weir.error".to_string(), h(failure.message.clone())),
        ("weir.pipeline".to_string(), h(pipeline.to_string())),
        ("weir.step".to_string(), h(failure.step.to_string())),
        ("weir.topic".to_string(), h(topic.to_string())),
        ("weir.partition".to_string(), h(partition.to_string())),
        ("weir.offset".to_string(), h(offset.to_string())),
    ]);
    Emitted {
        topic: Some(dlq.to_string()),
        record,
        source: failure.source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn already_appended_counts_across_the_wrap() {
        assert_eq!(already_appended(10, 9), 0);
        assert_eq!(already_appended(10, 10), 1);
        assert_eq!(already_appended(10, 14), 5);
        assert_eq!(already_appended(0, i32::MAX), 0);
        let near = SEQ_MODULUS - 2;
        assert_eq!(already_appended(near, 1), 4);
        assert_eq!(already_appended(SEQ_MODULUS + 5, 6), 2);
    }

    #[test]
    fn chunks_cover_every_record_in_order() {
        let r = Record {
            value: Some(Bytes::from(vec![0u8; 100])),
            ..Record::default()
        };
        let records = vec![r; 25];
        let c = chunks(&records, 1000);
        assert!(c.len() > 1);
        assert_eq!(c.iter().map(|c| c.len()).sum::<usize>(), 25);
        assert!(chunks(&[], 1000).is_empty());
    }
}
