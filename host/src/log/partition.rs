//! One partition's log: an ordered set of sealed segments and one active segment.
//!
//! Appends, reads (`partition/read.rs`), retention, compaction (`partition/compact.rs`)
//! and recovery of a partition all go through [`PartitionLog`]. Writes are serialised by one mutex; reads take it only long
//! enough to pick a segment and then read with `pread` outside it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use tokio::sync::watch;

use super::batch::{self, BatchHeader, TimestampType};
use super::cleaner::{checkpoint, swap};
use super::config::{FlushPolicy, LogConfig};
use super::error::LogError;
use super::segment::{ActiveSegment, SealedSegment, SegmentPaths, sync_dir};

mod compact;
mod damage;
mod log_start;
mod read;
mod time_lookup;

pub use damage::{Checked, Damage, DamageKind, SealedCursor};

#[cfg(test)]
use compact::{CrashPoint, tests_hook};

const RECOVERY_POINT: &str = "recovery-point";

/// Where a batch landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the batch's first record.
    pub base_offset: i64,
    /// Offset of the batch's last record.
    pub last_offset: i64,
    /// The broker time written into the batch, when the topic uses LogAppendTime.
    pub log_append_time: Option<i64>,
}

/// Bytes read from a partition plus its bounds at the time of the read.
#[derive(Debug, Clone, Default)]
pub struct ReadResult {
    /// Whole record batches, as stored.
    pub bytes: Vec<u8>,
    /// Offset after the last record consumers may see.
    pub high_watermark: i64,
    /// First offset still stored.
    pub log_start_offset: i64,
}

/// What a read does with a first batch larger than its byte limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstBatch {
    /// Returns it whole anyway, so a reader always makes progress.
    AlwaysWhole,
    /// Leaves it out like any batch that does not fit: a Kafka fetch past its
    /// first non-empty partition, whose response may exceed its limit only once.
    WithinLimit,
}

/// A summary of a partition for describe calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionStats {
    /// First offset still stored.
    pub log_start_offset: i64,
    /// Offset after the last record consumers may see.
    pub high_watermark: i64,
    /// Offset the next appended record gets.
    pub log_end_offset: i64,
    /// Bytes of data files on disk.
    pub size_bytes: u64,
    /// Number of segments, the active one included.
    pub segments: usize,
}

struct LogState {
    sealed: BTreeMap<i64, SealedSegment>,
    active: ActiveSegment,
    config: LogConfig,
    /// First readable offset as DeleteRecords set it (0 if never); the log
    /// start is the larger of this and the first segment's base.
    start_offset: i64,
    /// Set when a write or fsync failed in a way that may leave unacknowledged bytes.
    fenced: Option<String>,
    /// Why the last segment roll failed, while it is being retried (cleared by one
    /// that succeeds).
    retrying: Option<String>,
    deleted: bool,
    /// The cleaner's checkpoint: offsets before it were compacted by the last pass.
    first_dirty: i64,
    /// What the scrubber found unreadable in sealed segments.
    damage: Vec<damage::Found>,
}

/// A partition's durable log.
pub struct PartitionLog {
    dir: PathBuf,
    state: Mutex<LogState>,
    /// The offset up to which data is known to be fsynced (group commit).
    durable: Mutex<i64>,
    high_watermark: watch::Sender<i64>,
    /// Held by a compaction pass, so two never run on one partition at once.
    cleaning: Mutex<()>,
}

impl std::fmt::Debug for PartitionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionLog")
            .field("dir", &self.dir)
            .finish()
    }
}

