//! Sliding windows, as Kafka Streams' `SlidingWindows` and
//! `KStreamSlidingWindowAggregate`: windows `[start, start + max_diff]`, both ends
//! inclusive, created from record timestamps. A record at `t` makes its left window
//! `[t - max_diff, t]` (`[0, max_diff]` for a record earlier than `max_diff`), its right
//! window `[t + 1, t + 1 + max_diff]` when a record lies in `(t, t + max_diff]`, and the
//! previous record's right window when it holds `t`; it is added to every open window
//! holding it. With `close = stream time - grace`, a window is closed once its end is
//! before `close`, and a record is late when even its right window would be
//! (`t + 1 + max_diff <= close`).
//!
//! Kafka derives a new window's aggregate from its neighbours'; weir sums it from a
//! per-key log of the records still needed (the same sum while every record in it was
//! accepted while the neighbours were open).
//!
//! State, inside the step's key space (times order-preserving):
//! - `[1] ++ start ++ key`: a window's aggregate, as tumbling windows (closing and
//!   expiry are scans by start);
//! - `[6] ++ len(key) ++ key ++ ts`: the aggregate of the key's records at `ts`;
//! - `[5] ++ ts ++ key`: empty, the same by time (forgetting them).

use std::collections::BTreeMap;

use crate::runtime::state::MAX_KEY_BYTES;
use crate::runtime::{Output, StateBackend};

use super::aggregate::Aggregation;
use super::error::StreamsError;
use super::functions::Functions;
use super::store::scan;
use super::store::{self, Aggregate, Value, from_ordered, ordered, split_window_key, window_key};
use super::window::Window;

/// Windows of records at most `max_diff_ms` apart, accepting records `grace_ms` late.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindows {
    /// Largest time difference between two records of a window, ms.
    pub max_diff_ms: i64,
    /// Grace period, ms.
    pub grace_ms: i64,
}

impl SlidingWindows {
    /// The latest window start closed at `stream_time`: end `start + max_diff` before
    /// `stream time - grace`.
    pub fn last_closed_start(&self, stream_time: i64) -> i64 {
        stream_time
            .saturating_sub(self.grace_ms)
            .saturating_sub(self.max_diff_ms)
            .saturating_sub(1)
    }

    /// The window starting at `start` (its end inclusive).
    pub fn window_at(&self, start: i64) -> Window {
        Window {
            start,
            end: start.saturating_add(self.max_diff_ms),
        }
    }
}

/// First byte of the log by time.
const LOG_BY_TIME: u8 = 5;
/// First byte of the log by key.
const LOG_BY_KEY: u8 = 6;
/// Bytes the log adds to the record key.
pub const SLIDING_KEY_OVERHEAD: usize = 13;

fn log_prefix(key: &[u8]) -> Vec<u8> {
    [&[LOG_BY_KEY][..], &(key.len() as u32).to_be_bytes(), key].concat()
}

/// What one record does to the windows, before any of it is written.
struct Plan {
    /// Window key → its new aggregate.
    windows: BTreeMap<Vec<u8>, Aggregate>,
    /// The record's new log entry.
    log: Aggregate,
}

