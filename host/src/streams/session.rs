//! Session windows, as Kafka Streams' `SessionWindows` and `KStreamSessionWindowAggregate`:
//! a key's session is `[first, last]` (both inclusive) of records no more than the gap
//! apart; a record within the gap of one or more sessions merges them into one. With
//! `close = stream time - grace - gap`, a record whose merged session ends before
//! `close` is late; on close, each session is emitted once when its end falls before
//! `close`. Results carry the session end as their timestamp, as Kafka's do; on update,
//! a session merged away is answered with a tombstone for its windowed key.
//!
//! State, inside the step's key space:
//! - `[3] ++ end ++ key ++ start`: a session's aggregate, ordered by end (closing and
//!   expiry are range scans);
//! - `[4] ++ len(key) ++ key ++ end ++ start`: empty, a key's sessions by end (finding
//!   the sessions a record touches). Times are order-preserving ([`super::store::ordered`]).

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::Bytes;

use crate::record::Record;
use crate::runtime::state::MAX_KEY_BYTES;
use crate::runtime::{Body, OutputRecord, StateBackend};

use super::aggregate::{Aggregation, Processed};
use super::error::StreamsError;
use super::functions::Functions;
use super::spec::{Emit, KeyFormat};
use super::store::{Aggregate, Value, from_ordered, ordered, scan};
use super::{WINDOW_END_HEADER, WINDOW_START_HEADER};

/// Sessions of records at most `gap_ms` apart, accepting records `grace_ms` late.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionWindows {
    /// Inactivity gap, ms.
    pub gap_ms: i64,
    /// Grace period, ms.
    pub grace_ms: i64,
}

impl SessionWindows {
    /// Sessions ending before this are closed at `stream_time` (Kafka's
    /// `windowCloseTime`: a record later than end + gap could still extend them).
    pub fn close_time(&self, stream_time: i64) -> i64 {
        stream_time
            .saturating_sub(self.grace_ms)
            .saturating_sub(self.gap_ms)
    }
}

/// First byte of sessions ordered by end.
const BY_END: u8 = 3;
/// First byte of sessions by key.
const BY_KEY: u8 = 4;
/// Bytes a session adds to the record key in its state keys.
pub const SESSION_KEY_OVERHEAD: usize = 21;

/// The state key of a session ordered by end.
fn end_key(key: &[u8], start: i64, end: i64) -> Vec<u8> {
    [&[BY_END][..], &ordered(end), key, &ordered(start)].concat()
}

/// The prefix of `key`'s sessions in the by-key index.
fn key_prefix(key: &[u8]) -> Vec<u8> {
    [&[BY_KEY][..], &(key.len() as u32).to_be_bytes(), key].concat()
}

/// Reads an end-ordered state key back: (key, start, end).
fn split_end_key(k: &[u8]) -> Option<(&[u8], i64, i64)> {
    if k.len() < 17 || k[0] != BY_END {
        return None;
    }
    let end = from_ordered(k[1..9].try_into().ok()?);
    let start = from_ordered(k[k.len() - 8..].try_into().ok()?);
    Some((&k[9..k.len() - 8], start, end))
}

/// Sessions a batch changed, by end-ordered state key: the input record that last
/// changed each, and its aggregate (`None`: merged away).
pub(super) type SessionChanges = BTreeMap<Vec<u8>, (u32, Option<Aggregate>)>;

/// A session found in the store.
struct Found {
    start: i64,
    end: i64,
    agg: Aggregate,
}