impl PartitionLog {
    /// Opens (or creates) the partition in `dir`, recovering from the last clean point.
    pub fn open(dir: &Path, config: LogConfig) -> Result<PartitionLog, LogError> {
        std::fs::create_dir_all(dir).map_err(LogError::io("creating", dir))?;
        // A compaction swap a crash interrupted is finished (or its unfinished
        // output dropped) before the segments are listed.
        swap::recover(dir)?;
        let mut bases = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(LogError::io("listing", dir))? {
            let entry = entry.map_err(LogError::io("listing", dir))?;
            if let Some(base) = entry
                .file_name()
                .to_str()
                .and_then(SegmentPaths::parse_base_offset)
            {
                bases.push(base);
            }
        }
        bases.sort_unstable();
        let interval = u64::from(config.index_interval_bytes);
        let checkpoint = read_recovery_point(dir);
        let mut sealed = BTreeMap::new();
        let active = match bases.split_last() {
            None => ActiveSegment::create(dir, 0)?,
            Some((&last, older)) => {
                for (i, &base) in older.iter().enumerate() {
                    let next_base = bases[i + 1];
                    sealed.insert(base, SealedSegment::open(dir, base, next_base, interval)?);
                }
                let verify_from = match checkpoint {
                    Some((segment, position)) if segment == last => position,
                    _ => 0,
                };
                let (active, cut) =
                    ActiveSegment::recover(dir, last, verify_from, interval, wall_clock_ms())?;
                if let Some(cut) = cut {
                    tracing::warn!(dir = %dir.display(), "recovered partition: {cut}");
                }
                active
            }
        };
        // What a crash left in the page cache was never acknowledged under
        // every-batch; fsync it before consumers may see it, so that what they
        // see cannot vanish in a later power loss.
        active.sync()?;
        let leo = active.next_offset();
        let start_offset = log_start::read_log_start(dir).unwrap_or(0).clamp(0, leo);
        // The checkpoint is only trusted for the tail of a clean shutdown: remove
        // it now, so a crash from here on re-verifies the whole active segment.
        remove_recovery_point(dir)?;
        Ok(PartitionLog {
            dir: dir.to_path_buf(),
            state: Mutex::new(LogState {
                sealed,
                active,
                config,
                start_offset,
                fenced: None,
                retrying: None,
                deleted: false,
                first_dirty: checkpoint::read(dir),
                damage: Vec::new(),
            }),
            durable: Mutex::new(leo),
            high_watermark: watch::Sender::new(leo),
            cleaning: Mutex::new(()),
        })
    }

    /// The partition's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Validates one record batch, gives it offsets and appends it. Returns once
    /// the batch is as durable as the flush policy promises.
    pub fn append(&self, bytes: &[u8], now_ms: i64) -> Result<AppendInfo, LogError> {
        self.append_checked(batch::Checked::new(bytes)?, now_ms)
    }

    /// [`PartitionLog::append`] of a batch already validated (produce checks every
    /// batch it takes; a second CRC pass here was the broker's largest CPU cost of a
    /// produced byte after the copies). Its bytes are written as they are after the
    /// header, which is stamped on a copy of its own.
    pub fn append_checked(
        &self,
        checked: batch::Checked<'_>,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        let (bytes, header) = (checked.bytes(), *checked.header());
        // Decoded outside the lock: only a compacted log needs every record's key.
        if self.state.lock().config.cleanup.compaction().is_some() {
            check_keys(bytes)?;
        }
        let (head, records) = bytes
            .split_first_chunk::<{ batch::BATCH_HEADER_LEN }>()
            .ok_or(batch::BatchError::TooShort { len: bytes.len() })?;
        let mut head = *head;
        let (info, policy) = {
            let mut state = self.state.lock();
            check_fenced(&state)?;
            let max = state.config.max_message_bytes;
            if bytes.len() > max as usize {
                return Err(LogError::BatchTooLarge {
                    size: bytes.len(),
                    max,
                });
            }
            if let Some(max_future_ms) = state.config.max_future_ms
                && state.config.timestamp_type == TimestampType::CreateTime
                && header.max_timestamp > now_ms.saturating_add(max_future_ms)
            {
                return Err(LogError::TimestampTooFarAhead {
                    timestamp: header.max_timestamp,
                    now: now_ms,
                    max_future_ms,
                });
            }
            let base_offset = state.active.next_offset();
            let last_offset = base_offset + i64::from(header.last_offset_delta);
            if state.active.should_roll(
                bytes.len() as u64,
                last_offset,
                now_ms,
                state.config.segment_bytes,
                state.config.segment_ms,
            ) {
                self.roll(&mut state)?;
            }
            let log_append_time =
                (state.config.timestamp_type == TimestampType::LogAppendTime).then_some(now_ms);
            batch::restamp(&mut head, records, base_offset, log_append_time);
            let header = BatchHeader {
                base_offset,
                max_timestamp: log_append_time.unwrap_or(header.max_timestamp),
                ..header
            };
            let interval = u64::from(state.config.index_interval_bytes);
            if let Err(e) = state
                .active
                .append((&head, records), &header, now_ms, interval)
            {
                if let LogError::Fenced { reason } = &e {
                    state.fenced = Some(reason.clone());
                }
                return Err(e);
            }
            let policy = state.config.flush;
            if policy != FlushPolicy::EveryBatch {
                self.high_watermark.send_replace(state.active.next_offset());
            }
            (
                AppendInfo {
                    base_offset,
                    last_offset,
                    log_append_time,
                },
                policy,
            )
        };
        if policy == FlushPolicy::EveryBatch {
            self.sync_to(info.last_offset + 1)?;
        }
        Ok(info)
    }

