//! Segments: one data file of record batches plus its two sparse indexes.
//!
//! A segment is either [`ActiveSegment`] (the single one still appended to, its
//! indexes only in memory) or [`SealedSegment`] (immutable, fsynced, its indexes
//! on disk). Only the active type can append; sealing yields the sealed value
//! and the partition then drops the active one.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::batch::BatchHeader;
use super::error::LogError;
use super::index::OffsetIndex;
use super::scan::scan;
use super::segment_view::SegmentView;
use super::time_index::TimeIndex;

/// The three files of a segment, named after its base offset like Kafka's.
#[derive(Debug, Clone)]
pub struct SegmentPaths {
    /// Record batches, back to back.
    pub log: PathBuf,
    /// Sparse offset index (sealed segments only).
    pub index: PathBuf,
    /// Sparse time index (sealed segments only).
    pub time_index: PathBuf,
}

impl SegmentPaths {
    /// Paths of the segment starting at `base_offset` in `dir`.
    pub fn new(dir: &Path, base_offset: i64) -> SegmentPaths {
        let stem = format!("{base_offset:020}");
        SegmentPaths {
            log: dir.join(format!("{stem}.log")),
            index: dir.join(format!("{stem}.index")),
            time_index: dir.join(format!("{stem}.timeindex")),
        }
    }

    /// The base offset encoded in a data file's name, if it is one of ours.
    pub fn parse_base_offset(file_name: &str) -> Option<i64> {
        let stem = file_name.strip_suffix(".log")?;
        if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        stem.parse().ok()
    }

    /// Removes all three files; missing ones are fine. Returns whether any was there.
    pub fn remove(&self) -> Result<bool, LogError> {
        let mut removed = false;
        for path in [&self.log, &self.index, &self.time_index] {
            removed |= remove_if_present(path)?;
        }
        Ok(removed)
    }
}

/// The segment currently appended to.
#[derive(Debug)]
pub struct ActiveSegment {
    paths: SegmentPaths,
    file: Arc<File>,
    base_offset: i64,
    next_offset: i64,
    size: u64,
    max_timestamp: i64,
    /// Wall-clock (or first record) time the segment got its first batch; drives `segment.ms`.
    first_append_ms: Option<i64>,
    index: OffsetIndex,
    time_index: TimeIndex,
    bytes_since_index: u64,
}

/// An immutable segment, fully fsynced, with its indexes on disk. A clone is another
/// handle on the same open file (the cleaner keeps one to check at swap time that
/// the segment it read is still the one in the log).
#[derive(Debug, Clone)]
pub struct SealedSegment {
    paths: SegmentPaths,
    file: Arc<File>,
    base_offset: i64,
    size: u64,
    max_timestamp: i64,
    index: OffsetIndex,
}

fn open_rw(path: &Path, create: bool) -> Result<File, LogError> {
    open_noatime(
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false),
        path,
    )
    .map_err(LogError::io("opening", path))
}

/// Opens the active segment without access-time updates. Under `relatime` (the usual
/// mount option) a read of a file modified since its last read updates its atime: every
/// read of fresh records (a consumer or pipeline at the tail) right after an append
/// dirtied the inode in the journal once more, which the pipeline's profile at 10 000
/// records/s showed beside the append's own mtime update. `O_NOATIME` needs the file's
/// owner (or `CAP_FOWNER`); another user's data directory opens as before.
fn open_noatime(options: &OpenOptions, path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    match options.clone().custom_flags(libc::O_NOATIME).open(path) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => options.open(path),
        other => other,
    }
}

