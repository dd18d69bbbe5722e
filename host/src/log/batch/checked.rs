//! [`Checked`]: a batch that passed [`validate`], so the log need not check it again.

use super::error::BatchError;
use super::header::{BatchHeader, validate};

/// One complete batch whose header, length, magic and CRC-32C were checked, with its
/// parsed header. Made only by checking ([`Checked::new`], or produce's
/// [`super::check_produced`]), so that the log appends a producer's batch after one CRC
/// pass over its bytes, not one in the produce handler and another in the append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked<'a> {
    bytes: &'a [u8],
    header: BatchHeader,
}

impl<'a> Checked<'a> {
    /// Checks `bytes` as [`validate`] does.
    pub fn new(bytes: &'a [u8]) -> Result<Checked<'a>, BatchError> {
        let header = validate(bytes)?;
        Ok(Checked { bytes, header })
    }

    /// Wraps a batch `validate` accepted with this header (the caller's own check).
    pub(super) fn validated(bytes: &'a [u8], header: BatchHeader) -> Checked<'a> {
        Checked { bytes, header }
    }

    /// The batch's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Its header as checked.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }
}
