//! [`DecodeLimits`]: what decoding one batch may cost, checked while decoding.
//!
//! A batch's wire size says little about what it decodes to: 16 KB of gzip can
//! inflate to megabytes of two-byte empty headers, each of which, decoded, is an
//! allocation. So the decompressed size is counted while inflating, and record and
//! header counts are checked before any record is parsed or allocated.

use crate::log::compression::MAX_DECOMPRESSED_LEN;

/// Bounds on decoding one batch; over any of them, decoding stops with a
/// [`super::BatchError`] naming the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Most bytes a compressed records section may inflate to.
    pub max_decoded_bytes: usize,
    /// Most records in one batch.
    pub max_records: usize,
    /// Most headers on one record.
    pub max_headers_per_record: usize,
}

impl DecodeLimits {
    /// What readers of stored batches allow: produce's bounds are configurable and
    /// narrower, so anything a producer got in decodes again.
    pub const READER: DecodeLimits = DecodeLimits {
        max_decoded_bytes: MAX_DECOMPRESSED_LEN,
        max_records: i32::MAX as usize,
        max_headers_per_record: i32::MAX as usize,
    };
}