impl ActiveSegment {
    /// Creates a new, empty segment file starting at `base_offset`.
    pub fn create(dir: &Path, base_offset: i64) -> Result<ActiveSegment, LogError> {
        let paths = SegmentPaths::new(dir, base_offset);
        let file = open_noatime(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true),
            &paths.log,
        )
        .map_err(LogError::io("creating", &paths.log))?;
        sync_dir(dir)?;
        Ok(ActiveSegment {
            paths,
            file: Arc::new(file),
            base_offset,
            next_offset: base_offset,
            size: 0,
            max_timestamp: -1,
            first_append_ms: None,
            index: OffsetIndex::default(),
            time_index: TimeIndex::default(),
            bytes_since_index: u64::MAX,
        })
    }

    /// Reopens the last segment after a restart: scans it (checking CRCs from
    /// `verify_from` on), truncates a torn or corrupt tail and rebuilds its indexes.
    /// Returns the segment and a description of what was cut, if anything.
    pub fn recover(
        dir: &Path,
        base_offset: i64,
        verify_from: u64,
        index_interval: u64,
        now_ms: i64,
    ) -> Result<(ActiveSegment, Option<String>), LogError> {
        let paths = SegmentPaths::new(dir, base_offset);
        let file = open_rw(&paths.log, false)?;
        let outcome = scan(
            &paths.log,
            &file,
            base_offset,
            verify_from,
            index_interval,
            false,
        )?;
        let file_len = file
            .metadata()
            .map_err(LogError::io("reading metadata of", &paths.log))?
            .len();
        let cut = if outcome.valid_len < file_len {
            file.set_len(outcome.valid_len)
                .map_err(LogError::io("truncating", &paths.log))?;
            file.sync_all()
                .map_err(LogError::io("syncing", &paths.log))?;
            Some(format!(
                "truncated {} bytes: {}",
                file_len - outcome.valid_len,
                outcome.problem.as_deref().unwrap_or("unknown")
            ))
        } else {
            None
        };
        // Index files of a segment that is active again are stale by definition.
        for stale in [&paths.index, &paths.time_index] {
            remove_if_present(stale)?;
        }
        let segment = ActiveSegment {
            paths,
            file: Arc::new(file),
            base_offset,
            next_offset: outcome.next_offset,
            size: outcome.valid_len,
            max_timestamp: outcome.max_timestamp,
            // A record timestamp stands in for the lost append time; one from the
            // future must not postpone the segment.ms roll.
            first_append_ms: outcome.first_timestamp.map(|t| t.min(now_ms)),
            index: outcome.index,
            time_index: outcome.time_index,
            bytes_since_index: if outcome.valid_len == 0 { u64::MAX } else { 0 },
        };
        Ok((segment, cut))
    }

    /// Writes one batch at the end of the file: `head`, its header as stored (given
    /// its offsets), then `records`, the rest of the batch as the producer sent it.
    /// On failure the file is cut back so no partial batch stays behind.
    pub fn append(
        &mut self,
        (head, records): (&[u8], &[u8]),
        header: &BatchHeader,
        now_ms: i64,
        index_interval: u64,
    ) -> Result<(), LogError> {
        let pos = self.size;
        let len = (head.len() + records.len()) as u64;
        // One vectored write rather than one of a copy: the records are the request's
        // own bytes, and a copy of a 1 MB batch costs more than a syscall.
        let written = write_pair_at(&self.file, head, records, pos);
        if let Err(e) = written {
            let err = LogError::io("appending to", &self.paths.log)(e);
            // If the partial batch cannot be cut off either, the file holds bytes
            // nobody acknowledged: the caller must stop writing to it.
            if let Err(cut) = self.file.set_len(pos) {
                return Err(LogError::Fenced {
                    reason: format!("{err}; cutting the partial batch off failed too: {cut}"),
                });
            }
            return Err(err);
        }
        let relative = (header.base_offset - self.base_offset) as u32;
        if self.bytes_since_index >= index_interval {
            self.index.push(relative, pos as u32);
            self.time_index
                .push(self.max_timestamp.max(header.max_timestamp), relative);
            self.bytes_since_index = 0;
        }
        self.bytes_since_index = self.bytes_since_index.saturating_add(len);
        self.first_append_ms.get_or_insert(now_ms);
        self.max_timestamp = self.max_timestamp.max(header.max_timestamp);
        self.next_offset = header.next_offset();
        self.size = pos + len;
        Ok(())
    }

    /// Whether appending `incoming` bytes with offsets up to `last_offset` must go to a new segment.
    pub fn should_roll(
        &self,
        incoming: u64,
        last_offset: i64,
        now_ms: i64,
        segment_bytes: u64,
        segment_ms: i64,
    ) -> bool {
        if self.size == 0 {
            return false;
        }
        self.size + incoming > segment_bytes
            || self
                .first_append_ms
                .is_some_and(|t| now_ms.saturating_sub(t) >= segment_ms)
            || last_offset - self.base_offset > i64::from(i32::MAX)
            || self.size + incoming > u64::from(u32::MAX)
    }

    /// Forces the data written so far to disk.
    pub fn sync(&self) -> Result<(), LogError> {
        self.sync_handle().sync()
    }

    /// A handle to fsync this segment's data without holding the partition lock.
    pub fn sync_handle(&self) -> SyncHandle {
        SyncHandle {
            file: self.file.clone(),
            path: self.paths.log.clone(),
        }
    }

    /// fsyncs the data and writes both indexes durably, giving the immutable
    /// view of this segment. The caller then replaces the active segment with a
    /// new one; if anything here fails, this segment stays the active one.
    pub fn seal(&self) -> Result<SealedSegment, LogError> {
        self.sync()?;
        let mut time_index = self.time_index.clone();
        if let Some(last) = self.index_last_relative() {
            time_index.seal(self.max_timestamp, last);
        }
        write_durably(&self.paths.index, &self.index.encode())?;
        write_durably(&self.paths.time_index, &time_index.encode())?;
        if let Some(dir) = self.paths.log.parent() {
            sync_dir(dir)?;
        }
        Ok(SealedSegment {
            paths: self.paths.clone(),
            file: self.file.clone(),
            base_offset: self.base_offset,
            size: self.size,
            max_timestamp: self.max_timestamp,
            index: self.index.clone(),
        })
    }

    fn index_last_relative(&self) -> Option<u32> {
        (self.next_offset > self.base_offset)
            .then(|| (self.next_offset - 1 - self.base_offset) as u32)
    }

    /// A view positioned near `offset` using the sparse index.
    pub fn view_at(&self, offset: i64) -> SegmentView {
        SegmentView::new(
            &self.file,
            &self.paths,
            self.base_offset,
            &self.index,
            self.size,
            offset,
        )
    }

    /// First offset of the segment.
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Offset the next appended record gets.
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Bytes in the data file.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Path of the data file.
    pub fn log_path(&self) -> &Path {
        &self.paths.log
    }
}