impl Aggregation {
    /// One record into its key's sessions. `Ok(Err(why))` fails the record alone.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn session_record(
        &self,
        fns: &mut dyn Functions,
        sessions: SessionWindows,
        store: &mut dyn StateBackend,
        key: &[u8],
        addend: Value,
        ts: i64,
        source: u32,
        stream_time: &mut Option<i64>,
        changed: &mut SessionChanges,
        done: &mut Processed,
    ) -> Result<Result<(), String>, StreamsError> {
        if key.len() + SESSION_KEY_OVERHEAD > MAX_KEY_BYTES {
            return Ok(Err(format!(
                "key of {} bytes is too long to aggregate: a session key holds at most {} bytes",
                key.len(),
                MAX_KEY_BYTES - SESSION_KEY_OVERHEAD
            )));
        }
        let previous = *stream_time;
        let now = previous.map_or(ts, |t| t.max(ts));
        let close = sessions.close_time(now);
        // Kafka's findSessions(key, ts - gap, ts + gap): end ≥ ts - gap, start ≤ ts + gap.
        let prefix = key_prefix(key);
        let lo = [
            prefix.as_slice(),
            &ordered(ts.saturating_sub(sessions.gap_ms)),
        ]
        .concat();
        let hi = crate::runtime::state::prefix_end(&prefix).unwrap_or_default();
        let mut merged = Vec::new();
        for (k, _) in scan(&*store, lo, &hi)? {
            let tail = &k[prefix.len()..];
            let (Ok(end), Ok(start)) = (tail[..8].try_into(), tail[8..16].try_into()) else {
                continue;
            };
            let (end, start) = (from_ordered(end), from_ordered(start));
            if start > ts.saturating_add(sessions.gap_ms) {
                continue;
            }
            let ek = end_key(key, start, end);
            let Some(bytes) = store.get(&ek)? else {
                continue;
            };
            let agg = Aggregate::decode(&ek, &bytes, self.kind)?;
            merged.push(Found { start, end, agg });
        }
        let start = merged.iter().map(|f| f.start).fold(ts, i64::min);
        let end = merged.iter().map(|f| f.end).fold(ts, i64::max);
        *stream_time = Some(now);
        if end < close {
            done.late.push(super::aggregate::LateRecord {
                index: source,
                stream_time: now,
            });
        } else {
            // Kafka's order: the bridged sessions merged, then the record added.
            let mut sessions_value: Option<Value> = None;
            for f in &merged {
                sessions_value = Some(match sessions_value {
                    None => f.agg.value.clone(),
                    Some(v) => match self.combine(fns, key, &v, &f.agg.value)? {
                        Ok(v) => v,
                        Err(m) => {
                            *stream_time = previous;
                            return Ok(Err(m));
                        }
                    },
                });
            }
            let value = match self.fold(fns, key, sessions_value.as_ref(), &addend, ts)? {
                Ok(v) => v,
                Err(m) => {
                    *stream_time = previous;
                    return Ok(Err(m));
                }
            };
            for f in &merged {
                let ek = end_key(key, f.start, f.end);
                store.delete(&ek)?;
                store.delete(&[prefix.as_slice(), &ordered(f.end), &ordered(f.start)].concat())?;
                // On update, a session merged away is answered with a tombstone.
                changed.insert(ek, (source, None));
            }
            let agg = Aggregate {
                timestamp: merged.iter().map(|f| f.agg.timestamp).fold(ts, i64::max),
                value,
            };
            let ek = end_key(key, start, end);
            store.put(&ek, &agg.encode())?;
            store.put(
                &[prefix.as_slice(), &ordered(end), &ordered(start)].concat(),
                &[],
            )?;
            changed.insert(ek, (source, Some(agg)));
        }
        if self.emit == Emit::OnClose {
            self.session_emit_closed(sessions, &*store, previous, now, source, &mut done.output)?;
        }
        if previous.is_none_or(|p| p < now) {
            self.session_expire(store, previous, now)?;
        }
        Ok(Ok(()))
    }

    /// On close: emits every session closed by stream time moving from `previous` to
    /// `now`, each once, attributed to input record `source`.
    pub(super) fn session_emit_closed(
        &self,
        sessions: SessionWindows,
        store: &dyn StateBackend,
        previous: Option<i64>,
        now: i64,
        source: u32,
        out: &mut crate::runtime::Output,
    ) -> Result<(), StreamsError> {
        let close = sessions.close_time(now);
        let before = previous.map(|p| sessions.close_time(p));
        if before.is_none_or(|b| b < close) {
            // Sessions ending in [previous close, close): closed by this move.
            let lo = match before {
                Some(b) => [&[BY_END][..], &ordered(b)].concat(),
                None => vec![BY_END],
            };
            let hi = [&[BY_END][..], &ordered(close)].concat();
            for (k, bytes) in scan(store, lo, &hi)? {
                if let Some((key, start, end)) = split_end_key(&k) {
                    let agg = Aggregate::decode(&k, &bytes, self.kind)?;
                    out.records
                        .push(self.session_result(key, start, end, Some(&agg), source));
                }
            }
        }
        Ok(())
    }

    /// The stream time at which the earliest session still open at `stream_time`
    /// closes (its end + gap + grace, plus one: a session closes once it ends *before*
    /// the close time), if any is open.
    pub(super) fn session_next_close(
        &self,
        sessions: SessionWindows,
        store: &dyn StateBackend,
        stream_time: i64,
    ) -> Result<Option<i64>, StreamsError> {
        let lo = [&[BY_END][..], &ordered(sessions.close_time(stream_time))].concat();
        let hi = [BY_END + 1];
        let first = store.range(Bound::Included(&lo), Bound::Excluded(&hi), 1)?;
        Ok(first
            .first()
            .and_then(|(k, _)| split_end_key(k))
            .map(|(_, _, end)| {
                end.saturating_add(sessions.gap_ms)
                    .saturating_add(sessions.grace_ms)
                    .saturating_add(1)
            }))
    }

    /// `key`'s sessions that end at or after `from` and start at or before `to`
    /// (Kafka's `findSessions(key, earliestSessionEndTime, latestSessionStartTime)`),
    /// by end: (start, end, aggregate); reading at most `limit` of its sessions.
    pub(super) fn session_lookup(
        &self,
        store: &dyn StateBackend,
        key: &[u8],
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<(i64, i64, Aggregate)>, StreamsError> {
        let prefix = key_prefix(key);
        let lo = [prefix.as_slice(), &ordered(from)].concat();
        let hi = crate::runtime::state::prefix_end(&prefix).unwrap_or_default();
        let index = store.range(Bound::Included(&lo), Bound::Excluded(&hi), limit + 1)?;
        if index.len() > limit {
            return Err(StreamsError::QueryTooWide { limit });
        }
        let mut found = Vec::new();
        for (k, _) in index {
            let tail = &k[prefix.len()..];
            let (Ok(end), Ok(start)) = (tail[..8].try_into(), tail[8..16].try_into()) else {
                continue;
            };
            let (end, start) = (from_ordered(end), from_ordered(start));
            if start > to {
                continue;
            }
            let ek = end_key(key, start, end);
            if let Some(bytes) = store.get(&ek)? {
                found.push((start, end, Aggregate::decode(&ek, &bytes, self.kind)?));
            }
        }
        Ok(found)
    }

    /// On update: the latest result of every session the batch changed, or a tombstone
    /// for one merged away, in state-key order. (Taken from the batch, not the store: a
    /// session forgotten by retention since keeps its last result.)
    pub(super) fn session_updates(&self, changed: &SessionChanges, done: &mut Processed) {
        for (k, (source, agg)) in changed {
            if let Some((key, start, end)) = split_end_key(k) {
                done.output.records.push(self.session_result(
                    key,
                    start,
                    end,
                    agg.as_ref(),
                    *source,
                ));
            }
        }
    }

    /// Deletes sessions that ended more than the retention before `now`. Run after each
    /// record that moves stream time (not once a batch): a record may bridge an old
    /// session to an open one, so when a session is forgotten must not depend on where a
    /// batch ended, or a replay could differ from the lost round.
    pub(super) fn session_expire(
        &self,
        store: &mut dyn StateBackend,
        before: Option<i64>,
        now: i64,
    ) -> Result<(), StreamsError> {
        let keep = self.retention_ms;
        let lo = match before {
            Some(b) => [&[BY_END][..], &ordered(b.saturating_sub(keep))].concat(),
            None => vec![BY_END],
        };
        let hi = [&[BY_END][..], &ordered(now.saturating_sub(keep))].concat();
        for (k, _) in scan(&*store, lo, &hi)? {
            if let Some((key, start, end)) = split_end_key(&k) {
                let index = [key_prefix(key).as_slice(), &ordered(end), &ordered(start)].concat();
                store.delete(&k)?;
                store.delete(&index)?;
            }
        }
        Ok(())
    }

    /// A session's output record; `None` is the tombstone of a session merged away.
    fn session_result(
        &self,
        key: &[u8],
        start: i64,
        end: i64,
        agg: Option<&Aggregate>,
        source: u32,
    ) -> OutputRecord {
        let key = match self.key_format {
            KeyFormat::Plain => key.to_vec(),
            // SessionWindowedSerializer (SessionKeySchema.toBinary): key, end, start.
            KeyFormat::Windowed => [key, &end.to_be_bytes(), &start.to_be_bytes()].concat(),
        };
        let header = |name: &str, t: i64| (name.to_string(), Some(Bytes::from(t.to_string())));
        OutputRecord {
            source: Some(source),
            topic: None,
            body: Body::New(Box::new(Record {
                key: Some(Bytes::from(key)),
                value: agg.map(|a| self.value_bytes(&a.value)),
                headers: vec![
                    header(WINDOW_START_HEADER, start),
                    header(WINDOW_END_HEADER, end),
                ],
                // Kafka stamps a session's results with its end.
                timestamp: end,
            })),
        }
    }
}
