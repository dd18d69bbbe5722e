//! The flat batch form: records to one byte buffer plus lists of numbers, and back.
//!
//! A record is six `u32`s in `records` (key offset and length, value offset and length, first
//! header, header count), a header four in `headers`; [`NULL`] as a length marks a null. The
//! encoder keeps its buffers between calls, so a steady stream of batches allocates nothing on
//! the host side, and the component model copies each list in one go.

use bytes::Bytes;

use super::bindings::Batch;
use crate::record::Record;

/// The length that marks a null key, value or header value.
pub const NULL: u32 = u32::MAX;
/// Numbers per record in `records`.
pub const RECORD_FIELDS: usize = 6;
/// Numbers per header in `headers`.
pub const HEADER_FIELDS: usize = 4;

/// Why a flat batch from a plugin is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlatError(pub String);

/// A flat batch known to be well formed, its shape and every span: written by [`FlatEncoder`]
/// or checked by [`CheckedBatch::new`]. `Instance::process_flat` takes this, so the check is paid
/// once where a batch is made (and not at all by code that writes batches itself), never per
/// call; the guest SDKs then only check list shapes.
#[derive(Debug, Clone)]
pub struct CheckedBatch {
    batch: Batch,
    records: usize,
}

impl CheckedBatch {
    /// Checks `batch` (see [`check`]).
    pub fn new(batch: Batch) -> Result<Self, FlatError> {
        let records = check(&batch)?;
        Ok(CheckedBatch { batch, records })
    }

    /// The batch.
    pub fn batch(&self) -> &Batch {
        &self.batch
    }

    /// Its record count.
    pub fn records(&self) -> usize {
        self.records
    }
}

fn empty() -> Batch {
    Batch {
        data: Vec::new(),
        records: Vec::new(),
        timestamps: Vec::new(),
        headers: Vec::new(),
    }
}

/// Reusable buffers for encoding records into a [`CheckedBatch`].
#[derive(Debug)]
pub struct FlatEncoder {
    batch: CheckedBatch,
}

impl Default for FlatEncoder {
    fn default() -> Self {
        FlatEncoder {
            batch: CheckedBatch {
                batch: empty(),
                records: 0,
            },
        }
    }
}

/// Appends `src` to `data`. Fields up to 256 bytes are copied as fixed-size 16-, 8- or 4-byte
/// moves (the last one overlapping) or, under 4 bytes, byte by byte, all inlined: a `memcpy`
/// call per key, value and header cost more than the bytes it moved (measured in
/// `weir bench wasm`, where encoding was a quarter of a filter's time).
#[inline(always)]
fn append(data: &mut Vec<u8>, src: &[u8]) {
    let len = src.len();
    if len > 256 {
        data.extend_from_slice(src);
        return;
    }
    let at = data.len();
    data.reserve(len);
    let dst = &mut data.spare_capacity_mut()[..len];
    if len >= 16 {
        let mut i = 0;
        while i + 16 <= len {
            dst[i..i + 16].write_copy_of_slice(&src[i..i + 16]);
            i += 16;
        }
        dst[len - 16..].write_copy_of_slice(&src[len - 16..]);
    } else if len >= 8 {
        dst[..8].write_copy_of_slice(&src[..8]);
        dst[len - 8..].write_copy_of_slice(&src[len - 8..]);
    } else if len >= 4 {
        dst[..4].write_copy_of_slice(&src[..4]);
        dst[len - 4..].write_copy_of_slice(&src[len - 4..]);
    } else {
        for (d, s) in dst.iter_mut().zip(src) {
            d.write(*s);
        }
    }
    // SAFETY: the `len` bytes after `at` were all written just above.
    unsafe { data.set_len(at + len) };
}

/// Appends `bytes` (or nothing for a null) and returns its offset and length (exact when the
/// batch stays under 4 GiB, which the caller checks at the end).
#[inline]
fn span(data: &mut Vec<u8>, bytes: Option<&[u8]>) -> [u32; 2] {
    let offset = data.len() as u32;
    match bytes {
        None => [offset, NULL],
        Some(bytes) => {
            append(data, bytes);
            [offset, bytes.len() as u32]
        }
    }
}

