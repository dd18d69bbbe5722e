//! Queryable state of an aggregation step (`GET /v1/pipelines/{name}/state/{step}`):
//! a key's running aggregate, or its windows in a time range, read from a state store
//! (the pipeline hands in one over a task's committed state).

use crate::runtime::StateBackend;

use super::aggregate::{Aggregation, Grouping, Kind};
use super::error::StreamsError;
use super::store::{self, Aggregate, Value, split_window_key, table_key};

/// One window's aggregate of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
            Some(b) => Ok(Some(
                Aggregate::decode(&k, &b, self.kind == Kind::Sum)?.value,
            )),
            None => Ok(None),
        }
    }

    /// `key`'s windows kept in the store: for tumbling and hopping windows those that
    /// start in `[from, to]` (Kafka's `WindowStore.fetch(key, timeFrom, timeTo)`), for
    /// sessions those that end at or after `from` and start at or before `to`
    /// (`SessionStore.findSessions`); in start order (sessions: end order).
    pub fn lookup_windows(
        &self,
        store: &dyn StateBackend,
        key: &[u8],
        from: i64,
        to: i64,
    ) -> Result<Vec<WindowValue>, StreamsError> {
        let mut found = Vec::new();
        match self.grouping {
            Grouping::Running => {}
            Grouping::Time(windows) => {
                // The window layout sorts by start, not key: the range is scanned and
                // other keys skipped.
                for (k, b) in store::windows_between(store, from.checked_sub(1), to)? {
                    if let Some((start, kk)) = split_window_key(&k)
                        && kk == key
                    {
                        let agg = Aggregate::decode(&k, &b, self.kind == Kind::Sum)?;
                        found.push(WindowValue {
                            start,
                            end: windows.window_at(start).end,
                            value: agg.value,
                        });
                    }
                }
            }
            Grouping::Session(_) => {
                for (start, end, agg) in self.session_lookup(store, key, from, to)? {
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
