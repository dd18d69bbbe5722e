//! Records: zero-copy views of the input batch, and owned records to emit.
//!
//! A record is six numbers in `batch.records` (key offset and length, value offset and length,
//! first header, header count), a header four in `batch.headers`; `u32::MAX` as a length is null.

use crate::bindings::weir::plugin::types::Batch;

const NULL: u32 = u32::MAX;
const RECORD_FIELDS: usize = 6;
const HEADER_FIELDS: usize = 4;

/// Number of records in a batch.
pub(crate) fn record_count(batch: &Batch) -> usize {
    batch.records.len() / RECORD_FIELDS
}

/// Checks that a batch's lists agree in length. Spans are not checked one by one here: the
/// host checks them natively before it sends a batch (that pass cost a fifth of a filter's time
/// in Wasm), and a view whose span lies outside the batch reads as empty instead of failing,
/// so nothing can panic even if a host did send one.
pub(crate) fn validate(batch: &Batch) -> Result<(), String> {
    if !batch.records.len().is_multiple_of(RECORD_FIELDS)
        || !batch.headers.len().is_multiple_of(HEADER_FIELDS)
        || batch.timestamps.len() != record_count(batch)
    {
        return Err("record, header and timestamp lists do not match".into());
    }
    Ok(())
}

fn span_bytes(data: &[u8], offset: u32, len: u32) -> Option<&[u8]> {
    if len == NULL {
        return None;
    }
    let start = offset as usize;
    Some(
        data.get(start..start.saturating_add(len as usize))
            .unwrap_or_default(),
    )
}

/// Views of every record of a batch, in order, with their offsets from `offsets`
/// (-1 where the host sent none) and the topic and partition the batch came from.
pub(crate) fn views<'a>(
    batch: &'a Batch,
    offsets: &'a [i64],
    topic: &'a str,
    partition: u32,
) -> impl Iterator<Item = (u32, Record<'a>)> + 'a {
    batch
        .records
        .chunks_exact(RECORD_FIELDS)
        .zip(&batch.timestamps)
        .enumerate()
        .map(move |(index, (fields, &timestamp))| {
            let offset = offsets.get(index).copied().unwrap_or(-1);
            let record = Record::of(batch, fields, timestamp, offset);
            (index as u32, record.in_topic(topic, partition))
        })
}

/// One input record, borrowed from the batch: reading it copies nothing, and nothing is
/// looked up until asked for (a filter that reads only the value pays only for the value).
#[derive(Clone, Copy)]
pub struct Record<'a> {
    data: &'a [u8],
    /// This record's six numbers.
    fields: &'a [u32],
    /// Every header of the batch; this record's are `fields[4]..fields[4] + fields[5]`.
    all_headers: &'a [u32],
    timestamp: i64,
    offset: i64,
    topic: &'a str,
    partition: u32,
}