impl SealedSegment {
    /// Opens a sealed segment after a restart. `next_base` is the following
    /// segment's base offset, i.e. this one's end. Its index files are trusted
    /// when whole and consistent — the time index must end with the seal entry at
    /// the segment's last offset — and rebuilt by a scan otherwise.
    pub fn open(
        dir: &Path,
        base_offset: i64,
        next_base: i64,
        index_interval: u64,
    ) -> Result<SealedSegment, LogError> {
        let paths = SegmentPaths::new(dir, base_offset);
        let file = open_rw(&paths.log, false)?;
        let size = file
            .metadata()
            .map_err(LogError::io("reading metadata of", &paths.log))?
            .len();
        let last_relative = (next_base > base_offset).then(|| (next_base - 1 - base_offset) as u32);
        let index = std::fs::read(&paths.index)
            .ok()
            .and_then(|b| OffsetIndex::decode(&b, size.max(1)))
            .filter(|i| size == 0 || !i.is_empty());
        let time_index = std::fs::read(&paths.time_index)
            .ok()
            .and_then(|b| TimeIndex::decode(&b))
            .filter(|t| t.last_relative_offset() == last_relative);
        let (index, max_timestamp) = match (index, time_index) {
            (Some(index), Some(time_index)) => (index, time_index.max_timestamp().unwrap_or(-1)),
            _ => {
                // The data was fsynced before the next segment existed, so a
                // header scan suffices to rebuild what a crash during sealing lost.
                let outcome = scan(
                    &paths.log,
                    &file,
                    base_offset,
                    u64::MAX,
                    index_interval,
                    true,
                )?;
                let mut time_index = outcome.time_index;
                // The seal entry marks the segment's end (the next base), which
                // after compaction may lie past its last batch.
                if let Some(last) = last_relative {
                    time_index.seal(outcome.max_timestamp, last);
                }
                write_durably(&paths.index, &outcome.index.encode())?;
                write_durably(&paths.time_index, &time_index.encode())?;
                sync_dir(dir)?;
                (outcome.index, outcome.max_timestamp)
            }
        };
        Ok(SealedSegment::from_parts(
            paths,
            file,
            base_offset,
            size,
            max_timestamp,
            index,
        ))
    }

    /// A view positioned near `offset` using the sparse index.
    pub fn view_at(&self, offset: i64) -> SegmentView {
        SegmentView::new(
            &self.file,
            &self.paths,
            self.base_offset,
            &self.index,
            self.size,
            offset,
        )
    }

