//! [`Aggregation`]: `count` and `sum` per key, in windows or as a running (table-like)
//! aggregate, over one batch at a time, with Kafka Streams' rules
//! (`KStreamWindowAggregate`): a record with a null key is skipped; stream time is the
//! largest timestamp seen; a record goes into each of its windows whose
//! `end > stream time - grace` and is late (dropped, counted) when none is; an aggregate's
//! timestamp is the largest of its records'.
//!
//! Emitting: `on_update` emits, at the end of each batch, the latest aggregate of every
//! (window, key) the batch changed; `on_close` emits each (window, key) once, when a
//! record moves stream time past the window's end + grace, attributed to that record so
//! a replay of a longer batch reproduces a lost round's outputs as a prefix of its own.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::record::Record;
use crate::runtime::state::MAX_KEY_BYTES;
use crate::runtime::{Body, Output, OutputRecord, RecordFailure, StateBackend};

use super::error::StreamsError;
use super::functions::{BuiltIn, Functions};
use super::number::Decimal;
use super::session::SessionWindows;
use super::spec::{Emit, KeyFormat, ValueFormat};
use super::store::{
    self, Aggregate, STREAM_TIME_KEY, Value, WINDOW_KEY_OVERHEAD, split_window_key, table_key,
    window_key,
};
use super::window::{TimeWindows, Window, WindowHeaders};
use super::{WINDOW_END_HEADER, WINDOW_START_HEADER};

/// What is aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Records per key.
    Count,
    /// Values, parsed as decimal numbers, per key.
    Sum,
    /// Values per key through a module's `add`, from the key's first value.
    Reduce,
    /// Values per key through a module's `initial` and `add`.
    Aggregate,
}

impl Kind {
    /// Whether a module's functions do the arithmetic.
    pub fn has_module(self) -> bool {
        matches!(self, Kind::Reduce | Kind::Aggregate)
    }
}

/// What an aggregate is kept per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// One running aggregate per key (a table).
    Running,
    /// Per key and tumbling or hopping window.
    Time(TimeWindows),
    /// Per key and session.
    Session(SessionWindows),
    /// Per key and sliding window.
    Sliding(super::sliding::SlidingWindows),
    /// One running aggregate per key of a table's changes (after a `group_by` of a
    /// table): an updated row's old value is taken out, its new one added (Kafka's
    /// `KGroupedTable`).
    Changes,
}

impl Grouping {
    /// What its records go into, for an error: `None` for a running aggregate, which
    /// takes any timestamp; windows and sessions start at 0 and refuse earlier ones.
    fn windowed_noun(self) -> Option<&'static str> {
        match self {
            Grouping::Running | Grouping::Changes => None,
            Grouping::Session(_) => Some("sessions"),
            Grouping::Time(_) | Grouping::Sliding(_) => Some("windows"),
        }
    }

    /// The tumbling or hopping windows, if those are what it groups by.
    pub fn time(self) -> Option<TimeWindows> {
        match self {
            Grouping::Time(w) => Some(w),
            _ => None,
        }
    }

    /// Whether results belong to windows (time or session).
    pub fn windowed(self) -> bool {
        !matches!(self, Grouping::Running | Grouping::Changes)
    }
}

/// A built aggregation step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aggregation {
    /// Count or sum.
    pub kind: Kind,
    /// Per key alone, or per key and window.
    pub grouping: Grouping,
    /// When results are emitted.
    pub emit: Emit,
    /// How the number is written.
    pub value_format: ValueFormat,
    /// How a windowed result's key is written.
    pub key_format: KeyFormat,
    /// How long a window's state is kept past its start, ms (≥ size + grace).
    pub retention_ms: i64,
    /// Idle input this long (ms) lets stream time follow the wall clock (`on_close`
    /// windows only); `None`: stream time moves only with records.
    pub close_idle_after_ms: Option<i64>,
    /// Most (window, key) aggregates of tumbling or hopping windows a task keeps in
    /// memory between batches (`pipelines.max_open_windows`); past it the step reads
    /// and writes its state store until those windows close.
    pub max_open_windows: usize,
    /// What happens to a late record besides being counted.
    pub late: super::spec::Late,
}

