//! [`VersionedJoin`]: a stream–table join whose table is versioned
//! ([`super::versioned`]), as Kafka Streams' `KStreamKTableJoin` over a versioned table
//! (KIP-889) with `Joined.withGracePeriod` (KIP-923):
//! - a stream record looks its key up as of its own timestamp, not as the table stands;
//! - with a grace period, stream records wait in a buffer until stream time (the largest
//!   timestamp the buffer took) passes theirs by the grace, so that table updates up to
//!   that late still count; then they join in timestamp order (then key, then arrival:
//!   Kafka's time-ordered buffer). A record already older than stream time minus the
//!   grace joins at once. Records with a null value are dropped, as are null keys of an
//!   inner join; a left join's null-key record joins at once with null.
//!
//! Key layout in the step's state: [`TIME_KEY`] → the buffer's stream time, sequence
//! number and record count; `b ts key seq` → the buffered record ([`encode`]).

use std::ops::Bound;

use bytes::Bytes;

use crate::record::Record;
use crate::runtime::StateBackend;
use crate::runtime::state::MAX_KEY_BYTES;

use super::error::StreamsError;
use super::join::{JoinType, Joined, Side, answer, fail};
use super::joiner::ValueJoiner;
use super::store::{from_ordered, ordered};
use super::versioned::VersionedTable;

/// The buffer's stream time (8 bytes), last sequence number (4) and record count (8).
pub const TIME_KEY: &[u8] = b"g";
const BUFFER_TAG: u8 = b'b';
/// Bytes the buffer key adds to a record key: tag, timestamp, sequence number.
const BUFFER_OVERHEAD: usize = 1 + 8 + 4;
/// Most records evicted from the buffer by one record (a bound on one record's results).
const MAX_EVICT: usize = 100_000;

/// A stream–table join over a versioned table, with its grace period if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionedJoin {
    /// Inner or left.
    pub join_type: JoinType,
    /// The table's history.
    pub table: VersionedTable,
    /// How long stream records wait for late table updates, ms (`None`: not at all).
    pub grace_ms: Option<i64>,
    /// Most stream records the buffer may hold in one task
    /// (`pipelines.max_join_window_records`, set by the chain).
    pub max_buffered: u64,
}

/// The buffer's bookkeeping.
#[derive(Debug, Clone, Copy, Default)]
struct Clock {
    time: Option<i64>,
    seq: u32,
    count: u64,
}

impl Clock {
    fn load(store: &dyn StateBackend) -> Result<Clock, StreamsError> {
        let Some(b) = store.get(TIME_KEY)? else {
            return Ok(Clock::default());
        };
        if b.len() != 20 {
            return Err(StreamsError::Corrupt {
                key: TIME_KEY.to_vec(),
                len: b.len(),
                expected: 20,
            });
        }
        let mut t = [0; 8];
        let mut s = [0; 4];
        let mut c = [0; 8];
        t.copy_from_slice(&b[..8]);
        s.copy_from_slice(&b[8..12]);
        c.copy_from_slice(&b[12..]);
        Ok(Clock {
            time: Some(i64::from_be_bytes(t)),
            seq: u32::from_be_bytes(s),
            count: u64::from_be_bytes(c),
        })
    }

    fn save(&self, store: &mut dyn StateBackend) -> Result<(), StreamsError> {
        let Some(time) = self.time else { return Ok(()) };
        let mut b = Vec::with_capacity(20);
        b.extend_from_slice(&time.to_be_bytes());
        b.extend_from_slice(&self.seq.to_be_bytes());
        b.extend_from_slice(&self.count.to_be_bytes());
        store.put(TIME_KEY, &b)?;
        Ok(())
    }
}

fn put_bytes(b: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        Some(v) => {
            b.push(1);
            b.extend_from_slice(&(v.len() as u32).to_be_bytes());
            b.extend_from_slice(v);
        }
        None => b.push(0),
    }
}

fn take_bytes<'a>(b: &mut &'a [u8]) -> Option<Option<&'a [u8]>> {
    let (&flag, rest) = b.split_first()?;
    if flag == 0 {
        *b = rest;
        return Some(None);
    }
    let (len, rest) = rest.split_first_chunk::<4>()?;
    let len = u32::from_be_bytes(*len) as usize;
    let v = rest.get(..len)?;
    *b = &rest[len..];
    Some(Some(v))
}

/// A buffered record: its timestamp, key, value and headers.
fn encode(record: &Record) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&record.timestamp.to_be_bytes());
    put_bytes(&mut b, record.key.as_deref());
    put_bytes(&mut b, record.value.as_deref());
    b.extend_from_slice(&(record.headers.len() as u32).to_be_bytes());
    for (k, v) in &record.headers {
        put_bytes(&mut b, Some(k.as_bytes()));
        put_bytes(&mut b, v.as_deref());
    }
    b
}

