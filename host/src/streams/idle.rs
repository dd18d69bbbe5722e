//! Windows that close on an idle input (`close_idle_after_ms`): once a task has read
//! nothing for that long, its stream time follows the wall clock, so `on_close` results
//! of a quiet input still come out. Kafka Streams only moves stream time with records.
//!
//! The pipeline drives this as a timer of the step: what it emits is not a function of
//! the input, so no replay could reproduce it. The timer's output goes through the
//! task's outbox, committed in one batch with the state change that makes it final (the
//! stream time moved, the windows past retention deleted), so each result is emitted
//! once across crashes: a replay after the commit starts from the moved stream time.

use std::ops::Bound;

use crate::runtime::{Output, StateBackend};

use super::aggregate::{Aggregation, Cache, Grouping};
use super::error::StreamsError;
use super::store::{self, STREAM_TIME_KEY, split_window_key, window_key};

impl Aggregation {
    /// Moves the step's stream time up to the wall clock `now_ms` and returns the
    /// results of every window that closes on the way (attributed to no input record).
    /// Nothing happens before the step has seen a record, or if stream time is ahead.
    pub fn advance_to(
        &self,
        store: &mut dyn StateBackend,
        now_ms: i64,
    ) -> Result<Output, StreamsError> {
        let mut out = Output::default();
        let Some(before) = store::load_stream_time(&*store)? else {
            return Ok(out);
        };
        if now_ms <= before {
            return Ok(out);
        }
        match self.grouping {
            Grouping::Running | Grouping::Changes => return Ok(out),
            Grouping::Time(windows) => {
                let mut cache = Cache::default();
                self.emit_closed(
                    store,
                    &mut cache,
                    windows,
                    Some(before),
                    now_ms,
                    0,
                    &mut out,
                )?;
                self.expire_windows(store, Some(before), now_ms)?;
            }
            Grouping::Sliding(sw) => {
                self.sliding_advance(sw, store, Some(before), now_ms, 0, &mut out)?;
            }
            Grouping::Session(sessions) => {
                self.session_emit_closed(sessions, &*store, Some(before), now_ms, 0, &mut out)?;
                self.session_expire(store, Some(before), now_ms)?;
            }
        }
        store.put(STREAM_TIME_KEY, &now_ms.to_be_bytes())?;
        Ok(out)
    }

