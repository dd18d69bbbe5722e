//! One compaction pass over a partition (the rules and file steps are in
//! [`crate::log::cleaner`]). Segments are read and cleaned copies written without
//! the partition lock; only the swap of each cleaned group takes it.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{FirstBatch, LogError, PartitionLog};
use crate::log::batch::{self, BatchHeader};
use crate::log::cleaner::aborted::AbortedSet;
use crate::log::cleaner::offset_map::{MAP_BUDGET_BYTES, OffsetMap};
use crate::log::cleaner::plan::{self, SegmentInfo};
use crate::log::cleaner::retain::{Retained, Retainer};
use crate::log::cleaner::writer::{CleanedSegment, CleanedWriter};
use crate::log::cleaner::{CleanStats, checkpoint, swap};
use crate::log::segment::{SealedSegment, SegmentPaths};

/// Points of a pass where a crash test stops it: after the cleaned file is
/// fsynced, after the swap file is committed, after it replaced the old segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// `<base>.<end>.cleaned` written and fsynced.
    Cleaned,
    /// Renamed to `.swap` (the commit point).
    Committed,
    /// Old segments removed, the swap and its indexes renamed into place, the
    /// partition's segment map not yet switched.
    Installed,
}

impl CrashPoint {
    fn name(self) -> &'static str {
        match self {
            CrashPoint::Cleaned => "cleaned",
            CrashPoint::Committed => "committed",
            CrashPoint::Installed => "installed",
        }
    }
}

/// Test hook. With `WEIR_TEST_CLEANER_PAUSE=<point>` in its environment, the
/// server stops the cleaner forever at that point and says so on stdout, so that
/// an end-to-end test can SIGKILL it there; nothing else reads the variable.
fn crash_point(point: CrashPoint) -> Result<(), LogError> {
    #[cfg(test)]
    if tests_hook::armed(point) {
        return Err(LogError::Fenced {
            reason: format!("test crash after {}", point.name()),
        });
    }
    static PAUSE: OnceLock<Option<String>> = OnceLock::new();
    let pause = PAUSE.get_or_init(|| std::env::var("WEIR_TEST_CLEANER_PAUSE").ok());
    if pause.as_deref() == Some(point.name()) {
        println!("weir: cleaner paused after {}", point.name());
        loop {
            std::thread::park();
        }
    }
    Ok(())
}

impl PartitionLog {
    /// Runs one compaction pass if the log is compacted and dirty enough by its
    /// settings at `now_ms`. Returns what it did, `None` when it had nothing to do.
    pub fn compact(&self, now_ms: i64) -> Result<Option<CleanStats>, LogError> {
        self.compact_below(now_ms, i64::MAX, &AbortedSet::default())
    }

    /// [`PartitionLog::compact`] touching only segments that end at or below
    /// `stable_end` (the last stable offset): a record of a transaction still open must
    /// not remove an earlier committed value of its key, since the transaction may abort.
    /// The records of `aborted` transactions are dropped and supersede nothing.
    pub fn compact_below(
        &self,
        now_ms: i64,
        stable_end: i64,
        aborted: &AbortedSet,
    ) -> Result<Option<CleanStats>, LogError> {
        self.compact_with(now_ms, MAP_BUDGET_BYTES, stable_end, aborted)
    }

