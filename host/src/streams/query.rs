//! Queryable state of an aggregation step (`GET /v1/pipelines/{name}/state/{step}`):
//! a key's running aggregate, or its windows in a time range, read from a state store
//! (the pipeline hands in one over a task's committed state).

use std::ops::Bound;

use crate::runtime::StateBackend;
use crate::runtime::state::prefix_end;

use super::aggregate::{Aggregation, Grouping};
use super::error::StreamsError;
use super::store::{self, Aggregate, Value, split_window_key, table_key, window_key};

/// One window's aggregate of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowValue {
    /// Window start, ms since the epoch.
    pub start: i64,
    /// Window end, ms: exclusive for tumbling and hopping windows, inclusive (the last
    /// record's timestamp) for sessions, as the `weir.window.end` header.
    pub end: i64,
    /// The count or sum.
    pub value: Value,
}

impl Aggregation {
    /// A running (non-windowed) aggregate's current value for `key`, if it has one.
    pub fn lookup(
        &self,
        store: &dyn StateBackend,
        key: &[u8],
    ) -> Result<Option<Value>, StreamsError> {
        let k = table_key(key);
        match store.get(&k)? {
            Some(b) => Ok(Some(Aggregate::decode(&k, &b, self.kind)?.value)),
            None => Ok(None),
        }
    }

    /// `key`'s windows kept in the store: for tumbling and hopping windows those that
    /// start in `[from, to]` (Kafka's `WindowStore.fetch(key, timeFrom, timeTo)`), for
    /// sessions those that end at or after `from` and start at or before `to`
    /// (`SessionStore.findSessions`); in start order (sessions: end order). Reads at
    /// most `limit` window entries (of every key: windows are stored by start) or
    /// fails with [`StreamsError::QueryTooWide`].
    pub fn lookup_windows(
        &self,
        store: &dyn StateBackend,
        key: &[u8],
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<WindowValue>, StreamsError> {
        let mut found = Vec::new();
        match self.grouping {
            Grouping::Running | Grouping::Changes => {}
            Grouping::Time(_) | Grouping::Sliding(_) => {
                // The window layout sorts by start, not key: the range is scanned and
                // other keys skipped.
                let lo = match from.checked_sub(1) {
                    Some(after) => prefix_end(&window_key(after, &[])),
                    None => Some(vec![store::WINDOW_TAG]),
                };
                let (Some(lo), Some(hi)) = (lo, prefix_end(&window_key(to, &[]))) else {
                    return Ok(found);
                };
                if lo >= hi {
                    return Ok(found);
                }
                let entries = store.range(Bound::Included(&lo), Bound::Excluded(&hi), limit + 1)?;
                if entries.len() > limit {
                    return Err(StreamsError::QueryTooWide { limit });
                }
                for (k, b) in entries {
                    if let Some((start, kk)) = split_window_key(&k)
                        && kk == key
                    {
                        let agg = Aggregate::decode(&k, &b, self.kind)?;
                        found.push(WindowValue {
                            start,
                            end: match self.grouping {
                                Grouping::Sliding(sw) => sw.window_at(start).end,
                                Grouping::Time(w) => w.window_at(start).end,
                                _ => start,
                            },
                            value: agg.value,
                        });
                    }
                }
            }
            Grouping::Session(_) => {
                for (start, end, agg) in self.session_lookup(store, key, from, to, limit)? {
                    found.push(WindowValue {
                        start,
                        end,
                        value: agg.value,
                    });
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::record::Record;
    use crate::runtime::MemoryState;
    use crate::streams::{Emit, KeyFormat, Kind, TimeWindows, ValueFormat};

    #[test]
    fn window_queries_take_starts_in_range_and_refuse_reading_past_the_limit() {
        let w = TimeWindows {
            size_ms: 10,
            advance_ms: 5,
            grace_ms: 0,
        };
        let agg = Aggregation {
            kind: Kind::Count,
            grouping: Grouping::Time(w),
            emit: Emit::OnUpdate,
            value_format: ValueFormat::Text,
            key_format: KeyFormat::Plain,
            retention_ms: 1000,
            close_idle_after_ms: None,
            max_open_windows: crate::streams::open::DEFAULT_MAX_OPEN_WINDOWS,
            late: crate::streams::Late::Drop,
        };
        let mut store = MemoryState::default();
        let record = |key: &str, ts| Record {
            key: Some(Bytes::from(key.to_string())),
            value: None,
            headers: Vec::new(),
            timestamp: ts,
        };
        // a@7 is in [0, 10) and [5, 15); b@12 in [5, 15) and [10, 20).
        agg.process(&mut store, &[record("a", 7), record("b", 12)])
            .unwrap();
        let got = |from, to, limit| agg.lookup_windows(&store, b"a", from, to, limit);
        let starts = |r: Result<Vec<WindowValue>, StreamsError>| -> Vec<(i64, i64)> {
            r.unwrap().iter().map(|w| (w.start, w.end)).collect()
        };
        assert_eq!(starts(got(0, 5, 100)), vec![(0, 10), (5, 15)]);
        assert_eq!(starts(got(1, 5, 100)), vec![(5, 15)]);
        assert_eq!(starts(got(i64::MIN, i64::MAX, 100)), vec![(0, 10), (5, 15)]);
        assert!(starts(got(6, 100, 100)).is_empty());
        assert_eq!(got(0, 5, 100).unwrap()[0].value, Value::Count(1));
        // Starts in [0, 10]: a's two windows and both of b's, four entries read.
        assert_eq!(starts(got(0, 10, 4)), vec![(0, 10), (5, 15)]);
        assert!(got(0, 10, 3).unwrap_err().is_too_wide());
        assert_eq!(
            agg.lookup(&store, b"a").unwrap(),
            None,
            "windowed, not running"
        );
    }
}
