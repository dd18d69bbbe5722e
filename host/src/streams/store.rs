//! The layout of an aggregation's state inside its step's key space (the pipeline adds
//! the step prefix), and the encoding of one aggregate.
//!
//! - `[0]`: the task's stream time for this step (8-byte big-endian `i64`).
//! - `[1] ++ start ++ key`: a window's aggregate; `start` is order-preserving (sign bit
//!   flipped, big-endian), so windows sort by start and the closed ones are a prefix.
//! - `[2] ++ key`: a non-windowed (table-like) running aggregate.
//!
//! An aggregate is its timestamp (8 bytes) then its value: a count as 8 bytes, a sum as
//! a [`Decimal`]'s 17, a module's aggregate (`reduce`, `aggregate`) as its bytes.

use std::ops::Bound;

use crate::runtime::{Entries, StateBackend, StateError};

use super::aggregate::Kind;
use super::error::StreamsError;
use super::number::Decimal;

/// Where the stream time is kept.
pub const STREAM_TIME_KEY: &[u8] = &[0];
/// First byte of window entries.
pub const WINDOW_TAG: u8 = 1;
/// First byte of table entries.
pub const TABLE_TAG: u8 = 2;
/// Bytes a window key adds to the record key.
pub const WINDOW_KEY_OVERHEAD: usize = 9;

/// A start time as bytes that sort like the number.
pub fn ordered(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

/// The inverse of [`ordered`].
pub fn from_ordered(b: [u8; 8]) -> i64 {
    (u64::from_be_bytes(b) ^ (1 << 63)) as i64
}

/// The state key of `key`'s aggregate in the window starting at `start`.
pub fn window_key(start: i64, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(WINDOW_KEY_OVERHEAD + key.len());
    k.push(WINDOW_TAG);
    k.extend_from_slice(&ordered(start));
    k.extend_from_slice(key);
    k
}

/// The state key of `key`'s running aggregate.
pub fn table_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(TABLE_TAG);
    k.extend_from_slice(key);
    k
}

/// Splits a window state key into (start, record key).
pub fn split_window_key(k: &[u8]) -> Option<(i64, &[u8])> {
    let start: [u8; 8] = k.get(1..WINDOW_KEY_OVERHEAD)?.try_into().ok()?;
    Some((from_ordered(start), &k[WINDOW_KEY_OVERHEAD..]))
}

/// One aggregate's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A count.
    Count(i64),
    /// A sum.
    Sum(Decimal),
    /// A module's aggregate (`reduce`, `aggregate`), opaque to the host.
    Bytes(bytes::Bytes),
}

/// An aggregate: its value and timestamp (the largest of its records', as Kafka's
/// `ValueAndTimestamp` in a timestamped store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    /// The largest timestamp of the records it holds.
    pub timestamp: i64,
    /// The value.
    pub value: Value,
}

impl Aggregate {
    /// Its stored bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(25);
        b.extend_from_slice(&self.timestamp.to_be_bytes());
        match &self.value {
            Value::Count(n) => b.extend_from_slice(&n.to_be_bytes()),
            Value::Sum(d) => b.extend_from_slice(&d.to_bytes()),
            Value::Bytes(v) => b.extend_from_slice(v),
        }
        b
    }

    /// Reads stored bytes of the kind the step keeps.
    pub fn decode(key: &[u8], b: &[u8], kind: Kind) -> Result<Aggregate, StreamsError> {
        let expected = match kind {
            Kind::Count => 16,
            Kind::Sum => 25,
            // A module's aggregate may be empty.
            Kind::Reduce | Kind::Aggregate => 8,
        };
        let corrupt = || StreamsError::Corrupt {
            key: key.to_vec(),
            len: b.len(),
            expected,
        };
        let fixed = matches!(kind, Kind::Count | Kind::Sum);
        if (fixed && b.len() != expected) || b.len() < expected {
            return Err(corrupt());
        }
        let timestamp = i64::from_be_bytes(b[..8].try_into().map_err(|_| corrupt())?);
        let value = match kind {
            Kind::Sum => Value::Sum(Decimal::from_bytes(
                b[8..].try_into().map_err(|_| corrupt())?,
            )),
            Kind::Count => Value::Count(i64::from_be_bytes(
                b[8..].try_into().map_err(|_| corrupt())?,
            )),
            Kind::Reduce | Kind::Aggregate => Value::Bytes(bytes::Bytes::copy_from_slice(&b[8..])),
        };
        Ok(Aggregate { timestamp, value })
    }
}

