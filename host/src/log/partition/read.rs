//! Reading a partition: whole batches from an offset within a byte budget, below the
//! high watermark (and, for `read_committed`, the last stable offset); and the tail's
//! headers, from which producer state is rebuilt.

use super::{FirstBatch, LogError, PartitionLog, ReadResult, log_start};
use crate::log::batch::BatchHeader;
use crate::log::segment_view::SegmentView;

impl PartitionLog {
    /// Reads whole batches starting with the one that holds `offset`, up to about
    /// `max_bytes` (at least one batch), never past the high watermark.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<ReadResult, LogError> {
        self.read_within(offset, max_bytes, i64::MAX, FirstBatch::AlwaysWhole)
    }

    /// [`PartitionLog::read`], leaving out batches at or after `limit` as well: a
    /// `read_committed` reader stops at the last stable offset. Reading from an
    /// offset between the limit and the high watermark returns no bytes.
    pub fn read_below(
        &self,
        offset: i64,
        max_bytes: usize,
        limit: i64,
    ) -> Result<ReadResult, LogError> {
        self.read_within(offset, max_bytes, limit, FirstBatch::AlwaysWhole)
    }

    /// [`PartitionLog::read`], with the choice of what a first batch over `max_bytes` does.
    pub fn read_limited(
        &self,
        offset: i64,
        max_bytes: usize,
        first: FirstBatch,
    ) -> Result<ReadResult, LogError> {
        self.read_within(offset, max_bytes, i64::MAX, first)
    }

    /// The one read: batches from the one holding `offset`, below `limit` and the high
    /// watermark, about `max_bytes` of them, the first as `first` says.
    pub fn read_within(
        &self,
        offset: i64,
        max_bytes: usize,
        limit: i64,
        first: FirstBatch,
    ) -> Result<ReadResult, LogError> {
        let high_watermark = *self.high_watermark.borrow();
        let limit = limit.min(high_watermark);
        let mut at = offset;
        loop {
            let (view, log_start_offset, next_base, damaged) = {
                let state = self.state.lock();
                if state.deleted {
                    return Err(LogError::Deleted);
                }
                let log_start = log_start(&state);
                if at == offset && (offset < log_start || offset > high_watermark) {
                    return Err(LogError::OffsetOutOfRange {
                        offset,
                        log_start,
                        high_watermark,
                    });
                }
                // Retention may have moved the start past a segment skipped below.
                at = at.max(log_start);
                if at >= limit {
                    return Ok(ReadResult {
                        bytes: Vec::new(),
                        high_watermark,
                        log_start_offset: log_start,
                    });
                }
                match state.sealed.range(..=at).next_back() {
                    Some((&base, seg)) if at < state.active.base_offset() => {
                        let next = state
                            .sealed
                            .range(at + 1..)
                            .next()
                            .map_or(state.active.base_offset(), |(&b, _)| b);
                        // Damage the scrubber found: a read at it fails, one
                        // before it stops short of it (see `damage`).
                        let damaged = match state.damage_limit(base, at)? {
                            Some(stop) => state.damage_at(base, stop).map(|e| (stop, e)),
                            None => None,
                        };
                        (seg.view_at(at), log_start, Some(next), damaged)
                    }
                    _ => (state.active.view_at(at), log_start, None, None),
                }
            };
            let stop = damaged.as_ref().map_or(limit, |(stop, _)| limit.min(*stop));
            let bytes = view.read(at, max_bytes, stop, first)?;
            if let (true, Some((_, e)), FirstBatch::AlwaysWhole) =
                (bytes.is_empty(), damaged, first)
            {
                // Nothing readable before the damage (a compaction gap): the
                // reader is at it, and must not be moved past it silently.
                return Err(e);
            }
            // Compaction can leave a sealed segment with nothing at or after `at`
            // (its tail records were superseded): go on to the next segment. Not when a
            // first batch over the limit may be left out: an empty answer may then mean
            // exactly that, and the reader asks again with the batch coming whole.
            if let (true, Some(next), FirstBatch::AlwaysWhole) =
                (bytes.is_empty(), next_base, first)
            {
                at = next;
                continue;
            }
            return Ok(ReadResult {
                bytes,
                high_watermark,
                log_start_offset,
            });
        }
    }

    /// Calls `f` with the header of every visible batch in the last `segments`
    /// segments (the active one included), oldest first, reading headers only.
    /// The idempotent producer state is rebuilt this way: a producer's last
    /// batches may sit in the segment sealed just before a restart.
    pub fn for_each_tail_header(
        &self,
        segments: usize,
        mut f: impl FnMut(&BatchHeader),
    ) -> Result<(), LogError> {
        let high_watermark = self.high_watermark();
        let views: Vec<SegmentView> = {
            let state = self.state.lock();
            let sealed = segments.saturating_sub(1);
            let skip = state.sealed.len().saturating_sub(sealed);
            state
                .sealed
                .values()
                .skip(skip)
                .map(|seg| seg.view_at(seg.base_offset()))
                .chain(std::iter::once(
                    state.active.view_at(state.active.base_offset()),
                ))
                .collect()
        };
        for view in views {
            view.for_each_header(high_watermark, &mut f)?;
        }
        Ok(())
    }
}
