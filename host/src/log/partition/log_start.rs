//! Moving the log start offset forward (Kafka's DeleteRecords), and keeping
//! it across restarts.
//!
//! Segments only give the start at segment granularity, so an explicit start
//! inside a segment is written to `log-start-offset` (8 bytes, big-endian):
//! to a temporary file, fsynced, renamed over the old one, directory fsynced —
//! before the new start is used. Segments wholly below it are then deleted.
//! Recovery takes the larger of the file and the first segment's base,
//! clamped to the log end (a start past the end would make appends go below it).

use std::path::Path;

use super::{LogError, LogState, PartitionLog, log_start, sync_dir};

const LOG_START: &str = "log-start-offset";

impl PartitionLog {
    /// Makes every offset before `offset` unreadable (`-1` = the high
    /// watermark) and returns the new log start. Offsets past the high
    /// watermark are out of range; one at or before the current start changes
    /// nothing. Durable before it returns.
    pub fn delete_records(&self, offset: i64) -> Result<i64, LogError> {
        let high_watermark = self.high_watermark();
        let mut state = self.state.lock();
        super::check_fenced(&state)?;
        let start = log_start(&state);
        let offset = if offset == -1 { high_watermark } else { offset };
        if offset < 0 || offset > high_watermark {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: start,
                high_watermark,
            });
        }
        if offset <= start {
            return Ok(start);
        }
        write_log_start(&self.dir, offset)?;
        state.start_offset = offset;
        remove_segments_below(&self.dir, &mut state, offset)?;
        Ok(offset)
    }
}

/// Deletes sealed segments whose every offset is below `offset`, oldest first.
fn remove_segments_below(dir: &Path, state: &mut LogState, offset: i64) -> Result<(), LogError> {
    let mut removed = false;
    loop {
        let mut bases = state.sealed.keys().copied();
        let Some(first) = bases.next() else { break };
        let next = bases.next().unwrap_or_else(|| state.active.base_offset());
        if next > offset {
            break;
        }
        if let Some(seg) = state.sealed.get(&first) {
            // Forgotten only once its files are gone, as retention does.
            seg.paths().remove()?;
        }
        state.sealed.remove(&first);
        removed = true;
    }
    if removed {
        sync_dir(dir)?;
    }
    Ok(())
}

fn write_log_start(dir: &Path, offset: i64) -> Result<(), LogError> {
    let tmp = dir.join(format!("{LOG_START}.tmp"));
    std::fs::write(&tmp, offset.to_be_bytes()).map_err(LogError::io("writing", &tmp))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(LogError::io("syncing", &tmp))?;
    let dst = dir.join(LOG_START);
    std::fs::rename(&tmp, &dst).map_err(LogError::io("renaming", &dst))?;
    sync_dir(dir)
}

/// The start a previous DeleteRecords left, if any. An unreadable file is
/// ignored with a warning: the segments still bound the start from below.
pub(super) fn read_log_start(dir: &Path) -> Option<i64> {
    let path = dir.join(LOG_START);
    let bytes = std::fs::read(&path).ok()?;
    match <[u8; 8]>::try_from(bytes.as_slice()) {
        Ok(b) => Some(i64::from_be_bytes(b)),
        Err(_) => {
            tracing::warn!(path = %path.display(), "ignoring a log start file of {} bytes", bytes.len());
            None
        }
    }
}
