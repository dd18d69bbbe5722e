//! The recovery scan: walks a segment's data file batch by batch, rebuilding
//! its sparse indexes and finding where valid data ends; and [`verify`], the
//! scrubber's CRC check of a sealed segment, a bounded step at a time.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::batch::{self, BATCH_HEADER_LEN, BatchHeader};
use super::error::LogError;
use super::index::OffsetIndex;
use super::time_index::TimeIndex;

/// What a scan of a data file found.
#[derive(Debug)]
pub struct ScanOutcome {
    /// Length of the prefix made of whole, valid batches.
    pub valid_len: u64,
    /// Offset after the last valid batch.
    pub next_offset: i64,
    /// Why the scan stopped before the end of the file, if it did.
    pub problem: Option<String>,
    pub(super) index: OffsetIndex,
    pub(super) time_index: TimeIndex,
    pub(super) max_timestamp: i64,
    pub(super) first_timestamp: Option<i64>,
}

/// Scans a data file from the start, rebuilding its indexes. Batches at or past
/// `verify_from` also get their CRC checked. Stops at the first torn, corrupt or
/// non-contiguous batch; with `allow_gaps` (a sealed segment, which compaction may
/// have thinned) a batch may start past the previous one's end, never before.
pub fn scan(
    path: &Path,
    file: &File,
    base_offset: i64,
    verify_from: u64,
    index_interval: u64,
    allow_gaps: bool,
) -> Result<ScanOutcome, LogError> {
    let file_len = file
        .metadata()
        .map_err(LogError::io("reading metadata of", path))?
        .len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    reader
        .seek(SeekFrom::Start(0))
        .map_err(LogError::io("seeking in", path))?;
    let mut out = ScanOutcome {
        valid_len: 0,
        next_offset: base_offset,
        problem: None,
        index: OffsetIndex::default(),
        time_index: TimeIndex::default(),
        max_timestamp: -1,
        first_timestamp: None,
    };
    let mut since_index = u64::MAX;
    let mut header_buf = [0u8; BATCH_HEADER_LEN];
    let mut body = Vec::new();
    while out.valid_len < file_len {
        let pos = out.valid_len;
        let remaining = file_len - pos;
        if remaining < BATCH_HEADER_LEN as u64 {
            out.problem = Some(format!(
                "torn batch header at byte {pos} ({remaining} bytes left)"
            ));
            break;
        }
        reader
            .read_exact(&mut header_buf)
            .map_err(LogError::io("reading", path))?;
        let header = match BatchHeader::parse(&header_buf) {
            Ok(h) => h,
            Err(e) => {
                out.problem = Some(format!("bad batch header at byte {pos}: {e}"));
                break;
            }
        };
        let total = header.total_len() as u64;
        if total > remaining {
            out.problem = Some(format!(
                "torn batch at byte {pos}: {total} bytes declared, {remaining} present"
            ));
            break;
        }
        let in_order = if allow_gaps {
            header.base_offset >= out.next_offset
        } else {
            header.base_offset == out.next_offset
        };
        if !in_order {
            out.problem = Some(format!(
                "batch at byte {pos} starts at offset {} but {} was expected",
                header.base_offset, out.next_offset
            ));
            break;
        }
        let rest = total - BATCH_HEADER_LEN as u64;
        if pos >= verify_from {
            body.clear();
            body.extend_from_slice(&header_buf);
            body.resize(total as usize, 0);
            reader
                .read_exact(&mut body[BATCH_HEADER_LEN..])
                .map_err(LogError::io("reading", path))?;
            if let Err(e) = batch::validate_stored(&body) {
                out.problem = Some(format!("corrupt batch at byte {pos}: {e}"));
                break;
            }
        } else {
            reader
                .seek_relative(rest as i64)
                .map_err(LogError::io("seeking in", path))?;
        }
        let relative = (header.base_offset - base_offset) as u32;
        if since_index >= index_interval {
            out.index.push(relative, pos as u32);
            out.time_index
                .push(out.max_timestamp.max(header.max_timestamp), relative);
            since_index = 0;
        }
        since_index = since_index.saturating_add(total);
        out.first_timestamp.get_or_insert(header.max_timestamp);
        out.max_timestamp = out.max_timestamp.max(header.max_timestamp);
        out.next_offset = header.next_offset();
        out.valid_len = pos + total;
    }
    Ok(out)
}

/// A range of a sealed segment that does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRange {
    /// Byte position of the first bad batch in the data file.
    pub position: u64,
    /// First offset that cannot be read.
    pub offset: i64,
    /// The offset after the bad batch; `None` when the batches after it cannot
    /// be found (its header is unreadable), so the rest of the segment is lost.
    pub end: Option<i64>,
    /// What is wrong, without the file's path.
    pub reason: String,
}

/// Where one step of a verification stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Byte position to go on from (a batch boundary); `None`: the segment is done.
    pub next_position: Option<u64>,
    /// The offset the batch at `next_position` should start at or after.
    pub next_offset: i64,
    /// Bytes read by this step.
    pub read: u64,
    /// Bad ranges found by this step.
    pub bad: Vec<BadRange>,
}

