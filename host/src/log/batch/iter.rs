//! Walking consecutive batches in a buffer.

use std::iter::FusedIterator;

use super::BatchError;
use super::header::{
    BATCH_LENGTH_AT, BatchHeader, LOG_OVERHEAD, MAGIC_AT, MAGIC_V2, MIN_BATCH_LENGTH,
};

/// Walks consecutive batches in a buffer, yielding (header, bytes of that whole batch); stops
/// (None) at an incomplete batch at the end, and after the first Err for an unparsable header.
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> BatchIter<'a> {
    /// Starts at the beginning of `buf`; CRCs are not checked (use [`super::validate`] per batch).
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            failed: false,
        }
    }

    /// Bytes consumed so far: the end of the last complete batch yielded, which is where a
    /// recovering log truncates.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn fail(&mut self, err: BatchError) -> Option<<Self as Iterator>::Item> {
        self.failed = true;
        Some(Err(err))
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<(BatchHeader, &'a [u8]), BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.buf.get(self.pos..)?;
        let length_bytes: [u8; 4] = rest.get(BATCH_LENGTH_AT..LOG_OVERHEAD)?.try_into().ok()?;
        let batch_length = i32::from_be_bytes(length_bytes);
        if batch_length < MIN_BATCH_LENGTH {
            return self.fail(BatchError::BatchLengthTooSmall {
                declared: batch_length,
            });
        }
        let total = LOG_OVERHEAD + usize::try_from(batch_length).unwrap_or(0);
        let Some(batch) = rest.get(..total) else {
            // A torn tail, unless what is there already shows it is not a v2 batch.
            if let Some(&magic) = rest.get(MAGIC_AT)
                && magic as i8 != MAGIC_V2
            {
                return self.fail(BatchError::UnsupportedMagic { magic: magic as i8 });
            }
            return None;
        };
        match BatchHeader::parse(batch) {
            Ok(header) => {
                self.pos += total;
                Some(Ok((header, batch)))
            }
            Err(err) => self.fail(err),
        }
    }
}

impl FusedIterator for BatchIter<'_> {}