    /// First offset of the segment.
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Bytes in the data file.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Newest record timestamp in the segment (-1 when it has none).
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    /// The segment's files, for deletion by retention.
    pub fn paths(&self) -> &SegmentPaths {
        &self.paths
    }

    /// The open data file, for the scrubber's check.
    pub(super) fn file(&self) -> &File {
        &self.file
    }

    /// Whether `other` is this very segment (same open file), not a replacement
    /// that took its place meanwhile.
    pub(super) fn is_same(&self, other: &SealedSegment) -> bool {
        Arc::ptr_eq(&self.file, &other.file)
    }

    /// A sealed segment of an open data file and its index: one reopened at start-up,
    /// or the cleaner's output, already fsynced and renamed into place by the caller.
    pub(super) fn from_parts(
        paths: SegmentPaths,
        file: File,
        base_offset: i64,
        size: u64,
        max_timestamp: i64,
        index: OffsetIndex,
    ) -> SealedSegment {
        SealedSegment {
            paths,
            file: Arc::new(file),
            base_offset,
            size,
            max_timestamp,
            index,
        }
    }
}

/// A data file to fsync, detached from the segment that owns it.
#[derive(Debug, Clone)]
pub struct SyncHandle {
    file: Arc<File>,
    path: PathBuf,
}

impl SyncHandle {
    /// fdatasync of the data file.
    pub fn sync(&self) -> Result<(), LogError> {
        self.file
            .sync_data()
            .map_err(LogError::io("syncing", &self.path))
    }
}

/// Writes a small file durably (index files at seal time); the caller fsyncs the directory.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), LogError> {
    // Write aside and rename, so a crash leaves the old file or the whole new
    // one, never a truncated one that still parses.
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).map_err(LogError::io("creating", &tmp))?;
    file.write_all(bytes)
        .map_err(LogError::io("writing", &tmp))?;
    file.sync_all().map_err(LogError::io("syncing", &tmp))?;
    std::fs::rename(&tmp, path).map_err(LogError::io("renaming", &tmp))
}

/// Removes a file; a missing one is fine. Returns whether it was there.
pub fn remove_if_present(path: &Path) -> Result<bool, LogError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(LogError::io("removing", path)(e)),
    }
}

/// fsyncs a directory so that file creations and deletions in it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(LogError::io("syncing directory", dir))
}

/// Writes `head` then `rest` at `pos` with one `pwritev`, looping on a short write.
/// Two `pwrite`s cost a batch a second syscall and a second mtime update, which at a
/// pipeline round a millisecond showed in its profile.
fn write_pair_at(file: &File, head: &[u8], rest: &[u8], mut pos: u64) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind};
    use std::os::fd::AsRawFd;
    let (mut head, mut rest) = (head, rest);
    while !head.is_empty() || !rest.is_empty() {
        let iov = [
            libc::iovec {
                iov_base: head.as_ptr().cast_mut().cast(),
                iov_len: head.len(),
            },
            libc::iovec {
                iov_base: rest.as_ptr().cast_mut().cast(),
                iov_len: rest.len(),
            },
        ];
        let offset =
            libc::off_t::try_from(pos).map_err(|_| Error::from(ErrorKind::InvalidInput))?;
        // SAFETY: both iovecs point into slices that live across the call; pwritev only
        // reads them.
        let n = unsafe { libc::pwritev(file.as_raw_fd(), iov.as_ptr(), 2, offset) };
        let Ok(mut n) = usize::try_from(n) else {
            let e = Error::last_os_error();
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        };
        if n == 0 {
            return Err(ErrorKind::WriteZero.into());
        }
        pos += n as u64;
        let from_head = n.min(head.len());
        head = &head[from_head..];
        n -= from_head;
        rest = &rest[n..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_lands_back_to_back_at_its_position() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create_new(dir.path().join("f")).unwrap();
        write_pair_at(&file, b"head", b"records", 3).unwrap();
        write_pair_at(&file, b"", b"!", 14).unwrap();
        write_pair_at(&file, b"H", b"", 0).unwrap();
        let written = std::fs::read(dir.path().join("f")).unwrap();
        assert_eq!(written, b"H\0\0headrecords!");
    }
}