    /// Group commit: makes everything up to `offset` durable, sharing one fsync
    /// among all writers waiting at the same time, then publishes the new high watermark.
    fn sync_to(&self, offset: i64) -> Result<(), LogError> {
        let mut durable = self.durable.lock();
        if *durable >= offset {
            return Ok(());
        }
        // fsync outside the state lock so appends go on meanwhile. If the segment
        // rolls in between, sealing already synced it and this sync is a no-op.
        let (handle, leo) = {
            let state = self.state.lock();
            check_fenced(&state)?;
            (state.active.sync_handle(), state.active.next_offset())
        };
        if let Err(e) = handle.sync() {
            // After a failed fsync the page cache may have dropped the dirty pages:
            // we can no longer tell what is on disk, so stop taking writes.
            self.state.lock().fenced = Some(e.to_string());
            return Err(e);
        }
        // A failure elsewhere (a seal, another writer's fsync) may have consumed
        // the error this fsync would have reported: trust it only if none did.
        check_fenced(&self.state.lock())?;
        *durable = leo;
        self.high_watermark.send_if_modified(|hw| {
            if leo > *hw {
                *hw = leo;
                true
            } else {
                false
            }
        });
        Ok(())
    }

    /// Seals the active segment and starts a new one at the log end offset.
    /// Sealing comes first: until the new file exists, recovery treats the old
    /// segment as the active one and CRC-checks it.
    ///
    /// Only a failed fsync fences the partition (the page cache may have dropped the
    /// dirty pages, so what is on disk is unknown). Anything else — out of file
    /// descriptors, a full disk while writing the indexes or creating the new file —
    /// leaves the old segment active and whole: this append fails, the next one tries
    /// the roll again, and the partition heals by itself once the condition clears
    /// (meanwhile `retrying` says why, for `/v1/health`).
    fn roll(&self, state: &mut LogState) -> Result<(), LogError> {
        if let Err(e) = state.active.sync() {
            state.fenced = Some(e.to_string());
            return Err(e);
        }
        let sealed = match state.active.seal() {
            Ok(s) => s,
            Err(e) => return Err(self.retry_later(state, e)),
        };
        let next = state.active.next_offset();
        let fresh = match ActiveSegment::create(&self.dir, next) {
            Ok(s) => s,
            Err(e) => {
                // A new file left behind would be taken for the active segment at the
                // next start, and the old one (which may grow meanwhile) for sealed. The
                // usual failure (out of descriptors) created nothing: nothing to sync.
                let removed = SegmentPaths::new(&self.dir, next)
                    .remove()
                    .and_then(|any| if any { sync_dir(&self.dir) } else { Ok(()) });
                if let Err(cut) = removed {
                    state.fenced = Some(format!(
                        "{e}; removing the half-created segment failed too: {cut}"
                    ));
                    return Err(e);
                }
                return Err(self.retry_later(state, e));
            }
        };
        let old = std::mem::replace(&mut state.active, fresh);
        state.sealed.insert(old.base_offset(), sealed);
        state.retrying = None;
        Ok(())
    }

    /// Notes a roll that failed for a reason that may pass, and hands the error back.
    fn retry_later(&self, state: &mut LogState, e: LogError) -> LogError {
        tracing::warn!(dir = %self.dir.display(), "segment roll failed, retried at the next append: {e}");
        state.retrying = Some(e.to_string());
        e
    }

    /// Base offset of the active segment: where a scan of the log's tail starts
    /// (the idempotent producer state is rebuilt from the batch headers there).
    pub fn active_base_offset(&self) -> i64 {
        self.state.lock().active.base_offset()
    }

    /// Offset after the last record consumers may see.
    pub fn high_watermark(&self) -> i64 {
        *self.high_watermark.borrow()
    }