impl Aggregation {
    /// One record into its key's sliding windows. `Ok(Err(why))` fails the record alone.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn sliding_record(
        &self,
        fns: &mut dyn Functions,
        sw: SlidingWindows,
        store: &mut dyn StateBackend,
        key: &[u8],
        addend: Value,
        t: i64,
        source: u32,
        stream_time: &mut Option<i64>,
        changed: &mut BTreeMap<Vec<u8>, (u32, Aggregate)>,
        out: &mut Output,
        late: &mut Vec<super::aggregate::LateRecord>,
    ) -> Result<Result<(), String>, StreamsError> {
        if key.len() + SLIDING_KEY_OVERHEAD > MAX_KEY_BYTES {
            return Ok(Err(format!(
                "key of {} bytes is too long to aggregate: a sliding-window key holds at most {} bytes",
                key.len(),
                MAX_KEY_BYTES - SLIDING_KEY_OVERHEAD
            )));
        }
        let previous = *stream_time;
        let now = previous.map_or(t, |p| p.max(t));
        let close = now.saturating_sub(sw.grace_ms);
        if t.saturating_add(1).saturating_add(sw.max_diff_ms) <= close {
            late.push(super::aggregate::LateRecord {
                index: source,
                stream_time: now,
            });
        } else {
            let plan = match self.sliding_plan(fns, sw, &*store, key, addend, t, close)? {
                Ok(plan) => plan,
                Err(m) => return Ok(Err(m)),
            };
            let prefix = log_prefix(key);
            store.put(
                &[prefix.as_slice(), &ordered(t)].concat(),
                &plan.log.encode(),
            )?;
            store.put(&[&[LOG_BY_TIME][..], &ordered(t), key].concat(), &[])?;
            for (k, agg) in plan.windows {
                store.put(&k, &agg.encode())?;
                changed.insert(k, (source, agg));
            }
        }
        *stream_time = Some(now);
        if previous.is_none_or(|p| p < now) {
            self.sliding_advance(sw, store, previous, now, source, out)?;
        }
        Ok(Ok(()))
    }

    /// Stream time moved from `previous` to `now`: on close, the windows that closes
    /// are emitted (attributed to `source`); windows past retention and log entries no
    /// window can need any more are forgotten. Record by record, so a replay forgets
    /// exactly what the lost round did.
    pub(super) fn sliding_advance(
        &self,
        sw: SlidingWindows,
        store: &mut dyn StateBackend,
        previous: Option<i64>,
        now: i64,
        source: u32,
        out: &mut Output,
    ) -> Result<(), StreamsError> {
        if self.emit == super::spec::Emit::OnClose {
            let after = previous.map(|p| sw.last_closed_start(p));
            let through = sw.last_closed_start(now);
            if after.is_none_or(|a| a < through) {
                for (k, b) in store::windows_between(&*store, after, through)? {
                    if let Some((start, key)) = split_window_key(&k) {
                        let agg = Aggregate::decode(&k, &b, self.kind)?;
                        out.records
                            .push(self.result(key, Some(sw.window_at(start)), &agg, source));
                    }
                }
            }
        }
        let keep = self.retention_ms;
        let after = previous.map(|p| p.saturating_sub(keep));
        for (k, _) in store::windows_between(&*store, after, now.saturating_sub(keep))? {
            store.delete(&k)?;
        }
        // A record not late has t > close - 1 - max_diff and reads the log back to
        // t - 2 max_diff - 2; retention ≥ max_diff + 1 + grace covers that.
        let forget = now
            .saturating_sub(keep)
            .saturating_sub(2 * sw.max_diff_ms)
            .saturating_sub(2);
        let lo = match previous {
            Some(p) => {
                let f = p
                    .saturating_sub(keep)
                    .saturating_sub(2 * sw.max_diff_ms)
                    .saturating_sub(2);
                [&[LOG_BY_TIME][..], &ordered(f)].concat()
            }
            None => vec![LOG_BY_TIME],
        };
        let hi = [&[LOG_BY_TIME][..], &ordered(forget)].concat();
        if lo < hi {
            for (k, _) in scan(&*store, lo, &hi)? {
                let (Some(ts), Some(key)) = (k.get(1..9), k.get(9..)) else {
                    continue;
                };
                store.delete(&[log_prefix(key).as_slice(), ts].concat())?;
                store.delete(&k)?;
            }
        }
        Ok(())
    }

    /// The windows a record at `t` updates and creates, or why it fails (an overflow, a
    /// module's refusal).
    #[allow(clippy::too_many_arguments)]
    fn sliding_plan(
        &self,
        fns: &mut dyn Functions,
        sw: SlidingWindows,
        store: &dyn StateBackend,
        key: &[u8],
        addend: Value,
        t: i64,
        close: i64,
    ) -> Result<Result<Plan, String>, StreamsError> {
        let d = sw.max_diff_ms;
        let sum = self.kind;
        let prefix = log_prefix(key);
        let lo = [prefix.as_slice(), &ordered(t.saturating_sub(2 * d + 2))].concat();
        let hi = [prefix.as_slice(), &ordered(t.saturating_add(d + 2))].concat();
        let mut log: BTreeMap<i64, Aggregate> = BTreeMap::new();
        for (k, b) in scan(store, lo, &hi)? {
            let Some(ts) = k.get(prefix.len()..).and_then(|b| b.try_into().ok()) else {
                continue;
            };
            log.insert(from_ordered(ts), Aggregate::decode(&k, &b, sum)?);
        }
        // The log holds, per timestamp, the aggregate of the key's records at it.
        let mine = match self.fold(fns, key, log.get(&t).map(|a| &a.value), &addend, t)? {
            Ok(value) => Aggregate {
                timestamp: t,
                value,
            },
            Err(m) => return Ok(Err(m)),
        };
        let previous = log.range(..t).next_back().map(|(&p, _)| p);
        let right_needed = log.range(t + 1..=t.saturating_add(d)).next().is_some();
        log.insert(t, mine.clone());
        let mut windows = BTreeMap::new();
        // Existing open windows holding t: the left windows of records in [t, t + d] and
        // the right windows of records in [t - d - 1, t - 1].
        let mut starts: Vec<i64> = log
            .range(t..=t.saturating_add(d))
            .map(|(&r, _)| (r - d).max(0))
            .chain(log.range(t.saturating_sub(d + 1)..t).map(|(&r, _)| r + 1))
            .filter(|&s| s <= t && s + d >= t)
            .collect();
        starts.sort_unstable();
        starts.dedup();
        for s in starts {
            let k = window_key(s, key);
            if s + d < close {
                continue;
            }
            if let Some(b) = store.get(&k)? {
                let old = Aggregate::decode(&k, &b, sum)?;
                let value = match self.fold(fns, key, Some(&old.value), &addend, t)? {
                    Ok(value) => value,
                    Err(m) => return Ok(Err(m)),
                };
                windows.insert(
                    k,
                    Aggregate {
                        timestamp: old.timestamp.max(t),
                        value,
                    },
                );
            }
        }
        // New windows: t's left window, its right window if a record follows within d,
        // and the previous record's right window if it holds t.
        let mut new = vec![(t - d).max(0)];
        if right_needed {
            new.push(t + 1);
        }
        if let Some(p) = previous.filter(|&p| p + 1 + d >= t) {
            new.push(p + 1);
        }
        for s in new {
            let k = window_key(s, key);
            if s + d < close || windows.contains_key(&k) || store.get(&k)?.is_some() {
                continue;
            }
            let mut agg: Option<Aggregate> = None;
            // Built from the per-timestamp aggregates it holds, merged in time order.
            for (&r, a) in log.range(s..=s.saturating_add(d)) {
                agg = Some(match agg {
                    None => a.clone(),
                    Some(acc) => match self.combine(fns, key, &acc.value, &a.value)? {
                        Ok(value) => Aggregate {
                            timestamp: acc.timestamp.max(r),
                            value,
                        },
                        Err(m) => return Ok(Err(m)),
                    },
                });
            }
            if let Some(agg) = agg {
                windows.insert(k, agg);
            }
        }
        Ok(Ok(Plan { windows, log: mine }))
    }
}
