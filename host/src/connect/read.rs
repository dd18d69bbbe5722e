//! Reading a partition as a sink does: committed records only (the last stable offset
//! bounds the read, aborted transactions' records are skipped), from an offset, a bounded
//! number of bytes at a time.

use crate::broker::BrokerError;
use crate::broker::Topic;
use crate::broker::producer::ProducerRegistry;
use crate::log::batch::{BatchIter, decode_records};
use crate::record::Record;

/// Records read from one partition: (offset, record) in order, and the next offset to read.
pub type Read = (Vec<(i64, Record)>, i64);

/// Reads committed records of `topic`/`partition` from `from`, about `max_bytes` of them.
pub fn committed(
    producers: &ProducerRegistry,
    topic: &Topic,
    partition: u32,
    from: i64,
    max_bytes: usize,
) -> Result<Read, BrokerError> {
    let log = topic.partition(i64::from(partition))?;
    let stats = log.stats();
    let from = from.max(stats.log_start_offset);
    if from >= stats.high_watermark {
        return Ok((Vec::new(), from));
    }
    let read = producers.read_committed(topic, partition, from, max_bytes)?;
    let limit = read.read.high_watermark.min(read.last_stable);
    let in_log = |e: crate::log::LogError| BrokerError::log(topic.name(), partition)(e);
    let mut out = Vec::new();
    let mut next = from;
    for batch in BatchIter::new(&read.read.bytes) {
        let (header, bytes) = batch.map_err(|e| in_log(e.into()))?;
        if header.base_offset >= limit {
            break;
        }
        next = next.max(header.next_offset().min(limit));
        if header.is_control() || read.is_aborted(&header) {
            continue;
        }
        for r in decode_records(bytes).map_err(|e| in_log(e.into()))? {
            if r.offset < from || r.offset >= limit {
                continue;
            }
            out.push((
                r.offset,
                Record {
                    key: r.key,
                    value: r.value,
                    headers: r.headers,
                    timestamp: r.timestamp,
                },
            ));
        }
    }
    Ok((out, next))
}