    /// [`PartitionLog::compact_below`] with an offset map of `map_budget` bytes.
    pub(super) fn compact_with(
        &self,
        now_ms: i64,
        map_budget: usize,
        stable_end: i64,
        aborted: &AbortedSet,
    ) -> Result<Option<CleanStats>, LogError> {
        let Some(_running) = self.cleaning.try_lock() else {
            return Ok(None);
        };
        let (segments, active, compaction, segment_bytes, interval, first_dirty) = {
            let state = self.state.lock();
            if state.deleted || state.fenced.is_some() {
                return Ok(None);
            }
            let Some(compaction) = state.config.cleanup.compaction().copied() else {
                return Ok(None);
            };
            let segments: Vec<SealedSegment> = state.sealed.values().cloned().collect();
            (
                segments,
                state.active.view_at(state.active.base_offset()),
                compaction,
                state.config.segment_bytes,
                u64::from(state.config.index_interval_bytes),
                state.first_dirty,
            )
        };
        let infos: Vec<SegmentInfo> = segments
            .iter()
            .enumerate()
            .map(|(i, s)| SegmentInfo {
                base: s.base_offset(),
                end: segments
                    .get(i + 1)
                    .map_or(active.base_offset(), |n| n.base_offset()),
                size: s.size(),
                max_timestamp: s.max_timestamp(),
            })
            .collect();
        let dirty_at = plan::first_dirty_index(&infos, first_dirty);
        let first_dirty_timestamp = match segments.get(dirty_at) {
            Some(seg) => first_batch_timestamp(seg)?,
            None => None,
        };
        // Only segments wholly below the last stable offset may be cleaned.
        let stable = infos.iter().take_while(|s| s.end <= stable_end).count();
        let Some(plan) = plan::choose(
            &infos[..stable],
            first_dirty,
            first_dirty_timestamp,
            &compaction,
            now_ms,
        ) else {
            return Ok(None);
        };

        // The offset map of the dirty section, as far as its budget goes: to the end
        // of the batch that fills it. Records after that point are all kept (their
        // keys' later values are unknown); the checkpoint sends the next pass there.
        let mut map = OffsetMap::new(map_budget);
        let mut cleanable = plan.dirty;
        let mut filled_at = None;
        while cleanable < plan.cleanable && filled_at.is_none() {
            let seg = &segments[cleanable];
            seg.view_at(seg.base_offset())
                .for_each_batch(&mut |h, bytes| {
                    // Batches before the checkpoint were mapped by an earlier pass that
                    // stopped inside this segment; mapping them again would stop there again.
                    if filled_at.is_some()
                        || h.is_control()
                        || h.next_offset() <= first_dirty
                        || aborted.holds(h)
                    {
                        return Ok(());
                    }
                    for r in batch::decode_records(bytes)? {
                        if let Some(key) = r.key {
                            map.put(key, r.offset);
                        }
                    }
                    if map.is_full() {
                        filled_at = Some(h.next_offset());
                    }
                    Ok(())
                })?;
            cleanable += 1;
        }
        let clean_end = filled_at.unwrap_or(infos[cleanable - 1].end);

        // Each idempotent producer's last batch anywhere in the log keeps its header.
        let mut producer_last = HashMap::new();
        let mut note = |h: &BatchHeader| {
            if h.producer_id >= 0 {
                producer_last.insert(h.producer_id, h.base_offset);
            }
        };
        for seg in &segments {
            seg.view_at(seg.base_offset())
                .for_each_header(i64::MAX, &mut note)?;
        }
        active.for_each_header(i64::MAX, &mut note)?;

        let retainer = Retainer {
            map: &map,
            producer_last: &producer_last,
            now: now_ms,
            delete_retention_ms: compaction.delete_retention_ms,
            aborted,
        };
        let mut stats = CleanStats::default();
        for group in plan::groups(&infos[..cleanable], segment_bytes) {
            let (base, end) = (infos[group.start].base, infos[group.end - 1].end);
            let cleaned = self.write_group(
                &segments[group.clone()],
                base,
                end,
                interval,
                &retainer,
                &mut stats,
            )?;
            crash_point(CrashPoint::Cleaned)?;
            if !self.swap_in(&segments[group.clone()], cleaned)? {
                // Retention, DeleteRecords or a topic deletion changed these segments
                // meanwhile; the next pass starts over from what is there.
                return Ok(Some(stats));
            }
            stats.segments += group.len();
        }
        checkpoint::write(&self.dir, clean_end)?;
        self.state.lock().first_dirty = clean_end;
        Ok(Some(stats))
    }

