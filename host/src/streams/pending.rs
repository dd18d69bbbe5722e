//! `on_update` results built at the commit: [`Aggregation::uncommitted_updates`] and
//! [`Aggregation::emit_closing`].
//!
//! A pipeline holds an `on_update` step's results until its commit and then emits the
//! latest per window and key (Kafka Streams' record cache with `commit.interval.ms`).
//! Building a result for every (window, key) each batch changed, only for the next
//! batch to replace it, was most of such a step's cost. The changes since the last
//! commit are already in one place: the store's uncommitted writes, which a discarded
//! round or record undoes together with the state. So the results of windows still open
//! are built from those writes at the commit, and those of a window that closes in
//! between from them as it closes (it then leaves memory, and past retention the store).

use std::ops::Bound;

use crate::runtime::state::prefix_end;
use crate::runtime::{Output, OutputRecord, StateBackend};

use super::aggregate::{Aggregation, Grouping};
use super::error::StreamsError;
use super::open::Loaded;
use super::store::{self, Aggregate, WINDOW_TAG, split_window_key, window_key};
use super::window::{TimeWindows, WindowHeaders};

impl Aggregation {
    /// The results of every (window, key) of an `on_update` count or sum over time
    /// windows written since the store's last commit and still open, in (start, key)
    /// order: what a step that defers its updates ([`super::OpenWindows::defer_updates`])
    /// emits at the commit. Other groupings emit per batch and have none here.
    pub fn uncommitted_updates(
        &self,
        store: &dyn StateBackend,
    ) -> Result<Vec<OutputRecord>, StreamsError> {
        let Grouping::Time(windows) = self.grouping else {
            return Ok(Vec::new());
        };
        let Some(now) = store::load_stream_time(store)? else {
            return Ok(Vec::new());
        };
        // The first key of the first window still open (closed ones were emitted as
        // they closed).
        let Some(lo) = prefix_end(&window_key(windows.last_closed_start(now), &[])) else {
            return Ok(Vec::new());
        };
        let hi = [WINDOW_TAG + 1];
        let mut out = Vec::new();
        let writes = store
            .uncommitted(Bound::Included(&lo), Bound::Excluded(&hi))?
            .unwrap_or_default();
        // The writes come in (start, key) order: a window's results share its headers.
        let mut headers: Option<WindowHeaders> = None;
        for (k, v) in writes {
            let (Some(bytes), Some((start, key))) = (v, split_window_key(&k)) else {
                continue;
            };
            let agg = Aggregate::decode(&k, &bytes, self.kind)?;
            let window = match &headers {
                Some(h) if h.window.start == start => h,
                _ => headers.insert(WindowHeaders::of(windows.window_at(start))),
            };
            out.push(self.result_in(key, Some(window), &agg, 0));
        }
        Ok(out)
    }

    /// Emits, for every window in memory that stream time `now` closes, the results of
    /// its keys written since the store's last commit, attributed to input record
    /// `source`; before the windows leave memory (and, past retention, the store).
    pub(super) fn emit_closing(
        &self,
        store: &dyn StateBackend,
        mem: &Loaded,
        windows: TimeWindows,
        now: i64,
        source: u32,
        out: &mut Output,
    ) -> Result<(), StreamsError> {
        for (start, keys) in mem.between(None, windows.last_closed_start(now)) {
            let window = WindowHeaders::of(windows.window_at(start));
            let lo = window_key(start, &[]);
            let hi = match prefix_end(&lo) {
                Some(hi) => Bound::Excluded(hi),
                None => Bound::Unbounded,
            };
            let writes = store
                .uncommitted(Bound::Included(&lo), hi.as_ref().map(Vec::as_slice))?
                .unwrap_or_default();
            for (k, v) in writes {
                let Some((_, key)) = split_window_key(&k).filter(|_| v.is_some()) else {
                    continue;
                };
                // Memory's aggregate: the store misses this batch's last change when the
                // window expires now.
                if let Some(e) = keys.get(key) {
                    out.records
                        .push(self.result_in(key, Some(&window), &e.agg, source));
                }
            }
        }
        Ok(())
    }
}
