//! [`Aggregation::process_open`] and [`Aggregation::advance_open`]: the tumbling and
//! hopping window operator over a task's [`OpenWindows`], with the same results, in the
//! same order, and the same store contents after each batch as [`Aggregation::process`]
//! and [`Aggregation::advance_to`] over the store alone (what a replay after a crash,
//! with memory read anew, relies on). Other groupings, and a spilled memory, take the
//! store path. When the pipeline builds `on_update` results at its commits
//! ([`OpenWindows::defer_updates`]), a batch emits only those of the windows it closes
//! (see [`super::pending`]).

use crate::record::Record;
use crate::runtime::state::MAX_KEY_BYTES;
use crate::runtime::{Output, RecordFailure, StateBackend};

use super::aggregate::{Aggregation, Grouping, LateRecord, Processed, too_long};
use super::error::StreamsError;
use super::open::{Loaded, OpenWindows};
use super::spec::Emit;
use super::store::{self, Aggregate, STREAM_TIME_KEY, WINDOW_KEY_OVERHEAD, window_key};
use super::window::{TimeWindows, WindowHeaders};

impl Aggregation {
    /// [`Aggregation::process`], keeping tumbling and hopping windows in `open`
    /// between batches.
    pub fn process_open(
        &self,
        store: &mut dyn StateBackend,
        open: &mut OpenWindows,
        records: &[Record],
    ) -> Result<Processed, StreamsError> {
        // A batch cut short leaves memory ahead of the store: read it again.
        self.process_open_batch(store, open, records)
            .inspect_err(|_| open.forget())
    }

    fn process_open_batch(
        &self,
        store: &mut dyn StateBackend,
        open: &mut OpenWindows,
        records: &[Record],
    ) -> Result<Processed, StreamsError> {
        let Grouping::Time(windows) = self.grouping else {
            return self.process(store, records);
        };
        let before = store::load_stream_time(store)?;
        // Results built at the commit instead (see `pending`).
        let defer = self.emit == Emit::OnUpdate && open.defers_updates();
        let Some(mem) = open.ready(&*store, windows, before, self.kind)? else {
            if defer && open.owes_updates(store.generation()) {
                // Before the batch: windows it closes must not take theirs along.
                let owed = self.uncommitted_updates(&*store)?;
                let mut done = self.process(store, records)?;
                done.output.records.splice(0..0, owed);
                return Ok(done);
            }
            return self.process(store, records);
        };
        let mut done = Processed::default();
        let mut stream_time = before;
        let mut updates: Vec<(i64, Aggregate)> = Vec::new();
        for (j, record) in records.iter().enumerate() {
            let index = j as u32;
            let mut fail = |message: String| {
                done.output.failures.push(RecordFailure { index, message });
            };
            let (key, addend) = match self.addend(record) {
                None => continue,
                Some(Ok(found)) => found,
                Some(Err(m)) => {
                    fail(m);
                    continue;
                }
            };
            if key.len() + WINDOW_KEY_OVERHEAD > MAX_KEY_BYTES {
                fail(too_long(key.len(), WINDOW_KEY_OVERHEAD));
                continue;
            }
            let ts = record.timestamp;
            let now = stream_time.map_or(ts, |t| t.max(ts));
            // Every open window's new aggregate first: a sum that overflows in one of
            // them fails the record in all.
            updates.clear();
            let mut overflow = false;
            for window in windows.windows_for(ts) {
                if windows.closed(window, now) {
                    continue;
                }
                let agg = match mem.get(window.start, key) {
                    None => Some(Aggregate {
                        timestamp: ts,
                        value: addend.clone(),
                    }),
                    Some(old) => self.plus(&old.value, &addend).map(|value| Aggregate {
                        timestamp: old.timestamp.max(ts),
                        value,
                    }),
                };
                match agg {
                    Some(agg) => updates.push((window.start, agg)),
                    None => overflow = true,
                }
            }
            if overflow {
                fail(format!("the {} overflows", self.kind_name()));
                continue;
            }
            if updates.is_empty() {
                done.late.push(LateRecord {
                    index,
                    stream_time: now,
                });
            }
            for (start, agg) in updates.drain(..) {
                mem.set(start, key, agg, index);
            }
            let previous = stream_time;
            stream_time = Some(now);
            if self.emit == Emit::OnClose && previous.is_none_or(|p| p < now) {
                self.emit_closed_open(mem, windows, previous, now, index, &mut done.output);
            }
        }
        // The batch's changes, as the store path leaves them: on_update results in
        // (start, key) order, each aggregate written unless its window expires now.
        // Deferred, a window's result waits in the store for the commit (or its close),
        // except one expiring now, which never reaches the store.
        let expired_through = stream_time.map(|t| t.saturating_sub(self.retention_ms));
        for (start, key, source, agg) in mem.take_dirty() {
            let stored = expired_through.is_none_or(|e| start > e);
            if self.emit == Emit::OnUpdate && !(defer && stored) {
                done.output.records.push(self.result(
                    &key,
                    Some(windows.window_at(start)),
                    &agg,
                    source,
                ));
            }
            if stored {
                store.put(&window_key(start, &key), &agg.encode())?;
                mem.mark_stored(start, &key);
            }
        }
        if stream_time != before
            && let Some(now) = stream_time
        {
            store.put(STREAM_TIME_KEY, &now.to_be_bytes())?;
            if defer {
                // Attributed to the batch's last record: the one that closed them.
                let last = records.len().saturating_sub(1) as u32;
                self.emit_closing(&*store, mem, windows, now, last, &mut done.output)?;
            }
            self.close_open(store, mem, windows, before, now)?;
        }
        open.spill_if_over(windows, stream_time);
        Ok(done)
    }