/// What one batch came to.
#[derive(Debug, Default)]
pub struct Processed {
    /// The results, each attributed to an input record, and the records that failed.
    pub output: Output,
    /// Records dropped because every window they fall in had closed, in input order.
    pub late: Vec<LateRecord>,
}

/// An input record dropped as late.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LateRecord {
    /// Its index in the batch.
    pub index: u32,
    /// The stream time that found it late.
    pub stream_time: i64,
}

impl Aggregation {
    /// Whether what the step emits depends on where a batch ends. `on_update` results are
    /// the state at the end of the batch, so the pipeline must replay exactly the lost
    /// round's input range after a crash; `on_close` results do not depend on it.
    pub fn batch_sensitive(&self) -> bool {
        self.emit == Emit::OnUpdate
    }

    /// Aggregates `records` into `store` with the built-in arithmetic (`count`, `sum`),
    /// returning the results to emit.
    pub fn process(
        &self,
        store: &mut dyn StateBackend,
        records: &[Record],
    ) -> Result<Processed, StreamsError> {
        self.process_with(&mut BuiltIn, store, records)
    }

    /// Aggregates `records` into `store`, a module's `fns` doing the arithmetic of a
    /// `reduce` or `aggregate` step, returning the results to emit.
    pub fn process_with(
        &self,
        fns: &mut dyn Functions,
        store: &mut dyn StateBackend,
        records: &[Record],
    ) -> Result<Processed, StreamsError> {
        if self.grouping == Grouping::Changes {
            return self.process_changes(fns, store, records);
        }
        let mut done = Processed::default();
        let before = store::load_stream_time(store)?;
        let mut stream_time = before;
        // State key → the input record that last changed it (on_update).
        let mut changed: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
        // The batch's aggregates, read once and written back once: a key seen twice in a
        // batch costs no second trip through the overlay and the tree.
        let mut cache = Cache::default();
        let mut session_changes = super::session::SessionChanges::new();
        // Sliding windows: state key → (last record changing it, its aggregate then);
        // kept here, as a window may be forgotten before the batch ends.
        let mut sliding_changes: BTreeMap<Vec<u8>, (u32, Aggregate)> = BTreeMap::new();
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
            let windows = match self.grouping {
                Grouping::Time(w) => w,
                // `Changes` went to `process_changes` above.
                Grouping::Running | Grouping::Changes => {
                    let k = table_key(key);
                    if k.len() > MAX_KEY_BYTES {
                        fail(too_long(key.len(), 1));
                        continue;
                    }
                    match self.add(fns, &*store, &mut cache, &k, key, &addend, record.timestamp)? {
                        Ok(agg) => {
                            cache.set(k.clone(), agg);
                            changed.insert(k, index);
                        }
                        Err(m) => fail(m),
                    }
                    continue;
                }
                Grouping::Sliding(sw) => {
                    if let Err(m) = self.sliding_record(
                        fns,
                        sw,
                        store,
                        key,
                        addend,
                        record.timestamp,
                        index,
                        &mut stream_time,
                        &mut sliding_changes,
                        &mut done.output,
                        &mut done.late,
                    )? {
                        done.output
                            .failures
                            .push(RecordFailure { index, message: m });
                    }
                    continue;
                }
                Grouping::Session(sessions) => {
                    if let Err(m) = self.session_record(
                        fns,
                        sessions,
                        store,
                        key,
                        addend,
                        record.timestamp,
                        index,
                        &mut stream_time,
                        &mut session_changes,
                        &mut done,
                    )? {
                        done.output
                            .failures
                            .push(RecordFailure { index, message: m });
                    }
                    continue;
                }
            };
            if key.len() + WINDOW_KEY_OVERHEAD > MAX_KEY_BYTES {
                fail(too_long(key.len(), WINDOW_KEY_OVERHEAD));
                continue;
            }
            let now = stream_time.map_or(record.timestamp, |t| t.max(record.timestamp));
            // Every open window's new aggregate first: a sum that overflows in one of
            // them fails the record in all.
            let mut updates = Vec::new();
            let mut overflow = None;
            for window in windows.windows_for(record.timestamp) {
                if windows.closed(window, now) {
                    continue;
                }
                let k = window_key(window.start, key);
                match self.add(fns, &*store, &mut cache, &k, key, &addend, record.timestamp)? {
                    Ok(agg) => updates.push((k, agg)),
                    Err(m) => overflow = Some(m),
                }
            }
            if let Some(m) = overflow {
                fail(m);
                continue;
            }
            if updates.is_empty() {
                done.late.push(LateRecord {
                    index,
                    stream_time: now,
                });
            }
            for (k, agg) in updates {
                cache.set(k.clone(), agg);
                changed.insert(k, index);
            }
            let previous = stream_time;
            stream_time = Some(now);
            if self.emit == Emit::OnClose && previous.is_none_or(|p| p < now) {
                self.emit_closed(
                    store,
                    &mut cache,
                    windows,
                    previous,
                    now,
                    index,
                    &mut done.output,
                )?;
            }
        }
        cache.write_back(store)?;
        if self.emit == Emit::OnUpdate && matches!(self.grouping, Grouping::Session(_)) {
            self.session_updates(&session_changes, &mut done);
        } else if let (Emit::OnUpdate, Grouping::Sliding(sw)) = (self.emit, self.grouping) {
            for (k, (source, agg)) in &sliding_changes {
                if let Some((start, key)) = split_window_key(k) {
                    done.output.records.push(self.result(
                        key,
                        Some(sw.window_at(start)),
                        agg,
                        *source,
                    ));
                }
            }
        } else if self.emit == Emit::OnUpdate {
            for (k, source) in &changed {
                if let Some(agg) = cache.entries.get(k).map(|e| e.0.clone()) {
                    let (window, key) = match (self.grouping.time(), split_window_key(k)) {
                        (Some(w), Some((start, key))) => (Some(w.window_at(start)), key),
                        _ => (None, &k[1..]),
                    };
                    done.output
                        .records
                        .push(self.result(key, window, &agg, *source));
                }
            }
        }
        if stream_time != before
            && let Some(now) = stream_time
        {
            store.put(STREAM_TIME_KEY, &now.to_be_bytes())?;
            // Sessions expire record by record (`session_record`).
            if self.grouping.time().is_some() {
                self.expire_windows(store, before, now)?;
            }
        }
        Ok(done)
    }

    /// Deletes the windows past retention as stream time moves from `before` to `now`;
    /// the scan starts where the last one ended.
    pub(super) fn expire_windows(
        &self,
        store: &mut dyn StateBackend,
        before: Option<i64>,
        now: i64,
    ) -> Result<(), StreamsError> {
        let after = before.map(|b| b.saturating_sub(self.retention_ms));
        for (k, _) in store::windows_between(&*store, after, now - self.retention_ms)? {
            store.delete(&k)?;
        }
        Ok(())
    }

    /// Emits every window closed by stream time moving from `previous` to `now`, each
    /// (window, key) once, in (start, key) order, attributed to input record `source`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn emit_closed(
        &self,
        store: &mut dyn StateBackend,
        cache: &mut Cache,
        windows: TimeWindows,
        previous: Option<i64>,
        now: i64,
        source: u32,
        out: &mut Output,
    ) -> Result<(), StreamsError> {
        let after = previous.map(|p| windows.last_closed_start(p));
        let through = windows.last_closed_start(now);
        // Windows start at multiples of the advance: most advances of stream time cross
        // none, and cost no scan.
        let step = |t: i64| t.div_euclid(windows.advance_ms);
        if after.is_some_and(|a| step(a) >= step(through)) {
            return Ok(());
        }
        // The scan reads the store: the batch's aggregates go there first.
        cache.write_back(store)?;
        for (k, bytes) in store::windows_between(&*store, after, through)? {
            let agg = Aggregate::decode(&k, &bytes, self.kind)?;
            if let Some((start, key)) = split_window_key(&k) {
                out.records
                    .push(self.result(key, Some(windows.window_at(start)), &agg, source));
            }
        }
        Ok(())
    }

    /// The key `record` is aggregated under and what it adds: `None` for a record
    /// Kafka skips (no key: it has no group; a null value: `reduce` adds nothing), or
    /// why it fails (a sum's value that is no number, a windowed record before the
    /// epoch).
    pub(super) fn addend<'r>(
        &self,
        record: &'r Record,
    ) -> Option<Result<(&'r Bytes, Value), String>> {
        // Kafka skips a record without a key: it has no group.
        let key = record.key.as_ref()?;
        let addend = match self.kind {
            Kind::Count => Value::Count(1),
            // As Kafka's reduce: a null value adds nothing.
            Kind::Sum => match self.parse(record.value.as_ref()?) {
                Ok(d) => Value::Sum(d),
                Err(m) => return Some(Err(m)),
            },
            // Kafka's reduce and aggregate skip a record without a value.
            Kind::Reduce | Kind::Aggregate => Value::Bytes(record.value.as_ref()?.clone()),
        };
        if let Some(what) = self.grouping.windowed_noun()
            && record.timestamp < 0
        {
            return Some(Err(format!(
                "timestamp {} is before the epoch; {what} start at 0",
                record.timestamp
            )));
        }
        Some(Ok((key, addend)))
    }

    /// Why a record at `timestamp` was late at `stream_time`, for its dead letter.
    pub fn late_message(&self, timestamp: i64, stream_time: i64) -> String {
        let (noun, grace) = match self.grouping {
            Grouping::Time(w) => ("windows", w.grace_ms),
            Grouping::Sliding(w) => ("windows", w.grace_ms),
            Grouping::Session(s) => ("sessions", s.grace_ms),
            Grouping::Running | Grouping::Changes => ("windows", 0),
        };
        format!(
            "late record: timestamp {timestamp} falls only in {noun} already closed at stream \
             time {stream_time} (grace {grace} ms)"
        )
    }

    /// A value `sum` can add, or why the record fails.
    pub(super) fn parse(&self, value: &[u8]) -> Result<Decimal, String> {
        let d = Decimal::parse(value)?;
        if self.value_format == ValueFormat::Long && d.to_i64().is_none() {
            return Err(format!(
                "value {d} is not a whole number in the long range, which value_format \"long\" needs"
            ));
        }
        Ok(d)
    }

    /// The aggregate under `k` (of record key `key`) with `addend` added at
    /// `timestamp`, or why it cannot be.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &self,
        fns: &mut dyn Functions,
        store: &dyn StateBackend,
        cache: &mut Cache,
        k: &[u8],
        key: &[u8],
        addend: &Value,
        timestamp: i64,
    ) -> Result<Result<Aggregate, String>, StreamsError> {
        let old = match cache.entries.get(k) {
            Some(e) => Some(e.0.clone()),
            None => match store.get(k)? {
                Some(b) => Some(Aggregate::decode(k, &b, self.kind)?),
                None => None,
            },
        };
        let value = self.fold(fns, key, old.as_ref().map(|a| &a.value), addend, timestamp)?;
        Ok(value.map(|value| Aggregate {
            timestamp: old.map_or(timestamp, |a| a.timestamp.max(timestamp)),
            value,
        }))
    }

    /// `a + b` of a count or sum, or `None` past the range (a long result must stay a
    /// long) or for a module's aggregates.
    pub(super) fn plus(&self, a: &Value, b: &Value) -> Option<Value> {
        match (a, b) {
            (Value::Count(a), Value::Count(b)) => a.checked_add(*b).map(Value::Count),
            (Value::Sum(a), Value::Sum(b)) => a
                .checked_add(*b)
                .filter(|s| self.value_format == ValueFormat::Text || s.to_i64().is_some())
                .map(Value::Sum),
            _ => None,
        }
    }

    /// `a - b` of a count or sum (a table aggregation's subtractor), or `None` past the
    /// range or for a module's aggregates.
    pub(super) fn minus(&self, a: &Value, b: &Value) -> Option<Value> {
        match (a, b) {
            (Value::Count(a), Value::Count(b)) => a.checked_sub(*b).map(Value::Count),
            (Value::Sum(a), Value::Sum(b)) => a
                .checked_sub(*b)
                .filter(|s| self.value_format == ValueFormat::Text || s.to_i64().is_some())
                .map(Value::Sum),
            _ => None,
        }
    }

    /// The output value of an aggregate.
    pub(super) fn value_bytes(&self, value: &Value) -> Bytes {
        match (self.value_format, value) {
            (ValueFormat::Text, Value::Count(n)) => n.to_string().into(),
            (ValueFormat::Text, Value::Sum(d)) => d.to_string().into(),
            (ValueFormat::Long, Value::Count(n)) => n.to_be_bytes().to_vec().into(),
            // Long sums are kept whole and in range by `parse` and `plus`.
            (ValueFormat::Long, Value::Sum(d)) => {
                d.to_i64().unwrap_or(0).to_be_bytes().to_vec().into()
            }
            // A module's aggregate is its output value as it is.
            (_, Value::Bytes(b)) => b.clone(),
        }
    }

    pub(super) fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Count => "count",
            Kind::Sum => "sum",
            Kind::Reduce => "reduce",
            Kind::Aggregate => "aggregate",
        }
    }

    /// The output record of `key`'s aggregate (in `window`).
    pub(super) fn result(
        &self,
        key: &[u8],
        window: Option<Window>,
        agg: &Aggregate,
        source: u32,
    ) -> OutputRecord {
        self.result_in(key, window.map(WindowHeaders::of).as_ref(), agg, source)
    }

    /// [`Aggregation::result`] with the window's header values made already: results
    /// of one window built together (at a commit, or as it closes) share them.
    pub(super) fn result_in(
        &self,
        key: &[u8],
        window: Option<&WindowHeaders>,
        agg: &Aggregate,
        source: u32,
    ) -> OutputRecord {
        let value = self.value_bytes(&agg.value);
        let (key, headers) = match window {
            None => (key.to_vec(), Vec::new()),
            Some(h) => {
                let key = match self.key_format {
                    KeyFormat::Plain => key.to_vec(),
                    KeyFormat::Windowed => [key, &h.window.start.to_be_bytes()].concat(),
                };
                (
                    key,
                    vec![
                        (WINDOW_START_HEADER.to_string(), Some(h.start.clone())),
                        (WINDOW_END_HEADER.to_string(), Some(h.end.clone())),
                    ],
                )
            }
        };
        OutputRecord {
            source: Some(source),
            topic: None,
            body: Body::New(Box::new(Record {
                key: Some(Bytes::from(key)),
                value: Some(value),
                headers,
                timestamp: agg.timestamp,
            })),
        }
    }
}

/// Aggregates a batch changed, with whether each still has to reach the store.
#[derive(Default)]
pub(super) struct Cache {
    entries: std::collections::HashMap<Vec<u8>, (Aggregate, bool)>,
}

impl Cache {
    /// `k`'s new aggregate, not yet in the store.
    fn set(&mut self, k: Vec<u8>, agg: Aggregate) {
        self.entries.insert(k, (agg, true));
    }

    /// Writes every aggregate not yet in the store into it (the overlay).
    fn write_back(&mut self, store: &mut dyn StateBackend) -> Result<(), StreamsError> {
        for (k, (agg, dirty)) in self.entries.iter_mut() {
            if *dirty {
                store.put(k, &agg.encode())?;
                *dirty = false;
            }
        }
        Ok(())
    }
}

pub(super) fn too_long(len: usize, overhead: usize) -> String {
    format!(
        "key of {len} bytes is too long to aggregate: a state key holds at most {} bytes",
        MAX_KEY_BYTES - overhead
    )
}
