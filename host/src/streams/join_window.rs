//! [`JoinWindows`]: the stream–stream join, as Kafka Streams 3.x's `KStreamKStreamJoin`
//! with a grace period. A left record at `t` matches right records of its key with
//! timestamps in `[t - before, t + after]` (a right record at `t`: left ones in
//! `[t - after, t + before]`), each match one result at the larger timestamp. Both sides
//! share one stream time. A record of a side the join keeps (left for left joins, both
//! for outer) that matched nothing waits in the outer store; once stream time passes its
//! window's end + grace it is emitted joined with null when the next in-order record
//! arrives, before that record's own results (unless a match came first). A record whose window closed before it arrived
//! is late (counted): it joins what is stored, is emitted at once when it matched
//! nothing, and is not stored. Null values are skipped, though they move stream time, as
//! in Kafka; so are null keys, except that a left or outer join emits a kept side's
//! null-key record joined with null at once (KIP-962, Kafka Streams 3.7+).
//!
//! Key layout in the step's state:
//! - [`TIME_KEY`] → stream time; [`SEQ_KEY`] → the last sequence number given;
//! - [`COUNT_KEY`] → how many records the window stores hold (capped by
//!   `pipelines.max_join_window_records`: a record that would be stored past it fails);
//! - `w side keylen key ts seq` → `[in outer store?] value` (each side's window store);
//! - `x ts seq` → the window key (what expires when, oldest first);
//! - `o ts side key seq` → value (records waiting for their window to close).

use serde::{Deserialize, Serialize};

use crate::record::Record;
use crate::runtime::StateBackend;
use crate::runtime::state::MAX_KEY_BYTES;

use super::error::StreamsError;
use super::join::{JoinType, Joined, Side, emit, fail};
use super::joiner::ValueJoiner;
use super::spec::MAX_DURATION_MS;
use super::store::{from_ordered, ordered, scan};

/// Stream time of the join (both sides).
pub const TIME_KEY: &[u8] = b"t";
/// The last sequence number given to a stored record (records of one key and timestamp
/// are kept apart by it).
pub const SEQ_KEY: &[u8] = b"q";
/// When the oldest waiting record could first have closed (see [`JoinWindows::process`]).
pub const MIN_TIME_KEY: &[u8] = b"m";
/// How many records the window stores hold.
pub const COUNT_KEY: &[u8] = b"n";
const WINDOW_TAG: u8 = b'w';
const EXPIRY_TAG: u8 = b'x';
const OUTER_TAG: u8 = b'o';
/// Bytes the window key adds to a record key: tag, side, length, timestamp, sequence.
const WINDOW_OVERHEAD: usize = 1 + 1 + 4 + 8 + 8;

/// Most records of the other side one record may match; past it the record fails (a
/// limit on what one record can make the task hold in memory).
pub const MAX_MATCHES: usize = 100_000;

/// A stream–stream join window as the spec writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinWindowSpec {
    /// How far before a left record a right record may be, ms.
    pub before_ms: u64,
    /// How far after a left record a right record may be, ms.
    pub after_ms: u64,
    /// How long past a window's end records are still accepted, ms (default 0).
    #[serde(default)]
    pub grace_ms: u64,
}

impl JoinWindowSpec {
    /// Checks the bounds; an error names the field (relative to the step) and why.
    pub fn build(&self) -> Result<JoinWindows, (String, String)> {
        for (name, v) in [
            ("window.before_ms", self.before_ms),
            ("window.after_ms", self.after_ms),
            ("window.grace_ms", self.grace_ms),
        ] {
            if v > MAX_DURATION_MS {
                return Err((name.into(), format!("must be at most {MAX_DURATION_MS}")));
            }
        }
        Ok(JoinWindows {
            before_ms: self.before_ms as i64,
            after_ms: self.after_ms as i64,
            grace_ms: self.grace_ms as i64,
            max_records: u64::MAX,
        })
    }
}

/// A checked stream–stream join window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinWindows {
    /// How far before a left record a right record may be, ms.
    pub before_ms: i64,
    /// How far after a left record a right record may be, ms.
    pub after_ms: i64,
    /// How long past a window's end records are still accepted, ms.
    pub grace_ms: i64,
    /// Most records the window stores may hold in one task
    /// (`pipelines.max_join_window_records`; the chain sets it from the server's config).
    pub max_records: u64,
}