/// Checks a sealed segment's batches from byte `from` (a batch boundary where
/// offset `expected` or later starts), reading about `budget` bytes: each
/// batch's header and CRC-32C over its bytes, read in blocks so a batch of any
/// size costs no more memory than a block. A batch whose header holds but whose
/// CRC does not is one bad range, and the check goes on after it; a header that
/// does not parse, or runs past the file, loses the rest of the segment.
pub fn verify(
    file: &File,
    size: u64,
    from: u64,
    expected: i64,
    budget: u64,
) -> Result<Verified, std::io::Error> {
    use std::os::unix::fs::FileExt;
    const BLOCK: usize = 1 << 20;
    // Bytes covered by the CRC start after the base offset, length, leader
    // epoch, magic and the CRC itself (Kafka's record batch v2).
    const CRC_FROM: usize = 21;
    let mut out = Verified {
        next_position: Some(from),
        next_offset: expected,
        read: 0,
        bad: Vec::new(),
    };
    let mut header = [0u8; BATCH_HEADER_LEN];
    let mut block = vec![0u8; BLOCK];
    let mut pos = from;
    while pos < size && out.read < budget {
        let lost = |reason: String| BadRange {
            position: pos,
            offset: out.next_offset,
            end: None,
            reason,
        };
        if size - pos < BATCH_HEADER_LEN as u64 {
            out.bad
                .push(lost(format!("torn batch header at byte {pos}")));
            out.next_position = None;
            return Ok(out);
        }
        file.read_exact_at(&mut header, pos)?;
        let h = match BatchHeader::parse(&header) {
            Ok(h) if h.base_offset >= out.next_offset => h,
            Ok(h) => {
                out.bad.push(lost(format!(
                    "batch at byte {pos} starts at offset {} but {} was expected",
                    h.base_offset, out.next_offset
                )));
                out.next_position = None;
                return Ok(out);
            }
            Err(e) => {
                out.bad
                    .push(lost(format!("bad batch header at byte {pos}: {e}")));
                out.next_position = None;
                return Ok(out);
            }
        };
        let total = h.total_len() as u64;
        if total > size - pos || total < BATCH_HEADER_LEN as u64 {
            out.bad.push(lost(format!(
                "batch at byte {pos} declares {total} bytes; {} are left",
                size - pos
            )));
            out.next_position = None;
            return Ok(out);
        }
        let mut crc = crc32c::crc32c(&header[CRC_FROM..]);
        let mut at = pos + BATCH_HEADER_LEN as u64;
        while at < pos + total {
            let n = ((pos + total - at) as usize).min(BLOCK);
            file.read_exact_at(&mut block[..n], at)?;
            crc = crc32c::crc32c_append(crc, &block[..n]);
            at += n as u64;
        }
        if crc != h.crc {
            out.bad.push(BadRange {
                position: pos,
                offset: h.base_offset,
                end: Some(h.next_offset()),
                reason: format!(
                    "CRC mismatch in the batch at byte {pos} (stored {:#010x}, computed {crc:#010x})",
                    h.crc
                ),
            });
        }
        out.read += total;
        out.next_offset = h.next_offset();
        pos += total;
    }
    out.next_position = (pos < size).then_some(pos);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::{Record, encode_batch};
    use std::io::Write;

    /// A data file of `n` one-record batches at offsets 10, 11, ...; their byte positions.
    fn segment(n: usize) -> (tempfile::NamedTempFile, Vec<u64>) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let mut positions = Vec::new();
        let mut at = 0u64;
        for i in 0..n {
            let record = Record {
                value: Some(vec![b'v'; 300].into()),
                timestamp: 1,
                ..Record::default()
            };
            let mut batch = encode_batch(&[record], 0).unwrap();
            batch[..8].copy_from_slice(&(10 + i as i64).to_be_bytes());
            positions.push(at);
            at += batch.len() as u64;
            file.write_all(&batch).unwrap();
        }
        (file, positions)
    }

    fn flip(file: &tempfile::NamedTempFile, at: u64) {
        use std::os::unix::fs::FileExt;
        let f = file.as_file();
        let mut b = [0u8];
        f.read_exact_at(&mut b, at).unwrap();
        f.write_all_at(&[b[0] ^ 0xff], at).unwrap();
    }

    #[test]
    fn a_crc_mismatch_is_one_range_and_the_check_goes_on() {
        let (file, pos) = segment(4);
        let size = file.as_file().metadata().unwrap().len();
        flip(&file, pos[1] + 200);
        let v = verify(file.as_file(), size, 0, 10, u64::MAX).unwrap();
        assert_eq!(v.next_position, None);
        assert_eq!(v.next_offset, 14);
        assert_eq!(v.bad.len(), 1, "{:?}", v.bad);
        assert_eq!((v.bad[0].offset, v.bad[0].end), (11, Some(12)));
        assert!(v.bad[0].reason.contains("CRC"), "{}", v.bad[0].reason);
    }

    #[test]
    fn a_broken_header_loses_the_rest_and_a_small_budget_resumes() {
        let (file, pos) = segment(4);
        let size = file.as_file().metadata().unwrap().len();
        // One batch per step: the check resumes at each batch boundary.
        let mut at = Some(0);
        let mut expected = 10;
        let mut steps = 0;
        while let Some(from) = at {
            let v = verify(file.as_file(), size, from, expected, 1).unwrap();
            assert!(v.bad.is_empty());
            (at, expected) = (v.next_position, v.next_offset);
            steps += 1;
        }
        assert_eq!((steps, expected), (4, 14));
        // The magic byte of the third batch: its length cannot be trusted.
        flip(&file, pos[2] + 16);
        let v = verify(file.as_file(), size, 0, 10, u64::MAX).unwrap();
        assert_eq!(v.next_position, None);
        assert_eq!(v.bad.len(), 1);
        assert_eq!((v.bad[0].offset, v.bad[0].end), (12, None));
    }
}