    /// [`Aggregation::advance_to`], over the windows in `open`.
    pub fn advance_open(
        &self,
        store: &mut dyn StateBackend,
        open: &mut OpenWindows,
        now_ms: i64,
    ) -> Result<Output, StreamsError> {
        self.advance_open_to(store, open, now_ms)
            .inspect_err(|_| open.forget())
    }

    fn advance_open_to(
        &self,
        store: &mut dyn StateBackend,
        open: &mut OpenWindows,
        now_ms: i64,
    ) -> Result<Output, StreamsError> {
        let Grouping::Time(windows) = self.grouping else {
            return self.advance_to(store, now_ms);
        };
        let before = store::load_stream_time(&*store)?;
        let Some(mem) = open.ready(&*store, windows, before, self.kind)? else {
            return self.advance_to(store, now_ms);
        };
        let mut out = Output::default();
        let Some(before) = before else {
            return Ok(out);
        };
        if now_ms <= before {
            return Ok(out);
        }
        self.emit_closed_open(mem, windows, Some(before), now_ms, 0, &mut out);
        self.close_open(store, mem, windows, Some(before), now_ms)?;
        store.put(STREAM_TIME_KEY, &now_ms.to_be_bytes())?;
        Ok(out)
    }

    /// Emits every window in memory closed by stream time moving from `previous` to
    /// `now`, each (window, key) once, in (start, key) order, attributed to input
    /// record `source`: what [`Aggregation::emit_closed`] finds in the store.
    fn emit_closed_open(
        &self,
        mem: &Loaded,
        windows: TimeWindows,
        previous: Option<i64>,
        now: i64,
        source: u32,
        out: &mut Output,
    ) {
        let after = previous.map(|p| windows.last_closed_start(p));
        let through = windows.last_closed_start(now);
        let step = |t: i64| t.div_euclid(windows.advance_ms);
        if after.is_some_and(|a| step(a) >= step(through)) {
            return;
        }
        for (start, keys) in mem.between(after, through) {
            let mut sorted: Vec<(&[u8], &Aggregate)> =
                keys.iter().map(|(k, e)| (&**k, &e.agg)).collect();
            sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let window = WindowHeaders::of(windows.window_at(start));
            for (key, agg) in sorted {
                out.records
                    .push(self.result_in(key, Some(&window), agg, source));
            }
        }
    }

    /// Stream time moved from `before` to `now`: drops the windows that closed from
    /// memory, deleting from the store those past retention, and then (when retention
    /// outlasts closing) the store's closed windows past it.
    fn close_open(
        &self,
        store: &mut dyn StateBackend,
        mem: &mut Loaded,
        windows: TimeWindows,
        before: Option<i64>,
        now: i64,
    ) -> Result<(), StreamsError> {
        let expired_through = now.saturating_sub(self.retention_ms);
        for (start, keys) in mem.take_through(windows.last_closed_start(now)) {
            if start > expired_through {
                continue;
            }
            for (key, e) in keys {
                if e.stored {
                    store.delete(&window_key(start, &key))?;
                }
            }
        }
        if self.retention_ms > windows.size_ms.saturating_add(windows.grace_ms) {
            self.expire_windows(store, before, now)?;
        }
        Ok(())
    }
}