fn window_prefix(side: Side, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(WINDOW_OVERHEAD + key.len());
    k.push(WINDOW_TAG);
    k.push(side.byte());
    k.extend_from_slice(&(key.len() as u32).to_be_bytes());
    k.extend_from_slice(key);
    k
}

fn window_key(side: Side, key: &[u8], ts: i64, seq: u64) -> Vec<u8> {
    let mut k = window_prefix(side, key);
    k.extend_from_slice(&ordered(ts));
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The outer store sorts as Kafka's (`TimestampedKeyAndJoinSide`): by timestamp, then
/// right before left, then key; records of one key, side and timestamp in arrival order.
fn outer_key(ts: i64, side: Side, key: &[u8], seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(18 + key.len());
    k.push(OUTER_TAG);
    k.extend_from_slice(&ordered(ts));
    k.push(match side {
        Side::Right => 0,
        Side::Left => 1,
    });
    k.extend_from_slice(key);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// (timestamp, side, key) of an outer store key.
fn split_outer_key(k: &[u8]) -> Option<(i64, Side, &[u8])> {
    let ts = from_ordered(k.get(1..9)?.try_into().ok()?);
    let side = match k.get(9)? {
        0 => Side::Right,
        _ => Side::Left,
    };
    let key = k.get(10..k.len().checked_sub(8)?)?;
    Some((ts, side, key))
}

/// A join's times, loaded at the start of a batch and stored at its end if changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Clock {
    /// The largest timestamp seen on either side.
    stream_time: i64,
    /// Kafka's `minTime`: when waiting records could first have closed.
    min_time: i64,
    /// The last sequence number given.
    seq: u64,
    /// Records in the window stores.
    stored: u64,
}

fn expiry_key(ts: i64, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(EXPIRY_TAG);
    k.extend_from_slice(&ordered(ts));
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// (timestamp, sequence) at the end of a window key.
fn split_tail(k: &[u8]) -> Option<(i64, u64)> {
    let n = k.len();
    let ts: [u8; 8] = k.get(n.checked_sub(16)?..n - 8)?.try_into().ok()?;
    let seq: [u8; 8] = k.get(n - 8..)?.try_into().ok()?;
    Some((from_ordered(ts), u64::from_be_bytes(seq)))
}

fn corrupt(key: &[u8], len: usize, expected: usize) -> StreamsError {
    StreamsError::Corrupt {
        key: key.to_vec(),
        len,
        expected,
    }
}

fn load_i64(store: &dyn StateBackend, key: &[u8]) -> Result<Option<i64>, StreamsError> {
    Ok(store
        .get(key)?
        .and_then(|b| b.try_into().ok().map(i64::from_be_bytes)))
}

impl JoinWindows {
    /// How long past its own timestamp a record of `side` can still be matched.
    fn reach(&self, side: Side) -> i64 {
        match side {
            Side::Left => self.after_ms,
            Side::Right => self.before_ms,
        }
    }

    /// The timestamps of the other side a record of `side` at `ts` matches.
    fn matching(&self, side: Side, ts: i64) -> (i64, i64) {
        match side {
            Side::Left => (ts - self.before_ms, ts + self.after_ms),
            Side::Right => (ts - self.after_ms, ts + self.before_ms),
        }
    }

    /// How long a stored record is kept past its timestamp: no record that is not late
    /// can match it after that.
    fn retention(&self) -> i64 {
        self.before_ms + self.after_ms + self.grace_ms
    }

    /// Joins `records` (each of the side `sides` names) in arrival order.
    pub fn process(
        &self,
        join_type: JoinType,
        store: &mut dyn StateBackend,
        joiner: &mut dyn ValueJoiner,
        records: &[Record],
        sides: &[Side],
    ) -> Result<Joined, StreamsError> {
        let mut done = Joined::default();
        let mut clock = Clock {
            stream_time: load_i64(store, TIME_KEY)?.unwrap_or(i64::MIN),
            min_time: load_i64(store, MIN_TIME_KEY)?.unwrap_or(i64::MAX),
            seq: load_i64(store, SEQ_KEY)?.unwrap_or(0) as u64,
            stored: load_i64(store, COUNT_KEY)?.unwrap_or(0) as u64,
        };
        let before = clock;
        for (j, (record, &side)) in records.iter().zip(sides).enumerate() {
            let index = j as u32;
            let ts = record.timestamp;
            if ts < 0 {
                fail(
                    &mut done.output,
                    index,
                    format!("timestamp {ts} is before the epoch; join windows start at 0"),
                );
                continue;
            }
            // As Kafka: a record moves stream time even when its null key or value keeps
            // it out of the join.
            clock.stream_time = clock.stream_time.max(ts);
            // KIP-962 (Kafka Streams 3.7+): a null key can match nothing, so a record of a
            // side the join keeps is joined with null at once, its headers kept; it neither
            // waits nor emits closed windows (Kafka returns before both).
            if let (None, Some(value)) = (&record.key, &record.value)
                && join_type.keeps(side)
            {
                let (l, r) = match side {
                    Side::Left => (Some(&value[..]), None),
                    Side::Right => (None, Some(&value[..])),
                };
                match joiner.join(None, l, r)? {
                    Ok(v) => emit(
                        &mut done.output,
                        index,
                        Record {
                            key: None,
                            value: v.map(Into::into),
                            headers: record.headers.clone(),
                            timestamp: ts,
                        },
                    ),
                    Err(m) => fail(&mut done.output, index, m),
                }
                continue;
            }
            let (Some(key), Some(value)) = (&record.key, &record.value) else {
                continue;
            };
            if key.len() + WINDOW_OVERHEAD > MAX_KEY_BYTES {
                fail(
                    &mut done.output,
                    index,
                    format!(
                        "key of {} bytes is too long for a join window (at most {} bytes)",
                        key.len(),
                        MAX_KEY_BYTES - WINDOW_OVERHEAD
                    ),
                );
                continue;
            }
            // Its own window closed before it came: too late to be matched by later
            // records (Kafka's window store skips it), though it joins what is stored.
            let late = ts + self.reach(side) + self.grace_ms < clock.stream_time;
            if !late && clock.stored >= self.max_records {
                // Full: first drop what no record that is not late can match any more
                // (what the end of the batch would drop anyway).
                let expired = self.expire(store, clock.stream_time)?;
                clock.stored = clock.stored.saturating_sub(expired);
            }
            if !late && clock.stored >= self.max_records {
                // Refused before it joins anything: a record either has all its
                // results or fails (and goes where the pipeline's on_error sends it).
                fail(
                    &mut done.output,
                    index,
                    format!(
                        "the join's window stores hold {} records in this task, \
                         pipelines.max_join_window_records",
                        self.max_records
                    ),
                );
                continue;
            }
            // First the waiting records an in-order record moves past their window + grace.
            if ts == clock.stream_time {
                self.emit_closed(store, joiner, &mut clock, side, index, &mut done)?;
            }
            let (lo, hi) = self.matching(side, ts);
            let other = side.other();
            let prefix = window_prefix(other, key);
            let from = [&prefix[..], &ordered(lo.max(0))[..]].concat();
            let through = [&prefix[..], &ordered(hi)[..], &[0xff; 8][..]].concat();
            let to = [&through[..], &[0][..]].concat();
            let found = store.range(
                std::ops::Bound::Included(&from[..]),
                std::ops::Bound::Excluded(&to[..]),
                MAX_MATCHES + 1,
            )?;
            if found.len() > MAX_MATCHES {
                fail(
                    &mut done.output,
                    index,
                    format!(
                        "the record matches more than {MAX_MATCHES} records in its join window"
                    ),
                );
                continue;
            }
            let matched = !found.is_empty();
            for (wk, stored) in &found {
                let Some((other_ts, other_seq)) = split_tail(wk) else {
                    return Err(corrupt(wk, wk.len(), WINDOW_OVERHEAD));
                };
                let Some((&waiting, other_value)) = stored.split_first() else {
                    return Err(corrupt(wk, 0, 1));
                };
                let (l, r) = match side {
                    Side::Left => (&value[..], other_value),
                    Side::Right => (other_value, &value[..]),
                };
                match joiner.join(Some(&key[..]), Some(l), Some(r))? {
                    Ok(v) => emit(
                        &mut done.output,
                        index,
                        Record {
                            key: Some(key.clone()),
                            value: v.map(Into::into),
                            headers: record.headers.clone(),
                            timestamp: ts.max(other_ts),
                        },
                    ),
                    Err(m) => {
                        fail(&mut done.output, index, m);
                        continue;
                    }
                }
                // The other record has its match: it no longer waits for its window.
                if waiting == 1 {
                    store.delete(&outer_key(other_ts, other, key, other_seq))?;
                    store.put(wk, &[&[0u8][..], other_value].concat())?;
                }
            }
            done.late += u64::from(late);
            clock.seq += 1;
            let mut waits = false;
            if !matched && join_type.keeps(side) {
                if ts + self.reach(side) < clock.stream_time {
                    // Its window is already past: no need to hold it (as Kafka).
                    self.emit_unmatched(joiner, side, key, value, ts, index, &mut done)?;
                } else {
                    waits = true;
                    clock.min_time = clock.min_time.min(ts);
                    store.put(&outer_key(ts, side, key, clock.seq), value)?;
                }
            }
            if !late {
                let wk = window_key(side, key, ts, clock.seq);
                store.put(&wk, &[&[u8::from(waits)][..], &value[..]].concat())?;
                store.put(&expiry_key(ts, clock.seq), &wk)?;
                clock.stored += 1;
            }
        }
        if clock != before {
            let expired = self.expire(store, clock.stream_time)?;
            // A store written before the count existed may hold more than it counted.
            clock.stored = clock.stored.saturating_sub(expired);
            store.put(TIME_KEY, &clock.stream_time.to_be_bytes())?;
            store.put(MIN_TIME_KEY, &clock.min_time.to_be_bytes())?;
            store.put(SEQ_KEY, &(clock.seq as i64).to_be_bytes())?;
            store.put(COUNT_KEY, &(clock.stored as i64).to_be_bytes())?;
        }
        Ok(done)
    }

    /// Emits, in the outer store's order, the waiting records whose window + grace
    /// stream time has passed, joined with null; attributed to the record that moved
    /// stream time (of `side`). As Kafka's `emitNonJoinedOuterRecords`, it looks only when
    /// the oldest timestamp it knows of waiting (`min_time`: lowered when a record starts
    /// waiting, set to the last one looked at by a look) could have closed.
    fn emit_closed(
        &self,
        store: &mut dyn StateBackend,
        joiner: &mut dyn ValueJoiner,
        clock: &mut Clock,
        side: Side,
        index: u32,
        done: &mut Joined,
    ) -> Result<(), StreamsError> {
        // Java's long arithmetic wraps: an unset min_time (MAX) does not hold the look back.
        if clock
            .min_time
            .wrapping_add(self.reach(side))
            .wrapping_add(self.grace_ms)
            >= clock.stream_time
        {
            return Ok(());
        }
        clock.min_time = i64::MAX;
        let waiting = scan(&*store, vec![OUTER_TAG], &[OUTER_TAG + 1])?;
        for (ok, value) in waiting {
            let Some((ts, side, key)) = split_outer_key(&ok) else {
                return Err(corrupt(&ok, ok.len(), 18));
            };
            clock.min_time = ts;
            if ts + self.reach(side) + self.grace_ms >= clock.stream_time {
                continue;
            }
            self.emit_unmatched(joiner, side, key, &value, ts, index, done)?;
            store.delete(&ok)?;
        }
        Ok(())
    }

    /// One record without a match, joined with null on the other side.
    #[allow(clippy::too_many_arguments)]
    fn emit_unmatched(
        &self,
        joiner: &mut dyn ValueJoiner,
        side: Side,
        key: &[u8],
        value: &[u8],
        ts: i64,
        index: u32,
        done: &mut Joined,
    ) -> Result<(), StreamsError> {
        let (l, r) = match side {
            Side::Left => (Some(value), None),
            Side::Right => (None, Some(value)),
        };
        match joiner.join(Some(key), l, r)? {
            Ok(v) => emit(
                &mut done.output,
                index,
                Record {
                    key: Some(key.to_vec().into()),
                    value: v.map(Into::into),
                    headers: Vec::new(),
                    timestamp: ts,
                },
            ),
            Err(m) => fail(&mut done.output, index, m),
        }
        Ok(())
    }

    /// Drops stored records no record that is not late can match any more; returns how
    /// many.
    fn expire(&self, store: &mut dyn StateBackend, stream_time: i64) -> Result<u64, StreamsError> {
        let Some(oldest_kept) = stream_time.checked_sub(self.retention()) else {
            return Ok(0);
        };
        let gone = scan(
            &*store,
            vec![EXPIRY_TAG],
            &[&[EXPIRY_TAG][..], &ordered(oldest_kept)[..]].concat(),
        )?;
        let expired = gone.len() as u64;
        for (xk, wk) in gone {
            store.delete(&wk)?;
            store.delete(&xk)?;
        }
        Ok(expired)
    }
}
