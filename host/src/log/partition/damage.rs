//! What the scrubber found wrong with a partition's sealed segments, and how
//! reads treat it.
//!
//! A sealed segment is fsynced and never written again, so a batch that no
//! longer matches its CRC, or a data file that has gone, is damage from below
//! (disk, filesystem, an operator's hand). Readers are not failed forever at
//! it: as in Kafka, a read *at* a damaged offset gets an error naming the range
//! (Kafka: CORRUPT_MESSAGE, which the consumer surfaces to the application, who
//! may seek past it), a read *before* it stops short of it, and a read *after*
//! it is served as usual. The range's end is where the scrubber found the next
//! good batch, or the segment's end when the damaged header hid where it was.
//! Nothing is deleted: the operator sees the range in `/v1/health` and decides
//! (e.g. DeleteRecords past it, or restoring the file).

use std::ops::Range;

use super::{LogError, LogState, PartitionLog};
use crate::log::scan::{self, BadRange, Verified};
use crate::log::segment::SealedSegment;

/// A damaged range of a sealed segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The segment's data file name (relative to the partition's directory).
    pub segment: String,
    /// The segment's base offset.
    pub segment_base: i64,
    /// Unreadable offsets: `offsets.start` to `offsets.end` (exclusive).
    pub offsets: Range<i64>,
    /// What is wrong.
    pub kind: DamageKind,
}

/// How a sealed segment is damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DamageKind {
    /// Batches that do not verify (a CRC mismatch, an unreadable header).
    Corrupt {
        /// Where in the data file, bytes.
        position: u64,
        /// What the check found.
        reason: String,
    },
    /// The data file is gone from the directory. The open handle still serves
    /// reads until a restart, after which these offsets would be missing.
    Missing,
    /// No segment holds these offsets, in a log that compaction never thins:
    /// a segment's files were removed while the broker was stopped. Reads there
    /// go on at the next offset that exists, as in a compacted log.
    Gap,
}

/// What a finished check of one sealed segment found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    /// Ranges that do not verify.
    pub bad: Vec<BadRange>,
    /// The data file is gone from the directory.
    pub missing: bool,
    /// The offset after the segment's last good batch, when the whole segment
    /// was read: offsets from it to the next segment's base are held by none.
    pub last_end: Option<i64>,
}

impl std::fmt::Display for DamageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DamageKind::Corrupt { reason, .. } => f.write_str(reason),
            DamageKind::Missing => {
                f.write_str("the data file is missing from the partition's directory")
            }
            DamageKind::Gap => f.write_str(
                "no segment holds these offsets: a segment's files are missing from the \
                 partition's directory",
            ),
        }
    }
}

/// Damage as the log keeps it: with the very segment it was found in, so that
/// a segment retention deleted or compaction replaced takes its damage along.
#[derive(Debug)]
pub(super) struct Found {
    segment: SealedSegment,
    damage: Damage,
}

/// The sealed segment at or after `from`, for the scrubber to check next.
#[derive(Debug, Clone)]
pub struct SealedCursor {
    /// The segment.
    pub segment: SealedSegment,
    /// Its end: the next segment's base offset.
    pub end: i64,
}

impl LogState {
    /// The damage still current: found in a segment that is still in the log.
    fn current_damage(&self) -> impl Iterator<Item = &Damage> {
        self.damage
            .iter()
            .filter(|f| {
                self.sealed
                    .get(&f.segment.base_offset())
                    .is_some_and(|s| s.is_same(&f.segment))
            })
            .map(|f| &f.damage)
    }

    /// For a read at `at` in the sealed segment `base`: the damage holding
    /// `at` (`Err`), or the first damaged offset after it, where the read stops.
    pub(super) fn damage_limit(&self, base: i64, at: i64) -> Result<Option<i64>, LogError> {
        let mut stop: Option<i64> = None;
        for d in self
            .current_damage()
            .filter(|d| d.segment_base == base && matches!(d.kind, DamageKind::Corrupt { .. }))
        {
            if d.offsets.contains(&at) {
                return Err(d.error());
            }
            if d.offsets.start > at {
                stop = Some(stop.map_or(d.offsets.start, |s| s.min(d.offsets.start)));
            }
        }
        Ok(stop)
    }

