//! The flat batch form: records to one byte buffer plus lists of numbers, and back.
//!
//! A record is six `u32`s in `records` (key offset and length, value offset and length, first
//! header, header count), a header four in `headers`; [`NULL`] as a length marks a null. The
//! encoder keeps its buffers between calls, so a steady stream of batches allocates nothing on
//! the host side, and the component model copies each list in one go.

use bytes::Bytes;

use super::bindings::Batch;
use crate::log::batch::Record;

/// The length that marks a null key, value or header value.
pub const NULL: u32 = u32::MAX;
/// Numbers per record in `records`.
pub const RECORD_FIELDS: usize = 6;
/// Numbers per header in `headers`.
pub const HEADER_FIELDS: usize = 4;

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
                timestamps: Vec::new(),
                headers: Vec::new(),
            },
        }
    }
}

/// Appends `bytes` (or nothing for a null) and returns its offset and length.
fn span(data: &mut Vec<u8>, bytes: Option<&[u8]>) -> Result<[u32; 2], &'static str> {
    let offset = u32::try_from(data.len()).map_err(|_| "more than 4 GiB of record bytes")?;
    let Some(bytes) = bytes else {
        return Ok([offset, NULL]);
    };
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|&l| l != NULL)
        .ok_or("a field of 4 GiB or more")?;
    data.extend_from_slice(bytes);
    Ok([offset, len])
}

impl FlatEncoder {
    /// Encodes `records`, replacing the previous batch; returns it for the call.
    pub fn encode(&mut self, records: &[Record]) -> Result<&Batch, &'static str> {
        let b = &mut self.batch;
        b.data.clear();
        b.records.clear();
        b.timestamps.clear();
        b.headers.clear();
        for r in records {
            let key = span(&mut b.data, r.key.as_deref())?;
            let value = span(&mut b.data, r.value.as_deref())?;
            let first =
                u32::try_from(b.headers.len() / HEADER_FIELDS).map_err(|_| "too many headers")?;
            for (hk, hv) in &r.headers {
                let k = span(&mut b.data, Some(hk.as_bytes()))?;
                let v = span(&mut b.data, hv.as_deref())?;
                b.headers.extend_from_slice(&[k[0], k[1], v[0], v[1]]);
            }
            let count = u32::try_from(r.headers.len()).map_err(|_| "too many headers")?;
            b.records
                .extend_from_slice(&[key[0], key[1], value[0], value[1], first, count]);
            b.timestamps.push(r.timestamp);
        }
        Ok(&self.batch)
    }
}

/// Total bytes a batch carries.
pub fn data_len(batch: &Batch) -> usize {
    batch.data.len()
}

/// Number of records in a batch (whole six-number groups).
pub fn record_count(batch: &Batch) -> usize {
    batch.records.len() / RECORD_FIELDS
}

/// Decodes a plugin's batch into records, checking every number against the buffers.
pub fn decode(batch: Batch) -> Result<Vec<Record>, FlatError> {
    let n = record_count(&batch);
    if !batch.records.len().is_multiple_of(RECORD_FIELDS)
        || !batch.headers.len().is_multiple_of(HEADER_FIELDS)
    {
        return Err(FlatError(format!(
            "{} record numbers and {} header numbers are not whole groups of {RECORD_FIELDS} and {HEADER_FIELDS}",
            batch.records.len(),
            batch.headers.len()
        )));
    }
    if batch.timestamps.len() != n {
        return Err(FlatError(format!(
            "{} timestamps for {n} records",
            batch.timestamps.len()
        )));
    }
    let data = Bytes::from(batch.data);
    let slice = |offset: u32, len: u32, what: &str, i: usize| -> Result<Option<Bytes>, FlatError> {
        if len == NULL {
            return Ok(None);
        }
        let start = offset as usize;
        match start.checked_add(len as usize).filter(|&e| e <= data.len()) {
            Some(end) => Ok(Some(data.slice(start..end))),
            None => Err(FlatError(format!(
                "record {i}: {what} {offset}+{len} runs past the {}-byte buffer",
                data.len()
            ))),
        }
    };
    let mut out = Vec::with_capacity(n);
    for (i, (f, &timestamp)) in batch
        .records
        .chunks_exact(RECORD_FIELDS)
        .zip(&batch.timestamps)
        .enumerate()
    {
        let key = slice(f[0], f[1], "key", i)?;
        let value = slice(f[2], f[3], "value", i)?;
        let (first, count) = (f[4] as usize, f[5] as usize);
        let views = first
            .checked_add(count)
            .and_then(|end| {
                batch
                    .headers
                    .get(first * HEADER_FIELDS..end.checked_mul(HEADER_FIELDS)?)
            })
            .ok_or_else(|| {
                FlatError(format!(
                    "record {i}: headers {first}+{count} run past the {} headers",
                    batch.headers.len() / HEADER_FIELDS
                ))
            })?;
        let mut headers = Vec::with_capacity(count);
        for h in views.chunks_exact(HEADER_FIELDS) {
            let key = slice(h[0], h[1], "header key", i)?
                .ok_or_else(|| FlatError(format!("record {i}: a header key is null")))?;
            let key = String::from_utf8(key.to_vec())
                .map_err(|_| FlatError(format!("record {i}: a header key is not UTF-8")))?;
            headers.push((key, slice(h[2], h[3], "header value", i)?));
        }
        out.push(Record {
            key,
            value,
            headers,
            timestamp,
        });
    }
    Ok(out)
}
