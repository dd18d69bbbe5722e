//! [`RecordRead`]: committed records of one partition decoded, for readers that want
//! records rather than stored batches (the HTTP consume, the playground's topic input,
//! a pipeline's dead letters).

use crate::log::batch::{self, BatchIter, StoredRecord};

use super::producer::ProducerRegistry;
use super::{Broker, BrokerError};

/// Bytes of batches read from the log per step.
const READ_BYTES: usize = 1 << 20;
/// Bytes of batches one read decodes at most, however few records they hold.
const MAX_READ_BYTES: usize = 8 << 20;

/// What one read found.
#[derive(Debug, Default)]
pub struct RecordRead {
    /// The records, in offset order.
    pub records: Vec<StoredRecord>,
    /// The offset after the last batch read, records or not (control batches).
    pub next_offset: i64,
    /// The partition's high watermark when read.
    pub high_watermark: i64,
}

impl RecordRead {
    /// Reads and decodes up to `max` committed records from `offset` on, across segment
    /// boundaries, stopping at the last stable offset (an open transaction's first
    /// record) or after a few MiB of batches; aborted transactions' records and markers
    /// are skipped.
    pub fn committed(
        broker: &Broker,
        producers: &ProducerRegistry,
        topic: &str,
        partition: i64,
        offset: i64,
        max: usize,
    ) -> Result<RecordRead, BrokerError> {
        Self::committed_within(broker, producers, topic, partition, offset, max, usize::MAX)
    }

    /// As [`RecordRead::committed`], also stopping once the records read hold more than
    /// `max_bytes` (keys, values, headers), so a caller with a byte cap reads little past it.
    #[allow(clippy::too_many_arguments)]
    pub fn committed_within(
        broker: &Broker,
        producers: &ProducerRegistry,
        topic: &str,
        partition: i64,
        offset: i64,
        max: usize,
        max_bytes: usize,
    ) -> Result<RecordRead, BrokerError> {
        let mut held = 0usize;
        let mut out = RecordRead {
            records: Vec::new(),
            next_offset: offset,
            high_watermark: -1,
        };
        let mut budget = MAX_READ_BYTES;
        loop {
            let t = broker.topic(topic)?;
            let p = u32::try_from(partition).map_err(|_| BrokerError::UnknownPartition {
                topic: topic.to_string(),
                partition,
                count: t.partition_count(),
            })?;
            let committed = match producers.read_committed(&t, p, out.next_offset, READ_BYTES) {
                // Records read before a damaged range are answered; the next read, at
                // the damage, gets the error naming it.
                Err(BrokerError::Log {
                    source: crate::log::LogError::Damaged { .. },
                    ..
                }) if !out.records.is_empty() => return Ok(out),
                other => other?,
            };
            let read = &committed.read;
            out.high_watermark = read.high_watermark;
            if read.bytes.is_empty() {
                return Ok(out);
            }
            budget = budget.saturating_sub(read.bytes.len());
            for item in BatchIter::new(&read.bytes) {
                let (header, bytes) = item.map_err(|e| BrokerError::log(topic, p)(e.into()))?;
                if committed.is_aborted(&header) {
                    out.next_offset = out.next_offset.max(header.next_offset());
                    continue;
                }
                let decoded = batch::decode_records(bytes)
                    .map_err(|e| BrokerError::log(topic, p)(e.into()))?;
                let fresh = decoded.into_iter().filter(|r| r.offset >= offset);
                let before = out.records.len();
                out.records.extend(fresh);
                held = held.saturating_add(out.records[before..].iter().map(bytes_of).sum());
                out.next_offset = out.next_offset.max(header.next_offset());
                if out.records.len() >= max {
                    out.records.truncate(max);
                    return Ok(out);
                }
                if held > max_bytes {
                    return Ok(out);
                }
            }
            if budget == 0 || out.next_offset >= committed.last_stable {
                return Ok(out);
            }
        }
    }
}

/// The bytes a record holds: key, value, header names and values.
pub fn bytes_of(r: &StoredRecord) -> usize {
    let len = |b: &Option<bytes::Bytes>| b.as_ref().map_or(0, |b| b.len());
    len(&r.key)
        + len(&r.value)
        + r.headers
            .iter()
            .map(|(k, v)| k.len() + len(v))
            .sum::<usize>()
}