    /// The damage starting at `offset` in segment `base`, if any.
    pub(super) fn damage_at(&self, base: i64, offset: i64) -> Option<LogError> {
        self.current_damage()
            .find(|d| d.segment_base == base && d.offsets.start == offset)
            .map(Damage::error)
    }
}

impl Damage {
    /// The error a reader of these offsets gets.
    pub fn error(&self) -> LogError {
        LogError::Damaged {
            segment: self.segment_base,
            offset: self.offsets.start,
            end: self.offsets.end,
            reason: self.kind.to_string(),
        }
    }
}

impl PartitionLog {
    /// The first sealed segment with a base offset at or after `from`.
    pub fn sealed_from(&self, from: i64) -> Option<SealedCursor> {
        let state = self.state.lock();
        let (_, segment) = state.sealed.range(from..).next()?;
        let end = state
            .sealed
            .range(segment.base_offset() + 1..)
            .next()
            .map_or(state.active.base_offset(), |(&b, _)| b);
        Some(SealedCursor {
            segment: segment.clone(),
            end,
        })
    }

    /// Whether `segment` is still this log's segment at its base offset.
    pub fn still_holds(&self, segment: &SealedSegment) -> bool {
        let state = self.state.lock();
        state
            .sealed
            .get(&segment.base_offset())
            .is_some_and(|s| s.is_same(segment))
    }

    /// One bounded step of checking a sealed segment (see [`scan::verify`]),
    /// outside the partition lock: the segment's file is never written again.
    pub fn verify_step(
        &self,
        segment: &SealedSegment,
        from: u64,
        expected: i64,
        budget: u64,
    ) -> Result<Verified, LogError> {
        let path = &segment.paths().log;
        scan::verify(segment.file(), segment.size(), from, expected, budget)
            .map_err(LogError::io("verifying", path))
    }

    /// Records the outcome of a finished check of `cursor`'s segment (empty
    /// when it verified). Replaces what an earlier check of the same segment found.
    pub fn record_check(&self, cursor: &SealedCursor, checked: &Checked) {
        let segment = &cursor.segment;
        let name = segment
            .paths()
            .log
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut state = self.state.lock();
        let still = state
            .sealed
            .get(&segment.base_offset())
            .is_some_and(|s| s.is_same(segment));
        // Forget damage of segments that are gone, and the old findings for this one.
        let sealed = std::mem::take(&mut state.sealed);
        state.damage.retain(|f| {
            sealed
                .get(&f.segment.base_offset())
                .is_some_and(|s| s.is_same(&f.segment))
                && !f.segment.is_same(segment)
        });
        state.sealed = sealed;
        if !still {
            return;
        }
        let base = segment.base_offset();
        let mut found: Vec<Damage> = checked
            .bad
            .iter()
            .map(|b| Damage {
                segment: name.clone(),
                segment_base: base,
                offsets: b.offset..b.end.unwrap_or(cursor.end).max(b.offset + 1),
                kind: DamageKind::Corrupt {
                    position: b.position,
                    reason: b.reason.clone(),
                },
            })
            .collect();
        if checked.missing {
            found.push(Damage {
                segment: name.clone(),
                segment_base: base,
                offsets: base..cursor.end,
                kind: DamageKind::Missing,
            });
        }
        let compacted = state.config.cleanup.compaction().is_some();
        if let Some(end) = checked.last_end.filter(|&e| e < cursor.end && !compacted) {
            found.push(Damage {
                segment: name.clone(),
                segment_base: base,
                offsets: end..cursor.end,
                kind: DamageKind::Gap,
            });
        }
        for damage in found {
            tracing::error!(
                dir = %self.dir.display(),
                segment = %damage.segment,
                offsets = ?damage.offsets,
                "damaged sealed segment: {}",
                damage.kind
            );
            state.damage.push(Found {
                segment: segment.clone(),
                damage,
            });
        }
    }

    /// The damage the scrubber found that is still in the log.
    pub fn damage(&self) -> Vec<Damage> {
        self.state.lock().current_damage().cloned().collect()
    }
}