impl<'a> Record<'a> {
    /// The view of the record whose six numbers are `fields` (a slice of `batch.records`).
    fn of(batch: &'a Batch, fields: &'a [u32], timestamp: i64, offset: i64) -> Record<'a> {
        Record {
            data: &batch.data,
            fields,
            all_headers: &batch.headers,
            timestamp,
            offset,
            topic: "",
            partition: 0,
        }
    }

    /// The same view, read from `topic`'s `partition` (the batch's origin).
    fn in_topic(self, topic: &'a str, partition: u32) -> Record<'a> {
        Record {
            topic,
            partition,
            ..self
        }
    }

    /// Record `index` of `batch`, if there is one.
    #[cfg(feature = "processor")]
    pub(crate) fn at(batch: &'a Batch, index: usize, offset: i64) -> Option<Record<'a>> {
        let at = index.checked_mul(RECORD_FIELDS)?;
        let fields = batch.records.get(at..at.checked_add(RECORD_FIELDS)?)?;
        let timestamp = batch.timestamps.get(index).copied().unwrap_or_default();
        Some(Record::of(batch, fields, timestamp, offset))
    }

    /// The key, or `None` for a null key.
    pub fn key(&self) -> Option<&'a [u8]> {
        span_bytes(self.data, self.fields[0], self.fields[1])
    }

    /// The value, or `None` for a tombstone.
    pub fn value(&self) -> Option<&'a [u8]> {
        span_bytes(self.data, self.fields[2], self.fields[3])
    }

    /// The value as UTF-8 text, if it is present and valid UTF-8.
    pub fn value_str(&self) -> Option<&'a str> {
        self.value().and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The headers in order (duplicates allowed, as in Kafka).
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, Option<&'a [u8]>)> + 'a {
        let data = self.data;
        let first = (self.fields[4] as usize).saturating_mul(HEADER_FIELDS);
        let count = (self.fields[5] as usize).saturating_mul(HEADER_FIELDS);
        let mine = self
            .all_headers
            .get(first..first.saturating_add(count))
            .unwrap_or_default();
        mine.chunks_exact(HEADER_FIELDS).map(move |h| {
            let key = span_bytes(data, h[0], h[1]).unwrap_or_default();
            let key = std::str::from_utf8(key).unwrap_or_default();
            (key, span_bytes(data, h[2], h[3]))
        })
    }

    /// The first header named `name`: `None` if absent, `Some(None)` if its value is null.
    pub fn header(&self, name: &str) -> Option<Option<&'a [u8]>> {
        self.headers().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// Create time in milliseconds since the Unix epoch.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The record's offset in its input partition.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// The topic the record was read from (empty for a processor's timer).
    pub fn topic(&self) -> &'a str {
        self.topic
    }

    /// The partition the record was read from.
    pub fn partition(&self) -> u32 {
        self.partition
    }

    /// An owned copy, to change and emit.
    pub fn to_owned(&self) -> OwnedRecord {
        OwnedRecord {
            key: self.key().map(<[u8]>::to_vec),
            value: self.value().map(<[u8]>::to_vec),
            headers: self
                .headers()
                .map(|(k, v)| (k.to_owned(), v.map(<[u8]>::to_vec)))
                .collect(),
            timestamp: self.timestamp(),
        }
    }
}

impl std::fmt::Debug for Record<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("key", &self.key())
            .field("value", &self.value())
            .field("timestamp", &self.timestamp())
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// A record to emit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnedRecord {
    /// The key, `None` for a null key.
    pub key: Option<Vec<u8>>,
    /// The value, `None` for a tombstone.
    pub value: Option<Vec<u8>>,
    /// Headers in order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Create time in milliseconds since the Unix epoch.
    pub timestamp: i64,
}

impl OwnedRecord {
    /// A record with this value, no key, no headers and timestamp 0 (set it to keep the input's).
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        OwnedRecord {
            value: Some(value.into()),
            ..Self::default()
        }
    }

    /// The same record with a key.
    pub fn with_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// The same record with one more header.
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((key.into(), Some(value.into())));
        self
    }

    /// The same record with this timestamp.
    pub fn with_timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = timestamp;
        self
    }
}

/// Builds an outgoing flat batch.
#[derive(Default)]
pub(crate) struct BatchWriter {
    batch: Option<Batch>,
    pub(crate) sources: Vec<u32>,
}

pub(crate) fn empty_batch() -> Batch {
    Batch {
        data: Vec::new(),
        records: Vec::new(),
        timestamps: Vec::new(),
        headers: Vec::new(),
    }
}

fn put(data: &mut Vec<u8>, bytes: Option<&[u8]>) -> [u32; 2] {
    let offset = data.len() as u32;
    match bytes {
        None => [offset, NULL],
        Some(b) => {
            data.extend_from_slice(b);
            [offset, b.len() as u32]
        }
    }
}

impl BatchWriter {
    /// Appends one record that came from input `source`.
    pub(crate) fn push(&mut self, record: &OwnedRecord, source: u32) {
        let b = self.batch.get_or_insert_with(empty_batch);
        let key = put(&mut b.data, record.key.as_deref());
        let value = put(&mut b.data, record.value.as_deref());
        let first = (b.headers.len() / HEADER_FIELDS) as u32;
        for (k, v) in &record.headers {
            let k = put(&mut b.data, Some(k.as_bytes()));
            let v = put(&mut b.data, v.as_deref());
            b.headers.extend_from_slice(&[k[0], k[1], v[0], v[1]]);
        }
        let count = record.headers.len() as u32;
        b.records
            .extend_from_slice(&[key[0], key[1], value[0], value[1], first, count]);
        b.timestamps.push(record.timestamp);
        self.sources.push(source);
    }

    /// The batch written so far.
    pub(crate) fn finish(self) -> (Batch, Vec<u32>) {
        (self.batch.unwrap_or_else(empty_batch), self.sources)
    }
}
