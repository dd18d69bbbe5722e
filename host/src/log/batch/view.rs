//! Records as borrowed slices of their batch's records section, and the one parser of
//! the record format: a walk that checks every record without allocating.
//!
//! Produce validation ([`check_produced`], Kafka's LogValidator) walks a batch's records
//! this way: nothing is allocated per record or per header, so a batch of millions of
//! tiny records or headers costs its bytes and no more, and the walk stops at the first
//! record over a [`DecodeLimits`] bound. [`super::decode_records`] turns the same views
//! into owned records for the readers that need them.

use std::borrow::Cow;

use super::header::{
    BATCH_HEADER_LEN, BatchHeader, Compression, MAX_VARINT_LEN, MAX_VARLONG_LEN, MIN_RECORD_LEN,
    validate,
};
use super::{BatchError, Checked, DecodeLimits};
use crate::log::varint::{get_varint, get_varlong};

/// One record, as slices of the uncompressed records section.
#[derive(Debug, Clone)]
pub(super) struct RecordView<'b> {
    /// Timestamp minus the batch's baseTimestamp (wrapping, as Java writes it).
    pub timestamp_delta: i64,
    /// Offset minus the batch's baseOffset.
    pub offset_delta: i32,
    /// Key; `None` is a null key.
    pub key: Option<&'b [u8]>,
    /// Value; `None` is a tombstone.
    pub value: Option<&'b [u8]>,
    /// The headers, already checked (count within bounds, keys UTF-8).
    pub headers: HeaderIter<'b>,
}

/// The checked headers of one record, in stored order.
#[derive(Debug, Clone)]
pub(super) struct HeaderIter<'b> {
    reader: Reader<'b>,
    left: usize,
}

impl<'b> HeaderIter<'b> {
    /// Number of headers.
    pub fn len(&self) -> usize {
        self.left
    }
}

impl<'b> Iterator for HeaderIter<'b> {
    type Item = (&'b str, Option<&'b [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The record's parse checked these very bytes: a failure here cannot happen,
        // and ends the iteration rather than panicking.
        match self.reader.header(0) {
            Ok(h) => Some(h),
            Err(_) => {
                self.left = 0;
                None
            }
        }
    }
}

/// Walks the records of an uncompressed records section, checking each against the
/// format and `limits`; [`RecordWalk::finish`] checks nothing trails the last one.
#[derive(Debug)]
pub(super) struct RecordWalk<'b> {
    outer: Reader<'b>,
    index: usize,
    count: usize,
    max_headers: usize,
}

impl<'b> RecordWalk<'b> {
    /// Checks `record_count` against `limits` and against what the section's length
    /// can hold, before anything is parsed or allocated.
    pub fn new(
        header: &BatchHeader,
        section: &'b [u8],
        limits: &DecodeLimits,
    ) -> Result<RecordWalk<'b>, BatchError> {
        let count =
            usize::try_from(header.record_count).map_err(|_| BatchError::NegativeRecordCount {
                count: header.record_count,
            })?;
        if count > limits.max_records {
            return Err(BatchError::TooManyRecords {
                count,
                max: limits.max_records,
            });
        }
        if count > section.len() / MIN_RECORD_LEN {
            return Err(BatchError::CountExceedsSection {
                count,
                len: section.len(),
            });
        }
        Ok(RecordWalk {
            outer: Reader::new(section, 0),
            index: 0,
            count,
            max_headers: limits.max_headers_per_record,
        })
    }

    /// Records the header declares.
    pub fn declared(&self) -> usize {
        self.count
    }

    /// After every record was walked: the section must end with the last one.
    pub fn finish(self) -> Result<(), BatchError> {
        let trailing = self.outer.buf.len() - self.outer.pos;
        if trailing != 0 {
            return Err(BatchError::TrailingBytes {
                count: i32::try_from(self.count).unwrap_or(i32::MAX),
                trailing,
            });
        }
        Ok(())
    }
}

impl<'b> Iterator for RecordWalk<'b> {
    type Item = Result<RecordView<'b>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.index == self.count {
            return None;
        }
        let index = self.index;
        self.index += 1;
        self.outer.index = index;
        Some(self.record(index))
    }
}

impl<'b> RecordWalk<'b> {
    fn record(&mut self, index: usize) -> Result<RecordView<'b>, BatchError> {
        let declared = self.outer.length("record length")?;
        let mut r = Reader::new(self.outer.bytes(declared)?, index);
        r.bytes(1)?; // record attributes: unused in v2
        let timestamp_delta = r.varlong("timestamp delta")?;
        let offset_delta = r.varint("offset delta")?;
        let key = r.nullable("key length")?;
        let value = r.nullable("value length")?;
        let header_count = r.length("header count")?;
        if header_count > self.max_headers {
            return Err(BatchError::TooManyHeaders {
                index,
                count: header_count,
                max: self.max_headers,
            });
        }
        let headers = HeaderIter {
            reader: r.clone(),
            left: header_count,
        };
        for h in 0..header_count {
            r.header(h)?;
        }
        if r.pos != declared {
            return Err(BatchError::RecordLengthMismatch {
                index,
                declared,
                parsed: r.pos,
            });
        }
        Ok(RecordView {
            timestamp_delta,
            offset_delta,
            key,
            value,
            headers,
        })
    }
}

