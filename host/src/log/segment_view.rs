//! A read view of one segment, taken under the partition lock and used outside it.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use super::batch::{BATCH_HEADER_LEN, BatchHeader, LOG_OVERHEAD};
use super::error::LogError;
use super::index::OffsetIndex;
use super::partition::FirstBatch;
use super::segment::SegmentPaths;

/// Bytes read at once from where a read's scan starts: an index interval's worth of
/// headers to skip (4 KiB by default) and the tail a caught-up reader wants.
const SCAN_BLOCK: u64 = 16 << 10;

/// A snapshot of where to read in one segment, usable without the partition lock.
#[derive(Debug, Clone)]
pub struct SegmentView {
    file: Arc<File>,
    path: PathBuf,
    base_offset: i64,
    start: u64,
    size: u64,
}

impl SegmentView {
    /// A view of a segment's first `size` bytes, starting the scan for `offset`
    /// at the sparse index entry before it.
    pub(super) fn new(
        file: &Arc<File>,
        paths: &SegmentPaths,
        base_offset: i64,
        index: &OffsetIndex,
        size: u64,
        offset: i64,
    ) -> SegmentView {
        SegmentView {
            file: file.clone(),
            path: paths.log.clone(),
            base_offset,
            start: u64::from(index.lookup((offset - base_offset).max(0) as u32)),
            size,
        }
    }

    /// Calls `f` with the header of every batch from the start of the view until
    /// one starts at or after `limit_offset`, reading 61 bytes per batch and
    /// skipping the records (a cheap walk for rebuilding per-batch state).
    pub fn for_each_header(
        &self,
        limit_offset: i64,
        f: &mut impl FnMut(&BatchHeader),
    ) -> Result<(), LogError> {
        let mut pos = self.start;
        let mut header = [0u8; BATCH_HEADER_LEN];
        while pos + BATCH_HEADER_LEN as u64 <= self.size {
            self.file
                .read_exact_at(&mut header, pos)
                .map_err(LogError::io("reading", &self.path))?;
            let h = BatchHeader::parse(&header).map_err(|e| self.corrupt(pos, e))?;
            if h.base_offset >= limit_offset {
                break;
            }
            f(&h);
            pos += h.total_len() as u64;
        }
        Ok(())
    }

    /// Calls `f` with the header and bytes of every whole batch from the start of the
    /// view to its end, reading the file in large blocks (the cleaner's sequential pass).
    pub fn for_each_batch(
        &self,
        f: &mut impl FnMut(&BatchHeader, &[u8]) -> Result<(), LogError>,
    ) -> Result<(), LogError> {
        const BLOCK: u64 = 1 << 20;
        let mut buf: Vec<u8> = Vec::new();
        let mut buf_at = self.start;
        let mut pos = self.start;
        // Makes buf hold [pos, pos + len) of the file, refilling from pos if not.
        let fill = |buf: &mut Vec<u8>, buf_at: &mut u64, pos: u64, len: u64| {
            if pos >= *buf_at && pos + len <= *buf_at + buf.len() as u64 {
                return Ok(());
            }
            let want = len.max(BLOCK).min(self.size - pos) as usize;
            buf.resize(want, 0);
            *buf_at = pos;
            self.file
                .read_exact_at(buf, pos)
                .map_err(LogError::io("reading", &self.path))
        };
        while pos + BATCH_HEADER_LEN as u64 <= self.size {
            fill(&mut buf, &mut buf_at, pos, BATCH_HEADER_LEN as u64)?;
            let at = (pos - buf_at) as usize;
            let h = BatchHeader::parse(&buf[at..]).map_err(|e| self.corrupt(pos, e))?;
            let total = h.total_len() as u64;
            if pos + total > self.size {
                return Err(self.corrupt(pos, "batch runs past the end of the segment"));
            }
            fill(&mut buf, &mut buf_at, pos, total)?;
            let at = (pos - buf_at) as usize;
            f(&h, &buf[at..at + total as usize])?;
            pos += total;
        }
        Ok(())
    }

    /// Reads whole batches from the one containing `offset` onwards: at most
    /// `max_bytes`, except a first batch that `first` says comes whole anyway.
    /// Batches starting at or after `limit_offset` (the high watermark) are left out.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        limit_offset: i64,
        first: FirstBatch,
    ) -> Result<Vec<u8>, LogError> {
        // One read of the view's first bytes usually holds the headers to skip (the sparse
        // index points at most an index interval before `offset`) and, at the tail of a
        // log, the batches wanted too: one syscall instead of one per header.
        let block_len = self.size.saturating_sub(self.start).min(SCAN_BLOCK) as usize;
        let mut block = vec![0u8; block_len];
        self.file
            .read_exact_at(&mut block, self.start)
            .map_err(LogError::io("reading", &self.path))?;
        let mut pos = self.start;
        let mut header = [0u8; BATCH_HEADER_LEN];
        // Find the batch containing `offset`.
        let first_batch = loop {
            if pos + BATCH_HEADER_LEN as u64 > self.size {
                return Ok(Vec::new());
            }
            let at = (pos - self.start) as usize;
            let bytes = match block.get(at..at + BATCH_HEADER_LEN) {
                Some(bytes) => bytes,
                None => {
                    self.file
                        .read_exact_at(&mut header, pos)
                        .map_err(LogError::io("reading", &self.path))?;
                    &header[..]
                }
            };
            let h = BatchHeader::parse(bytes).map_err(|e| self.corrupt(pos, e))?;
            if h.base_offset >= limit_offset {
                return Ok(Vec::new());
            }
            if h.next_offset() > offset {
                break h;
            }
            pos += h.total_len() as u64;
        };
        if first == FirstBatch::WithinLimit && first_batch.total_len() > max_bytes {
            return Ok(Vec::new());
        }
        let want = (max_bytes as u64)
            .max(first_batch.total_len() as u64)
            .min(self.size - pos) as usize;
        let at = (pos - self.start) as usize;
        let mut buf = if at + want <= block.len() {
            block.truncate(at + want);
            block.drain(..at);
            block
        } else {
            let mut buf = vec![0u8; want];
            self.file
                .read_exact_at(&mut buf, pos)
                .map_err(LogError::io("reading", &self.path))?;
            buf
        };
        // Keep only whole batches below the limit.
        let mut keep = 0usize;
        while keep + LOG_OVERHEAD <= buf.len() && keep + BATCH_HEADER_LEN <= buf.len() {
            let h =
                BatchHeader::parse(&buf[keep..]).map_err(|e| self.corrupt(pos + keep as u64, e))?;
            if h.base_offset >= limit_offset || keep + h.total_len() > buf.len() {
                break;
            }
            keep += h.total_len();
        }
        buf.truncate(keep);
        Ok(buf)
    }

    fn corrupt(&self, position: u64, reason: impl std::fmt::Display) -> LogError {
        LogError::Corrupt {
            path: self.path.clone(),
            position,
            reason: reason.to_string(),
        }
    }

    /// First offset of the segment.
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }
}
