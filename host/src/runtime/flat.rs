//! The flat batch form: records to one byte buffer plus fixed-size views, and back.
//!
//! The encoder keeps its buffers between calls, so a steady stream of batches allocates nothing
//! on the host side; the component model then copies each of the three lists in one go.

use bytes::Bytes;

use super::bindings::{Batch, HeaderView, RecordView, Span};
use crate::log::batch::Record;

/// Why a flat batch from a plugin is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlatError(pub String);

/// Reusable buffers for encoding records into a [`Batch`].
#[derive(Debug)]
pub struct FlatEncoder {
    batch: Batch,
}

impl Default for FlatEncoder {
    fn default() -> Self {
        FlatEncoder {
            batch: Batch {
                data: Vec::new(),
                records: Vec::new(),
                headers: Vec::new(),
            },
        }
    }
}

fn span(data: &mut Vec<u8>, bytes: &[u8]) -> Result<Span, &'static str> {
    let offset = u32::try_from(data.len()).map_err(|_| "more than 4 GiB of record bytes")?;
    let len = u32::try_from(bytes.len()).map_err(|_| "a field over 4 GiB")?;
    data.extend_from_slice(bytes);
    Ok(Span { offset, len })
}

impl FlatEncoder {
    /// Encodes `records`, replacing the previous batch; returns it for the call.
    pub fn encode(&mut self, records: &[Record]) -> Result<&Batch, &'static str> {
        let b = &mut self.batch;
        b.data.clear();
        b.records.clear();
        b.headers.clear();
        for r in records {
            let key = r.key.as_deref().map(|k| span(&mut b.data, k)).transpose()?;
            let value = r
                .value
                .as_deref()
                .map(|v| span(&mut b.data, v))
                .transpose()?;
            let headers_start = u32::try_from(b.headers.len()).map_err(|_| "too many headers")?;
            for (hk, hv) in &r.headers {
                let key = span(&mut b.data, hk.as_bytes())?;
                let value = hv.as_deref().map(|v| span(&mut b.data, v)).transpose()?;
                b.headers.push(HeaderView { key, value });
            }
            let headers_len = u32::try_from(r.headers.len()).map_err(|_| "too many headers")?;
            b.records.push(RecordView {
                key,
                value,
                headers_start,
                headers_len,
                timestamp: r.timestamp,
            });
        }
        Ok(&self.batch)
    }
}

/// Total bytes a batch carries.
pub fn data_len(batch: &Batch) -> usize {
    batch.data.len()
}

/// Decodes a plugin's batch into records, checking every span and header range.
pub fn decode(batch: Batch) -> Result<Vec<Record>, FlatError> {
    let data = Bytes::from(batch.data);
    let slice = |s: Span, what: &str, i: usize| -> Result<Bytes, FlatError> {
        let start = s.offset as usize;
        let end = start
            .checked_add(s.len as usize)
            .filter(|&e| e <= data.len());
        match end {
            Some(end) => Ok(data.slice(start..end)),
            None => Err(FlatError(format!(
                "record {i}: {what} span {}+{} runs past the {}-byte buffer",
                s.offset,
                s.len,
                data.len()
            ))),
        }
    };
    let mut out = Vec::with_capacity(batch.records.len());
    for (i, r) in batch.records.iter().enumerate() {
        let key = r.key.map(|s| slice(s, "key", i)).transpose()?;
        let value = r.value.map(|s| slice(s, "value", i)).transpose()?;
        let start = r.headers_start as usize;
        let views = start
            .checked_add(r.headers_len as usize)
            .and_then(|end| batch.headers.get(start..end))
            .ok_or_else(|| {
                FlatError(format!(
                    "record {i}: headers {}+{} run past the {} headers",
                    r.headers_start,
                    r.headers_len,
                    batch.headers.len()
                ))
            })?;
        let mut headers = Vec::with_capacity(views.len());
        for h in views {
            let key = slice(h.key, "header key", i)?;
            let key = String::from_utf8(key.to_vec())
                .map_err(|_| FlatError(format!("record {i}: a header key is not UTF-8")))?;
            let value = h.value.map(|s| slice(s, "header value", i)).transpose()?;
            headers.push((key, value));
        }
        out.push(Record {
            key,
            value,
            headers,
            timestamp: r.timestamp,
        });
    }
    Ok(out)
}