/// The stream time stored for the step, if it has seen a record.
pub fn load_stream_time(store: &dyn StateBackend) -> Result<Option<i64>, StateError> {
    Ok(store
        .get(STREAM_TIME_KEY)?
        .and_then(|b| b.try_into().ok().map(i64::from_be_bytes)))
}

/// Entries scanned per page: a page is merged with the overlay in memory.
const PAGE: usize = 1024;

/// Every window entry with a start in `(after, through]`, in (start, key) order.
pub fn windows_between(
    store: &dyn StateBackend,
    after: Option<i64>,
    through: i64,
) -> Result<Entries, StateError> {
    // Past every key of a window starting at `through` (never `None`: the tag is 1).
    let Some(hi) = crate::runtime::state::prefix_end(&window_key(through, &[])) else {
        return Ok(Vec::new());
    };
    let lo: Vec<u8> = match after {
        Some(a) => match crate::runtime::state::prefix_end(&window_key(a, &[])) {
            Some(k) => k,
            None => return Ok(Vec::new()),
        },
        None => vec![WINDOW_TAG],
    };
    scan(store, lo, &hi)
}

/// Every entry of `store` from `lo` (inclusive) to `hi` (exclusive), read a page at a
/// time (each page is merged with the overlay in memory).
pub fn scan(store: &dyn StateBackend, mut lo: Vec<u8>, hi: &[u8]) -> Result<Entries, StateError> {
    let mut found = Vec::new();
    loop {
        if lo.as_slice() >= hi {
            return Ok(found);
        }
        let page = store.range(Bound::Included(&lo), Bound::Excluded(hi), PAGE)?;
        let full = page.len() == PAGE;
        if let Some((last, _)) = page.last() {
            lo = [last.as_slice(), &[0]].concat();
        }
        found.extend(page);
        if !full {
            return Ok(found);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::MemoryState;

    #[test]
    fn windows_between_takes_exactly_the_half_open_range_of_starts() {
        let mut s = MemoryState::default();
        for start in [-5i64, 0, 10, 20, 30] {
            for key in [&b""[..], b"a", b"\xff\xff"] {
                s.put(&window_key(start, key), b"v").unwrap();
            }
        }
        s.put(&table_key(b"t"), b"v").unwrap();
        s.put(STREAM_TIME_KEY, &7i64.to_be_bytes()).unwrap();
        let starts = |after, through| -> Vec<(i64, Vec<u8>)> {
            windows_between(&s, after, through)
                .unwrap()
                .iter()
                .map(|(k, _)| {
                    let (st, key) = split_window_key(k).unwrap();
                    (st, key.to_vec())
                })
                .collect()
        };
        let got = starts(Some(0), 20);
        assert_eq!(got.len(), 6);
        assert!(got.iter().all(|(st, _)| *st == 10 || *st == 20));
        assert_eq!(starts(None, -5).len(), 3);
        assert_eq!(starts(None, i64::MAX).len(), 15);
        assert!(starts(Some(30), i64::MAX).is_empty());
        assert_eq!(load_stream_time(&s).unwrap(), Some(7));
    }

    #[test]
    fn aggregates_round_trip() {
        let a = Aggregate {
            timestamp: 99,
            value: Value::Sum(Decimal::parse(b"-1.25").unwrap()),
        };
        assert_eq!(Aggregate::decode(b"k", &a.encode(), Kind::Sum).unwrap(), a);
        let c = Aggregate {
            timestamp: -1,
            value: Value::Count(3),
        };
        assert_eq!(
            Aggregate::decode(b"k", &c.encode(), Kind::Count).unwrap(),
            c
        );
        assert!(Aggregate::decode(b"k", &c.encode(), Kind::Sum).is_err());
        let u = Aggregate {
            timestamp: 5,
            value: Value::Bytes(bytes::Bytes::from_static(b"")),
        };
        assert_eq!(
            Aggregate::decode(b"k", &u.encode(), Kind::Aggregate).unwrap(),
            u
        );
        assert!(Aggregate::decode(b"k", &[0; 7], Kind::Reduce).is_err());
    }
}