    /// Writes the cleaned copy of `group` (segments `[base, end)`), fsynced.
    fn write_group(
        &self,
        group: &[SealedSegment],
        base: i64,
        end: i64,
        interval: u64,
        retainer: &Retainer<'_>,
        stats: &mut CleanStats,
    ) -> Result<CleanedSegment, LogError> {
        let mut writer = CleanedWriter::create(&self.dir, base, end, interval)?;
        let written = (|| {
            for seg in group {
                stats.bytes_read += seg.size();
                seg.view_at(seg.base_offset())
                    .for_each_batch(&mut |h, bytes| {
                        let (fate, removed) = retainer.batch(h, bytes)?;
                        stats.records_removed += removed;
                        match fate {
                            Retained::Whole => writer.append(h, bytes),
                            Retained::Rewritten(new) => {
                                let header = BatchHeader::parse(&new)?;
                                writer.append(&header, &new)
                            }
                            Retained::Dropped => Ok(()),
                        }
                    })?;
            }
            writer.finish()
        })();
        match written {
            Ok(cleaned) => {
                stats.bytes_written += cleaned.size;
                Ok(cleaned)
            }
            Err(e) => {
                let _ = swap::discard(&self.dir, base, end);
                Err(e)
            }
        }
    }

    /// Swaps a cleaned group in under the lock, if its segments are still the ones
    /// read. Returns false (and drops the cleaned file) when they are not.
    fn swap_in(&self, group: &[SealedSegment], cleaned: CleanedSegment) -> Result<bool, LogError> {
        let (base, end) = (cleaned.base, cleaned.end);
        let mut state = self.state.lock();
        let unchanged = group.iter().all(|g| {
            state
                .sealed
                .get(&g.base_offset())
                .is_some_and(|s| s.is_same(g))
        });
        if state.deleted || state.fenced.is_some() || !unchanged {
            drop(state);
            swap::discard(&self.dir, base, end)?;
            return Ok(false);
        }
        if let Err(e) = swap::commit(&self.dir, base, end) {
            drop(state);
            let _ = swap::discard(&self.dir, base, end);
            return Err(e);
        }
        crash_point(CrashPoint::Committed)?;
        // From the commit on the directory holds the new data; if the rest fails the
        // files no longer match what is in memory until a restart finishes the swap.
        let bases: Vec<i64> = group.iter().map(SealedSegment::base_offset).collect();
        if let Err(e) = swap::install(&self.dir, base, end, &bases, true) {
            state.fenced = Some(format!("compaction swap failed, restart to finish it: {e}"));
            return Err(e);
        }
        crash_point(CrashPoint::Installed)?;
        let paths = SegmentPaths::new(&self.dir, base);
        for b in &bases {
            state.sealed.remove(b);
        }
        state.sealed.insert(
            base,
            SealedSegment::from_parts(
                paths,
                cleaned.file,
                base,
                cleaned.size,
                cleaned.max_timestamp,
                cleaned.index,
            ),
        );
        Ok(true)
    }
}

/// The max timestamp of a segment's first batch: how old its oldest data is.
fn first_batch_timestamp(seg: &SealedSegment) -> Result<Option<i64>, LogError> {
    let mut first = None;
    let bytes = seg.view_at(seg.base_offset()).read(
        seg.base_offset(),
        1,
        i64::MAX,
        FirstBatch::AlwaysWhole,
    )?;
    if let Ok(h) = BatchHeader::parse(&bytes) {
        first = Some(h.max_timestamp);
    }
    Ok(first)
}

#[cfg(test)]
pub(crate) mod tests_hook {
    //! Arms a [`super::CrashPoint`] for the current thread: the pass stops there
    //! as if the process had died, and the test reopens the log.
    use std::cell::Cell;

    use super::CrashPoint;

    thread_local!(static ARMED: Cell<Option<CrashPoint>> = const { Cell::new(None) });

    /// Makes the next pass on this thread stop at `point`.
    pub fn arm(point: Option<CrashPoint>) {
        ARMED.with(|a| a.set(point));
    }

    pub(super) fn armed(point: CrashPoint) -> bool {
        ARMED.with(|a| a.get() == Some(point))
    }
}