/// The uncompressed records section, decompressed (within `max_decoded` bytes,
/// counted while inflating) if the batch is compressed.
pub(super) fn records_section<'b>(
    header: &BatchHeader,
    batch: &'b [u8],
    max_decoded: usize,
) -> Result<Cow<'b, [u8]>, BatchError> {
    let raw = batch.get(BATCH_HEADER_LEN..).unwrap_or_default();
    match header.compression()? {
        Compression::None => Ok(Cow::Borrowed(raw)),
        codec => {
            crate::log::compression::decompress_within(codec, raw, max_decoded).map(Cow::Owned)
        }
    }
}

/// What [`check_produced`] learned of a producer's batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducedBatch<'a> {
    /// The batch, its header and CRC checked: what the log appends without checking again.
    pub batch: Checked<'a>,
    /// The validated header.
    pub header: BatchHeader,
    /// Index of the first record without a key, if any (refused on compacted topics).
    pub first_keyless: Option<usize>,
}

/// Kafka's LogValidator for a batch a client sends: the header and CRC-32C
/// ([`validate`]), then every record, walked without allocating: the records must
/// parse, number exactly recordCount, run offset deltas 0..n-1 under a
/// lastOffsetDelta of n-1, and stay within `limits` (decompressed size, records,
/// headers per record). The log assigns offsets from lastOffsetDelta and consumers
/// from the records, so a batch lying about either would make consumers skip other
/// producers' offsets, or stall on a batch they cannot read.
pub fn check_produced<'a>(
    batch: &'a [u8],
    limits: &DecodeLimits,
) -> Result<ProducedBatch<'a>, BatchError> {
    let header = validate(batch)?;
    if header.record_count == 0 {
        return Err(BatchError::NoRecords);
    }
    if i64::from(header.last_offset_delta) != i64::from(header.record_count) - 1 {
        return Err(BatchError::OffsetDeltaMismatch {
            delta: header.last_offset_delta,
            count: header.record_count,
        });
    }
    let section = records_section(&header, batch, limits.max_decoded_bytes)?;
    let mut walk = RecordWalk::new(&header, &section, limits)?;
    let mut first_keyless = None;
    for (expected, record) in (0i32..).zip(&mut walk) {
        let record = record?;
        if record.offset_delta != expected {
            return Err(BatchError::OffsetDeltaOutOfOrder {
                index: expected as usize,
                delta: record.offset_delta,
            });
        }
        if record.key.is_none() && first_keyless.is_none() {
            first_keyless = Some(expected as usize);
        }
    }
    walk.finish()?;
    Ok(ProducedBatch {
        batch: Checked::validated(batch, header),
        header,
        first_keyless,
    })
}

/// A bounds-checked cursor over one record (or the records section), naming the record in errors.
#[derive(Debug, Clone)]
struct Reader<'b> {
    buf: &'b [u8],
    pos: usize,
    index: usize,
}

impl<'b> Reader<'b> {
    fn new(buf: &'b [u8], index: usize) -> Reader<'b> {
        Reader { buf, pos: 0, index }
    }

    /// One header: a UTF-8 key (never null) and a nullable value.
    fn header(&mut self, h: usize) -> Result<(&'b str, Option<&'b [u8]>), BatchError> {
        let key_len = self.length("header key length")?;
        let key = std::str::from_utf8(self.bytes(key_len)?).map_err(|_| {
            BatchError::HeaderKeyNotUtf8 {
                index: self.index,
                header: h,
            }
        })?;
        let value = self.nullable("header value length")?;
        Ok((key, value))
    }

    fn bytes(&mut self, len: usize) -> Result<&'b [u8], BatchError> {
        let bytes = self
            .buf
            .get(self.pos..)
            .and_then(|rest| rest.get(..len))
            .ok_or(BatchError::RecordTruncated { index: self.index })?;
        self.pos += len;
        Ok(bytes)
    }

    /// A varint that must not be negative.
    fn length(&mut self, field: &'static str) -> Result<usize, BatchError> {
        let len = self.varint(field)?;
        usize::try_from(len).map_err(|_| BatchError::InvalidLength {
            index: self.index,
            field,
            len,
        })
    }

    /// A varint length followed by that many bytes, or null for -1.
    fn nullable(&mut self, field: &'static str) -> Result<Option<&'b [u8]>, BatchError> {
        let len = self.varint(field)?;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| BatchError::InvalidLength {
            index: self.index,
            field,
            len,
        })?;
        self.bytes(len).map(Some)
    }

    fn varint(&mut self, field: &'static str) -> Result<i32, BatchError> {
        get_varint(self.buf, &mut self.pos).ok_or_else(|| self.varint_error(field, MAX_VARINT_LEN))
    }

    fn varlong(&mut self, field: &'static str) -> Result<i64, BatchError> {
        get_varlong(self.buf, &mut self.pos)
            .ok_or_else(|| self.varint_error(field, MAX_VARLONG_LEN))
    }

    /// A varint that fails with fewer than its maximum bytes left ran out of input; with more,
    /// it was malformed.
    fn varint_error(&self, field: &'static str, max_len: usize) -> BatchError {
        if self.buf.len().saturating_sub(self.pos) < max_len {
            BatchError::RecordTruncated { index: self.index }
        } else {
            BatchError::MalformedVarint {
                index: self.index,
                field,
            }
        }
    }
}