fn decode(key: &[u8], b: &[u8]) -> Result<Record, StreamsError> {
    let bad = || StreamsError::Corrupt {
        key: key.to_vec(),
        len: b.len(),
        expected: 13,
    };
    let (ts, mut rest) = b.split_first_chunk::<8>().ok_or_else(bad)?;
    let k = take_bytes(&mut rest).ok_or_else(bad)?;
    let v = take_bytes(&mut rest).ok_or_else(bad)?;
    let (n, r) = rest.split_first_chunk::<4>().ok_or_else(bad)?;
    rest = r;
    let mut headers = Vec::new();
    for _ in 0..u32::from_be_bytes(*n) {
        let name = take_bytes(&mut rest).flatten().ok_or_else(bad)?;
        let value = take_bytes(&mut rest).ok_or_else(bad)?;
        headers.push((
            String::from_utf8_lossy(name).into_owned(),
            value.map(Bytes::copy_from_slice),
        ));
    }
    Ok(Record {
        key: k.map(Bytes::copy_from_slice),
        value: v.map(Bytes::copy_from_slice),
        headers,
        timestamp: i64::from_be_bytes(*ts),
    })
}

/// Kafka's time-first buffer key: timestamp, then the key's bytes, then arrival.
fn buffer_key(ts: i64, key: &[u8], seq: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(BUFFER_OVERHEAD + key.len());
    k.push(BUFFER_TAG);
    k.extend_from_slice(&ordered(ts));
    k.extend_from_slice(key);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

impl VersionedJoin {
    /// Joins the stream records of `records` (the table's own records, `Side::Right`,
    /// only changed its versions) with the table in `table`, buffering in `own`.
    pub fn process(
        &self,
        own: &mut dyn StateBackend,
        table: &dyn StateBackend,
        joiner: &mut dyn ValueJoiner,
        records: &[Record],
        sides: &[Side],
    ) -> Result<Joined, StreamsError> {
        let mut done = Joined::default();
        let mut clock = Clock::load(own)?;
        let before = (clock.time, clock.seq, clock.count);
        for (j, (record, side)) in records.iter().zip(sides).enumerate() {
            let index = j as u32;
            if *side == Side::Right || record.value.is_none() {
                continue;
            }
            let Some(key) = &record.key else {
                if self.join_type == JoinType::Left {
                    self.join(table, joiner, record, index, &mut done)?;
                }
                continue;
            };
            let Some(grace) = self.grace_ms else {
                self.join(table, joiner, record, index, &mut done)?;
                continue;
            };
            let ts = record.timestamp;
            if clock.time.is_some_and(|t| ts < t.saturating_sub(grace)) {
                self.join(table, joiner, record, index, &mut done)?;
                continue;
            }
            if key.len() + BUFFER_OVERHEAD > MAX_KEY_BYTES {
                fail(
                    &mut done.output,
                    index,
                    format!(
                        "key of {} bytes is too long for the join's grace buffer (at most {} bytes)",
                        key.len(),
                        MAX_KEY_BYTES - BUFFER_OVERHEAD
                    ),
                );
                continue;
            }
            let time = clock.time.map_or(ts, |t| t.max(ts));
            let lo = vec![BUFFER_TAG];
            // Every buffered record at or before stream time minus the grace, in order.
            let hi = [
                &[BUFFER_TAG][..],
                &ordered(time.saturating_sub(grace).saturating_add(1))[..],
            ]
            .concat();
            if clock.count >= self.max_buffered {
                // Full, unless this record's stream time releases some.
                let due = own.range(Bound::Included(&lo), Bound::Excluded(&hi), MAX_EVICT)?;
                if clock.count - (due.len() as u64) >= self.max_buffered {
                    fail(
                        &mut done.output,
                        index,
                        format!(
                            "the join's grace buffer holds {} records in this task, \
                             pipelines.max_join_window_records",
                            self.max_buffered
                        ),
                    );
                    continue;
                }
            }
            clock.seq = (clock.seq + 1) & 0x7fff_ffff;
            own.put(&buffer_key(ts, key, clock.seq), &encode(record))?;
            clock.count += 1;
            clock.time = Some(time);
            let due = own.range(Bound::Included(&lo), Bound::Excluded(&hi), MAX_EVICT)?;
            for (k, b) in due {
                let waited = decode(&k, &b)?;
                debug_assert!(from_ordered(k[1..9].try_into().unwrap_or_default()) <= time);
                own.delete(&k)?;
                clock.count = clock.count.saturating_sub(1);
                self.join(table, joiner, &waited, index, &mut done)?;
            }
        }
        if (clock.time, clock.seq, clock.count) != before {
            clock.save(own)?;
        }
        Ok(done)
    }

    /// Joins one stream record with the table as of its timestamp; the result is
    /// attributed to input record `index` (the one that brought it out of the buffer).
    fn join(
        &self,
        table: &dyn StateBackend,
        joiner: &mut dyn ValueJoiner,
        record: &Record,
        index: u32,
        done: &mut Joined,
    ) -> Result<(), StreamsError> {
        let row = match &record.key {
            Some(k) => self.table.get_as_of(table, k, record.timestamp)?,
            None => None,
        };
        if row.is_none() && self.join_type == JoinType::Inner {
            return Ok(());
        }
        let right = row.as_ref().map(|r| r.value.as_slice());
        let answered = joiner.join(record.key.as_deref(), record.value.as_deref(), right)?;
        answer(&mut done.output, index, record, answered);
        Ok(())
    }
}
