//! Records: zero-copy views of the input batch, and owned records to emit.

use crate::bindings::weir::plugin::types::{Batch, HeaderView, RecordView, Span};

/// Checks every span and header range of a batch once, so the views never fail afterwards.
pub(crate) fn validate(batch: &Batch) -> Result<(), String> {
    let in_data = |s: &Span| {
        (s.offset as usize)
            .checked_add(s.len as usize)
            .is_some_and(|e| e <= batch.data.len())
    };
    for (i, r) in batch.records.iter().enumerate() {
        let spans_ok = r.key.as_ref().is_none_or(in_data) && r.value.as_ref().is_none_or(in_data);
        let headers = (r.headers_start as usize)
            .checked_add(r.headers_len as usize)
            .and_then(|end| batch.headers.get(r.headers_start as usize..end));
        let Some(headers) = headers else {
            return Err(format!("record {i}: header range past the batch"));
        };
        let headers_ok = headers.iter().all(|h| {
            in_data(&h.key)
                && h.value.as_ref().is_none_or(in_data)
                && std::str::from_utf8(span_bytes(&batch.data, h.key)).is_ok()
        });
        if !spans_ok || !headers_ok {
            return Err(format!(
                "record {i}: a span runs past the batch data or a header key is not UTF-8"
            ));
        }
    }
    Ok(())
}

fn span_bytes(data: &[u8], s: Span) -> &[u8] {
    let start = s.offset as usize;
    data.get(start..start.saturating_add(s.len as usize))
        .unwrap_or_default()
}

/// One input record, borrowed from the batch: reading it copies nothing.
#[derive(Clone, Copy)]
pub struct Record<'a> {
    data: &'a [u8],
    view: &'a RecordView,
    headers: &'a [HeaderView],
    offset: i64,
}

impl<'a> Record<'a> {
    pub(crate) fn new(batch: &'a Batch, index: usize, offset: i64) -> Option<Record<'a>> {
        let view = batch.records.get(index)?;
        let start = view.headers_start as usize;
        let headers = batch
            .headers
            .get(start..start.saturating_add(view.headers_len as usize))
            .unwrap_or_default();
        Some(Record {
            data: &batch.data,
            view,
            headers,
            offset,
        })
    }

    /// The key, or `None` for a null key.
    pub fn key(&self) -> Option<&'a [u8]> {
        self.view.key.map(|s| span_bytes(self.data, s))
    }

    /// The value, or `None` for a tombstone.
    pub fn value(&self) -> Option<&'a [u8]> {
        self.view.value.map(|s| span_bytes(self.data, s))
    }

    /// The value as UTF-8 text, if it is present and valid UTF-8.
    pub fn value_str(&self) -> Option<&'a str> {
        self.value().and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The headers in order (duplicates allowed, as in Kafka).
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, Option<&'a [u8]>)> + 'a {
        let data = self.data;
        self.headers.iter().map(move |h| {
            let key = std::str::from_utf8(span_bytes(data, h.key)).unwrap_or_default();
            (key, h.value.map(|s| span_bytes(data, s)))
        })
    }

    /// The first header named `name`: `None` if absent, `Some(None)` if its value is null.
    pub fn header(&self, name: &str) -> Option<Option<&'a [u8]>> {
        self.headers().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// Create time in milliseconds since the Unix epoch.
    pub fn timestamp(&self) -> i64 {
        self.view.timestamp
    }

    /// The record's offset in its input partition.
    pub fn offset(&self) -> i64 {
        self.offset
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

fn put(data: &mut Vec<u8>, bytes: &[u8]) -> Span {
    let offset = data.len() as u32;
    data.extend_from_slice(bytes);
    Span {
        offset,
        len: bytes.len() as u32,
    }
}

impl BatchWriter {
    /// Appends one record that came from input `source`.
    pub(crate) fn push(&mut self, record: &OwnedRecord, source: u32) {
        let b = self.batch.get_or_insert_with(|| Batch {
            data: Vec::new(),
            records: Vec::new(),
            headers: Vec::new(),
        });
        let key = record.key.as_deref().map(|k| put(&mut b.data, k));
        let value = record.value.as_deref().map(|v| put(&mut b.data, v));
        let headers_start = b.headers.len() as u32;
        for (k, v) in &record.headers {
            let key = put(&mut b.data, k.as_bytes());
            let value = v.as_deref().map(|v| put(&mut b.data, v));
            b.headers.push(HeaderView { key, value });
        }
        b.records.push(RecordView {
            key,
            value,
            headers_start,
            headers_len: record.headers.len() as u32,
            timestamp: record.timestamp,
        });
        self.sources.push(source);
    }

    /// The batch written so far.
    pub(crate) fn finish(self) -> (Batch, Vec<u32>) {
        let batch = self.batch.unwrap_or(Batch {
            data: Vec::new(),
            records: Vec::new(),
            headers: Vec::new(),
        });
        (batch, self.sources)
    }
}