    /// A receiver that changes whenever the high watermark moves (for long polls).
    ///
    /// Never hold a borrow of it (`borrow()`, or what `wait_for` returns) while calling
    /// into this log: an append sends to it under the partition's lock, so a reader
    /// holding the borrow and waiting for that lock deadlocks with it.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.high_watermark.subscribe()
    }

    /// Offsets, size and segment count right now.
    pub fn stats(&self) -> PartitionStats {
        let state = self.state.lock();
        PartitionStats {
            log_start_offset: log_start(&state),
            high_watermark: *self.high_watermark.borrow(),
            log_end_offset: state.active.next_offset(),
            size_bytes: state.sealed.values().map(|s| s.size()).sum::<u64>() + state.active.size(),
            segments: state.sealed.len() + 1,
        }
    }

    /// Why the partition takes no writes, if it is fenced.
    pub fn fenced(&self) -> Option<String> {
        self.state.lock().fenced.clone()
    }

    /// Why the last segment roll failed, while appends retry it.
    pub fn retrying(&self) -> Option<String> {
        self.state.lock().retrying.clone()
    }

    /// Replaces the settings (a topic config change); takes effect on the next append.
    pub fn set_config(&self, config: LogConfig) {
        self.state.lock().config = config;
    }

    /// Deletes sealed segments that `retention.ms` or `retention.bytes` no longer
    /// keep, oldest first. The active segment is never deleted. Returns how many went.
    pub fn apply_retention(&self, now_ms: i64) -> Result<usize, LogError> {
        // Files are unlinked under the lock: a topic deleted and re-created
        // meanwhile must never lose its new files to this pass.
        let mut state = self.state.lock();
        if state.deleted || !state.config.cleanup.deletes() {
            return Ok(0);
        }
        let mut total: u64 =
            state.sealed.values().map(|s| s.size()).sum::<u64>() + state.active.size();
        let mut removed = 0;
        while let Some((&base, seg)) = state.sealed.first_key_value() {
            let too_old = state
                .config
                .retention_ms
                .is_some_and(|ms| seg.max_timestamp() < now_ms.saturating_sub(ms));
            let too_big = state
                .config
                .retention_bytes
                .is_some_and(|max| total.saturating_sub(seg.size()) >= max);
            if !(too_old || too_big) {
                break;
            }
            // Only forget the segment once its files are gone, so a failure
            // cannot make the log start offset go backwards after a restart.
            seg.paths().remove()?;
            total -= seg.size();
            state.sealed.remove(&base);
            removed += 1;
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// fsyncs the active segment and publishes the high watermark (the interval flusher).
    pub fn flush(&self) -> Result<(), LogError> {
        let leo = self.state.lock().active.next_offset();
        self.sync_to(leo)
    }

    /// Clean shutdown: fsync, then record how far the active segment is known good so
    /// the next start need not CRC-check it.
    pub fn close(&self) -> Result<(), LogError> {
        // Everything under the lock: an append landing between the fsync and the
        // recovery point would otherwise be covered without being synced.
        let state = self.state.lock();
        if state.deleted || state.fenced.is_some() {
            return Ok(());
        }
        state.active.sync()?;
        let mut bytes = Vec::with_capacity(16);
        bytes.extend_from_slice(&state.active.base_offset().to_be_bytes());
        bytes.extend_from_slice(&state.active.size().to_be_bytes());
        let tmp = self.dir.join(format!("{RECOVERY_POINT}.tmp"));
        std::fs::write(&tmp, &bytes).map_err(LogError::io("writing", &tmp))?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(LogError::io("syncing", &tmp))?;
        let dst = self.dir.join(RECOVERY_POINT);
        std::fs::rename(&tmp, &dst).map_err(LogError::io("renaming", &dst))?;
        sync_dir(&self.dir)
    }

    /// Marks the partition deleted: later calls fail and long polls wake up.
    /// The caller removes the directory.
    pub fn mark_deleted(&self) {
        self.state.lock().deleted = true;
        self.high_watermark.send_modify(|_| {});
    }
}

/// Kafka refuses a record without a key on a compacted topic: compaction could
/// never supersede it. Control batches (transaction markers) are the broker's own.
fn check_keys(bytes: &[u8]) -> Result<(), LogError> {
    if BatchHeader::parse(bytes)?.is_control() {
        return Ok(());
    }
    match batch::check_produced(bytes, &batch::DecodeLimits::READER)?.first_keyless {
        Some(index) => Err(LogError::KeylessRecord { index }),
        None => Ok(()),
    }
}

fn check_fenced(state: &LogState) -> Result<(), LogError> {
    if state.deleted {
        return Err(LogError::Deleted);
    }
    match &state.fenced {
        Some(reason) => Err(LogError::Fenced {
            reason: reason.clone(),
        }),
        None => Ok(()),
    }
}

/// Wall-clock milliseconds since the epoch (recovery's stand-in for an append time).
fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn log_start(state: &LogState) -> i64 {
    state
        .sealed
        .keys()
        .next()
        .copied()
        .unwrap_or_else(|| state.active.base_offset())
        .max(state.start_offset)
}

fn read_recovery_point(dir: &Path) -> Option<(i64, u64)> {
    let bytes = std::fs::read(dir.join(RECOVERY_POINT)).ok()?;
    if bytes.len() != 16 {
        return None;
    }
    let segment = i64::from_be_bytes(bytes[0..8].try_into().ok()?);
    let position = u64::from_be_bytes(bytes[8..16].try_into().ok()?);
    Some((segment, position))
}

fn remove_recovery_point(dir: &Path) -> Result<(), LogError> {
    let path = dir.join(RECOVERY_POINT);
    match std::fs::remove_file(&path) {
        Ok(()) => sync_dir(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LogError::io("removing", &path)(e)),
    }
}

#[cfg(test)]
mod compact_tests;
#[cfg(test)]
mod tests;
