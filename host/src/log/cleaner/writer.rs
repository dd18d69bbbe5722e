//! Writing one cleaned segment: batches appended to `<base>.<end>.cleaned`, its
//! sparse indexes built in memory and written beside it, all fsynced before it may
//! be swapped in (so the swap, under the partition lock, only renames).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::log::LogError;
use crate::log::batch::BatchHeader;
use crate::log::index::OffsetIndex;
use crate::log::time_index::TimeIndex;

use super::swap;

/// A cleaned segment being written.
#[derive(Debug)]
pub struct CleanedWriter {
    path: PathBuf,
    file: File,
    base: i64,
    end: i64,
    size: u64,
    max_timestamp: i64,
    index: OffsetIndex,
    time_index: TimeIndex,
    since_index: u64,
    interval: u64,
}

/// A cleaned segment written and fsynced, not yet in the log.
#[derive(Debug)]
pub struct CleanedSegment {
    /// Its `.cleaned` file.
    pub path: PathBuf,
    /// The open data file (kept across renames).
    pub file: File,
    /// Base offset: the first replaced segment's.
    pub base: i64,
    /// End offset: the base of the segment after the replaced ones.
    pub end: i64,
    /// Bytes written.
    pub size: u64,
    /// Newest record timestamp kept (-1 if none).
    pub max_timestamp: i64,
    /// Sparse offset index.
    pub index: OffsetIndex,
    /// Sparse time index, sealed at `end - 1`.
    pub time_index: TimeIndex,
}

impl CleanedWriter {
    /// Creates (truncating any leftover) the cleaned file for segments `[base, end)`.
    pub fn create(dir: &Path, base: i64, end: i64, interval: u64) -> Result<Self, LogError> {
        let path = swap::cleaned_path(dir, base, end);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(LogError::io("creating", &path))?;
        Ok(CleanedWriter {
            path,
            file,
            base,
            end,
            size: 0,
            max_timestamp: -1,
            index: OffsetIndex::default(),
            time_index: TimeIndex::default(),
            since_index: u64::MAX,
            interval,
        })
    }

    /// Appends one batch (offsets unchanged, within `[base, end)`).
    pub fn append(&mut self, header: &BatchHeader, bytes: &[u8]) -> Result<(), LogError> {
        if self.size + bytes.len() as u64 > u64::from(u32::MAX) {
            return Err(LogError::Corrupt {
                path: self.path.clone(),
                position: self.size,
                reason: "a cleaned segment would pass 4 GiB".into(),
            });
        }
        self.file
            .write_all_at(bytes, self.size)
            .map_err(LogError::io("writing", &self.path))?;
        let relative = (header.base_offset - self.base) as u32;
        if self.since_index >= self.interval {
            self.index.push(relative, self.size as u32);
            self.time_index
                .push(self.max_timestamp.max(header.max_timestamp), relative);
            self.since_index = 0;
        }
        self.since_index = self.since_index.saturating_add(bytes.len() as u64);
        self.max_timestamp = self.max_timestamp.max(header.max_timestamp);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// fsyncs the data, seals the time index at the group's last offset and writes
    /// both indexes to their `.cleaned-*` files, fsynced.
    pub fn finish(mut self) -> Result<CleanedSegment, LogError> {
        self.file
            .sync_all()
            .map_err(LogError::io("syncing", &self.path))?;
        if self.end > self.base {
            self.time_index
                .seal(self.max_timestamp, (self.end - 1 - self.base) as u32);
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let (index, time_index) = swap::cleaned_index_paths(dir, self.base, self.end);
        for (path, bytes) in [
            (&index, self.index.encode()),
            (&time_index, self.time_index.encode()),
        ] {
            File::create(path)
                .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()))
                .map_err(LogError::io("writing", path))?;
        }
        Ok(CleanedSegment {
            path: self.path,
            file: self.file,
            base: self.base,
            end: self.end,
            size: self.size,
            max_timestamp: self.max_timestamp,
            index: self.index,
            time_index: self.time_index,
        })
    }
}