impl FlatEncoder {
    /// Encodes `records`, replacing the previous batch; returns it for the call.
    pub fn encode(&mut self, records: &[Record]) -> Result<&CheckedBatch, &'static str> {
        self.batch.records = 0;
        let b = &mut self.batch.batch;
        b.data.clear();
        b.records.clear();
        b.timestamps.clear();
        b.headers.clear();
        // The buffers keep their capacity from batch to batch, so these rarely allocate.
        b.records.reserve(records.len() * RECORD_FIELDS);
        b.timestamps.reserve(records.len());
        for r in records {
            let key = span(&mut b.data, r.key.as_deref());
            let value = span(&mut b.data, r.value.as_deref());
            let first = (b.headers.len() / HEADER_FIELDS) as u32;
            for (hk, hv) in &r.headers {
                let k = span(&mut b.data, Some(hk.as_bytes()));
                let v = span(&mut b.data, hv.as_deref());
                b.headers.extend_from_slice(&[k[0], k[1], v[0], v[1]]);
            }
            let count = r.headers.len() as u32;
            b.records
                .extend_from_slice(&[key[0], key[1], value[0], value[1], first, count]);
            b.timestamps.push(r.timestamp);
            // Checked per record, not per field: while the bytes stay below 4 GiB every
            // offset and length written above is exact and none equals NULL, and a batch far
            // too large stops here instead of being copied whole.
            if b.data.len() >= NULL as usize || b.headers.len() / HEADER_FIELDS >= NULL as usize {
                let what = if b.data.len() >= NULL as usize {
                    "more than 4 GiB of record bytes"
                } else {
                    "too many headers"
                };
                // Do not keep gigabytes of capacity for the instance's lifetime.
                *b = empty();
                return Err(what);
            }
        }
        self.batch.records = records.len();
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

/// Checks that a batch's lists agree (whole groups, one timestamp per record) and returns its
/// record count. [`check`] also checks every span.
pub fn check_shape(batch: &Batch) -> Result<usize, FlatError> {
    let n = record_count(batch);
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
    Ok(n)
}

/// Where the span `offset`+`len` ends, if it lies inside a `data_len`-byte buffer (`len` is not
/// NULL here). The one definition of a span being in range, for [`check`], [`value`] and [`decode`].
fn span_end(offset: u32, len: u32, data_len: usize) -> Option<usize> {
    (offset as usize)
        .checked_add(len as usize)
        .filter(|&end| end <= data_len)
}

/// Checks a batch before it goes to a guest: its shape, and that every span lies inside `data`
/// and every record's headers inside `headers` (the guest SDKs only check shapes, so a batch
/// that passes here is read exactly as written). One branch-free pass over the numbers; only a
/// bad batch pays for the second pass that names the record. Returns the record count.
pub fn check(batch: &Batch) -> Result<usize, FlatError> {
    let n = check_shape(batch)?;
    let data = batch.data.len();
    let headers = batch.headers.len() / HEADER_FIELDS;
    let span_ok = |offset: u32, len: u32| len == NULL || span_end(offset, len, data).is_some();
    let record_ok = |f: &[u32]| {
        let headers_ok = (f[4] as usize)
            .checked_add(f[5] as usize)
            .is_some_and(|e| e <= headers);
        span_ok(f[0], f[1]) & span_ok(f[2], f[3]) & headers_ok
    };
    // Header keys are strings: the SDKs read a key that is not UTF-8 as "" and `decode`
    // refuses it, so such a batch would not be read as written.
    let key_ok = |h: &[u32]| {
        let key = batch
            .data
            .get(h[0] as usize..span_end(h[0], h[1], data).unwrap_or(0));
        key.is_some_and(|k| std::str::from_utf8(k).is_ok())
    };
    let header_ok =
        |h: &[u32]| h[1] != NULL && span_ok(h[0], h[1]) && span_ok(h[2], h[3]) && key_ok(h);
    let records = batch.records.chunks_exact(RECORD_FIELDS);
    if !records.clone().fold(true, |ok, f| ok & record_ok(f)) {
        let i = records
            .clone()
            .position(|f| !record_ok(f))
            .unwrap_or_default();
        return Err(FlatError(format!(
            "record {i}: a key, value or header range runs past the batch"
        )));
    }
    if let Some(h) = batch
        .headers
        .chunks_exact(HEADER_FIELDS)
        .position(|h| !header_ok(h))
    {
        return Err(FlatError(format!(
            "header {h}: a null key, a key that is not UTF-8, or a span past the batch"
        )));
    }
    Ok(n)
}

/// The value of record `index` of a batch (`None`: a null value, or no such record or span).
/// How native code reads a flat batch in place, as the SDKs do in the guest.
pub fn value(batch: &Batch, index: usize) -> Option<&[u8]> {
    let f = batch
        .records
        .get(index.checked_mul(RECORD_FIELDS)?..)?
        .get(..RECORD_FIELDS)?;
    if f[3] == NULL {
        return None;
    }
    Some(&batch.data[f[2] as usize..span_end(f[2], f[3], batch.data.len())?])
}

/// Decodes a plugin's batch into records, checking every number against the buffers.
pub fn decode(batch: Batch) -> Result<Vec<Record>, FlatError> {
    let n = check_shape(&batch)?;
    let data = Bytes::from(batch.data);
    let slice = |offset: u32, len: u32, what: &str, i: usize| -> Result<Option<Bytes>, FlatError> {
        if len == NULL {
            return Ok(None);
        }
        match span_end(offset, len, data.len()) {
            Some(end) => Ok(Some(data.slice(offset as usize..end))),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: usize) -> Record {
        // Lengths 0..=300 cover every copy path of `append` (short, 4..8, 8..16, 16..=256, long).
        let bytes = |len: usize, salt: u8| {
            Bytes::from((0..len).map(|j| j as u8 ^ salt).collect::<Vec<_>>())
        };
        Record {
            key: (!i.is_multiple_of(7)).then(|| bytes(i % 40, 1)),
            value: (!i.is_multiple_of(11)).then(|| bytes(i, 2)),
            headers: (0..i % 3)
                .map(|h| {
                    (
                        format!("h{h}-{}", "x".repeat(i % 20)),
                        (h != 1).then(|| bytes(i % 33, 3)),
                    )
                })
                .collect(),
            timestamp: i as i64 * 1000 - 5,
        }
    }

    #[test]
    fn encoding_then_decoding_gives_back_every_record_of_every_length() {
        let records: Vec<Record> = (0..=300).map(record).collect();
        let mut encoder = FlatEncoder::default();
        // Twice through the same encoder: reused buffers must not leak the previous batch.
        encoder.encode(&records[..10]).unwrap();
        let batch = encoder.encode(&records).unwrap().batch().clone();
        assert_eq!(check_shape(&batch), Ok(records.len()));
        for (i, r) in records.iter().enumerate() {
            assert_eq!(value(&batch, i), r.value.as_deref(), "value of record {i}");
        }
        assert_eq!(value(&batch, records.len()), None);
        assert_eq!(
            value(&batch, usize::MAX),
            None,
            "no overflow on a huge index"
        );
        assert_eq!(decode(batch).unwrap(), records);
    }

    #[test]
    fn a_batch_whose_lists_disagree_is_refused_by_name() {
        let mut encoder = FlatEncoder::default();
        let mut batch = encoder
            .encode(&[record(5), record(6)])
            .unwrap()
            .batch()
            .clone();
        assert!(CheckedBatch::new(batch.clone()).is_ok());
        assert_eq!(check(&batch), Ok(2));
        // Record 1's value ends one byte past the data.
        let mut spans = batch.clone();
        spans.records[RECORD_FIELDS + 2] =
            spans.data.len() as u32 - spans.records[RECORD_FIELDS + 3] + 1;
        assert!(check(&spans).unwrap_err().0.starts_with("record 1:"));
        assert_eq!(check_shape(&spans), Ok(2), "only the span is wrong");
        batch.timestamps.pop();
        assert!(
            check_shape(&batch)
                .unwrap_err()
                .0
                .contains("1 timestamps for 2 records")
        );
        batch.records.pop();
        assert!(
            check_shape(&batch)
                .unwrap_err()
                .0
                .contains("not whole groups")
        );
    }
}