    /// The stream time at which the earliest window still open closes, if one is: when
    /// an idle task's timer next has something to emit.
    pub fn next_close_ms(&self, store: &dyn StateBackend) -> Result<Option<i64>, StreamsError> {
        let Some(now) = store::load_stream_time(store)? else {
            return Ok(None);
        };
        match self.grouping {
            Grouping::Running | Grouping::Changes => Ok(None),
            Grouping::Time(windows) => {
                let after = windows.last_closed_start(now);
                let Some(lo) = crate::runtime::state::prefix_end(&window_key(after, &[])) else {
                    return Ok(None);
                };
                let hi = [store::WINDOW_TAG + 1];
                let first = store.range(Bound::Included(&lo), Bound::Excluded(&hi), 1)?;
                // A window closes once its end + grace is not after stream time.
                Ok(first
                    .first()
                    .and_then(|(k, _)| split_window_key(k))
                    .map(|(start, _)| {
                        windows
                            .window_at(start)
                            .end
                            .saturating_add(windows.grace_ms)
                    }))
            }
            Grouping::Sliding(sw) => {
                let after = sw.last_closed_start(now);
                let Some(lo) = crate::runtime::state::prefix_end(&window_key(after, &[])) else {
                    return Ok(None);
                };
                let hi = [store::WINDOW_TAG + 1];
                let first = store.range(Bound::Included(&lo), Bound::Excluded(&hi), 1)?;
                // Closed once its end is before stream time - grace.
                Ok(first
                    .first()
                    .and_then(|(k, _)| split_window_key(k))
                    .map(|(start, _)| {
                        sw.window_at(start)
                            .end
                            .saturating_add(sw.grace_ms)
                            .saturating_add(1)
                    }))
            }
            Grouping::Session(sessions) => self.session_next_close(sessions, store, now),
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::record::Record;
    use crate::runtime::{Body, MemoryState};
    use crate::streams::{Emit, KeyFormat, SessionWindows, TimeWindows, ValueFormat};

    fn record(key: &str, ts: i64) -> Record {
        Record {
            key: Some(Bytes::from(key.to_string())),
            value: Some(Bytes::from_static(b"x")),
            headers: Vec::new(),
            timestamp: ts,
        }
    }

    fn count(grouping: Grouping, retention_ms: i64) -> Aggregation {
        Aggregation {
            kind: super::super::aggregate::Kind::Count,
            grouping,
            emit: Emit::OnClose,
            value_format: ValueFormat::Text,
            key_format: KeyFormat::Plain,
            retention_ms,
            close_idle_after_ms: Some(100),
            max_open_windows: crate::streams::open::DEFAULT_MAX_OPEN_WINDOWS,
            late: crate::streams::Late::Drop,
        }
    }

    /// (key, start header, value) of each result.
    fn results(out: &Output) -> Vec<(String, String, String)> {
        out.records
            .iter()
            .map(|r| {
                let Body::New(r) = &r.body else { panic!() };
                let text = |b: &Option<Bytes>| String::from_utf8(b.clone().unwrap().to_vec());
                (
                    text(&r.key).unwrap(),
                    text(&r.headers[0].1).unwrap(),
                    text(&r.value).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn idle_time_closes_each_window_once_and_forgets_it() {
        let w = TimeWindows {
            size_ms: 1000,
            advance_ms: 1000,
            grace_ms: 50,
        };
        let agg = count(Grouping::Time(w), 1050);
        let mut store = MemoryState::default();
        // Before any record there is no stream time to move, and nothing to close.
        assert!(agg.advance_to(&mut store, 5000).unwrap().records.is_empty());
        assert_eq!(agg.next_close_ms(&store).unwrap(), None);
        let batch = [record("a", 100), record("b", 900), record("a", 1040)];
        assert!(
            agg.process(&mut store, &batch)
                .unwrap()
                .output
                .records
                .is_empty()
        );
        // [0, 1000) closes at 1050, [1000, 2000) at 2050.
        assert_eq!(agg.next_close_ms(&store).unwrap(), Some(1050));
        // A wall clock behind stream time moves nothing.
        assert!(agg.advance_to(&mut store, 1000).unwrap().records.is_empty());
        let out = agg.advance_to(&mut store, 1600).unwrap();
        assert_eq!(
            results(&out),
            vec![
                ("a".into(), "0".into(), "1".into()),
                ("b".into(), "0".into(), "1".into())
            ]
        );
        assert_eq!(store::load_stream_time(&store).unwrap(), Some(1600));
        assert_eq!(agg.next_close_ms(&store).unwrap(), Some(2050));
        // Closed once: a later advance emits only the next window; then nothing is open.
        let out = agg.advance_to(&mut store, 2100).unwrap();
        assert_eq!(results(&out), vec![("a".into(), "1000".into(), "1".into())]);
        assert_eq!(agg.next_close_ms(&store).unwrap(), None);
        assert!(agg.advance_to(&mut store, 9000).unwrap().records.is_empty());
        // Past retention the windows are gone from the store.
        assert!(
            store::windows_between(&store, None, i64::MAX)
                .unwrap()
                .is_empty()
        );
        // A record now older than the moved stream time is late.
        let done = agg.process(&mut store, &[record("a", 2500)]).unwrap();
        assert_eq!(done.late.len(), 1);
    }

    #[test]
    fn idle_time_closes_sessions() {
        let s = SessionWindows {
            gap_ms: 100,
            grace_ms: 0,
        };
        let agg = count(Grouping::Session(s), 100);
        let mut store = MemoryState::default();
        let batch = [record("a", 10), record("a", 20), record("b", 110)];
        assert!(
            agg.process(&mut store, &batch)
                .unwrap()
                .output
                .records
                .is_empty()
        );
        // a's [10, 20] closes once stream time - gap is past 20.
        assert_eq!(agg.next_close_ms(&store).unwrap(), Some(121));
        assert!(agg.advance_to(&mut store, 120).unwrap().records.is_empty());
        let out = agg.advance_to(&mut store, 121).unwrap();
        assert_eq!(results(&out), vec![("a".into(), "10".into(), "2".into())]);
        assert_eq!(agg.next_close_ms(&store).unwrap(), Some(211));
        let out = agg.advance_to(&mut store, 1000).unwrap();
        assert_eq!(results(&out), vec![("b".into(), "110".into(), "1".into())]);
        assert_eq!(agg.next_close_ms(&store).unwrap(), None);
        assert!(agg.advance_to(&mut store, 1000).unwrap().records.is_empty());
    }

    #[test]
    fn idle_time_closes_sliding_windows() {
        let sw = crate::streams::SlidingWindows {
            max_diff_ms: 10,
            grace_ms: 0,
        };
        let agg = count(Grouping::Sliding(sw), 11);
        let mut store = MemoryState::default();
        // Windows [-2 → 0, 10] for 8 and [5, 15], [9, 19] once 15 comes.
        let batch = [record("k", 8), record("k", 15)];
        // [0, 10] closes once its end is before stream time: 15 closes it.
        let done = agg.process(&mut store, &batch).unwrap();
        assert_eq!(
            results(&done.output),
            vec![("k".into(), "0".into(), "1".into())]
        );
        assert_eq!(agg.next_close_ms(&store).unwrap(), Some(16));
        assert_eq!(agg.advance_to(&mut store, 15).unwrap().records.len(), 0);
        let out = agg.advance_to(&mut store, 16).unwrap();
        assert_eq!(results(&out), vec![("k".into(), "5".into(), "2".into())]);
        assert_eq!(agg.next_close_ms(&store).unwrap(), Some(20));
        let out = agg.advance_to(&mut store, 100).unwrap();
        assert_eq!(results(&out), vec![("k".into(), "9".into(), "1".into())]);
        assert_eq!(agg.next_close_ms(&store).unwrap(), None);
    }
}
