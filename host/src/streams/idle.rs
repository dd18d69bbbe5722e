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
            Grouping::Running => return Ok(out),
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
            Grouping::Running => Ok(None),
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
            Grouping::Session(sessions) => self.session_next_close(sessions, store, now),
        }
    }
}
